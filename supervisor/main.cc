// openshell-supervisor: PID 1 of an agent's container. Parse, build, run,
// exit; each step lives in its own file.
#include <google/protobuf/stubs/common.h>
#include <libssh/libssh.h>
#include <openssl/crypto.h>
#include <fcntl.h>
#include <seccomp.h>
#include <unistd.h>
#include <yaml.h>

#include <csignal>

#include <cstdio>
#include <cstring>
#include <string>

#include "check.h"
#include "config.h"
#include "copy_self.h"
#include "log.h"
#include "run.h"
#include "sftp_server.h"
#include "startup_error.h"

using namespace openshell;

namespace {

int print_version() {
  const scmp_version* seccomp = seccomp_version();
  std::printf(
      "openshell-supervisor %s (libssh %s, libseccomp %u.%u.%u, %s, protobuf %s, libyaml %s)\n",
      OPENSHELL_VERSION, ssh_version(0), seccomp->major, seccomp->minor, seccomp->micro,
      OpenSSL_version(OPENSSL_VERSION),
      google::protobuf::internal::VersionString(GOOGLE_PROTOBUF_VERSION).c_str(),
      yaml_get_version_string());
  return 0;
}

// Until the PID-1 loop handles them: as PID 1 of a PID namespace with the
// default disposition, the kernel drops these signals (pid_namespaces(7));
// blocked, they stay pending and reach the handlers once the loop runs.
// Processes in the sandbox start with an empty mask (spawn_child.cc).
void shutdown_signals(int how) {
  sigset_t held;
  sigemptyset(&held);
  for (int signo : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&held, signo);
  ::sigprocmask(how, &held, nullptr);
}

// A closed 0, 1 or 2 would be taken by the next open: the control socket
// to the sandbox init would become fd 0 and be handed to the main process
// as its stdin (bubblewrap and runc do the same; CVE-2016-9962 is the
// class of bug). /dev/null stands in for whatever the caller closed.
void ensure_standard_fds() {
  for (int fd = 0; fd <= 2; ++fd) {
    if (::fcntl(fd, F_GETFD) != -1 || errno != EBADF) continue;
    int null = ::open("/dev/null", O_RDWR);
    if (null != fd) {
      // Not even /dev/null: nothing can be started safely.
      static const char message[] = "openshell-supervisor: cannot open /dev/null onto fd 0-2\n";
      ssize_t ignored = ::write(2, message, sizeof message - 1);
      (void)ignored;
      ::_exit(static_cast<int>(Stage::event_loop));
    }
  }
}

// Before main: the static initializers of the libraries (protobuf, libssh,
// OpenSSL) run first, and a signal during them would be lost the same way.
__attribute__((constructor(101))) void hold_shutdown_signals_from_the_start() {
  shutdown_signals(SIG_BLOCK);
}

}  // namespace

#if defined(__SANITIZE_ADDRESS__)
// The sanitizer build only. LeakSanitizer stops the threads with ptrace at
// exit; the supervisor denies itself ptrace (self_restrict.cc) and the
// sandbox's filter denies it too, so the check would turn every clean exit
// into a failure. Processes started in the sandbox get a clean environment,
// so ASAN_OPTIONS cannot say it for them: the binary does. Memory errors
// and undefined behaviour are still checked; leaks are checked in the
// library suites (tests/run-all.sh).
extern "C" const char* __asan_default_options() {
  return "detect_leaks=0";
}
#endif

int main(int argc, char** argv, char** envp) {
  ensure_standard_fds();
  log::init(log::Level::warn);

  // The SFTP server of the SSH bridge, started inside the sandbox on stdio.
  // Only `run` is PID 1; every other subcommand takes signals as usual.
  if (argc == 2 && std::strcmp(argv[1], "sftp-server") == 0) {
    shutdown_signals(SIG_UNBLOCK);
    return sftp::run_sftp_server(0, 1);
  }

  // copy-self comes before anything else: it runs in an init container
  // from a scratch image, with no shell and no configuration.
  if (argc >= 2 && std::strcmp(argv[1], "copy-self") == 0) {
    shutdown_signals(SIG_UNBLOCK);
    if (argc != 3) die_at(Stage::input, "usage: openshell-supervisor copy-self DEST");
    auto installed = copy_self(argv[2]);
    if (!installed) die_at(Stage::copy_self, installed.error().message());
    std::fprintf(stderr, "openshell-supervisor: installed %s\n", installed->c_str());
    return 0;
  }

  auto config = parse_config(argc, argv, read_environment(envp));
  if (!config) die_at(Stage::input, config.error().message());
  log::init(config->log_level);
  if (config->subcommand != Subcommand::run) shutdown_signals(SIG_UNBLOCK);

  switch (config->subcommand) {
    case Subcommand::help:
      std::fputs(usage_text().c_str(), stdout);
      return 0;
    case Subcommand::version:
      return print_version();
    case Subcommand::copy_self:
      break;  // handled above
    case Subcommand::check:
      return run_check(*config);
    case Subcommand::validate_policy:
      return run_validate_policy(*config);
    case Subcommand::run:
      return run_supervisor(*config);
  }
  return 0;
}
