// Owners for libssh handles: each one is freed exactly once, by its owner.
#pragma once

#include <libssh/libssh.h>
#include <libssh/server.h>

#include <memory>

namespace openshell::ssh {

struct SessionFree {
  void operator()(ssh_session s) const { ssh_free(s); }
};
struct BindFree {
  void operator()(ssh_bind b) const { ssh_bind_free(b); }
};
struct KeyFree {
  void operator()(ssh_key k) const { ssh_key_free(k); }
};
struct EventFree {
  void operator()(ssh_event e) const { ssh_event_free(e); }
};
struct CharFree {
  void operator()(char* p) const { ssh_string_free_char(p); }
};

using SessionPtr = std::unique_ptr<ssh_session_struct, SessionFree>;
using BindPtr = std::unique_ptr<ssh_bind_struct, BindFree>;
using KeyPtr = std::unique_ptr<ssh_key_struct, KeyFree>;
using EventPtr = std::unique_ptr<ssh_event_struct, EventFree>;
using SshCharPtr = std::unique_ptr<char, CharFree>;

}  // namespace openshell::ssh

namespace openshell::ssh {
// ssh_channel_free sends CHANNEL_CLOSE if none was sent, then releases the
// channel once the peer's close arrived (RFC 4254 §5.3).
struct ChannelFree {
  void operator()(ssh_channel c) const { ssh_channel_free(c); }
};
using ChannelPtr = std::unique_ptr<ssh_channel_struct, ChannelFree>;
}  // namespace openshell::ssh
