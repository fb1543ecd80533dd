// The other two services for tests: a simulated main-process terminal (for
// openshell-main) and a plain loopback connector (for direct-tcpip).
#pragma once

#include <boost/asio/io_context.hpp>
#include <memory>
#include <set>
#include <string>

#include "interfaces.h"

namespace openshell::ssh::testing {

// A main process that prints numbered lines at start (more than the 1 MiB
// replay), echoes its input as "echo:<input>" and ends on input "quit".
// Like the supervisor's, it keeps at most 1 MiB of recent output, hands the
// writer seat to the first client that asks, and never waits for a client.
class FakeMain final : public MainAttach {
 public:
  explicit FakeMain(boost::asio::io_context& io);
  ~FakeMain() override;
  Result<std::unique_ptr<Attachment>> attach(bool want_input, AttachCallbacks callbacks) override;

  void emit(std::string_view data);
  struct Client;

 private:
  friend class FakeAttachment;
  void input(std::string_view data);

  boost::asio::io_context& io_;
  std::string recent_;
  std::set<Client*> clients_;
  Client* writer_ = nullptr;
  bool ended_ = false;
  std::string line_;
};

class PlainConnector final : public LoopbackConnector {
 public:
  explicit PlainConnector(boost::asio::io_context& io) : io_(io) {}
  void connect(const boost::asio::ip::tcp::endpoint& endpoint,
               std::function<void(Result<UniqueFd>)> done) override;

 private:
  boost::asio::io_context& io_;
};

}  // namespace openshell::ssh::testing
