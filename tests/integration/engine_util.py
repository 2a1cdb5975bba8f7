"""Helpers for the engine tests (Docker, containerd): a private network namespace, an image
tar from the test bundle's rootfs, waiting for a daemon, and cleaning up mounts under a
temporary root."""
import fcntl
import hashlib
import io
import json
import os
import pathlib
import pty
import select
import struct
import subprocess
import tarfile
import termios
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


def docker_archive(tmp, rootfs_tar_path, ref, name="image.tar", cmd=("sh",)):
    """A docker-archive (what `docker save` writes, `ctr image import` reads) with one layer:
    manifest.json, the image config named by its digest, the layer named by its diff id.
    CMD is the image's Cmd (a CRI sandbox image needs one that keeps running)."""
    tmp = pathlib.Path(tmp)
    layer = pathlib.Path(rootfs_tar_path).read_bytes()
    diff_id = "sha256:" + hashlib.sha256(layer).hexdigest()
    config = json.dumps({
        "architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z",
        "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                   "Cmd": list(cmd)},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created": "2024-01-01T00:00:00Z", "created_by": "runm tests: the test bundle's rootfs"}],
    }, sort_keys=True).encode()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    layer_name = diff_id[7:] + "/layer.tar"
    manifest = json.dumps([{"Config": config_name, "RepoTags": [ref], "Layers": [layer_name]}]).encode()
    out = tmp / name
    with tarfile.open(out, "w") as t:
        for n, data in ((config_name, config), (layer_name, layer), ("manifest.json", manifest)):
            if "/" in n:
                d = tarfile.TarInfo(n.split("/")[0])
                d.type, d.mode = tarfile.DIRTYPE, 0o755
                t.addfile(d)
            info = tarfile.TarInfo(n)
            info.size, info.mode = len(data), 0o644
            t.addfile(info, io.BytesIO(data))
    return out


def run_on_pty(cmd, size=None, timeout=240):
    """Run CMD with a new pty as its stdin/stdout/stderr (of SIZE (rows, cols) when given), as a
    terminal user would; returns (exit status, everything it printed, decoded)."""
    m, s = pty.openpty()
    if size:
        fcntl.ioctl(s, termios.TIOCSWINSZ, struct.pack("HHHH", size[0], size[1], 0, 0))
    p = subprocess.Popen(cmd, stdin=s, stdout=s, stderr=s, start_new_session=True)
    os.close(s)
    out = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if select.select([m], [], [], 1)[0]:
            try:
                chunk = os.read(m, 4096)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        elif p.poll() is not None:
            break
    rc = p.wait(30)
    os.close(m)
    return rc, out.decode(errors="replace")
