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


# --- item 3: linux.resources.devices is enforced in the guest -------------------------------

KMSG = {"path": "/dev/kmsg", "type": "c", "major": 1, "minor": 11, "fileMode": 0o644, "uid": 0, "gid": 0}
READ_KMSG = ["sh", "-c", "dd if=/dev/kmsg of=/dev/null bs=8192 count=1 2>&1; echo kmsg=$?; "
             "head -c 4 /dev/zero > /dev/null; echo zero=$?; echo x > /dev/null; echo null=$?"]


def test_device_rules_deny_kmsg(vm, tmp_path):
    def m(cfg):
        cfg["linux"]["devices"] = [KMSG]
        cfg["linux"]["resources"]["devices"] = [{"allow": False, "access": "rwm"},
                                                {"allow": True, "type": "c", "major": 1, "minor": 3,
                                                 "access": "rwm"}]
    r = vm("run", "--bundle", bundle_with(tmp_path, READ_KMSG, m), "c1")
    assert r.returncode == 0, r.stderr
    assert "kmsg=1" in r.stdout and "Operation not permitted" in r.stdout, r.stdout
    assert "zero=0" in r.stdout and "null=0" in r.stdout, r.stdout


def test_device_rules_allow_kmsg_read_only(vm, tmp_path):
    def m(cfg):
        cfg["linux"]["devices"] = [KMSG]
        cfg["linux"]["resources"]["devices"] = [{"allow": False, "access": "rwm"},
                                                {"allow": True, "type": "c", "major": 1, "minor": 11,
                                                 "access": "r"}]
    args = ["sh", "-c", "dd if=/dev/kmsg of=/dev/null bs=8192 count=1 2>/dev/null; echo read=$?; "
            "echo hi > /dev/kmsg; echo write=$?"]
    r = vm("run", "--bundle", bundle_with(tmp_path, args, m), "c1")
    assert r.returncode == 0, r.stderr
    assert "read=0" in r.stdout and "write=1" in r.stdout, r.stdout
    assert "Operation not permitted" in r.stderr, r.stderr


# --- item 4: tmpfs mounts (tmpcopyup, mode of the covered directory), read-only /dev ---------

def test_tmpfs_tmpcopyup_and_covered_mode(rt, tmp_path):
    import os
    b = make_bundle(tmp_path / "bundle", ["sh", "-c",
                    "for p in /data /data/f /data/sub /data/ln /sticky /priv /explicit; do "
                    "stat -c '%n %a %u:%g %F' $p; done; readlink /data/ln; cat /data/f; "
                    "grep -E ' /(data|sticky|priv|explicit) ' /proc/self/mountinfo | cut -d' ' -f5,9 | sort"])
    r_ = b / "rootfs"
    (r_ / "data/sub").mkdir(parents=True)
    (r_ / "data/f").write_text("payload\n")
    os.chmod(r_ / "data/f", 0o604)
    os.chown(r_ / "data/f", 1, 1)
    os.chmod(r_ / "data/sub", 0o700)
    os.chown(r_ / "data/sub", 65534, 65534)
    os.symlink("f", r_ / "data/ln")
    os.chmod(r_ / "data", 0o750)
    for d, mode in (("sticky", 0o7777), ("priv", 0o710), ("explicit", 0o700)):
        (r_ / d).mkdir()
        os.chmod(r_ / d, mode)
    cfg = json.loads((b / "config.json").read_text())
    cfg["mounts"] += [
        {"destination": "/data", "type": "tmpfs", "source": "tmpfs", "options": ["rw", "tmpcopyup", "nosuid"]},
        {"destination": "/sticky", "type": "tmpfs", "source": "tmpfs", "options": ["nodev"]},
        {"destination": "/priv", "type": "tmpfs", "source": "tmpfs"},
        {"destination": "/explicit", "type": "tmpfs", "source": "tmpfs", "options": ["mode=1777"]},
    ]
    (b / "config.json").write_text(json.dumps(cfg))
    r = rt("run", "--bundle", b, "c1")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        "/data 750 0:0 directory", "/data/f 604 1:1 regular file", "/data/sub 700 65534:65534 directory",
        "/data/ln 777 0:0 symbolic link", "/sticky 7777 0:0 directory", "/priv 710 0:0 directory",
        "/explicit 1777 0:0 directory", "f", "payload",
        "/data tmpfs", "/explicit tmpfs", "/priv tmpfs", "/sticky tmpfs"], r.stdout


def test_readonly_dev(rt, tmp_path):
    def m(cfg):
        for mt in cfg["mounts"]:
            if mt["destination"] == "/dev":
                mt["options"].append("ro")
    args = ["sh", "-c", "touch /dev/new 2>&1; echo x > /dev/null && echo null-ok; ls /dev/pts/ptmx; "
            "grep ' /dev ' /proc/self/mountinfo | cut -d' ' -f6 | cut -d, -f1"]
    r = rt("run", "--bundle", bundle_with(tmp_path, args, m), "c1")
    assert r.returncode == 0, r.stderr
    assert "Read-only file system" in r.stdout, r.stdout
    assert r.stdout.splitlines()[1:] == ["null-ok", "/dev/pts/ptmx", "ro"], r.stdout


# --- item 5: process attributes --------------------------------------------------------------

SECCOMP = {"defaultAction": "SCMP_ACT_ALLOW",
           "syscalls": [{"names": ["mknodat"], "action": "SCMP_ACT_ERRNO"}]}


@pytest.mark.parametrize("nnp", [False, True])
def test_no_new_privileges_honoured_with_seccomp(rt, tmp_path, nnp):
    def m(cfg):
        cfg["process"]["noNewPrivileges"] = nnp
        cfg["linux"]["seccomp"] = SECCOMP
    b = bundle_with(tmp_path, ["sh", "-c", "grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status; sleep 30"], m)
    p = rt.popen("run", "--bundle", b, "c1", stdout=__import__("subprocess").PIPE)
    want = "1" if nnp else "0"
    assert p.stdout.readline().decode().split() == ["NoNewPrivs:", want]
    assert p.stdout.readline().decode().split() == ["Seccomp:", "2"]
    # an exec'd process: its own noNewPrivileges, the container's filter
    proc = json.loads((b / "config.json").read_text())["process"]
    proc["args"] = ["grep", "-E", "^(NoNewPrivs|Seccomp):", "/proc/self/status"]
    for exec_nnp in (False, True):
        proc["noNewPrivileges"] = exec_nnp
        (tmp_path / "p.json").write_text(json.dumps(proc))
        r = rt("exec", "-p", tmp_path / "p.json", "c1")
        assert r.returncode == 0, r.stderr
        assert r.stdout.split() == ["NoNewPrivs:", "1" if exec_nnp else "0", "Seccomp:", "2"], r.stdout
    rt("kill", "c1", "KILL")
    p.communicate(timeout=rt.timeout)


def test_cwd_reached_as_root_before_the_user_change(rt, tmp_path):
    import os

    def m(cfg):
        cfg["process"]["user"] = {"uid": 65534, "gid": 65534}
        cfg["process"]["cwd"] = "/root"
    b = bundle_with(tmp_path, ["sh", "-c", "pwd; id -u; ls . 2>&1 | head -1"], m)
    os.chmod(b / "rootfs/root", 0o700)
    r = rt("run", "--bundle", b, "c1")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[:2] == ["/root", "65534"], r.stdout
    assert "Permission denied" in lines[2], r.stdout


# --- runc conformance: linux.rootfsPropagation reaches the container's own root -------------

@pytest.mark.parametrize("prop", ["unbindable", "private"])
def test_rootfs_propagation_on_the_new_root(vm, tmp_path, prop):
    """runc applies rootfsPropagation to "/" after pivot_root: unbindable refuses a bind of /
    (it was applied to the guest's old root only), private shows no peer group. (slave: the
    guest's own mounts are private, so a slave root has no master: docs/cli.md.)"""
    def m(cfg):
        cfg["linux"]["rootfsPropagation"] = prop
        add_caps("CAP_SYS_ADMIN")(cfg)
    args = ["sh", "-c", "awk '$5 == \"/\"' /proc/self/mountinfo | head -1; mkdir -p /dev/shm/t && "
            "mount --bind / /dev/shm/t 2>&1 && echo BIND-OK; true"]
    r = vm("run", "--bundle", bundle_with(tmp_path, args, m), "c1")
    assert r.returncode == 0, r.stderr
    root_line = r.stdout.splitlines()[0]
    if prop == "unbindable":
        assert "unbindable" in root_line and "BIND-OK" not in r.stdout, r.stdout
    else:
        assert "master:" not in root_line and "shared:" not in root_line and "unbindable" not in root_line, r.stdout
