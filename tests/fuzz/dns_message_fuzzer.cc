// The sandbox's DNS server: a query from inside in, the reply out. Seeds:
// tests/fuzz/corpus/dns_message (queries as resolvers send them).
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string_view>

#include "egress/dns_message.h"

namespace dns = openshell::egress::dns;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::span<const std::uint8_t> message(data, size);
  // A lookup that knows some names, refuses others and has run out for a
  // few, so every branch of the reply is reached.
  dns::Lookup lookup = [](std::string_view name) -> std::expected<dns::Ipv4, dns::Rcode> {
    if (name.size() > dns::kMaxNameLength) std::abort();
    if (name.ends_with("example.com")) return dns::Ipv4{198, 18, 0, 1};
    if (name.starts_with("full")) return std::unexpected(dns::Rcode::kServFail);
    return std::unexpected(dns::Rcode::kNxDomain);
  };
  auto query = dns::parse(message);
  auto reply = dns::respond(message, lookup);
  if (!reply) return 0;
  // Replies fit in one UDP datagram, echo the id, and are well-formed.
  if (reply->size() > 512 || reply->size() < 12) std::abort();
  auto read = dns::parse_reply(*reply);
  if (!read) std::abort();
  if (size >= 2 && read->id != ((data[0] << 8) | data[1])) std::abort();
  if (query && query->question.valid_text && query->question.type == dns::kTypeA &&
      query->question.klass == dns::kClassIN && query->question.name.ends_with("example.com") &&
      read->rcode == dns::Rcode::kNoError && read->addresses.size() != 1) {
    std::abort();
  }
  return 0;
}
