#include "spawn_child.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstring>

#include "restrict.h"
#include "startup_cpu.h"
#include "unique_fd.h"

namespace openshell {
namespace {

// The child runs on a stack AddressSanitizer does not know (fork_and_exec):
// the functions that end it make no call to its no-return hook, which
// would print a warning about that stack into the child's stderr.
#define CHILD_END __attribute__((no_sanitize("address")))

[[noreturn]] CHILD_END void child_fail(int error_fd, const char* stage, int err) {
  ChildFailure failure{};
  size_t i = 0;
  for (; stage[i] != '\0' && i + 1 < sizeof failure.stage; ++i) failure.stage[i] = stage[i];
  failure.stage[i] = '\0';
  failure.err = err;
  ssize_t ignored = ::write(error_fd, &failure, sizeof failure);
  (void)ignored;
  ::_exit(127);
}

// The init blocks SIGCHLD for its signalfd; a child must start with the
// default mask and dispositions (signal(7): both survive execve). The child
// starts with every signal blocked (fork_and_exec): the dispositions that are
// not the default (all of them when `altered` is null) go back to it first,
// so that no handler of the init's can run in the child.
bool reset_signals(const sigset_t* altered) {
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    if (altered != nullptr && sigismember(altered, sig) != 1) continue;
    ::signal(sig, SIG_DFL);
  }
  sigset_t none;
  sigemptyset(&none);
  return ::sigprocmask(SIG_SETMASK, &none, nullptr) == 0;
}

// A new session, so signals to the process group reach the whole job and
// the terminal (if any) becomes this session's controlling terminal.
bool setup_stdio(const PreparedSpawn& spawn, const char** stage) {
  *stage = "setsid";
  if (::setsid() < 0) return false;
  if (spawn.tty) {
    *stage = "TIOCSCTTY";
    if (::ioctl(spawn.fds[0], TIOCSCTTY, 0) != 0) return false;
    *stage = "dup2";
    for (int target = 0; target < 3; ++target) {
      if (::dup2(spawn.fds[0], target) < 0) return false;
    }
  } else {
    // dup2 onto 0..2 in an order that cannot clobber a source still needed:
    // move every source above 2 first.
    int moved[3];
    *stage = "dup";
    for (int i = 0; i < 3; ++i) {
      moved[i] = ::fcntl(spawn.fds[i], F_DUPFD_CLOEXEC, 3);
      if (moved[i] < 0) return false;
    }
    *stage = "dup2";
    for (int i = 0; i < 3; ++i) {
      if (::dup2(moved[i], i) < 0) return false;
    }
  }
  // Nothing but 0..2 may survive exec; the error pipe is already CLOEXEC.
  *stage = "close_range";
  if (::syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) != 0) return false;
  return true;
}

[[noreturn]] CHILD_END void exec_first_candidate(const PreparedSpawn& spawn, int error_fd) {
  int reported = ENOENT;
  for (const auto& path : spawn.exec_paths) {
    ::execve(path.c_str(), spawn.argv.data(), spawn.envp.data());
    // As execvp(3): a permission problem on one candidate is reported unless
    // a later one is found; ENOENT/ENOTDIR just move on.
    if (errno != ENOENT && errno != ENOTDIR) reported = errno;
  }
  child_fail(error_fd, "execve", reported);
}

// The steps, in order. Restrictions come after stdio and cwd (they may take
// away the rights those need) and end with seccomp, inside apply_restrictions.
[[noreturn]] CHILD_END void run_child(const PreparedSpawn& spawn,
                                      const ProcessRestrictions* restrictions,
                                      const sigset_t* altered, int error_fd) {
  startup_cpu::release();
  const char* stage = "signals";
  if (!reset_signals(altered)) child_fail(error_fd, stage, errno);
  if (!setup_stdio(spawn, &stage)) child_fail(error_fd, stage, errno);
  if (::chdir(spawn.cwd.c_str()) != 0) child_fail(error_fd, "chdir", errno);
  if (restrictions != nullptr) {
    int err = 0;
    if (!apply_restrictions(*restrictions, &stage, &err)) child_fail(error_fd, stage, err);
  }
  if (spawn.probe_only) ::_exit(0);
  exec_first_candidate(spawn, error_fd);
}

struct ChildArgs {
  const PreparedSpawn* spawn;
  const ProcessRestrictions* restrictions;
  const sigset_t* altered;
  int error_fd;
};

CHILD_END int child_main(void* arg) {
  const auto* args = static_cast<const ChildArgs*>(arg);
  run_child(*args->spawn, args->restrictions, args->altered, args->error_fd);
}

// The child's stack: the child shares the init's memory, so it cannot run
// on the init's stack. One is enough (the init is suspended while its
// child runs) and it is kept for every later spawn; the lowest page is a
// guard.
constexpr size_t kChildStackBytes = 256 * 1024;

char* child_stack_top() {
  static char* top = [] {
    void* base = ::mmap(nullptr, kChildStackBytes, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (base == MAP_FAILED) return static_cast<char*>(nullptr);
    if (::mprotect(base, 4096, PROT_NONE) != 0) {
      ::munmap(base, kChildStackBytes);
      return static_cast<char*>(nullptr);
    }
    return static_cast<char*>(base) + kChildStackBytes;
  }();
  return top;
}

std::string path_of(const std::vector<std::string>& env) {
  for (const auto& entry : env) {
    if (entry.starts_with("PATH=")) return entry.substr(5);
  }
  return "/usr/local/bin:/usr/bin:/bin";
}

}  // namespace

Result<PreparedSpawn> prepare_spawn(const control::SpawnRequest& request,
                                    const std::vector<int>& fds) {
  PreparedSpawn spawn;
  if (!request.probe_only() && (request.argv().empty() || request.argv(0).empty())) {
    return fail("spawn: empty argv");
  }
  if (!request.cwd().starts_with("/")) return fail("spawn: cwd must be absolute");
  size_t expected_fds = request.tty() ? 1 : 3;
  if (fds.size() != expected_fds) {
    return fail("spawn: expected " + std::to_string(expected_fds) + " fds, got " +
                std::to_string(fds.size()));
  }
  spawn.tty = request.tty();
  spawn.probe_only = request.probe_only();
  for (size_t i = 0; i < fds.size(); ++i) spawn.fds[i] = fds[i];
  spawn.cwd = request.cwd();
  spawn.argv_storage.assign(request.argv().begin(), request.argv().end());
  spawn.env_storage.assign(request.env().begin(), request.env().end());
  for (auto& arg : spawn.argv_storage) spawn.argv.push_back(arg.data());
  spawn.argv.push_back(nullptr);
  for (auto& entry : spawn.env_storage) spawn.envp.push_back(entry.data());
  spawn.envp.push_back(nullptr);

  if (spawn.argv_storage.empty()) return spawn;  // a probe
  const std::string& name = request.path().empty() ? spawn.argv_storage[0] : request.path();
  if (name.find('/') != std::string::npos) {
    spawn.exec_paths.push_back(name);
  } else {
    std::string path = path_of(spawn.env_storage);
    size_t start = 0;
    while (start <= path.size()) {
      size_t end = path.find(':', start);
      if (end == std::string::npos) end = path.size();
      std::string candidate = end == start ? std::string(".") : path.substr(start, end - start);
      candidate.append(1, '/').append(name);
      spawn.exec_paths.push_back(std::move(candidate));
      start = end + 1;
    }
  }
  return spawn;
}

sigset_t altered_signal_dispositions() {
  sigset_t altered;
  sigemptyset(&altered);
  for (int sig = 1; sig < NSIG; ++sig) {
    struct sigaction now {};
    // A signal that cannot be asked about (32 and 33, glibc's own) counts
    // as altered: the child resets it as before.
    if (::sigaction(sig, nullptr, &now) != 0 || now.sa_handler != SIG_DFL) sigaddset(&altered, sig);
  }
  return altered;
}

Result<pid_t> fork_and_exec(const PreparedSpawn& spawn, const ProcessRestrictions* restrictions,
                            const sigset_t* altered) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return fail_errno("pipe2");
  UniqueFd read_end(pipe_fds[0]), write_end(pipe_fds[1]);

  char* stack = child_stack_top();
  if (stack == nullptr) return fail_errno("child stack");
  // The child shares the init's memory until its execve or exit, and the
  // init is suspended until then (clone(2) CLONE_VM | CLONE_VFORK, as
  // posix_spawn(3) does): no page tables are copied and no page is copied
  // on write. On a VM a copy-on-write fault costs about 16 us and the
  // fork of the init 0.8 ms (tests/bench/startup_profile.sh). The init
  // waited for the exec before too, on the error pipe. The child runs only
  // the async-signal-safe steps above, on its own stack, and writes nothing
  // the init reads (errno aside): its failure record goes through the
  // pipe. Every signal is blocked across the clone, so that none is
  // handled in the child before its dispositions are reset.
  sigset_t all, saved;
  sigfillset(&all);
  ::sigprocmask(SIG_SETMASK, &all, &saved);
  ChildArgs args{&spawn, restrictions, altered, write_end.get()};
  pid_t pid = ::clone(child_main, stack, CLONE_VM | CLONE_VFORK | SIGCHLD, &args);
  int clone_errno = errno;
  ::sigprocmask(SIG_SETMASK, &saved, nullptr);
  if (pid < 0) return fail("clone", clone_errno);
  write_end.reset();

  ChildFailure failure{};
  ssize_t n;
  do {
    n = ::read(read_end.get(), &failure, sizeof failure);
  } while (n < 0 && errno == EINTR);
  if (n == 0) return pid;  // end of file: exec succeeded

  int status;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (n != static_cast<ssize_t>(sizeof failure)) return fail("child setup: short failure record");
  failure.stage[sizeof failure.stage - 1] = '\0';
  return fail(failure.stage, failure.err);
}

}  // namespace openshell
