#!/usr/bin/env python3
"""Writes the SFTP seed corpus (corpus/sftp): streams of version-3 packets
as OpenSSH's sftp client sends them (draft-ietf-secsh-filexfer-02), one
file per scenario. Rerun after changing it; the output is committed."""
import os
import struct
import sys

INIT, OPEN, CLOSE, READ, WRITE, LSTAT, FSTAT, SETSTAT, FSETSTAT = 1, 3, 4, 5, 6, 7, 8, 9, 10
OPENDIR, READDIR, REMOVE, MKDIR, RMDIR, REALPATH, STAT, RENAME = 11, 12, 13, 14, 15, 16, 17, 18
READLINK, SYMLINK, EXTENDED = 19, 20, 200
READ_F, WRITE_F, APPEND_F, CREAT_F, TRUNC_F, EXCL_F = 1, 2, 4, 8, 16, 32
ATTR_SIZE, ATTR_UIDGID, ATTR_PERM, ATTR_TIME = 1, 2, 4, 8


def u32(v):
    return struct.pack(">I", v)


def u64(v):
    return struct.pack(">Q", v)


def s(b):
    if isinstance(b, str):
        b = b.encode()
    return u32(len(b)) + b


def attrs(flags=0, size=0, uid=0, gid=0, perm=0, atime=0, mtime=0):
    out = u32(flags)
    if flags & ATTR_SIZE:
        out += u64(size)
    if flags & ATTR_UIDGID:
        out += u32(uid) + u32(gid)
    if flags & ATTR_PERM:
        out += u32(perm)
    if flags & ATTR_TIME:
        out += u32(atime) + u32(mtime)
    return out


def packet(kind, body=b""):
    return u32(len(body) + 1) + bytes([kind]) + body


class Stream:
    def __init__(self):
        self.data = packet(INIT, u32(3))
        self.id = 0

    def req(self, kind, body=b""):
        self.id += 1
        self.data += packet(kind, u32(self.id) + body)
        return self

    def ext(self, name, body=b""):
        return self.req(EXTENDED, s(name) + body)


def handle(generation, slot=0):
    """The server's handle: slot and generation, both big-endian u32 (the
    n-th open of a slot has generation n)."""
    return s(u32(slot) + u32(generation))


def upload():
    st = Stream().req(REALPATH, s(".")).req(OPEN, s("up.txt") + u32(WRITE_F | CREAT_F | TRUNC_F) + attrs(ATTR_PERM, perm=0o644))
    h = handle(1)
    st.req(WRITE, h + u64(0) + s(b"hello, sandbox\n" * 8)).req(FSTAT, h).req(CLOSE, h)
    return st.req(STAT, s("up.txt"))


def download():
    st = upload().req(OPEN, s("up.txt") + u32(READ_F) + attrs())
    h = handle(2)
    return st.req(READ, h + u64(0) + u32(32768)).req(READ, h + u64(120) + u32(100)).req(CLOSE, h)


def listing():
    st = Stream().req(MKDIR, s("d") + attrs(ATTR_PERM, perm=0o755)).req(MKDIR, s("d/e") + attrs())
    st.req(OPEN, s("d/f") + u32(WRITE_F | CREAT_F | EXCL_F) + attrs()).req(CLOSE, handle(1))
    h = handle(2)
    return st.req(OPENDIR, s("d")).req(READDIR, h).req(READDIR, h).req(READDIR, h).req(CLOSE, h)


def tree_ops():
    st = Stream().req(MKDIR, s("a") + attrs()).req(SYMLINK, s("a/link") + s("../target"))
    st.req(READLINK, s("a/link")).req(LSTAT, s("a/link")).req(RENAME, s("a") + s("b"))
    st.req(SETSTAT, s("b") + attrs(ATTR_PERM | ATTR_TIME, perm=0o700, atime=1, mtime=2))
    st.req(REMOVE, s("b/link")).req(RMDIR, s("b")).req(REALPATH, s("/../x/./y"))
    return st


def extensions():
    st = Stream().req(OPEN, s("x") + u32(WRITE_F | CREAT_F) + attrs())
    st.ext("fsync@openssh.com", handle(1)).ext("fstatvfs@openssh.com", handle(1)).req(CLOSE, handle(1))
    st.ext("posix-rename@openssh.com", s("x") + s("y")).ext("statvfs@openssh.com", s("/"))
    st.ext("hardlink@openssh.com", s("y") + s("z"))
    st.ext("lsetstat@openssh.com", s("z") + attrs(ATTR_PERM, perm=0o600))
    st.ext("limits@openssh.com").ext("expand-path@openssh.com", s("~/z"))
    return st.ext("no-such-extension@example.com", s("?"))


def setstat_truncate():
    st = Stream().req(OPEN, s("t") + u32(READ_F | WRITE_F | CREAT_F | APPEND_F) + attrs())
    h = handle(1)
    st.req(WRITE, h + u64(0) + s(b"x" * 1000)).req(FSETSTAT, h + attrs(ATTR_SIZE | ATTR_UIDGID, size=10, uid=1000, gid=1000))
    return st.req(CLOSE, h).req(SETSTAT, s("t") + attrs(ATTR_SIZE, size=1 << 20))


def malformed():
    # A short packet, a bad handle, a path with a NUL and a huge length.
    st = Stream().req(OPEN, s("p\x00q") + u32(READ_F) + attrs()).req(CLOSE, s("junk")).req(READ, s(""))
    st.data += packet(STAT, u32(99))
    st.data += u32(0xFFFFFFF0) + b"\x05"
    return st


SCENARIOS = {
    "upload": upload, "download": download, "listing": listing, "tree-ops": tree_ops,
    "extensions": extensions, "setstat-truncate": setstat_truncate, "malformed": malformed,
}

if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "sftp")
    os.makedirs(out, exist_ok=True)
    for name, make in SCENARIOS.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(make().data)
