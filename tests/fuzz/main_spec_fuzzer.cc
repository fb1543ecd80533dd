// The main-process spec (OPENSHELL_MAIN_PROCESS_SPEC): JSON, or base64url of
// it. Seeds: tests/fuzz/corpus/main_spec.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "main_spec.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto spec = openshell::parse_main_process_spec(text);
  // The contract: an accepted spec has a non-empty command whose first word
  // is not empty; a refusal says why.
  if (spec) {
    if (spec->command.empty() || spec->command[0].empty()) std::abort();
  } else if (spec.error().message().empty()) {
    std::abort();
  }

  // The decoder on its own: whatever decodes must encode back to the same
  // text (canonical encoding only), or decoding lost or invented bits.
  auto decoded = openshell::decode_base64url(text);
  if (decoded) {
    static constexpr char kAlphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string encoded;
    unsigned buffer = 0;
    int bits = 0;
    for (unsigned char c : *decoded) {
      buffer = (buffer << 8) | c;
      bits += 8;
      while (bits >= 6) {
        bits -= 6;
        encoded.push_back(kAlphabet[(buffer >> bits) & 63]);
      }
    }
    if (bits > 0) encoded.push_back(kAlphabet[(buffer << (6 - bits)) & 63]);
    if (encoded != text) std::abort();
  }
  return 0;
}
