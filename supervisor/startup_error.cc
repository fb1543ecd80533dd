#include "startup_error.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "log.h"

namespace openshell {

std::string_view stage_name(Stage stage) {
  switch (stage) {
    case Stage::input:
      return "input";
    case Stage::ssh:
      return "ssh";
    case Stage::sandbox:
      return "sandbox";
    case Stage::sandbox_setup:
      return "sandbox-setup";
    case Stage::event_loop:
      return "event-loop";
    case Stage::copy_self:
      return "copy-self";
    case Stage::exec_denied:
      return "exec";
    case Stage::exec_missing:
      return "exec";
  }
  return "unknown";
}

void write_termination_message(const char* path, std::string_view line) {
  // Only an existing file: creating /dev/termination-log outside Kubernetes
  // would litter the container's /dev.
  int fd = ::open(path, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return;
  ssize_t ignored = ::write(fd, line.data(), line.size());
  (void)ignored;
  ::close(fd);
}

void die_at(Stage stage, std::string_view cause) {
  std::string line = "openshell-supervisor: ";
  line += stage_name(stage);
  line += ": ";
  line += cause;
  // stderr carries only JSON records; the diagnosis is one of them.
  log::error(
      line,
      {{"stage", stage_name(stage)}, {"cause", cause}, {"exit_code", static_cast<int>(stage)}});
  write_termination_message("/dev/termination-log", line);
  std::_Exit(static_cast<int>(stage));
}

}  // namespace openshell
