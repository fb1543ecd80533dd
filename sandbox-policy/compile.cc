// Policy + facts about this run -> SandboxPlan. Each step is one mechanism's
// compiler; the order only matters where a later step reads an earlier one's
// result (the identity feeds the user namespace and the environment; the
// tree feeds mounts and Landlock).
#include "compile.h"

#include "capabilities.h"
#include "environment.h"
#include "fs_tree.h"
#include "identity.h"
#include "landlock_plan.h"
#include "mount_plan.h"
#include "report.h"
#include "rlimits.h"
#include "seccomp_filter.h"
#include "userns_plan.h"
#include "validate.h"

namespace openshell::policy {

namespace {

bool home_in_view(const FsTree& tree, const std::string& home) {
  bool granted = false;
  for (const FsNode& node : tree.nodes) {
    if (!path_is_within(home, node.path)) continue;
    if (node.access == FsAccess::kMasked) return false;
    if (node.source == FsSource::kBind || node.source == FsSource::kTmpfs) granted = true;
  }
  return granted;
}

}  // namespace

PolicyResult<SandboxPlan> compile(const Policy& policy, const CompileInputs& inputs) {
  SandboxPlan plan;

  auto workdir = normalize_path("workdir", inputs.workdir);
  if (!workdir) return std::unexpected(workdir.error());
  plan.workdir = *workdir;

  IdentityInputs id_inputs;
  id_inputs.env_uid = inputs.env_sandbox_uid;
  id_inputs.env_gid = inputs.env_sandbox_gid;
  id_inputs.workdir = plan.workdir;
  auto identity = resolve_identity_from_image(policy.process, inputs.image_root, id_inputs);
  if (!identity) return std::unexpected(identity.error());
  plan.identity = *identity;
  if (policy.process.run_as_user.empty() && !inputs.env_sandbox_uid) {
    plan.notes.push_back(
        "identity: no run_as_user given; running as " +
        (plan.identity.user_name.empty() ? std::string("uid") : plan.identity.user_name) + " (" +
        std::to_string(plan.identity.uid) + ":" + std::to_string(plan.identity.gid) + ")");
  }
  plan.user_namespace = build_userns_plan(plan.identity, policy.root_in_sandbox);

  auto tree = build_fs_tree(policy, inputs, plan.notes);
  if (!tree) return std::unexpected(tree.error());
  plan.fs_tree = std::move(*tree);
  // HOME is the user's home when the view holds it, else the workdir:
  // shells and agents write there (~/.profile, ~/.claude), and a home
  // the policy does not grant does not exist in the sandbox.
  if (!home_in_view(plan.fs_tree, plan.identity.home) && plan.identity.home != plan.workdir) {
    plan.notes.push_back("identity: home '" + plan.identity.home +
                         "' is not granted by the policy; HOME is the workdir " + plan.workdir);
    plan.identity.home = plan.workdir;
  }
  plan.mount_plan = build_mount_plan(plan.fs_tree);
  // Landlock refuses directory rights on a rule for a file (EINVAL), so
  // files known from the probe get file rights only.
  std::vector<std::string> file_paths;
  if (inputs.path_probe) {
    for (const FsNode& node : plan.fs_tree.nodes) {
      PathKind kind = inputs.path_probe(node.path);
      if (kind == PathKind::kFile || kind == PathKind::kOther) file_paths.push_back(node.path);
    }
  }
  plan.landlock = build_landlock_plan(
      plan.fs_tree, policy.landlock == LandlockCompatibility::kHardRequirement, file_paths);

  auto seccomp = build_seccomp_plan(policy.seccomp);
  if (!seccomp) return std::unexpected(seccomp.error());
  plan.seccomp = std::move(*seccomp);
  for (const std::string& note : plan.seccomp.notes) plan.notes.push_back(note);

  plan.keep_capabilities = capability_mask(policy.unsafe_keep_caps);
  plan.rlimits = build_rlimit_plan(policy);
  plan.network_mode = policy.network_mode;
  plan.network_policies = policy.network_policies;
  plan.environment = build_base_environment(plan.identity, policy, inputs.user_environment);
  plan.unenforced = unenforced_features(policy);
  return plan;
}

}  // namespace openshell::policy
