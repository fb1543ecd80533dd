#include "egress.h"

#include <fcntl.h>

#include <boost/asio/ip/tcp.hpp>
#include <cerrno>
#include <cstring>
#include <map>
#include <set>

#include "binary_links.h"
#include "connection.h"
#include "dns_server.h"
#include "listeners.h"
#include "log.h"
#include "policy_watch.h"
#include "relay.h"
#include "sandbox-policy/load.h"

namespace openshell::egress {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

// Ports the runtime's own listeners hold: a rule naming them is served
// through the proxy only.
bool reserved_port(uint16_t port) {
  return port == kProxyPort || port == kDnsPort;
}

// The part of a policy a reload may not change (fixed for the sandbox's
// life: the view, the identity, Landlock, seccomp are already applied).
policy::Policy fixed_part(policy::Policy policy) {
  policy.network_policies.clear();
  return policy;
}

}  // namespace

struct Egress::Impl final : ConnectionHost {
  Impl(asio::io_context& context, EgressSettings s)
      : io_context(context),
        settings(std::move(s)),
        // Opened now, before self-restriction: reloads resolve new policy
        // binary paths in the sandbox's view through it.
        sandbox_root(::open(("/proc/" + std::to_string(settings.init_pid) + "/root").c_str(),
                            O_PATH | O_DIRECTORY | O_CLOEXEC)) {
    if (!sandbox_root) {
      log::error("cannot open the sandbox's root directory; policy binary paths that are "
                 "symlinks match only as written",
                 {{"cause", std::strerror(errno)}});
    }
  }

  // ---- ConnectionHost -----------------------------------------------------
  asio::io_context& io() override { return io_context; }
  const Generation& generation() const override { return current; }
  pid_t init_pid() const override { return settings.init_pid; }
  int diag_socket() const override { return diag.get(); }
  int sandbox_proc() const override { return proc.get(); }
  Resolver& resolver() override { return *dns_resolver; }
  Audit& audit() override { return audit_log; }
  const SyntheticAddresses& synthetic() const override { return table; }
  uint64_t add_tunnel(Tunnel tunnel) override {
    uint64_t id = next_tunnel++;
    tunnels.emplace(id, std::move(tunnel));
    return id;
  }
  void remove_tunnel(uint64_t id) override { tunnels.erase(id); }

  // ---- generations --------------------------------------------------------

  void install(const policy::Policy& policy, std::string deny_reason) {
    Generation next;
    next.number = current.number + 1;
    if (deny_reason.empty()) {
      next.rules = std::make_shared<const policy::net::NetworkRules>(
          policy, settings.relaxed_binaries, binary_symlink_targets(sandbox_root.get(), policy));
    } else {
      next.deny_reason = std::move(deny_reason);
    }
    current = std::move(next);
    network = policy.network_policies;
  }

  // Tunnels the current generation would not allow are closed now.
  void close_stale_tunnels() {
    std::vector<std::shared_ptr<Relay>> stale;
    for (auto& [id, tunnel] : tunnels) {
      std::string why = recheck(current, tunnel);
      if (why.empty()) continue;
      AuditRecord record;
      record.rule = "-";
      record.engine = "policy";
      record.via = tunnel.via;
      record.host = tunnel.host;
      record.port = tunnel.port;
      record.address = tunnel.address.to_string();
      record.pid = tunnel.caller.pid;
      record.exe_chain = tunnel.caller.exe_chain;
      record.reason = "tunnel closed by policy generation " + std::to_string(current.number) +
                      ": " + why;
      record.generation = current.number;
      audit_log.record(record);
      stale.push_back(tunnel.relay);
    }
    for (auto& relay : stale) relay->close();  // each removes itself
  }

  // ---- listeners -------------------------------------------------------------

  void serve(std::vector<Listener> listeners) {
    for (auto& listener : listeners) {
      const auto& spec = listener.spec;
      if (spec.kind == ListenSpec::Kind::kUdp) {
        dns->serve_udp(std::move(listener.fd));
      } else if (spec.port == kDnsPort && spec.address != "0.0.0.0") {
        dns->serve_tcp(std::move(listener.fd));
      } else {
        bool v6 = spec.address.find(':') != std::string::npos;
        auto acceptor = std::make_shared<tcp::acceptor>(io_context, v6 ? tcp::v6() : tcp::v4(),
                                                        listener.fd.release());
        bool capture = spec.address == "0.0.0.0";
        if (capture) captured_ports.insert(spec.port);
        acceptors.push_back(acceptor);
        accept(acceptor, capture ? spec.port : 0);
      }
      log::info("egress listening in the sandbox network", {{"socket", describe(spec)}});
    }
  }

  void accept(std::shared_ptr<tcp::acceptor> acceptor, uint16_t capture_port) {
    acceptor->async_accept([this, acceptor, capture_port](const boost::system::error_code& ec,
                                                          tcp::socket socket) {
      if (ec == asio::error::operation_aborted || !acceptor->is_open()) return;
      if (!ec) {
        if (capture_port != 0) {
          serve_capture_connection(*this, std::move(socket), capture_port);
        } else {
          serve_proxy_connection(*this, std::move(socket));
        }
      } else {
        log::warn("egress accept failed", {{"cause", ec.message()}});
      }
      accept(acceptor, capture_port);
    });
  }

  std::vector<ListenSpec> capture_specs(const policy::net::NetworkRules* rules) {
    std::vector<ListenSpec> out;
    if (rules == nullptr) return out;
    for (uint16_t port : rules->ports()) {
      if (captured_ports.contains(port)) continue;
      if (reserved_port(port)) {
        log::warn("a rule names a port the egress runtime itself listens on; "
                  "reachable through the proxy only",
                  {{"port", static_cast<unsigned>(port)}});
        continue;
      }
      out.push_back(capture_spec(port));
    }
    return out;
  }

  // After a reload: listeners for ports named for the first time. This
  // needs the start-up privileges again (egress.h); without them the port
  // is served by the proxy only, and said so.
  void add_capture_listeners() {
    auto specs = capture_specs(current.rules.get());
    if (specs.empty()) return;
    std::vector<std::string> skipped;
    auto made = create_listeners(settings.sandbox_netns.get(), specs, skipped);
    if (!made) {
      log::warn("capture listeners for newly named ports could not be created; "
                "those ports are reachable through the proxy only",
                {{"cause", made.error().message()}});
      return;
    }
    serve(std::move(*made));
  }

  // ---- reload -----------------------------------------------------------------

  void reload() {
    auto loaded = policy::load_policy_file(settings.policy_file);
    if (!loaded) {
      std::string why = "policy file invalid: " + loaded.error().to_string();
      if (current.rules || current.deny_reason != why) {
        log::error("policy reload failed: denying ALL egress until a valid policy file appears",
                   {{"file", settings.policy_file}, {"error", loaded.error().to_string()}});
        install(policy::Policy{}, why);
        log::info("network policy generation", {{"generation", current.number},
                                                {"state", "deny all"}});
        close_stale_tunnels();
      }
      return;
    }
    if (fixed_part(*loaded) != fixed_part(settings.policy)) {
      log::warn("policy reload: changes outside network_policies are fixed for the sandbox's "
                "life and were NOT applied (filesystem, process, Landlock, seccomp, "
                "network.mode ...)",
                {{"file", settings.policy_file}});
    }
    if (current.rules && loaded->network_policies == network) {
      log::debug("policy reload: network_policies unchanged", {{"file", settings.policy_file}});
      return;
    }
    install(*loaded, "");
    log::info("network policy generation",
              {{"generation", current.number},
               {"rules", static_cast<unsigned long>(network.size())},
               {"file", settings.policy_file}});
    close_stale_tunnels();
    add_capture_listeners();
  }

  void stop() {
    if (watch) watch->stop();
    for (auto& acceptor : acceptors) {
      boost::system::error_code ignored;
      acceptor->close(ignored);
    }
    acceptors.clear();
    if (dns) dns->stop();
    auto open = std::move(tunnels);
    tunnels.clear();
    for (auto& [id, tunnel] : open) tunnel.relay->close();
  }

  asio::io_context& io_context;
  EgressSettings settings;
  UniqueFd sandbox_root;
  Generation current;
  std::vector<policy::NetworkPolicyRule> network;  // of the current generation
  std::unique_ptr<Resolver> dns_resolver;
  Audit audit_log;
  SyntheticAddresses table;
  std::unique_ptr<DnsServer> dns;
  std::vector<std::shared_ptr<tcp::acceptor>> acceptors;
  std::set<uint16_t> captured_ports;
  std::map<uint64_t, Tunnel> tunnels;
  uint64_t next_tunnel = 1;
  std::unique_ptr<PolicyWatch> watch;
  UniqueFd diag;
  UniqueFd proc;
};

Egress::Egress(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Egress::~Egress() {
  if (impl_) impl_->stop();
}

Result<std::unique_ptr<Egress>> Egress::start(asio::io_context& io, EgressSettings settings) {
  auto impl = std::make_unique<Impl>(io, std::move(settings));
  Impl& self = *impl;
  auto resolver = Resolver::create(io);
  if (!resolver) return std::unexpected(resolver.error());
  self.dns_resolver = std::move(*resolver);
  self.install(self.settings.policy, "");
  if (self.network.empty()) {
    log::info("network mode proxy without network_policies: all egress is denied");
  }

  Impl* raw = impl.get();
  self.dns = std::make_unique<DnsServer>(io, self.table, [raw](std::string_view host) {
    const auto& rules = raw->current.rules;
    return rules && rules->could_match_host(host);
  });

  if (auto diag = create_diag_socket(self.settings.sandbox_netns.get())) {
    self.diag = std::move(*diag);
  } else {
    log::warn("sock_diag unavailable in the sandbox network: callers are found in "
              "/proc/<pid>/net/tcp (slower)",
              {{"cause", diag.error().message()}});
  }
  // Now, before any sandbox process runs (run.cc): the sandbox's /proc
  // cannot have been replaced yet.
  Result<UniqueFd> proc = fail("the sandbox's root directory is not open");
  if (self.sandbox_root) proc = open_sandbox_proc(self.sandbox_root.get(), self.settings.init_pid);
  if (proc) {
    self.proc = std::move(*proc);
  } else {
    log::warn("the sandbox's procfs is unavailable: callers are found by walking the "
              "sandbox init's descendants in /proc (slower)",
              {{"cause", proc.error().message()}});
  }
  auto specs = proxy_and_dns_specs();
  for (auto& spec : self.capture_specs(self.current.rules.get())) specs.push_back(spec);
  std::vector<std::string> skipped;
  auto listeners = create_listeners(self.settings.sandbox_netns.get(), specs, skipped);
  if (!listeners) return std::unexpected(listeners.error());
  // Said loudly, never fatal: clients inside use 127.0.0.1 (the proxy
  // variables and resolv.conf name it), so IPv4 alone keeps egress whole.
  for (const auto& s : skipped) {
    log::warn("egress listener unavailable: no IPv6 in the sandbox network; serving IPv4 only",
              {{"socket", s}});
  }
  bool proxy = false;
  for (const auto& l : *listeners) proxy |= l.spec.port == kProxyPort;
  if (!proxy) return fail("the egress proxy has no listener in the sandbox network");
  self.serve(std::move(*listeners));

  if (!self.settings.policy_file.empty()) {
    self.watch = std::make_unique<PolicyWatch>(io, self.settings.policy_file,
                                               [raw] { raw->reload(); });
    if (auto watching = self.watch->start(); !watching) {
      return fail("watch " + self.settings.policy_file + ": " + watching.error().message());
    }
  }
  log::info("egress proxy ready",
            {{"proxy", "http://127.0.0.1:3128"},
             {"dns", "127.0.0.1:53"},
             {"rules", static_cast<unsigned long>(self.network.size())},
             {"binary_identity", self.settings.relaxed_binaries ? "relaxed" : "strict"},
             {"policy_file", self.settings.policy_file.empty() ? "-" : self.settings.policy_file}});
  return std::unique_ptr<Egress>(new Egress(std::move(impl)));
}

void Egress::stop() {
  impl_->stop();
}

void Egress::reload() {
  impl_->reload();
}

Result<bool> parse_binary_identity(const char* value) {
  std::string text = value == nullptr ? "" : value;
  if (text.empty() || text == "strict") return false;
  if (text == "relaxed") return true;
  return fail("OPENSHELL_NETWORK_BINARY_IDENTITY: \"" + text +
              "\" is neither \"strict\" nor \"relaxed\"");
}

}  // namespace openshell::egress
