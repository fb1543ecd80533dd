// The policy loader (YAML and JSON go through the same parser) and, for what
// it accepts, the compiler from the validated model to the sandbox plan.
// Seeds: tests/fuzz/corpus/policy (the fixtures of tests/policy).
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <string_view>

#include "sandbox-policy/compile.h"
#include "sandbox-policy/load.h"

namespace {

namespace policy = openshell::policy;

// compile() reads <image_root>/etc/passwd and etc/group: give it a fixed
// image so that results do not depend on the machine.
std::string g_image_root;

void remove_image_root() {
  if (!g_image_root.empty()) std::filesystem::remove_all(g_image_root);
}

void make_image_root() {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/policy-fuzz.XXXXXX";
  if (!mkdtemp(pattern.data())) {
    std::perror("policy_fuzzer: mkdtemp");
    std::abort();
  }
  g_image_root = pattern;
  std::atexit(remove_image_root);
  std::filesystem::create_directories(g_image_root + "/etc");
  std::ofstream(g_image_root + "/etc/passwd")
      << "root:x:0:0:root:/root:/bin/sh\n"
         "sandbox:x:1000:1000:sandbox:/sandbox:/bin/sh\n"
         "agent:x:1001:1001::/home/agent:/bin/bash\n";
  std::ofstream(g_image_root + "/etc/group") << "root:x:0:\nsandbox:x:1000:\nagent:x:1001:\n";
}

// A stand-in for lstat that every path answers the same way on every run:
// the kind follows from the path's bytes, so all kinds are reached.
policy::PathKind probe(const std::string& path) {
  if (path.empty()) return policy::PathKind::kMissing;
  switch (std::hash<std::string>{}(path) % 8) {
    case 0: return policy::PathKind::kMissing;
    case 1: return policy::PathKind::kSymlink;
    case 2: return policy::PathKind::kOther;
    case 3:
    case 4: return policy::PathKind::kFile;
    default: return policy::PathKind::kDirectory;
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  make_image_root();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > policy::kMaxPolicyFileBytes) return -1;  // load_policy_file's bound
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto loaded = policy::load_policy_text(text, "fuzz.yaml");
  if (!loaded) {
    // Every refusal must say where and what; an empty message is a bug.
    if (loaded.error().message.empty()) std::abort();
    return 0;
  }
  policy::CompileInputs inputs;
  inputs.image_root = g_image_root;
  inputs.supervisor_binary = "/opt/openshell/bin/openshell-supervisor";
  inputs.path_probe = probe;
  (void)policy::compile(*loaded, inputs);
  return 0;
}
