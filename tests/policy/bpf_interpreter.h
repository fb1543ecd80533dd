// A classic-BPF interpreter for seccomp programs, so tests run the exact
// program the supervisor would load against chosen syscalls.
#pragma once

#include <linux/filter.h>
#include <linux/seccomp.h>

#include <cstdint>
#include <string>
#include <vector>

namespace openshell::policy::testing {

// The path one run took.
struct BpfPath {
  size_t instructions = 0;  // run, the return included
  // Only what the kernel's action cache can emulate without the arguments
  // (seccomp_is_const_allow, kernel/seccomp.c): loads of nr and arch, jumps
  // on constants, returns. An allowed syscall on such a path never runs
  // the filter again once the filter is installed.
  bool constant = true;
};

// Runs `program` on `data` the way the kernel's seccomp does
// (kernel/seccomp.c, net/core/filter.c). Returns the filter's return value;
// on a malformed program or a fall-through returns 0 and sets `error`.
uint32_t run_seccomp_bpf(const std::vector<sock_filter>& program, const seccomp_data& data,
                         std::string* error = nullptr, BpfPath* path = nullptr);

seccomp_data make_seccomp_data(uint32_t arch, int nr, std::vector<uint64_t> args = {});

}  // namespace openshell::policy::testing
