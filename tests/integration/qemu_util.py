"""Helpers for the QEMU backend tests: test initramfs images, runm-vmctl runs, process checks."""
import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
MKINITRAMFS = ROOT / "rootfs-builder" / "mkinitramfs.py"
BASE_CMDLINE = "console=ttyS0 reboot=k panic=-1 quiet no_timer_check"  # see backend_qemu.c


def test_init_path(build_dir):
    p = build_dir / "linux-guests" / "runm-test-init"
    if not p.exists():
        pytest.fail(f"{p} missing: run `make` first")
    return p


def make_test_initramfs(build_dir, out):
    subprocess.run([sys.executable, str(MKINITRAMFS), "--init", str(test_init_path(build_dir)),
                    "-o", str(out)], check=True)
    return out


def vsock_available(build_dir):
    """Whether `runm-vmm vhost-user` can serve a vsock device (the device library has it)."""
    out = subprocess.run([str(build_dir / "runm-vmm"), "vhost-user", "--help"], capture_output=True,
                         text=True).stdout
    return "vsock" in out.split("kinds here:")[-1]


def connect_port(uds, port, timeout=60.0, vm=None):
    """Connect through the hybrid vsock UDS, retrying until the guest listens."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        try:
            s.connect(str(uds))
            s.sendall(f"CONNECT {port}\n".encode())
            f = s.makefile("rb")
            line = f.readline()
            if line.startswith(b"OK "):
                int(line[3:].strip())  # the host-side port number
                return s, f
            last = line
        except OSError as e:
            last = e
        s.close()
        time.sleep(0.1)
    why = f"CONNECT {port} never succeeded: {last!r}"
    if vm is not None:
        why += f"; runm-vmctl rc={vm.proc.poll()}; {vm.diagnostics()}"
    raise AssertionError(why)


def pid_alive(pid):
    """True while pid exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def wait_dead(pids, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(pid_alive(p) for p in pids):
            return True
        time.sleep(0.05)
    return False


def wait_for_text(path, text, timeout=30.0, proc=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if text in pathlib.Path(path).read_text(errors="replace"):
                return True
        except FileNotFoundError:
            pass
        if proc is not None and proc.poll() is not None:
            return False
        time.sleep(0.05)
    return False


class VmCtl:
    """One runm-vmctl run in the background."""

    def __init__(self, build_dir, run_dir, kernel, initrd, test_mode, extra=(), cmdline_extra=""):
        self.run_dir = pathlib.Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.console = self.run_dir / "console.log"
        cmd = [str(build_dir / "runm-vmctl"), "--backend", "qemu", "--kernel", str(kernel),
               "--initrd", str(initrd), "--cmdline",
               f"{BASE_CMDLINE} runm_test={test_mode} {cmdline_extra}".strip(),
               "--run-dir", str(self.run_dir), "--console", str(self.console),
               "--timeout", "60"] + list(extra)
        # RUNM_TEST_DEVICE_SERVER=build/asan/runm-vmm runs the device servers under ASan+UBSan.
        if os.environ.get("RUNM_TEST_DEVICE_SERVER"):
            cmd += ["--runm-vmm", os.environ["RUNM_TEST_DEVICE_SERVER"]]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line:
            out, err = self.proc.communicate(timeout=30)
            raise AssertionError(f"runm-vmctl did not start the VM: rc={self.proc.returncode} {err}")
        self.started = json.loads(line)
        self.pids = self.started["pids"]

    def wait(self, timeout=60):
        out, err = self.proc.communicate(timeout=timeout)
        self.stderr = err
        lines = [json.loads(l) for l in out.splitlines() if l.strip()]
        return self.proc.returncode, lines, err

    def diagnostics(self):
        out = []
        for name in ("vmm.log", "console.log"):
            p = self.run_dir / name
            out.append(f"{name}: {p.read_text(errors='replace')[-2000:] if p.exists() else '(none)'}")
        return "\n".join(out)

    def stop(self):
        """SIGTERM: runm-vmctl stops the VM and cleans up; returns its exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        return self.proc.poll()

    def kill(self):
        self.stop()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        for p in self.pids:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
