// Child side of capabilities: every set emptied (bounding, ambient,
// inheritable, permitted, effective) unless the policy keeps some, and the
// securebits locked so that no later execve, not even of a setuid-root
// binary or as uid 0 inside, gives any back (capabilities(7)). Kept ones
// (capabilities.unsafe_keep) are in every set, ambient included, so that
// they survive execve. Verified.
#include <linux/capability.h>
#include <linux/securebits.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "restrict.h"

namespace openshell {
namespace {

constexpr unsigned long kSecurebits =
    SECBIT_NOROOT | SECBIT_NOROOT_LOCKED |                     // uid 0 gains nothing on exec
    SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED |  // locked off
    SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;

bool kept(const ProcessRestrictions& r, int cap) {
  return (r.keep_capabilities >> cap) & 1;
}

}  // namespace

void narrow_bounding_set(const ProcessRestrictions& r) {
  for (int cap = 0; cap <= r.last_capability; ++cap) {
    if (!kept(r, cap)) ::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
  }
}

bool drop_capabilities(const ProcessRestrictions& r, const char** stage) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  *stage = "drop bounding set";
  for (int cap = 0; cap <= r.last_capability; ++cap) {
    // Each drop commits new credentials; the init has dropped these from
    // its own bounding set already (narrow_bounding_set), so usually only
    // the cheap read runs. The check below reads every bit again.
    if (!kept(r, cap) && ::prctl(PR_CAPBSET_READ, cap, 0, 0, 0) != 0 &&
        ::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) {
      return false;
    }
  }
  *stage = "clear ambient set";
  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0) return false;

  // Kept capabilities survive execve only through the ambient set: a
  // non-root uid running an ordinary binary gets P'(permitted) = P(ambient)
  // (capabilities(7), "Transformation of capabilities during execve()").
  // A capability may be raised in ambient only while it is permitted and
  // inheritable, and only before SECBIT_NO_CAP_AMBIENT_RAISE is set.
  if (r.keep_capabilities != 0) {
    *stage = "capset inheritable (kept capabilities)";
    __user_cap_data_struct now[2] = {};
    if (::syscall(SYS_capget, &header, now) != 0) return false;
    for (int word = 0; word < 2; ++word) {
      now[word].inheritable = static_cast<uint32_t>(r.keep_capabilities >> (32 * word));
    }
    if (::syscall(SYS_capset, &header, now) != 0) return false;
    *stage = "raise ambient (kept capabilities)";
    for (int cap = 0; cap <= r.last_capability; ++cap) {
      if (kept(r, cap) && ::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) != 0) {
        return false;
      }
    }
  }

  // Needs CAP_SETPCAP, so before the capset below.
  *stage = "lock securebits";
  if (::prctl(PR_SET_SECUREBITS, kSecurebits, 0, 0, 0) != 0) return false;

  *stage = "capset";
  __user_cap_data_struct data[2] = {};
  for (int word = 0; word < 2; ++word) {
    auto bits = static_cast<uint32_t>(r.keep_capabilities >> (32 * word));
    data[word].effective = data[word].permitted = data[word].inheritable = bits;
  }
  if (::syscall(SYS_capset, &header, data) != 0) return false;

  *stage = "verify capabilities";
  __user_cap_data_struct now[2] = {};
  if (::syscall(SYS_capget, &header, now) != 0) return false;
  for (int word = 0; word < 2; ++word) {
    auto bits = static_cast<uint32_t>(r.keep_capabilities >> (32 * word));
    if (now[word].effective != bits || now[word].permitted != bits ||
        now[word].inheritable != bits) {
      errno = EPERM;
      return false;
    }
  }
  for (int cap = 0; cap <= r.last_capability; ++cap) {
    int want = kept(r, cap) ? 1 : 0;
    if (::prctl(PR_CAPBSET_READ, cap, 0, 0, 0) != want ||
        ::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, cap, 0, 0) != want) {
      errno = EPERM;
      return false;
    }
  }
  if (static_cast<unsigned long>(::prctl(PR_GET_SECUREBITS, 0, 0, 0, 0)) != kSecurebits) {
    errno = EPERM;
    return false;
  }
  return true;
}

}  // namespace openshell
