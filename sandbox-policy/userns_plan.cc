#include "userns_plan.h"

namespace openshell::policy {

UserNamespacePlan build_userns_plan(const Identity& identity, bool root_in_sandbox) {
  UserNamespacePlan plan;
  plan.root_in_sandbox = root_in_sandbox;
  if (root_in_sandbox) {
    // Root inside is the sandbox uid outside: capabilities it holds in the
    // namespace reach only inodes owned by that uid (user_namespaces(7)).
    // Supplementary groups cannot be mapped beside gid 0 -> gid; they are
    // dropped and setgroups(2) denied.
    plan.uid_map = {{0, identity.uid, 1}};
    plan.gid_map = {{0, identity.gid, 1}};
    plan.process_uid = 0;
    plan.process_gid = 0;
    plan.init_uid = 0;
    plan.init_gid = 0;
    plan.deny_setgroups = true;
    return plan;
  }
  // Identity mapping of exactly the ids the processes use. Inside uid 0 is
  // not mapped at all: nothing in the sandbox can become root.
  plan.uid_map = {{identity.uid, identity.uid, 1}};
  plan.gid_map = {{identity.gid, identity.gid, 1}};
  for (uint32_t g : identity.supplementary_gids) {
    if (g != identity.gid && g != 0) {
      plan.gid_map.push_back({g, g, 1});
      plan.process_groups.push_back(g);
    }
  }
  plan.process_uid = identity.uid;
  plan.process_gid = identity.gid;
  // The only mapped ids; the init keeps its namespace capabilities as them.
  plan.init_uid = identity.uid;
  plan.init_gid = identity.gid;
  // setgroups stays allowed only when the process needs its supplementary
  // groups set inside; otherwise deny it (CVE-2014-8989: dropping a group
  // can grant access that a negative group permission withheld).
  plan.deny_setgroups = plan.process_groups.empty();
  return plan;
}

}  // namespace openshell::policy
