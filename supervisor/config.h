// Configuration: subcommand, flags and the environment contract of
// DESIGN.md §4. Flags win over environment; environment wins over defaults.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "error.h"
#include "log.h"
#include "main_spec.h"

namespace openshell {

using Environment = std::map<std::string, std::string>;

enum class Subcommand { run, check, validate_policy, version, help, copy_self };

struct Config {
  Subcommand subcommand = Subcommand::run;
  std::string argument;  // copy-self DEST, validate-policy FILE
  std::string image_root;  // validate-policy --root DIR: an unpacked image root; empty: none

  std::string sandbox_id;               // OPENSHELL_SANDBOX_ID, else OPENSHELL_SANDBOX
  std::optional<uint32_t> sandbox_uid;  // OPENSHELL_SANDBOX_UID
  std::optional<uint32_t> sandbox_gid;  // OPENSHELL_SANDBOX_GID
  std::map<std::string, std::string> user_environment;  // OPENSHELL_USER_ENVIRONMENT
  std::string policy_file;                              // --policy, OPENSHELL_POLICY_FILE
  std::string workdir = "/sandbox";                     // --workdir, OPENSHELL_WORKDIR
  // OPENSHELL_SSH_LISTEN, "off" disables. Dual-stack, for IPv6-only clusters;
  // IPv4 only where the kernel has no IPv6 (ssh::fallback_to_ipv4).
  std::string ssh_listen = "[::]:2222";
  std::string ssh_socket_path;                          // OPENSHELL_SSH_SOCKET_PATH, empty: none
  std::string ssh_authorized_keys_file = "/etc/openshell/ssh/authorized_keys";
  std::string ssh_host_key_file;            // empty: a fresh key per start
  std::chrono::seconds shutdown_grace{10};  // OPENSHELL_SHUTDOWN_GRACE_SECS
  log::Level log_level = log::Level::warn;  // OPENSHELL_LOG_LEVEL, --log-level
  std::string term;                         // TERM, handed to terminal sessions
  MainProcessSpec main;                     // `-- CMD`, else OPENSHELL_MAIN_PROCESS_SPEC
};

// A snapshot of the process environment.
Environment read_environment(char** envp);

// argv and the environment to a Config. The error names the flag or the
// variable and says what is wrong.
Result<Config> parse_config(int argc, char** argv, const Environment& env);

std::string usage_text();

}  // namespace openshell
