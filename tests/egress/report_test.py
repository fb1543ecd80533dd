#!/usr/bin/env python3
"""What `check`, `validate-policy` and a start say about the network layer,
from the real binary: every rule and endpoint with how it is enforced
(L4, L4 only, denied for lack of L7), the proxy and DNS addresses, and for
network mode pod the `egress NOT ENFORCED` warning exactly once.

Usage: report_test.py SUPERVISOR [unittest args]. Runs as root.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from egress_policy import policy_text  # noqa: E402

SUPERVISOR = None

RULES = """\
  plain:
    endpoints:
      - { host: api.example.test, port: 443 }
    binaries:
      - { path: /usr/bin/curl }
  narrow:
    endpoints:
      - host: rest.example.test
        port: 8443
        protocol: rest
        enforcement: enforce
        rules:
          - allow: { method: GET, path: "/v1/**" }
      - host: audit.example.test
        port: 443
        protocol: rest
        enforcement: audit
        access: read-only
    binaries:
      - { path: /usr/bin/python3 }
"""


class NetworkReport(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="egress-report-", dir="/var/tmp")
        self.addCleanup(shutil.rmtree, self.dir, True)
        os.chmod(self.dir, 0o755)
        self.workdir = os.path.join(self.dir, "work")
        os.mkdir(self.workdir)
        os.chmod(self.workdir, 0o777)
        self.env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "OPENSHELL_SSH_LISTEN": "off",
                    "OPENSHELL_WORKDIR": self.workdir}

    def policy(self, mode):
        path = os.path.join(self.dir, mode + ".yaml")
        with open(path, "w") as f:
            f.write(policy_text(RULES, mode))
        return path

    def supervisor(self, *argv):
        return subprocess.run([SUPERVISOR, *argv], env=self.env, capture_output=True, text=True,
                              timeout=120, stdin=subprocess.DEVNULL)

    def assert_network_layer(self, out):
        self.assertIn("network: proxy (own namespace, loopback only; egress only through the "
                      "supervisor)", out)
        self.assertIn("network: proxy 127.0.0.1:3128 and [::1]:3128, DNS 127.0.0.1:53", out)
        self.assertIn("network: rule plain: binaries /usr/bin/curl", out)
        self.assertIn("network: rule narrow: binaries /usr/bin/python3", out)
        self.assertIn("plain.endpoints[0] api.example.test:443: enforced at L4\n", out)
        self.assertIn("narrow.endpoints[0] rest.example.test:8443 protocol rest enforcement "
                      "enforce rules 1: DENIED: requires L7 enforcement, not available", out)
        self.assertIn("narrow.endpoints[1] audit.example.test:443 protocol rest enforcement "
                      "audit access read-only: enforced at L4 only", out)

    def test_check_prints_every_rule_and_endpoint(self):
        result = self.supervisor("check", "--policy", self.policy("proxy"))
        # The L7-required endpoint is denied: not every layer is enforced.
        self.assertEqual(result.returncode, 1, result.stdout + result.stderr)
        self.assert_network_layer(result.stdout)

    def test_validate_policy_prints_every_rule_and_endpoint(self):
        result = self.supervisor("validate-policy", self.policy("proxy"))
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assert_network_layer(result.stdout)

    def test_pod_mode_is_said_exactly_once_by_check(self):
        result = self.supervisor("check", "--policy", self.policy("pod"))
        self.assertEqual(result.returncode, 1, result.stdout + result.stderr)
        self.assertEqual(result.stdout.count("egress NOT ENFORCED"), 1, result.stdout)
        self.assertIn("network: rule plain (not applied in this mode)", result.stdout)
        self.assertIn("plain.endpoints[0] api.example.test:443: not applied", result.stdout)

    def test_pod_mode_is_said_exactly_once_by_validate_policy(self):
        result = self.supervisor("validate-policy", self.policy("pod"))
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertEqual(result.stdout.count("egress NOT ENFORCED"), 1, result.stdout)

    def test_pod_mode_is_said_exactly_once_at_start(self):
        result = self.supervisor("run", "--policy", self.policy("pod"), "--", "/bin/true")
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertEqual(result.stderr.count("egress NOT ENFORCED"), 1, result.stderr)
        self.assertEqual(result.stdout.count("egress NOT ENFORCED"), 0, result.stdout)


if __name__ == "__main__":
    SUPERVISOR = os.path.abspath(sys.argv.pop(1))
    unittest.main()
