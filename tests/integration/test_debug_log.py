"""--debug and --log as runc's: without --log, debug lines go to stderr; with --log FILE they
go to the file alone (errors go to both), so they never mix into an exec'd process's stderr;
every log line is one write ending with a newline, in logrus' text (time="…" level=… msg="…")
or JSON form.

The exec tests run in both modes (lifecycle_util.MODES)."""
import concurrent.futures
import json
import re

import pytest

from cli_util import runm
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


def running(rt, tmp_path):
    b = make_bundle(tmp_path / "bundle", ["sleep", "1000"])
    rc, err = rt.create("-b", b, "c1", out=tmp_path / "create.out")
    assert rc == 0, err
    assert rt("start", "c1").returncode == 0


TEXT_LINE = re.compile(r'time="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ" level=(error|warning|debug) msg="(.*)"')


def test_debug_exec_writes_debug_lines_to_stderr(rt, tmp_path):
    running(rt, tmp_path)
    r = rt("--debug", "exec", "c1", "sh", "-c", "echo out; echo err >&2")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "out\n"
    lines = r.stderr.splitlines()
    assert "err" in lines
    assert any(re.fullmatch(r"runm: debug: exec c1: process \S+ started in the guest \(stdio\)", x) for x in lines)
    assert any(re.fullmatch(r"runm: debug: exec c1: process \S+ exited with status 0", x) for x in lines)


def test_debug_log_exec_writes_debug_lines_to_the_file_only(rt, tmp_path):
    running(rt, tmp_path)
    log = tmp_path / "exec.log"
    r = rt("--debug", "--log", log, "exec", "c1", "sh", "-c", "echo out; echo err >&2; exit 4")
    assert r.returncode == 4
    assert r.stdout == "out\n" and r.stderr == "err\n"  # the process's stdio, nothing of ours
    text = log.read_text()
    assert text.endswith("\n")
    msgs = [TEXT_LINE.fullmatch(x) for x in text.splitlines()]
    assert all(msgs), text
    assert any(m[1] == "debug" and m[2].endswith("exited with status 4") for m in msgs), text
    # json: the same lines as runc's {"level","msg","time"}
    jlog = tmp_path / "exec.json"
    r = rt("--debug", "--log", jlog, "--log-format", "json", "exec", "-d", "c1", "true")
    assert r.returncode == 0 and r.stderr == "", r.stderr
    entries = [json.loads(x) for x in jlog.read_text().splitlines()]
    assert entries and {e["level"] for e in entries} == {"debug"}
    assert jlog.read_text().endswith("\n")


def test_text_log_lines_are_runcs_and_end_with_a_newline(build_dir, tmp_path):
    root = tmp_path / "root"
    log = tmp_path / "log.txt"
    r = runm(build_dir, root, "state", "nosuch", log=log)
    assert r.returncode == 1 and r.stderr == "runm: container does not exist\n"
    assert log.read_text() and log.read_text().endswith("\n")
    m = TEXT_LINE.fullmatch(log.read_text()[:-1])
    assert m and m[1] == "error" and m[2] == "container does not exist", log.read_text()
    # a message with a line break stays one line (escaped, as logrus does)
    r = runm(build_dir, root, "create", "a\nb", log=log)
    assert r.returncode == 1
    lines = log.read_text().splitlines()
    assert len(lines) == 2 and lines[1].endswith('msg="invalid container ID format: a\\nb"'), lines


def test_concurrent_writers_never_cut_a_line(build_dir, tmp_path):
    root = tmp_path / "root"
    log = tmp_path / "log.json"

    def one(i):
        return runm(build_dir, root, "kill", f"nosuch-{i}-" + "x" * 200, log=log, log_format="json").returncode

    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        assert set(ex.map(one, range(40))) == {1}
    lines = log.read_text().splitlines()
    assert len(lines) == 40
    assert all(json.loads(x)["level"] == "error" for x in lines)
