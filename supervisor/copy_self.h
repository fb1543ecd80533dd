// `copy-self DEST`: the init-container delivery. Installs this binary at DEST
// (a file path, or a directory that gets `openshell-supervisor` in it) without
// a shell: temporary file, fsync, rename, then the copy runs `version` to
// prove it executes. A failure leaves nothing at DEST.
#pragma once

#include <string>

#include "error.h"

namespace openshell {

// Returns the final path on success.
Result<std::string> copy_self(const std::string& dest);

}  // namespace openshell
