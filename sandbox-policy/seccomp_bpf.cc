// The program's shape:
//
//   ld arch; jeq native, else ret KILL_PROCESS
//   ld nr
//   shape.first, in order: jeq nr, else over the block; block
//   x86_64: nr >= 0x40000000 (x32) and not -1: ret KILL_PROCESS
//   nr > shape.newest: ret ERRNO(ENOSYS)
//   every other syscall with a rule, by number: jeq nr, else over; block
//   ret ALLOW
//
// A block is its syscall's rules, each its tests and then `ret action`; a
// test that fails jumps to the next rule, and after the last one the
// block returns ALLOW. -1 passes the x32 check because a tracer sets it to
// skip a syscall (libseccomp lets it through too); above `newest` it gets
// ENOSYS, what the kernel answers for it anyway.
#include "seccomp_bpf.h"

#include <linux/audit.h>
#include <linux/seccomp.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <map>
#include <string>

namespace openshell::policy {
namespace {

constexpr uint32_t kX32SyscallBit = 0x40000000;  // __X32_SYSCALL_BIT
constexpr uint32_t kMaxJump = 255;               // jt and jf are 8 bits

uint32_t arg_word(unsigned arg, bool high) {
  constexpr bool kLittle = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__;
  return static_cast<uint32_t>(offsetof(seccomp_data, args)) + 8 * arg + (high == kLittle ? 4 : 0);
}

sock_filter stmt(uint16_t code, uint32_t k) {
  return BPF_STMT(code, k);
}

sock_filter jump(uint16_t op, uint32_t k, uint8_t jt, uint8_t jf) {
  return BPF_JUMP(BPF_JMP | op | BPF_K, k, jt, jf);
}

// What the accumulator holds: a word of seccomp_data, masked.
struct Held {
  uint32_t offset;
  uint32_t mask;
  bool operator==(const Held&) const = default;
};

// One rule's code. Jumps to "fail" (the next rule) are patched when the
// rule is whole; `held` follows the accumulator so that rules testing the
// same word (ioctl's requests, socket's families) load it once.
class RuleCode {
 public:
  explicit RuleCode(std::optional<Held> held) : held_(held) {}

  void load(uint32_t offset, uint32_t mask) {
    if (held_ == Held{offset, mask}) return;
    code_.push_back(stmt(BPF_LD | BPF_W | BPF_ABS, offset));
    if (mask != ~0u) code_.push_back(stmt(BPF_ALU | BPF_AND | BPF_K, mask));
    held_ = Held{offset, mask};
  }
  size_t load_length(uint32_t offset, uint32_t mask) const {
    if (held_ == Held{offset, mask}) return 0;
    return mask != ~0u ? 2 : 1;
  }

  // A conditional jump whose targets are the next instruction plus `jt` or
  // `jf`, or the rule's failure (`kFail`).
  static constexpr int kFail = -1;
  void branch(uint16_t op, uint32_t k, int jt, int jf) {
    code_.push_back(jump(op, k, jt == kFail ? 0 : static_cast<uint8_t>(jt),
                         jf == kFail ? 0 : static_cast<uint8_t>(jf)));
    if (jt == kFail) fails_.push_back({code_.size() - 1, true});
    if (jf == kFail) fails_.push_back({code_.size() - 1, false});
    if (jt == kFail || jf == kFail) {
      at_fail_.push_back(held_);
    }
  }

  // The accumulator is one of several words from here on.
  void forget() { held_.reset(); }

  // Ends the rule with `ret action`; returns what the accumulator holds at
  // the next rule, where every failing path arrives.
  std::optional<Held> finish(uint32_t action, std::vector<sock_filter>& out, bool& can_fail) {
    code_.push_back(stmt(BPF_RET | BPF_K, action));
    for (auto [at, is_jt] : fails_) {
      uint8_t distance = static_cast<uint8_t>(code_.size() - at - 1);
      (is_jt ? code_[at].jt : code_[at].jf) = distance;
    }
    out.insert(out.end(), code_.begin(), code_.end());
    can_fail = !fails_.empty();
    std::optional<Held> next;
    if (!at_fail_.empty() &&
        std::all_of(at_fail_.begin(), at_fail_.end(), [&](auto& h) { return h == at_fail_[0]; })) {
      next = at_fail_[0];
    }
    return next;
  }

 private:
  std::optional<Held> held_;
  std::vector<sock_filter> code_;
  std::vector<std::pair<size_t, bool>> fails_;
  std::vector<std::optional<Held>> at_fail_;
};

// The test on one 32-bit word with the accumulator loaded: falls through
// when `compare` holds, else fails the rule.
void low_word_test(RuleCode& c, Compare compare, uint32_t v) {
  constexpr int F = RuleCode::kFail;
  switch (compare) {
    case Compare::kEq:
      c.branch(BPF_JEQ, v, 0, F);
      break;
    case Compare::kNe:
      c.branch(BPF_JEQ, v, F, 0);
      break;
    case Compare::kGt:
      c.branch(BPF_JGT, v, 0, F);
      break;
    case Compare::kGe:
      c.branch(BPF_JGE, v, 0, F);
      break;
    case Compare::kLt:
      c.branch(BPF_JGE, v, F, 0);
      break;
    case Compare::kLe:
      c.branch(BPF_JGT, v, F, 0);
      break;
  }
}

enum class Constant { kNo, kAlwaysHolds, kNeverHolds };

// Emits one test; says when it is constant instead (nothing emitted).
Constant emit_test(RuleCode& c, const ArgTest& t) {
  constexpr int F = RuleCode::kFail;
  uint32_t mhi = static_cast<uint32_t>(t.mask >> 32), mlo = static_cast<uint32_t>(t.mask);
  uint32_t vhi = static_cast<uint32_t>(t.value >> 32), vlo = static_cast<uint32_t>(t.value);
  uint32_t lo = arg_word(t.arg, false), hi = arg_word(t.arg, true);
  if (mhi == 0) {
    // The high half of (arg & mask) is 0: against vhi it decides alone
    // unless vhi is 0 too.
    if (vhi != 0) {  // then the masked argument is below value (== and != are refused)
      bool holds = t.compare == Compare::kLt || t.compare == Compare::kLe;
      return holds ? Constant::kAlwaysHolds : Constant::kNeverHolds;
    }
    c.load(lo, mlo);
    low_word_test(c, t.compare, vlo);
    return Constant::kNo;
  }
  // Both halves: the high one decides unless it equals vhi.
  c.load(hi, mhi);
  size_t low_length = c.load_length(lo, mlo) + 1;  // the low load and its test
  switch (t.compare) {
    case Compare::kEq:
      c.branch(BPF_JEQ, vhi, 0, F);
      break;
    case Compare::kNe:
      c.branch(BPF_JEQ, vhi, 0, static_cast<int>(low_length));
      break;
    case Compare::kGt:
    case Compare::kGe:
      c.branch(BPF_JGT, vhi, static_cast<int>(1 + low_length), 0);
      c.branch(BPF_JEQ, vhi, 0, F);
      break;
    case Compare::kLt:
    case Compare::kLe:
      c.branch(BPF_JGT, vhi, F, 0);
      c.branch(BPF_JEQ, vhi, 0, static_cast<int>(low_length));
      break;
  }
  c.load(lo, mlo);
  low_word_test(c, t.compare, vlo);
  c.forget();  // high or low, depending on the path taken
  return Constant::kNo;
}

// A syscall's block, entered with the syscall number in the accumulator.
std::vector<sock_filter> block(const std::vector<const SyscallRule*>& rules) {
  std::vector<sock_filter> out;
  for (const SyscallRule* r : rules) {
    if (r->all.empty()) return {stmt(BPF_RET | BPF_K, r->action)};
  }
  std::optional<Held> held = Held{static_cast<uint32_t>(offsetof(seccomp_data, nr)), ~0u};
  for (const SyscallRule* r : rules) {
    RuleCode c(held);
    bool never = false;
    for (const ArgTest& t : r->all) {
      if (emit_test(c, t) == Constant::kNeverHolds) never = true;
    }
    if (never) continue;  // emitted code is dropped with it; `held` is unchanged
    bool can_fail = true;
    held = c.finish(r->action, out, can_fail);
    if (!can_fail) return out;  // every call returns here; later rules are unreachable
  }
  out.push_back(stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
  return out;
}

// `jeq nr` that enters `code` or skips it.
void dispatch(std::vector<sock_filter>& out, int nr, const std::vector<sock_filter>& code) {
  if (code.size() <= kMaxJump) {
    out.push_back(jump(BPF_JEQ, static_cast<uint32_t>(nr), 0, static_cast<uint8_t>(code.size())));
  } else {
    out.push_back(jump(BPF_JEQ, static_cast<uint32_t>(nr), 1, 0));
    out.push_back(stmt(BPF_JMP | BPF_JA, static_cast<uint32_t>(code.size())));
  }
  out.insert(out.end(), code.begin(), code.end());
}

}  // namespace

PolicyResult<std::vector<sock_filter>> compile_seccomp_bpf(const std::vector<SyscallRule>& rules,
                                                           const FilterShape& shape) {
  std::map<int, std::vector<const SyscallRule*>> by_nr;
  for (const SyscallRule& r : rules) {
    if (r.nr < 0) return policy_error("seccomp", "syscall number " + std::to_string(r.nr));
    if (shape.newest && static_cast<uint32_t>(r.nr) > *shape.newest) {
      return policy_error("seccomp", "syscall number " + std::to_string(r.nr) +
                                         " is above the newest the filter tests, " +
                                         std::to_string(*shape.newest));
    }
    // Six tests of at most seven instructions each keep every jump to the
    // next rule within reach (8 bits).
    if (r.all.size() > 6) return policy_error("seccomp", "more than six tests in one rule");
    for (const ArgTest& t : r.all) {
      if (t.arg > 5) return policy_error("seccomp", "argument " + std::to_string(t.arg));
      // Such an equality never holds: a mistake in the rule, not a rule.
      if ((t.compare == Compare::kEq || t.compare == Compare::kNe) && (t.value & ~t.mask) != 0) {
        return policy_error(
            "seccomp", "syscall " + std::to_string(r.nr) + ": a value with bits outside its mask");
      }
    }
    by_nr[r.nr].push_back(&r);
  }

  std::vector<sock_filter> out;
  out.push_back(stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)));
  out.push_back(jump(BPF_JEQ, shape.arch, 1, 0));
  out.push_back(stmt(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS));
  out.push_back(stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)));
  for (int nr : shape.first) {
    auto it = by_nr.find(nr);
    if (it == by_nr.end()) continue;
    dispatch(out, nr, block(it->second));
    by_nr.erase(it);
  }
  if (shape.arch == AUDIT_ARCH_X86_64) {
    out.push_back(jump(BPF_JGE, kX32SyscallBit, 0, 2));
    out.push_back(jump(BPF_JEQ, 0xffffffffu, 1, 0));
    out.push_back(stmt(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS));
  }
  if (shape.newest) {
    out.push_back(jump(BPF_JGT, *shape.newest, 0, 1));
    out.push_back(stmt(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS));
  }
  for (const auto& [nr, its_rules] : by_nr) dispatch(out, nr, block(its_rules));
  out.push_back(stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
  // BPF_MAXINSNS: the kernel refuses longer classic programs (filter.h).
  if (out.size() > BPF_MAXINSNS) {
    return policy_error("seccomp", "BPF program of " + std::to_string(out.size()) +
                                       " instructions exceeds BPF_MAXINSNS");
  }
  return out;
}

}  // namespace openshell::policy
