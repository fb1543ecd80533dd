#!/usr/bin/env python3
"""In network mode proxy the proxy variables of an SSH session are the
supervisor's: neither an SSH `env` request (OpenSSH SetEnv) nor
OPENSHELL_USER_ENVIRONMENT can point a session's clients elsewhere, while
other variables from both still arrive. The real supervisor (built-in
default policy, mode proxy), reached with OpenSSH's ssh.

Usage: session_proxy_env_test.py SUPERVISOR [unittest args]. Runs as root.
"""
import json
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import sandbox_ssh_test as ssh_support  # noqa: E402

PROXY = "http://127.0.0.1:3128"


class SessionProxyEnvironment(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        user_env = {"HTTP_PROXY": "http://evil:2", "https_proxy": "http://evil:2",
                    "NO_PROXY": "*", "FROM_USER_ENV": "kept"}
        cls.sup = ssh_support.Supervisor(
            env={"OPENSHELL_USER_ENVIRONMENT": json.dumps(user_env)}).wait_listening()

    @classmethod
    def tearDownClass(cls):
        cls.sup.stop()

    def ssh(self, setenv, command):
        return subprocess.run(["ssh", *self.sup.options(), "-o", "SetEnv=" + setenv,
                               "gateway@127.0.0.1", command], capture_output=True, timeout=30)

    def test_env_request_does_not_override_the_proxy_variables(self):
        result = self.ssh("HTTP_PROXY=http://evil:1 https_proxy=http://evil:1 "
                          "ALL_PROXY=http://evil:1 NO_PROXY=* NODE_USE_ENV_PROXY=0 GOOD=yes",
                          "echo $HTTP_PROXY $https_proxy $ALL_PROXY $NO_PROXY "
                          "$NODE_USE_ENV_PROXY $GOOD")
        self.assertEqual(result.returncode, 0, result.stderr.decode() + self.sup.read_log())
        self.assertEqual(result.stdout.decode().split(),
                         [PROXY, PROXY, PROXY, "127.0.0.1,localhost,::1", "1", "yes"])

    def test_user_environment_does_not_override_the_proxy_variables(self):
        result = self.ssh("UNRELATED=1", "echo $HTTP_PROXY $https_proxy $NO_PROXY $FROM_USER_ENV")
        self.assertEqual(result.returncode, 0, result.stderr.decode() + self.sup.read_log())
        self.assertEqual(result.stdout.decode().split(),
                         [PROXY, PROXY, "127.0.0.1,localhost,::1", "kept"])


if __name__ == "__main__":
    ssh_support.SUPERVISOR = os.path.abspath(sys.argv.pop(1))
    unittest.main()
