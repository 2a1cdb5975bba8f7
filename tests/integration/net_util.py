"""Network fixtures for runm's networking tests: namespaces with veth pairs, a peer HTTP server."""
import json
import pathlib
import subprocess
import sys
import time
import uuid

SERVER = r'''
import hashlib, http.server, socketserver, sys
BLOB = bytes((i * 7 + (i >> 8)) & 0xff for i in range(1 << 20)) * int(sys.argv[2])
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass
    def do_GET(self):
        body = BLOB if self.path == "/blob" else b"hello from the peer\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def do_POST(self):
        n = int(self.headers["Content-Length"])
        h = hashlib.sha256()
        while n:
            b = self.rfile.read(min(n, 1 << 16))
            if not b:
                break
            h.update(b)
            n -= len(b)
        body = (h.hexdigest() + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    allow_reuse_address = True
    address_family = __import__("socket").AF_INET6 if ":" in sys.argv[1] else __import__("socket").AF_INET
S((sys.argv[1], int(sys.argv[3])), H).serve_forever()
'''


def blob_sha256(mib):
    import hashlib
    one = bytes((i * 7 + (i >> 8)) & 0xff for i in range(1 << 20))
    h = hashlib.sha256()
    for _ in range(mib):
        h.update(one)
    return h.hexdigest()


def sh(*args, check=True):
    r = subprocess.run(list(args), capture_output=True, text=True)
    if check and r.returncode != 0:
        raise AssertionError(f"{' '.join(args)}: {r.stderr.strip()}")
    return r


class Netns:
    """A container netns (`ns`) wired to a peer netns (`peer`) by veth pairs."""

    def __init__(self):
        tag = uuid.uuid4().hex[:6]
        self.ns = f"runm-c-{tag}"
        self.peer = f"runm-p-{tag}"
        self.servers = []
        sh("ip", "netns", "add", self.ns)
        sh("ip", "netns", "add", self.peer)
        sh("ip", "-n", self.peer, "link", "set", "lo", "up")

    @property
    def path(self):
        return f"/run/netns/{self.ns}"

    def veth(self, inside, outside, v4, v6=None, mtu=1500, gateway=True, mac=None):
        """veth `inside` (in the container netns, addresses v4/v6 '.2') ↔ `outside` in the peer
        ('.1'); v4 like '172.30.5' (a /24), v6 like 'fd00:5' (a /64)."""
        sh("ip", "-n", self.peer, "link", "add", outside, "mtu", str(mtu), "type", "veth", "peer", "name",
           inside, "netns", self.ns, "mtu", str(mtu))
        if mac:
            sh("ip", "-n", self.ns, "link", "set", inside, "address", mac)
        sh("ip", "-n", self.peer, "addr", "add", f"{v4}.1/24", "dev", outside)
        sh("ip", "-n", self.ns, "addr", "add", f"{v4}.2/24", "dev", inside)
        if v6:
            sh("ip", "-n", self.peer, "addr", "add", f"{v6}::1/64", "dev", outside, "nodad")
            sh("ip", "-n", self.ns, "addr", "add", f"{v6}::2/64", "dev", inside, "nodad")
        sh("ip", "-n", self.peer, "link", "set", outside, "up")
        sh("ip", "-n", self.ns, "link", "set", inside, "up")
        if gateway:
            sh("ip", "-n", self.ns, "route", "add", "default", "via", f"{v4}.1")
            if v6:
                sh("ip", "-n", self.ns, "-6", "route", "add", "default", "via", f"{v6}::1")
        return sh("ip", "-n", self.ns, "-j", "link", "show", inside).stdout

    def link_json(self, name):
        return json.loads(sh("ip", "-n", self.ns, "-j", "link", "show", name).stdout)[0]

    def serve(self, addr, port, blob_mib=1):
        p = subprocess.Popen(["ip", "netns", "exec", self.peer, sys.executable, "-c", SERVER, addr,
                              str(blob_mib), str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.servers.append(p)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            r = sh("ip", "netns", "exec", self.peer, "ss", "-Hltn", f"sport = :{port}", check=False)
            if r.stdout.strip():
                return p
            time.sleep(0.05)
        raise AssertionError(f"peer server on {addr}:{port} did not start: {p.stderr.read()}")

    def leftovers(self):
        """runm's traces in the container netns: taps and ingress qdiscs."""
        links = json.loads(sh("ip", "-n", self.ns, "-j", "link", "show").stdout)
        taps = [l["ifname"] for l in links if l["ifname"].endswith("_runm")]
        qd = sh("tc", "-n", self.ns, "qdisc", "show").stdout
        return taps, [l for l in qd.splitlines() if "ingress" in l]

    def close(self):
        for p in self.servers:
            p.kill()
            p.wait()
        sh("ip", "netns", "del", self.ns, check=False)
        sh("ip", "netns", "del", self.peer, check=False)


def set_netns(bundle, path=None, present=True):
    """Point the bundle's network namespace entry at PATH (None: a new netns; present=False: no
    entry, i.e. the host network)."""
    cfg_path = pathlib.Path(bundle) / "config.json"
    cfg = json.loads(cfg_path.read_text())
    nss = [n for n in cfg["linux"]["namespaces"] if n["type"] != "network"]
    if present:
        nss.append({"type": "network", "path": path} if path else {"type": "network"})
    cfg["linux"]["namespaces"] = nss
    cfg_path.write_text(json.dumps(cfg))


def set_args(bundle, *args, hooks=None):
    cfg_path = pathlib.Path(bundle) / "config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["process"]["args"] = list(args)
    if hooks:
        cfg["hooks"] = hooks
    cfg_path.write_text(json.dumps(cfg))
