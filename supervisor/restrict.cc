#include "restrict.h"

#include <sys/prctl.h>
#include <sys/resource.h>

#include <cerrno>

namespace openshell {

bool apply_restrictions(const ProcessRestrictions& r, const char** stage, int* err) {
  auto failed = [&](const char* name) {
    *stage = name;
    *err = errno;
    return false;
  };
  // No core files: a core dump would write the process's memory, secrets
  // included, wherever core_pattern points. Survives execve (getrlimit(2)).
  rlimit no_core{0, 0};
  if (::setrlimit(RLIMIT_CORE, &no_core) != 0) return failed("RLIMIT_CORE");
  // Before anything the exec could gain: setuid bits and file capabilities
  // are ignored from here on (prctl(2), PR_SET_NO_NEW_PRIVS).
  if (r.no_new_privs && ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
    return failed("no_new_privs");
  return true;
}

}  // namespace openshell
