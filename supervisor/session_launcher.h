// The SSH bridge's processes (shells, execs, the SFTP server) started in the
// sandbox through the sandbox init, exactly like the main process.
#pragma once

#include <string>

#include "interfaces.h"
#include "sandbox-policy/plan.h"
#include "sandbox.h"

namespace openshell {

class SessionLauncher final : public ssh::ProcessLauncher {
 public:
  // `supervisor_path`: this binary as seen inside the sandbox, for
  // `sftp-server`.
  SessionLauncher(Sandbox& sandbox, const policy::SandboxPlan& plan, std::string supervisor_path)
      : sandbox_(sandbox), plan_(plan), supervisor_path_(std::move(supervisor_path)) {}

  void launch(ssh::LaunchRequest request, ssh::LaunchCallbacks callbacks) override;
  void signal(ssh::ProcessHandle handle, int signo) override;

 private:
  Sandbox& sandbox_;
  const policy::SandboxPlan& plan_;
  std::string supervisor_path_;
};

}  // namespace openshell
