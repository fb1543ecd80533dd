// The sandbox's filesystem view (DESIGN.md §6.2), tested through the real
// supervisor with the escape probe (probe.cc) as the main process: built
// from an empty root, what the policy does not name does not exist, with or
// without Landlock; a standard /dev and a masked /proc for every policy;
// paths under /tmp bound on top of the fresh /tmp; the workdir made or
// refused before anything starts; HOME; GPU device nodes passed through.
//
// Landlock is taken away by a seccomp filter the test installs around the
// supervisor (the landlock_* system calls answer EOPNOTSUPP, as on a kernel
// booted without it); pod contents (a token, GPU nodes) are made in the
// test's own mount namespace, so the machine is left as it was.
#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pwd.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <sstream>

#include "harness.h"

namespace openshell::test {
namespace {

constexpr uid_t kSandboxUid = 1000;
constexpr gid_t kSandboxGid = 1000;

bool must_work() {
  const char* value = std::getenv("OPENSHELL_TESTS_MUST_WORK");
  return value != nullptr && std::string(value) == "1";
}

#define REQUIRE_FEATURE(available, reason)                           \
  do {                                                               \
    if (!(available)) {                                              \
      if (must_work()) FAIL() << "needed but missing: " << (reason); \
      GTEST_SKIP() << "needed but missing: " << (reason);            \
    }                                                                \
  } while (0)

void must(bool ok, const std::string& what) {
  if (!ok) throw std::runtime_error(what + ": " + std::strerror(errno));
}

int landlock_abi() {
  long abi = ::syscall(444, nullptr, 0, 1u);
  return abi < 0 ? 0 : static_cast<int>(abi);
}

// --- What the test puts around the supervisor ---------------------------------

// landlock_create_ruleset, landlock_add_rule, landlock_restrict_self (444-446
// on every architecture) fail with EOPNOTSUPP, as with Landlock disabled at
// boot. Inherited by the supervisor and everything it starts (seccomp(2)).
bool without_landlock() {
  static sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 444, 0, 2),
      BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, 446, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EOPNOTSUPP),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  static sock_fprog program = {sizeof filter / sizeof filter[0], filter};
  return ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &program) == 0;
}

// A private mount namespace for the supervisor about to start.
bool own_mount_namespace() {
  return ::unshare(CLONE_NEWNS) == 0 &&
         ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0;
}

bool put_file(const std::string& path, const std::string& content) {
  for (size_t at = path.find('/', 1); at != std::string::npos; at = path.find('/', at + 1)) {
    ::mkdir(path.substr(0, at).c_str(), 0755);
  }
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  bool ok = ::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size());
  ::close(fd);
  return ok;
}

constexpr const char* kEksToken = "/run/secrets/eks.amazonaws.com/serviceaccount/token";

// A pod's /run as EKS leaves it (IRSA's projected token), plus a file the
// platform put there that no rule hides, over a tmpfs in this namespace
// only. /var/run is /run's symlink on Debian.
bool plant_pod_run() {
  return ::mount("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") == 0 &&
         put_file(kEksToken, "eks-token") && put_file("/run/secrets/other/visible", "other");
}

// --- The world --------------------------------------------------------------------

struct World {
  std::string base;  // /var/tmp/openshell-view-XXXXXX, 0755, removed at the end
  std::string probe;
  std::string workdir;
  std::string readable;  // granted: note = "visible"
  std::string unlisted;  // in no policy: secret

  void create() {
    base = "/var/tmp/openshell-view-XXXXXX";
    must(::mkdtemp(base.data()) != nullptr, "mkdtemp");
    must(::chmod(base.c_str(), 0755) == 0, "chmod " + base);
    workdir = base + "/work";
    readable = base + "/readable";
    unlisted = base + "/unlisted";
    for (const auto& dir : {workdir, readable, unlisted, base + "/bin"}) {
      must(::mkdir(dir.c_str(), 0755) == 0, "mkdir " + dir);
    }
    const char* built = std::getenv("ESCAPE_PROBE");
    if (built == nullptr) throw std::runtime_error("ESCAPE_PROBE is not set");
    probe = base + "/bin/probe";
    std::filesystem::copy_file(built, probe);
    must(::chmod(probe.c_str(), 0755) == 0, "chmod " + probe);
    must(::chown(workdir.c_str(), kSandboxUid, kSandboxGid) == 0, "chown " + workdir);
    write_file(readable + "/note", "visible", 0644);
    write_file(unlisted + "/secret", "outside the policy", 0644);
  }

  // A policy with the probe's directory and `readable`, Landlock as asked.
  std::string policy(const std::string& name, const std::vector<std::string>& read_only,
                     const std::vector<std::string>& read_write = {},
                     const std::string& landlock = "hard_requirement",
                     const std::string& dir = "") {
    std::ostringstream text;
    text << "version: 1\nfilesystem_policy:\n  include_workdir: true\n  read_only: ["
         << base << "/bin, " << readable;
    for (const auto& path : read_only) text << ", " << path;
    text << "]\n  read_write: [/tmp";
    for (const auto& path : read_write) text << ", " << path;
    text << "]\nlandlock: {compatibility: " << landlock << "}\n"
         << "network: {mode: none}\n"
         << "process: {run_as_user: \"" << kSandboxUid << "\", run_as_group: \"" << kSandboxGid
         << "\"}\n";
    std::string path = (dir.empty() ? base : dir) + "/" + name;
    write_file(path, text.str(), 0644);
    return path;
  }

  void destroy() {
    if (!base.empty()) remove_tree(base);
  }
};

World world;

class WorldEnvironment : public ::testing::Environment {
 public:
  void SetUp() override { world.create(); }
  void TearDown() override { world.destroy(); }
};

const auto* const kWorldEnvironment = ::testing::AddGlobalTestEnvironment(new WorldEnvironment);

// --- Running the probe ------------------------------------------------------------

struct Report {
  std::string result;  // "ok", "errno ENOENT"
  std::string detail;
  RunResult run;
};

std::ostream& operator<<(std::ostream& out, const Report& r) {
  return out << "result=" << r.result << " detail=" << r.detail << " exit=" << r.run.exit_code
             << "\n--- stdout\n"
             << r.run.out << "\n--- stderr\n"
             << r.run.err;
}

struct How {
  std::string workdir = world.workdir;
  std::function<bool()> before_exec;
  std::map<std::string, std::string> env;
};

// Runs the probe once per attempt, in one sandbox: `sh -c` is not there
// (the policies grant no shell), so the supervisor runs the probe for each.
Report probe(const std::string& policy, const std::string& attempt,
             std::vector<std::string> args = {}, const How& how = {}) {
  std::vector<std::string> argv{"--policy", policy, "--", world.probe, attempt};
  argv.insert(argv.end(), args.begin(), args.end());
  std::map<std::string, std::string> env = how.env;
  env["OPENSHELL_WORKDIR"] = how.workdir;
  Options options = supervisor(argv, env);
  options.before_exec = how.before_exec;
  Report report;
  report.run = run(options);
  std::istringstream lines(report.run.out);
  std::string line, head = attempt + " result=";
  while (std::getline(lines, line)) {
    if (!line.starts_with(head)) continue;
    auto detail = line.find(" detail=");
    report.result = line.substr(head.size(), detail - head.size());
    if (detail != std::string::npos) report.detail = line.substr(detail + 8);
  }
  if (report.result.empty()) report.result = "<no report>";
  return report;
}

::testing::AssertionResult Reports(const Report& report, const std::string& expected,
                                   const std::string& detail = "\x01") {
  if (report.run.exit_code == 0 && report.result == expected &&
      (detail == "\x01" || report.detail == detail)) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "expected " << expected
                                       << (detail == "\x01" ? "" : " detail=" + detail) << ", got "
                                       << report;
}

bool user_namespaces_work() {
  pid_t pid = ::fork();
  if (pid == 0) ::_exit(::unshare(CLONE_NEWUSER) == 0 ? 0 : 1);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

class View : public ::testing::Test {
 protected:
  void SetUp() override {
    REQUIRE_FEATURE(user_namespaces_work(), "user namespaces (unshare(CLONE_NEWUSER) fails)");
  }
};

// --- Empty root ----------------------------------------------------------------------

// The finding of the security review: with Landlock unavailable, a token in
// a directory no policy names was read from the sandbox. In a view built
// from an empty root it does not exist.
TEST_F(View, WithoutLandlockWhatThePolicyDoesNotNameDoesNotExist) {
  std::string policy = world.policy("no-landlock.yaml", {"/usr", "/etc"}, {}, "best_effort");
  How how{.before_exec = [] { return own_mount_namespace() && plant_pod_run() && without_landlock(); }};
  auto token = probe(policy, "read", {kEksToken}, how);
  EXPECT_TRUE(Reports(token, "errno ENOENT"));
  // The wrapper worked: the supervisor ran without Landlock, and said so.
  EXPECT_NE(token.run.err.find("Landlock is not enforced"), std::string::npos) << token;
  EXPECT_TRUE(Reports(probe(policy, "read", {"/var/run/secrets/eks.amazonaws.com/serviceaccount/token"}, how),
                      "errno ENOENT"));
  EXPECT_TRUE(Reports(probe(policy, "read", {world.unlisted + "/secret"}, how), "errno ENOENT"));
  EXPECT_TRUE(Reports(probe(policy, "list", {world.unlisted}, how), "errno ENOENT"));
  // Control: a granted file is there.
  EXPECT_TRUE(Reports(probe(policy, "read", {world.readable + "/note"}, how), "ok", "visible"));
}

// A policy that grants /run and /var still never shows an identity token,
// nor the policy file where a grant covers it: masks, not Landlock.
TEST_F(View, WithoutLandlockTokensAndThePolicyFileAreMaskedBelowAGrant) {
  std::string policy =
      world.policy("granted-parent.yaml", {"/usr", "/run", "/var"}, {}, "best_effort", world.readable);
  How how{.before_exec = [] { return own_mount_namespace() && plant_pod_run() && without_landlock(); }};
  EXPECT_TRUE(Reports(probe(policy, "read", {kEksToken}, how), "errno ENOENT"));
  EXPECT_TRUE(Reports(probe(policy, "list", {"/run/secrets/eks.amazonaws.com"}, how), "ok", ""));
  // Control: the grant works for what no mask covers.
  EXPECT_TRUE(Reports(probe(policy, "read", {"/run/secrets/other/visible"}, how), "ok", "other"));
  // The policy file sits in a granted directory: an empty file covers it.
  EXPECT_TRUE(Reports(probe(policy, "read", {policy}, how), "ok", ""));
}

// --- Standard /dev ---------------------------------------------------------------------

// The policy names no device: every program still finds what every
// container runtime gives (`head -c 1M /dev/zero` was refused before).
TEST_F(View, StandardDevicesForEveryPolicy) {
  REQUIRE_FEATURE(landlock_abi() >= 1, "Landlock");
  std::string policy = world.policy("no-devices.yaml", {});
  auto zero = probe(policy, "read_bytes", {"/dev/zero", "1048576"});
  EXPECT_TRUE(Reports(zero, "ok", "1048576"));
  for (const char* device : {"/dev/null", "/dev/full", "/dev/random", "/dev/urandom"}) {
    EXPECT_TRUE(Reports(probe(policy, "open_rw", {device}), "ok")) << device;
  }
  EXPECT_TRUE(Reports(probe(policy, "write", {"/dev/null"}), "ok"));
  EXPECT_TRUE(Reports(probe(policy, "write", {"/dev/full"}), "errno ENOSPC"));
  // No controlling terminal in pipes mode: the device is there and says so.
  EXPECT_TRUE(Reports(probe(policy, "open_rw", {"/dev/tty"}), "errno ENXIO"));
  // A private devpts: the pty's name exists in the sandbox's /dev/pts.
  auto pty = probe(policy, "new_pty");
  EXPECT_TRUE(Reports(pty, "ok"));
  EXPECT_TRUE(pty.detail.starts_with("/dev/pts/")) << pty;
  EXPECT_TRUE(Reports(probe(policy, "write", {"/dev/shm/scratch"}), "ok"));
  // /dev itself is read-only: nothing new appears beside the devices.
  EXPECT_TRUE(Reports(probe(policy, "mount_mode", {"/dev"}), "ok", "ro"));
  EXPECT_TRUE(Reports(probe(policy, "mount_mode", {"/"}), "ok", "ro"));
}

// --- /proc ------------------------------------------------------------------------------

// The container runtime's masks on the fresh /proc (runc's maskedPaths and
// readonlyPaths), present or not on this kernel.
TEST_F(View, ProcHasTheContainerRuntimesMasks) {
  std::string policy = world.policy("proc.yaml", {"/proc"}, {}, "best_effort");
  How how{.before_exec = without_landlock};
  int checked = 0;
  for (const char* file : {"/proc/timer_list", "/proc/keys", "/proc/kcore", "/proc/sched_debug"}) {
    if (!std::filesystem::exists(file)) continue;
    ++checked;
    EXPECT_TRUE(Reports(probe(policy, "read", {file}, how), "ok", "")) << file << " is not masked";
  }
  EXPECT_GT(checked, 0) << "none of the masked files exists on this kernel";
  for (const char* dir : {"/proc/sys", "/proc/bus", "/proc/fs", "/proc/irq"}) {
    if (!std::filesystem::exists(dir)) continue;
    EXPECT_TRUE(Reports(probe(policy, "mount_mode", {dir}, how), "ok", "ro")) << dir;
  }
  // Control: the rest of the fresh /proc is there.
  auto comm = probe(policy, "read", {"/proc/self/comm"}, how);
  EXPECT_TRUE(Reports(comm, "ok"));
  EXPECT_TRUE(comm.detail.starts_with("probe")) << comm;
}

// --- /tmp and the workdir -------------------------------------------------------------

struct TempUnderTmp {
  std::string path;
  TempUnderTmp() {
    path = "/tmp/openshell-view-XXXXXX";
    must(::mkdtemp(path.data()) != nullptr, "mkdtemp /tmp");
    must(::chmod(path.c_str(), 0755) == 0, "chmod");
  }
  ~TempUnderTmp() { remove_tree(path); }
};

// bubblewrap's order: the fresh /tmp first, then the workdir and policy
// paths under /tmp bound on top of it.
TEST_F(View, WorkdirAndPolicyPathsUnderTmpAreBoundOnTopOfTheFreshTmp) {
  REQUIRE_FEATURE(landlock_abi() >= 1, "Landlock");
  TempUnderTmp tmp;
  std::string work = tmp.path + "/work", kept = tmp.path + "/kept";
  must(::mkdir(work.c_str(), 0755) == 0 && ::chown(work.c_str(), kSandboxUid, kSandboxGid) == 0,
       "mkdir " + work);
  must(::mkdir(kept.c_str(), 0755) == 0, "mkdir " + kept);
  write_file(kept + "/file", "kept", 0644);
  std::string policy = world.policy("tmp.yaml", {kept});
  How how{.workdir = work};
  auto wrote = probe(policy, "write", {work + "/made-inside"}, how);
  EXPECT_TRUE(Reports(wrote, "ok"));
  EXPECT_EQ(read_file(work + "/made-inside"), "escape\n") << wrote;
  EXPECT_TRUE(Reports(probe(policy, "read", {kept + "/file"}, how), "ok", "kept"));
  EXPECT_TRUE(Reports(probe(policy, "write", {kept + "/file"}, how), "errno EROFS"));
  // The rest of the pod's /tmp is not there; the fresh /tmp is writable.
  EXPECT_TRUE(Reports(probe(policy, "list", {tmp.path}, how), "ok"));
  EXPECT_TRUE(Reports(probe(policy, "write", {"/tmp/scratch"}, how), "ok"));
}

TEST_F(View, AMissingWorkdirIsCreatedForTheSandboxUser) {
  REQUIRE_FEATURE(landlock_abi() >= 1, "Landlock");
  std::string work = world.base + "/new/deeper";
  std::string policy = world.policy("new-workdir.yaml", {});
  How how{.workdir = work, .env = {{"OPENSHELL_LOG_LEVEL", "info"}}};
  auto report = probe(policy, "write", {work + "/file"}, how);
  EXPECT_TRUE(Reports(report, "ok"));
  struct stat st {};
  ASSERT_EQ(::stat(work.c_str(), &st), 0) << report;
  EXPECT_EQ(st.st_uid, kSandboxUid);
  EXPECT_EQ(st.st_gid, kSandboxGid);
  EXPECT_EQ(st.st_mode & 07777, 0755u);
  EXPECT_NE(report.run.err.find("workdir created"), std::string::npos) << report;
}

TEST_F(View, AWorkdirTheSandboxUserCannotEnterIsAnInputError) {
  std::string locked = world.base + "/locked";
  must(::mkdir(locked.c_str(), 0700) == 0, "mkdir " + locked);
  std::string work = locked + "/work";
  must(::mkdir(work.c_str(), 0755) == 0, "mkdir " + work);
  std::string policy = world.policy("locked.yaml", {});
  How how{.workdir = work};
  auto report = probe(policy, "environment", {}, how);
  EXPECT_EQ(report.run.exit_code, 2) << report;
  EXPECT_NE(report.run.err.find(work), std::string::npos) << report;
  EXPECT_NE(report.run.err.find("uid " + std::to_string(kSandboxUid)), std::string::npos) << report;
  EXPECT_EQ(report.result, "<no report>") << "the main process ran: " << report;
}

// --- HOME ------------------------------------------------------------------------------

std::string env_value(const Report& report, const std::string& key) {
  std::istringstream words(report.detail);
  std::string word;
  while (words >> word) {
    if (word.starts_with(key + "=")) return word.substr(key.size() + 1);
  }
  return "<no " + key + ">";
}

TEST_F(View, HomeIsTheUsersHomeWhenGrantedElseTheWorkdir) {
  REQUIRE_FEATURE(landlock_abi() >= 1, "Landlock");
  std::string policy = world.policy("home.yaml", {});
  auto report = probe(policy, "environment");
  ASSERT_TRUE(Reports(report, "ok"));
  const passwd* pw = ::getpwuid(kSandboxUid);
  std::string home = pw != nullptr ? pw->pw_dir : "";
  if (home.empty() || !std::filesystem::is_directory(home)) {
    EXPECT_EQ(env_value(report, "HOME"), world.workdir) << report;
    GTEST_SKIP() << "uid " << kSandboxUid << " has no home directory here; granted case not run";
  }
  EXPECT_EQ(env_value(report, "HOME"), world.workdir) << "home " << home << " is not granted";
  std::string granted = world.policy("home-granted.yaml", {}, {home});
  EXPECT_EQ(env_value(probe(granted, "environment"), "HOME"), home);
}

// --- GPUs ---------------------------------------------------------------------------------

// Stand-ins for what the NVIDIA device plugin gives a pod, in a /dev of this
// test's own: character devices of major 195 with no driver behind them
// (with_gpus), or only the standard devices (a machine with a GPU of its own
// looks like one without).
bool plant_devices(bool with_gpus) {
  if (::mount("tmpfs", "/dev", "tmpfs", MS_NOSUID, "mode=0755") != 0) return false;
  struct Node {
    const char* path;
    unsigned major, minor;
  };
  const Node nodes[] = {{"/dev/null", 1, 3},        {"/dev/zero", 1, 5},
                        {"/dev/full", 1, 7},        {"/dev/random", 1, 8},
                        {"/dev/urandom", 1, 9},     {"/dev/tty", 5, 0},
                        {"/dev/nvidia0", 195, 0},   {"/dev/nvidiactl", 195, 255},
                        {"/dev/nvidia-uvm", 195, 254}, {"/dev/nvidia-caps/nvidia-cap1", 195, 1}};
  ::mkdir("/dev/nvidia-caps", 0755);
  for (const Node& node : nodes) {
    if (!with_gpus && std::string_view(node.path).starts_with("/dev/nvidia")) continue;
    // chmod after mknod: the umask takes bits from mknod's mode.
    if (::mknod(node.path, S_IFCHR | 0666, makedev(node.major, node.minor)) != 0 ||
        ::chmod(node.path, 0666) != 0) {
      return false;
    }
  }
  return true;
}

TEST_F(View, GpuDeviceNodesArePassedThrough) {
  REQUIRE_FEATURE(landlock_abi() >= 5, "Landlock ABI 5 (ioctl_dev)");
  std::string policy = world.policy("gpu.yaml", {});
  How how{.before_exec = [] { return own_mount_namespace() && plant_devices(true); }};
  for (const char* device : {"/dev/nvidia0", "/dev/nvidiactl", "/dev/nvidia-uvm",
                             "/dev/nvidia-caps/nvidia-cap1"}) {
    auto type = probe(policy, "file_type", {device}, how);
    EXPECT_TRUE(Reports(type, "ok")) << device;
    EXPECT_TRUE(type.detail.starts_with("chr 195:")) << type;
    // The driver's answer (no driver here), not Landlock's or the view's.
    auto opened = probe(policy, "open_rw", {device}, how);
    EXPECT_TRUE(opened.result == "errno ENXIO" || opened.result == "errno ENODEV")
        << device << ": " << opened;
  }
  // CUDA names its threads through /proc/self/task/<tid>/comm: granted with
  // GPUs (writing to files, nothing more), refused without them.
  auto named = probe(policy, "thread_name", {}, how);
  EXPECT_TRUE(Reports(named, "ok")) << named;
  EXPECT_EQ(named.detail, "cuda-probe") << named;
  // Writing only: an open with O_TRUNC (Landlock's truncate) stays refused.
  EXPECT_TRUE(Reports(probe(policy, "write", {"/proc/self/comm"}, how), "errno EACCES"));
  How no_gpus{.before_exec = [] { return own_mount_namespace() && plant_devices(false); }};
  auto unnamed = probe(policy, "thread_name", {}, no_gpus);
  EXPECT_TRUE(Reports(unnamed, "errno EACCES")) << "without GPUs: " << unnamed;
  // `check` names them.
  Options check = supervisor({"check", "--policy", policy}, {{"OPENSHELL_WORKDIR", world.workdir}});
  check.before_exec = how.before_exec;
  auto result = run(check);
  EXPECT_NE(result.out.find("passed through: /dev/nvidia-caps/nvidia-cap1 /dev/nvidia-uvm "
                            "/dev/nvidia0 /dev/nvidiactl"),
            std::string::npos)
      << result.out << result.err;
  EXPECT_NE(result.out.find("files writable (Landlock write_file) for GPU thread names"),
            std::string::npos)
      << result.out;
}

// --- Network mode proxy --------------------------------------------------------------

// The sandbox asks the supervisor's DNS on its own loopback, whatever /etc
// the policy grants; /etc/hosts names only localhost. Both read-only.
TEST_F(View, ProxyModeGetsAGeneratedResolvConfAndHosts) {
  REQUIRE_FEATURE(landlock_abi() >= 1, "Landlock");
  for (bool etc_granted : {false, true}) {
    std::vector<std::string> read_only;
    if (etc_granted) read_only.push_back("/etc");
    std::string none = world.policy(etc_granted ? "dns-etc.yaml" : "dns.yaml", read_only);
    std::string text = read_file(none);
    std::string proxy = none.substr(0, none.size() - 5) + "-proxy.yaml";
    write_file(proxy, text.replace(text.find("mode: none"), 10, "mode: proxy"), 0644);
    SCOPED_TRACE(etc_granted ? "/etc granted" : "/etc not granted");
    auto resolv = probe(proxy, "read", {"/etc/resolv.conf"});
    EXPECT_TRUE(Reports(resolv, "ok"));
    EXPECT_NE(resolv.detail.find("nameserver 127.0.0.1"), std::string::npos) << resolv;
    EXPECT_EQ(resolv.detail.find("nameserver", resolv.detail.find("127.0.0.1")), std::string::npos)
        << "only the sandbox's DNS: " << resolv;
    auto hosts = probe(proxy, "read", {"/etc/hosts"});
    EXPECT_TRUE(Reports(hosts, "ok"));
    EXPECT_NE(hosts.detail.find("127.0.0.1\tlocalhost"), std::string::npos) << hosts;
    EXPECT_TRUE(Reports(probe(proxy, "write", {"/etc/resolv.conf"}), "errno EROFS"));
    EXPECT_TRUE(Reports(probe(proxy, "write", {"/etc/hosts"}), "errno EROFS"));
    // Control: mode none leaves the name files as the policy has them.
    auto pod = probe(none, "read", {"/etc/resolv.conf"});
    EXPECT_EQ(pod.detail.find("generated by openshell-supervisor"), std::string::npos) << pod;
  }
}

// --- validate-policy off the image -----------------------------------------------------

// In CI the machine is not the image: names it lacks are reported, not
// fatal; with --root the image's own files decide.
TEST(ValidatePolicy, ResolvesNamesAgainstTheImageRootOrSaysWhichItCouldNot) {
  std::string root = world.base + "/image", empty = world.base + "/empty-image";
  for (const auto& dir : {root, root + "/etc", root + "/usr", empty, empty + "/etc"}) {
    must(::mkdir(dir.c_str(), 0755) == 0 || errno == EEXIST, "mkdir " + dir);
  }
  write_file(root + "/etc/passwd", "root:x:0:0::/root:/bin/sh\nviewagent:x:4321:4322::/home/viewagent:/bin/sh\n");
  write_file(root + "/etc/group", "root:x:0:\nviewagents:x:4322:\n");
  write_file(empty + "/etc/passwd", "root:x:0:0::/root:/bin/sh\n");
  write_file(empty + "/etc/group", "root:x:0:\n");
  std::string policy = world.base + "/validate.yaml";
  write_file(policy,
             "version: 1\nfilesystem_policy:\n  read_only: [/usr]\n"
             "process: {run_as_user: viewagent, run_as_group: viewagents}\n");
  ASSERT_EQ(::getpwnam("viewagent"), nullptr) << "this machine has the test's user";

  auto here = run(supervisor({"validate-policy", policy}));
  EXPECT_EQ(here.exit_code, 0) << here.out << here.err;
  EXPECT_NE(here.out.find("unresolved: " + policy + ": process.run_as_user: no user 'viewagent'"),
            std::string::npos)
      << here.out;
  EXPECT_NE(here.out.find("process.run_as_group: no group 'viewagents'"), std::string::npos)
      << here.out;

  auto image = run(supervisor({"validate-policy", "--root", root, policy}));
  EXPECT_EQ(image.exit_code, 0) << image.out << image.err;
  EXPECT_NE(image.out.find("identity: uid 4321 gid 4322 (viewagent)"), std::string::npos)
      << image.out;
  EXPECT_EQ(image.out.find("unresolved"), std::string::npos) << image.out;

  auto lacking = run(supervisor({"validate-policy", "--root", empty, policy}));
  EXPECT_EQ(lacking.exit_code, 2) << lacking.out << lacking.err;
  EXPECT_NE(lacking.err.find("no user 'viewagent' in " + empty + "/etc/passwd"), std::string::npos)
      << lacking.err;

  // A structural error fails with or without a root.
  std::string broken = world.base + "/broken.yaml";
  write_file(broken, "version: 1\nfilesystem_policy:\n  read_only: [relative]\n");
  EXPECT_EQ(run(supervisor({"validate-policy", broken})).exit_code, 2);
}

// --- Recursive read-only binds --------------------------------------------------------

// A mount below a read-only path (as a pod's /etc/hosts below /etc) is
// read-only in the sandbox too: the bind and its attributes are recursive.
// Landlock is taken away so that only the mount's read-only flag can refuse
// (Landlock alone would answer EACCES).
TEST_F(View, ASubmountBelowAReadOnlyPathIsReadOnly) {
  std::string top = world.base + "/recursive";
  std::string sub = top + "/mounted";
  must(::mkdir(top.c_str(), 0755) == 0 || errno == EEXIST, "mkdir " + top);
  must(::mkdir(sub.c_str(), 0755) == 0 || errno == EEXIST, "mkdir " + sub);
  // The submount exists only in the supervisor's own mount namespace and is
  // writable there for everyone: written to before the supervisor starts.
  auto submount = [sub] {
    return own_mount_namespace() &&
           ::mount("tmpfs", sub.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "mode=0777") == 0 &&
           put_file(sub + "/before", "written outside");
  };
  std::string read_only = world.policy("recursive-ro.yaml", {top}, {}, "best_effort");
  How how{.before_exec = [&] { return submount() && without_landlock(); }};
  // The probe sees the submount (not the empty directory below it) ...
  EXPECT_TRUE(Reports(probe(read_only, "read", {sub + "/before"}, how), "ok", "written outside"));
  // ... and cannot write to it, nor to the path above it.
  EXPECT_TRUE(Reports(probe(read_only, "write", {sub + "/inside"}, how), "errno EROFS"));
  EXPECT_TRUE(Reports(probe(read_only, "mount_mode", {sub}, how), "ok", "ro"));
  EXPECT_TRUE(Reports(probe(read_only, "write", {top + "/inside"}, how), "errno EROFS"));
  // Control: the same submount granted read-write takes the sandbox's write.
  std::string read_write = world.policy("recursive-rw.yaml", {}, {top}, "best_effort");
  EXPECT_TRUE(Reports(probe(read_write, "write", {sub + "/inside"}, how), "ok"));
  EXPECT_TRUE(Reports(probe(read_write, "mount_mode", {sub}, how), "ok", "rw"));
}

// --- check ----------------------------------------------------------------------------------

// best_effort lets the sandbox run without Landlock; `check` still exits
// non-zero, because a layer the policy asks for is not enforced.
TEST_F(View, CheckFailsWhenLandlockIsUnavailable) {
  std::string policy = world.policy("check.yaml", {}, {}, "best_effort");
  Options options = supervisor({"check", "--policy", policy}, {{"OPENSHELL_WORKDIR", world.workdir}});
  options.before_exec = without_landlock;
  auto without = run(options);
  EXPECT_EQ(without.exit_code, 1) << without.out << without.err;
  EXPECT_NE(without.out.find("landlock       unavailable"), std::string::npos) << without.out;
  EXPECT_EQ(without.out.find("landlock       enforced"), std::string::npos) << without.out;
  EXPECT_NE(without.out.find("result         NOT every layer the policy asks for is enforced"),
            std::string::npos)
      << without.out;
  // `run` with the same policy goes on (best_effort) and says so at start:
  // a warning at the default level, NOT ENFORCED in the sandbox's record.
  auto ran = probe(policy, "read", {world.readable + "/note"}, How{.before_exec = without_landlock});
  EXPECT_TRUE(Reports(ran, "ok", "visible"));
  EXPECT_NE(ran.run.err.find("Landlock is not enforced"), std::string::npos) << ran;
  ran = probe(policy, "read", {world.readable + "/note"},
              How{.before_exec = without_landlock, .env = {{"OPENSHELL_LOG_LEVEL", "info"}}});
  EXPECT_NE(ran.run.err.find("\"landlock\":\"NOT ENFORCED\""), std::string::npos) << ran;
  REQUIRE_FEATURE(landlock_abi() >= 1, "Landlock");
  auto with = run(supervisor({"check", "--policy", policy}, {{"OPENSHELL_WORKDIR", world.workdir}}));
  EXPECT_EQ(with.exit_code, 0) << with.out << with.err;
}

}  // namespace
}  // namespace openshell::test
