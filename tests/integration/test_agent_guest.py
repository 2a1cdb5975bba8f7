"""runm-agent as PID 1 of our guest (QEMU TCG; the KVM here cannot run Linux): it boots to
"listening" with its PID-1 mounts done and no errors."""
import os
import subprocess
import time

import pytest


def test_agent_pid1_boots_to_listening(guest_dir):
    cmd = ["qemu-system-x86_64", "-M", "pc", "-accel", "tcg", "-m", "256", "-smp", "1",
           "-nodefaults", "-no-user-config", "-nographic", "-serial", "stdio", "-no-reboot",
           "-kernel", str(guest_dir / "vmlinux"), "-initrd", str(guest_dir / "initramfs.cpio"),
           "-append", "console=ttyS0 reboot=k panic=-1 quiet runm.debug"]
    start = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    os.set_blocking(p.stdout.fileno(), False)
    out, seen = b"", None
    try:
        while time.monotonic() - start < 60 and p.poll() is None:
            chunk = p.stdout.read()
            if chunk:
                out += chunk
                if b"runm-agent: debug: listening" in out:
                    seen = time.monotonic() - start
                    break
            time.sleep(0.05)
    finally:
        p.kill()
        p.wait()
    text = out.decode(errors="replace")
    assert seen is not None, text[-3000:]
    # every PID-1 step worked: no error lines before "listening"
    assert "runm-agent: " not in text.replace("runm-agent: debug: listening", ""), text[-3000:]
    print(f"agent listening {seen:.2f}s after QEMU start")
