// Moves bytes between a sandbox client and its upstream connection, both
// directions at once, on the supervisor's loop.
//
// - Backpressure: each direction has at most one buffer in flight; nothing
//   more is read from a side until the other side took the last read.
// - Half-close: end-of-file from one side becomes shutdown(SHUT_WR) on the
//   other, so request/response protocols that close their sending half
//   (a client's `shutdown`, HTTP/1.0 bodies) keep working.
// - An idle tunnel holds no buffer: a buffer is taken when data is
//   readable and given back when the socket has nothing more.
// - Zero-copy where it pays: a direction that has carried kSpliceAfter
//   bytes (a download, not a handshake) switches to splice(2) through a
//   pipe of its own, so bulk data never enters the supervisor's memory.
//   Idle and short tunnels never open the pipe (two fds each).
// - Forwarded HTTP: the client's bytes are passed only up to the end of
//   the first request's body (proxy_request.h BodyFraming); anything the
//   client pipelines after it is never sent upstream.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <functional>
#include <memory>
#include <string>

#include "proxy_request.h"

namespace openshell::egress {

class Relay : public std::enable_shared_from_this<Relay> {
 public:
  using tcp = boost::asio::ip::tcp;
  static constexpr uint64_t kSpliceAfter = 1 << 20;

  // `limit_client`: pass only the body described by `framing` from the
  // client, then stop reading it.
  Relay(tcp::socket client, tcp::socket upstream, bool limit_client = false,
        BodyFraming framing = {});
  ~Relay();

  // `to_upstream` goes first (a forwarded request's head), then
  // `client_bytes` (read from the client after the head; with
  // `limit_client` only the body's part of them), then the relay; likewise
  // `to_client`. `done` runs once, when both directions ended or either
  // failed, after both sockets closed.
  void start(std::string to_upstream, std::string_view client_bytes, std::string to_client,
             std::function<void()> done);

  // Closes both sockets now (a reloaded policy no longer allows the
  // tunnel); `done` still runs.
  void close();

  uint64_t bytes_up() const { return up_.total; }
  uint64_t bytes_down() const { return down_.total; }

 private:
  struct Direction {
    tcp::socket* from = nullptr;
    tcp::socket* to = nullptr;
    std::unique_ptr<char[]> buffer;
    std::string pending;  // bytes to write before the next read
    uint64_t total = 0;
    bool finished = false;
    bool may_splice = true;  // false for a forwarded request's body (it is scanned)
    int pipe_read = -1, pipe_write = -1;
    size_t in_pipe = 0;
  };

  void splice_in(Direction& d);
  void splice_out(Direction& d);

  void wait_readable(Direction& d);
  void read(Direction& d);
  void write(Direction& d, const char* data, size_t size);
  // How many of `size` bytes from the client belong to the forwarded body.
  size_t admit_from_client(const char* data, size_t size, bool& body_done);
  void finish(Direction& d, bool shutdown_peer);
  void fail();
  void maybe_done();

  tcp::socket client_;
  tcp::socket upstream_;
  Direction up_;    // client -> upstream
  Direction down_;  // upstream -> client
  bool limit_client_;
  BodyFraming framing_;
  uint64_t body_left_ = 0;
  ChunkedScanner chunked_;
  bool closed_ = false;
  std::function<void()> done_;
};

}  // namespace openshell::egress
