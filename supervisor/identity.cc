// Child side of the sandbox identity: set, then verify, the groups, gid and
// uid (a setuid that silently did nothing would leave the wrong identity).
#include <grp.h>
#include <unistd.h>

#include <cerrno>

#include "restrict.h"

namespace openshell {

bool set_identity(const ProcessRestrictions& r, const char** stage) {
  if (r.set_groups) {
    *stage = "setgroups";
    if (::setgroups(r.groups.size(), r.groups.data()) != 0) return false;
  }
  *stage = "setresgid";
  if (::setresgid(r.gid, r.gid, r.gid) != 0) return false;
  *stage = "setresuid";
  if (::setresuid(r.uid, r.uid, r.uid) != 0) return false;

  *stage = "verify identity";
  uid_t ruid, euid, suid;
  gid_t rgid, egid, sgid;
  if (::getresuid(&ruid, &euid, &suid) != 0 || ::getresgid(&rgid, &egid, &sgid) != 0) return false;
  if (ruid != r.uid || euid != r.uid || suid != r.uid || rgid != r.gid || egid != r.gid ||
      sgid != r.gid) {
    errno = EPERM;
    return false;
  }
  if (r.set_groups) {
    gid_t current[64];
    int n = ::getgroups(64, current);
    if (n < 0 || static_cast<size_t>(n) != r.groups.size()) {
      errno = EPERM;
      return false;
    }
  }
  return true;
}

}  // namespace openshell
