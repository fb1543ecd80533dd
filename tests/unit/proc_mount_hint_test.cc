// The diagnosis of a refused fresh /proc: in a runtime's user namespace an
// EPERM names the masked-paths rule and the pod setting that lifts it;
// elsewhere, or for another errno, nothing is added (the errno says it).
#include <gtest/gtest.h>

#include <cerrno>

#include "mounts.h"

namespace openshell {
namespace {

TEST(ProcMountHint, EpermInAUserNamespaceNamesTheCauseAndThePodSetting) {
  std::string hint = proc_mount_hint(EPERM, /*in_child_user_namespace=*/true);
  EXPECT_NE(hint.find("user namespace"), std::string::npos) << hint;
  EXPECT_NE(hint.find("masked"), std::string::npos) << hint;
  EXPECT_NE(hint.find("securityContext.procMount: Unmasked"), std::string::npos) << hint;
  EXPECT_NE(hint.find("hostUsers: false"), std::string::npos) << hint;
}

TEST(ProcMountHint, NothingOutsideAUserNamespaceOrForAnotherErrno) {
  // In the host's user namespace masked paths do not stop a proc mount:
  // EPERM there means a missing CAP_SYS_ADMIN, and the hint would mislead.
  EXPECT_EQ(proc_mount_hint(EPERM, false), "");
  EXPECT_EQ(proc_mount_hint(ENOENT, true), "");
  EXPECT_EQ(proc_mount_hint(EACCES, true), "");
}

}  // namespace
}  // namespace openshell
