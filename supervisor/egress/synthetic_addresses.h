// The synthetic address table: the sandbox's DNS answers a name some rule
// could match with an address from 127.1.0.0/16 (loopback, so no route is
// needed inside the sandbox's network namespace: all of 127/8 is local), and
// a capture listener maps the address a client connected to back to the
// name. A name keeps its address for the sandbox's life and an address is
// never given to another name, so a cached answer never points a client at
// a different host.
//
// Not thread-safe: used from the supervisor's single Asio loop.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace openshell::egress {

class SyntheticAddresses {
 public:
  using Ipv4 = std::array<uint8_t, 4>;  // network byte order

  // 127.1.0.1 .. 127.1.255.254.
  static constexpr uint32_t kFirst = 0x7f010001;
  static constexpr uint32_t kLast = 0x7f01fffe;

  SyntheticAddresses() = default;
  // A smaller range, for tests of exhaustion.
  SyntheticAddresses(uint32_t first, uint32_t last);

  // The address of `name` (lower-case, no trailing dot), assigned now if the
  // name is new. nullopt when the range is exhausted.
  std::optional<Ipv4> assign(std::string_view name);

  // The name an address was assigned to, nullopt for any other address.
  std::optional<std::string> name_of(const Ipv4& address) const;

  // Whether the address is in 127.1.0.0/16 at all (a capture listener
  // refuses anything else it sees, rather than guessing).
  static bool in_synthetic_range(const Ipv4& address);

  size_t size() const { return names_.size(); }

 private:
  uint32_t first_ = kFirst;
  uint32_t last_ = kLast;
  std::unordered_map<std::string, uint32_t> by_name_;
  std::vector<std::string> names_;  // index: address - first_
};

}  // namespace openshell::egress
