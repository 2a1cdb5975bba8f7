"""runm-vmm against the freestanding mini-guests in tests/guests (ASan build)."""
import os
import re
import subprocess
import time

import pytest

from conftest import hw_virt_reason
from vmm_util import ASAN_ENV, GUESTS, assert_sanitizer_clean, guest, run_guest, run_vmm, vmm


def test_hello_serial_and_i8042_reset():
    r = run_guest("hello")
    assert r.returncode == 0, r.stderr
    assert "hello from runm mini-guest" in r.stdout
    assert r.stderr == ""
    assert_sanitizer_clean(r)


def test_bootparams_cmdline_e820_initrd(tmp_path):
    initrd = tmp_path / "initrd.img"
    data = bytes((i * 7 + 3) & 0xFF for i in range(10000))
    initrd.write_bytes(data)
    r = run_vmm(["--kernel", guest("bootparams"), "--mem", "32", "--initrd", initrd,
                 "--cmdline", "console=ttyS0 runm.test=42", "--rng"])
    assert r.returncode == 0, r.stderr
    out = dict(line.split("=", 1) for line in r.stdout.splitlines() if "=" in line and " " not in line.split("=")[0])
    # cmdline: ours first, then one declaration per virtio-mmio device
    assert out["cmdline"] == "console=ttyS0 runm.test=42 virtio_mmio.device=4K@0xd0000000:5"
    assert out["cmdline_ptr"] == "0x20000"
    m = re.search(r"initrd=0x([0-9a-f]+) size=(\d+)", r.stdout)
    addr, size = int(m.group(1), 16), int(m.group(2))
    assert size == len(data)
    assert addr % 4096 == 0
    assert addr + size <= 32 << 20 and addr + size > (32 << 20) - 4096  # top of low RAM
    s = 0
    for b in data[:4096]:
        s = (s * 31 + b) & 0xFFFFFFFF
    assert int(out["initrd_sum"]) == s
    e820 = re.findall(r"^e820 0x([0-9a-f]+) 0x([0-9a-f]+) (\d+)$", r.stdout, re.M)
    assert [(int(a, 16), int(b, 16), int(t)) for a, b, t in e820] == [
        (0, 0x9FC00, 1), (0x100000, (32 << 20) - 0x100000, 1)]
    assert_sanitizer_clean(r)


def test_default_cmdline_without_devices():
    r = run_guest("bootparams")
    assert r.returncode == 0, r.stderr
    assert "cmdline=console=ttyS0 reboot=k panic=-1 " in r.stdout
    assert "virtio_mmio.device" not in r.stdout
    assert "initrd=0x0 size=0" in r.stdout


def test_smp_each_vcpu_prints_apic_id():
    r = run_guest("smp", "--cpus", "2", timeout=90)
    assert r.returncode == 0, r.stderr
    assert "mp cpus=2" in r.stdout
    cpus = sorted(re.findall(r"cpu apic=(\d+) cpuid_apic=(\d+) x2apic=(\d+) logical=(\d+)", r.stdout))
    # each vCPU's CPUID carries its own APIC id (leaf 1 and leaf 0xb) and the CPU count
    assert cpus == [("0", "0", "0", "2"), ("1", "1", "1", "2")], r.stdout
    assert "online=2" in r.stdout
    assert_sanitizer_clean(r)


def test_serial_input_echo_by_interrupt():
    p = subprocess.Popen([str(vmm()), "--kernel", str(guest("serial_echo")), "--mem", "16"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ASAN_ENV)
    # wait for the guest to be listening before typing
    line = p.stdout.readline()
    assert line.strip() == b"ready"
    p.stdin.write(b"hello runm\n")
    p.stdin.flush()
    time.sleep(0.3)
    out, err = p.communicate(input=b"second line\nquit\n", timeout=60)
    assert p.returncode == 0, err.decode()
    text = out.decode()
    assert "echo: hello runm" in text
    assert "echo: second line" in text
    assert int(re.search(r"irqs=(\d+)", text).group(1)) >= 1


def test_triple_fault_reports_vcpu_rip_and_bytes():
    r = run_guest("fault")
    assert r.returncode != 0
    assert "FAIL: deliberate triple fault" in r.stdout
    m = re.search(r"vCPU 0: triple fault \(KVM_EXIT_SHUTDOWN\) at rip 0x([0-9a-f]+).*instruction bytes ((?:[0-9a-f]{2} ?)+)",
                  r.stderr)
    assert m, r.stderr
    assert m.group(2).startswith("0f 0b")  # the ud2 that faulted
    assert_sanitizer_clean(r)


def test_virtio_probe_and_feature_negotiation():
    r = run_guest("virtio_probe", "--rng")
    assert r.returncode == 0, r.stderr + r.stdout
    assert "device id=4 irq=5 base=0xd0000000 vendor=0x4d4e5552" in r.stdout
    feats = int(re.search(r"^features=0x([0-9a-f]+)", r.stdout, re.M).group(1), 16)
    assert feats & (1 << 32)  # VERSION_1
    assert "without VERSION_1: refused" in r.stdout
    assert "unoffered bit: refused" in r.stdout
    assert re.search(r"negotiated=0x1?[0-9a-f]{8} status=0xb", r.stdout)
    assert "queue0 max=256" in r.stdout or re.search(r"queue0 max=[1-9]", r.stdout)
    assert "queue7 max=0" in r.stdout
    assert_sanitizer_clean(r)


def test_virtio_rng_virtqueue_with_interrupt():
    r = run_guest("virtio_rng", "--rng")
    assert r.returncode == 0, r.stderr + r.stdout
    rounds = re.findall(r"round (\d): used id=\d+ len=64 nonzero=(\d+)", r.stdout)
    assert len(rounds) == 2
    assert all(int(nz) > 40 for _, nz in rounds)
    m = re.search(r"irqs=(\d+) isr=0x([0-9a-f]+)", r.stdout)
    assert int(m.group(1)) >= 2 and int(m.group(2), 16) & 1
    assert_sanitizer_clean(r)


def test_hostile_guest_gets_needs_reset_and_vmm_survives():
    r = run_guest("hostile", "--rng", timeout=120)
    assert r.returncode == 0, r.stderr + r.stdout
    for case in ("addr_out_of_range", "loop", "huge_len", "bad_avail_idx", "bad_head", "bad_next"):
        assert f"case {case}: needs_reset=1" in r.stdout, r.stdout
    assert "recovered: used len=32" in r.stdout
    assert_sanitizer_clean(r)


def test_linux_boots_on_runm_vmm(request):
    reason = hw_virt_reason()
    if reason:
        pytest.skip(f"Linux boot on runm-vmm skipped: {reason}")
    guest_dir = request.getfixturevalue("guest_dir")
    # An init that does not exist makes the kernel panic after mounting the
    # initramfs; with panic=-1 reboot=k it resets through the i8042 -> exit 0.
    r = run_vmm(["--kernel", guest_dir / "vmlinux", "--initrd", guest_dir / "initramfs.cpio", "--mem", "256",
                 "--cmdline", "console=ttyS0 reboot=k panic=-1 pci=off rdinit=/runm-no-such-init "
                 "init=/runm-no-such-init"], timeout=120)
    assert r.returncode == 0, r.stderr
    assert "Linux version" in r.stdout
    assert "Run /runm-no-such-init as init process" in r.stdout
    assert "Kernel panic" in r.stdout


def test_uart_registers_as_linux_probes_them():
    r = run_guest("uart_probe")
    assert r.returncode == 0, r.stderr
    for name in ("scratch", "ier", "loopback_msr", "loopback_data", "fifo", "thre_iir", "dlab",
                 "i8042_status", "i8042_selftest", "i8042_ctr", "i8042_iface", "unknown_port", "unmapped_mmio"):
        assert f"{name}=ok" in r.stdout, r.stdout
    assert "uart ok" in r.stdout


def test_memory_above_the_mmio_gap_is_in_e820():
    r = run_vmm(["--kernel", guest("bootparams"), "--mem", "4096"])
    assert r.returncode == 0, r.stderr
    e820 = [(int(a, 16), int(b, 16), int(t))
            for a, b, t in re.findall(r"^e820 0x([0-9a-f]+) 0x([0-9a-f]+) (\d+)$", r.stdout, re.M)]
    assert e820 == [(0, 0x9FC00, 1), (0x100000, 0xD0000000 - 0x100000, 1),
                    (0x100000000, (4096 << 20) - 0xD0000000, 1)]
    # the initrd-less guest still sees no ramdisk
    assert "initrd=0x0 size=0" in r.stdout


def test_internal_error_reports_vcpu_rip_and_bytes():
    r = run_guest("swint")
    if hw_virt_reason() is None:
        # real VMX/SVM delivers the software interrupt
        assert r.returncode == 0 and "delivered to vector 0x21" in r.stdout
        return
    assert r.returncode == 1, r.stderr
    m = re.search(r"^runm-vmm: vCPU 0: KVM internal error \(suberror \d+\) at rip 0x([0-9a-f]+) .*"
                  r"instruction bytes cd 21", r.stderr, re.M)
    assert m, r.stderr
    assert_sanitizer_clean(r)


def test_tty_console_is_raw_while_running_and_restored():
    import pty
    import termios
    master, slave = pty.openpty()
    before = termios.tcgetattr(slave)
    p = subprocess.Popen([str(vmm()), "--kernel", str(guest("serial_echo")), "--mem", "16"],
                         stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ASAN_ENV)
    try:
        assert p.stdout.readline().strip() == b"ready"
        during = termios.tcgetattr(slave)
        assert not (during[3] & termios.ICANON) and not (during[3] & termios.ECHO)
        # raw mode: a carriage return reaches the guest as is (no line discipline)
        os.write(master, b"raw input\rquit\r")
        out, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        after = termios.tcgetattr(slave)
        os.close(master)
        os.close(slave)
    assert p.returncode == 0, err.decode()
    assert b"echo: raw input" in out
    assert after == before


def test_pvh_entry_and_start_info(tmp_path):
    """An ELF with the Xen PVH note is entered in 32-bit mode with ebx = hvm_start_info."""
    initrd = tmp_path / "initrd.img"
    data = bytes((i * 13 + 1) & 0xFF for i in range(6000))
    initrd.write_bytes(data)
    r = run_vmm(["--kernel", guest("pvh"), "--mem", "32", "--initrd", initrd, "--cmdline", "pvh runm.test=1"])
    assert r.returncode == 0, r.stderr
    assert "mode=pvh start_info=0x6000" in r.stdout
    assert "magic=0x336ec578 version=1" in r.stdout
    assert "cmdline=pvh runm.test=1" in r.stdout
    memmap = [(int(a, 16), int(b, 16), int(t))
              for a, b, t in re.findall(r"^memmap 0x([0-9a-f]+) 0x([0-9a-f]+) (\d+)$", r.stdout, re.M)]
    assert memmap == [(0, 0x9FC00, 1), (0x100000, (32 << 20) - 0x100000, 1)]
    m = re.search(r"^module 0x([0-9a-f]+) size=(\d+) sum=(\d+)$", r.stdout, re.M)
    assert m and int(m.group(2)) == len(data)
    assert int(m.group(1), 16) % 4096 == 0
    s = 0
    for b in data[:4096]:
        s = (s * 31 + b) & 0xFFFFFFFF
    assert int(m.group(3)) == s
    assert_sanitizer_clean(r)


def test_bzimage_boot_protocol(tmp_path):
    """A mini-guest wrapped as a bzImage (protocol 2.15, 64-bit entry at +0x200)."""
    bz = GUESTS / "bootparams.bzImage"
    if not bz.exists():
        pytest.fail(f"{bz} missing: run `make guests` first")
    initrd = tmp_path / "initrd.img"
    initrd.write_bytes(b"runm" * 1000)
    r = run_vmm(["--kernel", bz, "--mem", "32", "--initrd", initrd, "--cmdline", "bz runm.test=2"])
    assert r.returncode == 0, r.stderr
    assert "cmdline=bz runm.test=2" in r.stdout
    assert "hdr_version=0x20f loader=0xff" in r.stdout  # setup header copied, type_of_loader set
    m = re.search(r"initrd=0x([0-9a-f]+) size=(\d+)", r.stdout)
    assert int(m.group(2)) == 4000 and int(m.group(1), 16) % 4096 == 0
    # the bzImage declares cmdline_size 1024
    r = run_vmm(["--kernel", bz, "--mem", "32", "--cmdline", "y" * 1100])
    assert r.returncode == 1 and "longer than the kernel accepts (1023)" in r.stderr, r.stderr
