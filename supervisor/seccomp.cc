// Child side of seccomp: load the program compiled by sandbox-policy
// (seccomp_filter.cc) as the last step before execve. no_new_privs is
// already set, which seccomp(2) requires of an unprivileged caller.
#include <linux/seccomp.h>
#include <sys/prctl.h>

#include "restrict.h"

namespace openshell {

bool load_seccomp(const std::vector<sock_filter>& program) {
  sock_fprog fprog{static_cast<unsigned short>(program.size()),
                   const_cast<sock_filter*>(program.data())};
  return ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fprog, 0, 0) == 0;
}

}  // namespace openshell
