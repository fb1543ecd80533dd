// The seccomp filter, built with libseccomp and exported as a BPF program;
// never loaded here.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model.h"
#include "plan.h"
#include "policy_error.h"

namespace openshell::policy {

// The built-in deny list by syscall name (rules with argument filters are
// listed once per syscall). unsafe_allow may name only these.
const std::vector<std::string>& default_denied_syscalls();

// True when libseccomp knows the name on the native architecture.
bool is_known_syscall(const std::string& name);

// Default action allow. Built-in denials with EPERM (argument-filtered where
// the syscall has legitimate uses), clone3 with ENOSYS, the policy's extra
// denials with EPERM; foreign architectures (i386, x32 on x86_64) kill the
// process.
PolicyResult<SeccompPlan> build_seccomp_plan(const Policy::Seccomp& policy);

}  // namespace openshell::policy
