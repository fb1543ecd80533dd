// The bridge with the test services, on loopback: what the integration tests
// drive with OpenSSH's clients. `ssh-test-server sftp-server` is the SFTP
// server on stdio, as `openshell-supervisor sftp-server` is in production.
#include <signal.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

#include "bridge.h"
#include "direct_launcher.h"
#include "log.h"
#include "sftp_server.h"
#include "test_services.h"

using namespace openshell;

#if defined(__SANITIZE_ADDRESS__)
// The sanitizer build only, as in supervisor/main.cc: sessions start with a
// clean environment, so `ssh-test-server sftp-server` does not inherit
// ASAN_OPTIONS, and under the fsync check's strace LeakSanitizer (which
// stops threads with ptrace) would fail its clean exit.
extern "C" const char* __asan_default_options() {
  return "detect_leaks=0";
}
#endif

int main(int argc, char** argv) {
  if (argc >= 2 && std::strcmp(argv[1], "sftp-server") == 0) {
    return sftp::run_sftp_server(0, 1);
  }
  ssh::BridgeConfig config;
  config.listen = "127.0.0.1:0";
  std::string info_file;
  std::string shell = "/bin/sh";
  std::chrono::milliseconds start_delay{0};
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--listen")
      config.listen = value;
    else if (flag == "--socket")
      config.socket_path = value;
    else if (flag == "--authorized-keys")
      config.authorized_keys_file = value;
    else if (flag == "--host-key")
      config.host_key_file = value;
    else if (flag == "--sandbox-id")
      config.sandbox_id = value;
    else if (flag == "--shell")
      shell = value;
    else if (flag == "--max-unauthenticated")
      config.max_unauthenticated = std::stoul(value);
    else if (flag == "--auth-timeout-ms")
      config.auth_timeout = std::chrono::milliseconds(std::stol(value));
    else if (flag == "--info-file")
      info_file = value;
    else if (flag == "--start-delay-ms")
      start_delay = std::chrono::milliseconds(std::stol(value));
    else {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  log::init(log::Level::info);
  // SIGPIPE keeps its default (fatal) action on purpose: the bridge must
  // never raise it, whatever a client or child does.

  boost::asio::io_context io;
  char self[4096];
  ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return 1;
  self[n] = '\0';
  ssh::testing::DirectLauncher launcher(io, shell, self);
  launcher.set_start_delay(start_delay);
  ssh::testing::FakeMain main_process(io);
  ssh::testing::PlainConnector connector(io);

  auto bridge = ssh::Bridge::create(io, config, {&launcher, &main_process, &connector});
  if (!bridge) {
    std::fprintf(stderr, "ssh-test-server: %s\n", bridge.error().message().c_str());
    return 3;
  }
  if (auto started = (*bridge)->start(); !started) {
    std::fprintf(stderr, "ssh-test-server: %s\n", started.error().message().c_str());
    return 3;
  }
  if (!info_file.empty()) {
    std::ofstream out(info_file + ".tmp");
    for (const auto& where : (*bridge)->listening()) out << "listen " << where << "\n";
    out << "hostkey " << (*bridge)->host_public_key() << "\n";
    out << "fingerprint " << (*bridge)->host_key_fingerprint() << "\n";
    out.close();
    std::rename((info_file + ".tmp").c_str(), info_file.c_str());
  }
  boost::asio::signal_set stop(io, SIGTERM, SIGINT);
  stop.async_wait([&](const boost::system::error_code&, int) {
    (*bridge)->stop();
    io.stop();
  });
  io.run();
  return 0;
}
