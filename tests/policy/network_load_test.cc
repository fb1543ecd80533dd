// Load-time validation of `network_policies`: each rule OpenShell's
// validator has (and the few stricter ones of this build) refuses the
// policy with file:line:column and the dotted key.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "sandbox-policy/load.h"

namespace openshell::policy {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// One endpoint at line 5 of the file; `fields` is its flow mapping.
std::string one_endpoint(const std::string& fields, const std::string& binaries = "/usr/bin/curl") {
  return "version: 1\n"
         "network_policies:\n"
         "  k:\n"
         "    endpoints:\n"
         "      - " +
         fields +
         "\n"
         "    binaries: [{ path: " +
         binaries + " }]\n";
}

struct BadCase {
  std::string yaml;
  int line;
  const char* at;  // the text the error must point at: its first occurrence on `line`
  const char* key;
  const char* message;
};

TEST(NetworkValidation, EachErrorNamesLineColumnAndKey) {
  const BadCase cases[] = {
      {one_endpoint("{ host: \"*\", port: 443 }"), 5, "\"*\"",
       "network_policies.k.endpoints[0].host", "alone would match every host"},
      {one_endpoint("{ host: \"**\", port: 443 }"), 5, "\"**\"",
       "network_policies.k.endpoints[0].host", "alone would match every host"},
      {one_endpoint("{ host: \"*.com\", port: 443 }"), 5, "\"*.com\"",
       "network_policies.k.endpoints[0].host", "whole top-level domain"},
      {one_endpoint("{ host: \"**.com\", port: 443 }"), 5, "\"**.com\"",
       "network_policies.k.endpoints[0].host", "whole top-level domain"},
      {one_endpoint("{ host: \"*-x.com\", port: 443 }"), 5, "\"*-x.com\"",
       "network_policies.k.endpoints[0].host", "whole top-level domain"},
      {one_endpoint("{ host: \"a.s3.us-*.amazonaws.com\", port: 443 }"), 5, "\"a.s3",
       "network_policies.k.endpoints[0].host", "must be the whole label '*'"},
      {one_endpoint("{ host: \"a.**.example.com\", port: 443 }"), 5, "\"a.**",
       "network_policies.k.endpoints[0].host", "must be the whole label '*'"},
      {one_endpoint("{ host: \"a**.example.com\", port: 443 }"), 5, "\"a**",
       "network_policies.k.endpoints[0].host", "'**' must be the whole first label"},
      {one_endpoint("{ host: \"example.*\", port: 443 }"), 5, "\"example.*",
       "network_policies.k.endpoints[0].host", "last label cannot be a wildcard"},
      {one_endpoint("{ host: \"a..com\", port: 443 }"), 5, "\"a..com",
       "network_policies.k.endpoints[0].host", "empty label"},
      {one_endpoint("{ host: \"a/b.com\", port: 443 }"), 5, "\"a/b.com",
       "network_policies.k.endpoints[0].host", "contains '/'"},
      {one_endpoint("{ host: x.com, port: 0 }"), 5, "0 }", "network_policies.k.endpoints[0].port",
       "missing: an endpoint needs `port` or `ports`"},
      {one_endpoint("{ host: x.com }"), 5, "{", "network_policies.k.endpoints[0].port",
       "missing: an endpoint needs `port` or `ports`"},
      {one_endpoint("{ host: x.com, port: 65536 }"), 5, "65536",
       "network_policies.k.endpoints[0].port", "port must be in [1, 65535]"},
      {one_endpoint("{ host: x.com, ports: [443, 70000] }"), 5, "70000",
       "network_policies.k.endpoints[0].ports[1]", "port must be in [1, 65535]"},
      {one_endpoint("{ host: x.com, ports: [0] }"), 5, "0]",
       "network_policies.k.endpoints[0].ports[0]", "port must be in [1, 65535]"},
      {one_endpoint("{ port: 443 }"), 5, "{", "network_policies.k.endpoints[0].host",
       "missing: an endpoint needs a host, or allowed_ips"},
      {one_endpoint("{ host: \"\", port: 443 }"), 5, "\"\"", "network_policies.k.endpoints[0].host",
       "missing: an endpoint needs a host, or allowed_ips"},
      {one_endpoint("{ port: 443, protocol: tcp, allowed_ips: [10.0.0.0/8] }"), 5, "{",
       "network_policies.k.endpoints[0].host", "a tcp endpoint needs a DNS name"},
      {one_endpoint("{ host: 10.0.0.1, port: 443, protocol: tcp }"), 5, "10.0.0.1",
       "network_policies.k.endpoints[0].host", "must be a DNS name"},
      {one_endpoint("{ host: x.com., port: 443, protocol: tcp }"), 5, "x.com.",
       "network_policies.k.endpoints[0].host", "without a trailing dot"},
      {one_endpoint("{ port: 5432, allowed_ips: [10.0.0.0/8, \"10/8\"] }"), 5, "\"10/8\"",
       "network_policies.k.endpoints[0].allowed_ips[1]", "not an IP address or CIDR"},
      {one_endpoint("{ port: 5432, allowed_ips: [10.0.0.0/33] }"), 5, "10.0.0.0/33",
       "network_policies.k.endpoints[0].allowed_ips[0]", "not an IP address or CIDR"},
      {one_endpoint("{ port: 80, allowed_ips: [127.0.0.0/16] }"), 5, "127.0.0.0/16",
       "network_policies.k.endpoints[0].allowed_ips[0]", "never reachable"},
      {one_endpoint("{ port: 80, allowed_ips: [169.254.169.254] }"), 5, "169.254",
       "network_policies.k.endpoints[0].allowed_ips[0]", "never reachable"},
      {one_endpoint("{ port: 80, allowed_ips: [0.0.0.0/0] }"), 5, "0.0.0.0/0",
       "network_policies.k.endpoints[0].allowed_ips[0]", "never reachable"},
      {one_endpoint("{ port: 80, allowed_ips: [\"fe80::/64\"] }"), 5, "\"fe80",
       "network_policies.k.endpoints[0].allowed_ips[0]", "never reachable"},
      {one_endpoint("{ host: x.com, port: 443, protocol: ftp }"), 5, "ftp",
       "network_policies.k.endpoints[0].protocol", "bad value 'ftp'"},
      {one_endpoint("{ host: x.com, port: 443, protocol: rest }"), 5, "rest",
       "network_policies.k.endpoints[0].protocol", "needs `rules` or `access`"},
      {one_endpoint("{ host: x.com, port: 443, access: full }"), 5, "full",
       "network_policies.k.endpoints[0].access", "needs an L7 `protocol`"},
      {one_endpoint("{ host: x.com, port: 443, deny_rules: [{ method: POST }] }"), 5, "[{ method",
       "network_policies.k.endpoints[0].deny_rules", "needs an L7 `protocol`"},
      {one_endpoint("{ host: x.com, port: 443, protocol: rest, access: full, rules: [{ allow: { "
                    "method: GET } }] }"),
       5, "[{ allow", "network_policies.k.endpoints[0].rules", "exclude each other"},
      {one_endpoint("{ host: x.com, port: 443, protocol: rest, access: all }"), 5, "all",
       "network_policies.k.endpoints[0].access", "bad value 'all'"},
      {one_endpoint("{ host: x.com, port: 443, protocol: rest, access: full, enforcement: "
                    "enforced }"),
       5, "enforced", "network_policies.k.endpoints[0].enforcement", "bad value 'enforced'"},
      {one_endpoint("{ host: x.com, port: 443 }", "usr/bin/curl"), 6, "usr/bin/curl",
       "network_policies.k.binaries[0].path", "must be absolute"},
      {one_endpoint("{ host: x.com, port: 443, unknown_key: 1 }"), 5, "unknown_key",
       "network_policies.k.endpoints[0].unknown_key", "unknown key"},
  };
  for (const auto& c : cases) {
    // The expected column, found in the text rather than counted by hand.
    std::string text = c.yaml;
    size_t start = 0;
    for (int l = 1; l < c.line; ++l) start = text.find('\n', start) + 1;
    std::string line_text = text.substr(start, text.find('\n', start) - start);
    ASSERT_NE(line_text.find(c.at), std::string::npos) << c.at;
    int column = static_cast<int>(line_text.find(c.at)) + 1;
    auto p = load_policy_text(c.yaml, "p.yaml");
    ASSERT_FALSE(p.has_value()) << c.yaml;
    EXPECT_EQ(p.error().key, c.key) << c.yaml;
    EXPECT_THAT(p.error().message, HasSubstr(c.message)) << c.yaml;
    EXPECT_EQ(p.error().line, c.line) << c.yaml << p.error().to_string();
    EXPECT_EQ(p.error().column, column) << c.yaml << p.error().to_string();
    EXPECT_THAT(p.error().to_string(), HasSubstr("p.yaml:" + std::to_string(c.line) + ":" +
                                                 std::to_string(column) + ": " + c.key + ": "));
  }
}

TEST(NetworkValidation, ValidShapesLoad) {
  for (const char* fields : {
           "{ host: \"*.example.com\", port: 443 }",
           "{ host: \"**.example.com\", port: 443 }",
           "{ host: \"*-api.example.com\", port: 443 }",
           "{ host: \"*.s3.*.amazonaws.com\", port: 443 }",
           "{ host: \"API.Example.com.\", port: 443 }",
           "{ host: 10.1.2.3, port: 443 }",
           "{ host: \"2606:4700::1111\", port: 443 }",
           "{ port: 5432, allowed_ips: [10.0.0.0/8, \"fd00::/8\", 192.168.1.7] }",
           "{ host: x.com, port: 443, protocol: tcp }",
           "{ host: x.com, port: 443, protocol: rest, access: read-only, tls: terminate }",
           "{ host: x.com, port: 443, protocol: mcp, enforcement: enforce }",
       }) {
    auto p = load_policy_text(one_endpoint(fields), "p.yaml");
    EXPECT_TRUE(p.has_value()) << fields << ": " << p.error().to_string();
  }
}

TEST(NetworkValidation, PortsOverridePortAndHostIsCanonical) {
  auto p = load_policy_text(one_endpoint("{ host: \"API.Example.COM.\", port: 443, ports: [8443, "
                                         "8443, 9443] }"),
                            "p.yaml");
  ASSERT_TRUE(p.has_value()) << p.error().to_string();
  const NetworkEndpoint& e = p->network_policies[0].endpoints[0];
  EXPECT_EQ(e.host, "api.example.com");
  EXPECT_THAT(e.ports, ElementsAre(8443u, 9443u));
  EXPECT_EQ(p->network_policies[0].name, "k");  // name defaults to the key
}

TEST(NetworkValidation, AddressHostsAreKeptInOneSpelling) {
  auto p = load_policy_text(one_endpoint("{ host: 0xa.1.515, port: 443 }"), "p.yaml");
  ASSERT_TRUE(p.has_value()) << p.error().to_string();
  EXPECT_EQ(p->network_policies[0].endpoints[0].host, "10.1.2.3");
  p = load_policy_text(one_endpoint("{ host: \"[FD00::1]\", port: 443 }"), "p.yaml");
  ASSERT_TRUE(p.has_value()) << p.error().to_string();
  EXPECT_EQ(p->network_policies[0].endpoints[0].host, "fd00::1");
  // Never reachable, but loads: the connection is refused (check_address).
  p = load_policy_text(one_endpoint("{ host: 2130706433, port: 443 }"), "p.yaml");
  ASSERT_TRUE(p.has_value()) << p.error().to_string();
  EXPECT_EQ(p->network_policies[0].endpoints[0].host, "127.0.0.1");
}

// OpenShell's L7 and credential keys load (they only lack an effect here)
// instead of failing as unknown keys.
TEST(NetworkValidation, OpenShellL7KeysAreAccepted) {
  const char* yaml = R"(version: 1
network_policies:
  full:
    name: Full
    endpoints:
      - host: api.example.com
        port: 443
        path: "/v1/**"
        protocol: rest
        tls: skip
        enforcement: audit
        rules:
          - allow: { method: GET, path: "/**", query: { a: { any: [x, "y*"] } } }
        deny_rules:
          - { method: DELETE, path: "/**" }
        allow_encoded_slash: true
        websocket_credential_rewrite: false
        request_body_credential_rewrite: false
        allow_uninspected_credentials: false
        persisted_queries: { mode: allow }
        graphql_persisted_queries: [abc]
        graphql_max_body_bytes: 65536
        credential_signing: "sigv4:body"
        signing_service: s3
        signing_region: us-east-1
        credential_binding: { provider: aws }
        json_rpc: { max_body_bytes: 1024 }
        mcp: { max_body_bytes: 1024, strict_tool_names: true }
    binaries:
      - { path: /usr/bin/curl, harness: true }
)";
  auto p = load_policy_text(yaml, "p.yaml");
  ASSERT_TRUE(p.has_value()) << p.error().to_string();
  const NetworkEndpoint& e = p->network_policies[0].endpoints[0];
  EXPECT_EQ(p->network_policies[0].name, "Full");
  EXPECT_EQ(e.path, "/v1/**");
  EXPECT_EQ(e.l7_rule_count, 1u);
  EXPECT_EQ(e.deny_rule_count, 1u);
  EXPECT_THAT(e.credential_options,
              ElementsAre("allow_encoded_slash", "websocket_credential_rewrite",
                          "request_body_credential_rewrite", "allow_uninspected_credentials",
                          "persisted_queries", "graphql_persisted_queries",
                          "graphql_max_body_bytes", "credential_signing", "signing_service",
                          "signing_region", "credential_binding", "json_rpc", "mcp"));
}

TEST(NetworkValidation, ModeProxyIsTheDefaultAndSpelledProxy) {
  auto p = load_policy_text("version: 1\nnetwork: { mode: proxy }\n", "p.yaml");
  ASSERT_TRUE(p.has_value()) << p.error().to_string();
  EXPECT_EQ(p->network_mode, NetworkMode::kProxy);
  p = load_policy_text("version: 1\nnetwork: { mode: pod }\n", "p.yaml");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->network_mode, NetworkMode::kPod);
  p = load_policy_text("version: 1\nnetwork: { mode: bridge }\n", "p.yaml");
  ASSERT_FALSE(p.has_value());
  EXPECT_THAT(p.error().message, HasSubstr("pod, none, proxy"));
}

}  // namespace
}  // namespace openshell::policy
