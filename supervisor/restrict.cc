#include "restrict.h"

#include <sys/prctl.h>
#include <sys/resource.h>

#include <cerrno>

namespace openshell {

bool apply_restrictions(const ProcessRestrictions& r, const char** stage, int* err) {
  auto failed = [&](const char* name) {
    if (name != nullptr) *stage = name;
    *err = errno;
    return false;
  };
  if (r.sandboxed) {
    // Identity first: changing ids needs CAP_SETUID/CAP_SETGID, which the
    // next step takes away.
    if (!set_identity(r, stage)) return failed(nullptr);
    if (!drop_capabilities(r, stage)) return failed(nullptr);
    for (const auto& limit : r.rlimits) {
      rlimit value{limit.soft, limit.hard};
      if (::setrlimit(limit.resource, &value) != 0) return failed("setrlimit");
    }
  }
  // No core files: a core dump would write the process's memory, secrets
  // included, wherever core_pattern points. Survives execve (getrlimit(2)).
  rlimit no_core{0, 0};
  if (::setrlimit(RLIMIT_CORE, &no_core) != 0) return failed("RLIMIT_CORE");
  // Before anything the exec could gain: setuid bits and file capabilities
  // are ignored from here on, and Landlock and seccomp need it when the
  // process holds no CAP_SYS_ADMIN (prctl(2), PR_SET_NO_NEW_PRIVS).
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return failed("no_new_privs");
  if (::prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1) return failed("verify no_new_privs");
  if (!r.sandboxed) return true;
  // Landlock is already in force: the sandbox init restricted itself and
  // every process inherits its domain (sandbox_init.cc).
  // Seccomp last: every step above needs syscalls the filter denies.
  if (!r.seccomp_program.empty() && !load_seccomp(r.seccomp_program)) return failed("seccomp");
  return true;
}

}  // namespace openshell
