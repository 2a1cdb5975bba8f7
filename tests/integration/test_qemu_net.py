"""virtio-net under QEMU: our kernel boots under QEMU (TCG here) with virtio-net-pci on a vhost-user
netdev served by `runm-vmm vhost-user --device net,tapfd=N,...` (the device library's net device),
started through the real backend code path (runm-vmctl → vm_start → the QEMU backend) with a tap
opened in a throw-away network namespace, as runm's shim does. A busybox init configures eth0,
pings the host end of the tap, fetches a page and a 4 MiB blob (checksummed) and uploads 3 MiB of
its own (base64 of random bytes, checksummed by the host)."""
import json
import os
import re
import subprocess
import sys

import pytest

from vmnet_util import GUEST_IP, HOST_IP, Netns, blob, launch_with_tap, sha256, start_peer, wait_line
from qemu_util import MKINITRAMFS, wait_dead

MAC = "02:00:5e:10:00:02"
BIG_SEED, BIG_SIZE = 7, 4 << 20

INIT = f"""#!/bin/busybox sh
/bin/busybox --install -s /bin
mkdir -p /proc /sys /dev /tmp
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
ip link set lo up
ip link set eth0 up
ip addr add {GUEST_IP}/24 dev eth0
echo "NIC $(cat /sys/class/net/eth0/address) mtu $(cat /sys/class/net/eth0/mtu)"
ping -c 3 -W 10 {HOST_IP} >/tmp/ping 2>&1 && echo PING-OK || cat /tmp/ping
echo "HELLO $(timeout 30 wget -q -O - http://{HOST_IP}:8080/hello)"
timeout 120 wget -q -O /tmp/big http://{HOST_IP}:8080/big
echo "BIG $(wc -c </tmp/big) $(sha256sum /tmp/big | cut -d' ' -f1)"
dd if=/dev/urandom bs=65536 count=36 2>/dev/null | base64 >/tmp/up  # text: wget posts a C string
echo "UP $(wc -c </tmp/up) $(sha256sum /tmp/up | cut -d' ' -f1)"
echo "UPLOADED $(timeout 120 wget -q -O - --post-file=/tmp/up http://{HOST_IP}:8080/upload)"
echo NET-TEST-DONE
reboot -f
"""


@pytest.fixture(scope="module")
def initrd(tmp_path_factory):
    d = tmp_path_factory.mktemp("net-initrd")
    (d / "init").write_text(INIT)
    (d / "init").chmod(0o755)
    out = d / "net-init.cpio"
    subprocess.run([sys.executable, str(MKINITRAMFS), "--init", str(d / "init"), "-o", str(out),
                    "--file", "bin/busybox=/bin/busybox:0755"], check=True)
    return out


@pytest.fixture
def netns():
    ns = Netns(mtu=9000)
    yield ns
    ns.close()


def vmctl_argv(build_dir, guest_dir, initrd, run, net):
    argv = [build_dir / "runm-vmctl", "--backend", "qemu", "--kernel", guest_dir / "vmlinux",
            "--initrd", initrd, "--cmdline", "console=ttyS0 reboot=k panic=-1 quiet",
            "--run-dir", run, "--console", run / "console.log", "--mem", "256", "--timeout", "240",
            "--net", net, "--debug"]
    if os.environ.get("RUNM_TEST_DEVICE_SERVER"):
        argv += ["--runm-vmm", os.environ["RUNM_TEST_DEVICE_SERVER"]]
    return argv


def test_guest_network_through_the_qemu_backend(build_dir, guest_dir, initrd, netns, tmp_path):
    peer = start_peer(netns, BIG_SEED, BIG_SIZE)
    run = tmp_path / "run"
    run.mkdir()
    vm = launch_with_tap(netns, vmctl_argv(build_dir, guest_dir, initrd, run,
                                           f"tapfd={{fd}},mac={MAC},mtu=9000"),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        started = json.loads(vm.stdout.readline() or "{}")
        assert started.get("event") == "started", vm.communicate(timeout=30)
        assert len(started["pids"]) == 2  # qemu + the net device server
        out, err = vm.communicate(timeout=280)
        console = (run / "console.log").read_text(errors="replace").replace("\r\n", "\n")
        log = (run / "vmm.log").read_text(errors="replace")
        why = f"rc={vm.returncode}\n{err[-2000:]}\nconsole:\n{console[-3000:]}\nvmm.log:\n{log[-3000:]}"
        assert vm.returncode == 0, why
        assert "NET-TEST-DONE" in console, why
        assert f"NIC {MAC} mtu 9000\n" in console, why  # QEMU's config space: mac and host_mtu
        assert "PING-OK" in console, why
        assert "HELLO hello over virtio-net\n" in console, why
        want = blob(BIG_SIZE, BIG_SEED)
        assert f"BIG {len(want)} {sha256(want)}\n" in console, why
        up = re.search(r"^UP (\d+) ([0-9a-f]{64})$", console, re.M)
        assert up and int(up.group(1)) > 3 << 20, why
        got = f"GOT {up.group(1)} {up.group(2)}"
        assert f"UPLOADED {got}\n" in console, why
        peer.kill()
        assert got in peer.communicate()[0].splitlines()
        # the guest took every offload, so the transfers above used 64 KiB GSO frames
        assert re.search(r"net: tap rt0 active: 12-byte header, mergeable receive buffers, "
                         r"guest offloads csum tso4 tso6 ecn", log), log[-2000:]
        for bad in ("seccomp", "warning", "Sanitizer", "runtime error"):
            assert bad not in log, log[-2000:]
        assert wait_dead(started["pids"], 10)
        assert sorted(p.name for p in run.iterdir()) == ["console.log", "vmm.log"]
    finally:
        if vm.poll() is None:
            vm.kill()
            vm.wait()


def test_device_server_refuses_bad_options(build_dir, tmp_path):
    """`runm-vmm vhost-user --device net,...` checks its options before serving: one clear line."""
    srv = build_dir / "runm-vmm"
    a, b = __import__("socket").socketpair()
    null = os.open("/dev/null", os.O_RDWR)
    try:
        cases = [
            (f"net,tapfd={null},mac=02:00:00:00:00:zz", "mac=02:00:00:00:00:zz: six hex pairs separated by ':'"),
            (f"net,tapfd={null},mac=01:00:5e:00:00:01", "a multicast address"),
            (f"net,tapfd={null}", f"tapfd={null}: not a tap device (TUNGETIFF: Inappropriate ioctl for device)"),
            ("net,tapfd=999", "tapfd=999: not an open file descriptor"),
            (f"net,tapfd={null},mtu=10", "mtu=10: a number from 68 to 65535 expected"),
            ("net,mac=02:00:00:00:00:01", "no host end: give exactly one of tapfd=N, tap=NAME"),
        ]
        for spec, msg in cases:
            r = subprocess.run([str(srv), "vhost-user", "--fd", str(b.fileno()), "--device", spec],
                               pass_fds=(b.fileno(), null), capture_output=True, text=True, timeout=30)
            assert r.returncode == 1, (spec, r.stderr)
            lines = r.stderr.strip().splitlines()
            assert len(lines) == 1 and f"vhost-user: --device {spec}: device net: " in lines[0], r.stderr
            assert msg in lines[0], (msg, r.stderr)
    finally:
        os.close(null)
        a.close()
        b.close()


def test_backend_reports_a_bad_tap_and_leaves_nothing(build_dir, guest_dir, initrd, tmp_path):
    """A tap fd that is not a tap: vm_start fails at the device server, with its reason, and
    nothing keeps running."""
    run = tmp_path / "run"
    run.mkdir()
    null = os.open("/dev/null", os.O_RDWR)
    try:
        argv = [str(a) for a in vmctl_argv(build_dir, guest_dir, initrd, run, f"tapfd={null}")]
        r = subprocess.run(argv, pass_fds=(null,), capture_output=True, text=True, timeout=60)
    finally:
        os.close(null)
    assert r.returncode == 1, r.stderr
    assert "not a tap device" in r.stderr, r.stderr
    assert "vhost-user net server 0: the device server did not come up" in r.stderr, r.stderr
    assert '"started"' not in r.stdout
    r = subprocess.run([str(build_dir / "runm-vmctl"), "--backend", "qemu", "--kernel",
                        str(guest_dir / "vmlinux"), "--run-dir", str(run), "--net", "tapfd=1017"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and "NIC 0: tap fd 1017 is not open" in r.stderr, r.stderr
