"""runm's runc contract without a running VM: argument forms, every verb's errors with runc's
strings and exit codes, --log-format json, state truthfulness, and nothing left behind."""
import json
import os
import pathlib
import re
import signal
import subprocess
import time

import pytest

from cli_util import runm, start_time, wait_gone, write_state

VERBS_NEEDING_ID = ["start", "state", "kill", "delete", "pause", "resume", "ps", "events", "update"]


@pytest.fixture
def root(tmp_path):
    return tmp_path / "root"


def test_version(build_dir, root):
    r = runm(build_dir, root, "--version")
    assert r.returncode == 0
    lines = r.stdout.splitlines()
    assert re.fullmatch(r"runm version \d+\.\d+\.\d+", lines[0])
    assert lines[1].startswith("commit: ") and lines[2].startswith("spec: 1.")
    assert runm(build_dir, root, "-v").stdout == r.stdout


def test_help_and_unknown(build_dir, root):
    r = runm(build_dir, root, "--help")
    assert r.returncode == 0 and "create" in r.stdout and "shim" not in r.stdout
    r = runm(build_dir, root, "frobnicate")
    assert r.returncode == 1 and "frobnicate" in r.stderr
    r = runm(build_dir, root, "--no-such-flag", "list")
    assert r.returncode == 1 and "flag provided but not defined" in r.stderr
    r = runm(build_dir, root, "kill", "--help")
    assert r.returncode == 0 and "--all" in r.stdout


@pytest.mark.parametrize("verb", VERBS_NEEDING_ID)
def test_unknown_id(build_dir, root, verb):
    r = runm(build_dir, root, verb, "nosuch")
    assert r.returncode == 1, r
    assert "container does not exist" in r.stderr
    assert not (root / "nosuch").exists()


def test_exec_unknown_id_exits_255(build_dir, root):
    r = runm(build_dir, root, "exec", "nosuch", "true")
    assert r.returncode == 255 and "container does not exist" in r.stderr


@pytest.mark.parametrize("verb", VERBS_NEEDING_ID + ["create", "exec"])
def test_missing_id(build_dir, root, verb):
    r = runm(build_dir, root, verb)
    assert r.returncode == (255 if verb == "exec" else 1)
    assert "requires" in r.stderr and "argument" in r.stderr
    assert "Incorrect Usage" in r.stderr


def test_too_many_args(build_dir, root):
    r = runm(build_dir, root, "state", "a", "b")
    assert r.returncode == 1 and "requires exactly 1 argument" in r.stderr
    r = runm(build_dir, root, "kill", "a", "KILL", "extra")
    assert r.returncode == 1 and "maximum of 2" in r.stderr


def test_delete_force_unknown_succeeds(build_dir, root):
    r = runm(build_dir, root, "delete", "--force", "nosuch")
    assert r.returncode == 0, r.stderr
    assert runm(build_dir, root, "delete", "-f", "nosuch").returncode == 0
    # flags after the id, as runc accepts
    assert runm(build_dir, root, "delete", "nosuch", "--force").returncode == 0


def test_log_format_json(build_dir, root, tmp_path):
    log = tmp_path / "log.json"
    r = runm(build_dir, root, "state", "nosuch", log=log, log_format="json")
    assert r.returncode == 1
    assert "container does not exist" in r.stderr
    lines = log.read_text().splitlines()
    assert len(lines) == 1
    entry = json.loads(lines[0])
    assert set(entry) == {"level", "msg", "time"}
    assert entry["level"] == "error" and entry["msg"] == "container does not exist"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", entry["time"])
    # --flag=value form, appended
    subprocess.run([str(build_dir / "runm"), f"--root={root}", f"--log={log}", "--log-format=json",
                    "kill", "nosuch"], capture_output=True)
    assert len(log.read_text().splitlines()) == 2
    # successful commands write nothing
    assert runm(build_dir, root, "list", log=log, log_format="json").returncode == 0
    assert len(log.read_text().splitlines()) == 2


def test_bad_log_format(build_dir, root):
    r = runm(build_dir, root, "list", log_format="xml")
    assert r.returncode == 1 and "log-format" in r.stderr


def test_list_empty(build_dir, root):
    r = runm(build_dir, root, "list")
    assert r.returncode == 0 and r.stdout.split() == ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]
    r = runm(build_dir, root, "list", "--format", "json")
    assert r.returncode == 0 and json.loads(r.stdout) == []
    r = runm(build_dir, root, "list", "-q")
    assert r.returncode == 0 and r.stdout == ""
    r = runm(build_dir, root, "list", "--format=yaml")
    assert r.returncode == 1 and "format" in r.stderr


def test_checkpoint_restore_unsupported(build_dir, root):
    for args in (["checkpoint", "x"], ["checkpoint", "--help"], ["restore", "x"], ["restore", "--help"]):
        r = runm(build_dir, root, *args)
        assert r.returncode != 0, args
        assert "not supported" in r.stderr


def test_features(build_dir, root):
    r = runm(build_dir, root, "features")
    assert r.returncode == 0
    f = json.loads(r.stdout)
    assert f["ociVersionMin"].startswith("1.") and f["ociVersionMax"].startswith("1.")
    assert "poststop" in f["hooks"] and "pid" in f["linux"]["namespaces"]
    assert "user" in f["linux"]["namespaces"]  # in the guest (test_userns.py)


def test_spec(build_dir, root, tmp_path):
    d = tmp_path / "b"
    d.mkdir()
    r = runm(build_dir, root, "spec", "--bundle", d)
    assert r.returncode == 0, r.stderr
    cfg = json.loads((d / "config.json").read_text())
    assert cfg["process"]["args"] == ["sh"] and cfg["root"]["path"] == "rootfs"
    r = runm(build_dir, root, "spec", "-b", d)
    assert r.returncode == 1 and "exists" in r.stderr
    r = runm(build_dir, root, "spec", "--rootless", cwd=tmp_path)
    cfg = json.loads((tmp_path / "config.json").read_text())
    assert any(n["type"] == "user" for n in cfg["linux"]["namespaces"])


def test_check(build_dir, root):
    r = runm(build_dir, root, "check")
    assert "virtualization:" in r.stdout and "backend:" in r.stdout and "qemu:" in r.stdout
    # on this kind of host (no VMX/SVM) the reason is spelled out
    flags = pathlib.Path("/proc/cpuinfo").read_text()
    if " vmx" not in flags and " svm" not in flags:
        assert "without VMX/SVM" in r.stdout or "/dev/kvm" in r.stdout


def test_check_backend_choice(build_dir, root, tmp_path):
    """runm check reports the backend and what chose it: flag over $RUNM_BACKEND over the config
    file ($RUNM_CONFIG); "auto" defers to the host; bad values are one clear error."""
    env = {k: v for k, v in os.environ.items() if k not in ("RUNM_BACKEND", "RUNM_CONFIG")}

    def backend(*args, **extra):
        r = runm(build_dir, root, *args, "check", env=dict(env, **extra))
        lines = dict(l.split(":", 1) for l in r.stdout.splitlines() if ":" in l)
        return r, lines.get("backend", "").strip(), lines.get("backend reason", "").strip()

    cfg = tmp_path / "config.json"
    cfg.write_text('{"backend": "qemu"}')
    r, b, why = backend(RUNM_CONFIG=str(cfg))
    # the one reason sentence (runtime/backend/backend_plan.h): what runs, who chose it, the host
    virt = next(l.split(":", 1)[1].split(":", 1)[1].strip() for l in r.stdout.splitlines()
                if l.startswith("virtualization:"))
    assert why.startswith("qemu (") and f") chosen by config {cfg}; " in why, r.stdout
    assert why.endswith("; " + virt), r.stdout  # the same host facts as the virtualization line
    r, b, why = backend(RUNM_CONFIG=str(cfg), RUNM_BACKEND="runm-vmm")
    assert b.startswith("runm-vmm") and why.startswith("runm-vmm (KVM) chosen by RUNM_BACKEND; "), r.stdout
    r, b, why = backend("--backend", "qemu", RUNM_CONFIG=str(cfg), RUNM_BACKEND="runm-vmm")
    assert b.startswith("qemu") and ") chosen by --backend; " in why, r.stdout
    r, b, why = backend("--backend=auto", RUNM_BACKEND="runm-vmm")
    assert "chosen automatically (--backend says auto); " in why, r.stdout
    flags = pathlib.Path("/proc/cpuinfo").read_text()
    if " vmx" not in flags and " svm" not in flags:
        assert b.startswith("qemu (TCG)") and r.returncode == 0, r.stdout
        # forcing runm-vmm here is allowed, and check says it cannot work
        r, b, why = backend("--backend", "runm-vmm")
        assert r.returncode == 1 and "needs hardware virtualization" in r.stdout, r.stdout
    # bad input: one clear error, exit 1
    r = runm(build_dir, root, "--backend", "firecracker", "check", env=env)
    assert r.returncode == 1 and "--backend firecracker: want auto, runm-vmm or qemu" in r.stderr
    cfg.write_text('{"backend": "qemu", "kernel": "/k"}')
    r, b, why = backend(RUNM_CONFIG=str(cfg))
    assert r.returncode == 1 and f'config {cfg}: unknown key "kernel"' in b, r.stdout
    r, b, why = backend(RUNM_CONFIG=str(tmp_path / "missing.json"))
    assert r.returncode == 1 and "No such file or directory" in b, r.stdout


# --- create: bad input → one clear error, exit 1, nothing left under --root ------------------

def assert_nothing_left(root, cid):
    assert not (root / cid).exists(), list((root / cid).iterdir())


def test_create_missing_bundle(build_dir, root, tmp_path):
    r = runm(build_dir, root, "create", "--bundle", tmp_path / "nope", "c1")
    assert r.returncode == 1 and "nope" in r.stderr
    assert_nothing_left(root, "c1")


def test_create_no_config(build_dir, root, tmp_path):
    (tmp_path / "b").mkdir()
    r = runm(build_dir, root, "create", "-b", tmp_path / "b", "c1")
    assert r.returncode == 1 and "config.json" in r.stderr and "No such file" in r.stderr
    assert_nothing_left(root, "c1")


@pytest.mark.parametrize("text,needle", [
    ("{not json", "invalid JSON"),
    ("[1,2]", "JSON object"),
    ('{"ociVersion":"1.0.2","root":{"path":"rootfs"}}', "process"),
    ('{"ociVersion":"1.0.2","process":{"args":[]},"root":{"path":"rootfs"}}', "args must not be empty"),
    ('{"ociVersion":"1.0.2","process":{"args":["sh"],"cwd":"x"},"root":{"path":"rootfs"}}', "cwd"),
    ('{"ociVersion":"1.0.2","process":{"args":["sh"]},"root":{"path":"nowhere"}}', "nowhere"),
])
def test_create_malformed_config(build_dir, root, bundle, text, needle):
    (bundle / "config.json").write_text(text)
    r = runm(build_dir, root, "create", "--bundle", bundle, "c1")
    assert r.returncode == 1
    assert needle in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert_nothing_left(root, "c1")


def test_create_invalid_id(build_dir, root, bundle):
    for bad in ("a/b", "..", "a b"):
        r = runm(build_dir, root, "create", "--bundle", bundle, bad)
        assert r.returncode == 1 and "invalid container ID format" in r.stderr
    assert not root.exists() or list(root.iterdir()) == []


def test_create_tty_needs_console_socket(build_dir, root, bundle):
    cfg = json.loads((bundle / "config.json").read_text())
    cfg["process"]["terminal"] = True
    (bundle / "config.json").write_text(json.dumps(cfg))
    r = runm(build_dir, root, "create", "--bundle", bundle, "c1")
    assert r.returncode == 1 and "console socket" in r.stderr
    assert_nothing_left(root, "c1")


def test_create_console_socket_without_tty(build_dir, root, bundle, tmp_path):
    r = runm(build_dir, root, "create", "--bundle", bundle, "--console-socket", tmp_path / "s", "c1")
    assert r.returncode == 1 and "console socket" in r.stderr
    assert_nothing_left(root, "c1")


def test_create_preserve_fds_refused(build_dir, root, bundle):
    r = runm(build_dir, root, "create", "--bundle", bundle, "--preserve-fds", "2", "c1")
    assert r.returncode == 1 and "preserve-fds" in r.stderr
    assert_nothing_left(root, "c1")


def test_create_existing_id(build_dir, root, bundle):
    (root / "taken").mkdir(parents=True)
    r = runm(build_dir, root, "create", "--bundle", bundle, "taken")
    assert r.returncode == 1 and "container with given ID already exists" in r.stderr
    assert (root / "taken").is_dir()  # somebody else's: untouched


def test_create_vm_that_dies_at_boot_fails_fast(build_dir, root, bundle):
    """A guest that ends before its agent answers (here a mini-guest kernel that prints and
    resets at once on runm-vmm) fails create within seconds, saying so, not after the whole
    boot timeout with a missing-socket error; nothing is left behind."""
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        pytest.skip("/dev/kvm is not accessible: runm-vmm cannot start a VM here")
    cfg = json.loads((bundle / "config.json").read_text())
    cfg.setdefault("annotations", {}).update({
        "io.runm.kernel": str(build_dir / "guests" / "hello.elf"), "io.runm.backend": "runm-vmm"})
    (bundle / "config.json").write_text(json.dumps(cfg))
    t0 = time.monotonic()
    r = runm(build_dir, root, "create", "--bundle", bundle, "c1", timeout=120)
    took = time.monotonic() - t0
    assert r.returncode == 1, r.stderr
    assert "the VM ended before its agent answered (exit status 0" in r.stderr, r.stderr
    assert "No such file or directory" not in r.stderr, r.stderr  # podman reads that as "runtime not found"
    # the logs go with the state directory: their last lines travel in the error
    assert 'last console line: "hello from runm mini-guest"' in r.stderr, r.stderr
    assert took < 30, f"create took {took:.1f} s"
    assert_nothing_left(root, "c1")


# --- state truthfulness and the verbs' state machine ----------------------------------------
# A real shim needs a booting VM (tests/integration/test_lifecycle.py). Here a sleeping process
# plays the shim: the CLI judges liveness purely by pid + start time (docs/cli.md).

@pytest.fixture
def fake_shim():
    p = subprocess.Popen(["sleep", "300"])
    yield p
    if p.poll() is None:
        p.kill()
    p.wait()


def test_state_running_then_killed(build_dir, root, bundle, fake_shim):
    write_state(root, "c1", fake_shim.pid, "running", bundle)
    st = json.loads(runm(build_dir, root, "state", "c1").stdout)
    assert st["status"] == "running" and st["pid"] == fake_shim.pid
    assert st["id"] == "c1" and st["bundle"] == str(bundle) and st["annotations"] == {"k": "v"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z", st["created"])
    assert {"ociVersion", "owner", "rootfs"} <= set(st)
    fake_shim.send_signal(signal.SIGKILL)
    fake_shim.wait()
    st = json.loads(runm(build_dir, root, "state", "c1").stdout)
    assert st["status"] == "stopped" and st["pid"] == 0
    lst = json.loads(runm(build_dir, root, "list", "--format", "json").stdout)
    assert [(c["id"], c["status"], c["pid"]) for c in lst] == [("c1", "stopped", 0)]


def test_state_pid_reuse_is_stopped(build_dir, root, bundle, fake_shim):
    # same pid, different start time: a recycled pid is not our shim
    write_state(root, "c1", fake_shim.pid, "running", bundle, start=start_time(fake_shim.pid) + 1)
    st = json.loads(runm(build_dir, root, "state", "c1").stdout)
    assert st["status"] == "stopped" and st["pid"] == 0


def test_verbs_on_running(build_dir, root, bundle, fake_shim):
    write_state(root, "c1", fake_shim.pid, "running", bundle)
    r = runm(build_dir, root, "start", "c1")
    assert r.returncode == 1 and "cannot start an already running container" in r.stderr
    r = runm(build_dir, root, "delete", "c1")
    assert r.returncode == 1 and "cannot delete container c1 that is not stopped: running" in r.stderr
    assert (root / "c1").exists()
    r = runm(build_dir, root, "kill", "c1", "NOSUCHSIG")
    assert r.returncode == 1 and "signal" in r.stderr
    r = runm(build_dir, root, "resume", "c1")
    assert r.returncode == 1 and "container not paused" in r.stderr


def test_verbs_on_stopped(build_dir, root, bundle, fake_shim):
    write_state(root, "c1", fake_shim.pid, "running", bundle)
    fake_shim.kill()
    fake_shim.wait()
    for sig in ("KILL", "SIGTERM", "9", "term"):
        r = runm(build_dir, root, "kill", "c1", sig)
        assert r.returncode == 1 and "container not running" in r.stderr, sig
    r = runm(build_dir, root, "start", "c1")
    assert r.returncode == 1 and "cannot start a container that has stopped" in r.stderr
    r = runm(build_dir, root, "pause", "c1")
    assert r.returncode == 1 and "container not running" in r.stderr
    r = runm(build_dir, root, "exec", "c1", "true")
    assert r.returncode == 255 and "cannot exec in a stopped container" in r.stderr
    r = runm(build_dir, root, "ps", "c1")  # runc 1.1.5: the header alone, exit 0
    assert r.returncode == 0 and r.stdout.split() == "UID PID PPID C STIME TTY TIME CMD".split(), r
    r = runm(build_dir, root, "delete", "c1")
    assert r.returncode == 0, r.stderr
    assert not (root / "c1").exists()
    r = runm(build_dir, root, "state", "c1")
    assert r.returncode == 1 and "container does not exist" in r.stderr


def test_delete_force_kills_shim_and_runs_poststop(build_dir, root, bundle, fake_shim, tmp_path):
    marker = tmp_path / "poststop.json"
    cfg = json.loads((bundle / "config.json").read_text())
    cfg["hooks"] = {"poststop": [{"path": "/bin/sh", "args": ["sh", "-c", f"cat > {marker}"]}]}
    (bundle / "config.json").write_text(json.dumps(cfg))
    write_state(root, "c1", fake_shim.pid, "created", bundle)
    (root / "c1" / "shim.sock").write_text("")  # stale socket file
    r = runm(build_dir, root, "delete", "--force", "c1")
    assert r.returncode == 0, r.stderr
    assert wait_gone(fake_shim.pid) or fake_shim.poll() is not None
    assert not (root / "c1").exists()
    hook_state = json.loads(marker.read_text())
    assert hook_state["id"] == "c1" and hook_state["status"] == "stopped"


def test_list_formats(build_dir, root, bundle, fake_shim):
    write_state(root, "b2", fake_shim.pid, "running", bundle)
    write_state(root, "a1", fake_shim.pid, "paused", bundle)
    r = runm(build_dir, root, "list", "-q")
    assert r.stdout.split() == ["a1", "b2"]
    rows = runm(build_dir, root, "list").stdout.splitlines()
    assert rows[1].split()[:3] == ["a1", str(fake_shim.pid), "paused"]
    js = json.loads(runm(build_dir, root, "list", "--format", "json").stdout)
    assert [c["status"] for c in js] == ["paused", "running"]


def test_corrupt_state_is_reported(build_dir, root, bundle):
    (root / "c1").mkdir(parents=True)
    (root / "c1" / "state.json").write_text("{garbage")
    r = runm(build_dir, root, "state", "c1")
    assert r.returncode == 1 and "state.json" in r.stderr and "corrupt" in r.stderr
    r = runm(build_dir, root, "delete", "c1")
    assert r.returncode == 1
    r = runm(build_dir, root, "delete", "--force", "c1")
    assert r.returncode == 0 and not (root / "c1").exists()


def test_update_bad_resources(build_dir, root, bundle, fake_shim, tmp_path):
    write_state(root, "c1", fake_shim.pid, "running", bundle)
    r = runm(build_dir, root, "update", "--resources", tmp_path / "nope.json", "c1")
    assert r.returncode == 1 and "nope.json" in r.stderr
    r = runm(build_dir, root, "update", "-r", "-", "c1", input="{bad")
    assert r.returncode == 1 and "decode resources" in r.stderr
    r = runm(build_dir, root, "update", "--memory", "lots", "c1")
    assert r.returncode == 1 and "--memory" in r.stderr


def test_events_bad_interval(build_dir, root, bundle, fake_shim):
    write_state(root, "c1", fake_shim.pid, "running", bundle)
    r = runm(build_dir, root, "events", "--interval", "0s", "c1")
    assert r.returncode == 1 and "interval" in r.stderr
