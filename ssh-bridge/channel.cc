#include "channel.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <cerrno>

#include "connection.h"

namespace openshell::ssh {

namespace {
// What one drain moves at most (in at most 16 reads) before other
// connections get a turn.
constexpr std::size_t kDrainBudget = 1024 * 1024;
// Output is read into the stack first; a read that fills it means bulk output.
constexpr std::size_t kSmallRead = 64 * 1024;
// Bulk output is read a MiB at a time from a pipe grown to hold that much
// (pipe-max-size's default, which needs no privilege). libssh packs the
// whole read into packets and, once the socket is writable, sends them in
// one write: the child, the bridge and the client wake once per MiB instead
// of once per 32 KiB packet.
constexpr std::size_t kBulkRead = 1024 * 1024;

// Best effort: a pty or a socket keeps its size, and so does a pipe whose
// user is over its pipe quota (pipe(7)).
bool grow_pipe(LoopFd& fd) {
  return !fd.is_socket() && ::fcntl(fd.get(), F_SETPIPE_SZ, static_cast<int>(kBulkRead)) > 0;
}

int write_channel(ssh_channel channel, const char* data, std::size_t len, bool to_stderr) {
  auto n = static_cast<uint32_t>(len);
  return to_stderr ? ssh_channel_write_stderr(channel, data, n)
                   : ssh_channel_write(channel, data, n);
}
}  // namespace

Channel::Channel(Connection& connection, ssh_channel channel)
    : connection_(connection), channel_(channel) {
  ssh_callbacks_init(&callbacks_);
  callbacks_.userdata = this;
}

Channel::~Channel() {
  // libssh keeps a channel the peer has not closed yet until its close
  // arrives; it must not call back into this object after we are gone.
  if (callbacks_installed_) ssh_remove_channel_callbacks(channel_.get(), &callbacks_);
}

void Channel::install_callbacks() {
  ssh_set_channel_callbacks(channel_.get(), &callbacks_);
  callbacks_installed_ = true;
}

void Channel::kick() {
  connection_.kick();
}

void Channel::send_eof() {
  if (eof_sent_) return;
  eof_sent_ = true;
  if (ssh_channel_is_open(channel_.get())) ssh_channel_send_eof(channel_.get());
}

void Channel::close_channel() {
  if (finished_) return;
  send_eof();
  if (ssh_channel_is_open(channel_.get())) ssh_channel_close(channel_.get());
  finished_ = true;
}

std::size_t Channel::take(ByteQueue& queue, const void* data, std::size_t len,
                          std::size_t& backlog) {
  std::size_t n = std::min(len, queue.room());
  queue.append(static_cast<const char*>(data), n);
  // libssh hands over its whole buffer each time: what is left is all of it.
  backlog = len - n;
  return n;
}

Channel::Feed Channel::feed(LoopFd& fd, ByteQueue& queue, std::size_t& backlog) {
  if (!fd.is_open()) {
    queue.clear();
    return Feed::broken;
  }
  for (;;) {
    if (!queue.empty() && fd.write_waiting()) return Feed::blocked;
    switch (queue.flush_to(fd)) {
      case ByteQueue::Flush::broken:
        queue.clear();
        return Feed::broken;
      case ByteQueue::Flush::blocked:
        if (!bulk_input_) {
          // The child's pipe is full: a bulk upload. Its pipe grows as an
          // output's does (start_bulk), and the reader then takes the
          // batches of a service turn (connection.cc) in one wake-up.
          bulk_input_ = true;
          if (grow_pipe(fd)) continue;
        }
        fd.wait_writable([weak = weak_from_this()] {
          if (auto self = weak.lock()) self->kick();
        });
        return Feed::blocked;
      case ByteQueue::Flush::done:
        break;
    }
    if (backlog == 0) return Feed::idle;
    // Asking for no more than libssh holds keeps ssh_channel_read_nonblocking
    // from processing packets (and calling back) underneath us.
    char buf[64 * 1024];
    std::size_t want = std::min({backlog, sizeof buf, queue.room()});
    int n = ssh_channel_read_nonblocking(channel_.get(), buf, static_cast<uint32_t>(want), 0);
    if (n <= 0) {
      backlog = 0;
      return Feed::idle;
    }
    backlog -= std::min(backlog, static_cast<std::size_t>(n));
    queue.append(buf, static_cast<std::size_t>(n));
  }
}

void Channel::pump_final() {
  final_ = true;
  // Each pump moves up to 1 MiB per stream; the peer's window (2 MiB for
  // OpenSSH) bounds what can be pending, so a few rounds reach the end.
  for (int round = 0; round < 8 && !finished_; ++round) pump();
}

bool Channel::write_waits() const {
  return !final_ &&
         (ssh_get_poll_flags(ssh_channel_get_session(channel_.get())) & SSH_WRITE_PENDING) != 0;
}

void Channel::start_bulk(LoopFd& fd) {
  // The larger reads help a pipe that could not grow, a pty or a socket too.
  grow_pipe(fd);
  bulk_ = std::make_unique_for_overwrite<char[]>(kBulkRead);
}

Channel::Drain Channel::drain(LoopFd& fd, bool to_stderr) {
  std::string& carry = carry_[to_stderr ? 1 : 0];
  if (!carry.empty()) {
    int written = write_channel(channel_.get(), carry.data(), carry.size(), to_stderr);
    if (written < 0) return Drain::eof;  // the session is failing
    carry.erase(0, static_cast<std::size_t>(written));
    if (!carry.empty()) return Drain::waiting;
  }
  if (!fd.is_open()) return Drain::eof;
  // Every pump comes here, once per packet while the client uploads; an fd
  // already found empty is read again only once the loop says it is ready.
  if (fd.read_waiting() && !final_ && !drain_eagain_is_eof_) return Drain::waiting;
  char small[kSmallRead];
  std::size_t moved = 0;
  for (int rounds = 0; rounds < 16 && moved < kDrainBudget; ++rounds) {
    if (write_waits()) return Drain::waiting;
    std::size_t window = ssh_channel_window_size(channel_.get());
    if (window == 0) return Drain::waiting;  // the peer's WINDOW_ADJUST pumps again
    char* buf = bulk_ ? bulk_.get() : small;
    std::size_t size = bulk_ ? kBulkRead : kSmallRead;
    ssize_t n = ::read(fd.get(), buf, std::min(window, size));
    if (n > 0) {
      int written = write_channel(channel_.get(), buf, static_cast<std::size_t>(n), to_stderr);
      if (written < 0) return Drain::eof;  // the session is failing
      if (written < n) {
        // A re-exchange started: keep the rest, the connection pumps again
        // once it is over.
        carry.assign(buf + written, static_cast<std::size_t>(n - written));
        return Drain::waiting;
      }
      moved += static_cast<std::size_t>(n);
      if (!bulk_ && static_cast<std::size_t>(n) == kSmallRead) start_bulk(fd);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (drain_eagain_is_eof_) return Drain::eof;
      if (final_) return Drain::waiting;  // no loop will wake it
      fd.wait_readable([weak = weak_from_this()] {
        if (auto self = weak.lock()) self->kick();
      });
      return Drain::waiting;
    }
    // 0 is EOF; EIO is how a pty master reports that every slave fd closed.
    return Drain::eof;
  }
  // Plenty moved: let other work run, then continue. Not a wait: the fd is
  // still readable and no new edge may come.
  boost::asio::post(connection_.context().io, [weak = weak_from_this()] {
    if (auto self = weak.lock()) self->kick();
  });
  return Drain::waiting;
}

}  // namespace openshell::ssh
