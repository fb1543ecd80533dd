#include "audit.h"

#include "log.h"

namespace openshell::egress {
namespace {

constexpr size_t kMaxSlots = 4096;  // bounded memory however many destinations

std::string join(const std::vector<std::string>& items, size_t from) {
  std::string out;
  for (size_t i = from; i < items.size(); ++i) {
    if (!out.empty()) out += ",";
    out += items[i];
  }
  return out;
}

}  // namespace

bool AuditLimiter::admit(const std::string& key, Clock::time_point now, uint64_t& suppressed) {
  if (slots_.size() >= kMaxSlots && !slots_.contains(key)) {
    // Forget quiet destinations first; if none is quiet, start over.
    std::erase_if(slots_, [&](const auto& item) { return now - item.second.window_start >= kWindow; });
    if (slots_.size() >= kMaxSlots) slots_.clear();
  }
  auto [it, fresh] = slots_.try_emplace(key);
  Slot& slot = it->second;
  if (fresh || now - slot.window_start >= kWindow) {
    slot.window_start = now;
    slot.written = 0;
  }
  if (slot.written >= kBurst) {
    ++slot.suppressed;
    return false;
  }
  ++slot.written;
  suppressed = slot.suppressed;
  slot.suppressed = 0;
  return true;
}

void Audit::record(const AuditRecord& r) {
  std::string exe = r.exe_chain.empty() ? "" : r.exe_chain.front();
  std::string key = exe + "|" + std::to_string(r.pid) + "|" + r.host + ":" + std::to_string(r.port) +
                    "|" + (r.allow ? "allow" : "deny");
  uint64_t suppressed = 0;
  if (!limiter_.admit(key, AuditLimiter::Clock::now(), suppressed)) return;
  auto level = r.allow ? log::Level::info : log::Level::warn;
  log::write(level, "egress decision",
             {{"audit", "egress"},
              {"action", r.allow ? "allow" : "deny"},
              {"rule", r.rule.empty() ? "-" : r.rule},
              {"engine", r.engine},
              {"via", r.via},
              {"host", r.host},
              {"port", static_cast<unsigned>(r.port)},
              {"address", r.address},
              {"pid", static_cast<int>(r.pid)},
              {"exe", exe},
              {"ancestors", join(r.exe_chain, 1)},
              {"reason", r.reason},
              {"generation", static_cast<unsigned long long>(r.generation)},
              {"suppressed", static_cast<unsigned long long>(suppressed)}});
}

}  // namespace openshell::egress
