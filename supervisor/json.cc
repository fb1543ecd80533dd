#include "json.h"

// Boost.JSON's definitions, compiled here and nowhere else (the library's
// documented header-only use: one translation unit includes src.hpp).
#include <boost/json/src.hpp>
#include <string>

namespace openshell {

Result<boost::json::object> parse_json_object(std::string_view text) {
  // The defaults are the strict RFC 8259 grammar. A duplicate key keeps
  // its last value (Boost.JSON's parser; as protobuf's did).
  boost::json::stream_parser parser;
  boost::json::error_code ec;
  std::size_t used = parser.write_some(text.data(), text.size(), ec);
  if (!ec && used < text.size()) ec = boost::json::error::extra_data;
  if (!ec) parser.finish(ec);
  if (ec) return fail("at offset " + std::to_string(used) + ": " + ec.message());
  boost::json::value value = parser.release();
  if (!value.is_object()) {
    return fail(std::string("the top level is ") + json_kind_name(value) + ", not an object");
  }
  return std::move(value.get_object());
}

const char* json_kind_name(const boost::json::value& value) {
  switch (value.kind()) {
    case boost::json::kind::null:
      return "null";
    case boost::json::kind::bool_:
      return "a boolean";
    case boost::json::kind::int64:
    case boost::json::kind::uint64:
    case boost::json::kind::double_:
      return "a number";
    case boost::json::kind::string:
      return "a string";
    case boost::json::kind::array:
      return "an array";
    case boost::json::kind::object:
      return "an object";
  }
  return "a value";
}

}  // namespace openshell
