#include "mount_plan.h"

#include "fs_tree.h"

namespace openshell::policy {
namespace {

// What the container runtime hides or freezes in /proc (runc's and the OCI
// runtime spec's default maskedPaths and readonlyPaths): kernel memory and
// keys, timers that leak other tenants' activity, the sysrq trigger, and
// the kernel's tunables, which a fresh procfs shows writable to root.
constexpr const char* kProcMaskedFiles[] = {
    "/proc/kcore",       "/proc/keys",          "/proc/latency_stats", "/proc/sched_debug",
    "/proc/sysrq-trigger", "/proc/timer_list", "/proc/timer_stats",
};
constexpr const char* kProcMaskedDirs[] = {"/proc/acpi", "/proc/asound", "/proc/scsi"};
constexpr const char* kProcReadOnly[] = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys"};

}  // namespace

const char* mount_kind_name(MountKind kind) {
  switch (kind) {
    case MountKind::kRootTmpfs:
      return "root-tmpfs";
    case MountKind::kBindReadOnly:
      return "bind-ro";
    case MountKind::kBindReadWrite:
      return "bind-rw";
    case MountKind::kBindDevice:
      return "bind-device";
    case MountKind::kProc:
      return "proc";
    case MountKind::kProcReadOnly:
      return "proc-ro";
    case MountKind::kTmpfs:
      return "tmpfs";
    case MountKind::kDev:
      return "dev";
    case MountKind::kSymlink:
      return "symlink";
    case MountKind::kFile:
      return "file";
    case MountKind::kMask:
      return "mask";
    case MountKind::kMaskFile:
      return "mask-file";
  }
  return "?";
}

MountPlan build_mount_plan(const FsTree& tree) {
  MountPlan plan;
  // An empty root: what the tree does not name does not exist in the view,
  // whether Landlock is there or not.
  plan.ops.push_back({MountKind::kRootTmpfs, "", "/", 0755, {}, "empty root"});

  for (size_t i = 0; i < tree.nodes.size(); ++i) {
    const FsNode& node = tree.nodes[i];
    MountOp op;
    op.target = node.path;
    op.origin = node.origin;
    if (node.access == FsAccess::kMasked) {
      if (node.file) {
        op.kind = MountKind::kMaskFile;
      } else {
        op.kind = MountKind::kMask;
        op.mode = 0755;  // traversable, so a kept binary below stays reachable
        for (size_t j = i + 1; j < tree.nodes.size(); ++j) {
          if (path_is_within(tree.nodes[j].path, node.path) &&
              tree.nodes[j].source == FsSource::kBind) {
            op.create_inside.push_back(tree.nodes[j].path);
          }
        }
      }
      plan.ops.push_back(std::move(op));
      continue;
    }
    switch (node.source) {
      case FsSource::kBind:
        op.kind = node.access == FsAccess::kReadWrite ? MountKind::kBindReadWrite
                                                      : MountKind::kBindReadOnly;
        op.source = node.path;
        break;
      case FsSource::kDevice:
        op.kind = MountKind::kBindDevice;
        op.source = node.path;
        break;
      case FsSource::kSymlink:
        op.kind = MountKind::kSymlink;
        op.source = node.link;
        break;
      case FsSource::kFile:
        op.kind = MountKind::kFile;
        op.source = node.content;
        break;
      case FsSource::kProc:
        // Only the root of a fresh mount is mounted; entries below it
        // (e.g. /proc/self) exist in it already and get Landlock rules only.
        if (node.path != "/proc") continue;
        op.kind = MountKind::kProc;
        plan.ops.push_back(op);
        for (const char* path : kProcMaskedFiles) {
          plan.ops.push_back({MountKind::kMaskFile, "", path, 0, {}, "runtime /proc mask"});
        }
        for (const char* path : kProcMaskedDirs) {
          plan.ops.push_back({MountKind::kMask, "", path, 0555, {}, "runtime /proc mask"});
        }
        for (const char* path : kProcReadOnly) {
          plan.ops.push_back({MountKind::kProcReadOnly, "", path, 0, {}, "runtime /proc read-only"});
        }
        continue;
      case FsSource::kDev:
        if (node.path != "/dev") continue;
        op.kind = MountKind::kDev;
        break;
      case FsSource::kTmpfs:
        op.kind = MountKind::kTmpfs;
        op.mode = 01777;  // /tmp: sticky, world-writable (hier(7))
        break;
    }
    plan.ops.push_back(std::move(op));
  }
  return plan;
}

}  // namespace openshell::policy
