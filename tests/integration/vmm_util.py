"""Helpers for the runm-vmm integration tests: run the ASan build on a mini-guest."""
import os
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BUILD = pathlib.Path(os.environ.get("RUNM_BUILD", ROOT / "build"))
GUESTS = BUILD / "guests"

ASAN_ENV = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:exitcode=99",
                UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")


def vmm(asan=True):
    p = BUILD / ("asan" if asan else "") / "runm-vmm"
    if not p.exists():
        pytest.fail(f"{p} missing: run `make asan` first")
    return p


def guest(name):
    p = GUESTS / f"{name}.elf"
    if not p.exists():
        pytest.fail(f"{p} missing: run `make guests` first")
    return p


def run_vmm(args, stdin=subprocess.DEVNULL, input=None, timeout=60, asan=True):
    """Run runm-vmm; returns CompletedProcess with text stdout/stderr."""
    cmd = [str(vmm(asan))] + [str(a) for a in args]
    kw = dict(capture_output=True, timeout=timeout, env=ASAN_ENV)
    if input is not None:
        kw["input"] = input.encode() if isinstance(input, str) else input
    else:
        kw["stdin"] = stdin
    r = subprocess.run(cmd, **kw)
    r.stdout = r.stdout.decode(errors="replace").replace("\r\n", "\n")
    r.stderr = r.stderr.decode(errors="replace")
    return r


def run_guest(name, *extra, **kw):
    return run_vmm(["--kernel", guest(name), "--mem", "16"] + list(extra), **kw)


def assert_sanitizer_clean(r):
    for marker in ("AddressSanitizer", "LeakSanitizer", "runtime error:", "UndefinedBehaviorSanitizer"):
        assert marker not in r.stderr, r.stderr
