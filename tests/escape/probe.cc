// The escape probe: a static program that escape_test.cc runs as the main
// process of a real sandbox. Each invocation makes one attempt,
//
//   probe ATTEMPT [ARGS...]
//
// and prints one line
//
//   ATTEMPT result=<ok|errno NAME|signal N> detail=TEXT
//
// then exits 0; it exits 2 only for an unknown attempt or missing argument.
// The probe reports what the kernel did and judges nothing: the test holds
// the expectations. Attempts that a seccomp kill would end run in a forked
// child, so that the probe survives to report the signal.
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/bpf.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/io_uring.h>
#include <linux/keyctl.h>
#include <linux/netlink.h>
#include <linux/perf_event.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <linux/securebits.h>
#include <linux/vm_sockets.h>
#include <net/if.h>
#include <pthread.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/statvfs.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>
#include <vector>

namespace {

// AF_BLUETOOTH's protocol numbers are in bluetooth/bluetooth.h, which
// Debian ships only with libbluetooth-dev.
constexpr int kBtProtoL2cap = 0;
// x86_64 marks x32 syscalls by this bit in the number (asm/unistd.h).
constexpr long kX32SyscallBit = 0x40000000;

struct Outcome {
  enum Kind { kOk, kErrno, kSignal } kind = kOk;
  int value = 0;
  std::string detail;
};

Outcome ok(std::string detail = "") {
  return {Outcome::kOk, 0, std::move(detail)};
}
Outcome failed(int err, std::string detail = "") {
  return {Outcome::kErrno, err, std::move(detail)};
}
// A syscall's return value: -1 means errno.
Outcome from(long rc, std::string detail = "") {
  return rc < 0 ? failed(errno, std::move(detail)) : ok(std::move(detail));
}

// Runs `attempt` in a forked child. The child exits with 0 (it returned 0),
// 100 + errno (it failed), or dies of a signal.
template <typename F>
Outcome in_child(F attempt) {
  pid_t pid = ::fork();
  if (pid < 0) return failed(errno, "fork");
  if (pid == 0) {
    long rc = attempt();
    ::_exit(rc < 0 ? 100 + errno : 0);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(status)) return {Outcome::kSignal, WTERMSIG(status), ""};
  int code = WEXITSTATUS(status);
  return code == 0 ? ok() : failed(code - 100);
}

std::string one_line(std::string text) {
  for (char& c : text) {
    if (c == '\n' || c == '\0') c = '|';
  }
  return text;
}

void append_word(std::string& line, const std::string& word) {
  if (!line.empty()) line += ' ';
  line += word;
}

std::string read_text(const char* path, size_t limit = 4096) {
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  std::string out(limit, '\0');
  ssize_t n = ::read(fd, out.data(), limit);
  ::close(fd);
  out.resize(n > 0 ? static_cast<size_t>(n) : 0);
  return out;
}

// A child that only waits to be killed: the target of attempts on a sibling.
pid_t sleeping_child() {
  pid_t pid = ::fork();
  if (pid == 0) {
    ::pause();
    ::_exit(0);
  }
  return pid;
}

void end_child(pid_t pid) {
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
}

// --- Processes outside the sandbox, and the sandbox init -------------------

// Every process this /proc shows, as pid:comm:ppid.
Outcome proc_pids() {
  std::string detail;
  DIR* dir = ::opendir("/proc");
  if (dir == nullptr) return failed(errno, "opendir /proc");
  while (dirent* entry = ::readdir(dir)) {
    if (std::atoi(entry->d_name) <= 0) continue;
    std::string base = std::string("/proc/") + entry->d_name;
    std::string comm = read_text((base + "/comm").c_str());
    if (!comm.empty() && comm.back() == '\n') comm.pop_back();
    std::string status = read_text((base + "/status").c_str());
    std::string ppid = "?";
    if (auto at = status.find("\nPPid:\t"); at != std::string::npos) {
      ppid = status.substr(at + 7, status.find('\n', at + 7) - at - 7);
    }
    append_word(detail, std::string(entry->d_name) + ":" + comm + ":" + ppid);
  }
  ::closedir(dir);
  return ok(detail);
}

Outcome ptrace_pid(pid_t pid) {
  return from(::syscall(SYS_ptrace, PTRACE_ATTACH, pid, nullptr, nullptr));
}

Outcome ptrace_sibling() {
  pid_t child = sleeping_child();
  Outcome out = ptrace_pid(child);
  end_child(child);
  return out;
}

Outcome process_vm_readv_sibling() {
  static char buffer[16] = "secret";
  pid_t child = sleeping_child();
  char into[16];
  iovec local{into, sizeof into}, remote{buffer, sizeof buffer};
  Outcome out = from(::syscall(SYS_process_vm_readv, child, &local, 1, &remote, 1, 0));
  end_child(child);
  return out;
}

// Opens and reads a /proc file of another process.
Outcome read_proc(const char* path) {
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return failed(errno, "open");
  char buffer[256];
  ssize_t n = ::pread(fd, buffer, sizeof buffer, 0);
  ::close(fd);
  if (n < 0) return failed(errno, "read");
  return ok(std::to_string(n) + " bytes");
}

// pidfd_getfd(2) copies a descriptor out of another process; the init's
// fd 3 is its control socket to the supervisor.
Outcome pidfd_getfd_init() {
  long pidfd = ::syscall(SYS_pidfd_open, 1, 0);
  if (pidfd < 0) return failed(errno, "pidfd_open");
  long fd = ::syscall(SYS_pidfd_getfd, pidfd, 3, 0);
  if (fd >= 0) ::close(static_cast<int>(fd));
  ::close(static_cast<int>(pidfd));
  return from(fd);
}

// --- Signals ----------------------------------------------------------------

// Whether the sandbox init is still there and not stopped, a moment after
// a signal (proc(5): the state is the field after the parenthesised name).
std::string init_state() {
  ::usleep(100'000);
  std::string stat = read_text("/proc/1/stat");
  auto close = stat.rfind(')');
  if (close == std::string::npos || close + 2 >= stat.size()) return "init gone";
  char state = stat[close + 2];
  if (state == 'Z' || state == 'X' || state == 'T' || state == 't') {
    return std::string("init state ") + state;
  }
  return "init alive";
}

// SIGNAL to the sandbox init with kill(2), or through a pidfd
// (pidfd_send_signal(2)), then the init's state.
Outcome signal_init(const char* name, bool through_pidfd) {
  int sig = 0;
  for (int n = 1; n < NSIG; ++n) {
    const char* abbrev = ::sigabbrev_np(n);
    if (abbrev != nullptr && std::strcmp(abbrev, name) == 0) sig = n;
  }
  if (sig == 0) return failed(EINVAL, std::string("unknown signal ") + name);
  long rc;
  if (through_pidfd) {
    long pidfd = ::syscall(SYS_pidfd_open, 1, 0);
    if (pidfd < 0) return failed(errno, "pidfd_open");
    rc = ::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0);
    int err = errno;
    ::close(static_cast<int>(pidfd));
    errno = err;
  } else {
    rc = ::kill(1, sig);
  }
  int err = errno;
  std::string state = init_state();
  errno = err;
  return from(rc, state);
}

Outcome signal_sibling() {
  pid_t child = sleeping_child();
  Outcome out = from(::kill(child, 0));
  end_child(child);
  return out;
}

// --- Mounts and namespaces ----------------------------------------------------

Outcome clone_flags(unsigned long flags) {
  long pid = ::syscall(SYS_clone, flags | SIGCHLD, nullptr, nullptr, nullptr, 0L);
  if (pid == 0) ::_exit(0);
  if (pid > 0) ::waitpid(static_cast<pid_t>(pid), nullptr, 0);
  return from(pid);
}

// unshare(2) of the namespace that /proc/self/ns calls `name`.
Outcome unshare_named(const char* name) {
  constexpr std::pair<const char*, int> kFlags[] = {
      {"user", CLONE_NEWUSER},     {"mnt", CLONE_NEWNS},    {"net", CLONE_NEWNET},
      {"pid", CLONE_NEWPID},       {"ipc", CLONE_NEWIPC},   {"uts", CLONE_NEWUTS},
      {"cgroup", CLONE_NEWCGROUP}, {"time", CLONE_NEWTIME},
  };
  for (const auto& [known, flag] : kFlags) {
    if (std::strcmp(known, name) == 0) return from(::unshare(flag));
  }
  return failed(EINVAL, std::string("unknown namespace ") + name);
}

Outcome setns_to(const char* name) {
  std::string path = std::string("/proc/self/ns/") + name;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return failed(errno, "open " + path);
  Outcome out = from(::setns(fd, 0));
  ::close(fd);
  return out;
}

Outcome clone3() {
  clone_args args{};
  args.exit_signal = SIGCHLD;
  long pid = ::syscall(SYS_clone3, &args, sizeof args);
  if (pid == 0) ::_exit(0);
  if (pid > 0) ::waitpid(static_cast<pid_t>(pid), nullptr, 0);
  return from(pid);
}

// --- Kernel interfaces -----------------------------------------------------

Outcome bpf_prog_load() {
  bpf_insn program[] = {{BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 0},
                        {BPF_JMP | BPF_EXIT, 0, 0, 0, 0}};
  bpf_attr attr{};
  attr.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
  attr.insns = reinterpret_cast<uintptr_t>(program);
  attr.insn_cnt = 2;
  attr.license = reinterpret_cast<uintptr_t>("GPL");
  long fd = ::syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof attr);
  if (fd >= 0) ::close(static_cast<int>(fd));
  return from(fd);
}

Outcome perf_event_open() {
  perf_event_attr attr{};
  attr.type = PERF_TYPE_SOFTWARE;
  attr.size = sizeof attr;
  attr.config = PERF_COUNT_SW_CPU_CLOCK;
  attr.exclude_kernel = 1;
  long fd = ::syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0);
  if (fd >= 0) ::close(static_cast<int>(fd));
  return from(fd);
}

Outcome fd_syscall(long fd) {
  if (fd >= 0) ::close(static_cast<int>(fd));
  return from(fd);
}

Outcome io_uring_setup() {
  io_uring_params params{};
  return fd_syscall(::syscall(SYS_io_uring_setup, 4, &params));
}

Outcome name_to_handle_at() {
  struct {
    file_handle head;
    unsigned char bytes[MAX_HANDLE_SZ];
  } handle{};
  handle.head.handle_bytes = MAX_HANDLE_SZ;
  int mount_id = 0;
  return from(::syscall(SYS_name_to_handle_at, AT_FDCWD, "/proc", &handle, &mount_id, 0));
}

Outcome open_by_handle_at() {
  // A syntactically valid handle; whether it names anything never matters,
  // the call must not get as far as looking.
  struct {
    file_handle head;
    unsigned char bytes[8];
  } handle{};
  handle.head.handle_bytes = 8;
  handle.head.handle_type = 1;  // FILEID_INO32_GEN
  handle.bytes[0] = 2;          // inode 2: the root of most filesystems
  return fd_syscall(::syscall(SYS_open_by_handle_at, AT_FDCWD, &handle, O_RDONLY));
}

Outcome finit_module() {
  int fd = ::open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return failed(errno, "open /proc/self/exe");
  Outcome out = from(::syscall(SYS_finit_module, fd, "", 0));
  ::close(fd);
  return out;
}

Outcome socket_of(int domain, int type, int protocol) {
  return fd_syscall(::socket(domain, type | SOCK_CLOEXEC, protocol));
}

// An allow-everything filter: installing it would weaken nothing, so only
// the deny rule on installing filters can refuse it.
sock_filter allow_all[] = {BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
sock_fprog allow_all_program{1, allow_all};

// The x32 ABI: getpid (39) with the x32 bit.
Outcome x32_syscall() {
  return in_child([] { return ::syscall(39 | kX32SyscallBit); });
}

// The i386 ABI through int 0x80: getpid is 20 there (asm/unistd_32.h).
Outcome int80_syscall() {
  return in_child([] {
    long rc;
    asm volatile("int $0x80" : "=a"(rc) : "a"(20L) : "memory");
    if (rc < 0) {
      errno = static_cast<int>(-rc);
      return -1L;
    }
    return 0L;
  });
}

Outcome tiocsti() {
  char c = '#';
  std::string detail = ::isatty(0) ? "stdin is a terminal" : "stdin is not a terminal";
  return from(::ioctl(0, TIOCSTI, &c), detail);
}

// --- Identity and capabilities -----------------------------------------------

// Fields of /proc/self/status and the process's own view of its ids and
// securebits, as KEY=VALUE separated by spaces.
Outcome status() {
  std::string detail;
  std::string text = read_text("/proc/self/status", 16384);
  for (const char* key : {"Uid", "Gid", "Groups", "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb",
                          "NoNewPrivs", "Seccomp", "Seccomp_filters"}) {
    std::string head = "\n";
    head.append(key).append(":");
    auto at = text.find(head);
    if (at == std::string::npos) continue;
    std::string value = text.substr(at + head.size(), text.find('\n', at + 1) - at - head.size());
    std::string compact;
    for (char c : value) {
      if (c == '\t' || c == ' ') {
        if (!compact.empty() && compact.back() != ',') compact += ',';
      } else {
        compact += c;
      }
    }
    while (!compact.empty() && compact.back() == ',') compact.pop_back();
    detail += std::string(key) + "=" + compact + " ";
  }
  uid_t r, e, s;
  ::getresuid(&r, &e, &s);
  detail += "euid=" + std::to_string(e) + " ";
  detail += "securebits=" + std::to_string(::prctl(PR_GET_SECUREBITS, 0, 0, 0, 0)) + " ";
  rlimit core{};
  ::getrlimit(RLIMIT_CORE, &core);
  detail += "core=" + std::to_string(core.rlim_cur) + "," + std::to_string(core.rlim_max);
  return ok(detail);
}

// /proc/self/uid_map and gid_map, each line's three numbers joined by
// commas, lines by ';': uid_map=1000,1000,1 gid_map=1000,1000,1
Outcome id_maps() {
  std::string detail;
  for (const char* name : {"uid_map", "gid_map"}) {
    std::string text = read_text((std::string("/proc/self/") + name).c_str());
    std::string compact;
    char last = ',';
    for (char c : text) {
      char mapped = c == ' ' ? ',' : c == '\n' ? ';' : c;
      if (mapped == ',' && (last == ',' || last == ';')) continue;
      compact += mapped;
      last = mapped;
    }
    while (!compact.empty() && (compact.back() == ';' || compact.back() == ',')) compact.pop_back();
    append_word(detail, std::string(name) + "=" + compact);
  }
  return ok(detail);
}

Outcome capset_raise(int cap) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (::syscall(SYS_capget, &header, data) != 0) return failed(errno, "capget");
  data[cap / 32].effective |= 1u << (cap % 32);
  data[cap / 32].permitted |= 1u << (cap % 32);
  return from(::syscall(SYS_capset, &header, data));
}

// --- Files -----------------------------------------------------------------

Outcome write_file(const char* path) {
  int fd = ::open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return failed(errno);
  ssize_t n = ::write(fd, "escape\n", 7);
  int err = errno;
  ::close(fd);
  return n == 7 ? ok() : failed(err, "write");
}

Outcome read_file(const char* path) {
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return failed(errno);
  char buffer[512];
  ssize_t n = ::read(fd, buffer, sizeof buffer);
  int err = errno;
  ::close(fd);
  if (n < 0) return failed(err, "read");
  return ok(one_line(std::string(buffer, static_cast<size_t>(n))));
}

Outcome list_dir(const char* path) {
  DIR* dir = ::opendir(path);
  if (dir == nullptr) return failed(errno);
  std::string names;
  while (dirent* entry = ::readdir(dir)) {
    if (std::strcmp(entry->d_name, ".") == 0 || std::strcmp(entry->d_name, "..") == 0) continue;
    append_word(names, entry->d_name);
  }
  ::closedir(dir);
  return ok(names);
}

// The probe's own open descriptors, without the one listing them.
Outcome own_fds() {
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return failed(errno);
  std::string fds;
  while (dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] == '.' || std::atoi(entry->d_name) == ::dirfd(dir)) continue;
    append_word(fds, entry->d_name);
  }
  ::closedir(dir);
  return ok(fds);
}

Outcome environment() {
  std::string detail;
  for (char** entry = environ; *entry != nullptr; ++entry) append_word(detail, *entry);
  return ok(detail);
}

// --- Sockets and network -----------------------------------------------------

sockaddr_un abstract_address(const char* name, socklen_t* length) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  size_t n = std::strlen(name);
  std::memcpy(address.sun_path + 1, name, n);  // sun_path[0] = 0: abstract (unix(7))
  *length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + n);
  return address;
}

Outcome abstract_connect(const char* name) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return failed(errno, "socket");
  socklen_t length;
  sockaddr_un address = abstract_address(name, &length);
  Outcome out = from(::connect(fd, reinterpret_cast<sockaddr*>(&address), length));
  ::close(fd);
  return out;
}

// A listener and a client on one abstract name, both in this sandbox.
Outcome abstract_within(const char* name) {
  int server = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  socklen_t length;
  sockaddr_un address = abstract_address(name, &length);
  if (::bind(server, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
      ::listen(server, 1) != 0) {
    return failed(errno, "bind/listen");
  }
  Outcome out = abstract_connect(name);
  ::close(server);
  return out;
}

// Listen on 127.0.0.1, connect, send a message through, accept it back.
Outcome tcp_loopback() {
  int server = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (server < 0) return failed(errno, "socket");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (::bind(server, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
      ::listen(server, 1) != 0 ||
      ::getsockname(server, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    return failed(errno, "bind/listen");
  }
  int client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (::connect(client, reinterpret_cast<sockaddr*>(&address), length) != 0) {
    return failed(errno, "connect");
  }
  int accepted = ::accept4(server, nullptr, nullptr, SOCK_CLOEXEC);
  if (accepted < 0) return failed(errno, "accept");
  char buffer[8] = {};
  if (::write(client, "ping", 4) != 4 || ::read(accepted, buffer, sizeof buffer) != 4) {
    return failed(errno, "transfer");
  }
  ::close(accepted);
  ::close(client);
  ::close(server);
  return ok(std::string("port ") + std::to_string(ntohs(address.sin_port)) + " got " + buffer);
}

// Every interface as name:up or name:down.
Outcome interfaces() {
  struct if_nameindex* names = ::if_nameindex();
  if (names == nullptr) return failed(errno, "if_nameindex");
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  std::string detail;
  for (struct if_nameindex* i = names; i->if_index != 0; ++i) {
    ifreq request{};
    std::strncpy(request.ifr_name, i->if_name, IFNAMSIZ - 1);
    bool up = ::ioctl(fd, SIOCGIFFLAGS, &request) == 0 && (request.ifr_flags & IFF_UP);
    append_word(detail, std::string(i->if_name) + (up ? ":up" : ":down"));
  }
  ::close(fd);
  ::if_freenameindex(names);
  return ok(detail);
}

// connect(2) on a UDP socket only looks up a route: no packet is sent. The
// address is TEST-NET-1 (RFC 5737), which nothing answers anyway.
Outcome route_out() {
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return failed(errno, "socket");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(9);
  ::inet_pton(AF_INET, "192.0.2.1", &address.sin_addr);
  Outcome out = from(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address));
  ::close(fd);
  return out;
}

// --- Work that must still work, and the benchmark loop -----------------------

Outcome fork_many(int count) {
  std::vector<pid_t> children;
  for (int i = 0; i < count; ++i) {
    pid_t pid = ::fork();
    if (pid < 0) break;
    if (pid == 0) ::_exit(7);
    children.push_back(pid);
  }
  int good = 0;
  for (pid_t pid : children) {
    int status = 0;
    if (::waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 7) ++good;
  }
  std::string detail = std::to_string(good) + " of " + std::to_string(count);
  return good == count ? ok(detail) : failed(EAGAIN, detail);
}

// COUNT calls of one syscall, timed. getppid(2) does almost nothing in the
// kernel and the filter allows it whatever its arguments, so the kernel's
// seccomp action cache (Linux 5.11) may skip the filter for it; prctl(2)
// with PR_GET_DUMPABLE is as cheap, but the filter inspects prctl's first
// argument (PR_SET_SECCOMP is denied), so every call runs the BPF program.
//
// With a third argument "allow-all-filter" the loop first installs a
// one-instruction filter that allows everything: the kernel's cost of
// having any filter at all, for comparison with the sandbox's. With
// "arg-filter" the filter reads the first argument and then allows: the
// kernel cannot cache its answer, so it runs on every call, as any filter
// does that looks at prctl's arguments.
Outcome syscall_loop(const char* name, long count, const char* filter) {
  if (filter != nullptr) {
    static sock_filter reads_an_argument[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args[0])),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
    static sock_fprog arg_program{2, reads_an_argument};
    sock_fprog* program = std::strcmp(filter, "allow-all-filter") == 0 ? &allow_all_program
                          : std::strcmp(filter, "arg-filter") == 0   ? &arg_program
                                                                     : nullptr;
    if (program == nullptr) return failed(EINVAL, filter);
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, program) != 0) {
      return failed(errno, std::string("install the ") + filter);
    }
  }
  long (*call)();
  if (std::strcmp(name, "getppid") == 0) {
    call = [] { return ::syscall(SYS_getppid); };
  } else if (std::strcmp(name, "prctl") == 0) {
    call = [] { return ::syscall(SYS_prctl, PR_GET_DUMPABLE, 0, 0, 0, 0); };
  } else {
    return failed(EINVAL, std::string("unknown syscall ") + name);
  }
  timespec start{}, end{};
  ::clock_gettime(CLOCK_MONOTONIC, &start);
  for (long i = 0; i < count; ++i) call();
  ::clock_gettime(CLOCK_MONOTONIC, &end);
  long long ns = (end.tv_sec - start.tv_sec) * 1'000'000'000LL + (end.tv_nsec - start.tv_nsec);
  char per_call[32];
  std::snprintf(per_call, sizeof per_call, "%.2f",
                static_cast<double>(ns) / static_cast<double>(count));
  return ok(std::string("syscall=") + name + " calls=" + std::to_string(count) +
            " ns=" + std::to_string(ns) + " ns_per_call=" + per_call);
}

// --- The table ---------------------------------------------------------------

struct Attempt {
  const char* name;
  int args;  // required arguments
  Outcome (*run)(char** args);
};


// --- The sandbox's filesystem view (tests/escape/view_test.cc) ------------------

// Reads `count` bytes (as `head -c`): ok with the number read.
Outcome read_bytes(const char* path, long count) {
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return failed(errno);
  std::vector<char> buffer(65536);
  long total = 0;
  while (total < count) {
    ssize_t n = ::read(fd, buffer.data(), std::min<long>(count - total, buffer.size()));
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return failed(err, "read");
    }
    if (n == 0) break;
    total += n;
  }
  ::close(fd);
  return ok(std::to_string(total));
}

// The CPUs this process and the sandbox init may run on (Cpus_allowed_list
// in /proc/PID/status). The init gives back the CPUs it was pinned to
// just after this process's exec (supervisor/startup_cpu.h): its list is
// read again until it matches this process's, for up to 5 s.
std::string cpus_allowed(const char* status_path) {
  std::string text = read_text(status_path, 16384);
  auto at = text.find("\nCpus_allowed_list:");
  if (at == std::string::npos) return "<none>";
  at = text.find_first_not_of(" \t", at + 20);
  return text.substr(at, text.find('\n', at) - at);
}

Outcome cpus() {
  std::string own = cpus_allowed("/proc/self/status");
  std::string init = cpus_allowed("/proc/1/status");
  for (int i = 0; i < 500 && init != own; ++i) {
    ::usleep(10'000);
    init = cpus_allowed("/proc/1/status");
  }
  return ok("self=" + own + " init=" + init);
}

// What CUDA does to name its threads: pthread_setname_np on another thread,
// which glibc does by writing /proc/self/task/<tid>/comm (O_RDWR, no
// truncate); the name read back from there.
Outcome thread_name() {
  pthread_t thread;
  static int pipe_fds[2];
  if (::pipe(pipe_fds) != 0) return failed(errno, "pipe");
  auto wait = [](void*) -> void* {
    char byte;
    (void)!::read(pipe_fds[0], &byte, 1);
    return nullptr;
  };
  if (int err = ::pthread_create(&thread, nullptr, wait, nullptr); err != 0) {
    return failed(err, "pthread_create");
  }
  int err = ::pthread_setname_np(thread, "cuda-probe");
  char name[16] = {};
  if (err == 0) err = ::pthread_getname_np(thread, name, sizeof name);
  (void)!::write(pipe_fds[1], "x", 1);
  ::pthread_join(thread, nullptr);
  ::close(pipe_fds[0]);
  ::close(pipe_fds[1]);
  return err == 0 ? ok(name) : failed(err, "pthread_setname_np");
}

Outcome open_rw(const char* path) {
  int fd = ::open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) return failed(errno);
  ::close(fd);
  return ok();
}

// A pseudo-terminal from /dev/ptmx, its slave opened by name: ok with the name.
Outcome new_pty() {
  int master = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0) return failed(errno, "posix_openpt");
  if (::grantpt(master) != 0 || ::unlockpt(master) != 0) return failed(errno, "unlockpt");
  char name[128];
  if (::ptsname_r(master, name, sizeof name) != 0) return failed(errno, "ptsname");
  int slave = ::open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (slave < 0) return failed(errno, name);
  ::close(slave);
  ::close(master);
  return ok(name);
}

// Whether the mount at `path` is read-only: ok with "ro" or "rw".
Outcome mount_mode(const char* path) {
  struct statvfs st {};
  if (::statvfs(path, &st) != 0) return failed(errno);
  return ok((st.f_flag & ST_RDONLY) ? "ro" : "rw");
}

// The file's type and device numbers: ok with "chr 195:0", "dir", "file", "link".
Outcome file_type(const char* path) {
  struct stat st {};
  if (::lstat(path, &st) != 0) return failed(errno);
  if (S_ISCHR(st.st_mode)) {
    return ok("chr " + std::to_string(major(st.st_rdev)) + ":" + std::to_string(minor(st.st_rdev)));
  }
  if (S_ISDIR(st.st_mode)) return ok("dir");
  if (S_ISLNK(st.st_mode)) return ok("link");
  return ok("file");
}

const Attempt kAttempts[] = {
    {"proc_pids", 0, [](char**) { return proc_pids(); }},
    {"ptrace_init", 0, [](char**) { return ptrace_pid(1); }},
    {"ptrace_sibling", 0, [](char**) { return ptrace_sibling(); }},
    {"process_vm_readv_sibling", 0, [](char**) { return process_vm_readv_sibling(); }},
    {"pidfd_getfd_init", 0, [](char**) { return pidfd_getfd_init(); }},
    {"kill_everyone", 0, [](char**) { return from(::kill(-1, SIGKILL)); }},
    {"signal_init", 1, [](char** a) { return signal_init(a[0], false); }},
    {"pidfd_signal_init", 1, [](char** a) { return signal_init(a[0], true); }},
    {"signal_sibling", 0, [](char**) { return signal_sibling(); }},
    {"read_init_environ", 0, [](char**) { return read_proc("/proc/1/environ"); }},
    {"read_init_mem", 0, [](char**) { return read_proc("/proc/1/mem"); }},
    {"list_init_fds", 0, [](char**) { return list_dir("/proc/1/fd"); }},
    {"mount", 0, [](char**) { return from(::mount("none", "/tmp", "tmpfs", 0, nullptr)); }},
    {"umount", 0, [](char**) { return from(::umount2("/proc", MNT_DETACH)); }},
    {"pivot_root", 0, [](char**) { return from(::syscall(SYS_pivot_root, "/tmp", "/tmp")); }},
    {"chroot", 0, [](char**) { return from(::chroot("/tmp")); }},
    {"fsopen", 0, [](char**) { return fd_syscall(::syscall(SYS_fsopen, "tmpfs", 0)); }},
    {"open_tree", 0,
     [](char**) { return fd_syscall(::syscall(SYS_open_tree, AT_FDCWD, "/", OPEN_TREE_CLONE)); }},
    {"unshare", 1, [](char** a) { return unshare_named(a[0]); }},
    {"clone_user", 0, [](char**) { return clone_flags(CLONE_NEWUSER); }},
    {"setns", 1, [](char** a) { return setns_to(a[0]); }},
    {"clone3", 0, [](char**) { return clone3(); }},
    {"bpf", 0, [](char**) { return bpf_prog_load(); }},
    {"perf_event_open", 0, [](char**) { return perf_event_open(); }},
    {"userfaultfd", 0,
     [](char**) { return fd_syscall(::syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK)); }},
    {"io_uring_setup", 0, [](char**) { return io_uring_setup(); }},
    {"memfd_create", 0,
     [](char**) { return fd_syscall(::syscall(SYS_memfd_create, "payload", MFD_CLOEXEC)); }},
    {"keyctl", 0,
     [](char**) {
       return from(::syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 1));
     }},
    {"add_key", 0,
     [](char**) {
       return from(::syscall(SYS_add_key, "user", "escape", "data", 4, KEY_SPEC_PROCESS_KEYRING));
     }},
    {"request_key", 0,
     [](char**) {
       return from(::syscall(SYS_request_key, "user", "escape", nullptr, KEY_SPEC_PROCESS_KEYRING));
     }},
    {"name_to_handle_at", 0, [](char**) { return name_to_handle_at(); }},
    {"open_by_handle_at", 0, [](char**) { return open_by_handle_at(); }},
    {"kexec_load", 0, [](char**) { return from(::syscall(SYS_kexec_load, 0, 0, nullptr, 0)); }},
    {"init_module", 0,
     [](char**) {
       static char image[64];
       return from(::syscall(SYS_init_module, image, sizeof image, ""));
     }},
    {"finit_module", 0, [](char**) { return finit_module(); }},
    {"delete_module", 0,
     [](char**) { return from(::syscall(SYS_delete_module, "loop", O_NONBLOCK)); }},
    {"socket_packet", 0, [](char**) { return socket_of(AF_PACKET, SOCK_RAW, htons(0x0003)); }},
    {"socket_vsock", 0, [](char**) { return socket_of(AF_VSOCK, SOCK_STREAM, 0); }},
    {"socket_bluetooth", 0,
     [](char**) { return socket_of(AF_BLUETOOTH, SOCK_SEQPACKET, kBtProtoL2cap); }},
    {"socket_netlink_audit", 0,
     [](char**) { return socket_of(AF_NETLINK, SOCK_RAW, NETLINK_AUDIT); }},
    {"socket_netlink_route", 0,
     [](char**) { return socket_of(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE); }},
    {"seccomp_filter", 0,
     [](char**) {
       return from(::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &allow_all_program));
     }},
    {"prctl_seccomp", 0,
     [](char**) { return from(::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &allow_all_program)); }},
    {"x32_syscall", 0, [](char**) { return x32_syscall(); }},
    {"int80_syscall", 0, [](char**) { return int80_syscall(); }},
    {"tiocsti", 0, [](char**) { return tiocsti(); }},
    {"personality_no_aslr", 0, [](char**) { return from(::personality(ADDR_NO_RANDOMIZE)); }},
    {"status", 0, [](char**) { return status(); }},
    {"id_maps", 0, [](char**) { return id_maps(); }},
    {"setuid_root", 0, [](char**) { return from(::setuid(0)); }},
    {"capset_sys_admin", 0, [](char**) { return capset_raise(CAP_SYS_ADMIN); }},
    {"ambient_raise", 0,
     [](char**) {
       return from(::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_SYS_ADMIN, 0, 0));
     }},
    {"set_securebits", 0, [](char**) { return from(::prctl(PR_SET_SECUREBITS, 0, 0, 0, 0)); }},
    {"write", 1, [](char** a) { return write_file(a[0]); }},
    {"mkdir", 1, [](char** a) { return from(::mkdir(a[0], 0755)); }},
    {"read", 1, [](char** a) { return read_file(a[0]); }},
    {"list", 1, [](char** a) { return list_dir(a[0]); }},
    {"own_fds", 0, [](char**) { return own_fds(); }},
    {"environment", 0, [](char**) { return environment(); }},
    {"abstract_connect", 1, [](char** a) { return abstract_connect(a[0]); }},
    {"abstract_within", 1, [](char** a) { return abstract_within(a[0]); }},
    {"tcp_loopback", 0, [](char**) { return tcp_loopback(); }},
    {"interfaces", 0, [](char**) { return interfaces(); }},
    {"route_out", 0, [](char**) { return route_out(); }},
    {"fork_many", 1, [](char** a) { return fork_many(std::atoi(a[0])); }},
    // a[2] is the optional filter argument, or argv's terminating null.
    {"syscall_loop", 2, [](char** a) { return syscall_loop(a[0], std::atol(a[1]), a[2]); }},
    {"read_bytes", 2, [](char** a) { return read_bytes(a[0], std::atol(a[1])); }},
    {"open_rw", 1, [](char** a) { return open_rw(a[0]); }},
    {"thread_name", 0, [](char**) { return thread_name(); }},
    {"cpus", 0, [](char**) { return cpus(); }},
    {"new_pty", 0, [](char**) { return new_pty(); }},
    {"mount_mode", 1, [](char** a) { return mount_mode(a[0]); }},
    {"file_type", 1, [](char** a) { return file_type(a[0]); }},
};

std::string result_text(const Outcome& out) {
  switch (out.kind) {
    case Outcome::kOk:
      return "ok";
    case Outcome::kErrno: {
      const char* name = ::strerrorname_np(out.value);
      return std::string("errno ") + (name != nullptr ? name : std::to_string(out.value).c_str());
    }
    case Outcome::kSignal:
      return "signal " + std::to_string(out.value);
  }
  return "?";
}

// The hardening attempts (end of this file).
const Attempt* find_hardening_attempt(const char* name);

}  // namespace

int main(int argc, char** argv) {
  // The start-up benchmark's end mark (tests/bench/sandbox_bench.sh): when
  // the main process runs, on the clock the benchmark started on. Read
  // first, before anything of the probe's own work.
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  if (argc < 2) {
    std::fprintf(stderr, "usage: probe ATTEMPT [ARGS...]\n");
    return 2;
  }
  if (std::strcmp(argv[1], "started_at") == 0) {
    std::printf("started_at ns=%lld\n", now.tv_sec * 1000000000LL + now.tv_nsec);
    return 0;
  }
  const Attempt* extra = find_hardening_attempt(argv[1]);
  for (const Attempt& attempt : extra ? std::span(extra, 1) : std::span(kAttempts)) {
    if (std::strcmp(attempt.name, argv[1]) != 0) continue;
    if (argc - 2 < attempt.args) {
      std::fprintf(stderr, "probe: %s needs %d argument(s)\n", attempt.name, attempt.args);
      return 2;
    }
    Outcome out = attempt.run(argv + 2);
    std::printf("%s result=%s detail=%s\n", attempt.name, result_text(out).c_str(),
                one_line(out.detail).c_str());
    return 0;
  }
  std::fprintf(stderr, "probe: unknown attempt %s\n", argv[1]);
  return 2;
}

// --- Hardening attempts ------------------------------------------------------
// Attempts on the sandbox init by a process of the sandbox, the syscalls and
// arguments the seccomp filter's second round refuses, and taking a
// sibling's descriptors or advising on its memory.
#include <sys/time.h>

namespace {

// ioprio_set(2)'s values, spelled here: some linux-libc-dev releases of
// <linux/ioprio.h> name a parameter `class` and do not compile as C++.
constexpr int kIoprioWhoProcess = 1;
constexpr int kIoprioIdle = 3 << 13;  // IOPRIO_PRIO_VALUE(IOPRIO_CLASS_IDLE, 0)

// struct sched_attr (linux/sched/types.h, which clashes with glibc's
// sched_param): the first version, 48 bytes.
struct SchedAttr {
  uint32_t size, sched_policy;
  uint64_t sched_flags;
  int32_t sched_nice;
  uint32_t sched_priority;
  uint64_t sched_runtime, sched_deadline, sched_period;
};

// The scheduling and resource calls on the sandbox init (pid 1): each is
// refused to a caller whose uid differs from the target's and who holds no
// capability over it (prlimit(2), setpriority(2), sched_setattr(2),
// ioprio_set(2)).
Outcome on_init(const char* call) {
  std::string which = call;
  if (which == "prlimit") {
    rlimit one{1, 1};
    return from(::prlimit(1, RLIMIT_NPROC, &one, nullptr));
  }
  if (which == "prlimit_read") {
    rlimit now{};
    return from(::prlimit(1, RLIMIT_NOFILE, nullptr, &now));
  }
  if (which == "setpriority") return from(::setpriority(PRIO_PROCESS, 1, 19));
  if (which == "sched_setscheduler") {
    sched_param param{};
    return from(::sched_setscheduler(1, SCHED_IDLE, &param));
  }
  if (which == "sched_setaffinity") {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(0, &set);
    return from(::sched_setaffinity(1, sizeof set, &set));
  }
  if (which == "sched_setattr") {
    SchedAttr attr{};
    attr.size = sizeof attr;
    attr.sched_policy = SCHED_IDLE;
    return from(::syscall(SYS_sched_setattr, 1, &attr, 0));
  }
  if (which == "ioprio_set") {
    return from(::syscall(SYS_ioprio_set, kIoprioWhoProcess, 1, kIoprioIdle));
  }
  return failed(EINVAL, "unknown call " + which);
}

Outcome personality_value(const char* text) {
  unsigned long persona = std::strtoul(text, nullptr, 0);
  long previous = ::syscall(SYS_personality, persona);
  if (previous >= 0) ::syscall(SYS_personality, previous);  // as it was
  return from(previous);
}

// A raw syscall number with zero arguments: what a call newer than the
// filter returns. The detail names the number.
Outcome raw_syscall(const char* text) {
  long nr = std::strtol(text, nullptr, 0);
  return from(::syscall(nr, 0, 0, 0, 0, 0, 0), "nr=" + std::to_string(nr));
}

Outcome pidfd_getfd_sibling() {
  pid_t child = sleeping_child();
  long pidfd = ::syscall(SYS_pidfd_open, child, 0);
  if (pidfd < 0) {
    end_child(child);
    return failed(errno, "pidfd_open");
  }
  long fd = ::syscall(SYS_pidfd_getfd, pidfd, 1, 0);
  if (fd >= 0) ::close(static_cast<int>(fd));
  ::close(static_cast<int>(pidfd));
  end_child(child);
  return from(fd);
}

Outcome process_madvise_sibling() {
  static char page[4096];
  pid_t child = sleeping_child();
  long pidfd = ::syscall(SYS_pidfd_open, child, 0);
  if (pidfd < 0) {
    end_child(child);
    return failed(errno, "pidfd_open");
  }
  iovec range{page, sizeof page};
  // flags must be 0: 1 makes the kernel answer EINVAL before it checks
  // anything else, so a refusal can only come from the filter.
  long rc = ::syscall(SYS_process_madvise, pidfd, &range, 1, MADV_COLD, 1);
  ::close(static_cast<int>(pidfd));
  end_child(child);
  return from(rc);
}

Outcome ioctl_on_stdin(const char* request) {
  std::string which = request;
  int ldisc = 0;  // N_TTY
  char linux_subcode = 2;  // TIOCL_SELLOADLUT-style subcodes follow the first byte
  if (which == "TIOCSETD") return from(::ioctl(0, TIOCSETD, &ldisc));
  if (which == "TIOCLINUX") return from(::ioctl(0, TIOCLINUX, &linux_subcode));
  return failed(EINVAL, "unknown request " + which);
}

const Attempt kHardeningAttempts[] = {
    {"on_init", 1, [](char** a) { return on_init(a[0]); }},
    {"personality_value", 1, [](char** a) { return personality_value(a[0]); }},
    {"socket_family", 3,
     [](char** a) { return socket_of(std::atoi(a[0]), std::atoi(a[1]), std::atoi(a[2])); }},
    {"raw_syscall", 1, [](char** a) { return raw_syscall(a[0]); }},
    {"pidfd_getfd_sibling", 0, [](char**) { return pidfd_getfd_sibling(); }},
    {"process_madvise_sibling", 0, [](char**) { return process_madvise_sibling(); }},
    {"ioctl_stdin", 1, [](char** a) { return ioctl_on_stdin(a[0]); }},
};

const Attempt* find_hardening_attempt(const char* name) {
  for (const Attempt& attempt : kHardeningAttempts) {
    if (std::strcmp(attempt.name, name) == 0) return &attempt;
  }
  return nullptr;
}

}  // namespace
