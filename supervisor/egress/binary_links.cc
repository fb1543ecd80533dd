#include "binary_links.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>

#include "log.h"

namespace openshell::egress {
namespace {

constexpr int kMaxLinks = 40;  // as the kernel (MAXSYMLINKS)

std::deque<std::string> split(const std::string& path) {
  std::deque<std::string> out;
  size_t start = 0;
  while (start < path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string::npos) slash = path.size();
    if (slash > start) out.emplace_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  return out;
}

}  // namespace

std::string resolve_in_root(int root_fd, const std::string& path) {
  std::deque<std::string> pending = split(path);
  std::vector<std::string> resolved;
  int links = 0;
  while (!pending.empty()) {
    std::string part = std::move(pending.front());
    pending.pop_front();
    if (part == ".") continue;
    if (part == "..") {
      if (!resolved.empty()) resolved.pop_back();  // never above the root
      continue;
    }
    // Relative to the root's descriptor: lookups never pass through
    // /proc/<pid>/root again, which needs ptrace access the supervisor has
    // given up after start-up.
    std::string here = ".";
    for (const auto& r : resolved) here += "/" + r;
    here += "/" + part;
    struct stat st {};
    if (::fstatat(root_fd, here.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno != ENOENT && errno != ENOTDIR) {
        log::error("cannot resolve a policy binary path in the sandbox's view; "
                   "it matches only as written",
                   {{"path", path}, {"at", here.substr(1)}, {"cause", std::strerror(errno)}});
      }
      resolved.push_back(std::move(part));
      continue;
    }
    if (!S_ISLNK(st.st_mode)) {
      resolved.push_back(std::move(part));
      continue;
    }
    if (++links > kMaxLinks) return path;
    char buffer[4096];
    ssize_t n = ::readlinkat(root_fd, here.c_str(), buffer, sizeof buffer);
    if (n <= 0 || static_cast<size_t>(n) >= sizeof buffer) return path;
    std::string target(buffer, static_cast<size_t>(n));
    auto parts = split(target);
    if (!target.empty() && target.front() == '/') resolved.clear();
    for (auto it = parts.rbegin(); it != parts.rend(); ++it) pending.push_front(*it);
  }
  std::string out;
  for (const auto& r : resolved) out += "/" + r;
  return out.empty() ? "/" : out;
}

std::string resolve_in_root(const std::string& root, const std::string& path) {
  int fd = ::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return path;
  std::string out = resolve_in_root(fd, path);
  ::close(fd);
  return out;
}

std::vector<std::pair<std::string, std::string>> binary_symlink_targets(
    int root_fd, const policy::Policy& policy) {
  std::vector<std::pair<std::string, std::string>> out;
  const int root = root_fd;
  for (const auto& rule : policy.network_policies) {
    for (const auto& binary : rule.binaries) {
      if (binary.find('*') != std::string::npos || binary.empty() || binary[0] != '/') continue;
      std::string target = resolve_in_root(root, binary);
      if (target != binary) out.emplace_back(binary, target);
    }
  }
  return out;
}

}  // namespace openshell::egress
