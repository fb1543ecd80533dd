#include "audit.h"

#include "log.h"

namespace openshell::ssh {

void audit(const AuditInfo& who, std::string_view event, std::string_view detail) {
  log::warn("ssh audit", {{"event", event},
                          {"peer", who.peer},
                          {"user", who.user},
                          {"key_fingerprint", who.fingerprint},
                          {"sandbox_id", who.sandbox_id},
                          {"connection", static_cast<unsigned long long>(who.connection)},
                          {"detail", detail}});
}

}  // namespace openshell::ssh
