// The resolver's answer cache (DESIGN.md §6 "Egress", where to): a name the
// proxy resolved keeps its addresses for the answer's TTL (the smallest of
// its records', at most kMaxTtl), and an answer c-ares took from the hosts
// file keeps them until that file changes (at most kMaxTtl as well). Every
// lookup first stats the hosts file; a different file (device, inode, size,
// mtime or ctime) forgets every answer, so an edit, a rename over it or a
// bind mount is seen at the next lookup. Failures are never cached.
//
// Bounded: at most kMaxEntries names; a full cache drops expired answers,
// then the one closest to expiring. Not thread-safe: the supervisor's
// single Asio loop.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "sandbox-policy/network_decision.h"

namespace openshell::egress {

// What identifies one version of the hosts file; `exists` false when it
// cannot be stat'ed (then every version compares equal to every other
// missing one, which is what c-ares sees too: no file).
struct HostsStamp {
  bool exists = false;
  dev_t device = 0;
  ino_t inode = 0;
  off_t size = 0;
  long mtime_sec = 0, mtime_nsec = 0;
  long ctime_sec = 0, ctime_nsec = 0;

  bool operator==(const HostsStamp&) const = default;
};

// Whether a file with this stamp changed at least kHostsSettledSeconds before
// `now_realtime` (seconds since the epoch). A file changed again within the
// filesystem's timestamp granularity can keep its size and times: answers
// taken from a file that recent are not kept (git's "racy clean" problem).
constexpr long kHostsSettledSeconds = 2;
bool hosts_file_settled(const HostsStamp& stamp, long now_realtime);

// The hosts file c-ares 1.18 reads: /etc/hosts ($CARES_HOSTS only with
// ARES_AI_ENVHOSTS, which the resolver does not set).
std::string hosts_file_path();
HostsStamp stamp_hosts_file(const std::string& path);

// The addresses a hosts(5) text gives `name` (case-insensitive, canonical
// name or alias), in file order; lines whose address does not parse are
// skipped, as c-ares skips them. Pure.
std::vector<policy::net::IpAddress> hosts_file_addresses(std::string_view text,
                                                         std::string_view name);

class AnswerCache {
 public:
  using Clock = std::chrono::steady_clock;
  using Addresses = std::vector<policy::net::IpAddress>;

  static constexpr size_t kMaxEntries = 1024;
  static constexpr std::chrono::seconds kMaxTtl{300};

  // Forgets every answer when `stamp` is not the hosts file they were
  // taken under. Call before each find and store.
  void observe_hosts(const HostsStamp& stamp);

  // The addresses of `name` (case-insensitive) if an answer is still valid
  // at `now`.
  std::optional<Addresses> find(std::string_view name, Clock::time_point now);

  // Keeps `addresses` for `name` until now + ttl (capped at kMaxTtl); a
  // ttl of zero or less is not kept. `asked_under`: the hosts file's stamp
  // when the lookup started; an answer from before a change is not kept.
  void store(std::string_view name, Addresses addresses, std::chrono::seconds ttl,
             Clock::time_point now, const HostsStamp& asked_under);

  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    Addresses addresses;
    Clock::time_point expires;
  };
  void make_room(Clock::time_point now);

  HostsStamp hosts_;
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace openshell::egress
