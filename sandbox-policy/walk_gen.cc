// Build-time generator of policy_walk.cc: reads policy.proto's descriptor
// (protoc --descriptor_set_out) and writes one fill() per message, calling
// walk::Walker for every field (walk.h). The shipped binary then loads a
// policy without protobuf reflection, whose first use alone cost 0.5 ms of
// the start-up (registering and building every linked .proto), and links
// protobuf-lite.
//
// Usage: walk_gen POLICY.desc OUTPUT.cc
#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

namespace {

namespace pb = google::protobuf;

constexpr const char* kFreeForm = "openshell.policy.proto.Value";

[[noreturn]] void die(const std::string& message) {
  std::fprintf(stderr, "walk_gen: %s\n", message.c_str());
  std::exit(1);
}

// The C++ name of a generated type: proto::Outer::Inner.
std::string cpp_type(const std::string& full_name, const std::string& package) {
  std::string name = full_name.substr(package.size() + 1);
  std::string out = "proto::";
  for (char c : name) {
    if (c == '.') {
      out += "::";
    } else {
      out += c;
    }
  }
  return out;
}

// protoc's accessor name is the field name, which must be lower case and
// not a C++ keyword (protoc would append '_', which this does not mirror).
std::string accessor(const pb::FieldDescriptor* field) {
  static const std::set<std::string> kKeywords = {
      "alignas", "and",    "asm",      "auto",     "bool",     "break",  "case",   "catch",
      "char",    "class",  "const",    "continue", "default",  "delete", "do",     "double",
      "else",    "enum",   "explicit", "export",   "extern",   "false",  "float",  "for",
      "friend",  "goto",   "if",       "inline",   "int",      "long",   "new",    "not",
      "or",      "private", "protected", "public", "register", "return", "short",  "signed",
      "sizeof",  "static", "struct",   "switch",   "template", "this",   "throw",  "true",
      "try",     "typedef", "union",   "unsigned", "using",    "virtual", "void",  "volatile",
      "while"};
  const std::string& name = field->name();
  if (kKeywords.count(name) != 0 ||
      std::any_of(name.begin(), name.end(), [](char c) { return std::isupper(c) != 0; })) {
    die("field " + field->full_name() + ": teach walk_gen protoc's accessor for this name");
  }
  return name;
}

// COMPATIBILITY_BEST_EFFORT -> best_effort; the *_UNSPECIFIED zero is not
// accepted from a file.
std::string enum_table(const pb::EnumDescriptor* type) {
  const std::string& zero = type->value(0)->name();
  const std::string suffix = "UNSPECIFIED";
  if (zero.size() < suffix.size() || zero.compare(zero.size() - suffix.size(), suffix.size(), suffix) != 0) {
    die("enum " + type->full_name() + ": its zero value must be *_UNSPECIFIED");
  }
  std::string prefix = zero.substr(0, zero.size() - suffix.size());
  std::ostringstream out;
  for (int i = 1; i < type->value_count(); ++i) {
    const pb::EnumValueDescriptor* value = type->value(i);
    std::string text = value->name().substr(prefix.size());
    for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out << "{\"" << text << "\", " << value->number() << "}, ";
  }
  return out.str();
}

std::string table_name(const pb::EnumDescriptor* type) {
  std::string name = "k" + type->full_name();
  std::replace(name.begin(), name.end(), '.', '_');
  return name;
}

// Code turning the node `node` at path `path` into a scalar of the field's
// type and handing it to `set` (a C++ statement using `x`).
std::string scalar(const pb::FieldDescriptor* field, const std::string& node,
                   const std::string& path, const std::string& set, const std::string& package) {
  const std::string at = node + ", " + path;
  switch (field->cpp_type()) {
    case pb::FieldDescriptor::CPPTYPE_STRING:
      return "walk::then(w.string(" + at + "), [&](std::string x) { " + set + " })";
    case pb::FieldDescriptor::CPPTYPE_BOOL:
      return "walk::then(w.boolean(" + at + "), [&](bool x) { " + set + " })";
    case pb::FieldDescriptor::CPPTYPE_UINT32:
      return "walk::then(w.uint32(" + at + "), [&](uint32_t x) { " + set + " })";
    case pb::FieldDescriptor::CPPTYPE_ENUM:
      return "walk::then(w.enumeration(" + at + ", " + table_name(field->enum_type()) +
             "), [&](int n) { auto x = static_cast<" +
             cpp_type(field->enum_type()->full_name(), package) + ">(n); " + set + " })";
    default:
      die("field " + field->full_name() + ": type not supported by the loader");
  }
}

// The statement filling `field` of `m` from node `v` at path `c`. Depths
// count as the document nests: the message's is `depth`, its fields' are
// `depth + 1` (Walker::value bounds those of free-form values).
std::string field_body(const pb::FieldDescriptor* field, const std::string& package) {
  const std::string name = accessor(field);
  auto is_free = [](const pb::Descriptor* type) { return type->full_name() == kFreeForm; };
  if (field->is_map()) {
    const pb::FieldDescriptor* key = field->message_type()->map_key();
    const pb::FieldDescriptor* value = field->message_type()->map_value();
    if (key->cpp_type() != pb::FieldDescriptor::CPPTYPE_STRING) {
      die("map " + field->full_name() + ": only string keys are supported");
    }
    std::string slot = "(*m.mutable_" + name + "())[entry]";
    if (value->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE) {
      if (is_free(value->message_type())) die("map " + field->full_name() + ": of free-form values");
      return "return w.map(v, c, [&](const std::string& entry, const walk::Node& e, const std::string& p) {\n"
             "        return fill(w, e, " + slot + ", p, depth + 2);\n      });";
    }
    // A null value is refused here, not kept as a default: `KEY:` alone.
    return "return w.map(v, c, [&](const std::string& entry, const walk::Node& e, const std::string& p) {\n"
           "        return " + scalar(value, "e", "p", slot + " = std::move(x);", package) + ";\n      });";
  }
  if (field->is_repeated()) {
    std::string each;
    if (field->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE) {
      each = is_free(field->message_type())
                 ? "w.value(e, *m.add_" + name + "(), p, depth + 2)"
                 : "fill(w, e, *m.add_" + name + "(), p, depth + 2)";
    } else {
      each = scalar(field, "e", "p", "m.add_" + name + "(std::move(x));", package);
    }
    return "return w.list(v, c, [&](const walk::Node& e, const std::string& p) {\n"
           "        return " + each + ";\n      });";
  }
  if (field->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE) {
    if (is_free(field->message_type())) return "return w.value(v, *m.mutable_" + name + "(), c, depth + 1);";
    return "return fill(w, v, *m.mutable_" + name + "(), c, depth + 1);";
  }
  return "return " + scalar(field, "v", "c", "m.set_" + name + "(std::move(x));", package) + ";";
}

std::string fill_signature(const pb::Descriptor* type, const std::string& package) {
  return "PolicyResult<void> fill(walk::Walker& w, const walk::Node& node, " +
         cpp_type(type->full_name(), package) + "& m, const std::string& path, size_t depth)";
}

void generate(const pb::FileDescriptor* file, std::ostream& out) {
  const std::string& package = file->package();
  std::vector<const pb::Descriptor*> messages;
  std::vector<const pb::EnumDescriptor*> enums;
  for (int i = 0; i < file->message_type_count(); ++i) {
    const pb::Descriptor* type = file->message_type(i);
    if (type->full_name() == kFreeForm || type->full_name() == package + ".Struct" ||
        type->full_name() == package + ".ListValue") {
      continue;  // the free-form value's own parts: Walker::value fills them
    }
    messages.push_back(type);
    for (int j = 0; j < type->enum_type_count(); ++j) enums.push_back(type->enum_type(j));
  }

  out << "// Generated by walk_gen from " << file->name() << ". Do not edit.\n"
      << "#include <string>\n\n#include \"policy.pb.h\"\n#include \"walk.h\"\n\n"
      << "namespace openshell::policy {\nnamespace {\n\n";
  for (const pb::EnumDescriptor* type : enums) {
    out << "constexpr walk::EnumSpelling " << table_name(type) << "[] = {" << enum_table(type)
        << "};\n";
  }
  out << "\n";
  for (const pb::Descriptor* type : messages) out << fill_signature(type, package) << ";\n";
  for (const pb::Descriptor* type : messages) {
    std::string known;
    for (int i = 0; i < type->field_count(); ++i) {
      known += (i ? ", " : "") + type->field(i)->name();
    }
    out << "\n" << fill_signature(type, package) << " {\n"
        << "  (void)depth;  // used by messages and free-form values only\n"
        << "  return w.message(node, path, \"" << known << "\",\n"
        << "      [&](const std::string& key, const walk::Node& v, const std::string& c)"
        << " -> std::optional<PolicyResult<void>> {\n";
    for (int i = 0; i < type->field_count(); ++i) {
      const pb::FieldDescriptor* field = type->field(i);
      out << "    if (key == \"" << field->name() << "\") {\n"
          << "      return w.field(v, c, [&]() -> PolicyResult<void> {\n      "
          << field_body(field, package) << "\n      });\n    }\n";
    }
    out << "    return std::nullopt;\n  });\n}\n";
  }
  out << "\n}  // namespace\n\n"
      << "PolicyResult<void> walk::fill(walk::Walker& w, const walk::Node& node, "
      << "proto::SandboxPolicy& m, const std::string& path, size_t depth) {\n"
      << "  return policy::fill(w, node, m, path, depth);\n}\n\n"
      << "}  // namespace openshell::policy\n";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) die("usage: walk_gen POLICY.desc OUTPUT.cc");
  std::ifstream in(argv[1], std::ios::binary);
  pb::FileDescriptorSet set;
  if (!in || !set.ParseFromIstream(&in)) die(std::string("cannot read ") + argv[1]);
  pb::DescriptorPool pool;
  const pb::FileDescriptor* file = nullptr;
  for (const pb::FileDescriptorProto& proto : set.file()) {
    file = pool.BuildFile(proto);
    if (file == nullptr) die("cannot build " + proto.name());
  }
  if (file == nullptr || file->FindMessageTypeByName("SandboxPolicy") == nullptr) {
    die(std::string(argv[1]) + " does not describe policy.proto");
  }
  std::ostringstream text;
  generate(file, text);
  std::ofstream out(argv[2]);
  out << text.str();
  if (!out.flush()) die(std::string("cannot write ") + argv[2]);
  return 0;
}
