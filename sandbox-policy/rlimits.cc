#include "rlimits.h"

#include <charconv>

namespace openshell::policy {
namespace {

struct Known {
  const char* name;
  int resource;
};

// setrlimit(2). RLIMIT_CORE is not here: it is always 0.
constexpr Known kKnown[] = {
    {"cpu", RLIMIT_CPU},         {"fsize", RLIMIT_FSIZE}, {"data", RLIMIT_DATA},
    {"stack", RLIMIT_STACK},     {"nproc", RLIMIT_NPROC}, {"nofile", RLIMIT_NOFILE},
    {"memlock", RLIMIT_MEMLOCK}, {"as", RLIMIT_AS},
};

}  // namespace

PolicyResult<Rlimit> parse_limit(const std::string& name, const std::string& value) {
  std::string key = "limits." + name;
  const Known* known = nullptr;
  for (const Known& k : kKnown) {
    if (name == k.name) known = &k;
  }
  if (known == nullptr) return policy_error(key, "unknown resource limit");
  Rlimit out{known->resource, name, 0};
  if (value == "unlimited") {
    out.value = RLIM_INFINITY;
    return out;
  }
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
  if (value.empty() || ec != std::errc() || end != value.data() + value.size() ||
      v >= RLIM_INFINITY) {
    return policy_error(key, "expected a decimal number or 'unlimited', found '" + value + "'");
  }
  if (known->resource == RLIMIT_NOFILE && v == 0) {
    // Nothing could run, not even the dynamic loader.
    return policy_error(key, "nofile must be at least 1");
  }
  out.value = v;
  return out;
}

std::vector<RlimitPlan> build_rlimit_plan(const Policy& policy) {
  // No core dumps: a sandboxed process's memory may hold tokens, and a dump
  // lands in files or a pipe handler outside the sandbox (core(5)).
  std::vector<RlimitPlan> plan{{RLIMIT_CORE, "core", 0, 0}};
  for (const Known& k : kKnown) {
    for (const Rlimit& l : policy.limits) {
      if (l.resource == k.resource) plan.push_back({l.resource, l.name, l.value, l.value});
    }
  }
  return plan;
}

}  // namespace openshell::policy
