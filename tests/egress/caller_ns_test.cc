// Who owns a client socket, against the live kernel: a sandbox in
// miniature (a PID and mount namespace whose init, this test binary
// forked, mounts its own /proc) whose processes hold the client end of a
// loopback connection. Both ways of listing the sandbox's processes (its
// procfs, the supervisor's /proc) must find every holder.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include "egress/caller.h"

namespace openshell::egress {
namespace {

SocketAddress address_of(int fd, bool peer) {
  sockaddr_in in{};
  socklen_t length = sizeof in;
  if (peer) {
    ::getpeername(fd, reinterpret_cast<sockaddr*>(&in), &length);
  } else {
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&in), &length);
  }
  SocketAddress out;
  std::memcpy(out.bytes.data(), &in.sin_addr, 4);
  out.port = ntohs(in.sin_port);
  return out;
}

std::string self_exe() {
  char buffer[4096];
  ssize_t n = ::readlink("/proc/self/exe", buffer, sizeof buffer);
  return n > 0 ? std::string(buffer, static_cast<size_t>(n)) : "";
}

enum class Holders { kOneProcess, kTwoBinaries, kOnlyAnOutsider };

class CallerInNamespace : public ::testing::Test {
 protected:
  void Start(Holders holders) {
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    ASSERT_EQ(::listen(listener_, 1), 0);
    socklen_t length = sizeof address;
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length);
    int client = ::socket(AF_INET, SOCK_STREAM, 0);  // inherited across exec on purpose
    ASSERT_EQ(::connect(client, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    peer_ = address_of(client, false);
    server_ = address_of(client, true);
    int ready[2];
    ASSERT_EQ(::pipe2(ready, O_CLOEXEC), 0);

    // The init: pid 1 of a new PID namespace, with its own mounts.
    long pid = ::syscall(SYS_clone, CLONE_NEWPID | CLONE_NEWNS | SIGCHLD, 0, 0, 0, 0);
    if (pid < 0 && (errno == EPERM || errno == EINVAL)) {
      GTEST_SKIP() << "cannot create a PID namespace here: " << std::strerror(errno);
    }
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(ready[0]);
      if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) ::_exit(1);
      if (::mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0) {
        ::_exit(2);
      }
      if (holders != Holders::kOnlyAnOutsider) {
        if (::fork() == 0) {  // a sandbox process holding the socket
          if (holders == Holders::kTwoBinaries && ::fork() == 0) {
            // Another binary holding the same socket (inherited).
            ::execl("/bin/sleep", "sleep", "1000", nullptr);
            ::_exit(3);
          }
          (void)::write(ready[1], "a", 1);
          while (true) ::pause();
        }
      } else {
        (void)::write(ready[1], "a", 1);
      }
      ::close(client);
      while (true) {  // reaps, as an init does
        if (::wait(nullptr) < 0 && errno == ECHILD) ::pause();
      }
    }
    init_ = static_cast<pid_t>(pid);
    if (holders == Holders::kOnlyAnOutsider) {
      // A process the outside put into the sandbox's PID namespace: not the
      // init's descendant, so not a sandbox process.
      outsider_ = ::fork();
      if (outsider_ == 0) {
        int ns = ::open(("/proc/" + std::to_string(init_) + "/ns/pid").c_str(), O_RDONLY);
        if (ns < 0 || ::setns(ns, CLONE_NEWPID) != 0) ::_exit(1);
        pid_t inside = ::fork();
        if (inside == 0) {
          (void)::write(ready[1], "a", 1);
          while (true) ::pause();
        }
        while (true) ::pause();
      }
    }
    ::close(ready[1]);
    ::close(client);
    char byte;
    int expected = holders == Holders::kOnlyAnOutsider ? 2 : 1;
    for (int i = 0; i < expected; ++i) ASSERT_EQ(::read(ready[0], &byte, 1), 1);
    ::close(ready[0]);
    root_ = ::open(("/proc/" + std::to_string(init_) + "/root").c_str(),
                   O_PATH | O_DIRECTORY | O_CLOEXEC);
    ASSERT_GE(root_, 0);
    diag_ = ::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    ASSERT_GE(diag_, 0);
  }

  void TearDown() override {
    if (outsider_ > 0) {
      ::kill(outsider_, SIGKILL);
      ::waitpid(outsider_, nullptr, 0);
    }
    if (init_ > 0) {
      ::kill(init_, SIGKILL);  // takes the whole namespace with it
      ::waitpid(init_, nullptr, 0);
    }
    for (int fd : {listener_, root_, diag_}) {
      if (fd >= 0) ::close(fd);
    }
  }

  // Both ways: the sandbox's procfs, then the walk of this /proc.
  std::pair<Result<CallerIdentity>, Result<CallerIdentity>> Identify() {
    auto proc = open_sandbox_proc(root_, init_);
    EXPECT_TRUE(proc) << (proc ? "" : proc.error().message());
    int fd = proc ? proc->get() : -1;
    return {identify_caller(init_, peer_, server_, diag_, fd),
            identify_caller(init_, peer_, server_, diag_, -1)};
  }

  int listener_ = -1, root_ = -1, diag_ = -1;
  pid_t init_ = 0, outsider_ = 0;
  SocketAddress peer_, server_;
};

TEST_F(CallerInNamespace, FindsTheSandboxProcessHoldingTheSocket) {
  Start(Holders::kOneProcess);
  if (IsSkipped()) return;
  auto [by_proc, by_walk] = Identify();
  ASSERT_TRUE(by_proc) << by_proc.error().message();
  ASSERT_TRUE(by_walk) << by_walk.error().message();
  EXPECT_EQ(by_proc->exe_chain, std::vector<std::string>{self_exe()});
  EXPECT_EQ(by_walk->exe_chain, by_proc->exe_chain);
  EXPECT_EQ(by_proc->pid, 2) << "the pid as the sandbox sees it";
}

TEST_F(CallerInNamespace, RefusesASocketHeldByTwoBinaries) {
  Start(Holders::kTwoBinaries);
  if (IsSkipped()) return;
  // The second holder execs sleep: wait until both ways see it.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  std::string proc_error, walk_error;
  while (std::chrono::steady_clock::now() < deadline) {
    auto [by_proc, by_walk] = Identify();
    if (!by_proc && !by_walk) {
      proc_error = by_proc.error().message();
      walk_error = by_walk.error().message();
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_NE(proc_error.find("different binaries"), std::string::npos) << proc_error;
  EXPECT_NE(walk_error.find("different binaries"), std::string::npos) << walk_error;
}

TEST_F(CallerInNamespace, IgnoresAProcessEnteredFromOutside) {
  Start(Holders::kOnlyAnOutsider);
  if (IsSkipped()) return;
  auto [by_proc, by_walk] = Identify();
  ASSERT_FALSE(by_proc);
  ASSERT_FALSE(by_walk);
  EXPECT_NE(by_proc.error().message().find("no sandbox process"), std::string::npos)
      << by_proc.error().message();
  EXPECT_NE(by_walk.error().message().find("no sandbox process"), std::string::npos)
      << by_walk.error().message();
}

TEST_F(CallerInNamespace, RefusesAProcfsOfAnotherNamespace) {
  Start(Holders::kOneProcess);
  if (IsSkipped()) return;
  int pod_root = ::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  auto proc = open_sandbox_proc(pod_root, init_);  // this /proc: another PID namespace
  ::close(pod_root);
  EXPECT_FALSE(proc);
}

}  // namespace
}  // namespace openshell::egress
