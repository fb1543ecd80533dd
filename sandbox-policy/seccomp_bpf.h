// Syscall rules compiled to a seccomp classic-BPF program, default allow.
//
// The kernel's action cache (Linux 5.11, kernel/seccomp.c) answers every
// syscall whose verdict is "allow" whatever its arguments without running
// the filter. What still runs it is the syscalls with argument rules
// (ioctl, clone, socket, prctl, ...) and the denied ones, so the program
// tests the most frequent of those first, right after the architecture,
// and the rest after. libseccomp, which compiled these rules before, builds
// one tree over every syscall with a rule, and repeats the architecture
// checks after the few rules it cannot express: its prctl path was 24
// instructions, this one is 11 (tests/bench/sandbox_bench.sh measures what
// that costs per call).
#pragma once

#include <linux/filter.h>

#include <cstdint>
#include <optional>
#include <vector>

#include "policy_error.h"

namespace openshell::policy {

enum class Compare { kEq, kNe, kLt, kLe, kGt, kGe };

// (args[arg] & mask) <compare> value, unsigned, on 64 bits. An int argument
// is tested with mask 0xffffffff: the kernel reads only its low half, so a
// caller could set the upper half to pass a 64-bit equality.
struct ArgTest {
  unsigned arg = 0;
  Compare compare = Compare::kEq;
  uint64_t value = 0;
  uint64_t mask = ~uint64_t{0};
};

// Syscall `nr` returns `action` when every test holds; with none, always.
// Of one syscall's rules the first that holds decides, except that an
// unconditional rule decides alone (a policy's `deny: [socket]` denies all
// of socket, whatever the built-in socket rules say).
struct SyscallRule {
  int nr = 0;
  uint32_t action = 0;  // SECCOMP_RET_ERRNO | errno, ...
  std::vector<ArgTest> all;
};

struct FilterShape {
  uint32_t arch = 0;               // AUDIT_ARCH_*; any other, and x32 on x86_64, kills the process
  std::vector<int> first;          // syscalls tested first, in this order
  std::optional<uint32_t> newest;  // syscall numbers above it return ENOSYS
};

PolicyResult<std::vector<sock_filter>> compile_seccomp_bpf(const std::vector<SyscallRule>& rules,
                                                           const FilterShape& shape);

}  // namespace openshell::policy
