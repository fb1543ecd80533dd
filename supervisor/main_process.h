// The main process (the agent): started in the sandbox once, its terminal
// relayed to the supervisor's stdin/stdout in TTY mode; in pipes mode its
// stdout and stderr are pipes the supervisor owns, relayed byte for byte to
// the supervisor's own (stdin is handed over as it is). It never shares an
// open file description the supervisor writes to: O_NONBLOCK set by the
// agent would make the supervisor's own writes fail. Its exit ends the
// sandbox.
#pragma once

#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/circular_buffer.hpp>
#include <deque>
#include <functional>
#include <list>
#include <optional>
#include <string>
#include <vector>

#include "error.h"
#include "interfaces.h"
#include "sandbox.h"
#include "terminal.h"

namespace openshell {

struct MainLaunch {
  std::vector<std::string> argv;
  std::vector<std::string> env;  // KEY=VALUE, complete
  std::string cwd;
  bool tty = true;
};

// Also the `openshell-main` SSH subsystem's view of the terminal: a 1 MiB
// replay of recent output, one writer at a time, detaching never touches
// the process.
class MainProcess final : public ssh::MainAttach {
 public:
  MainProcess(boost::asio::io_context& io, Sandbox& sandbox) : io_(io), sandbox_(sandbox) {}

  // Exactly one of on_failed / on_exit is called.
  void start(MainLaunch launch, std::function<void(const Error&)> on_failed,
             std::function<void(int wait_status)> on_exit);

  // To the main process's group (it leads its own session).
  void signal(int signo);
  // Copies the supervisor's terminal size to the main process's terminal.
  void sync_window_size();
  // Writes whatever output is still buffered; called once the process ended.
  void flush_output();

  Result<std::unique_ptr<ssh::Attachment>> attach(bool want_input,
                                                  ssh::AttachCallbacks callbacks) override;

 private:
  class Client;
  friend class Client;
  void read_terminal();
  void read_input();
  void write_output();
  void output(const char* data, size_t size);
  // Into the replay and to every attached client.
  void record(const char* data, size_t size);

  boost::asio::io_context& io_;
  Sandbox& sandbox_;
  std::optional<uint64_t> id_;
  bool tty_ = false;

  // TTY mode only.
  std::optional<boost::asio::posix::stream_descriptor> master_;
  // Private epoll instances: readable when fd 0 has input, when fd 1 takes
  // output (main_process.cc, watch()). Absent when epoll refuses the fd.
  std::optional<boost::asio::posix::stream_descriptor> stdin_;
  std::optional<boost::asio::posix::stream_descriptor> stdout_;
  std::optional<RawMode> raw_mode_;
  std::deque<std::string> pending_output_;
  size_t pending_bytes_ = 0;
  bool writing_ = false;
  bool reading_paused_ = false;

  // Pipes mode only: the read ends of the main process's stdout and stderr.
  struct Relay {
    std::optional<boost::asio::posix::stream_descriptor> from;
    int to = -1;  // the supervisor's STDOUT_FILENO or STDERR_FILENO
  };
  void relay(Relay& r);
  // Whatever the pipes still hold, once the process has exited.
  void drain(Relay& r);
  Relay relays_[2];

  boost::circular_buffer<char> replay_{1 << 20};
  std::list<Client*> clients_;
  Client* writer_ = nullptr;
  std::optional<int> ended_status_;
};

}  // namespace openshell
