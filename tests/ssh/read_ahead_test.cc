// The read-ahead libssh's socket reads go through (ssh-bridge/read_ahead.h),
// on a real socket pair: one syscall takes what is queued, the rest is served
// from memory in order, poll says so, and close forgets it.
#include "read_ahead.h"

#include <gtest/gtest.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

namespace openshell::ssh {
namespace {

struct Pair {
  int ours = -1, peer = -1;
  Pair() {
    int fds[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    ours = fds[0];
    peer = fds[1];
    int big = 1 << 20;
    ::setsockopt(peer, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
  }
  ~Pair() {
    if (ours >= 0) openshell_ssh_close(ours);
    if (peer >= 0) ::close(peer);
  }
  int queued() const {
    int n = -1;
    ::ioctl(ours, FIONREAD, &n);
    return n;
  }
};

std::string pattern(std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>(i * 7 + i / 251);
  return s;
}

TEST(ReadAhead, OneSyscallTakesWhatIsQueuedAndServesItInOrder) {
  Pair p;
  const std::string sent = pattern(100 * 1024);
  ASSERT_EQ(::write(p.peer, sent.data(), sent.size()), static_cast<ssize_t>(sent.size()));
  read_ahead::enable(p.ours);

  std::string got;
  char buf[4096];
  ASSERT_EQ(openshell_ssh_recv(p.ours, buf, sizeof buf, 0), 4096);
  got.append(buf, 4096);
  EXPECT_EQ(p.queued(), 0) << "the first read left bytes in the kernel";
  EXPECT_EQ(read_ahead::pending(p.ours), sent.size() - 4096);

  for (;;) {
    // Readable although the kernel holds nothing (a bounded wait: a poll
    // that does not know would block until it ends).
    pollfd fd{p.ours, POLLIN, 0};
    int ready = openshell_ssh_poll(&fd, 1, 2000);
    ASSERT_EQ(ready, 1);
    ASSERT_EQ(fd.revents, POLLIN);
    ssize_t n = openshell_ssh_recv(p.ours, buf, sizeof buf, 0);
    ASSERT_GT(n, 0);
    got.append(buf, static_cast<std::size_t>(n));
    if (read_ahead::pending(p.ours) == 0) break;
  }
  EXPECT_EQ(got, sent);

  pollfd fd{p.ours, POLLIN, 0};
  EXPECT_EQ(openshell_ssh_poll(&fd, 1, 0), 0) << "drained: nothing is readable";
  ::close(p.peer);
  p.peer = -1;
  EXPECT_EQ(openshell_ssh_recv(p.ours, buf, sizeof buf, 0), 0) << "end of stream";
}

TEST(ReadAhead, PollReportsOtherDescriptorsAsNotReadyWhileBytesWait) {
  Pair a, b;
  std::string sent = pattern(10000);
  ::write(a.peer, sent.data(), sent.size());
  ::write(b.peer, "x", 1);
  read_ahead::enable(a.ours);
  char buf[4096];
  ASSERT_EQ(openshell_ssh_recv(a.ours, buf, sizeof buf, 0), 4096);
  pollfd fds[2] = {{b.ours, POLLIN, POLLOUT}, {a.ours, POLLIN, 0}};
  ASSERT_EQ(openshell_ssh_poll(fds, 2, 2000), 1);
  EXPECT_EQ(fds[0].revents, 0);
  EXPECT_EQ(fds[1].revents, POLLIN);
  // Not asked for reading: not reported.
  pollfd write_only{a.ours, POLLOUT, 0};
  EXPECT_EQ(openshell_ssh_poll(&write_only, 1, 0), 1);
  EXPECT_EQ(write_only.revents, POLLOUT);
}

TEST(ReadAhead, ASocketNotEnabledIsReadAsAsked) {
  Pair p;
  std::string sent = pattern(10000);
  ::write(p.peer, sent.data(), sent.size());
  char buf[4096];
  ASSERT_EQ(openshell_ssh_recv(p.ours, buf, sizeof buf, 0), 4096);
  EXPECT_EQ(p.queued(), 10000 - 4096);
  EXPECT_EQ(read_ahead::pending(p.ours), 0u);
}

// Queues 10,000 bytes on an enabled socket and takes 16: the rest waits in
// memory.
void leave_bytes_pending(Pair& p) {
  std::string sent = pattern(10000);
  ::write(p.peer, sent.data(), sent.size());
  read_ahead::enable(p.ours);
  char buf[16];
  ASSERT_EQ(openshell_ssh_recv(p.ours, buf, sizeof buf, 0), 16);
  ASSERT_GT(read_ahead::pending(p.ours), 0u);
}

TEST(ReadAhead, CloseForgetsTheBytesAndTheSocket) {
  int number;
  {
    Pair p;
    ASSERT_NO_FATAL_FAILURE(leave_bytes_pending(p));
    number = p.ours;
  }  // closed through openshell_ssh_close
  EXPECT_EQ(read_ahead::pending(number), 0u);
  // The next socket with that number is not read ahead until enabled.
  Pair q;
  ASSERT_EQ(q.ours, number);
  ::write(q.peer, "abcdef", 6);
  char buf[2];
  ASSERT_EQ(openshell_ssh_recv(q.ours, buf, sizeof buf, 0), 2);
  EXPECT_EQ(std::string(buf, 2), "ab");
  EXPECT_EQ(q.queued(), 4);
}

TEST(ReadAhead, EnablingAnFdAgainStartsWithNothingPending) {
  Pair p;
  ASSERT_NO_FATAL_FAILURE(leave_bytes_pending(p));
  read_ahead::enable(p.ours);
  EXPECT_EQ(read_ahead::pending(p.ours), 0u);
}

}  // namespace
}  // namespace openshell::ssh
