// The environment of sandbox processes: built from nothing, never inherited
// from the supervisor (DESIGN.md §4).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "model.h"
#include "plan.h"

namespace openshell::policy {

inline constexpr const char* kDefaultPath =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// HOME, USER, LOGNAME, SHELL, PATH, then the policy's `environment`, then
// OPENSHELL_USER_ENVIRONMENT (`user_environment`), then in network mode
// proxy proxy_environment(). Keys starting with OPENSHELL_ are dropped from
// both maps; later sources win.
std::map<std::string, std::string> build_base_environment(
    const Identity& identity, const Policy& policy,
    const std::map<std::string, std::string>& user_environment);

// The variables that send proxy-aware clients (curl, git, pip, Python,
// Node, gRPC) to the egress proxy on 127.0.0.1:3128, loopback excepted.
std::vector<std::pair<std::string, std::string>> proxy_environment();

// Whether an SSH `env` request may set `key`: a valid name, not OPENSHELL_*,
// not LD_* (the loader's variables change what code runs).
bool is_session_env_allowed(const std::string& key);

// True for a POSIX-portable-ish environment name: [A-Za-z_][A-Za-z0-9_]*.
bool is_valid_env_name(const std::string& key);

// The final "KEY=VALUE" list for one process: base, then TERM (when given),
// then session variables that pass is_session_env_allowed(), except the
// proxy variables when `base` has them (network mode proxy). Sorted by key.
std::vector<std::string> compose_environment(const std::map<std::string, std::string>& base,
                                             const std::optional<std::string>& term,
                                             const std::map<std::string, std::string>& session);

}  // namespace openshell::policy
