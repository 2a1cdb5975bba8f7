"""What engines see through the container's pid (the shim's): its mount namespace and
/proc/<pid>/root are the container's files (runtime/host_view.c), never the host's.

`podman cp` into a running container enters /proc/<pid>/ns/mnt and writes there; before the
shim had a view of its own this wrote the host's files. Both modes of test_podman.py."""
import os
import uuid

from test_docker import IMAGE as DOCKER_IMAGE
from test_docker import docker  # noqa: F401 (fixture)
from test_podman import image, pm, run_args  # noqa: F401 (fixtures)


def _running(pm, image, tmp_path):
    n = pm.name()
    vol = tmp_path / "vol"
    vol.mkdir()
    r = pm(*run_args(n, "-d", "-v", f"{vol}:/vol"), image, "sleep", "600")
    assert r.returncode == 0, r.stderr
    return n, vol


def test_podman_cp_into_running_container(pm, image, tmp_path):
    n, vol = _running(pm, image, tmp_path)
    mark = "runm-cp-" + uuid.uuid4().hex[:10]
    src = tmp_path / "src"
    src.write_text("payload-" + mark + "\n")
    assert not os.path.exists("/" + mark) and not os.path.exists("/tmp/" + mark)
    for dest in ("/" + mark, "/tmp/" + mark, "/vol/" + mark):
        r = pm("exec", n, "mkdir", "-p", "/tmp")
        assert r.returncode == 0, r.stderr
        r = pm("cp", str(src), f"{n}:{dest}")
        assert r.returncode == 0, r.stderr
        r = pm("exec", n, "cat", dest)
        assert r.returncode == 0 and r.stdout == "payload-" + mark + "\n", (dest, r.stdout, r.stderr)
    # nothing on the host's own tree; the volume got it, live
    assert not os.path.exists("/" + mark), "podman cp wrote the host's /"
    assert not os.path.exists("/tmp/" + mark), "podman cp wrote the host's /tmp"
    assert (vol / mark).read_text() == "payload-" + mark + "\n"
    # the shim still does its work afterwards: exec, stop with the init's status
    r = pm("exec", n, "sh", "-c", "echo still; exit 4")
    assert r.returncode == 4 and r.stdout == "still\n", r.stderr
    r = pm("stop", "-t", "1", n)
    assert r.returncode == 0, r.stderr


def test_podman_cp_out_of_running_container(pm, image, tmp_path):
    n, _ = _running(pm, image, tmp_path)
    r = pm("exec", n, "sh", "-c", "echo made-in-guest > /guest-made; cat /etc/hostname")
    assert r.returncode == 0, r.stderr
    hostname = r.stdout
    assert hostname.strip()
    r = pm("cp", f"{n}:/etc/hostname", str(tmp_path / "hn"))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "hn").read_text() == hostname
    with open("/etc/hostname") as f:
        assert f.read() != hostname, "the host's /etc/hostname came out"
    r = pm("cp", f"{n}:/guest-made", str(tmp_path / "gm"))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "gm").read_text() == "made-in-guest\n"


def test_proc_pid_root_is_the_container(pm, image, tmp_path):
    """/proc/<pid>/root and /proc/<pid>/ns/mnt of the engine's container pid."""
    n, vol = _running(pm, image, tmp_path)
    (vol / "from-host").write_text("vol-file\n")
    r = pm("inspect", "-f", "{{.State.Pid}}", n)
    assert r.returncode == 0, r.stderr
    pid = int(r.stdout)
    r = pm("exec", n, "sh", "-c", "echo guest-root > /guest-root-file")
    assert r.returncode == 0, r.stderr
    root = f"/proc/{pid}/root"
    with open(root + "/guest-root-file") as f:
        assert f.read() == "guest-root\n"
    with open(root + "/vol/from-host") as f:
        assert f.read() == "vol-file\n"
    assert os.stat(root + "/").st_ino != os.stat("/").st_ino or \
        os.stat(root + "/").st_dev != os.stat("/").st_dev
    # proc, sysfs… are the guest's only: nothing of the host's shows there
    assert os.listdir(root + "/proc") == []
    assert os.readlink(f"/proc/{pid}/ns/mnt") != os.readlink("/proc/self/ns/mnt")


def test_docker_cp_running_container(docker, tmp_path):  # noqa: F811
    """dockerd copies through its own mount of the rootfs (and volumes): the files the guest sees."""
    n = docker.name()
    vol = tmp_path / "dvol"
    vol.mkdir()
    r = docker.run("-d", "--name", n, "-v", f"{vol}:/vol", DOCKER_IMAGE, "sleep", "600")
    assert r.returncode == 0, r.stderr
    mark = "runm-dcp-" + uuid.uuid4().hex[:10]
    src = tmp_path / "src"
    src.write_text("docker-" + mark + "\n")
    for dest in ("/" + mark, "/vol/" + mark):
        r = docker("cp", str(src), f"{n}:{dest}")
        assert r.returncode == 0, r.stderr
        r = docker("exec", n, "cat", dest)
        assert r.returncode == 0 and r.stdout == "docker-" + mark + "\n", (dest, r.stdout, r.stderr)
    assert not os.path.exists("/" + mark), "docker cp wrote the host's /"
    r = docker("exec", n, "sh", "-c", "echo from-guest > /guest-made; cat /etc/hostname")
    assert r.returncode == 0, r.stderr
    hostname = r.stdout
    r = docker("cp", f"{n}:/etc/hostname", str(tmp_path / "hn"))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "hn").read_text() == hostname
    r = docker("cp", f"{n}:/guest-made", str(tmp_path / "gm"))
    assert r.returncode == 0 and (tmp_path / "gm").read_text() == "from-guest\n", r.stderr


def test_podman_top_lists_no_host_process(pm, image, tmp_path):
    """podman top reads /proc in the container pid's mount namespace: the view has none of the
    host's, so no host process is listed as the container's (the header only)."""
    n, _ = _running(pm, image, tmp_path)
    r = pm("top", n)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines and lines[0].split()[:2] == ["USER", "PID"], r.stdout
    assert lines[1:] == [], "host processes listed as the container's:\n" + r.stdout
