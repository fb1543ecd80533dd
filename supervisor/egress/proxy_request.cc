#include "proxy_request.h"

#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <charconv>
#include <set>

namespace openshell::egress {
namespace {

namespace http = boost::beast::http;

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

std::unexpected<Rejection> bad(std::string message) {
  return std::unexpected(Rejection{400, std::move(message)});
}

// A host as a client may name it: a DNS name or IPv4 spelling (letters,
// digits, '-', '.', '_') or a bracketed IPv6 literal. Anything else (a
// userinfo '@', a zone id '%', spaces, control bytes) is refused before it
// reaches the decision.
std::optional<std::string> parse_host(std::string_view host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    std::string_view inner = host.substr(1, host.size() - 2);
    if (inner.empty() || inner.size() > 45) return std::nullopt;
    for (char c : inner) {
      if (!(std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.')) {
        return std::nullopt;
      }
    }
    return lower(inner);
  }
  if (host.empty() || host.size() > 254) return std::nullopt;
  for (char c : host) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_')) {
      return std::nullopt;
    }
  }
  std::string out = lower(host);
  if (out.back() == '.') out.pop_back();  // "example.com." names example.com
  if (out.empty()) return std::nullopt;
  return out;
}

std::optional<uint16_t> parse_port(std::string_view text) {
  if (text.empty() || text.size() > 5) return std::nullopt;
  unsigned value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  if (value == 0 || value > 65535) return std::nullopt;
  return static_cast<uint16_t>(value);
}

// "host:port", "[v6]:port", and for URIs (default_port != 0) "host".
std::expected<std::pair<std::string, uint16_t>, Rejection> parse_authority(
    std::string_view authority, uint16_t default_port) {
  if (authority.find('@') != std::string_view::npos) return bad("userinfo in the request target");
  std::string_view host = authority;
  std::string_view port;
  size_t colon = authority.rfind(':');
  size_t bracket = authority.rfind(']');
  if (colon != std::string_view::npos && (bracket == std::string_view::npos || colon > bracket)) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  auto parsed_host = parse_host(host);
  if (!parsed_host) return bad("invalid host in the request target");
  uint16_t number = default_port;
  if (!port.empty() || default_port == 0) {
    auto parsed = parse_port(port);
    if (!parsed) return bad("invalid port in the request target");
    number = *parsed;
  }
  return std::pair{std::move(*parsed_host), number};
}

// RFC 9110 §7.6.1: these describe one hop, never forwarded. Proxy-* are
// the client's credentials and settings for us.
bool is_hop_by_hop(std::string_view name, const std::set<std::string>& listed) {
  static const std::set<std::string> fixed = {"connection", "keep-alive", "te", "trailer",
                                              "upgrade", "host", "proxy-connection"};
  std::string key = lower(name);
  return fixed.contains(key) || key.starts_with("proxy-") || listed.contains(key);
}

std::set<std::string> connection_tokens(const http::request<http::empty_body>& request) {
  std::set<std::string> out;
  for (auto it = request.find(http::field::connection);
       it != request.end() && it->name() == http::field::connection; ++it) {
    std::string_view value = it->value();
    size_t start = 0;
    while (start <= value.size()) {
      size_t comma = value.find(',', start);
      if (comma == std::string_view::npos) comma = value.size();
      auto token = trim(value.substr(start, comma - start));
      if (!token.empty()) out.insert(lower(token));
      start = comma + 1;
    }
  }
  return out;
}

std::expected<BodyFraming, Rejection> body_framing(
    const http::request<http::empty_body>& request) {
  BodyFraming framing;
  size_t te_count = 0, cl_count = 0;
  std::string te;
  std::string_view cl;
  for (const auto& field : request) {
    if (field.name() == http::field::transfer_encoding) {
      ++te_count;
      te = lower(trim(field.value()));
    } else if (field.name() == http::field::content_length) {
      ++cl_count;
      cl = trim(field.value());
    }
  }
  // Request smuggling closes here (RFC 9112 §6.3): one framing, spelled
  // one way, or the request is refused.
  if (te_count > 0 && cl_count > 0) return bad("both Transfer-Encoding and Content-Length");
  if (te_count > 1 || cl_count > 1) return bad("repeated body framing header");
  if (te_count == 1) {
    if (te != "chunked") return bad("unsupported Transfer-Encoding");
    framing.kind = BodyFraming::Kind::kChunked;
  } else if (cl_count == 1) {
    uint64_t length = 0;
    auto [end, ec] = std::from_chars(cl.data(), cl.data() + cl.size(), length);
    if (cl.empty() || ec != std::errc() || end != cl.data() + cl.size())
      return bad("invalid Content-Length");
    if (length > 0) {
      framing.kind = BodyFraming::Kind::kLength;
      framing.length = length;
    }
  }
  return framing;
}

std::expected<ProxyRequest, Rejection> forward_request(
    const http::request<http::empty_body>& request, ProxyRequest out) {
  std::string_view target = request.target();
  size_t scheme_end = target.find("://");
  if (scheme_end == std::string_view::npos) return bad("not a proxy request: absolute URI needed");
  std::string scheme = lower(target.substr(0, scheme_end));
  if (scheme == "https")
    return bad("https:// URLs must be requested with CONNECT (set HTTPS_PROXY)");
  if (scheme != "http") return bad("unsupported URI scheme " + scheme);
  std::string_view rest = target.substr(scheme_end + 3);
  size_t authority_end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, authority_end);
  std::string_view path =
      authority_end == std::string_view::npos ? std::string_view() : rest.substr(authority_end);
  if (size_t hash = path.find('#'); hash != std::string_view::npos) path = path.substr(0, hash);
  auto parsed = parse_authority(authority, 80);
  if (!parsed) return std::unexpected(parsed.error());
  out.host = std::move(parsed->first);
  out.port = parsed->second;

  auto framing = body_framing(request);
  if (!framing) return std::unexpected(framing.error());
  out.body = *framing;

  std::string origin = path.empty() ? "/" : std::string(path);
  if (origin.front() == '?') origin.insert(0, "/");
  std::string head = out.method + " " + origin + " HTTP/1.1\r\n";
  // The URI names the destination the decision saw; a Host header the
  // client sent might name another (virtual host confusion), so it is
  // rebuilt from the URI.
  head += "Host: " + host_header(out.host, out.port) + "\r\n";
  auto listed = connection_tokens(request);
  for (const auto& field : request) {
    if (is_hop_by_hop(field.name_string(), listed)) continue;
    head.append(field.name_string());
    head += ": ";
    head.append(field.value());
    head += "\r\n";
  }
  head += "Connection: close\r\n\r\n";
  out.upstream_head = std::move(head);
  return out;
}

}  // namespace

std::optional<size_t> find_head_end(std::string_view buffer) {
  size_t end = buffer.find("\r\n\r\n");
  if (end == std::string_view::npos) return std::nullopt;
  return end + 4;
}

std::expected<ProxyRequest, Rejection> parse_proxy_request(std::string_view head) {
  if (head.size() > kMaxHeadBytes)
    return std::unexpected(Rejection{431, "request header block over 8 KiB"});
  http::request_parser<http::empty_body> parser;
  parser.header_limit(kMaxHeadBytes);
  parser.eager(false);
  boost::system::error_code ec;
  size_t used = parser.put(boost::asio::buffer(head.data(), head.size()), ec);
  if (ec == http::error::header_limit)
    return std::unexpected(Rejection{431, "request header block over 8 KiB"});
  if (ec || !parser.is_header_done()) return bad("malformed request");
  const auto& request = parser.get();
  if (request.version() != 11 && request.version() != 10) return bad("unsupported HTTP version");

  ProxyRequest out;
  out.method = std::string(request.method_string());
  out.head_length = used;
  if (request.method() == http::verb::connect) {
    out.kind = RequestKind::kConnect;
    auto parsed = parse_authority(request.target(), 0);
    if (!parsed) return std::unexpected(parsed.error());
    out.host = std::move(parsed->first);
    out.port = parsed->second;
    return out;
  }
  out.kind = RequestKind::kForward;
  return forward_request(request, std::move(out));
}

std::string host_header(std::string_view host, uint16_t port) {
  std::string out;
  bool v6 = host.find(':') != std::string_view::npos;
  if (v6) out.push_back('[');
  out.append(host);
  if (v6) out.push_back(']');
  if (port != 80) {
    out.push_back(':');
    out.append(std::to_string(port));
  }
  return out;
}

std::string json_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20) {
      char buffer[8];
      std::snprintf(buffer, sizeof buffer, "\\u%04x", u);
      out += buffer;
    } else {
      out += c;
    }
  }
  return out;
}

namespace {

std::string response(unsigned status, std::string_view reason, std::string_view content_type,
                     std::string_view body) {
  std::string out = "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) + "\r\n";
  out += "Content-Type: " + std::string(content_type) + "\r\n";
  out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  out += "Connection: close\r\n\r\n";
  out.append(body);
  return out;
}

}  // namespace

std::string rejection_response(const Rejection& rejection) {
  std::string body = "{\"error\":\"" +
                     std::string(rejection.status == 431 ? "header_too_large" : "bad_request") +
                     "\",\"detail\":\"" + json_escape(rejection.message) + "\"}";
  return response(rejection.status,
                  rejection.status == 431 ? "Request Header Fields Too Large" : "Bad Request",
                  "application/json", body);
}

std::string denied_response(std::string_view error, std::string_view detail,
                            std::string_view reason) {
  std::string body = "{\"error\":\"" + json_escape(error) + "\",\"detail\":\"" +
                     json_escape(detail) + "\",\"reason\":\"" + json_escape(reason) + "\"}";
  return response(403, "Forbidden", "application/json", body);
}

std::string bad_gateway_response(std::string_view detail) {
  std::string body = "{\"error\":\"upstream_unreachable\",\"detail\":\"" + json_escape(detail) +
                     "\"}";
  return response(502, "Bad Gateway", "application/json", body);
}

std::optional<size_t> ChunkedScanner::feed(std::string_view data) {
  size_t i = 0;
  while (i < data.size() && state_ != State::kDone) {
    char c = data[i];
    switch (state_) {
      case State::kSize:
        if (std::isxdigit(static_cast<unsigned char>(c))) {
          if (++size_digits_ > 15) return std::nullopt;  // no chunk is 2^60 bytes
          remaining_ = remaining_ * 16 + static_cast<uint64_t>(
                                             std::isdigit(static_cast<unsigned char>(c))
                                                 ? c - '0'
                                                 : (std::tolower(static_cast<unsigned char>(c)) -
                                                    'a' + 10));
        } else if (size_digits_ > 0 && (c == ';' || c == ' ' || c == '\t')) {
          state_ = State::kExtension;
        } else if (size_digits_ > 0 && c == '\r') {
          state_ = State::kSizeLf;
        } else {
          return std::nullopt;
        }
        ++i;
        break;
      case State::kExtension:
        if (c == '\r') state_ = State::kSizeLf;
        else if (c == '\n') return std::nullopt;
        ++i;
        break;
      case State::kSizeLf:
        if (c != '\n') return std::nullopt;
        state_ = remaining_ == 0 ? State::kTrailerStart : State::kData;
        ++i;
        break;
      case State::kData: {
        uint64_t take = std::min<uint64_t>(remaining_, data.size() - i);
        remaining_ -= take;
        i += static_cast<size_t>(take);
        if (remaining_ == 0) state_ = State::kDataCr;
        break;
      }
      case State::kDataCr:
        if (c != '\r') return std::nullopt;
        state_ = State::kDataLf;
        ++i;
        break;
      case State::kDataLf:
        if (c != '\n') return std::nullopt;
        state_ = State::kSize;
        size_digits_ = 0;
        remaining_ = 0;
        ++i;
        break;
      case State::kTrailerStart:
        state_ = c == '\r' ? State::kFinalLf : State::kTrailerLine;
        ++i;
        break;
      case State::kTrailerLine:
        if (c == '\r') state_ = State::kTrailerLf;
        ++i;
        break;
      case State::kTrailerLf:
        if (c != '\n') return std::nullopt;
        state_ = State::kTrailerStart;
        ++i;
        break;
      case State::kFinalLf:
        if (c != '\n') return std::nullopt;
        state_ = State::kDone;
        ++i;
        break;
      case State::kDone:
        break;
    }
  }
  return i;
}

}  // namespace openshell::egress
