"""Helpers for the virtio-fs integration tests: host FUSE mounts of the server."""
import os
import pathlib
import subprocess
import time

HERE = pathlib.Path(__file__).resolve().parent


def build_helper(out_dir):
    """Compile the static torture helper (operations busybox lacks)."""
    out = pathlib.Path(out_dir) / "test_fs_helper"
    subprocess.run(["cc", "-static", "-O2", "-Wall", "-Werror", "-o", str(out),
                    str(HERE / "test_fs_helper.c")], check=True)
    return out


def is_mounted(path):
    path = os.path.realpath(path)
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == path for line in f)


class FuseMount:
    """runm-fusemount DIR MNT as a context manager."""

    def __init__(self, binary, src, mnt, cache="auto"):
        self.binary, self.src, self.mnt, self.cache = str(binary), str(src), str(mnt), cache
        self.proc = None

    def __enter__(self):
        self.proc = subprocess.Popen([self.binary, "--cache", self.cache, self.src, self.mnt],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if line.strip() != "ready":
            self.proc.wait(timeout=10)
            raise RuntimeError(f"runm-fusemount did not start: {line!r} {self.proc.stderr.read()}")
        assert is_mounted(self.mnt)
        return self

    def __exit__(self, *exc):
        if is_mounted(self.mnt):
            subprocess.run(["umount", self.mnt], check=False)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        if is_mounted(self.mnt):
            subprocess.run(["umount", "-l", self.mnt], check=False)
        self.stderr = self.proc.stderr.read()
        return False


def run_torture(directory, helper, timeout=300):
    t0 = time.monotonic()
    r = subprocess.run(["busybox", "sh", str(HERE / "test_fs_torture.sh"), str(directory), str(helper)],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout)
    return r.stdout, time.monotonic() - t0
