"""Host block devices in microVM containers (runm issue 14; runtime/disks.c, agent/disks.c):

  - linux.devices entries of type b and bind mounts of block devices become virtio-blk drives of
    the VM and appear at the path the spec names, with the device rules that name the host's
    numbers applied to the drive's;
  - a bundle rootfs that is an ext4 file system the engine mounted from a block device (what
    containerd's devmapper snapshotter does) boots from that device with io.runm.rootfs-device=true
    (or "rootfs_device": true in the config file): lent to the VM — unmounted on the host, opened
    exclusively — and mounted back when the VM is gone.

Loop devices (losetup) stand in for the engine's devices; QEMU TCG with our guest kernel."""
import hashlib
import json
import os
import shutil
import subprocess
import time

import pytest

MIB = 1 << 20


@pytest.fixture
def loops(tmp_path):
    """loops(size_mib) → a new loop device on a zero-filled image; all detached afterwards."""
    made = []

    def make(mib, name="vol"):
        img = tmp_path / f"{name}{len(made)}.img"
        with open(img, "wb") as f:
            f.truncate(mib * MIB)
        r = subprocess.run(["losetup", "--find", "--show", str(img)], capture_output=True, text=True,
                           check=True)
        dev = r.stdout.strip()
        made.append(dev)
        return dev
    yield make
    for d in made:
        subprocess.run(["umount", d], capture_output=True)
        subprocess.run(["losetup", "-d", d], capture_output=True)


def numbers(dev):
    st = os.stat(dev)
    return os.major(st.st_rdev), os.minor(st.st_rdev)


def head_sha(dev, n):
    with open(dev, "rb") as f:
        return hashlib.sha256(f.read(n)).hexdigest()


def configure(bundle, args, mutate=None, ann=None):
    cfg = json.loads((bundle / "config.json").read_text())
    cfg["process"]["args"] = args
    cfg["root"]["readonly"] = False
    if ann:
        cfg.setdefault("annotations", {}).update(ann)
    if mutate:
        mutate(cfg)
    (bundle / "config.json").write_text(json.dumps(cfg))
    return cfg


def allow(cfg, major, minor, access):
    cfg["linux"].setdefault("resources", {}).setdefault("devices", []).append(
        {"allow": True, "type": "b", "major": major, "minor": minor, "access": access})


def node(cfg, path, major, minor):
    cfg["linux"].setdefault("devices", []).append(
        {"path": path, "type": "b", "major": major, "minor": minor, "fileMode": 0o660, "uid": 0, "gid": 0})


def run(runm, bundle, cid):
    runm.ids.append(cid)
    r = runm("run", "--bundle", bundle, cid)
    runm("delete", "--force", cid)
    return r


WRITE_4M = ("head -c 4194304 /dev/urandom >/tmp/d && dd if=/tmp/d of={dev} bs=65536 2>/dev/null && sync && "
            "echo SHA=$(sha256sum </tmp/d | cut -d' ' -f1)")


def sha_from(out):
    shas = [l[4:] for l in out.splitlines() if l.startswith("SHA=")]
    assert shas and len(shas[0]) == 64, out
    return shas[0]


def test_device_node_is_a_drive_written_in_the_guest_and_read_on_the_host(vm_runm, bundle, loops):
    """linux.devices (what `podman --device` and `docker --device` write): the container writes 4
    MiB through its node; after the container ends the host's device holds the same bytes."""
    dev = loops(16)
    mj, mn = numbers(dev)

    def mutate(c):
        node(c, "/dev/xvdb", mj, mn)
        allow(c, mj, mn, "rwm")
    configure(bundle, ["sh", "-c", "stat -c 'TYPE=%F' /dev/xvdb; " + WRITE_4M.format(dev="/dev/xvdb")], mutate)
    r = run(vm_runm, bundle, "blk-node")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "TYPE=block special file" in r.stdout, r.stdout
    assert head_sha(dev, 4 * MIB) == sha_from(r.stdout)


def test_read_only_rule_makes_a_read_only_drive(vm_runm, bundle, loops):
    """A rule granting only "r": the guest reads the host's bytes and cannot write them."""
    dev = loops(8)
    mj, mn = numbers(dev)
    with open(dev, "r+b") as f:
        f.write(os.urandom(MIB))
    before = head_sha(dev, 8 * MIB)

    def mutate(c):
        node(c, "/dev/xvdc", mj, mn)
        allow(c, mj, mn, "r")
    configure(bundle, ["sh", "-c", "echo SHA=$(head -c 1048576 /dev/xvdc | sha256sum | cut -d' ' -f1); "
                                   "echo x | dd of=/dev/xvdc 2>/dev/null; echo WRITE=$?"], mutate)
    r = run(vm_runm, bundle, "blk-ro")
    assert r.returncode == 0, r.stdout + r.stderr
    assert sha_from(r.stdout) == head_sha(dev, MIB)
    assert "WRITE=1" in r.stdout, r.stdout
    assert head_sha(dev, 8 * MIB) == before


def test_no_rule_no_access(vm_runm, bundle, loops):
    """As with runc: the node exists but the device rules (deny all) refuse opening it."""
    dev = loops(8)
    mj, mn = numbers(dev)
    configure(bundle, ["sh", "-c", "ls /dev/xvdd && head -c 1 /dev/xvdd; echo READ=$?"],
              lambda c: node(c, "/dev/xvdd", mj, mn))
    r = run(vm_runm, bundle, "blk-deny")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "READ=1" in r.stdout and "Operation not permitted" in r.stderr, (r.stdout, r.stderr)


def test_bind_of_a_block_device_is_a_drive(vm_runm, bundle, loops):
    """A bind mount whose source is a block device (a loop-device volume): written in the guest
    and checked on the host (sha256) once the container ended."""
    dev = loops(16)
    mj, mn = numbers(dev)

    def mutate(c):
        c["mounts"].append({"destination": "/vol", "type": "bind", "source": dev, "options": ["bind"]})
        allow(c, mj, mn, "rw")
    configure(bundle, ["sh", "-c", WRITE_4M.format(dev="/vol")], mutate)
    r = run(vm_runm, bundle, "blk-bind")
    assert r.returncode == 0, r.stdout + r.stderr
    assert head_sha(dev, 4 * MIB) == sha_from(r.stdout)


def test_pod_member_with_a_block_device_is_refused_clearly(vm_runm, bundle, loops):
    """The pod's VM is running and drives cannot be added to it: create fails naming the device."""
    dev = loops(4)
    mj, mn = numbers(dev)
    sb = bundle.parent / "sb"
    shutil.copytree(bundle, sb, symlinks=True)
    configure(sb, ["sleep", "60"], ann={"io.kubernetes.cri.container-type": "sandbox",
                                        "io.kubernetes.cri.sandbox-id": "blk-sb"})
    vm_runm.ids.append("blk-sb")
    rc, out = vm_runm.create("--bundle", sb, "blk-sb")
    assert rc == 0, out
    pid = json.loads(vm_runm("state", "blk-sb").stdout)["pid"]

    def mutate(c):
        node(c, "/dev/xvde", mj, mn)
        c["linux"]["namespaces"] = [{"type": "network", "path": f"/proc/{pid}/ns/net"}, {"type": "mount"},
                                    {"type": "pid"}]
    configure(bundle, ["true"], mutate, {"io.kubernetes.cri.container-type": "container",
                                         "io.kubernetes.cri.sandbox-id": "blk-sb"})
    rc, out = vm_runm.create("--bundle", bundle, "blk-m1")
    vm_runm.ids.append("blk-m1")
    assert rc != 0 and "linux.devices[0] /dev/xvde: a block device: not supported for a pod member" in out, out
    assert not (vm_runm.root / "blk-m1").exists()


# --- a root file system on the engine's block device ---

def mountpoint_of(path):
    """The topmost mount at path: (source, options) or None."""
    r = subprocess.run(["findmnt", "-n", "-o", "SOURCE,OPTIONS", "--mountpoint", str(path)],
                       capture_output=True, text=True)
    lines = r.stdout.strip().splitlines()
    return lines[-1].split() if lines else None


@pytest.fixture
def device_root(bundle, loops):
    """The bundle's rootfs, as an engine's devmapper snapshot would be: an ext4 file system with
    the busybox rootfs, on a block device mounted at bundle/rootfs."""
    dev = loops(48, "root")
    subprocess.run(["mkfs.ext4", "-q", "-F", "-d", str(bundle / "rootfs"), dev], check=True, capture_output=True)
    subprocess.run(["rm", "-rf", str(bundle / "rootfs")], check=True)
    (bundle / "rootfs").mkdir()
    subprocess.run(["mount", dev, str(bundle / "rootfs")], check=True)
    yield dev
    subprocess.run(["umount", str(bundle / "rootfs")], capture_output=True)


def test_device_root_is_lent_to_the_vm_and_given_back(vm_runm, bundle, device_root):
    dev = device_root
    rootfs = bundle / "rootfs"
    configure(bundle, ["sh", "-c", "grep ' / ' /proc/mounts; echo from-the-guest >/written; sync; sleep 30"],
              ann={"io.runm.rootfs-device": "true"})
    vm_runm.ids.append("blk-root")
    rc, out = vm_runm.create("--bundle", bundle, "blk-root")
    assert rc == 0, out
    # while the VM has it: not mounted on the host, and the host cannot mount it
    assert mountpoint_of(rootfs) is None, mountpoint_of(rootfs)
    other = bundle.parent / "other"
    other.mkdir()
    m = subprocess.run(["mount", dev, str(other)], capture_output=True, text=True)
    assert m.returncode != 0, "the host mounted the device the VM has"
    assert vm_runm("start", "blk-root").returncode == 0
    for _ in range(100):
        if vm_runm("exec", "blk-root", "cat", "/written").stdout == "from-the-guest\n":
            break
        time.sleep(0.2)
    vm_runm("kill", "blk-root", "KILL")
    vm_runm.wait_status("blk-root", "stopped")
    assert vm_runm("delete", "blk-root").returncode == 0
    # the engine finds its rootfs mounted as it left it, with what the container wrote
    mp = mountpoint_of(rootfs)
    assert mp and mp[0] == dev, mp
    assert (rootfs / "written").read_text() == "from-the-guest\n"
    assert (rootfs / "bin" / "busybox").exists()


def run_with_host_default(vm_runm, bundle, tmp_path, cid):
    """`grep ' / ' /proc/mounts` in a container, with "rootfs_device": true in the config file."""
    cfgfile = tmp_path / "config.json"
    cfgfile.write_text(json.dumps({"rootfs_device": True}))
    vm_runm.env = dict(vm_runm.env, RUNM_CONFIG=str(cfgfile))
    configure(bundle, ["sh", "-c", "grep ' / ' /proc/mounts"])
    return run(vm_runm, bundle, cid)


def test_device_root_output_and_host_default(vm_runm, bundle, device_root, tmp_path):
    """"rootfs_device": true in the config file does the same without the annotation; the guest's
    root is the drive (ext4 on /dev/vda)."""
    r = run_with_host_default(vm_runm, bundle, tmp_path, "blk-root-cfg")
    assert r.returncode == 0, r.stderr
    assert "/dev/vda / ext4 rw" in r.stdout, r.stdout
    assert mountpoint_of(bundle / "rootfs")[0] == device_root


def test_host_default_falls_back_to_the_share(vm_runm, bundle, tmp_path):
    """With only the host-wide default, a rootfs that is no block device mount runs over virtio-fs."""
    r = run_with_host_default(vm_runm, bundle, tmp_path, "blk-root-fs")
    assert r.returncode == 0, r.stderr
    assert "virtiofs" in r.stdout, r.stdout


def test_device_root_mounted_elsewhere_too_is_refused_and_left_alone(vm_runm, bundle, device_root):
    """A second mount of the same file system: a second kernel must not mount it; create fails
    clearly and the host's mount is back as it was, with no state left."""
    other = bundle.parent / "other"
    other.mkdir()
    subprocess.run(["mount", device_root, str(other)], check=True)
    try:
        configure(bundle, ["true"], ann={"io.runm.rootfs-device": "true"})
        rc, out = vm_runm.create("--bundle", bundle, "blk-busy")
        vm_runm.ids.append("blk-busy")
        assert rc != 0 and "open exclusively: Device or resource busy" in out and "mounted elsewhere" in out, out
        assert mountpoint_of(bundle / "rootfs")[0] == device_root
        assert not (vm_runm.root / "blk-busy").exists()
    finally:
        subprocess.run(["umount", str(other)])


def test_read_only_device_root_stays_mounted_and_gets_an_overlay(vm_runm, bundle, device_root):
    subprocess.run(["mount", "-o", "remount,ro", str(bundle / "rootfs")], check=True)
    configure(bundle, ["sh", "-c", "grep ' / ' /proc/mounts; echo x >/new && echo WROTE"],
              ann={"io.runm.rootfs-device": "true"})
    r = run(vm_runm, bundle, "blk-root-ro")
    assert r.returncode == 0, r.stderr
    assert " / overlay " in r.stdout and "WROTE" in r.stdout, r.stdout
    assert not (bundle / "rootfs" / "new").exists()
    mp = mountpoint_of(bundle / "rootfs")
    assert mp and mp[0] == device_root and mp[1].startswith("ro"), mp


@pytest.mark.parametrize("value,want", [
    ("yes", 'io.runm.rootfs-device="yes": want true or false'),
    ("true", "rootfs {rootfs}: not a mount point"),
])
def test_device_root_annotation_errors(vm_runm, bundle, value, want):
    configure(bundle, ["true"], ann={"io.runm.rootfs-device": value})
    rc, out = vm_runm.create("--bundle", bundle, "blk-bad")
    vm_runm.ids.append("blk-bad")
    assert rc != 0 and want.format(rootfs=bundle / "rootfs") in out, out
    assert not (vm_runm.root / "blk-bad").exists()
