// The SFTP server's packet path: framing (next_frame), the bounds-checked
// reader, and Session::handle for every request type, against a real but
// disposable filesystem. Seeds: tests/fuzz/corpus/sftp (streams of packets as
// OpenSSH's sftp sends them).
//
// Session::handle opens, writes, renames and removes whatever paths the
// input names, and the harness runs as root. So each input is served inside
// a chroot whose root is a small tmpfs that exists only in this process's own
// mount namespace (it is detached from every path right after it is made),
// and is emptied after each input so a crash reproduces from its input
// alone. The harness leaves the chroot again before any sanitizer report, so
// the report is symbolized and libFuzzer can write the crashing input.
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "sftp_protocol.h"
#include "sftp_server.h"

namespace {

int g_outside_root = -1;  // "/" of the mount namespace, O_PATH
int g_outside_cwd = -1;   // the directory libFuzzer was started in
int g_scratch = -1;       // the tmpfs root, O_DIRECTORY
bool g_inside = false;

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "sftp_fuzzer: %s: %s\n", what, std::strerror(errno));
  std::abort();
}

void enter() {
  if (fchdir(g_scratch) != 0 || chroot(".") != 0) die("enter the scratch root");
  g_inside = true;
}

void leave() {
  if (!g_inside) return;
  if (fchdir(g_outside_root) != 0 || chroot(".") != 0 || fchdir(g_outside_cwd) != 0) {
    die("leave the scratch root");
  }
  g_inside = false;
}

// Removes everything below the directory `dir` (not `dir` itself).
void empty_directory(int dir) {
  int copy = dup(dir);
  if (copy < 0) die("dup");
  DIR* d = fdopendir(copy);
  if (!d) die("fdopendir");
  while (dirent* e = readdir(d)) {
    std::string_view name = e->d_name;
    if (name == "." || name == "..") continue;
    if (unlinkat(dir, e->d_name, 0) == 0) continue;
    int child = openat(dir, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (child >= 0) {
      fchmod(child, 0700);
      empty_directory(child);
      close(child);
    }
    if (unlinkat(dir, e->d_name, AT_REMOVEDIR) != 0) die("empty the scratch root");
  }
  closedir(d);
}

void make_scratch_root() {
  if (unshare(CLONE_NEWNS) != 0) die("unshare(CLONE_NEWNS) (run as root)");
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) die("make / private");
  const char* tmp = std::getenv("TMPDIR");
  std::string where = std::string(tmp && *tmp ? tmp : "/tmp") + "/sftp-fuzz.XXXXXX";
  if (!mkdtemp(where.data())) die("mkdtemp");
  // Small on purpose: writes past it get ENOSPC, an answer the server must
  // turn into a status too.
  if (mount("sftp-fuzz", where.c_str(), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
            "size=4m,nr_inodes=1024,mode=0755") != 0) {
    die("mount tmpfs");
  }
  g_scratch = open(where.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (g_scratch < 0) die("open scratch");
  // Reachable from now on only through g_scratch.
  if (umount2(where.c_str(), MNT_DETACH) != 0) die("detach scratch");
  rmdir(where.c_str());
  g_outside_root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  g_outside_cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (g_outside_root < 0 || g_outside_cwd < 0) die("open /");
}

}  // namespace

// Called by ASan and UBSan before they print a report.
extern "C" void __asan_on_error() { leave(); }
extern "C" void __ubsan_on_report() { leave(); }

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  make_scratch_root();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view stream(reinterpret_cast<const char*>(data), size);
  enter();
  {
    openshell::sftp::Session session;
    bool too_large = false;
    bool fatal = false;
    while (!fatal) {
      auto frame = openshell::sftp::next_frame(stream, too_large);
      if (!frame) break;
      if (frame->consumed == 0 || frame->consumed > stream.size() ||
          frame->body.size() + 4 != frame->consumed) {
        std::abort();  // the framer's contract
      }
      std::string reply = session.handle(frame->body, fatal);
      stream.remove_prefix(frame->consumed);
      // A reply is itself one whole frame.
      if (!reply.empty()) {
        bool reply_too_large = false;
        auto echo = openshell::sftp::next_frame(reply, reply_too_large);
        if (!echo || echo->consumed != reply.size()) std::abort();
      }
    }
  }  // the session's descriptors are closed here
  leave();
  empty_directory(g_scratch);
  return 0;
}
