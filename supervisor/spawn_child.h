// The child between clone and exec, run by the sandbox init for every
// process it starts. The child shares the init's memory until its exec
// (CLONE_VM | CLONE_VFORK, spawn_child.cc). Everything is prepared before
// the clone (argv, envp, the exec candidates); in the child only
// async-signal-safe calls run, and a failure comes back to the parent as
// a fixed {stage, errno} record on a close-on-exec pipe: end of file means
// the exec happened.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <string>
#include <vector>

#include "control.pb.h"
#include "error.h"
#include "restrict.h"

namespace openshell {

struct ChildFailure {
  char stage[32];
  int err;
};

struct PreparedSpawn {
  std::vector<std::string> argv_storage;
  std::vector<std::string> env_storage;
  std::vector<char*> argv;  // null-terminated views of the storage
  std::vector<char*> envp;
  std::vector<std::string> exec_paths;  // argv[0], or each PATH entry joined with it
  std::string cwd;
  bool tty = false;
  int fds[3] = {-1, -1, -1};  // tty: fds[0] is the terminal
  bool probe_only = false;    // exit 0 after the restrictions instead of exec
};

// Flattens a request and the fds that came with it. Fails when the request
// is malformed (no argv, relative cwd, wrong number of fds).
Result<PreparedSpawn> prepare_spawn(const control::SpawnRequest& request,
                                    const std::vector<int>& fds);

// The signals whose disposition in the calling process is not the default
// (ignored, or a handler inherited from the supervisor): the ones a child
// must reset before it unblocks any. 62 sigaction(2) calls, so the init
// asks once, while it waits for its id maps, not in every child.
sigset_t altered_signal_dispositions();

// Clones the child and runs its steps. Returns the child's pid once it has
// exec'd, or the {stage, errno} it failed with (the child is then reaped).
// `altered` is altered_signal_dispositions() of the caller, which must not
// have changed a disposition since; null resets every signal.
Result<pid_t> fork_and_exec(const PreparedSpawn& spawn, const ProcessRestrictions* restrictions,
                            const sigset_t* altered = nullptr);

}  // namespace openshell
