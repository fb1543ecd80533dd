#include "read_ahead.h"

#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <mutex>
#include <unordered_map>

namespace openshell::ssh::read_ahead {
namespace {

struct Pending {
  std::unique_ptr<char[]> data;  // null while nothing waits
  std::size_t begin = 0;
  std::size_t end = 0;
};

// The bridge drives libssh from one thread; the lock keeps the table sound
// for any other caller and is never held across a syscall.
std::mutex mutex;
std::unordered_map<int, Pending> sockets;  // registered fds
std::size_t waiting = 0;                   // sockets with bytes pending
std::unique_ptr<char[]> spare;

std::unique_ptr<char[]> take_buffer() {
  if (spare) return std::move(spare);
  return std::make_unique_for_overwrite<char[]>(kChunk);
}

// Bytes received and not yet taken, on an fd polled for reading. The
// caller holds the mutex.
bool has_pending(const pollfd& p) {
  if ((p.events & POLLIN) == 0) return false;
  auto it = sockets.find(p.fd);
  return it != sockets.end() && it->second.data;
}

void give_back(Pending& p) {
  if (!spare) spare = std::move(p.data);
  p.data.reset();
  p.begin = p.end = 0;
  --waiting;
}

}  // namespace

void enable(int fd) {
  std::lock_guard lock(mutex);
  // A new socket has nothing pending, whatever an fd of that number left
  // behind had it been closed some other way than openshell_ssh_close.
  auto [it, fresh] = sockets.try_emplace(fd);
  if (!fresh && it->second.data) give_back(it->second);
}

std::size_t pending(int fd) {
  std::lock_guard lock(mutex);
  auto it = sockets.find(fd);
  return it == sockets.end() ? 0 : it->second.end - it->second.begin;
}

}  // namespace openshell::ssh::read_ahead

using namespace openshell::ssh::read_ahead;

extern "C" ssize_t openshell_ssh_recv(int fd, void* buf, size_t len, int flags) {
  std::unique_ptr<char[]> chunk;
  {
    std::lock_guard lock(mutex);
    auto it = sockets.find(fd);
    if (flags != 0 || it == sockets.end() || len >= kChunk) return ::recv(fd, buf, len, flags);
    Pending& p = it->second;
    if (p.data) {
      std::size_t n = std::min(len, p.end - p.begin);
      std::memcpy(buf, p.data.get() + p.begin, n);
      p.begin += n;
      if (p.begin == p.end) give_back(p);
      return static_cast<ssize_t>(n);
    }
    chunk = take_buffer();
  }
  // The caller's buffer first, so a short read costs no copy.
  iovec iov[2] = {{buf, len}, {chunk.get(), kChunk}};
  ssize_t n = ::readv(fd, iov, 2);
  if (n <= static_cast<ssize_t>(len)) {
    int saved = errno;
    std::lock_guard lock(mutex);
    if (!spare) spare = std::move(chunk);
    errno = saved;
    return n;
  }
  std::lock_guard lock(mutex);
  auto it = sockets.find(fd);
  if (it != sockets.end()) {  // not closed by another thread meanwhile
    it->second = Pending{std::move(chunk), 0, static_cast<std::size_t>(n) - len};
    ++waiting;
  }
  return static_cast<ssize_t>(len);
}

extern "C" int openshell_ssh_poll(struct pollfd* fds, nfds_t count, int timeout) {
  {
    std::lock_guard lock(mutex);
    int ready = waiting == 0 ? 0 : static_cast<int>(std::count_if(fds, fds + count, has_pending));
    if (ready > 0) {
      // Bytes wait: no syscall. The other fds' events are seen by the first
      // poll after these bytes are taken (libssh takes them 4 KiB per poll).
      for (nfds_t i = 0; i < count; ++i) fds[i].revents = has_pending(fds[i]) ? POLLIN : 0;
      return ready;
    }
  }
  return ::poll(fds, count, timeout);
}

extern "C" int openshell_ssh_close(int fd) {
  {
    std::lock_guard lock(mutex);
    auto it = sockets.find(fd);
    if (it != sockets.end()) {
      if (it->second.data) give_back(it->second);
      sockets.erase(it);
    }
  }
  return ::close(fd);
}
