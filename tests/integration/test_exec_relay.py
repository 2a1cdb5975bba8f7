"""The shim's stdio relay (issue 18): it used blocking writes in its single event loop, so
`runm exec ID cat` with more in flight than the socket buffers hold deadlocked the shim; and
with more than ~20 execs at once it ran out of relay slots and dropped output silently. Now
relays are non-blocking with bounded buffers, and the slots are sized for every exec."""
import hashlib
import os
import subprocess
import threading
import time

import pytest

from conftest import make_bundle
from lifecycle_util import Runm, vm_skip_reason


def start(rt, tmp_path):
    b = make_bundle(tmp_path / "bundle", ["sleep", "100000"], extra=["--rw"])
    rc, msg = rt.create("--bundle", b, "c1")
    assert rc == 0, msg
    assert rt("start", "c1").returncode == 0
    return b


def shim_pid(rt):
    return rt.state("c1")["pid"]


def nfds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def pump_cat(rt, size):
    """SIZE pseudo-random bytes through `exec cat`, while `state` must keep answering."""
    block = hashlib.sha256(b"seed").digest() * 2048  # 64 KiB
    want = hashlib.sha256()
    got = hashlib.sha256()
    p = rt.popen("exec", "c1", "cat", stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    total = [0]

    def reader():
        while True:
            b = p.stdout.read(1 << 16)
            if not b:
                return
            got.update(b)
            total[0] += len(b)

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    slow = []
    stop = threading.Event()

    def prober():
        while not stop.is_set():
            t0 = time.monotonic()
            r = rt("state", "c1", timeout=30)
            dt = time.monotonic() - t0
            assert r.returncode == 0, r.stderr
            if dt > 1.0:
                slow.append(dt)
            time.sleep(0.2)

    pr = threading.Thread(target=prober, daemon=True)
    pr.start()
    sent = 0
    while sent < size:
        p.stdin.write(block)
        want.update(block)
        sent += len(block)
    p.stdin.close()
    t.join(300)
    stop.set()
    pr.join(30)
    assert p.wait(60) == 0
    assert total[0] == size
    assert got.hexdigest() == want.hexdigest()
    assert not slow, f"runm state took {slow} s while the relay was busy"


@pytest.fixture
def hostrt(build_dir, tmp_path):
    r = Runm(build_dir, tmp_path / "root", "host-agent")
    yield r
    r.cleanup()


def test_exec_cat_128mib_both_ways(hostrt, tmp_path):
    start(hostrt, tmp_path)
    pump_cat(hostrt, 128 << 20)


def test_exec_cat_vm(build_dir, tmp_path, tmp_path_factory):
    why = vm_skip_reason(build_dir, tmp_path_factory.mktemp("vmprobe"))
    if why:
        pytest.skip(why)
    rt = Runm(build_dir, tmp_path / "root", "vm")
    try:
        start(rt, tmp_path)
        pump_cat(rt, 64 << 20)
    finally:
        rt.cleanup()


@pytest.mark.parametrize("n", [60, 100])
def test_many_concurrent_execs(hostrt, tmp_path, n):
    b = start(hostrt, tmp_path)
    shim = shim_pid(hostrt)
    base = nfds(shim)
    lines = 2000
    # all running at once: each waits for /go (host-agent mode: / is the bundle's rootfs)
    procs = [hostrt.popen("exec", "c1", "sh", "-c",
                          "while [ ! -e /go ]; do sleep 0.05; done; "
                          f"i=0; while [ $i -lt {lines} ]; do echo pattern-{k}-$i; i=$((i+1)); done")
             for k in range(n)]
    time.sleep(2)
    (b / "rootfs" / "go").write_text("")
    outs = [p.communicate(timeout=300) for p in procs]
    for k, (p, (out, err)) in enumerate(zip(procs, outs)):
        assert p.returncode == 0, (k, err)
        want = "".join(f"pattern-{k}-{i}\n" for i in range(lines)).encode()
        assert hashlib.sha256(out).hexdigest() == hashlib.sha256(want).hexdigest(), (k, len(out), err)
    deadline = time.monotonic() + 10
    while nfds(shim) != base and time.monotonic() < deadline:
        time.sleep(0.1)
    assert nfds(shim) == base
