#include "caller.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <fcntl.h>
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

std::optional<std::string> read_small_file(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
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

std::optional<std::string> read_link(const std::string& path) {
  char buffer[4096];
  ssize_t n = ::readlink(path.c_str(), buffer, sizeof buffer);
  if (n <= 0 || static_cast<size_t>(n) >= sizeof buffer) return std::nullopt;
  return std::string(buffer, static_cast<size_t>(n));
}

// The parent pid from /proc/<pid>/stat: the fields after the command name,
// which is in parentheses and may itself contain ") ".
std::optional<pid_t> parent_of(pid_t pid) {
  auto stat = read_small_file("/proc/" + std::to_string(pid) + "/stat");
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
  while (dirent* entry = ::readdir(dir)) {
    pid_t pid = 0;
    std::string_view name(entry->d_name);
    auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), pid);
    if (ec != std::errc() || end != name.data() + name.size()) continue;
    if (auto ppid = parent_of(pid)) parents[pid] = *ppid;
  }
  ::closedir(dir);
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

bool holds_socket(pid_t pid, const std::string& link) {
  std::string dir_path = "/proc/" + std::to_string(pid) + "/fd";
  DIR* dir = ::opendir(dir_path.c_str());
  if (dir == nullptr) return false;
  bool found = false;
  while (dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    auto target = read_link(dir_path + "/" + entry->d_name);
    if (target && *target == link) {
      found = true;
      break;
    }
  }
  ::closedir(dir);
  return found;
}

std::optional<std::vector<std::string>> exe_chain(pid_t pid, pid_t init_pid) {
  std::vector<std::string> chain;
  pid_t cursor = pid;
  while (cursor != init_pid && cursor > 1 && chain.size() < kMaxAncestors) {
    auto exe = read_link("/proc/" + std::to_string(cursor) + "/exe");
    // A process that exited mid-walk, or a kernel thread: no identity.
    if (!exe) return std::nullopt;
    chain.push_back(std::move(*exe));
    auto parent = parent_of(cursor);
    if (!parent) return std::nullopt;
    cursor = *parent;
  }
  if (chain.empty()) return std::nullopt;
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
    std::string_view line =
        table.substr(start + 1, end == std::string_view::npos ? std::string_view::npos
                                                              : end - start - 1);
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
                                       const SocketAddress& listener, int diag) {
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
  std::optional<CallerIdentity> found;
  for (pid_t pid : sandbox_processes(init_pid)) {
    if (!holds_socket(pid, link)) continue;
    auto chain = exe_chain(pid, init_pid);
    if (!chain) return fail("the owner of the client socket could not be identified");
    if (found && found->exe_chain != *chain) {
      return fail("the client socket is shared by processes of different binaries (" +
                  found->exe_chain.front() + ", " + chain->front() + ")");
    }
    if (!found) found = CallerIdentity{pid, std::move(*chain)};
  }
  if (!found) return fail("no sandbox process owns the client socket");
  return *found;
}

}  // namespace openshell::egress
