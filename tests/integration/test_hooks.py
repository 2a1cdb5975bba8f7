"""OCI hooks: where each kind runs. prestart/createRuntime/poststart/poststop on the host (the
runtime's namespaces); createContainer and startContainer inside the container (the agent runs
them in the guest, in the container's namespaces and root: agent/hooks.c), as runc does.

Each test runs in both modes (lifecycle_util.MODES)."""
import json
import os
import pathlib
import time
import uuid

import pytest

from conftest import make_bundle
from lifecycle_util import MODES, Runm, vm_skip_reason


@pytest.fixture(params=MODES)
def rt(request, build_dir, tmp_path, tmp_path_factory):
    if request.param == "vm":
        why = vm_skip_reason(build_dir, tmp_path_factory.mktemp("vmprobe"))
        if why:
            pytest.skip(why)
    r = Runm(build_dir, tmp_path / "root", request.param)
    yield r
    r.cleanup()


def bundle_with(tmp_path, args, mutate=None, hostname="runm"):
    b = make_bundle(tmp_path / "bundle", args, extra=["--hostname", hostname])
    if mutate:
        cfg = json.loads((b / "config.json").read_text())
        mutate(cfg)
        (b / "config.json").write_text(json.dumps(cfg))
    return b


# A hook that exists only inside the container's rootfs: it records what it sees, at absolute
# paths that, if it ran on the host, would land in the host's /.
HOOK_SH = """#!/bin/sh
kind=$1 dir=$2
cat > $dir/hook-$kind.state
hostname > $dir/hook-$kind.host
pwd > $dir/hook-$kind.cwd
echo "$HOOK_ENV" > $dir/hook-$kind.env
"""


def test_container_hooks_run_inside_the_container(rt, tmp_path):
    tag = uuid.uuid4().hex[:8]
    host = f"ctr-{tag}"
    shared = tmp_path / "shared"
    shared.mkdir()

    def add_hooks(cfg):
        # createContainer may write the root (runc runs it before the readonly remount);
        # startContainer sees the read-only root: it writes to a volume
        cfg["hooks"] = {k: [{"path": f"/hookbin-{tag}/h.sh", "args": ["h.sh", k, d], "env": [f"HOOK_ENV=env-{k}"]}]
                        for k, d in (("createContainer", ""), ("startContainer", "/shared"))}
        cfg["mounts"].append({"destination": "/shared", "type": "bind", "source": str(shared),
                              "options": ["rbind", "rw"]})
        cfg["hooks"]["prestart"] = [{"path": "/bin/sh", "args": ["sh", "-c", f"cat > {tmp_path}/prestart.json"]}]
    b = bundle_with(tmp_path, ["sh", "-c", "cat /hook-createContainer.host /shared/hook-startContainer.host "
                               "/hook-createContainer.cwd /shared/hook-startContainer.env; "
                               "touch /x 2>/dev/null && echo rw || echo ro"],
                    mutate=add_hooks, hostname=host)
    rootfs = b / "rootfs"
    (rootfs / f"hookbin-{tag}").mkdir()
    hook = rootfs / f"hookbin-{tag}" / "h.sh"
    hook.write_text(HOOK_SH)
    hook.chmod(0o755)
    assert not pathlib.Path(f"/hookbin-{tag}").exists()
    out = tmp_path / "create.out"
    rc, err = rt.create("-b", b, "c1", out=out)
    assert rc == 0, err
    # createContainer ran at create, inside the container: it wrote into the container's root
    # (the bundle's rootfs, read-only for the container itself), not the host's
    st = json.loads((rootfs / "hook-createContainer.state").read_text())
    assert st["id"] == "c1" and st["bundle"] == str(b)
    assert (rootfs / "hook-createContainer.host").read_text() == host + "\n"
    assert (rootfs / "hook-createContainer.cwd").read_text() == "/\n"
    assert not (shared / "hook-startContainer.state").exists()
    assert json.loads((tmp_path / "prestart.json").read_text())["id"] == "c1"  # host hook: host path
    r = rt("start", "c1")
    assert r.returncode == 0, r.stderr
    rt.wait_status("c1", "stopped")
    # the init saw both hooks' files, and its root is read-only again (root.readonly is true)
    assert out.read_text() == f"{host}\n{host}\n/\nenv-startContainer\nro\n"
    assert (shared / "hook-startContainer.host").read_text() == host + "\n"
    assert (shared / "hook-startContainer.cwd").read_text() == "/\n"
    assert json.loads((shared / "hook-startContainer.state").read_text())["status"] == "created"
    for k in ("createContainer", "startContainer"):
        assert not pathlib.Path(f"/hook-{k}.state").exists()
    assert rt("delete", "c1").returncode == 0


def test_container_hooks_output_seen_by_the_container(rt, tmp_path):
    """The container's init sees what the hooks wrote (its own root), with its hostname."""
    def add_hooks(cfg):
        cfg["hooks"] = {"createContainer": [{"path": "/bin/sh", "args": ["sh", "-c", "hostname > /tmp/h1"]}],
                        "startContainer": [{"path": "/bin/sh", "args": ["sh", "-c", "hostname > /tmp/h2"]}]}
        cfg["mounts"].append({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"})
    b = bundle_with(tmp_path, ["sh", "-c", "cat /tmp/h1 /tmp/h2"], mutate=add_hooks, hostname="in-ctr")
    r = rt("run", "-b", b, "c1")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "in-ctr\nin-ctr\n"


def test_failing_create_container_hook_fails_create(rt, tmp_path):
    def add_hooks(cfg):
        cfg["hooks"] = {"createContainer": [{"path": "/bin/sh", "args": ["sh", "-c", "echo oops >&2; exit 3"]}]}
    b = bundle_with(tmp_path, ["true"], mutate=add_hooks)
    rc, err = rt.create("-b", b, "c1")
    assert rc == 1, err
    assert "error running createContainer hook #0 (/bin/sh): exit status 3" in err and "stderr: oops" in err, err
    assert not (rt.root / "c1").exists()


def test_create_container_hook_path_is_the_containers(rt, tmp_path):
    """A path that exists on the host but not in the container is not found."""
    def add_hooks(cfg):
        cfg["hooks"] = {"createContainer": [{"path": str(rt.bin)}]}
    b = bundle_with(tmp_path, ["true"], mutate=add_hooks)
    rc, err = rt.create("-b", b, "c1")
    assert rc == 1 and "exit status 127" in err and "No such file or directory" in err, err


def test_create_container_hook_timeout(rt, tmp_path):
    def add_hooks(cfg):
        cfg["hooks"] = {"createContainer": [{"path": "/bin/sleep", "args": ["sleep", "60"], "timeout": 1}]}
    b = bundle_with(tmp_path, ["true"], mutate=add_hooks)
    t0 = time.monotonic()
    rc, err = rt.create("-b", b, "c1")
    assert rc == 1 and "hook ran past specified timeout of 1.0s" in err, err
    assert time.monotonic() - t0 < 30


def test_failing_start_container_hook_fails_start(rt, tmp_path):
    def add_hooks(cfg):
        cfg["hooks"] = {"startContainer": [{"path": "/bin/false"}],
                        "createContainer": [{"path": "/bin/true"}]}
    b = bundle_with(tmp_path, ["sh", "-c", "echo started"], mutate=add_hooks)
    out = tmp_path / "create.out"
    rc, err = rt.create("-b", b, "c1", out=out)
    assert rc == 0, err
    r = rt("start", "c1")
    assert r.returncode == 1 and "error running startContainer hook #0 (/bin/false): exit status 1" in r.stderr, \
        r.stderr
    rt.wait_status("c1", "stopped")  # as runc: its init failed
    assert "started" not in out.read_text()
    assert os.path.exists(rt.root / "c1")


def test_poststart_hooks_ran_when_start_returns(rt, tmp_path):
    """runtime-spec: after the process started, before `start` returns (runc 1.1.5 runs them
    during `create`, before the process starts: docs/cli.md, deliberate differences)."""
    shared = tmp_path / "shared"
    shared.mkdir()

    def add_hooks(cfg):
        cfg["mounts"].append({"destination": "/shared", "type": "bind", "source": str(shared),
                              "options": ["rbind", "rw"]})
        # the hook waits for the process's mark: it runs after the process started
        cfg["hooks"] = {"poststart": [{"path": "/bin/sh", "args": [
            "sh", "-c", f"for i in $(seq 300); do [ -e {shared}/started ] && break; sleep 0.1; done; "
                        f"sleep 1; cat > {tmp_path}/poststart.state"]}]}
    b = bundle_with(tmp_path, ["sh", "-c", "touch /shared/started; sleep 1000"], mutate=add_hooks)
    rc, err = rt.create("-b", b, "c1", out=tmp_path / "create.out")
    assert rc == 0, err
    assert not (shared / "started").exists()
    t0 = time.monotonic()
    r = rt("start", "c1")
    assert r.returncode == 0, r.stderr
    assert time.monotonic() - t0 >= 1.0
    st = json.loads((tmp_path / "poststart.state").read_text())
    assert st["id"] == "c1" and st["status"] == "running"
    assert (shared / "started").exists()


def test_failing_poststart_hook_is_a_warning(rt, tmp_path):
    def add_hooks(cfg):
        cfg["hooks"] = {"poststart": [{"path": "/bin/sh", "args": ["sh", "-c", "exit 3"]},
                                      {"path": "/bin/sh", "args": ["sh", "-c", f"touch {tmp_path}/second"]}]}
    b = bundle_with(tmp_path, ["sleep", "1000"], mutate=add_hooks)
    rc, err = rt.create("-b", b, "c1", out=tmp_path / "create.out")
    assert rc == 0, err
    r = rt("start", "c1")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "second").exists()  # the remaining hooks ran
    assert rt.state("c1")["status"] == "running"
    # logged by the shim (its stderr: here create's; and --log)
    assert "poststart hook /bin/sh: exit status 3" in (tmp_path / "create.out").read_text()
