#include "audit.h"

#include <chrono>
#include <map>

#include "log.h"

namespace openshell::ssh {
namespace {

// Records about connections that have not authenticated are limited per
// source address: a flood of them must not flood the log (or the disk under
// it) too. Per source and kWindow, at most kBurst records of connections
// dropped, refused or timed out (a flood makes one per connection), and
// kFailureBurst authentication failures (each costs the client a key
// exchange); the rest are counted, and the count is written as one
// "audit_suppressed" record by the source's first record of a later window.
constexpr int kBurst = 20;
constexpr int kFailureBurst = 200;
constexpr auto kWindow = std::chrono::seconds(10);

bool pre_authentication(std::string_view event) {
  return event == "connection_dropped" || event == "connection_refused" ||
         event == "auth_failure" || event == "auth_timeout";
}

std::string source_of(const std::string& peer) {
  auto colon = peer.rfind(':');
  if (colon == std::string::npos || peer.ends_with(']')) return peer;
  return peer.substr(0, colon);
}

struct Window {
  std::chrono::steady_clock::time_point start;
  int written = 0;
  int failures = 0;
  unsigned long long suppressed = 0;
};

void write(const AuditInfo& who, std::string_view event, std::string_view detail) {
  log::warn("ssh audit", {{"event", event},
                          {"peer", who.peer},
                          {"user", who.user},
                          {"key_fingerprint", who.fingerprint},
                          {"sandbox_id", who.sandbox_id},
                          {"connection", static_cast<unsigned long long>(who.connection)},
                          {"detail", detail}});
}

}  // namespace

void audit(const AuditInfo& who, std::string_view event, std::string_view detail) {
  if (!pre_authentication(event)) return write(who, event, detail);
  static std::map<std::string, Window> windows;
  auto now = std::chrono::steady_clock::now();
  // Forget sources that have been quiet, so the map stays small.
  if (windows.size() > 4096) std::erase_if(windows, [&](const auto& w) {
      return now - w.second.start > kWindow && w.second.suppressed == 0;
    });
  Window& w = windows[source_of(who.peer)];
  if (now - w.start > kWindow) {
    if (w.suppressed > 0) {
      log::warn("ssh audit", {{"event", "audit_suppressed"},
                              {"peer", source_of(who.peer)},
                              {"sandbox_id", who.sandbox_id},
                              {"suppressed", w.suppressed},
                              {"detail", "records about unauthenticated connections from this "
                                         "source over the limit"}});
    }
    w = Window{now, 0, 0, 0};
  }
  int& count = event == "auth_failure" ? w.failures : w.written;
  if (count >= (event == "auth_failure" ? kFailureBurst : kBurst)) {
    ++w.suppressed;
    return;
  }
  ++count;
  write(who, event, detail);
}

}  // namespace openshell::ssh
