// Landlock ruleset derived from the filesystem tree. The constants are the
// kernel's uapi values (include/uapi/linux/landlock.h); the system headers
// of the build machine may be older than the kernel we run on.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "plan.h"

namespace openshell::policy {

// Filesystem rights, by the ABI that introduced them.
inline constexpr uint64_t kLandlockFsExecute = 1ull << 0;     // ABI 1
inline constexpr uint64_t kLandlockFsWriteFile = 1ull << 1;   // ABI 1
inline constexpr uint64_t kLandlockFsReadFile = 1ull << 2;    // ABI 1
inline constexpr uint64_t kLandlockFsReadDir = 1ull << 3;     // ABI 1
inline constexpr uint64_t kLandlockFsRemoveDir = 1ull << 4;   // ABI 1
inline constexpr uint64_t kLandlockFsRemoveFile = 1ull << 5;  // ABI 1
inline constexpr uint64_t kLandlockFsMakeChar = 1ull << 6;    // ABI 1
inline constexpr uint64_t kLandlockFsMakeDir = 1ull << 7;     // ABI 1
inline constexpr uint64_t kLandlockFsMakeReg = 1ull << 8;     // ABI 1
inline constexpr uint64_t kLandlockFsMakeSock = 1ull << 9;    // ABI 1
inline constexpr uint64_t kLandlockFsMakeFifo = 1ull << 10;   // ABI 1
inline constexpr uint64_t kLandlockFsMakeBlock = 1ull << 11;  // ABI 1
inline constexpr uint64_t kLandlockFsMakeSym = 1ull << 12;    // ABI 1
inline constexpr uint64_t kLandlockFsRefer = 1ull << 13;      // ABI 2
inline constexpr uint64_t kLandlockFsTruncate = 1ull << 14;   // ABI 3
inline constexpr uint64_t kLandlockFsIoctlDev = 1ull << 15;   // ABI 5
// Network rights (ABI 4).
inline constexpr uint64_t kLandlockNetBindTcp = 1ull << 0;
inline constexpr uint64_t kLandlockNetConnectTcp = 1ull << 1;
// Scopes (ABI 6).
inline constexpr uint64_t kLandlockScopeAbstractUnixSocket = 1ull << 0;
inline constexpr uint64_t kLandlockScopeSignal = 1ull << 1;

inline constexpr int kLandlockLatestAbi = 7;  // ABI 7 added audit flags, no new rights

// Rights valid on a rule for a non-directory (landlock(7), EINVAL otherwise).
inline constexpr uint64_t kLandlockFileAccess = kLandlockFsExecute | kLandlockFsWriteFile |
                                                kLandlockFsReadFile | kLandlockFsTruncate |
                                                kLandlockFsIoctlDev;
inline constexpr uint64_t kLandlockReadOnlyAccess =
    kLandlockFsExecute | kLandlockFsReadFile | kLandlockFsReadDir;
inline constexpr uint64_t kLandlockAllFsAccess = (1ull << 16) - 1;

// The rights a kernel of `abi` knows (0 for no Landlock).
uint64_t landlock_fs_access_for_abi(int abi);
uint64_t landlock_net_access_for_abi(int abi);
uint64_t landlock_scopes_for_abi(int abi);

// Handles every filesystem right, restricts no network right, and turns on
// both scopes (a sandboxed process may not signal, or connect to an abstract
// unix socket of, a process outside its Landlock domain).
// `file_paths` lists tree paths known to be non-directories (their rules
// get kLandlockFileAccess-masked rights).
LandlockPlan build_landlock_plan(const FsTree& tree, bool hard_requirement,
                                 const std::vector<std::string>& file_paths = {});

struct LandlockAbiFit {
  LandlockPlan plan;                 // rights the kernel does not know removed
  std::vector<std::string> dropped;  // names of removed rights and scopes
  // True when the plan cannot be enforced as required: hard_requirement and
  // no Landlock, or a handled filesystem right dropped.
  bool fatal = false;
  std::string reason;  // why, when fatal
};

// Fits the plan to the kernel's ABI (landlock_create_ruleset with
// LANDLOCK_CREATE_RULESET_VERSION). abi <= 0: Landlock unavailable.
LandlockAbiFit landlock_for_abi(const LandlockPlan& plan, int abi);

// "execute|read_file|read_dir"
std::string landlock_fs_access_names(uint64_t access);

}  // namespace openshell::policy
