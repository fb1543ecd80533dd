#!/usr/bin/env python3
"""Integration tests of the SSH bridge, driven by OpenSSH's real clients.

Usage: bridge_test.py SSH_TEST_SERVER [unittest args]. Every server runs on
loopback with generated keys; ssh uses BatchMode, -F /dev/null and a
known_hosts file built from the host key the server reports.
"""
import contextlib
import fcntl
import hashlib
import os
import pty
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
import unittest

SERVER = None

try:
    import paramiko
    from paramiko.message import Message
except ImportError:  # python3-paramiko (tests/setup-machine.sh installs it)
    paramiko = None


def need_paramiko(test):
    """Skip loudly without paramiko; under OPENSHELL_TESTS_MUST_WORK=1 fail."""
    if paramiko is not None:
        return
    if os.environ.get("OPENSHELL_TESTS_MUST_WORK") == "1":
        test.fail("python3-paramiko is missing and OPENSHELL_TESTS_MUST_WORK=1")
    test.skipTest("SKIPPED LOUDLY: python3-paramiko is not installed")


@contextlib.contextmanager
def traced(test, pid, syscalls, trace, follow_forks=False):
    """strace(1) writes `syscalls` of `pid` to `trace` while the block runs.
    Skips loudly without strace; under OPENSHELL_TESTS_MUST_WORK=1 fails
    (tests/setup-machine.sh installs it)."""
    if shutil.which("strace") is None:
        if os.environ.get("OPENSHELL_TESTS_MUST_WORK") == "1":
            test.fail("strace is missing and OPENSHELL_TESTS_MUST_WORK=1")
        test.skipTest("SKIPPED LOUDLY: strace is not installed")
    st = subprocess.Popen(["strace"] + (["-f"] if follow_forks else []) +
                          ["-e", "trace=" + syscalls, "-o", trace, "-p", str(pid)],
                          stderr=subprocess.PIPE)
    # strace says "Process N attached" once the tracing holds.
    test.assertIn(b"attached", st.stderr.readline())
    try:
        yield
    finally:
        st.terminate()
        st.wait()


def keygen(path, kind="ed25519"):
    subprocess.run(["ssh-keygen", "-q", "-t", kind, "-N", "", "-f", path], check=True)


class Server:
    """One ssh-test-server process with its own directory and keys."""

    def __init__(self, *extra, authorized=None, host_key=None, prefix=()):
        self.dir = tempfile.mkdtemp(prefix="ssh-bridge-test-")
        self.client_key = os.path.join(self.dir, "client")
        keygen(self.client_key)
        self.ak = os.path.join(self.dir, "authorized_keys")
        with open(self.ak, "w") as f:
            if authorized is None:
                f.write("# gateway\n")
                f.write('command="/bin/false" ' + open(self.client_key + ".pub").read())
                f.write(open(self.client_key + ".pub").read())
            else:
                f.write(authorized)
        self.info = os.path.join(self.dir, "info")
        self.log_path = os.path.join(self.dir, "server.log")
        args = [SERVER, "--authorized-keys", self.ak, "--info-file", self.info,
                "--sandbox-id", "sandbox-test-1"]
        if host_key:
            args += ["--host-key", host_key]
        args = list(prefix) + args + list(extra)
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=self.log)
        deadline = time.time() + 10
        while not os.path.exists(self.info):
            if self.proc.poll() is not None:
                raise RuntimeError("server exited: " + open(self.log_path).read())
            if time.time() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.02)
        self.listen = []
        for line in open(self.info):
            key, _, value = line.strip().partition(" ")
            if key == "listen":
                self.listen.append(value)
            elif key == "hostkey":
                self.hostkey = value
            elif key == "fingerprint":
                self.fingerprint = value
        tcp = [l for l in self.listen if not l.startswith("unix:")]
        self.port = int(tcp[0].rsplit(":", 1)[1]) if tcp else None
        self.known_hosts = os.path.join(self.dir, "known_hosts")
        with open(self.known_hosts, "w") as f:
            f.write("[127.0.0.1]:%s %s\n" % (self.port, self.hostkey))

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def log_text(self):
        self.log.flush()
        return open(self.log_path).read()

    def opts(self, key=None):
        return ["-F", "/dev/null", "-i", key or self.client_key,
                "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
                "-o", "StrictHostKeyChecking=yes",
                "-o", "UserKnownHostsFile=" + self.known_hosts,
                "-o", "KexAlgorithms=curve25519-sha256"]

    def ssh_args(self, *args, key=None):
        return ["ssh"] + self.opts(key) + ["-p", str(self.port)] + list(args)

    def ssh(self, *args, key=None, **kw):
        kw.setdefault("capture_output", True)
        kw.setdefault("timeout", 60)
        return subprocess.run(self.ssh_args(*args, key=key), **kw)


def setUpModule():
    global S
    S = Server()


def tearDownModule():
    S.stop()


H = "gateway@127.0.0.1"


class Exec(unittest.TestCase):
    def test_exit_status_is_returned(self):
        r = S.ssh(H, "exit 7")
        self.assertEqual(r.returncode, 7)

    def test_stdout_and_stderr_are_separate_streams(self):
        r = S.ssh(H, "echo out; echo err >&2")
        self.assertEqual(r.stdout, b"out\n")
        self.assertEqual(r.stderr, b"err\n")
        self.assertEqual(r.returncode, 0)

    def test_signal_death_is_reported_as_exit_signal(self):
        r = S.ssh("-v", H, "kill -TERM $$")
        # OpenSSH's client exits 255 on exit-signal, as with its own sshd.
        self.assertEqual(r.returncode, 255)
        self.assertIn(b"rtype exit-signal", r.stderr)
        self.assertNotIn(b"rtype exit-status", r.stderr)

    def test_eof_closes_the_childs_stdin(self):
        src = os.path.dirname(os.path.abspath(__file__))
        dest = tempfile.mkdtemp(prefix="ssh-tar-")
        tar = subprocess.Popen(["tar", "c", "-C", src, "."], stdout=subprocess.PIPE)
        r = S.ssh(H, "tar x -C " + dest, stdin=tar.stdout)
        tar.wait()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(subprocess.run(["diff", "-r", src, dest]).returncode, 0)
        shutil.rmtree(dest)

    def test_one_gigabyte_of_output_arrives_complete(self):
        p = subprocess.Popen(S.ssh_args(H, "head -c 1G /dev/zero"), stdout=subprocess.PIPE)
        total = 0
        while True:
            chunk = p.stdout.read(1 << 20)
            if not chunk:
                break
            total += len(chunk)
        self.assertEqual(p.wait(), 0)
        self.assertEqual(total, 1 << 30)

    def test_bulk_output_arrives_in_order(self):
        # Varied bytes, unlike /dev/zero: a piece lost, repeated or reordered
        # where output switches to bulk reads (channel.cc) changes the text.
        r = S.ssh(H, "seq 1 3000000")
        self.assertEqual(r.returncode, 0, r.stderr)
        expected = "".join("%d\n" % i for i in range(1, 3000001)).encode()
        self.assertEqual(len(r.stdout), len(expected))
        self.assertTrue(r.stdout == expected, "the output differs from seq's")

    def test_large_input_arrives_complete(self):
        data = os.urandom(1 << 20) * 64
        r = S.ssh(H, "sha256sum", input=data)
        import hashlib
        self.assertEqual(r.stdout.split()[0].decode(), hashlib.sha256(data).hexdigest())

    def test_a_bulk_upload_grows_the_childs_input_pipe(self):
        # The child reads only after a second, so the upload fills its stdin
        # pipe; the bridge then grows it to 1 MiB (channel.cc, feed) and
        # writes larger batches. A child that is never behind keeps 64 KiB.
        report = ("sleep %s; python3 -c 'import fcntl, sys; sys.stdin.buffer.read(); "
                  "print(fcntl.fcntl(0, 1032))'")  # F_GETPIPE_SZ
        r = S.ssh(H, report % 1, input=b"x" * (8 << 20))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(int(r.stdout), 1 << 20)
        r = S.ssh(H, report % 0, input=b"x" * 1000)
        self.assertEqual(int(r.stdout), 64 << 10)

    def test_an_upload_is_read_from_the_socket_in_large_reads(self):
        # libssh asks for 4 KiB per read; the read-ahead it is linked with
        # (ssh-bridge/read_ahead.h) takes what the socket holds, up to 128
        # KiB. 16 MiB in fewer than 2,048 socket reads cannot be libssh's own
        # reads; the digest shows the bytes arrive whole and in order.
        data = os.urandom(16 << 20)
        with tempfile.TemporaryDirectory() as tmp:
            trace = os.path.join(tmp, "trace")
            with traced(self, S.proc.pid, "recvfrom,read,readv", trace):
                r = S.ssh(H, "sha256sum", input=data)
            reads = [l for l in open(trace) if re.match(r"(recvfrom|readv)\(", l)]
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.split()[0].decode(), hashlib.sha256(data).hexdigest())
        self.assertGreater(len(reads), 0)
        self.assertLess(len(reads), 2048, "%d socket reads for 16 MiB" % len(reads))

    def test_slow_reader_stalls_the_child_instead_of_growing_memory(self):
        pid = S.proc.pid

        def rss():
            for line in open("/proc/%d/status" % pid):
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        before = rss()
        p = subprocess.Popen(S.ssh_args(H, "head -c 300M /dev/zero"), stdout=subprocess.PIPE)
        time.sleep(2)  # nobody reads: windows and pipes fill up
        during = rss()
        total = 0
        while True:
            chunk = p.stdout.read(1 << 20)
            if not chunk:
                break
            total += len(chunk)
        p.wait()
        self.assertEqual(total, 300 << 20)
        self.assertLess(during - before, 16 * 1024, "server RSS grew %d KiB" % (during - before))

    def test_signal_request_reaches_the_process_group(self):
        self.signal_reaches_the_process_group(S)

    def test_signal_sent_before_the_start_is_reported_still_arrives(self):
        # The real launcher hears of the start from the sandbox init, so the
        # first output can come first; a signal sent on seeing it waits for
        # the start instead of being refused.
        late = Server("--start-delay-ms", "1500")
        try:
            self.signal_reaches_the_process_group(late)
        finally:
            late.stop()

    def signal_reaches_the_process_group(self, server):
        need_paramiko(self)
        t = paramiko.Transport(("127.0.0.1", server.port))
        t.start_client(timeout=10)
        t.auth_publickey("gateway", paramiko.Ed25519Key.from_private_key_file(server.client_key))
        chan = t.open_session()
        chan.settimeout(30)  # a lost signal fails here, not at meson's timeout
        chan.exec_command('trap "echo got-int; exit 3" INT; echo ready; '
                          'while :; do sleep 0.1; done')
        f = chan.makefile()
        self.assertEqual(f.readline(), "ready\n")
        # RFC 4254 6.9: "signal", want-reply false, name without "SIG".
        m = Message()
        m.add_byte(bytes([98]))  # SSH_MSG_CHANNEL_REQUEST
        m.add_int(chan.remote_chanid)
        m.add_string("signal")
        m.add_boolean(False)
        m.add_string("INT")
        t._send_user_message(m)
        self.assertEqual(f.readline(), "got-int\n")
        self.assertEqual(chan.recv_exit_status(), 3)
        t.close()
        self.assertIn('"event":"signal"', server.log_text())
        self.assertNotIn('"detail":"signal INT"', server.log_text())

    def test_child_closing_stdin_early_is_harmless(self):
        # The child stops reading while the client still sends: the bridge
        # gets EPIPE (never SIGPIPE; the test server keeps SIGPIPE fatal).
        r = S.ssh(H, "head -c 10 >/dev/null; echo done", input=b"x" * (8 << 20))
        self.assertEqual((r.returncode, r.stdout), (0, b"done\n"))
        self.assertIsNone(S.proc.poll())
        self.assertEqual(S.ssh(H, "true").returncode, 0)

    def test_slow_child_stalls_the_client_instead_of_growing_memory(self):
        pid = S.proc.pid

        def rss():
            for line in open("/proc/%d/status" % pid):
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        before = rss()
        feeder = subprocess.Popen(["head", "-c", "300M", "/dev/zero"], stdout=subprocess.PIPE)
        p = subprocess.Popen(S.ssh_args(H, "sleep 2; wc -c"), stdin=feeder.stdout,
                             stdout=subprocess.PIPE)
        feeder.stdout.close()
        time.sleep(1.5)  # the child reads nothing yet
        during = rss()
        out, _ = p.communicate(timeout=120)
        self.assertEqual(out.strip(), str(300 << 20).encode())
        self.assertLess(during - before, 16 * 1024, "server RSS grew %d KiB" % (during - before))

    def test_env_accepted_except_openshell_and_ld(self):
        r = S.ssh("-o", "SetEnv=FOO=bar LD_PRELOAD=/x.so OPENSHELL_SANDBOX_ID=evil", H,
                  'echo "$FOO|${LD_PRELOAD-unset}|${OPENSHELL_SANDBOX_ID-unset}"')
        self.assertEqual(r.stdout, b"bar|unset|unset\n")
        log = S.log_text()
        self.assertIn('"detail":"env LD_PRELOAD"', log)
        self.assertIn('"detail":"env OPENSHELL_SANDBOX_ID"', log)

    def test_audit_events_name_peer_user_key_and_sandbox(self):
        S.ssh(H, "true")
        fp = subprocess.run(["ssh-keygen", "-lf", S.client_key + ".pub"],
                            capture_output=True, text=True).stdout.split()[1]
        opens = [l for l in S.log_text().splitlines() if '"event":"session_open"' in l]
        self.assertTrue(opens)
        self.assertIn('"key_fingerprint":"%s"' % fp, opens[-1])
        self.assertIn('"user":"gateway"', opens[-1])
        self.assertIn('"sandbox_id":"sandbox-test-1"', opens[-1])
        self.assertRegex(opens[-1], r'"peer":"127\.0\.0\.1:\d+"')
        self.assertIn('"event":"session_close"', S.log_text())


class Terminal(unittest.TestCase):
    def run_in_pty(self, args, rows, cols, script):
        pid, fd = pty.fork()
        if pid == 0:
            os.execvp(args[0], args)
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        out = b""
        try:
            out = script(pid, fd)
        finally:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            os.waitpid(pid, 0)
            os.close(fd)
        return out

    @staticmethod
    def read_until(fd, pattern, timeout=10):
        buf = b""
        deadline = time.time() + timeout
        while time.time() < deadline:
            r, _, _ = select.select([fd], [], [], 0.1)
            if r:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                buf += chunk
                if re.search(pattern, buf):
                    return buf
        raise AssertionError("did not see %r in %r" % (pattern, buf))

    def test_pty_size_term_and_window_change(self):
        cmd = ('echo TERM=$TERM; stty size; trap "stty size; exit 0" WINCH; '
               'echo ready; while :; do sleep 0.05; done')
        args = S.ssh_args("-t", H, cmd)

        def script(pid, fd):
            out = self.read_until(fd, rb"ready")
            self.assertIn(b"24 80", out)
            self.assertRegex(out, rb"TERM=\S+")
            # What a terminal emulator does on resize: new size, SIGWINCH.
            fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 132, 0, 0))
            os.kill(pid, signal.SIGWINCH)
            return self.read_until(fd, rb"50 132")
        self.run_in_pty(args, 24, 80, script)

    def test_interactive_shell_runs_commands(self):
        args = S.ssh_args("-t", H)

        def script(pid, fd):
            os.write(fd, b"echo $((6*7))\n")
            self.read_until(fd, rb"42")
            os.write(fd, b"exit 3\n")
            _, status = os.waitpid(pid, 0)
            return os.waitstatus_to_exitcode(status)
        pid, fd = pty.fork()
        if pid == 0:
            os.execvp(args[0], args)
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
        try:
            self.assertEqual(script(pid, fd), 3)
        finally:
            os.close(fd)


class NoShell(unittest.TestCase):
    def test_missing_shell_gives_message_and_127(self):
        s = Server("--shell", "/nonexistent/sh")
        try:
            r = s.ssh(H, "true")
            self.assertEqual(r.returncode, 127)
            self.assertIn(b"no shell", r.stderr)
        finally:
            s.stop()


class Files(unittest.TestCase):
    def setUp(self):
        self.remote = tempfile.mkdtemp(prefix="ssh-sftp-remote-")
        self.local = tempfile.mkdtemp(prefix="ssh-sftp-local-")

    def tearDown(self):
        shutil.rmtree(self.remote)
        shutil.rmtree(self.local)

    def test_sftp_commands(self):
        with open(os.path.join(self.local, "up.bin"), "wb") as f:
            f.write(os.urandom(3 << 20))
        with open(os.path.join(self.remote, "down.txt"), "w") as f:
            f.write("down\n")
        r, l = self.remote, self.local
        batch = "\n".join([
            "cd " + r, "pwd", "ls -l",
            "get down.txt %s/got.txt" % l,
            "put %s/up.bin up.bin" % l,
            "mkdir d", "rename up.bin d/moved.bin", "chmod 600 d/moved.bin",
            "symlink down.txt link", "rm down.txt", "ls -l d", ""])
        bf = os.path.join(self.local, "batch")
        open(bf, "w").write(batch)
        p = subprocess.run(["sftp", "-b", bf, "-P", str(S.port)] + S.opts() + [H],
                           capture_output=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(("Remote working directory: " + r).encode(), p.stdout)
        self.assertEqual(open(os.path.join(l, "got.txt")).read(), "down\n")
        moved = os.path.join(r, "d", "moved.bin")
        self.assertEqual(open(moved, "rb").read(), open(os.path.join(l, "up.bin"), "rb").read())
        self.assertEqual(os.stat(moved).st_mode & 0o777, 0o600)
        self.assertEqual(os.readlink(os.path.join(r, "link")), "down.txt")
        self.assertFalse(os.path.exists(os.path.join(r, "down.txt")))

    def test_scp_both_ways(self):
        src = os.path.join(self.local, "a.bin")
        open(src, "wb").write(os.urandom(5 << 20))
        base = ["scp", "-q", "-P", str(S.port)] + S.opts()
        self.assertEqual(subprocess.run(base + [src, H + ":" + self.remote + "/"]).returncode, 0)
        back = os.path.join(self.local, "b.bin")
        self.assertEqual(
            subprocess.run(base + [H + ":" + self.remote + "/a.bin", back]).returncode, 0)
        self.assertEqual(open(src, "rb").read(), open(back, "rb").read())
        # scp -r, and a home-relative path (expand-path@openssh.com)
        os.makedirs(os.path.join(self.local, "tree/x"))
        open(os.path.join(self.local, "tree/x/f"), "w").write("f")
        self.assertEqual(subprocess.run(base + ["-r", os.path.join(self.local, "tree"),
                                                H + ":" + self.remote]).returncode, 0)
        self.assertEqual(open(os.path.join(self.remote, "tree/x/f")).read(), "f")

    def test_files_written_through_sftp_are_fsynced_on_close(self):
        # Durability is a promise: without strace this fails, not skips,
        # under OPENSHELL_TESTS_MUST_WORK=1.
        trace = os.path.join(self.local, "trace")
        src = os.path.join(self.local, "f.bin")
        open(src, "wb").write(os.urandom(1 << 20))
        with traced(self, S.proc.pid, "fsync", trace, follow_forks=True):
            r = subprocess.run(["scp", "-q", "-P", str(S.port)] + S.opts() +
                               [src, H + ":" + self.remote + "/f.bin"])
        self.assertEqual(r.returncode, 0)
        self.assertIn("fsync(", open(trace).read())

    def test_rsync_over_ssh(self):
        src = os.path.dirname(os.path.abspath(__file__)) + "/"
        e = " ".join(["ssh"] + S.opts() + ["-p", str(S.port)])
        r = subprocess.run(["rsync", "-a", "-e", e, src, H + ":" + self.remote + "/"],
                           capture_output=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(subprocess.run(["diff", "-r", src, self.remote]).returncode, 0)


class EchoServer:
    def __init__(self, family=socket.AF_INET, host="127.0.0.1"):
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.bind((host, 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.echo, args=(c,), daemon=True).start()

    @staticmethod
    def echo(c):
        while True:
            d = c.recv(65536)
            if not d:
                break
            c.sendall(d)
        c.close()


class Forwarding(unittest.TestCase):
    def test_direct_tcpip_to_loopback(self):
        echo = EchoServer()
        for host in ("127.0.0.1", "localhost"):
            data = os.urandom(3 << 20)
            r = S.ssh("-W", "%s:%d" % (host, echo.port), H, input=data)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stdout, data)

    def test_direct_tcpip_to_ipv6_loopback(self):
        try:
            with socket.socket(socket.AF_INET6) as probe:
                probe.bind(("::1", 0))
        except OSError as e:
            # Not a security check: only this case needs IPv6.
            self.skipTest("SKIPPED LOUDLY: no IPv6 on loopback here (%s)" % e)
        echo = EchoServer(socket.AF_INET6, "::1")
        r = S.ssh("-W", "[::1]:%d" % echo.port, H, input=b"six\n")
        self.assertEqual(r.stdout, b"six\n")

    def test_direct_tcpip_elsewhere_is_refused_and_audited(self):
        for target in ("10.0.0.1:80", "192.0.2.1:22", "example.com:443", "[::ffff:127.0.0.1]:22"):
            r = S.ssh("-W", target, H, input=b"")
            self.assertEqual(r.returncode, 255)
            self.assertIn(b"administratively prohibited", r.stderr)
        self.assertIn("direct-tcpip 10.0.0.1:80: only loopback is allowed", S.log_text())


class MainAttach(unittest.TestCase):
    def attach(self, **kw):
        return subprocess.Popen(S.ssh_args("-s", H, "openshell-main"), stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)

    def test_replay_is_the_last_mebibyte(self):
        p = self.attach()
        time.sleep(1.5)
        p.stdin.write(b"\x10\x11")
        p.stdin.flush()
        out, err = p.communicate(timeout=10)
        # The replay (1 MiB), nothing before it; then the detach.
        self.assertGreaterEqual(len(out), 1 << 20)
        self.assertTrue(out.startswith(b"line ") or out[:20].find(b"\n") >= 0)
        self.assertIn(b"line 0149999\n", out)
        self.assertNotIn(b"line 0000000", out)
        self.assertIn(b"detached", err)
        self.assertEqual(p.returncode, 0)

    def test_one_writer_others_read_only_and_detach(self):
        writer = self.attach()
        time.sleep(0.8)
        reader = self.attach()
        time.sleep(0.8)
        writer.stdin.write(b"hello from writer\r")
        writer.stdin.flush()
        reader.stdin.write(b"ignored input\r")
        reader.stdin.flush()
        time.sleep(0.8)
        writer.stdin.write(b"\x10\x11")
        writer.stdin.flush()
        reader.stdin.write(b"\x10\x11")
        reader.stdin.flush()
        wout, werr = writer.communicate(timeout=10)
        rout, rerr = reader.communicate(timeout=10)
        self.assertIn(b"echo:hello from writer", rout)
        self.assertNotIn(b"echo:ignored input", rout + wout)
        self.assertIn(b"read-only", rerr)
        self.assertNotIn(b"read-only", werr)

    def test_dropped_client_leaves_the_main_process_alone(self):
        p = self.attach()
        time.sleep(0.5)
        p.kill()  # the connection just drops
        p.wait()
        q = self.attach()
        time.sleep(0.8)
        q.stdin.write(b"still here\r")
        q.stdin.flush()
        time.sleep(0.5)
        q.stdin.write(b"\x10\x11")
        q.stdin.flush()
        out, _ = q.communicate(timeout=10)
        self.assertIn(b"echo:still here", out)


    def test_main_process_exit_ends_the_attachment(self):
        s = Server()  # its own main process: this one ends
        try:
            p = subprocess.Popen(s.ssh_args("-s", H, "openshell-main"), stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            time.sleep(0.8)
            p.stdin.write(b"quit\r")
            p.stdin.flush()
            out, _ = p.communicate(timeout=10)
            self.assertIn(b"echo:quit", out)
            self.assertEqual(p.returncode, 0)
        finally:
            s.stop()


class Refusals(unittest.TestCase):
    def test_none_authentication_is_refused(self):
        r = S.ssh("-o", "PreferredAuthentications=none", H, "true")
        self.assertEqual(r.returncode, 255)
        self.assertIn(b"Permission denied (publickey)", r.stderr)

    def test_password_and_keyboard_interactive_are_refused(self):
        need_paramiko(self)
        for method in ("password", "interactive"):
            t = paramiko.Transport(("127.0.0.1", S.port))
            t.start_client(timeout=10)
            with self.assertRaises(paramiko.BadAuthenticationType) as ctx:
                if method == "password":
                    t.auth_password("gateway", "secret")
                else:
                    t.auth_interactive("gateway", lambda *a: ["secret"])
            self.assertEqual(ctx.exception.allowed_types, ["publickey"])
            t.close()
        log = S.log_text()
        self.assertIn('"detail":"password: method not allowed"', log)
        self.assertIn('"detail":"keyboard-interactive: method not allowed"', log)

    def test_unknown_key_is_refused_and_audited(self):
        other = os.path.join(S.dir, "other")
        if not os.path.exists(other):
            keygen(other)
        r = S.ssh(H, "true", key=other)
        self.assertEqual(r.returncode, 255)
        fp = subprocess.run(["ssh-keygen", "-lf", other + ".pub"], capture_output=True,
                            text=True).stdout.split()[1]
        self.assertRegex(S.log_text(),
                         '"event":"auth_failure".*"key_fingerprint":"%s".*key not authorized'
                         % re.escape(fp))

    def test_too_many_attempts_disconnect(self):
        need_paramiko(self)
        t = paramiko.Transport(("127.0.0.1", S.port))
        t.start_client(timeout=10)
        failures = 0
        with self.assertRaises((paramiko.SSHException, EOFError, OSError)):
            for _ in range(10):
                try:
                    t.auth_publickey("gateway", paramiko.Ed25519Key.generate()
                                     if hasattr(paramiko.Ed25519Key, "generate")
                                     else paramiko.RSAKey.generate(1024))
                except paramiko.AuthenticationException:
                    failures += 1
        self.assertLessEqual(failures, 6)
        # The right key is now too late: the connection is gone.
        with self.assertRaises(Exception):
            t.auth_publickey("gateway", paramiko.Ed25519Key.from_private_key_file(S.client_key))
        t.close()
        self.assertIn("too many authentication failures", S.log_text())

    def test_userauth_success_from_client_grants_nothing(self):
        """CVE-2018-10933: a client sends SSH_MSG_USERAUTH_SUCCESS instead of
        authenticating, then asks for a session channel."""
        need_paramiko(self)
        marker = os.path.join(S.dir, "pwned")
        t = paramiko.Transport(("127.0.0.1", S.port))
        t.start_client(timeout=10)
        self.assertTrue(t.initial_kex_done)
        local_port = t.sock.getsockname()[1]
        m = Message()
        m.add_byte(bytes([52]))  # SSH_MSG_USERAUTH_SUCCESS
        t._send_message(m)
        t.authenticated = True  # make paramiko believe it, too
        # The server refuses the channel (CHANNEL_OPEN_FAILURE) or drops the
        # connection; nothing else is an acceptable answer.
        with self.assertRaises((paramiko.ChannelException, paramiko.SSHException, EOFError)) as ctx:
            chan = t.open_session(timeout=5)
            chan.exec_command("touch " + marker)
            chan.recv_exit_status()
        if isinstance(ctx.exception, paramiko.ChannelException):
            self.assertEqual(ctx.exception.code, paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED)
        t.close()
        # On record: this connection closed unauthenticated, never opened.
        peer = '"peer":"127.0.0.1:%d"' % local_port
        closed = re.compile('"event":"preauth_close",%s' % re.escape(peer))
        deadline = time.time() + 10
        while not closed.search(S.log_text()) and time.time() < deadline:
            time.sleep(0.05)
        self.assertRegex(S.log_text(), closed)
        self.assertNotRegex(S.log_text(), '"event":"session_open",%s' % re.escape(peer))
        self.assertFalse(os.path.exists(marker))

    def test_flood_of_unauthenticated_connections_does_not_starve_the_gateway(self):
        socks = []
        for _ in range(200):
            c = socket.create_connection(("127.0.0.1", S.port))
            c.sendall(b"SSH-2.0-flood\r\n")
            socks.append(c)
        time.sleep(0.5)
        try:
            start = time.time()
            r = S.ssh(H, "true")
            elapsed = time.time() - start
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertLess(elapsed, 1.0)
            self.assertIn("unauthenticated connection limit", S.log_text())
        finally:
            for c in socks:
                c.close()

    def test_unauthenticated_connection_times_out(self):
        s = Server("--auth-timeout-ms", "500")
        try:
            c = socket.create_connection(("127.0.0.1", s.port))
            c.settimeout(5)
            start = time.time()
            data = b""
            while True:
                d = c.recv(4096)
                if not d:
                    break
                data += d
            self.assertTrue(data.startswith(b"SSH-2.0-"))
            self.assertLess(time.time() - start, 3)
            self.assertIn('"event":"auth_timeout"', s.log_text())
        finally:
            s.stop()


class Handshakes(unittest.TestCase):
    """Sequential handshakes never stall while other connections come and go.

    libssh closes its fd when it sees EOF, before the bridge tears the
    connection down; when the loop watched that same fd, the next accept()
    could reuse the number and the old connection's deregistration removed the
    NEW connection from the loop: about 1 handshake in 30 stalled in key
    exchange until the client gave up. The load below (connections that close
    before authenticating, one busy session) makes fd numbers churn. Each
    churning connection waits for the server's banner before it closes, so
    the churn never outruns the server: an open-loop flood faster than the
    server accepts queues every later connection behind it in the listen
    backlog (seen in the sanitizer build, whose server is slower), which is
    load, not the stall this test is about.
    """
    ROUNDS = int(os.environ.get("OPENSHELL_HANDSHAKE_ROUNDS", "500"))
    STALL = 8  # seconds: a loopback handshake takes milliseconds

    def setUp(self):
        need_paramiko(self)
        self.stop = threading.Event()
        self.churned = 0

        def churn():
            while not self.stop.is_set():
                try:
                    c = socket.create_connection(("127.0.0.1", S.port), timeout=5)
                    c.sendall(b"SSH-2.0-churn\r\n")
                    c.recv(64)  # the server's banner: it has served this one
                    c.close()
                    self.churned += 1
                except OSError:
                    pass
                time.sleep(0.002)

        self.churner = threading.Thread(target=churn, daemon=True)
        self.churner.start()
        self.busy = subprocess.Popen(S.ssh_args(H, "cat /dev/zero"),
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def tearDown(self):
        self.stop.set()
        self.churner.join()
        self.busy.kill()
        self.busy.wait()

    def assert_load_ran(self):
        self.assertIsNone(self.busy.poll(), "the busy session ended early")
        self.assertGreater(self.churned, 0)

    def test_paramiko_handshakes_never_stall(self):
        key = paramiko.Ed25519Key.from_private_key_file(S.client_key)
        for i in range(self.ROUNDS):
            sock = socket.create_connection(("127.0.0.1", S.port), timeout=self.STALL)
            t = paramiko.Transport(sock)
            try:
                t.start_client(timeout=self.STALL)
                # start_client returns silently on its timeout; the key
                # exchange must have finished.
                self.assertTrue(t.is_active() and t.initial_kex_done,
                                "handshake %d of %d stalled in key exchange" % (i, self.ROUNDS))
                t.auth_publickey("gateway", key)
                self.assertTrue(t.is_authenticated())
            finally:
                t.close()
        self.assert_load_ran()

    def test_openssh_handshakes_never_stall(self):
        for i in range(self.ROUNDS):
            try:
                r = S.ssh("-o", "ConnectTimeout=%d" % self.STALL, H, "true", timeout=self.STALL * 2)
            except subprocess.TimeoutExpired:
                self.fail("ssh %d of %d stalled" % (i, self.ROUNDS))
            self.assertEqual(r.returncode, 0, "ssh %d of %d: %r" % (i, self.ROUNDS, r.stderr))
        self.assert_load_ran()

    def test_preauth_close_is_logged_with_its_reason(self):
        c = socket.create_connection(("127.0.0.1", S.port))
        c.sendall(b"SSH-2.0-probe\r\n")
        c.recv(64)
        c.close()
        deadline = time.time() + 10
        while '"event":"preauth_close"' not in S.log_text() and time.time() < deadline:
            time.sleep(0.05)
        self.assertRegex(S.log_text(), '"level":"warn".*"event":"preauth_close"'
                         '.*"detail":"[^"]+ \\(during key exchange\\)"')


class QuickAcks(unittest.TestCase):
    """No handshake waits for a delayed ACK.

    OpenSSH's client keeps Nagle on for a command without a terminal, and in
    the key exchange it sends two messages with no reply between them
    (KEXINIT, then KEX_ECDH_INIT once the server's KEXINIT is in): the second
    is held until the server's kernel acknowledges the first, which a delayed
    ACK does only after 40 ms. That was 35-40 ms in about half of all
    `ssh host true`. The bridge asks for quick ACKs until the client has
    authenticated. In a network namespace of its own the kernel's count of
    delayed ACKs (TcpExt DelayedACKs) is this server's alone: without quick
    ACKs nearly every connection adds one.
    """
    CONNECTIONS = 10

    def test_handshakes_wait_for_no_delayed_ack(self):
        server = Server(prefix=["unshare", "--net", "sh", "-c", 'ip link set lo up && exec "$@"', "sh"])
        self.addCleanup(server.stop)
        netns = ["nsenter", "--net=/proc/%d/ns/net" % server.proc.pid]

        def delayed_acks():
            with open("/proc/%d/net/netstat" % server.proc.pid) as f:
                names, values = [line.split() for line in f if line.startswith("TcpExt:")]
            return int(values[names.index("DelayedACKs")])

        before = delayed_acks()
        for _ in range(self.CONNECTIONS):
            r = subprocess.run(netns + server.ssh_args(H, "true"), capture_output=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
        # A few may come from the kernel's own timing; one per connection is
        # the missing quick ACK.
        self.assertLessEqual(delayed_acks() - before, self.CONNECTIONS // 5)


class Startup(unittest.TestCase):
    def start_fails(self, authorized, needle):
        d = tempfile.mkdtemp()
        ak = os.path.join(d, "ak")
        open(ak, "w").write(authorized)
        r = subprocess.run([SERVER, "--authorized-keys", ak], capture_output=True, timeout=10)
        shutil.rmtree(d)
        self.assertEqual(r.returncode, 3)
        self.assertIn(needle, r.stderr)
        self.assertIn(b"refuses to start", r.stderr)

    def test_no_usable_key_fails_closed(self):
        self.start_fails("", b"no usable public key")
        self.start_fails("# only a comment\n", b"no usable public key")
        self.start_fails("ssh-ed25519 not-base64\n", b"invalid ssh-ed25519 key data")
        pub = open(S.client_key + ".pub").read()
        self.start_fails('from="10.0.0.1" ' + pub, b"key options are not supported")

    def test_missing_keys_file_fails_closed(self):
        r = subprocess.run([SERVER, "--authorized-keys", "/nonexistent/ak"],
                           capture_output=True, timeout=10)
        self.assertEqual(r.returncode, 3)
        self.assertIn(b"No such file", r.stderr)

    def test_host_key_from_file_and_its_fingerprint_logged(self):
        d = tempfile.mkdtemp()
        hk = os.path.join(d, "host")
        keygen(hk)
        s = Server(host_key=hk)
        try:
            fp = subprocess.run(["ssh-keygen", "-lf", hk + ".pub"], capture_output=True,
                                text=True).stdout.split()[1]
            self.assertEqual(s.fingerprint, fp)
            self.assertIn('"fingerprint":"%s"' % fp, s.log_text())
            self.assertEqual(s.ssh(H, "true").returncode, 0)  # StrictHostKeyChecking
        finally:
            s.stop()
            shutil.rmtree(d)

    def test_non_ed25519_host_key_is_refused(self):
        d = tempfile.mkdtemp()
        hk = os.path.join(d, "host")
        keygen(hk, "ecdsa")
        ak = os.path.join(d, "ak")
        shutil.copy(S.client_key + ".pub", ak)
        r = subprocess.run([SERVER, "--authorized-keys", ak, "--host-key", hk],
                           capture_output=True, timeout=10)
        shutil.rmtree(d)
        self.assertEqual(r.returncode, 3)
        self.assertIn(b"must be Ed25519", r.stderr)


class UnixSocket(unittest.TestCase):
    def paramiko_exec(self, s, address, command):
        need_paramiko(self)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(address)
        t = paramiko.Transport(sock)
        t.start_client(timeout=10)
        t.auth_publickey("gateway", paramiko.Ed25519Key.from_private_key_file(s.client_key))
        chan = t.open_session()
        chan.exec_command(command)
        out = chan.makefile().read()
        status = chan.recv_exit_status()
        t.close()
        return out, status

    def test_socket_path_modes_and_service(self):
        base = tempfile.mkdtemp()
        path = os.path.join(base, "run", "ssh.sock")
        s = Server("--listen", "off", "--socket", path)
        try:
            self.assertEqual(os.stat(os.path.dirname(path)).st_mode & 0o777, 0o700)
            self.assertEqual(os.stat(path).st_mode & 0o777, 0o600)
            out, status = self.paramiko_exec(s, path, "echo via-unix; exit 4")
            self.assertEqual((out, status), (b"via-unix\n", 4))
        finally:
            s.stop()
            shutil.rmtree(base)

    def test_abstract_socket(self):
        name = "openshell-test-%d" % os.getpid()
        s = Server("--listen", "off", "--socket", "@" + name)
        try:
            out, status = self.paramiko_exec(s, "\0" + name, "echo abstract")
            self.assertEqual((out, status), (b"abstract\n", 0))
        finally:
            s.stop()


if __name__ == "__main__":
    SERVER = os.path.abspath(sys.argv.pop(1))
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
    import unittest_tap  # noqa: E402  (tests/support: each case reported to meson)
    unittest_tap.main(sys.argv[1:])
