// The main process: from argv after `--`, else OPENSHELL_MAIN_PROCESS_SPEC
// (JSON or `base64url:` + unpadded URL-safe base64 of it).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "error.h"

namespace openshell {

struct MainProcessSpec {
  std::vector<std::string> command;  // empty: the sandbox user's login shell
  bool tty = true;
};

// Parses the variable's value. Errors say what is wrong; the caller names
// the variable.
Result<MainProcessSpec> parse_main_process_spec(std::string_view text);

// RFC 4648 §5 alphabet, no padding accepted or required.
Result<std::string> decode_base64url(std::string_view text);

}  // namespace openshell
