// The seccomp filter: the rules, and the BPF program seccomp_bpf.h compiles
// from them; never loaded here.
#pragma once

#include <sched.h>

#include <cstdint>
#include <string>
#include <vector>

#include "model.h"
#include "plan.h"
#include "policy_error.h"
#include "seccomp_bpf.h"

namespace openshell::policy {

// clone(2) flags that make a namespace, denied to the sandbox and to the
// supervisor after start-up alike; threads and fork stay allowed.
// CLONE_NEWTIME (0x80) shares its bit with the exit signal in clone(), so
// only unshare(2) checks it.
inline constexpr uint64_t kCloneNewNamespaces = CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS |
                                                CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID |
                                                CLONE_NEWNET;

// The built-in deny list by syscall name (rules with argument filters are
// listed once per syscall). unsafe_allow may name only these.
const std::vector<std::string>& default_denied_syscalls();

// True when libseccomp knows the name on the native architecture.
bool is_known_syscall(const std::string& name);

// The rules by syscall number, as build_seccomp_plan compiles them, with
// their entries and notes (syscalls not filtered, and why).
struct SeccompRules {
  std::vector<SyscallRule> rules;
  std::vector<SeccompEntry> entries;
  std::vector<std::string> notes;
};
SeccompRules seccomp_rules(const Policy::Seccomp& policy);

// Default action allow. Built-in denials with EPERM (argument-filtered where
// the syscall has legitimate uses), clone3 with ENOSYS, the policy's extra
// denials with EPERM; foreign architectures (i386, x32 on x86_64) kill the
// process.
PolicyResult<SeccompPlan> build_seccomp_plan(const Policy::Seccomp& policy);

}  // namespace openshell::policy
