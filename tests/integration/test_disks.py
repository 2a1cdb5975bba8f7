"""Block devices in containers (runm issue 14): an ext4 image as the container's root
(io.runm.rootfs-image, modes ro / overlay / rw; runtime/disks.c, agent/disks.c), attached as a
virtio-blk drive and mounted by the agent, on QEMU TCG with our guest kernel; bad annotation
values refused with clear errors and nothing left behind."""
import hashlib
import json
import subprocess

import pytest

IMAGE_MIB = 48


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def image(bundle, tmp_path):
    """An ext4 image of the test bundle's busybox rootfs."""
    img = tmp_path / "root.img"
    subprocess.run(["mkfs.ext4", "-q", "-F", "-d", str(bundle / "rootfs"), str(img), f"{IMAGE_MIB}M"],
                   check=True, capture_output=True)
    return img


def configure(bundle, args, ann):
    cfg = json.loads((bundle / "config.json").read_text())
    cfg["process"]["args"] = args
    cfg["root"]["readonly"] = False  # the image's own mode decides
    cfg.setdefault("annotations", {}).update(ann)
    (bundle / "config.json").write_text(json.dumps(cfg))


def run(runm, bundle, cid, args, ann):
    configure(bundle, args, ann)
    runm.ids.append(cid)
    r = runm("run", "--bundle", bundle, cid)
    runm("delete", "--force", cid)
    return r


def root_line(out):
    return [l for l in out.splitlines() if " on / " in l]


def test_ro_image_root_on_vda_refuses_writes(vm_runm, bundle, image):
    before = sha256(image)
    r = run(vm_runm, bundle, "disk-ro", ["sh", "-c", "mount; cat /etc/passwd >/dev/null && echo READ-OK; "
                                          "touch /newfile; echo TOUCH=$?"],
            {"io.runm.rootfs-image": str(image), "io.runm.rootfs-image.mode": "ro"})
    assert r.returncode == 0, r.stderr
    roots = root_line(r.stdout)
    assert roots and roots[-1].startswith("/dev/vd") and " type ext4 (ro" in roots[-1], r.stdout
    assert "READ-OK" in r.stdout
    assert "Read-only file system" in r.stderr and "TOUCH=1" in r.stdout, (r.stdout, r.stderr)
    assert sha256(image) == before


def test_overlay_image_root_writes_do_not_reach_the_image(vm_runm, bundle, image):
    before = sha256(image)
    r = run(vm_runm, bundle, "disk-ov", ["sh", "-c", "mount; echo hello >/newfile && cat /newfile; "
                                          "rm /bin/true && echo RM-OK"],
            {"io.runm.rootfs-image": str(image)})  # overlay is the default
    assert r.returncode == 0, r.stderr
    roots = root_line(r.stdout)
    assert roots and " type overlay " in roots[-1], r.stdout
    assert "hello" in r.stdout and "RM-OK" in r.stdout, (r.stdout, r.stderr)
    assert sha256(image) == before


def test_rw_image_root_writes_reach_the_image(vm_runm, bundle, image):
    r = run(vm_runm, bundle, "disk-rw", ["sh", "-c", "mount; echo written-in-the-guest >/newfile && sync"],
            {"io.runm.rootfs-image": str(image), "io.runm.rootfs-image.mode": "rw"})
    assert r.returncode == 0, r.stderr
    roots = root_line(r.stdout)
    assert roots and roots[-1].startswith("/dev/vd") and " type ext4 (rw" in roots[-1], r.stdout
    # the container and its VM are gone: replay the journal, then read the file from the image
    fsck = subprocess.run(["e2fsck", "-fy", str(image)], capture_output=True, text=True)
    assert fsck.returncode in (0, 1), fsck.stdout + fsck.stderr
    cat = subprocess.run(["debugfs", "-R", "cat /newfile", str(image)], capture_output=True, text=True)
    assert cat.stdout.strip() == "written-in-the-guest", cat.stdout + cat.stderr


def test_image_that_is_not_ext4_fails_create_clearly(vm_runm, bundle, tmp_path):
    img = tmp_path / "zero.img"
    img.write_bytes(b"\0" * (8 << 20))
    configure(bundle, ["true"], {"io.runm.rootfs-image": str(img), "io.runm.rootfs-image.mode": "ro"})
    rc, out = vm_runm.create("--bundle", bundle, "disk-zero")
    vm_runm.ids.append("disk-zero")
    assert rc != 0 and "mount ext4 read-only" in out and "not an ext4 file system?" in out, out
    assert not (vm_runm.root / "disk-zero").exists()


@pytest.mark.parametrize("ann,want", [
    ({"io.runm.rootfs-image.mode": "bogus"}, 'io.runm.rootfs-image.mode="bogus": want ro, overlay or rw'),
    ({"io.runm.rootfs-image": "{missing}"}, "No such file or directory"),
    ({"io.runm.rootfs-image": "{dir}"}, "not a regular file"),
    ({"io.runm.rootfs-image": "relative.img"}, "want an absolute path"),
    ({"io.runm.rootfs-image.mode": "ro", "io.runm.rootfs-image": None}, "no io.runm.rootfs-image annotation"),
])
def test_bad_annotations_are_refused_clearly(vm_runm, bundle, image, tmp_path, ann, want):
    ann = dict(ann)
    ann.setdefault("io.runm.rootfs-image", str(image))
    if ann["io.runm.rootfs-image"] is None:
        del ann["io.runm.rootfs-image"]
    else:
        ann["io.runm.rootfs-image"] = ann["io.runm.rootfs-image"].format(missing=tmp_path / "nope.img",
                                                                          dir=tmp_path)
    configure(bundle, ["true"], ann)
    rc, out = vm_runm.create("--bundle", bundle, "disk-bad")
    vm_runm.ids.append("disk-bad")
    assert rc != 0 and want in out, out
    # nothing left behind: no container, no state directory
    assert vm_runm("state", "disk-bad").returncode != 0
    assert not (vm_runm.root / "disk-bad").exists()
