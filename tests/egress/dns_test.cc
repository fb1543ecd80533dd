// The sandbox's DNS: message parsing and answers (pure), the synthetic
// address table, and the server on real loopback sockets.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <random>
#include <set>
#include <string>

#include "egress/dns_message.h"
#include "egress/dns_server.h"
#include "egress/synthetic_addresses.h"

namespace openshell::egress {
namespace {

using dns::Ipv4;
using dns::Rcode;
using Bytes = std::vector<uint8_t>;

// A lookup over a table, allowing names that end in ".allowed.test".
struct TestResolver {
  SyntheticAddresses table;
  std::vector<std::string> asked;
  dns::Lookup lookup() {
    return [this](std::string_view name) -> std::expected<Ipv4, Rcode> {
      asked.emplace_back(name);
      if (!name.ends_with(".allowed.test") && name != "allowed.test") {
        return std::unexpected(Rcode::kNxDomain);
      }
      auto address = table.assign(name);
      if (!address) return std::unexpected(Rcode::kServFail);
      return *address;
    };
  }
};

dns::Reply reply_of(const std::optional<Bytes>& bytes) {
  EXPECT_TRUE(bytes.has_value());
  if (!bytes) return {};
  auto reply = dns::parse_reply(*bytes);
  EXPECT_TRUE(reply.has_value()) << dns::to_string(reply.error());
  return reply.value_or(dns::Reply{});
}

TEST(DnsMessage, ParsesAQuestionLowerCased) {
  auto query = dns::parse(dns::build_query(0x1234, "WwW.Example.COM", dns::kTypeA));
  ASSERT_TRUE(query);
  EXPECT_EQ(query->id, 0x1234);
  EXPECT_EQ(query->question.name, "www.example.com");
  EXPECT_TRUE(query->question.valid_text);
  EXPECT_EQ(query->question.type, dns::kTypeA);
  EXPECT_EQ(query->question.klass, dns::kClassIN);
}

TEST(DnsMessage, AllowedNameGetsASyntheticAddressWithShortTtl) {
  TestResolver resolver;
  const Bytes query = dns::build_query(77, "Git.Allowed.Test", dns::kTypeA);
  auto bytes = dns::respond(query, resolver.lookup());
  auto reply = reply_of(bytes);
  EXPECT_EQ(reply.id, 77);
  EXPECT_EQ(reply.rcode, Rcode::kNoError);
  EXPECT_TRUE(reply.authoritative);
  ASSERT_EQ(reply.addresses.size(), 1u);
  EXPECT_EQ(reply.addresses[0][0], 127);
  EXPECT_EQ(reply.addresses[0][1], 1);
  EXPECT_EQ(reply.ttls[0], dns::kAnswerTtlSeconds);
  EXPECT_LE(reply.ttls[0], 5u);
  // The lookup sees the lower-cased name; the reply echoes the question as
  // sent (0x20 case randomisation relies on it).
  EXPECT_EQ(resolver.asked, std::vector<std::string>{"git.allowed.test"});
  ASSERT_GE(bytes->size(), query.size());
  EXPECT_TRUE(std::equal(query.begin() + 12, query.end(), bytes->begin() + 12));
  EXPECT_EQ(resolver.table.name_of(reply.addresses[0]), "git.allowed.test");
}

TEST(DnsMessage, SameNameSameAddressOtherNameOtherAddress) {
  TestResolver resolver;
  auto a1 = reply_of(dns::respond(dns::build_query(1, "a.allowed.test", dns::kTypeA), resolver.lookup()));
  auto b = reply_of(dns::respond(dns::build_query(2, "b.allowed.test", dns::kTypeA), resolver.lookup()));
  auto a2 = reply_of(dns::respond(dns::build_query(3, "A.ALLOWED.TEST.", dns::kTypeA), resolver.lookup()));
  ASSERT_EQ(a1.addresses.size(), 1u);
  ASSERT_EQ(b.addresses.size(), 1u);
  ASSERT_EQ(a2.addresses.size(), 1u);
  EXPECT_EQ(a1.addresses[0], a2.addresses[0]);
  EXPECT_NE(a1.addresses[0], b.addresses[0]);
}

TEST(DnsMessage, AaaaAndOtherTypesOfAnAllowedNameHaveNoData) {
  TestResolver resolver;
  for (uint16_t type : {dns::kTypeAAAA, uint16_t{15} /*MX*/, uint16_t{16} /*TXT*/, uint16_t{255} /*ANY*/}) {
    auto reply = reply_of(dns::respond(dns::build_query(9, "x.allowed.test", type), resolver.lookup()));
    EXPECT_EQ(reply.rcode, Rcode::kNoError) << type;
    EXPECT_EQ(reply.answer_count, 0) << type;
  }
}

TEST(DnsMessage, OtherNamesAreNxDomainForEveryType) {
  TestResolver resolver;
  for (uint16_t type : {dns::kTypeA, dns::kTypeAAAA, uint16_t{16}}) {
    auto reply = reply_of(dns::respond(dns::build_query(5, "exfil-data.evil.test", type), resolver.lookup()));
    EXPECT_EQ(reply.rcode, Rcode::kNxDomain);
    EXPECT_EQ(reply.answer_count, 0);
    EXPECT_TRUE(reply.authoritative);
  }
  EXPECT_EQ(resolver.table.size(), 0u);
}

TEST(DnsMessage, NameWithOddBytesMatchesNothingAndIsNotLookedUp) {
  TestResolver resolver;
  // "a.b" as one label, then allowed.test: must not be read as a.b.allowed.test.
  Bytes query = {0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0,
                 3, 'a', '.', 'b', 7, 'a', 'l', 'l', 'o', 'w', 'e', 'd', 4, 't', 'e', 's', 't', 0, 0, 1, 0, 1};
  auto reply = reply_of(dns::respond(query, resolver.lookup()));
  EXPECT_EQ(reply.rcode, Rcode::kNxDomain);
  EXPECT_TRUE(resolver.asked.empty());
}

TEST(DnsMessage, RootAndNonInternetClass) {
  TestResolver resolver;
  auto root = reply_of(dns::respond(dns::build_query(1, "", dns::kTypeA), resolver.lookup()));
  EXPECT_EQ(root.rcode, Rcode::kNxDomain);
  Bytes chaos = dns::build_query(2, "x.allowed.test", dns::kTypeA);
  chaos[chaos.size() - 1] = 3;  // CH
  EXPECT_EQ(reply_of(dns::respond(chaos, resolver.lookup())).rcode, Rcode::kRefused);
}

TEST(DnsMessage, ExhaustedTableIsServFail) {
  TestResolver resolver;
  resolver.table = SyntheticAddresses(SyntheticAddresses::kFirst, SyntheticAddresses::kFirst);
  EXPECT_EQ(reply_of(dns::respond(dns::build_query(1, "a.allowed.test", dns::kTypeA), resolver.lookup())).rcode,
            Rcode::kNoError);
  EXPECT_EQ(reply_of(dns::respond(dns::build_query(1, "b.allowed.test", dns::kTypeA), resolver.lookup())).rcode,
            Rcode::kServFail);
}

TEST(DnsMessage, ResponsesAndShortMessagesAreDropped) {
  TestResolver resolver;
  Bytes response = dns::build_query(1, "a.allowed.test", dns::kTypeA);
  response[2] |= 0x80;
  EXPECT_FALSE(dns::respond(response, resolver.lookup()));
  EXPECT_FALSE(dns::respond(Bytes{1, 2, 3}, resolver.lookup()));
  EXPECT_FALSE(dns::respond(Bytes{}, resolver.lookup()));
}

TEST(DnsMessage, OtherOpcodesAreNotImplemented) {
  TestResolver resolver;
  Bytes update = dns::build_query(1, "a.allowed.test", dns::kTypeA);
  update[2] = static_cast<uint8_t>(update[2] | (5 << 3));  // UPDATE
  EXPECT_EQ(reply_of(dns::respond(update, resolver.lookup())).rcode, Rcode::kNotImp);
}

TEST(DnsMessage, QuestionCountOtherThanOneIsFormErr) {
  TestResolver resolver;
  Bytes none = {0, 7, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  auto reply = reply_of(dns::respond(none, resolver.lookup()));
  EXPECT_EQ(reply.rcode, Rcode::kFormErr);
  EXPECT_EQ(reply.id, 7);
  Bytes two = dns::build_query(1, "a.allowed.test", dns::kTypeA);
  two[5] = 2;
  EXPECT_EQ(dns::parse(two).error(), dns::ParseError::kQuestionCount);
  EXPECT_EQ(reply_of(dns::respond(two, resolver.lookup())).rcode, Rcode::kFormErr);
}

Bytes header() { return {0, 9, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0}; }

TEST(DnsMessage, CompressionPointerToItselfIsFormErr) {
  Bytes m = header();
  m.insert(m.end(), {0xc0, 12, 0, 1, 0, 1});
  EXPECT_EQ(dns::parse(m).error(), dns::ParseError::kPointerLoop);
  TestResolver resolver;
  EXPECT_EQ(reply_of(dns::respond(m, resolver.lookup())).rcode, Rcode::kFormErr);
}

TEST(DnsMessage, CompressionPointerLoopThroughALabelIsFormErr) {
  // offset 12: "x", offset 14: pointer to 12 -> x -> pointer to 12 -> ...
  Bytes m = header();
  m.insert(m.end(), {1, 'x', 0xc0, 12, 0, 1, 0, 1});
  EXPECT_EQ(dns::parse(m).error(), dns::ParseError::kPointerLoop);
}

TEST(DnsMessage, ForwardPointerAndPointerIntoTheHeaderAreFormErr) {
  Bytes forward = header();
  forward.insert(forward.end(), {0xc0, 16, 0, 1, 1, 'x', 0, 0, 1, 0, 1});
  EXPECT_EQ(dns::parse(forward).error(), dns::ParseError::kPointerLoop);
  Bytes into_header = header();
  into_header.insert(into_header.end(), {0xc0, 2, 0, 1, 0, 1});
  EXPECT_EQ(dns::parse(into_header).error(), dns::ParseError::kPointerLoop);
}

TEST(DnsMessage, ReservedLabelTypesAndTruncationAreFormErr) {
  Bytes extended = header();
  extended.insert(extended.end(), {0x41, 'x', 0, 0, 1, 0, 1});
  EXPECT_EQ(dns::parse(extended).error(), dns::ParseError::kBadLabel);
  Bytes truncated = header();
  truncated.insert(truncated.end(), {10, 'a', 'b'});
  EXPECT_EQ(dns::parse(truncated).error(), dns::ParseError::kTruncatedName);
  Bytes no_type = header();
  no_type.insert(no_type.end(), {1, 'a', 0, 0});
  EXPECT_EQ(dns::parse(no_type).error(), dns::ParseError::kShortQuestion);
  Bytes half_pointer = header();
  half_pointer.push_back(0xc0);
  EXPECT_EQ(dns::parse(half_pointer).error(), dns::ParseError::kTruncatedName);
}

TEST(DnsMessage, NameOver255OctetsIsFormErr) {
  Bytes m = header();
  for (int label = 0; label < 5; ++label) {
    m.push_back(63);
    m.insert(m.end(), 63, 'a');
  }
  m.insert(m.end(), {0, 0, 1, 0, 1});
  EXPECT_EQ(dns::parse(m).error(), dns::ParseError::kNameTooLong);
  TestResolver resolver;
  EXPECT_EQ(reply_of(dns::respond(m, resolver.lookup())).rcode, Rcode::kFormErr);
}

TEST(DnsMessage, EdnsOptRecordIsIgnored) {
  TestResolver resolver;
  Bytes m = dns::build_query(3, "a.allowed.test", dns::kTypeA);
  m[11] = 1;  // ARCOUNT
  m.insert(m.end(), {0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0});
  auto reply = reply_of(dns::respond(m, resolver.lookup()));
  EXPECT_EQ(reply.rcode, Rcode::kNoError);
  EXPECT_EQ(reply.addresses.size(), 1u);
}

TEST(DnsMessage, RandomAndMutatedInputNeverCrashesAndStaysSmall) {
  TestResolver resolver;
  std::mt19937 random(12345);
  const Bytes seed = dns::build_query(1, "deep.name.allowed.test", dns::kTypeA);
  for (int i = 0; i < 200000; ++i) {
    Bytes m;
    if (i % 2) {
      m.resize(random() % 600);
      for (auto& b : m) b = static_cast<uint8_t>(random());
      if (m.size() >= 6) {
        m[2] &= 0x07;  // mostly queries
        m[4] = 0;
        m[5] = 1;
      }
    } else {
      m = seed;
      for (int flips = 1 + random() % 4; flips > 0; --flips) m[random() % m.size()] = static_cast<uint8_t>(random());
    }
    auto reply = dns::respond(m, resolver.lookup());
    if (reply) {
      ASSERT_LE(reply->size(), 512u);
    }
  }
}

TEST(SyntheticAddresses, StableDistinctAndReversible) {
  SyntheticAddresses table;
  auto a = table.assign("a.test");
  auto b = table.assign("b.test");
  ASSERT_TRUE(a && b);
  EXPECT_NE(*a, *b);
  EXPECT_EQ(table.assign("a.test"), a);
  EXPECT_TRUE(SyntheticAddresses::in_synthetic_range(*a));
  EXPECT_EQ((*a)[0], 127);
  EXPECT_EQ((*a)[1], 1);
  EXPECT_EQ(table.name_of(*a), "a.test");
  EXPECT_EQ(table.name_of(*b), "b.test");
  EXPECT_EQ(table.name_of({127, 1, 200, 200}), std::nullopt);
  EXPECT_EQ(table.name_of({127, 0, 0, 1}), std::nullopt);
  EXPECT_EQ(table.name_of({10, 0, 0, 1}), std::nullopt);
  EXPECT_FALSE(SyntheticAddresses::in_synthetic_range({127, 0, 0, 1}));
  EXPECT_EQ(table.size(), 2u);
}

TEST(SyntheticAddresses, ExhaustionNeverReusesAnAddress) {
  SyntheticAddresses table(SyntheticAddresses::kFirst, SyntheticAddresses::kFirst + 2);
  std::set<Ipv4> seen;
  for (int i = 0; i < 3; ++i) {
    auto address = table.assign("n" + std::to_string(i));
    ASSERT_TRUE(address);
    EXPECT_TRUE(seen.insert(*address).second);
  }
  EXPECT_FALSE(table.assign("n3"));
  EXPECT_EQ(table.assign("n0"), *seen.begin());
  for (int i = 0; i < 3; ++i) EXPECT_EQ(table.name_of(*table.assign("n" + std::to_string(i))), "n" + std::to_string(i));
}

TEST(SyntheticAddresses, FullRangeHas65534Addresses) {
  SyntheticAddresses table;
  Ipv4 last{};
  for (int i = 0; i < 65534; ++i) {
    auto address = table.assign(std::to_string(i));
    ASSERT_TRUE(address) << i;
    last = *address;
  }
  EXPECT_EQ(last, (Ipv4{127, 1, 255, 254}));
  EXPECT_FALSE(table.assign("one-more"));
  EXPECT_EQ(table.name_of({127, 1, 0, 1}), "0");
}

// The server on real sockets, bound on 127.0.0.1 ephemeral ports. The
// loop runs on this thread (the build has Asio's threading off), pumped
// while the client waits.
class DnsServerTest : public ::testing::Test {
 protected:
  static UniqueFd bound(int type, uint16_t& port) {
    UniqueFd fd(::socket(AF_INET, type | SOCK_CLOEXEC, 0));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    socklen_t length = sizeof(address);
    ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&address), &length);
    port = ntohs(address.sin_port);
    if (type == SOCK_STREAM) ::listen(fd.get(), 16);
    return fd;
  }

  void SetUp() override {
    server = std::make_unique<DnsServer>(io, table, [this](std::string_view host) {
      return host == allowed;
    });
    server->serve_udp(bound(SOCK_DGRAM, udp_port));
    server->serve_tcp(bound(SOCK_STREAM, tcp_port));
  }
  void TearDown() override {
    server->stop();
    io.poll();
  }

  static sockaddr_in loopback(uint16_t port) {
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    to.sin_port = htons(port);
    return to;
  }

  // Runs the loop until `want` bytes arrived on fd (or any datagram when
  // want is 0), end of stream, or 2 s. Returns what arrived.
  Bytes pump_receive(int fd, size_t want, bool* closed = nullptr) {
    Bytes got;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (std::chrono::steady_clock::now() < deadline) {
      io.run_for(std::chrono::milliseconds(2));
      uint8_t buffer[1500];
      const size_t ask = want ? std::min(sizeof(buffer), want - got.size()) : sizeof(buffer);
      ssize_t n = ::recv(fd, buffer, ask, MSG_DONTWAIT);
      if (n == 0) {
        if (closed) *closed = true;
        break;
      }
      if (n > 0) {
        got.insert(got.end(), buffer, buffer + n);
        if (want == 0 || got.size() >= want) break;
      }
    }
    return got;
  }

  Bytes udp_exchange(const Bytes& query) {
    UniqueFd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    sockaddr_in to = loopback(udp_port);
    ::sendto(fd.get(), query.data(), query.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof(to));
    return pump_receive(fd.get(), 0);
  }

  UniqueFd tcp_connect() {
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in to = loopback(tcp_port);
    EXPECT_EQ(::connect(fd.get(), reinterpret_cast<sockaddr*>(&to), sizeof(to)), 0);
    return fd;
  }

  Bytes tcp_exchange(int fd, const Bytes& query, bool* closed = nullptr) {
    Bytes framed = {static_cast<uint8_t>(query.size() >> 8), static_cast<uint8_t>(query.size())};
    framed.insert(framed.end(), query.begin(), query.end());
    EXPECT_EQ(::send(fd, framed.data(), framed.size(), MSG_NOSIGNAL), static_cast<ssize_t>(framed.size()));
    Bytes length = pump_receive(fd, 2, closed);
    if (length.size() != 2) return {};
    Bytes reply = pump_receive(fd, length[0] << 8 | length[1], closed);
    return reply;
  }

  boost::asio::io_context io;
  SyntheticAddresses table;
  std::string allowed = "git.test";  // the current "generation": changed between queries
  std::unique_ptr<DnsServer> server;
  uint16_t udp_port = 0;
  uint16_t tcp_port = 0;
};

TEST_F(DnsServerTest, UdpAnswersAllowedNameAndNxDomainOtherwise) {
  auto allowed_reply = dns::parse_reply(udp_exchange(dns::build_query(11, "git.test", dns::kTypeA)));
  ASSERT_TRUE(allowed_reply);
  EXPECT_EQ(allowed_reply->id, 11);
  ASSERT_EQ(allowed_reply->addresses.size(), 1u);
  EXPECT_TRUE(SyntheticAddresses::in_synthetic_range(allowed_reply->addresses[0]));
  auto denied_reply = dns::parse_reply(udp_exchange(dns::build_query(12, "other.test", dns::kTypeA)));
  ASSERT_TRUE(denied_reply);
  EXPECT_EQ(denied_reply->rcode, Rcode::kNxDomain);
  // A dropped message gets no reply, and the server keeps serving.
  EXPECT_TRUE(udp_exchange(Bytes{1, 2, 3}).empty());
  auto again = dns::parse_reply(udp_exchange(dns::build_query(13, "git.test", dns::kTypeA)));
  ASSERT_TRUE(again);
  ASSERT_EQ(again->addresses.size(), 1u);
  EXPECT_EQ(again->addresses[0], allowed_reply->addresses[0]);
}

TEST_F(DnsServerTest, FilterIsAskedPerQuerySoReloadAppliesToTheNextOne) {
  EXPECT_EQ(dns::parse_reply(udp_exchange(dns::build_query(1, "new.test", dns::kTypeA)))->rcode, Rcode::kNxDomain);
  allowed = "new.test";
  auto reply = dns::parse_reply(udp_exchange(dns::build_query(2, "new.test", dns::kTypeA)));
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->rcode, Rcode::kNoError);
  EXPECT_EQ(reply->addresses.size(), 1u);
  EXPECT_EQ(dns::parse_reply(udp_exchange(dns::build_query(3, "git.test", dns::kTypeA)))->rcode, Rcode::kNxDomain);
}

TEST_F(DnsServerTest, TcpServesSeveralQueriesOnOneConnection) {
  UniqueFd fd = tcp_connect();
  auto first = dns::parse_reply(tcp_exchange(fd.get(), dns::build_query(21, "git.test", dns::kTypeA)));
  ASSERT_TRUE(first);
  EXPECT_EQ(first->addresses.size(), 1u);
  auto second = dns::parse_reply(tcp_exchange(fd.get(), dns::build_query(22, "nope.test", dns::kTypeAAAA)));
  ASSERT_TRUE(second);
  EXPECT_EQ(second->id, 22);
  EXPECT_EQ(second->rcode, Rcode::kNxDomain);
}

TEST_F(DnsServerTest, TcpMessageThatCannotBeAnsweredClosesTheConnection) {
  UniqueFd fd = tcp_connect();
  bool closed = false;
  EXPECT_TRUE(tcp_exchange(fd.get(), Bytes{1, 2, 3}, &closed).empty());
  EXPECT_TRUE(closed);
  UniqueFd next = tcp_connect();
  EXPECT_EQ(dns::parse_reply(tcp_exchange(next.get(), dns::build_query(1, "git.test", dns::kTypeA)))->rcode,
            Rcode::kNoError);
}

}  // namespace
}  // namespace openshell::egress
