// One JSON log record per egress decision, allow and deny (DESIGN.md §6
// "Egress"): action, rule, engine (`policy`: the L4 rules; `ssrf`: the
// address check), destination host, port and dialed address, the caller
// (sandbox pid, exe, ancestors) and the reason.
//
// A client retrying in a loop would flood the log: records are limited per
// caller and destination (kBurst per kWindow); the next record after a
// quiet spell carries how many were suppressed.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace openshell::egress {

struct AuditRecord {
  bool allow = false;
  std::string rule;    // the matching rule key; "-" when none
  std::string engine;  // "policy" or "ssrf"
  std::string via;     // "connect", "forward" or "capture"
  std::string host;
  uint16_t port = 0;
  std::string address;  // dialed (allow) or refused (ssrf); empty when none
  pid_t pid = 0;        // the caller (CallerIdentity::pid: as the sandbox sees it)
  std::vector<std::string> exe_chain;
  std::string reason;
  uint64_t generation = 0;  // of the network policy that decided
};

class AuditLimiter {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr size_t kBurst = 5;
  static constexpr std::chrono::seconds kWindow{10};

  // Whether to write a record for `key` now; when yes, `suppressed` is how
  // many records for it were dropped since the last one written.
  bool admit(const std::string& key, Clock::time_point now, uint64_t& suppressed);

 private:
  struct Slot {
    Clock::time_point window_start;
    size_t written = 0;
    uint64_t suppressed = 0;
  };
  std::map<std::string, Slot> slots_;
};

class Audit {
 public:
  void record(const AuditRecord& record);

 private:
  AuditLimiter limiter_;
};

}  // namespace openshell::egress
