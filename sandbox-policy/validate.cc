// Every validation rule of the policy, single-field and cross-field, and the
// one conversion from proto to model. Error keys are dotted paths into the
// file; cross-field messages name the other field too.
#include "validate.h"

#include <algorithm>
#include <charconv>
#include <map>

#include "capabilities.h"
#include "environment.h"
#include "fs_tree.h"
#include "rlimits.h"
#include "seccomp_filter.h"

namespace openshell::policy {
namespace {

constexpr size_t kMaxNameBytes = 256;  // user and group names; glibc allows 256 (LOGIN_NAME_MAX)

std::string indexed(const std::string& key, size_t i) {
  return key + "[" + std::to_string(i) + "]";
}

PolicyResult<void> check_version(const proto::SandboxPolicy& m) {
  if (m.version() == 0) return policy_error("version", "missing: `version: 1` is required");
  if (m.version() != 1) {
    return policy_error("version", "unsupported version " + std::to_string(m.version()) +
                                       " (this build knows version 1)");
  }
  return {};
}

// Paths: normalised, counted, "/" never writable, no path both read-only and
// read-write, nothing inside a supervisor-only path.
PolicyResult<void> convert_filesystem(const proto::FilesystemPolicy& m, Policy& out) {
  auto& fs = out.filesystem;
  fs.include_workdir = m.has_include_workdir() ? m.include_workdir() : true;
  size_t total = 0;
  // path -> key of its first mention, to name both fields on a conflict
  std::map<std::string, std::string> read_only_keys, read_write_keys;

  auto take = [&](const auto& list, const char* key, std::vector<std::string>& dest,
                  std::map<std::string, std::string>& keys) -> PolicyResult<void> {
    for (int i = 0; i < list.size(); ++i) {
      std::string k = indexed(std::string("filesystem_policy.") + key, i);
      if (++total > kMaxPaths) {
        return policy_error(k, "more than " + std::to_string(kMaxPaths) +
                                   " paths in read_only and read_write together");
      }
      auto path = normalize_path(k, list[i]);
      if (!path) return std::unexpected(path.error());
      for (const std::string& hidden : supervisor_only_paths()) {
        if (path_is_within(*path, hidden)) {
          return policy_error(k, "'" + *path + "' is inside the supervisor-only path '" + hidden +
                                     "', which is always hidden from the sandbox");
        }
      }
      if (keys.emplace(*path, k).second) dest.push_back(*path);  // duplicates: first wins
    }
    return {};
  };
  if (auto r = take(m.read_only(), "read_only", fs.read_only, read_only_keys); !r) return r;
  if (auto r = take(m.read_write(), "read_write", fs.read_write, read_write_keys); !r) return r;

  // /proc is a fresh procfs: nothing can be bound below it, and a
  // read-only Landlock rule beneath a writable one takes nothing away
  // (rules add up), so a read-only entry there would silently be writable.
  // Below the fresh /tmp a read-only entry is a read-only bind on top of it
  // (DESIGN.md §6.2), which the mount keeps read-only.
  for (const auto& [path, key] : read_only_keys) {
    if (read_write_keys.contains("/proc") && path_is_within(path, "/proc") && path != "/proc") {
      return policy_error(key, "'" + path + "' cannot be read-only inside /proc (" +
                                   read_write_keys["/proc"] + "), a fresh writable mount");
    }
  }
  for (const auto& [path, key] : read_write_keys) {
    if (path == "/") {
      return policy_error(key, "'/' cannot be read-write: it would make the whole image writable");
    }
    if (auto it = read_only_keys.find(path); it != read_only_keys.end()) {
      return policy_error(key, "'" + path + "' is also listed in " + it->second +
                                   "; a path is either read-only or read-write");
    }
  }
  return {};
}

PolicyResult<void> check_account(const std::string& key, const std::string& value) {
  if (value.empty()) return {};
  if (is_numeric_id(value)) {
    auto id = parse_id(key, value);
    if (!id) return std::unexpected(id.error());
    return {};
  }
  if (value.size() > kMaxNameBytes) {
    return policy_error(key, "name longer than " + std::to_string(kMaxNameBytes) + " bytes");
  }
  for (char c : value) {
    if (c == ':' || c == '\n' || c == '\0' || c == '/' || c == ' ') {
      return policy_error(key, "'" + value + "' is neither a user/group name nor a decimal id");
    }
  }
  return {};
}

PolicyResult<void> convert_seccomp(const proto::Seccomp& m, Policy& out) {
  std::map<std::string, std::string> deny_keys;
  for (int i = 0; i < m.deny_size(); ++i) {
    std::string k = indexed("seccomp.deny", i);
    if (!is_known_syscall(m.deny(i))) {
      return policy_error(k, "unknown system call '" + m.deny(i) + "'");
    }
    if (m.deny(i) == "execve") {
      // The filter is loaded just before execve(2) starts the process.
      return policy_error(k, "denying execve would stop every sandbox process from starting");
    }
    if (deny_keys.emplace(m.deny(i), k).second) out.seccomp.deny.push_back(m.deny(i));
  }
  for (int i = 0; i < m.unsafe_allow_size(); ++i) {
    std::string k = indexed("seccomp.unsafe_allow", i);
    const std::string& name = m.unsafe_allow(i);
    // Built on first use: most policies allow nothing back, and building
    // the list is a fifth of the policy load's instructions.
    const auto& builtin = default_denied_syscalls();
    if (std::find(builtin.begin(), builtin.end(), name) == builtin.end()) {
      return policy_error(k, "'" + name + "' is not in the built-in deny list");
    }
    if (auto it = deny_keys.find(name); it != deny_keys.end()) {
      return policy_error(k, "'" + name + "' is also denied by " + it->second);
    }
    out.seccomp.unsafe_allow.push_back(name);
  }
  return {};
}

PolicyResult<void> convert_limits(const proto::Limits& m, Policy& out) {
  const std::pair<const char*, const std::string*> fields[] = {
      {"nofile", &m.nofile()},   {"nproc", &m.nproc()}, {"as", &m.as()},
      {"fsize", &m.fsize()},     {"cpu", &m.cpu()},     {"stack", &m.stack()},
      {"memlock", &m.memlock()}, {"data", &m.data()},
  };
  for (const auto& [name, value] : fields) {
    if (value->empty()) continue;
    auto limit = parse_limit(name, *value);
    if (!limit) return std::unexpected(limit.error());
    out.limits.push_back(*limit);
  }
  return {};
}

}  // namespace

bool is_numeric_id(const std::string& text) {
  return !text.empty() &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

PolicyResult<uint32_t> parse_id(const std::string& key, const std::string& text) {
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (!is_numeric_id(text) || ec != std::errc() || end != text.data() + text.size()) {
    if (ec == std::errc::result_out_of_range) {
      return policy_error(key, "id " + text + " is out of range [1, 4294967294]");
    }
    return policy_error(key, "'" + text + "' is not a decimal id");
  }
  if (value == 0) {
    return policy_error(key, "id 0 (root) is not allowed: sandbox processes never run as root");
  }
  if (value > kMaxId) {
    return policy_error(key, "id " + text + " is out of range [1, 4294967294]");
  }
  return static_cast<uint32_t>(value);
}

PolicyResult<std::string> normalize_path(const std::string& key, const std::string& path) {
  if (path.empty()) return policy_error(key, "empty path");
  if (path.size() >= kMaxPathBytes) {
    return policy_error(key, "path is " + std::to_string(path.size()) + " bytes; at most " +
                                 std::to_string(kMaxPathBytes - 1) + " (PATH_MAX)");
  }
  if (path.find('\0') != std::string::npos) return policy_error(key, "path contains a NUL byte");
  if (path[0] != '/') return policy_error(key, "path must be absolute: '" + path + "'");
  std::string out;
  size_t i = 0;
  while (i < path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    std::string_view part(path.data() + i, j - i);
    if (part == "..") {
      // Refused, not resolved: the meaning of ".." depends on symlinks at
      // run time, and a policy must say exactly what it grants.
      return policy_error(key, "path must not contain '..': '" + path + "'");
    }
    if (!part.empty() && part != ".") {
      out += '/';
      out += part;
    }
    i = j + 1;
  }
  return out.empty() ? std::string("/") : out;
}

PolicyResult<Policy> to_model(const proto::SandboxPolicy& m) {
  Policy out;
  if (auto r = check_version(m); !r) return std::unexpected(r.error());
  out.version = m.version();
  if (auto r = convert_filesystem(m.filesystem_policy(), out); !r) {
    return std::unexpected(r.error());
  }
  out.landlock = m.landlock().compatibility() == proto::Landlock::COMPATIBILITY_HARD_REQUIREMENT
                     ? LandlockCompatibility::kHardRequirement
                     : LandlockCompatibility::kBestEffort;
  if (auto r = check_account("process.run_as_user", m.process().run_as_user()); !r) {
    return std::unexpected(r.error());
  }
  if (auto r = check_account("process.run_as_group", m.process().run_as_group()); !r) {
    return std::unexpected(r.error());
  }
  out.process.run_as_user = m.process().run_as_user();
  out.process.run_as_group = m.process().run_as_group();
  if (auto r = convert_network_policies(m, out); !r) return std::unexpected(r.error());

  out.root_in_sandbox =
      m.user_namespace().has_root_in_sandbox() && m.user_namespace().root_in_sandbox();

  for (int i = 0; i < m.capabilities().unsafe_keep_size(); ++i) {
    auto cap = capability_from_name(indexed("capabilities.unsafe_keep", i),
                                    m.capabilities().unsafe_keep(i));
    if (!cap) return std::unexpected(cap.error());
    out.unsafe_keep_caps.push_back(*cap);
  }
  std::sort(out.unsafe_keep_caps.begin(), out.unsafe_keep_caps.end());
  out.unsafe_keep_caps.erase(std::unique(out.unsafe_keep_caps.begin(), out.unsafe_keep_caps.end()),
                             out.unsafe_keep_caps.end());

  if (auto r = convert_seccomp(m.seccomp(), out); !r) return std::unexpected(r.error());
  if (auto r = convert_limits(m.limits(), out); !r) return std::unexpected(r.error());

  switch (m.network().mode()) {
    case proto::Network::MODE_POD:
      out.network_mode = NetworkMode::kPod;
      break;
    case proto::Network::MODE_NONE:
      out.network_mode = NetworkMode::kNone;
      break;
    default:  // absent or proxy
      out.network_mode = NetworkMode::kProxy;
      break;
  }

  std::map<std::string, std::string> env(m.environment().begin(), m.environment().end());
  for (const auto& [key, value] : env) {
    std::string k = "environment." + key;
    if (!is_valid_env_name(key)) return policy_error(k, "not a valid variable name");
    if (key.starts_with("OPENSHELL_")) {
      return policy_error(k,
                          "OPENSHELL_* variables configure the supervisor and never reach "
                          "the sandbox");
    }
    if (value.find('\0') != std::string::npos) return policy_error(k, "value contains a NUL");
    out.environment.emplace(key, value);
  }
  return out;
}

}  // namespace openshell::policy
