"""Helpers for the runm-agent integration tests: run the agent in host mode
(--listen-unix) and speak protocol v1 to it (see docs/protocol.md)."""
import json
import os
import pathlib
import socket
import struct
import subprocess
import time

CONTROL_PORT = 1024
STREAM_PORT = 1025


def connect(path, port, timeout=10.0):
    """Hybrid-vsock connect: CONNECT <port>\\n → OK <n>\\n, retrying until the agent listens."""
    deadline = time.monotonic() + timeout
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(str(path))
            s.sendall(b"CONNECT %d\n" % port)
            line = b""
            while not line.endswith(b"\n"):
                c = s.recv(1)
                if not c:
                    raise ConnectionError("closed during handshake")
                line += c
            assert line.startswith(b"OK "), line
            return s
        except (FileNotFoundError, ConnectionRefusedError, ConnectionError):
            s.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def send_frame(s, obj):
    data = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
    s.sendall(struct.pack(">I", len(data)) + data)


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        c = s.recv(n - len(buf))
        if not c:
            raise EOFError(f"EOF after {len(buf)} of {n} bytes")
        buf += c
    return buf


def recv_frame(s):
    (n,) = struct.unpack(">I", recv_exact(s, 4))
    return json.loads(recv_exact(s, n))


class Agent:
    def __init__(self, binary, workdir, prefix=()):
        """PREFIX: a command the agent runs under (e.g. ["unshare", "--net"])."""
        self.sock = pathlib.Path(workdir) / "agent.sock"
        self.proc = subprocess.Popen(list(prefix) + [str(binary), "--listen-unix", str(self.sock)],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self.ctl = connect(self.sock, CONTROL_PORT)
        self.next_id = 1

    def call(self, op, **kw):
        req = {"id": self.next_id, "op": op, **kw}
        self.next_id += 1
        send_frame(self.ctl, req)
        while True:
            r = recv_frame(self.ctl)
            if "event" not in r:
                assert r["id"] == req["id"], r
                return r

    def check(self, op, **kw):
        r = self.call(op, **kw)
        assert r["ok"], r
        return r

    def stream(self, process, name):
        s = connect(self.sock, STREAM_PORT)
        send_frame(s, {"process": process, "stream": name})
        r = recv_frame(s)
        if not r["ok"]:
            s.close()
            raise RuntimeError(r["error"])
        return s

    def create(self, bundle, process="init", stdio=("stdout", "stderr"), config=None):
        cfg = config if config is not None else json.loads((pathlib.Path(bundle) / "config.json").read_text())
        return self.call("create", process=process, bundle=str(bundle), config=json.dumps(cfg),
                         stdio={k: True for k in stdio})

    def wait_exit(self, timeout=20):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise

    def close(self):
        try:
            self.ctl.close()
        except OSError:
            pass
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def read_all(s):
    out = b""
    while True:
        c = s.recv(65536)
        if not c:
            return out
        out += c


def config(bundle):
    return json.loads((pathlib.Path(bundle) / "config.json").read_text())
