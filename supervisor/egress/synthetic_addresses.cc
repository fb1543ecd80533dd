#include "synthetic_addresses.h"

#include <algorithm>

namespace openshell::egress {
namespace {

uint32_t to_host(const SyntheticAddresses::Ipv4& a) {
  return static_cast<uint32_t>(a[0]) << 24 | static_cast<uint32_t>(a[1]) << 16 |
         static_cast<uint32_t>(a[2]) << 8 | a[3];
}

SyntheticAddresses::Ipv4 to_bytes(uint32_t v) {
  return {static_cast<uint8_t>(v >> 24), static_cast<uint8_t>(v >> 16),
          static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v)};
}

}  // namespace

SyntheticAddresses::SyntheticAddresses(uint32_t first, uint32_t last)
    : first_(std::max(first, kFirst)), last_(std::min(last, kLast)) {}

std::optional<SyntheticAddresses::Ipv4> SyntheticAddresses::assign(std::string_view name) {
  if (auto it = by_name_.find(std::string(name)); it != by_name_.end()) return to_bytes(it->second);
  // Sequential and never reused: an address given out once always means
  // the same name, however long a client caches it.
  if (first_ > last_ || names_.size() > last_ - first_) return std::nullopt;
  const uint32_t address = first_ + static_cast<uint32_t>(names_.size());
  names_.emplace_back(name);
  by_name_.emplace(names_.back(), address);
  return to_bytes(address);
}

std::optional<std::string> SyntheticAddresses::name_of(const Ipv4& address) const {
  const uint32_t v = to_host(address);
  if (v < first_ || v > last_) return std::nullopt;
  const size_t index = v - first_;
  if (index >= names_.size()) return std::nullopt;
  return names_[index];
}

bool SyntheticAddresses::in_synthetic_range(const Ipv4& address) {
  return address[0] == 127 && address[1] == 1;
}

}  // namespace openshell::egress
