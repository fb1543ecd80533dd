// The validated sandbox policy: plain C++ values converted once from the
// proto schema (policy.proto). Mechanisms read this, never the proto.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace openshell::policy {

enum class LandlockCompatibility { kBestEffort, kHardRequirement };
// pod: the pod's network, egress NOT enforced. none: loopback only.
// proxy (default): loopback only, egress through the supervisor's proxy
// under network_policies.
enum class NetworkMode { kPod, kNone, kProxy };
std::string_view to_string(NetworkMode mode);  // "pod", "none", "proxy"

// One OpenShell egress endpoint (DESIGN.md §6 "Egress"; decided by
// network_decision.h).
struct NetworkEndpoint {
  std::string host;             // lower case, no trailing dot; empty: hostless (allowed_ips)
  std::vector<uint32_t> ports;  // effective ports: `ports` if set, else `port`; each 1-65535
  std::string protocol;         // empty or "tcp": L4 only; else an L7 protocol
  std::string tls;
  std::string enforcement;          // "enforce", "audit" or empty (audit)
  std::string access;               // L7 preset: read-only, read-write, full
  size_t l7_rule_count = 0;         // number of entries under `rules`
  size_t deny_rule_count = 0;       // number of entries under `deny_rules`
  bool l7_rules_allow_all = false;  // some rule is {allow: {method: "*", path: "**"}}
  std::string path;                 // L7 path scope
  std::vector<std::string>
      credential_options;                // L7/credential keys set (not built), for the report
  std::vector<std::string> allowed_ips;  // as written; valid CIDRs or addresses

  bool operator==(const NetworkEndpoint&) const = default;
};

struct NetworkPolicyRule {
  std::string key;   // map key under network_policies
  std::string name;  // the rule's own `name`
  std::vector<NetworkEndpoint> endpoints;
  std::vector<std::string> binaries;

  bool operator==(const NetworkPolicyRule&) const = default;
};

// A resource limit: soft and hard are set to the same value.
struct Rlimit {
  int resource = 0;    // RLIMIT_* from <sys/resource.h>
  std::string name;    // "nofile"
  uint64_t value = 0;  // unit of the resource; RLIM_INFINITY for unlimited

  bool operator==(const Rlimit&) const = default;
};

struct Policy {
  uint32_t version = 1;

  struct Filesystem {
    bool include_workdir = true;
    std::vector<std::string> read_only;   // absolute, normalised, no ".."
    std::vector<std::string> read_write;  // absolute, normalised, no "..", never "/"

    bool operator==(const Filesystem&) const = default;
  } filesystem;

  LandlockCompatibility landlock = LandlockCompatibility::kBestEffort;

  struct Process {
    std::string run_as_user;   // empty: default user (identity.h)
    std::string run_as_group;  // empty: the user's primary group

    bool operator==(const Process&) const = default;
  } process;

  std::vector<NetworkPolicyRule> network_policies;  // sorted by key

  bool root_in_sandbox = false;  // user_namespace.root_in_sandbox

  std::vector<int> unsafe_keep_caps;  // CAP_* numbers, sorted, unique

  struct Seccomp {
    std::vector<std::string> deny;          // syscall names known to libseccomp
    std::vector<std::string> unsafe_allow;  // names from the built-in deny list

    bool operator==(const Seccomp&) const = default;
  } seccomp;

  std::vector<Rlimit> limits;  // only the ones the policy sets; never RLIMIT_CORE

  NetworkMode network_mode = NetworkMode::kProxy;

  std::map<std::string, std::string> environment;

  bool operator==(const Policy&) const = default;
};

// OpenShell's restrictive default (DESIGN.md §5): read-only system paths,
// read-write /tmp, /dev/null and the workdir, best-effort Landlock, no egress
// rules, every extension at its safe default.
Policy default_policy(const std::string& workdir);

}  // namespace openshell::policy
