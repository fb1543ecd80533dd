#include "sftp_server.h"

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "sftp_protocol.h"

namespace openshell::sftp {

namespace {

constexpr std::size_t kMaxHandles = 256;
constexpr int kReaddirBatch = 100;

std::uint32_t status_for(int err) {
  switch (err) {
    case 0:
      return kOk;
    case ENOENT:
    case ENOTDIR:
    case EBADF:
    case ELOOP:
      return kNoSuchFile;
    case EPERM:
    case EACCES:
    case EFAULT:
      return kPermissionDenied;
    case ENAMETOOLONG:
    case EINVAL:
      return kBadMessage;
    case ENOSYS:
      return kOpUnsupported;
    default:
      return kFailure;
  }
}

std::string status(std::uint32_t id, std::uint32_t code, std::string_view message = {}) {
  static constexpr const char* kText[] = {
      "Success",     "End of file",   "No such file",    "Permission denied",    "Failure",
      "Bad message", "No connection", "Connection lost", "Operation unsupported"};
  if (message.empty()) message = code < 9 ? kText[code] : "Failure";
  return Writer(kStatus).u32(id).u32(code).string(message).string("").finish();
}

std::string errno_status(std::uint32_t id, int err) {
  return status(id, status_for(err), err == 0 ? std::string_view{} : std::strerror(err));
}

Attrs attrs_from(const struct stat& st) {
  Attrs a;
  a.flags = kAttrSize | kAttrUidGid | kAttrPermissions | kAttrAcModTime;
  a.size = static_cast<std::uint64_t>(st.st_size);
  a.uid = st.st_uid;
  a.gid = st.st_gid;
  a.permissions = st.st_mode;
  a.atime = static_cast<std::uint32_t>(st.st_atime);
  a.mtime = static_cast<std::uint32_t>(st.st_mtime);
  return a;
}

// `ls -l` style, as OpenSSH's sftp-server sends in READDIR; numeric owners
// because a static binary has no NSS.
std::string long_name(std::string_view name, const struct stat& st) {
  char mode[11] = "----------";
  if (S_ISDIR(st.st_mode))
    mode[0] = 'd';
  else if (S_ISLNK(st.st_mode))
    mode[0] = 'l';
  else if (S_ISCHR(st.st_mode))
    mode[0] = 'c';
  else if (S_ISBLK(st.st_mode))
    mode[0] = 'b';
  else if (S_ISFIFO(st.st_mode))
    mode[0] = 'p';
  else if (S_ISSOCK(st.st_mode))
    mode[0] = 's';
  static constexpr char kRwx[] = "rwxrwxrwx";
  for (int i = 0; i < 9; ++i) {
    if (st.st_mode & (0400 >> i)) mode[1 + i] = kRwx[i];
  }
  char when[32] = "";
  struct tm tm {};
  time_t t = st.st_mtime;
  if (localtime_r(&t, &tm) != nullptr) strftime(when, sizeof when, "%b %e %H:%M", &tm);
  char line[128];
  std::snprintf(line, sizeof line, "%s %4lu %-8u %-8u %8llu %s ", mode,
                static_cast<unsigned long>(st.st_nlink), st.st_uid, st.st_gid,
                static_cast<unsigned long long>(st.st_size), when);
  return std::string(line) + std::string(name);
}

// realpath(3), lenient about a missing last component (a `put` target).
bool resolve(const std::string& path, std::string& out, int& err) {
  std::string p = path.empty() ? "." : path;
  char buf[PATH_MAX];
  if (::realpath(p.c_str(), buf) != nullptr) {
    out = buf;
    return true;
  }
  err = errno;
  if (err != ENOENT) return false;
  auto slash = p.find_last_of('/');
  std::string parent = slash == std::string::npos ? "." : slash == 0 ? "/" : p.substr(0, slash);
  std::string leaf = slash == std::string::npos ? p : p.substr(slash + 1);
  if (leaf.empty() || leaf == "." || leaf == "..") return false;
  if (::realpath(parent.c_str(), buf) == nullptr) {
    err = errno;
    return false;
  }
  out = std::string(buf) + (std::strcmp(buf, "/") == 0 ? "" : "/") + leaf;
  return true;
}

int apply_attrs(const std::string* path, int fd, const Attrs& a) {
  if (a.flags & kAttrSize) {
    if ((fd >= 0 ? ::ftruncate(fd, static_cast<off_t>(a.size))
                 : ::truncate(path->c_str(), static_cast<off_t>(a.size))) != 0) {
      return errno;
    }
  }
  if (a.flags & kAttrPermissions) {
    mode_t mode = a.permissions & 07777;
    if ((fd >= 0 ? ::fchmod(fd, mode) : ::chmod(path->c_str(), mode)) != 0) return errno;
  }
  if (a.flags & kAttrAcModTime) {
    struct timeval tv[2] = {{static_cast<time_t>(a.atime), 0}, {static_cast<time_t>(a.mtime), 0}};
    if ((fd >= 0 ? ::futimes(fd, tv) : ::utimes(path->c_str(), tv)) != 0) return errno;
  }
  if (a.flags & kAttrUidGid) {
    if ((fd >= 0 ? ::fchown(fd, a.uid, a.gid) : ::chown(path->c_str(), a.uid, a.gid)) != 0) {
      return errno;
    }
  }
  return 0;
}

std::string name_reply(std::uint32_t id, const std::string& name) {
  Attrs none;
  return Writer(kName).u32(id).u32(1).string(name).string(name).attrs(none).finish();
}

std::string statvfs_reply(std::uint32_t id, const struct statvfs& st) {
  // statvfs@openssh.com, PROTOCOL §4.4.
  return Writer(kExtendedReply)
      .u32(id)
      .u64(st.f_bsize)
      .u64(st.f_frsize)
      .u64(st.f_blocks)
      .u64(st.f_bfree)
      .u64(st.f_bavail)
      .u64(st.f_files)
      .u64(st.f_ffree)
      .u64(st.f_favail)
      .u64(st.f_fsid)
      .u64((st.f_flag & ST_RDONLY ? 1 : 0) | (st.f_flag & ST_NOSUID ? 2 : 0))
      .u64(st.f_namemax)
      .finish();
}

}  // namespace

Session::Session() = default;

Session::~Session() {
  for (auto& h : handles_) {
    if (h.in_use) release(h);
  }
}

std::string Session::new_handle(UniqueFd fd, DIR* dir, std::string path) {
  std::size_t index = 0;
  while (index < handles_.size() && handles_[index].in_use) ++index;
  if (index == kMaxHandles) {
    if (dir != nullptr) ::closedir(dir);
    return {};
  }
  if (index == handles_.size()) handles_.emplace_back();
  Handle& h = handles_[index];
  h.in_use = true;
  ++h.generation;
  h.fd = std::move(fd);
  h.dir = dir;
  h.path = std::move(path);
  h.wrote = false;
  // The handle names the slot and its generation, so a stale handle from a
  // closed file can never reach the slot's next occupant.
  std::string out(8, '\0');
  auto idx = static_cast<std::uint32_t>(index);
  for (int i = 0; i < 4; ++i) {
    out[i] = static_cast<char>(idx >> (24 - 8 * i));
    out[4 + i] = static_cast<char>(h.generation >> (24 - 8 * i));
  }
  return out;
}

Session::Handle* Session::lookup(std::string_view handle, bool want_dir) {
  if (handle.size() != 8) return nullptr;
  Reader r(handle);
  std::uint32_t index = r.u32();
  std::uint32_t generation = r.u32();
  if (index >= handles_.size()) return nullptr;
  Handle& h = handles_[index];
  if (!h.in_use || h.generation != generation) return nullptr;
  if (want_dir != (h.dir != nullptr)) return nullptr;
  return &h;
}

void Session::release(Handle& h) {
  if (h.dir != nullptr) ::closedir(h.dir);
  h.dir = nullptr;
  h.fd.reset();
  h.in_use = false;
  h.path.clear();
}

std::string Session::handle(std::string_view body, bool& fatal) {
  fatal = false;
  Reader r(body);
  std::uint8_t type = r.u8();
  if (!initialized_) {
    if (type != kInit) {
      fatal = true;
      return {};
    }
    initialized_ = true;
    // Extensions named in OpenSSH's PROTOCOL file, each "name", "version".
    return Writer(kVersion)
        .u32(3)
        .string("posix-rename@openssh.com")
        .string("1")
        .string("statvfs@openssh.com")
        .string("2")
        .string("fstatvfs@openssh.com")
        .string("2")
        .string("hardlink@openssh.com")
        .string("1")
        .string("fsync@openssh.com")
        .string("1")
        .string("limits@openssh.com")
        .string("1")
        .string("expand-path@openssh.com")
        .string("1")
        .finish();
  }
  std::uint32_t id = r.u32();
  if (!r.ok()) return status(0, kBadMessage);

  auto bad = [&] { return status(id, kBadMessage); };
  switch (type) {
    case kOpen: {
      std::string path = r.path();
      std::uint32_t pflags = r.u32();
      Attrs a = r.attrs();
      if (!r.ok()) return bad();
      int flags = O_CLOEXEC | O_NOCTTY;
      bool read = pflags & kOpenRead, write = pflags & kOpenWrite;
      flags |= read && write ? O_RDWR : write ? O_WRONLY : O_RDONLY;
      if (pflags & kOpenAppend) flags |= O_APPEND;
      if (pflags & kOpenCreat) flags |= O_CREAT;
      if (pflags & kOpenTrunc) flags |= O_TRUNC;
      if (pflags & kOpenExcl) flags |= O_EXCL;
      mode_t mode = (a.flags & kAttrPermissions) ? (a.permissions & 07777) : 0666;
      UniqueFd fd(::open(path.c_str(), flags, mode));
      if (!fd) return errno_status(id, errno);
      struct stat st {};
      if (::fstat(fd.get(), &st) == 0 && S_ISDIR(st.st_mode)) return errno_status(id, EISDIR);
      std::string h = new_handle(std::move(fd), nullptr, path);
      if (h.empty()) return status(id, kFailure, "too many open handles");
      return Writer(kHandle).u32(id).string(h).finish();
    }
    case kClose: {
      std::string_view handle = r.string();
      if (!r.ok()) return bad();
      Handle* h = lookup(handle, false);
      if (h == nullptr) h = lookup(handle, true);
      if (h == nullptr) return status(id, kFailure, "invalid handle");
      int err = 0;
      // Files written through the bridge survive a crash once the client
      // has seen the close succeed.
      if (h->wrote && ::fsync(h->fd.get()) != 0) err = errno;
      if (h->fd && ::close(h->fd.release()) != 0 && err == 0) err = errno;
      release(*h);
      return errno_status(id, err);
    }
    case kRead: {
      std::string_view handle = r.string();
      std::uint64_t offset = r.u64();
      std::uint32_t len = r.u32();
      if (!r.ok()) return bad();
      Handle* h = lookup(handle, false);
      if (h == nullptr) return status(id, kFailure, "invalid handle");
      if (len > kMaxData) len = kMaxData;
      if (offset > static_cast<std::uint64_t>(INT64_MAX)) return bad();
      std::string data(len, '\0');
      ssize_t n;
      do {
        n = ::pread(h->fd.get(), data.data(), len, static_cast<off_t>(offset));
      } while (n < 0 && errno == EINTR);
      if (n < 0) return errno_status(id, errno);
      if (n == 0 && len > 0) return status(id, kEof);
      data.resize(static_cast<std::size_t>(n));
      return Writer(kData).u32(id).string(data).finish();
    }
    case kWrite: {
      std::string_view handle = r.string();
      std::uint64_t offset = r.u64();
      std::string_view data = r.string();
      if (!r.ok()) return bad();
      Handle* h = lookup(handle, false);
      if (h == nullptr) return status(id, kFailure, "invalid handle");
      if (offset > static_cast<std::uint64_t>(INT64_MAX) - data.size()) return bad();
      std::size_t done = 0;
      while (done < data.size()) {
        ssize_t n = ::pwrite(h->fd.get(), data.data() + done, data.size() - done,
                             static_cast<off_t>(offset + done));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return errno_status(id, n < 0 ? errno : EIO);
        done += static_cast<std::size_t>(n);
      }
      h->wrote = true;
      return status(id, kOk);
    }
    case kLstat:
    case kStat: {
      std::string path = r.path();
      if (!r.ok()) return bad();
      struct stat st {};
      int rc = type == kStat ? ::stat(path.c_str(), &st) : ::lstat(path.c_str(), &st);
      if (rc != 0) return errno_status(id, errno);
      return Writer(kAttrs).u32(id).attrs(attrs_from(st)).finish();
    }
    case kFstat: {
      std::string_view handle = r.string();
      if (!r.ok()) return bad();
      Handle* h = lookup(handle, false);
      if (h == nullptr) return status(id, kFailure, "invalid handle");
      struct stat st {};
      if (::fstat(h->fd.get(), &st) != 0) return errno_status(id, errno);
      return Writer(kAttrs).u32(id).attrs(attrs_from(st)).finish();
    }
    case kSetstat: {
      std::string path = r.path();
      Attrs a = r.attrs();
      if (!r.ok()) return bad();
      return errno_status(id, apply_attrs(&path, -1, a));
    }
    case kFsetstat: {
      std::string_view handle = r.string();
      Attrs a = r.attrs();
      if (!r.ok()) return bad();
      Handle* h = lookup(handle, false);
      if (h == nullptr) return status(id, kFailure, "invalid handle");
      return errno_status(id, apply_attrs(nullptr, h->fd.get(), a));
    }
    case kOpendir: {
      std::string path = r.path();
      if (!r.ok()) return bad();
      UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
      if (!fd) return errno_status(id, errno);
      int dup_fd = ::fcntl(fd.get(), F_DUPFD_CLOEXEC, 0);
      DIR* dir = dup_fd >= 0 ? ::fdopendir(dup_fd) : nullptr;
      if (dir == nullptr) {
        int err = errno;
        if (dup_fd >= 0) ::close(dup_fd);
        return errno_status(id, err);
      }
      std::string h = new_handle(std::move(fd), dir, path);
      if (h.empty()) return status(id, kFailure, "too many open handles");
      return Writer(kHandle).u32(id).string(h).finish();
    }
    case kReaddir: {
      std::string_view handle = r.string();
      if (!r.ok()) return bad();
      Handle* h = lookup(handle, true);
      if (h == nullptr) return status(id, kFailure, "invalid handle");
      std::uint32_t count = 0;
      Writer w(kName);
      std::string entries;  // appended after the count
      while (count < kReaddirBatch) {
        errno = 0;
        struct dirent* d = ::readdir(h->dir);
        if (d == nullptr) break;
        struct stat st {};
        if (::fstatat(dirfd(h->dir), d->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
        Writer e(0);
        e.string(d->d_name).string(long_name(d->d_name, st)).attrs(attrs_from(st));
        std::string bytes = e.finish();
        entries.append(bytes, 5, std::string::npos);  // drop the scratch length and type
        ++count;
      }
      if (count == 0) return status(id, kEof);
      std::string reply = w.u32(id).u32(count).finish();
      reply += entries;
      auto len = static_cast<std::uint32_t>(reply.size() - 4);
      for (int i = 0; i < 4; ++i) reply[i] = static_cast<char>(len >> (24 - 8 * i));
      return reply;
    }
    case kRemove: {
      std::string path = r.path();
      if (!r.ok()) return bad();
      return errno_status(id, ::unlink(path.c_str()) == 0 ? 0 : errno);
    }
    case kMkdir: {
      std::string path = r.path();
      Attrs a = r.attrs();
      if (!r.ok()) return bad();
      mode_t mode = (a.flags & kAttrPermissions) ? (a.permissions & 07777) : 0777;
      return errno_status(id, ::mkdir(path.c_str(), mode) == 0 ? 0 : errno);
    }
    case kRmdir: {
      std::string path = r.path();
      if (!r.ok()) return bad();
      return errno_status(id, ::rmdir(path.c_str()) == 0 ? 0 : errno);
    }
    case kRealpath: {
      std::string path = r.path();
      if (!r.ok()) return bad();
      std::string out;
      int err = 0;
      if (!resolve(path, out, err)) return errno_status(id, err);
      return name_reply(id, out);
    }
    case kRename: {
      std::string from = r.path();
      std::string to = r.path();
      if (!r.ok()) return bad();
      // SFTP v3 rename must not replace an existing target.
      if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) {
        return status(id, kOk);
      }
      return errno_status(id, errno);
    }
    case kReadlink: {
      std::string path = r.path();
      if (!r.ok()) return bad();
      char buf[PATH_MAX];
      ssize_t n = ::readlink(path.c_str(), buf, sizeof buf - 1);
      if (n < 0) return errno_status(id, errno);
      return name_reply(id, std::string(buf, static_cast<std::size_t>(n)));
    }
    case kSymlink: {
      // OpenSSH sends (target, link path), the reverse of the draft; its
      // client is the one that matters.
      std::string target = r.path();
      std::string link = r.path();
      if (!r.ok()) return bad();
      return errno_status(id, ::symlink(target.c_str(), link.c_str()) == 0 ? 0 : errno);
    }
    case kExtended: {
      std::string_view name = r.string();
      if (!r.ok()) return bad();
      if (name == "posix-rename@openssh.com") {
        std::string from = r.path();
        std::string to = r.path();
        if (!r.ok()) return bad();
        return errno_status(id, ::rename(from.c_str(), to.c_str()) == 0 ? 0 : errno);
      }
      if (name == "hardlink@openssh.com") {
        std::string from = r.path();
        std::string to = r.path();
        if (!r.ok()) return bad();
        return errno_status(id, ::link(from.c_str(), to.c_str()) == 0 ? 0 : errno);
      }
      if (name == "fsync@openssh.com") {
        std::string_view handle = r.string();
        if (!r.ok()) return bad();
        Handle* h = lookup(handle, false);
        if (h == nullptr) return status(id, kFailure, "invalid handle");
        return errno_status(id, ::fsync(h->fd.get()) == 0 ? 0 : errno);
      }
      if (name == "statvfs@openssh.com") {
        std::string path = r.path();
        if (!r.ok()) return bad();
        struct statvfs st {};
        if (::statvfs(path.c_str(), &st) != 0) return errno_status(id, errno);
        return statvfs_reply(id, st);
      }
      if (name == "fstatvfs@openssh.com") {
        std::string_view handle = r.string();
        if (!r.ok()) return bad();
        Handle* h = lookup(handle, false);
        if (h == nullptr) h = lookup(handle, true);
        if (h == nullptr) return status(id, kFailure, "invalid handle");
        struct statvfs st {};
        if (::fstatvfs(h->fd.get(), &st) != 0) return errno_status(id, errno);
        return statvfs_reply(id, st);
      }
      if (name == "limits@openssh.com") {
        return Writer(kExtendedReply)
            .u32(id)
            .u64(kMaxPacket)
            .u64(kMaxData)
            .u64(kMaxData)
            .u64(kMaxHandles)
            .finish();
      }
      if (name == "expand-path@openssh.com") {
        std::string path = r.path();
        if (!r.ok()) return bad();
        if (path == "~" || path.starts_with("~/")) {
          const char* home = ::getenv("HOME");
          path = std::string(home != nullptr && *home != '\0' ? home : ".") + path.substr(1);
        } else if (path.starts_with("~")) {
          return status(id, kNoSuchFile, "~user is not supported");
        }
        std::string out;
        int err = 0;
        if (!resolve(path, out, err)) return errno_status(id, err);
        return name_reply(id, out);
      }
      return status(id, kOpUnsupported);
    }
    default:
      return status(id, kOpUnsupported);
  }
}

namespace {

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

}  // namespace

int run_sftp_server(int in_fd, int out_fd) {
  Session session;
  std::string buffer;
  std::size_t head = 0;
  char chunk[64 * 1024];
  for (;;) {
    bool too_large = false;
    while (auto frame = next_frame(std::string_view(buffer).substr(head), too_large)) {
      bool fatal = false;
      std::string reply = session.handle(frame->body, fatal);
      if (fatal) return 1;
      if (!reply.empty() && !write_all(out_fd, reply)) return 1;
      head += frame->consumed;
    }
    if (too_large) return 1;
    if (head > 0) {
      buffer.erase(0, head);
      head = 0;
    }
    ssize_t n = ::read(in_fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return 1;
    if (n == 0) return buffer.empty() ? 0 : 1;
    buffer.append(chunk, static_cast<std::size_t>(n));
  }
}

}  // namespace openshell::sftp
