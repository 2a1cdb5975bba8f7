"""runm-agent under QEMU: the real guest initramfs (runm-agent as /init) boots under QEMU with
vsock and virtio-fs served over vhost-user by our device code. The host library says hello to the
agent over the hybrid vsock UDS, and a busybox command from the test bundle runs through `runm run`
(backend qemu) with stdout, stderr, stdin and exit status checked byte for byte."""
import json
import os
import subprocess

import pytest

from conftest import make_bundle
from qemu_util import VmCtl, connect_port, vsock_available, wait_dead


def test_agent_hello_over_qemu_vsock(build_dir, guest_dir, tmp_path):
    if not vsock_available(build_dir):
        pytest.skip("the device library has no vsock device yet (runm-vmm vhost-user --help)")
    run = tmp_path / "run"
    uds = run / "vsock.sock"
    vm = VmCtl(build_dir, run, guest_dir / "vmlinux", guest_dir / "initramfs.cpio", "agent",
               extra=["--vsock-uds", str(uds)])
    try:
        # Wait until the agent listens on its control port (runm-agentctl does not retry yet).
        s, _ = connect_port(uds, 1024, vm=vm)
        s.close()
        r = subprocess.run([str(build_dir / "runm-agentctl"), "--uds", str(uds), "--timeout", "30000",
                            "hello"], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, f"{r.stdout}{r.stderr}\n{vm.console.read_text(errors='replace')}"
    finally:
        vm.kill()
    assert wait_dead(vm.pids, 5)


def test_busybox_command_through_runm_on_qemu(build_dir, guest_dir, tmp_path):
    if not vsock_available(build_dir):
        pytest.skip("the device library has no vsock device yet (runm-vmm vhost-user --help)")
    bundle = make_bundle(tmp_path / "bundle", args=[
        "sh", "-c", 'read x; printf "out:%s\\n" "$x"; printf "err\\n" >&2; exit 7'])
    root = tmp_path / "root"
    env = dict(os.environ, RUNM_BACKEND="qemu")
    r = subprocess.run([str(build_dir / "runm"), "--root", str(root), "run", "--bundle", str(bundle),
                        "qemu-agent-test"], input=b"hello stdin\n", capture_output=True, env=env,
                       timeout=120)
    assert (r.returncode, r.stdout, r.stderr) == (7, b"out:hello stdin\n", b"err\n")
    subprocess.run([str(build_dir / "runm"), "--root", str(root), "delete", "--force",
                    "qemu-agent-test"], capture_output=True, timeout=30)


def test_backend_flag_reaches_the_shim_and_annotation_wins(build_dir, guest_dir, tmp_path):
    """The global --backend flag is honoured by the shim (it beats the config file), and the
    io.runm.backend annotation beats the flag. The guest's /proc/cmdline tells which VMM booted
    it: runm-vmm declares its virtio-mmio devices there, QEMU's pc machine has PCI devices."""
    bundle = make_bundle(tmp_path / "bundle", args=["cat", "/proc/cmdline"])
    cfg = tmp_path / "config.json"
    cfg.write_text('{"backend": "runm-vmm"}')
    env = {k: v for k, v in os.environ.items() if k != "RUNM_BACKEND"}
    env["RUNM_CONFIG"] = str(cfg)
    root = tmp_path / "root"

    def run(name, *flags):
        r = subprocess.run([str(build_dir / "runm"), "--root", str(root), *flags, "run", "--bundle",
                            str(bundle), name], capture_output=True, env=env, timeout=120,
                           stdin=subprocess.DEVNULL)
        subprocess.run([str(build_dir / "runm"), "--root", str(root), "delete", "--force", name],
                       capture_output=True, timeout=30)
        return r

    r = run("flag", "--backend", "qemu")
    assert r.returncode == 0, r.stderr
    assert b"console=ttyS0" in r.stdout and b"virtio_mmio.device" not in r.stdout, r.stdout
    spec = json.loads((bundle / "config.json").read_text())
    spec.setdefault("annotations", {})["io.runm.backend"] = "qemu"
    (bundle / "config.json").write_text(json.dumps(spec))
    r = run("annotated", "--backend", "runm-vmm")
    assert r.returncode == 0, r.stderr
    assert b"console=ttyS0" in r.stdout and b"virtio_mmio.device" not in r.stdout, r.stdout


def children_of(pid):
    kids = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                kids += [int(x) for x in f.read().split()]
    except FileNotFoundError:
        pass
    return kids


def test_kill9_of_the_shim_takes_the_vm_with_it(build_dir, tmp_path):
    """The VM's processes die with the shim (PR_SET_PDEATHSIG), even on kill -9."""
    if not vsock_available(build_dir):
        pytest.skip("the device library has no vsock device yet (runm-vmm vhost-user --help)")
    bundle = make_bundle(tmp_path / "bundle", args=["sleep", "100"])
    root = tmp_path / "root"
    pidfile = tmp_path / "pid"
    env = dict(os.environ, RUNM_BACKEND="qemu")
    # The container's stdio is create's: files, so nothing waits for EOF on a pipe.
    out, err = tmp_path / "stdout", tmp_path / "stderr"
    with open(out, "wb") as o, open(err, "wb") as e:
        r = subprocess.run([str(build_dir / "runm"), "--root", str(root), "create", "--bundle",
                            str(bundle), "--pid-file", str(pidfile), "qemu-kill-test"],
                           stdout=o, stderr=e, env=env, timeout=120, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, err.read_text()
    shim = int(pidfile.read_text())
    try:
        vm_procs = children_of(shim)
        names = sorted(open(f"/proc/{p}/comm").read().strip() for p in vm_procs)
        assert "qemu-system-x86" in names and names.count("runm-vmm") >= 2, names
        os.kill(shim, 9)
        assert wait_dead(vm_procs, 10), [p for p in vm_procs if os.path.exists(f"/proc/{p}")]
    finally:
        subprocess.run([str(build_dir / "runm"), "--root", str(root), "delete", "--force",
                        "qemu-kill-test"], capture_output=True, timeout=30)
