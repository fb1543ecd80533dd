#include "harness.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace openshell::test {

std::string supervisor_binary() {
  const char* path = std::getenv("SUPERVISOR_BINARY");
  if (path == nullptr) throw std::runtime_error("SUPERVISOR_BINARY is not set");
  return path;
}

std::string busybox_binary() {
  return "/bin/busybox";
}

Options supervisor(std::vector<std::string> args, std::map<std::string, std::string> env) {
  Options options;
  options.argv.push_back(supervisor_binary());
  for (auto& arg : args) options.argv.push_back(std::move(arg));
  options.env = std::move(env);
  // Tests of the sandbox and of PID 1 run without the SSH bridge unless they
  // ask for it (it refuses to start without gateway keys).
  options.env.try_emplace("OPENSHELL_SSH_LISTEN", "off");
  options.env.try_emplace("OPENSHELL_WORKDIR", test_workdir());
  // A `sandbox` user on the machine (any uid) must not change the identity.
  if (!options.env.contains("OPENSHELL_SANDBOX_UID") &&
      !options.env.contains("OPENSHELL_SANDBOX_GID")) {
    options.env["OPENSHELL_SANDBOX_UID"] = "1000";
    options.env["OPENSHELL_SANDBOX_GID"] = "1000";
  }
  options.hide_machine_policy = true;
  return options;
}

namespace {

struct Scratch {
  std::string root;
  std::string workdir;
  Scratch() {
    // Under /var/tmp, not /tmp: the sandbox mounts a fresh /tmp of its own.
    root = "/var/tmp/openshell-test-XXXXXX";
    if (::mkdtemp(root.data()) == nullptr) throw std::runtime_error("mkdtemp " + root);
    ::chmod(root.c_str(), 0755);
    workdir = root + "/workdir";
    if (::mkdir(workdir.c_str(), 0755) != 0 || ::chown(workdir.c_str(), 1000, 1000) != 0) {
      throw std::runtime_error("test workdir " + workdir + ": " + std::strerror(errno));
    }
  }
  ~Scratch() { remove_tree(root); }
};

bool hide_machine_policy() {
  struct stat st;
  if (::stat("/etc/openshell", &st) != 0) return true;  // nothing to hide
  return ::unshare(CLONE_NEWNS) == 0 &&
         ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0 &&
         ::mount("tmpfs", "/etc/openshell", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") == 0;
}

}  // namespace

const std::string& test_workdir() {
  static Scratch scratch;
  return scratch.workdir;
}

Running::Running(const Options& options) {
  int out[2], err[2], in[2];
  if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0 || ::pipe2(in, O_CLOEXEC) != 0) {
    throw std::runtime_error("pipe2");
  }
  std::vector<std::string> env_storage;
  for (const auto& [k, v] : options.env) env_storage.push_back(k + "=" + v);
  std::vector<char*> argv, envp;
  for (const auto& a : options.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (auto& e : env_storage) envp.push_back(e.data());
  envp.push_back(nullptr);

  unsigned long flags = SIGCHLD | (options.new_pid_namespace ? CLONE_NEWPID : 0);
  long pid = ::syscall(SYS_clone, flags, nullptr, nullptr, nullptr, 0L);
  if (pid < 0) throw std::runtime_error(std::string("clone: ") + std::strerror(errno));
  if (pid == 0) {
    ::dup2(in[0], 0);
    ::dup2(out[1], 1);
    ::dup2(err[1], 2);
    if (options.hide_machine_policy && !hide_machine_policy()) ::_exit(122);
    if (options.before_exec && !options.before_exec()) ::_exit(121);
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(120);
  }
  pid_ = static_cast<pid_t>(pid);
  ::close(in[0]);
  ::close(out[1]);
  ::close(err[1]);
  out_fd_ = out[0];
  err_fd_ = err[0];
  // Small inputs only: written before anything is read.
  if (!options.stdin_data.empty()) {
    ssize_t ignored = ::write(in[1], options.stdin_data.data(), options.stdin_data.size());
    (void)ignored;
  }
  ::close(in[1]);
}

Running::~Running() {
  if (!reaped_ && pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  if (out_fd_ >= 0) ::close(out_fd_);
  if (err_fd_ >= 0) ::close(err_fd_);
}

void Running::signal(int signo) {
  ::kill(pid_, signo);
}

void Running::pump(int timeout_ms) {
  pollfd fds[2] = {{out_fd_, POLLIN, 0}, {err_fd_, POLLIN, 0}};
  if (::poll(fds, 2, timeout_ms) <= 0) return;
  char buffer[65536];
  for (int i = 0; i < 2; ++i) {
    if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP))) continue;
    ssize_t n = ::read(fds[i].fd, buffer, sizeof buffer);
    if (n > 0) {
      (i == 0 ? result_.out : result_.err).append(buffer, static_cast<size_t>(n));
    } else if (n == 0) {
      ::close(fds[i].fd);
      (i == 0 ? out_fd_ : err_fd_) = -1;
    }
  }
}

bool Running::read_until(const std::string& text, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (result_.out.find(text) == std::string::npos) {
    if (std::chrono::steady_clock::now() > deadline || out_fd_ < 0) return false;
    pump(50);
  }
  return true;
}

RunResult Running::wait(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!reaped_) {
    if (out_fd_ >= 0 || err_fd_ >= 0) {
      pump(20);
    } else {
      ::usleep(5000);
    }
    int status;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      reaped_ = true;
      result_.wait_status = status;
      result_.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      break;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      result_.timed_out = true;
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
      reaped_ = true;
      return result_;
    }
  }
  // Drain what is left (stdio may be held by nothing now).
  for (int i = 0; i < 100 && (out_fd_ >= 0 || err_fd_ >= 0); ++i) pump(10);
  return result_;
}

RunResult run(const Options& options) {
  Running running(options);
  return running.wait(options.timeout);
}

std::string make_temp_dir() {
  std::string pattern = "/tmp/openshell-test-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp");
  return pattern;
}

void remove_tree(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_file(const std::string& path, const std::string& content, int mode) {
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << content;
  }
  ::chmod(path.c_str(), static_cast<mode_t>(mode));
}

std::vector<pid_t> descendants(pid_t root) {
  std::map<pid_t, std::vector<pid_t>> children;
  DIR* dir = ::opendir("/proc");
  if (dir == nullptr) return {};
  while (dirent* entry = ::readdir(dir)) {
    pid_t pid = static_cast<pid_t>(std::atoi(entry->d_name));
    if (pid <= 0) continue;
    std::string stat = read_file("/proc/" + std::string(entry->d_name) + "/stat");
    auto close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(stat.substr(close + 2));
    char state;
    pid_t ppid;
    rest >> state >> ppid;
    children[ppid].push_back(pid);
  }
  ::closedir(dir);
  std::vector<pid_t> out, queue{root};
  while (!queue.empty()) {
    pid_t p = queue.back();
    queue.pop_back();
    for (pid_t c : children[p]) {
      out.push_back(c);
      queue.push_back(c);
    }
  }
  return out;
}

int count_zombies(const std::vector<pid_t>& pids) {
  int zombies = 0;
  for (pid_t pid : pids) {
    std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
    auto close = stat.rfind(')');
    if (close != std::string::npos && close + 2 < stat.size() && stat[close + 2] == 'Z') ++zombies;
  }
  return zombies;
}

}  // namespace openshell::test
