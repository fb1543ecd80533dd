#include "report.h"

#include <sys/resource.h>

#include "capabilities.h"
#include "landlock_plan.h"
#include "mount_plan.h"
#include "network_report.h"

namespace openshell::policy {

std::vector<Unenforced> unenforced_features(const Policy& policy) {
  return network_unenforced(policy.network_mode, policy.network_policies);
}

std::vector<std::string> format_unenforced(const std::vector<Unenforced>& items) {
  std::vector<std::string> lines;
  for (const Unenforced& u : items) lines.push_back("NOT ENFORCED " + u.key + ": " + u.message);
  return lines;
}

namespace {

// Appends `item` to `out`, separated by `sep` when `out` is not empty.
void append(std::string& out, const char* sep, const std::string& item) {
  if (!out.empty()) out += sep;
  out += item;
}

std::string join_ids(const std::vector<uint32_t>& ids) {
  std::string out;
  for (uint32_t id : ids) append(out, ",", std::to_string(id));
  return out.empty() ? "none" : out;
}

std::string map_text(const std::vector<IdMapping>& map) {
  std::string out;
  for (const IdMapping& m : map) {
    append(
        out, "; ",
        std::to_string(m.inside) + " " + std::to_string(m.outside) + " " + std::to_string(m.count));
  }
  return out;
}

std::string scope_names(uint64_t scoped) {
  std::string out;
  if (scoped & kLandlockScopeAbstractUnixSocket) append(out, "|", "abstract_unix_socket");
  if (scoped & kLandlockScopeSignal) append(out, "|", "signal");
  return out.empty() ? "none" : out;
}

}  // namespace

std::vector<std::string> describe_plan(const SandboxPlan& plan) {
  std::vector<std::string> lines;
  const Identity& id = plan.identity;
  lines.push_back("identity: uid " + std::to_string(id.uid) + " gid " + std::to_string(id.gid) +
                  (id.user_name.empty() ? "" : " (" + id.user_name + ")") + ", groups " +
                  join_ids(id.supplementary_gids) + ", home " + id.home + ", shell " + id.shell);
  const UserNamespacePlan& u = plan.user_namespace;
  lines.push_back("user namespace: uid_map " + map_text(u.uid_map) + "; gid_map " +
                  map_text(u.gid_map) + "; setgroups " + (u.deny_setgroups ? "deny" : "allow") +
                  "; processes run as " + std::to_string(u.process_uid) + ":" +
                  std::to_string(u.process_gid) + " inside, init as " + std::to_string(u.init_uid) +
                  ":" + std::to_string(u.init_gid) +
                  (u.root_in_sandbox ? " (root_in_sandbox)" : ""));
  for (const MountOp& op : plan.mount_plan.ops) {
    lines.push_back(std::string("mount: ") + mount_kind_name(op.kind) + " " + op.target + " (" +
                    op.origin + ")");
  }
  const LandlockPlan& l = plan.landlock;
  lines.push_back(std::string("landlock: ") +
                  (l.hard_requirement ? "hard_requirement" : "best_effort") + ", handled " +
                  landlock_fs_access_names(l.handled_access_fs) + ", network " +
                  (l.handled_access_net ? "restricted" : "not restricted") + ", scopes " +
                  scope_names(l.scoped));
  for (const LandlockRule& r : l.rules) {
    lines.push_back("landlock: " + r.path + " " + landlock_fs_access_names(r.access) + " (" +
                    r.origin + ")");
  }
  lines.push_back("seccomp: " + std::to_string(plan.seccomp.program.size()) +
                  " BPF instructions, default allow");
  for (const SeccompEntry& e : plan.seccomp.entries) {
    lines.push_back("seccomp: " + e.syscall + " -> " + e.action +
                    (e.condition.empty() ? "" : " if " + e.condition));
  }
  std::string caps;
  for (int cap = 0; cap < 64; ++cap) {
    if (plan.keep_capabilities & (1ull << cap)) append(caps, ",", capability_name(cap));
  }
  lines.push_back("capabilities: " +
                  (caps.empty() ? std::string("none kept") : "KEPT (unsafe_keep): " + caps));
  std::string limits;
  for (const RlimitPlan& r : plan.rlimits) {
    append(limits, " ",
           r.name + "=" +
               (r.soft == RLIM_INFINITY ? std::string("unlimited") : std::to_string(r.soft)));
  }
  lines.push_back("rlimits: " + limits);
  for (std::string& line : describe_network(plan.network_mode, plan.network_policies)) {
    lines.push_back(std::move(line));
  }
  std::string names;
  for (const auto& [k, v] : plan.environment) append(names, " ", k);
  lines.push_back("environment: " + names);
  lines.push_back("workdir: " + plan.workdir);
  for (const std::string& line : format_unenforced(plan.unenforced)) lines.push_back(line);
  for (const std::string& note : plan.notes) lines.push_back("note: " + note);
  return lines;
}

}  // namespace openshell::policy
