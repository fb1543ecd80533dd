#!/usr/bin/env python3
"""Pre-authentication fairness of the SSH bridge: a flood from one source
address cannot keep another source out, "none" requests count against the
try limit, and audit records about a flood are rate-limited per source.

Usage: fairness_test.py SSH_TEST_SERVER [unittest args]. Loopback only:
127.0.0.2 floods, 127.0.0.3 is the gateway (every 127/8 address is local).
"""
import os
import re
import socket
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bridge_test  # noqa: E402  (the Server helper)

try:
    import paramiko
except ImportError:  # python3-paramiko (tests/setup-machine.sh installs it)
    paramiko = None

FLOOD = "127.0.0.2"
GATEWAY = "127.0.0.3"


def raw_connection(port, source=FLOOD):
    """A connection that sends a banner and then nothing."""
    c = socket.socket()
    c.bind((source, 0))
    c.settimeout(5)
    c.connect(("127.0.0.1", port))
    c.sendall(b"SSH-2.0-flood\r\n")
    return c


def keyed_connection(port, source=FLOOD):
    """A connection that finishes key exchange and never authenticates."""
    c = socket.socket()
    c.bind((source, 0))
    c.settimeout(10)
    c.connect(("127.0.0.1", port))
    t = paramiko.Transport(c)
    t.start_client(timeout=10)
    return t


class PreAuthentication(unittest.TestCase):
    def setUp(self):
        if paramiko is None:
            if os.environ.get("OPENSHELL_TESTS_MUST_WORK") == "1":
                self.fail("python3-paramiko is missing and OPENSHELL_TESTS_MUST_WORK=1")
            self.skipTest("SKIPPED LOUDLY: python3-paramiko is not installed")
        self.server = bridge_test.Server()

    def tearDown(self):
        self.server.stop()

    def test_a_flood_from_one_source_does_not_keep_the_gateway_out(self):
        s = self.server
        held = []
        stop = threading.Event()
        opened = [0]

        def flood():
            # New connections keep arriving while the gateway logs in, each
            # asking for room among the unauthenticated.
            while not stop.is_set():
                try:
                    held.append(raw_connection(s.port))
                    opened[0] += 1
                except OSError:
                    time.sleep(0.001)

        try:
            # Connections past key exchange first: a bridge that drops the
            # newest connection still in key exchange would drop the
            # gateway's.
            for _ in range(70):
                held.append(keyed_connection(s.port))
            flooder = threading.Thread(target=flood)
            flooder.start()
            # 500 flood connections first; the flood goes on during the login.
            while opened[0] < 500:
                time.sleep(0.01)
            start = time.time()
            r = s.ssh("-b", GATEWAY, bridge_test.H, "true")
            elapsed = time.time() - start
            flooding = flooder.is_alive()
            print("gateway login from %s during a flood from %s: %.3f s (%d flood connections "
                  "opened)" % (GATEWAY, FLOOD, elapsed, opened[0]), file=sys.stderr)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertTrue(flooding, "the flood ended before the login")
            self.assertLess(elapsed, 5.0)
            stop.set()
            flooder.join()
            self.assertTrue("unauthenticated connection limit per source" in s.log_text(),
                            "no connection was dropped by the per-source limit")
        finally:
            stop.set()
            for h in held:
                h.close()

    def test_the_limit_in_all_holds_when_no_source_reaches_its_own(self):
        # Four sources of four connections each fill a limit of 16 while none
        # reaches the per-source limit (8). The next connection, from a fifth
        # source, gets its room from the oldest connection of a source that
        # holds more than one: the number waiting never passes the limit.
        s = bridge_test.Server("--max-unauthenticated", "16")
        held = []
        try:
            for source in ("127.0.0.4", "127.0.0.5", "127.0.0.6", "127.0.0.7"):
                for _ in range(4):
                    held.append(raw_connection(s.port, source))
            # Each of the 16 is admitted (its banner answered) before the
            # gateway connects.
            for c in held:
                self.assertTrue(c.recv(64).startswith(b"SSH-2.0-"))
            r = s.ssh("-b", GATEWAY, bridge_test.H, "true")
            self.assertEqual(r.returncode, 0, r.stderr)
            log = s.log_text()
            dropped = re.findall(r'"event":"connection_dropped".*"detail":"([^"]*)"', log)
            self.assertIn("unauthenticated connection limit", dropped,
                          "the 17th unauthenticated connection was let in without making room")
            self.assertNotIn("unauthenticated connection limit per source", dropped)
            self.assertNotIn('"event":"connection_refused"', log)
        finally:
            for h in held:
                h.close()
            s.stop()

    def test_none_requests_count_against_the_try_limit(self):
        t = keyed_connection(self.server.port, source="127.0.0.1")
        refused = 0
        try:
            for _ in range(12):
                try:
                    t.auth_none("gateway")
                except paramiko.BadAuthenticationType:
                    refused += 1
                except (paramiko.SSHException, EOFError, OSError):
                    break
        finally:
            t.close()
        # The first "none" is free (as in OpenSSH); six more end it.
        self.assertLessEqual(refused, 7, "none requests are not counted")

    def test_audit_records_of_a_flood_are_rate_limited_per_source(self):
        s = self.server
        held = []
        try:
            for _ in range(300):
                held.append(raw_connection(s.port))
            time.sleep(0.5)
            dropped = re.findall(r'"event":"connection_dropped".*"peer":"127\.0\.0\.2:', s.log_text())
            self.assertGreater(len(dropped), 0)
            self.assertLessEqual(len(dropped), 20, "every drop was written")
            # The next window reports what was left out, with the count.
            time.sleep(10.5)
            held.append(raw_connection(s.port))
            time.sleep(0.5)
            match = re.search(r'"event":"audit_suppressed".*"suppressed":(\d+)', s.log_text())
            self.assertIsNotNone(match, s.log_text()[-2000:])
            self.assertGreater(int(match.group(1)), 200)
        finally:
            for h in held:
                h.close()


if __name__ == "__main__":
    bridge_test.SERVER = sys.argv.pop(1)
    unittest.main(verbosity=2)
