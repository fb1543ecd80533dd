// YAML and JSON (a subset of YAML 1.2, parsed by the same yaml-cpp parser)
// are walked node by node into the proto schema by reflection, so the
// schema in policy.proto is the only list of accepted keys. Every value's
// position is remembered under its dotted key so that validation errors,
// found later on the model, can still point at a line and column.
#include "load.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <charconv>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <vector>

#include "identity.h"
#include "policy.pb.h"
#include "validate.h"

namespace openshell::policy {
namespace {

namespace pb = google::protobuf;

constexpr size_t kMaxDepth = 32;  // L7 rules are free-form; bound the recursion
// YAML aliases share nodes, so a small file can name exponentially many
// values ("billion laughs"); the walk visits each use, so bound the visits.
constexpr size_t kMaxValues = 100000;

struct Position {
  int line = 0;
  int column = 0;
};

Position position_of(const YAML::Mark& mark) {
  if (mark.is_null()) return {};
  return {mark.line + 1, mark.column + 1};  // YAML::Mark is 0-based
}

class Walker {
 public:
  explicit Walker(std::string file) : file_(std::move(file)) {}

  PolicyResult<void> fill_message(const YAML::Node& node, pb::Message& msg, const std::string& path,
                                  size_t depth);

  // The position recorded for `key` or, failing that, its nearest parent.
  Position locate(std::string key) const {
    while (true) {
      auto it = positions_.find(key);
      if (it != positions_.end()) return it->second;
      if (key.empty()) return {};
      size_t cut = key.find_last_of(".[");
      key = cut == std::string::npos ? std::string() : key.substr(0, cut);
    }
  }

  std::unexpected<PolicyError> error(const YAML::Node& node, const std::string& key,
                                     std::string message) const {
    Position p = position_of(node.Mark());
    return std::unexpected(PolicyError{file_, p.line, p.column, key, std::move(message)});
  }

 private:
  PolicyResult<void> fill_field(const YAML::Node& node, pb::Message& msg,
                                const pb::FieldDescriptor* field, const std::string& path,
                                size_t depth);
  PolicyResult<void> fill_map(const YAML::Node& node, pb::Message& msg,
                              const pb::FieldDescriptor* field, const std::string& path,
                              size_t depth);
  PolicyResult<void> set_scalar(const YAML::Node& node, pb::Message& msg,
                                const pb::FieldDescriptor* field, bool repeated,
                                const std::string& path);
  PolicyResult<void> fill_value(const YAML::Node& node, pb::Value& value, const std::string& path,
                                size_t depth);

  void remember(const std::string& path, const YAML::Node& node) {
    positions_.emplace(path, position_of(node.Mark()));
  }

  bool spend() { return ++visited_ <= kMaxValues; }

  std::string file_;
  std::map<std::string, Position> positions_;
  size_t visited_ = 0;
};

const char* node_kind(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return "a scalar";
    case YAML::NodeType::Null:
      return "null";
    default:
      return "nothing";
  }
}

// yaml-cpp tags a quoted scalar "!" and a plain one "?" (YAML 1.2 §6.9.1).
bool is_quoted(const YAML::Node& node) {
  return node.Tag() == "!";
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Enum values are spelled without their common prefix, in lower case:
// COMPATIBILITY_BEST_EFFORT -> best_effort. The *_UNSPECIFIED value (the
// proto3 zero) is not accepted from a file.
std::string enum_prefix(const pb::EnumDescriptor* type) {
  const std::string& zero = type->value(0)->name();
  return zero.substr(0, zero.size() - std::string("UNSPECIFIED").size());
}

std::string enum_spelling(const pb::EnumValueDescriptor* value) {
  return lower(value->name().substr(enum_prefix(value->type()).size()));
}

PolicyResult<void> Walker::fill_message(const YAML::Node& node, pb::Message& msg,
                                        const std::string& path, size_t depth) {
  remember(path, node);
  if (node.IsNull()) return {};
  if (!node.IsMap()) {
    return error(node, path, std::string("expected a mapping, found ") + node_kind(node));
  }
  const pb::Descriptor* desc = msg.GetDescriptor();
  std::set<std::string> seen;
  for (const auto& kv : node) {
    const YAML::Node& key_node = kv.first;
    if (!key_node.IsScalar()) return error(key_node, path, "keys must be scalars");
    std::string key = key_node.Scalar();
    std::string child = path.empty() ? key : path + "." + key;
    if (!seen.insert(key).second) return error(key_node, child, "duplicate key");
    const pb::FieldDescriptor* field = desc->FindFieldByName(key);
    if (field == nullptr) {
      std::string known;
      for (int i = 0; i < desc->field_count(); ++i) {
        known += (i ? ", " : "") + desc->field(i)->name();
      }
      return error(key_node, child, "unknown key (known keys: " + known + ")");
    }
    if (auto r = fill_field(kv.second, msg, field, child, depth + 1); !r) return r;
  }
  return {};
}

PolicyResult<void> Walker::fill_field(const YAML::Node& node, pb::Message& msg,
                                      const pb::FieldDescriptor* field, const std::string& path,
                                      size_t depth) {
  remember(path, node);
  if (depth > kMaxDepth) return error(node, path, "nested too deeply");
  if (!spend()) return error(node, path, "more than " + std::to_string(kMaxValues) + " values");
  if (node.IsNull()) return {};  // `key:` with no value: the field keeps its default
  if (field->is_map()) return fill_map(node, msg, field, path, depth);
  const pb::Reflection* refl = msg.GetReflection();
  if (field->is_repeated()) {
    if (!node.IsSequence()) {
      return error(node, path, std::string("expected a list, found ") + node_kind(node));
    }
    for (size_t i = 0; i < node.size(); ++i) {
      std::string item = path + "[" + std::to_string(i) + "]";
      const YAML::Node& element = node[i];
      if (field->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE) {
        remember(item, element);
        pb::Message* sub = refl->AddMessage(&msg, field);
        PolicyResult<void> r;
        if (field->message_type() == pb::Value::descriptor()) {
          r = fill_value(element, static_cast<pb::Value&>(*sub), item, depth + 1);
        } else {
          r = fill_message(element, *sub, item, depth + 1);
        }
        if (!r) return r;
      } else {
        remember(item, element);
        if (auto r = set_scalar(element, msg, field, true, item); !r) return r;
      }
    }
    return {};
  }
  if (field->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE) {
    pb::Message* sub = refl->MutableMessage(&msg, field);
    if (field->message_type() == pb::Value::descriptor()) {
      return fill_value(node, static_cast<pb::Value&>(*sub), path, depth);
    }
    return fill_message(node, *sub, path, depth);
  }
  return set_scalar(node, msg, field, false, path);
}

PolicyResult<void> Walker::fill_map(const YAML::Node& node, pb::Message& msg,
                                    const pb::FieldDescriptor* field, const std::string& path,
                                    size_t depth) {
  if (!node.IsMap()) {
    return error(node, path, std::string("expected a mapping, found ") + node_kind(node));
  }
  const pb::Descriptor* entry_type = field->message_type();
  const pb::FieldDescriptor* key_field = entry_type->map_key();
  const pb::FieldDescriptor* value_field = entry_type->map_value();
  std::set<std::string> seen;
  for (const auto& kv : node) {
    const YAML::Node& key_node = kv.first;
    if (!key_node.IsScalar()) return error(key_node, path, "keys must be scalars");
    std::string key = key_node.Scalar();
    std::string child = path + "." + key;
    if (!seen.insert(key).second) return error(key_node, child, "duplicate key");
    pb::Message* entry = msg.GetReflection()->AddMessage(&msg, field);
    entry->GetReflection()->SetString(entry, key_field, key);
    if (value_field->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE) {
      remember(child, kv.second);
      pb::Message* value = entry->GetReflection()->MutableMessage(entry, value_field);
      if (auto r = fill_message(kv.second, *value, child, depth + 1); !r) return r;
    } else {
      remember(child, kv.second);
      if (kv.second.IsNull()) {
        return error(kv.second, child, "expected a scalar, found null");
      }
      if (auto r = set_scalar(kv.second, *entry, value_field, false, child); !r) return r;
    }
  }
  return {};
}

PolicyResult<void> Walker::set_scalar(const YAML::Node& node, pb::Message& msg,
                                      const pb::FieldDescriptor* field, bool repeated,
                                      const std::string& path) {
  const pb::Reflection* refl = msg.GetReflection();
  if (!node.IsScalar()) {
    return error(node, path, std::string("expected a scalar, found ") + node_kind(node));
  }
  const std::string& text = node.Scalar();
  switch (field->cpp_type()) {
    case pb::FieldDescriptor::CPPTYPE_STRING:
      // Any scalar is a string: `run_as_user: 1000` and "1000" mean the same.
      if (repeated) {
        refl->AddString(&msg, field, text);
      } else {
        refl->SetString(&msg, field, text);
      }
      return {};
    case pb::FieldDescriptor::CPPTYPE_BOOL: {
      bool value = false;
      if (!is_quoted(node) && (text == "true" || text == "True" || text == "TRUE")) {
        value = true;
      } else if (!is_quoted(node) && (text == "false" || text == "False" || text == "FALSE")) {
        value = false;
      } else {
        return error(node, path, "expected true or false, found '" + text + "'");
      }
      if (repeated) {
        refl->AddBool(&msg, field, value);
      } else {
        refl->SetBool(&msg, field, value);
      }
      return {};
    }
    case pb::FieldDescriptor::CPPTYPE_UINT32: {
      uint32_t value = 0;
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
      if (is_quoted(node) || ec != std::errc() || end != text.data() + text.size()) {
        return error(node, path, "expected an integer in [0, 4294967295], found '" + text + "'");
      }
      if (repeated) {
        refl->AddUInt32(&msg, field, value);
      } else {
        refl->SetUInt32(&msg, field, value);
      }
      return {};
    }
    case pb::FieldDescriptor::CPPTYPE_ENUM: {
      const pb::EnumDescriptor* type = field->enum_type();
      std::string expected;
      for (int i = 1; i < type->value_count(); ++i) {
        const pb::EnumValueDescriptor* value = type->value(i);
        if (text == enum_spelling(value)) {
          if (repeated) {
            refl->AddEnum(&msg, field, value);
          } else {
            refl->SetEnum(&msg, field, value);
          }
          return {};
        }
        expected += (i > 1 ? ", " : "") + enum_spelling(value);
      }
      return error(node, path, "bad value '" + text + "' (expected one of: " + expected + ")");
    }
    default:
      return error(node, path, "field type not supported by the loader");
  }
}

// google.protobuf.Value keeps free-form data (OpenShell's L7 rules) as is.
PolicyResult<void> Walker::fill_value(const YAML::Node& node, pb::Value& value,
                                      const std::string& path, size_t depth) {
  if (depth > kMaxDepth) return error(node, path, "nested too deeply");
  if (!spend()) return error(node, path, "more than " + std::to_string(kMaxValues) + " values");
  switch (node.Type()) {
    case YAML::NodeType::Null:
      value.set_null_value(pb::NULL_VALUE);
      return {};
    case YAML::NodeType::Scalar:
      value.set_string_value(node.Scalar());
      return {};
    case YAML::NodeType::Sequence: {
      pb::ListValue* list = value.mutable_list_value();
      for (size_t i = 0; i < node.size(); ++i) {
        std::string item = path + "[" + std::to_string(i) + "]";
        if (auto r = fill_value(node[i], *list->add_values(), item, depth + 1); !r) return r;
      }
      return {};
    }
    case YAML::NodeType::Map: {
      pb::Struct* fields = value.mutable_struct_value();
      for (const auto& kv : node) {
        if (!kv.first.IsScalar()) return error(kv.first, path, "keys must be scalars");
        std::string key = kv.first.Scalar();
        auto& slot = (*fields->mutable_fields())[key];
        if (auto r = fill_value(kv.second, slot, path + "." + key, depth + 1); !r) return r;
      }
      return {};
    }
    default:
      return error(node, path, "undefined value");
  }
}

// Records where a document's first node starts (where YAML::Node::Mark()
// would point), else the document itself: for counting documents.
class DocumentStart : public YAML::EventHandler {
 public:
  std::optional<YAML::Mark> mark;
  void OnDocumentStart(const YAML::Mark& m) override { mark = m; root_seen_ = false; }
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

// Where a second document starts, if the text has one. Never YAML::LoadAll:
// yaml-cpp 0.7 turns stray text after a flow collection ("{a},") into an
// endless run of empty documents, and LoadAll collects them until memory
// runs out. Two steps of the parser are all it takes to know.
std::optional<YAML::Mark> second_document(const std::string& text) {
  std::istringstream in(text);
  YAML::Parser parser(in);
  DocumentStart first, second;
  if (!parser.HandleNextDocument(first)) return std::nullopt;
  if (!parser.HandleNextDocument(second)) return std::nullopt;
  return second.mark.value_or(YAML::Mark::null_mark());
}

}  // namespace

PolicyResult<Policy> load_policy_text(std::string_view text, const std::string& file_name) {
  if (text.size() > kMaxPolicyFileBytes) {
    return std::unexpected(
        PolicyError{file_name, 0, 0, "",
                    "policy larger than " + std::to_string(kMaxPolicyFileBytes) + " bytes"});
  }
  YAML::Node root;
  try {
    // A second document would be silently ignored by YAML::Load; a policy
    // is exactly one document.
    std::string yaml(text);
    if (auto second = second_document(yaml)) {
      Position p = position_of(*second);
      return std::unexpected(
          PolicyError{file_name, p.line, p.column, "", "more than one YAML document"});
    }
    root = YAML::Load(yaml);
  } catch (const YAML::Exception& e) {
    Position p = position_of(e.mark);
    return std::unexpected(PolicyError{file_name, p.line, p.column, "", e.msg});
  }
  Walker walker(file_name);
  if (root.IsNull()) return walker.error(root, "", "empty policy: `version: 1` is required");
  proto::SandboxPolicy message;
  if (auto r = walker.fill_message(root, message, "", 0); !r) return std::unexpected(r.error());
  auto model = to_model(message);
  if (!model) {
    PolicyError e = model.error();
    Position p = walker.locate(e.key);
    e.file = file_name;
    e.line = p.line;
    e.column = p.column;
    return std::unexpected(e);
  }
  return model;
}

PolicyResult<Policy> load_policy_file(const std::string& path) {
  auto text = read_bounded_file(path, kMaxPolicyFileBytes);
  if (!text) return std::unexpected(text.error());
  if (!text->has_value()) {
    return std::unexpected(PolicyError{path, 0, 0, "", "no such file"});
  }
  return load_policy_text(**text, path);
}

PolicyResult<LoadedPolicy> find_and_load_policy(const PolicyLocation& location) {
  auto named = [](const std::optional<std::string>& v) { return v && !v->empty(); };
  std::string path;
  if (named(location.flag_path)) {
    path = *location.flag_path;
  } else if (named(location.env_path)) {
    path = *location.env_path;
  } else {
    auto text = read_bounded_file(location.default_path, kMaxPolicyFileBytes);
    if (!text) return std::unexpected(text.error());
    if (!text->has_value())
      return LoadedPolicy{default_policy(location.workdir), "built-in default"};
    auto policy = load_policy_text(**text, location.default_path);
    if (!policy) return std::unexpected(policy.error());
    return LoadedPolicy{std::move(*policy), location.default_path};
  }
  auto policy = load_policy_file(path);
  if (!policy) return std::unexpected(policy.error());
  return LoadedPolicy{std::move(*policy), path};
}

}  // namespace openshell::policy
