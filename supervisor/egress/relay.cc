#include "relay.h"

#include <fcntl.h>
#include <unistd.h>

#include <boost/asio/write.hpp>

namespace openshell::egress {
namespace {

// One buffer per direction while data flows: large enough that a bulk
// transfer is a few system calls per megabyte.
constexpr size_t kBufferSize = 64 * 1024;
// The pipe between the two sockets when splicing: larger than the default
// 64 KiB so a fast link moves more per system call.
constexpr int kPipeSize = 256 * 1024;
constexpr unsigned kSpliceFlags = SPLICE_F_MOVE | SPLICE_F_NONBLOCK;

}  // namespace

Relay::Relay(tcp::socket client, tcp::socket upstream, bool limit_client, BodyFraming framing)
    : client_(std::move(client)),
      upstream_(std::move(upstream)),
      limit_client_(limit_client),
      framing_(framing),
      body_left_(framing.length) {
  up_.from = &client_;
  up_.to = &upstream_;
  up_.may_splice = !limit_client;
  down_.from = &upstream_;
  down_.to = &client_;
}

Relay::~Relay() {
  for (Direction* d : {&up_, &down_}) {
    if (d->pipe_read >= 0) ::close(d->pipe_read);
    if (d->pipe_write >= 0) ::close(d->pipe_write);
  }
}

void Relay::start(std::string to_upstream, std::string_view client_bytes, std::string to_client,
                  std::function<void()> done) {
  done_ = std::move(done);
  boost::system::error_code ec;
  client_.non_blocking(true, ec);
  upstream_.non_blocking(true, ec);
  // Each side's writes are passed on as they come: with Nagle's algorithm a
  // relayed small write (a response body after its headers) would wait for
  // the peer's delayed ACK, 40 ms per request.
  client_.set_option(tcp::no_delay(true), ec);
  upstream_.set_option(tcp::no_delay(true), ec);
  bool up_done = false;
  if (limit_client_) {
    size_t n = admit_from_client(client_bytes.data(), client_bytes.size(), up_done);
    if (n == SIZE_MAX) return fail();
    to_upstream.append(client_bytes.substr(0, n));
  } else {
    to_upstream.append(client_bytes);
  }
  up_.pending = std::move(to_upstream);
  down_.pending = std::move(to_client);
  for (Direction* d : {&up_, &down_}) {
    bool stop_after = d == &up_ && up_done;
    if (d->pending.empty()) {
      if (stop_after) {
        finish(*d, false);
      } else {
        wait_readable(*d);
      }
      continue;
    }
    auto self = shared_from_this();
    boost::asio::async_write(
        *d->to, boost::asio::buffer(d->pending),
        [self, d, stop_after](const boost::system::error_code& error, size_t) {
          d->pending.clear();
          d->pending.shrink_to_fit();
          if (error) return self->fail();
          if (stop_after) return self->finish(*d, false);
          self->read(*d);
        });
  }
}

void Relay::wait_readable(Direction& d) {
  if (closed_ || d.finished) return;
  auto self = shared_from_this();
  d.from->async_wait(tcp::socket::wait_read, [self, &d](const boost::system::error_code& error) {
    if (error) return self->fail();
    self->read(d);
  });
}

void Relay::read(Direction& d) {
  if (closed_ || d.finished) return;
  if (d.may_splice && d.total >= kSpliceAfter) {
    if (d.pipe_read < 0) {
      int fds[2];
      if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) == 0) {
        d.pipe_read = fds[0];
        d.pipe_write = fds[1];
        ::fcntl(d.pipe_write, F_SETPIPE_SZ, kPipeSize);  // best effort
        d.buffer.reset();
      } else {
        d.may_splice = false;  // out of fds: keep copying
      }
    }
    if (d.pipe_read >= 0) return splice_in(d);
  }
  if (!d.buffer) d.buffer = std::make_unique<char[]>(kBufferSize);
  boost::system::error_code error;
  size_t n = d.from->read_some(boost::asio::buffer(d.buffer.get(), kBufferSize), error);
  if (error == boost::asio::error::would_block || error == boost::asio::error::try_again) {
    d.buffer.reset();  // idle: hold no buffer
    return wait_readable(d);
  }
  if (error == boost::asio::error::eof) return finish(d, /*shutdown_peer=*/true);
  if (error) return fail();
  bool body_done = false;
  if (&d == &up_ && limit_client_) n = admit_from_client(d.buffer.get(), n, body_done);
  if (n == SIZE_MAX) return fail();  // a malformed chunked body
  write(d, d.buffer.get(), n);
  if (body_done) d.finished = true;  // read no more; the write still completes
}

void Relay::splice_in(Direction& d) {
  if (closed_ || d.finished) return;
  ssize_t n = ::splice(d.from->native_handle(), nullptr, d.pipe_write, nullptr, kPipeSize,
                       kSpliceFlags);
  if (n < 0 && errno == EAGAIN) return wait_readable(d);
  if (n < 0) return fail();
  if (n == 0) return finish(d, /*shutdown_peer=*/true);
  d.in_pipe = static_cast<size_t>(n);
  d.total += static_cast<uint64_t>(n);
  splice_out(d);
}

void Relay::splice_out(Direction& d) {
  while (d.in_pipe > 0) {
    if (closed_) return;
    ssize_t n = ::splice(d.pipe_read, nullptr, d.to->native_handle(), nullptr, d.in_pipe,
                         kSpliceFlags);
    if (n < 0 && errno == EAGAIN) {
      // The receiver is slow: wait until it takes more; nothing more is
      // read meanwhile (backpressure).
      auto self = shared_from_this();
      d.to->async_wait(tcp::socket::wait_write,
                       [self, &d](const boost::system::error_code& error) {
                         if (error) return self->fail();
                         self->splice_out(d);
                       });
      return;
    }
    if (n <= 0) return fail();
    d.in_pipe -= static_cast<size_t>(n);
  }
  splice_in(d);
}

size_t Relay::admit_from_client(const char* data, size_t size, bool& body_done) {
  if (framing_.kind == BodyFraming::Kind::kLength) {
    size_t take = static_cast<size_t>(std::min<uint64_t>(body_left_, size));
    body_left_ -= take;
    body_done = body_left_ == 0;
    return take;
  }
  if (framing_.kind == BodyFraming::Kind::kChunked) {
    auto take = chunked_.feed(std::string_view(data, size));
    if (!take) return SIZE_MAX;
    body_done = chunked_.done();
    return *take;
  }
  body_done = true;
  return 0;
}

void Relay::write(Direction& d, const char* data, size_t size) {
  d.total += size;
  auto self = shared_from_this();
  boost::asio::async_write(*d.to, boost::asio::buffer(data, size),
                           [self, &d](const boost::system::error_code& error, size_t) {
                             if (error) return self->fail();
                             if (d.finished) {
                               d.buffer.reset();
                               return self->maybe_done();
                             }
                             self->read(d);
                           });
}

void Relay::finish(Direction& d, bool shutdown_peer) {
  d.finished = true;
  d.buffer.reset();
  if (shutdown_peer) {
    boost::system::error_code ignored;
    d.to->shutdown(tcp::socket::shutdown_send, ignored);
  }
  maybe_done();
}

void Relay::maybe_done() {
  if (up_.finished && down_.finished) fail();  // both ended: close and report
}

void Relay::close() {
  fail();
}

void Relay::fail() {
  if (closed_) return;
  closed_ = true;
  up_.finished = down_.finished = true;
  boost::system::error_code ignored;
  client_.close(ignored);
  upstream_.close(ignored);
  if (auto done = std::move(done_)) done();
}

}  // namespace openshell::egress
