// The `run` subcommand: build the sandbox, start the main process in it,
// be PID 1 until it ends. Returns the exit code.
#pragma once

#include "config.h"

namespace openshell {

int run_supervisor(const Config& config);

}  // namespace openshell
