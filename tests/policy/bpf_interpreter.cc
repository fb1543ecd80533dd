#include "bpf_interpreter.h"

#include <cstddef>
#include <cstring>

namespace openshell::policy::testing {

seccomp_data make_seccomp_data(uint32_t arch, int nr, std::vector<uint64_t> args) {
  seccomp_data d{};
  d.nr = nr;
  d.arch = arch;
  for (size_t i = 0; i < args.size() && i < 6; ++i) d.args[i] = args[i];
  return d;
}

uint32_t run_seccomp_bpf(const std::vector<sock_filter>& program, const seccomp_data& data,
                         std::string* error, BpfPath* path) {
  BpfPath ignored;
  if (!path) path = &ignored;
  *path = {};
  auto fail = [&](const std::string& why, size_t pc) {
    if (error) *error = why + " at instruction " + std::to_string(pc);
    return 0u;
  };
  uint32_t a = 0, x = 0;
  uint32_t mem[BPF_MEMWORDS] = {};
  size_t steps = 0;
  for (size_t pc = 0; pc < program.size(); ++pc) {
    if (++steps > program.size()) return fail("loop", pc);  // classic BPF only jumps forward
    const sock_filter& f = program[pc];
    ++path->instructions;
    bool emulated = f.code == (BPF_LD | BPF_W | BPF_ABS)
                        ? f.k == offsetof(seccomp_data, nr) || f.k == offsetof(seccomp_data, arch)
                        : f.code == (BPF_RET | BPF_K) ||
                              (BPF_CLASS(f.code) == BPF_JMP && BPF_SRC(f.code) == BPF_K);
    if (!emulated) path->constant = false;
    switch (BPF_CLASS(f.code)) {
      case BPF_LD:
      case BPF_LDX: {
        uint32_t value = 0;
        switch (BPF_MODE(f.code)) {
          case BPF_ABS:
            // seccomp allows only aligned 32-bit loads inside seccomp_data.
            if (BPF_SIZE(f.code) != BPF_W || f.k % 4 != 0 || f.k + 4 > sizeof(seccomp_data)) {
              return fail("bad load", pc);
            }
            std::memcpy(&value, reinterpret_cast<const char*>(&data) + f.k, 4);
            break;
          case BPF_IMM:
            value = f.k;
            break;
          case BPF_MEM:
            if (f.k >= BPF_MEMWORDS) return fail("bad mem index", pc);
            value = mem[f.k];
            break;
          case BPF_LEN:
            value = sizeof(seccomp_data);
            break;
          default:
            return fail("bad load mode", pc);
        }
        (BPF_CLASS(f.code) == BPF_LD ? a : x) = value;
        break;
      }
      case BPF_ST:
      case BPF_STX:
        if (f.k >= BPF_MEMWORDS) return fail("bad mem index", pc);
        mem[f.k] = BPF_CLASS(f.code) == BPF_ST ? a : x;
        break;
      case BPF_ALU: {
        uint32_t v = BPF_SRC(f.code) == BPF_X ? x : f.k;
        switch (BPF_OP(f.code)) {
          case BPF_ADD:
            a += v;
            break;
          case BPF_SUB:
            a -= v;
            break;
          case BPF_MUL:
            a *= v;
            break;
          case BPF_DIV:
            if (v == 0) return 0;
            a /= v;
            break;
          case BPF_MOD:
            if (v == 0) return 0;
            a %= v;
            break;
          case BPF_OR:
            a |= v;
            break;
          case BPF_AND:
            a &= v;
            break;
          case BPF_XOR:
            a ^= v;
            break;
          case BPF_LSH:
            a = v >= 32 ? 0 : a << v;
            break;
          case BPF_RSH:
            a = v >= 32 ? 0 : a >> v;
            break;
          case BPF_NEG:
            a = -a;
            break;
          default:
            return fail("bad alu op", pc);
        }
        break;
      }
      case BPF_JMP: {
        if (BPF_OP(f.code) == BPF_JA) {
          pc += f.k;
          break;
        }
        uint32_t v = BPF_SRC(f.code) == BPF_X ? x : f.k;
        bool taken = false;
        switch (BPF_OP(f.code)) {
          case BPF_JEQ:
            taken = a == v;
            break;
          case BPF_JGT:
            taken = a > v;
            break;
          case BPF_JGE:
            taken = a >= v;
            break;
          case BPF_JSET:
            taken = (a & v) != 0;
            break;
          default:
            return fail("bad jump op", pc);
        }
        pc += taken ? f.jt : f.jf;
        break;
      }
      case BPF_RET:
        return BPF_RVAL(f.code) == BPF_A ? a : f.k;
      case BPF_MISC:
        if (BPF_MISCOP(f.code) == BPF_TAX) {
          x = a;
        } else {
          a = x;
        }
        break;
      default:
        return fail("bad class", pc);
    }
  }
  return fail("fell off the end", program.size());
}

}  // namespace openshell::policy::testing
