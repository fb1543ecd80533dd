#!/usr/bin/env python3
"""Claude Code, the real CLI from npm, as the sandbox's main process:
`claude --version` in the default sandbox, and a full `claude -p` turn
against a stand-in for the Messages API on the egress tests' test host
(testhost.py), allowed by a network_policies rule for the claude binary;
the same turn with no rule for claude fails without reaching the API.

Usage: claude_code_test.py SUPERVISOR [unittest args]. Runs as root;
installs @anthropic-ai/claude-code at the pinned version with npm when it
is missing (npm's registry is the only network it uses).
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import egress_test as harness

VERSION = "2.1.332"
PACKAGE = "@anthropic-ai/claude-code"
REPLY = "PONG from the Messages API stand-in"


def installed_claude():
    """The claude command npm installed, at the pinned version, or None."""
    prefix = subprocess.run(["npm", "prefix", "-g"], capture_output=True, text=True).stdout.strip()
    path = os.path.join(prefix, "bin", "claude")
    if not os.path.exists(path):
        return None
    result = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=60)
    return path if result.stdout.startswith(VERSION + " ") else None


def install():
    path = installed_claude()
    if path:
        return path
    subprocess.run(["npm", "install", "-g", "--no-audit", "--no-fund", "%s@%s" % (PACKAGE, VERSION)],
                   check=True, capture_output=True, timeout=600)
    path = installed_claude()
    if not path:
        raise RuntimeError("npm installed %s@%s but `claude --version` does not say so" % (PACKAGE, VERSION))
    return path


CLAUDE = None

# The filesystem part of OpenShell's default policy, and a HOME in the
# workdir where Claude Code keeps ~/.claude and ~/.claude.json.
FILESYSTEM = """
version: 1
filesystem_policy:
  include_workdir: true
  read_only: [/usr, /lib, /proc, /dev/urandom, /etc, /var/log]
  read_write: [/tmp, /dev/null]
landlock: { compatibility: best_effort }
"""


def rules_for(binary):
    return """
network_policies:
  claude_code:
    endpoints:
      - { host: api.egress.test, port: 80 }
    binaries: [ { path: %s } ]
""" % binary


def api_requests():
    with open(os.environ["EGRESS_TEST_API_LOG"]) as f:
        return [json.loads(line) for line in f if line.strip()]


class Turn:
    """The supervisor with `claude` as its main process; its stdout is the
    main process's output."""

    def __init__(self, policy_text, argv, timeout=180):
        self.dir = tempfile.mkdtemp(prefix="claude-code-test-", dir="/var/tmp")
        os.chmod(self.dir, 0o755)
        workdir = os.path.join(self.dir, "work")
        os.mkdir(workdir)
        os.chown(workdir, harness.SANDBOX_UID, harness.SANDBOX_UID)
        policy = os.path.join(self.dir, "policy.yaml")
        if policy_text is not None:
            with open(policy, "w") as f:
                f.write(policy_text)
        user_env = {
            "HOME": workdir,
            "ANTHROPIC_BASE_URL": "http://api.egress.test",
            "ANTHROPIC_API_KEY": "sk-ant-dummy-for-the-stand-in",
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            "DISABLE_AUTOUPDATER": "1",
            "DISABLE_TELEMETRY": "1",
            "DISABLE_ERROR_REPORTING": "1",
        }
        env = {
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            "OPENSHELL_SSH_LISTEN": "off",
            "OPENSHELL_WORKDIR": workdir,
            "OPENSHELL_SANDBOX_ID": "claude-code-test",
            "OPENSHELL_USER_ENVIRONMENT": json.dumps(user_env),
            "OPENSHELL_LOG_LEVEL": "info",
        }
        if policy_text is not None:
            env["OPENSHELL_POLICY_FILE"] = policy
            command = ["unshare", "--pid", "--fork", "--kill-child", harness.SUPERVISOR, "--", *argv]
        else:
            # The built-in default policy: hide whatever /etc/openshell this
            # machine has, in a mount namespace of the supervisor's own.
            command = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                       "if [ -d /etc/openshell ]; then mount -t tmpfs none /etc/openshell; fi; "
                       "exec unshare --pid --fork --kill-child \"$0\" -- \"$@\"", harness.SUPERVISOR, *argv]
        try:
            result = subprocess.run(command,
                                    env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
            self.code, self.timed_out = result.returncode, False
            self.stdout = result.stdout.decode(errors="replace")
            self.log = result.stderr.decode(errors="replace")
        except subprocess.TimeoutExpired as expired:
            self.code, self.timed_out = None, True
            self.stdout = (expired.stdout or b"").decode(errors="replace")
            self.log = (expired.stderr or b"").decode(errors="replace")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


class ClaudeCodeAsTheMainProcess(unittest.TestCase):
    def test_version_in_the_default_sandbox(self):
        turn = Turn(None, ["claude", "--version"])
        self.assertEqual(turn.code, 0, turn.log[-3000:])
        self.assertIn("built-in default", turn.log)
        self.assertEqual(turn.stdout.strip(), "%s (Claude Code)" % VERSION)

    def test_a_turn_allowed_by_a_rule_for_the_claude_binary(self):
        # The rule names the command npm installed, a symlink to the native
        # binary: it matches by its target.
        before = len(api_requests())
        turn = Turn(FILESYSTEM + rules_for(CLAUDE), ["claude", "-p", "Reply with PONG."])
        self.assertEqual(turn.code, 0, (turn.stdout, turn.log[-3000:]))
        self.assertIn(REPLY, turn.stdout)
        reached = api_requests()[before:]
        self.assertTrue(any(r["path"].startswith("/v1/messages") for r in reached), reached)
        self.assertRegex(turn.log, r'"action":\s*"allow"')

    def test_the_same_turn_without_a_rule_for_claude_fails_without_reaching_the_api(self):
        before = len(api_requests())
        turn = Turn(FILESYSTEM + rules_for("/usr/bin/curl"), ["claude", "-p", "Reply with PONG."], timeout=90)
        self.assertNotEqual(turn.code, 0, turn.stdout)
        self.assertNotIn(REPLY, turn.stdout)
        self.assertEqual(api_requests()[before:], [])


def main():
    global CLAUDE
    harness.SUPERVISOR = os.path.abspath(sys.argv[1])
    if os.environ.get("EGRESS_TEST_INNER") != "1":
        install()  # before the namespaces: npm needs the machine's network
        return harness.outer(sys.argv[1:], script=__file__)
    CLAUDE = installed_claude()
    unittest.main(argv=[sys.argv[0], *sys.argv[2:]], verbosity=2)


if __name__ == "__main__":
    sys.exit(main())
