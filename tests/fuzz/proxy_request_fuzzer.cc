// The egress proxy's request parser: what a sandbox client sends to the
// proxy. The input is a head (up to CRLFCRLF) and whatever follows it, fed
// to the chunked-body scanner as the proxy would. Seeds:
// tests/fuzz/corpus/proxy_request.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "egress/proxy_request.h"

namespace egress = openshell::egress;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  auto end = egress::find_head_end(input);
  if (!end) return 0;
  if (*end > input.size() || !input.substr(0, *end).ends_with("\r\n\r\n")) std::abort();
  std::string_view head = input.substr(0, *end);
  auto request = egress::parse_proxy_request(head);
  if (!request) {
    // Every refusal is one of the two answers the proxy gives itself.
    const auto& r = request.error();
    if ((r.status != 400 && r.status != 431) || r.message.empty()) std::abort();
    (void)egress::rejection_response(r);
    return 0;
  }
  if (request->host.empty() || request->head_length != head.size()) std::abort();
  if (request->kind == egress::RequestKind::kForward) {
    // What goes upstream is itself one complete head, and nothing the
    // client pipelined behind its request.
    auto upstream_end = egress::find_head_end(request->upstream_head);
    if (!upstream_end || *upstream_end != request->upstream_head.size()) std::abort();
    (void)egress::host_header(request->host, request->port);
  }
  if (request->body.kind == egress::BodyFraming::Kind::kChunked) {
    egress::ChunkedScanner scanner;
    std::string_view body = input.substr(*end);
    // Fed in two pieces, as a body arrives across reads.
    std::string_view first = body.substr(0, body.size() / 2);
    auto used = scanner.feed(first);
    if (used && *used > first.size()) std::abort();
    if (used && !scanner.done()) {
      auto more = scanner.feed(body.substr(first.size()));
      if (more && *more > body.size() - first.size()) std::abort();
    }
  }
  (void)egress::denied_response("policy_denied", request->host, request->method);
  return 0;
}
