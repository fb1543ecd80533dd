#include "loop_fd.h"

#include <unistd.h>

#include <cerrno>

namespace openshell::ssh {

LoopFd::LoopFd(boost::asio::io_context& io, UniqueFd fd) : sd_(io) {
  if (fd) {
    sd_.assign(fd.release());
    sd_.non_blocking(true);
    open_ = true;
  }
}

LoopFd::~LoopFd() { close(); }

void LoopFd::close() {
  if (!open_) return;
  open_ = false;
  boost::system::error_code ignored;
  sd_.cancel(ignored);
  sd_.close(ignored);
}

void LoopFd::wait_readable(std::function<void()> ready) {
  if (!open_ || read_armed_) return;
  read_armed_ = true;
  sd_.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                 [this, alive = std::weak_ptr<char>(alive_),
                  ready = std::move(ready)](const boost::system::error_code& ec) {
                   if (alive.expired()) return;
                   read_armed_ = false;
                   if (ec == boost::asio::error::operation_aborted || !open_) return;
                   ready();
                 });
}

void LoopFd::wait_writable(std::function<void()> ready) {
  if (!open_ || write_armed_) return;
  write_armed_ = true;
  sd_.async_wait(boost::asio::posix::stream_descriptor::wait_write,
                 [this, alive = std::weak_ptr<char>(alive_),
                  ready = std::move(ready)](const boost::system::error_code& ec) {
                   if (alive.expired()) return;
                   write_armed_ = false;
                   if (ec == boost::asio::error::operation_aborted || !open_) return;
                   ready();
                 });
}

void ByteQueue::consume(std::size_t n) {
  head_ += n;
  if (head_ == data_.size()) {
    data_.clear();
    head_ = 0;
  } else if (head_ > (1 << 16) && head_ * 2 > data_.size()) {
    data_.erase(0, head_);
    head_ = 0;
  }
}

ByteQueue::Flush ByteQueue::flush_to(int fd) {
  while (!empty()) {
    ssize_t n = ::write(fd, front(), size());
    if (n > 0) {
      consume(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return Flush::blocked;
    return Flush::broken;
  }
  return Flush::done;
}

}  // namespace openshell::ssh
