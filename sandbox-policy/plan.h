// SandboxPlan: everything the supervisor needs to build the sandbox and to
// start each process in it, compiled from a validated Policy. Plain data,
// computed before any fork (STYLE 7); nothing here touches the kernel.
//
// Ids in this file are numbers as the kernel sees them; "inside" means in the
// sandbox's user namespace, "outside" in the supervisor's.
#pragma once

#include <linux/filter.h>
#include <sys/resource.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "model.h"
#include "policy_error.h"

namespace openshell::policy {

// ---- identity (identity.h) -------------------------------------------------

// Who sandbox processes are, as resolved from the policy, the environment
// and the image's /etc/passwd and /etc/group. Ids are OUTSIDE ids.
struct Identity {
  uint32_t uid = 0;                          // in [1, 2^32-2], never 0
  uint32_t gid = 0;                          // in [1, 2^32-2], never 0
  std::vector<uint32_t> supplementary_gids;  // from /etc/group membership; sorted, unique, no 0
  std::string user_name;                     // "sandbox"; may be empty for a bare uid
  std::string home;                          // from passwd; the workdir when unknown
  std::string shell;                         // from passwd; "/bin/sh" when unknown
};

// ---- user namespace (user_namespace in the policy) -------------------------

// One line of /proc/<pid>/uid_map or gid_map: "inside outside count".
struct IdMapping {
  uint32_t inside = 0;
  uint32_t outside = 0;
  uint32_t count = 1;
};

struct UserNamespacePlan {
  // Written by the supervisor (outside, privileged) for the sandbox init.
  // Never contains a line mapping inside 0 to outside 0: a capability held
  // in the namespace applies to every inode whose owner is mapped into it
  // (user_namespaces(7), "Interaction of user namespaces and capabilities").
  std::vector<IdMapping> uid_map;
  std::vector<IdMapping> gid_map;
  // Write "deny" to /proc/<pid>/setgroups before gid_map. True unless the
  // identity has supplementary groups that must be set inside
  // (user_namespaces(7); the reason for the file is CVE-2014-8989).
  bool deny_setgroups = true;
  // The credentials every sandbox process runs with, INSIDE the namespace.
  uint32_t process_uid = 0;
  uint32_t process_gid = 0;
  std::vector<uint32_t> process_groups;  // supplementary gids inside; empty when deny_setgroups
  // True when process_uid is 0 inside (policy user_namespace.root_in_sandbox).
  bool root_in_sandbox = false;
  // The ids the sandbox init switches to (setresgid, then setresuid, inside)
  // as soon as the maps are written. Until then it still carries the
  // supervisor's outside uid 0, which owns the image's files whatever the
  // namespace (credentials(7)); afterwards nothing in the namespace is root
  // outside. Keep capabilities in the namespace across the switch
  // (prctl(PR_SET_KEEPCAPS) or SECBIT_KEEP_CAPS) while mounts remain.
  // Supplementary groups are inherited into the namespace and stay
  // effective: clear them (setgroups(0, NULL)) in the supervisor before
  // creating the namespace, since a denied setgroups cannot clear them after.
  uint32_t init_uid = 0;
  uint32_t init_gid = 0;
};

// ---- filesystem: one tree feeds mounts and Landlock (fs_tree.h) -----------

enum class FsAccess {
  kReadOnly,   // read, execute, list
  kReadWrite,  // everything
  kMasked,     // supervisor-only: covered by an empty read-only tmpfs, no Landlock rule
};

enum class FsSource {
  kBind,   // bind of the same path from the outside view
  kProc,   // a fresh procfs for the sandbox PID namespace
  kTmpfs,  // a fresh tmpfs (writable /tmp, or an empty mask)
};

struct FsNode {
  std::string path;  // absolute, normalised, inside the sandbox view
  FsAccess access = FsAccess::kReadOnly;
  FsSource source = FsSource::kBind;
  std::string origin;  // what asked for it: "filesystem_policy.read_only[2]", "workdir", ...
};

// Sorted by path, so every ancestor precedes its descendants. One node per path.
struct FsTree {
  std::vector<FsNode> nodes;
};

// ---- mount plan (mount_plan.h) ---------------------------------------------

enum class MountKind {
  kBindRoot,       // recursive bind of the outside "/" at the new root, then read-only
  kBindReadOnly,   // recursive bind of `source` at `target`, then MS_RDONLY|MS_NOSUID remount
  kBindReadWrite,  // recursive bind of `source` at `target`, then MS_NOSUID remount
  kProc,           // fresh procfs at `target`, MS_NOSUID|MS_NODEV|MS_NOEXEC
  kTmpfs,          // fresh writable tmpfs at `target`, mode `mode`, MS_NOSUID|MS_NODEV
  kMask,           // empty tmpfs at `target`, mode `mode`; create `create_inside`; then
                   // remount read-only (MS_RDONLY|MS_NOSUID|MS_NODEV). A target that
                   // no longer exists is already hidden by an earlier mask (/var/run
                   // is usually a symlink to /run): skip it
};

struct MountOp {
  MountKind kind = MountKind::kBindReadOnly;
  std::string source;  // binds: path in the outside view (before pivot_root); else empty
  std::string target;  // path inside the sandbox view ("/" for kBindRoot)
  uint32_t mode = 0;   // kTmpfs / kMask: permission bits of the tmpfs root
  // kMask only: mountpoints for later binds below the mask (the supervisor
  // binary), as absolute paths inside the sandbox view. Create the missing
  // directories (0755) and the last component as an empty file when its
  // bind source is a file, a directory otherwise, BEFORE the read-only remount.
  std::vector<std::string> create_inside;
  std::string origin;  // FsNode::origin, for logs
};

// Applied in order inside the sandbox's mount namespace after making every
// mount private (MS_REC|MS_PRIVATE on "/"), then pivot_root into the result.
// Read-only must hold for submounts too: a recursive bind followed by a plain
// MS_REMOUNT|MS_RDONLY changes only the top mount, so apply it with
// mount_setattr(AT_RECURSIVE, MOUNT_ATTR_RDONLY) (mount_setattr(2), 5.12), or
// walk the submounts. Pod submounts (/etc/hosts, emptyDirs) would stay
// writable otherwise. Every bind and tmpfs gets MS_NOSUID.
// A target missing from the image: skip the op and log it (only when
// `path_probe` was not given to compile(); with a probe, missing paths are
// already removed and listed in SandboxPlan::notes).
struct MountPlan {
  std::vector<MountOp> ops;
};

// ---- Landlock (landlock_plan.h) --------------------------------------------

struct LandlockRule {
  std::string path;     // inside the sandbox view: open with O_PATH|O_CLOEXEC after pivot_root
  uint64_t access = 0;  // LANDLOCK_ACCESS_FS_* bits for a directory
  std::string origin;   // FsNode::origin
};

struct LandlockPlan {
  // Rights the ruleset handles (denied unless a rule grants them). Full
  // ABI 7 set as compiled; cut down per kernel by landlock_for_abi().
  uint64_t handled_access_fs = 0;   // LANDLOCK_ACCESS_FS_*
  uint64_t handled_access_net = 0;  // LANDLOCK_ACCESS_NET_* (ABI >= 4); 0: network not restricted
  uint64_t scoped = 0;              // LANDLOCK_SCOPE_* (ABI >= 6)
  std::vector<LandlockRule> rules;  // path-beneath rules; when the opened path is
                                    // not a directory, AND `access` with
                                    // kLandlockFileAccess (landlock_plan.h)
  bool hard_requirement = false;    // landlock.compatibility: hard_requirement
};

// ---- seccomp (seccomp_filter.h) --------------------------------------------

// One line of what the filter does, for `check` and startup logs.
struct SeccompEntry {
  std::string syscall;    // "socket"
  std::string action;     // "EPERM", "ENOSYS", "KILL_PROCESS"
  std::string condition;  // "" for always, else e.g. "a0 == AF_PACKET"
};

struct SeccompPlan {
  // The exported BPF program, ready for seccomp(SECCOMP_SET_MODE_FILTER) or
  // prctl(PR_SET_SECCOMP) with a sock_fprog{len = size(), filter = data()}.
  // Load last, after no_new_privs (seccomp(2)).
  std::vector<sock_filter> program;
  std::vector<SeccompEntry> entries;
  std::vector<std::string> notes;  // e.g. syscalls unknown on this architecture
};

// ---- the whole plan (compile.h) --------------------------------------------

struct RlimitPlan {
  int resource = 0;  // RLIMIT_*
  std::string name;  // "core", "nofile", ...
  rlim_t soft = 0;   // unit of the resource; RLIM_INFINITY for unlimited
  rlim_t hard = 0;
};

// Something the policy asks that this build does not enforce.
struct Unenforced {
  std::string key;      // "network_policies.github_api"
  std::string message;  // "egress control is not implemented; 2 endpoints NOT enforced"
};

struct SandboxPlan {
  Identity identity;
  UserNamespacePlan user_namespace;
  FsTree fs_tree;  // the source of mount_plan and landlock, for `check` output
  MountPlan mount_plan;
  LandlockPlan landlock;
  SeccompPlan seccomp;
  uint64_t keep_capabilities = 0;   // bit n = capability n kept; 0: every set emptied
  std::vector<RlimitPlan> rlimits;  // RLIMIT_CORE = 0 always first
  NetworkMode network_mode = NetworkMode::kProxy;
  // The egress rules, sorted by key (decided by network_decision.h in mode
  // proxy; not applied in modes pod and none).
  std::vector<NetworkPolicyRule> network_policies;
  // The environment every process starts from (HOME, USER, LOGNAME, SHELL,
  // PATH, policy `environment`, OPENSHELL_USER_ENVIRONMENT). A session adds
  // TERM and its accepted `env` requests with compose_environment().
  std::map<std::string, std::string> environment;
  std::string workdir;                 // absolute; the initial cwd of processes
  std::vector<Unenforced> unenforced;  // print loudly at startup and in `check`
  std::vector<std::string> notes;      // informational: skipped paths, defaults taken
};

// What compile() needs besides the policy: facts about this run.
enum class PathKind { kMissing, kDirectory, kFile, kSymlink, kOther };

struct CompileInputs {
  std::string workdir = "/sandbox";  // OPENSHELL_WORKDIR / --workdir; absolute
  std::string image_root = "/";      // where etc/passwd and etc/group are read
  // Absolute path of the supervisor binary as seen in the outside view; kept
  // visible (read-only, executable) under the /opt/openshell mask so that
  // `sftp-server` can run inside. Empty: nothing kept.
  std::string supervisor_binary;
  // OPENSHELL_SANDBOX_UID / OPENSHELL_SANDBOX_GID as found in the environment.
  std::optional<std::string> env_sandbox_uid;
  std::optional<std::string> env_sandbox_gid;
  // OPENSHELL_USER_ENVIRONMENT, already parsed from JSON.
  std::map<std::string, std::string> user_environment;
  // Classifies a path of the outside view (lstat). When set, policy paths
  // that are missing or symlinks are dropped with a note instead of failing
  // later, and file rules get file-only Landlock rights.
  std::function<PathKind(const std::string&)> path_probe;
};

}  // namespace openshell::policy
