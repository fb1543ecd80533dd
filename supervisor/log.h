// Structured logging: one JSON object per line on stderr,
// {"time":...,"level":...,"message":...,<fields>}. Nothing goes to stdout,
// which belongs to the main process.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

namespace openshell::log {

enum class Level { trace, debug, info, warn, error };

// Parses OPENSHELL_LOG_LEVEL's spelling; nullopt for anything else.
std::optional<Level> parse_level(std::string_view text);

// Installs the stderr logger. Safe to call again to change the level.
void init(Level level);

struct Field {
  Field(std::string_view k, std::string_view v) : key(k), value(quote(v)) {}
  Field(std::string_view k, const char* v) : key(k), value(quote(v)) {}
  Field(std::string_view k, const std::string& v) : key(k), value(quote(v)) {}
  Field(std::string_view k, bool v) : key(k), value(v ? "true" : "false") {}
  Field(std::string_view k, int v) : key(k), value(std::to_string(v)) {}
  Field(std::string_view k, long v) : key(k), value(std::to_string(v)) {}
  Field(std::string_view k, long long v) : key(k), value(std::to_string(v)) {}
  Field(std::string_view k, unsigned v) : key(k), value(std::to_string(v)) {}
  Field(std::string_view k, unsigned long v) : key(k), value(std::to_string(v)) {}
  Field(std::string_view k, unsigned long long v) : key(k), value(std::to_string(v)) {}

  static std::string quote(std::string_view text);

  std::string_view key;
  std::string value;  // already JSON
};

using Fields = std::initializer_list<Field>;

void write(Level level, std::string_view message, Fields fields);
bool enabled(Level level);

inline void trace(std::string_view m, Fields f = {}) {
  write(Level::trace, m, f);
}
inline void debug(std::string_view m, Fields f = {}) {
  write(Level::debug, m, f);
}
inline void info(std::string_view m, Fields f = {}) {
  write(Level::info, m, f);
}
inline void warn(std::string_view m, Fields f = {}) {
  write(Level::warn, m, f);
}
inline void error(std::string_view m, Fields f = {}) {
  write(Level::error, m, f);
}

}  // namespace openshell::log
