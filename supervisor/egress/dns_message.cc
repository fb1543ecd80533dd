#include "dns_message.h"

#include <algorithm>

namespace openshell::egress::dns {
namespace {

constexpr size_t kHeaderSize = 12;
constexpr uint16_t kFlagQr = 0x8000;
constexpr uint16_t kFlagAa = 0x0400;
constexpr uint16_t kFlagRd = 0x0100;
constexpr uint16_t kFlagRa = 0x0080;
constexpr size_t kMaxReply = 512;  // RFC 1035 §4.2.1: no truncation needed

uint16_t read16(std::span<const uint8_t> m, size_t at) {
  return static_cast<uint16_t>(m[at] << 8 | m[at + 1]);
}

void put16(std::vector<uint8_t>& out, uint16_t value) {
  out.push_back(static_cast<uint8_t>(value >> 8));
  out.push_back(static_cast<uint8_t>(value));
}

void put32(std::vector<uint8_t>& out, uint32_t value) {
  put16(out, static_cast<uint16_t>(value >> 16));
  put16(out, static_cast<uint16_t>(value));
}

unsigned opcode_of(uint16_t flags) { return (flags >> 11) & 0xf; }

bool name_byte(uint8_t c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

struct Name {
  std::string text;
  bool valid_text = true;
  size_t end = 0;  // first byte after the name where it started
};

// RFC 1035 §4.1.4. Every pointer must point strictly before the previous
// pointer's target (and the first before itself), so jumps only go
// backwards and a loop is impossible; and never into the header, which a
// reply rewrites. The name's total length is bounded too.
std::expected<Name, ParseError> read_name(std::span<const uint8_t> m, size_t at) {
  Name name;
  size_t wire_length = 1;  // the root label
  bool jumped = false;
  size_t limit = m.size();  // pointers must land before this
  while (true) {
    // After a jump, the name may use only bytes before its own pointer:
    // a reply copies the question up to there and no further.
    const size_t readable = jumped ? name.end : m.size();
    if (at >= readable) return std::unexpected(ParseError::kTruncatedName);
    const uint8_t length = m[at];
    if ((length & 0xc0) == 0xc0) {
      if (at + 1 >= m.size()) return std::unexpected(ParseError::kTruncatedName);
      const size_t target = static_cast<size_t>(length & 0x3f) << 8 | m[at + 1];
      if (!jumped) name.end = at + 2;
      jumped = true;
      if (target >= std::min(limit, at) || target < kHeaderSize) {
        return std::unexpected(ParseError::kPointerLoop);
      }
      limit = target;
      at = target;
      continue;
    }
    if ((length & 0xc0) != 0) return std::unexpected(ParseError::kBadLabel);
    if (length == 0) {
      if (!jumped) name.end = at + 1;
      return name;
    }
    wire_length += 1 + length;
    if (wire_length > kMaxNameLength) return std::unexpected(ParseError::kNameTooLong);
    if (at + 1 + length > readable) return std::unexpected(ParseError::kTruncatedName);
    if (!name.text.empty()) name.text.push_back('.');
    for (size_t i = 0; i < length; ++i) {
      uint8_t c = m[at + 1 + i];
      if (c >= 'A' && c <= 'Z') c = static_cast<uint8_t>(c - 'A' + 'a');
      if (!name_byte(c)) {
        name.valid_text = false;
        c = '?';
      }
      name.text.push_back(static_cast<char>(c));
    }
    at += 1 + length;
  }
}

std::vector<uint8_t> header_only(std::span<const uint8_t> m, Rcode rcode) {
  std::vector<uint8_t> out;
  put16(out, read16(m, 0));
  const uint16_t flags = read16(m, 2);
  put16(out, static_cast<uint16_t>(kFlagQr | (flags & 0x7800) | (flags & kFlagRd) | kFlagRa |
                                   static_cast<uint16_t>(rcode)));
  for (int i = 0; i < 4; ++i) put16(out, 0);
  return out;
}

}  // namespace

std::string_view to_string(ParseError error) {
  switch (error) {
    case ParseError::kShortHeader: return "message shorter than a header";
    case ParseError::kResponse: return "a response, not a query";
    case ParseError::kNotQuery: return "opcode is not QUERY";
    case ParseError::kQuestionCount: return "not exactly one question";
    case ParseError::kTruncatedName: return "name runs past the message";
    case ParseError::kBadLabel: return "reserved label type";
    case ParseError::kPointerLoop: return "compression pointer not pointing backwards";
    case ParseError::kNameTooLong: return "name longer than 255 octets";
    case ParseError::kShortQuestion: return "question without type and class";
  }
  return "unknown";
}

std::expected<Query, ParseError> parse(std::span<const uint8_t> m) {
  if (m.size() < kHeaderSize) return std::unexpected(ParseError::kShortHeader);
  Query query;
  query.id = read16(m, 0);
  query.flags = read16(m, 2);
  if (query.flags & kFlagQr) return std::unexpected(ParseError::kResponse);
  if (opcode_of(query.flags) != 0) return std::unexpected(ParseError::kNotQuery);
  if (read16(m, 4) != 1) return std::unexpected(ParseError::kQuestionCount);
  auto name = read_name(m, kHeaderSize);
  if (!name) return std::unexpected(name.error());
  if (name->end + 4 > m.size()) return std::unexpected(ParseError::kShortQuestion);
  query.question.name = std::move(name->text);
  query.question.valid_text = name->valid_text;
  query.question.type = read16(m, name->end);
  query.question.klass = read16(m, name->end + 2);
  query.question.end = name->end + 4;
  return query;
}

std::optional<std::vector<uint8_t>> respond(std::span<const uint8_t> m, const Lookup& lookup) {
  auto query = parse(m);
  if (!query) {
    switch (query.error()) {
      case ParseError::kShortHeader:
      case ParseError::kResponse:
        return std::nullopt;
      case ParseError::kNotQuery:
        return header_only(m, Rcode::kNotImp);
      default:
        return header_only(m, Rcode::kFormErr);
    }
  }
  const Question& q = query->question;

  // The question exactly as sent, keeping the client's case (0x20
  // randomisation); a pointer in it points into the question itself, which
  // stays at the same offset in the reply.
  const auto question_bytes = m.subspan(kHeaderSize, q.end - kHeaderSize);
  if (kHeaderSize + question_bytes.size() + 16 > kMaxReply) return header_only(m, Rcode::kFormErr);

  Rcode rcode = Rcode::kNxDomain;
  std::optional<Ipv4> address;
  if (q.klass != kClassIN) {
    rcode = Rcode::kRefused;
  } else if (q.valid_text && !q.name.empty()) {
    auto found = lookup(q.name);
    if (found) {
      address = *found;
      rcode = Rcode::kNoError;
    } else {
      rcode = found.error();
    }
  }
  const bool answer = address && q.type == kTypeA;

  std::vector<uint8_t> out;
  out.reserve(kHeaderSize + question_bytes.size() + 16);
  put16(out, query->id);
  put16(out, static_cast<uint16_t>(kFlagQr | kFlagAa | (query->flags & kFlagRd) | kFlagRa |
                                   static_cast<uint16_t>(rcode)));
  put16(out, 1);               // QDCOUNT
  put16(out, answer ? 1 : 0);  // ANCOUNT
  put16(out, 0);               // NSCOUNT
  put16(out, 0);               // ARCOUNT: no EDNS (RFC 6891 §7 allows that)
  out.insert(out.end(), question_bytes.begin(), question_bytes.end());
  if (answer) {
    put16(out, 0xc000 | kHeaderSize);  // pointer to the question's name
    put16(out, kTypeA);
    put16(out, kClassIN);
    put32(out, kAnswerTtlSeconds);
    put16(out, 4);
    out.insert(out.end(), address->begin(), address->end());
  }
  return out;
}

std::expected<Reply, ParseError> parse_reply(std::span<const uint8_t> m) {
  if (m.size() < kHeaderSize) return std::unexpected(ParseError::kShortHeader);
  Reply reply;
  reply.id = read16(m, 0);
  const uint16_t flags = read16(m, 2);
  reply.rcode = static_cast<Rcode>(flags & 0xf);
  reply.authoritative = flags & kFlagAa;
  const uint16_t qdcount = read16(m, 4);
  reply.answer_count = read16(m, 6);
  size_t at = kHeaderSize;
  for (uint16_t i = 0; i < qdcount; ++i) {
    auto name = read_name(m, at);
    if (!name) return std::unexpected(name.error());
    at = name->end + 4;
    if (at > m.size()) return std::unexpected(ParseError::kShortQuestion);
  }
  for (uint16_t i = 0; i < reply.answer_count; ++i) {
    auto name = read_name(m, at);
    if (!name) return std::unexpected(name.error());
    at = name->end;
    if (at + 10 > m.size()) return std::unexpected(ParseError::kShortQuestion);
    const uint16_t type = read16(m, at);
    const uint32_t ttl = static_cast<uint32_t>(read16(m, at + 4)) << 16 | read16(m, at + 6);
    const uint16_t length = read16(m, at + 8);
    at += 10;
    if (at + length > m.size()) return std::unexpected(ParseError::kShortQuestion);
    if (type == kTypeA && length == 4) {
      reply.addresses.push_back({m[at], m[at + 1], m[at + 2], m[at + 3]});
      reply.ttls.push_back(ttl);
    }
    at += length;
  }
  return reply;
}

std::vector<uint8_t> build_query(uint16_t id, std::string_view name, uint16_t type) {
  std::vector<uint8_t> out;
  put16(out, id);
  put16(out, kFlagRd);
  put16(out, 1);
  for (int i = 0; i < 3; ++i) put16(out, 0);
  size_t start = 0;
  while (start < name.size()) {
    size_t dot = name.find('.', start);
    if (dot == std::string_view::npos) dot = name.size();
    const size_t length = std::min<size_t>(dot - start, 63);
    out.push_back(static_cast<uint8_t>(length));
    out.insert(out.end(), name.begin() + start, name.begin() + start + length);
    start = dot + 1;
  }
  out.push_back(0);
  put16(out, type);
  put16(out, kClassIN);
  return out;
}

}  // namespace openshell::egress::dns
