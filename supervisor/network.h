// Network mode `none`: the sandbox has its own network namespace holding
// only loopback, which starts down and is brought up here.
#pragma once

#include "error.h"

namespace openshell {

Result<void> bring_up_loopback();

}  // namespace openshell
