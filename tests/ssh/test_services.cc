#include "test_services.h"

#include <fcntl.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <cstdio>

namespace openshell::ssh::testing {

namespace asio = boost::asio;

namespace {
constexpr std::size_t kReplay = 1 << 20;
}

struct FakeMain::Client {
  AttachCallbacks callbacks;
};

class FakeAttachment final : public Attachment {
 public:
  FakeAttachment(FakeMain& main, std::unique_ptr<FakeMain::Client> client)
      : main_(main), client_(std::move(client)) {}
  ~FakeAttachment() override {
    main_.clients_.erase(client_.get());
    if (main_.writer_ == client_.get()) main_.writer_ = nullptr;
  }
  bool has_input() const override { return main_.writer_ == client_.get(); }
  void write(std::span<const char> data) override {
    if (has_input()) main_.input(std::string_view(data.data(), data.size()));
  }
  void resize(std::uint32_t columns, std::uint32_t rows) override {
    if (has_input()) {
      main_.emit("size:" + std::to_string(columns) + "x" + std::to_string(rows) + "\r\n");
    }
  }

 private:
  FakeMain& main_;
  std::unique_ptr<FakeMain::Client> client_;
};

FakeMain::FakeMain(asio::io_context& io) : io_(io) {
  char line[32];
  for (int i = 0; i < 150000; ++i) {
    std::snprintf(line, sizeof line, "line %07d\n", i);
    emit(line);
  }
}

FakeMain::~FakeMain() = default;

Result<std::unique_ptr<Attachment>> FakeMain::attach(bool want_input, AttachCallbacks callbacks) {
  auto client = std::make_unique<Client>();
  client->callbacks = std::move(callbacks);
  Client* raw = client.get();
  clients_.insert(raw);
  if (want_input && writer_ == nullptr) writer_ = raw;
  auto attachment = std::make_unique<FakeAttachment>(*this, std::move(client));
  // The replay is delivered from the loop, never inside attach().
  std::string replay =
      recent_.size() > kReplay ? recent_.substr(recent_.size() - kReplay) : recent_;
  bool ended = ended_;
  asio::post(io_, [this, raw, replay = std::move(replay), ended] {
    if (clients_.count(raw) == 0) return;
    raw->callbacks.output(replay);
    if (ended) raw->callbacks.ended(0);
  });
  return attachment;
}

void FakeMain::emit(std::string_view data) {
  recent_.append(data);
  // Trimmed in batches so the cost per byte stays constant.
  if (recent_.size() > 2 * kReplay) recent_.erase(0, recent_.size() - kReplay);
  for (Client* c : clients_) c->callbacks.output(data);
}

void FakeMain::input(std::string_view data) {
  for (char c : data) {
    if (c == '\r' || c == '\n') {
      emit("echo:" + line_ + "\r\n");
      if (line_ == "quit") {
        ended_ = true;
        for (Client* client : clients_) client->callbacks.ended(0);
      }
      line_.clear();
    } else {
      line_.push_back(c);
    }
  }
}

void PlainConnector::connect(const asio::ip::tcp::endpoint& endpoint,
                             std::function<void(Result<UniqueFd>)> done) {
  auto socket = std::make_shared<asio::ip::tcp::socket>(io_);
  socket->async_connect(endpoint,
                        [socket, done = std::move(done)](const boost::system::error_code& ec) {
                          if (ec) {
                            done(fail("connect", ec.value()));
                            return;
                          }
                          int fd = socket->release();
                          ::fcntl(fd, F_SETFD, FD_CLOEXEC);
                          done(UniqueFd(fd));
                        });
}

}  // namespace openshell::ssh::testing
