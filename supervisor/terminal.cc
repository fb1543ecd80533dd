#include "terminal.h"

#include <fcntl.h>
#include <unistd.h>

#include <string>

namespace openshell {

namespace {
// An O_PATH descriptor of the ptmx, opened while the supervisor may still
// walk /proc/<init>/root (it gives up CAP_SYS_PTRACE after start-up); every
// open_pty() reopens it through /proc/self/fd, which needs no privilege.
// Invalid until set: then /dev/ptmx.
UniqueFd pty_multiplexer;
}  // namespace

Result<void> set_pty_multiplexer(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_PATH | O_CLOEXEC));
  if (!fd) return fail_errno("open " + path);
  pty_multiplexer = std::move(fd);
  return {};
}

Result<Pty> open_pty() {
  std::string path = pty_multiplexer ? "/proc/self/fd/" + std::to_string(pty_multiplexer.get())
                                     : std::string("/dev/ptmx");
  UniqueFd master(::open(path.c_str(), O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK));
  if (!master) return fail_errno("open " + path);
  int unlock = 0;
  if (::ioctl(master.get(), TIOCSPTLCK, &unlock) != 0) return fail_errno("unlock pty");
  UniqueFd slave(::ioctl(master.get(), TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!slave) return fail_errno("open pty peer (TIOCGPTPEER)");
  return Pty{std::move(master), std::move(slave)};
}

std::optional<winsize> window_size(int fd) {
  winsize size{};
  if (::ioctl(fd, TIOCGWINSZ, &size) != 0) return std::nullopt;
  return size;
}

void set_window_size(int fd, const winsize& size) {
  ::ioctl(fd, TIOCSWINSZ, &size);
}

RawMode::RawMode(int fd) : fd_(fd) {
  termios current{};
  if (::isatty(fd) != 1 || ::tcgetattr(fd, &current) != 0) return;
  saved_ = current;
  cfmakeraw(&current);
  ::tcsetattr(fd, TCSANOW, &current);
}

RawMode::~RawMode() {
  if (saved_) ::tcsetattr(fd_, TCSANOW, &*saved_);
}

}  // namespace openshell
