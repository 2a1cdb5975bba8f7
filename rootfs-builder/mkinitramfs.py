#!/usr/bin/env python3
"""Write runm's guest initramfs: a newc cpio archive, reproducible byte for byte.

  mkinitramfs.py --init AGENT -o OUT.cpio [--gzip]
                 [--file DEST=SRC[:MODE]] [--symlink DEST=TARGET] [--dir DEST]

Every entry has uid/gid 0 and mtime 0; entries are written in sorted order, so
the same inputs always give the same bytes. Device nodes (/dev/console,
/dev/null) are written into the archive directly: no root needed.
"""
import argparse
import gzip
import io
import os
import stat
import sys

# The directories PID 1 mounts on or needs before it has mounted anything.
BASE_DIRS = ["dev", "proc", "sys", "run", "tmp", "mnt", "etc", "sbin", "bin"]
BASE_NODES = [("dev/console", 0o600, 5, 1), ("dev/null", 0o666, 1, 3)]


class Cpio:
    def __init__(self):
        self.entries = {}  # path -> (mode, data, rdevmajor, rdevminor)

    def add(self, path, mode, data=b"", rmaj=0, rmin=0):
        path = path.strip("/")
        if not path:
            raise ValueError("empty path in archive")
        parts = path.split("/")
        for i in range(1, len(parts)):  # implicit parent directories
            parent = "/".join(parts[:i])
            if parent not in self.entries:
                self.entries[parent] = (stat.S_IFDIR | 0o755, b"", 0, 0)
            elif not stat.S_ISDIR(self.entries[parent][0]):
                raise ValueError(f"{parent}: is not a directory, cannot hold {path}")
        self.entries[path] = (mode, data, rmaj, rmin)

    @staticmethod
    def _header(ino, mode, nlink, size, rmaj, rmin, name):
        fields = [ino, mode, 0, 0, nlink, 0, size, 0, 0, rmaj, rmin, len(name) + 1, 0]
        return b"070701" + b"".join(b"%08X" % f for f in fields)

    def write(self, out):
        buf = io.BytesIO()

        def pad4():
            buf.write(b"\0" * ((4 - buf.tell() % 4) % 4))

        ino = 1
        for path in sorted(self.entries):
            mode, data, rmaj, rmin = self.entries[path]
            name = path.encode()
            nlink = 2 if stat.S_ISDIR(mode) else 1
            buf.write(self._header(ino, mode, nlink, len(data), rmaj, rmin, name))
            buf.write(name + b"\0")
            pad4()
            buf.write(data)
            pad4()
            ino += 1
        buf.write(self._header(0, 0, 1, 0, 0, 0, b"TRAILER!!!"))
        buf.write(b"TRAILER!!!\0")
        pad4()
        out.write(buf.getvalue())


def split_kv(arg, what):
    if "=" not in arg:
        sys.exit(f"mkinitramfs: {what} '{arg}': expected DEST=SOURCE")
    return arg.split("=", 1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--init", required=True, help="program installed as /init")
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--gzip", action="store_true")
    ap.add_argument("--file", action="append", default=[], help="DEST=SRC[:MODE]")
    ap.add_argument("--symlink", action="append", default=[], help="DEST=TARGET")
    ap.add_argument("--dir", action="append", default=[], help="DEST")
    a = ap.parse_args()

    arc = Cpio()
    for d in BASE_DIRS:
        arc.add(d, stat.S_IFDIR | 0o755)
    arc.add("tmp", stat.S_IFDIR | 0o1777)
    for path, mode, rmaj, rmin in BASE_NODES:
        arc.add(path, stat.S_IFCHR | mode, b"", rmaj, rmin)

    def add_file(dest, src, mode=None):
        try:
            with open(src, "rb") as f:
                data = f.read()
            st = os.stat(src)
        except OSError as e:
            sys.exit(f"mkinitramfs: {src}: {e.strerror}")
        if mode is None:
            mode = 0o755 if st.st_mode & 0o111 else 0o644
        arc.add(dest, stat.S_IFREG | mode, data)

    add_file("init", a.init, 0o755)
    for spec in a.file:
        dest, src = split_kv(spec, "--file")
        mode = None
        if ":" in src:
            src, m = src.rsplit(":", 1)
            mode = int(m, 8)
        add_file(dest, src, mode)
    for spec in a.symlink:
        dest, target = split_kv(spec, "--symlink")
        arc.add(dest, stat.S_IFLNK | 0o777, target.encode())
    for d in a.dir:
        arc.add(d, stat.S_IFDIR | 0o755)

    raw = io.BytesIO()
    arc.write(raw)
    data = raw.getvalue()
    if a.gzip:
        data = gzip.compress(data, compresslevel=9, mtime=0)
    tmp = a.output + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, a.output)


if __name__ == "__main__":
    main()
