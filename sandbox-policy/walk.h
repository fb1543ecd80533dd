// The policy loader's two halves that are not generated: the YAML document
// as a tree of nodes (one parse, positions kept), and the Walker that fills
// the schema's messages from it. policy_walk.cc, generated at build time
// from policy.proto by walk_gen.cc, holds one fill() per message and calls
// the Walker for every field, so policy.proto stays the only list of keys
// and the loader needs no protobuf reflection (the binary links
// protobuf-lite).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "policy_error.h"

namespace openshell::policy {

namespace proto {
class SandboxPolicy;
class Value;
}  // namespace proto

namespace walk {

constexpr size_t kMaxDepth = 32;  // L7 rules are free-form; bound the recursion
// YAML aliases share nodes, so a small file can name exponentially many
// values ("billion laughs"); the walk visits each use, so bound the visits.
constexpr size_t kMaxValues = 100000;

struct Position {
  int line = 0;  // 1-based; 0 when unknown
  int column = 0;
};

struct Node {
  enum class Kind { kNull, kScalar, kSequence, kMap };
  Kind kind = Kind::kNull;
  Position position;
  bool quoted = false;  // a quoted scalar: never a boolean or a number
  std::string scalar;
  std::vector<const Node*> items;                            // a sequence's
  std::vector<std::pair<const Node*, const Node*>> entries;  // a mapping's
};

// One YAML document's nodes. An alias is the node its anchor names, shared.
class Document {
 public:
  const Node& root() const { return *root_; }

  // Exactly one document, or the error: a YAML syntax error, or a second
  // document, at its position.
  static PolicyResult<Document> parse(const std::string& text, const std::string& file_name);

 private:
  // Behind a pointer: moving the Document must not move the nodes.
  std::unique_ptr<std::deque<Node>> nodes_ = std::make_unique<std::deque<Node>>();
  const Node* root_ = nullptr;
};

struct EnumSpelling {
  std::string_view text;  // COMPATIBILITY_BEST_EFFORT is spelled best_effort
  int number;
};

class Walker {
 public:
  explicit Walker(std::string file) : file_(std::move(file)) {}

  // The position recorded for `key` or, failing that, its nearest parent.
  Position locate(std::string key) const;

  std::unexpected<PolicyError> error(const Node& node, const std::string& key,
                                     std::string message) const {
    return std::unexpected(
        PolicyError{file_, node.position.line, node.position.column, key, std::move(message)});
  }

  // A mapping onto a message: field(key, value, child_path) fills the field
  // named `key`, or returns nullopt when the message has none.
  template <class Field>
  PolicyResult<void> message(const Node& node, const std::string& path, std::string_view known,
                             Field&& field) {
    remember(path, node);
    if (node.kind == Node::Kind::kNull) return {};
    return entries(node, path,
                   [&](const Node& key, const Node& value,
                       const std::string& child) -> PolicyResult<void> {
                     std::optional<PolicyResult<void>> filled = field(key.scalar, value, child);
                     if (filled) return *filled;
                     return error(key, child, "unknown key (known keys: " + std::string(known) + ")");
                   });
  }

  // Every field's value: its position is kept, the document's number of
  // values is bounded, and null (`key:`) keeps the default. (The schema's
  // own messages nest a few levels; only free-form values can go deeper,
  // and value() bounds their depth.)
  template <class Fill>
  PolicyResult<void> field(const Node& node, const std::string& path, Fill&& fill) {
    remember(path, node);
    if (!spend()) return error(node, path, "more than " + std::to_string(kMaxValues) + " values");
    if (node.kind == Node::Kind::kNull) return {};
    return fill();
  }

  // each(element, item_path) for a repeated field.
  template <class Each>
  PolicyResult<void> list(const Node& node, const std::string& path, Each&& each) {
    if (node.kind != Node::Kind::kSequence) return expected_a(node, path, "a list");
    for (size_t i = 0; i < node.items.size(); ++i) {
      std::string item = path + "[" + std::to_string(i) + "]";
      remember(item, *node.items[i]);
      if (auto r = each(*node.items[i], item); !r) return r;
    }
    return {};
  }

  // each(key, value, child_path) for a map field.
  template <class Each>
  PolicyResult<void> map(const Node& node, const std::string& path, Each&& each) {
    return entries(node, path, [&](const Node& key, const Node& value, const std::string& child) {
      remember(child, value);
      return each(key.scalar, value, child);
    });
  }

  // Scalars. Any scalar is a string: `run_as_user: 1000` and "1000" mean
  // the same. Booleans and integers are never quoted.
  PolicyResult<std::string> string(const Node& node, const std::string& path) const;
  PolicyResult<bool> boolean(const Node& node, const std::string& path) const;
  PolicyResult<uint32_t> uint32(const Node& node, const std::string& path) const;
  PolicyResult<int> enumeration(const Node& node, const std::string& path,
                                std::span<const EnumSpelling> values) const;

  // Free-form data (OpenShell's L7 rules) kept as it is written.
  PolicyResult<void> value(const Node& node, proto::Value& out, const std::string& path,
                           size_t depth);

 private:
  // A mapping's entries, in order, with scalar keys, each once:
  // each(key_node, value, child_path).
  template <class Each>
  PolicyResult<void> entries(const Node& node, const std::string& path, Each&& each) {
    if (node.kind != Node::Kind::kMap) return expected_a(node, path, "a mapping");
    std::set<std::string_view> seen;
    for (const auto& [key, value] : node.entries) {
      if (key->kind != Node::Kind::kScalar) return error(*key, path, "keys must be scalars");
      std::string child = path.empty() ? key->scalar : path + "." + key->scalar;
      if (!seen.insert(key->scalar).second) return error(*key, child, "duplicate key");
      if (auto r = each(*key, *value, child); !r) return r;
    }
    return {};
  }

  std::unexpected<PolicyError> expected_a(const Node& node, const std::string& path,
                                          const char* kind) const;
  void remember(const std::string& path, const Node& node) { positions_.emplace(path, node.position); }
  bool spend() { return ++visited_ <= kMaxValues; }

  std::string file_;
  std::map<std::string, Position> positions_;
  size_t visited_ = 0;
};

// A scalar's value handed to `set`, or the scalar's error.
template <class T, class Set>
PolicyResult<void> then(PolicyResult<T> result, Set&& set) {
  if (!result) return std::unexpected(std::move(result.error()));
  set(std::move(*result));
  return {};
}

// Generated from policy.proto (policy_walk.cc): the whole document.
PolicyResult<void> fill(Walker& w, const Node& node, proto::SandboxPolicy& m,
                        const std::string& path, size_t depth);

}  // namespace walk
}  // namespace openshell::policy
