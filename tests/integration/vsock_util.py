"""Helpers for the vsock integration tests: run runm-vmm with a mini-guest and
follow its serial console, and talk hybrid vsock on the host side."""
import queue
import socket
import subprocess
import threading
import time


class Vmm:
    """runm-vmm running a mini-guest; console lines arrive in self.lines."""

    def __init__(self, binary, kernel, vsock_uds, extra=(), seccomp=True):
        self.lines = queue.Queue()
        self.log = []
        # Both builds run with their seccomp filters (the ASan build's lists
        # also allow the sanitizer runtime's calls); seccomp=False for debugging.
        flags = [] if seccomp else ["--no-seccomp"]
        self.proc = subprocess.Popen([str(binary), "--kernel", str(kernel), "--mem", "16",
                                      "--vsock-uds", str(vsock_uds), *flags, *extra],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self._t = threading.Thread(target=self._pump, daemon=True)
        self._t.start()

    def _pump(self):
        for raw in self.proc.stdout:
            line = raw.decode(errors="replace").rstrip("\r\n")
            self.log.append(line)
            self.lines.put(line)

    def wait_line(self, text, timeout=60):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                if self.proc.poll() is not None:
                    break
                continue
            if text in line:
                return line
        raise AssertionError(f"console never said {text!r}; log:\n" + "\n".join(self.log))

    def wait(self, timeout=60):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError("runm-vmm did not exit; log:\n" + "\n".join(self.log))

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def recv_exact(sock, n, timeout=60):
    sock.settimeout(timeout)
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            break
        buf += chunk
    return buf


def recv_line(sock, timeout=60):
    sock.settimeout(timeout)
    buf = b""
    while not buf.endswith(b"\n"):
        ch = sock.recv(1)
        if not ch:
            break
        buf += ch
    return buf


def hybrid_connect(uds, port, timeout=60):
    """Firecracker-style host->guest connect: returns (socket, 'OK <hostport>' line)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(str(uds))
    s.sendall(f"CONNECT {port}\n".encode())
    return s, recv_line(s, timeout)
