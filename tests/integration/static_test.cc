// The release binary is fully static and runs where there is nothing else:
// no PT_INTERP, no DT_NEEDED, and it works in an empty root.
#include <elf.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include "harness.h"

namespace openshell::test {
namespace {

TEST(StaticBinary, HasNoInterpreterAndNoNeededLibraries) {
  std::string image = read_file(supervisor_binary());
  ASSERT_GE(image.size(), sizeof(Elf64_Ehdr));
  const auto* header = reinterpret_cast<const Elf64_Ehdr*>(image.data());
  ASSERT_EQ(std::memcmp(header->e_ident, ELFMAG, SELFMAG), 0);
  ASSERT_EQ(header->e_ident[EI_CLASS], ELFCLASS64);
  for (int i = 0; i < header->e_phnum; ++i) {
    const auto* ph = reinterpret_cast<const Elf64_Phdr*>(image.data() + header->e_phoff +
                                                         i * header->e_phentsize);
    EXPECT_NE(ph->p_type, static_cast<Elf64_Word>(PT_INTERP)) << "dynamically linked";
    if (ph->p_type != PT_DYNAMIC) continue;
    // A static-pie has a dynamic section for relocations, but never DT_NEEDED.
    for (size_t off = ph->p_offset; off + sizeof(Elf64_Dyn) <= ph->p_offset + ph->p_filesz;
         off += sizeof(Elf64_Dyn)) {
      const auto* dyn = reinterpret_cast<const Elf64_Dyn*>(image.data() + off);
      if (dyn->d_tag == DT_NULL) break;
      EXPECT_NE(dyn->d_tag, DT_NEEDED) << "needs a shared library";
    }
  }
}

// The goal is 8 MiB stripped (7,190,600 B with LTO, -Os for the code that
// runs once and protobuf-lite). The budget is today's size with a little
// room, so that a cut undone fails here: libcrypto's unwind tables back
// (+385 KB), LTO off (+733 KB), the -Os code back to -O3 (+241 KB),
// protobuf's full runtime back (+1,162 KB). Lower it as cuts land.
// tests/bench/size_report.sh says where the bytes are.
TEST(StaticBinary, StaysWithinItsSizeBudget) {
  constexpr uintmax_t kBudget = 7'300'000;
  uintmax_t size = std::filesystem::file_size(supervisor_binary());
  EXPECT_LE(size, kBudget) << "stripped openshell-supervisor grew past its budget: "
                           << size << " B (tests/bench/size_report.sh)";
}

TEST(StaticBinary, RunsInAnEmptyRootWithAStaticBusyboxAsTheMainProcess) {
  std::string root = make_temp_dir();
  ::chmod(root.c_str(), 0755);
  std::filesystem::copy_file(supervisor_binary(), root + "/openshell-supervisor");
  std::filesystem::create_directories(root + "/usr/bin");
  std::filesystem::copy_file(busybox_binary(), root + "/usr/bin/busybox");
  ::chmod((root + "/openshell-supervisor").c_str(), 0755);
  ::chmod((root + "/usr/bin/busybox").c_str(), 0755);

  // What any container runtime provides even for a scratch image: /proc
  // mounted, a /tmp mountpoint, and the root being a mount of its own.
  ::mkdir((root + "/proc").c_str(), 0555);
  ::mkdir((root + "/tmp").c_str(), 01777);
  ::mkdir((root + "/sandbox").c_str(), 0755);

  Options options;
  options.env = {{"OPENSHELL_SSH_LISTEN", "off"}};
  options.argv = {"/openshell-supervisor",     "--", "/usr/bin/busybox", "sh", "-c",
                  "echo hello from $$; exit 3"};
  options.before_exec = [root] {
    return ::unshare(CLONE_NEWNS) == 0 &&
           ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0 &&
           ::mount(root.c_str(), root.c_str(), nullptr, MS_BIND, nullptr) == 0 &&
           ::chdir(root.c_str()) == 0 && ::syscall(SYS_pivot_root, ".", ".") == 0 &&
           ::umount2(".", MNT_DETACH) == 0 && ::chdir("/") == 0 &&
           ::mount("proc", "/proc", "proc", 0, nullptr) == 0;
  };
  auto result = run(options);
  EXPECT_EQ(result.exit_code, 3) << result.err;
  EXPECT_EQ(result.out, "hello from 2\n");

  Options version;
  version.argv = {"/openshell-supervisor", "version"};
  version.before_exec = options.before_exec;
  auto printed = run(version);
  EXPECT_EQ(printed.exit_code, 0);
  EXPECT_NE(printed.out.find("libssh"), std::string::npos) << "libssh is linked in";
  remove_tree(root);
}

TEST(CopySelf, InstallsIntoADirectoryAndTheCopyRuns) {
  std::string dir = make_temp_dir();
  auto result = run(supervisor({"copy-self", dir}));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  std::string installed = dir + "/openshell-supervisor";
  struct stat st {};
  ASSERT_EQ(::stat(installed.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u);
  EXPECT_EQ(read_file(installed), read_file(supervisor_binary()));
  Options version;
  version.argv = {installed, "version"};
  EXPECT_EQ(run(version).exit_code, 0);
  // Only the binary: no temporary file left behind.
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir), {}), 1);
  remove_tree(dir);
}

TEST(CopySelf, InstallsToAFilePathAndReplacesAtomically) {
  std::string dir = make_temp_dir();
  write_file(dir + "/target", "old");
  auto result = run(supervisor({"copy-self", dir + "/target"}));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(read_file(dir + "/target"), read_file(supervisor_binary()));
  remove_tree(dir);
}

TEST(CopySelf, AFailureLeavesNoPartialFile) {
  // A 64 KiB filesystem cannot hold the binary: the write fails midway.
  std::string dir = make_temp_dir();
  Options options;
  options.argv = {"/bin/sh", "-c",
                  supervisor_binary() + " copy-self " + dir +
                      "/openshell-supervisor; echo rc=$?; ls -A " + dir};
  options.new_pid_namespace = false;
  options.before_exec = [dir] {
    return ::unshare(CLONE_NEWNS) == 0 &&
           ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0 &&
           ::mount("tmpfs", dir.c_str(), "tmpfs", 0, "size=64k") == 0;
  };
  auto result = run(options);
  EXPECT_EQ(result.out, "rc=7\n") << "exit code 7 and an empty directory; stderr: " << result.err;
  EXPECT_NE(result.err.find("copy-self"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("No space left"), std::string::npos) << result.err;
  remove_tree(dir);
}

TEST(CopySelf, NeedsADestination) {
  auto result = run(supervisor({"copy-self"}));
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("copy-self DEST"), std::string::npos) << result.err;
}

TEST(Cli, VersionAndHelp) {
  auto version = run(supervisor({"version"}));
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_EQ(version.out.rfind("openshell-supervisor ", 0), 0u) << version.out;
  auto help = run(supervisor({"--help"}));
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("copy-self"), std::string::npos);
  auto bad = run(supervisor({"--frobnicate"}));
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--frobnicate"), std::string::npos);
}

}  // namespace
}  // namespace openshell::test
