// Per-process restrictions, applied by the child between fork and exec in
// one fixed order. Everything here is prepared before fork.
#pragma once

namespace openshell {

struct ProcessRestrictions {
  bool no_new_privs = true;  // prctl(PR_SET_NO_NEW_PRIVS): never off in a sandbox
};

// Async-signal-safe. On failure sets the step's name and errno and returns
// false; the caller reports it and exits.
bool apply_restrictions(const ProcessRestrictions& r, const char** stage, int* err);

}  // namespace openshell
