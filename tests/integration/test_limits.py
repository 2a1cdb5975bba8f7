"""Limits with clear errors (issue 18): a config.json or --process nested a million levels
deep used to crash runm (yajl frees trees recursively); an exec request beyond the shim's
1 MiB line limit killed `runm exec` with SIGPIPE and no message. Now both are refused before
anything starts, naming the limit."""
import json

import pytest

from conftest import make_bundle
from lifecycle_util import Runm

DEEP = 1_000_000


@pytest.fixture
def rt(build_dir, tmp_path):
    r = Runm(build_dir, tmp_path / "root", "host-agent")
    yield r
    r.cleanup()


def test_deep_config_json_is_refused(rt, tmp_path):
    b = make_bundle(tmp_path / "bundle", ["true"])
    cfg = (b / "config.json").read_text().rstrip()
    assert cfg.endswith("}")
    deep = cfg[:-1] + ', "x": ' + "[" * DEEP + "]" * DEEP + "}"
    (b / "config.json").write_text(deep)
    rc, msg = rt.create("--bundle", b, "c1")
    assert rc == 1, msg  # not a crash (negative: killed by a signal)
    assert "config.json: nesting deeper than 64" in msg, msg
    assert not (rt.root / "c1").exists()


@pytest.fixture
def running(rt, tmp_path):
    b = make_bundle(tmp_path / "bundle", ["sleep", "1000"])
    rc, msg = rt.create("--bundle", b, "c1")
    assert rc == 0, msg
    assert rt("start", "c1").returncode == 0
    return rt


def process_file(tmp_path, args):
    p = tmp_path / "process.json"
    p.write_text(json.dumps({"args": args, "cwd": "/", "env": ["PATH=/bin"], "user": {"uid": 0, "gid": 0}}))
    return p


def test_exec_process_over_the_line_limit(running, tmp_path):
    p = process_file(tmp_path, ["echo", "x" * (1 << 20)])
    r = running("exec", "--process", p, "c1")
    assert r.returncode == 255, (r.returncode, r.stderr)
    assert "over the shim's limit of 1048574 bytes (1 MiB)" in r.stderr, r.stderr
    assert str(p) in r.stderr
    # just under the limit still runs; the shim is unharmed
    p = process_file(tmp_path, ["sh", "-c", "echo ok"] + ["x" * (1 << 16)] * 15)  # 960 KiB
    r = running("exec", "--process", p, "c1")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "ok\n"


def test_exec_deep_process_is_refused(running, tmp_path):
    p = tmp_path / "process.json"
    p.write_text('{"args": ["true"], "x": ' + "[" * DEEP + "]" * DEEP + "}")
    r = running("exec", "--process", p, "c1")
    assert r.returncode == 255, (r.returncode, r.stderr)
    assert "nesting deeper than 64" in r.stderr, r.stderr
    assert running("state", "c1").returncode == 0
    assert running.state("c1")["status"] == "running"
