// Loading: OpenShell's files unchanged, YAML and JSON alike, and every
// error naming file, line, column and key.
#include "sandbox-policy/load.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "sandbox-policy/model.h"

namespace openshell::policy {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

const std::string kFixtures = POLICY_FIXTURES;

std::string read_fixture(const std::string& name) {
  std::ifstream in(kFixtures + "/" + name, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

PolicyError load_error(const std::string& text) {
  auto r = load_policy_text(text, "policy.yaml");
  EXPECT_FALSE(r.has_value()) << "policy unexpectedly loaded:\n" << text;
  return r ? PolicyError{} : r.error();
}

void expect_error_at(const std::string& text, int line, int column, const std::string& key,
                     const std::string& message_part) {
  PolicyError e = load_error(text);
  EXPECT_EQ(e.file, "policy.yaml");
  EXPECT_EQ(e.line, line) << e.to_string();
  EXPECT_EQ(e.column, column) << e.to_string();
  EXPECT_EQ(e.key, key) << e.to_string();
  EXPECT_THAT(e.message, HasSubstr(message_part)) << e.to_string();
}

TEST(LoadFixtures, OpenShellDefaultPolicyLoadsUnchanged) {
  auto p = load_policy_file(kFixtures + "/openshell-default.yaml");
  ASSERT_TRUE(p.has_value()) << p.error().to_string();
  EXPECT_EQ(p->version, 1u);
  EXPECT_TRUE(p->filesystem.include_workdir);
  EXPECT_THAT(p->filesystem.read_only,
              ElementsAre("/usr", "/lib", "/proc", "/dev/urandom", "/app", "/etc", "/var/log"));
  EXPECT_THAT(p->filesystem.read_write, ElementsAre("/sandbox", "/tmp", "/dev/null"));
  EXPECT_EQ(p->landlock, LandlockCompatibility::kBestEffort);
  EXPECT_EQ(p->process.run_as_user, "sandbox");
  EXPECT_EQ(p->process.run_as_group, "sandbox");
  ASSERT_EQ(p->network_policies.size(), 4u);
  // Sorted by key.
  EXPECT_EQ(p->network_policies[0].key, "claude_code");
  EXPECT_EQ(p->network_policies[1].key, "copilot");
  EXPECT_THAT(p->network_policies[1].binaries,
              ElementsAre("/usr/local/bin/copilot", "/usr/bin/node"));
  const NetworkPolicyRule& gh = p->network_policies[2];
  EXPECT_EQ(gh.name, "github-ssh-over-https");
  ASSERT_EQ(gh.endpoints.size(), 1u);
  EXPECT_EQ(gh.endpoints[0].host, "github.com");
  EXPECT_THAT(gh.endpoints[0].ports, ElementsAre(443u));
  EXPECT_EQ(gh.endpoints[0].protocol, "rest");
  EXPECT_EQ(gh.endpoints[0].enforcement, "enforce");
  EXPECT_EQ(gh.endpoints[0].l7_rule_count, 2u);
  // Extensions at their safe defaults.
  EXPECT_FALSE(p->root_in_sandbox);
  EXPECT_TRUE(p->unsafe_keep_caps.empty());
  EXPECT_TRUE(p->seccomp.deny.empty());
  EXPECT_TRUE(p->limits.empty());
  EXPECT_EQ(p->network_mode, NetworkMode::kProxy);
  EXPECT_TRUE(p->environment.empty());
}

TEST(LoadFixtures, OpenShellReadOnlyGithubPolicyLoadsUnchanged) {
  auto p = load_policy_file(kFixtures + "/openshell-readonly-github.yaml");
  ASSERT_TRUE(p.has_value()) << p.error().to_string();
  ASSERT_EQ(p->network_policies.size(), 1u);
  const auto& eps = p->network_policies[0].endpoints;
  ASSERT_EQ(eps.size(), 2u);
  EXPECT_EQ(eps[0].access, "read-only");
  // `ports` replaces `port: 443` (OpenShell ignores `port` then).
  EXPECT_THAT(eps[1].ports, ElementsAre(22u, 9418u));
  EXPECT_EQ(eps[1].tls, "terminate");
  EXPECT_THAT(eps[1].allowed_ips, ElementsAre("140.82.112.0/20"));
}

TEST(LoadFixtures, ExtensionsLoad) {
  auto p = load_policy_file(kFixtures + "/extended.yaml");
  ASSERT_TRUE(p.has_value()) << p.error().to_string();
  EXPECT_FALSE(p->filesystem.include_workdir);
  EXPECT_EQ(p->landlock, LandlockCompatibility::kHardRequirement);
  EXPECT_EQ(p->process.run_as_user, "1234");
  EXPECT_TRUE(p->root_in_sandbox);
  EXPECT_THAT(p->unsafe_keep_caps, ElementsAre(10));  // CAP_NET_BIND_SERVICE
  EXPECT_THAT(p->seccomp.deny, ElementsAre("kill", "chmod"));
  EXPECT_THAT(p->seccomp.unsafe_allow, ElementsAre("memfd_create"));
  ASSERT_EQ(p->limits.size(), 4u);
  EXPECT_EQ(p->limits[0], (Rlimit{RLIMIT_NOFILE, "nofile", 1024}));
  EXPECT_EQ(p->limits[2], (Rlimit{RLIMIT_AS, "as", RLIM_INFINITY}));
  EXPECT_EQ(p->network_mode, NetworkMode::kNone);
  EXPECT_EQ(p->environment.at("LANG"), "C.UTF-8");
  EXPECT_EQ(p->environment.at("LD_LIBRARY_PATH"), "/opt/lib");
}

TEST(LoadFixtures, JsonAndYamlGiveTheSameModel) {
  for (const char* name : {"extended", "openshell-default"}) {
    auto yaml = load_policy_file(kFixtures + "/" + name + ".yaml");
    auto json = load_policy_file(kFixtures + "/" + name + ".json");
    ASSERT_TRUE(yaml.has_value()) << yaml.error().to_string();
    ASSERT_TRUE(json.has_value()) << json.error().to_string();
    EXPECT_TRUE(*yaml == *json) << name;
  }
}

TEST(LoadFixtures, MissingFileIsAnErrorNamingIt) {
  auto p = load_policy_file(kFixtures + "/no-such-policy.yaml");
  ASSERT_FALSE(p.has_value());
  EXPECT_THAT(p.error().to_string(), HasSubstr("no-such-policy.yaml"));
}

TEST(LoadDefaults, MinimalPolicyTakesSafeDefaults) {
  auto p = load_policy_text("version: 1\n", "p.yaml");
  ASSERT_TRUE(p.has_value()) << p.error().to_string();
  EXPECT_TRUE(p->filesystem.include_workdir);
  EXPECT_TRUE(p->filesystem.read_only.empty());
  EXPECT_EQ(p->landlock, LandlockCompatibility::kBestEffort);
  EXPECT_EQ(p->network_mode, NetworkMode::kProxy);
  EXPECT_FALSE(p->root_in_sandbox);
}

TEST(LoadDefaults, NullValuesMeanAbsent) {
  auto p = load_policy_text("version: 1\nfilesystem_policy:\n  read_only:\nnetwork_policies:\n",
                            "p.yaml");
  ASSERT_TRUE(p.has_value()) << p.error().to_string();
  EXPECT_TRUE(p->filesystem.read_only.empty());
}

TEST(LoadDefaults, PathsAreNormalisedAndDeduplicated) {
  auto p = load_policy_text(
      "version: 1\nfilesystem_policy:\n  read_only: [/usr//lib/, /./etc, /usr/lib]\n", "p.yaml");
  ASSERT_TRUE(p.has_value()) << p.error().to_string();
  EXPECT_THAT(p->filesystem.read_only, ElementsAre("/usr/lib", "/etc"));
}

TEST(LoadErrors, ToStringFormat) {
  PolicyError e{"policy.yaml", 12, 5, "filesystem_policy.read_write[2]", "path must be absolute"};
  EXPECT_EQ(e.to_string(),
            "policy.yaml:12:5: filesystem_policy.read_write[2]: path must be absolute");
  EXPECT_EQ((PolicyError{"", 0, 0, "OPENSHELL_SANDBOX_UID", "bad"}).to_string(),
            "OPENSHELL_SANDBOX_UID: bad");
}

TEST(LoadErrors, UnknownKey) {
  expect_error_at("version: 1\nfilesystem_policy:\n  read_only: [/usr]\n  writable: [/x]\n", 4, 3,
                  "filesystem_policy.writable",
                  "unknown key (known keys: include_workdir, read_only, read_write)");
  expect_error_at("version: 1\nsandbox: true\n", 2, 1, "sandbox", "unknown key");
  expect_error_at(
      "version: 1\nnetwork_policies:\n  a:\n    endpoints:\n      - host: x\n"
      "        colour: red\n",
      6, 9, "network_policies.a.endpoints[0].colour", "unknown key");
}

TEST(LoadErrors, UnknownKeyLimitsCoreIsRefused) {
  expect_error_at("version: 1\nlimits:\n  core: 100\n", 3, 3, "limits.core", "unknown key");
}

TEST(LoadErrors, WrongType) {
  expect_error_at("version: 1\nfilesystem_policy:\n  read_only: /usr\n", 3, 14,
                  "filesystem_policy.read_only", "expected a list");
  expect_error_at("version: 1\nfilesystem_policy:\n  include_workdir: yes please\n", 3, 20,
                  "filesystem_policy.include_workdir", "expected true or false");
  // A quoted scalar is a string, never a boolean (nor a number, below).
  expect_error_at("version: 1\nfilesystem_policy:\n  include_workdir: \"true\"\n", 3, 20,
                  "filesystem_policy.include_workdir", "expected true or false");
  expect_error_at("version: 1\nprocess: [a, b]\n", 2, 10, "process", "expected a mapping");
  expect_error_at("version: \"1\"\n", 1, 10, "version", "expected an integer");
  expect_error_at("version: 1\nfilesystem_policy:\n  read_only:\n    - {a: b}\n", 4, 7,
                  "filesystem_policy.read_only[0]", "expected a scalar");
  expect_error_at("version: 1\nnetwork_policies:\n  a:\n    endpoints:\n      - port: https\n", 5,
                  15, "network_policies.a.endpoints[0].port", "expected an integer");
}

TEST(LoadErrors, RelativePath) {
  expect_error_at(
      "version: 1\nfilesystem_policy:\n  read_write:\n    - /tmp\n    - /dev/null\n"
      "    - sandbox\n",
      6, 7, "filesystem_policy.read_write[2]", "path must be absolute");
}

TEST(LoadErrors, DotDotComponent) {
  expect_error_at("version: 1\nfilesystem_policy:\n  read_only: [/usr, /usr/../root]\n", 3, 21,
                  "filesystem_policy.read_only[1]", "'..'");
}

TEST(LoadErrors, PathOver4096Bytes) {
  std::string longpath = "/" + std::string(4200, 'a');
  expect_error_at("version: 1\nfilesystem_policy:\n  read_only:\n    - " + longpath + "\n", 4, 7,
                  "filesystem_policy.read_only[0]", "at most 4095");
  // 4095 bytes is the longest that fits PATH_MAX with its NUL.
  auto ok = load_policy_text(
      "version: 1\nfilesystem_policy:\n  read_only:\n    - /" + std::string(4094, 'a') + "\n",
      "p.yaml");
  EXPECT_TRUE(ok.has_value());
}

TEST(LoadErrors, MoreThan256Paths) {
  std::string text = "version: 1\nfilesystem_policy:\n  read_only:\n";
  for (int i = 0; i < 200; ++i) text += "    - /ro" + std::to_string(i) + "\n";
  text += "  read_write:\n";
  for (int i = 0; i < 57; ++i) text += "    - /rw" + std::to_string(i) + "\n";
  // Path 257 is read_write[56], on line 3 + 200 + 1 + 57 = 261.
  expect_error_at(text, 261, 7, "filesystem_policy.read_write[56]", "more than 256 paths");
}

TEST(LoadErrors, RootAsReadWrite) {
  expect_error_at("version: 1\nfilesystem_policy:\n  read_write: [/tmp, /]\n", 3, 22,
                  "filesystem_policy.read_write[1]", "'/' cannot be read-write");
  expect_error_at("version: 1\nfilesystem_policy:\n  read_write: [//.]\n", 3, 16,
                  "filesystem_policy.read_write[0]", "'/' cannot be read-write");
}

TEST(LoadErrors, ReadOnlyAndReadWriteConflictNamesBothFields) {
  PolicyError e = load_error(
      "version: 1\nfilesystem_policy:\n  read_only: [/usr, /data]\n  read_write: [/data/]\n");
  EXPECT_EQ(e.key, "filesystem_policy.read_write[0]");
  EXPECT_EQ(e.line, 4);
  EXPECT_THAT(e.message, HasSubstr("filesystem_policy.read_only[1]"));
}

TEST(LoadErrors, ReadOnlyInsideAFreshWritableMountNamesBothFields) {
  expect_error_at(
      "version: 1\nfilesystem_policy:\n  read_only: [/proc/sys]\n"
      "  read_write: [/proc]\n",
      3, 15, "filesystem_policy.read_only[0]", "filesystem_policy.read_write[0]");
  // Below the private /tmp a read-only path is a read-only bind on top of it.
  EXPECT_TRUE(load_policy_text(
                  "version: 1\nfilesystem_policy:\n  read_only: [/usr, /tmp/keep]\n"
                  "  read_write: [/tmp]\n",
                  "p.yaml")
                  .has_value());
  // A read-only /tmp from the image may have read-only children.
  EXPECT_TRUE(
      load_policy_text("version: 1\nfilesystem_policy:\n  read_only: [/tmp, /tmp/a]\n", "p.yaml")
          .has_value());
}

TEST(LoadErrors, SupervisorOnlyPathCannotBeGranted) {
  expect_error_at("version: 1\nfilesystem_policy:\n  read_only: [/etc/openshell/ssh]\n", 3, 15,
                  "filesystem_policy.read_only[0]", "supervisor-only");
  expect_error_at(
      "version: 1\nfilesystem_policy:\n  read_only: "
      "[/var/run/secrets/kubernetes.io/serviceaccount]\n",
      3, 15, "filesystem_policy.read_only[0]", "supervisor-only");
}

TEST(LoadErrors, UidZeroAndOutOfRange) {
  expect_error_at("version: 1\nprocess:\n  run_as_user: 0\n", 3, 16, "process.run_as_user",
                  "id 0 (root)");
  expect_error_at("version: 1\nprocess:\n  run_as_user: sandbox\n  run_as_group: \"0\"\n", 4, 17,
                  "process.run_as_group", "id 0 (root)");
  expect_error_at("version: 1\nprocess:\n  run_as_user: 4294967295\n", 3, 16, "process.run_as_user",
                  "out of range");
  expect_error_at("version: 1\nprocess:\n  run_as_user: 99999999999999999999999\n", 3, 16,
                  "process.run_as_user", "out of range");
  expect_error_at("version: 1\nprocess:\n  run_as_group: 4294967295\n", 3, 17,
                  "process.run_as_group", "out of range");
  auto ok = load_policy_text("version: 1\nprocess:\n  run_as_user: 4294967294\n", "p.yaml");
  EXPECT_TRUE(ok.has_value());
}

TEST(LoadErrors, UnsupportedVersion) {
  expect_error_at("version: 2\n", 1, 10, "version", "unsupported version 2");
  expect_error_at("filesystem_policy: {}\n", 1, 1, "version", "missing");
  expect_error_at("", 0, 0, "", "empty policy");
}

TEST(LoadErrors, BadEnumValue) {
  expect_error_at("version: 1\nlandlock:\n  compatibility: strict\n", 3, 18,
                  "landlock.compatibility", "best_effort, hard_requirement");
  expect_error_at("version: 1\nnetwork:\n  mode: host\n", 3, 9, "network.mode", "pod, none");
  expect_error_at("version: 1\nnetwork:\n  mode: unspecified\n", 3, 9, "network.mode", "bad value");
}

TEST(LoadErrors, DuplicateKey) {
  expect_error_at("version: 1\nprocess:\n  run_as_user: a\n  run_as_user: b\n", 4, 3,
                  "process.run_as_user", "duplicate key");
}

TEST(LoadErrors, KeysAreScalarsAndMapValuesArePresent) {
  expect_error_at("version: 1\nprocess:\n  [a]: b\n", 3, 3, "process", "keys must be scalars");
  // A missing value is placed just after its key's colon, on the key's line.
  expect_error_at("version: 1\nenvironment:\n  HOME:\n", 3, 8, "environment.HOME",
                  "expected a scalar, found null");
}

TEST(LoadErrors, YamlSyntaxErrorHasPosition) {
  PolicyError e = load_error("version: 1\nfilesystem_policy:\n  read_only: [/usr\n");
  EXPECT_EQ(e.file, "policy.yaml");
  EXPECT_GT(e.line, 0);
  EXPECT_GT(e.column, 0);
}

TEST(LoadErrors, YamlSyntaxErrorNamesWhatWasBeingRead) {
  expect_error_at("version: 1\nfilesystem_policy:\n  read_only: [/usr\n", 4, 1, "",
                  "did not find expected ',' or ']' (while parsing a flow sequence at line 3, "
                  "column 14)");
}

TEST(LoadErrors, BadUtf8IsPlacedAtItsByte) {
  expect_error_at("version: 1\nenvironment: {A: \xff}\n", 2, 18, "", "invalid leading UTF-8 octet");
}

TEST(LoadErrors, AnAliasWithoutAnAnchorIsPlaced) {
  expect_error_at("version: 1\nenvironment: {A: *nope}\n", 2, 18, "",
                  "the alias *nope names no anchor before it");
}

// YAML's core schema: an untagged plain null, ~ or nothing is null; quoted,
// it is the string.
TEST(LoadSpellings, NullIsPlainAndUntagged) {
  expect_error_at("version: 1\nenvironment: {A: x, B: ~}\n", 2, 24, "environment.B",
                  "expected a scalar, found null");
  expect_error_at("version: 1\nenvironment: {A: NULL}\n", 2, 18, "environment.A",
                  "expected a scalar, found null");
  auto policy = load_policy_text(
      "version: 1\nenvironment:\n  A: \"null\"\n  B: '~'\n  C: !!str null\n  D: |\n    null\n",
      "p.yaml");
  ASSERT_TRUE(policy.has_value()) << policy.error().to_string();
  EXPECT_EQ(policy->environment, (std::map<std::string, std::string>{
                                     {"A", "null"}, {"B", "~"}, {"C", "null"}, {"D", "null\n"}}));
}

TEST(LoadErrors, JsonErrorsHavePositionsToo) {
  PolicyError e = load_error(
      "{\n  \"version\": 1,\n  \"filesystem_policy\": {\"read_only\": [\"/usr\", \"etc\"]}\n}\n");
  EXPECT_EQ(e.key, "filesystem_policy.read_only[1]");
  EXPECT_EQ(e.line, 3);
  EXPECT_EQ(e.column, 47);
  EXPECT_EQ(e.to_string(),
            "policy.yaml:3:47: filesystem_policy.read_only[1]: path must be absolute: 'etc'");
}

TEST(LoadErrors, ExtensionValues) {
  expect_error_at("version: 1\ncapabilities:\n  unsafe_keep: [CAP_NET_BIND_SERVICE, CAP_FLY]\n", 3,
                  39, "capabilities.unsafe_keep[1]", "unknown capability");
  expect_error_at("version: 1\nseccomp:\n  deny: [notasyscall]\n", 3, 10, "seccomp.deny[0]",
                  "unknown system call");
  expect_error_at("version: 1\nseccomp:\n  deny: [execve]\n", 3, 10, "seccomp.deny[0]", "execve");
  expect_error_at("version: 1\nseccomp:\n  unsafe_allow: [read]\n", 3, 18,
                  "seccomp.unsafe_allow[0]", "not in the built-in deny list");
  expect_error_at("version: 1\nseccomp:\n  deny: [ptrace]\n  unsafe_allow: [ptrace]\n", 4, 18,
                  "seccomp.unsafe_allow[0]", "seccomp.deny[0]");
  expect_error_at("version: 1\nlimits:\n  nofile: lots\n", 3, 11, "limits.nofile",
                  "decimal number or 'unlimited'");
  expect_error_at("version: 1\nenvironment:\n  OPENSHELL_SANDBOX_UID: \"5\"\n", 3, 26,
                  "environment.OPENSHELL_SANDBOX_UID", "OPENSHELL_");
  expect_error_at("version: 1\nenvironment:\n  \"BAD-NAME\": x\n", 3, 15, "environment.BAD-NAME",
                  "not a valid variable name");
  expect_error_at(
      "version: 1\nnetwork_policies:\n  a:\n    endpoints:\n      - {host: x, port: 70000}\n", 5,
      25, "network_policies.a.endpoints[0].port", "[1, 65535]");
  expect_error_at("version: 1\nnetwork_policies:\n  a:\n    endpoints:\n      - {port: 443}\n", 5,
                  9, "network_policies.a.endpoints[0].host", "missing");
  expect_error_at("version: 1\nuser_namespace:\n  root_in_sandbox: 1\n", 3, 20,
                  "user_namespace.root_in_sandbox", "expected true or false");
}

TEST(LoadErrors, OversizeText) {
  std::string text = "version: 1\n# " + std::string(kMaxPolicyFileBytes, 'x') + "\n";
  PolicyError e = load_error(text);
  EXPECT_THAT(e.message, HasSubstr("larger than"));
}

TEST(DefaultPolicy, IsOpenShellsRestrictiveDefault) {
  Policy p = default_policy("/sandbox");
  EXPECT_THAT(p.filesystem.read_only,
              ::testing::IsSupersetOf(
                  {"/usr", "/lib", "/proc", "/dev/urandom", "/app", "/etc", "/var/log"}));
  EXPECT_THAT(p.filesystem.read_write, ElementsAre("/tmp", "/dev/null", "/sandbox"));
  EXPECT_TRUE(p.filesystem.include_workdir);
  EXPECT_EQ(p.landlock, LandlockCompatibility::kBestEffort);
  EXPECT_TRUE(p.network_policies.empty());
  EXPECT_EQ(p.network_mode, NetworkMode::kProxy);
  EXPECT_FALSE(p.root_in_sandbox);
  EXPECT_TRUE(p.unsafe_keep_caps.empty());
}

}  // namespace
}  // namespace openshell::policy

namespace openshell::policy {
namespace {

TEST(LoadHostile, AliasExpansionIsBounded) {
  // Nine levels of ten aliases: 10^9 values if walked naively.
  std::string text =
      "version: 1\nnetwork_policies:\n  a:\n    endpoints:\n      - host: x\n        rules:\n"
      "          - &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 9; ++i) {
    std::string prev = "*a" + std::to_string(i - 1);
    text += "          - &a" + std::to_string(i) + " [";
    for (int j = 0; j < 10; ++j) text += (j ? ", " : "") + prev;
    text += "]\n";
  }
  PolicyError e = load_error(text);
  EXPECT_THAT(e.message, HasSubstr("more than 100000 values"));
}

TEST(LoadHostile, DeepNestingIsAnErrorNotACrash) {
  PolicyError e = load_error(std::string(100000, '['));
  EXPECT_EQ(e.file, "policy.yaml");
  PolicyError e2 = load_error(
      "version: 1\nnetwork_policies:\n  a:\n    endpoints:\n      - host: x\n        rules: " +
      std::string(40, '[') + std::string(40, ']') + "\n");
  EXPECT_THAT(e2.message, HasSubstr("nested too deeply"));
}

// An alias is its anchor's node, shared: the value repeats, and an alias
// inside the node it names is a cycle the walk's depth bound stops.
TEST(LoadSpellings, AnAliasRepeatsItsAnchorsValue) {
  auto policy = load_policy_text("version: 1\nenvironment: {A: &v x, B: *v}\n", "p.yaml");
  ASSERT_TRUE(policy.has_value()) << policy.error().to_string();
  EXPECT_EQ(policy->environment, (std::map<std::string, std::string>{{"A", "x"}, {"B", "x"}}));
}

TEST(LoadHostile, AnAliasInsideItsOwnAnchorIsAnErrorNotACrash) {
  PolicyError e = load_error(
      "version: 1\nnetwork_policies:\n  a:\n    endpoints:\n      - host: x\n"
      "        rules: &r [*r]\n");
  EXPECT_THAT(e.message, HasSubstr("nested too deeply"));
}

TEST(LoadHostile, SecondDocumentIsRefused) {
  PolicyError e = load_error("version: 1\n---\nversion: 2\n");
  EXPECT_THAT(e.message, HasSubstr("more than one YAML document"));
  EXPECT_EQ(e.line, 3);
}

// Text after a closed flow collection is neither a second document nor
// part of the first (tests/fuzz/policy_fuzzer once found a parser that read
// it as an endless run of empty documents, memory growing).
TEST(LoadHostile, TextAfterAFlowCollectionEndsInAnError) {
  for (const char* text : {"{a},", "{\"version\": 1},\n\"x\": 1}\n", "[1],"}) {
    PolicyError e = load_error(text);
    EXPECT_THAT(e.message, HasSubstr("did not find expected <document start>")) << text;
    EXPECT_EQ(e.line, 1) << text;
  }
}

TEST(LoadHostile, NonRegularFileIsRefused) {
  auto p = load_policy_file("/dev/null");
  ASSERT_FALSE(p.has_value());
  EXPECT_THAT(p.error().message, HasSubstr("not a regular file"));
}

TEST(LoadSpellings, JsonWithTabsAndYamlWithCrlfAndBom) {
  EXPECT_TRUE(load_policy_text(
                  "{\n\t\"version\": 1,\n\t\"filesystem_policy\": {\"read_only\": [\"/usr\"]}\n}\n",
                  "p.json")
                  .has_value());
  EXPECT_TRUE(load_policy_text("version: 1\r\nprocess:\r\n  run_as_user: sandbox\r\n", "p.yaml")
                  .has_value());
  EXPECT_TRUE(load_policy_text("\xEF\xBB\xBFversion: 1\n", "p.yaml").has_value());
}

}  // namespace
}  // namespace openshell::policy

namespace openshell::policy {
namespace {

TEST(LoadFixtures, ExamplePolicyWithEveryKeyLoads) {
  auto p = load_policy_file(std::string(POLICY_FIXTURES) +
                            "/../../../sandbox-policy/example-policy.yaml");
  ASSERT_TRUE(p.has_value()) << p.error().to_string();
  EXPECT_EQ(p->network_policies.size(), 1u);
  EXPECT_EQ(p->limits.size(), 1u);
  EXPECT_EQ(p->environment.at("LANG"), "C.UTF-8");
}

}  // namespace
}  // namespace openshell::policy

namespace openshell::policy {
namespace {

// Mangled policies never crash the loader and always come back either as a
// valid model or as an error naming the file.
TEST(LoadHostile, MangledFixturesFailCleanly) {
  std::string base;
  {
    auto text = read_fixture("openshell-default.yaml");
    base = text;
  }
  ASSERT_FALSE(base.empty());
  uint32_t seed = 12345;
  auto next = [&] {
    seed = seed * 1103515245u + 12345u;
    return seed >> 8;
  };
  const char kBytes[] = "[]{}:,-&*!|>'\"#\n\t ?%@`\\/.0a";
  for (int round = 0; round < 3000; ++round) {
    // Edited as a vector: GCC 12 warns falsely (-Wrestrict) on std::string
    // insert/erase here.
    std::vector<char> bytes(base.begin(), base.end());
    int edits = 1 + next() % 4;
    for (int e = 0; e < edits && !bytes.empty(); ++e) {
      size_t pos = next() % bytes.size();
      char c = kBytes[next() % (sizeof kBytes - 1)];
      switch (next() % 3) {
        case 0:
          bytes.erase(bytes.begin() + pos,
                      bytes.begin() + std::min(bytes.size(), pos + 1 + next() % 8));
          break;
        case 1:
          bytes.insert(bytes.begin() + pos, c);
          break;
        default:
          bytes[pos] = c;
      }
    }
    std::string text(bytes.begin(), bytes.end());
    auto r = load_policy_text(text, "mangled.yaml");
    if (!r) {
      EXPECT_EQ(r.error().file, "mangled.yaml") << text;
    }
  }
}

}  // namespace
}  // namespace openshell::policy
