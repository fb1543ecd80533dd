// openshell-supervisor: PID 1 of an agent's container. Parse, build, run,
// exit; each step lives in its own file.
#include <google/protobuf/stubs/common.h>
#include <libssh/libssh.h>
#include <openssl/crypto.h>
#include <seccomp.h>
#include <unistd.h>

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
  std::printf("openshell-supervisor %s (libssh %s, libseccomp %u.%u.%u, %s, protobuf %s)\n",
              OPENSHELL_VERSION, ssh_version(0), seccomp->major, seccomp->minor, seccomp->micro,
              OpenSSL_version(OPENSSL_VERSION),
              google::protobuf::internal::VersionString(GOOGLE_PROTOBUF_VERSION).c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv, char** envp) {
  log::init(log::Level::warn);

  // The SFTP server of the SSH bridge, started inside the sandbox on stdio.
  if (argc == 2 && std::strcmp(argv[1], "sftp-server") == 0) return sftp::run_sftp_server(0, 1);

  // copy-self comes before anything else: it runs in an init container
  // from a scratch image, with no shell and no configuration.
  if (argc >= 2 && std::strcmp(argv[1], "copy-self") == 0) {
    if (argc != 3) die_at(Stage::input, "usage: openshell-supervisor copy-self DEST");
    auto installed = copy_self(argv[2]);
    if (!installed) die_at(Stage::copy_self, installed.error().message());
    std::fprintf(stderr, "openshell-supervisor: installed %s\n", installed->c_str());
    return 0;
  }

  auto config = parse_config(argc, argv, read_environment(envp));
  if (!config) die_at(Stage::input, config.error().message());
  log::init(config->log_level);

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
