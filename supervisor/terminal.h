// Terminals: a PTY pair for a process in the sandbox, window sizes, and raw
// mode for the supervisor's own terminal while the main process owns it.
#pragma once

#include <sys/ioctl.h>
#include <termios.h>

#include <optional>
#include <string>

#include "error.h"
#include "unique_fd.h"

namespace openshell {

struct Pty {
  UniqueFd master;  // stays with the supervisor, non-blocking
  UniqueFd slave;   // sent into the sandbox
};

// The slave is opened from the master with TIOCGPTPEER (Linux 4.13), so no
// path under /dev/pts is looked up: the sandbox's own /dev cannot swap it.
Result<Pty> open_pty();

// The ptmx open_pty() allocates from, for the main process and every SSH
// session: the sandbox's own devpts instance (/proc/<init>/root/dev/pts/ptmx),
// so that the terminal has a name in the sandbox's /dev/pts (`tty`,
// ttyname(3)). Opened here, before the supervisor restricts itself; later
// allocations need no access to /proc/<init>. Default /dev/ptmx.
Result<void> set_pty_multiplexer(const std::string& path);

std::optional<winsize> window_size(int fd);
void set_window_size(int fd, const winsize& size);

// Puts a terminal in raw mode and restores it when destroyed.
class RawMode {
 public:
  explicit RawMode(int fd);
  ~RawMode();
  RawMode(const RawMode&) = delete;
  RawMode& operator=(const RawMode&) = delete;

 private:
  int fd_;
  std::optional<termios> saved_;
};

}  // namespace openshell
