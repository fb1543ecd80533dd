"""Runs inside the sandbox (network mode proxy) for proxy_runtime_test.py:
each argument is one step, each step prints one JSON line with what it saw.

  curl:URL[:noproxy]   curl through the proxy (or direct), body and HTTP code
  curl6:URL            curl through the proxy's IPv6 listener [::1]:3128
  urllib:URL           Python's urllib through HTTP_PROXY
  sh-curl:URL          curl run by /bin/sh (an ancestor that is not python)
  connect:HOST:PORT    raw TCP connect (no proxy), errno
  udp:HOST:PORT        UDP sendto, errno
  abstract:NAME        connect to an abstract unix socket, errno
  dns:NAME             A query to 127.0.0.1:53, rcode and address
  capture:NAME:PORT    DNS, then an HTTP/1.0 GET to the synthetic address
  tunnel:HOST:PORT     CONNECT through the proxy, then echo lines until the
                       file `stop` appears in the cwd, printing what happened
"""
import errno
import json
import os
import socket
import struct
import subprocess
import sys
import time
import urllib.request


def out(step, **fields):
    fields["step"] = step
    print(json.dumps(fields), flush=True)


def run_curl(step, url, extra=(), via_shell=False):
    argv = ["/usr/bin/curl", "-sS", "-m", "10", "-o", "-", "-w", "\n%{http_code}", *extra, url]
    if via_shell:
        argv = ["/bin/sh", "-c", " ".join("'%s'" % a for a in argv)]
    p = subprocess.run(argv, capture_output=True, text=True)
    body, _, code = p.stdout.rpartition("\n")
    out(step, rc=p.returncode, code=code, body=body, err=p.stderr.strip())


def dns_query(name):
    q = struct.pack(">HHHHHH", 0x4242, 0x0100, 1, 0, 0, 0)
    for label in name.split("."):
        q += bytes([len(label)]) + label.encode()
    q += b"\0" + struct.pack(">HH", 1, 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(5)
    s.sendto(q, ("127.0.0.1", 53))
    r = s.recv(512)
    rcode = r[3] & 15
    answers = struct.unpack(">H", r[6:8])[0]
    return rcode, socket.inet_ntoa(r[-4:]) if rcode == 0 and answers else None


def errno_name(e):
    return errno.errorcode.get(e.errno, str(e.errno)) if isinstance(e, OSError) else str(e)


def step_connect(step, host, port):
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
        out(step, result="connected")
    except OSError as e:
        out(step, result=errno_name(e))


def step_udp(step, host, port):
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.sendto(b"x", (host, int(port)))
        out(step, result="sent")
    except OSError as e:
        out(step, result=errno_name(e))


def step_abstract(step, name):
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect("\0" + name)
        out(step, result="connected")
    except OSError as e:
        out(step, result=errno_name(e))


def step_capture(step, name, port):
    rcode, address = dns_query(name)
    if address is None:
        return out(step, result="no address", rcode=rcode)
    try:
        c = socket.create_connection((address, int(port)), timeout=10)
        c.sendall(b"GET /index.html HTTP/1.0\r\nHost: %s\r\n\r\n" % name.encode())
        data = b""
        while True:
            d = c.recv(65536)
            if not d:
                break
            data += d
        out(step, result="ok", address=address, body=data.split(b"\r\n\r\n", 1)[-1].decode())
    except OSError as e:
        out(step, result=errno_name(e), address=address)


def step_tunnel(step, host, port):
    c = socket.create_connection(("127.0.0.1", 3128), timeout=10)
    c.sendall(b"CONNECT %s:%s HTTP/1.1\r\nHost: %s:%s\r\n\r\n" % ((host.encode(), port.encode()) * 2))
    head = b""
    while b"\r\n\r\n" not in head:
        d = c.recv(1)
        if not d:
            break
        head += d
    status = head.split(b"\r\n", 1)[0].decode()
    out(step, phase="connect", status=status)
    if " 200 " not in status:
        return
    c.settimeout(1)
    n = 0
    while not os.path.exists("stop"):
        try:
            c.sendall(b"ping %d\n" % n)
            got = c.recv(100)
            if not got:
                return out(step, phase="closed", after=n)
            n += 1
            if n == 1:
                out(step, phase="echo", got=got.decode().strip())
        except OSError as e:
            return out(step, phase="closed", after=n, error=errno_name(e))
        time.sleep(0.05)
    out(step, phase="stopped", after=n)


def main():
    for arg in sys.argv[1:]:
        kind, _, rest = arg.partition(":")
        if kind == "curl":
            url, _, noproxy = rest.partition("|")
            run_curl(arg, url, ["--noproxy", "*"] if noproxy else [])
        elif kind == "curl6":
            run_curl(arg, rest, ["-x", "http://[::1]:3128"])
        elif kind == "sh-curl":
            run_curl(arg, rest, via_shell=True)
        elif kind == "urllib":
            try:
                with urllib.request.urlopen(rest, timeout=10) as r:
                    out(arg, code=r.status, body=r.read().decode())
            except urllib.error.HTTPError as e:
                out(arg, code=e.code, body=e.read().decode())
            except OSError as e:
                out(arg, code=0, body=str(e))
        elif kind == "connect":
            step_connect(arg, *rest.rsplit(":", 1))
        elif kind == "udp":
            step_udp(arg, *rest.rsplit(":", 1))
        elif kind == "abstract":
            step_abstract(arg, rest)
        elif kind == "dns":
            rcode, address = dns_query(rest)
            out(arg, rcode=rcode, address=address)
        elif kind == "capture":
            step_capture(arg, *rest.rsplit(":", 1))
        elif kind == "tunnel":
            step_tunnel(arg, *rest.rsplit(":", 1))
        elif kind == "env":
            out(arg, value=os.environ.get(rest))
        elif kind == "await":
            # Until the test creates the file (for example after a reload).
            deadline = time.time() + 30
            while not os.path.exists(rest) and time.time() < deadline:
                time.sleep(0.05)
            out(arg, present=os.path.exists(rest))
        elif kind == "touch":
            open(rest, "w").close()
            out(arg)
        else:
            out(arg, error="unknown step")


if __name__ == "__main__":
    main()
