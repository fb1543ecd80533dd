#include "mounts.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>

#include "unique_fd.h"

namespace openshell {
namespace {

using policy::MountKind;
using policy::MountOp;

// Somewhere to build the new root: a directory every image has, covered by
// a private tmpfs in this mount namespace only.
constexpr const char* kStagingCandidates[] = {"/tmp", "/mnt", "/var/tmp", "/dev/shm", "/run"};

// The standard devices bound from the pod's /dev (as bubblewrap's --dev
// does): binding needs no CAP_MKNOD, which pods rarely have.
constexpr const char* kStandardDevices[] = {"full", "null", "random", "tty", "urandom", "zero"};

bool exists(const std::string& path, struct stat* st = nullptr) {
  struct stat local {};
  return ::lstat(path.c_str(), st != nullptr ? st : &local) == 0;
}

std::string fd_path(int fd) {
  return "/proc/self/fd/" + std::to_string(fd);
}

// The initial user namespace maps every id to itself in one line
// (user_namespaces(7)); any other map is a runtime's user namespace.
bool in_child_user_namespace() {
  UniqueFd fd(::open("/proc/self/uid_map", O_RDONLY | O_CLOEXEC));
  if (!fd) return false;
  char buf[256];
  ssize_t n = ::read(fd.get(), buf, sizeof buf - 1);
  if (n <= 0) return false;
  buf[n] = '\0';
  unsigned long inside = 1, outside = 1, count = 0;
  int consumed = 0;
  if (std::sscanf(buf, "%lu %lu %lu%n", &inside, &outside, &count, &consumed) != 3) return true;
  bool one_line = buf[consumed] == '\0' || (buf[consumed] == '\n' && buf[consumed + 1] == '\0');
  return !(inside == 0 && outside == 0 && count == 4294967295UL && one_line);
}

// The view under construction. Every target is looked up inside it
// (RESOLVE_IN_ROOT): a symlink in a bound directory (/var/run -> /run)
// resolves within the view, never to the pod's tree (openat2(2)).
class View {
 public:
  View(std::string root, std::string staging)
      : root_(std::move(root)), staging_(std::move(staging)) {}

  const std::string& root() const { return root_; }

  Result<void> reopen_root() {
    root_fd_.reset(::open(root_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!root_fd_) return fail_errno("open " + root_);
    return {};
  }

  // O_PATH fd of `path` in the view; invalid with errno set when missing.
  UniqueFd open(const std::string& path, bool follow_last = true) const {
    open_how how{};
    how.flags = O_PATH | O_CLOEXEC | (follow_last ? 0 : O_NOFOLLOW);
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
    std::string relative = path == "/" ? "." : path.substr(1);
    return UniqueFd(
        static_cast<int>(::syscall(SYS_openat2, root_fd_.get(), relative.c_str(), &how, sizeof how)));
  }

  // Creates the missing components of `path` (directories 0755, the last
  // one an empty file when `as_file`) and returns the result, O_PATH. Only
  // a missing path has its parent looked up (and made), so a target whose
  // parent exists costs three lookups and a create.
  Result<UniqueFd> make(const std::string& path, bool as_file) const {
    if (UniqueFd fd = open(path); fd) return fd;
    if (path == "/") return fail_errno("open the view's root");
    size_t slash = path.rfind('/');
    if (slash == std::string::npos || slash + 1 == path.size()) return fail_errno("open " + path);
    std::string name = path.substr(slash + 1);
    auto parent = make(slash == 0 ? "/" : path.substr(0, slash), false);
    if (!parent) return parent;
    if (as_file) {
      int made = ::openat(parent->get(), name.c_str(),
                          O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0444);
      if (made < 0) return fail_errno("create " + path);
      ::close(made);
    } else if (::mkdirat(parent->get(), name.c_str(), 0755) != 0 && errno != EEXIST) {
      return fail_errno("mkdir " + path);
    }
    UniqueFd made = open(path);
    if (!made) return fail_errno("open " + path);
    return made;
  }

  // A file under the staging tmpfs, outside the view, to bind into it.
  Result<std::string> staged_file(const std::string& content) {
    std::string path = staging_ + "/file" + std::to_string(files_++);
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444));
    if (!fd) return fail_errno("create " + path);
    if (!content.empty() &&
        ::write(fd.get(), content.data(), content.size()) != static_cast<ssize_t>(content.size())) {
      return fail_errno("write " + path);
    }
    return path;
  }

  void freeze_later(const std::string& path) { frozen_.push_back(path); }
  const std::vector<std::string>& frozen() const { return frozen_; }

 private:
  std::string root_;
  std::string staging_;
  UniqueFd root_fd_;
  int files_ = 0;
  std::vector<std::string> frozen_;  // writable while built, read-only before the pivot
};

Result<void> set_attributes(int fd, const std::string& what, uint64_t set, bool recursive) {
  mount_attr attr{};
  attr.attr_set = set;
  unsigned flags = AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0);
  if (::syscall(SYS_mount_setattr, fd, "", flags, &attr, sizeof attr) != 0) {
    return fail_errno("mount_setattr " + what);
  }
  return {};
}

// Binds `source` on the view's `target` and sets `attributes` on the new
// mount and (recursive) every submount below it: a plain
// MS_REMOUNT|MS_RDONLY changes only the top mount, and pod submounts such
// as /etc/hosts would stay writable (mount_setattr(2), Linux 5.12).
Result<void> bind_into(View& view, const std::string& source, const std::string& target, int target_fd,
                  uint64_t attributes, bool recursive) {
  unsigned long flags = MS_BIND | (recursive ? MS_REC : 0);
  if (::mount(source.c_str(), fd_path(target_fd).c_str(), nullptr, flags, nullptr) != 0) {
    return fail_errno("bind " + source + " on " + target);
  }
  if (target == "/") {
    if (auto r = view.reopen_root(); !r) return r;
  }
  UniqueFd mounted = view.open(target);
  if (!mounted) return fail_errno("open " + target + " after the bind");
  return set_attributes(mounted.get(), target, attributes, recursive);
}

Result<void> mount_tmpfs(int target_fd, const std::string& target, uint32_t mode,
                         unsigned long flags) {
  char options[32];
  std::snprintf(options, sizeof options, "mode=%o", mode);
  if (::mount("tmpfs", fd_path(target_fd).c_str(), "tmpfs", flags, options) != 0) {
    return fail_errno("mount tmpfs on " + target);
  }
  return {};
}

// The standard /dev (DESIGN.md §6.2): the devices bound from the pod, a
// private devpts (its own pty numbers, nothing of the pod's terminals), shm,
// and the links programs expect.
Result<void> build_dev(View& view, const std::string& target, std::vector<std::string>& skipped) {
  auto dir = view.make(target, false);
  if (!dir) return std::unexpected(dir.error());
  if (auto r = mount_tmpfs(dir->get(), target, 0755, MS_NOSUID | MS_NOEXEC); !r) return r;
  view.freeze_later(target);
  for (const char* name : kStandardDevices) {
    std::string source = std::string("/dev/") + name;
    struct stat st {};
    if (!exists(source, &st) || !S_ISCHR(st.st_mode)) {
      skipped.push_back(source + " (standard /dev): not a device in the pod");
      continue;
    }
    auto node = view.make(target + "/" + name, true);
    if (!node) return std::unexpected(node.error());
    // Not nodev: this mount is the device.
    auto bound = bind_into(view, source, target + "/" + name, node->get(),
                      MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, false);
    if (!bound) return bound;
  }
  auto pts = view.make(target + "/pts", false);
  if (!pts) return std::unexpected(pts.error());
  if (::mount("devpts", fd_path(pts->get()).c_str(), "devpts", MS_NOSUID | MS_NOEXEC,
              "newinstance,ptmxmode=0666,mode=0620") != 0) {
    return fail_errno("mount devpts on " + target + "/pts");
  }
  auto shm = view.make(target + "/shm", false);
  if (!shm) return std::unexpected(shm.error());
  if (auto r = mount_tmpfs(shm->get(), target + "/shm", 01777, MS_NOSUID | MS_NODEV); !r) return r;
  UniqueFd dev = view.open(target);
  if (!dev) return fail_errno("open " + target);
  const std::pair<const char*, const char*> links[] = {{"ptmx", "pts/ptmx"},
                                                       {"fd", "/proc/self/fd"},
                                                       {"stdin", "/proc/self/fd/0"},
                                                       {"stdout", "/proc/self/fd/1"},
                                                       {"stderr", "/proc/self/fd/2"}};
  for (const auto& [name, text] : links) {
    if (::symlinkat(text, dev.get(), name) != 0) return fail_errno("symlink " + target + "/" + name);
  }
  return {};
}

Result<void> mask_directory(View& view, const MountOp& op, int target_fd) {
  if (auto r = mount_tmpfs(target_fd, op.target, op.mode, MS_NOSUID | MS_NODEV); !r) return r;
  for (const auto& inside : op.create_inside) {
    struct stat st {};
    if (!exists(inside, &st)) continue;
    if (auto made = view.make(inside, !S_ISDIR(st.st_mode)); !made) {
      return std::unexpected(made.error());
    }
  }
  UniqueFd mounted = view.open(op.target);
  if (!mounted) return fail_errno("open " + op.target);
  return set_attributes(mounted.get(), op.target, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID |
                                                      MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC,
                        false);
}

Result<void> apply(const MountOp& op, View& view, std::vector<std::string>& skipped) {
  switch (op.kind) {
    case MountKind::kRootTmpfs: {
      if (::mkdir(view.root().c_str(), 0755) != 0) return fail_errno("mkdir " + view.root());
      char options[32];
      std::snprintf(options, sizeof options, "mode=%o", op.mode);
      if (::mount("tmpfs", view.root().c_str(), "tmpfs", MS_NOSUID | MS_NODEV, options) != 0) {
        return fail_errno("mount the root tmpfs");
      }
      view.freeze_later("/");
      return view.reopen_root();
    }
    case MountKind::kBindReadOnly:
    case MountKind::kBindReadWrite:
    case MountKind::kBindDevice: {
      struct stat source {};
      if (!exists(op.source, &source)) {
        skipped.push_back(op.target + " (" + op.origin + "): not in the image");
        return {};
      }
      // A mountpoint inside a read-only bind cannot be made (EROFS): the
      // entry is skipped, and the bind above it decides what shows.
      auto target = view.make(op.target, !S_ISDIR(source.st_mode));
      if (!target) {
        skipped.push_back(op.target + " (" + op.origin +
                          "): no mountpoint in the view: " + target.error().message());
        return {};
      }
      uint64_t attributes = MOUNT_ATTR_NOSUID;
      if (op.kind != MountKind::kBindDevice) attributes |= MOUNT_ATTR_NODEV;
      if (op.kind == MountKind::kBindReadOnly) attributes |= MOUNT_ATTR_RDONLY;
      return bind_into(view, op.source, op.target, target->get(), attributes,
                  op.kind != MountKind::kBindDevice);
    }
    case MountKind::kProc: {
      auto target = view.make(op.target, false);
      if (!target) return std::unexpected(target.error());
      // A fresh procfs shows the sandbox's PID namespace only (proc(5)).
      if (::mount("proc", fd_path(target->get()).c_str(), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                  nullptr) != 0) {
        int err = errno;
        return fail("mount proc on " + op.target + proc_mount_hint(err, in_child_user_namespace()),
                    err);
      }
      return {};
    }
    case MountKind::kProcReadOnly: {
      UniqueFd target = view.open(op.target);
      if (!target) return {};  // not on this kernel
      return bind_into(view, fd_path(target.get()), op.target, target.get(),
                  MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC,
                  true);
    }
    case MountKind::kTmpfs: {
      auto target = view.make(op.target, false);
      if (!target) {
        skipped.push_back(op.target + " (" + op.origin + "): " + target.error().message());
        return {};
      }
      return mount_tmpfs(target->get(), op.target, op.mode, MS_NOSUID | MS_NODEV);
    }
    case MountKind::kDev:
      return build_dev(view, op.target, skipped);
    case MountKind::kSymlink: {
      size_t slash = op.target.rfind('/');
      std::string parent_path = slash == 0 ? "/" : op.target.substr(0, slash);
      auto parent = view.make(parent_path, false);
      if (!parent) return std::unexpected(parent.error());
      if (::symlinkat(op.source.c_str(), parent->get(), op.target.c_str() + slash + 1) != 0 &&
          errno != EEXIST) {
        return fail_errno("symlink " + op.target);
      }
      return {};
    }
    case MountKind::kFile: {
      // Written outside the view and bound read-only over the target, so it
      // lands in a granted /etc as well as in the empty root.
      auto staged = view.staged_file(op.source);
      if (!staged) return std::unexpected(staged.error());
      auto target = view.make(op.target, true);
      if (!target) {
        skipped.push_back(op.target + " (" + op.origin +
                          "): no mountpoint in the view: " + target.error().message());
        return {};
      }
      return bind_into(view, *staged, op.target, target->get(),
                  MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC,
                  false);
    }
    case MountKind::kMask:
    case MountKind::kMaskFile: {
      UniqueFd target = view.open(op.target);
      if (!target) return {};  // not in the view: nothing to hide
      struct stat st {};
      if (::fstat(target.get(), &st) != 0) return fail_errno("stat " + op.target);
      if (S_ISDIR(st.st_mode)) {
        MountOp dir = op;
        if (dir.mode == 0) dir.mode = 0555;
        return mask_directory(view, dir, target.get());
      }
      auto empty = view.staged_file("");
      if (!empty) return std::unexpected(empty.error());
      return bind_into(view, *empty, op.target, target.get(),
                  MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC,
                  false);
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
  // bind source (a workdir or build tree under /tmp): they are looked up
  // after it is mounted.
  auto hides_a_source = [&](const std::string& dir) {
    auto below = [&](const std::string& path) {
      return path == dir ||
             (path.size() > dir.size() && path.starts_with(dir) && path[dir.size()] == '/');
    };
    for (const auto& op : plan.ops) {
      bool bind = op.kind == MountKind::kBindReadOnly || op.kind == MountKind::kBindReadWrite ||
                  op.kind == MountKind::kBindDevice;
      if (bind && below(op.source)) return true;
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
  View view(staging + "/root", staging);

  for (const auto& op : plan.ops) {
    if (auto applied = apply(op, view, skipped); !applied) return applied;
  }
  // Every mountpoint exists now: the empty root and /dev become read-only,
  // so nothing can be created beside what the plan put there.
  for (const auto& path : view.frozen()) {
    UniqueFd fd = view.open(path);
    if (!fd) continue;
    auto frozen = set_attributes(fd.get(), path, MOUNT_ATTR_RDONLY, false);
    if (!frozen) return frozen;
  }

  // pivot_root(".", ".") stacks the old root on the new one; detaching it
  // leaves only the new view, with no path back (pivot_root(2), NOTES).
  if (::chdir(view.root().c_str()) != 0) return fail_errno("chdir " + view.root());
  if (::syscall(SYS_pivot_root, ".", ".") != 0) return fail_errno("pivot_root");
  if (::umount2(".", MNT_DETACH) != 0) return fail_errno("detach the old root");
  if (::chdir("/") != 0) return fail_errno("chdir /");
  return {};
}

std::string proc_mount_hint(int err, bool in_child_user_namespace) {
  if (err != EPERM || !in_child_user_namespace) return "";
  return " (in a user namespace the kernel refuses a fresh /proc while the container's /proc"
         " has masked or read-only paths over it; on Kubernetes with hostUsers: false set the"
         " agent container's securityContext.procMount: Unmasked; podman: --security-opt"
         " unmask=ALL)";
}

}  // namespace openshell
