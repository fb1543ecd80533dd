#include "loop_fd.h"

#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace openshell::ssh {

LoopFd::LoopFd(boost::asio::io_context& io, UniqueFd fd) : sd_(io) {
  if (fd) {
    struct stat st {};
    socket_ = ::fstat(fd.get(), &st) == 0 && S_ISSOCK(st.st_mode);
    sd_.assign(fd.release());
    sd_.non_blocking(true);
    open_ = true;
  }
}

LoopFd::~LoopFd() {
  close();
}

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

namespace {

// send(2) has MSG_NOSIGNAL; a pipe or terminal does not, so SIGPIPE is held
// blocked around the write and a pending one is taken back before unblocking.
// A process that ignores SIGPIPE (the supervisor does, from its start) needs
// none of that: two syscalls less per write. The disposition is read once;
// nothing in these programs sets SIGPIPE's back.
bool sigpipe_ignored() {
  static const bool ignored = [] {
    struct sigaction current {};
    return ::sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_IGN;
  }();
  return ignored;
}

ssize_t write_no_sigpipe(int fd, bool is_socket, const char* data, std::size_t len) {
  if (is_socket) return ::send(fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
  if (sigpipe_ignored()) return ::write(fd, data, len);
  sigset_t pipe_only, old;
  sigemptyset(&pipe_only);
  sigaddset(&pipe_only, SIGPIPE);
  ::sigprocmask(SIG_BLOCK, &pipe_only, &old);
  ssize_t n = ::write(fd, data, len);
  int saved = errno;
  if (n < 0 && saved == EPIPE && !sigismember(&old, SIGPIPE)) {
    const struct timespec zero {};
    ::sigtimedwait(&pipe_only, nullptr, &zero);
  }
  ::sigprocmask(SIG_SETMASK, &old, nullptr);
  errno = saved;
  return n;
}

}  // namespace

ByteQueue::Flush ByteQueue::flush_to(LoopFd& fd) {
  while (!empty()) {
    ssize_t n = write_no_sigpipe(fd.get(), fd.is_socket(), front(), size());
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
