#!/usr/bin/env python3
"""The real supervisor as PID 1 with a real sandbox, reached with OpenSSH's
own ssh, scp, sftp and rsync: every session runs inside the same sandbox as
the main process, restricted like it.

Usage: sandbox_ssh_test.py SUPERVISOR [unittest args]. Runs as root.
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

SUPERVISOR = None
SANDBOX_UID = 1000


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Supervisor:
    """openshell-supervisor as PID 1 of a new PID namespace, with a gateway key."""

    def __init__(self, main=("sleep", "600"), env=None, authorized=True):
        # Not under /tmp: the sandbox gets a fresh /tmp of its own.
        self.dir = tempfile.mkdtemp(prefix="sandbox-ssh-test-", dir="/var/tmp")
        os.chmod(self.dir, 0o755)
        self.workdir = os.path.join(self.dir, "work")
        os.mkdir(self.workdir)
        os.chown(self.workdir, SANDBOX_UID, SANDBOX_UID)
        self.key = os.path.join(self.dir, "gateway")
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", self.key], check=True)
        self.authorized_keys = os.path.join(self.dir, "authorized_keys")
        with open(self.authorized_keys, "w") as f:
            if authorized:
                f.write(open(self.key + ".pub").read())
        self.port = free_port()
        environment = {
            "OPENSHELL_SSH_LISTEN": "127.0.0.1:%d" % self.port,
            "OPENSHELL_SSH_AUTHORIZED_KEYS_FILE": self.authorized_keys,
            "OPENSHELL_WORKDIR": self.workdir,
            "OPENSHELL_SANDBOX_ID": "sandbox-ssh-test",
            "OPENSHELL_LOG_LEVEL": "info",
        }
        environment.update(env or {})
        self.log_path = os.path.join(self.dir, "supervisor.log")
        self.log = open(self.log_path, "w")
        # unshare makes the supervisor PID 1 of a fresh PID namespace.
        self.proc = subprocess.Popen(
            ["unshare", "--pid", "--fork", "--kill-child", SUPERVISOR,
             *(["--", *main] if main else [])],
            env=environment, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self.log)

    def wait_listening(self):
        deadline = time.time() + 15
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("supervisor exited: " + self.read_log())
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            time.sleep(0.05)
        raise RuntimeError("supervisor not listening: " + self.read_log())

    def signal(self, signo):
        """To the supervisor itself: unshare(1) forwards no signals."""
        with open("/proc/%d/task/%d/children" % (self.proc.pid, self.proc.pid)) as f:
            children = f.read().split()
        os.kill(int(children[0]), signo)

    def read_log(self):
        self.log.flush()
        return open(self.log_path).read()

    def options(self, port_flag="-p"):
        return ["-F", "/dev/null", port_flag, str(self.port), "-i", self.key,
                "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
                "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=error"]

    def ssh(self, command, input=None, timeout=30):
        return subprocess.run(["ssh", *self.options(), "gateway@127.0.0.1", command],
                              input=input, capture_output=True, timeout=timeout)

    def stop(self):
        if self.proc.poll() is None:
            try:
                self.signal(signal.SIGTERM)
                self.proc.wait(timeout=20)
            except (subprocess.TimeoutExpired, OSError, IndexError):
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def status_field(text, name):
    match = re.search(r"^%s:\s*(\S+)" % name, text, re.M)
    return match.group(1) if match else None


class SessionsRunInTheSandbox(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sup = Supervisor().wait_listening()

    @classmethod
    def tearDownClass(cls):
        cls.sup.stop()

    def test_exec_returns_the_exit_status(self):
        self.assertEqual(self.sup.ssh("exit 7").returncode, 7)
        self.assertEqual(self.sup.ssh("true").returncode, 0)

    def test_exec_runs_restricted_as_the_sandbox_user(self):
        out = self.sup.ssh("cat /proc/self/status; id -u").stdout.decode()
        self.assertEqual(status_field(out, "NoNewPrivs"), "1")
        self.assertEqual(status_field(out, "Seccomp"), "2")
        for caps in ("CapEff", "CapPrm", "CapBnd", "CapAmb", "CapInh"):
            self.assertEqual(status_field(out, caps), "0000000000000000", caps)
        self.assertEqual(out.strip().splitlines()[-1], str(SANDBOX_UID))

    def test_session_shares_the_main_process_sandbox_and_cannot_see_the_supervisor(self):
        out = self.sup.ssh("cat /proc/2/cmdline | tr '\\0' ' '; echo; ls /proc | grep -c '^[0-9]'").stdout
        lines = out.decode().splitlines()
        self.assertEqual(lines[0].strip(), "sleep 600", "PID 2 of the session's namespace is the main process")
        # The sandbox init, the main process, the shell, cat/ls/grep: no
        # process of the pod, the supervisor included, is visible.
        self.assertLess(int(lines[1]), 8)
        self.assertNotEqual(os.readlink("/proc/self/ns/pid"),
                            self.sup.ssh("readlink /proc/self/ns/pid").stdout.decode().strip())

    def test_landlock_and_read_only_mounts_hold_in_sessions(self):
        result = self.sup.ssh("touch /etc/escape")
        self.assertNotEqual(result.returncode, 0)
        self.assertIn(b"Read-only file system", result.stderr)
        result = self.sup.ssh("cat " + self.sup.authorized_keys)
        self.assertNotEqual(result.returncode, 0, "the gateway keys must not be readable inside")

    def test_stdin_eof_and_stderr(self):
        result = self.sup.ssh("cat; echo to-stderr >&2", input=b"round trip")
        self.assertEqual(result.stdout, b"round trip")
        self.assertEqual(result.stderr.strip(), b"to-stderr")

    def test_env_requests_are_filtered(self):
        result = subprocess.run(
            ["ssh", *self.sup.options(), "-o", "SetEnv=GOOD=yes OPENSHELL_SANDBOX_ID=x LD_PRELOAD=/x",
             "gateway@127.0.0.1", "echo $GOOD/${OPENSHELL_SANDBOX_ID:-unset}/${LD_PRELOAD:-unset}"],
            capture_output=True, timeout=30)
        self.assertEqual(result.stdout.decode().strip(), "yes/unset/unset")

    def test_scp_sftp_and_rsync_write_into_the_workdir_as_the_sandbox_user(self):
        source = os.path.join(self.sup.dir, "payload")
        with open(source, "wb") as f:
            f.write(os.urandom(256 * 1024))
        scp = subprocess.run(["scp", *self.sup.options("-P"), source,
                              "gateway@127.0.0.1:" + self.sup.workdir + "/by-scp"],
                             capture_output=True, timeout=60)
        self.assertEqual(scp.returncode, 0, scp.stderr)
        sftp = subprocess.run(["sftp", *self.sup.options("-P"), "-b", "-", "gateway@127.0.0.1"],
                              input=("put %s %s/by-sftp\nls %s\n" % (source, self.sup.workdir, self.sup.workdir)).encode(),
                              capture_output=True, timeout=60)
        self.assertEqual(sftp.returncode, 0, sftp.stderr)
        for name in ("by-scp", "by-sftp"):
            path = os.path.join(self.sup.workdir, name)
            self.assertEqual(read(path), read(source), name)
            self.assertEqual(os.stat(path).st_uid, SANDBOX_UID, name)
        rsync = subprocess.run(["rsync", "-a", "-e", "ssh " + " ".join(self.sup.options()), source,
                                "gateway@127.0.0.1:" + self.sup.workdir + "/by-rsync"],
                               capture_output=True, timeout=60)
        self.assertEqual(rsync.returncode, 0, rsync.stderr)
        self.assertEqual(read(os.path.join(self.sup.workdir, "by-rsync")), read(source))

    def test_sftp_cannot_leave_the_sandbox_view(self):
        sftp = subprocess.run(["sftp", *self.sup.options("-P"), "-b", "-", "gateway@127.0.0.1"],
                              input=b"get /etc/shadow " + self.sup.dir.encode() + b"/stolen\n",
                              capture_output=True, timeout=60)
        self.assertNotEqual(sftp.returncode, 0)
        self.assertFalse(os.path.exists(os.path.join(self.sup.dir, "stolen")))

    def test_port_forward_reaches_loopback_only(self):
        with socket.socket() as listener:
            listener.bind(("127.0.0.1", 0))
            listener.listen()
            target = listener.getsockname()[1]
            local = free_port()
            forward = subprocess.Popen(["ssh", *self.sup.options(), "-N", "-L",
                                        "%d:127.0.0.1:%d" % (local, target), "gateway@127.0.0.1"])
            try:
                deadline = time.time() + 10
                while True:
                    try:
                        client = socket.create_connection(("127.0.0.1", local), timeout=2)
                        break
                    except OSError:
                        if time.time() > deadline:
                            raise
                        time.sleep(0.1)
                server, _ = listener.accept()
                client.sendall(b"through the tunnel")
                self.assertEqual(server.recv(100), b"through the tunnel")
                client.close()
                server.close()
            finally:
                forward.terminate()
                forward.wait()


class MainProcessAttach(unittest.TestCase):
    """openshell-main: the agent's own terminal, replayed, one writer."""

    def test_attach_replays_takes_input_and_detaching_leaves_the_agent_running(self):
        spec = ('{"version":1,"tty":true,"command":["/bin/sh","-c",'
                '"echo agent-ready; while read line; do echo agent-got:$line; done"]}')
        sup = Supervisor(main=(), env={"OPENSHELL_MAIN_PROCESS_SPEC": spec}).wait_listening()
        try:
            def attach():
                return subprocess.Popen(["ssh", *sup.options(), "gateway@127.0.0.1", "-s", "openshell-main"],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            first = attach()
            time.sleep(1)
            first.stdin.write(b"hello\r")
            first.stdin.flush()
            time.sleep(1)
            first.stdin.write(b"\x10\x11")  # Ctrl-P Ctrl-Q
            first.stdin.flush()
            out, _ = first.communicate(timeout=15)
            self.assertIn(b"agent-ready", out, "the replay carries output from before the attach")
            self.assertIn(b"agent-got:hello", out)
            self.assertEqual(first.returncode, 0)
            self.assertIsNone(sup.proc.poll(), "detaching must not end the main process")
            second = attach()
            time.sleep(1)
            second.kill()  # a dropped connection
            second.wait()
            time.sleep(0.5)
            self.assertIsNone(sup.proc.poll(), "a dropped connection must not end the main process")
        finally:
            sup.stop()


class Lifecycle(unittest.TestCase):
    def test_the_bridge_refuses_to_start_without_a_gateway_key(self):
        sup = Supervisor(authorized=False)
        try:
            self.assertEqual(sup.proc.wait(timeout=20), 3)
            self.assertIn("authorized", sup.read_log())
            self.assertEqual(sup.proc.stdout.read(), b"")
        finally:
            sup.stop()

    def test_sigterm_ends_sessions_and_the_supervisor_within_the_grace_period(self):
        sup = Supervisor(env={"OPENSHELL_SHUTDOWN_GRACE_SECS": "2"}).wait_listening()
        try:
            session = subprocess.Popen(["ssh", *sup.options(), "gateway@127.0.0.1", "sleep 300"])
            time.sleep(1)
            started = time.time()
            sup.signal(signal.SIGTERM)
            code = sup.proc.wait(timeout=15)
            self.assertLess(time.time() - started, 5)
            self.assertEqual(code, 128 + signal.SIGTERM)
            self.assertIsNotNone(session.wait(timeout=10))
        finally:
            sup.stop()


if __name__ == "__main__":
    SUPERVISOR = sys.argv.pop(1)
    unittest.main(verbosity=2)
