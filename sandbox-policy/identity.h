// Sandbox identity from the image's /etc/passwd and /etc/group, read with
// bounded parsers (glibc's static NSS cannot be used, DESIGN.md §10).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "model.h"
#include "plan.h"
#include "policy_error.h"

namespace openshell::policy {

inline constexpr size_t kMaxAccountFileBytes = 4 << 20;  // 4 MiB
inline constexpr size_t kMaxAccountLineBytes = 4096;
inline constexpr size_t kMaxAccountEntries = 65536;
inline constexpr size_t kMaxSupplementaryGroups = 64;  // each needs a gid_map line (max 340)
inline constexpr uint32_t kFallbackId = 1000;          // uid and gid when no `sandbox` user exists

struct PasswdEntry {
  std::string name;
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::string home;
  std::string shell;
};

struct GroupEntry {
  std::string name;
  uint32_t gid = 0;
  std::vector<std::string> members;
};

// passwd(5) and group(5) formats. Blank lines and lines starting with '#'
// are skipped; a malformed line, an over-long line or too many entries is an
// error naming `file_name` and the line number.
PolicyResult<std::vector<PasswdEntry>> parse_passwd(std::string_view text,
                                                    const std::string& file_name);
PolicyResult<std::vector<GroupEntry>> parse_group(std::string_view text,
                                                  const std::string& file_name);

// Reads a whole file of at most `max_bytes`. A missing file is an empty
// optional, not an error (scratch images have no /etc/passwd).
PolicyResult<std::optional<std::string>> read_bounded_file(const std::string& path,
                                                           size_t max_bytes);

struct IdentityInputs {
  std::vector<PasswdEntry> passwd;  // empty when the image has no /etc/passwd
  std::vector<GroupEntry> group;
  std::optional<std::string> env_uid;  // OPENSHELL_SANDBOX_UID
  std::optional<std::string> env_gid;  // OPENSHELL_SANDBOX_GID
  std::string workdir;                 // home when passwd has none
};

// Order: OPENSHELL_SANDBOX_UID/GID (both or neither) win over
// process.run_as_user/run_as_group; then names or numbers from the policy;
// with nothing given, the user `sandbox` if passwd has it, else uid and gid
// kFallbackId. Id 0 is refused everywhere.
PolicyResult<Identity> resolve_identity(const Policy::Process& process,
                                        const IdentityInputs& inputs);

// Reads <image_root>/etc/passwd and etc/group and resolves.
PolicyResult<Identity> resolve_identity_from_image(const Policy::Process& process,
                                                   const std::string& image_root,
                                                   IdentityInputs inputs);

// A user or group name of the policy that `image_root`'s /etc/passwd or
// /etc/group does not define: for `validate-policy` off the image, where
// the machine's accounts are not the image's.
struct UnresolvedName {
  std::string key;   // "process.run_as_user"
  std::string name;  // "sandbox"
  std::string file;  // "<root>/etc/passwd"
};
std::vector<UnresolvedName> unresolved_names(const Policy::Process& process,
                                             const std::string& image_root);

}  // namespace openshell::policy
