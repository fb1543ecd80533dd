// The control socket between the supervisor and the sandbox init: one
// SOCK_SEQPACKET message per protobuf message, fds attached as SCM_RIGHTS.
#pragma once

#include <google/protobuf/message_lite.h>

#include <span>
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

enum class Received { message, would_block, closed };

// Reads one message. Received fds are O_CLOEXEC and owned by `fds`.
// Fails on a truncated message or more fds than kMaxFds.
Result<Received> receive_message(int fd, google::protobuf::MessageLite& message,
                                 std::vector<UniqueFd>& fds, bool nonblocking);

}  // namespace openshell::control
