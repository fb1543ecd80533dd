// The control channel and the fork/exec path of the sandbox init, without
// namespaces: fds cross the socket, a failure before exec comes back as
// {stage, errno}, and PID 1's exit code mapping.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>

#include "control_channel.h"
#include "pid1.h"
#include "spawn_child.h"

namespace openshell {
namespace {

TEST(ControlChannel, CarriesAMessageWithFileDescriptors) {
  auto channel = control::make_channel();
  ASSERT_TRUE(channel);
  int pipe_fds[2];
  ASSERT_EQ(::pipe2(pipe_fds, O_CLOEXEC), 0);
  UniqueFd read_end(pipe_fds[0]), write_end(pipe_fds[1]);

  control::ToInit sent;
  sent.mutable_spawn()->add_argv("/bin/true");
  int fds[] = {write_end.get()};
  ASSERT_TRUE(control::send_message(channel->first.get(), sent, fds));

  control::ToInit received;
  std::vector<UniqueFd> received_fds;
  auto got = control::receive_message(channel->second.get(), received, received_fds, false);
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, control::Received::message);
  EXPECT_EQ(received.spawn().argv(0), "/bin/true");
  ASSERT_EQ(received_fds.size(), 1u);
  EXPECT_EQ(::fcntl(received_fds[0].get(), F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
  ASSERT_EQ(::write(received_fds[0].get(), "x", 1), 1);
  char c = 0;
  ASSERT_EQ(::read(read_end.get(), &c, 1), 1);
  EXPECT_EQ(c, 'x');
}

TEST(ControlChannel, ReportsClosedAndWouldBlock) {
  auto channel = control::make_channel();
  ASSERT_TRUE(channel);
  control::ToInit message;
  std::vector<UniqueFd> fds;
  EXPECT_EQ(*control::receive_message(channel->second.get(), message, fds, true),
            control::Received::would_block);
  channel->first.reset();
  EXPECT_EQ(*control::receive_message(channel->second.get(), message, fds, true),
            control::Received::closed);
}

TEST(ControlChannel, RefusesOversizedMessages) {
  auto channel = control::make_channel();
  ASSERT_TRUE(channel);
  control::ToInit message;
  message.mutable_spawn()->add_argv(std::string(control::kMaxMessageBytes + 1, 'a'));
  auto sent = control::send_message(channel->first.get(), message);
  ASSERT_FALSE(sent);
  EXPECT_NE(sent.error().what.find("exceeds"), std::string::npos);
}

control::SpawnRequest request(std::vector<std::string> argv, std::string cwd = "/") {
  control::SpawnRequest r;
  for (auto& a : argv) r.add_argv(a);
  r.add_env("PATH=/usr/bin:/bin");
  r.set_cwd(cwd);
  return r;
}

std::vector<int> stdio() {
  return {0, 1, 2};
}

TEST(Spawn, PrepareRejectsMalformedRequests) {
  EXPECT_FALSE(prepare_spawn(request({}), stdio()));
  EXPECT_FALSE(prepare_spawn(request({"true"}, "relative"), stdio()));
  EXPECT_FALSE(prepare_spawn(request({"true"}), {0}));
  auto tty = request({"true"});
  tty.set_tty(true);
  EXPECT_FALSE(prepare_spawn(tty, stdio()));
}

TEST(Spawn, SearchesThePathOfTheRequestedEnvironment) {
  auto prepared = prepare_spawn(request({"true"}), stdio());
  ASSERT_TRUE(prepared);
  EXPECT_EQ(prepared->exec_paths, (std::vector<std::string>{"/usr/bin/true", "/bin/true"}));
}

TEST(Spawn, ExecSuccessReturnsThePid) {
  auto prepared = prepare_spawn(request({"true"}), stdio());
  ASSERT_TRUE(prepared);
  ProcessRestrictions restrictions;
  auto pid = fork_and_exec(*prepared, &restrictions);
  ASSERT_TRUE(pid) << pid.error().message();
  int status;
  ASSERT_EQ(::waitpid(*pid, &status, 0), *pid);
  EXPECT_EQ(exit_code_of(status), 0);
}

TEST(Spawn, AFailureBeforeExecComesBackAsStageAndErrno) {
  auto missing = prepare_spawn(request({"/nonexistent/program"}), stdio());
  ASSERT_TRUE(missing);
  auto pid = fork_and_exec(*missing, nullptr);
  ASSERT_FALSE(pid);
  EXPECT_EQ(pid.error().what, "execve");
  EXPECT_EQ(pid.error().err, ENOENT);

  auto bad_cwd = prepare_spawn(request({"true"}, "/nonexistent/dir"), stdio());
  ASSERT_TRUE(bad_cwd);
  pid = fork_and_exec(*bad_cwd, nullptr);
  ASSERT_FALSE(pid);
  EXPECT_EQ(pid.error().what, "chdir");
  EXPECT_EQ(pid.error().err, ENOENT);

  char path[] = "/tmp/not-executable-XXXXXX";
  int fd = ::mkstemp(path);  // mode 0600: no execute bit for anyone, root included
  ASSERT_GE(fd, 0);
  ::close(fd);
  auto not_executable = prepare_spawn(request({path}), stdio());
  ASSERT_TRUE(not_executable);
  pid = fork_and_exec(*not_executable, nullptr);
  ASSERT_FALSE(pid);
  EXPECT_EQ(pid.error().err, EACCES);
  ::unlink(path);
}

TEST(Pid1, ExitCodeIsTheStatusOrOneHundredTwentyEightPlusTheSignal) {
  EXPECT_EQ(exit_code_of(0), 0);
  EXPECT_EQ(exit_code_of(7 << 8), 7);
  EXPECT_EQ(exit_code_of(SIGKILL), 137);
  EXPECT_EQ(exit_code_of(SIGTERM | 0x80), 143);  // with the core-dump bit
}

}  // namespace
}  // namespace openshell
