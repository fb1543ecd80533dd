#include "control_channel.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include <cstring>
#include <string>

namespace openshell::control {

Result<std::pair<UniqueFd, UniqueFd>> make_channel() {
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) {
    return fail_errno("socketpair(SOCK_SEQPACKET)");
  }
  UniqueFd a(pair[0]), b(pair[1]);
  // A message must fit the send buffer whole (SOCK_SEQPACKET, unix(7)).
  int size = static_cast<int>(kMaxMessageBytes * 2);
  ::setsockopt(a.get(), SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  ::setsockopt(b.get(), SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  return std::pair{std::move(a), std::move(b)};
}

namespace {

Result<std::string> serialize(const google::protobuf::MessageLite& message,
                              std::span<const int> fds) {
  std::string bytes;
  if (!message.SerializeToString(&bytes)) return fail("serialize control message");
  if (bytes.size() > kMaxMessageBytes) {
    return fail("control message of " + std::to_string(bytes.size()) + " bytes exceeds " +
                std::to_string(kMaxMessageBytes));
  }
  if (fds.size() > kMaxFds) return fail("too many fds for one control message");
  return bytes;
}

// One record; false when the socket would block (only with `dontwait`).
Result<bool> send_record(int fd, const std::string& bytes, std::span<const int> fds,
                         bool dontwait) {
  iovec iov{const_cast<char*>(bytes.data()), bytes.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)] = {};
  if (!fds.empty()) {
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(cmsg), fds.data(), sizeof(int) * fds.size());
  }
  // An empty message still sends one record (SEQPACKET keeps boundaries), so
  // a protobuf with all defaults is fine.
  while (true) {
    ssize_t n = ::sendmsg(fd, &msg, MSG_NOSIGNAL | (dontwait ? MSG_DONTWAIT : 0));
    if (n >= 0) return true;
    if (dontwait && (errno == EAGAIN || errno == EWOULDBLOCK)) return false;
    if (errno != EINTR) return fail_errno("sendmsg on the control socket");
  }
}

}  // namespace

Result<void> send_message(int fd, const google::protobuf::MessageLite& message,
                          std::span<const int> fds) {
  auto bytes = serialize(message, fds);
  if (!bytes) return std::unexpected(bytes.error());
  auto sent = send_record(fd, *bytes, fds, /*dontwait=*/false);
  if (!sent) return std::unexpected(sent.error());
  return {};
}

Result<void> Outbox::send(int fd, const google::protobuf::MessageLite& message,
                          std::span<const int> fds) {
  auto bytes = serialize(message, fds);
  if (!bytes) return std::unexpected(bytes.error());
  if (queue_.empty()) {
    auto sent = send_record(fd, *bytes, fds, /*dontwait=*/true);
    if (!sent) return std::unexpected(sent.error());
    if (*sent) return {};
  }
  if (queue_.size() >= max_messages_) {
    return fail("control queue full (" + std::to_string(max_messages_) +
                " messages the sandbox init has not taken)");
  }
  Pending pending{std::move(*bytes), {}};
  for (int f : fds) {
    UniqueFd copy(::fcntl(f, F_DUPFD_CLOEXEC, 3));
    if (!copy) return fail_errno("dup for a queued control message");
    pending.fds.push_back(std::move(copy));
  }
  queue_.push_back(std::move(pending));
  return {};
}

Result<void> Outbox::flush(int fd) {
  while (!queue_.empty()) {
    auto& front = queue_.front();
    std::vector<int> raw;
    for (const auto& f : front.fds) raw.push_back(f.get());
    auto sent = send_record(fd, front.bytes, raw, /*dontwait=*/true);
    if (!sent) return std::unexpected(sent.error());
    if (!*sent) return {};
    queue_.pop_front();
  }
  return {};
}

namespace {

// Room for the largest message and one byte more, to see one that is too
// big. Mapped rather than allocated and never zero-filled: a message touches
// only the pages it reaches (one, as a rule). A zero-filled string kept all
// 48 pages resident in both the supervisor and the sandbox init, and filling
// them was about a third of the init's page faults at start-up.
struct ReceiveBuffer {
  static constexpr size_t kSize = kMaxMessageBytes + 1;
  void* data = ::mmap(nullptr, kSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ReceiveBuffer() = default;
  ReceiveBuffer(const ReceiveBuffer&) = delete;
  ReceiveBuffer& operator=(const ReceiveBuffer&) = delete;
  ~ReceiveBuffer() {
    if (data != MAP_FAILED) ::munmap(data, kSize);
  }
};

}  // namespace

Result<Received> receive_message(int fd, google::protobuf::MessageLite& message,
                                 std::vector<UniqueFd>& fds, bool nonblocking) {
  static thread_local ReceiveBuffer buffer;
  if (buffer.data == MAP_FAILED) return fail("cannot map the control receive buffer (mmap)");
  iovec iov{buffer.data, ReceiveBuffer::kSize};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * (kMaxFds + 1))] = {};
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;

  ssize_t n;
  do {
    n = ::recvmsg(fd, &msg, MSG_CMSG_CLOEXEC | (nonblocking ? MSG_DONTWAIT : 0));
  } while (n < 0 && errno == EINTR);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return Received::would_block;
  if (n < 0) return fail_errno("recvmsg on the control socket");

  // Take ownership of every fd first, so none leaks on the error paths.
  fds.clear();
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int received;
      std::memcpy(&received, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
      fds.emplace_back(received);
    }
  }
  if (n == 0 && fds.empty()) return Received::closed;
  if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) return fail("truncated control message");
  if (fds.size() > kMaxFds) return fail("too many fds in a control message");
  if (!message.ParseFromArray(buffer.data, static_cast<int>(n))) {
    return fail("malformed control message");
  }
  return Received::message;
}

}  // namespace openshell::control
