#include "landlock.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "sandbox-policy/landlock_plan.h"

namespace openshell {
namespace {

// The uapi (include/uapi/linux/landlock.h); the build machine's headers may
// predate the kernel the sandbox runs on, so the layouts are spelled here.
constexpr long kCreateRuleset = 444;
constexpr long kAddRule = 445;
constexpr long kRestrictSelf = 446;
constexpr unsigned kCreateRulesetVersion = 1u << 0;
constexpr int kRulePathBeneath = 1;

struct RulesetAttr {
  uint64_t handled_access_fs;
  uint64_t handled_access_net;  // ABI 4
  uint64_t scoped;              // ABI 6
};

struct __attribute__((packed)) PathBeneathAttr {
  uint64_t allowed_access;
  int32_t parent_fd;
};

}  // namespace

int landlock_kernel_abi() {
  long abi = ::syscall(kCreateRuleset, nullptr, 0, kCreateRulesetVersion);
  return abi < 0 ? 0 : static_cast<int>(abi);
}

Result<std::optional<int>> landlock_max_abi() {
  const char* value = std::getenv("OPENSHELL_LANDLOCK_MAX_ABI");
  if (value == nullptr || *value == '\0') return std::optional<int>();
  char* end = nullptr;
  errno = 0;
  long cap = std::strtol(value, &end, 10);
  if (errno != 0 || *end != '\0' || cap < 1 || cap > 99) {
    return fail(std::string("OPENSHELL_LANDLOCK_MAX_ABI=") + value +
                ": must be a Landlock ABI version, an integer in [1, 99]");
  }
  return std::optional<int>(static_cast<int>(cap));
}

int landlock_abi() {
  int kernel = landlock_kernel_abi();
  auto cap = landlock_max_abi();
  if (!cap) return 0;
  return *cap ? std::min(kernel, **cap) : kernel;
}

Result<LandlockRuleset> create_landlock_ruleset(const policy::LandlockPlan& plan) {
  LandlockRuleset ruleset;
  // A cap that does not parse refuses the sandbox rather than guessing.
  if (auto cap = landlock_max_abi(); !cap) return std::unexpected(cap.error());
  ruleset.abi = landlock_abi();
  auto fit = policy::landlock_for_abi(plan, ruleset.abi);
  ruleset.dropped = fit.dropped;
  if (fit.fatal) return fail("landlock (hard_requirement): " + fit.reason);
  if (ruleset.abi <= 0) return ruleset;  // best effort: reported by the caller

  RulesetAttr attr{fit.plan.handled_access_fs, fit.plan.handled_access_net, fit.plan.scoped};
  // Older kernels reject a larger struct with non-zero unknown fields
  // (E2BIG), so pass only what this ABI knows.
  size_t size = ruleset.abi >= 6 ? sizeof(RulesetAttr) : ruleset.abi >= 4 ? 16 : 8;
  ruleset.fd.reset(static_cast<int>(::syscall(kCreateRuleset, &attr, size, 0u)));
  if (!ruleset.fd) return fail_errno("landlock_create_ruleset");
  ::fcntl(ruleset.fd.get(), F_SETFD, FD_CLOEXEC);

  for (const auto& rule : fit.plan.rules) {
    UniqueFd path(::open(rule.path.c_str(), O_PATH | O_CLOEXEC));
    if (!path) {
      // A path missing from the view, or one the sandbox identity cannot
      // reach, grants nothing; leaving its rule out loses no restriction.
      if (errno == ENOENT || errno == EACCES) {
        ruleset.skipped.push_back(rule.path + " (" + std::strerror(errno) + ")");
        continue;
      }
      return fail_errno("landlock rule: open " + rule.path);
    }
    struct stat st {};
    if (::fstat(path.get(), &st) != 0) return fail_errno("landlock rule: stat " + rule.path);
    uint64_t access = rule.access & fit.plan.handled_access_fs;
    // A rule on a file may only carry file rights (landlock(7): EINVAL).
    if (!S_ISDIR(st.st_mode)) access &= policy::kLandlockFileAccess;
    PathBeneathAttr beneath{access, path.get()};
    if (::syscall(kAddRule, ruleset.fd.get(), kRulePathBeneath, &beneath, 0u) != 0) {
      return fail_errno("landlock_add_rule " + rule.path);
    }
  }
  return ruleset;
}

bool landlock_restrict(int ruleset_fd) {
  return ::syscall(kRestrictSelf, ruleset_fd, 0u) == 0;
}

}  // namespace openshell
