"""One virtio-fs share per container (issue 5): the rootfs and every bind mount (directories
and files, rw and ro) come from DIR/share on the host, exported as one tag; runm delete leaves
nothing mounted. VM mode only (the host-agent harness has no share)."""
import json
import os
import time

import pytest

from conftest import make_bundle
from lifecycle_util import Runm, vm_skip_reason
from test_mountinfo import fs_root_path


@pytest.fixture
def rt(build_dir, tmp_path, tmp_path_factory):
    why = vm_skip_reason(build_dir, tmp_path_factory.mktemp("vmprobe"))
    if why:
        pytest.skip(why)
    r = Runm(build_dir, tmp_path / "root", "vm")
    yield r
    r.cleanup()


def mounts_under(path):
    path = os.path.realpath(str(path))
    with open("/proc/self/mountinfo") as f:
        return [ln.split() for ln in f if ln.split()[4].startswith(path + "/")]


SCRIPT = r"""
set -u
echo from-container > /rw1/c.txt
echo appended >> /rwfile
cat /ro1/seed.txt /rofile
for p in /ro1/x /rofile; do
  if e=$( (echo no > $p) 2>&1 ); then echo "WROTE $p"; else echo "ERR $p $e"; fi
done
echo ready
i=0
while [ ! -e /rw2/go ]; do i=$((i+1)); [ $i -gt 600 ] && { echo timeout; exit 3; }; sleep 0.1; done
cat /rw2/go
grep -E ' /(rw1|rw2|ro1|rwfile|rofile) ' /proc/self/mounts | awk '{print $2, substr($4,1,2)}' | sort
echo done
"""


def test_five_binds_one_share(rt, tmp_path):
    host = tmp_path / "host"
    dirs = {n: host / n for n in ("rw1", "ro1", "rw2")}
    for d in dirs.values():
        d.mkdir(parents=True)
    (dirs["ro1"] / "seed.txt").write_text("seed\n")
    rwfile, rofile = host / "rwfile", host / "rofile"
    rwfile.write_text("file-rw\n")
    rofile.write_text("file-ro\n")

    def mutate(cfg):
        cfg["mounts"] += [
            {"destination": "/rw1", "type": "bind", "source": str(dirs["rw1"]), "options": ["rbind", "rw"]},
            {"destination": "/ro1", "type": "bind", "source": str(dirs["ro1"]), "options": ["rbind", "ro"]},
            {"destination": "/rw2", "type": "bind", "source": str(dirs["rw2"]), "options": ["bind"]},
            {"destination": "/rwfile", "type": "bind", "source": str(rwfile), "options": ["rbind", "rw"]},
            {"destination": "/rofile", "type": "bind", "source": str(rofile), "options": ["rbind", "ro"]},
        ]

    b = make_bundle(tmp_path / "bundle", ["sh", "-c", SCRIPT])
    cfg = json.loads((b / "config.json").read_text())
    mutate(cfg)
    (b / "config.json").write_text(json.dumps(cfg))
    out = tmp_path / "out"
    rc, msg = rt.create("-b", b, "c1", out=out)
    assert rc == 0, msg
    # one share: the rootfs and all five sources under DIR/share, ro ones read-only on the host
    share = os.path.realpath(str(rt.root / "c1" / "share"))
    m = {ln[4]: ln for ln in mounts_under(rt.root)}
    assert share + "/rootfs" in m
    # each at its source's path (so the guest's mountinfo shows runc's root: test_mountinfo.py)
    entry = {n: share + fs_root_path(p) for n, p in list(dirs.items()) + [("rwfile", rwfile), ("rofile", rofile)]}
    for e in entry.values():
        assert e in m, sorted(m)
    assert "ro" in m[entry["ro1"]][5].split(",")
    assert "ro" in m[entry["rofile"]][5].split(",")
    assert "rw" in m[entry["rw1"]][5].split(",")
    # the 2-share limit is gone: exactly one virtio-fs device
    assert rt("start", "c1").returncode == 0
    deadline = time.monotonic() + 120
    while "ready" not in out.read_text(errors="replace") and time.monotonic() < deadline:
        time.sleep(0.1)
    text = out.read_text(errors="replace")
    assert "ready" in text, text
    # live, while the container runs
    assert (dirs["rw1"] / "c.txt").read_text() == "from-container\n"
    assert rwfile.read_text() == "file-rw\nappended\n"
    assert "seed\nfile-ro\n" in text
    assert "ERR /ro1/x" in text and "Read-only file system" in text.split("ERR /ro1/x", 1)[1].split("\n")[0], text
    assert "ERR /rofile" in text and "Read-only file system" in text.split("ERR /rofile", 1)[1].split("\n")[0], text
    assert not (dirs["ro1"] / "x").exists()
    assert rofile.read_text() == "file-ro\n"
    (dirs["rw2"] / "go").write_text("host-wrote\n")
    st = rt.wait_status("c1", "stopped", timeout=120)
    text = out.read_text(errors="replace")
    assert "host-wrote" in text and "done" in text, text
    for line in ("/ro1 ro", "/rofile ro", "/rw1 rw", "/rw2 rw", "/rwfile rw"):
        assert line in text, text
    assert st["status"] == "stopped"
    r = rt("delete", "c1")
    assert r.returncode == 0, r.stderr
    assert mounts_under(rt.root) == []
    assert not (rt.root / "c1").exists()
    # the sources are intact on the host
    assert (dirs["ro1"] / "seed.txt").read_text() == "seed\n"
    assert rwfile.read_text() == "file-rw\nappended\n"


def test_shim_killed_then_delete_unmounts_share(rt, tmp_path):
    d = tmp_path / "vol"
    d.mkdir()
    (d / "keep").write_text("keep\n")
    b = make_bundle(tmp_path / "bundle", ["sleep", "1000"])
    cfg = json.loads((b / "config.json").read_text())
    cfg["mounts"].append({"destination": "/vol", "type": "bind", "source": str(d), "options": ["rbind"]})
    (b / "config.json").write_text(json.dumps(cfg))
    pidfile = tmp_path / "pid"
    assert rt.create("-b", b, "--pid-file", pidfile, "c1")[0] == 0
    assert mounts_under(rt.root)
    os.kill(int(pidfile.read_text()), 9)
    rt.wait_status("c1", "stopped", timeout=30)
    r = rt("delete", "c1")
    assert r.returncode == 0, r.stderr
    assert mounts_under(rt.root) == []
    assert (d / "keep").read_text() == "keep\n"
