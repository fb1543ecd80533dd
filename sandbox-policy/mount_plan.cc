#include "mount_plan.h"

#include "fs_tree.h"

namespace openshell::policy {

const char* mount_kind_name(MountKind kind) {
  switch (kind) {
    case MountKind::kBindRoot:
      return "bind-root-ro";
    case MountKind::kBindReadOnly:
      return "bind-ro";
    case MountKind::kBindReadWrite:
      return "bind-rw";
    case MountKind::kProc:
      return "proc";
    case MountKind::kTmpfs:
      return "tmpfs";
    case MountKind::kMask:
      return "mask";
  }
  return "?";
}

MountPlan build_mount_plan(const FsTree& tree) {
  MountPlan plan;
  // The image, read-only, as the base of the view: whatever the policy does
  // not make writable stays unwritable even where Landlock is unavailable.
  plan.ops.push_back({MountKind::kBindRoot, "/", "/", 0, {}, "image root"});

  for (size_t i = 0; i < tree.nodes.size(); ++i) {
    const FsNode& node = tree.nodes[i];
    MountOp op;
    op.target = node.path;
    op.origin = node.origin;
    switch (node.source) {
      case FsSource::kBind:
        op.kind = node.access == FsAccess::kReadWrite ? MountKind::kBindReadWrite
                                                      : MountKind::kBindReadOnly;
        op.source = node.path;
        break;
      case FsSource::kProc:
      case FsSource::kTmpfs: {
        // Only the root of a fresh mount is mounted; entries below it
        // (e.g. /proc/self) exist in it already and get Landlock rules only.
        bool nested = false;
        for (size_t j = 0; j < i; ++j) {
          const FsNode& parent = tree.nodes[j];
          if (parent.source == node.source && parent.access != FsAccess::kMasked &&
              path_is_within(node.path, parent.path)) {
            nested = true;
          }
        }
        if (nested && node.access != FsAccess::kMasked) continue;
        if (node.access == FsAccess::kMasked) {
          op.kind = MountKind::kMask;
          op.mode = 0755;  // traversable, so a kept binary below stays reachable
          for (size_t j = i + 1; j < tree.nodes.size(); ++j) {
            if (path_is_within(tree.nodes[j].path, node.path) &&
                tree.nodes[j].source == FsSource::kBind) {
              op.create_inside.push_back(tree.nodes[j].path);
            }
          }
        } else if (node.source == FsSource::kProc) {
          op.kind = MountKind::kProc;
        } else {
          op.kind = MountKind::kTmpfs;
          op.mode = 01777;  // /tmp: sticky, world-writable (hier(7))
        }
        break;
      }
    }
    plan.ops.push_back(std::move(op));
  }
  return plan;
}

}  // namespace openshell::policy
