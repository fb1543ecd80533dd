// The control socket between the supervisor and the sandbox init: one
// SOCK_SEQPACKET message per protobuf message, fds attached as SCM_RIGHTS.
#pragma once

#include <google/protobuf/message_lite.h>

#include <deque>
#include <span>
#include <string>
#include <vector>

#include "error.h"
#include "unique_fd.h"

namespace openshell::control {

// Arguments and environment are bounded by this: a request larger than it
// is refused before it reaches the sandbox.
inline constexpr size_t kMaxMessageBytes = 192 * 1024;
inline constexpr size_t kMaxFds = 3;

// Creates the pair; [0] is the supervisor's end, [1] the init's.
Result<std::pair<UniqueFd, UniqueFd>> make_channel();

Result<void> send_message(int fd, const google::protobuf::MessageLite& message,
                          std::span<const int> fds = {});

// The supervisor's side of sending: a message the socket cannot take now
// waits, in order, in a bounded queue, never dropped. The socket holds
// unread messages only up to its send buffer (SO_SNDBUF, sk_wmem_alloc in
// net/unix/af_unix.c), and the loop's socket is non-blocking (Asio makes
// it so): a burst of signals to every session, or spawns while the init is
// busy forking, would otherwise fail with EAGAIN and be lost. A full queue is an error: the caller ends the
// sandbox, loudly, rather than run it with a request silently gone.
class Outbox {
 public:
  explicit Outbox(size_t max_messages = 4096) : max_messages_(max_messages) {}

  // Sends at once when nothing waits and the socket takes it, else queues
  // (the fds are duplicated and kept until sent). Fails only when the
  // message is invalid, the socket failed, or the queue is full.
  Result<void> send(int fd, const google::protobuf::MessageLite& message,
                    std::span<const int> fds = {});
  // Writes what waits until the socket would block again.
  Result<void> flush(int fd);
  bool waiting() const { return !queue_.empty(); }
  size_t size() const { return queue_.size(); }

 private:
  struct Pending {
    std::string bytes;
    std::vector<UniqueFd> fds;
  };
  size_t max_messages_;
  std::deque<Pending> queue_;
};

enum class Received { message, would_block, closed };

// Reads one message. Received fds are O_CLOEXEC and owned by `fds`.
// Fails on a truncated message or more fds than kMaxFds.
Result<Received> receive_message(int fd, google::protobuf::MessageLite& message,
                                 std::vector<UniqueFd>& fds, bool nonblocking);

}  // namespace openshell::control
