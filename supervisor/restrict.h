// Per-process restrictions, applied by the child between fork and exec in
// one fixed order (restrict.cc). Everything here is prepared before fork;
// the child only reads it.
#pragma once

#include <linux/filter.h>
#include <sys/types.h>

#include <cstdint>
#include <vector>

#include "sandbox-policy/plan.h"

namespace openshell {

struct ProcessRestrictions {
  // false: only RLIMIT_CORE and no_new_privs (processes started outside a
  // sandbox, for tests of the spawn path).
  bool sandboxed = false;

  // identity.cc
  uid_t uid = 0;
  gid_t gid = 0;
  bool set_groups = false;  // false when setgroups is denied in the namespace
  std::vector<gid_t> groups;

  // capabilities.cc
  uint64_t keep_capabilities = 0;
  int last_capability = 40;  // /proc/sys/kernel/cap_last_cap

  std::vector<policy::RlimitPlan> rlimits;  // RLIMIT_CORE = 0 among them

  std::vector<sock_filter> seccomp_program;  // seccomp.cc; loaded last
};

// Async-signal-safe. On failure sets the step's name and errno and returns
// false; the caller reports it and exits.
bool apply_restrictions(const ProcessRestrictions& r, const char** stage, int* err);

// Child-side steps, one file each.
bool set_identity(const ProcessRestrictions& r, const char** stage);       // identity.cc
bool drop_capabilities(const ProcessRestrictions& r, const char** stage);  // capabilities.cc
// Best effort, for the init: drops from the caller's own bounding set what
// `r` does not keep, once, so that drop_capabilities in each child finds it
// gone (and still drops, then verifies, whatever is left). capabilities.cc
void narrow_bounding_set(const ProcessRestrictions& r);
bool load_seccomp(const std::vector<sock_filter>& program);                // seccomp.cc

}  // namespace openshell
