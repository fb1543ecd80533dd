#include "main_spec.h"

#include <cstdint>
#include <optional>

#include "json.h"

namespace openshell {

Result<std::string> decode_base64url(std::string_view text) {
  auto value_of = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
  };
  if (text.size() % 4 == 1)
    return fail("base64url: truncated input (length " + std::to_string(text.size()) + ")");
  std::string out;
  out.reserve(text.size() * 3 / 4);
  unsigned buffer = 0;
  int bits = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    int v = value_of(text[i]);
    if (v < 0) {
      return fail("base64url: invalid character at offset " + std::to_string(i) +
                  (text[i] == '=' ? " (padding is not used)" : ""));
    }
    buffer = (buffer << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> bits) & 0xff));
    }
  }
  // Leftover bits must be zero, or the text is not a canonical encoding.
  if (bits > 0 && (buffer & ((1u << bits) - 1)) != 0)
    return fail("base64url: non-zero trailing bits");
  return out;
}

Result<MainProcessSpec> parse_main_process_spec(std::string_view text) {
  std::string json;
  constexpr std::string_view kPrefix = "base64url:";
  if (text.starts_with(kPrefix)) {
    auto decoded = decode_base64url(text.substr(kPrefix.size()));
    if (!decoded) return std::unexpected(decoded.error());
    json = std::move(*decoded);
  } else {
    json = std::string(text);
  }

  auto object = parse_json_object(json);
  if (!object) return fail("invalid JSON: " + object.error().what);

  // {"version":1,"command":[string...],"tty":bool}, each key of its type;
  // any other key is refused, so a producer's typo ("ttty") or a newer
  // spec is not silently run as something else.
  std::optional<std::int64_t> version;
  MainProcessSpec spec;
  spec.tty = false;  // the spec's default; a terminal only when it asks
  for (const auto& [key, value] : *object) {
    if (key == "version") {
      if (!value.is_int64()) {
        if (value.is_uint64()) {
          return fail("unsupported version " + std::to_string(value.get_uint64()) +
                      " (expected 1)");
        }
        return fail(std::string("invalid JSON: \"version\" must be an integer, not ") +
                    (value.is_double() ? "a fraction or exponent" : json_kind_name(value)));
      }
      version = value.get_int64();
    } else if (key == "command") {
      if (!value.is_array()) {
        return fail(std::string("invalid JSON: \"command\" must be an array of strings, not ") +
                    json_kind_name(value));
      }
      for (const auto& word : value.get_array()) {
        if (!word.is_string()) {
          return fail("invalid JSON: \"command\" must be an array of strings; element " +
                      std::to_string(spec.command.size()) + " is " + json_kind_name(word));
        }
        spec.command.emplace_back(word.get_string());
      }
    } else if (key == "tty") {
      if (!value.is_bool()) {
        return fail(std::string("invalid JSON: \"tty\" must be true or false, not ") +
                    json_kind_name(value));
      }
      spec.tty = value.get_bool();
    } else {
      return fail("invalid JSON: unknown key \"" + std::string(key) +
                  "\" (the spec has version, command, tty)");
    }
  }
  // A missing version reads as 0 (the proto3 default of the spec's first
  // parser) and is refused as such.
  if (version.value_or(0) != 1) {
    return fail("unsupported version " + std::to_string(version.value_or(0)) + " (expected 1)");
  }
  if (spec.command.empty()) return fail("\"command\" must be a non-empty array");
  if (spec.command[0].empty()) return fail("\"command\"[0] must not be empty");
  return spec;
}

}  // namespace openshell
