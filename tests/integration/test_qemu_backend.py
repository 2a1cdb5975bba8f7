"""The QEMU backend (runtime/backend via runm-vmctl): our kernel boots under QEMU with a device
served over vhost-user by `runm-vmm vhost-user` (virtio-rng from the device library), and every
process and socket is gone when the VM ends — also when any one of them is killed -9."""
import json
import os
import signal
import subprocess
import time

import pytest

from qemu_util import VmCtl, make_test_initramfs, pid_alive, wait_dead, wait_for_text


@pytest.fixture(scope="module")
def initrd(build_dir, tmp_path_factory):
    return make_test_initramfs(build_dir, tmp_path_factory.mktemp("initrd") / "test-init.cpio")


@pytest.fixture(scope="module")
def kernel(guest_dir):
    return guest_dir / "vmlinux"


def hw_virt():
    flags = open("/proc/cpuinfo").read().split()
    return ("vmx" in flags or "svm" in flags) and os.access("/dev/kvm", os.R_OK | os.W_OK)


def test_explain_reports_choice_and_reason(build_dir):
    out = subprocess.run([str(build_dir / "runm-vmctl"), "--explain"], capture_output=True,
                         text=True, check=True).stdout
    e = json.loads(out)
    if hw_virt():
        assert (e["backend"], e["accel"]) == ("runm-vmm", "kvm")
    else:
        assert (e["backend"], e["accel"]) == ("qemu", "tcg")
        assert e["reason"].startswith("qemu (TCG) chosen automatically; ") and "vmx/svm" in e["reason"]
    forced = json.loads(subprocess.run([str(build_dir / "runm-vmctl"), "--explain", "--accel", "kvm",
                                        "--backend", "qemu"], capture_output=True, text=True,
                                       check=True).stdout)
    assert forced["accel"] == "kvm" and forced["backend"] == "qemu"
    assert forced["reason"].startswith("qemu (KVM) chosen by --backend, KVM by --accel; "), forced
    if not hw_virt():
        noq = json.loads(subprocess.run([str(build_dir / "runm-vmctl"), "--explain"],
                                        capture_output=True, text=True, check=True,
                                        env=dict(os.environ, PATH="/nonexistent")).stdout)
        assert "qemu-system-x86_64 is not in PATH" in noq["reason"]


def test_rng_served_over_vhost_user(build_dir, kernel, initrd, tmp_path):
    # A comma in the path: QEMU option values need it escaped.
    vm = VmCtl(build_dir, tmp_path / "run,1", kernel, initrd, "rng", extra=["--rng"])
    assert vm.started["backend"] == "qemu"
    assert len(vm.pids) == 2  # qemu + the rng device server
    rc, lines, err = vm.wait()
    console = vm.console.read_text(errors="replace")
    assert rc == 0, f"{err}\n{console}"
    assert lines[-1] == {"event": "exited", "status": 0}
    rng = [l for l in console.splitlines() if l.startswith("RNG ")]
    assert rng, console
    hexs = rng[0].split()[1]
    assert len(hexs) == 64 and int(hexs, 16) != 0
    assert "RUNM-TEST-INIT DONE 0" in console
    assert wait_dead(vm.pids, 2)
    # Only the logs remain: the device socket is gone.
    assert sorted(p.name for p in vm.run_dir.iterdir()) == ["console.log", "vmm.log"]


def test_without_the_device_the_guest_has_no_hwrng(build_dir, kernel, initrd, tmp_path):
    vm = VmCtl(build_dir, tmp_path / "run", kernel, initrd, "rng")
    rc, lines, err = vm.wait()
    console = vm.console.read_text(errors="replace")
    assert rc == 0
    assert "RNG-ERROR" in console and "RUNM-TEST-INIT DONE 1" in console


@pytest.mark.parametrize("victim", ["qemu", "device-server", "runm-vmctl"])
def test_kill9_any_process_tears_down_everything(build_dir, kernel, initrd, tmp_path, victim):
    vm = VmCtl(build_dir, tmp_path / "run", kernel, initrd, "idle", extra=["--rng"])
    try:
        assert wait_for_text(vm.console, "RUNM-TEST-INIT READY", 30, vm.proc), \
            vm.console.read_text(errors="replace") if vm.console.exists() else "no console"
        qemu_pid, server_pid = vm.pids
        target = {"qemu": qemu_pid, "device-server": server_pid, "runm-vmctl": vm.proc.pid}[victim]
        t0 = time.monotonic()
        os.kill(target, signal.SIGKILL)
        if victim != "runm-vmctl":
            rc, lines, err = vm.wait(timeout=20)
            assert rc != 0
            assert lines[-1]["event"] == "exited" and lines[-1]["status"] != 0
            assert "killed by signal 9" in err
        else:
            vm.proc.wait(timeout=5)
        assert wait_dead(vm.pids, 10), [p for p in vm.pids if pid_alive(p)]
        assert time.monotonic() - t0 < 10
        if victim != "runm-vmctl":
            assert not any(p.name.endswith(".sock") for p in vm.run_dir.iterdir())
    finally:
        vm.kill()


def test_missing_kernel_is_one_clear_error(build_dir, tmp_path):
    r = subprocess.run([str(build_dir / "runm-vmctl"), "--backend", "qemu", "--kernel",
                        str(tmp_path / "nope"), "--run-dir", str(tmp_path)], capture_output=True,
                       text=True)
    assert r.returncode == 1
    assert f"kernel {tmp_path / 'nope'}: No such file or directory" in r.stderr
    assert list(tmp_path.iterdir()) == []


def test_device_server_that_cannot_start_leaves_nothing(build_dir, kernel, initrd, tmp_path):
    r = subprocess.run([str(build_dir / "runm-vmctl"), "--backend", "qemu", "--kernel", str(kernel),
                        "--initrd", str(initrd), "--run-dir", str(tmp_path), "--rng",
                        "--runm-vmm", "/bin/false"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 1
    assert "device server did not come up" in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["vmm.log"]


@pytest.mark.parametrize("machine,dev,accel", [("pc", "vhost-user-rng-pci", "tcg"),
                                               ("microvm", "vhost-user-rng", "tcg"),
                                               ("pc", "vhost-user-rng-pci", "kvm")])
def test_qemu_command_line(build_dir, kernel, initrd, tmp_path, machine, dev, accel):
    """A stand-in QEMU records its argv: shared memfd RAM, our devices, console, cmdline rewrite."""
    fake = tmp_path / "fake-qemu"
    argv_file = tmp_path / "argv"
    fds_file = tmp_path / "fds"
    fake.write_text(f"#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done > {argv_file}\n"
                    f"for f in /proc/$$/fd/*; do printf '%s %s\\n' \"${{f##*/}}\" \"$(readlink $f)\"; done > {fds_file}\n")
    fake.chmod(0o755)
    run = tmp_path / "run,dir"  # QEMU option values escape commas as ",,"
    run.mkdir()
    # --no-jail: the stand-in writes its argv next to the test (a jailed QEMU cannot)
    r = subprocess.run([str(build_dir / "runm-vmctl"), "--no-jail", "--backend", "qemu", "--accel", accel,
                        "--machine", machine, "--qemu", str(fake), "--kernel", str(kernel),
                        "--initrd", str(initrd), "--cmdline", "console=ttyS0 pci=off quiet",
                        "--mem", "192", "--cpus", "2", "--run-dir", str(run), "--rng",
                        "--console", str(run / "console.log")], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0, r.stderr
    a = argv_file.read_text().splitlines()

    def after(opt):
        return [a[i + 1] for i, x in enumerate(a) if x == opt]

    assert "memory-backend-memfd,id=mem,size=192M,share=on" in after("-object")
    assert after("-m") == ["192M"] and after("-smp") == ["2,sockets=2,cores=1,threads=1"]
    assert after("-accel") == [accel] and after("-cpu") == ["max,-avx,-avx2" if accel == "tcg" else "host"]
    assert after("-M")[0].startswith(machine + ",") and "memory-backend=mem" in after("-M")[0]
    assert f"{dev},chardev=rng0" in after("-device")
    # The device server's socket pair: QEMU inherits its end as an fd, no socket file.
    assert [c for c in after("-chardev") if c.startswith("socket,id=rng0,fd=")]
    # the console log through an inherited fd of its directory (QEMU has no capability to walk
    # a directory only CAP_DAC_OVERRIDE opens)
    con = [c for c in after("-chardev") if c.startswith("file,id=con0,path=/proc/self/fd/")]
    assert con and con[0].endswith("/console.log"), after("-chardev")
    fd = con[0].split("/proc/self/fd/")[1].split("/")[0]
    fds = dict(line.split(" ", 1) for line in fds_file.read_text().splitlines())
    assert fds[fd] == str(run), fds
    assert after("-serial") == ["chardev:con0"]
    assert after("-kernel") == [str(kernel)] and after("-initrd") == [str(initrd)]
    # pc has PCI devices: pci=off is dropped; microvm (virtio-mmio) keeps the line as given;
    # no_timer_check is added for both (backend_qemu.c: TCG guests on a loaded host)
    want = ("console=ttyS0 quiet" if machine == "pc" else "console=ttyS0 pci=off quiet") + " no_timer_check"
    assert after("-append") == [want]
    assert "-no-reboot" in a
    assert after("-sandbox") == ["on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny"]
    assert sorted(p.name for p in run.iterdir()) == ["vmm.log"]


def test_device_servers_run_confined(build_dir, kernel, initrd, tmp_path):
    """Once its devices are open every device server (vsock, rng, fs) runs under the event-loop
    seccomp filter with NoNewPrivs; vsock and rng keep no capability, fs only the file
    capabilities it serves with. QEMU has its own seccomp sandbox and no capability at all."""
    share = tmp_path / "share"
    share.mkdir()
    vm = VmCtl(build_dir, tmp_path / "run", kernel, initrd, "idle",
               extra=["--rng", "--vsock-uds", str(tmp_path / "run" / "vsock.sock"),
                      "--fs", f"share={share}"])
    try:
        assert wait_for_text(vm.console, "RUNM-TEST-INIT READY", 30, vm.proc)
        assert len(vm.pids) == 4, vm.pids  # qemu + three device servers
        kinds = {}
        for pid in vm.pids[1:]:
            status = open(f"/proc/{pid}/status").read()
            fields = dict(l.split(":\t", 1) for l in status.splitlines() if ":\t" in l)
            cmd = open(f"/proc/{pid}/cmdline").read().split("\0")
            kind = cmd[cmd.index("--device") + 1].split(",")[0]
            kinds[kind] = int(fields["CapEff"], 16)
            assert fields["Seccomp"].strip() == "2", (kind, fields["Seccomp"])
            assert fields["NoNewPrivs"].strip() == "1", kind
        assert sorted(kinds) == ["fs", "rng", "vsock"]
        assert kinds["rng"] == 0 and kinds["vsock"] == 0
        # fs: at most the file capabilities (chown, dac_override, dac_read_search, fowner,
        # fsetid, setgid, setuid, mknod, setfcap), never e.g. sys_admin (21).
        file_caps = sum(1 << b for b in (0, 1, 2, 3, 4, 6, 7, 27, 31))
        assert kinds["fs"] and kinds["fs"] & ~file_caps == 0, hex(kinds["fs"])
        # QEMU runs under its own -sandbox seccomp filter.
        qemu = open(f"/proc/{vm.pids[0]}/status").read()
        assert "Seccomp:\t2" in qemu
        q = dict(l.split(":\t", 1) for l in qemu.splitlines() if ":\t" in l)
        assert int(q["CapEff"], 16) == 0 and int(q["CapBnd"], 16) == 0  # no capability at all
        assert q["NoNewPrivs"].strip() == "1"
    finally:
        vm.kill()


def test_caller_without_stdin_stdout(build_dir, kernel, initrd, tmp_path):
    """A detached shim may run with stdio closed: the backend's own pipes and log then land on
    0..2 and must survive the children's stdio setup."""
    run = tmp_path / "run"
    run.mkdir()

    def close_stdio():
        os.close(0)
        os.close(1)
        os.close(2)

    r = subprocess.run([str(build_dir / "runm-vmctl"), "--backend", "qemu", "--kernel", str(kernel),
                        "--initrd", str(initrd), "--cmdline",
                        "console=ttyS0 reboot=k panic=-1 quiet runm_test=rng", "--rng",
                        "--run-dir", str(run), "--console", str(run / "console.log"),
                        "--timeout", "60"], preexec_fn=close_stdio, timeout=90)
    assert r.returncode == 0, (run / "vmm.log").read_text()
    assert "RNG " in (run / "console.log").read_text(errors="replace")


def test_missing_qemu_fails_at_start(build_dir, kernel, initrd, tmp_path):
    """An exec failure is reported by vm_start itself (not later as a dead VM)."""
    r = subprocess.run([str(build_dir / "runm-vmctl"), "--backend", "qemu", "--kernel", str(kernel),
                        "--initrd", str(initrd), "--run-dir", str(tmp_path), "--rng",
                        "--qemu", str(tmp_path / "no-qemu")], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 1
    assert r.stdout == ""  # never reported as started
    assert f"start qemu: exec {tmp_path / 'no-qemu'}: No such file or directory" in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["vmm.log"]


def test_runm_vmm_backend_command_line(build_dir, kernel, initrd, tmp_path):
    """The runm-vmm backend runs one runm-vmm with its documented flags (recorded by a
    stand-in: this host cannot boot Linux on runm-vmm)."""
    fake = tmp_path / "fake-vmm"
    argv_file = tmp_path / "argv"
    fds_file = tmp_path / "fds"
    fake.write_text(f"#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done > {argv_file}\n"
                    f"for f in /proc/$$/fd/*; do printf '%s %s\\n' \"${{f##*/}}\" \"$(readlink $f)\"; done > {fds_file}\n")
    fake.chmod(0o755)
    share = tmp_path / "share"
    share.mkdir()
    run = tmp_path / "run"
    run.mkdir()
    # --no-jail: the stand-in is a script writing next to the test (the jailed runm-vmm:
    # test_jail.py)
    r = subprocess.run([str(build_dir / "runm-vmctl"), "--no-jail", "--backend", "runm-vmm", "--runm-vmm",
                        str(fake), "--kernel", str(kernel), "--initrd", str(initrd), "--cmdline",
                        "console=ttyS0 pci=off", "--cpus", "2", "--mem", "300", "--vsock-uds",
                        str(run / "vsock.sock"), "--cid", "9", "--fs", f"rootfs={share}", "--rng",
                        "--console", str(run / "console.log"), "--run-dir", str(run)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert '"backend":"runm-vmm"' in r.stdout
    assert argv_file.read_text().splitlines() == [
        "--kernel", str(kernel), "--initrd", str(initrd), "--cmdline", "console=ttyS0 pci=off",
        "--cpus", "2", "--mem", "300", "--vsock-uds", str(run / "vsock.sock"), "--vsock-cid", "9",
        "--rng", "--fs", f"rootfs={share}", "--console", str(run / "console.log")]


def test_guest_memory_in_two_regions(build_dir, kernel, initrd, tmp_path):
    """4 GiB on -M pc: RAM is split around the PCI hole into two regions of one memfd (the second
    at a non-zero mmap_offset); rings and buffers in either are served."""
    wrapper = tmp_path / "vmm-debug"
    wrapper.write_text(f"#!/bin/sh\nexec {build_dir / 'runm-vmm'} \"$@\" --debug\n")
    wrapper.chmod(0o755)
    vm = VmCtl(build_dir, tmp_path / "run", kernel, initrd, "rng",
               extra=["--no-jail", "--rng", "--mem", "4096", "--runm-vmm", str(wrapper)])  # the wrapper execs a path outside a jail
    rc, lines, err = vm.wait()
    assert rc == 0, err
    assert "RNG " in vm.console.read_text(errors="replace")
    log = (vm.run_dir / "vmm.log").read_text()
    assert "SET_MEM_TABLE size 72 fds 2" in log, log
