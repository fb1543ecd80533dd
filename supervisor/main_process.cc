#include "main_process.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/post.hpp>

#include "log.h"

namespace openshell {
namespace {

// Writes of at most PIPE_BUF bytes to a pipe that polled writable do not
// block (pipe(7)); the supervisor's stdout is never switched to O_NONBLOCK
// because that flag would leak to whoever shares the file description.
constexpr size_t kWriteChunk = 4096;
constexpr size_t kMaxPendingOutput = 1 << 20;

// Readiness of one of the caller's descriptors without touching it. Asio
// makes every descriptor it waits on O_NONBLOCK
// (reactive_descriptor_service::start_op), and fd 0 and 1 share their open
// file description with the caller's terminal or pipe: the flag would
// outlive the supervisor and make its own log writes fail with EAGAIN.
// Asio waits instead on a private epoll instance holding the descriptor,
// which is readable whenever the descriptor is ready for `events` (level
// triggered, epoll(7)). epoll refuses regular files and some devices
// (/dev/null) with EPERM: those are always ready, and nullopt says so.
std::optional<boost::asio::posix::stream_descriptor> watch(boost::asio::io_context& io, int fd,
                                                           uint32_t events) {
  UniqueFd epoll(::epoll_create1(EPOLL_CLOEXEC));
  epoll_event event{};
  event.events = events;
  if (!epoll || ::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, fd, &event) != 0) return std::nullopt;
  boost::asio::posix::stream_descriptor descriptor(io);
  boost::system::error_code ec;
  descriptor.assign(epoll.get(), ec);
  if (ec) return std::nullopt;
  epoll.release();
  return descriptor;
}

void write_all_blocking(int fd, const char* data, size_t size) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // stdout is gone; the output has nowhere to go
    data += n;
    size -= static_cast<size_t>(n);
  }
}

}  // namespace

class MainProcess::Client final : public ssh::Attachment {
 public:
  Client(MainProcess& main, ssh::AttachCallbacks callbacks)
      : main_(main), callbacks_(std::move(callbacks)) {
    main_.clients_.push_back(this);
  }
  ~Client() override {
    main_.clients_.remove(this);
    if (main_.writer_ == this) main_.writer_ = nullptr;
  }
  bool has_input() const override { return main_.writer_ == this; }
  void write(std::span<const char> data) override {
    if (!has_input() || !main_.master_) return;
    // Non-blocking: input beyond what the terminal queue takes is dropped
    // rather than stalling the supervisor.
    ssize_t ignored = ::write(main_.master_->native_handle(), data.data(), data.size());
    (void)ignored;
  }
  void resize(std::uint32_t columns, std::uint32_t rows) override {
    if (!has_input() || !main_.master_) return;
    winsize size{};
    size.ws_col = static_cast<unsigned short>(columns);
    size.ws_row = static_cast<unsigned short>(rows);
    // The kernel sends SIGWINCH to the terminal's foreground group.
    set_window_size(main_.master_->native_handle(), size);
  }
  ssh::AttachCallbacks& callbacks() { return callbacks_; }

 private:
  MainProcess& main_;
  ssh::AttachCallbacks callbacks_;
};

Result<std::unique_ptr<ssh::Attachment>> MainProcess::attach(bool want_input,
                                                             ssh::AttachCallbacks callbacks) {
  if (!tty_) return fail("the main process has no terminal (tty: false)");
  auto client = std::make_unique<Client>(*this, std::move(callbacks));
  if (want_input && writer_ == nullptr) writer_ = client.get();
  // The replay and an exit that already happened arrive from the loop, never
  // from inside this call.
  std::string replay(replay_.begin(), replay_.end());
  Client* raw = client.get();
  boost::asio::post(io_, [this, raw, replay = std::move(replay)] {
    auto alive = std::find(clients_.begin(), clients_.end(), raw);
    if (alive == clients_.end()) return;
    if (!replay.empty() && raw->callbacks().output) raw->callbacks().output(replay);
    if (ended_status_ && raw->callbacks().ended) raw->callbacks().ended(*ended_status_);
  });
  return client;
}

void MainProcess::start(MainLaunch launch, std::function<void(const Error&)> on_failed,
                        std::function<void(int)> on_exit) {
  tty_ = launch.tty;
  control::SpawnRequest request;
  for (auto& arg : launch.argv) request.add_argv(std::move(arg));
  for (auto& entry : launch.env) request.add_env(std::move(entry));
  request.set_cwd(launch.cwd);
  request.set_tty(tty_);

  std::vector<UniqueFd> fds;
  if (tty_) {
    auto pty = open_pty();
    if (!pty) {
      on_failed(pty.error());
      return;
    }
    if (auto size = window_size(STDIN_FILENO)) set_window_size(pty->master.get(), *size);
    fds.push_back(std::move(pty->slave));
    master_.emplace(io_, pty->master.release());
    stdin_ = watch(io_, STDIN_FILENO, EPOLLIN);
    stdout_ = watch(io_, STDOUT_FILENO, EPOLLOUT);
    raw_mode_.emplace(STDIN_FILENO);
  } else {
    UniqueFd in(::fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 3));
    if (!in) in.reset(::open("/dev/null", O_RDWR | O_CLOEXEC));
    fds.push_back(std::move(in));
    for (int out : {STDOUT_FILENO, STDERR_FILENO}) {
      int pipe[2];
      if (::pipe2(pipe, O_CLOEXEC) != 0) {
        on_failed(Error{"pipe2 for the main process's output", errno});
        return;
      }
      UniqueFd read_end(pipe[0]);
      fds.emplace_back(pipe[1]);
      // Our own file description: non-blocking affects nobody else.
      ::fcntl(read_end.get(), F_SETFL, O_NONBLOCK);
      Relay& r = relays_[out - 1];
      r.to = out;
      r.from.emplace(io_, read_end.release());
    }
  }

  SpawnCallbacks callbacks;
  callbacks.started = [this](pid_t pid) {
    log::info("main process started", {{"pid_in_sandbox", static_cast<int>(pid)}, {"tty", tty_}});
    if (tty_) {
      read_terminal();
      read_input();
    }
    for (Relay& r : relays_) relay(r);
  };
  callbacks.failed = [this, on_failed](const Error& error) {
    raw_mode_.reset();
    on_failed(error);
  };
  callbacks.exited = [this, on_exit](int status) {
    flush_output();
    raw_mode_.reset();
    ended_status_ = status;
    for (Client* client : std::list<Client*>(clients_)) {
      if (client->callbacks().ended) client->callbacks().ended(status);
    }
    on_exit(status);
  };
  id_ = sandbox_.spawn(std::move(request), std::move(fds), std::move(callbacks));
}

void MainProcess::signal(int signo) {
  if (id_) sandbox_.signal(*id_, signo, /*group=*/true);
}

void MainProcess::sync_window_size() {
  if (!master_) return;
  if (auto size = window_size(STDIN_FILENO)) set_window_size(master_->native_handle(), *size);
}

void MainProcess::read_terminal() {
  if (!master_ || reading_paused_) return;
  master_->async_wait(boost::asio::posix::stream_descriptor::wait_read,
                      [this](const boost::system::error_code& ec) {
                        if (ec || !master_) return;
                        char buffer[16384];
                        ssize_t n = ::read(master_->native_handle(), buffer, sizeof buffer);
                        if (n > 0) {
                          output(buffer, static_cast<size_t>(n));
                        } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
                          return;  // EIO: every slave fd is closed
                        }
                        read_terminal();
                      });
}

void MainProcess::read_input() {
  if (!stdin_) {
    // A regular file (or anything epoll refuses) is always readable: feed
    // it a chunk per turn of the loop so other work still runs.
    boost::asio::post(io_, [this] {
      char buffer[4096];
      ssize_t n = ::read(STDIN_FILENO, buffer, sizeof buffer);
      if (n < 0 && errno == EINTR) return read_input();
      if (n <= 0 || !master_) return;
      ssize_t ignored = ::write(master_->native_handle(), buffer, static_cast<size_t>(n));
      (void)ignored;
      read_input();
    });
    return;
  }
  stdin_->async_wait(boost::asio::posix::stream_descriptor::wait_read,
                     [this](const boost::system::error_code& ec) {
                       if (ec || !master_) return;
                       char buffer[4096];
                       ssize_t n = ::read(STDIN_FILENO, buffer, sizeof buffer);
                       if (n < 0 && errno == EINTR) return read_input();
                       if (n <= 0) return;  // end of input: the terminal stays open
                       // The master is non-blocking; a full input queue drops
                       // keystrokes rather than stalling the supervisor.
                       ssize_t ignored =
                           ::write(master_->native_handle(), buffer, static_cast<size_t>(n));
                       (void)ignored;
                       read_input();
                     });
}

void MainProcess::record(const char* data, size_t size) {
  replay_.insert(replay_.end(), data, data + size);
  for (Client* client : std::list<Client*>(clients_)) {
    if (client->callbacks().output) client->callbacks().output(std::span<const char>(data, size));
  }
}

void MainProcess::output(const char* data, size_t size) {
  record(data, size);
  if (!stdout_) {
    write_all_blocking(STDOUT_FILENO, data, size);
    return;
  }
  pending_output_.emplace_back(data, size);
  pending_bytes_ += size;
  if (pending_bytes_ > kMaxPendingOutput) reading_paused_ = true;  // back-pressure the terminal
  write_output();
}

void MainProcess::write_output() {
  if (writing_ || pending_output_.empty() || !stdout_) return;
  writing_ = true;
  stdout_->async_wait(boost::asio::posix::stream_descriptor::wait_read,  // the epoll: fd 1 writable
                      [this](const boost::system::error_code& ec) {
                        writing_ = false;
                        if (ec || pending_output_.empty()) return;  // flushed meanwhile
                        auto& front = pending_output_.front();
                        size_t chunk = std::min(front.size(), kWriteChunk);
                        ssize_t n = ::write(STDOUT_FILENO, front.data(), chunk);
                        if (n < 0 && errno != EINTR && errno != EAGAIN) {
                          pending_output_.clear();  // stdout is gone
                          pending_bytes_ = 0;
                        } else if (n > 0) {
                          front.erase(0, static_cast<size_t>(n));
                          pending_bytes_ -= static_cast<size_t>(n);
                          if (front.empty()) pending_output_.pop_front();
                        }
                        if (reading_paused_ && pending_bytes_ < kMaxPendingOutput / 2) {
                          reading_paused_ = false;
                          read_terminal();
                        }
                        write_output();
                      });
}

void MainProcess::relay(Relay& r) {
  if (!r.from) return;
  r.from->async_wait(boost::asio::posix::stream_descriptor::wait_read,
                     [this, &r](const boost::system::error_code& ec) {
                       if (ec || !r.from) return;
                       char buffer[65536];
                       ssize_t n = ::read(r.from->native_handle(), buffer, sizeof buffer);
                       if (n == 0) return;  // every write end is closed
                       if (n < 0 && errno != EAGAIN && errno != EINTR) return;
                       // The supervisor's own stdout/stderr stay blocking:
                       // the agent waits on its full pipe meanwhile, which
                       // is the back-pressure a shared descriptor gave.
                       if (n > 0) write_all_blocking(r.to, buffer, static_cast<size_t>(n));
                       relay(r);
                     });
}

void MainProcess::drain(Relay& r) {
  if (!r.from) return;
  char buffer[65536];
  ssize_t n;
  while ((n = ::read(r.from->native_handle(), buffer, sizeof buffer)) > 0 ||
         (n < 0 && errno == EINTR)) {
    if (n > 0) write_all_blocking(r.to, buffer, static_cast<size_t>(n));
  }
}

void MainProcess::flush_output() {
  for (Relay& r : relays_) drain(r);
  if (master_) {
    char buffer[16384];
    ssize_t n;
    while ((n = ::read(master_->native_handle(), buffer, sizeof buffer)) > 0) {
      record(buffer, static_cast<size_t>(n));
      pending_output_.emplace_back(buffer, static_cast<size_t>(n));
    }
  }
  for (const auto& chunk : pending_output_)
    write_all_blocking(STDOUT_FILENO, chunk.data(), chunk.size());
  pending_output_.clear();
  pending_bytes_ = 0;
}

}  // namespace openshell
