"""Cleanup never deletes through a mount (issue 18): kill -9 the shim while `runm create` is
under way, with the rootfs and ten volumes bound below the state directory (the VM's share)
and with a --root holding spaces and a newline (mountinfo writes them as \\040 and \\012).
Every byte of the rootfs and the volumes survives, and `delete --force` then leaves no mount
and no state directory behind.

host-agent mode has no share of its own: the test binds the rootfs and the volumes under
DIR/share exactly as fs_share_prepare lays them out, at several points of create (the shim is
held in a createRuntime hook for the last ones); the VM cases kill the shim on its own share."""
import hashlib
import json
import os
import re
import signal
import subprocess
import time

import pytest

from conftest import make_bundle
from lifecycle_util import Runm, vm_skip_reason

NVOL = 10
ROOTS = {"plain": "root", "odd": "r o\tot\nx y"}


def tree_sum(path):
    """Digest of everything below PATH: names, types, modes, contents, link targets."""
    h = hashlib.sha256()
    n = 0
    for top, dirs, files in os.walk(path):
        dirs.sort()
        for name in sorted(dirs + files):
            p = os.path.join(top, name)
            st = os.lstat(p)
            h.update(f"{os.path.relpath(p, path)}\0{st.st_mode:o}\0".encode())
            if os.path.islink(p):
                h.update(os.readlink(p).encode())
            elif os.path.isfile(p):
                with open(p, "rb") as f:
                    h.update(f.read())
            n += 1
    return h.hexdigest(), n


def decode(field):
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def mounts_below(path):
    path = os.path.realpath(str(path))
    with open("/proc/self/mountinfo") as f:
        mps = [decode(ln.split(" ")[4]) for ln in f]
    return [m for m in mps if m == path or m.startswith(path + "/")]


def shim_pid(create, timeout=30):
    """The shim is `runm create`'s only child."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{create.pid}/task/{create.pid}/children") as f:
                kids = f.read().split()
            if kids:
                return int(kids[0])
        except OSError:
            pass
        assert create.poll() is None, "runm create ended before its shim could be seen"
        time.sleep(0.005)
    raise AssertionError("runm create never started its shim")


def child_comms(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            kids = f.read().split()
    except OSError:
        return []
    comms = []
    for k in kids:
        try:
            with open(f"/proc/{k}/comm") as f:
                comms.append(f.read().strip())
        except OSError:
            pass
    return comms


def wait_for(cond, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


def mount_bind(src, dst):
    subprocess.run(["mount", "--bind", str(src), str(dst)], check=True)
    subprocess.run(["mount", "--make-private", str(dst)], check=True)


def bind_share(d, rootfs, vols):
    """fs_share_prepare's layout: a private self-bind, then the rootfs and each volume."""
    share = d / "share"
    (share / "mounts").mkdir(parents=True, exist_ok=True)
    mount_bind(share, share)
    (share / "rootfs").mkdir(exist_ok=True)
    mount_bind(rootfs, share / "rootfs")
    for i, v in enumerate(vols):
        (share / "mounts" / str(i)).mkdir(exist_ok=True)
        mount_bind(v, share / "mounts" / str(i))


@pytest.fixture
def world(tmp_path):
    """A bundle whose rootfs and NVOL volumes hold distinct data, bound into the container,
    and a createRuntime hook that holds the shim until it is killed (only when asked)."""
    b = make_bundle(tmp_path / "bundle", ["sh", "-c", "sleep 1000"])
    (b / "rootfs" / "data").mkdir()
    (b / "rootfs" / "data" / "blob").write_bytes(os.urandom(1 << 16))
    for i in range(NVOL):  # the bind destinations exist already: setting up changes nothing
        (b / "rootfs" / f"vol{i}").mkdir()
    vols = []
    for i in range(NVOL):
        v = tmp_path / f"vol{i}"
        (v / "sub" / "deeper").mkdir(parents=True)
        (v / f"file{i}").write_text(f"volume {i}\n" * 100)
        (v / "sub" / "deeper" / "bin").write_bytes(os.urandom(4096 + i))
        os.symlink("/etc/passwd", v / "link")
        vols.append(v)
    cfg = json.loads((b / "config.json").read_text())
    cfg["mounts"] += [{"destination": f"/vol{i}", "type": "bind", "source": str(v), "options": ["rbind", "rw"]}
                      for i, v in enumerate(vols)]
    (b / "config.json").write_text(json.dumps(cfg))
    sums = {str(p): tree_sum(p) for p in [b / "rootfs"] + vols}
    assert all(n > 0 for _, n in sums.values())
    marker = tmp_path / "hook-running"

    def hold_in_hook(kind="createRuntime"):
        script = (f"echo $PPID > {marker}.tmp && /bin/mv {marker}.tmp {marker}; "
                  "while [ -e /proc/$PPID ] && ! /bin/grep -q '^State:.Z' /proc/$PPID/status; "
                  "do /bin/sleep 0.02; done")
        if kind == "createContainer":
            # it runs in the container (its root is the bundle's rootfs in host-agent mode):
            # held until the test removes /hold (release_hook)
            (b / "rootfs" / "hold").write_text("")
            script = "while [ -e /hold ]; do sleep 0.02; done"
        c = json.loads((b / "config.json").read_text())
        c["hooks"] = {kind: [{"path": "/bin/sh", "args": ["sh", "-c", script], "timeout": 120}]}
        (b / "config.json").write_text(json.dumps(c))

    def release_hook():
        (b / "rootfs" / "hold").unlink(missing_ok=True)

    return {"bundle": b, "rootfs": b / "rootfs", "vols": vols, "sums": sums, "marker": marker,
            "hold_in_hook": hold_in_hook, "release_hook": release_hook}


def check_survived(world):
    for p, want in world["sums"].items():
        assert tree_sum(p) == want, f"{p} changed: data was deleted through a mount"


def check_gone(rt, cid):
    r = rt("delete", "--force", cid)
    assert r.returncode == 0, r.stderr
    assert mounts_below(rt.root) == []
    assert not (rt.root / cid).exists(), os.listdir(rt.root)


def stop(create, shim):
    """A failed test must not leave a shim running on our mounts."""
    if create.poll() is None:
        create.kill()
        create.wait()
    if shim:
        try:
            os.kill(shim, signal.SIGKILL)
        except ProcessLookupError:
            pass


def run_create(rt, world, cid):
    out = open(rt.root.parent / f"create-{cid}.out", "wb")
    rt.root.mkdir(parents=True, exist_ok=True)
    p = rt.popen("create", "--bundle", world["bundle"], cid, stdout=out, stderr=out)
    out.close()
    return p


@pytest.mark.parametrize("rootname", sorted(ROOTS))
@pytest.mark.parametrize("point", ["dir", "agent", "hook", "hook+create"])
def test_kill_shim_during_create_host_agent(build_dir, tmp_path, world, point, rootname):
    rt = Runm(build_dir, tmp_path / ROOTS[rootname], "host-agent")
    cid = "c1"
    d = rt.root / cid
    # createRuntime hooks run before the VM boots (they may wire its network): to kill the shim
    # with the agent up, hold it in createContainer, which runs after the agent created the init
    world["hold_in_hook"]("createContainer" if point == "agent" else "createRuntime")
    create = run_create(rt, world, cid)
    shim = None
    try:
        shim = shim_pid(create)
        if point == "dir":
            wait_for(d.exists, 30, "the state directory")
        elif point == "agent":
            wait_for((d / "vsock.sock").exists, 30, "the agent's socket")
        else:
            wait_for(world["marker"].exists, 30, "the createRuntime hook")
        bind_share(d, world["rootfs"], world["vols"])
        assert len(mounts_below(d)) == NVOL + 2
        if point == "hook+create":
            create.kill()  # create dies too: only delete --force is left to clean up
            create.wait(10)
        os.kill(shim, signal.SIGKILL)
        rc = create.wait(60)
        assert rc != 0
    finally:
        world["release_hook"]()
        stop(create, shim)
    check_survived(world)
    if point != "hook+create":
        # create's own error path cleaned up
        assert mounts_below(rt.root) == []
        assert not d.exists()
    check_gone(rt, cid)
    check_survived(world)


@pytest.mark.parametrize("point,rootname", [("share", "odd"), ("share", "plain"), ("booting", "plain")])
def test_kill_shim_during_create_vm(build_dir, tmp_path, tmp_path_factory, world, point, rootname):
    why = vm_skip_reason(build_dir, tmp_path_factory.mktemp("vmprobe"))
    if why:
        pytest.skip(why)
    rt = Runm(build_dir, tmp_path / ROOTS[rootname], "vm")
    cid = "c1"
    d = rt.root / cid
    create = run_create(rt, world, cid)
    shim = None
    try:
        shim = shim_pid(create)
        # the shim's own share: the rootfs and every volume bound below DIR/share
        wait_for(lambda: len(mounts_below(d / "share")) == NVOL + 2, 120, "the share")
        if point == "booting":
            wait_for(lambda: "qemu-system-x86" in child_comms(shim), 120, "QEMU to start")
            time.sleep(0.5)
        os.kill(shim, signal.SIGKILL)
        rc = create.wait(60)
        assert rc != 0
    finally:
        stop(create, shim)
    check_survived(world)
    assert mounts_below(rt.root) == []
    assert not d.exists()
    check_gone(rt, cid)
