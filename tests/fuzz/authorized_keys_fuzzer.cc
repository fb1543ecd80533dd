// The authorized_keys parser (the gateway's keys). Seeds:
// tests/fuzz/corpus/authorized_keys.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "keys.h"

namespace {

// The line `number` (1-based) of `text`, as the parser counts lines.
std::string_view line_of(std::string_view text, int number) {
  for (int i = 1; i < number; ++i) {
    size_t nl = text.find('\n');
    if (nl == std::string_view::npos) return {};
    text.remove_prefix(nl + 1);
  }
  return text.substr(0, text.find('\n'));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto keys = openshell::ssh::parse_authorized_keys(text);
  for (const auto& entry : keys.keys) {
    if (!entry.key || !entry.fingerprint.starts_with("SHA256:")) std::abort();
    // Fail closed: a used key's line starts with its type, never with an
    // option field such as command= or from= that would be ignored.
    std::string_view line = line_of(text, entry.line);
    size_t start = line.find_first_not_of(" \t");
    if (start == std::string_view::npos || line.substr(start).find(entry.type) != 0) std::abort();
    // The key authorizes itself.
    const auto* found = keys.find(entry.key.get());
    if (found == nullptr || found->fingerprint != entry.fingerprint) std::abort();
  }
  return 0;
}
