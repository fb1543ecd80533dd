#!/usr/bin/env python3
"""Egress proxy benchmark, side by side in one run (not pass/fail):

1. 1 GiB over HTTP through a CONNECT tunnel from inside the sandbox vs the
   same download direct from the pod's namespace, same client (curl):
   throughput ratio (goal >= 0.9x).
2. 100 sequential small requests, a new connection each: median latency
   through the proxy minus direct (goal <= 1 ms added).
3. 1,000 concurrent idle tunnels: the supervisor's RSS growth per tunnel
   (goal <= 64 KiB).
4. The stripped binary's size.

Only the test's own namespaces are used (see tests/egress/egress_test.py).
Usage: egress_bench.py SUPERVISOR.
"""
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "egress"))
import egress_test as harness  # noqa: E402

GIB = 1 << 30
POLICY = """
limits: { nofile: 4096 }
network_policies:
  bench_curl:
    endpoints: [ { host: git.egress.test, port: 80 } ]
    binaries: [ { path: /usr/bin/curl } ]
  bench_python:
    endpoints: [ { host: api.egress.test, ports: [80, %d] } ]
    binaries: [ { path: /usr/bin/python3.11 } ]
""" % harness.ECHO_PORT


def curl_seconds(argv):
    result = subprocess.run(argv, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError("curl failed: %s" % result.stderr)
    return float(result.stdout.strip())


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def supervisor_pid(sup):
    with open("/proc/%d/task/%d/children" % (sup.proc.pid, sup.proc.pid)) as f:
        return int(f.read().split()[0])


def inner():
    harness.SUPERVISOR = os.path.abspath(sys.argv[1])
    # Two sockets per tunnel in the supervisor: raise the soft limit to the hard one.
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    sup = harness.Supervisor(POLICY)
    try:
        url = "http://git.egress.test/bytes/%d" % GIB
        fmt = "-w '%{time_total}'"
        # 1. Throughput: best of two each, same curl.
        direct = min(curl_seconds(["curl", "-sS", "-o", "/dev/null", "-w", "%{time_total}",
                                   "http://%s/bytes/%d" % (harness.HOST, GIB)]) for _ in range(2))
        proxied = []
        for _ in range(2):
            code, out, err = sup.sh("curl -sS -p -o /dev/null %s %s" % (fmt, url), timeout=300)
            if code != 0:
                raise RuntimeError("proxied curl failed: " + err)
            proxied.append(float(out.strip()))
        tunnel = min(proxied)
        print("1 GiB download, curl: direct %.2f s (%.0f MiB/s), CONNECT tunnel %.2f s (%.0f MiB/s): "
              "ratio %.2fx (goal >= 0.9x)" % (direct, 1024 / direct, tunnel, 1024 / tunnel, direct / tunnel))

        # 2. Latency: the same python client, direct in the pod vs proxied in the sandbox.
        shutil.copy(os.path.join(harness.HERE, "client.py"), os.path.join(sup.dir, "client.py"))
        direct_run = subprocess.run([harness.PYTHON, os.path.join(sup.dir, "client.py"), "latency", "100",
                                     harness.HOST, "80", "direct"], capture_output=True, text=True)
        direct_latency = json.loads(direct_run.stdout)
        proxy_latency = sup.client("latency", "100", "api.egress.test", "80", "proxy")
        added = proxy_latency["median_ms"] - direct_latency["median_ms"]
        print("100 sequential requests, new connection each: direct median %.3f ms, proxied median %.3f ms: "
              "added %.3f ms per request (goal <= 1 ms)"
              % (direct_latency["median_ms"], proxy_latency["median_ms"], added))

        # 3. Idle tunnels.
        pid = supervisor_pid(sup)
        before = rss_kib(pid)
        holder = subprocess.Popen(sup.ssh_argv("cd %s && %s client.py tunnels 1000 api.egress.test %d"
                                               % (sup.workdir, harness.PYTHON, harness.ECHO_PORT)),
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        state = json.loads(holder.stdout.readline() or "{}")
        time.sleep(1)
        after = rss_kib(pid)
        holder.stdin.close()
        holder.wait(timeout=60)
        if state.get("state") != "open":
            print("1,000 idle tunnels: not opened: %s" % state)
        else:
            print("1,000 idle tunnels: supervisor RSS %d KiB -> %d KiB: %.1f KiB per tunnel (goal <= 64 KiB)"
                  % (before, after, (after - before) / 1000))
    finally:
        sup.stop()

    # 4. Size.
    with tempfile.NamedTemporaryFile() as stripped:
        subprocess.run(["strip", "-o", stripped.name, harness.SUPERVISOR], check=True)
        print("stripped binary: %d bytes (%.2f MiB)" % (os.path.getsize(stripped.name),
                                                     os.path.getsize(stripped.name) / (1 << 20)))


def main():
    if os.environ.get("EGRESS_TEST_INNER") == "1":
        return inner()
    return harness.outer(sys.argv[1:], script=__file__)


if __name__ == "__main__":
    sys.exit(main())
