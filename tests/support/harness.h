// Runs the real supervisor binary for integration tests: as PID 1 of a new
// PID namespace (clone(CLONE_NEWPID)), with an explicit environment,
// captured stdout/stderr and a timeout.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace openshell::test {

std::string supervisor_binary();  // $SUPERVISOR_BINARY, set by meson
std::string busybox_binary();     // Debian's busybox-static

struct RunResult {
  int wait_status = -1;
  int exit_code = -1;  // 128 + signal when signalled, -1 on timeout
  bool timed_out = false;
  std::string out;
  std::string err;
};

struct Options {
  std::vector<std::string> argv;  // argv[0] is the program path
  std::map<std::string, std::string> env;
  std::string stdin_data;
  std::chrono::milliseconds timeout{30'000};
  bool new_pid_namespace = true;
  // Runs in the child before exec (after the namespace is entered); for
  // mounts and chroot. Returns false to fail the child.
  std::function<bool()> before_exec;
  // The child gets a private mount namespace in which the machine's
  // /etc/openshell (a policy an operator or a demo left) is an empty tmpfs,
  // so a test sees the built-in default unless it names a policy.
  bool hide_machine_policy = false;
};

// A running process; output is collected by wait() or read_until().
class Running {
 public:
  explicit Running(const Options& options);
  ~Running();
  Running(const Running&) = delete;
  Running& operator=(const Running&) = delete;

  pid_t pid() const { return pid_; }
  void signal(int signo);
  // Reads stdout until it contains `text` or the timeout passes.
  bool read_until(const std::string& text, std::chrono::milliseconds timeout);
  const std::string& out() const { return result_.out; }
  RunResult wait(std::chrono::milliseconds timeout);

 private:
  void pump(int timeout_ms);
  pid_t pid_ = -1;
  int out_fd_ = -1;
  int err_fd_ = -1;
  bool reaped_ = false;
  RunResult result_;
};

RunResult run(const Options& options);

// The supervisor with `args`, a clean environment plus `env`, independent of
// the machine: the machine's policy is hidden, the workdir is the test's own
// (test_workdir()) and the sandbox identity is uid/gid 1000 unless `env`
// names any of these.
Options supervisor(std::vector<std::string> args, std::map<std::string, std::string> env = {});

// A directory this test process made (0755, owned by 1000:1000), removed at
// exit: the default workdir of supervisor(). Nothing on the machine (such
// as /sandbox) is assumed.
const std::string& test_workdir();

std::string make_temp_dir();
void remove_tree(const std::string& path);
std::string read_file(const std::string& path);
void write_file(const std::string& path, const std::string& content, int mode = 0644);

// Process ids of every descendant of `pid` (walking /proc) and how many of
// them are zombies.
std::vector<pid_t> descendants(pid_t pid);
int count_zombies(const std::vector<pid_t>& pids);

}  // namespace openshell::test
