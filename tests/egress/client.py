#!/usr/bin/env python3
"""Run inside the sandbox by the egress tests: one network action, its
result as one JSON line on stdout.

  connect HOST PORT        CONNECT through the proxy, then GET /hello in the tunnel
  forward URL [EXTRA]      absolute-form request to the proxy, raw
  raw DATA [PAD]           DATA (and a PAD-byte header) to the proxy, raw
  urllib URL               urllib.request (honours HTTP_PROXY)
  tcp HOST PORT [DATA]     direct TCP, no proxy (name resolved by getaddrinfo)
  udp HOST PORT            direct UDP datagram
  resolve NAME             getaddrinfo
  dns NAME [udp|tcp] [T]   one query of type T to the sandbox's DNS on 127.0.0.1:53
  hold HOST PORT           CONNECT tunnel to an echo server, kept until closed
  spawn ARGV...            run a program as a child of this python
"""
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

PROXY = ("127.0.0.1", 3128)


def out(**fields):
    print(json.dumps(fields), flush=True)


def read_response(sock, timeout=10):
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode(errors="replace").split("\r\n")
    status = int(lines[0].split()[1]) if lines and len(lines[0].split()) > 1 else 0
    headers = {}
    for line in lines[1:]:
        key, _, value = line.partition(":")
        headers[key.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "-1"))
    if status != 200 or length >= 0:
        while length < 0 or len(body) < length:
            try:
                chunk = sock.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            body += chunk
    return status, headers, body


def connect(host, port):
    with socket.create_connection(PROXY, timeout=10) as sock:
        target = "%s:%s" % (host, port)
        sock.sendall(("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (target, target)).encode())
        status, headers, body = read_response(sock)
        tunneled = None
        if status == 200:
            sock.sendall(("GET /hello HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % host).encode())
            _, _, tunneled_body = read_response(sock)
            tunneled = tunneled_body.decode(errors="replace")
        out(status=status, headers=headers, body=body.decode(errors="replace"), tunneled=tunneled)


def forward(url, extra=""):
    host = url.split("/")[2]
    with socket.create_connection(PROXY, timeout=10) as sock:
        request = ("GET %s HTTP/1.1\r\nHost: %s\r\nProxy-Authorization: Basic c2VjcmV0\r\n"
                   "Proxy-Connection: keep-alive\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\n"
                   "X-Kept: 1\r\n\r\n%s" % (url, host, extra.replace("\\r\\n", "\r\n")))
        sock.sendall(request.encode())
        status, headers, body = read_response(sock)
        rest = b""
        try:
            sock.settimeout(2)
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                rest += chunk
        except OSError:
            pass
        out(status=status, headers=headers, body=body.decode(errors="replace"),
            after=rest.decode(errors="replace"))


def raw(data, pad="0"):
    """Sends `data` (with \\r\\n escapes) to the proxy, plus a header of
    `pad` bytes before the blank line; prints the response status and body."""
    text = data.replace("\\r\\n", "\r\n")
    if int(pad):
        text += "X-Pad: " + "a" * int(pad) + "\r\n"
    with socket.create_connection(PROXY, timeout=10) as sock:
        sock.sendall((text + "\r\n").encode())
        status, headers, body = read_response(sock)
        out(status=status, headers=headers, body=body.decode(errors="replace"))


def use_urllib(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            out(status=response.status, body=response.read().decode(errors="replace"))
    except urllib.error.HTTPError as error:
        out(status=error.code, body=error.read().decode(errors="replace"))
    except OSError as error:
        out(status=0, error=str(error))


def tcp(host, port, data=None):
    try:
        infos = socket.getaddrinfo(host, int(port), socket.AF_INET, socket.SOCK_STREAM)
    except socket.gaierror as error:
        return out(resolved=None, error="resolve: %s" % error, errno=error.errno)
    address = infos[0][4][0]
    try:
        with socket.create_connection((address, int(port)), timeout=5) as sock:
            if data:
                sock.sendall(data.replace("\\r\\n", "\r\n").encode())
            received = b""
            sock.settimeout(5)
            try:
                while True:
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    received += chunk
                    if data and not data.startswith("GET") and len(received) >= len(data):
                        break
            except socket.timeout:
                pass
            except ConnectionResetError:
                return out(resolved=address, error="reset", data=received.decode(errors="replace"))
            out(resolved=address, error=None, data=received.decode(errors="replace"))
    except OSError as error:
        out(resolved=address, error=str(error), errno=error.errno)


def udp(host, port):
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.sendto(b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
                        b"\x0audp-escape\x06egress\x04test\x00\x00\x01\x00\x01", (host, int(port)))
            sock.settimeout(2)
            data = sock.recv(512)
            out(error=None, data=data.hex())
    except OSError as error:
        out(error=str(error), errno=error.errno)


def dns_query(name, transport="udp", qtype="1"):
    """One query straight to the sandbox's DNS server on 127.0.0.1:53."""
    query = b"\x42\x42\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
    for label in name.split("."):
        query += bytes([len(label)]) + label.encode()
    query += b"\x00" + int(qtype).to_bytes(2, "big") + b"\x00\x01"
    try:
        if transport == "tcp":
            with socket.create_connection(("127.0.0.1", 53), timeout=5) as sock:
                sock.sendall(len(query).to_bytes(2, "big") + query)
                length = int.from_bytes(sock.recv(2), "big")
                reply = b""
                while len(reply) < length:
                    reply += sock.recv(length - len(reply))
        else:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                sock.settimeout(5)
                sock.sendto(query, ("127.0.0.1", 53))
                reply = sock.recv(4096)
    except OSError as error:
        return out(error=str(error))
    rcode = reply[3] & 0xF
    answers = int.from_bytes(reply[6:8], "big")
    addresses = []
    if answers:
        # Our server's one answer: pointer, type, class, ttl, rdlength, rdata.
        at = len(query)
        ttl = int.from_bytes(reply[at + 6:at + 10], "big")
        addresses.append(socket.inet_ntoa(reply[at + 12:at + 16]))
        return out(error=None, rcode=rcode, addresses=addresses, ttl=ttl)
    out(error=None, rcode=rcode, addresses=addresses)


def resolve(name):
    try:
        infos = socket.getaddrinfo(name, 80, socket.AF_UNSPEC, socket.SOCK_STREAM)
        out(addresses=sorted({info[4][0] for info in infos}), error=None)
    except socket.gaierror as error:
        out(addresses=[], error=str(error), errno=error.errno)


def hold(host, port):
    sock = socket.create_connection(PROXY, timeout=10)
    target = "%s:%s" % (host, port)
    sock.sendall(("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (target, target)).encode())
    status, _, _ = read_response(sock)
    if status != 200:
        return out(state="refused", status=status)
    sock.sendall(b"ping")
    sock.settimeout(10)
    if sock.recv(4) != b"ping":
        return out(state="no-echo")
    out(state="open")
    start = time.time()
    sock.settimeout(1)
    while time.time() - start < 30:
        try:
            sock.sendall(b"ping")
            if not sock.recv(64):
                return out(state="closed", after=time.time() - start)
        except socket.timeout:
            continue
        except OSError as error:
            return out(state="closed", after=time.time() - start, error=str(error))
        time.sleep(0.2)
    out(state="still-open")


def latency(count, host, port, mode):
    """Median milliseconds of `count` sequential GET /hello, each on a new
    connection: direct, or through a CONNECT tunnel."""
    times = []
    for _ in range(int(count)):
        start = time.perf_counter()
        if mode == "proxy":
            sock = socket.create_connection(PROXY, timeout=10)
            target = "%s:%s" % (host, port)
            sock.sendall(("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (target, target)).encode())
            status, _, _ = read_response(sock)
            if status != 200:
                return out(error="status %d" % status)
        else:
            sock = socket.create_connection((host, int(port)), timeout=10)
        sock.sendall(("GET /hello HTTP/1.1\r\nHost: %s\r\n\r\n" % host).encode())
        status, _, body = read_response(sock)
        sock.close()
        if status != 200 or not body:
            return out(error="status %d" % status)
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    out(median_ms=times[len(times) // 2], p90_ms=times[int(len(times) * 0.9)], count=len(times))


def tunnels(count, host, port):
    """Opens `count` CONNECT tunnels, proves each with one echo, prints
    "open" and keeps them until stdin closes."""
    held = []
    for _ in range(int(count)):
        sock = socket.create_connection(PROXY, timeout=10)
        target = "%s:%s" % (host, port)
        sock.sendall(("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (target, target)).encode())
        status, _, _ = read_response(sock)
        if status != 200:
            return out(state="refused", status=status, opened=len(held))
        sock.sendall(b"x")
        if sock.recv(1) != b"x":
            return out(state="no-echo", opened=len(held))
        held.append(sock)
    out(state="open", opened=len(held))
    sys.stdin.read()


def spawn(argv):
    result = subprocess.run(argv, capture_output=True, timeout=30)
    out(code=result.returncode, stdout=result.stdout.decode(errors="replace"),
        stderr=result.stderr.decode(errors="replace"))


def main():
    command, args = sys.argv[1], sys.argv[2:]
    {"connect": connect, "forward": forward, "urllib": use_urllib, "tcp": tcp, "udp": udp,
     "resolve": resolve, "hold": hold,
     "latency": latency, "tunnels": tunnels, "raw": raw,
     "dns": dns_query}.get(command, lambda *a: spawn(list(a)))(*args) \
        if command != "spawn" else spawn(args)


if __name__ == "__main__":
    main()
