#include "sandbox_plan.h"

#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "sandbox-policy/compile.h"
#include "sandbox-policy/load.h"
#include "sandbox-policy/report.h"

namespace openshell {
namespace {

policy::PathKind probe_path(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return policy::PathKind::kMissing;
  if (S_ISDIR(st.st_mode)) return policy::PathKind::kDirectory;
  if (S_ISREG(st.st_mode)) return policy::PathKind::kFile;
  if (S_ISLNK(st.st_mode)) return policy::PathKind::kSymlink;
  return policy::PathKind::kOther;
}

Result<LoadedPlan> compile_loaded(const Config& config, policy::LoadedPolicy loaded) {
  policy::CompileInputs inputs;
  inputs.workdir = config.workdir;
  inputs.supervisor_binary = own_binary();
  if (config.sandbox_uid) inputs.env_sandbox_uid = std::to_string(*config.sandbox_uid);
  if (config.sandbox_gid) inputs.env_sandbox_gid = std::to_string(*config.sandbox_gid);
  inputs.user_environment = config.user_environment;
  inputs.path_probe = probe_path;
  auto plan = policy::compile(loaded.policy, inputs);
  if (!plan) {
    std::string where = plan.error().file.empty() ? loaded.origin + ": " : "";
    return fail(where + plan.error().to_string());
  }
  LoadedPlan out;
  out.plan = std::move(*plan);
  out.policy = std::move(loaded.policy);
  // A file the supervisor read (not the built-in default) is watched for
  // network policy reloads.
  if (loaded.origin != "built-in default") out.file = loaded.origin;
  out.origin = std::move(loaded.origin);
  return out;
}

}  // namespace

std::string own_binary() {
  char buffer[4096];
  ssize_t n = ::readlink("/proc/self/exe", buffer, sizeof buffer - 1);
  return n > 0 ? std::string(buffer, static_cast<size_t>(n)) : std::string();
}

Result<LoadedPlan> load_sandbox_plan(const Config& config) {
  policy::PolicyLocation location;
  if (!config.policy_file.empty()) location.flag_path = config.policy_file;
  location.workdir = config.workdir;
  auto loaded = policy::find_and_load_policy(location);
  if (!loaded) return fail(loaded.error().to_string());
  return compile_loaded(config, std::move(*loaded));
}

Result<LoadedPlan> load_sandbox_plan_from(const Config& config, const std::string& file) {
  auto loaded = policy::load_policy_file(file);
  if (!loaded) return fail(loaded.error().to_string());
  return compile_loaded(config, policy::LoadedPolicy{std::move(*loaded), file});
}

void report_unenforced(const policy::SandboxPlan& plan) {
  for (const auto& item : plan.unenforced) {
    log::warn("NOT ENFORCED: the policy asks for something this build cannot enforce",
              {{"key", item.key}, {"detail", item.message}});
  }
}

}  // namespace openshell
