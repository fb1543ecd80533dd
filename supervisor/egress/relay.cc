#include "relay.h"

#include <boost/asio/write.hpp>

namespace openshell::egress {
namespace {

// One buffer per direction while data flows: large enough that a bulk
// transfer is a few system calls per megabyte.
constexpr size_t kBufferSize = 64 * 1024;

}  // namespace

Relay::Relay(tcp::socket client, tcp::socket upstream, bool limit_client, BodyFraming framing)
    : client_(std::move(client)),
      upstream_(std::move(upstream)),
      limit_client_(limit_client),
      framing_(framing),
      body_left_(framing.length) {
  up_.from = &client_;
  up_.to = &upstream_;
  down_.from = &upstream_;
  down_.to = &client_;
}

Relay::~Relay() = default;

void Relay::start(std::string to_upstream, std::string_view client_bytes, std::string to_client,
                  std::function<void()> done) {
  done_ = std::move(done);
  boost::system::error_code ec;
  client_.non_blocking(true, ec);
  upstream_.non_blocking(true, ec);
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
