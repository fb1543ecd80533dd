#include "fs_tree.h"

#include <algorithm>
#include <map>

#include "validate.h"

namespace openshell::policy {
namespace {

// Where the supervisor keeps what the sandbox must never read: its binary's
// directory (image volume or emptyDir), its configuration and SSH keys, its
// runtime sockets, and the pod's Kubernetes service-account token, which
// would let the agent talk to the API server as the pod.
const std::vector<std::string> kSupervisorOnly = {
    "/etc/openshell",
    "/opt/openshell",
    "/run/openshell",
    "/run/secrets/kubernetes.io",
    "/var/run/secrets/kubernetes.io/serviceaccount",
};

bool is_hidden(const std::string& path) {
  return std::any_of(kSupervisorOnly.begin(), kSupervisorOnly.end(),
                     [&](const std::string& h) { return path_is_within(path, h); });
}

}  // namespace

const std::vector<std::string>& supervisor_only_paths() {
  return kSupervisorOnly;
}

bool path_is_within(const std::string& path, const std::string& ancestor) {
  if (ancestor == "/") return true;
  if (!path.starts_with(ancestor)) return false;
  return path.size() == ancestor.size() || path[ancestor.size()] == '/';
}

PolicyResult<FsTree> build_fs_tree(const Policy& policy, const CompileInputs& inputs,
                                   std::vector<std::string>& notes) {
  std::map<std::string, FsNode> nodes;
  auto add = [&](FsNode node) { nodes.emplace(node.path, std::move(node)); };

  auto probe = [&](const std::string& path) {
    return inputs.path_probe ? inputs.path_probe(path) : PathKind::kDirectory;
  };
  // A policy path the image lacks grants nothing, and one that is a symlink
  // would have its mount and Landlock rule land on the link's target: drop
  // both, say so.
  auto usable = [&](const std::string& path, const std::string& origin) {
    PathKind kind = probe(path);
    if (kind == PathKind::kMissing) {
      notes.push_back(origin + ": '" + path + "' does not exist in the image; skipped");
      return false;
    }
    if (kind == PathKind::kSymlink) {
      notes.push_back(origin + ": '" + path +
                      "' is a symlink; skipped (its target needs its own entry)");
      return false;
    }
    return true;
  };

  auto workdir = normalize_path("workdir", inputs.workdir);
  if (!workdir) return std::unexpected(workdir.error());
  if (*workdir == "/") return policy_error("workdir", "the workdir cannot be '/'");
  if (is_hidden(*workdir)) {
    return policy_error("workdir", "'" + *workdir + "' is inside a supervisor-only path");
  }
  if (policy.filesystem.include_workdir) {
    auto ro =
        std::find(policy.filesystem.read_only.begin(), policy.filesystem.read_only.end(), *workdir);
    if (ro != policy.filesystem.read_only.end()) {
      return policy_error("filesystem_policy.include_workdir",
                          "the workdir '" + *workdir +
                              "' is listed in filesystem_policy.read_only, but include_workdir "
                              "makes it read-write; remove one of the two");
    }
  }

  // Fresh /proc for the sandbox PID namespace: the image's /proc shows the
  // pod's processes, the supervisor among them (proc(5)). Always mounted,
  // always at least readable: almost every runtime reads /proc/self.
  bool proc_rw = std::find(policy.filesystem.read_write.begin(), policy.filesystem.read_write.end(),
                           "/proc") != policy.filesystem.read_write.end();
  add({"/proc", proc_rw ? FsAccess::kReadWrite : FsAccess::kReadOnly, FsSource::kProc,
       "fresh /proc"});
  // Writable /tmp, private to the sandbox, unless the policy insists on a
  // read-only /tmp from the image.
  bool tmp_ro = std::find(policy.filesystem.read_only.begin(), policy.filesystem.read_only.end(),
                          "/tmp") != policy.filesystem.read_only.end();
  if (tmp_ro) {
    add({"/tmp", FsAccess::kReadOnly, FsSource::kBind, "filesystem_policy.read_only"});
  } else {
    add({"/tmp", FsAccess::kReadWrite, FsSource::kTmpfs, "private /tmp"});
  }

  for (size_t i = 0; i < policy.filesystem.read_write.size(); ++i) {
    const std::string& path = policy.filesystem.read_write[i];
    std::string origin = "filesystem_policy.read_write[" + std::to_string(i) + "]";
    if (nodes.contains(path) || !usable(path, origin)) continue;
    add({path, FsAccess::kReadWrite, FsSource::kBind, origin});
  }
  if (policy.filesystem.include_workdir && !nodes.contains(*workdir) &&
      usable(*workdir, "workdir")) {
    add({*workdir, FsAccess::kReadWrite, FsSource::kBind, "workdir"});
  }
  for (size_t i = 0; i < policy.filesystem.read_only.size(); ++i) {
    const std::string& path = policy.filesystem.read_only[i];
    std::string origin = "filesystem_policy.read_only[" + std::to_string(i) + "]";
    if (nodes.contains(path) || !usable(path, origin)) continue;
    add({path, FsAccess::kReadOnly, FsSource::kBind, origin});
  }
  for (const std::string& path : kSupervisorOnly) {
    // Missing: nothing to hide. Present but a symlink (/var/run -> /run):
    // still masked, the mount follows the link to what it hides.
    if (probe(path) == PathKind::kMissing) continue;
    add({path, FsAccess::kMasked, FsSource::kTmpfs, "supervisor-only"});
  }
  if (!inputs.supervisor_binary.empty()) {
    auto binary = normalize_path("supervisor_binary", inputs.supervisor_binary);
    if (!binary) return std::unexpected(binary.error());
    // Kept executable so that `sftp-server` can run inside the sandbox.
    nodes.insert_or_assign(
        *binary, FsNode{*binary, FsAccess::kReadOnly, FsSource::kBind, "supervisor binary"});
  }

  // Below a fresh /proc or /tmp there is nothing to bind from outside: a
  // policy entry there only grants Landlock access inside the fresh mount.
  FsTree tree;
  for (auto& [path, node] : nodes) {
    // The supervisor binary stays a read-only bind even below a fresh
    // writable mount (a build tree under /tmp): the mount makes it
    // read-only whatever Landlock grants around it, and its mountpoint is
    // created in the fresh tmpfs (supervisor/mounts.cc).
    if (node.origin == "supervisor binary") {
      tree.nodes.push_back(std::move(node));
      continue;
    }
    for (const FsNode& parent : tree.nodes) {
      if (parent.source != FsSource::kBind && parent.access != FsAccess::kMasked &&
          path_is_within(path, parent.path)) {
        // The workdir must come from outside: inside a fresh mount it would
        // be an empty, missing directory.
        if (node.origin == "workdir") {
          return policy_error("workdir", "'" + path + "' is inside " + parent.path + " (" +
                                             parent.origin +
                                             "), which the sandbox gets fresh; "
                                             "choose a workdir outside it");
        }
        node.source = parent.source;
        // Landlock rules add up (a rule beneath a writable one cannot take
        // write access away, landlock(7)), and without a bind no mount can:
        // the entry would be silently writable.
        if (node.access == FsAccess::kReadOnly && parent.access == FsAccess::kReadWrite) {
          return policy_error(node.origin, "'" + path + "' cannot be read-only inside " +
                                               parent.path + " (" + parent.origin +
                                               "), which is a fresh writable mount");
        }
      }
    }
    tree.nodes.push_back(std::move(node));
  }
  return tree;
}

}  // namespace openshell::policy
