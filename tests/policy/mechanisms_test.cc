// Capabilities, rlimits, environment, user namespace mapping and the
// enforcement report.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <linux/capability.h>
#include <sys/resource.h>

#include "sandbox-policy/capabilities.h"
#include "sandbox-policy/environment.h"
#include "sandbox-policy/report.h"
#include "sandbox-policy/rlimits.h"
#include "sandbox-policy/userns_plan.h"

namespace openshell::policy {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(Capabilities, AllMaskUpToLastCap) {
  EXPECT_EQ(all_capabilities_mask(CAP_LAST_CAP), (1ull << (CAP_LAST_CAP + 1)) - 1);
  EXPECT_EQ(all_capabilities_mask(0), 1u);
  EXPECT_EQ(all_capabilities_mask(63), ~0ull);
  EXPECT_EQ(all_capabilities_mask(-1), 0u);
}

TEST(Capabilities, NamesInEitherSpelling) {
  EXPECT_EQ(capability_from_name("k", "CAP_NET_BIND_SERVICE").value(), CAP_NET_BIND_SERVICE);
  EXPECT_EQ(capability_from_name("k", "net_bind_service").value(), CAP_NET_BIND_SERVICE);
  EXPECT_EQ(capability_from_name("k", "cap_sys_admin").value(), CAP_SYS_ADMIN);
  auto bad = capability_from_name("capabilities.unsafe_keep[0]", "CAP_");
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().key, "capabilities.unsafe_keep[0]");
  EXPECT_EQ(capability_name(CAP_NET_RAW), "cap_net_raw");
  EXPECT_EQ(capability_mask({CAP_CHOWN, CAP_KILL}), (1ull << CAP_CHOWN) | (1ull << CAP_KILL));
  EXPECT_EQ(capability_mask({}), 0u);
}

TEST(Rlimits, CoreIsAlwaysZeroAndFirst) {
  Policy p;
  auto plan = build_rlimit_plan(p);
  ASSERT_EQ(plan.size(), 1u);
  EXPECT_EQ(plan[0].resource, RLIMIT_CORE);
  EXPECT_EQ(plan[0].soft, 0u);
  EXPECT_EQ(plan[0].hard, 0u);
}

TEST(Rlimits, PolicyLimits) {
  Policy p;
  p.limits = {*parse_limit("nofile", "4096"), *parse_limit("as", "unlimited"),
              *parse_limit("cpu", "60")};
  auto plan = build_rlimit_plan(p);
  ASSERT_EQ(plan.size(), 4u);
  EXPECT_EQ(plan[0].resource, RLIMIT_CORE);
  // RLIMIT order after core: cpu(0), nofile(7), as(9).
  EXPECT_EQ(plan[1].resource, RLIMIT_CPU);
  EXPECT_EQ(plan[1].soft, 60u);
  EXPECT_EQ(plan[2].resource, RLIMIT_NOFILE);
  EXPECT_EQ(plan[2].hard, 4096u);
  EXPECT_EQ(plan[3].resource, RLIMIT_AS);
  EXPECT_EQ(plan[3].soft, RLIM_INFINITY);
}

TEST(Rlimits, BadValues) {
  for (const char* v : {"", "-1", "1k", "18446744073709551615", "99999999999999999999"}) {
    auto r = parse_limit("fsize", v);
    ASSERT_FALSE(r.has_value()) << v;
    EXPECT_EQ(r.error().key, "limits.fsize");
  }
  EXPECT_FALSE(parse_limit("nofile", "0").has_value());
  EXPECT_FALSE(parse_limit("core", "0").has_value());
}

Identity sandbox_identity() {
  Identity id;
  id.uid = 1000;
  id.gid = 1000;
  id.user_name = "sandbox";
  id.home = "/home/sandbox";
  id.shell = "/bin/bash";
  return id;
}

TEST(Environment, BaseHasOnlyTheIdentityPathPolicyAndUserVariables) {
  Policy p;
  p.network_mode = NetworkMode::kPod;  // no proxy variables (see ProxyModeSendsClientsToTheProxy)
  p.environment = {{"LANG", "C.UTF-8"}, {"LD_LIBRARY_PATH", "/opt/lib"}, {"PATH", "/custom"}};
  auto env = build_base_environment(
      sandbox_identity(), p,
      {{"GITHUB_TOKEN", "t"}, {"OPENSHELL_SANDBOX_UID", "0"}, {"bad-name", "x"}, {"LANG", "fr"}});
  EXPECT_EQ(env["HOME"], "/home/sandbox");
  EXPECT_EQ(env["USER"], "sandbox");
  EXPECT_EQ(env["LOGNAME"], "sandbox");
  EXPECT_EQ(env["SHELL"], "/bin/bash");
  EXPECT_EQ(env["PATH"], "/custom");              // the policy may set PATH
  EXPECT_EQ(env["LD_LIBRARY_PATH"], "/opt/lib");  // LD_* is allowed from the policy
  EXPECT_EQ(env["GITHUB_TOKEN"], "t");
  EXPECT_EQ(env["LANG"], "fr");  // user environment wins over policy
  EXPECT_FALSE(env.contains("OPENSHELL_SANDBOX_UID"));
  EXPECT_FALSE(env.contains("bad-name"));
  EXPECT_FALSE(env.contains("TERM"));
  EXPECT_EQ(env.size(), 8u);
}

// Network mode proxy: every process is pointed at the egress proxy, and
// OPENSHELL_USER_ENVIRONMENT cannot point it elsewhere.
TEST(Environment, ProxyModeSendsClientsToTheProxy) {
  Policy p;
  p.network_mode = NetworkMode::kProxy;
  p.environment = {{"NO_PROXY", "*"}};
  auto env = build_base_environment(
      sandbox_identity(), p, {{"HTTPS_PROXY", "http://elsewhere:1"}, {"GITHUB_TOKEN", "t"}});
  for (const char* key : {"HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy",
                          "all_proxy", "grpc_proxy"}) {
    EXPECT_EQ(env[key], "http://127.0.0.1:3128") << key;
  }
  EXPECT_EQ(env["NO_PROXY"], "127.0.0.1,localhost,::1");
  EXPECT_EQ(env["no_proxy"], "127.0.0.1,localhost,::1");
  EXPECT_EQ(env["NODE_USE_ENV_PROXY"], "1");
  EXPECT_EQ(env["GITHUB_TOKEN"], "t");

  p.network_mode = NetworkMode::kNone;
  auto none = build_base_environment(sandbox_identity(), p, {});
  EXPECT_FALSE(none.contains("HTTP_PROXY"));
  EXPECT_FALSE(none.contains("NODE_USE_ENV_PROXY"));
}

TEST(Environment, DefaultPathAndNumericUser) {
  Identity id = sandbox_identity();
  id.user_name.clear();
  auto env = build_base_environment(id, Policy{}, {});
  EXPECT_EQ(env["PATH"], kDefaultPath);
  EXPECT_EQ(env["USER"], "1000");
}

TEST(Environment, SessionVariables) {
  EXPECT_TRUE(is_session_env_allowed("LANG"));
  EXPECT_TRUE(is_session_env_allowed("LC_ALL"));
  EXPECT_FALSE(is_session_env_allowed("LD_PRELOAD"));
  EXPECT_FALSE(is_session_env_allowed("LD_LIBRARY_PATH"));
  EXPECT_FALSE(is_session_env_allowed("OPENSHELL_SANDBOX_UID"));
  EXPECT_FALSE(is_session_env_allowed("A=B"));
  EXPECT_FALSE(is_session_env_allowed(""));
  EXPECT_FALSE(is_session_env_allowed("1ABC"));
  auto env = compose_environment({{"HOME", "/h"}, {"PATH", "/bin"}}, "xterm-256color",
                                 {{"LANG", "C"}, {"LD_PRELOAD", "/evil.so"}, {"OPENSHELL_X", "1"}});
  EXPECT_THAT(env, ElementsAre("HOME=/h", "LANG=C", "PATH=/bin", "TERM=xterm-256color"));
  env = compose_environment({{"HOME", "/h"}}, std::nullopt, {});
  EXPECT_THAT(env, ElementsAre("HOME=/h"));
}

// Network mode proxy: a session's `env` requests never replace the proxy
// variables; outside mode proxy (no proxy variables in the base) they may
// set them.
TEST(Environment, SessionCannotOverrideProxyVariables) {
  auto env = compose_environment(
      {{"HOME", "/h"}, {"HTTP_PROXY", "http://127.0.0.1:3128"}, {"NO_PROXY", "127.0.0.1"}},
      std::nullopt, {{"HTTP_PROXY", "http://evil:1"}, {"NO_PROXY", "*"}, {"LANG", "C"}});
  EXPECT_THAT(env, ElementsAre("HOME=/h", "HTTP_PROXY=http://127.0.0.1:3128", "LANG=C",
                               "NO_PROXY=127.0.0.1"));
  env = compose_environment({{"HOME", "/h"}}, std::nullopt, {{"HTTP_PROXY", "http://corp:8080"}});
  EXPECT_THAT(env, ElementsAre("HOME=/h", "HTTP_PROXY=http://corp:8080"));
}

TEST(UserNamespace, DefaultMapsOnlyTheSandboxIds) {
  Identity id = sandbox_identity();
  UserNamespacePlan u = build_userns_plan(id, false);
  ASSERT_EQ(u.uid_map.size(), 2u);
  EXPECT_EQ(u.uid_map[0].inside, 1000u);
  EXPECT_EQ(u.uid_map[0].outside, 1000u);
  EXPECT_EQ(u.uid_map[0].count, 1u);
  EXPECT_EQ(u.process_uid, 1000u);
  EXPECT_EQ(u.process_gid, 1000u);
  // The init's own id, mapped to itself.
  EXPECT_EQ(u.init_uid, 65533u);
  EXPECT_EQ(u.init_gid, 65533u);
  EXPECT_EQ(u.uid_map[1].inside, 65533u);
  EXPECT_EQ(u.uid_map[1].outside, 65533u);
  EXPECT_TRUE(u.deny_setgroups);
  EXPECT_TRUE(u.process_groups.empty());
  EXPECT_FALSE(u.root_in_sandbox);
}

TEST(UserNamespace, SupplementaryGroupsAreMappedAndSetgroupsAllowed) {
  Identity id = sandbox_identity();
  id.supplementary_gids = {44, 999};
  UserNamespacePlan u = build_userns_plan(id, false);
  ASSERT_EQ(u.gid_map.size(), 4u);  // the init's own gid last
  EXPECT_EQ(u.gid_map[1].inside, 44u);
  EXPECT_EQ(u.gid_map[1].outside, 44u);
  EXPECT_THAT(u.process_groups, ElementsAre(44u, 999u));
  EXPECT_FALSE(u.deny_setgroups);
}

TEST(UserNamespace, RootInSandboxMapsZeroToTheSandboxUid) {
  Identity id = sandbox_identity();
  id.supplementary_gids = {44};
  UserNamespacePlan u = build_userns_plan(id, true);
  ASSERT_EQ(u.uid_map.size(), 2u);
  EXPECT_EQ(u.uid_map[0].inside, 0u);
  EXPECT_EQ(u.uid_map[0].outside, 1000u);
  EXPECT_EQ(u.gid_map[0].inside, 0u);
  EXPECT_EQ(u.gid_map[0].outside, 1000u);
  EXPECT_EQ(u.process_uid, 0u);
  EXPECT_EQ(u.init_uid, 65533u);  // not root inside: its own id
  EXPECT_TRUE(u.deny_setgroups);
  EXPECT_TRUE(u.process_groups.empty());
}

// No sandbox process may share the init's ids (prlimit(2) needs only that).
TEST(UserNamespace, TheInitsIdIsNoSandboxProcesssId) {
  for (bool root : {false, true}) {
    for (uint32_t taken : {65533u, 65532u}) {
      Identity id = sandbox_identity();
      id.uid = 65533;
      id.gid = taken;
      id.supplementary_gids = {65531};
      UserNamespacePlan u = build_userns_plan(id, root);
      EXPECT_NE(u.init_uid, u.process_uid);
      EXPECT_NE(u.init_uid, 65533u);
      EXPECT_NE(u.init_gid, taken);
      EXPECT_NE(u.init_gid, 65531u);
      EXPECT_NE(u.init_gid, u.process_gid);
    }
  }
}

TEST(UserNamespace, NeverMapsZeroToZeroAndInitIdsAreMapped) {
  for (bool root : {false, true}) {
    UserNamespacePlan u = build_userns_plan(sandbox_identity(), root);
    for (const auto& m : u.uid_map) EXPECT_NE(m.outside, 0u);
    for (const auto& m : u.gid_map) EXPECT_NE(m.outside, 0u);
    auto mapped = [](const std::vector<IdMapping>& map, uint32_t inside) {
      for (const auto& m : map) {
        if (inside >= m.inside && inside - m.inside < m.count) return true;
      }
      return false;
    };
    EXPECT_TRUE(mapped(u.uid_map, u.init_uid));
    EXPECT_TRUE(mapped(u.gid_map, u.init_gid));
    EXPECT_TRUE(mapped(u.uid_map, u.process_uid));
    EXPECT_TRUE(mapped(u.gid_map, u.process_gid));
  }
}

// Mode pod: egress NOT ENFORCED, said once for the mode and per rule.
TEST(Report, PodModeSaysEgressIsNotEnforced) {
  Policy p;
  p.network_mode = NetworkMode::kPod;
  auto items = unenforced_features(p);
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].key, "network.mode");
  EXPECT_THAT(items[0].message, HasSubstr("egress NOT ENFORCED"));
  NetworkPolicyRule rule;
  rule.key = "github_api";
  rule.endpoints.resize(2);
  rule.binaries = {"/usr/bin/git"};
  p.network_policies.push_back(rule);
  items = unenforced_features(p);
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[1].key, "network_policies.github_api");
  EXPECT_THAT(items[1].message, HasSubstr("2 endpoint(s) NOT enforced"));
  EXPECT_THAT(items[1].message, HasSubstr("full network access"));
  auto lines = format_unenforced(items);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_THAT(lines[1], ::testing::StartsWith("NOT ENFORCED network_policies.github_api: "));
  p.network_mode = NetworkMode::kNone;
  items = unenforced_features(p);
  ASSERT_EQ(items.size(), 1u);
  EXPECT_THAT(items[0].message, HasSubstr("no network at all"));
}

// Mode proxy: L4 endpoints are enforced and not listed; L7 settings are
// listed as enforced at L4 only, or as denied under `enforcement: enforce`.
TEST(Report, ProxyModeListsOnlyWhatL7WouldAdd) {
  Policy p;
  ASSERT_EQ(p.network_mode, NetworkMode::kProxy);
  EXPECT_TRUE(unenforced_features(p).empty());
  NetworkPolicyRule rule;
  rule.key = "k";
  rule.binaries = {"/usr/bin/git"};
  rule.endpoints.resize(4);
  for (auto& e : rule.endpoints) {
    e.host = "x.example.com";
    e.ports = {443};
  }
  rule.endpoints[1].protocol = "rest";  // audit (default)
  rule.endpoints[1].l7_rule_count = 1;
  rule.endpoints[2].protocol = "rest";
  rule.endpoints[2].enforcement = "enforce";
  rule.endpoints[2].access = "read-only";
  rule.endpoints[3].protocol = "rest";
  rule.endpoints[3].enforcement = "enforce";
  rule.endpoints[3].access = "full";
  p.network_policies.push_back(rule);
  auto items = unenforced_features(p);
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].key, "network_policies.k.endpoints[1]");
  EXPECT_THAT(items[0].message, HasSubstr("enforced at L4 only"));
  EXPECT_EQ(items[1].key, "network_policies.k.endpoints[2]");
  EXPECT_THAT(items[1].message, HasSubstr("DENIED"));
}

}  // namespace
}  // namespace openshell::policy
