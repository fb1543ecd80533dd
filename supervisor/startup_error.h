// Startup failures: each stage has its own exit code, and one line naming
// the stage and the cause goes to stderr and to /dev/termination-log, which
// Kubernetes shows as the container's termination message.
#pragma once

#include <string_view>

namespace openshell {

enum class Stage : int {
  input = 2,           // configuration, main process spec or policy is invalid
  ssh = 3,             // SSH bridge: keys, host key, listeners
  sandbox = 4,         // creating the sandbox init and its namespaces
  sandbox_setup = 5,   // the sandbox init could not build the sandbox view
  event_loop = 6,      // signals, control channel or terminal setup
  copy_self = 7,       // copy-self could not install the binary
  exec_denied = 126,   // the main process exists but could not be executed
  exec_missing = 127,  // the main process was not found
};

std::string_view stage_name(Stage stage);

// Logs "openshell-supervisor: <stage>: <cause>" as one JSON record on
// stderr, writes the same line to /dev/termination-log when it exists, then
// exits with the stage's code.
[[noreturn]] void die_at(Stage stage, std::string_view cause);

// The path is a parameter so tests can point it elsewhere.
void write_termination_message(const char* path, std::string_view line);

}  // namespace openshell
