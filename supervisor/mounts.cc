#include "mounts.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace openshell {
namespace {

using policy::MountKind;
using policy::MountOp;

// Somewhere to build the new root: a directory every image has, covered by
// a private tmpfs in this mount namespace only.
constexpr const char* kStagingCandidates[] = {"/tmp", "/mnt", "/var/tmp", "/dev/shm", "/run"};

bool exists(const std::string& path, struct stat* st = nullptr) {
  struct stat local {};
  return ::lstat(path.c_str(), st != nullptr ? st : &local) == 0;
}

// Read-only (and nosuid) for the mount and every submount below it: a plain
// MS_REMOUNT|MS_RDONLY changes only the top mount, and pod submounts such as
// /etc/hosts would stay writable (mount_setattr(2), Linux 5.12).
Result<void> set_attributes_recursive(const std::string& path, uint64_t set, uint64_t clear) {
  mount_attr attr{};
  attr.attr_set = set;
  attr.attr_clr = clear;
  if (::syscall(SYS_mount_setattr, AT_FDCWD, path.c_str(), AT_RECURSIVE, &attr, sizeof attr) != 0) {
    return fail_errno("mount_setattr " + path);
  }
  return {};
}

Result<void> bind_mount(const std::string& source, const std::string& target, bool read_only) {
  if (::mount(source.c_str(), target.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0) {
    return fail_errno("bind " + source + " on " + target);
  }
  return set_attributes_recursive(target, MOUNT_ATTR_NOSUID | (read_only ? MOUNT_ATTR_RDONLY : 0),
                                  0);
}

Result<void> make_path(const std::string& path, bool as_file) {
  for (size_t slash = path.find('/', 1); slash != std::string::npos;
       slash = path.find('/', slash + 1)) {
    std::string dir = path.substr(0, slash);
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) return fail_errno("mkdir " + dir);
  }
  if (as_file) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0444);
    if (fd < 0) return fail_errno("create " + path);
    ::close(fd);
  } else if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) {
    return fail_errno("mkdir " + path);
  }
  return {};
}

Result<void> apply(const MountOp& op, const std::string& root, std::vector<std::string>& skipped) {
  std::string target = op.target == "/" ? root : root + op.target;
  switch (op.kind) {
    case MountKind::kBindRoot:
      return bind_mount(op.source, target, /*read_only=*/true);
    case MountKind::kBindReadOnly:
    case MountKind::kBindReadWrite: {
      struct stat source {};
      if (!exists(op.source, &source)) {
        skipped.push_back(op.target + " (" + op.origin + "): not in the image");
        return {};
      }
      // Below a fresh tmpfs the mountpoint is made; in the read-only image
      // that fails (EROFS) and the entry is skipped.
      if (!exists(target) && !make_path(target, !S_ISDIR(source.st_mode))) {
        skipped.push_back(op.target + " (" + op.origin + "): no mountpoint in the view");
        return {};
      }
      return bind_mount(op.source, target, op.kind == MountKind::kBindReadOnly);
    }
    case MountKind::kProc:
      if (!exists(target)) return fail("no " + op.target + " in the image to mount proc on");
      // A fresh procfs shows the sandbox's PID namespace only (proc(5)).
      if (::mount("proc", target.c_str(), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0) {
        return fail_errno("mount proc on " + op.target);
      }
      return {};
    case MountKind::kTmpfs: {
      if (!exists(target)) {
        skipped.push_back(op.target + " (" + op.origin + "): not in the image");
        return {};
      }
      char options[32];
      std::snprintf(options, sizeof options, "mode=%o", op.mode);
      if (::mount("tmpfs", target.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, options) != 0) {
        return fail_errno("mount tmpfs on " + op.target);
      }
      return {};
    }
    case MountKind::kMask: {
      if (!exists(target)) return {};  // nothing to hide
      char options[32];
      std::snprintf(options, sizeof options, "mode=%o", op.mode);
      if (::mount("tmpfs", target.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, options) != 0) {
        return fail_errno("mask " + op.target);
      }
      for (const auto& inside : op.create_inside) {
        struct stat st {};
        if (!exists(inside, &st)) continue;
        if (auto made = make_path(root + inside, !S_ISDIR(st.st_mode)); !made) return made;
      }
      if (::mount(nullptr, target.c_str(), nullptr, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV,
                  options) != 0) {
        return fail_errno("remount mask read-only " + op.target);
      }
      return {};
    }
  }
  return fail("unknown mount kind");
}

}  // namespace

Result<void> build_mount_view(const policy::MountPlan& plan, std::vector<std::string>& skipped) {
  // Nothing done here may propagate back to the pod (mount_namespaces(7)).
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    return fail_errno("make / private");
  }
  // The staging tmpfs hides what is below it, so it must not sit above a
  // bind source (a supervisor binary in a build tree under /tmp) nor above
  // a path to mask (/run/openshell): both are looked up after it is mounted.
  auto hides_a_source = [&](const std::string& dir) {
    auto below = [&](const std::string& path) {
      return path == dir ||
             (path.size() > dir.size() && path.starts_with(dir) && path[dir.size()] == '/');
    };
    for (const auto& op : plan.ops) {
      bool bind = op.kind == MountKind::kBindReadOnly || op.kind == MountKind::kBindReadWrite;
      if ((bind && below(op.source)) || (op.kind == MountKind::kMask && below(op.target))) {
        return true;
      }
    }
    return false;
  };
  std::string staging;
  for (const char* candidate : kStagingCandidates) {
    struct stat st {};
    if (::stat(candidate, &st) == 0 && S_ISDIR(st.st_mode) && !hides_a_source(candidate)) {
      staging = candidate;
      break;
    }
  }
  if (staging.empty()) {
    return fail("no directory to build the sandbox root in (/tmp, /mnt, /var/tmp, /dev/shm, /run)");
  }
  if (::mount("tmpfs", staging.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "mode=0700") != 0) {
    return fail_errno("mount staging tmpfs on " + staging);
  }
  std::string root = staging + "/root";
  if (::mkdir(root.c_str(), 0755) != 0) return fail_errno("mkdir " + root);

  for (const auto& op : plan.ops) {
    if (auto applied = apply(op, root, skipped); !applied) return applied;
  }

  // pivot_root(".", ".") stacks the old root on the new one; detaching it
  // leaves only the new view, with no path back (pivot_root(2), NOTES).
  if (::chdir(root.c_str()) != 0) return fail_errno("chdir " + root);
  if (::syscall(SYS_pivot_root, ".", ".") != 0) return fail_errno("pivot_root");
  if (::umount2(".", MNT_DETACH) != 0) return fail_errno("detach the old root");
  if (::chdir("/") != 0) return fail_errno("chdir /");
  return {};
}

}  // namespace openshell
