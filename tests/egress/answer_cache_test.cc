// The resolver's answer cache: an answer is reused only while its TTL
// lasts and the hosts file is unchanged; failures and TTL 0 are never kept.
#include "egress/answer_cache.h"

#include <gtest/gtest.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "egress/resolver.h"

namespace openshell::egress {
namespace {

using policy::net::IpAddress;
using namespace std::chrono_literals;

IpAddress v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  IpAddress out;
  out.bytes[0] = a, out.bytes[1] = b, out.bytes[2] = c, out.bytes[3] = d;
  return out;
}

TEST(AnswerCache, KeepsAnAnswerForItsTtlOnly) {
  AnswerCache cache;
  auto t0 = AnswerCache::Clock::time_point{} + 1000s;
  cache.store("api.example.com", {v4(1, 2, 3, 4)}, 30s, t0, HostsStamp{});
  auto hit = cache.find("API.Example.com", t0 + 29s);
  ASSERT_TRUE(hit);
  EXPECT_EQ(*hit, std::vector<IpAddress>{v4(1, 2, 3, 4)});
  // Expired: the caller must ask again.
  EXPECT_FALSE(cache.find("api.example.com", t0 + 30s));
  EXPECT_FALSE(cache.find("api.example.com", t0 + 29s)) << "an expired answer came back";
}

TEST(AnswerCache, NeverKeepsTtlZeroAndCapsLongTtls) {
  AnswerCache cache;
  auto t0 = AnswerCache::Clock::time_point{} + 1000s;
  cache.store("zero.example.com", {v4(1, 1, 1, 1)}, 0s, t0, HostsStamp{});
  EXPECT_FALSE(cache.find("zero.example.com", t0));
  cache.store("long.example.com", {v4(2, 2, 2, 2)}, 86400s, t0, HostsStamp{});
  EXPECT_TRUE(cache.find("long.example.com", t0 + AnswerCache::kMaxTtl - 1s));
  EXPECT_FALSE(cache.find("long.example.com", t0 + AnswerCache::kMaxTtl));
}

TEST(AnswerCache, AChangedHostsFileForgetsEveryAnswer) {
  AnswerCache cache;
  auto t0 = AnswerCache::Clock::time_point{} + 1000s;
  HostsStamp first{true, 1, 2, 100, 10, 0, 10, 0};
  HostsStamp edited = first;
  edited.ctime_nsec = 1;
  cache.observe_hosts(first);
  cache.store("a.test", {v4(10, 0, 0, 1)}, 60s, t0, first);
  cache.observe_hosts(first);
  EXPECT_TRUE(cache.find("a.test", t0));
  cache.observe_hosts(edited);
  EXPECT_FALSE(cache.find("a.test", t0));
  // An answer asked before the change is not kept after it.
  cache.store("a.test", {v4(10, 0, 0, 1)}, 60s, t0, first);
  EXPECT_FALSE(cache.find("a.test", t0));
}

TEST(AnswerCache, StaysBounded) {
  AnswerCache cache;
  auto t0 = AnswerCache::Clock::time_point{} + 1000s;
  for (size_t i = 0; i < AnswerCache::kMaxEntries + 10; ++i) {
    std::string name = "n";
    name += std::to_string(i);
    name += ".test";
    cache.store(name, {v4(10, 0, 0, 1)}, std::chrono::seconds(100 + i), t0, HostsStamp{});
  }
  EXPECT_EQ(cache.size(), AnswerCache::kMaxEntries);
  EXPECT_FALSE(cache.find("n0.test", t0)) << "the answer closest to expiry goes first";
  EXPECT_TRUE(cache.find("n1033.test", t0));
}

TEST(HostsFile, FindsNamesAndAliasesAsCaresDoes) {
  std::string text =
      "# comment 10.9.9.9 a.test\n"
      "10.0.0.1\tA.Test alias.test # trailing\n"
      "not-an-address a.test\n"
      "fd00::1 a.test\r\n"
      "10.0.0.2 other.test\n";
  auto found = hosts_file_addresses(text, "a.test");
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0], v4(10, 0, 0, 1));
  EXPECT_TRUE(found[1].v6);
  EXPECT_EQ(hosts_file_addresses(text, "ALIAS.test").size(), 1u);
  EXPECT_TRUE(hosts_file_addresses(text, "test").empty());
  EXPECT_TRUE(hosts_file_addresses(text, "9.9").empty());
}

TEST(HostsFile, ARecentlyChangedFileIsNotSettled) {
  HostsStamp stamp{true, 1, 2, 3, 100, 0, 100, 0};
  EXPECT_FALSE(hosts_file_settled(stamp, 100));
  EXPECT_FALSE(hosts_file_settled(stamp, 101));
  EXPECT_TRUE(hosts_file_settled(stamp, 102));
}

// The real resolver over a hosts file bound over /etc/hosts in this test's
// own mount namespace: a rewritten file, in place with the same size or
// another, is seen at the next lookup.
class ResolverHostsFile : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::unshare(CLONE_NEWNS) != 0 ||
        ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
      GTEST_SKIP() << "no mount namespace for a test /etc/hosts: " << std::strerror(errno);
    }
    char dir_template[] = "/tmp/answer-cache-XXXXXX";
    ASSERT_NE(::mkdtemp(dir_template), nullptr);
    dir_ = dir_template;
    path_ = dir_ + "/hosts";
    write("10.0.0.1 cached.test\n");
    ASSERT_EQ(::mount(path_.c_str(), "/etc/hosts", nullptr, MS_BIND, nullptr), 0)
        << std::strerror(errno);
    mounted_ = true;
    auto resolver = Resolver::create(io_);
    ASSERT_TRUE(resolver);
    resolver_ = std::move(*resolver);
  }
  void TearDown() override {
    resolver_.reset();
    if (mounted_) ::umount2("/etc/hosts", MNT_DETACH);
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  void write(const std::string& text) { std::ofstream(path_, std::ios::trunc) << text; }
  std::vector<IpAddress> resolve(const std::string& name) {
    std::vector<IpAddress> out;
    bool done = false;
    resolver_->resolve(name, [&](Result<Resolver::Addresses> addresses) {
      done = true;
      if (addresses)
        out = *addresses;
      else
        ADD_FAILURE() << addresses.error().message();
    });
    io_.restart();
    while (!done && io_.run_one_for(5s) > 0) {
    }
    EXPECT_TRUE(done);
    return out;
  }

  boost::asio::io_context io_;
  std::unique_ptr<Resolver> resolver_;
  std::string dir_, path_;
  bool mounted_ = false;
};

TEST_F(ResolverHostsFile, SeesAChangedHostsFile) {
  // Settled, so its answers are kept until it changes.
  std::this_thread::sleep_for(std::chrono::seconds(kHostsSettledSeconds + 1));
  EXPECT_EQ(resolve("cached.test"), std::vector<IpAddress>{v4(10, 0, 0, 1)});
  EXPECT_EQ(resolve("cached.test"), std::vector<IpAddress>{v4(10, 0, 0, 1)});
  write("10.0.0.2 cached.test\n");  // in place, same size
  EXPECT_EQ(resolve("cached.test"), std::vector<IpAddress>{v4(10, 0, 0, 2)});
  write("10.0.0.33 cached.test\n");  // in place, another size
  EXPECT_EQ(resolve("cached.test"), std::vector<IpAddress>{v4(10, 0, 0, 33)});
}

}  // namespace
}  // namespace openshell::egress
