"""runm-vmm's --net (mini-guests under KVM): NICs on taps in a throw-away network namespace become
virtio-mmio devices after the others, from flags and from the JSON config; bad options are one
clear error before the VM runs; and tests/guests/net.c drives the device's queues through
virtio-mmio with seccomp on (ASan and release builds), exchanging frames with an AF_PACKET peer
on the tap."""
import json
import os
import re
import subprocess
import sys
import textwrap

import pytest

from vmnet_util import TAP_FD, Netns, ip, launch_with_tap
from vmm_util import ASAN_ENV, assert_sanitizer_clean, guest, run_vmm, vmm


@pytest.fixture
def netns():
    ns = Netns()
    yield ns
    ns.close()


def run_in_ns(ns, args, timeout=60):
    """runm-vmm in ns with the namespace's tap open on "{fd}"."""
    p = launch_with_tap(ns, [vmm()] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                        text=True, env=ASAN_ENV)
    out, err = p.communicate(timeout=timeout)
    r = subprocess.CompletedProcess(p.args, p.returncode, out.replace("\r\n", "\n"), err)
    assert_sanitizer_clean(r)
    return r


def declared(stdout):
    return re.findall(r"virtio_mmio\.device=4K@0x([0-9a-f]+):(\d+)", stdout)


def test_nics_from_flags_and_json(netns, tmp_path):
    # a tap runm-vmm creates by name (gone when it exits) and the namespace's tap by fd
    r = run_in_ns(netns, ["--kernel", guest("bootparams"), "--mem", "16", "--rng", "--net",
                          "tap=vmt0,mac=02:00:00:00:01:01,mtu=1400", "--net",
                          "tapfd={fd},mac=02:00:00:00:01:02", "--cmdline", "x"])
    assert r.returncode == 0, r.stderr
    assert declared(r.stdout) == [("d0000000", "5"), ("d0001000", "6"), ("d0002000", "7")], r.stdout
    assert ip("link", "show", "vmt0", ns=netns.name, check=False).returncode != 0
    assert ip("link", "show", "rt0", ns=netns.name).returncode == 0  # the caller's tap stays
    cfg = tmp_path / "vm.json"
    cfg.write_text(json.dumps({"kernel": str(guest("bootparams")), "mem": 16, "cmdline": "j",
                               "net": [f"tapfd={TAP_FD}"]}))
    r = run_in_ns(netns, ["--config", cfg])
    assert r.returncode == 0, r.stderr
    assert declared(r.stdout) == [("d0000000", "5")], r.stdout
    cfg.write_text(json.dumps({"kernel": str(guest("bootparams")), "mem": 16, "net": f"tapfd={TAP_FD}"}))
    r = run_in_ns(netns, ["--config", cfg])
    assert r.returncode == 0 and len(declared(r.stdout)) == 1, r.stderr


def one_error(r, *words):
    assert r.returncode == 1, (r.returncode, r.stderr)
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith("runm-vmm: "), r.stderr
    for w in words:
        assert w in lines[0], lines[0]


def test_bad_net_options_are_one_error(netns):
    null = os.open("/dev/null", os.O_RDWR)
    try:
        r = subprocess.run([str(vmm()), "--kernel", str(guest("bootparams")), "--mem", "16",
                            "--net", f"tapfd={null}"], pass_fds=(null,), capture_output=True,
                           text=True, env=ASAN_ENV, timeout=60)
    finally:
        os.close(null)
    one_error(r, f"device net: tapfd={null}: not a tap device (TUNGETIFF")
    one_error(run_vmm(["--kernel", guest("bootparams"), "--net", ""]), "--net ''", "tapfd=N or tap=NAME")
    one_error(run_vmm(["--kernel", guest("bootparams"), "--mem", "16", "--net", "tapfd=1017"]),
              "tapfd=1017: not an open file descriptor")
    r = run_in_ns(netns, ["--kernel", guest("bootparams"), "--mem", "16", "--net",
                          "tapfd={fd},mac=ff:ff:ff:ff:ff:ff"])
    one_error(r, "device net: mac=ff:ff:ff:ff:ff:ff: a multicast address")
    r = run_in_ns(netns, ["--kernel", guest("bootparams"), "--mem", "16", "--net", "tapfd={fd},mtu=70000"])
    one_error(r, "mtu=70000: a number from 68 to 65535")
    r = run_in_ns(netns, ["--kernel", guest("bootparams"), "--mem", "16", "--net", "tapfd={fd},tap=rt0"])
    one_error(r, "more than one host end")


# In the namespace: wait for the guest's frame (ethertype 0x88b5) on the tap, print it, answer
# to its source MAC until killed.
L2_PEER = textwrap.dedent("""
    import socket, sys, time
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
    s.bind((sys.argv[1], 0))
    print("READY", flush=True)
    while True:
        f = s.recv(4096)
        if f[12:14] == b"\\x88\\xb5":
            break
    print("GOT", f[6:12].hex(":"), f[14:].rstrip(b"\\0").decode(), flush=True)
    reply = f[6:12] + bytes.fromhex("020000000b01") + b"\\x88\\xb5" + b"hello from the host"
    reply += bytes(60 - len(reply))
    s.settimeout(0.2)
    while True:
        s.send(reply)
        time.sleep(0.2)
""")


@pytest.fixture(params=["asan", "release"])
def vmm_build(request, build_dir):
    return vmm(asan=request.param == "asan")


def test_mini_guest_exchanges_frames_with_the_tap(netns, vmm_build, build_dir):
    g = build_dir / "guests" / "net.elf"
    if not g.exists():
        pytest.fail(f"{g} missing: run `make guests`")
    peer = netns.popen([sys.executable, "-c", L2_PEER, netns.tap], stdout=subprocess.PIPE, text=True)
    assert peer.stdout.readline().strip() == "READY"
    p = launch_with_tap(netns, [vmm_build, "--kernel", g, "--mem", "16", "--net",
                                "tapfd={fd},mac=02:00:00:00:0a:01,mtu=1500"],
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ASAN_ENV)
    out, err = p.communicate(timeout=120)
    out = out.replace("\r\n", "\n")
    why = f"rc={p.returncode}\n{out}\n{err}"
    assert p.returncode == 0, why
    assert "net mac=02:00:00:00:0a:01 status=1 pairs=1 mtu=1500\n" in out, why
    assert "net sent\n" in out, why
    assert "net received len=60 num_buffers=1: hello from the host\n" in out, why
    assert "net malformed: needs reset\n" in out and "net guest done\n" in out, why
    assert "seccomp" not in err, err
    assert "net: transmit chain 2 of 4 bytes is shorter than the 12-byte header" in err, err
    assert "Sanitizer" not in err and "runtime error" not in err, err
    peer.kill()
    got = peer.communicate()[0]
    assert "GOT 02:00:00:00:0a:01 hello from the mini-guest" in got, got
