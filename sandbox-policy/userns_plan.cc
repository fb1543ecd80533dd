#include "userns_plan.h"

#include <algorithm>

namespace openshell::policy {
namespace {

// The sandbox init's own id, inside and outside: one no sandbox process
// has. A process may change the resource limits of a process with its own
// ids (prlimit(2): RLIMIT_NPROC = 1 on the init broke every later spawn), so
// the init must not share them. 65533 is one below the overflow id 65534,
// under which inodes of unmapped owners appear inside, so `ps` inside tells
// the two apart; lower ids are taken when the identity uses it.
uint32_t init_id(const Identity& identity) {
  auto used = [&](uint32_t id) {
    return id == identity.uid || id == identity.gid ||
           std::find(identity.supplementary_gids.begin(), identity.supplementary_gids.end(), id) !=
               identity.supplementary_gids.end();
  };
  uint32_t id = 65533;
  while (used(id)) --id;
  return id;
}

// Maps the init's id to itself, after the sandbox's lines.
void add_init_id(UserNamespacePlan& plan, uint32_t id) {
  plan.uid_map.push_back({id, id, 1});
  plan.gid_map.push_back({id, id, 1});
  plan.init_uid = id;
  plan.init_gid = id;
}

}  // namespace

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
    plan.deny_setgroups = true;
    add_init_id(plan, init_id(identity));
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
  // The init keeps its namespace capabilities under its own id.
  add_init_id(plan, init_id(identity));
  // setgroups stays allowed only when the process needs its supplementary
  // groups set inside; otherwise deny it (CVE-2014-8989: dropping a group
  // can grant access that a negative group permission withheld).
  plan.deny_setgroups = plan.process_groups.empty();
  return plan;
}

}  // namespace openshell::policy
