"""Helpers for the engine tests (Docker, containerd): a private network namespace, an image
tar from the test bundle's rootfs, waiting for a daemon, and cleaning up mounts under a
temporary root."""
import os
import pathlib
import subprocess
import time
import uuid

from conftest import make_bundle


def netns_add():
    name = "runm-t-" + uuid.uuid4().hex[:8]
    subprocess.run(["ip", "netns", "add", name], check=True)
    subprocess.run(["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"], check=True)
    return name


def netns_del(name):
    subprocess.run(["ip", "netns", "del", name], capture_output=True)


def rootfs_tar(tmp, name="rootfs.tar"):
    """The test bundle's busybox rootfs as a plain tar (what `docker import` takes)."""
    b = make_bundle(pathlib.Path(tmp) / "img-bundle")
    tar = pathlib.Path(tmp) / name
    subprocess.run(["tar", "-C", str(b / "rootfs"), "-cf", str(tar), "."], check=True)
    return tar


def mounts_under(root):
    root = os.path.realpath(root)
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mp = line.split()[4].encode().decode("unicode_escape")
            if mp == root or mp.startswith(root + "/"):
                out.append(mp)
    return out


def unmount_under(root):
    """Every mount at or below root, deepest first (lazily if busy)."""
    for _ in range(10):
        left = mounts_under(root)
        if not left:
            return
        for mp in sorted(left, key=len, reverse=True):
            if subprocess.run(["umount", mp], capture_output=True).returncode:
                subprocess.run(["umount", "-l", mp], capture_output=True)


def stop_process(p, grace=20):
    if p.poll() is not None:
        return
    p.terminate()
    try:
        p.wait(grace)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def wait_until(fn, timeout, step=0.3):
    """fn() until it returns something true; returns that, or None after timeout seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(step)
    return None


def tail(path, n=3000):
    try:
        return pathlib.Path(path).read_text(errors="replace")[-n:]
    except OSError as e:
        return f"({path}: {e})"
