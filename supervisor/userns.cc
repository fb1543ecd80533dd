#include "userns.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "unique_fd.h"

namespace openshell {
namespace {}  // namespace

// The supervisor may run in a PID namespace whose /proc was not remounted
// (unshare --pid without --mount-proc); a pidfd's fdinfo gives the pid in
// the procfs's own namespace (proc(5), "Pid:" of a pidfd).
Result<pid_t> proc_pid_of(pid_t pid) {
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  if (!pidfd) return fail_errno("pidfd_open(" + std::to_string(pid) + ")");
  std::string path = "/proc/self/fdinfo/" + std::to_string(pidfd.get());
  UniqueFd info(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!info) return fail_errno("open " + path);
  char buffer[1024] = {};
  ssize_t n = ::read(info.get(), buffer, sizeof buffer - 1);
  if (n <= 0) return fail_errno("read " + path);
  std::string text(buffer, static_cast<size_t>(n));
  auto at = text.find("\nPid:\t");
  if (at == std::string::npos) return fail("no Pid in " + path);
  long value = std::strtol(text.c_str() + at + 6, nullptr, 10);
  if (value <= 0) return fail("the sandbox init is not visible in this /proc");
  return static_cast<pid_t>(value);
}

namespace {

Result<void> write_proc_file(pid_t pid, const char* name, const std::string& content) {
  std::string path = "/proc/" + std::to_string(pid) + "/" + name;
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) return fail_errno("open " + path);
  // The map files take one write(2) holding every line (user_namespaces(7)).
  if (::write(fd.get(), content.data(), content.size()) != static_cast<ssize_t>(content.size())) {
    return fail_errno("write " + path + " \"" + content + "\"");
  }
  return {};
}

std::string format_map(const std::vector<policy::IdMapping>& lines) {
  std::string out;
  for (const auto& m : lines) {
    out += std::to_string(m.inside) + " " + std::to_string(m.outside) + " " +
           std::to_string(m.count) + "\n";
  }
  return out;
}

}  // namespace

Result<void> write_id_maps(pid_t pid, const policy::UserNamespacePlan& plan) {
  for (const auto& lines : {plan.uid_map, plan.gid_map}) {
    for (const auto& m : lines) {
      // Never hand the sandbox root's files: outside uid/gid 0 is never mapped.
      if (m.outside == 0) return fail("refusing an id map that maps outside id 0");
    }
  }
  auto proc_pid = proc_pid_of(pid);
  if (!proc_pid) return std::unexpected(proc_pid.error());
  pid = *proc_pid;
  // "deny" must be written before gid_map; CVE-2014-8989.
  if (auto r = write_proc_file(pid, "setgroups", plan.deny_setgroups ? "deny" : "allow"); !r)
    return r;
  if (auto r = write_proc_file(pid, "gid_map", format_map(plan.gid_map)); !r) return r;
  return write_proc_file(pid, "uid_map", format_map(plan.uid_map));
}

Result<void> become_sandbox_identity(const policy::UserNamespacePlan& plan) {
  // Keep the permitted set across the uid change (capabilities(7), "Effect
  // of user ID changes on capabilities"); the effective set is restored
  // below. Processes started later drop everything themselves.
  if (::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) return fail_errno("PR_SET_KEEPCAPS");
  if (!plan.deny_setgroups) {
    std::vector<gid_t> groups(plan.process_groups.begin(), plan.process_groups.end());
    if (::setgroups(groups.size(), groups.data()) != 0) return fail_errno("setgroups");
  }
  if (::setresgid(plan.init_gid, plan.init_gid, plan.init_gid) != 0) {
    return fail_errno("setresgid(" + std::to_string(plan.init_gid) + ")");
  }
  if (::setresuid(plan.init_uid, plan.init_uid, plan.init_uid) != 0) {
    return fail_errno("setresuid(" + std::to_string(plan.init_uid) + ")");
  }
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (::syscall(SYS_capget, &header, data) != 0) return fail_errno("capget");
  data[0].effective = data[0].permitted;
  data[1].effective = data[1].permitted;
  if (::syscall(SYS_capset, &header, data) != 0) return fail_errno("capset");
  // A uid change resets "dumpable" to fs.suid_dumpable (prctl(2)); the init
  // must stay non-dumpable so nothing inside can read its memory.
  if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) return fail_errno("PR_SET_DUMPABLE");
  return {};
}

}  // namespace openshell
