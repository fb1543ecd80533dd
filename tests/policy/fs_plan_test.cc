// The filesystem tree, the mount plan and the Landlock plan derived from it,
// and that the two plans agree.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

#include "sandbox-policy/fs_tree.h"
#include "sandbox-policy/landlock_plan.h"
#include "sandbox-policy/mount_plan.h"

namespace openshell::policy {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;

const std::string kBinary = "/opt/openshell/bin/openshell-supervisor";

CompileInputs default_inputs() {
  CompileInputs in;
  in.workdir = "/sandbox";
  in.supervisor_binary = kBinary;
  return in;
}

FsTree tree_of(const Policy& p, const CompileInputs& in,
               std::vector<std::string>* notes = nullptr) {
  std::vector<std::string> local;
  auto t = build_fs_tree(p, in, notes ? *notes : local);
  EXPECT_TRUE(t.has_value()) << t.error().to_string();
  return t ? *t : FsTree{};
}

const FsNode* node(const FsTree& t, const std::string& path) {
  for (const FsNode& n : t.nodes) {
    if (n.path == path) return &n;
  }
  return nullptr;
}

TEST(PathWithin, ComponentBoundaries) {
  EXPECT_TRUE(path_is_within("/a/b", "/a"));
  EXPECT_TRUE(path_is_within("/a", "/a"));
  EXPECT_FALSE(path_is_within("/ab", "/a"));
  EXPECT_TRUE(path_is_within("/x", "/"));
}

TEST(FsTree, DefaultPolicyTree) {
  FsTree t = tree_of(default_policy("/sandbox"), default_inputs());
  for (const char* ro : {"/usr", "/lib", "/app", "/etc", "/var/log"}) {
    ASSERT_NE(node(t, ro), nullptr) << ro;
    EXPECT_EQ(node(t, ro)->access, FsAccess::kReadOnly) << ro;
    EXPECT_EQ(node(t, ro)->source, FsSource::kBind) << ro;
  }
  for (const char* rw : {"/dev/null", "/dev/urandom", "/dev/zero", "/dev/pts", "/dev/shm",
                         "/sandbox"}) {
    ASSERT_NE(node(t, rw), nullptr) << rw;
    EXPECT_EQ(node(t, rw)->access, FsAccess::kReadWrite) << rw;
  }
  // The standard /dev, whatever the policy names below it.
  for (const char* dev : {"/dev", "/dev/null", "/dev/urandom", "/dev/zero", "/dev/tty"}) {
    ASSERT_NE(node(t, dev), nullptr) << dev;
    EXPECT_EQ(node(t, dev)->source, FsSource::kDev) << dev;
  }
  ASSERT_NE(node(t, "/proc"), nullptr);
  EXPECT_EQ(node(t, "/proc")->source, FsSource::kProc);
  EXPECT_EQ(node(t, "/proc")->access, FsAccess::kReadOnly);
  ASSERT_NE(node(t, "/tmp"), nullptr);
  EXPECT_EQ(node(t, "/tmp")->source, FsSource::kTmpfs);
  EXPECT_EQ(node(t, "/tmp")->access, FsAccess::kReadWrite);
  for (const std::string& hidden : supervisor_only_paths()) {
    ASSERT_NE(node(t, hidden), nullptr) << hidden;
    EXPECT_EQ(node(t, hidden)->access, FsAccess::kMasked);
  }
  ASSERT_NE(node(t, kBinary), nullptr);
  EXPECT_EQ(node(t, kBinary)->access, FsAccess::kReadOnly);
  EXPECT_EQ(node(t, kBinary)->source, FsSource::kBind);
  // Sorted: every ancestor before its descendants.
  for (size_t i = 0; i < t.nodes.size(); ++i) {
    for (size_t j = i + 1; j < t.nodes.size(); ++j) {
      EXPECT_FALSE(path_is_within(t.nodes[i].path, t.nodes[j].path) &&
                   t.nodes[i].path != t.nodes[j].path)
          << t.nodes[j].path << " after its descendant " << t.nodes[i].path;
    }
  }
}

TEST(FsTree, WorkdirIncludedOnlyWhenAsked) {
  Policy p;
  p.filesystem.read_only = {"/usr"};
  FsTree t = tree_of(p, default_inputs());
  ASSERT_NE(node(t, "/sandbox"), nullptr);
  EXPECT_EQ(node(t, "/sandbox")->origin, "workdir");
  p.filesystem.include_workdir = false;
  t = tree_of(p, default_inputs());
  EXPECT_EQ(node(t, "/sandbox"), nullptr);
}

TEST(FsTree, WorkdirConflictsAndBadWorkdirs) {
  Policy p;
  p.filesystem.read_only = {"/sandbox"};
  std::vector<std::string> notes;
  auto t = build_fs_tree(p, default_inputs(), notes);
  ASSERT_FALSE(t.has_value());
  EXPECT_EQ(t.error().key, "filesystem_policy.include_workdir");
  EXPECT_THAT(t.error().message, HasSubstr("filesystem_policy.read_only"));

  CompileInputs in = default_inputs();
  for (const char* bad : {"relative", "/", "/etc/openshell/work", "/a/../b"}) {
    in.workdir = bad;
    t = build_fs_tree(Policy{}, in, notes);
    ASSERT_FALSE(t.has_value()) << bad;
    EXPECT_EQ(t.error().key, "workdir") << bad;
  }
}

TEST(FsTree, ProbeSkipsMissingAndSymlinkedPathsWithNotes) {
  CompileInputs in = default_inputs();
  in.path_probe = [](const std::string& path) {
    if (path == "/app" || path == "/run/openshell") return PathKind::kMissing;
    if (path == "/bin" || path == "/lib64") return PathKind::kSymlink;
    if (path == "/dev/null" || path == "/dev/urandom") return PathKind::kOther;
    return PathKind::kDirectory;
  };
  std::vector<std::string> notes;
  FsTree t = tree_of(default_policy("/sandbox"), in, &notes);
  EXPECT_EQ(node(t, "/app"), nullptr);
  EXPECT_EQ(node(t, "/bin"), nullptr);
  EXPECT_EQ(node(t, "/lib64"), nullptr);
  EXPECT_EQ(node(t, "/run/openshell"), nullptr);  // nothing to hide
  EXPECT_NE(node(t, "/usr"), nullptr);
  EXPECT_THAT(notes, Contains(HasSubstr("'/app' does not exist")));
  EXPECT_THAT(notes, Contains(HasSubstr("'/bin' is a symlink")));
}

TEST(FsTree, EntriesBelowProcAreNotBoundFromOutside) {
  Policy p;
  p.filesystem.read_only = {"/proc/sys/kernel"};
  FsTree t = tree_of(p, default_inputs());
  ASSERT_NE(node(t, "/proc/sys/kernel"), nullptr);
  // The pod's /proc must never be bound into the sandbox: it shows the
  // supervisor.
  EXPECT_EQ(node(t, "/proc/sys/kernel")->source, FsSource::kProc);
  MountPlan m = build_mount_plan(t);
  for (const MountOp& op : m.ops) EXPECT_NE(op.target, "/proc/sys/kernel");
}

// bubblewrap's order: the fresh /tmp first, then paths below it bound on top
// (a workdir or a checkout under /tmp).
TEST(FsTree, PathsBelowTmpAreBoundOnTopOfTheFreshTmp) {
  Policy p;
  p.filesystem.read_only = {"/usr", "/tmp/keep"};
  p.filesystem.read_write = {"/tmp/cache"};
  CompileInputs in = default_inputs();
  in.workdir = "/tmp/work";
  FsTree t = tree_of(p, in);
  EXPECT_EQ(node(t, "/tmp")->source, FsSource::kTmpfs);
  for (const char* path : {"/tmp/keep", "/tmp/cache", "/tmp/work"}) {
    ASSERT_NE(node(t, path), nullptr) << path;
    EXPECT_EQ(node(t, path)->source, FsSource::kBind) << path;
  }
  MountPlan m = build_mount_plan(t);
  auto index = [&](const std::string& target) {
    for (size_t i = 0; i < m.ops.size(); ++i) {
      if (m.ops[i].target == target) return static_cast<int>(i);
    }
    return -1;
  };
  ASSERT_GE(index("/tmp"), 0);
  EXPECT_GT(index("/tmp/keep"), index("/tmp"));
  EXPECT_EQ(m.ops[index("/tmp/keep")].kind, MountKind::kBindReadOnly);
  EXPECT_EQ(m.ops[index("/tmp/cache")].kind, MountKind::kBindReadWrite);
  EXPECT_EQ(m.ops[index("/tmp/work")].kind, MountKind::kBindReadWrite);
}

// /bin -> usr/bin is copied as a link when /usr is granted; a link whose
// target is not granted is not.
TEST(FsTree, ImageSymlinksIntoGrantsAreCopied) {
  CompileInputs in = default_inputs();
  in.image_symlinks = {{"/bin", "usr/bin"}, {"/lib64", "usr/lib64"}, {"/srv", "/data/srv"}};
  in.path_probe = [](const std::string& path) {
    if (path == "/bin" || path == "/lib64" || path == "/srv") return PathKind::kSymlink;
    return PathKind::kDirectory;
  };
  Policy p;
  p.filesystem.read_only = {"/usr", "/bin"};
  FsTree t = tree_of(p, in);
  ASSERT_NE(node(t, "/bin"), nullptr);
  EXPECT_EQ(node(t, "/bin")->source, FsSource::kSymlink);
  EXPECT_EQ(node(t, "/bin")->link, "usr/bin");
  ASSERT_NE(node(t, "/lib64"), nullptr);
  EXPECT_EQ(node(t, "/srv"), nullptr);
  MountPlan m = build_mount_plan(t);
  auto link = std::find_if(m.ops.begin(), m.ops.end(),
                           [](const MountOp& op) { return op.target == "/bin"; });
  ASSERT_NE(link, m.ops.end());
  EXPECT_EQ(link->kind, MountKind::kSymlink);
  EXPECT_EQ(link->source, "usr/bin");
  // No Landlock rule on a link: its target's rule applies.
  LandlockPlan l = build_landlock_plan(t, false);
  for (const LandlockRule& rule : l.rules) EXPECT_NE(rule.path, "/bin");
}

// Identity tokens and the configured key and policy files are masked even
// below a grant, and a file is masked with a file.
TEST(FsTree, TokensKeysAndPolicyAreMaskedBelowGrants) {
  CompileInputs in = default_inputs();
  in.masked_files = {"/app/policy.yaml", "/etc/ssh-keys/host"};
  in.path_probe = [](const std::string& path) {
    if (path == "/app/policy.yaml" || path == "/etc/ssh-keys/host") return PathKind::kFile;
    return PathKind::kDirectory;
  };
  Policy p;
  p.filesystem.read_only = {"/usr", "/var", "/run", "/app", "/app/policy.yaml", "/etc"};
  FsTree t = tree_of(p, in);
  for (const char* hidden :
       {"/var/run/secrets/eks.amazonaws.com", "/var/run/secrets/azure",
        "/var/run/secrets/kubernetes.io", "/run/secrets/kubernetes.io", "/app/policy.yaml",
        "/etc/ssh-keys/host"}) {
    ASSERT_NE(node(t, hidden), nullptr) << hidden;
    EXPECT_EQ(node(t, hidden)->access, FsAccess::kMasked) << hidden;
  }
  MountPlan m = build_mount_plan(t);
  auto kind_of = [&](const std::string& target) {
    for (const MountOp& op : m.ops) {
      if (op.target == target) return op.kind;
    }
    return MountKind::kRootTmpfs;
  };
  EXPECT_EQ(kind_of("/app/policy.yaml"), MountKind::kMaskFile);
  EXPECT_EQ(kind_of("/var/run/secrets/eks.amazonaws.com"), MountKind::kMask);
}

TEST(FsTree, PassThroughDevicesAreReadWriteDeviceBinds) {
  CompileInputs in = default_inputs();
  in.devices = {"/dev/nvidia0", "/dev/nvidiactl", "/dev/dri/renderD128"};
  FsTree t = tree_of(Policy{}, in);
  for (const std::string& device : in.devices) {
    ASSERT_NE(node(t, device), nullptr) << device;
    EXPECT_EQ(node(t, device)->source, FsSource::kDevice) << device;
  }
  MountPlan m = build_mount_plan(t);
  LandlockPlan l = build_landlock_plan(t, false);
  auto rule = std::find_if(l.rules.begin(), l.rules.end(),
                           [](const LandlockRule& r) { return r.path == "/dev/nvidia0"; });
  ASSERT_NE(rule, l.rules.end());
  EXPECT_EQ(rule->access & (kLandlockFsReadFile | kLandlockFsWriteFile | kLandlockFsIoctlDev),
            kLandlockFsReadFile | kLandlockFsWriteFile | kLandlockFsIoctlDev);
  bool bound = false;
  for (const MountOp& op : m.ops) bound |= op.target == "/dev/nvidia0" && op.kind == MountKind::kBindDevice;
  EXPECT_TRUE(bound);
}

TEST(MountPlan, OrderAndKinds) {
  MountPlan m = build_mount_plan(tree_of(default_policy("/sandbox"), default_inputs()));
  ASSERT_FALSE(m.ops.empty());
  EXPECT_EQ(m.ops[0].kind, MountKind::kRootTmpfs);
  EXPECT_EQ(m.ops[0].target, "/");
  std::map<std::string, const MountOp*> by_target;
  for (size_t i = 0; i < m.ops.size(); ++i) {
    by_target[m.ops[i].target] = &m.ops[i];
    for (size_t j = 0; j < i; ++j) {
      EXPECT_FALSE(path_is_within(m.ops[j].target, m.ops[i].target) &&
                   m.ops[j].target != m.ops[i].target && m.ops[i].target != "/")
          << m.ops[i].target << " mounted after its descendant " << m.ops[j].target;
    }
  }
  EXPECT_EQ(by_target["/usr"]->kind, MountKind::kBindReadOnly);
  EXPECT_EQ(by_target["/usr"]->source, "/usr");
  EXPECT_EQ(by_target["/sandbox"]->kind, MountKind::kBindReadWrite);
  EXPECT_EQ(by_target["/proc"]->kind, MountKind::kProc);
  EXPECT_EQ(by_target["/tmp"]->kind, MountKind::kTmpfs);
  EXPECT_EQ(by_target["/tmp"]->mode, 01777u);
  EXPECT_EQ(by_target["/dev"]->kind, MountKind::kDev);
  EXPECT_EQ(by_target["/proc/kcore"]->kind, MountKind::kMaskFile);
  EXPECT_EQ(by_target["/proc/sys"]->kind, MountKind::kProcReadOnly);
  // Nothing of the image is bound but what the policy names.
  for (const MountOp& op : m.ops) {
    if (op.kind == MountKind::kBindReadOnly || op.kind == MountKind::kBindReadWrite) {
      EXPECT_NE(op.source, "/") << op.target;
    }
  }
  const MountOp* opt = by_target["/opt/openshell"];
  ASSERT_NE(opt, nullptr);
  EXPECT_EQ(opt->kind, MountKind::kMask);
  EXPECT_THAT(opt->create_inside, ::testing::ElementsAre(kBinary));
  ASSERT_NE(by_target[kBinary], nullptr);
  EXPECT_EQ(by_target[kBinary]->kind, MountKind::kBindReadOnly);
  for (const std::string& hidden : supervisor_only_paths()) {
    ASSERT_NE(by_target[hidden], nullptr) << hidden;
    EXPECT_EQ(by_target[hidden]->kind, MountKind::kMask) << hidden;
  }
}

// The mount that decides what is visible at `path`: the last op whose
// target contains it.
const MountOp* covering_mount(const MountPlan& m, const std::string& path) {
  const MountOp* found = nullptr;
  for (const MountOp& op : m.ops) {
    if (path_is_within(path, op.target)) found = &op;
  }
  return found;
}

bool mount_writable(MountKind k) {
  return k == MountKind::kBindReadWrite || k == MountKind::kTmpfs || k == MountKind::kProc ||
         k == MountKind::kDev || k == MountKind::kBindDevice;
}

void expect_agreement(const Policy& p, const CompileInputs& in) {
  FsTree t = tree_of(p, in);
  MountPlan m = build_mount_plan(t);
  LandlockPlan l = build_landlock_plan(t, false);
  // Every Landlock rule sits on a mount that allows at least as much.
  for (const LandlockRule& rule : l.rules) {
    const MountOp* op = covering_mount(m, rule.path);
    ASSERT_NE(op, nullptr) << rule.path;
    EXPECT_NE(op->kind, MountKind::kMask) << rule.path << " is granted but masked";
    if (rule.access & kLandlockFsWriteFile) {
      EXPECT_TRUE(mount_writable(op->kind))
          << rule.path << " is writable in Landlock but mounted " << mount_kind_name(op->kind);
    }
  }
  // Every writable bind has a writable Landlock rule at the same path, and
  // every masked path has no rule.
  for (const MountOp& op : m.ops) {
    auto rule = std::find_if(l.rules.begin(), l.rules.end(),
                             [&](const LandlockRule& r) { return r.path == op.target; });
    if (op.kind == MountKind::kBindReadWrite) {
      ASSERT_NE(rule, l.rules.end()) << op.target;
      EXPECT_EQ(rule->access, kLandlockAllFsAccess) << op.target;
    }
    if (op.kind == MountKind::kBindReadOnly) {
      ASSERT_NE(rule, l.rules.end()) << op.target;
      EXPECT_EQ(rule->access & kLandlockFsWriteFile, 0u) << op.target;
    }
    if (op.kind == MountKind::kMask) {
      EXPECT_EQ(rule, l.rules.end()) << op.target;
    }
  }
}

TEST(Agreement, MountsAndLandlockAgreeForDefaultPolicy) {
  expect_agreement(default_policy("/sandbox"), default_inputs());
}

TEST(Agreement, MountsAndLandlockAgreeForNestedGrants) {
  Policy p;
  // A read-only path under a writable bind: only the mount keeps it
  // read-only (Landlock rules add up), which the bind can do.
  p.filesystem.read_only = {"/usr", "/data", "/data/rw/ro-again", "/proc/self"};
  p.filesystem.read_write = {"/data/rw", "/tmp/x", "/var/cache"};
  expect_agreement(p, default_inputs());
}

// CUDA's thread names (/proc/self/task/<tid>/comm): with devices passed
// through, /proc's files are writable, nothing more; without, read-only.
TEST(FsTree, ProcFilesAreWritableOnlyWithPassThroughDevices) {
  auto proc_rule = [](const CompileInputs& in, const Policy& p) {
    LandlockPlan l = build_landlock_plan(tree_of(p, in), false);
    auto rule = std::find_if(l.rules.begin(), l.rules.end(),
                             [](const LandlockRule& r) { return r.path == "/proc"; });
    return rule == l.rules.end() ? uint64_t{0} : rule->access;
  };
  CompileInputs gpu = default_inputs();
  gpu.devices = {"/dev/nvidia0"};
  EXPECT_EQ(proc_rule(default_inputs(), Policy{}), kLandlockReadOnlyAccess);
  EXPECT_EQ(proc_rule(gpu, Policy{}), kLandlockReadOnlyAccess | kLandlockFsWriteFile);
  expect_agreement(Policy{}, gpu);
  // A read-only entry below it would silently have writable files.
  Policy below;
  below.filesystem.read_only = {"/proc/sys/kernel"};
  std::vector<std::string> notes;
  auto t = build_fs_tree(below, gpu, notes);
  ASSERT_FALSE(t.has_value());
  EXPECT_THAT(t.error().to_string(), HasSubstr("its files are writable"));
  EXPECT_TRUE(build_fs_tree(below, default_inputs(), notes).has_value());
}

TEST(LandlockPlan, RightsPerAccess) {
  FsTree t = tree_of(default_policy("/sandbox"), default_inputs());
  LandlockPlan l = build_landlock_plan(t, true, {"/dev/null", "/dev/urandom", kBinary});
  EXPECT_TRUE(l.hard_requirement);
  EXPECT_EQ(l.handled_access_fs, kLandlockAllFsAccess);
  EXPECT_EQ(l.handled_access_net, 0u);
  EXPECT_EQ(l.scoped, kLandlockScopeAbstractUnixSocket | kLandlockScopeSignal);
  std::map<std::string, uint64_t> rights;
  for (const LandlockRule& r : l.rules) rights[r.path] = r.access;
  EXPECT_EQ(rights["/usr"], kLandlockFsExecute | kLandlockFsReadFile | kLandlockFsReadDir);
  EXPECT_EQ(rights["/sandbox"], kLandlockAllFsAccess);
  EXPECT_TRUE(rights["/sandbox"] & kLandlockFsRefer);
  EXPECT_TRUE(rights["/sandbox"] & kLandlockFsTruncate);
  EXPECT_TRUE(rights["/sandbox"] & kLandlockFsIoctlDev);
  EXPECT_TRUE(rights["/sandbox"] & kLandlockFsMakeDir);
  EXPECT_TRUE(rights["/sandbox"] & kLandlockFsRemoveFile);
  // Files get file rights only (landlock_add_rule(2): EINVAL otherwise).
  EXPECT_EQ(rights["/dev/null"], kLandlockFileAccess);
  // Standard devices are read and written whatever the policy lists.
  EXPECT_EQ(rights["/dev/urandom"], kLandlockFileAccess);
  EXPECT_EQ(rights[kBinary], kLandlockFsExecute | kLandlockFsReadFile);
  EXPECT_FALSE(rights.contains("/etc/openshell"));
}

TEST(LandlockAbi, RightsPerAbi) {
  EXPECT_EQ(landlock_fs_access_for_abi(0), 0u);
  EXPECT_EQ(landlock_fs_access_for_abi(1), (1u << 13) - 1);
  EXPECT_EQ(landlock_fs_access_for_abi(2), (1u << 14) - 1);
  EXPECT_EQ(landlock_fs_access_for_abi(3), (1u << 15) - 1);
  EXPECT_EQ(landlock_fs_access_for_abi(4), (1u << 15) - 1);
  EXPECT_EQ(landlock_fs_access_for_abi(5), (1u << 16) - 1);
  EXPECT_EQ(landlock_net_access_for_abi(3), 0u);
  EXPECT_EQ(landlock_net_access_for_abi(4), 3u);
  EXPECT_EQ(landlock_scopes_for_abi(5), 0u);
  EXPECT_EQ(landlock_scopes_for_abi(6), 3u);
  EXPECT_EQ(landlock_fs_access_for_abi(7), kLandlockAllFsAccess);
}

TEST(LandlockAbi, FitsThePlanAndReportsWhatIsDropped) {
  FsTree t = tree_of(default_policy("/sandbox"), default_inputs());
  LandlockPlan plan = build_landlock_plan(t, false);

  LandlockAbiFit latest = landlock_for_abi(plan, 7);
  EXPECT_TRUE(latest.dropped.empty());
  EXPECT_FALSE(latest.fatal);
  EXPECT_EQ(latest.plan.scoped, plan.scoped);

  LandlockAbiFit v2 = landlock_for_abi(plan, 2);
  EXPECT_FALSE(v2.fatal);  // best effort
  EXPECT_THAT(v2.dropped,
              ::testing::UnorderedElementsAre("truncate", "ioctl_dev", "scope.abstract_unix_socket",
                                              "scope.signal"));
  EXPECT_EQ(v2.plan.handled_access_fs, landlock_fs_access_for_abi(2));
  EXPECT_EQ(v2.plan.scoped, 0u);
  for (const LandlockRule& r : v2.plan.rules) {
    EXPECT_EQ(r.access & ~landlock_fs_access_for_abi(2), 0u) << r.path;
  }

  LandlockAbiFit none = landlock_for_abi(plan, 0);
  EXPECT_FALSE(none.fatal);
  EXPECT_TRUE(none.plan.rules.empty());
  EXPECT_FALSE(none.dropped.empty());
}

TEST(LandlockAbi, HardRequirementFailsWhereReadOnlyCannotHold) {
  FsTree t = tree_of(default_policy("/sandbox"), default_inputs());
  LandlockPlan plan = build_landlock_plan(t, true);
  EXPECT_TRUE(landlock_for_abi(plan, 0).fatal);
  EXPECT_THAT(landlock_for_abi(plan, 0).reason, HasSubstr("unavailable"));
  LandlockAbiFit v2 = landlock_for_abi(plan, 2);
  EXPECT_TRUE(v2.fatal);  // no truncate: read-only files could be truncated
  EXPECT_THAT(v2.reason, HasSubstr("truncate"));
  EXPECT_FALSE(landlock_for_abi(plan, 3).fatal);
  EXPECT_FALSE(landlock_for_abi(plan, 5).fatal);
  EXPECT_FALSE(landlock_for_abi(plan, 7).fatal);
}

TEST(LandlockAbi, AccessNames) {
  EXPECT_EQ(landlock_fs_access_names(kLandlockReadOnlyAccess), "execute|read_file|read_dir");
  EXPECT_EQ(landlock_fs_access_names(0), "none");
}

}  // namespace
}  // namespace openshell::policy
