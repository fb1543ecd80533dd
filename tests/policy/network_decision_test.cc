// The egress decision as tables: OpenShell's L4 semantics (host and binary
// globs, ancestors, relaxed identity, symlink targets, smallest key, L7
// classification) and the address classes every resolved address is held
// to, with the IP spellings a client might use to sneak past them.
#include "sandbox-policy/network_decision.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>

#include "sandbox-policy/load.h"

namespace openshell::policy::net {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// ---- host globs -------------------------------------------------------------

struct HostCase {
  const char* pattern;
  const char* host;
  bool match;
};

TEST(HostMatches, Table) {
  const HostCase cases[] = {
      {"api.example.com", "api.example.com", true},
      {"api.example.com", "API.Example.COM", true},
      {"API.example.com", "api.example.com", true},
      {"api.example.com", "api.example.com.", true},  // trailing dot
      {"api.example.com", "xapi.example.com", false},
      {"api.example.com", "example.com", false},
      {"*.example.com", "a.example.com", true},
      {"*.example.com", "A.EXAMPLE.com", true},
      {"*.example.com", "example.com", false},      // not the apex
      {"*.example.com", "a.b.example.com", false},  // '*' is ONE label
      {"*.example.com", "a.example.org", false},
      {"*.example.com", "aexample.com", false},
      {"**.example.com", "a.example.com", true},
      {"**.example.com", "a.b.c.example.com", true},
      {"**.example.com", "example.com", false},
      {"*-api.example.com", "eu-api.example.com", true},
      {"*-api.example.com", "api.example.com", false},
      {"*-api.example.com", "eu.x-api.example.com", false},
      {"*.s3.*.amazonaws.com", "b.s3.us-east-1.amazonaws.com", true},
      {"*.s3.*.amazonaws.com", "b.s3.amazonaws.com", false},
      {"*.s3.*.amazonaws.com", "b.s3.a.b.amazonaws.com", false},
      // A name pattern never matches an address.
      {"*.*.*.*", "10.0.0.1", false},
      {"*.0.0.1", "127.0.0.1", false},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(host_matches(c.pattern, c.host), c.match) << c.pattern << " vs " << c.host;
  }
}

// ---- binary globs -----------------------------------------------------------

TEST(BinaryMatches, Table) {
  const HostCase cases[] = {
      {"/usr/bin/node", "/usr/bin/node", true},
      {"/usr/bin/node", "/usr/bin/nodejs", false},
      {"/usr/bin/node", "/usr/bin/Node", false},  // paths are case-sensitive
      {"/usr/bin/*", "/usr/bin/node", true},
      {"/usr/bin/*", "/usr/bin/subdir/node", false},  // '*' does not cross '/'
      {"/usr/bin/py*", "/usr/bin/python3.11", true},
      {"/home/*/.local/bin/copilot", "/home/alice/.local/bin/copilot", true},
      {"/home/*/.local/bin/copilot", "/home/a/b/.local/bin/copilot", false},
      {"/usr/lib/**/copilot", "/usr/lib/node_modules/@github/x/copilot", true},
      {"/usr/lib/**/copilot", "/usr/lib/copilot", false},
      {"/usr/lib/**", "/usr/lib/a/b/c", true},
      {"/usr/lib/**", "/usr/libexec/x", false},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(binary_matches(c.pattern, c.host), c.match) << c.pattern << " vs " << c.host;
  }
}

// ---- the decision -----------------------------------------------------------

Policy load(const std::string& yaml) {
  auto p = load_policy_text("version: 1\n" + yaml, "p.yaml");
  EXPECT_TRUE(p.has_value()) << p.error().to_string();
  return p.value_or(Policy{});
}

Caller caller(std::vector<std::string> chain) {
  return Caller{std::move(chain)};
}

const char* kPolicy = R"(
network_policies:
  claude_code:
    endpoints:
      - { host: api.anthropic.com, port: 443 }
      - { host: "*.anthropic.com", ports: [8443, 9443], port: 443 }
    binaries:
      - { path: /usr/local/bin/claude }
      - { path: /usr/bin/node }
  a_git:
    endpoints:
      - { host: github.com, port: 443 }
    binaries:
      - { path: "/usr/lib/git-core/*" }
  b_git:
    endpoints:
      - { host: github.com, port: 443 }
      - { host: "**.githubusercontent.com", port: 443 }
    binaries:
      - { path: /usr/bin/git }
  no_binaries:
    endpoints:
      - { host: open.example.com, port: 80 }
  l7_enforced:
    endpoints:
      - host: strict.example.com
        port: 443
        protocol: rest
        enforcement: enforce
        access: read-only
      - host: full.example.com
        port: 443
        protocol: rest
        enforcement: enforce
        access: full
      - host: audit.example.com
        port: 443
        protocol: rest
        access: read-only
    binaries:
      - { path: /usr/bin/curl }
  hostless:
    endpoints:
      - { port: 5432, allowed_ips: ["10.20.0.0/16"] }
    binaries:
      - { path: /usr/bin/psql }
  literal:
    endpoints:
      - { host: 10.1.2.3, port: 8080 }
    binaries:
      - { path: /usr/bin/curl }
)";

struct DecideCase {
  const char* host;
  uint16_t port;
  std::vector<std::string> chain;
  bool allow;
  const char* rule_or_reason;  // rule key when allowed, a reason substring when denied
};

TEST(Decide, OpenShellL4Table) {
  NetworkRules rules(load(kPolicy), false);
  const DecideCase cases[] = {
      // exact host, right binary
      {"api.anthropic.com", 443, {"/usr/bin/node"}, true, "claude_code"},
      {"API.ANTHROPIC.COM.", 443, {"/usr/local/bin/claude"}, true, "claude_code"},
      // wrong port, wrong binary, unknown host
      {"api.anthropic.com", 80, {"/usr/bin/node"}, false, "endpoint api.anthropic.com:80 is not"},
      {"api.anthropic.com", 443, {"/usr/bin/python3"}, false, "binary '/usr/bin/python3'"},
      {"evil.com", 443, {"/usr/bin/node"}, false, "is not allowed by any policy"},
      // `ports` replaces `port`: 443 is not on the wildcard endpoint
      {"x.anthropic.com", 8443, {"/usr/bin/node"}, true, "claude_code"},
      {"x.anthropic.com", 443, {"/usr/bin/node"}, false, "not allowed by any policy"},
      {"a.b.anthropic.com", 8443, {"/usr/bin/node"}, false, "not allowed by any policy"},
      // ancestors: a script run by an allowed binary
      {"api.anthropic.com", 443, {"/usr/bin/bash", "/usr/bin/node"}, true, "claude_code"},
      {"api.anthropic.com",
       443,
       {"/usr/bin/bash", "/usr/bin/sh", "/usr/bin/node"},
       true,
       "claude_code"},
      // binary glob: '*' stays in one directory
      {"github.com", 443, {"/usr/lib/git-core/git-remote-https"}, true, "a_git"},
      {"github.com", 443, {"/usr/lib/git-core/sub/x"}, false, "binary"},
      // both a_git and b_git match: the smallest key is reported
      {"github.com", 443, {"/usr/bin/git", "/usr/lib/git-core/git-remote-https"}, true, "a_git"},
      {"github.com", 443, {"/usr/bin/git"}, true, "b_git"},
      {"raw.githubusercontent.com", 443, {"/usr/bin/git"}, true, "b_git"},
      {"githubusercontent.com", 443, {"/usr/bin/git"}, false, "not allowed by any policy"},
      // endpoint and binary must match in the SAME rule
      {"raw.githubusercontent.com", 443, {"/usr/bin/node"}, false, "binary '/usr/bin/node'"},
      // a rule without binaries matches nothing
      {"open.example.com", 80, {"/usr/bin/curl"}, false, "policy 'no_binaries'"},
      // L7: enforce + narrower rules is denied; full access and audit are L4
      {"strict.example.com",
       443,
       {"/usr/bin/curl"},
       false,
       "requires L7 enforcement, not available"},
      {"full.example.com", 443, {"/usr/bin/curl"}, true, "l7_enforced"},
      {"audit.example.com", 443, {"/usr/bin/curl"}, true, "l7_enforced"},
      // hostless: a name matches (its addresses are checked later), an
      // address must lie in allowed_ips
      {"db.internal", 5432, {"/usr/bin/psql"}, true, "hostless"},
      {"10.20.1.1", 5432, {"/usr/bin/psql"}, true, "hostless"},
      {"10.21.1.1", 5432, {"/usr/bin/psql"}, false, "not allowed by any policy"},
      {"db.internal", 5433, {"/usr/bin/psql"}, false, "not allowed by any policy"},
      // an IP literal host, in any spelling
      {"10.1.2.3", 8080, {"/usr/bin/curl"}, true, "literal"},
      {"10.1.515", 8080, {"/usr/bin/curl"}, true, "literal"},
      {"0xa.1.2.3", 8080, {"/usr/bin/curl"}, true, "literal"},
      {"167838211", 8080, {"/usr/bin/curl"}, true, "literal"},
      {"10.1.2.4", 8080, {"/usr/bin/curl"}, false, "not allowed by any policy"},
      // no caller identity: nothing matches a binary
      {"api.anthropic.com", 443, {}, false, "binary '(unknown)'"},
      // not a host at all
      {"a b.com", 443, {"/usr/bin/node"}, false, "invalid host"},
      {"1.2.3.4.5", 443, {"/usr/bin/node"}, false, "invalid host"},
      {"", 443, {"/usr/bin/node"}, false, "invalid host"},
  };
  for (const auto& c : cases) {
    Decision d = rules.decide(c.host, c.port, caller(c.chain));
    std::string where = std::string(c.host) + ":" + std::to_string(c.port);
    EXPECT_EQ(d.allow, c.allow) << where << " " << d.reason;
    if (c.allow) {
      EXPECT_EQ(d.rule_key, c.rule_or_reason) << where;
      EXPECT_TRUE(d.reason.empty()) << where;
    } else {
      EXPECT_THAT(d.reason, HasSubstr(c.rule_or_reason)) << where;
      EXPECT_TRUE(d.rule_key.empty()) << where;
    }
  }
}

TEST(Decide, BinaryReasonNamesExeAncestorsAndRule) {
  NetworkRules rules(load(kPolicy), false);
  Decision d = rules.decide("api.anthropic.com", 443, caller({"/usr/bin/python3", "/bin/bash"}));
  EXPECT_FALSE(d.allow);
  EXPECT_EQ(d.reason,
            "endpoint api.anthropic.com:443 matched policy 'claude_code' but binary "
            "'/usr/bin/python3' (ancestors: [/bin/bash]) is not one of its binaries");
}

TEST(Decide, ReasonsQuoteHostsSafely) {
  NetworkRules rules(load(kPolicy), false);
  EXPECT_THAT(rules.decide("::ffff:10.0.0.1", 443, caller({"/usr/bin/node"})).reason,
              HasSubstr("endpoint [::ffff:10.0.0.1]:443 is not allowed"));
  std::string reason = rules.decide("a\r\nX-Evil: \"1\"", 443, caller({})).reason;
  EXPECT_EQ(reason, "invalid host 'a??X-Evil: ?1?'");
}

TEST(Decide, NoRulesDeniesEverything) {
  NetworkRules rules(load(""), false);
  EXPECT_TRUE(rules.empty());
  Decision d = rules.decide("example.com", 443, caller({"/usr/bin/curl"}));
  EXPECT_FALSE(d.allow);
  EXPECT_THAT(d.reason, HasSubstr("not allowed by policy"));
  EXPECT_FALSE(rules.could_match_host("example.com"));
  EXPECT_TRUE(rules.ports().empty());
}

TEST(Decide, RelaxedIdentityIgnoresBinaries) {
  NetworkRules rules(load(kPolicy), true);
  EXPECT_TRUE(rules.decide("api.anthropic.com", 443, caller({"/usr/bin/python3"})).allow);
  EXPECT_TRUE(rules.decide("open.example.com", 80, caller({})).allow);
  EXPECT_FALSE(rules.decide("evil.com", 443, caller({"/usr/bin/node"})).allow);
  // L7 stays denied whatever the identity mode.
  EXPECT_FALSE(rules.decide("strict.example.com", 443, caller({"/usr/bin/curl"})).allow);
}

TEST(Decide, SymlinkTargetsMatchThePolicyPath) {
  Policy p = load(R"(
network_policies:
  py:
    endpoints: [{ host: pypi.org, port: 443 }]
    binaries: [{ path: /usr/bin/python3 }]
)");
  NetworkRules plain(p, false);
  EXPECT_FALSE(plain.decide("pypi.org", 443, caller({"/usr/bin/python3.11"})).allow);
  NetworkRules linked(p, false, {{"/usr/bin/python3", "/usr/bin/python3.11"}});
  EXPECT_TRUE(linked.decide("pypi.org", 443, caller({"/usr/bin/python3.11"})).allow);
  EXPECT_TRUE(linked.decide("pypi.org", 443, caller({"/bin/sh", "/usr/bin/python3.11"})).allow);
  // A target recorded for another path grants nothing.
  NetworkRules other(p, false, {{"/usr/bin/python", "/usr/bin/python3.11"}});
  EXPECT_FALSE(other.decide("pypi.org", 443, caller({"/usr/bin/python3.11"})).allow);
}

TEST(Decide, GrantSaysWhatAddressesTheMatchAllows) {
  NetworkRules rules(load(kPolicy + std::string(R"(
  pinned:
    endpoints:
      - { host: db.example.com, port: 5432, allowed_ips: ["192.168.7.0/24"] }
    binaries: [{ path: /usr/bin/psql }]
)")),
                     false);
  Decision exact = rules.decide("api.anthropic.com", 443, caller({"/usr/bin/node"}));
  EXPECT_TRUE(exact.grant.private_allowed);
  EXPECT_FALSE(exact.grant.allowed_ips_only);
  Decision wild = rules.decide("x.anthropic.com", 8443, caller({"/usr/bin/node"}));
  EXPECT_FALSE(wild.grant.private_allowed);
  EXPECT_TRUE(wild.grant.allowed_ips.empty());
  Decision hostless = rules.decide("db.internal", 5432, caller({"/usr/bin/psql"}));
  EXPECT_FALSE(hostless.grant.private_allowed);
  EXPECT_TRUE(hostless.grant.allowed_ips_only);
  ASSERT_EQ(hostless.grant.allowed_ips.size(), 1u);
  EXPECT_EQ(hostless.grant.allowed_ips[0].network.to_string(), "10.20.0.0");
  EXPECT_EQ(hostless.grant.allowed_ips[0].prefix, 16u);
  Decision pinned = rules.decide("db.example.com", 5432, caller({"/usr/bin/psql"}));
  ASSERT_TRUE(pinned.allow);
  EXPECT_EQ(pinned.rule_key, "hostless");  // both match; smallest key
  EXPECT_TRUE(pinned.grant.allowed_ips_only);
  EXPECT_EQ(pinned.grant.allowed_ips.size(), 2u);
}

TEST(Decide, CouldMatchHostAndPortsForDnsAndCapture) {
  NetworkRules rules(load(kPolicy), false);
  EXPECT_TRUE(rules.could_match_host("api.anthropic.com"));
  EXPECT_TRUE(rules.could_match_host("Raw.GitHubUserContent.com."));
  EXPECT_TRUE(rules.could_match_host("x.anthropic.com"));
  EXPECT_TRUE(rules.could_match_host("full.example.com"));
  EXPECT_FALSE(rules.could_match_host("a.b.anthropic.com"));
  EXPECT_FALSE(rules.could_match_host("evil.com"));
  EXPECT_FALSE(rules.could_match_host("strict.example.com"));  // always denied (L7)
  EXPECT_FALSE(rules.could_match_host("open.example.com"));    // rule without binaries
  EXPECT_FALSE(rules.could_match_host("db.internal"));         // hostless: not every name
  EXPECT_FALSE(rules.could_match_host("bad name"));
  EXPECT_THAT(rules.ports(), ElementsAre(443, 5432, 8080, 8443, 9443));
  NetworkRules relaxed(load(kPolicy), true);
  EXPECT_TRUE(relaxed.could_match_host("open.example.com"));
  EXPECT_THAT(relaxed.ports(), ElementsAre(80, 443, 5432, 8080, 8443, 9443));
}

// ---- L7 classification ------------------------------------------------------

TEST(ClassifyEndpoint, Table) {
  struct Case {
    const char* protocol;
    const char* enforcement;
    const char* access;
    size_t deny_rules;
    bool rules_allow_all;
    const char* path;
    EndpointLayer layer;
  } cases[] = {
      {"", "", "", 0, false, "", EndpointLayer::kL4},
      {"tcp", "enforce", "", 0, false, "", EndpointLayer::kL4},
      {"rest", "", "read-only", 0, false, "", EndpointLayer::kL7Audit},
      {"rest", "audit", "read-only", 1, false, "", EndpointLayer::kL7Audit},
      {"rest", "enforce", "full", 0, false, "", EndpointLayer::kL7FullAccess},
      {"rest", "enforce", "", 0, true, "", EndpointLayer::kL7FullAccess},
      {"rest", "enforce", "full", 0, false, "/**", EndpointLayer::kL7FullAccess},
      {"rest", "enforce", "full", 1, false, "", EndpointLayer::kL7Required},
      {"rest", "enforce", "full", 0, false, "/api/**", EndpointLayer::kL7Required},
      {"rest", "enforce", "read-only", 0, false, "", EndpointLayer::kL7Required},
      {"graphql", "enforce", "read-write", 0, false, "", EndpointLayer::kL7Required},
      {"mcp", "enforce", "", 0, false, "", EndpointLayer::kL7Required},
  };
  for (const auto& c : cases) {
    NetworkEndpoint e;
    e.protocol = c.protocol;
    e.enforcement = c.enforcement;
    e.access = c.access;
    e.deny_rule_count = c.deny_rules;
    e.l7_rules_allow_all = c.rules_allow_all;
    e.path = c.path;
    EXPECT_EQ(classify_endpoint(e), c.layer)
        << c.protocol << " " << c.enforcement << " " << c.access << " " << c.path;
  }
}

TEST(ClassifyEndpoint, RulesAllowingEveryRequestAreFullAccess) {
  Policy p = load(R"(
network_policies:
  k:
    endpoints:
      - host: a.example.com
        port: 443
        protocol: rest
        enforcement: enforce
        rules: [{ allow: { method: "*", path: "**" } }]
      - host: b.example.com
        port: 443
        protocol: rest
        enforcement: enforce
        rules: [{ allow: { method: "*", path: "**", query: { a: b } } }]
    binaries: [{ path: /usr/bin/curl }]
)");
  ASSERT_EQ(p.network_policies.size(), 1u);
  EXPECT_EQ(classify_endpoint(p.network_policies[0].endpoints[0]), EndpointLayer::kL7FullAccess);
  EXPECT_EQ(classify_endpoint(p.network_policies[0].endpoints[1]), EndpointLayer::kL7Required);
}

// ---- IP literals ------------------------------------------------------------

TEST(ParseIpLiteral, SpellingsAreCanonicalised) {
  const std::pair<const char*, const char*> cases[] = {
      {"127.0.0.1", "127.0.0.1"},
      {"2130706433", "127.0.0.1"},
      {"127.1", "127.0.0.1"},
      {"127.0.1", "127.0.0.1"},
      {"0x7f.1", "127.0.0.1"},
      {"0x7F000001", "127.0.0.1"},
      {"0177.0.0.1", "127.0.0.1"},
      {"017700000001", "127.0.0.1"},
      {"127.0.0.1.", "127.0.0.1"},
      {"2852039166", "169.254.169.254"},
      {"0", "0.0.0.0"},
      {"[::1]", "::1"},
      {"::1", "::1"},
      {"[::ffff:127.0.0.1]", "::ffff:127.0.0.1"},
      {"::ffff:7f00:1", "::ffff:127.0.0.1"},
      {"FE80::1", "fe80::1"},
  };
  for (const auto& [in, out] : cases) {
    auto ip = parse_ip_literal(in);
    ASSERT_TRUE(ip.has_value()) << in;
    EXPECT_EQ(ip->to_string(), out) << in;
  }
  for (const char* name : {"example.com", "", "256.0.0.1", "1.2.3.4.5", "0x100.0.0.1", "08.0.0.1",
                           "1..2", "[::1", "fe80::1%eth0", "::g", "4294967296", "-1", "1.2.3.0x"}) {
    EXPECT_FALSE(parse_ip_literal(name).has_value()) << name;
  }
}

TEST(ParseCidr, StrictSpellingAndHostBitsCleared) {
  auto c = parse_cidr("10.1.2.3/8");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->network.to_string(), "10.0.0.0");
  EXPECT_EQ(c->prefix, 8u);
  auto single = parse_cidr("2001:db8::1");
  ASSERT_TRUE(single.has_value());
  EXPECT_EQ(single->prefix, 128u);
  for (const char* bad : {"10/8", "10.0.0.0/33", "::/129", "10.0.0.0/", "x", "10.0.0.0/8/8", ""}) {
    EXPECT_FALSE(parse_cidr(bad).has_value()) << bad;
  }
  EXPECT_TRUE(cidr_contains(*parse_cidr("10.0.0.0/8"), *parse_ip_literal("::ffff:10.9.9.9")));
  EXPECT_FALSE(cidr_contains(*parse_cidr("10.0.0.0/8"), *parse_ip_literal("11.0.0.1")));
}

// ---- address checks ---------------------------------------------------------

struct AddressCase {
  const char* address;
  uint16_t port;
  AddressVerdict public_only;  // wildcard endpoint: no grant
  AddressVerdict exact;        // exact declared host: private_allowed
};

TEST(CheckAddress, EveryClassAndSpelling) {
  using V = AddressVerdict;
  const AddressCase cases[] = {
      {"93.184.216.34", 443, V::kAllowed, V::kAllowed},
      {"2606:4700::1111", 443, V::kAllowed, V::kAllowed},
      {"93.184.216.34", 6443, V::kAllowed, V::kAllowed},  // control-plane ports: private only
      // always blocked, whatever the grant
      {"127.0.0.1", 443, V::kAlwaysBlocked, V::kAlwaysBlocked},
      {"127.255.0.1", 443, V::kAlwaysBlocked, V::kAlwaysBlocked},
      {"2130706433", 443, V::kAlwaysBlocked, V::kAlwaysBlocked},
      {"127.1", 443, V::kAlwaysBlocked, V::kAlwaysBlocked},
      {"0x7f.1", 443, V::kAlwaysBlocked, V::kAlwaysBlocked},
      {"0177.0.0.1", 443, V::kAlwaysBlocked, V::kAlwaysBlocked},
      {"127.0.0.1.", 443, V::kAlwaysBlocked, V::kAlwaysBlocked},
      {"0.0.0.0", 443, V::kAlwaysBlocked, V::kAlwaysBlocked},
      {"0.1.2.3", 443, V::kAlwaysBlocked, V::kAlwaysBlocked},
      {"169.254.169.254", 80, V::kAlwaysBlocked, V::kAlwaysBlocked},
      {"2852039166", 80, V::kAlwaysBlocked, V::kAlwaysBlocked},
      {"224.0.0.1", 443, V::kAlwaysBlocked, V::kAlwaysBlocked},
      {"255.255.255.255", 443, V::kAlwaysBlocked, V::kAlwaysBlocked},
      {"::1", 443, V::kAlwaysBlocked, V::kAlwaysBlocked},
      {"[::1]", 443, V::kAlwaysBlocked, V::kAlwaysBlocked},
      {"::", 443, V::kAlwaysBlocked, V::kAlwaysBlocked},
      {"fe80::1", 443, V::kAlwaysBlocked, V::kAlwaysBlocked},
      {"febf::1", 443, V::kAlwaysBlocked, V::kAlwaysBlocked},
      {"ff02::1", 443, V::kAlwaysBlocked, V::kAlwaysBlocked},
      {"::ffff:127.0.0.1", 443, V::kAlwaysBlocked, V::kAlwaysBlocked},
      {"::ffff:169.254.169.254", 80, V::kAlwaysBlocked, V::kAlwaysBlocked},
      {"::ffff:0.0.0.0", 80, V::kAlwaysBlocked, V::kAlwaysBlocked},
      {"64:ff9b::a9fe:a9fe", 80, V::kAlwaysBlocked, V::kAlwaysBlocked},  // NAT64 of metadata
      {"::127.0.0.1", 80, V::kAlwaysBlocked, V::kAlwaysBlocked},         // v4-compatible
      // private: exact declared hosts only
      {"10.0.0.1", 443, V::kPrivateNotGranted, V::kAllowed},
      {"172.16.0.1", 443, V::kPrivateNotGranted, V::kAllowed},
      {"172.31.255.255", 443, V::kPrivateNotGranted, V::kAllowed},
      {"172.32.0.1", 443, V::kAllowed, V::kAllowed},
      {"192.168.1.1", 443, V::kPrivateNotGranted, V::kAllowed},
      {"100.64.0.1", 443, V::kPrivateNotGranted, V::kAllowed},
      {"100.128.0.1", 443, V::kAllowed, V::kAllowed},
      {"198.18.0.1", 443, V::kPrivateNotGranted, V::kAllowed},
      {"192.0.0.8", 443, V::kPrivateNotGranted, V::kAllowed},
      {"fd00::1", 443, V::kPrivateNotGranted, V::kAllowed},
      {"fc00::1", 443, V::kPrivateNotGranted, V::kAllowed},
      {"::ffff:10.0.0.1", 443, V::kPrivateNotGranted, V::kAllowed},
      {"::ffff:a00:1", 443, V::kPrivateNotGranted, V::kAllowed},
      {"012.0.0.1", 443, V::kPrivateNotGranted, V::kAllowed},  // octal 10.0.0.1
      {"167772161", 443, V::kPrivateNotGranted, V::kAllowed},  // 10.0.0.1
      // control-plane ports refused on private addresses even when granted
      {"10.0.0.1", 6443, V::kPrivateNotGranted, V::kControlPlanePort},
      {"10.0.0.1", 2379, V::kPrivateNotGranted, V::kControlPlanePort},
      {"10.0.0.1", 2380, V::kPrivateNotGranted, V::kControlPlanePort},
      {"10.0.0.1", 10250, V::kPrivateNotGranted, V::kControlPlanePort},
      {"10.0.0.1", 10255, V::kPrivateNotGranted, V::kControlPlanePort},
      {"::ffff:10.0.0.1", 10250, V::kPrivateNotGranted, V::kControlPlanePort},
      {"10.0.0.1", 10251, V::kPrivateNotGranted, V::kAllowed},
  };
  AddressGrant none;
  AddressGrant exact;
  exact.private_allowed = true;
  for (const auto& c : cases) {
    auto ip = parse_ip_literal(c.address);
    ASSERT_TRUE(ip.has_value()) << c.address;
    EXPECT_EQ(check_address(none, *ip, c.port), c.public_only) << c.address << ":" << c.port;
    EXPECT_EQ(check_address(exact, *ip, c.port), c.exact) << c.address << ":" << c.port;
  }
}

TEST(CheckAddress, AllowedIps) {
  using V = AddressVerdict;
  AddressGrant g;
  g.allowed_ips = {*parse_cidr("10.20.0.0/16"), *parse_cidr("fd00:1::/32")};
  auto at = [&](const char* a, uint16_t port = 5432) {
    return check_address(g, *parse_ip_literal(a), port);
  };
  // allowed_ips widen to private ranges ...
  EXPECT_EQ(at("10.20.3.4"), V::kAllowed);
  EXPECT_EQ(at("::ffff:10.20.3.4"), V::kAllowed);
  EXPECT_EQ(at("fd00:1::5"), V::kAllowed);
  EXPECT_EQ(at("10.21.0.1"), V::kPrivateNotGranted);
  EXPECT_EQ(at("10.20.3.4", 6443), V::kControlPlanePort);
  EXPECT_EQ(at("127.0.0.1"), V::kAlwaysBlocked);
  EXPECT_EQ(at("93.184.216.34"), V::kAllowed);
  // ... and, when every matching endpoint has them, they are the only way.
  g.allowed_ips_only = true;
  EXPECT_EQ(at("10.20.3.4"), V::kAllowed);
  EXPECT_EQ(at("93.184.216.34"), V::kNotInAllowedIps);
  EXPECT_EQ(at("10.21.0.1"), V::kNotInAllowedIps);
  // A CIDR never opens an always-blocked address.
  AddressGrant wide;
  wide.allowed_ips = {*parse_cidr("0.0.0.0/0")};
  EXPECT_EQ(check_address(wide, *parse_ip_literal("127.0.0.1"), 80), V::kAlwaysBlocked);
  EXPECT_EQ(check_address(wide, *parse_ip_literal("169.254.169.254"), 80), V::kAlwaysBlocked);
}

}  // namespace
}  // namespace openshell::policy::net

namespace openshell::policy::net {
namespace {

// ---- properties over many generated inputs ----------------------------------

// A v4-mapped spelling is the same address: every verdict must agree, for
// every grant and port (the v4-mapped mutant of the SSRF check fails here).
TEST(Properties, V4MappedAddressesGetTheSameVerdict) {
  std::mt19937 rng(8);  // fixed seed: the same inputs on every run
  const uint16_t ports[] = {80, 443, 2379, 6443, 10250};
  AddressGrant grants[4];
  grants[1].private_allowed = true;
  grants[2].allowed_ips = {*parse_cidr("10.0.0.0/8"), *parse_cidr("192.168.0.0/16")};
  grants[3] = grants[2];
  grants[3].allowed_ips_only = true;
  // Random addresses, and every first octet with a random rest, so each
  // class is hit.
  for (int i = 0; i < 20000; ++i) {
    uint32_t v = rng();
    if (i < 256 * 8) v = (static_cast<uint32_t>(i % 256) << 24) | (v & 0xffffff);
    IpAddress a;
    for (int b = 0; b < 4; ++b) a.bytes[b] = static_cast<uint8_t>(v >> (24 - 8 * b));
    IpAddress mapped;
    mapped.v6 = true;
    mapped.bytes[10] = mapped.bytes[11] = 0xff;
    for (int b = 0; b < 4; ++b) mapped.bytes[12 + b] = a.bytes[b];
    ASSERT_EQ(classify(a), classify(mapped)) << a.to_string();
    for (const AddressGrant& g : grants) {
      uint16_t port = ports[static_cast<size_t>(i) % 5];
      ASSERT_EQ(check_address(g, a, port), check_address(g, mapped, port))
          << a.to_string() << ":" << port;
    }
  }
}

// Parsing is stable: a parsed address prints in a spelling that parses to
// itself, a canonical host is its own canonical form, and no glob matches
// an address.
TEST(Properties, CanonicalFormsAreFixedPoints) {
  std::mt19937 rng(9);
  const std::string alphabet = "0123456789abcdefxX.:[]*%-_ ";
  for (int i = 0; i < 50000; ++i) {
    std::string s;
    size_t len = rng() % 20;
    for (size_t k = 0; k < len; ++k) s += alphabet[rng() % alphabet.size()];
    if (auto ip = parse_ip_literal(s)) {
      auto again = parse_ip_literal(ip->to_string());
      ASSERT_TRUE(again.has_value()) << s;
      ASSERT_EQ(*again, *ip) << s;
      ASSERT_FALSE(host_matches("*.*.*.*", s)) << s;
      ASSERT_FALSE(host_matches("**.0", s)) << s;
    }
    if (auto c = canonical_host(s)) {
      ASSERT_EQ(canonical_host(*c), c) << s;
      ASSERT_EQ(c->find_first_of(" %[]*"), std::string::npos) << s;
    }
  }
}

}  // namespace
}  // namespace openshell::policy::net
