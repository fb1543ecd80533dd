// Cost of one egress decision (NetworkRules::decide + check_address) on a
// policy of many rules, against an anchor measured in the same run: one
// lookup of the host in a hash map, the cheapest decision imaginable.
// Prints ratios; never pass/fail.
#include <time.h>

#include <cstdio>
#include <string>
#include <unordered_map>
#include <vector>

#include "sandbox-policy/load.h"
#include "sandbox-policy/network_decision.h"

namespace {

// CPU time of this thread: the machine may be shared, wall time is not ours.
double cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}
namespace net = openshell::policy::net;

template <typename F>
double ns_per_call(size_t n, F&& f) {
  double start = cpu_ns();
  size_t sink = 0;
  for (size_t i = 0; i < n; ++i) sink += f(i);
  double ns = cpu_ns() - start;
  if (sink == 42) std::puts("");  // keeps the calls from being optimised away
  return ns / static_cast<double>(n);
}

}  // namespace

int main(int argc, char** argv) {
  size_t rules = argc > 1 ? std::stoul(argv[1]) : 100;
  size_t iterations = argc > 2 ? std::stoul(argv[2]) : 200000;
  // `rules` rules of three endpoints (exact, wildcard, double wildcard)
  // and two binaries (exact, glob); the request matches the last rule
  // through an ancestor, so every rule is looked at.
  std::string yaml = "version: 1\nnetwork_policies:\n";
  for (size_t i = 0; i < rules; ++i) {
    std::string n = std::to_string(i);
    yaml += "  r" + n + ":\n    endpoints:\n" + "      - { host: api" + n +
            ".example.com, port: 443 }\n" + "      - { host: \"*.cdn" + n +
            ".example.com\", ports: [443, 8443] }\n" + "      - { host: \"**.svc" + n +
            ".example.org\", port: 443 }\n" + "    binaries:\n" + "      - { path: /usr/bin/tool" +
            n + " }\n" + "      - { path: \"/opt/app" + n + "/**/bin/*\" }\n";
  }
  auto policy = openshell::policy::load_policy_text(yaml, "bench.yaml");
  if (!policy) {
    std::fprintf(stderr, "%s\n", policy.error().to_string().c_str());
    return 1;
  }
  net::NetworkRules decision(*policy, false);
  std::string last = std::to_string(rules - 1);
  std::string host = "a.b.svc" + last + ".example.org";
  net::Caller caller{{"/usr/bin/bash", "/usr/bin/sh", "/opt/app" + last + "/x/y/bin/run"}};
  if (!decision.decide(host, 443, caller).allow) {
    std::fprintf(stderr, "bench request is not allowed\n");
    return 1;
  }
  auto address = *net::parse_ip_literal("93.184.216.34");

  std::unordered_map<std::string, int> anchor_map;
  for (size_t i = 0; i < rules; ++i)
    anchor_map.emplace("api" + std::to_string(i) + ".example.com", 1);
  std::string anchor_host = "api" + last + ".example.com";

  double anchor = ns_per_call(iterations, [&](size_t) { return anchor_map.count(anchor_host); });
  double allowed = ns_per_call(iterations, [&](size_t) {
    auto d = decision.decide(host, 443, caller);
    return static_cast<size_t>(d.allow) +
           static_cast<size_t>(net::check_address(d.grant, address, 443));
  });
  double denied = ns_per_call(iterations, [&](size_t) {
    return static_cast<size_t>(decision.decide("evil.example.net", 443, caller).allow);
  });
  std::printf("rules %zu, iterations %zu\n", rules, iterations);
  std::printf("anchor (hash map lookup of the host): %.0f ns\n", anchor);
  std::printf("allowed decide + check_address:       %.0f ns  (%.0fx anchor)\n", allowed,
              allowed / anchor);
  std::printf("denied decide (no endpoint matches):  %.0f ns  (%.0fx anchor)\n", denied,
              denied / anchor);
  return 0;
}
