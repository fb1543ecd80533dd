// The supervisor's control outbox (control_channel.h): a burst larger than
// what a SOCK_SEQPACKET socket holds unread is queued, in order, never
// dropped; a full queue is an error the caller turns into the sandbox's end.
#include <gtest/gtest.h>
#include <unistd.h>

#include "control.pb.h"
#include "control_channel.h"

namespace openshell::control {
namespace {

ToInit signal_message(uint64_t id) {
  ToInit message;
  message.mutable_signal()->set_id(id);
  message.mutable_signal()->set_signo(15);
  return message;
}

// Reads every message the init's end holds now.
std::vector<ToInit> read_available(int fd, std::vector<std::vector<UniqueFd>>* fds = nullptr) {
  std::vector<ToInit> out;
  while (true) {
    ToInit message;
    std::vector<UniqueFd> got;
    auto r = receive_message(fd, message, got, /*nonblocking=*/true);
    if (!r || *r != Received::message) return out;
    out.push_back(message);
    if (fds) fds->push_back(std::move(got));
  }
}

TEST(ControlOutbox, ABurstBeyondTheSocketsQueueArrivesWholeAndInOrder) {
  auto channel = make_channel();
  ASSERT_TRUE(channel.has_value());
  auto& [supervisor, init] = *channel;
  // Messages until the socket's send buffer is full, then as many again:
  // a plain non-blocking send would have failed from there on.
  Outbox outbox;
  uint64_t id = 0;
  while (!outbox.waiting() && id < 1'000'000) {
    ASSERT_TRUE(outbox.send(supervisor.get(), signal_message(++id)).has_value()) << id;
  }
  ASSERT_TRUE(outbox.waiting()) << "the socket never filled: the test shows nothing";
  const uint64_t kBurst = 2 * id;
  while (id < kBurst) {
    ASSERT_TRUE(outbox.send(supervisor.get(), signal_message(++id)).has_value()) << id;
  }
  std::vector<uint64_t> received;
  for (int round = 0; round < 10000 && received.size() < kBurst; ++round) {
    for (const auto& m : read_available(init.get())) received.push_back(m.signal().id());
    ASSERT_TRUE(outbox.flush(supervisor.get()).has_value());
  }
  ASSERT_EQ(received.size(), kBurst);
  for (uint64_t i = 0; i < kBurst; ++i) EXPECT_EQ(received[i], i + 1);
  EXPECT_FALSE(outbox.waiting());
}

TEST(ControlOutbox, AQueuedMessageKeepsItsDescriptors) {
  auto channel = make_channel();
  ASSERT_TRUE(channel.has_value());
  auto& [supervisor, init] = *channel;
  Outbox outbox;
  while (!outbox.waiting()) ASSERT_TRUE(outbox.send(supervisor.get(), signal_message(0)));
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  int fds[] = {pipe_fds[1]};
  ASSERT_TRUE(outbox.send(supervisor.get(), signal_message(7), fds).has_value());
  ::close(pipe_fds[1]);  // the outbox holds its own copy
  std::vector<std::vector<UniqueFd>> got;
  std::vector<ToInit> messages;
  for (int round = 0; round < 1000 && outbox.waiting(); ++round) {
    for (auto& m : read_available(init.get(), &got)) messages.push_back(m);
    ASSERT_TRUE(outbox.flush(supervisor.get()).has_value());
  }
  for (auto& m : read_available(init.get(), &got)) messages.push_back(m);
  ASSERT_FALSE(messages.empty());
  EXPECT_EQ(messages.back().signal().id(), 7u);
  ASSERT_EQ(got.back().size(), 1u);
  ASSERT_EQ(::write(got.back()[0].get(), "x", 1), 1);
  char c = 0;
  EXPECT_EQ(::read(pipe_fds[0], &c, 1), 1);
  EXPECT_EQ(c, 'x');
  ::close(pipe_fds[0]);
}

TEST(ControlOutbox, AFullQueueIsAnError) {
  auto channel = make_channel();
  ASSERT_TRUE(channel.has_value());
  auto& [supervisor, init] = *channel;
  Outbox outbox(/*max_messages=*/5);
  Result<void> sent;
  int accepted = 0;
  for (int i = 0; i < 1'000'000 && (sent = outbox.send(supervisor.get(), signal_message(i)));
       ++i) {
    ++accepted;
  }
  ASSERT_FALSE(sent.has_value());
  EXPECT_NE(sent.error().message().find("control queue full"), std::string::npos);
  EXPECT_EQ(outbox.size(), 5u);
  EXPECT_EQ(read_available(init.get()).size() + outbox.size(), static_cast<size_t>(accepted));
}

}  // namespace
}  // namespace openshell::control
