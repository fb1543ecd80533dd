// compile(): the whole plan from a policy and the facts of a run.
#include "sandbox-policy/compile.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/resource.h>

#include "sandbox-policy/landlock_plan.h"
#include "sandbox-policy/load.h"
#include "sandbox-policy/report.h"
#include "test_util.h"

namespace openshell::policy {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;

const std::string kFixtures = POLICY_FIXTURES;

class Compile : public ::testing::Test {
 protected:
  void SetUp() override {
    root_.write("etc/passwd",
                "root:x:0:0:root:/root:/bin/bash\n"
                "sandbox:x:1000:1000::/sandbox:/bin/bash\n");
    root_.write("etc/group", "root:x:0:\nsandbox:x:1000:\nusers:x:100:sandbox\n");
    inputs_.image_root = root_.path();
    inputs_.workdir = "/sandbox";
    inputs_.supervisor_binary = "/opt/openshell/bin/openshell-supervisor";
    inputs_.path_probe = [](const std::string& path) {
      if (path == "/app" || path == "/etc/openshell" || path == "/run/openshell") {
        return PathKind::kMissing;
      }
      if (path == "/dev/null" || path == "/dev/urandom") return PathKind::kOther;
      if (path == "/opt/openshell/bin/openshell-supervisor") return PathKind::kFile;
      return PathKind::kDirectory;
    };
  }

  testing::TempRoot root_;
  CompileInputs inputs_;
};

TEST_F(Compile, DefaultPolicyGivesACompletePlan) {
  auto plan = compile(default_policy("/sandbox"), inputs_);
  ASSERT_TRUE(plan.has_value()) << plan.error().to_string();
  EXPECT_EQ(plan->identity.uid, 1000u);
  EXPECT_EQ(plan->identity.user_name, "sandbox");
  EXPECT_THAT(plan->identity.supplementary_gids, ::testing::ElementsAre(100u));
  EXPECT_EQ(plan->user_namespace.process_uid, 1000u);
  EXPECT_FALSE(plan->user_namespace.deny_setgroups);
  EXPECT_FALSE(plan->mount_plan.ops.empty());
  EXPECT_FALSE(plan->landlock.rules.empty());
  EXPECT_FALSE(plan->landlock.hard_requirement);
  EXPECT_FALSE(plan->seccomp.program.empty());
  EXPECT_EQ(plan->keep_capabilities, 0u);
  ASSERT_FALSE(plan->rlimits.empty());
  EXPECT_EQ(plan->rlimits[0].resource, RLIMIT_CORE);
  EXPECT_EQ(plan->network_mode, NetworkMode::kProxy);
  EXPECT_EQ(plan->workdir, "/sandbox");
  EXPECT_EQ(plan->environment.at("HOME"), "/sandbox");
  EXPECT_TRUE(plan->unenforced.empty());
  EXPECT_THAT(plan->notes, Contains(HasSubstr("'/app' does not exist")));
  for (const LandlockRule& r : plan->landlock.rules) {
    if (r.path == "/dev/null") {
      EXPECT_EQ(r.access, kLandlockFileAccess);
    }
  }
}

TEST_F(Compile, OpenShellPolicyReportsUnenforcedEgress) {
  auto policy = load_policy_file(kFixtures + "/openshell-default.yaml");
  ASSERT_TRUE(policy.has_value()) << policy.error().to_string();
  auto plan = compile(*policy, inputs_);
  ASSERT_TRUE(plan.has_value()) << plan.error().to_string();
  // Mode proxy: only the endpoint with L7 rules under `enforcement:
  // enforce` is reported, as denied; the L4 endpoints are enforced.
  ASSERT_EQ(plan->unenforced.size(), 1u);
  EXPECT_EQ(plan->unenforced[0].key, "network_policies.github_ssh_over_https.endpoints[0]");
  EXPECT_THAT(plan->unenforced[0].message, HasSubstr("DENIED"));
}

TEST_F(Compile, ExtendedPolicy) {
  auto policy = load_policy_file(kFixtures + "/extended.yaml");
  ASSERT_TRUE(policy.has_value()) << policy.error().to_string();
  auto plan = compile(*policy, inputs_);
  ASSERT_TRUE(plan.has_value()) << plan.error().to_string();
  EXPECT_EQ(plan->identity.uid, 1234u);
  EXPECT_EQ(plan->identity.gid, 2345u);
  EXPECT_TRUE(plan->user_namespace.root_in_sandbox);
  EXPECT_EQ(plan->user_namespace.uid_map[0].outside, 1234u);
  EXPECT_EQ(plan->keep_capabilities, 1ull << 10);
  EXPECT_TRUE(plan->landlock.hard_requirement);
  EXPECT_EQ(plan->network_mode, NetworkMode::kNone);
  EXPECT_EQ(plan->rlimits.size(), 5u);
  EXPECT_EQ(plan->environment.at("LANG"), "C.UTF-8");
}

TEST_F(Compile, EnvironmentIdentityOverride) {
  inputs_.env_sandbox_uid = "0";
  inputs_.env_sandbox_gid = "1000";
  auto plan = compile(default_policy("/sandbox"), inputs_);
  ASSERT_FALSE(plan.has_value());
  EXPECT_EQ(plan.error().key, "OPENSHELL_SANDBOX_UID");
}

TEST_F(Compile, UserEnvironmentIsMergedWithoutSupervisorVariables) {
  inputs_.user_environment = {{"API_KEY", "k"}, {"OPENSHELL_SSH_LISTEN", "x"}};
  auto plan = compile(default_policy("/sandbox"), inputs_);
  ASSERT_TRUE(plan.has_value()) << plan.error().to_string();
  EXPECT_EQ(plan->environment.at("API_KEY"), "k");
  EXPECT_FALSE(plan->environment.contains("OPENSHELL_SSH_LISTEN"));
}

TEST_F(Compile, BadWorkdirIsAnError) {
  inputs_.workdir = "sandbox";
  auto plan = compile(default_policy("/sandbox"), inputs_);
  ASSERT_FALSE(plan.has_value());
  EXPECT_EQ(plan.error().key, "workdir");
}

}  // namespace
}  // namespace openshell::policy

namespace openshell::policy {
namespace {

TEST(FindPolicy, FlagThenEnvironmentThenWellKnownPathThenDefault) {
  testing::TempRoot dir;
  dir.write("flag.yaml", "version: 1\nprocess: {run_as_user: flag}\n");
  dir.write("env.yaml", "version: 1\nprocess: {run_as_user: env}\n");
  dir.write("etc.yaml", "version: 1\nprocess: {run_as_user: etc}\n");
  PolicyLocation loc;
  loc.flag_path = dir.path() + "/flag.yaml";
  loc.env_path = dir.path() + "/env.yaml";
  loc.default_path = dir.path() + "/etc.yaml";
  auto r = find_and_load_policy(loc);
  ASSERT_TRUE(r.has_value()) << r.error().to_string();
  EXPECT_EQ(r->policy.process.run_as_user, "flag");
  EXPECT_EQ(r->origin, dir.path() + "/flag.yaml");

  loc.flag_path = "";  // empty counts as unset
  r = find_and_load_policy(loc);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->policy.process.run_as_user, "env");

  loc.env_path.reset();
  r = find_and_load_policy(loc);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->policy.process.run_as_user, "etc");

  loc.default_path = dir.path() + "/absent.yaml";
  loc.workdir = "/work";
  r = find_and_load_policy(loc);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->origin, "built-in default");
  EXPECT_TRUE(r->policy == default_policy("/work"));
}

TEST(FindPolicy, NamedFilesMustExistAndBeValid) {
  testing::TempRoot dir;
  PolicyLocation loc;
  loc.env_path = dir.path() + "/absent.yaml";
  loc.default_path = dir.path() + "/also-absent.yaml";
  auto r = find_and_load_policy(loc);
  ASSERT_FALSE(r.has_value());  // never falls back to the default silently
  EXPECT_EQ(r.error().file, dir.path() + "/absent.yaml");

  dir.write("bad.yaml", "version: 1\nfilesystem_policy:\n  read_write: [/]\n");
  loc.env_path.reset();
  loc.default_path = dir.path() + "/bad.yaml";
  r = find_and_load_policy(loc);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().line, 3);
}

TEST(DescribePlan, NamesEveryLayerAndHidesEnvironmentValues) {
  testing::TempRoot root;
  CompileInputs in;
  in.image_root = root.path();
  in.user_environment = {{"SECRET_TOKEN", "hunter2"}};
  Policy p = default_policy("/sandbox");
  NetworkPolicyRule rule;
  rule.key = "github";
  rule.name = "github";
  rule.endpoints.resize(2);
  rule.endpoints[0].host = "api.github.com";
  rule.endpoints[0].ports = {443};
  rule.endpoints[1].host = "github.com";
  rule.endpoints[1].ports = {443};
  rule.endpoints[1].protocol = "rest";
  rule.endpoints[1].enforcement = "enforce";
  rule.endpoints[1].access = "read-only";
  rule.binaries = {"/usr/bin/git"};
  p.network_policies.push_back(rule);
  auto plan = compile(p, in);
  ASSERT_TRUE(plan.has_value()) << plan.error().to_string();
  auto lines = describe_plan(*plan);
  std::string all;
  for (const auto& l : lines) all += l + "\n";
  for (const char* part :
       {"identity: uid 1000 gid 1000", "user namespace: uid_map 1000 1000 1",
        "mount: root-tmpfs /", "mount: mask /etc/openshell", "landlock: best_effort",
        "scopes abstract_unix_socket|signal", "landlock: /usr execute|read_file|read_dir",
        "seccomp: ptrace -> EPERM", "seccomp: clone3 -> ENOSYS", "capabilities: none kept",
        "rlimits: core=0", "network: proxy (own namespace",
        "network: proxy 127.0.0.1:3128 and [::1]:3128, DNS 127.0.0.1:53",
        "network: rule github: binaries /usr/bin/git",
        "network:   github.endpoints[0] api.github.com:443: enforced at L4\n",
        "network:   github.endpoints[1] github.com:443 protocol rest enforcement enforce access "
        "read-only: DENIED: requires L7 enforcement, not available",
        "SECRET_TOKEN", "NOT ENFORCED network_policies.github.endpoints[1]: "}) {
    EXPECT_THAT(all, HasSubstr(part));
  }
  EXPECT_THAT(all, ::testing::Not(HasSubstr("hunter2")));
}

}  // namespace
}  // namespace openshell::policy
