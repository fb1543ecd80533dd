#!/usr/bin/env python3
"""Shutdown of the real supervisor with SSH sessions open: once SIGTERM
arrives the bridge takes no new connection and starts no new session, and a
session's last output and exit status still reach its client. And when the
sandbox init stops reading its control channel, requests queue up to a bound
and a full queue ends the sandbox loudly: nothing is dropped quietly.
Usage: shutdown_ssh_test.py SUPERVISOR [unittest args]. Runs as root.
"""
import ast
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sandbox_ssh_test  # noqa: E402  (the Supervisor helper)

try:
    import paramiko
    from paramiko.message import Message
except ImportError:  # python3-paramiko (tests/setup-machine.sh installs it)
    paramiko = None

# The main process outlives SIGTERM by a few seconds, so the supervisor
# stays in its grace period while the test looks.
LINGERING_MAIN = ("/bin/sh", "-c", "trap 'sleep 3; exit 0' TERM; sleep 600 & wait; wait")


def connect_refused(port):
    with socket.socket() as s:
        s.settimeout(2)
        return s.connect_ex(("127.0.0.1", port)) != 0


class Shutdown(unittest.TestCase):
    def setUp(self):
        self.sup = sandbox_ssh_test.Supervisor(main=LINGERING_MAIN).wait_listening()

    def tearDown(self):
        self.sup.stop()

    def test_no_new_connection_or_session_once_shutdown_begins(self):
        if paramiko is None:
            if os.environ.get("OPENSHELL_TESTS_MUST_WORK") == "1":
                self.fail("python3-paramiko is missing and OPENSHELL_TESTS_MUST_WORK=1")
            self.skipTest("SKIPPED LOUDLY: python3-paramiko is not installed")
        transport = paramiko.Transport(("127.0.0.1", self.sup.port))
        transport.connect(username="gateway",
                          pkey=paramiko.Ed25519Key.from_private_key_file(self.sup.key))
        try:
            self.sup.signal(signal.SIGTERM)
            deadline = time.time() + 5
            while not connect_refused(self.sup.port) and time.time() < deadline:
                time.sleep(0.05)
            self.assertTrue(connect_refused(self.sup.port),
                            "the listener still accepts during shutdown")
            # An authenticated connection from before may not start anything.
            channel = transport.open_session(timeout=5)
            with self.assertRaises(paramiko.SSHException):
                channel.exec_command("touch started-after-shutdown")
            self.assertIn("the sandbox is shutting down", self.sup.read_log())
        finally:
            transport.close()
        self.assertFalse(os.path.exists(os.path.join(self.sup.workdir, "started-after-shutdown")))

    def test_last_output_and_exit_status_reach_the_client(self):
        script = "trap 'echo bye; exit 3' TERM; echo ready; while :; do sleep 0.1; done"
        client = subprocess.Popen(["ssh", *self.sup.options(), "gateway@127.0.0.1", script],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            self.assertEqual(client.stdout.readline(), b"ready\n")
            self.sup.signal(signal.SIGTERM)
            out, err = client.communicate(timeout=20)
        finally:
            if client.poll() is None:
                client.kill()
        self.assertEqual(out, b"bye\n", err)
        self.assertEqual(client.returncode, 3, err)


def in_a_new_network_namespace(scenario):
    """Runs scenario() in a child process with a network namespace of its
    own (loopback up) and returns its result (a Python literal)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.close(read_end)
            if ctypes.CDLL(None, use_errno=True).unshare(0x40000000) != 0:  # CLONE_NEWNET
                raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNET)")
            subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
            os.write(write_end, repr(scenario()).encode())
            code = 0
        except BaseException:
            import traceback
            traceback.print_exc()
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as f:
        answer = f.read()
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0 or not answer:
        raise AssertionError("the scenario failed in its network namespace (see stderr)")
    return ast.literal_eval(answer.decode())


def need_paramiko(test):
    if paramiko is None:
        if os.environ.get("OPENSHELL_TESTS_MUST_WORK") == "1":
            test.fail("python3-paramiko is missing and OPENSHELL_TESTS_MUST_WORK=1")
        test.skipTest("SKIPPED LOUDLY: python3-paramiko is not installed")


def children(pid):
    with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
        return [int(p) for p in f.read().split()]


def processes_running(command):
    """Pids of the processes whose command line is `SHELL -c COMMAND`."""
    wanted = b"\0-c\0" + command.encode() + b"\0"
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open("/proc/%s/cmdline" % name, "rb") as f:
                    if f.read().endswith(wanted):
                        found.append(int(name))
            except OSError:
                pass
    return found


def parent_of(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except OSError:  # gone meanwhile
        return None


def wait_until(condition, what, seconds=20):
    deadline = time.time() + seconds
    while not condition():
        if time.time() > deadline:
            raise AssertionError("no %s within %d s" % (what, seconds))
        time.sleep(0.05)


class Flush(unittest.TestCase):
    def test_output_queued_behind_a_stalled_client_is_written_before_disconnecting(self):
        # Small socket buffers (this namespace's own TCP settings) and a
        # client that stops reading: when the main process ends, most of the
        # session's last 64 KiB still wait in its pipe and in libssh's
        # buffer. The supervisor sends them, the exit status and the close
        # within the grace period before it disconnects.
        size = 65536

        def scenario():
            for name in ("tcp_rmem", "tcp_wmem"):
                with open("/proc/sys/net/ipv4/" + name, "w") as f:
                    f.write("4096 4096 4096")
            # The main process ends only once the test releases it: after
            # the session's process is gone, so its exit status is known.
            sup = sandbox_ssh_test.Supervisor(
                main=("/bin/sh", "-c", "trap 'while [ ! -e released ]; do sleep 0.05; done; "
                      "exit 0' TERM; sleep 600 & wait; wait"),
                env={"OPENSHELL_SHUTDOWN_GRACE_SECS": "30"}).wait_listening()
            try:
                script = ("trap 'head -c %d /dev/zero; exit 3' TERM; echo ready; "
                          "while :; do sleep 0.1; done" % size)
                client = subprocess.Popen(["ssh", *sup.options(), "gateway@127.0.0.1", script],
                                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
                assert client.stdout.readline() == b"ready\n"
                # A child forked by the shell has its command line until it
                # execs: the session's shell is the one whose parent is not.
                found = processes_running(script)
                session = [p for p in found if parent_of(p) not in found]
                assert len(session) == 1, found
                os.kill(client.pid, signal.SIGSTOP)
                sup.signal(signal.SIGTERM)
                wait_until(lambda: not os.path.exists("/proc/%d" % session[0]), "session exit")
                open(os.path.join(sup.workdir, "released"), "w").close()
                wait_until(lambda: "main process exited" in sup.read_log(), "main exit")
                # The loop stops now; the bridge writes what the session left.
                os.kill(client.pid, signal.SIGCONT)
                out, _ = client.communicate(timeout=30)
                return len(out), client.returncode
            finally:
                sup.stop()

        # All of it, then the exit status: nothing was cut off.
        self.assertEqual(in_a_new_network_namespace(scenario), (size, 3))


class ControlChannel(unittest.TestCase):
    def test_a_full_control_queue_ends_the_sandbox_loudly(self):
        need_paramiko(self)
        sup = sandbox_ssh_test.Supervisor().wait_listening()
        self.addCleanup(sup.stop)
        transport = paramiko.Transport(("127.0.0.1", sup.port))
        transport.connect(username="gateway",
                          pkey=paramiko.Ed25519Key.from_private_key_file(sup.key))
        self.addCleanup(transport.close)
        channel = transport.open_session(timeout=10)
        channel.settimeout(30)
        # "ready" can reach the client before the init's report that the
        # process started reaches the supervisor (the output does not pass
        # through the init), and a signal for a process not yet started
        # waits in the bridge, never in the control queue. A signal the
        # process answers proves the supervisor has it as started.
        channel.exec_command('trap "" USR1; trap "echo started; exec sleep 600" USR2; '
                             'echo ready; while :; do sleep 0.1; done')
        output = channel.makefile()
        self.assertEqual(output.readline(), "ready\n")

        def signal_request(name):
            m = Message()
            m.add_byte(bytes([98]))  # SSH_MSG_CHANNEL_REQUEST, RFC 4254 6.9
            m.add_int(channel.remote_chanid)
            m.add_string("signal")
            m.add_boolean(False)
            m.add_string(name)
            transport._send_user_message(m)

        signal_request("USR2")
        self.assertEqual(output.readline(), "started\n")
        # The supervisor's only child is the sandbox init; stopped, it reads
        # nothing more, so every signal request below is a control message
        # the supervisor must keep (the socket's buffer, then its queue).
        supervisor = children(sup.proc.pid)[0]
        inits = children(supervisor)
        self.assertEqual(len(inits), 1, inits)
        os.kill(inits[0], signal.SIGSTOP)
        self.addCleanup(lambda: os.kill(inits[0], signal.SIGCONT) if os.path.exists(
            "/proc/%d" % inits[0]) else None)
        for _ in range(20000):
            if sup.proc.poll() is not None:
                break
            try:
                signal_request("USR1")
            except (EOFError, OSError, paramiko.SSHException):
                break
        code = sup.proc.wait(timeout=60)
        log = sup.read_log()
        self.assertIn("request not delivered, ending the sandbox", log)
        self.assertIn("queue", log)
        # The sandbox (its main process with it) was killed: not a clean exit.
        self.assertEqual(code, 128 + signal.SIGKILL, log[-2000:])


if __name__ == "__main__":
    sandbox_ssh_test.SUPERVISOR = sys.argv.pop(1)
    unittest.main(verbosity=2)
