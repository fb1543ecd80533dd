#include "walk.h"

#include <yaml.h>

#include <charconv>
#include <map>

#include "policy.pb.h"

namespace openshell::policy::walk {
namespace {

Position position_of(const yaml_mark_t& mark) {
  // libyaml's marks are 0-based.
  return {static_cast<int>(mark.line) + 1, static_cast<int>(mark.column) + 1};
}

const char* node_kind(const Node& node) {
  switch (node.kind) {
    case Node::Kind::kMap:
      return "a mapping";
    case Node::Kind::kSequence:
      return "a list";
    case Node::Kind::kScalar:
      return "a scalar";
    case Node::Kind::kNull:
      return "null";
  }
  return "nothing";
}

std::string_view text_of(const yaml_char_t* text) {
  return text == nullptr ? std::string_view() : reinterpret_cast<const char*>(text);
}

// A scalar event's value, which may hold NUL bytes (hence its length).
std::string_view value_of(const yaml_event_t& event) {
  return {reinterpret_cast<const char*>(event.data.scalar.value), event.data.scalar.length};
}

// YAML's core schema: an untagged plain scalar spelled as null, or nothing
// at all (a key without a value), is null.
bool is_null(const yaml_event_t& event) {
  const auto& scalar = event.data.scalar;
  if (scalar.style != YAML_PLAIN_SCALAR_STYLE || scalar.tag != nullptr) return false;
  std::string_view value = value_of(event);
  return value.empty() || value == "~" || value == "null" || value == "Null" || value == "NULL";
}

// libyaml's pull parser, one event at a time; every event is released.
class Events {
 public:
  explicit Events(const std::string& text) : ready_(::yaml_parser_initialize(&parser_) != 0) {
    if (!ready_) return;  // out of memory: error() says so
    ::yaml_parser_set_input_string(&parser_, reinterpret_cast<const unsigned char*>(text.data()),
                                   text.size());
  }
  ~Events() {
    if (held_) ::yaml_event_delete(&event_);
    if (ready_) ::yaml_parser_delete(&parser_);
  }
  Events(const Events&) = delete;
  Events& operator=(const Events&) = delete;

  // The next event, or nullptr on a syntax error (error() then says it).
  const yaml_event_t* next() {
    if (held_) ::yaml_event_delete(&event_);
    held_ = ready_ && ::yaml_parser_parse(&parser_, &event_) != 0;
    return held_ ? &event_ : nullptr;
  }

  // The parser's problem, at the position it names, with the construct it
  // was reading ("while parsing a flow mapping") and where that started.
  PolicyError error(const std::string& file_name, const std::string& text) const {
    if (!ready_ || parser_.error == YAML_MEMORY_ERROR) {
      return PolicyError{file_name, 0, 0, "", "out of memory parsing YAML"};
    }
    std::string message = parser_.problem != nullptr ? parser_.problem : "YAML syntax error";
    // An encoding problem has a byte offset, not a mark.
    Position p = parser_.error == YAML_READER_ERROR ? position_at(text, parser_.problem_offset)
                                                    : position_of(parser_.problem_mark);
    if (parser_.context != nullptr) {
      Position c = position_of(parser_.context_mark);
      message += " (" + std::string(parser_.context) + " at line " + std::to_string(c.line) +
                 ", column " + std::to_string(c.column) + ")";
    }
    return PolicyError{file_name, p.line, p.column, "", message};
  }

 private:
  static Position position_at(const std::string& text, size_t offset) {
    Position p{1, 1};
    for (size_t i = 0; i < offset && i < text.size(); ++i) {
      if (text[i] == '\n') {
        ++p.line;
        p.column = 1;
      } else {
        ++p.column;
      }
    }
    return p;
  }

  yaml_parser_t parser_{};
  bool ready_;
  yaml_event_t event_{};
  bool held_ = false;
};

// Turns the parser's events into nodes: an anchor names its node from the
// start of it (so an alias inside the node it names makes a cycle, which
// the walk's depth bound stops).
class Builder {
 public:
  explicit Builder(std::deque<Node>& nodes) : nodes_(nodes) {}

  const Node* root() const { return root_; }

  // One node event of the document; an error for an alias to an anchor
  // not yet seen.
  std::optional<std::string> take(const yaml_event_t& event) {
    switch (event.type) {
      case YAML_ALIAS_EVENT: {
        auto it = anchors_.find(text_of(event.data.alias.anchor));
        if (it == anchors_.end()) {
          return "the alias *" + std::string(text_of(event.data.alias.anchor)) +
                 " names no anchor before it";
        }
        add(it->second);
        return std::nullopt;
      }
      case YAML_SCALAR_EVENT: {
        const auto& scalar = event.data.scalar;
        if (is_null(event)) {
          add(make(Node::Kind::kNull, event, scalar.anchor));
          return std::nullopt;
        }
        Node* node = make(Node::Kind::kScalar, event, scalar.anchor);
        // A quoted or block scalar, or one tagged "!", is a string as written.
        node->quoted = scalar.style != YAML_PLAIN_SCALAR_STYLE || text_of(scalar.tag) == "!";
        node->scalar = value_of(event);
        add(node);
        return std::nullopt;
      }
      case YAML_SEQUENCE_START_EVENT:
        open(make(Node::Kind::kSequence, event, event.data.sequence_start.anchor));
        return std::nullopt;
      case YAML_MAPPING_START_EVENT:
        open(make(Node::Kind::kMap, event, event.data.mapping_start.anchor));
        return std::nullopt;
      case YAML_SEQUENCE_END_EVENT:
      case YAML_MAPPING_END_EVENT:
        open_.pop_back();
        return std::nullopt;
      default:  // the stream's start
        return std::nullopt;
    }
  }

 private:
  struct Open {
    Node* node;
    const Node* key = nullptr;  // a mapping's key waiting for its value
  };

  Node* make(Node::Kind kind, const yaml_event_t& event, const yaml_char_t* anchor) {
    Node& node = nodes_.emplace_back();
    node.kind = kind;
    node.position = position_of(event.start_mark);
    if (anchor != nullptr) anchors_[std::string(text_of(anchor))] = &node;
    return &node;
  }

  void add(const Node* node) {
    if (open_.empty()) {
      root_ = node;
      return;
    }
    Open& top = open_.back();
    if (top.node->kind == Node::Kind::kSequence) {
      top.node->items.push_back(node);
    } else if (top.key == nullptr) {
      top.key = node;
    } else {
      top.node->entries.emplace_back(top.key, node);
      top.key = nullptr;
    }
  }

  void open(Node* node) {
    add(node);
    open_.push_back({node});
  }

  std::deque<Node>& nodes_;
  std::vector<Open> open_;
  std::map<std::string, const Node*, std::less<>> anchors_;
  const Node* root_ = nullptr;
};

}  // namespace

// The first document's events into nodes, then one step into a second
// document if there is any: a second document is refused at its first
// node, before the parser reads (or chokes on) the rest of it.
PolicyResult<Document> Document::parse(const std::string& text, const std::string& file_name) {
  Document doc;
  Events events(text);
  Builder builder(*doc.nodes_);
  bool document_ended = false;
  while (true) {
    const yaml_event_t* event = events.next();
    if (event == nullptr) return std::unexpected(events.error(file_name, text));
    if (event->type == YAML_STREAM_END_EVENT) break;
    if (event->type == YAML_DOCUMENT_START_EVENT) {
      if (!document_ended) continue;
      // The second document: refused where its first node starts, or
      // where it does if it has none.
      Position p = position_of(event->start_mark);
      if (const yaml_event_t* first = events.next();
          first != nullptr && first->type != YAML_DOCUMENT_END_EVENT) {
        p = position_of(first->start_mark);
      }
      return std::unexpected(
          PolicyError{file_name, p.line, p.column, "", "more than one YAML document"});
    }
    if (event->type == YAML_DOCUMENT_END_EVENT) {
      document_ended = true;
      continue;
    }
    if (auto problem = builder.take(*event)) {
      Position p = position_of(event->start_mark);
      return std::unexpected(PolicyError{file_name, p.line, p.column, "", *problem});
    }
  }
  doc.root_ = builder.root();
  if (doc.root_ == nullptr) doc.root_ = &doc.nodes_->emplace_back();  // no document: null
  return doc;
}

Position Walker::locate(std::string key) const {
  while (true) {
    auto it = positions_.find(key);
    if (it != positions_.end()) return it->second;
    if (key.empty()) return {};
    size_t cut = key.find_last_of(".[");
    key = cut == std::string::npos ? std::string() : key.substr(0, cut);
  }
}

std::unexpected<PolicyError> Walker::expected_a(const Node& node, const std::string& path,
                                                const char* kind) const {
  return error(node, path, std::string("expected ") + kind + ", found " + node_kind(node));
}

PolicyResult<std::string> Walker::string(const Node& node, const std::string& path) const {
  if (node.kind != Node::Kind::kScalar) return expected_a(node, path, "a scalar");
  return node.scalar;
}

PolicyResult<bool> Walker::boolean(const Node& node, const std::string& path) const {
  if (node.kind != Node::Kind::kScalar) return expected_a(node, path, "a scalar");
  const std::string& text = node.scalar;
  if (!node.quoted && (text == "true" || text == "True" || text == "TRUE")) return true;
  if (!node.quoted && (text == "false" || text == "False" || text == "FALSE")) return false;
  return error(node, path, "expected true or false, found '" + text + "'");
}

PolicyResult<uint32_t> Walker::uint32(const Node& node, const std::string& path) const {
  if (node.kind != Node::Kind::kScalar) return expected_a(node, path, "a scalar");
  const std::string& text = node.scalar;
  uint32_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (node.quoted || ec != std::errc() || end != text.data() + text.size()) {
    return error(node, path, "expected an integer in [0, 4294967295], found '" + text + "'");
  }
  return value;
}

PolicyResult<int> Walker::enumeration(const Node& node, const std::string& path,
                                      std::span<const EnumSpelling> values) const {
  if (node.kind != Node::Kind::kScalar) return expected_a(node, path, "a scalar");
  std::string expected;
  for (const EnumSpelling& value : values) {
    if (node.scalar == value.text) return value.number;
    expected += (expected.empty() ? "" : ", ") + std::string(value.text);
  }
  return error(node, path, "bad value '" + node.scalar + "' (expected one of: " + expected + ")");
}

PolicyResult<void> Walker::value(const Node& node, proto::Value& out, const std::string& path,
                                 size_t depth) {
  if (depth > kMaxDepth) return error(node, path, "nested too deeply");
  if (!spend()) return error(node, path, "more than " + std::to_string(kMaxValues) + " values");
  switch (node.kind) {
    case Node::Kind::kNull:
      out.set_null_value(proto::NULL_VALUE);
      return {};
    case Node::Kind::kScalar:
      out.set_string_value(node.scalar);
      return {};
    case Node::Kind::kSequence: {
      proto::ListValue* list = out.mutable_list_value();
      for (size_t i = 0; i < node.items.size(); ++i) {
        std::string item = path + "[" + std::to_string(i) + "]";
        if (auto r = value(*node.items[i], *list->add_values(), item, depth + 1); !r) return r;
      }
      return {};
    }
    case Node::Kind::kMap: {
      auto& fields = *out.mutable_struct_value()->mutable_fields();
      for (const auto& [key, item] : node.entries) {
        if (key->kind != Node::Kind::kScalar) return error(*key, path, "keys must be scalars");
        proto::Value& slot = fields[key->scalar];
        if (auto r = value(*item, slot, path + "." + key->scalar, depth + 1); !r) return r;
      }
      return {};
    }
  }
  return error(node, path, "undefined value");
}

}  // namespace openshell::policy::walk
