#include "config.h"

#include <gtest/gtest.h>

namespace openshell {
namespace {

Result<Config> parse(std::vector<std::string> args, Environment env = {}) {
  std::vector<char*> argv;
  static std::string name = "openshell-supervisor";
  argv.push_back(name.data());
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  return parse_config(static_cast<int>(argv.size() - 1), argv.data(), env);
}

TEST(Config, DefaultsMatchTheContract) {
  auto config = parse({});
  ASSERT_TRUE(config);
  EXPECT_EQ(config->subcommand, Subcommand::run);
  EXPECT_EQ(config->workdir, "/sandbox");
  EXPECT_EQ(config->ssh_listen, "[::]:2222");
  EXPECT_EQ(config->ssh_authorized_keys_file, "/etc/openshell/ssh/authorized_keys");
  EXPECT_EQ(config->shutdown_grace.count(), 10);
  EXPECT_EQ(config->log_level, log::Level::warn);
  EXPECT_TRUE(config->main.command.empty()) << "the login shell";
  EXPECT_TRUE(config->main.tty);
}

TEST(Config, FlagsWinOverEnvironment) {
  auto config = parse({"--workdir", "/work", "--policy", "/p.yaml", "--log-level", "debug"},
                      {{"OPENSHELL_WORKDIR", "/env"},
                       {"OPENSHELL_POLICY_FILE", "/env.yaml"},
                       {"OPENSHELL_LOG_LEVEL", "error"}});
  ASSERT_TRUE(config) << config.error().message();
  EXPECT_EQ(config->workdir, "/work");
  EXPECT_EQ(config->policy_file, "/p.yaml");
  EXPECT_EQ(config->log_level, log::Level::debug);
}

TEST(Config, ReadsTheEnvironmentContract) {
  auto config = parse({}, {{"OPENSHELL_SANDBOX", "fallback"},
                           {"OPENSHELL_SANDBOX_ID", "sb-1"},
                           {"OPENSHELL_SANDBOX_UID", "1000"},
                           {"OPENSHELL_SANDBOX_GID", "4294967294"},
                           {"OPENSHELL_USER_ENVIRONMENT", R"({"A":"1","OPENSHELL_X":"no"})"},
                           {"OPENSHELL_SSH_LISTEN", "off"},
                           {"OPENSHELL_SSH_SOCKET_PATH", "@ssh"},
                           {"OPENSHELL_SHUTDOWN_GRACE_SECS", "3"}});
  ASSERT_TRUE(config) << config.error().message();
  EXPECT_EQ(config->sandbox_id, "sb-1");
  EXPECT_EQ(config->sandbox_uid, 1000u);
  EXPECT_EQ(config->sandbox_gid, 4294967294u);
  EXPECT_EQ(config->user_environment, (std::map<std::string, std::string>{{"A", "1"}}));
  EXPECT_EQ(config->ssh_listen, "off");
  EXPECT_EQ(config->ssh_socket_path, "@ssh");
  EXPECT_EQ(config->shutdown_grace.count(), 3);
}

TEST(Config, ErrorsNameTheVariableOrFlag) {
  struct Case {
    std::vector<std::string> args;
    Environment env;
    const char* message;
  } cases[] = {
      {{}, {{"OPENSHELL_SANDBOX_UID", "1000"}}, "OPENSHELL_SANDBOX_GID"},
      {{}, {{"OPENSHELL_SANDBOX_GID", "1000"}}, "OPENSHELL_SANDBOX_UID"},
      {{},
       {{"OPENSHELL_SANDBOX_UID", "0"}, {"OPENSHELL_SANDBOX_GID", "1"}},
       "OPENSHELL_SANDBOX_UID=0"},
      {{},
       {{"OPENSHELL_SANDBOX_UID", "1"}, {"OPENSHELL_SANDBOX_GID", "4294967295"}},
       "OPENSHELL_SANDBOX_GID="},
      {{},
       {{"OPENSHELL_SANDBOX_UID", "-1"}, {"OPENSHELL_SANDBOX_GID", "1"}},
       "OPENSHELL_SANDBOX_UID=-1"},
      {{}, {{"OPENSHELL_USER_ENVIRONMENT", "[]"}}, "OPENSHELL_USER_ENVIRONMENT"},
      {{}, {{"OPENSHELL_USER_ENVIRONMENT", R"({"A":1})"}}, "\"A\" must be a string"},
      {{}, {{"OPENSHELL_USER_ENVIRONMENT", R"({"A":null})"}}, "\"A\" must be a string, not null"},
      {{}, {{"OPENSHELL_USER_ENVIRONMENT", R"({"A":"1",})"}}, "not a JSON object: at offset"},
      {{}, {{"OPENSHELL_USER_ENVIRONMENT", R"({"A=B":"1"})"}}, "invalid variable name \"A=B\""},
      {{}, {{"OPENSHELL_LOG_LEVEL", "verbose"}}, "OPENSHELL_LOG_LEVEL=verbose"},
      {{}, {{"OPENSHELL_SHUTDOWN_GRACE_SECS", "-1"}}, "OPENSHELL_SHUTDOWN_GRACE_SECS=-1"},
      {{}, {{"OPENSHELL_LANDLOCK_MAX_ABI", "0"}}, "OPENSHELL_LANDLOCK_MAX_ABI=0"},
      {{}, {{"OPENSHELL_LANDLOCK_MAX_ABI", "3x"}}, "OPENSHELL_LANDLOCK_MAX_ABI=3x"},
      {{}, {{"OPENSHELL_LANDLOCK_MAX_ABI", "100"}}, "OPENSHELL_LANDLOCK_MAX_ABI=100"},
      {{}, {{"OPENSHELL_MAIN_PROCESS_SPEC", "{}"}}, "OPENSHELL_MAIN_PROCESS_SPEC"},
      {{}, {{"OPENSHELL_WORKDIR", "relative"}}, "OPENSHELL_WORKDIR"},
      {{"--policy"}, {}, "--policy: needs a value"},
      {{"--bogus"}, {}, "--bogus"},
      {{"frobnicate"}, {}, "unknown subcommand"},
      {{"version", "extra"}, {}, "unexpected argument"},
      {{"version", "--", "x"}, {}, "only for run"},
      {{"--"}, {}, "needs a command"},
  };
  for (const auto& c : cases) {
    auto config = parse(c.args, c.env);
    ASSERT_FALSE(config) << c.message;
    EXPECT_NE(config.error().what.find(c.message), std::string::npos)
        << "wanted '" << c.message << "' in: " << config.error().what;
  }
}

TEST(Config, TrailingCommandOverridesTheSpecAndKeepsItsTty) {
  auto config =
      parse({"--", "claude", "-p"},
            {{"OPENSHELL_MAIN_PROCESS_SPEC", R"({"version":1,"command":["x"],"tty":true})"}});
  ASSERT_TRUE(config);
  EXPECT_EQ(config->main.command, (std::vector<std::string>{"claude", "-p"}));
  EXPECT_TRUE(config->main.tty);
}

TEST(Config, SubcommandsAndArguments) {
  EXPECT_EQ(parse({"version"})->subcommand, Subcommand::version);
  EXPECT_EQ(parse({"--help"})->subcommand, Subcommand::help);
  auto copy = parse({"copy-self", "/opt/openshell/bin"});
  ASSERT_TRUE(copy);
  EXPECT_EQ(copy->subcommand, Subcommand::copy_self);
  EXPECT_EQ(copy->argument, "/opt/openshell/bin");
}

}  // namespace
}  // namespace openshell
