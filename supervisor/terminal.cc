#include "terminal.h"

#include <fcntl.h>
#include <unistd.h>

#include <string>

namespace openshell {

namespace {
std::string pty_multiplexer = "/dev/ptmx";
}  // namespace

void set_pty_multiplexer(std::string path) {
  pty_multiplexer = std::move(path);
}

Result<Pty> open_pty() {
  UniqueFd master(
      ::open(pty_multiplexer.c_str(), O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK));
  if (!master) return fail_errno("open " + pty_multiplexer);
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
