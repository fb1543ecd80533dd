#include "answer_cache.h"

#include <arpa/inet.h>
#include <strings.h>
#include <sys/stat.h>

#include <algorithm>

namespace openshell::egress {
namespace {

std::string lower(std::string_view name) {
  std::string out(name);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool same_name(std::string_view a, std::string_view b) {
  return a.size() == b.size() && ::strncasecmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

std::vector<policy::net::IpAddress> hosts_file_addresses(std::string_view text,
                                                         std::string_view name) {
  std::vector<policy::net::IpAddress> out;
  while (!text.empty()) {
    size_t newline = text.find('\n');
    std::string_view line = text.substr(0, newline);
    text.remove_prefix(newline == std::string_view::npos ? text.size() : newline + 1);
    line = line.substr(0, line.find('#'));
    std::vector<std::string_view> fields;
    size_t i = 0;
    while (i < line.size()) {
      while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) ++i;
      size_t j = i;
      while (j < line.size() && line[j] != ' ' && line[j] != '\t' && line[j] != '\r') ++j;
      if (j > i) fields.push_back(line.substr(i, j - i));
      i = j;
    }
    if (fields.size() < 2) continue;
    bool named = false;
    for (size_t f = 1; f < fields.size() && !named; ++f) named = same_name(fields[f], name);
    if (!named) continue;
    std::string literal(fields[0]);
    policy::net::IpAddress address;
    if (::inet_pton(AF_INET, literal.c_str(), address.bytes.data()) == 1) {
      out.push_back(address);
    } else if (::inet_pton(AF_INET6, literal.c_str(), address.bytes.data()) == 1) {
      address.v6 = true;
      out.push_back(address);
    }
  }
  return out;
}

std::string hosts_file_path() {
  // ares_getaddrinfo.c (1.18) file_lookup: PATH_HOSTS unless
  // ARES_AI_ENVHOSTS.
  return "/etc/hosts";
}

bool hosts_file_settled(const HostsStamp& stamp, long now_realtime) {
  return std::max(stamp.mtime_sec, stamp.ctime_sec) + kHostsSettledSeconds <= now_realtime;
}

HostsStamp stamp_hosts_file(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return {};
  HostsStamp stamp;
  stamp.exists = true;
  stamp.device = st.st_dev;
  stamp.inode = st.st_ino;
  stamp.size = st.st_size;
  stamp.mtime_sec = st.st_mtim.tv_sec;
  stamp.mtime_nsec = st.st_mtim.tv_nsec;
  stamp.ctime_sec = st.st_ctim.tv_sec;
  stamp.ctime_nsec = st.st_ctim.tv_nsec;
  return stamp;
}

void AnswerCache::observe_hosts(const HostsStamp& stamp) {
  if (stamp == hosts_) return;
  entries_.clear();
  hosts_ = stamp;
}

std::optional<AnswerCache::Addresses> AnswerCache::find(std::string_view name,
                                                        Clock::time_point now) {
  auto it = entries_.find(lower(name));
  if (it == entries_.end()) return std::nullopt;
  if (now >= it->second.expires) {
    entries_.erase(it);
    return std::nullopt;
  }
  return it->second.addresses;
}

void AnswerCache::store(std::string_view name, Addresses addresses, std::chrono::seconds ttl,
                        Clock::time_point now, const HostsStamp& asked_under) {
  if (ttl.count() <= 0 || addresses.empty()) return;
  if (!(asked_under == hosts_)) return;  // the file changed while asking
  std::string key = lower(name);
  if (!entries_.contains(key)) make_room(now);
  entries_[std::move(key)] = Entry{std::move(addresses), now + std::min(ttl, kMaxTtl)};
}

void AnswerCache::make_room(Clock::time_point now) {
  if (entries_.size() < kMaxEntries) return;
  std::erase_if(entries_, [now](const auto& item) { return now >= item.second.expires; });
  if (entries_.size() < kMaxEntries) return;
  auto soonest = std::min_element(
      entries_.begin(), entries_.end(),
      [](const auto& a, const auto& b) { return a.second.expires < b.second.expires; });
  entries_.erase(soonest);
}

}  // namespace openshell::egress
