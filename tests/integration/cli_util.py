"""Helpers for the runm CLI tests: run build/runm with a private --root."""
import json
import os
import pathlib
import subprocess
import time


def runm(build_dir, root, *args, input=None, timeout=60, log=None, log_format=None, cwd=None, env=None):
    cmd = [str(build_dir / "runm"), "--root", str(root)]
    if log:
        cmd += ["--log", str(log)]
    if log_format:
        cmd += ["--log-format", log_format]
    cmd += [str(a) for a in args]
    return subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout, cwd=cwd,
                          env=env)


def start_time(pid):
    """Field 22 of /proc/PID/stat (the comm may contain spaces and parentheses)."""
    stat = pathlib.Path(f"/proc/{pid}/stat").read_text()
    return int(stat[stat.rindex(")") + 2:].split()[19])


def write_state(root, cid, pid, status, bundle, start=None):
    """Write the on-disk state of a container whose "shim" is PID (docs/cli.md, State)."""
    d = pathlib.Path(root) / cid
    d.mkdir(parents=True, exist_ok=True)
    st = {"ociVersion": "1.1.0", "id": cid, "pid": pid, "status": status, "bundle": str(bundle),
          "rootfs": str(pathlib.Path(bundle) / "rootfs"), "created": "2026-11-22T04:00:00.000000001Z",
          "owner": "", "annotations": {"k": "v"},
          "runm_start_time": str(start if start is not None else start_time(pid)),
          "runm_exit_status": -1}
    (d / "state.json").write_text(json.dumps(st))
    return d


def wait_gone(pid, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.02)
    return False
