#include "fs_tree.h"

#include <algorithm>
#include <map>

#include "validate.h"

namespace openshell::policy {
namespace {

// Where the supervisor keeps what the sandbox must never read: its binary's
// directory (image volume or emptyDir), its configuration and SSH keys, its
// runtime sockets; and the identity tokens the platform puts in the pod,
// which would let the agent act as the pod: the Kubernetes service-account
// token, EKS IRSA (AWS_WEB_IDENTITY_TOKEN_FILE under eks.amazonaws.com) and
// EKS Pod Identity, Azure workload identity (AZURE_FEDERATED_TOKEN_FILE,
// /var/run/secrets/azure/tokens/azure-identity-token), and the projected
// token directory GKE's workload identity federation guides use
// (/var/run/secrets/tokens). GKE's own Workload Identity is served by the
// metadata server, not a file: that is the egress layer's to refuse.
// /var/run is a symlink to /run in most images; both spellings are listed
// because a policy may grant either.
const std::vector<std::string> kSupervisorOnly = {
    "/etc/openshell",
    "/opt/openshell",
    "/run/openshell",
    "/run/secrets/azure",
    "/run/secrets/eks.amazonaws.com",
    "/run/secrets/kubernetes.io",
    "/run/secrets/pods.eks.amazonaws.com",
    "/run/secrets/tokens",
    "/var/run/secrets/azure",
    "/var/run/secrets/eks.amazonaws.com",
    "/var/run/secrets/kubernetes.io",
    "/var/run/secrets/pods.eks.amazonaws.com",
    "/var/run/secrets/tokens",
};

// The standard devices every container runtime gives (the OCI runtime
// spec's default devices), read and written by ordinary programs.
const char* const kStandardDevices[] = {"/dev/full", "/dev/null", "/dev/random",
                                        "/dev/tty",  "/dev/urandom", "/dev/zero"};

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

static std::string symlink_target(const std::string& link_path, const std::string& text) {
  if (text.starts_with("/")) return text;
  std::string dir = link_path.substr(0, link_path.rfind('/'));
  std::string joined = (dir.empty() ? "" : dir) + "/" + text;
  auto normal = normalize_path("symlink", joined);
  return normal ? *normal : std::string();
}

PolicyResult<FsTree> build_fs_tree(const Policy& policy, const CompileInputs& inputs,
                                   std::vector<std::string>& notes) {
  std::map<std::string, FsNode> nodes;
  auto add = [&](FsNode node) { nodes.emplace(node.path, std::move(node)); };

  auto probe = [&](const std::string& path) {
    return inputs.path_probe ? inputs.path_probe(path) : PathKind::kDirectory;
  };
  auto is_file = [&](const std::string& path) {
    PathKind kind = probe(path);
    return kind == PathKind::kFile || kind == PathKind::kOther;
  };
  // A policy path the image lacks grants nothing. One that is a symlink
  // would have its mount and Landlock rule land on the link's target: the
  // image's top-level links (/bin -> usr/bin) are copied into the view as
  // links, any other is dropped; say so.
  auto usable = [&](const std::string& path, const std::string& origin) {
    PathKind kind = probe(path);
    if (kind == PathKind::kMissing) {
      notes.push_back(origin + ": '" + path + "' does not exist in the image; skipped");
      return false;
    }
    if (kind == PathKind::kSymlink) {
      if (!inputs.image_symlinks.contains(path)) {
        notes.push_back(origin + ": '" + path +
                        "' is a symlink; skipped (its target needs its own entry)");
      }
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
  if (path_is_within(*workdir, "/proc") || path_is_within(*workdir, "/dev")) {
    return policy_error("workdir", "'" + *workdir + "' is inside " +
                                       (path_is_within(*workdir, "/proc") ? "/proc" : "/dev") +
                                       ", which the sandbox gets fresh; choose a workdir outside it");
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
  // The standard /dev, whatever the policy: programs write to /dev/null and
  // read /dev/zero without thinking of it. Listable, not writable; the
  // devices, the ptys and /dev/shm are.
  add({"/dev", FsAccess::kReadOnly, FsSource::kDev, "standard /dev"});
  for (const char* device : kStandardDevices) {
    add({device, FsAccess::kReadWrite, FsSource::kDev, "standard /dev", /*file=*/true});
  }
  add({"/dev/pts", FsAccess::kReadWrite, FsSource::kDev, "standard /dev"});
  add({"/dev/shm", FsAccess::kReadWrite, FsSource::kDev, "standard /dev"});
  for (std::string list : {"read_only", "read_write"}) {
    const auto& paths =
        list == "read_only" ? policy.filesystem.read_only : policy.filesystem.read_write;
    if (std::find(paths.begin(), paths.end(), "/dev") != paths.end()) {
      notes.push_back("filesystem_policy." + list +
                      ": '/dev' is always the sandbox's standard /dev; name other devices one by "
                      "one");
    }
  }
  // GPUs and other pass-through devices the container was given.
  for (const std::string& device : inputs.devices) {
    nodes.insert_or_assign(device, FsNode{device, FsAccess::kReadWrite, FsSource::kDevice,
                                          "device pass-through", /*file=*/true});
  }
  if (!inputs.devices.empty() && probe("/run/nvidia-persistenced") != PathKind::kMissing) {
    add({"/run/nvidia-persistenced", FsAccess::kReadOnly, FsSource::kBind, "device pass-through"});
  }
  // CUDA names its threads by writing /proc/self/task/<tid>/comm (glibc's
  // pthread_setname_np for another thread), which Landlock refuses in a
  // read-only /proc; OpenShell makes all of /proc writable for it. The
  // thread's directory does not exist when the rules are made, so the grant
  // is on /proc, and only with devices passed through: writing to files that
  // exist, nothing created, removed or truncated. The runtime's masks and
  // the read-only /proc/sys, bus, fs and irq mounts stay; the kernel's own
  // checks (a process's files are its owner's; no capabilities) do the rest.
  if (!inputs.devices.empty() && !proc_rw) {
    FsNode& proc = nodes.at("/proc");
    proc.access = FsAccess::kReadOnlyWriteFiles;
    proc.origin = "fresh /proc, files writable for GPU thread names";
  }
  // Writable /tmp, private to the sandbox, unless the policy insists on a
  // read-only /tmp from the image. Paths below it are bound on top.
  bool tmp_ro = std::find(policy.filesystem.read_only.begin(), policy.filesystem.read_only.end(),
                          "/tmp") != policy.filesystem.read_only.end();
  if (tmp_ro) {
    add({"/tmp", FsAccess::kReadOnly, FsSource::kBind, "filesystem_policy.read_only"});
  } else {
    add({"/tmp", FsAccess::kReadWrite, FsSource::kTmpfs, "private /tmp"});
  }

  std::vector<std::pair<std::string, std::string>> symlinks;  // policy paths that are links
  auto take = [&](const std::string& path, FsAccess access, const std::string& origin) {
    if (nodes.contains(path)) return;
    if (!usable(path, origin)) {
      if (auto it = inputs.image_symlinks.find(path); it != inputs.image_symlinks.end()) {
        symlinks.emplace_back(path, it->second);
      }
      return;
    }
    add({path, access, FsSource::kBind, origin, is_file(path)});
  };
  for (size_t i = 0; i < policy.filesystem.read_write.size(); ++i) {
    take(policy.filesystem.read_write[i], FsAccess::kReadWrite,
         "filesystem_policy.read_write[" + std::to_string(i) + "]");
  }
  if (policy.filesystem.include_workdir) take(*workdir, FsAccess::kReadWrite, "workdir");
  for (size_t i = 0; i < policy.filesystem.read_only.size(); ++i) {
    take(policy.filesystem.read_only[i], FsAccess::kReadOnly,
         "filesystem_policy.read_only[" + std::to_string(i) + "]");
  }

  // The image's top-level symlinks whose target the view holds: /bin ->
  // usr/bin, /lib64 -> usr/lib64 on merged-/usr images, where scripts still
  // name /bin/sh and binaries the loader /lib64/ld-linux-x86-64.so.2.
  for (const auto& [path, text] : inputs.image_symlinks) {
    if (nodes.contains(path)) continue;
    std::string target = symlink_target(path, text);
    bool granted = std::any_of(nodes.begin(), nodes.end(), [&](const auto& entry) {
      const FsNode& n = entry.second;
      return n.access != FsAccess::kMasked && n.source == FsSource::kBind &&
             path_is_within(target, n.path);
    });
    if (granted) {
      FsNode link{path, FsAccess::kReadOnly, FsSource::kSymlink, "image symlink"};
      link.link = text;
      add(std::move(link));
    } else if (std::any_of(symlinks.begin(), symlinks.end(),
                           [&](const auto& s) { return s.first == path; })) {
      notes.push_back("'" + path + "' is a symlink to '" + text +
                      "', which the policy does not grant; skipped");
    }
  }

  // Network mode proxy: names are resolved by the supervisor's DNS in the
  // sandbox's network namespace (DESIGN.md §6, Egress), whatever /etc the
  // policy grants. /etc/hosts holds only localhost: the pod's (kubelet's)
  // maps the pod's name to an address that does not exist in the
  // sandbox's namespace, and its hostAliases would hand a client an address
  // that bypasses the name-based decision. Both read-only.
  if (policy.network_mode == NetworkMode::kProxy) {
    FsNode resolv{"/etc/resolv.conf", FsAccess::kReadOnly, FsSource::kFile, "network proxy",
                  /*file=*/true};
    resolv.content = "# generated by openshell-supervisor: the sandbox's DNS (network mode proxy)\n"
                     "nameserver 127.0.0.1\n";
    nodes.insert_or_assign(resolv.path, resolv);
    FsNode hosts{"/etc/hosts", FsAccess::kReadOnly, FsSource::kFile, "network proxy",
                 /*file=*/true};
    hosts.content = "# generated by openshell-supervisor (network mode proxy)\n"
                    "127.0.0.1\tlocalhost\n"
                    "::1\tlocalhost ip6-localhost ip6-loopback\n";
    nodes.insert_or_assign(hosts.path, hosts);
  }

  // Masks last, and over any grant: a policy that grants /var or /etc
  // still never shows a token or a key.
  for (const std::string& path : kSupervisorOnly) {
    // Missing: nothing to hide. Present but a symlink (/var/run -> /run):
    // still masked, the mount follows the link to what it hides.
    if (probe(path) == PathKind::kMissing) continue;
    nodes.insert_or_assign(path, FsNode{path, FsAccess::kMasked, FsSource::kTmpfs,
                                        "supervisor-only", is_file(path)});
  }
  for (const std::string& file : inputs.masked_files) {
    auto path = normalize_path("masked file", file);
    if (!path || *path == "/" || probe(*path) == PathKind::kMissing) continue;
    nodes.insert_or_assign(*path, FsNode{*path, FsAccess::kMasked, FsSource::kTmpfs,
                                         "supervisor-only", is_file(*path)});
  }
  if (!inputs.supervisor_binary.empty()) {
    auto binary = normalize_path("supervisor_binary", inputs.supervisor_binary);
    if (!binary) return std::unexpected(binary.error());
    // Kept executable so that `sftp-server` can run inside the sandbox.
    nodes.insert_or_assign(*binary, FsNode{*binary, FsAccess::kReadOnly, FsSource::kBind,
                                           "supervisor binary", /*file=*/true});
  }

  // Below a fresh /proc there is nothing to bind from outside: a policy
  // entry there only grants Landlock access inside the fresh mount. Below
  // /dev a policy entry is a device bound in; below /tmp, a bind on top.
  FsTree tree;
  for (auto& [path, node] : nodes) {
    if (node.origin == "supervisor binary" || node.access == FsAccess::kMasked) {
      tree.nodes.push_back(std::move(node));
      continue;
    }
    for (const FsNode& parent : tree.nodes) {
      if (parent.access == FsAccess::kMasked || !path_is_within(path, parent.path) ||
          parent.path == path) {
        continue;
      }
      if (parent.source == FsSource::kDev && node.source == FsSource::kBind) {
        node.source = FsSource::kDevice;
        node.file = true;
      } else if (parent.source == FsSource::kProc) {
        node.source = FsSource::kProc;
        // Landlock rules add up (a rule beneath a writable one cannot take
        // write access away, landlock(7)), and without a bind no mount can:
        // the entry would be silently writable.
        if (node.access == FsAccess::kReadOnly && parent.access == FsAccess::kReadWrite) {
          return policy_error(node.origin, "'" + path + "' cannot be read-only inside " +
                                               parent.path + " (" + parent.origin +
                                               "), which is a fresh writable mount");
        }
        if (node.access == FsAccess::kReadOnly &&
            parent.access == FsAccess::kReadOnlyWriteFiles) {
          return policy_error(node.origin, "'" + path + "' cannot be read-only inside " +
                                               parent.path + " (" + parent.origin +
                                               "): its files are writable");
        }
      }
    }
    tree.nodes.push_back(std::move(node));
  }
  return tree;
}

}  // namespace openshell::policy
