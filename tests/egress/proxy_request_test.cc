// The proxy's request parsing and its own replies (supervisor/egress/
// proxy_request.h): pure functions, driven with the bytes a client sends.
#include "egress/proxy_request.h"

#include <gtest/gtest.h>

namespace openshell::egress {
namespace {

ProxyRequest parse_ok(std::string_view head) {
  auto parsed = parse_proxy_request(head);
  EXPECT_TRUE(parsed.has_value()) << head << " -> "
                                  << (parsed ? "" : parsed.error().message);
  return parsed ? *parsed : ProxyRequest{};
}

Rejection parse_bad(std::string_view head) {
  auto parsed = parse_proxy_request(head);
  EXPECT_FALSE(parsed.has_value()) << head;
  return parsed ? Rejection{} : parsed.error();
}

TEST(ProxyRequest, ConnectNamesHostAndPort) {
  auto r = parse_ok("CONNECT API.Example.COM.:443 HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(r.kind, RequestKind::kConnect);
  EXPECT_EQ(r.host, "api.example.com");  // lower-cased, trailing dot dropped
  EXPECT_EQ(r.port, 443);
}

TEST(ProxyRequest, ConnectToBracketedIpv6) {
  auto r = parse_ok("CONNECT [2001:DB8::1]:8443 HTTP/1.1\r\n\r\n");
  EXPECT_EQ(r.host, "2001:db8::1");
  EXPECT_EQ(r.port, 8443);
}

TEST(ProxyRequest, ConnectWithoutValidPortIsBadRequest) {
  EXPECT_EQ(parse_bad("CONNECT example.com HTTP/1.1\r\n\r\n").status, 400u);
  EXPECT_EQ(parse_bad("CONNECT example.com:0 HTTP/1.1\r\n\r\n").status, 400u);
  EXPECT_EQ(parse_bad("CONNECT example.com:65536 HTTP/1.1\r\n\r\n").status, 400u);
  EXPECT_EQ(parse_bad("CONNECT example.com:44x HTTP/1.1\r\n\r\n").status, 400u);
}

TEST(ProxyRequest, HostsWithUserinfoZoneOrControlBytesAreRefused) {
  EXPECT_EQ(parse_bad("CONNECT user@example.com:443 HTTP/1.1\r\n\r\n").status, 400u);
  EXPECT_EQ(parse_bad("CONNECT [fe80::1%25eth0]:443 HTTP/1.1\r\n\r\n").status, 400u);
  EXPECT_EQ(parse_bad("GET http://a%00b.com/ HTTP/1.1\r\n\r\n").status, 400u);
  EXPECT_EQ(parse_bad("GET http://evil.com@good.com/ HTTP/1.1\r\n\r\n").status, 400u);
}

TEST(ProxyRequest, MalformedRequestsAreBadRequest) {
  EXPECT_EQ(parse_bad("hello\r\n\r\n").status, 400u);
  EXPECT_EQ(parse_bad("GET / HTTP/1.1\r\nHost: x\r\n\r\n").status, 400u);  // origin form
  EXPECT_EQ(parse_bad("GET http://x/ HTTP/2.0\r\n\r\n").status, 400u);
  EXPECT_EQ(parse_bad("GET ftp://x/ HTTP/1.1\r\n\r\n").status, 400u);
}

TEST(ProxyRequest, HttpsUrlMustUseConnect) {
  auto r = parse_bad("GET https://example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n");
  EXPECT_EQ(r.status, 400u);
  EXPECT_NE(r.message.find("CONNECT"), std::string::npos) << r.message;
}

TEST(ProxyRequest, HeaderBlockOver8KiBIs431) {
  std::string head = "GET http://example.com/ HTTP/1.1\r\nX-Big: " + std::string(9000, 'a') +
                     "\r\n\r\n";
  EXPECT_EQ(parse_bad(head).status, 431u);
  std::string under = "GET http://example.com/ HTTP/1.1\r\nX-Big: " + std::string(7000, 'a') +
                      "\r\n\r\n";
  parse_ok(under);
}

TEST(ProxyRequest, ForwardRewritesToOriginFormWithHostFromUri) {
  auto r = parse_ok(
      "POST http://Example.com:8080/a/b?q=1#frag HTTP/1.1\r\n"
      "Host: other.example\r\n"
      "Proxy-Authorization: Basic c2VjcmV0\r\n"
      "Proxy-Connection: keep-alive\r\n"
      "Connection: keep-alive, X-Hop\r\n"
      "Keep-Alive: timeout=5\r\n"
      "X-Hop: 1\r\n"
      "Upgrade: h2c\r\n"
      "TE: trailers\r\n"
      "User-Agent: curl/8\r\n"
      "Content-Length: 5\r\n"
      "\r\n");
  EXPECT_EQ(r.kind, RequestKind::kForward);
  EXPECT_EQ(r.host, "example.com");
  EXPECT_EQ(r.port, 8080);
  EXPECT_EQ(r.upstream_head,
            "POST /a/b?q=1 HTTP/1.1\r\n"
            "Host: example.com:8080\r\n"
            "User-Agent: curl/8\r\n"
            "Content-Length: 5\r\n"
            "Connection: close\r\n\r\n");
  EXPECT_EQ(r.body.kind, BodyFraming::Kind::kLength);
  EXPECT_EQ(r.body.length, 5u);
}

TEST(ProxyRequest, ForwardWithoutPathAsksForRoot) {
  auto r = parse_ok("GET http://example.com HTTP/1.1\r\n\r\n");
  EXPECT_EQ(r.port, 80);
  EXPECT_EQ(r.upstream_head, "GET / HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(r.body.kind, BodyFraming::Kind::kNone);
  auto q = parse_ok("GET http://example.com?x=1 HTTP/1.1\r\n\r\n");
  EXPECT_EQ(q.upstream_head,
            "GET /?x=1 HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n");
}

TEST(ProxyRequest, AmbiguousBodyFramingIsRefused) {
  // Request smuggling: a proxy and a server that disagree on where the
  // body ends disagree on where the next request starts.
  EXPECT_EQ(parse_bad("POST http://x/ HTTP/1.1\r\nContent-Length: 3\r\n"
                      "Transfer-Encoding: chunked\r\n\r\n")
                .status,
            400u);
  EXPECT_EQ(parse_bad("POST http://x/ HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n")
                .status,
            400u);
  EXPECT_EQ(parse_bad("POST http://x/ HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n")
                .status,
            400u);
  auto chunked = parse_ok("POST http://x/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
  EXPECT_EQ(chunked.body.kind, BodyFraming::Kind::kChunked);
}

TEST(ProxyRequest, HeadEndIsFoundOnlyAfterTheBlankLine) {
  EXPECT_FALSE(find_head_end("GET http://x/ HTTP/1.1\r\nHost: x\r\n"));
  EXPECT_EQ(find_head_end("GET http://x/ HTTP/1.1\r\n\r\nBODY"), 26u);
}

TEST(ProxyReplies, DeniedIsJson403WithConnectionClose) {
  auto response = denied_response("policy_denied", "CONNECT evil.com:443 not permitted by policy",
                                  "no rule has endpoint \"evil.com\":443");
  EXPECT_EQ(response,
            "HTTP/1.1 403 Forbidden\r\n"
            "Content-Type: application/json\r\n"
            "Content-Length: 130\r\n"
            "Connection: close\r\n\r\n"
            "{\"error\":\"policy_denied\",\"detail\":\"CONNECT evil.com:443 not permitted by "
            "policy\",\"reason\":\"no rule has endpoint \\\"evil.com\\\":443\"}");
  auto body = response.substr(response.find("\r\n\r\n") + 4);
  EXPECT_EQ(std::to_string(body.size()), "130");
}

TEST(ProxyReplies, RejectionsCarryTheirStatus) {
  auto r431 = rejection_response({431, "request header block over 8 KiB"});
  EXPECT_TRUE(r431.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n")) << r431;
  EXPECT_NE(r431.find("Connection: close\r\n"), std::string::npos);
  auto r400 = rejection_response({400, "bad \"x\"\n"});
  EXPECT_TRUE(r400.starts_with("HTTP/1.1 400 Bad Request\r\n"));
  EXPECT_NE(r400.find("bad \\\"x\\\"\\u000a"), std::string::npos) << r400;
}

TEST(ChunkedScanner, StopsExactlyAtTheEndOfTheBody) {
  std::string body = "4\r\nWiki\r\n5;ext=1\r\npedia\r\n0\r\nTrailer: x\r\n\r\n";
  std::string smuggled = "GET http://internal/ HTTP/1.1\r\n\r\n";
  ChunkedScanner scanner;
  auto taken = scanner.feed(body + smuggled);
  ASSERT_TRUE(taken);
  EXPECT_EQ(*taken, body.size());
  EXPECT_TRUE(scanner.done());
}

TEST(ChunkedScanner, WorksByteByByte) {
  std::string body = "a\r\n0123456789\r\n0\r\n\r\n";
  ChunkedScanner scanner;
  for (size_t i = 0; i < body.size(); ++i) {
    EXPECT_FALSE(scanner.done()) << i;
    auto taken = scanner.feed(body.substr(i, 1));
    ASSERT_TRUE(taken) << i;
    EXPECT_EQ(*taken, 1u);
  }
  EXPECT_TRUE(scanner.done());
  EXPECT_EQ(*scanner.feed("more"), 0u);
}

TEST(ChunkedScanner, MalformedChunksFail) {
  EXPECT_FALSE(ChunkedScanner().feed("x\r\n"));
  EXPECT_FALSE(ChunkedScanner().feed("\r\n"));
  EXPECT_FALSE(ChunkedScanner().feed("3\r\nabcX"));
  EXPECT_FALSE(ChunkedScanner().feed("ffffffffffffffffff\r\n"));
}

}  // namespace
}  // namespace openshell::egress
