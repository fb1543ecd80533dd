// A non-blocking fd watched by the Asio loop, and the bounded byte queue that
// feeds one. Readiness is level-checked by the caller first (read/write until
// EAGAIN), then waited for, so no edge is ever lost.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "unique_fd.h"

namespace openshell::ssh {

class LoopFd {
 public:
  LoopFd(boost::asio::io_context& io, UniqueFd fd);
  ~LoopFd();
  LoopFd(const LoopFd&) = delete;
  LoopFd& operator=(const LoopFd&) = delete;

  int get() { return open_ ? sd_.native_handle() : -1; }
  bool is_socket() const { return socket_; }
  bool is_open() const { return open_; }
  void close();
  // Calls `ready` once the fd is readable/writable; a second call while one
  // is pending is ignored. `ready` is not called after close().
  void wait_readable(std::function<void()> ready);
  void wait_writable(std::function<void()> ready);
  // A wait is armed: the fd was found not ready and the loop calls back
  // when it is, so trying it again before then only costs a syscall.
  bool read_waiting() const { return read_armed_; }
  bool write_waiting() const { return write_armed_; }

 private:
  boost::asio::posix::stream_descriptor sd_;
  bool open_ = false;
  bool socket_ = false;
  bool read_armed_ = false;
  bool write_armed_ = false;
  // A completion already queued when this object dies must not touch it:
  // handlers hold a weak reference to this token.
  std::shared_ptr<char> alive_ = std::make_shared<char>();
};

// Bytes received from the SSH peer on their way into an fd. The bound is what
// keeps a fast client and a slow child from growing memory: above it the
// bridge stops taking data, libssh stops growing the window (RFC 4254 §5.2)
// and the client has to wait.
class ByteQueue {
 public:
  explicit ByteQueue(std::size_t limit) : limit_(limit) {}
  std::size_t size() const { return data_.size() - head_; }
  bool empty() const { return size() == 0; }
  std::size_t room() const { return size() >= limit_ ? 0 : limit_ - size(); }
  void append(const char* p, std::size_t n) { data_.append(p, n); }
  const char* front() const { return data_.data() + head_; }
  void consume(std::size_t n);
  void clear() {
    data_.clear();
    head_ = 0;
  }

  enum class Flush { done, blocked, broken };
  // Writes as much as the fd takes without blocking. A reader that went
  // away is `broken`, never a SIGPIPE: the supervisor must survive any child.
  Flush flush_to(LoopFd& fd);

 private:
  std::string data_;
  std::size_t head_ = 0;
  std::size_t limit_;
};

}  // namespace openshell::ssh
