// The base of every channel a connection holds (RFC 4254 §5): owns the libssh
// channel and its callbacks, and is pumped by the connection whenever the
// socket, a window or one of its fds may have moved.
#pragma once

#include <libssh/callbacks.h>

#include <memory>
#include <string>

#include "handles.h"
#include "loop_fd.h"

namespace openshell::ssh {

class Connection;

class Channel : public std::enable_shared_from_this<Channel> {
 public:
  Channel(Connection& connection, ssh_channel channel);
  virtual ~Channel();
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;

  // Moves whatever can move now without blocking; sends exit status, EOF and
  // close when the work behind the channel is over.
  virtual void pump() = 0;
  // The connection is going away: release processes and fds now.
  virtual void abandon() = 0;
  // The event loop has stopped for good: moves what the work behind the
  // channel already produced (a finished process's last output, its exit
  // status, the close) into libssh's buffer, whatever the socket's state,
  // within the peer's window. The caller flushes libssh next.
  void pump_final();

  // True once CHANNEL_CLOSE was sent or received: the connection frees it.
  bool finished() const { return finished_; }
  ssh_channel raw() const { return channel_.get(); }

 protected:
  // Installs `callbacks_` (filled in by the subclass) on the channel.
  void install_callbacks();
  // Asks the connection to pump every channel and re-arm its socket.
  void kick();
  // Sends EOF (if not yet) and CHANNEL_CLOSE; marks the channel finished.
  void close_channel();
  // The EOF message (RFC 4254 §5.3), once.
  void send_eof();

  // Client data for `fd`: takes what the queue has room for from a data
  // callback; the rest stays in libssh, whose window then stops growing.
  std::size_t take(ByteQueue& queue, const void* data, std::size_t len, std::size_t& backlog);
  enum class Feed { idle, blocked, broken };
  // Writes the queue into `fd`, refilling it from libssh's backlog, until
  // both are empty or the fd would block (then waits for it).
  Feed feed(LoopFd& fd, ByteQueue& queue, std::size_t& backlog);
  enum class Drain { waiting, eof };
  // Reads `fd` into the channel as far as the peer's window and the socket
  // allow; never reads what it cannot send, so a slow client stalls the
  // child instead of growing a buffer.
  Drain drain(LoopFd& fd, bool to_stderr);
  // Read the pipe or pty after the process exited: EAGAIN counts as EOF.
  bool drain_eagain_is_eof_ = false;
  // Set by pump_final(): libssh's unsent bytes do not hold back reading.
  bool final_ = false;
  // libssh still holds unsent bytes, so more output waits for the socket's
  // writability to wake the connection; never in the final pump, where no
  // loop would wake it (Bridge::stop flushes after it).
  bool write_waits() const;
  // Bytes read but not yet taken by libssh, which accepts nothing while a
  // key re-exchange runs (RFC 4253 §9); sent before anything newer.
  std::string carry_[2];
  // Output reads start small and on the stack; the first read that fills
  // that buffer makes the channel a bulk one: its pipe grows and it reads
  // into this buffer of its own (channel.cc). Idle sessions never have one.
  void start_bulk(LoopFd& fd);
  std::unique_ptr<char[]> bulk_;
  // The child's input pipe was found full once (and grown then): feed().
  bool bulk_input_ = false;

  Connection& connection_;
  ChannelPtr channel_;
  ssh_channel_callbacks_struct callbacks_{};
  bool finished_ = false;
  bool eof_sent_ = false;
  bool callbacks_installed_ = false;
};

}  // namespace openshell::ssh
