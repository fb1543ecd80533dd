#include "main_spec.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include "control.pb.h"

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

  // The proto's JSON parser accepts a bare string for a repeated field;
  // the contract says array, so check the shape first.
  google::protobuf::Struct shape;
  if (google::protobuf::util::JsonStringToMessage(json, &shape).ok()) {
    auto command = shape.fields().find("command");
    if (command != shape.fields().end() &&
        command->second.kind_case() != google::protobuf::Value::kListValue) {
      return fail("invalid JSON: \"command\" must be an array of strings");
    }
  }

  control::MainProcessSpec message;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto status = google::protobuf::util::JsonStringToMessage(json, &message, options);
  if (!status.ok()) return fail("invalid JSON: " + std::string(status.message()));
  if (message.version() != 1) {
    return fail("unsupported version " + std::to_string(message.version()) + " (expected 1)");
  }
  if (message.command().empty()) return fail("\"command\" must be a non-empty array");
  if (message.command(0).empty()) return fail("\"command\"[0] must not be empty");

  MainProcessSpec spec;
  spec.command.assign(message.command().begin(), message.command().end());
  spec.tty = message.tty();
  return spec;
}

}  // namespace openshell
