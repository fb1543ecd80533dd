// Bounded readers of passwd(5) and group(5). The image is not trusted to be
// well-formed: every size is capped and every malformed line is an error
// with its line number, never a guess.
#include "identity.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>

#include "validate.h"

namespace openshell::policy {
namespace {

std::vector<std::string_view> split(std::string_view line, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    size_t end = line.find(sep, start);
    if (end == std::string_view::npos) {
      out.push_back(line.substr(start));
      return out;
    }
    out.push_back(line.substr(start, end - start));
    start = end + 1;
  }
}

bool parse_u32(std::string_view text, uint32_t& out) {
  if (text.empty()) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

std::unexpected<PolicyError> line_error(const std::string& file, int line, std::string message) {
  return std::unexpected(PolicyError{file, line, 0, "", std::move(message)});
}

// Calls `fn(line_number, line)` for each non-blank, non-comment line.
template <typename Fn>
PolicyResult<void> for_each_line(std::string_view text, const std::string& file, Fn fn) {
  if (text.size() > kMaxAccountFileBytes) {
    return line_error(file, 0, "larger than " + std::to_string(kMaxAccountFileBytes) + " bytes");
  }
  size_t entries = 0;
  int number = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++number;
    if (line.size() > kMaxAccountLineBytes) {
      return line_error(file, number,
                        "line longer than " + std::to_string(kMaxAccountLineBytes) + " bytes");
    }
    if (line.empty() || line[0] == '#') continue;
    if (++entries > kMaxAccountEntries) {
      return line_error(file, number,
                        "more than " + std::to_string(kMaxAccountEntries) + " entries");
    }
    if (line.find('\0') != std::string_view::npos) return line_error(file, number, "NUL byte");
    if (auto r = fn(number, line); !r) return r;
  }
  return {};
}

const PasswdEntry* find_user(const std::vector<PasswdEntry>& passwd, const std::string& name) {
  for (const PasswdEntry& e : passwd) {
    if (e.name == name) return &e;
  }
  return nullptr;
}

const PasswdEntry* find_uid(const std::vector<PasswdEntry>& passwd, uint32_t uid) {
  for (const PasswdEntry& e : passwd) {
    if (e.uid == uid) return &e;
  }
  return nullptr;
}

}  // namespace

PolicyResult<std::vector<PasswdEntry>> parse_passwd(std::string_view text,
                                                    const std::string& file_name) {
  std::vector<PasswdEntry> out;
  auto r = for_each_line(text, file_name, [&](int number, std::string_view line) {
    // name:password:uid:gid:gecos:home:shell
    auto f = split(line, ':');
    if (f.size() != 7) {
      return PolicyResult<void>(
          line_error(file_name, number, "expected 7 fields separated by ':'"));
    }
    PasswdEntry e;
    e.name = f[0];
    if (e.name.empty()) return PolicyResult<void>(line_error(file_name, number, "empty name"));
    if (!parse_u32(f[2], e.uid) || !parse_u32(f[3], e.gid)) {
      return PolicyResult<void>(line_error(file_name, number, "uid and gid must be decimal"));
    }
    e.home = f[5];
    e.shell = f[6];
    out.push_back(std::move(e));
    return PolicyResult<void>();
  });
  if (!r) return std::unexpected(r.error());
  return out;
}

PolicyResult<std::vector<GroupEntry>> parse_group(std::string_view text,
                                                  const std::string& file_name) {
  std::vector<GroupEntry> out;
  auto r = for_each_line(text, file_name, [&](int number, std::string_view line) {
    // name:password:gid:member,member
    auto f = split(line, ':');
    if (f.size() != 4) {
      return PolicyResult<void>(
          line_error(file_name, number, "expected 4 fields separated by ':'"));
    }
    GroupEntry e;
    e.name = f[0];
    if (e.name.empty()) return PolicyResult<void>(line_error(file_name, number, "empty name"));
    if (!parse_u32(f[2], e.gid)) {
      return PolicyResult<void>(line_error(file_name, number, "gid must be decimal"));
    }
    if (!f[3].empty()) {
      for (std::string_view m : split(f[3], ',')) {
        if (!m.empty()) e.members.emplace_back(m);
      }
    }
    out.push_back(std::move(e));
    return PolicyResult<void>();
  });
  if (!r) return std::unexpected(r.error());
  return out;
}

PolicyResult<std::optional<std::string>> read_bounded_file(const std::string& path,
                                                           size_t max_bytes) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) {
    if (errno == ENOENT) return std::optional<std::string>();
    return std::unexpected(PolicyError{path, 0, 0, "", std::string("open: ") + strerror(errno)});
  }
  // Only regular files: a FIFO would block and a device never ends.
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return std::unexpected(PolicyError{path, 0, 0, "", "not a regular file"});
  }
  std::string data;
  char buf[16384];
  while (true) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int saved = errno;
      close(fd);
      return std::unexpected(PolicyError{path, 0, 0, "", std::string("read: ") + strerror(saved)});
    }
    if (n == 0) break;
    if (data.size() + static_cast<size_t>(n) > max_bytes) {
      close(fd);
      return std::unexpected(
          PolicyError{path, 0, 0, "", "larger than " + std::to_string(max_bytes) + " bytes"});
    }
    data.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return std::optional<std::string>(std::move(data));
}

PolicyResult<Identity> resolve_identity(const Policy::Process& process, const IdentityInputs& in) {
  Identity id;
  const PasswdEntry* entry = nullptr;
  bool gid_known = false;

  if (in.env_uid.has_value() != in.env_gid.has_value()) {
    const char* missing = in.env_uid ? "OPENSHELL_SANDBOX_GID" : "OPENSHELL_SANDBOX_UID";
    const char* given = in.env_uid ? "OPENSHELL_SANDBOX_UID" : "OPENSHELL_SANDBOX_GID";
    return policy_error(missing, std::string("must be set together with ") + given);
  }
  if (in.env_uid) {
    auto uid = parse_id("OPENSHELL_SANDBOX_UID", *in.env_uid);
    if (!uid) return std::unexpected(uid.error());
    auto gid = parse_id("OPENSHELL_SANDBOX_GID", *in.env_gid);
    if (!gid) return std::unexpected(gid.error());
    id.uid = *uid;
    id.gid = *gid;
    gid_known = true;
    entry = find_uid(in.passwd, id.uid);
  } else if (!process.run_as_user.empty()) {
    if (is_numeric_id(process.run_as_user)) {
      auto uid = parse_id("process.run_as_user", process.run_as_user);
      if (!uid) return std::unexpected(uid.error());
      id.uid = *uid;
      entry = find_uid(in.passwd, id.uid);
    } else {
      entry = find_user(in.passwd, process.run_as_user);
      if (entry == nullptr) {
        return policy_error("process.run_as_user",
                            "no user '" + process.run_as_user + "' in the image's /etc/passwd");
      }
      id.uid = entry->uid;
    }
  } else if ((entry = find_user(in.passwd, "sandbox")) != nullptr) {
    id.uid = entry->uid;
  } else {
    // No `sandbox` user and nothing asked for: the conventional first
    // unprivileged id, which most agent images use for their user.
    id.uid = kFallbackId;
    id.gid = kFallbackId;
    gid_known = true;
    entry = find_uid(in.passwd, id.uid);
  }

  // The group, unless the environment fixed it.
  if (!in.env_uid && !process.run_as_group.empty()) {
    if (is_numeric_id(process.run_as_group)) {
      auto gid = parse_id("process.run_as_group", process.run_as_group);
      if (!gid) return std::unexpected(gid.error());
      id.gid = *gid;
    } else {
      auto it = std::find_if(in.group.begin(), in.group.end(),
                             [&](const GroupEntry& g) { return g.name == process.run_as_group; });
      if (it == in.group.end()) {
        return policy_error("process.run_as_group",
                            "no group '" + process.run_as_group + "' in the image's /etc/group");
      }
      id.gid = it->gid;
    }
    gid_known = true;
  }
  if (!gid_known) {
    if (entry == nullptr) {
      return policy_error(
          "process.run_as_group",
          "uid " + std::to_string(id.uid) + " has no /etc/passwd entry; give run_as_group");
    }
    id.gid = entry->gid;
  }
  if (id.uid == 0) {
    return policy_error("process.run_as_user",
                        "resolves to uid 0 (root); sandbox processes "
                        "never run as root");
  }
  if (id.gid == 0) {
    return policy_error("process.run_as_group", "resolves to gid 0 (root)");
  }
  if (id.uid > kMaxId || id.gid > kMaxId) {
    return policy_error("process.run_as_user", "id out of range [1, 4294967294]");
  }

  if (entry != nullptr) {
    id.user_name = entry->name;
    id.home = entry->home;
    id.shell = entry->shell;
    for (const GroupEntry& g : in.group) {
      if (g.gid == 0 || g.gid == id.gid || g.gid > kMaxId) continue;  // never root's group
      if (std::find(g.members.begin(), g.members.end(), entry->name) != g.members.end()) {
        id.supplementary_gids.push_back(g.gid);
      }
    }
    std::sort(id.supplementary_gids.begin(), id.supplementary_gids.end());
    id.supplementary_gids.erase(
        std::unique(id.supplementary_gids.begin(), id.supplementary_gids.end()),
        id.supplementary_gids.end());
    if (id.supplementary_gids.size() > kMaxSupplementaryGroups) {
      id.supplementary_gids.resize(kMaxSupplementaryGroups);
    }
  }
  if (id.home.empty() || id.home[0] != '/') id.home = in.workdir;
  // nologin shells would make every SSH shell and exec fail; the policy's
  // user is a sandbox user, so give it a usable shell.
  if (id.shell.empty() || id.shell[0] != '/' || id.shell.ends_with("/nologin") ||
      id.shell.ends_with("/false")) {
    id.shell = "/bin/sh";
  }
  return id;
}

PolicyResult<Identity> resolve_identity_from_image(const Policy::Process& process,
                                                   const std::string& image_root,
                                                   IdentityInputs inputs) {
  std::string root = image_root.empty() || image_root == "/" ? "" : image_root;
  if (!root.empty() && root.back() == '/') root.pop_back();
  auto passwd_text = read_bounded_file(root + "/etc/passwd", kMaxAccountFileBytes);
  if (!passwd_text) return std::unexpected(passwd_text.error());
  if (*passwd_text) {
    auto passwd = parse_passwd(**passwd_text, root + "/etc/passwd");
    if (!passwd) return std::unexpected(passwd.error());
    inputs.passwd = std::move(*passwd);
  }
  auto group_text = read_bounded_file(root + "/etc/group", kMaxAccountFileBytes);
  if (!group_text) return std::unexpected(group_text.error());
  if (*group_text) {
    auto group = parse_group(**group_text, root + "/etc/group");
    if (!group) return std::unexpected(group.error());
    inputs.group = std::move(*group);
  }
  return resolve_identity(process, inputs);
}

std::vector<UnresolvedName> unresolved_names(const Policy::Process& process,
                                             const std::string& image_root) {
  std::string root = image_root.empty() || image_root == "/" ? "" : image_root;
  if (!root.empty() && root.back() == '/') root.pop_back();
  std::vector<UnresolvedName> missing;
  auto load = [&](const std::string& file, auto parse) -> decltype(parse(std::string_view(), file)) {
    auto text = read_bounded_file(file, kMaxAccountFileBytes);
    if (!text || !*text) return {};
    return parse(**text, file);
  };
  if (!process.run_as_user.empty() && !is_numeric_id(process.run_as_user)) {
    std::string file = root + "/etc/passwd";
    auto passwd = load(file, parse_passwd);
    bool found = passwd && find_user(*passwd, process.run_as_user) != nullptr;
    if (!found) missing.push_back({"process.run_as_user", process.run_as_user, file});
  }
  if (!process.run_as_group.empty() && !is_numeric_id(process.run_as_group)) {
    std::string file = root + "/etc/group";
    auto group = load(file, parse_group);
    bool found = group && std::any_of(group->begin(), group->end(), [&](const GroupEntry& g) {
                   return g.name == process.run_as_group;
                 });
    if (!found) missing.push_back({"process.run_as_group", process.run_as_group, file});
  }
  return missing;
}

}  // namespace openshell::policy
