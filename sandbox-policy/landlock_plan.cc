// Landlock rules from the filesystem tree, and their fit to a kernel's ABI
// (Documentation/userspace-api/landlock.rst, "Backward and forward
// compatibility": handle only the rights the running kernel knows).
#include "landlock_plan.h"

#include <algorithm>

namespace openshell::policy {
namespace {

struct NamedRight {
  uint64_t bit;
  const char* name;
  int abi;
};

constexpr NamedRight kFsRights[] = {
    {kLandlockFsExecute, "execute", 1},      {kLandlockFsWriteFile, "write_file", 1},
    {kLandlockFsReadFile, "read_file", 1},   {kLandlockFsReadDir, "read_dir", 1},
    {kLandlockFsRemoveDir, "remove_dir", 1}, {kLandlockFsRemoveFile, "remove_file", 1},
    {kLandlockFsMakeChar, "make_char", 1},   {kLandlockFsMakeDir, "make_dir", 1},
    {kLandlockFsMakeReg, "make_reg", 1},     {kLandlockFsMakeSock, "make_sock", 1},
    {kLandlockFsMakeFifo, "make_fifo", 1},   {kLandlockFsMakeBlock, "make_block", 1},
    {kLandlockFsMakeSym, "make_sym", 1},     {kLandlockFsRefer, "refer", 2},
    {kLandlockFsTruncate, "truncate", 3},    {kLandlockFsIoctlDev, "ioctl_dev", 5},
};
constexpr NamedRight kNetRights[] = {
    {kLandlockNetBindTcp, "net.bind_tcp", 4},
    {kLandlockNetConnectTcp, "net.connect_tcp", 4},
};
constexpr NamedRight kScopes[] = {
    {kLandlockScopeAbstractUnixSocket, "scope.abstract_unix_socket", 6},
    {kLandlockScopeSignal, "scope.signal", 6},
};

template <size_t N>
uint64_t known(const NamedRight (&table)[N], int abi) {
  uint64_t mask = 0;
  for (const NamedRight& r : table) {
    if (r.abi <= abi) mask |= r.bit;
  }
  return mask;
}

template <size_t N>
void name_bits(const NamedRight (&table)[N], uint64_t bits, std::vector<std::string>& out) {
  for (const NamedRight& r : table) {
    if (bits & r.bit) out.push_back(r.name);
  }
}

}  // namespace

uint64_t landlock_fs_access_for_abi(int abi) {
  return known(kFsRights, abi);
}
uint64_t landlock_net_access_for_abi(int abi) {
  return known(kNetRights, abi);
}
uint64_t landlock_scopes_for_abi(int abi) {
  return known(kScopes, abi);
}

LandlockPlan build_landlock_plan(const FsTree& tree, bool hard_requirement,
                                 const std::vector<std::string>& file_paths) {
  LandlockPlan plan;
  plan.handled_access_fs = kLandlockAllFsAccess;
  // Egress is not restricted by Landlock: network_policies name hosts,
  // which TCP port rules cannot express. See report.h.
  plan.handled_access_net = 0;
  // Without these a sandboxed process could kill(2) the supervisor's other
  // processes sharing its uid, or reach abstract unix sockets of the pod
  // (which have no filesystem permission to check) (landlock.rst, "Scope
  // flags", ABI 6).
  plan.scoped = kLandlockScopeAbstractUnixSocket | kLandlockScopeSignal;
  plan.hard_requirement = hard_requirement;
  // The view's root is an empty tmpfs holding only what the tree names:
  // listing it (and the directories made to reach a grant) shows nothing
  // the policy does not already grant. A tree node for "/" replaces this.
  bool root_node = !tree.nodes.empty() && tree.nodes.front().path == "/";
  if (!root_node) plan.rules.push_back({"/", kLandlockFsReadDir, "empty root"});
  for (const FsNode& node : tree.nodes) {
    // A link in the view is followed to its target, which has its own rule.
    if (node.source == FsSource::kSymlink) continue;
    uint64_t access = 0;
    switch (node.access) {
      case FsAccess::kReadOnly:
        access = kLandlockReadOnlyAccess;
        break;
      case FsAccess::kReadWrite:
        access = kLandlockAllFsAccess;
        break;
      case FsAccess::kReadOnlyWriteFiles:
        access = kLandlockReadOnlyAccess | kLandlockFsWriteFile;
        break;
      case FsAccess::kMasked:
        continue;  // no rule: denied beneath, whatever a parent grants is empty tmpfs
    }
    if (node.file ||
        std::find(file_paths.begin(), file_paths.end(), node.path) != file_paths.end()) {
      access &= kLandlockFileAccess;
    }
    plan.rules.push_back({node.path, access, node.origin});
  }
  return plan;
}

LandlockAbiFit landlock_for_abi(const LandlockPlan& plan, int abi) {
  LandlockAbiFit fit;
  fit.plan = plan;
  if (abi <= 0) {
    name_bits(kFsRights, plan.handled_access_fs, fit.dropped);
    name_bits(kNetRights, plan.handled_access_net, fit.dropped);
    name_bits(kScopes, plan.scoped, fit.dropped);
    fit.plan.handled_access_fs = fit.plan.handled_access_net = fit.plan.scoped = 0;
    fit.plan.rules.clear();
    fit.fatal = plan.hard_requirement;
    if (fit.fatal)
      fit.reason =
          "Landlock is unavailable and landlock.compatibility is "
          "hard_requirement";
    return fit;
  }
  uint64_t fs = landlock_fs_access_for_abi(abi);
  uint64_t net = landlock_net_access_for_abi(abi);
  uint64_t scopes = landlock_scopes_for_abi(abi);
  uint64_t dropped_fs = plan.handled_access_fs & ~fs;
  name_bits(kFsRights, dropped_fs, fit.dropped);
  name_bits(kNetRights, plan.handled_access_net & ~net, fit.dropped);
  name_bits(kScopes, plan.scoped & ~scopes, fit.dropped);
  fit.plan.handled_access_fs &= fs;
  fit.plan.handled_access_net &= net;
  fit.plan.scoped &= scopes;
  for (LandlockRule& rule : fit.plan.rules) rule.access &= fs;
  // A right the kernel cannot handle is allowed everywhere. Fatal under
  // hard_requirement when that breaks the policy's read-only promise:
  // truncate (ABI 3). Without refer (ABI 2) the kernel denies every
  // cross-directory rename and link instead, which is stricter; without
  // ioctl_dev (ABI 5) device ioctls are unrestricted, as they were for every
  // kernel before 6.10; both are reported in `dropped`.
  uint64_t fatal_fs = dropped_fs & (landlock_fs_access_for_abi(1) | kLandlockFsTruncate);
  if (plan.hard_requirement && (fatal_fs != 0 || (plan.handled_access_net & ~net) != 0)) {
    fit.fatal = true;
    fit.reason = "kernel Landlock ABI " + std::to_string(abi) + " cannot enforce " +
                 landlock_fs_access_names(fatal_fs) +
                 " and landlock.compatibility is hard_requirement";
  }
  return fit;
}

std::string landlock_fs_access_names(uint64_t access) {
  std::vector<std::string> names;
  name_bits(kFsRights, access, names);
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : "|") + n;
  return out.empty() ? "none" : out;
}

}  // namespace openshell::policy
