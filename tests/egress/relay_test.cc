// The egress relay (supervisor/egress/relay.h) over real loopback TCP
// connections: both directions, half-close, the first request only for
// forwarded HTTP, backpressure.
#include "egress/relay.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <chrono>

namespace openshell::egress {
namespace {

using boost::asio::ip::tcp;

// A connected pair: the relay's end (an Asio socket) and the test's end (a
// raw non-blocking fd).
std::pair<tcp::socket, int> connected_pair(boost::asio::io_context& io) {
  tcp::acceptor acceptor(io, tcp::endpoint(boost::asio::ip::address_v4::loopback(), 0));
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  auto endpoint = acceptor.local_endpoint();
  EXPECT_EQ(::connect(fd, endpoint.data(), static_cast<socklen_t>(endpoint.size())), 0);
  ::fcntl(fd, F_SETFL, O_NONBLOCK);
  tcp::socket socket(io);
  acceptor.accept(socket);
  return {std::move(socket), fd};
}

// Runs the loop until `done` or 5 s.
template <typename F>
bool pump(boost::asio::io_context& io, F done) {
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!done()) {
    if (std::chrono::steady_clock::now() > until) return false;
    io.restart();
    io.run_for(std::chrono::milliseconds(5));
  }
  return true;
}

// Reads what is there now; eof set when the peer closed its sending half.
std::string drain(int fd, bool& eof) {
  std::string out;
  char buffer[65536];
  while (true) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n > 0) {
      out.append(buffer, static_cast<size_t>(n));
      continue;
    }
    if (n == 0) eof = true;
    return out;
  }
}

struct Fixture {
  boost::asio::io_context io;
  int client = -1, upstream = -1;
  std::shared_ptr<Relay> relay;
  bool done = false;

  void make(bool limit, BodyFraming framing) {
    auto [relay_client, client_fd] = connected_pair(io);
    auto [relay_upstream, upstream_fd] = connected_pair(io);
    client = client_fd;
    upstream = upstream_fd;
    relay = std::make_shared<Relay>(std::move(relay_client), std::move(relay_upstream), limit,
                                    framing);
  }
  ~Fixture() {
    ::close(client);
    ::close(upstream);
  }
  std::string read_until_eof(int fd) {
    std::string got;
    bool eof = false;
    pump(io, [&] {
      got += drain(fd, eof);
      return eof;
    });
    EXPECT_TRUE(eof);
    return got;
  }
};

TEST(Relay, CarriesBothDirectionsAndHalfClose) {
  Fixture f;
  f.make(false, {});
  f.relay->start("", "early", "200 ok\n", [&] { f.done = true; });
  ASSERT_EQ(::write(f.client, "hello", 5), 5);
  ::shutdown(f.client, SHUT_WR);
  // The client's end-of-file reaches upstream as end-of-file ...
  EXPECT_EQ(f.read_until_eof(f.upstream), "earlyhello");
  EXPECT_FALSE(f.done);
  // ... while the other direction still flows.
  ASSERT_EQ(::write(f.upstream, "world", 5), 5);
  ::shutdown(f.upstream, SHUT_WR);
  EXPECT_EQ(f.read_until_eof(f.client), "200 ok\nworld");
  EXPECT_TRUE(pump(f.io, [&] { return f.done; }));
  EXPECT_EQ(f.relay->bytes_up(), 5u);
  EXPECT_EQ(f.relay->bytes_down(), 5u);
}

TEST(Relay, ForwardsOnlyTheFirstRequestsBody) {
  Fixture f;
  f.make(true, {BodyFraming::Kind::kLength, 5});
  f.relay->start("POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\n", "abc", "", [&] { f.done = true; });
  std::string smuggled = "deGET /admin HTTP/1.1\r\nHost: internal\r\n\r\n";
  ASSERT_EQ(::write(f.client, smuggled.data(), smuggled.size()),
            static_cast<ssize_t>(smuggled.size()));
  std::string got;
  bool eof = false;
  pump(f.io, [&] {
    got += drain(f.upstream, eof);
    return got.size() >= 43;
  });
  // Give the relay every chance to send more than it should.
  for (int i = 0; i < 20; ++i) f.io.run_for(std::chrono::milliseconds(5));
  got += drain(f.upstream, eof);
  EXPECT_EQ(got, "POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nabcde");
  ASSERT_EQ(::write(f.upstream, "HTTP/1.1 200 OK\r\n\r\n", 19), 19);
  ::shutdown(f.upstream, SHUT_WR);
  EXPECT_EQ(f.read_until_eof(f.client), "HTTP/1.1 200 OK\r\n\r\n");
  EXPECT_TRUE(pump(f.io, [&] { return f.done; }));
}

TEST(Relay, ForwardsAChunkedBodyUpToItsLastChunk) {
  Fixture f;
  f.make(true, {BodyFraming::Kind::kChunked, 0});
  f.relay->start("POST / HTTP/1.1\r\n\r\n", "", "", [&] { f.done = true; });
  std::string body = "3\r\nabc\r\n0\r\n\r\n";
  std::string sent = body + "GET /second HTTP/1.1\r\n\r\n";
  ASSERT_EQ(::write(f.client, sent.data(), sent.size()), static_cast<ssize_t>(sent.size()));
  for (int i = 0; i < 40; ++i) f.io.run_for(std::chrono::milliseconds(5));
  bool eof = false;
  EXPECT_EQ(drain(f.upstream, eof), "POST / HTTP/1.1\r\n\r\n" + body);
}

TEST(Relay, NoBodyMeansNothingMoreFromTheClient) {
  Fixture f;
  f.make(true, {});
  f.relay->start("GET / HTTP/1.1\r\n\r\n", "GET /smuggled HTTP/1.1\r\n\r\n", "",
                 [&] { f.done = true; });
  ASSERT_EQ(::write(f.client, "more", 4), 4);
  for (int i = 0; i < 20; ++i) f.io.run_for(std::chrono::milliseconds(5));
  bool eof = false;
  EXPECT_EQ(drain(f.upstream, eof), "GET / HTTP/1.1\r\n\r\n");
}

TEST(Relay, AClientCannotOutrunAnUpstreamThatDoesNotRead) {
  Fixture f;
  f.make(false, {});
  int small = 64 * 1024;
  ::setsockopt(f.upstream, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  ::setsockopt(f.client, SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
  f.relay->start("", "", "", [&] { f.done = true; });
  std::string chunk(65536, 'x');
  size_t sent = 0;
  // Write until the client's socket refuses; the relay holds at most one
  // buffer, so the total stays at what the kernel buffers plus that.
  for (int round = 0; round < 400; ++round) {
    ssize_t n = ::write(f.client, chunk.data(), chunk.size());
    if (n > 0) sent += static_cast<size_t>(n);
    f.io.run_for(std::chrono::milliseconds(1));
  }
  EXPECT_LT(sent, size_t{16} << 20) << "the relay read without bound";
  bool eof = false;
  size_t received = 0;
  pump(f.io, [&] {
    received += drain(f.upstream, eof).size();
    return received == sent;
  });
  EXPECT_EQ(received, sent);
}

// Past kSpliceAfter a direction moves by splice(2): the bytes must arrive
// whole and in order, and end-of-file still becomes a half-close.
TEST(Relay, BulkDataArrivesIntactAcrossTheSwitchToSplice) {
  Fixture f;
  f.make(false, {});
  f.relay->start("", "", "", [&] { f.done = true; });
  std::string data(4 * Relay::kSpliceAfter + 12345, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>((i * 2654435761u) >> 13);
  size_t sent = 0;
  std::string received;
  bool eof = false;
  bool ok = pump(f.io, [&] {
    if (sent < data.size()) {
      ssize_t n = ::write(f.upstream, data.data() + sent, std::min<size_t>(data.size() - sent, 200000));
      if (n > 0) sent += static_cast<size_t>(n);
      if (sent == data.size()) ::shutdown(f.upstream, SHUT_WR);
    }
    received += drain(f.client, eof);
    return eof;
  });
  EXPECT_TRUE(ok);
  EXPECT_EQ(received.size(), data.size());
  EXPECT_TRUE(received == data) << "the spliced bytes differ";
  EXPECT_EQ(f.relay->bytes_down(), data.size());
}

TEST(Relay, CloseEndsBothSides) {
  Fixture f;
  f.make(false, {});
  f.relay->start("", "", "", [&] { f.done = true; });
  f.io.run_for(std::chrono::milliseconds(5));
  f.relay->close();
  EXPECT_TRUE(f.done);
  EXPECT_EQ(f.read_until_eof(f.client), "");
  EXPECT_EQ(f.read_until_eof(f.upstream), "");
}

}  // namespace
}  // namespace openshell::egress
