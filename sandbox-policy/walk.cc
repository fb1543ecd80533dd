#include "walk.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/parser.h>

#include <charconv>
#include <sstream>

#include "policy.pb.h"

namespace openshell::policy::walk {
namespace {

Position position_of(const YAML::Mark& mark) {
  if (mark.is_null()) return {};
  return {mark.line + 1, mark.column + 1};  // YAML::Mark is 0-based
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

// Records where a document's first node starts (where the node's position
// would be), else the document itself: to report a second document.
class DocumentStart : public YAML::EventHandler {
 public:
  std::optional<YAML::Mark> mark;
  void OnDocumentStart(const YAML::Mark& m) override { mark = m; }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& m, YAML::anchor_t) override { node(m); }
  void OnAlias(const YAML::Mark& m, YAML::anchor_t) override { node(m); }
  void OnScalar(const YAML::Mark& m, const std::string&, YAML::anchor_t,
                const std::string&) override {
    node(m);
  }
  void OnSequenceStart(const YAML::Mark& m, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    node(m);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& m, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    node(m);
  }
  void OnMapEnd() override {}

 private:
  void node(const YAML::Mark& m) {
    if (!root_seen_) mark = m;
    root_seen_ = true;
  }
  bool root_seen_ = false;
};

// Turns the parser's events into nodes, as yaml-cpp's own node builder
// does: an anchor names its node from the start of it (so an alias inside
// the node it names makes a cycle, which the walk's depth bound stops).
class Builder : public YAML::EventHandler {
 public:
  explicit Builder(std::deque<Node>& nodes) : nodes_(nodes) {}

  const Node* root() const { return root_; }

  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& m, YAML::anchor_t anchor) override {
    add(make(Node::Kind::kNull, m, anchor));
  }
  void OnAlias(const YAML::Mark&, YAML::anchor_t anchor) override {
    // The parser refuses an alias to an anchor it has not seen.
    add(anchor < anchors_.size() ? anchors_[anchor] : nullptr);
  }
  void OnScalar(const YAML::Mark& m, const std::string& tag, YAML::anchor_t anchor,
                const std::string& value) override {
    Node* node = make(Node::Kind::kScalar, m, anchor);
    node->quoted = tag == "!";  // yaml-cpp tags a quoted scalar "!", a plain one "?"
    node->scalar = value;
    add(node);
  }
  void OnSequenceStart(const YAML::Mark& m, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    open(make(Node::Kind::kSequence, m, anchor));
  }
  void OnSequenceEnd() override { close(); }
  void OnMapStart(const YAML::Mark& m, const std::string&, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    open(make(Node::Kind::kMap, m, anchor));
  }
  void OnMapEnd() override { close(); }

 private:
  struct Open {
    Node* node;
    const Node* key = nullptr;  // a mapping's key waiting for its value
  };

  Node* make(Node::Kind kind, const YAML::Mark& mark, YAML::anchor_t anchor) {
    Node& node = nodes_.emplace_back();
    node.kind = kind;
    node.position = position_of(mark);
    if (anchor != YAML::NullAnchor) {
      if (anchors_.size() <= anchor) anchors_.resize(anchor + 1);
      anchors_[anchor] = &node;
    }
    return &node;
  }

  void add(const Node* node) {
    if (node == nullptr) node = make(Node::Kind::kNull, YAML::Mark::null_mark(), 0);
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

  void close() { open_.pop_back(); }

  std::deque<Node>& nodes_;
  std::vector<Open> open_;
  std::vector<const Node*> anchors_;
  const Node* root_ = nullptr;
};

}  // namespace

// One pass of the parser over the first document, then two steps into a
// second one if there is any. Never YAML::LoadAll: yaml-cpp 0.7 turns stray
// text after a flow collection ("{a},") into an endless run of empty
// documents, and LoadAll collects them until memory runs out.
PolicyResult<Document> Document::parse(const std::string& text, const std::string& file_name) {
  Document doc;
  try {
    std::istringstream in(text);
    YAML::Parser parser(in);
    Builder builder(*doc.nodes_);
    if (parser.HandleNextDocument(builder)) doc.root_ = builder.root();
    DocumentStart second;
    if (parser.HandleNextDocument(second)) {
      Position p = position_of(second.mark.value_or(YAML::Mark::null_mark()));
      return std::unexpected(
          PolicyError{file_name, p.line, p.column, "", "more than one YAML document"});
    }
  } catch (const YAML::Exception& e) {
    Position p = position_of(e.mark);
    return std::unexpected(PolicyError{file_name, p.line, p.column, "", e.msg});
  }
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
