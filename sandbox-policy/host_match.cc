// Host and binary globs of `network_policies` (OpenShell's L4 semantics):
// hosts split on '.', where '*' is one label (or part of one) and '**' one
// or more labels; binary paths split on '/', where '*' stays inside a
// component and '**' crosses them.
#include <algorithm>
#include <cctype>
#include <vector>

#include "network_decision.h"

namespace openshell::policy::net {
namespace {

constexpr size_t kMaxHostBytes = 253;
constexpr size_t kMaxLabelBytes = 63;

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Built with append: GCC 12 warns falsely (-Wrestrict) on "'" + string.
std::string quote(std::string_view s) {
  std::string out(1, '\'');
  out.append(s);
  out += '\'';
  return out;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    size_t at = s.find(sep, start);
    parts.push_back(s.substr(start, at == std::string_view::npos ? at : at - start));
    if (at == std::string_view::npos) return parts;
    start = at + 1;
  }
}

// '*' matches any run of characters, `separator` excepted; "**" any run at
// all. Iterative backtracking: linear in practice, never recursive.
bool glob(std::string_view pattern, std::string_view text, char separator) {
  // dp[j]: pattern[0..i) matches text[0..j)
  std::vector<char> dp(text.size() + 1, 0), next(text.size() + 1, 0);
  dp[0] = 1;
  for (size_t i = 0; i < pattern.size(); ++i) {
    std::fill(next.begin(), next.end(), 0);
    if (pattern[i] == '*') {
      bool super = i + 1 < pattern.size() && pattern[i + 1] == '*';
      // Extend: a match ending at j can swallow text[j] if allowed.
      for (size_t j = 0; j <= text.size(); ++j) {
        if (dp[j]) next[j] = 1;
        if (j > 0 && next[j - 1] && (super || text[j - 1] != separator)) next[j] = 1;
      }
      if (super) ++i;
    } else {
      for (size_t j = 0; j < text.size(); ++j) {
        if (dp[j] && text[j] == pattern[i]) next[j + 1] = 1;
      }
    }
    dp.swap(next);
  }
  return dp[text.size()] != 0;
}

char lower_char(char c) {
  return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return lower_char(x) == lower_char(y);
         });
}

// The literal text before the first '*' and after the last must begin and
// end `text`: a cheap test that turns most non-matching globs away before
// the full match runs.
bool literal_ends_match(std::string_view pattern, std::string_view text, bool fold_case) {
  std::string_view head = pattern.substr(0, pattern.find('*'));
  std::string_view tail = pattern.substr(pattern.rfind('*') + 1);
  if (head.size() + tail.size() > text.size()) return false;
  auto eq = [&](std::string_view a, std::string_view b) {
    return fold_case ? iequals(a, b) : a == b;
  };
  return eq(head, text.substr(0, head.size())) && eq(tail, text.substr(text.size() - tail.size()));
}

bool label_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
}

// Pattern labels against host labels; "**" takes one or more.
bool match_labels(const std::vector<std::string_view>& pat, size_t pi,
                  const std::vector<std::string_view>& host, size_t hi) {
  if (pi == pat.size()) return hi == host.size();
  if (hi == host.size()) return false;
  if (pat[pi] == "**") {
    for (size_t take = 1; hi + take <= host.size(); ++take) {
      if (match_labels(pat, pi + 1, host, hi + take)) return true;
    }
    return false;
  }
  return glob(pat[pi], host[hi], '.') && match_labels(pat, pi + 1, host, hi + 1);
}

}  // namespace

bool host_matches(std::string_view pattern, std::string_view host) {
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  if (pattern.find('*') == std::string_view::npos) return iequals(pattern, host);
  if (!literal_ends_match(pattern, host, true)) return false;
  std::string p = lower(pattern), h = lower(host);
  // A name pattern never matches an address, however it is spelled.
  if (h.empty() || parse_ip_literal(h)) return false;
  auto host_labels = split(h, '.');
  if (std::any_of(host_labels.begin(), host_labels.end(),
                  [](std::string_view l) { return l.empty(); })) {
    return false;
  }
  return match_labels(split(p, '.'), 0, host_labels, 0);
}

bool binary_matches(std::string_view pattern, std::string_view path) {
  if (pattern.find('*') == std::string_view::npos) return pattern == path;
  return literal_ends_match(pattern, path, false) && glob(pattern, path, '/');
}

std::optional<std::string> host_pattern_error(std::string_view pattern) {
  if (pattern == "*" || pattern == "**") {
    return quote(pattern).append(" alone would match every host");
  }
  if (pattern.size() > kMaxHostBytes) {
    return "host is longer than " + std::to_string(kMaxHostBytes) + " bytes";
  }
  if (pattern.find('*') == std::string_view::npos && parse_ip_literal(pattern)) return std::nullopt;
  auto labels = split(pattern, '.');
  for (size_t i = 0; i < labels.size(); ++i) {
    std::string_view l = labels[i];
    if (l.empty()) return quote(pattern).append(" has an empty label");
    if (l.size() > kMaxLabelBytes) {
      return "a label is longer than " + std::to_string(kMaxLabelBytes) + " bytes";
    }
    for (char c : l) {
      if (!label_char(c) && c != '*') {
        return quote(pattern)
            .append(" contains ")
            .append(quote(std::string(1, c)))
            .append("; a host is letters, digits, '-', '_' and '*' between dots, or an IP address");
      }
    }
    bool wild = l.find('*') != std::string_view::npos;
    if (i == 0 && wild && l.find("**") != std::string_view::npos && l != "**") {
      return "'**' must be the whole first label (\"**.example.com\")";
    }
    if (i > 0 && wild && l != "*") {
      return std::string("a wildcard after the first label must be the whole label '*' (")
          .append(quote(pattern))
          .append(")");
    }
    if (i > 0 && wild && i + 1 == labels.size()) {
      return "the last label cannot be a wildcard: it would match every top-level domain";
    }
  }
  if (labels[0].find('*') != std::string_view::npos && labels.size() <= 2) {
    return quote(pattern).append(
        " would match names under a whole top-level domain; name at least two labels after the "
        "wildcard");
  }
  std::string_view last = labels.back();
  if (std::all_of(last.begin(), last.end(), [](char c) { return std::isdigit(c); })) {
    return quote(pattern).append(" is neither an IP address nor a DNS name");
  }
  return std::nullopt;
}

std::optional<std::string> canonical_host(std::string_view host) {
  if (auto ip = parse_ip_literal(host)) return ip->to_string();
  std::string h = lower(host);
  if (!h.empty() && h.back() == '.') h.pop_back();
  if (h.empty() || h.size() > kMaxHostBytes) return std::nullopt;
  auto labels = split(h, '.');
  for (std::string_view l : labels) {
    if (l.empty() || l.size() > kMaxLabelBytes) return std::nullopt;
    if (!std::all_of(l.begin(), l.end(), label_char)) return std::nullopt;
  }
  // A numeric top-level label is no DNS name: "1.2.3.4.5" or "0x7f.08"
  // are addresses some parser would read differently.
  std::string_view last = labels.back();
  if (std::all_of(last.begin(), last.end(), [](char c) { return std::isdigit(c); })) {
    return std::nullopt;
  }
  return h;
}

}  // namespace openshell::policy::net
