// The proxy's side of HTTP (DESIGN.md §6 "Egress", proxy-aware clients):
// parsing what a sandbox client sends to 127.0.0.1:3128 and the replies the
// proxy writes itself. Pure functions of bytes, no I/O, so a fuzzer can
// drive them and the proxy (proxy_session.cc) only moves bytes.
//
// Accepted: `CONNECT host:port` (authority form) and absolute-form
// `http://` requests, which are forwarded in origin form. Everything else
// is answered here: an `https://` URL (the client must use CONNECT), a
// malformed request, a header block over kMaxHeadBytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>

namespace openshell::egress {

// The request line and headers together, CRLFCRLF included (OpenShell and
// most proxies use 8 KiB).
inline constexpr size_t kMaxHeadBytes = 8 * 1024;

enum class RequestKind { kConnect, kForward };

// How a forwarded request's body ends: nothing after it is forwarded, so a
// second request pipelined behind the first is never sent upstream.
struct BodyFraming {
  enum class Kind { kNone, kLength, kChunked } kind = Kind::kNone;
  uint64_t length = 0;  // kLength
};

struct ProxyRequest {
  RequestKind kind = RequestKind::kConnect;
  std::string method;
  // As the client spelled it, lower-cased, without brackets or a trailing
  // dot; the decision canonicalises IP literals (parse_ip_literal).
  std::string host;
  uint16_t port = 0;
  // kForward: the head to send upstream: origin-form request line, Host
  // rebuilt from the URI, Proxy-* and hop-by-hop headers dropped,
  // `Connection: close`.
  std::string upstream_head;
  BodyFraming body;
  size_t head_length = 0;  // bytes of the input the head took
};

struct Rejection {
  unsigned status = 400;  // 400 or 431
  std::string message;
};

// Where the head ends in `buffer` (just after CRLFCRLF), or nullopt when it
// has not ended yet.
std::optional<size_t> find_head_end(std::string_view buffer);

// Parses one complete head (find_head_end's bytes). Uses Boost.Beast's
// parser for the syntax.
std::expected<ProxyRequest, Rejection> parse_proxy_request(std::string_view head);

// The Host header value for host:port of an http:// URI (port 80 omitted,
// IPv6 bracketed).
std::string host_header(std::string_view host, uint16_t port);

// Replies the proxy writes itself; each says `Connection: close`.
std::string rejection_response(const Rejection& rejection);
// 403 with the JSON body OpenShell sends: {"error":"policy_denied",
// "detail":"CONNECT host:port not permitted by policy","reason":"..."};
// `error` is "policy_denied" or "ssrf_denied".
std::string denied_response(std::string_view error, std::string_view detail,
                            std::string_view reason);
// 502 when no checked address answered.
std::string bad_gateway_response(std::string_view detail);
inline constexpr std::string_view kConnectEstablished =
    "HTTP/1.1 200 Connection Established\r\n\r\n";

// Escapes text for a JSON string (without the quotes).
std::string json_escape(std::string_view text);

// Follows a chunked body (RFC 9112 §7.1) as it streams past, to find where
// it ends; the bytes are forwarded as they are. Fails on a malformed chunk.
class ChunkedScanner {
 public:
  // Consumes from `data` up to the end of the body; returns how many bytes
  // belong to it, or nullopt when the encoding is malformed.
  std::optional<size_t> feed(std::string_view data);
  bool done() const { return state_ == State::kDone; }

 private:
  enum class State { kSize, kExtension, kSizeLf, kData, kDataCr, kDataLf, kTrailerStart,
                     kTrailerLine, kTrailerLf, kFinalLf, kDone };
  State state_ = State::kSize;
  uint64_t remaining_ = 0;
  int size_digits_ = 0;
};

}  // namespace openshell::egress
