"""Bind mounts in the container's /proc/self/mountinfo show what runc shows (issue 15): the
4th field (the mount's root) is the source's path from the root of its file system, not the
name of its entry in runm's share (/mounts/N). A directory and a file, a name with a space
(mountinfo's octal escape), the same source bound twice, and a bind below another's source.
Runs in both modes (lifecycle_util.MODES)."""
import json
import os

from conftest import make_bundle


def escape(path):
    """mountinfo's escaping of a path field (space, tab, newline, backslash)."""
    return "".join("\\%03o" % ord(c) if c in " \t\n\\" else c for c in path)


def fs_root_path(path):
    """The path from the root of its file system, as the host's own mountinfo gives it for the
    mount that holds PATH (what a bind mount of PATH shows as its root, runc's 4th field)."""
    real = os.path.realpath(path)
    best = None
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            root, mp = (bytes(x, "utf-8").decode("unicode_escape") for x in fields[3:5])
            if real == mp or real.startswith(mp.rstrip("/") + "/"):
                if best is None or len(mp) >= len(best[1]):
                    best = (root, mp)
    root, mp = best
    rel = real[len(mp.rstrip("/")):]
    return (root.rstrip("/") + rel) or "/"


def roots_by_mount_point(text):
    out = {}
    for line in text.splitlines():
        fields = line.split()
        out[fields[4]] = fields[3]
    return out


def test_bind_roots_are_the_sources_paths(rt, tmp_path):
    data = tmp_path / "src" / "data"
    data.mkdir(parents=True)
    conf = tmp_path / "src" / "single.conf"
    conf.write_text("x\n")
    spaced = tmp_path / "odd name"
    spaced.mkdir()
    nested = data / "inner"
    nested.mkdir()
    b = make_bundle(tmp_path / "bundle", ["sleep", "1000"])
    cfg = json.loads((b / "config.json").read_text())
    cfg["mounts"] += [
        {"destination": "/data", "type": "bind", "source": str(data), "options": ["rbind", "rw"]},
        {"destination": "/etc/single.conf", "type": "bind", "source": str(conf), "options": ["bind", "ro"]},
        {"destination": "/odd", "type": "bind", "source": str(spaced), "options": ["rbind"]},
        {"destination": "/again", "type": "bind", "source": str(data), "options": ["rbind", "rw"]},
        {"destination": "/inner", "type": "bind", "source": str(nested), "options": ["rbind"]},
    ]
    (b / "config.json").write_text(json.dumps(cfg))
    rc, err = rt.create("-b", b, "c1", out=tmp_path / "create.out")
    assert rc == 0, err
    assert rt("start", "c1").returncode == 0
    r = rt("exec", "c1", "cat", "/proc/self/mountinfo")
    assert r.returncode == 0, r.stderr
    roots = roots_by_mount_point(r.stdout)
    assert roots["/data"] == escape(fs_root_path(data)), r.stdout
    assert roots["/etc/single.conf"] == escape(fs_root_path(conf)), r.stdout
    assert roots["/odd"] == escape(fs_root_path(spaced)), r.stdout
    assert roots["/again"] == escape(fs_root_path(data)), r.stdout
    if rt.mode == "vm":
        # below another bind's entry in the share: named by its index instead (docs/virtio-fs.md)
        assert roots["/inner"] == "/mounts/4", r.stdout
    assert not any(v.startswith("/mounts/") for k, v in roots.items() if k != "/inner"), r.stdout
    # the binds work: the file's content, writes through the directory
    r = rt("exec", "c1", "sh", "-c", "cat /etc/single.conf && echo y > /data/w && cat /again/w")
    assert r.returncode == 0 and r.stdout == "x\ny\n", r.stderr
    assert (data / "w").read_text() == "y\n"
