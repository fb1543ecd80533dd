// One SSH connection: key exchange, user authentication (RFC 4252, public
// key only) and the dispatch of channel opens (RFC 4254), all driven from the
// Asio loop by readiness of the socket. libssh owns the socket fd; the loop
// only watches it.
#pragma once

#include <libssh/callbacks.h>
#include <libssh/server.h>

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "audit.h"
#include "handles.h"
#include "server_context.h"

namespace openshell::ssh {

class Channel;

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(ServerContext& context, std::uint64_t id, int fd, std::string peer);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  void start();
  // Ends the connection. Safe from inside a libssh callback: the teardown
  // runs after libssh has returned.
  void close(std::string reason);

  // Releases everything now (the Bridge's destructor uses it).
  void teardown();
  // The loop has stopped: every channel moves its last output and status
  // into libssh (Channel::pump_final) for the flush that follows.
  void pump_final();
  // After pump_final() closed every channel the client had, waits up to
  // `timeout` for the client to hang up (RDHUP on the socket); does not
  // wait for a client that had no channel.
  void await_hangup(std::chrono::milliseconds timeout);

  bool authenticated() const { return authenticated_; }
  bool key_exchange_done() const { return kex_done_; }
  std::uint64_t id() const { return id_; }
  ssh_session session() const { return session_.get(); }
  ServerContext& context() { return context_; }
  const AuditInfo& who() const { return who_; }
  // A channel moved data: pump every channel and re-arm the socket.
  void kick();

 private:
  void service();
  bool handshake_step();
  void pump_channels();
  void arm();
  void auth_failure(std::string_view method, std::string_view why, bool counted);

  int on_auth_pubkey(const char* user, ssh_key key, char signature_state);
  ssh_channel on_open_session();
  int on_message(ssh_message message);
  int open_forward(ssh_message message);

  ServerContext& context_;
  std::uint64_t id_;
  SessionPtr session_;
  EventPtr event_;
  boost::asio::posix::stream_descriptor socket_;
  boost::asio::steady_timer auth_timer_;
  ssh_server_callbacks_struct server_callbacks_{};
  AuditInfo who_;
  std::vector<std::shared_ptr<Channel>> channels_;
  std::string close_reason_;
  std::string setup_error_;
  int failures_ = 0;
  int none_requests_ = 0;
  bool started_ = false;
  bool kex_done_ = false;
  bool authenticated_ = false;
  bool closing_ = false;
  bool closed_ = false;
  bool read_armed_ = false;
  bool write_armed_ = false;
  bool in_service_ = false;
};

}  // namespace openshell::ssh
