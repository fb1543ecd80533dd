#include "caller.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/inet_diag.h>
#include <linux/magic.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <charconv>
#include <cstring>
#include <map>
#include <set>

#include "unique_fd.h"

namespace openshell::egress {
namespace {

constexpr size_t kMaxAncestors = 64;

std::optional<uint32_t> hex32(std::string_view text) {
  if (text.size() != 8) return std::nullopt;
  uint32_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, 16);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<std::string> read_small_file(const std::string& path, int dir = AT_FDCWD) {
  UniqueFd fd(::openat(dir, path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return std::nullopt;
  std::string out;
  char buffer[65536];
  while (true) {
    ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buffer, static_cast<size_t>(n));
    if (out.size() > (64u << 20)) return std::nullopt;
  }
  return out;
}

std::optional<std::string> read_link(const std::string& path, int dir = AT_FDCWD) {
  char buffer[4096];
  ssize_t n = ::readlinkat(dir, path.c_str(), buffer, sizeof buffer);
  if (n <= 0 || static_cast<size_t>(n) >= sizeof buffer) return std::nullopt;
  return std::string(buffer, static_cast<size_t>(n));
}

// The parent pid from /proc/<pid>/stat: the fields after the command name,
// which is in parentheses and may itself contain ") ".
std::optional<pid_t> parent_of(int proc, pid_t pid) {
  auto stat = read_small_file(std::to_string(pid) + "/stat", proc);
  if (!stat) return std::nullopt;
  size_t close = stat->rfind(')');
  if (close == std::string::npos || close + 4 >= stat->size()) return std::nullopt;
  std::string_view rest(*stat);
  rest.remove_prefix(close + 4);  // ") S "
  pid_t ppid = 0;
  auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), ppid);
  if (ec != std::errc()) return std::nullopt;
  return ppid;
}

// The init's descendants through /proc/<pid>/task/<tid>/children
// (CONFIG_PROC_CHILDREN): a walk of the sandbox's processes only, however
// many the pod runs. nullopt when the kernel has no such file.
std::optional<std::vector<pid_t>> descendants(pid_t init_pid) {
  std::vector<pid_t> out;
  std::vector<pid_t> queue = {init_pid};
  while (!queue.empty() && out.size() < 65536) {
    pid_t pid = queue.back();
    queue.pop_back();
    std::string tasks = "/proc/" + std::to_string(pid) + "/task";
    DIR* dir = ::opendir(tasks.c_str());
    if (dir == nullptr) continue;  // exited meanwhile
    while (dirent* entry = ::readdir(dir)) {
      if (entry->d_name[0] == '.') continue;
      auto children = read_small_file(tasks + "/" + entry->d_name + "/children");
      if (!children) {
        if (pid == init_pid && errno == ENOENT) {
          ::closedir(dir);
          return std::nullopt;
        }
        continue;
      }
      std::string_view rest(*children);
      while (!rest.empty()) {
        size_t space = rest.find(' ');
        std::string_view word = rest.substr(0, space);
        pid_t child = 0;
        if (std::from_chars(word.data(), word.data() + word.size(), child).ec == std::errc() &&
            child > 0) {
          out.push_back(child);
          queue.push_back(child);
        }
        if (space == std::string_view::npos) break;
        rest.remove_prefix(space + 1);
      }
    }
    ::closedir(dir);
  }
  return out;
}

// Every process whose parent chain reaches the init, as seen from here.
std::vector<pid_t> sandbox_processes(pid_t init_pid) {
  if (auto walked = descendants(init_pid)) return *walked;
  std::map<pid_t, pid_t> parents;
  DIR* dir = ::opendir("/proc");
  if (dir == nullptr) return {};
  int proc = ::dirfd(dir);
  // readdir tells an error from the end only through errno. A listing
  // that broke off returns nothing: a partial list is no list.
  errno = 0;
  while (dirent* entry = ::readdir(dir)) {
    pid_t pid = 0;
    std::string_view name(entry->d_name);
    auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), pid);
    if (ec != std::errc() || end != name.data() + name.size()) continue;
    if (auto ppid = parent_of(proc, pid)) parents[pid] = *ppid;
    errno = 0;
  }
  bool complete = errno == 0;
  ::closedir(dir);
  if (!complete) return {};
  std::vector<pid_t> out;
  for (const auto& [pid, ppid] : parents) {
    pid_t cursor = ppid;
    for (size_t depth = 0; depth < 4096 && cursor > 1; ++depth) {
      if (cursor == init_pid) {
        out.push_back(pid);
        break;
      }
      auto it = parents.find(cursor);
      if (it == parents.end()) break;
      cursor = it->second;
    }
  }
  return out;
}

// Calls `each` with every name in the directory `dir` (an fd of its own,
// read from its start): getdents64 straight into a buffer, no stat.
// Returns false, errno set, when the listing broke off before its end: the
// caller then knows it may have missed a process or a descriptor.
template <typename Each>
bool for_each_entry(int dir, Each&& each) {
  alignas(dirent64) char buffer[16384];
  while (true) {
    ssize_t n = ::getdents64(dir, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    if (n == 0) return true;
    for (ssize_t offset = 0; offset < n;) {
      const auto* entry = reinterpret_cast<const dirent64*>(buffer + offset);
      offset += entry->d_reclen;
      if (entry->d_name[0] != '.') each(entry->d_name);
    }
  }
}

std::optional<pid_t> parse_pid(std::string_view name) {
  pid_t pid = 0;
  auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), pid);
  if (ec != std::errc() || end != name.data() + name.size() || pid <= 0) return std::nullopt;
  return pid;
}

// Every process of the PID namespace whose procfs is `proc`: one listing.
// Empty when the listing failed: a process missed could be a second owner
// of the client socket, so a partial list is no list.
std::optional<std::vector<pid_t>> namespace_processes(int proc) {
  std::vector<pid_t> out;
  UniqueFd dir(::openat(proc, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir) return std::nullopt;
  bool complete = for_each_entry(dir.get(), [&](const char* name) {
    if (auto pid = parse_pid(name)) out.push_back(*pid);
  });
  if (!complete) return std::nullopt;
  return out;
}

// Whether one of `pid`'s fds is `link` ("socket:[inode]"): its fd
// directory listed once, each entry readlinkat'ed, nothing stat'ed. Empty
// when the listing broke off for any reason but the process's exit (an
// exited process sends nothing more).
std::optional<bool> holds_socket(int proc, pid_t pid, const std::string& link) {
  UniqueFd dir(
      ::openat(proc, (std::to_string(pid) + "/fd").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir) return false;
  bool found = false;
  char target[64];
  bool complete = for_each_entry(dir.get(), [&](const char* name) {
    if (found) return;
    ssize_t n = ::readlinkat(dir.get(), name, target, sizeof target);
    found = n == static_cast<ssize_t>(link.size()) &&
            link.compare(0, link.size(), target, static_cast<size_t>(n)) == 0;
  });
  if (!complete && !found && errno != ENOENT && errno != ESRCH) return std::nullopt;
  return found;
}

struct Chain {
  std::vector<std::string> exes;
  bool descends_from_init = true;
};

// `pid`'s exe, then its parents' up to the init (at most 64). With
// `check_descent`, the walk goes on (parents only) until it meets the
// init or leaves the namespace (a parent pid 0): a process entered into the
// namespace from outside is not the init's descendant.
std::optional<Chain> exe_chain(int proc, pid_t pid, pid_t init_pid, bool check_descent) {
  Chain chain;
  pid_t cursor = pid;
  while (cursor != init_pid && cursor > 1 && chain.exes.size() < kMaxAncestors) {
    auto exe = read_link(std::to_string(cursor) + "/exe", proc);
    // A process that exited mid-walk, or a kernel thread: no identity.
    if (!exe) return std::nullopt;
    chain.exes.push_back(std::move(*exe));
    auto parent = parent_of(proc, cursor);
    if (!parent) return std::nullopt;
    cursor = *parent;
  }
  if (chain.exes.empty()) return std::nullopt;
  if (check_descent) {
    for (size_t depth = 0; cursor != init_pid && cursor > 0 && depth < 4096; ++depth) {
      auto parent = parent_of(proc, cursor);
      if (!parent) return std::nullopt;
      cursor = *parent;
    }
    chain.descends_from_init = cursor == init_pid;
  }
  return chain;
}

}  // namespace

std::optional<SocketAddress> parse_proc_net_address(std::string_view field, bool v6) {
  size_t colon = field.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  std::string_view address = field.substr(0, colon);
  std::string_view port = field.substr(colon + 1);
  SocketAddress out;
  out.v6 = v6;
  size_t words = v6 ? 4 : 1;
  if (address.size() != words * 8 || port.size() != 4) return std::nullopt;
  for (size_t w = 0; w < words; ++w) {
    auto word = hex32(address.substr(w * 8, 8));
    if (!word) return std::nullopt;
    // The kernel prints each 32-bit word of the network-order address as a
    // host-order integer (%08X of the __be32, net/ipv4/tcp_ipv4.c); on a
    // little-endian machine the bytes come out reversed per word.
    uint32_t raw = *word;
    std::memcpy(out.bytes.data() + w * 4, &raw, 4);
  }
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value, 16);
  if (ec != std::errc() || end != port.data() + port.size()) return std::nullopt;
  out.port = static_cast<uint16_t>(value);
  return out;
}

std::optional<uint64_t> find_socket_inode(std::string_view table, const SocketAddress& local,
                                          const SocketAddress& remote) {
  size_t start = table.find('\n');  // the first line is a header
  while (start != std::string_view::npos && start < table.size()) {
    size_t end = table.find('\n', start + 1);
    std::string_view line = table.substr(
        start + 1, end == std::string_view::npos ? std::string_view::npos : end - start - 1);
    start = end;
    // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
    std::vector<std::string_view> fields;
    size_t i = 0;
    while (i < line.size() && fields.size() < 10) {
      while (i < line.size() && line[i] == ' ') ++i;
      size_t j = i;
      while (j < line.size() && line[j] != ' ') ++j;
      if (j > i) fields.push_back(line.substr(i, j - i));
      i = j;
    }
    if (fields.size() < 10) continue;
    auto l = parse_proc_net_address(fields[1], local.v6);
    auto r = parse_proc_net_address(fields[2], local.v6);
    if (!l || !r || !(*l == local) || !(*r == remote)) continue;
    uint64_t inode = 0;
    auto [p, ec] = std::from_chars(fields[9].data(), fields[9].data() + fields[9].size(), inode);
    if (ec != std::errc() || inode == 0) continue;
    return inode;
  }
  return std::nullopt;
}

std::optional<uint64_t> diag_socket_inode(int diag, const SocketAddress& local,
                                          const SocketAddress& remote) {
  struct {
    nlmsghdr header;
    inet_diag_req_v2 request;
  } message{};
  message.header.nlmsg_len = sizeof message;
  message.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  message.header.nlmsg_flags = NLM_F_REQUEST;  // one socket, not a dump
  message.header.nlmsg_seq = 1;
  message.request.sdiag_family = local.v6 ? AF_INET6 : AF_INET;
  message.request.sdiag_protocol = IPPROTO_TCP;
  message.request.idiag_states = ~0u;
  message.request.id.idiag_sport = htons(local.port);
  message.request.id.idiag_dport = htons(remote.port);
  std::memcpy(message.request.id.idiag_src, local.bytes.data(), local.v6 ? 16 : 4);
  std::memcpy(message.request.id.idiag_dst, remote.bytes.data(), remote.v6 ? 16 : 4);
  message.request.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
  message.request.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (::sendto(diag, &message, sizeof message, 0, reinterpret_cast<sockaddr*>(&kernel),
               sizeof kernel) != static_cast<ssize_t>(sizeof message)) {
    return std::nullopt;
  }
  alignas(nlmsghdr) char buffer[8192];
  ssize_t n = ::recv(diag, buffer, sizeof buffer, 0);
  if (n <= 0) return std::nullopt;
  for (auto* h = reinterpret_cast<nlmsghdr*>(buffer); NLMSG_OK(h, static_cast<unsigned>(n));
       h = NLMSG_NEXT(h, n)) {
    if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY) return std::nullopt;  // NLMSG_ERROR: none
    if (h->nlmsg_len < NLMSG_LENGTH(sizeof(inet_diag_msg))) return std::nullopt;
    const auto* found = static_cast<const inet_diag_msg*>(NLMSG_DATA(h));
    if (found->idiag_inode == 0) return std::nullopt;
    return found->idiag_inode;
  }
  return std::nullopt;
}

Result<CallerIdentity> identify_caller(pid_t init_pid, const SocketAddress& peer,
                                       const SocketAddress& listener, int diag, int sandbox_proc) {
  std::optional<uint64_t> inode;
  if (diag >= 0) inode = diag_socket_inode(diag, peer, listener);
  if (!inode) {
    std::string table_path =
        "/proc/" + std::to_string(init_pid) + (peer.v6 ? "/net/tcp6" : "/net/tcp");
    auto table = read_small_file(table_path);
    if (!table) return fail_errno("read " + table_path);
    inode = find_socket_inode(*table, peer, listener);
    if (!inode) return fail("the client socket is not in " + table_path);
  }

  std::string link = "socket:[" + std::to_string(*inode) + "]";
  // The sandbox's own procfs: its processes in one listing, pids as the
  // sandbox sees them (the init is 1). Otherwise the init's descendants
  // in the supervisor's /proc.
  UniqueFd pod_proc;
  int proc = sandbox_proc;
  pid_t init = 1;
  std::vector<pid_t> processes;
  if (sandbox_proc >= 0) {
    auto listed = namespace_processes(sandbox_proc);
    if (!listed) return fail_errno("list the sandbox's /proc");
    processes = std::move(*listed);
  } else {
    pod_proc.reset(::open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!pod_proc) return fail_errno("open /proc");
    proc = pod_proc.get();
    init = init_pid;
    processes = sandbox_processes(init_pid);
  }

  std::optional<CallerIdentity> found;
  for (pid_t pid : processes) {
    if (pid == init) continue;  // the supervisor's own init, never a caller
    auto holds = holds_socket(proc, pid, link);
    if (!holds) return fail_errno("list the descriptors of process " + std::to_string(pid));
    if (!*holds) continue;
    auto chain = exe_chain(proc, pid, init, /*check_descent=*/sandbox_proc >= 0);
    if (!chain) return fail("the owner of the client socket could not be identified");
    if (!chain->descends_from_init) continue;  // not a sandbox process
    if (found && found->exe_chain != chain->exes) {
      return fail("the client socket is shared by processes of different binaries (" +
                  found->exe_chain.front() + ", " + chain->exes.front() + ")");
    }
    if (!found) found = CallerIdentity{pid, std::move(chain->exes)};
  }
  if (!found) return fail("no sandbox process owns the client socket");
  return *found;
}

Result<UniqueFd> open_sandbox_proc(int sandbox_root, pid_t init_pid) {
  UniqueFd proc(::openat(sandbox_root, "proc", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!proc) return fail_errno("open the sandbox's /proc");
  struct statfs fs {};
  if (::fstatfs(proc.get(), &fs) != 0) return fail_errno("statfs the sandbox's /proc");
  if (fs.f_type != PROC_SUPER_MAGIC) return fail("the sandbox's /proc is not a procfs");
  // Its pid 1 must be in the init's PID namespace: then it is the init, and
  // the procfs lists exactly that namespace (and any below it).
  auto theirs = read_link("1/ns/pid", proc.get());
  auto init = read_link("/proc/" + std::to_string(init_pid) + "/ns/pid");
  if (!theirs || !init) return fail_errno("read the PID namespace of the sandbox's init");
  if (*theirs != *init) return fail("the sandbox's /proc is not of the sandbox's PID namespace");
  return proc;
}

}  // namespace openshell::egress
