// JSON from the environment contract (OPENSHELL_MAIN_PROCESS_SPEC,
// OPENSHELL_USER_ENVIRONMENT), parsed by Boost.JSON. json.cc compiles the
// library itself (header-only use). It replaced protobuf's JSON utilities,
// whose parser and type resolver cost 366 KB of the static binary against
// Boost.JSON's 96 KB (tests/bench/size_report.sh).
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <string_view>

#include "error.h"

namespace openshell {

// Strict RFC 8259 JSON (no comments, no trailing commas, valid UTF-8,
// nothing after the value) whose top level is an object. Errors say what
// is wrong and where ("at offset 12: syntax error"); the caller names the
// variable.
Result<boost::json::object> parse_json_object(std::string_view text);

// The JSON type of a value as a reader knows it: "a string", "an array".
const char* json_kind_name(const boost::json::value& value);

}  // namespace openshell
