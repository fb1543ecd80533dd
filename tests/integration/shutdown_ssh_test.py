#!/usr/bin/env python3
"""Shutdown of the real supervisor with SSH sessions open: once SIGTERM
arrives the bridge takes no new connection and starts no new session, and a
session's last output and exit status still reach its client.
Usage: shutdown_ssh_test.py SUPERVISOR [unittest args]. Runs as root.
"""
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


if __name__ == "__main__":
    sandbox_ssh_test.SUPERVISOR = sys.argv.pop(1)
    unittest.main(verbosity=2)
