// The seccomp compiler (sandbox-policy/seccomp_bpf.cc) against two oracles,
// over every syscall number and the argument values each rule is about
// (and their neighbours, high halves and combinations):
// - a reference evaluation of the rules' meaning, a few lines of C++;
// - libseccomp, which compiled these rules before: the sandbox's own rules
//   and every comparison it can express give the same verdicts.
#include "sandbox-policy/seccomp_bpf.h"

#include <errno.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <optional>
#include <random>
#include <set>

#include "bpf_interpreter.h"
#include "sandbox-policy/seccomp_filter.h"

namespace openshell::policy {
namespace {

using testing::make_seccomp_data;
using testing::run_seccomp_bpf;

constexpr uint32_t kAllow = SECCOMP_RET_ALLOW;
constexpr uint32_t kKill = SECCOMP_RET_KILL_PROCESS;
constexpr uint32_t kEnosys = SECCOMP_RET_ERRNO | ENOSYS;
constexpr uint32_t kNewest = 456;
constexpr uint64_t kLow32 = 0xffffffffu;

bool holds(const ArgTest& t, uint64_t arg) {
  uint64_t x = arg & t.mask;
  switch (t.compare) {
    case Compare::kEq:
      return x == t.value;
    case Compare::kNe:
      return x != t.value;
    case Compare::kLt:
      return x < t.value;
    case Compare::kLe:
      return x <= t.value;
    case Compare::kGt:
      return x > t.value;
    case Compare::kGe:
      return x >= t.value;
  }
  return false;
}

// What the rules mean (seccomp_bpf.h), for the native architecture.
uint32_t reference(const std::vector<SyscallRule>& rules, const seccomp_data& d) {
  std::vector<const SyscallRule*> mine;
  for (const SyscallRule& r : rules) {
    if (r.nr == d.nr) mine.push_back(&r);
  }
  for (const SyscallRule* r : mine) {
    if (r->all.empty()) return r->action;
  }
  for (const SyscallRule* r : mine) {
    if (std::all_of(r->all.begin(), r->all.end(),
                    [&](const ArgTest& t) { return holds(t, d.args[t.arg]); })) {
      return r->action;
    }
  }
  return kAllow;
}

// libseccomp's program for the same rules, or nothing when one of them
// needs a comparison libseccomp has not (a masked one other than ==).
std::optional<std::vector<sock_filter>> libseccomp_program(const std::vector<SyscallRule>& rules) {
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
  seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
  for (const SyscallRule& r : rules) {
    // (x & mask) != 0, any of the mask's bits set, is a rule per bit there.
    if (r.all.size() == 1 && r.all[0].compare == Compare::kNe && r.all[0].value == 0 &&
        r.all[0].mask != ~0ull) {
      for (uint64_t bit = 1; bit != 0; bit <<= 1) {
        if (!(r.all[0].mask & bit)) continue;
        scmp_arg_cmp cmp{r.all[0].arg, SCMP_CMP_MASKED_EQ, bit, bit};
        EXPECT_EQ(seccomp_rule_add_array(ctx, r.action, r.nr, 1, &cmp), 0);
      }
      continue;
    }
    std::vector<scmp_arg_cmp> cmps;
    for (const ArgTest& t : r.all) {
      if (t.compare == Compare::kEq && t.mask != ~0ull) {
        cmps.push_back({t.arg, SCMP_CMP_MASKED_EQ, t.mask, t.value});
        continue;
      }
      if (t.mask != ~0ull) {
        seccomp_release(ctx);
        return std::nullopt;
      }
      scmp_compare op = t.compare == Compare::kEq   ? SCMP_CMP_EQ
                        : t.compare == Compare::kNe ? SCMP_CMP_NE
                        : t.compare == Compare::kLt ? SCMP_CMP_LT
                        : t.compare == Compare::kLe ? SCMP_CMP_LE
                        : t.compare == Compare::kGt ? SCMP_CMP_GT
                                                    : SCMP_CMP_GE;
      cmps.push_back({t.arg, op, t.value, 0});
    }
    int rc = seccomp_rule_add_array(ctx, r.action, r.nr, static_cast<unsigned>(cmps.size()),
                                    cmps.data());
    EXPECT_TRUE(rc == 0 || rc == -EEXIST) << "nr " << r.nr << ": " << rc;
  }
  int fd = memfd_create("oracle", MFD_CLOEXEC);
  EXPECT_EQ(seccomp_export_bpf(ctx, fd), 0);
  seccomp_release(ctx);
  struct stat st {};
  fstat(fd, &st);
  std::vector<sock_filter> program(static_cast<size_t>(st.st_size) / sizeof(sock_filter));
  EXPECT_EQ(pread(fd, program.data(), static_cast<size_t>(st.st_size), 0), st.st_size);
  close(fd);
  return program;
}

// The argument values worth trying against `rules`: each tested value and
// mask, one either side, with the other half of the word set or flipped,
// the edges of both halves, and pairs of tested values ORed (flags).
std::map<unsigned, std::vector<uint64_t>> values_per_arg(
    const std::vector<const SyscallRule*>& rules) {
  std::map<unsigned, std::set<uint64_t>> sets;
  for (const SyscallRule* r : rules) {
    for (const ArgTest& t : r->all) {
      auto& s = sets[t.arg];
      for (uint64_t base : {t.value, t.mask, t.value & t.mask}) {
        for (uint64_t v : {base, base - 1, base + 1}) {
          s.insert({v, v | 0xffffffff00000000ull, v ^ (1ull << 32), v & kLow32, ~v});
        }
      }
    }
  }
  for (auto& [arg, s] : sets) {
    s.insert({0, 1, kLow32, 1ull << 32, 1ull << 63, ~0ull});
    std::vector<uint64_t> tested;
    for (const SyscallRule* r : rules) {
      for (const ArgTest& t : r->all) {
        if (t.arg == arg) tested.push_back(t.value);
      }
    }
    for (uint64_t a : tested) {
      for (uint64_t b : tested) s.insert(a | b);
    }
  }
  std::map<unsigned, std::vector<uint64_t>> out;
  for (auto& [arg, s] : sets) out[arg].assign(s.begin(), s.end());
  return out;
}

// Runs `program` and each oracle over every syscall number up to kNewest
// and the argument values its rules are about, all their combinations.
// Returns how many cases it ran.
size_t expect_agreement(const std::vector<SyscallRule>& rules,
                        const std::vector<sock_filter>& program,
                        const std::optional<std::vector<sock_filter>>& oracle) {
  size_t cases = 0;
  std::mt19937_64 random(1);
  for (uint32_t nr = 0; nr <= kNewest; ++nr) {
    std::vector<const SyscallRule*> mine;
    for (const SyscallRule& r : rules) {
      if (static_cast<uint32_t>(r.nr) == nr) mine.push_back(&r);
    }
    auto values = values_per_arg(mine);
    // Each combination of the tested arguments' values; the others random.
    std::vector<std::pair<unsigned, const std::vector<uint64_t>*>> axes;
    for (auto& [arg, v] : values) axes.push_back({arg, &v});
    std::vector<size_t> at(axes.size(), 0);
    for (;;) {
      seccomp_data d = make_seccomp_data(AUDIT_ARCH_X86_64, static_cast<int>(nr));
      for (auto& a : d.args) a = random();
      for (size_t i = 0; i < axes.size(); ++i) d.args[axes[i].first] = (*axes[i].second)[at[i]];
      std::string error;
      uint32_t got = run_seccomp_bpf(program, d, &error);
      uint32_t want = reference(rules, d);
      std::optional<uint32_t> libseccomp;
      if (oracle) libseccomp = run_seccomp_bpf(*oracle, d);
      if (!error.empty() || got != want || (libseccomp && got != *libseccomp)) {
        ADD_FAILURE() << "nr " << nr << " args " << std::hex << d.args[0] << " " << d.args[1] << " "
                      << d.args[2] << ": got " << got << ", the rules mean " << want
                      << (libseccomp ? ", libseccomp's program gives " + std::to_string(*libseccomp)
                                     : std::string())
                      << (error.empty() ? "" : "; " + error);
        return cases;  // one case says it; thousands would drown it
      }
      ++cases;
      size_t i = 0;
      while (i < at.size() && ++at[i] == axes[i].second->size()) at[i++] = 0;
      if (i == at.size()) break;
    }
  }
  return cases;
}

std::vector<sock_filter> compiled(const std::vector<SyscallRule>& rules,
                                  std::vector<int> first = {}) {
  auto program = compile_seccomp_bpf(rules, {AUDIT_ARCH_X86_64, std::move(first), kNewest});
  EXPECT_TRUE(program.has_value()) << program.error().to_string();
  return program ? *program : std::vector<sock_filter>{};
}

TEST(SeccompCompiler, TheSandboxsRulesMeanWhatTheySayAndWhatLibseccompCompiled) {
  std::vector<Policy::Seccomp> policies(3);
  policies[1].deny = {"chmod", "socket", "ioctl"};
  policies[1].unsafe_allow = {"memfd_create", "ptrace", "personality"};
  policies[2].deny = {"clone", "prctl", "kill"};
  for (const Policy::Seccomp& policy : policies) {
    SeccompRules rules = seccomp_rules(policy);
    auto plan = build_seccomp_plan(policy);
    ASSERT_TRUE(plan.has_value()) << plan.error().to_string();
    // personality's allow-list is the one rule libseccomp cannot express
    // (!= on the low half); the reference alone judges it.
    std::vector<SyscallRule> expressible;
    for (const SyscallRule& r : rules.rules) {
      if (r.nr != SYS_personality) expressible.push_back(r);
    }
    auto oracle = libseccomp_program(expressible);
    ASSERT_TRUE(oracle.has_value());
    std::vector<sock_filter> without_personality = compiled(expressible);
    size_t cases = expect_agreement(expressible, without_personality, oracle);
    cases += expect_agreement(rules.rules, plan->program, std::nullopt);
    EXPECT_GT(cases, 1000u);  // every number, and each rule's values
  }
}

TEST(SeccompCompiler, EveryComparisonOnBothHalvesAgreesWithTheReferenceAndLibseccomp) {
  const Compare compares[] = {Compare::kEq, Compare::kNe, Compare::kLt,
                              Compare::kLe, Compare::kGt, Compare::kGe};
  const uint64_t values[] = {0, 5, kLow32, 1ull << 32, (1ull << 32) + 5, 1ull << 63, ~0ull};
  for (Compare c : compares) {
    for (uint64_t v : values) {
      SCOPED_TRACE("compare " + std::to_string(static_cast<int>(c)) + " value " +
                   std::to_string(v));
      std::vector<SyscallRule> rules = {{SYS_write, SECCOMP_RET_ERRNO | EPERM, {{1, c, v}}}};
      expect_agreement(rules, compiled(rules), libseccomp_program(rules));
      // The same test on the low half only, as for an int argument. An
      // equality with bits outside the mask is refused (never true; and
      // libseccomp would mask the value too).
      rules[0].all[0].mask = kLow32;
      if ((c == Compare::kEq || c == Compare::kNe) && (v >> 32) != 0) {
        EXPECT_FALSE(compile_seccomp_bpf(rules, {AUDIT_ARCH_X86_64, {}, kNewest}).has_value());
        continue;
      }
      expect_agreement(rules, compiled(rules), libseccomp_program(rules));
    }
  }
  for (uint64_t mask : {0xffffffff00000000ull, 0xff00ull, 0x100000001ull, 0ull}) {
    for (uint64_t v : values) {
      SCOPED_TRACE("mask " + std::to_string(mask) + " value " + std::to_string(v));
      std::vector<SyscallRule> rules = {
          {SYS_write, SECCOMP_RET_ERRNO | EPERM, {{1, Compare::kEq, v & mask, mask}}},
          {SYS_read, SECCOMP_RET_ERRNO | EPERM, {{0, Compare::kEq, (v + 1) & mask, mask}}}};
      expect_agreement(rules, compiled(rules), libseccomp_program(rules));
    }
  }
}

TEST(SeccompCompiler, RulesOfOneSyscallTakeTheFirstThatHoldsAndTestsAreAConjunction) {
  // Overlapping rules with different errnos (libseccomp leaves their
  // precedence unspecified; the reference's is the first that holds), a
  // range as two tests on one argument, and tests on two arguments.
  std::vector<SyscallRule> rules = {
      {SYS_ioctl, SECCOMP_RET_ERRNO | EPERM, {{1, Compare::kEq, 0x5412, kLow32}}},
      {SYS_ioctl,
       SECCOMP_RET_ERRNO | EACCES,
       {{1, Compare::kGe, 0x5400, kLow32}, {1, Compare::kLt, 0x5500, kLow32}}},
      {SYS_ioctl, SECCOMP_RET_ERRNO | EINVAL, {{0, Compare::kEq, 7}, {2, Compare::kNe, 0}}},
      // One word under two masks: loaded again for the second.
      {SYS_openat, SECCOMP_RET_ERRNO | EROFS, {{2, Compare::kEq, O_WRONLY, O_ACCMODE}}},
      {SYS_openat, SECCOMP_RET_ERRNO | EACCES, {{2, Compare::kEq, O_CREAT, O_CREAT}}},
      {SYS_kill, SECCOMP_RET_ERRNO | EACCES, {{1, Compare::kEq, 9}}},
      {SYS_kill, SECCOMP_RET_ERRNO | EPERM, {}},  // decides alone
  };
  auto program = compiled(rules, {SYS_ioctl});
  EXPECT_GT(expect_agreement(rules, program, std::nullopt), 1000u);
  auto run = [&](int nr, std::vector<uint64_t> args) {
    return run_seccomp_bpf(program, make_seccomp_data(AUDIT_ARCH_X86_64, nr, args));
  };
  EXPECT_EQ(run(SYS_ioctl, {1, 0x5412}), SECCOMP_RET_ERRNO | EPERM);
  EXPECT_EQ(run(SYS_ioctl, {1, 0x5413}), SECCOMP_RET_ERRNO | EACCES);
  EXPECT_EQ(run(SYS_ioctl, {7, 0x1, 1}), SECCOMP_RET_ERRNO | EINVAL);
  EXPECT_EQ(run(SYS_ioctl, {7, 0x1, 0}), kAllow);
  EXPECT_EQ(run(SYS_openat, {0, 0, O_CREAT | O_RDWR}), SECCOMP_RET_ERRNO | EACCES);
  EXPECT_EQ(run(SYS_kill, {1, 9}), SECCOMP_RET_ERRNO | EPERM);
}

TEST(SeccompCompiler, ForeignAbisKillAndNumbersAboveTheNewestAreEnosys) {
  std::vector<SyscallRule> rules = {{SYS_ioctl, SECCOMP_RET_ERRNO | EPERM, {{1, Compare::kEq, 1}}}};
  auto program = compiled(rules, {SYS_ioctl});
  auto run = [&](uint32_t arch, uint32_t nr) {
    return run_seccomp_bpf(program, make_seccomp_data(arch, static_cast<int>(nr), {0, 1}));
  };
  EXPECT_EQ(run(AUDIT_ARCH_I386, SYS_ioctl), kKill);
  EXPECT_EQ(run(AUDIT_ARCH_AARCH64, 0), kKill);
  EXPECT_EQ(run(AUDIT_ARCH_X86_64, 0x40000000 | SYS_getpid), kKill);  // x32
  EXPECT_EQ(run(AUDIT_ARCH_X86_64, 0x40000000 | SYS_ioctl), kKill);
  EXPECT_EQ(run(AUDIT_ARCH_X86_64, kNewest + 1), kEnosys);
  EXPECT_EQ(run(AUDIT_ARCH_X86_64, 0x3fffffff), kEnosys);
  EXPECT_EQ(run(AUDIT_ARCH_X86_64, 0xffffffff), kEnosys);  // -1, a tracer's skip
  EXPECT_EQ(run(AUDIT_ARCH_X86_64, kNewest), kAllow);
  EXPECT_EQ(run(AUDIT_ARCH_X86_64, SYS_ioctl), SECCOMP_RET_ERRNO | EPERM);
}

// A syscall whose verdict never depends on an argument must reach its
// `ret ALLOW` on a path the kernel's action cache can emulate, or every
// call of it runs the filter. The syscalls tested first are the ones the
// filter does run for most; each reaches its verdict in a few
// instructions.
TEST(SeccompCompiler, AllowedSyscallsAreLeftToTheActionCacheAndTheFirstTestedAreShort) {
  auto plan = build_seccomp_plan({});
  ASSERT_TRUE(plan.has_value());
  std::set<uint32_t> with_rules;
  for (const SyscallRule& r : seccomp_rules({}).rules)
    with_rules.insert(static_cast<uint32_t>(r.nr));
  testing::BpfPath path;
  for (uint32_t nr = 0; nr <= kNewest; ++nr) {
    if (with_rules.count(nr)) continue;
    seccomp_data d = make_seccomp_data(AUDIT_ARCH_X86_64, static_cast<int>(nr));
    EXPECT_EQ(run_seccomp_bpf(plan->program, d, nullptr, &path), kAllow) << nr;
    EXPECT_TRUE(path.constant) << nr;
  }
  auto length = [&](int nr, std::vector<uint64_t> args) {
    run_seccomp_bpf(plan->program, make_seccomp_data(AUDIT_ARCH_X86_64, nr, args), nullptr, &path);
    EXPECT_FALSE(path.constant) << nr;
    return path.instructions;
  };
  // arch (3), nr, then one jeq per syscall before this one, the block.
  EXPECT_EQ(length(SYS_ioctl, {1, TCGETS}), 3u + 1 + 5);  // 3 requests on one load, ret
  EXPECT_EQ(length(SYS_clone, {SIGCHLD}), 3u + 3 + 4);    // load, mask, test, ret
  EXPECT_EQ(length(SYS_prctl, {PR_SET_NAME}), 3u + 5 + 3);
}

}  // namespace
}  // namespace openshell::policy
