"""Container set-up as a hostile container sees it (docs/security.md, "threat: a hostile
container inside the guest"): what the agent leaves in the container's mount namespace, bind
sources, device rules, mounts, process attributes. Most tests are about the guest, so they run
in VM mode; those about set-up semantics run in both modes."""
import json

import pytest

from conftest import make_bundle
from lifecycle_util import MODES, Runm, vm_skip_reason


def _rt(request, build_dir, tmp_path, tmp_path_factory, mode):
    if mode == "vm":
        why = vm_skip_reason(build_dir, tmp_path_factory.mktemp("vmprobe"))
        if why:
            pytest.skip(why)
    r = Runm(build_dir, tmp_path / "root", mode)
    request.addfinalizer(r.cleanup)
    return r


@pytest.fixture
def vm(request, build_dir, tmp_path, tmp_path_factory):
    return _rt(request, build_dir, tmp_path, tmp_path_factory, "vm")


@pytest.fixture(params=MODES)
def rt(request, build_dir, tmp_path, tmp_path_factory):
    return _rt(request, build_dir, tmp_path, tmp_path_factory, request.param)


def bundle_with(tmp_path, args, mutate=None, name="bundle"):
    b = make_bundle(tmp_path / name, args)
    if mutate:
        cfg = json.loads((b / "config.json").read_text())
        mutate(cfg)
        (b / "config.json").write_text(json.dumps(cfg))
    return b


def add_caps(*caps):
    def m(cfg):
        for k in ("bounding", "effective", "permitted"):
            cfg["process"]["capabilities"][k] += list(caps)
    return m


# --- item 1: nothing of the agent's mounts in the container ---------------------------------

UNSHARE_PROC = ["sh", "-c", "unshare -mrpf sh -c 'mount -t proc none /proc && cat /proc/timer_list'; "
                "echo rc=$?"]


@pytest.mark.parametrize("no_pivot", [False, True], ids=["pivot", "no-pivot"])
def test_fresh_proc_cannot_unmask(vm, tmp_path, no_pivot):
    """With CAP_SETFCAP (so unshare -r may map root), a new user+pid namespace may mount proc
    only if an unmasked proc is fully visible in the mount namespace: the agent's must not be."""
    b = bundle_with(tmp_path, UNSHARE_PROC, add_caps("CAP_SETFCAP"))
    args = ["--no-pivot"] if no_pivot else []
    r = vm("run", *args, "--bundle", b, "c1")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "rc=1\n", r.stdout[-2000:]
    assert "mount: permission denied" in r.stderr.lower() or "operation not permitted" in r.stderr.lower(), \
        r.stderr


def test_mount_namespace_has_only_the_specs_mounts(vm, tmp_path):
    b = bundle_with(tmp_path, ["cat", "/proc/self/mountinfo"])
    r = vm("run", "--bundle", b, "c1")
    assert r.returncode == 0, r.stderr
    points = sorted(line.split()[4] for line in r.stdout.splitlines())
    cfg = json.loads((b / "config.json").read_text())
    want = {"/"} | {m["destination"] for m in cfg["mounts"]} | set(cfg["linux"]["maskedPaths"]) \
        | set(cfg["linux"]["readonlyPaths"]) | {"/dev/" + d for d in ("null", "zero", "full", "random",
                                                                        "urandom", "tty")}
    assert set(points) <= want, sorted(set(points) - want)
    assert "/run/runm/share" not in r.stdout and " /init " not in r.stdout


# --- item 2: relative bind sources are the bundle's -----------------------------------------

def test_relative_bind_source_is_the_bundle(rt, tmp_path):
    def m(cfg):
        cfg["mounts"].append({"destination": "/mnt/b", "type": "bind", "source": ".",
                              "options": ["rbind", "ro"]})
    b = bundle_with(tmp_path, ["sh", "-c", "ls /mnt/b; ls /mnt/b/init /init 2>&1; echo end"], m)
    r = rt("run", "--bundle", b, "c1")
    assert r.returncode == 0, r.stderr
    listing = r.stdout.split()
    assert "config.json" in listing and "rootfs" in listing, r.stdout
    assert "/mnt/b/init" not in listing and "/init" not in listing, r.stdout
    assert r.stdout.endswith("end\n"), r.stdout
