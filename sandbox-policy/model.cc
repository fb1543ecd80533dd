#include "model.h"

namespace openshell::policy {

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
  return p;
}

}  // namespace openshell::policy
