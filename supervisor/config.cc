#include "config.h"

#include <sys/stat.h>
#include <unistd.h>

#include <charconv>
#include <string_view>

#include "json.h"

namespace openshell {
namespace {

std::optional<std::string> lookup(const Environment& env, const std::string& name) {
  auto it = env.find(name);
  if (it == env.end()) return std::nullopt;
  return it->second;
}

template <typename T>
std::optional<T> parse_number(std::string_view text) {
  T value{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// uid/gid in [1, 2^32-2]: 0 is root and (uid_t)-1 means "no change" to
// setresuid(2), so neither can name the sandbox identity.
Result<uint32_t> parse_id(const std::string& name, const std::string& text) {
  auto value = parse_number<uint64_t>(text);
  if (!value || *value < 1 || *value > 0xfffffffeULL) {
    return fail(name + "=" + text + ": must be an integer in [1, 4294967294]");
  }
  return static_cast<uint32_t>(*value);
}

Result<std::map<std::string, std::string>> parse_user_environment(const std::string& text) {
  auto object = parse_json_object(text);
  if (!object) {
    return fail("OPENSHELL_USER_ENVIRONMENT: not a JSON object: " + object.error().what);
  }
  std::map<std::string, std::string> vars;
  for (const auto& [json_key, value] : *object) {
    std::string key(json_key);
    if (key.starts_with("OPENSHELL_")) continue;  // the contract: never settable this way
    if (key.empty() || key.find('=') != std::string::npos) {
      return fail("OPENSHELL_USER_ENVIRONMENT: invalid variable name \"" + key + "\"");
    }
    if (!value.is_string()) {
      return fail("OPENSHELL_USER_ENVIRONMENT: value of \"" + key + "\" must be a string, not " +
                  json_kind_name(value));
    }
    vars[key] = std::string(value.get_string());
  }
  return vars;
}

Result<Subcommand> parse_subcommand(std::string_view word) {
  if (word == "run") return Subcommand::run;
  if (word == "check") return Subcommand::check;
  if (word == "validate-policy") return Subcommand::validate_policy;
  if (word == "version") return Subcommand::version;
  if (word == "help") return Subcommand::help;
  if (word == "copy-self") return Subcommand::copy_self;
  return fail("unknown subcommand \"" + std::string(word) + "\" (see --help)");
}

Result<void> apply_environment(Config& config, const Environment& env) {
  if (auto v = lookup(env, "OPENSHELL_SANDBOX_ID")) {
    config.sandbox_id = *v;
  } else if (auto w = lookup(env, "OPENSHELL_SANDBOX")) {
    config.sandbox_id = *w;
  }

  auto uid = lookup(env, "OPENSHELL_SANDBOX_UID");
  auto gid = lookup(env, "OPENSHELL_SANDBOX_GID");
  if (uid.has_value() != gid.has_value()) {
    return fail(std::string(uid ? "OPENSHELL_SANDBOX_UID is set without OPENSHELL_SANDBOX_GID"
                                : "OPENSHELL_SANDBOX_GID is set without OPENSHELL_SANDBOX_UID") +
                ": set both or neither");
  }
  if (uid) {
    auto u = parse_id("OPENSHELL_SANDBOX_UID", *uid);
    if (!u) return std::unexpected(u.error());
    auto g = parse_id("OPENSHELL_SANDBOX_GID", *gid);
    if (!g) return std::unexpected(g.error());
    config.sandbox_uid = *u;
    config.sandbox_gid = *g;
  }

  if (auto v = lookup(env, "OPENSHELL_USER_ENVIRONMENT")) {
    auto vars = parse_user_environment(*v);
    if (!vars) return std::unexpected(vars.error());
    config.user_environment = std::move(*vars);
  }
  if (auto v = lookup(env, "TERM")) config.term = *v;
  if (auto v = lookup(env, "OPENSHELL_POLICY_FILE")) config.policy_file = *v;
  if (auto v = lookup(env, "OPENSHELL_WORKDIR")) config.workdir = *v;
  if (auto v = lookup(env, "OPENSHELL_SSH_LISTEN")) config.ssh_listen = *v;
  if (auto v = lookup(env, "OPENSHELL_SSH_SOCKET_PATH")) config.ssh_socket_path = *v;
  if (auto v = lookup(env, "OPENSHELL_SSH_AUTHORIZED_KEYS_FILE"))
    config.ssh_authorized_keys_file = *v;
  if (auto v = lookup(env, "OPENSHELL_SSH_HOST_KEY_FILE")) config.ssh_host_key_file = *v;
  if (auto v = lookup(env, "OPENSHELL_SHUTDOWN_GRACE_SECS")) {
    auto secs = parse_number<unsigned>(*v);
    if (!secs || *secs > 3600) {
      return fail("OPENSHELL_SHUTDOWN_GRACE_SECS=" + *v + ": must be an integer in [0, 3600]");
    }
    config.shutdown_grace = std::chrono::seconds(*secs);
  }
  if (auto v = lookup(env, "OPENSHELL_LOG_LEVEL")) {
    auto level = log::parse_level(*v);
    if (!level) {
      return fail("OPENSHELL_LOG_LEVEL=" + *v + ": must be one of trace, debug, info, warn, error");
    }
    config.log_level = *level;
  }
  // Read again where the Landlock ruleset is made (landlock.cc); checked
  // here too so a bad cap is an input error (exit 2) before anything starts,
  // not a sandbox failure half-way through start-up.
  if (auto v = lookup(env, "OPENSHELL_LANDLOCK_MAX_ABI"); v && !v->empty()) {
    auto cap = parse_number<unsigned>(*v);
    if (!cap || *cap < 1 || *cap > 99) {
      return fail("OPENSHELL_LANDLOCK_MAX_ABI=" + *v +
                  ": must be a Landlock ABI version, an integer in [1, 99]");
    }
  }
  if (auto v = lookup(env, "OPENSHELL_MAIN_PROCESS_SPEC")) {
    auto spec = parse_main_process_spec(*v);
    if (!spec) return fail("OPENSHELL_MAIN_PROCESS_SPEC: " + spec.error().what);
    config.main = std::move(*spec);
  }
  return {};
}

}  // namespace

Environment read_environment(char** envp) {
  Environment env;
  for (char** e = envp; e != nullptr && *e != nullptr; ++e) {
    std::string_view entry(*e);
    auto eq = entry.find('=');
    if (eq == std::string_view::npos) continue;
    env.emplace(std::string(entry.substr(0, eq)), std::string(entry.substr(eq + 1)));
  }
  return env;
}

Result<Config> parse_config(int argc, char** argv, const Environment& env) {
  Config config;
  std::vector<std::string_view> args(argv + 1, argv + argc);
  size_t i = 0;

  // Flags are read first (they win) but applied after the environment.
  std::optional<std::string> flag_policy, flag_workdir, flag_log_level, flag_root;
  std::optional<std::vector<std::string>> trailing_command;
  bool subcommand_seen = false;
  for (; i < args.size(); ++i) {
    std::string_view arg = args[i];
    auto value_of = [&](std::string_view flag) -> Result<std::string> {
      if (i + 1 >= args.size()) return fail(std::string(flag) + ": needs a value");
      return std::string(args[++i]);
    };
    if (arg == "--") {
      trailing_command.emplace(args.begin() + static_cast<long>(i) + 1, args.end());
      break;
    }
    if (arg == "-h" || arg == "--help") {
      config.subcommand = Subcommand::help;
      return config;
    }
    if (arg == "--policy" || arg == "--workdir" || arg == "--log-level" || arg == "--root") {
      auto value = value_of(arg);
      if (!value) return std::unexpected(value.error());
      (arg == "--policy"    ? flag_policy
       : arg == "--workdir" ? flag_workdir
       : arg == "--root"    ? flag_root
                            : flag_log_level) = *value;
      continue;
    }
    if (arg.starts_with("-")) return fail("unknown flag \"" + std::string(arg) + "\" (see --help)");
    if (subcommand_seen) {
      if (!config.argument.empty()) return fail("unexpected argument \"" + std::string(arg) + "\"");
      config.argument = arg;
      continue;
    }
    auto sub = parse_subcommand(arg);
    if (!sub) return std::unexpected(sub.error());
    config.subcommand = *sub;
    subcommand_seen = true;
  }

  bool needs_argument = config.subcommand == Subcommand::copy_self ||
                        config.subcommand == Subcommand::validate_policy;
  if (needs_argument && config.argument.empty()) {
    return fail(config.subcommand == Subcommand::copy_self
                    ? "copy-self: needs DEST (see --help)"
                    : "validate-policy: needs FILE (see --help)");
  }
  if (!needs_argument && !config.argument.empty()) {
    return fail("unexpected argument \"" + config.argument + "\"");
  }
  if (flag_root) {
    if (config.subcommand != Subcommand::validate_policy) {
      return fail("--root is only for validate-policy");
    }
    if (!flag_root->starts_with("/") && !flag_root->starts_with(".")) *flag_root = "./" + *flag_root;
    struct stat st {};
    if (::stat(flag_root->c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      return fail("--root " + *flag_root + ": not a directory");
    }
    config.image_root = *flag_root;
  }
  if (trailing_command && config.subcommand != Subcommand::run) {
    return fail("a command after -- is only for run");
  }

  auto applied = apply_environment(config, env);
  if (!applied) return std::unexpected(applied.error());

  if (flag_policy) config.policy_file = *flag_policy;
  if (flag_workdir) config.workdir = *flag_workdir;
  if (flag_log_level) {
    auto level = log::parse_level(*flag_log_level);
    if (!level)
      return fail("--log-level " + *flag_log_level +
                  ": must be one of trace, debug, info, warn, error");
    config.log_level = *level;
  }
  if (trailing_command) {
    if (trailing_command->empty()) return fail("--: needs a command");
    // Trailing argv overrides the spec's command; the spec's tty choice stays.
    config.main.command = std::move(*trailing_command);
    // Without a spec, a terminal is given when there is one to attach to.
    if (!env.contains("OPENSHELL_MAIN_PROCESS_SPEC")) config.main.tty = ::isatty(STDIN_FILENO) == 1;
  }
  if (!config.workdir.starts_with("/")) {
    return fail("workdir \"" + config.workdir +
                "\" (--workdir or OPENSHELL_WORKDIR): must be an absolute path");
  }
  return config;
}

std::string usage_text() {
  return R"(usage: openshell-supervisor [run] [--policy FILE] [--workdir DIR] [--log-level LEVEL] [-- CMD ARGS...]
       openshell-supervisor check [--policy FILE]
       openshell-supervisor validate-policy [--root IMAGE_ROOT] FILE
       openshell-supervisor copy-self DEST
       openshell-supervisor version

  run              PID 1 of the container: build the sandbox, run the main process in it
                   and serve SSH to the gateway (the default subcommand)
  check            build a sandbox from the policy and print, layer by layer, what is enforced
  validate-policy  check a policy file without running anything
  copy-self        install this binary at DEST (a file or a directory), atomically
  version          print the version

The main process is CMD, else OPENSHELL_MAIN_PROCESS_SPEC, else the sandbox user's
login shell with a terminal. Configuration is by OPENSHELL_* variables (flags win).
)";
}

}  // namespace openshell
