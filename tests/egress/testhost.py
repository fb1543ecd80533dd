#!/usr/bin/env python3
"""Servers of the egress tests' test host, run inside the test's network
namespace: HTTP (files, a header echo, a byte stream), a TCP echo, and a DNS
server that answers the test's names and logs every name it is asked.

Usage: testhost.py --http PORT[,PORT] --root DIR --echo PORT --dns NAMEFILE
--dns-log FILE --banner TEXT. Prints "ready" on stdout when listening.
"""
import argparse
import atexit
import os
import tempfile
import http.server
import json
import socket
import socketserver
import struct
import sys
import threading


REPLY = "PONG from the Messages API stand-in"
api_log = "/dev/null"
ZEROS = 16 << 20
_zeros = None


def zeros_file():
    global _zeros
    if _zeros is None:
        fd, _zeros = tempfile.mkstemp(prefix="egress-zeros-", dir="/dev/shm")
        os.ftruncate(fd, ZEROS)
        os.close(fd)
        atexit.register(os.unlink, _zeros)
    return _zeros


def http_handler(root, banner):
    class Handler(http.server.SimpleHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=root, **kwargs)

        def log_message(self, *args):
            pass

        def send_text(self, body, content_type="text/plain"):
            data = body.encode() if isinstance(body, str) else body
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            if self.path == "/hello":
                return self.send_text("%s on port %d\n" % (banner, self.server.server_address[1]))
            if self.path == "/headers":
                return self.send_text(json.dumps({
                    "request_line": self.requestline,
                    "headers": [[k, v] for k, v in self.headers.items()],
                    "peer": self.client_address[0],
                }), "application/json")
            if self.path.startswith("/bytes/"):
                # Zero bytes, sent with sendfile(2) from a file of zeros so
                # the server is not what a throughput figure measures.
                size = int(self.path[len("/bytes/"):])
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(size))
                self.end_headers()
                self.wfile.flush()
                with open(zeros_file(), "rb") as f:
                    while size > 0:
                        n = min(size, ZEROS)
                        offset = 0
                        while offset < n:
                            offset += os.sendfile(self.connection.fileno(), f.fileno(), offset, n - offset)
                        size -= n
                return None
            return super().do_GET()

        def do_POST(self):
            # A stand-in for the Messages API, enough for one `claude -p`
            # turn: streaming (server-sent events) and plain replies.
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length) if length else b""
            with open(api_log, "a") as log:
                log.write(json.dumps({"path": self.path, "peer": self.client_address[0],
                                      "user_agent": self.headers.get("User-Agent", "")}) + "\n")
            if not self.path.startswith("/v1/messages"):
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            try:
                request = json.loads(body or b"{}")
            except ValueError:
                request = {}
            if self.path.startswith("/v1/messages/count_tokens"):
                return self.send_text(json.dumps({"input_tokens": 10}), "application/json")
            model = request.get("model", "claude-stand-in")
            message = {"id": "msg_stand_in", "type": "message", "role": "assistant", "model": model,
                       "content": [], "stop_reason": None, "stop_sequence": None,
                       "usage": {"input_tokens": 10, "output_tokens": 1}}
            if not request.get("stream"):
                message.update(content=[{"type": "text", "text": REPLY}], stop_reason="end_turn")
                return self.send_text(json.dumps(message), "application/json")
            events = [
                ("message_start", {"type": "message_start", "message": message}),
                ("content_block_start", {"type": "content_block_start", "index": 0,
                                         "content_block": {"type": "text", "text": ""}}),
                ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                         "delta": {"type": "text_delta", "text": REPLY}}),
                ("content_block_stop", {"type": "content_block_stop", "index": 0}),
                ("message_delta", {"type": "message_delta",
                                   "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                                   "usage": {"output_tokens": 5}}),
                ("message_stop", {"type": "message_stop"}),
            ]
            data = "".join("event: %s\ndata: %s\n\n" % (name, json.dumps(event)) for name, event in events)
            self.send_text(data, "text/event-stream")

    return Handler


class EchoHandler(socketserver.BaseRequestHandler):
    def handle(self):
        while True:
            data = self.request.recv(65536)
            if not data:
                return
            self.request.sendall(data)


class Threading(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True


def dns_server(port, names, log_path):
    """A minimal authoritative server: A records for `names`, NXDOMAIN else."""
    log = open(log_path, "a", buffering=1)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("0.0.0.0", port))

    def serve():
        while True:
            data, peer = sock.recvfrom(4096)
            if len(data) < 12:
                continue
            labels, at = [], 12
            while at < len(data) and data[at]:
                labels.append(data[at + 1:at + 1 + data[at]].decode(errors="replace"))
                at += 1 + data[at]
            at += 1
            qtype = struct.unpack("!H", data[at:at + 2])[0] if at + 2 <= len(data) else 0
            name = ".".join(labels).lower()
            log.write("%s %s %d\n" % (peer[0], name, qtype))
            question = data[12:at + 4]
            address = names.get(name)
            if address is None:
                flags, answers = 0x8583, b""
            elif qtype == 1:
                flags = 0x8580
                answers = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 5, 4) + socket.inet_aton(address)
            else:
                flags, answers = 0x8580, b""
            header = data[:2] + struct.pack("!HHHHH", flags, 1, 1 if answers else 0, 0, 0)
            sock.sendto(header + question + answers, peer)

    threading.Thread(target=serve, daemon=True).start()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bind", default="0.0.0.0")
    parser.add_argument("--http", default="")
    parser.add_argument("--root", default=".")
    parser.add_argument("--banner", default="test host")
    parser.add_argument("--echo", type=int, default=0)
    parser.add_argument("--dns", default="")
    parser.add_argument("--dns-log", default="/dev/null")
    parser.add_argument("--api-log", default="/dev/null")
    args = parser.parse_args()
    global api_log
    api_log = args.api_log
    servers = []
    for port in filter(None, args.http.split(",")):
        server = http.server.ThreadingHTTPServer((args.bind, int(port)), http_handler(args.root, args.banner))
        server.daemon_threads = True
        servers.append(server)
    if args.echo:
        servers.append(Threading((args.bind, args.echo), EchoHandler))
    if args.dns:
        names = {}
        for line in open(args.dns):
            if line.strip():
                name, address = line.split()
                names[name.lower()] = address
        dns_server(53, names, args.dns_log)
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    print("ready", flush=True)
    sys.stdin.read()  # until the test closes our stdin


if __name__ == "__main__":
    main()
