// The sandbox's DNS answers (DESIGN.md §6 "Egress", proxy-unaware clients):
// parsing a query and building the reply, nothing else. Pure functions of
// the bytes received and a lookup, no I/O, so a fuzzer can drive them and
// the server (dns_server.h) only moves bytes.
//
// What is answered (RFC 1035 wire format):
// - a name the lookup knows: A -> its synthetic address, short TTL; AAAA and
//   every other type -> NOERROR with no data (the name exists, IPv4 only);
// - any other name: NXDOMAIN, authoritative. Nothing is ever asked
//   upstream, so a name cannot carry data out of the sandbox;
// - a message that is not a standard query with exactly one question, or a
//   malformed question: FORMERR / NOTIMP when a header can be echoed, else
//   dropped. A response (QR set) is dropped, so two servers cannot ping-pong.
#pragma once

#include <array>
#include <cstdint>
#include <expected>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace openshell::egress::dns {

using Ipv4 = std::array<uint8_t, 4>;  // network byte order

inline constexpr uint16_t kTypeA = 1;
inline constexpr uint16_t kTypeAAAA = 28;
inline constexpr uint16_t kClassIN = 1;
inline constexpr uint32_t kAnswerTtlSeconds = 1;  // short: rules can change
inline constexpr size_t kMaxNameLength = 255;     // RFC 1035 §2.3.4, wire octets

enum class Rcode : uint8_t {
  kNoError = 0,
  kFormErr = 1,
  kServFail = 2,
  kNxDomain = 3,
  kNotImp = 4,
  kRefused = 5,
};

struct Question {
  // The name as lower-case dotted text without the trailing dot ("" for the
  // root). Labels hold only letters, digits, '-' and '_'; `valid_text` is
  // false for a name with any other byte (it can then match no rule).
  std::string name;
  bool valid_text = true;
  uint16_t type = 0;
  uint16_t klass = 0;
  // Where the question ends in the message (the reply copies the question
  // as sent, keeping the client's 0x20 case).
  size_t end = 0;
};

struct Query {
  uint16_t id = 0;
  uint16_t flags = 0;  // as received
  Question question;
};

enum class ParseError {
  kShortHeader,     // under 12 bytes: nothing to echo, drop
  kResponse,        // QR set: drop
  kNotQuery,        // opcode other than QUERY: NOTIMP
  kQuestionCount,   // QDCOUNT != 1: FORMERR
  kTruncatedName,   // the name runs past the message: FORMERR
  kBadLabel,        // label type 0x40/0x80 (extended/reserved): FORMERR
  kPointerLoop,     // a compression pointer not strictly backwards, or into the header: FORMERR
  kNameTooLong,     // over 255 octets: FORMERR
  kShortQuestion,   // no room for QTYPE/QCLASS: FORMERR
};
std::string_view to_string(ParseError error);

// Parses the header and the single question of a query. Trailing records
// (an EDNS OPT, for one) are ignored.
std::expected<Query, ParseError> parse(std::span<const uint8_t> message);

// The synthetic address for a name; kNxDomain when no rule could match it,
// kServFail when no address can be given (the range is exhausted).
using Lookup = std::function<std::expected<Ipv4, Rcode>(std::string_view name)>;

// The reply to `message`, or nullopt when it is to be dropped. Never larger
// than 512 bytes, so UDP replies need no truncation.
std::optional<std::vector<uint8_t>> respond(std::span<const uint8_t> message,
                                            const Lookup& lookup);

// Reads the rcode and the A records of a reply (for tests and tools).
struct Reply {
  uint16_t id = 0;
  Rcode rcode = Rcode::kNoError;
  bool authoritative = false;
  std::vector<Ipv4> addresses;
  std::vector<uint32_t> ttls;
  uint16_t answer_count = 0;
};
std::expected<Reply, ParseError> parse_reply(std::span<const uint8_t> message);

// Builds a standard query (for tests and tools).
std::vector<uint8_t> build_query(uint16_t id, std::string_view name, uint16_t type);

}  // namespace openshell::egress::dns
