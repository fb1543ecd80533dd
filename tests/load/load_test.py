#!/usr/bin/env python3
"""Faults and load against the real supervisor as PID 1, reached with
OpenSSH's own clients: many sessions at once, a session's process killed
mid-transfer, an upload into a full filesystem, thousands of orphans. After
each, the supervisor must still serve: the main process is alive and a new
ssh session succeeds.

Usage: load_test.py SUPERVISOR [unittest args]. Runs as root.
"""
import ctypes
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

SUPERVISOR = None
SANDBOX_UID = 1000
SESSIONS = 200
ORPHANS = 10000

# The policy the tests run under, named explicitly so nothing on the
# machine (/etc/openshell/policy.yaml) changes what they test.
POLICY = """\
version: 1
filesystem_policy:
  include_workdir: true
  read_only: [/usr, /lib, /lib64, /bin, /sbin, /proc, /dev/urandom, /etc]
  read_write: [/tmp, /dev/null]
landlock:
  compatibility: best_effort
"""


def private_mounts():
    """Every mount a test makes lives in this process's own mount namespace
    and disappears with it, whatever way the test ends."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(0x00020000) != 0:  # CLONE_NEWNS
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNS)")
    subprocess.run(["mount", "--make-rprivate", "/"], check=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def supervisor_pid_of(unshare_pid):
    with open("/proc/%d/task/%d/children" % (unshare_pid, unshare_pid)) as f:
        return int(f.read().split()[0])


def descendants(pid):
    """(pid, state) of every descendant of `pid`, from /proc."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        children.setdefault(int(fields[1]), []).append((int(entry), fields[0]))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child[0])
    return out


class Supervisor:
    """openshell-supervisor as PID 1 of a new PID namespace, with an explicit
    policy, a workdir (optionally a small tmpfs) and a gateway key."""

    def __init__(self, workdir_tmpfs_size=None):
        self.dir = tempfile.mkdtemp(prefix="load-test-", dir="/var/tmp")
        os.chmod(self.dir, 0o755)
        self.workdir = os.path.join(self.dir, "work")
        os.mkdir(self.workdir)
        if workdir_tmpfs_size:
            subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s,mode=0755" % workdir_tmpfs_size,
                            "load-test-work", self.workdir], check=True)
        os.chown(self.workdir, SANDBOX_UID, SANDBOX_UID)
        self.policy = os.path.join(self.dir, "policy.yaml")
        with open(self.policy, "w") as f:
            f.write(POLICY)
        self.key = os.path.join(self.dir, "gateway")
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", self.key], check=True)
        self.authorized_keys = os.path.join(self.dir, "authorized_keys")
        shutil.copy(self.key + ".pub", self.authorized_keys)
        self.port = free_port()
        environment = {
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            "OPENSHELL_POLICY_FILE": self.policy,
            "OPENSHELL_SSH_LISTEN": "127.0.0.1:%d" % self.port,
            "OPENSHELL_SSH_AUTHORIZED_KEYS_FILE": self.authorized_keys,
            "OPENSHELL_WORKDIR": self.workdir,
            "OPENSHELL_SANDBOX_ID": "load-test",
            "OPENSHELL_LOG_LEVEL": "info",
        }
        for name in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
            if name in os.environ:
                environment[name] = os.environ[name]
        self.log_path = os.path.join(self.dir, "supervisor.log")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            ["unshare", "--pid", "--fork", "--kill-child", SUPERVISOR, "--", "sleep", "3600"],
            env=environment, stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log)
        deadline = time.time() + 30
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("supervisor exited: " + self.read_log())
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    break
            if time.time() > deadline:
                raise RuntimeError("supervisor not listening: " + self.read_log())
            time.sleep(0.05)
        self.pid = supervisor_pid_of(self.proc.pid)

    def read_log(self):
        self.log.flush()
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def options(self, port_flag="-p", source=None):
        out = ["-F", "/dev/null", port_flag, str(self.port), "-i", self.key,
               "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
               "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=error",
               "-o", "ConnectTimeout=60"]
        if source:
            out += ["-o", "BindAddress=" + source]
        return out

    def ssh(self, command, input=None, timeout=60, source=None):
        return subprocess.run(["ssh", *self.options(source=source), "gateway@127.0.0.1", command],
                              input=input, capture_output=True, timeout=timeout)

    def sftp(self, batch, timeout=120):
        return subprocess.run(["sftp", *self.options("-P"), "-b", "-", "gateway@127.0.0.1"],
                              input=batch.encode(), capture_output=True, timeout=timeout)

    def assert_serving(self, test):
        """The supervisor, its sandbox and its main process survived, and a
        new session works."""
        test.assertIsNone(self.proc.poll(), "the supervisor exited:\n" + self.read_log()[-4000:])
        result = self.ssh("cat /proc/2/cmdline | tr '\\0' ' '; echo; echo still-serving")
        test.assertEqual(result.returncode, 0, result.stderr)
        test.assertEqual(result.stdout.decode().split("\n")[:2], ["sleep 3600 ", "still-serving"])
        sanitizer = re.search(r"(AddressSanitizer|runtime error|LeakSanitizer).*", self.read_log())
        test.assertIsNone(sanitizer, sanitizer and sanitizer.group(0))

    def stop(self):
        if self.proc.poll() is None:
            try:
                os.kill(self.pid, signal.SIGTERM)
                self.proc.wait(timeout=30)
            except (subprocess.TimeoutExpired, OSError):
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        subprocess.run(["umount", "-l", self.workdir], stderr=subprocess.DEVNULL)
        shutil.rmtree(self.dir, ignore_errors=True)


class Load(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sup = Supervisor()

    @classmethod
    def tearDownClass(cls):
        cls.sup.stop()

    def test_200_concurrent_sessions_each_running_a_command(self):
        # Each session marks itself present and waits until all are: every
        # one reports SESSIONS only if all of them were open at once. Each
        # comes from its own loopback address, as many gateways would, so a
        # per-source limit on handshakes is not what is measured.
        barrier = "n=0; touch live-$S; while :; do set -- live-*; " \
                  "[ $# -ge %d ] && break; n=$((n+1)); [ $n -gt 240 ] && break; sleep 0.5; done; " \
                  "echo session-$S saw $#" % SESSIONS
        started = time.time()
        clients = []
        for i in range(SESSIONS):
            source = "127.0.%d.%d" % (10 + i // 200, 1 + i % 200)
            clients.append(subprocess.Popen(
                ["ssh", *self.sup.options(source=source), "gateway@127.0.0.1",
                 "cd %s && S=%d; %s" % (self.sup.workdir, i, barrier)],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE))
        failures = []
        for i, client in enumerate(clients):
            out, err = client.communicate(timeout=300)
            if client.returncode != 0 or out.decode().strip() != "session-%d saw %d" % (i, SESSIONS):
                failures.append((i, client.returncode, out[-200:], err[-300:]))
        elapsed = time.time() - started
        print("%d sessions: %.1f s, %d failed" % (SESSIONS, elapsed, len(failures)), file=sys.stderr)
        self.assertEqual(failures, [])
        self.sup.assert_serving(self)

    def test_sigkill_of_a_session_process_mid_upload(self):
        # An upload streamed into `cat`, killed from another session once
        # data flows. The uploading client sees the failure; nothing else does.
        target = os.path.join(self.sup.workdir, "killed-upload")
        upload = subprocess.Popen(
            ["ssh", *self.sup.options(), "gateway@127.0.0.1",
             "echo $$ > %s.pid; exec cat > %s" % (target, target)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        chunk = os.urandom(64 * 1024)

        def feed():
            try:
                while True:
                    upload.stdin.write(chunk)
            except (BrokenPipeError, ValueError, OSError):
                pass
        feeder = threading.Thread(target=feed, daemon=True)
        feeder.start()
        deadline = time.time() + 60
        while not (os.path.exists(target) and os.path.getsize(target) > 4 * 1024 * 1024):
            self.assertLess(time.time(), deadline, "the upload never started")
            time.sleep(0.1)
        kill = self.sup.ssh("kill -KILL $(cat %s.pid)" % target)
        self.assertEqual(kill.returncode, 0, kill.stderr)
        upload.wait(timeout=60)
        self.assertNotEqual(upload.returncode, 0, "the client must see its process die")
        feeder.join(timeout=10)
        self.sup.assert_serving(self)

    def test_sigkill_of_the_sftp_server_mid_download(self):
        source = os.path.join(self.sup.workdir, "big-download")
        with open(source, "wb") as f:
            f.write(os.urandom(64 * 1024 * 1024))
        os.chown(source, SANDBOX_UID, SANDBOX_UID)
        local = os.path.join(self.sup.dir, "downloaded")
        # A rate-limited client keeps the transfer going long enough to be
        # killed mid-way.
        download = subprocess.Popen(
            ["sftp", *self.sup.options("-P"), "-l", "8192", "-b", "-", "gateway@127.0.0.1"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        download.stdin.write(("get %s %s\n" % (source, local)).encode())
        download.stdin.close()
        deadline = time.time() + 60
        while not (os.path.exists(local) and os.path.getsize(local) > 1024 * 1024):
            self.assertLess(time.time(), deadline, "the download never started")
            time.sleep(0.1)
        # The sftp-server is the supervisor binary run inside the sandbox.
        kill = self.sup.ssh(
            "for p in /proc/[0-9]*; do grep -qa sftp-server $p/cmdline 2>/dev/null && "
            "kill -KILL ${p#/proc/} && echo killed; done")
        self.assertIn(b"killed", kill.stdout, kill.stderr)
        download.wait(timeout=60)
        self.assertNotEqual(download.returncode, 0, "the client must see the transfer fail")
        self.assertLess(os.path.getsize(local), os.path.getsize(source))
        self.sup.assert_serving(self)

    def test_10000_orphans_are_reaped(self):
        # Batches of children whose parent exits at once: each child is
        # orphaned, exits, and is a zombie that only the sandbox's init can
        # reap. Unreaped, 10,000 of them would exhaust the process limit
        # long before the last batch.
        script = """
import os, time
for batch in range(%d):
    parent = os.fork()
    if parent == 0:
        for _ in range(%d):
            if os.fork() == 0:
                time.sleep(0.2)
                os._exit(0)
        os._exit(0)
    os.waitpid(parent, 0)
time.sleep(2)
zombies = 0
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        with open("/proc/%%s/stat" %% pid) as f:
            zombies += f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        pass
print("zombies=%%d" %% zombies)
""" % (ORPHANS // 500, 500)
        result = self.sup.ssh("python3 -", input=script.encode(), timeout=600)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout.strip(), b"zombies=0")
        # Seen from outside too: no zombie anywhere under the supervisor.
        deadline = time.time() + 10
        while True:
            zombies = [pid for pid, state in descendants(self.sup.pid) if state == "Z"]
            if not zombies or time.time() > deadline:
                break
            time.sleep(0.2)
        self.assertEqual(zombies, [])
        self.sup.assert_serving(self)


class FullFilesystem(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sup = Supervisor(workdir_tmpfs_size="2m")

    @classmethod
    def tearDownClass(cls):
        cls.sup.stop()

    def test_sftp_upload_into_a_full_filesystem_fails_at_the_client(self):
        source = os.path.join(self.sup.dir, "too-big")
        with open(source, "wb") as f:
            f.write(os.urandom(8 * 1024 * 1024))
        target = os.path.join(self.sup.workdir, "too-big")
        result = self.sup.sftp("put %s %s\n" % (source, target))
        self.assertNotEqual(result.returncode, 0, "sftp claimed the upload succeeded")
        self.assertRegex(result.stderr.decode(), r"(?i)fail|no space")
        # Whatever was kept is a truncated prefix, never the claimed file.
        if os.path.exists(target):
            self.assertLess(os.path.getsize(target), os.path.getsize(source))
        # scp (the SFTP protocol too) fails the same way.
        scp = subprocess.run(["scp", *self.sup.options("-P"), source,
                              "gateway@127.0.0.1:" + target + "-scp"],
                             capture_output=True, timeout=120)
        self.assertNotEqual(scp.returncode, 0, "scp claimed the upload succeeded")
        # A write through a session's shell sees ENOSPC too.
        shell = self.sup.ssh("head -c 8388608 /dev/urandom > %s/by-shell" % self.sup.workdir)
        self.assertNotEqual(shell.returncode, 0)
        self.assertIn(b"No space left", shell.stderr)
        # Space freed, the same upload works: the failure was the disk's.
        for name in ("too-big", "too-big-scp", "by-shell"):
            if os.path.exists(os.path.join(self.sup.workdir, name)):
                os.unlink(os.path.join(self.sup.workdir, name))
        with open(source, "wb") as f:
            f.write(os.urandom(512 * 1024))
        result = self.sup.sftp("put %s %s\n" % (source, target))
        self.assertEqual(result.returncode, 0, result.stderr)
        with open(source, "rb") as a, open(target, "rb") as b:
            self.assertEqual(a.read(), b.read())
        self.sup.assert_serving(self)


if __name__ == "__main__":
    SUPERVISOR = os.path.abspath(sys.argv.pop(1))
    private_mounts()
    unittest.main(verbosity=2)
