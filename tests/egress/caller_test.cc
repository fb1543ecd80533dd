// Finding a client socket in /proc/net/tcp{,6} text, the audit limiter and
// symlinked policy binaries: the pure parts of the egress runtime's caller
// identity and audit.
#include <arpa/inet.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "egress/audit.h"
#include "egress/binary_links.h"
#include "egress/caller.h"

namespace openshell::egress {
namespace {

SocketAddress v4(const char* text, uint16_t port) {
  SocketAddress out;
  ::inet_pton(AF_INET, text, out.bytes.data());
  out.port = port;
  return out;
}

SocketAddress v6(const char* text, uint16_t port) {
  SocketAddress out;
  out.v6 = true;
  ::inet_pton(AF_INET6, text, out.bytes.data());
  out.port = port;
  return out;
}

// As a kernel on x86_64 prints it (net/ipv4/tcp_ipv4.c get_tcp4_sock).
constexpr const char* kTcp =
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout "
    "inode\n"
    "   0: 0100007F:0C38 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 "
    "1001 1 0000000000000000 100 0 0 10 0\n"
    "   1: 0100007F:0C38 0100007F:A2F4 01 00000000:00000000 00:00000000 00000000     0        0 "
    "1002 1 0000000000000000 20 4 30 10 -1\n"
    "   2: 0100007F:A2F4 0100007F:0C38 01 00000000:00000000 00:00000000 00000000  1000        0 "
    "1003 1 0000000000000000 20 4 30 10 -1\n"
    "   3: 0100007F:B000 0500017F:01BB 01 00000000:00000000 00:00000000 00000000  1000        0 "
    "1004 1 0000000000000000 20 4 30 10 -1\n";

TEST(ProcNetTcp, ParsesAddressWordsInHostOrder) {
  auto a = parse_proc_net_address("0100007F:0C38", false);
  ASSERT_TRUE(a);
  EXPECT_EQ(*a, v4("127.0.0.1", 3128));
  auto b = parse_proc_net_address("0500017F:01BB", false);
  ASSERT_TRUE(b);
  EXPECT_EQ(*b, v4("127.1.0.5", 443));
  EXPECT_FALSE(parse_proc_net_address("0100007F0C38", false));
  EXPECT_FALSE(parse_proc_net_address("0100007G:0C38", false));
  EXPECT_FALSE(parse_proc_net_address("0100007F:0C38", true));
}

TEST(ProcNetTcp, FindsTheClientEndNotTheAcceptedEnd) {
  // The client 127.0.0.1:41716 -> proxy 127.0.0.1:3128 appears twice: the
  // accepted socket (local 3128) is the supervisor's; the client's is the
  // one whose local address is the peer.
  auto inode = find_socket_inode(kTcp, v4("127.0.0.1", 41716), v4("127.0.0.1", 3128));
  ASSERT_TRUE(inode);
  EXPECT_EQ(*inode, 1003u);
  auto capture = find_socket_inode(kTcp, v4("127.0.0.1", 45056), v4("127.1.0.5", 443));
  ASSERT_TRUE(capture);
  EXPECT_EQ(*capture, 1004u);
  EXPECT_FALSE(find_socket_inode(kTcp, v4("127.0.0.1", 41717), v4("127.0.0.1", 3128)));
  EXPECT_FALSE(find_socket_inode("", v4("127.0.0.1", 41716), v4("127.0.0.1", 3128)));
}

TEST(ProcNetTcp, FindsIpv6Sockets) {
  std::string table =
      "  sl  local_address                         remote_address                        st "
      "tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
      "   0: 00000000000000000000000001000000:D431 00000000000000000000000001000000:0C38 01 "
      "00000000:00000000 00:00000000 00000000  1000        0 2002 1 0000000000000000 20 4 0 10 "
      "-1\n";
  auto inode = find_socket_inode(table, v6("::1", 54321), v6("::1", 3128));
  ASSERT_TRUE(inode);
  EXPECT_EQ(*inode, 2002u);
}

TEST(ProcNetTcp, FindsThisProcessesOwnConnection) {
  // Against the live kernel: a loopback connection made here must be found
  // in /proc/self/net/tcp with this process as its owner.
  int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(::listen(listener, 1), 0);
  socklen_t length = sizeof address;
  ::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length);
  int client = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_EQ(::connect(client, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  sockaddr_in local{};
  length = sizeof local;
  ::getsockname(client, reinterpret_cast<sockaddr*>(&local), &length);

  std::string table;
  FILE* f = std::fopen("/proc/self/net/tcp", "r");
  ASSERT_NE(f, nullptr);
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, f)) > 0) table.append(buffer, n);
  std::fclose(f);
  auto inode = find_socket_inode(table, v4("127.0.0.1", ntohs(local.sin_port)),
                                 v4("127.0.0.1", ntohs(address.sin_port)));
  ASSERT_TRUE(inode);
  struct stat st {};
  ASSERT_EQ(::fstat(client, &st), 0);
  EXPECT_EQ(*inode, st.st_ino);
  // The same through sock_diag, the runtime's fast path.
  int diag = ::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  ASSERT_GE(diag, 0);
  auto by_diag = diag_socket_inode(diag, v4("127.0.0.1", ntohs(local.sin_port)),
                                   v4("127.0.0.1", ntohs(address.sin_port)));
  ASSERT_TRUE(by_diag);
  EXPECT_EQ(*by_diag, st.st_ino);
  EXPECT_FALSE(diag_socket_inode(diag, v4("127.0.0.1", ntohs(local.sin_port)),
                                 v4("127.0.0.1", static_cast<uint16_t>(ntohs(address.sin_port) + 1))));
  ::close(diag);
  ::close(client);
  ::close(listener);
}

TEST(AuditLimiter, LimitsPerKeyAndCountsWhatWasSuppressed) {
  AuditLimiter limiter;
  auto t0 = AuditLimiter::Clock::time_point{} + std::chrono::hours(1);
  uint64_t suppressed = 99;
  for (size_t i = 0; i < AuditLimiter::kBurst; ++i) {
    EXPECT_TRUE(limiter.admit("a", t0, suppressed)) << i;
    EXPECT_EQ(suppressed, 0u);
  }
  EXPECT_FALSE(limiter.admit("a", t0, suppressed));
  EXPECT_FALSE(limiter.admit("a", t0 + std::chrono::seconds(1), suppressed));
  EXPECT_TRUE(limiter.admit("b", t0, suppressed));  // another destination: its own budget
  EXPECT_TRUE(limiter.admit("a", t0 + AuditLimiter::kWindow, suppressed));
  EXPECT_EQ(suppressed, 2u);
  EXPECT_TRUE(limiter.admit("a", t0 + AuditLimiter::kWindow, suppressed));
  EXPECT_EQ(suppressed, 0u);
}

TEST(BinaryLinks, ResolvesInsideTheGivenRootOnly) {
  char pattern[] = "/tmp/binary-links-XXXXXX";
  ASSERT_NE(::mkdtemp(pattern), nullptr);
  std::string root = pattern;
  std::filesystem::create_directories(root + "/usr/bin");
  std::filesystem::create_directory_symlink("usr/bin", root + "/bin");
  { FILE* f = std::fopen((root + "/usr/bin/python3.11").c_str(), "w"); std::fclose(f); }
  std::filesystem::create_symlink("python3.11", root + "/usr/bin/python3");
  // An absolute target restarts at the view's root, not the host's.
  std::filesystem::create_symlink("/usr/bin/python3", root + "/usr/bin/py");
  std::filesystem::create_symlink("../../../../../etc", root + "/usr/bin/up");

  EXPECT_EQ(resolve_in_root(root, "/usr/bin/python3"), "/usr/bin/python3.11");
  EXPECT_EQ(resolve_in_root(root, "/bin/python3"), "/usr/bin/python3.11");
  EXPECT_EQ(resolve_in_root(root, "/usr/bin/py"), "/usr/bin/python3.11");
  EXPECT_EQ(resolve_in_root(root, "/usr/bin/up/passwd"), "/etc/passwd");
  EXPECT_EQ(resolve_in_root(root, "/usr/bin/python3.11"), "/usr/bin/python3.11");
  EXPECT_EQ(resolve_in_root(root, "/usr/bin/missing"), "/usr/bin/missing");
  std::filesystem::remove_all(root);
}

}  // namespace
}  // namespace openshell::egress
