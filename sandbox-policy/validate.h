// Proto -> model conversion and every validation rule, single-field and
// cross-field, in one place. Errors carry the dotted key; the loader adds
// the file position.
#pragma once

#include <cstddef>

#include "model.h"
#include "policy.pb.h"
#include "policy_error.h"

namespace openshell::policy {

inline constexpr size_t kMaxPathBytes = 4096;    // PATH_MAX, including the terminating NUL
inline constexpr size_t kMaxPaths = 256;         // read_only + read_write together
inline constexpr uint32_t kMaxId = 0xfffffffeu;  // (uid_t)-1 means "no change" to setresuid(2)

PolicyResult<Policy> to_model(const proto::SandboxPolicy& message);

// `network_policies`: hosts, ports, binaries, allowed_ips and the L7 keys,
// checked as OpenShell does (network_policies.cc). Appends to
// out.network_policies, sorted by key.
PolicyResult<void> convert_network_policies(const proto::SandboxPolicy& message, Policy& out);

// Checks one filesystem path; returns it normalised (duplicate and trailing
// slashes removed, "." components dropped). Rejects relative paths, ".."
// components, NUL bytes and paths of kMaxPathBytes or more.
PolicyResult<std::string> normalize_path(const std::string& key, const std::string& path);

// Checks a user or group given as a decimal id: [1, kMaxId].
PolicyResult<uint32_t> parse_id(const std::string& key, const std::string& text);

// True when `text` is all decimal digits (a numeric user or group).
bool is_numeric_id(const std::string& text);

}  // namespace openshell::policy
