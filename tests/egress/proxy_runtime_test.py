#!/usr/bin/env python3
"""The egress runtime of network mode proxy, end to end: the real supervisor
builds a real sandbox whose only way out is its proxy and capture
listeners; the upstream is a test host in a network namespace this test
makes (veth pair, 10.233.x.y/30), named in a hosts file bound over
/etc/hosts in the supervisor's own mount namespace. Clients inside: curl,
Python's urllib and raw sockets (sandbox_client.py).

Usage: proxy_runtime_test.py SUPERVISOR [unittest args]. Runs as root.
"""
import json
import os
import queue
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from egress_policy import policy_text  # noqa: E402

SUPERVISOR = None
HERE = os.path.dirname(os.path.abspath(__file__))

UPSTREAM_SERVER = r'''
import socket, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class H(BaseHTTPRequestHandler):
    def do_GET(self):
        body = (b"hello-upstream" if self.path == "/index.html" else
                ("path=%s host=%s" % (self.path, self.headers.get("Host"))).encode())
        self.send_response(200); self.send_header("Content-Length", str(len(body)))
        self.end_headers(); self.wfile.write(body)
    def log_message(self, *a): pass
def echo(c):
    while True:
        d = c.recv(4096)
        if not d: break
        c.sendall(d)
    c.close()
def echo_server(address):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((address, 7000)); s.listen(64)
    while True:
        c, _ = s.accept(); threading.Thread(target=echo, args=(c,), daemon=True).start()
threading.Thread(target=echo_server, args=(sys.argv[1],), daemon=True).start()
other = ThreadingHTTPServer((sys.argv[1], 8081), H)
threading.Thread(target=other.serve_forever, daemon=True).start()
ThreadingHTTPServer((sys.argv[1], 8080), H).serve_forever()
'''


BASE_RULES = """\
    upstream:
      endpoints:
        - { host: upstream.test, port: 8080 }
        - { host: upstream.test, port: 7000 }
      binaries:
        - { path: /usr/bin/curl }
        - { path: /usr/bin/python3 }
    shell_only:
      endpoints:
        - { host: upstream.test, port: 8081 }
      binaries:
        - { path: /usr/bin/dash }
    wildcard:
      endpoints:
        - { host: "*.wild.test", port: 8080 }
      binaries:
        - { path: /usr/bin/curl }
    internal_names:
      endpoints:
        - { host: loopback.test, port: 8080 }
        - { host: metadata.test, port: 8080 }
      binaries:
        - { path: /usr/bin/curl }
"""


class TestHost:
    """A network namespace holding the upstream, reached from this one over
    a veth pair."""

    def __init__(self):
        n = os.getpid() % 250 + 1
        self.ns = "egress-rt-%d" % os.getpid()
        self.veth = "vegr%d" % os.getpid()
        self.local = "10.233.%d.1" % n
        self.address = "10.233.%d.2" % n
        self.metadata = "169.254.233.2"
        run = lambda *a: subprocess.run(a, check=True)
        run("ip", "netns", "add", self.ns)
        run("ip", "link", "add", self.veth, "type", "veth", "peer", "name", self.veth + "p")
        run("ip", "link", "set", self.veth + "p", "netns", self.ns)
        run("ip", "addr", "add", self.local + "/30", "dev", self.veth)
        run("ip", "link", "set", self.veth, "up")
        inside = ("ip", "netns", "exec", self.ns)
        run(*inside, "ip", "addr", "add", self.address + "/30", "dev", self.veth + "p")
        run(*inside, "ip", "link", "set", self.veth + "p", "up")
        run(*inside, "ip", "link", "set", "lo", "up")
        self.server = subprocess.Popen([*inside, "/usr/bin/python3", "-c", UPSTREAM_SERVER,
                                        self.address])
        for _ in range(100):
            try:
                socket.create_connection((self.address, 8080), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("the test host's server did not start")

    def close(self):
        self.server.kill()
        self.server.wait()
        subprocess.run(["ip", "link", "del", self.veth], stderr=subprocess.DEVNULL)
        subprocess.run(["ip", "netns", "del", self.ns], stderr=subprocess.DEVNULL)


class Sandbox:
    """One supervisor run whose main process is sandbox_client.py."""

    def __init__(self, test, steps, rules=BASE_RULES, env=None, configmap=False):
        self.dir = tempfile.mkdtemp(prefix="egress-rt-", dir="/var/tmp")
        os.chmod(self.dir, 0o755)
        self.workdir = os.path.join(self.dir, "work")
        os.mkdir(self.workdir)
        os.chmod(self.workdir, 0o777)
        shutil.copy(os.path.join(HERE, "sandbox_client.py"), self.workdir)
        os.chmod(os.path.join(self.workdir, "sandbox_client.py"), 0o644)
        self.hosts = os.path.join(self.dir, "hosts")
        with open(self.hosts, "w") as f:
            f.write("127.0.0.1 localhost\n%s upstream.test a.wild.test\n" % test.host.address)
            f.write("127.0.0.1 loopback.test\n%s metadata.test\n" % test.host.metadata)
        self.config = os.path.join(self.dir, "config")
        os.mkdir(self.config)
        self.policy = os.path.join(self.config, "policy.yaml")
        self.generation = 0
        if configmap:
            self.write_configmap(policy_text(rules))
            os.symlink("..data/policy.yaml", self.policy)
        else:
            with open(self.policy, "w") as f:
                f.write(policy_text(rules))
        environment = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "OPENSHELL_SSH_LISTEN": "off",
                       "OPENSHELL_WORKDIR": self.workdir, "OPENSHELL_LOG_LEVEL": "info"}
        environment.update(env or {})
        self.log_path = os.path.join(self.dir, "supervisor.log")
        self.log = open(self.log_path, "w")
        script = 'mount --bind "$1" /etc/hosts && shift && exec "$@"'
        self.proc = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh",
             self.hosts, SUPERVISOR, "run", "--policy", self.policy, "--",
             "/usr/bin/python3", self.workdir + "/sandbox_client.py", *steps],
            env=environment, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=self.log, text=True, cwd=self.dir)
        self.lines = queue.Queue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    # A ConfigMap volume: the file is a symlink through `..data`, which is
    # swapped to a new timestamped directory by a rename.
    def write_configmap(self, text):
        self.generation += 1
        target = os.path.join(self.config, "..%d" % self.generation)
        os.mkdir(target)
        with open(os.path.join(target, "policy.yaml"), "w") as f:
            f.write(text)
        tmp = os.path.join(self.config, "..data_tmp")
        os.symlink("..%d" % self.generation, tmp)
        os.rename(tmp, os.path.join(self.config, "..data"))

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def next(self, timeout=20):
        """The sandbox's next JSON line, or a failure after `timeout` s."""
        deadline = time.time() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.01, deadline - time.time()))
            except queue.Empty:
                line = None
            if line is None:
                raise AssertionError("no output from the sandbox; log:\n" + self.logs())
            if line.startswith("{"):
                return json.loads(line)

    def finish(self, timeout=60):
        self.proc.wait(timeout=timeout)
        self.reader.join(timeout=10)
        records = []
        while True:
            line = self.lines.get_nowait() if not self.lines.empty() else None
            if line is None:
                return records
            if line.startswith("{"):
                records.append(json.loads(line))

    def wait_generation(self, number, timeout=10):
        """Until network policy generation `number` (the start's is 1) is installed."""
        record = '"message":"network policy generation","generation":%d,' % number
        deadline = time.time() + timeout
        while record not in self.logs():
            if time.time() > deadline:
                raise AssertionError("generation %d never came; log:\n%s" % (number, self.logs()))
            time.sleep(0.05)

    def touch(self, name):
        open(os.path.join(self.workdir, name), "w").close()

    def logs(self):
        self.log.flush()
        with open(self.log_path) as f:
            return f.read()

    def audit(self):
        out = []
        for line in self.logs().splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if record.get("audit") == "egress":
                out.append(record)
        return out

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class ProxyRuntime(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.host = TestHost()

    @classmethod
    def tearDownClass(cls):
        cls.host.close()

    def run_steps(self, steps, **kwargs):
        sandbox = Sandbox(self, steps, **kwargs)
        self.addCleanup(sandbox.close)
        records = {r["step"]: r for r in sandbox.finish()}
        for step in steps:
            self.assertIn(step, records, "step %s produced nothing; log:\n%s" % (step, sandbox.logs()))
        return records, sandbox

    def test_allowed_and_denied_by_host_port_and_binary(self):
        steps = ["curl:http://upstream.test:8080/index.html",
                 "curl:https://upstream.test:8080/",  # CONNECT then TLS to a plain server
                 "curl:http://upstream.test:9999/",
                 "curl:http://other.test:8080/",
                 "urllib:http://upstream.test:8080/index.html",
                 "sh-curl:http://upstream.test:8081/index.html",
                 "curl:http://upstream.test:8081/index.html"]
        r, sandbox = self.run_steps(steps)
        self.assertEqual(r[steps[0]]["body"], "hello-upstream")
        self.assertEqual(r[steps[0]]["code"], "200")
        # The tunnel was made (CONNECT allowed); TLS to a plain HTTP server fails after.
        self.assertNotIn("403", r[steps[1]]["err"])
        denied = json.loads(r[steps[2]]["body"])
        self.assertEqual(r[steps[2]]["code"], "403")
        self.assertEqual(denied["error"], "policy_denied")
        self.assertEqual(denied["detail"], "GET upstream.test:9999 not permitted by policy")
        self.assertTrue(denied["reason"])
        self.assertEqual(r[steps[3]]["code"], "403")
        # /usr/bin/python3 in the rule is a symlink to python3.X in the view.
        self.assertEqual(r[steps[4]]["body"], "hello-upstream", r[steps[4]])
        # Ancestor grant: curl run by /bin/sh (dash) is allowed by the rule
        # naming dash; curl run by python is not.
        self.assertEqual(r[steps[5]]["body"], "hello-upstream", r[steps[5]])
        self.assertEqual(r[steps[6]]["code"], "403", r[steps[6]])
        self.assertIn("binary", json.loads(r[steps[6]]["body"])["reason"])

    def test_ipv6_proxy_listener_identifies_its_caller(self):
        steps = ["curl6:http://upstream.test:8080/index.html", "curl6:http://other.test:8080/"]
        r, sandbox = self.run_steps(steps)
        self.assertEqual(r[steps[0]]["body"], "hello-upstream", r[steps[0]])
        self.assertEqual(r[steps[1]]["code"], "403")
        allow = [a for a in sandbox.audit() if a["action"] == "allow"]
        self.assertEqual(allow[0]["exe"], "/usr/bin/curl", allow)

    def test_forwarded_request_is_rewritten(self):
        step = "curl:http://upstream.test:8080/echo?x=1"
        r, _ = self.run_steps([step])
        self.assertEqual(r[step]["body"], "path=/echo?x=1 host=upstream.test:8080")

    def test_address_checks(self):
        steps = ["curl:http://a.wild.test:8080/",      # wildcard: public addresses only
                 "curl:http://loopback.test:8080/",    # resolves to 127.0.0.1
                 "curl:http://metadata.test:8080/",    # resolves to link-local
                 "tunnel:2130706433:8080",             # 127.0.0.1 spelled as a number
                 "tunnel:0x7f.1:8080",
                 "curl:http://127.0.0.1:8080/"]        # no_proxy: direct, captured, refused
        r, sandbox = self.run_steps(steps)
        for step in steps[:3]:
            self.assertEqual(r[step]["code"], "403", r[step])
            self.assertEqual(json.loads(r[step]["body"])["error"], "ssrf_denied", r[step])
        self.assertIn(" 403 ", r[steps[3]]["status"])
        self.assertIn(" 403 ", r[steps[4]]["status"])
        self.assertNotEqual(r[steps[5]]["code"], "200")
        audit = sandbox.audit()
        ssrf = [a for a in audit if a["engine"] == "ssrf"]
        self.assertTrue(any(a["address"] == self.host.metadata for a in ssrf), audit)
        # Both spellings reach the decision as 127.0.0.1.
        self.assertEqual(sum(1 for a in audit if a["host"] == "127.0.0.1" and a["via"] == "connect"),
                         2, audit)

    def test_no_way_out_but_the_proxy(self):
        port = free_port()
        listener = socket.socket()
        listener.bind(("127.0.0.1", port))
        listener.listen(1)
        abstract = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        name = "egress-rt-test-%d" % os.getpid()
        abstract.bind("\0" + name)
        abstract.listen(1)
        self.addCleanup(listener.close)
        self.addCleanup(abstract.close)
        # By address: a name would resolve to a synthetic address and be
        # served, under the same decision, by a capture listener.
        steps = ["curl:http://%s:8080/index.html|noproxy" % self.host.address,
                 "connect:%s:8080" % self.host.address,
                 "udp:%s:53" % self.host.address,
                 "connect:127.0.0.1:%d" % port,   # the pod's loopback (the SSH listener's)
                 "abstract:" + name]
        r, _ = self.run_steps(steps)
        self.assertNotEqual(r[steps[0]]["rc"], 0)
        self.assertEqual(r[steps[1]]["result"], "ENETUNREACH")
        self.assertEqual(r[steps[2]]["result"], "ENETUNREACH")
        self.assertEqual(r[steps[3]]["result"], "ECONNREFUSED")
        self.assertEqual(r[steps[4]]["result"], "ECONNREFUSED")

    def test_proxy_environment(self):
        steps = ["env:HTTPS_PROXY", "env:no_proxy", "env:NODE_USE_ENV_PROXY", "env:grpc_proxy"]
        r, _ = self.run_steps(steps, env={"OPENSHELL_USER_ENVIRONMENT":
                                          '{"HTTPS_PROXY": "http://elsewhere:1"}'})
        self.assertEqual(r[steps[0]]["value"], "http://127.0.0.1:3128")
        self.assertEqual(r[steps[1]]["value"], "127.0.0.1,localhost,::1")
        self.assertEqual(r[steps[2]]["value"], "1")
        self.assertEqual(r[steps[3]]["value"], "http://127.0.0.1:3128")

    def test_proxy_unaware_client_by_name(self):
        steps = ["dns:upstream.test", "dns:other.test", "capture:upstream.test:8080",
                 "capture:upstream.test:7000"]
        r, sandbox = self.run_steps(steps)
        self.assertEqual(r[steps[0]]["rcode"], 0)
        self.assertTrue(r[steps[0]]["address"].startswith("127.1."))
        self.assertEqual(r[steps[1]]["rcode"], 3)  # NXDOMAIN
        self.assertEqual(r[steps[2]]["result"], "ok", r[steps[2]])
        self.assertEqual(r[steps[2]]["body"], "hello-upstream")
        audit = sandbox.audit()
        self.assertTrue(any(a["via"] == "capture" and a["action"] == "allow" for a in audit), audit)

    def test_capture_denied_for_a_binary_without_a_rule(self):
        rules = BASE_RULES.replace("        - { path: /usr/bin/python3 }\n", "")
        step = "capture:upstream.test:8080"
        r, sandbox = self.run_steps([step], rules=rules)
        self.assertEqual(r[step]["body"] if "body" in r[step] else "", "")
        denied = [a for a in sandbox.audit() if a["via"] == "capture" and a["action"] == "deny"]
        self.assertTrue(denied, sandbox.audit())
        self.assertIn("python3", denied[0]["exe"])

    def test_audit_records(self):
        steps = ["curl:http://upstream.test:8080/index.html", "curl:http://other.test:8080/"]
        _, sandbox = self.run_steps(steps)
        audit = sandbox.audit()
        allow = [a for a in audit if a["action"] == "allow"]
        deny = [a for a in audit if a["action"] == "deny"]
        self.assertEqual(len(allow), 1, audit)
        self.assertEqual(allow[0]["rule"], "upstream")
        self.assertEqual(allow[0]["engine"], "policy")
        self.assertEqual(allow[0]["host"], "upstream.test")
        self.assertEqual(allow[0]["port"], 8080)
        self.assertEqual(allow[0]["address"], self.host.address)
        self.assertEqual(allow[0]["exe"], "/usr/bin/curl")
        self.assertIn("python3", allow[0]["ancestors"])
        self.assertGreater(allow[0]["pid"], 1)
        self.assertEqual(len(deny), 1, audit)
        self.assertEqual(deny[0]["host"], "other.test")
        self.assertTrue(deny[0]["reason"])

    def test_reload_closes_stale_tunnels_and_applies_both_ways(self):
        sandbox = Sandbox(self, ["tunnel:upstream.test:7000", "curl:http://upstream.test:8080/index.html",
                                 "await:restored", "curl:http://upstream.test:8080/index.html"],
                          configmap=True)
        self.addCleanup(sandbox.close)
        self.assertIn(" 200 ", sandbox.next()["status"])
        self.assertEqual(sandbox.next()["got"], "ping 0")
        # A generation without the rule: the open tunnel is closed within 2 s.
        sandbox.write_configmap(policy_text(BASE_RULES.replace("port: 7000", "port: 7001")
                                            .replace("port: 8080 }\n        - { host: upstream",
                                                     "port: 8090 }\n        - { host: upstream")))
        start = time.time()
        closed = sandbox.next()
        self.assertEqual(closed["phase"], "closed", closed)
        self.assertLess(time.time() - start, 2.5)
        denied = sandbox.next()
        self.assertEqual(denied["code"], "403", denied)
        # Back: allowed again. The sandbox's third step waits for nothing,
        # so the policy goes back first and the step runs after the settle.
        # (Checked through the audit: a second generation was installed.)
        sandbox.write_configmap(policy_text(BASE_RULES))
        sandbox.wait_generation(3)
        sandbox.touch("restored")
        self.assertTrue(sandbox.next()["present"])
        self.assertEqual(sandbox.next()["code"], "200")
        self.assertTrue(any("tunnel closed by policy generation" in a["reason"]
                            for a in sandbox.audit()), sandbox.audit())

    def test_a_port_named_first_by_a_reload_gets_a_capture_listener(self):
        # Port 8081 is named by no rule at the start, and for python3 after.
        before = BASE_RULES.replace("- { host: upstream.test, port: 8081 }",
                                    "- { host: upstream.test, port: 8080 }")
        after = BASE_RULES.replace("        - { host: upstream.test, port: 7000 }\n",
                                   "        - { host: upstream.test, port: 7000 }\n"
                                   "        - { host: upstream.test, port: 8081 }\n")
        self.assertNotIn("8081", before)
        sandbox = Sandbox(self, ["capture:upstream.test:8081", "await:reloaded",
                                 "capture:upstream.test:8081"], rules=before, configmap=True)
        self.addCleanup(sandbox.close)
        self.assertEqual(sandbox.next()["result"], "ECONNREFUSED")
        sandbox.write_configmap(policy_text(after))
        sandbox.wait_generation(2)
        sandbox.touch("reloaded")
        self.assertTrue(sandbox.next()["present"])
        captured = sandbox.next()
        self.assertEqual(captured["result"], "ok", captured)
        self.assertEqual(captured["body"], "hello-upstream", captured)
        self.assertTrue(any(a["via"] == "capture" and a["action"] == "allow" and a["port"] == 8081
                            for a in sandbox.audit()), sandbox.audit())

    def test_reload_to_an_invalid_file_denies_everything_then_recovers(self):
        sandbox = Sandbox(self, ["tunnel:upstream.test:7000"], configmap=True)
        self.addCleanup(sandbox.close)
        self.assertIn(" 200 ", sandbox.next()["status"])
        sandbox.next()
        sandbox.write_configmap("version: 1\nnetwork_policies: [not, a, map\n")
        closed = sandbox.next()
        self.assertEqual(closed["phase"], "closed", closed)
        self.assertIn("denying ALL egress", sandbox.logs())

    def test_changes_outside_network_policies_are_refused(self):
        sandbox = Sandbox(self, ["tunnel:upstream.test:7000"], configmap=True)
        self.addCleanup(sandbox.close)
        self.assertIn(" 200 ", sandbox.next()["status"])
        sandbox.next()
        sandbox.write_configmap(policy_text(BASE_RULES).replace("read_write: [/tmp]",
                                                                "read_write: [/tmp, /var]"))
        deadline = time.time() + 5
        while "NOT applied" not in sandbox.logs() and time.time() < deadline:
            time.sleep(0.1)
        self.assertIn("NOT applied", sandbox.logs())
        open(os.path.join(sandbox.workdir, "stop"), "w").close()
        self.assertEqual(sandbox.next()["phase"], "stopped")  # the tunnel stayed open


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


if __name__ == "__main__":
    if os.geteuid() != 0:
        print("proxy_runtime_test.py: needs root (namespaces, veth)", file=sys.stderr)
        sys.exit(1)
    SUPERVISOR = os.path.abspath(sys.argv.pop(1))
    unittest.main()
