"""Helpers for the virtio-net tests: a throw-away network namespace with a tap, a peer server in
it (HTTP download/upload), and a launcher that opens the tap inside the namespace and executes a
program with the tap fd, as runm's shim hands it to the backend."""
import hashlib
import os
import random
import subprocess
import sys
import textwrap
import time

TUNSETIFF = 0x400454CA
IFF_TAP, IFF_NO_PI, IFF_VNET_HDR = 0x0002, 0x1000, 0x4000

HOST_IP, GUEST_IP = "10.77.0.1", "10.77.0.2"


def blob(size, seed):
    """Deterministic pseudo-random bytes."""
    return random.Random(seed).randbytes(size)


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def ip(*args, ns=None, check=True):
    cmd = (["ip", "netns", "exec", ns] if ns else []) + ["ip"] + [str(a) for a in args]
    return subprocess.run(cmd, capture_output=True, text=True, check=check)


class Netns:
    """`ip netns add runm-t-<random>` with a vnet_hdr tap `rt0` holding HOST_IP; removed on close."""

    def __init__(self, mtu=1500, tap="rt0"):
        self.name = f"runm-t-{os.getpid()}-{random.randrange(1 << 30):x}"
        self.tap = tap
        subprocess.run(["ip", "netns", "add", self.name], check=True)
        self.procs = []
        try:
            ip("link", "set", "lo", "up", ns=self.name)
            ip("tuntap", "add", "dev", tap, "mode", "tap", "vnet_hdr", ns=self.name)
            ip("link", "set", tap, "mtu", mtu, ns=self.name)
            ip("addr", "add", f"{HOST_IP}/24", "dev", tap, ns=self.name)
            ip("link", "set", tap, "up", ns=self.name)
        except Exception:
            self.close()
            raise

    def popen(self, cmd, **kw):
        p = subprocess.Popen(["ip", "netns", "exec", self.name] + [str(c) for c in cmd], **kw)
        self.procs.append(p)
        return p

    def close(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            p.wait()
        ip("link", "del", self.tap, ns=self.name, check=False)
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True)


# Runs inside the namespace: serves GET /hello, GET /big (the download blob) and POST /upload
# (answers "GOT <len> <sha256>"), prints READY, then one line per upload received.
PEER = textwrap.dedent("""
    import hashlib, http.server, random, sys
    big = random.Random(int(sys.argv[2])).randbytes(int(sys.argv[3]))
    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"
        def log_message(self, *a):
            pass
        def reply(self, body):
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        def do_GET(self):
            if self.path == "/hello":
                self.reply(b"hello over virtio-net\\n")
            elif self.path == "/big":
                self.reply(big)
            else:
                self.send_error(404)
        def do_POST(self):
            n = int(self.headers["Content-Length"])
            data = b""
            while len(data) < n:
                chunk = self.rfile.read(n - len(data))
                if not chunk:
                    break
                data += chunk
            line = f"GOT {len(data)} {hashlib.sha256(data).hexdigest()}"
            print(line, flush=True)
            self.reply(line.encode() + b"\\n")
    srv = http.server.ThreadingHTTPServer((sys.argv[1], 8080), H)
    print("READY", flush=True)
    srv.serve_forever()
""")


def start_peer(ns, seed, size):
    p = ns.popen([sys.executable, "-c", PEER, HOST_IP, seed, size], stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    assert line.strip() == "READY", f"peer server did not start: {line!r}"
    return p


TAP_FD = 10  # where the launcher puts the tap (config files can name it)

# Runs inside the namespace: opens the tap (IFF_TAP|IFF_NO_PI|IFF_VNET_HDR) on fd TAP_FD, then
# executes argv with "{fd}" replaced by that number; the program inherits the tap.
LAUNCH = textwrap.dedent(f"""
    import fcntl, os, struct, sys
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, {TUNSETIFF}, struct.pack("16sH", sys.argv[1].encode(), {IFF_TAP | IFF_NO_PI | IFF_VNET_HDR}))
    if fd != {TAP_FD}:
        os.dup2(fd, {TAP_FD})
        os.close(fd)
    os.set_inheritable({TAP_FD}, True)
    args = [a.replace("{{fd}}", "{TAP_FD}") for a in sys.argv[2:]]
    os.execv(args[0], args)
""")


def launch_with_tap(ns, argv, **kw):
    """Run argv in ns with the tap open on an inherited fd ("{fd}" in argv names it)."""
    return ns.popen([sys.executable, "-c", LAUNCH, ns.tap] + [str(a) for a in argv], **kw)


def wait_line(path, text, timeout, proc=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text(errors="replace"):
            return True
        if proc is not None and proc.poll() is not None:
            return False
        time.sleep(0.1)
    return False
