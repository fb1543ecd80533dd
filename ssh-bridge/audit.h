// Audit events: every session open and close, each authentication failure
// and each refused request, with who asked (peer, user, key) and where
// (sandbox id). Written at warn level so the default log level keeps them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace openshell::ssh {

struct AuditInfo {
  std::uint64_t connection = 0;
  std::string peer;         // "127.0.0.1:50122", "unix"
  std::string user;         // as the client asked, empty before userauth
  std::string fingerprint;  // the authenticated (or offered) key
  std::string sandbox_id;
};

void audit(const AuditInfo& who, std::string_view event, std::string_view detail = {});

}  // namespace openshell::ssh
