// The validated sandbox policy: plain C++ values converted once from the
// proto schema (policy.proto). Mechanisms read this, never the proto.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace openshell::policy {

enum class LandlockCompatibility { kBestEffort, kHardRequirement };
enum class NetworkMode { kPod, kNone };

// One OpenShell egress endpoint, carried as data (egress control is not
// enforced by this build; see report.h).
struct NetworkEndpoint {
  std::string host;
  std::vector<uint32_t> ports;  // `port` and `ports` merged, each 1-65535
  std::string protocol;         // empty: L4 only
  std::string tls;
  std::string enforcement;
  std::string access;
  size_t l7_rule_count = 0;  // number of entries under `rules`
  std::vector<std::string> allowed_ips;

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

  NetworkMode network_mode = NetworkMode::kPod;

  std::map<std::string, std::string> environment;

  bool operator==(const Policy&) const = default;
};

// OpenShell's restrictive default (DESIGN.md §5): read-only system paths,
// read-write /tmp, /dev/null and the workdir, best-effort Landlock, no egress
// rules, every extension at its safe default.
Policy default_policy(const std::string& workdir);

}  // namespace openshell::policy
