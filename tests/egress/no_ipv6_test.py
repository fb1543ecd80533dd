#!/usr/bin/env python3
"""Network mode proxy where the sandbox network has no IPv6: the proxy and
DNS serve on 127.0.0.1 alone, a warning names every [::1] socket that is
not served, and the supervisor runs on (it used to exit 4, stage sandbox).

No IPv6 is made real the way a kernel booted with ipv6.disable=1 shows it:
socket(AF_INET6, ...) fails with EAFNOSUPPORT, here by a seccomp filter
installed before the supervisor is executed (inherited by it and by the
sandbox). The other way IPv6 goes missing, disable_ipv6 in the sandbox's
new network namespace, cannot be made by a test without changing the
machine-wide net.core.devconf_inherit_init_net (a new namespace resets
IPv6 settings to their defaults); it takes the same path (EADDRNOTAVAIL).

Usage: no_ipv6_test.py SUPERVISOR [unittest args]. Runs as root.
"""
import ctypes
import os
import platform
import shutil
import struct
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from egress_policy import policy_text  # noqa: E402

SUPERVISOR = None

AUDIT_ARCH_X86_64 = 0xC000003E
SYS_SOCKET_X86_64 = 41
AF_INET6 = 10
EAFNOSUPPORT = 97


def deny_ipv6_sockets():
    """preexec_fn: socket(AF_INET6, ...) -> EAFNOSUPPORT for this process
    and everything it executes."""
    def insn(code, jt, jf, k):
        return struct.pack("HBBI", code, jt, jf, k)
    prog = b"".join([
        insn(0x20, 0, 0, 4),                      # A = seccomp_data.arch
        insn(0x15, 0, 5, AUDIT_ARCH_X86_64),      # other arch: allow
        insn(0x20, 0, 0, 0),                      # A = seccomp_data.nr
        insn(0x15, 0, 3, SYS_SOCKET_X86_64),      # not socket: allow
        insn(0x20, 0, 0, 16),                     # A = args[0] (low half)
        insn(0x15, 0, 1, AF_INET6),               # not AF_INET6: allow
        insn(0x06, 0, 0, 0x00050000 | EAFNOSUPPORT),  # SECCOMP_RET_ERRNO
        insn(0x06, 0, 0, 0x7FFF0000),             # SECCOMP_RET_ALLOW
    ])
    buf = ctypes.create_string_buffer(prog, len(prog))
    fprog = struct.pack("HxxxxxxQ", len(prog) // 8, ctypes.addressof(buf))
    fbuf = ctypes.create_string_buffer(fprog, len(fprog))
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong,
                           ctypes.c_ulong]
    PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 22, 2
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(fbuf), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP)")


CLIENT = r'''
import os, socket, sys
try:
    socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    print("ipv6-socket-made")
except OSError as e:
    print("ipv6-socket-refused errno %d" % e.errno)
print("proxy-env " + os.environ.get("HTTPS_PROXY", ""))
s = socket.create_connection(("127.0.0.1", 3128), timeout=10)
s.sendall(b"CONNECT denied.example.test:443 HTTP/1.1\r\nHost: denied.example.test:443\r\n\r\n")
data = b""
while b"\r\n\r\n" not in data:
    chunk = s.recv(4096)
    if not chunk:
        break
    data += chunk
print("proxy-answer " + data.split(b"\r\n", 1)[0].decode())
'''


class NoIpv6(unittest.TestCase):
    def test_proxy_serves_ipv4_and_warns_about_ipv6(self):
        if platform.machine() != "x86_64":
            if os.environ.get("OPENSHELL_TESTS_MUST_WORK") == "1":
                self.fail("the seccomp filter of this test is written for x86_64")
            self.skipTest("the seccomp filter of this test is written for x86_64")
        base = tempfile.mkdtemp(prefix="egress-noipv6-", dir="/var/tmp")
        self.addCleanup(shutil.rmtree, base, True)
        os.chmod(base, 0o755)
        workdir = os.path.join(base, "work")
        os.mkdir(workdir)
        os.chmod(workdir, 0o777)
        with open(os.path.join(workdir, "client.py"), "w") as f:
            f.write(CLIENT)
        policy = os.path.join(base, "policy.yaml")
        with open(policy, "w") as f:
            f.write(policy_text("""\
                only:
                  endpoints:
                    - { host: allowed.example.test, port: 443 }
                  binaries:
                    - { path: /usr/bin/python3 }
                """))
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "OPENSHELL_SSH_LISTEN": "off",
               "OPENSHELL_WORKDIR": workdir, "OPENSHELL_LOG_LEVEL": "info"}
        result = subprocess.run(
            [SUPERVISOR, "run", "--policy", policy, "--", "/usr/bin/python3",
             os.path.join(workdir, "client.py")],
            env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
            preexec_fn=deny_ipv6_sockets)
        report = "stdout:\n%s\nstderr:\n%s" % (result.stdout, result.stderr)
        self.assertEqual(result.returncode, 0, report)
        # The condition is real inside too, and the proxy answers on IPv4.
        self.assertIn("ipv6-socket-refused errno %d" % EAFNOSUPPORT, result.stdout, report)
        self.assertIn("proxy-env http://127.0.0.1:3128", result.stdout, report)
        self.assertIn("proxy-answer HTTP/1.1 403", result.stdout, report)
        warnings = [l for l in result.stderr.splitlines()
                    if "no IPv6 in the sandbox network" in l]
        for socket_name in ("tcp [::1]:3128", "udp [::1]:53", "tcp [::1]:53"):
            self.assertTrue(any(socket_name in w for w in warnings), report)
        self.assertIn("egress proxy ready", result.stderr, report)


if __name__ == "__main__":
    SUPERVISOR = os.path.abspath(sys.argv.pop(1))
    unittest.main()
