#!/usr/bin/env python3
"""The real supervisor as PID 1 with a real sandbox, reached with OpenSSH's
own ssh, scp, sftp and rsync: every session runs inside the same sandbox as
the main process, restricted like it.

Usage: sandbox_ssh_test.py SUPERVISOR [unittest args]. Runs as root.
"""
import fcntl
import os
import pty
import re
import resource
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

SUPERVISOR = None
SANDBOX_UID = 1000


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Supervisor:
    """openshell-supervisor as PID 1 of a new PID namespace, with a gateway key."""

    def __init__(self, main=("sleep", "600"), env=None, authorized=True, stdout=subprocess.PIPE,
                 nofile=None):
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
            # Whatever uid the machine's `sandbox` user has (if any).
            "OPENSHELL_SANDBOX_UID": str(SANDBOX_UID),
            "OPENSHELL_SANDBOX_GID": str(SANDBOX_UID),
        }
        environment.update(env or {})
        self.log_path = os.path.join(self.dir, "supervisor.log")
        self.log = open(self.log_path, "w")
        # unshare makes the supervisor PID 1 of a fresh PID namespace, in a
        # private mount namespace where the machine's /etc/openshell (a
        # policy left by an operator or the demo) is hidden: the test sees
        # the built-in default unless it names a policy.
        hide = ("mount -t tmpfs tmpfs /etc/openshell && "
                if os.path.isdir("/etc/openshell") else "")
        self.proc = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "--pid", "--fork", "--kill-child",
             "/bin/sh", "-c", hide + 'exec "$@"', "sh", SUPERVISOR,
             *(["--", *main] if main else [])],
            env=environment, stdin=subprocess.DEVNULL, stdout=stdout, stderr=self.log,
            preexec_fn=(lambda: resource.setrlimit(resource.RLIMIT_NOFILE, nofile)) if nofile else None)

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

    def pid(self):
        """The supervisor's own pid: the child of unshare(1)."""
        with open("/proc/%d/task/%d/children" % (self.proc.pid, self.proc.pid)) as f:
            return int(f.read().split()[0])

    def signal(self, signo):
        """To the supervisor itself: unshare(1) forwards no signals."""
        os.kill(self.pid(), signo)

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


def read_terminal(fd, seconds=30):
    """All a pty master gives until its other side closes (or the time runs out)."""
    out = b""
    deadline = time.time() + seconds
    while time.time() < deadline:
        r, _, _ = select.select([fd], [], [], 1)
        if not r:
            continue
        try:
            data = os.read(fd, 4096)
        except OSError:
            break
        if not data:
            break
        out += data
    return out


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

    def test_the_supervisor_serves_on_every_cpu_it_was_given(self):
        # Start-up runs on one CPU and the supervisor steps off it while it
        # restricts itself (supervisor/startup_cpu.h); once it serves SSH it
        # must be back on all of them.
        if len(os.sched_getaffinity(0)) < 2:
            self.skipTest("one CPU: the start-up has nothing to pin")
        self.assertEqual(self.sup.ssh("true").returncode, 0)
        def cpus(pid):
            return status_field(read("/proc/%s/status" % pid).decode(), "Cpus_allowed_list")
        self.assertEqual(cpus(self.sup.pid()), cpus("self"))

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
        # A file the sandbox user could read were it not for the sandbox:
        # outside the workdir, world-readable, in a world-searchable dir.
        outside = os.path.join(self.sup.dir, "outside-the-view")
        with open(outside, "w") as f:
            f.write("not for the sandbox\n")
        os.chmod(outside, 0o644)
        control = subprocess.run(["setpriv", "--reuid=%d" % SANDBOX_UID, "--regid=%d" % SANDBOX_UID,
                                  "--clear-groups", "cat", outside], capture_output=True)
        self.assertEqual(control.stdout, b"not for the sandbox\n",
                         "control: without the sandbox the user can read it")
        stolen = os.path.join(self.sup.dir, "stolen")
        sftp = subprocess.run(["sftp", *self.sup.options("-P"), "-b", "-", "gateway@127.0.0.1"],
                              input=("get %s %s\n" % (outside, stolen)).encode(),
                              capture_output=True, timeout=60)
        self.assertNotEqual(sftp.returncode, 0, sftp.stdout)
        self.assertFalse(os.path.exists(stolen))
        # And the sftp server does run: the same session reads the workdir.
        inside = os.path.join(self.sup.workdir, "inside")
        with open(inside, "w") as f:
            f.write("in the view\n")
        fetched = os.path.join(self.sup.dir, "fetched")
        sftp = subprocess.run(["sftp", *self.sup.options("-P"), "-b", "-", "gateway@127.0.0.1"],
                              input=("get %s %s\n" % (inside, fetched)).encode(),
                              capture_output=True, timeout=60)
        self.assertEqual(sftp.returncode, 0, sftp.stderr)
        self.assertEqual(read(fetched), b"in the view\n")

    def test_port_forward_reaches_loopback_only(self):
        # In network mode pod the sandbox shares the pod's loopback, where
        # this listener is (mode none and proxy: the next class).
        d = tempfile.mkdtemp(prefix="sandbox-ssh-pod-", dir="/var/tmp")
        self.addCleanup(shutil.rmtree, d, True)
        os.chmod(d, 0o755)
        policy = os.path.join(d, "policy.yaml")
        with open(policy, "w") as f:
            f.write("version: 1\n"
                    "filesystem_policy: {include_workdir: true, read_only: [/usr, /proc, /etc],\n"
                    "                    read_write: [/tmp, /dev/null]}\n"
                    "network: {mode: pod}\n")
        sup = Supervisor(env={"OPENSHELL_POLICY_FILE": policy}).wait_listening()
        self.addCleanup(sup.stop)
        with socket.socket() as listener:
            listener.settimeout(30)
            listener.bind(("127.0.0.1", 0))
            listener.listen()
            target = listener.getsockname()[1]
            local = free_port()
            forward = subprocess.Popen(["ssh", *sup.options(), "-N", "-L",
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


class RealSupervisorSsh(unittest.TestCase):
    """The bridge's host key file, Unix socket, login shell and a sandbox
    with its own network namespace, with the real supervisor."""

    def test_host_key_file_is_the_one_served(self):
        d = tempfile.mkdtemp(prefix="sandbox-ssh-hostkey-", dir="/var/tmp")
        self.addCleanup(shutil.rmtree, d, True)
        hk = os.path.join(d, "host")
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", hk], check=True)
        sup = Supervisor(env={"OPENSHELL_SSH_HOST_KEY_FILE": hk}).wait_listening()
        self.addCleanup(sup.stop)
        known = os.path.join(d, "known_hosts")
        with open(known, "w") as f:
            f.write("[127.0.0.1]:%d %s" % (sup.port, open(hk + ".pub").read()))
        opts = ["-F", "/dev/null", "-p", str(sup.port), "-i", sup.key, "-o", "BatchMode=yes",
                "-o", "StrictHostKeyChecking=yes", "-o", "UserKnownHostsFile=" + known]
        r = subprocess.run(["ssh", *opts, "gateway@127.0.0.1", "echo pinned"], capture_output=True, timeout=30)
        self.assertEqual((r.returncode, r.stdout), (0, b"pinned\n"), r.stderr)
        # Control: a different pinned key is refused by the client.
        other = os.path.join(d, "other")
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", other], check=True)
        with open(known, "w") as f:
            f.write("[127.0.0.1]:%d %s" % (sup.port, open(other + ".pub").read()))
        r = subprocess.run(["ssh", *opts, "gateway@127.0.0.1", "echo pinned"], capture_output=True, timeout=30)
        self.assertEqual(r.returncode, 255)
        self.assertIn(b"HOST IDENTIFICATION HAS CHANGED", r.stderr)

    def test_a_low_soft_descriptor_limit_caps_neither_sessions_nor_leaks_into_the_sandbox(self):
        # Runtimes often start a container with a soft RLIMIT_NOFILE of 1024
        # under a high hard limit; here 64 under 4096. Each session holds its
        # connection and pipes in the supervisor, so 40 sessions need more
        # than 64 descriptors there.
        sup = Supervisor(nofile=(64, 4096)).wait_listening()
        self.addCleanup(sup.stop)
        r = sup.ssh("ulimit -n; ulimit -Hn")
        self.assertEqual((r.returncode, r.stdout), (0, b"64\n4096\n"), r.stderr)
        deadline = time.time() + 60
        for _ in range(8):  # in fives: the bridge admits 8 unauthenticated connections per source
            batch = [subprocess.Popen(["ssh", *sup.options(), "gateway@127.0.0.1", "echo up; exec sleep 60"],
                                      stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                      stderr=subprocess.DEVNULL) for _ in range(5)]
            for c in batch:
                self.addCleanup(c.wait)
                self.addCleanup(c.kill)
            for c in batch:
                ready, _, _ = select.select([c.stdout], [], [], max(0, deadline - time.time()))
                self.assertTrue(ready, "a session did not start: " + sup.read_log()[-2000:])
                self.assertEqual(c.stdout.readline(), b"up\n", sup.read_log()[-2000:])
        self.assertGreater(len(os.listdir("/proc/%d/fd" % sup.pid())), 64)
        self.assertIn("descriptor limit raised", sup.read_log())

    def test_unix_socket_serves_sessions_in_the_sandbox(self):
        d = tempfile.mkdtemp(prefix="sandbox-ssh-sock-", dir="/var/tmp")
        self.addCleanup(shutil.rmtree, d, True)
        path = os.path.join(d, "run", "ssh.sock")
        sup = Supervisor(env={"OPENSHELL_SSH_SOCKET_PATH": path}).wait_listening()
        self.addCleanup(sup.stop)
        self.assertEqual(os.stat(path).st_mode & 0o777, 0o600)
        # OpenSSH's client over the socket: ProxyCommand relays stdio to it.
        relay = "%s -c 'import socket,sys,os,threading;s=socket.socket(socket.AF_UNIX);s.connect(sys.argv[1]);" \
                "threading.Thread(target=lambda:[s.sendall(b) for b in iter(lambda:os.read(0,65536),b\"\")] and s.shutdown(1),daemon=True).start();" \
                "[os.write(1,b) for b in iter(lambda:s.recv(65536),b\"\")]' %s" % (sys.executable, path)
        r = subprocess.run(["ssh", *sup.options(), "-o", "ProxyCommand=" + relay, "gateway@sandbox",
                            "id -u; grep ^Seccomp: /proc/self/status"], capture_output=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.decode().split(), [str(SANDBOX_UID), "Seccomp:", "2"])

    def test_interactive_login_shell_on_a_terminal(self):
        sup = Supervisor().wait_listening()
        self.addCleanup(sup.stop)
        pid, fd = pty.fork()
        if pid == 0:
            os.execvp("ssh", ["ssh", "-tt", *sup.options(), "gateway@127.0.0.1"])
        os.write(fd, b"echo login=$0; [ -t 0 ] && [ -t 1 ] && echo on-a-terminal; exit 3\n")
        out = read_terminal(fd)
        _, status = os.waitpid(pid, 0)
        self.assertEqual(os.waitstatus_to_exitcode(status), 3, out)
        self.assertRegex(out, rb"login=-\w*sh", "a login shell: argv[0] starts with '-'")
        self.assertIn(b"\non-a-terminal", out.replace(b"\r", b""))

    def test_session_terminal_is_named_in_the_sandbox_devpts_with_the_requested_size(self):
        # ssh -tt sends the size of its own terminal in the pty-req; the
        # session's pty must come from the sandbox's private devpts, so that
        # `tty` (ttyname(3)) finds its /dev/pts/N inside the sandbox.
        sup = Supervisor().wait_listening()
        self.addCleanup(sup.stop)
        pid, fd = pty.fork()
        if pid == 0:
            fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 37, 113, 0, 0))
            os.execvp("ssh", ["ssh", "-tt", *sup.options(), "gateway@127.0.0.1",
                              'tty; test -e "$(tty)" && echo present; stty size'])
        out = read_terminal(fd)
        _, status = os.waitpid(pid, 0)
        lines = out.replace(b"\r", b"").decode(errors="replace").splitlines()
        self.assertEqual(os.waitstatus_to_exitcode(status), 0, out)
        self.assertRegex(lines[0] if lines else "", r"^/dev/pts/\d+$", out)
        self.assertEqual(lines[1:], ["present", "37 113"], out)

    def test_sessions_and_forwards_reach_the_sandbox_network_namespace(self):
        d = tempfile.mkdtemp(prefix="sandbox-ssh-netns-", dir="/var/tmp")
        self.addCleanup(shutil.rmtree, d, True)
        os.chmod(d, 0o755)
        policy = os.path.join(d, "policy.yaml")
        with open(policy, "w") as f:
            f.write("version: 1\n"
                    "filesystem_policy: {include_workdir: true, read_only: [/usr, /proc, /etc],\n"
                    "                    read_write: [/tmp, /dev/null]}\n"
                    "network: {mode: none}\n")
        port = free_port()
        # The agent listens on the sandbox's own loopback; the host's has
        # nothing on that port.
        server = ("import socket;s=socket.socket();s.bind(('127.0.0.1',%d));s.listen();"
                  "print('listening',flush=True)\nwhile True:\n c,_=s.accept();c.sendall(b'from-inside');c.close()" % port)
        sup = Supervisor(main=("/usr/bin/python3", "-c", server),
                         env={"OPENSHELL_POLICY_FILE": policy}).wait_listening()
        self.addCleanup(sup.stop)
        self.assertEqual(sup.proc.stdout.readline(), b"listening\n")
        with socket.socket() as s:
            self.assertNotEqual(s.connect_ex(("127.0.0.1", port)), 0, "control: not on the host")
        r = sup.ssh("cat /proc/net/dev | grep -c ':'")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip(), b"1", "the session sees only the sandbox's loopback")
        r = subprocess.run(["ssh", *sup.options(), "-W", "127.0.0.1:%d" % port, "gateway@127.0.0.1"],
                           input=b"", capture_output=True, timeout=30)
        self.assertEqual(r.stdout, b"from-inside", r.stderr)


class Attacher:
    """`ssh -s openshell-main` with its output collected as it arrives."""

    def __init__(self, sup):
        self.proc = subprocess.Popen(["ssh", *sup.options(), "gateway@127.0.0.1", "-s", "openshell-main"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self.out = bytearray()
        self.err = bytearray()
        self.lock = threading.Lock()
        self.readers = [threading.Thread(target=self._read, args=(f, buf), daemon=True)
                        for f, buf in ((self.proc.stdout, self.out), (self.proc.stderr, self.err))]
        for r in self.readers:
            r.start()

    def _read(self, f, buf):
        while True:
            data = f.read1(65536)
            if not data:
                return
            with self.lock:
                buf.extend(data)

    def wait_for(self, text, stream="out", timeout=20):
        """Waits until `text` arrived; an event, never a fixed sleep."""
        buf = self.out if stream == "out" else self.err
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.lock:
                if text in buf:
                    return True
            if self.proc.poll() is not None:
                for r in self.readers:
                    r.join(5)
                with self.lock:
                    return text in buf
            time.sleep(0.02)
        return False

    def send(self, data):
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def finish(self, timeout=20):
        code = self.proc.wait(timeout=timeout)
        for r in self.readers:
            r.join(5)
        return code


ECHO_AGENT = ('{"version":1,"tty":true,"command":["/bin/sh","-c",'
              '"echo agent-ready; while read line; do echo agent-got:$line; '
              '[ $line = quit ] && exit 5; done"]}')


class MainProcessAttach(unittest.TestCase):
    """openshell-main through the real supervisor: the agent's own terminal,
    replayed, one writer, refused without a terminal, ended with the agent."""

    def start(self, spec):
        # The supervisor copies the terminal to its stdout too: a pipe
        # nobody reads would back-pressure the agent.
        sup = Supervisor(main=(), env={"OPENSHELL_MAIN_PROCESS_SPEC": spec},
                         stdout=subprocess.DEVNULL).wait_listening()
        self.addCleanup(sup.stop)
        return sup

    def attach(self, sup):
        a = Attacher(sup)
        self.addCleanup(lambda: a.proc.poll() is None and (a.proc.kill(), a.proc.wait()))
        return a

    def test_attach_replays_takes_input_and_detaching_leaves_the_agent_running(self):
        sup = self.start(ECHO_AGENT)
        first = self.attach(sup)
        self.assertTrue(first.wait_for(b"agent-ready"), "the replay carries output from before the attach")
        first.send(b"hello\r")
        self.assertTrue(first.wait_for(b"agent-got:hello"), bytes(first.out))
        first.send(b"\x10\x11")  # Ctrl-P Ctrl-Q
        self.assertEqual(first.finish(), 0)
        self.assertIn(b"openshell: detached", first.err)
        self.assertIsNone(sup.proc.poll(), "detaching must not end the main process")
        second = self.attach(sup)
        self.assertTrue(second.wait_for(b"agent-got:hello"))
        second.proc.kill()  # a dropped connection
        second.finish()
        # The agent still answers a new client: the drop ended nothing.
        third = self.attach(sup)
        self.assertTrue(third.wait_for(b"agent-got:hello"))
        third.send(b"still-there\r")
        self.assertTrue(third.wait_for(b"agent-got:still-there"), bytes(third.out))
        self.assertIsNone(sup.proc.poll(), "a dropped connection must not end the main process")

    def test_the_first_attacher_holds_the_input_and_later_ones_only_read(self):
        sup = self.start(ECHO_AGENT)
        first = self.attach(sup)
        self.assertTrue(first.wait_for(b"agent-ready"))
        second = self.attach(sup)
        self.assertTrue(second.wait_for(b"agent-ready"))
        self.assertTrue(second.wait_for(b"attached read-only", "err"), bytes(second.err))
        self.assertNotIn(b"read-only", first.err)
        second.send(b"from-second\r")
        first.send(b"from-first\r")
        # Both see what the writer typed; the reader's input reached nothing.
        self.assertTrue(first.wait_for(b"agent-got:from-first"), bytes(first.out))
        self.assertTrue(second.wait_for(b"agent-got:from-first"), bytes(second.out))
        first.send(b"marker\r")
        self.assertTrue(first.wait_for(b"agent-got:marker"))
        self.assertNotIn(b"agent-got:from-second", first.out)
        # The writer leaves: the seat is free for the next attacher.
        first.send(b"\x10\x11")
        self.assertEqual(first.finish(), 0)
        third = self.attach(sup)
        self.assertTrue(third.wait_for(b"agent-got:marker"))
        third.send(b"from-third\r")
        self.assertTrue(third.wait_for(b"agent-got:from-third"), bytes(third.out))
        self.assertNotIn(b"read-only", third.err)

    def test_the_replay_is_the_last_mebibyte(self):
        # 200001 lines of 8 digits, 10 bytes each on the terminal (which
        # adds \r): about 1.9 MiB, more than the replay holds.
        spec = ('{"version":1,"tty":true,"command":["/bin/sh","-c",'
                '"seq 10000000 10200000; echo agent-done; touch printed; exec cat >/dev/null"]}')
        sup = self.start(spec)
        # The agent marks the end of its output in the workdir (its cwd).
        marker = os.path.join(sup.workdir, "printed")
        deadline = time.time() + 60
        while not os.path.exists(marker):
            self.assertLess(time.time(), deadline, "the agent did not finish printing")
            self.assertIsNone(sup.proc.poll(), sup.read_log())
            time.sleep(0.05)
        # Everything is printed: a fresh attacher gets exactly the last MiB.
        full = b"".join(b"%d\r\n" % i for i in range(10000000, 10200001)) + b"agent-done\r\n"
        a = self.attach(sup)
        self.assertTrue(a.wait_for(b"agent-done\r\n", timeout=60))
        a.send(b"\x10\x11")
        self.assertEqual(a.finish(), 0)
        self.assertEqual(len(a.out), 1 << 20)
        self.assertEqual(bytes(a.out), full[-(1 << 20):])

    def test_a_main_process_without_a_terminal_refuses_to_attach(self):
        sup = self.start('{"version":1,"tty":false,"command":["sleep","600"]}')
        a = self.attach(sup)
        code = a.finish()
        self.assertNotEqual(code, 0)
        self.assertIn(b"subsystem request failed", a.err)
        self.assertIn("the main process has no terminal (tty: false)", sup.read_log())
        self.assertIsNone(sup.proc.poll(), "a refused attach must not end the main process")

    def test_the_attachment_ends_with_the_main_process_and_carries_its_status(self):
        sup = self.start(ECHO_AGENT)
        a = self.attach(sup)
        self.assertTrue(a.wait_for(b"agent-ready"))
        a.send(b"quit\r")
        self.assertEqual(a.finish(), 5)
        self.assertIn(b"agent-got:quit", a.out)
        self.assertEqual(sup.proc.wait(timeout=20), 5, "the supervisor ends with its main process")


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
            session = subprocess.Popen(["ssh", *sup.options(), "gateway@127.0.0.1",
                                        "echo session-running; exec sleep 300"],
                                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            # The session is running once its first line arrived.
            self.assertEqual(session.stdout.readline(), b"session-running\n")
            sup.signal(signal.SIGTERM)
            code = sup.proc.wait(timeout=15)
            self.assertEqual(code, 128 + signal.SIGTERM)
            # The session was ended by the supervisor, not by its command:
            # OpenSSH's client reports a lost connection or the signal.
            status = session.wait(timeout=10)
            self.assertNotEqual(status, 0, "sleep 300 cannot have finished normally")
        finally:
            sup.stop()


if __name__ == "__main__":
    SUPERVISOR = sys.argv.pop(1)
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
    import unittest_tap  # noqa: E402  (tests/support: each case reported to meson)
    unittest_tap.main(sys.argv[1:])
