#include "copy_self.h"

#include <fcntl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>

#include "unique_fd.h"

namespace openshell {
namespace {

constexpr const char* kBinaryName = "openshell-supervisor";

Result<void> copy_contents(int from, int to) {
  struct stat st {};
  if (::fstat(from, &st) != 0) return fail_errno("fstat /proc/self/exe");
  off_t offset = 0;
  while (offset < st.st_size) {
    ssize_t n = ::sendfile(to, from, &offset, static_cast<size_t>(st.st_size - offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_errno("copy");
    if (n == 0) return fail("copy: source ended early");
  }
  return {};
}

// Runs `PATH version` with an empty environment and waits for it.
Result<void> prove_runs(const std::string& path) {
  pid_t pid = ::fork();
  if (pid < 0) return fail_errno("fork");
  if (pid == 0) {
    int devnull = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (devnull >= 0) ::dup2(devnull, STDOUT_FILENO);
    const char* argv[] = {path.c_str(), "version", nullptr};
    const char* envp[] = {nullptr};
    ::execve(path.c_str(), const_cast<char**>(argv), const_cast<char**>(envp));
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return fail_errno("waitpid");
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return fail("the copy at " + path + " does not run (`version` wait status " +
                std::to_string(status) + ")");
  }
  return {};
}

}  // namespace

Result<std::string> copy_self(const std::string& dest) {
  if (dest.empty()) return fail("copy-self: empty destination");
  std::string target = dest;
  struct stat st {};
  if (::stat(dest.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    target = dest + (dest.ends_with("/") ? "" : "/") + kBinaryName;
  }
  auto slash = target.rfind('/');
  std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : target.substr(0, slash));

  UniqueFd self(::open("/proc/self/exe", O_RDONLY | O_CLOEXEC));
  if (!self) return fail_errno("open /proc/self/exe");

  // mkstemp in the destination's directory so rename(2) stays atomic.
  std::string temp = target + ".tmp-XXXXXX";
  UniqueFd out(::mkostemp(temp.data(), O_CLOEXEC));
  if (!out) return fail_errno("create a temporary file in " + dir);

  auto cleanup_on_error = [&](Error error) -> Result<std::string> {
    ::unlink(temp.c_str());
    return std::unexpected(std::move(error));
  };
  if (auto copied = copy_contents(self.get(), out.get()); !copied) {
    return cleanup_on_error(copied.error());
  }
  if (::fchmod(out.get(), 0755) != 0) return cleanup_on_error({"chmod " + temp, errno});
  if (::fsync(out.get()) != 0) return cleanup_on_error({"fsync " + temp, errno});
  out.reset();
  // Proving the temporary copy before the rename means DEST never holds a
  // binary that does not run.
  if (auto ran = prove_runs(temp); !ran) return cleanup_on_error(ran.error());
  if (::rename(temp.c_str(), target.c_str()) != 0) {
    return cleanup_on_error({"rename " + temp + " to " + target, errno});
  }
  UniqueFd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir_fd) ::fsync(dir_fd.get());  // make the rename durable
  return target;
}

}  // namespace openshell
