#!/usr/bin/env python3
"""Egress under policy (issue: the sandbox leaves its network only through
the supervisor's proxy), with the real supervisor and real clients: curl,
git, Python's urllib and raw sockets, Node's fetch.

Hermetic: two network namespaces the test makes, "pod" (where the
supervisor runs, as in a Kubernetes pod) and "host" (the test host: HTTP,
a git repository over dumb HTTP, a TCP echo and the DNS server the pod's
/etc/resolv.conf names), joined by a veth pair: 10.233.0.1/30 in the pod,
10.233.0.2/30 and a stand-in for cloud metadata, 169.254.233.2, on the
host. The pod's /etc/resolv.conf and /etc/hosts are the test's own
(ip-netns(8) binds /etc/netns/NAME/* over /etc in the namespace it runs).
Nothing is sent anywhere else.

Usage: egress_test.py SUPERVISOR [unittest args]. Runs as root. The outer
process builds the namespaces and servers, then runs the tests inside the
pod namespace (EGRESS_TEST_INNER=1).
"""
import json
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

HERE = os.path.dirname(os.path.abspath(__file__))
SUPERVISOR = None
SANDBOX_UID = 1000
HOST = "10.233.0.2"
POD = "10.233.0.1"
METADATA = "169.254.233.2"
ECHO_PORT = 7000
PYTHON = "/usr/bin/python3"

NAMES = {
    "git.egress.test": HOST,
    "api.egress.test": HOST,
    "node.egress.test": HOST,
    "denied.egress.test": HOST,
    "loop.egress.test": "127.0.0.1",
    "meta.egress.test": METADATA,
    "priv.wild.test": HOST,
    "x.open.test": HOST,
}

FILESYSTEM = """
version: 1
filesystem_policy:
  include_workdir: true
  read_only: [/usr, /lib, /proc, /dev/urandom, /etc, /var/log]
  read_write: [/tmp, /dev/null]
landlock: { compatibility: best_effort }
"""

RULES = """
network_policies:
  curl_git:
    endpoints:
      - { host: git.egress.test, port: 80 }
    binaries: [ { path: /usr/bin/curl }, { path: /usr/bin/git } ]
  python:
    endpoints:
      - { host: api.egress.test, ports: [80, %(echo)d] }
      - { host: loop.egress.test, port: 80 }
      - { host: meta.egress.test, port: 80 }
      - { host: "*.wild.test", port: 80 }
    binaries: [ { path: /usr/bin/python3 } ]
  any_host_in_the_test_net:
    endpoints:
      - { port: 8080, allowed_ips: ["10.233.0.0/30"] }
    binaries: [ { path: /usr/bin/python3 } ]
  wildcard_granted:
    endpoints:
      - { host: "*.open.test", port: 80, allowed_ips: ["10.233.0.0/30"] }
    binaries: [ { path: /usr/bin/python3.11 } ]
  node:
    endpoints:
      - { host: node.egress.test, port: 80 }
    binaries: [ { path: /usr/bin/node } ]
""" % {"echo": ECHO_PORT}

ONLY_CURL = """
network_policies:
  curl_git:
    endpoints:
      - { host: git.egress.test, port: 80 }
    binaries: [ { path: /usr/bin/curl } ]
"""


def must_work():
    return os.environ.get("OPENSHELL_TESTS_MUST_WORK") == "1"


def run(*argv, check=True, **kwargs):
    return subprocess.run(argv, check=check, capture_output=True, **kwargs)


# ---------------------------------------------------------------- outer side

class TestNet:
    """The two namespaces, the veth between them and the test host's servers."""

    def __init__(self):
        tag = "%d" % os.getpid()
        self.pod = "osegress-pod-" + tag
        self.host = "osegress-host-" + tag
        self.dir = tempfile.mkdtemp(prefix="egress-test-host-", dir="/var/tmp")
        self.etc = "/etc/netns/" + self.pod
        self.processes = []

    def up(self):
        for ns in (self.pod, self.host):
            run("ip", "netns", "add", ns)
            run("ip", "-n", ns, "link", "set", "lo", "up")
        run("ip", "-n", self.pod, "link", "add", "veth0", "type", "veth", "peer", "name", "veth1",
            "netns", self.host)
        run("ip", "-n", self.pod, "addr", "add", POD + "/30", "dev", "veth0")
        run("ip", "-n", self.host, "addr", "add", HOST + "/30", "dev", "veth1")
        run("ip", "-n", self.host, "addr", "add", METADATA + "/32", "dev", "veth1")
        run("ip", "-n", self.pod, "link", "set", "veth0", "up")
        run("ip", "-n", self.host, "link", "set", "veth1", "up")
        run("ip", "-n", self.pod, "route", "add", METADATA + "/32", "dev", "veth0")
        os.makedirs(self.etc, exist_ok=True)
        with open(os.path.join(self.etc, "resolv.conf"), "w") as f:
            f.write("nameserver %s\noptions timeout:1 attempts:2\n" % HOST)
        with open(os.path.join(self.etc, "hosts"), "w") as f:
            f.write("127.0.0.1 localhost\n::1 localhost\n")
        self.make_content()
        names = os.path.join(self.dir, "names")
        with open(names, "w") as f:
            f.writelines("%s %s\n" % item for item in NAMES.items())
        self.dns_log = os.path.join(self.dir, "dns.log")
        open(self.dns_log, "w").close()
        self.api_log = os.path.join(self.dir, "api.log")
        open(self.api_log, "w").close()
        self.start(self.host, "--http", "80,8080", "--root", self.root, "--echo", str(ECHO_PORT),
                   "--dns", names, "--dns-log", self.dns_log, "--api-log", self.api_log, "--banner", "egress test host")
        # What the supervisor must never be tricked into dialing: the pod's
        # own loopback (where its SSH listener lives).
        self.start(self.pod, "--bind", "127.0.0.1", "--http", "80,8080", "--root", self.root,
                   "--banner", "POD-LOOPBACK-SECRET")

    def make_content(self):
        self.root = os.path.join(self.dir, "www")
        os.makedirs(self.root)
        work = os.path.join(self.dir, "work")
        os.makedirs(work)
        git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "init.defaultBranch=main"]
        run(*git, "init", "-q", work)
        with open(os.path.join(work, "README"), "w") as f:
            f.write("egress-git-ok\n")
        run(*git, "-C", work, "add", "README")
        run(*git, "-C", work, "commit", "-q", "-m", "first")
        bare = os.path.join(self.root, "repo.git")
        run(*git, "clone", "-q", "--bare", work, bare)
        run("git", "-C", bare, "update-server-info")

    def start(self, ns, *args):
        proc = subprocess.Popen(["ip", "netns", "exec", ns, PYTHON, os.path.join(HERE, "testhost.py"), *args],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.processes.append(proc)
        if proc.stdout.readline().strip() != b"ready":
            raise RuntimeError("test host server did not start: %s" % (args,))

    def down(self):
        for proc in self.processes:
            proc.stdin.close()
            proc.kill()
            proc.wait()
        for ns in (self.pod, self.host):
            run("ip", "netns", "del", ns, check=False)
        shutil.rmtree(self.etc, ignore_errors=True)
        try:
            os.rmdir("/etc/netns")  # only when no other run uses it
        except OSError:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)


def outer(argv, script=__file__):
    """Builds the namespaces and servers, runs `script` inside the pod namespace."""
    if os.geteuid() != 0:
        print("egress tests need root", file=sys.stderr)
        return 77 if not must_work() else 1
    net = TestNet()
    try:
        net.up()
        env = dict(os.environ, EGRESS_TEST_INNER="1", EGRESS_TEST_DNS_LOG=net.dns_log,
                   EGRESS_TEST_API_LOG=net.api_log,
                   EGRESS_TEST_ROOT=net.root)
        return subprocess.run(["ip", "netns", "exec", net.pod, PYTHON, os.path.abspath(script), *argv],
                              env=env).returncode
    finally:
        net.down()


# ---------------------------------------------------------------- inner side

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Supervisor:
    """openshell-supervisor as PID 1 of a new PID namespace in the pod
    namespace, reached by the gateway over SSH on an ephemeral port."""

    def __init__(self, policy, env=None, main=("sleep", "3600")):
        self.dir = tempfile.mkdtemp(prefix="egress-test-", dir="/var/tmp")
        os.chmod(self.dir, 0o755)
        self.workdir = os.path.join(self.dir, "work")
        os.mkdir(self.workdir)
        shutil.copy(os.path.join(HERE, "client.py"), os.path.join(self.workdir, "client.py"))
        for name in os.listdir(self.workdir):
            os.chown(os.path.join(self.workdir, name), SANDBOX_UID, SANDBOX_UID)
        os.chown(self.workdir, SANDBOX_UID, SANDBOX_UID)
        self.key = os.path.join(self.dir, "gateway")
        run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", self.key)
        self.authorized_keys = os.path.join(self.dir, "authorized_keys")
        shutil.copy(self.key + ".pub", self.authorized_keys)
        # The policy in a directory of its own, replaced by rename as a
        # ConfigMap update does.
        self.policy_dir = os.path.join(self.dir, "policy")
        os.mkdir(self.policy_dir)
        self.policy = os.path.join(self.policy_dir, "policy.yaml")
        self.write_policy(policy)
        self.port = free_port()
        environment = {
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            "OPENSHELL_SSH_LISTEN": "127.0.0.1:%d" % self.port,
            "OPENSHELL_SSH_AUTHORIZED_KEYS_FILE": self.authorized_keys,
            "OPENSHELL_WORKDIR": self.workdir,
            "OPENSHELL_POLICY_FILE": self.policy,
            "OPENSHELL_SANDBOX_ID": "egress-test",
            "OPENSHELL_LOG_LEVEL": "info",
        }
        environment.update(env or {})
        self.log_path = os.path.join(self.dir, "supervisor.log")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            ["unshare", "--pid", "--fork", "--kill-child", SUPERVISOR, "--", *main],
            env=environment, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self.log)
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("supervisor exited: " + self.read_log())
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError("supervisor not listening: " + self.read_log())

    def write_policy(self, rules):
        temporary = self.policy + ".new"
        with open(temporary, "w") as f:
            f.write(FILESYSTEM + rules)
        os.rename(temporary, self.policy)

    def read_log(self):
        self.log.flush()
        with open(self.log_path) as f:
            return f.read()

    def log_records(self):
        records = []
        for line in self.read_log().splitlines():
            try:
                records.append(json.loads(line))
            except ValueError:
                pass
        return records

    def ssh_argv(self, command):
        return ["ssh", "-F", "/dev/null", "-p", str(self.port), "-i", self.key,
                "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
                "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=error",
                "gateway@127.0.0.1", command]

    def sh(self, command, timeout=60):
        result = subprocess.run(self.ssh_argv("cd %s && %s" % (self.workdir, command)),
                                capture_output=True, timeout=timeout)
        return result.returncode, result.stdout.decode(errors="replace"), result.stderr.decode(errors="replace")

    def client(self, *args, timeout=60):
        """client.py inside the sandbox; its JSON result."""
        code, out, err = self.sh(" ".join([PYTHON, "client.py", *map(shell_quote, args)]), timeout=timeout)
        lines = [line for line in out.splitlines() if line.startswith("{")]
        if not lines:
            raise AssertionError("client.py %s: exit %d, stdout %r, stderr %r" % (args, code, out, err))
        return json.loads(lines[-1])

    def stop(self):
        if self.proc.poll() is None:
            try:
                with open("/proc/%d/task/%d/children" % (self.proc.pid, self.proc.pid)) as f:
                    os.kill(int(f.read().split()[0]), signal.SIGTERM)
                self.proc.wait(timeout=20)
            except (subprocess.TimeoutExpired, OSError, IndexError, ValueError):
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        keep = os.environ.get("EGRESS_TEST_KEEP_LOGS")
        if keep:
            shutil.copy(self.log_path, os.path.join(keep, os.path.basename(self.dir) + ".log"))
        shutil.rmtree(self.dir, ignore_errors=True)


def shell_quote(text):
    return "'" + text.replace("'", "'\\''") + "'"


def dns_log():
    with open(os.environ["EGRESS_TEST_DNS_LOG"]) as f:
        return f.read()


def json_body(test, response):
    test.assertEqual(response["headers"].get("content-type"), "application/json", response)
    test.assertEqual(response["headers"].get("connection", "").lower(), "close", response)
    try:
        return json.loads(response["body"])
    except ValueError:
        test.fail("403 body is not JSON: %r" % response["body"])


class EgressUnderPolicy(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sup = Supervisor(RULES)

    @classmethod
    def tearDownClass(cls):
        cls.sup.stop()

    # -- the environment and the proxy

    def test_every_sandbox_process_is_told_the_proxy(self):
        code, out, _ = self.sup.sh("env")
        self.assertEqual(code, 0)
        env = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "GRPC_PROXY", "http_proxy", "https_proxy",
                     "all_proxy", "grpc_proxy"):
            self.assertEqual(env.get(name), "http://127.0.0.1:3128", name)
        for name in ("NO_PROXY", "no_proxy"):
            self.assertEqual(env.get(name), "127.0.0.1,localhost,::1", name)
        self.assertEqual(env.get("NODE_USE_ENV_PROXY"), "1")

    def test_curl_through_connect_to_an_allowed_host(self):
        code, out, err = self.sup.sh("curl -sS --max-time 20 -p http://git.egress.test/hello")
        self.assertEqual(code, 0, err)
        self.assertEqual(out, "egress test host on port 80\n")

    def test_curl_forward_http_to_an_allowed_host_rebuilds_the_request(self):
        code, out, err = self.sup.sh("curl -sS --max-time 20 -H 'Proxy-Authorization: Basic c2VjcmV0' "
                                     "http://git.egress.test/headers")
        self.assertEqual(code, 0, err)
        seen = json.loads(out)
        self.assertEqual(seen["request_line"], "GET /headers HTTP/1.1")  # origin-form
        headers = {k.lower(): v for k, v in seen["headers"]}
        self.assertEqual(headers.get("host"), "git.egress.test")
        self.assertNotIn("proxy-authorization", headers)
        self.assertNotIn("proxy-connection", headers)
        self.assertEqual(headers.get("connection", "").lower(), "close")

    def test_forward_drops_hop_by_hop_headers_and_forwards_only_the_first_request(self):
        smuggled = "GET /hello HTTP/1.1\\r\\nHost: denied.egress.test\\r\\n\\r\\n"
        response = self.sup.client("forward", "http://api.egress.test/headers", smuggled)
        self.assertEqual(response["status"], 200, response)
        seen = json.loads(response["body"])
        headers = {k.lower(): v for k, v in seen["headers"]}
        self.assertNotIn("x-hop", headers)  # named in Connection: hop-by-hop
        self.assertEqual(headers.get("x-kept"), "1")
        self.assertNotIn("proxy-authorization", headers)
        self.assertNotIn("egress test host", response["after"], "a second request was forwarded")

    def test_forward_of_https_url_and_malformed_request_are_400(self):
        response = self.sup.client("forward", "https://git.egress.test/hello")
        self.assertEqual(response["status"], 400, response)
        self.assertIn("CONNECT", response["body"])
        response = self.sup.client("raw", "NOT A REQUEST\\r\\n")
        self.assertEqual(response["status"], 400, response)

    def test_header_block_over_8_kib_is_431(self):
        response = self.sup.client("raw", "GET http://api.egress.test/hello HTTP/1.1\\r\\nHost: api.egress.test\\r\\n",
                                   "9000")
        self.assertEqual(response["status"], 431, response)

    def test_denied_host_is_403_with_policy_denied_body(self):
        response = self.sup.client("connect", "denied.egress.test", "80")
        self.assertEqual(response["status"], 403, response)
        body = json_body(self, response)
        self.assertEqual(body["error"], "policy_denied")
        self.assertEqual(body["detail"], "CONNECT denied.egress.test:80 not permitted by policy")
        self.assertTrue(body.get("reason"), body)
        self.assertIsNone(response["tunneled"])

    def test_denied_port_is_403(self):
        code, _, err = self.sup.sh("curl -sS --max-time 20 -p http://git.egress.test:%d/hello" % ECHO_PORT)
        self.assertNotEqual(code, 0)
        self.assertIn("403", err)

    def test_denied_binary_is_403_naming_the_binary(self):
        # git.egress.test:80 is allowed for curl and git only.
        response = self.sup.client("connect", "git.egress.test", "80")
        self.assertEqual(response["status"], 403, response)
        body = json_body(self, response)
        self.assertEqual(body["error"], "policy_denied")
        self.assertIn("python3", body["reason"])
        self.assertIn("curl_git", body["reason"])

    def test_curl_alone_is_denied_where_python_is_allowed(self):
        code, _, err = self.sup.sh("curl -sS --max-time 20 -p http://api.egress.test/hello")
        self.assertNotEqual(code, 0)
        self.assertIn("403", err)

    def test_ancestor_grant_a_program_run_by_an_allowed_binary(self):
        result = self.sup.client("spawn", "curl", "-sS", "--max-time", "20", "-p", "http://api.egress.test/hello")
        self.assertEqual(result["code"], 0, result)
        self.assertEqual(result["stdout"], "egress test host on port 80\n")

    def test_python_urllib_allowed_through_the_symlinked_binary(self):
        # The rule names /usr/bin/python3, a symlink to python3.11.
        response = self.sup.client("urllib", "http://api.egress.test/hello")
        self.assertEqual(response.get("status"), 200, response)
        self.assertEqual(response["body"], "egress test host on port 80\n")

    def test_python_connect_tunnel_to_an_allowed_host(self):
        response = self.sup.client("connect", "api.egress.test", "80")
        self.assertEqual(response["status"], 200, response)
        self.assertEqual(response["tunneled"], "egress test host on port 80\n")

    def test_git_clone_over_http(self):
        code, out, err = self.sup.sh("rm -rf clone && git clone -q http://git.egress.test/repo.git clone "
                                     "&& cat clone/README", timeout=120)
        self.assertEqual(code, 0, err)
        self.assertEqual(out, "egress-git-ok\n")

    # -- where to: the address table

    def assert_ssrf_denied(self, host, port="80", errors=("ssrf_denied",)):
        response = self.sup.client("connect", host, port)
        self.assertEqual(response["status"], 403, (host, response))
        self.assertNotIn("POD-LOOPBACK-SECRET", json.dumps(response))
        body = json_body(self, response)
        self.assertIn(body["error"], errors, (host, body))

    def test_a_name_resolving_to_loopback_is_refused(self):
        self.assert_ssrf_denied("loop.egress.test")

    def test_loopback_in_every_spelling_is_refused(self):
        # A hostless endpoint on 8080 matches any name, and an address only
        # inside its allowed_ips: a literal outside them is refused by the
        # rule (policy_denied), a name resolving there by the address check.
        for spelling in ("127.0.0.1", "2130706433", "127.1", "0x7f.1", "0177.0.0.1", "127.0.0.1.",
                         "[::ffff:127.0.0.1]", "[::1]"):
            with self.subTest(spelling=spelling):
                self.assert_ssrf_denied(spelling, "8080", ("policy_denied", "ssrf_denied"))

    def test_link_local_metadata_stand_in_is_refused_by_name_and_address(self):
        self.assert_ssrf_denied("meta.egress.test")
        for spelling in (METADATA, "2852055298", "169.254.59650"):
            with self.subTest(spelling=spelling):
                self.assert_ssrf_denied(spelling, "8080", ("policy_denied", "ssrf_denied"))

    def test_address_in_allowed_ips_is_reached_in_any_spelling(self):
        for spelling in (HOST, "10.233.2", "0x0a.0xe9.0.2", "10.233.0.2."):
            with self.subTest(spelling=spelling):
                response = self.sup.client("connect", spelling, "8080")
                self.assertEqual(response["status"], 200, response)
                self.assertEqual(response["tunneled"], "egress test host on port 8080\n")

    def test_private_address_needs_an_exact_host_or_allowed_ips(self):
        # *.wild.test matches priv.wild.test, which resolves to 10.233.0.2.
        self.assert_ssrf_denied("priv.wild.test")
        # *.open.test names 10.233.0.0/30 in allowed_ips.
        response = self.sup.client("connect", "x.open.test", "80")
        self.assertEqual(response["status"], 200, response)
        self.assertEqual(response["tunneled"], "egress test host on port 80\n")

    # -- no way around the proxy

    def test_no_direct_tcp_route_to_the_test_host(self):
        response = self.sup.client("tcp", HOST, "80", "GET /hello HTTP/1.0\\r\\n\\r\\n")
        self.assertTrue(response["error"], response)
        self.assertNotIn("egress test host", response.get("data") or "")
        code, out, _ = self.sup.sh("curl -sS --max-time 10 --noproxy '*' http://%s/hello" % HOST)
        self.assertNotEqual(code, 0)
        self.assertNotIn("egress test host", out)
        response = self.sup.client("tcp", METADATA, "80", "GET /hello HTTP/1.0\\r\\n\\r\\n")
        self.assertTrue(response["error"], response)

    def test_no_direct_udp_route_to_the_test_host(self):
        response = self.sup.client("udp", HOST, "53")
        self.assertTrue(response["error"], response)
        time.sleep(0.5)
        self.assertNotIn("udp-escape.egress.test", dns_log())

    def test_ssh_port_of_the_supervisor_is_unreachable_from_inside(self):
        response = self.sup.client("tcp", "127.0.0.1", str(self.sup.port), "SSH-2.0-probe\\r\\n")
        self.assertTrue(response["error"], response)
        self.assertNotIn("SSH-2.0", response.get("data") or "")
        response = self.sup.client("tcp", POD, str(self.sup.port), "SSH-2.0-probe\\r\\n")
        self.assertTrue(response["error"], response)
        response = self.sup.client("connect", "127.0.0.1", str(self.sup.port))
        self.assertEqual(response["status"], 403, response)

    # -- proxy-unaware clients: the sandbox's DNS and the capture listeners

    def test_sandbox_dns_server_answers_on_loopback_53(self):
        for transport in ("udp", "tcp"):
            with self.subTest(transport=transport):
                allowed = self.sup.client("dns", "API.egress.test", transport)
                self.assertEqual(allowed.get("rcode"), 0, allowed)
                self.assertEqual(len(allowed["addresses"]), 1, allowed)
                self.assertTrue(allowed["addresses"][0].startswith("127.1."), allowed)
                self.assertLessEqual(allowed["ttl"], 5)
                aaaa = self.sup.client("dns", "api.egress.test", transport, "28")
                self.assertEqual((aaaa.get("rcode"), aaaa.get("addresses")), (0, []), aaaa)
                other = self.sup.client("dns", "nothing-matches.egress.test", transport)
                self.assertEqual(other.get("rcode"), 3, other)  # NXDOMAIN
        self.assertNotIn("nothing-matches", dns_log())

    def test_sandbox_resolv_conf_names_the_sandbox_dns(self):
        code, out, err = self.sup.sh("cat /etc/resolv.conf")
        self.assertEqual(code, 0, err)
        servers = re.findall(r"^nameserver\s+(\S+)", out, re.M)
        self.assertEqual(servers, ["127.0.0.1"], out)

    def test_proxy_unaware_curl_allowed_by_name(self):
        code, out, err = self.sup.sh("curl -sS --max-time 20 --noproxy '*' http://git.egress.test/hello")
        self.assertEqual(code, 0, err)
        self.assertEqual(out, "egress test host on port 80\n")

    def test_proxy_unaware_raw_socket_allowed_and_synthetic_address(self):
        response = self.sup.client("tcp", "api.egress.test", str(ECHO_PORT), "raw-tcp-through-capture")
        self.assertTrue(response["resolved"].startswith("127.1."), response)
        self.assertIsNone(response["error"], response)
        self.assertEqual(response["data"], "raw-tcp-through-capture")
        again = self.sup.client("resolve", "api.egress.test")
        self.assertEqual(again["addresses"], [response["resolved"]], "the address is stable")

    def test_proxy_unaware_client_denied_by_binary(self):
        # A name some rule could match resolves, but this binary is not allowed.
        response = self.sup.client("tcp", "git.egress.test", "80", "GET /hello HTTP/1.0\\r\\n\\r\\n")
        self.assertTrue(response["resolved"] and response["resolved"].startswith("127.1."), response)
        self.assertNotIn("egress test host", response.get("data") or "", response)

    def test_names_no_rule_matches_are_nxdomain_and_never_asked_upstream(self):
        for name in ("denied.egress.test", "exfil-c2VjcmV0.egress.test"):
            response = self.sup.client("resolve", name)
            self.assertEqual(response["addresses"], [], response)
            self.assertEqual(response["errno"], socket.EAI_NONAME, response)
            self.assertNotIn(name, dns_log())
        code, _, err = self.sup.sh("curl -sS --max-time 10 --noproxy '*' http://denied.egress.test/hello")
        self.assertEqual(code, 6, err)  # couldn't resolve host

    def test_node_fetch(self):
        version = run("node", "--version").stdout.decode().strip()
        # A refused connection can leave undici's promise pending with no
        # handle left, and node then exits 0 in silence: say so instead.
        script = ("let settled = false;"
                  "process.on('beforeExit', () => { if (!settled) { console.log('UNSETTLED'); process.exit(4); } });"
                  "fetch(process.argv[1]).then(r => r.text()).then(t => { settled = true; process.stdout.write(t); })"
                  ".catch(e => { settled = true; console.log('ERR ' + e.cause?.code); process.exit(3); })")
        code, out, err = self.sup.sh("node -e %s http://node.egress.test/hello" % shell_quote(script))
        self.assertEqual((code, out), (0, "egress test host on port 80\n"), (version, err))
        # git.egress.test is allowed for curl and git, not node.
        code, out, err = self.sup.sh("node -e %s http://git.egress.test/hello" % shell_quote(script))
        self.assertIn(code, (3, 4), (out, err))
        self.assertNotIn("egress test host", out)
        denied = [r for r in self.sup.log_records() if r.get("audit") == "egress" and r.get("action") == "deny"
                  and r.get("host") == "git.egress.test" and r.get("exe") == "/usr/bin/node"]
        self.assertTrue(denied, "no deny record for node")

    # -- audit

    def test_allow_and_deny_are_audit_records(self):
        self.sup.client("connect", "api.egress.test", "80")
        self.sup.client("connect", "denied.egress.test", "80")
        time.sleep(0.3)
        decisions = [r for r in self.sup.log_records() if r.get("audit") == "egress"]
        allows = [r for r in decisions if r.get("host") == "api.egress.test" and r.get("action") == "allow"]
        denies = [r for r in decisions if r.get("host") == "denied.egress.test" and r.get("action") == "deny"]
        self.assertTrue(allows and denies, decisions[-10:])
        allow, deny = allows[-1], denies[-1]
        self.assertEqual((allow["rule"], allow["engine"], str(allow["port"]), allow["address"]),
                         ("python", "policy", "80", HOST))
        self.assertEqual(allow["exe"], "/usr/bin/python3.11")
        self.assertGreater(int(allow["pid"]), 1)
        self.assertEqual((deny["rule"], deny["engine"], str(deny["port"])), ("-", "policy", "80"))
        self.assertEqual(deny["exe"], "/usr/bin/python3.11")
        self.assertTrue(deny["reason"])
        self.sup.client("connect", "loop.egress.test", "80")
        time.sleep(0.3)
        ssrf = [r for r in self.sup.log_records() if r.get("audit") == "egress" and r.get("engine") == "ssrf"
                and r.get("host") == "loop.egress.test"]
        self.assertTrue(ssrf)
        self.assertEqual((ssrf[-1]["action"], ssrf[-1]["address"]), ("deny", "127.0.0.1"))


class PolicyReload(unittest.TestCase):
    def setUp(self):
        self.sup = Supervisor(RULES)

    def tearDown(self):
        self.sup.stop()

    def wait_for(self, predicate, seconds=6):
        deadline = time.time() + seconds
        while time.time() < deadline:
            if predicate():
                return time.time()
            time.sleep(0.2)
        return None

    # The rules name /usr/bin/python3, a symlink to the python3.x the client
    # runs: every generation after the first must still resolve it in the
    # sandbox's view, after the supervisor has dropped the access
    # /proc/<init>/root needs (binary_links.h).
    def test_reload_denies_and_closes_the_stale_tunnel_then_allows_again(self):
        hold = subprocess.Popen(self.sup.ssh_argv("cd %s && %s client.py hold api.egress.test %d"
                                                  % (self.sup.workdir, PYTHON, ECHO_PORT)),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            first = json.loads(hold.stdout.readline() or b"{}")
            self.assertEqual(first.get("state"), "open", first)
            start = time.time()
            self.sup.write_policy(ONLY_CURL)
            closed = json.loads(hold.stdout.readline() or b"{}")
            self.assertEqual(closed.get("state"), "closed", closed)
            self.assertLess(time.time() - start, 5)
        finally:
            hold.kill()
            hold.wait()
        denied = self.sup.client("connect", "api.egress.test", str(ECHO_PORT))
        self.assertEqual(denied["status"], 403, denied)
        # And back: allowed again within 2 s (polled up to 6).
        start = time.time()
        self.sup.write_policy(RULES)
        allowed_at = self.wait_for(lambda: self.sup.client("connect", "api.egress.test", "80")["status"] == 200)
        self.assertIsNotNone(allowed_at, self.sup.read_log()[-2000:])
        print("reload to allow took %.2f s" % (allowed_at - start), file=sys.stderr)

    def test_reload_also_changes_dns_answers(self):
        before = self.sup.client("dns", "api.egress.test")
        self.assertEqual(before.get("rcode"), 0, before)
        self.assertEqual(self.sup.client("dns", "later.egress.test").get("rcode"), 3)
        self.sup.write_policy(ONLY_CURL + "  later:\n    endpoints: [ { host: later.egress.test, port: 80 } ]\n"
                              "    binaries: [ { path: /usr/bin/curl } ]\n")
        gone = self.wait_for(lambda: self.sup.client("dns", "api.egress.test").get("rcode") == 3)
        self.assertIsNotNone(gone, "api.egress.test still answered after its rule went")
        later = self.sup.client("dns", "later.egress.test")
        self.assertEqual(later.get("rcode"), 0, later)
        # The name that came back keeps nothing of the old one's address.
        self.assertNotEqual(later["addresses"], before["addresses"])

    def test_invalid_policy_denies_everything_and_says_so(self):
        self.assertEqual(self.sup.client("connect", "api.egress.test", "80")["status"], 200)
        self.sup.write_policy("network_policies: { broken: { endpoints: [ { host: '*', port: 80 } ] } }\n")
        denied = self.wait_for(lambda: self.sup.client("connect", "api.egress.test", "80")["status"] == 403)
        self.assertIsNotNone(denied)
        self.assertRegex(self.sup.read_log(), re.compile(r"policy\.yaml:\d+:\d+", re.I))


def main():
    global SUPERVISOR
    SUPERVISOR = os.path.abspath(sys.argv[1])
    if os.environ.get("EGRESS_TEST_INNER") != "1":
        return outer(sys.argv[1:])
    unittest.main(argv=[sys.argv[0], *sys.argv[2:]], verbosity=2)


if __name__ == "__main__":
    sys.exit(main())
