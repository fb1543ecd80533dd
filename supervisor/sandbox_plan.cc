#include "sandbox_plan.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "log.h"
#include "sandbox-policy/compile.h"
#include "sandbox-policy/identity.h"
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

// The image's top-level symlinks (/bin -> usr/bin), to copy into the view.
std::map<std::string, std::string> image_symlinks() {
  std::map<std::string, std::string> links;
  DIR* root = ::opendir("/");
  if (root == nullptr) return links;
  while (dirent* entry = ::readdir(root)) {
    // d_type spares a readlink per directory (DT_UNKNOWN: the file system
    // does not say; ask).
    if (entry->d_type != DT_LNK && entry->d_type != DT_UNKNOWN) continue;
    std::string path = std::string("/") + entry->d_name;
    char text[4096];
    ssize_t n = ::readlink(path.c_str(), text, sizeof text - 1);
    if (n > 0) links[path] = std::string(text, static_cast<size_t>(n));
  }
  ::closedir(root);
  return links;
}

// Character devices in `dir` whose name starts with `prefix` ("" for all).
void char_devices(const std::string& dir, const std::string& prefix,
                  std::vector<std::string>& out) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return;
  while (dirent* entry = ::readdir(d)) {
    std::string name = entry->d_name;
    if (!name.starts_with(prefix) || name == "." || name == "..") continue;
    if (entry->d_type != DT_CHR && entry->d_type != DT_UNKNOWN) continue;
    struct stat st {};
    std::string path = dir + "/" + name;
    if (::lstat(path.c_str(), &st) == 0 && S_ISCHR(st.st_mode)) out.push_back(path);
  }
  ::closedir(d);
}

}  // namespace

std::vector<std::string> passthrough_devices() {
  // What the NVIDIA device plugin and container toolkit put in a GPU pod,
  // and the DRM nodes other GPUs use.
  std::vector<std::string> devices;
  char_devices("/dev", "nvidia", devices);
  char_devices("/dev/nvidia-caps", "", devices);
  char_devices("/dev/dri", "", devices);
  std::sort(devices.begin(), devices.end());
  return devices;
}

namespace {

Result<LoadedPlan> compile_loaded(const Config& config, policy::LoadedPolicy loaded) {
  policy::CompileInputs inputs;
  inputs.workdir = config.workdir;
  inputs.supervisor_binary = own_binary();
  if (config.sandbox_uid) inputs.env_sandbox_uid = std::to_string(*config.sandbox_uid);
  if (config.sandbox_gid) inputs.env_sandbox_gid = std::to_string(*config.sandbox_gid);
  inputs.user_environment = config.user_environment;
  inputs.path_probe = probe_path;
  inputs.image_symlinks = image_symlinks();
  inputs.devices = passthrough_devices();
  // The gateway's keys and the policy never show, whatever a grant covers.
  for (const auto& file : {config.ssh_authorized_keys_file, config.ssh_host_key_file,
                           config.policy_file, loaded.origin}) {
    if (file.starts_with("/")) inputs.masked_files.push_back(file);
  }
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

namespace {

// May `id` search (enter) the directory `st` describes? The owner's bits
// for the owner, the group's for a member, the others' otherwise (as the
// kernel decides without capabilities: the sandbox has none in the pod).
bool can_enter(const struct stat& st, const policy::Identity& id) {
  if (st.st_uid == id.uid) return (st.st_mode & S_IXUSR) != 0;
  bool member = st.st_gid == id.gid || std::find(id.supplementary_gids.begin(),
                                                 id.supplementary_gids.end(),
                                                 st.st_gid) != id.supplementary_gids.end();
  if (member) return (st.st_mode & S_IXGRP) != 0;
  return (st.st_mode & S_IXOTH) != 0;
}

std::string mode_text(const struct stat& st) {
  char text[64];
  std::snprintf(text, sizeof text, "mode %04o, owner %u:%u", st.st_mode & 07777, st.st_uid,
                st.st_gid);
  return text;
}

}  // namespace

Result<bool> prepare_workdir(const policy::SandboxPlan& plan) {
  const std::string& workdir = plan.workdir;
  const policy::Identity& id = plan.identity;
  bool created = false;
  struct stat st {};
  if (::stat(workdir.c_str(), &st) != 0) {
    if (errno != ENOENT) return fail_errno("workdir " + workdir);
    // Missing parents are made as root, 0755; the workdir itself belongs
    // to the sandbox user, who works in it.
    for (size_t slash = workdir.find('/', 1); slash != std::string::npos;
         slash = workdir.find('/', slash + 1)) {
      std::string parent = workdir.substr(0, slash);
      if (::mkdir(parent.c_str(), 0755) != 0 && errno != EEXIST) {
        return fail_errno("workdir " + workdir + ": mkdir " + parent);
      }
    }
    if (::mkdir(workdir.c_str(), 0755) != 0) return fail_errno("workdir " + workdir + ": mkdir");
    if (::chown(workdir.c_str(), id.uid, id.gid) != 0 || ::chmod(workdir.c_str(), 0755) != 0) {
      return fail_errno("workdir " + workdir + ": chown");
    }
    log::info("workdir created", {{"path", workdir}, {"uid", id.uid}, {"gid", id.gid},
                                  {"mode", "0755"}});
    created = true;
  }
  // Every directory on the way must be searchable by the sandbox user, or
  // the main process fails later with a chdir error that names nothing.
  for (size_t end = workdir.find('/', 1);; end = workdir.find('/', end + 1)) {
    std::string dir = end == std::string::npos ? workdir : workdir.substr(0, end);
    if (::stat(dir.c_str(), &st) != 0) return fail_errno("workdir " + workdir + ": stat " + dir);
    if (!S_ISDIR(st.st_mode)) return fail("workdir " + workdir + ": " + dir + " is not a directory");
    if (!can_enter(st, id)) {
      return fail("workdir " + workdir + ": the sandbox user (uid " + std::to_string(id.uid) +
                  ", gid " + std::to_string(id.gid) + ") cannot enter " + dir + " (" +
                  mode_text(st) + ")");
    }
    if (end == std::string::npos) break;
  }
  return created;
}

Result<LoadedPlan> load_sandbox_plan(const Config& config) {
  policy::PolicyLocation location;
  if (!config.policy_file.empty()) location.flag_path = config.policy_file;
  location.workdir = config.workdir;
  auto loaded = policy::find_and_load_policy(location);
  if (!loaded) return fail(loaded.error().to_string());
  policy::LoadedPolicy copy = *loaded;
  auto compiled = compile_loaded(config, std::move(*loaded));
  if (!compiled || config.subcommand != Subcommand::run) return compiled;
  auto created = prepare_workdir(compiled->plan);
  if (!created) return std::unexpected(created.error());
  // The path probe saw no workdir: compile again so that it is bound.
  if (*created) return compile_loaded(config, std::move(copy));
  return compiled;
}

Result<LoadedPlan> load_sandbox_plan_from(const Config& config, const std::string& file,
                                          std::vector<std::string>* unresolved) {
  auto loaded = policy::load_policy_file(file);
  if (!loaded) return fail(loaded.error().to_string());
  if (config.image_root.empty() && unresolved == nullptr) {
    return compile_loaded(config, policy::LoadedPolicy{std::move(*loaded), file});
  }
  // Off the image: users and groups are resolved against the given root,
  // or not at all. Without a root, a name this machine lacks is reported
  // and left out, so that the rest of the policy is still checked.
  std::string root = config.image_root.empty() ? "/" : config.image_root;
  auto missing = policy::unresolved_names(loaded->process, root);
  for (const auto& name : missing) {
    std::string line = file + ": " + name.key + ": no " +
                       (name.key == "process.run_as_user" ? "user '" : "group '") + name.name +
                       "' in " + name.file;
    if (!config.image_root.empty()) return fail(line);
    if (unresolved != nullptr) unresolved->push_back(line);
    (name.key == "process.run_as_user" ? loaded->process.run_as_user
                                       : loaded->process.run_as_group)
        .clear();
  }
  policy::CompileInputs inputs;
  inputs.workdir = config.workdir;
  inputs.image_root = root;
  inputs.user_environment = config.user_environment;
  std::string prefix = root == "/" ? "" : root;
  inputs.path_probe = [prefix](const std::string& path) { return probe_path(prefix + path); };
  auto plan = policy::compile(*loaded, inputs);
  if (!plan) return fail(file + ": " + plan.error().to_string());
  LoadedPlan out;
  out.plan = std::move(*plan);
  out.policy = std::move(*loaded);
  out.file = file;
  out.origin = file;
  return out;
}

void report_unenforced(const policy::SandboxPlan& plan) {
  for (const auto& item : plan.unenforced) {
    log::warn("NOT ENFORCED: the policy asks for something this build cannot enforce",
              {{"key", item.key}, {"detail", item.message}});
  }
}

}  // namespace openshell
