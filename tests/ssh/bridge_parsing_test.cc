// The small decisions the bridge makes on untrusted names and addresses.
#include <gtest/gtest.h>

#include "forward_channel.h"
#include "listen_address.h"
#include "session_channel.h"

namespace openshell::ssh {
namespace {

TEST(ListenAddress, ParsesTheSpellings) {
  auto v4 = parse_tcp_listen("0.0.0.0:2222");
  ASSERT_TRUE(v4 && *v4);
  EXPECT_EQ(endpoint_text(**v4), "0.0.0.0:2222");
  auto v6 = parse_tcp_listen("[::]:2222");
  ASSERT_TRUE(v6 && *v6);
  EXPECT_EQ(endpoint_text(**v6), "[::]:2222");
  auto off = parse_tcp_listen("off");
  ASSERT_TRUE(off);
  EXPECT_FALSE(*off);
}

TEST(ListenAddress, RefusesWhatIsNotAnAddress) {
  for (const char* bad : {"", "2222", ":2222", "0.0.0.0", "0.0.0.0:", "0.0.0.0:65536",
                          "0.0.0.0:22x", "host.example:22", "::1:22", "[::1]22", "[::1]:"}) {
    EXPECT_FALSE(parse_tcp_listen(bad).has_value()) << bad;
  }
}

TEST(ListenAddress, UnixPathsMustBeAbsoluteAndShort) {
  EXPECT_FALSE(parse_unix_listen("relative.sock").has_value());
  EXPECT_FALSE(parse_unix_listen("/" + std::string(200, 'a')).has_value());
  auto abstract = parse_unix_listen("@name");
  ASSERT_TRUE(abstract.has_value());
  EXPECT_EQ(abstract->path()[0], '\0');
}

TEST(EnvPolicy, RefusesSupervisorAndLoaderVariables) {
  EXPECT_TRUE(env_name_allowed("LANG"));
  EXPECT_TRUE(env_name_allowed("LC_ALL"));
  EXPECT_TRUE(env_name_allowed("_x1"));
  for (const char* bad : {"OPENSHELL_SANDBOX_ID", "OPENSHELL_", "LD_PRELOAD", "LD_LIBRARY_PATH", "",
                          "A=B", "1ABC", "A B", "A-B", "PATH\n"}) {
    EXPECT_FALSE(env_name_allowed(bad)) << bad;
  }
  EXPECT_FALSE(env_name_allowed(std::string(300, 'A')));
}

TEST(Loopback, OnlyLoopbackDestinations) {
  EXPECT_EQ(loopback_endpoints("127.0.0.1", 80).size(), 1u);
  EXPECT_EQ(loopback_endpoints("127.1.2.3", 80).size(), 1u);
  EXPECT_EQ(loopback_endpoints("::1", 80).size(), 1u);
  EXPECT_EQ(loopback_endpoints("LocalHost", 80).size(), 2u);
  for (const char* bad : {"10.0.0.1", "0.0.0.0", "128.0.0.1", "::", "::ffff:127.0.0.1",
                          "example.com", "localhost.", "127.0.0.1.nip.io", "", "fe80::1%lo"}) {
    EXPECT_TRUE(loopback_endpoints(bad, 80).empty()) << bad;
  }
  EXPECT_TRUE(loopback_endpoints("127.0.0.1", 0).empty());
  EXPECT_TRUE(loopback_endpoints("127.0.0.1", 65536).empty());
}

}  // namespace
}  // namespace openshell::ssh
