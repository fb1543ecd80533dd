// YAML and JSON (JSON is YAML in flow style: the same libyaml parser)
// are parsed once into a tree of nodes and walked into the proto schema by
// code generated from policy.proto (walk.h), so the schema is the only list
// of accepted keys. Every value's position is remembered under its dotted
// key so that validation errors, found later on the model, can still point
// at a line and column.
#include "load.h"

#include "identity.h"
#include "policy.pb.h"
#include "validate.h"
#include "walk.h"

namespace openshell::policy {

PolicyResult<Policy> load_policy_text(std::string_view text, const std::string& file_name) {
  if (text.size() > kMaxPolicyFileBytes) {
    return std::unexpected(
        PolicyError{file_name, 0, 0, "",
                    "policy larger than " + std::to_string(kMaxPolicyFileBytes) + " bytes"});
  }
  auto document = walk::Document::parse(std::string(text), file_name);
  if (!document) return std::unexpected(document.error());
  const walk::Node& root = document->root();
  walk::Walker walker(file_name);
  if (root.kind == walk::Node::Kind::kNull) {
    return walker.error(root, "", "empty policy: `version: 1` is required");
  }
  proto::SandboxPolicy message;
  if (auto r = walk::fill(walker, root, message, "", 0); !r) return std::unexpected(r.error());
  auto model = to_model(message);
  if (!model) {
    PolicyError e = model.error();
    walk::Position p = walker.locate(e.key);
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
