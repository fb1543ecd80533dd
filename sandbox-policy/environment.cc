#include "environment.h"

namespace openshell::policy {
namespace {

bool is_supervisor_variable(const std::string& key) {
  return key.starts_with("OPENSHELL_");
}

bool is_proxy_variable(const std::string& key) {
  for (const auto& [name, value] : proxy_environment()) {
    if (name == key) return true;
  }
  return false;
}

}  // namespace

bool is_valid_env_name(const std::string& key) {
  if (key.empty() || key.size() > 256) return false;
  if (!(std::isalpha(static_cast<unsigned char>(key[0])) || key[0] == '_')) return false;
  for (char c : key) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
  }
  return true;
}

std::map<std::string, std::string> build_base_environment(
    const Identity& identity, const Policy& policy,
    const std::map<std::string, std::string>& user_environment) {
  std::map<std::string, std::string> env;
  std::string user = identity.user_name.empty() ? std::to_string(identity.uid) : identity.user_name;
  env["HOME"] = identity.home;
  env["USER"] = user;
  env["LOGNAME"] = user;
  env["SHELL"] = identity.shell;
  env["PATH"] = kDefaultPath;
  for (const auto& [k, v] : policy.environment) {
    if (!is_supervisor_variable(k) && is_valid_env_name(k)) env[k] = v;
  }
  // OPENSHELL_USER_ENVIRONMENT: keys naming supervisor settings are ignored
  // (DESIGN.md §4), malformed names too, as execve would pass them verbatim.
  for (const auto& [k, v] : user_environment) {
    if (!is_supervisor_variable(k) && is_valid_env_name(k) && v.find('\0') == std::string::npos) {
      env[k] = v;
    }
  }
  // Network mode proxy: the way out is the supervisor's proxy inside the
  // sandbox's network; these win over the user environment, which could
  // otherwise only point clients at addresses that do not exist here.
  if (policy.network_mode == NetworkMode::kProxy) {
    for (const auto& [k, v] : proxy_environment()) env[k] = v;
  }
  return env;
}

std::vector<std::pair<std::string, std::string>> proxy_environment() {
  const std::string proxy = "http://127.0.0.1:3128";
  const std::string loopback = "127.0.0.1,localhost,::1";
  return {
      {"HTTP_PROXY", proxy},  {"HTTPS_PROXY", proxy}, {"ALL_PROXY", proxy},
      {"http_proxy", proxy},  {"https_proxy", proxy}, {"all_proxy", proxy},
      // gRPC C-core reads grpc_proxy and accepts only an http:// URL.
      {"grpc_proxy", proxy},  {"GRPC_PROXY", proxy},
      {"NO_PROXY", loopback}, {"no_proxy", loopback},
      // Node's fetch (undici) ignores the variables above without this
      // (Node >= 22.14; OpenShell PR #269).
      {"NODE_USE_ENV_PROXY", "1"},
  };
}

bool is_session_env_allowed(const std::string& key) {
  if (!is_valid_env_name(key)) return false;
  if (is_supervisor_variable(key)) return false;
  // LD_PRELOAD, LD_LIBRARY_PATH, LD_AUDIT... decide what code runs in every
  // process of the session; a gateway client must not choose that (ld.so(8)).
  if (key.starts_with("LD_")) return false;
  return true;
}

std::vector<std::string> compose_environment(const std::map<std::string, std::string>& base,
                                             const std::optional<std::string>& term,
                                             const std::map<std::string, std::string>& session) {
  std::map<std::string, std::string> env = base;
  if (term && !term->empty() && term->find('\0') == std::string::npos) env["TERM"] = *term;
  for (const auto& [k, v] : session) {
    // The proxy variables of network mode proxy win: a session pointing a
    // client elsewhere (or at no proxy) gets a failing client, or one that
    // dials out past the policy's audit if a route ever appears.
    if (base.contains(k) && is_proxy_variable(k)) continue;
    if (is_session_env_allowed(k) && v.find('\0') == std::string::npos) env[k] = v;
  }
  std::vector<std::string> out;
  out.reserve(env.size());
  for (const auto& [k, v] : env) out.push_back(k + "=" + v);
  return out;
}

}  // namespace openshell::policy
