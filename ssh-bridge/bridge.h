// The SSH bridge: the gateway's way into the sandbox. A libssh server driven
// by the supervisor's single-threaded Boost.Asio loop (no thread per
// connection), with public-key authentication against the gateway's keys
// only. Every shell, exec, sftp and forward is delegated to the interfaces in
// interfaces.h, so everything runs inside the sandbox.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "error.h"
#include "interfaces.h"

namespace openshell::ssh {

struct BridgeConfig {
  // OPENSHELL_SSH_LISTEN: "0.0.0.0:2222", "[::]:2222", "127.0.0.1:0" (any
  // free port, see Bridge::listening()), or "off".
  std::string listen = "[::]:2222";
  // OPENSHELL_SSH_SOCKET_PATH: empty for none; "@name" is an abstract socket.
  std::string socket_path;
  // OPENSHELL_SSH_AUTHORIZED_KEYS_FILE. Without a usable key create() fails.
  std::string authorized_keys_file = "/etc/openshell/ssh/authorized_keys";
  // OPENSHELL_SSH_HOST_KEY_FILE: Ed25519 private key; empty generates one.
  std::string host_key_file;
  // OPENSHELL_SANDBOX_ID, carried in every audit event.
  std::string sandbox_id;
  // Time a connection has to authenticate.
  std::chrono::milliseconds auth_timeout{30'000};
  // Failed authentication requests before disconnect (the first "none" is
  // not counted, every later one is).
  int max_auth_tries = 6;
  // Unauthenticated connections kept at once, and from one source address.
  // A source at its limit loses its own oldest for a newcomer; when all
  // are taken, a newcomer from another source displaces one of the source
  // holding the most (never a source's only one), so no source can evict
  // another's way in (bridge.cc, admit()).
  std::size_t max_unauthenticated = 64;
  std::size_t max_unauthenticated_per_source = 8;
  // Authenticated connections at once; beyond it new ones are refused.
  std::size_t max_sessions = 1024;
};

// The supervisor's implementations; main_attach and connector may be null
// (the subsystem or forwarding is then refused and audited). They must
// outlive the Bridge's sessions: call stop() (or destroy the Bridge) before
// destroying any of them, since ending a session signals its process and
// detaches from the main process.
struct BridgeServices {
  ProcessLauncher* launcher = nullptr;
  MainAttach* main_attach = nullptr;
  LoopbackConnector* connector = nullptr;
};

class Bridge {
 public:
  // Loads the authorized keys and the host key and checks the listener
  // addresses. Fails closed: no usable gateway key is an error.
  static Result<std::unique_ptr<Bridge>> create(boost::asio::io_context& io, BridgeConfig config,
                                                BridgeServices services);
  ~Bridge();
  Bridge(const Bridge&) = delete;
  Bridge& operator=(const Bridge&) = delete;

  // Binds the listeners and starts accepting on the io_context.
  Result<void> start();
  // The supervisor is shutting down: closes the listeners and starts no
  // new process; sessions already running go on until their process ends
  // or stop() (their processes have had the shutdown signal).
  void begin_shutdown();

  // Closes the listeners and every connection (their processes get SIGHUP),
  // synchronously; afterwards the Bridge calls no service again. What
  // libssh still holds for a client (the last output, exit-status, close)
  // is written first, for at most `flush` in all.
  void stop(std::chrono::milliseconds flush = std::chrono::milliseconds(0));

  // Where it listens: "127.0.0.1:2222", "[::1]:2222", "unix:/run/x.sock".
  std::vector<std::string> listening() const;
  // "ssh-ed25519 AAAA..." and "SHA256:...", for known_hosts pinning.
  const std::string& host_public_key() const;
  const std::string& host_key_fingerprint() const;

  struct Stats {
    std::size_t unauthenticated = 0;
    std::size_t authenticated = 0;
  };
  Stats stats() const;

  struct Impl;

 private:
  explicit Bridge(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace openshell::ssh
