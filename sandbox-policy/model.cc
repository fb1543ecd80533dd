#include "model.h"

namespace openshell::policy {

std::string_view to_string(NetworkMode mode) {
  switch (mode) {
    case NetworkMode::kPod:
      return "pod";
    case NetworkMode::kNone:
      return "none";
    case NetworkMode::kProxy:
      return "proxy";
  }
  return "proxy";
}

Policy default_policy(const std::string& workdir) {
  Policy p;
  // OpenShell's default filesystem policy (DESIGN.md §5). /bin, /sbin and
  // /lib64 are symlinks into /usr on merged-/usr images (Debian 12, Ubuntu,
  // Fedora), where they add nothing; on older layouts they are real
  // directories holding the shell and the dynamic loader, without which
  // nothing runs. Paths missing from the image are skipped, not errors.
  p.filesystem.read_only = {"/usr",  "/lib",         "/lib64", "/bin", "/sbin",
                            "/proc", "/dev/urandom", "/app",   "/etc", "/var/log"};
  p.filesystem.read_write = {"/tmp", "/dev/null"};
  if (!workdir.empty() && workdir != "/tmp") p.filesystem.read_write.push_back(workdir);
  p.filesystem.include_workdir = true;
  p.landlock = LandlockCompatibility::kBestEffort;
  // OpenShell's only mode: an own network namespace, egress through the
  // policy proxy; with no network_policies nothing leaves.
  p.network_mode = NetworkMode::kProxy;
  return p;
}

}  // namespace openshell::policy
