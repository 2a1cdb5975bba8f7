#!/usr/bin/env python3
"""Networking benchmarks (docs/networking.md), printing one JSON object.

A container netns wired to a peer netns by a veth pair; a Python HTTP server in the peer. The
same bundle runs under runm (microVM: veth -> tc mirred -> tap -> virtio-net) and under runc
(the veth directly), in the same run:

  download_mbps / upload_mbps   HTTP GET / POST of NET_MIB MiB, timed by the server (first to last
                                byte), for runm and runc, and their ratio (goal on hardware KVM:
                                runm >= 0.8 x runc; under TCG here the guest is the bottleneck)
  rtt_ms                        ICMP echo round trip, average of 20 (busybox ping)
  device_cpu_ms_per_gb          CPU (user+sys) of the vhost-user net server per GB moved (~512 MiB)
  setup_cpu_ms / setup_wall_ms  runm create: CPU of the shim's network set-up (netns, discovery,
                                tap, tc) from its --debug log (goal <= 5 ms), median of RUNS
"""
import json
import os
import pathlib
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

ROOT = pathlib.Path(__file__).resolve().parents[1]
BUILD = pathlib.Path(os.environ.get("RUNM_BUILD", ROOT / "build"))
sys.path.insert(0, str(ROOT / "tests" / "integration"))
from net_util import Netns  # noqa: E402

NET_MIB = int(os.environ.get("NET_MIB", 32))
RUNS = int(os.environ.get("RUNS", 5))

SERVER = r'''
import http.server, socketserver, sys, time
N = int(sys.argv[2]) << 20
CHUNK = bytes(range(256)) * 256
LOG = open(sys.argv[3], "a", buffering=1)
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(N))
        self.end_headers()
        t = time.monotonic()
        left = N
        while left:
            n = min(left, len(CHUNK))
            self.wfile.write(CHUNK[:n])
            left -= n
        self.wfile.flush()
        LOG.write("get %f\n" % (time.monotonic() - t))
    def do_POST(self):
        n = int(self.headers["Content-Length"])
        t = None
        got = 0
        while got < n:
            b = self.rfile.read(min(n - got, 1 << 16))
            if not b:
                break
            if t is None:
                t = time.monotonic()
            got += len(b)
        LOG.write("post %f %d\n" % (time.monotonic() - (t or time.monotonic()), got))
        self.send_response(200)
        self.send_header("Content-Length", "3")
        self.end_headers()
        self.wfile.write(b"ok\n")
class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    allow_reuse_address = True
S(("172.31.77.1", 8090), H).serve_forever()
'''


def bundle(d, script):
    subprocess.run([sys.executable, str(ROOT / "tests/fixtures/mkbundle.py"), str(d), "--", "sh", "-c", script],
                   check=True, stdout=subprocess.DEVNULL)
    return d


def set_netns(b, path):
    p = b / "config.json"
    cfg = json.loads(p.read_text())
    cfg["linux"]["namespaces"] = [n for n in cfg["linux"]["namespaces"] if n["type"] != "network"]
    cfg["linux"]["namespaces"].append({"type": "network", "path": path})
    for k in ("bounding", "effective", "permitted"):
        cfg["process"]["capabilities"][k].append("CAP_NET_RAW")
    p.write_text(json.dumps(cfg))


def server_times(log, since):
    lines = log.read_text().splitlines()[since:]
    get = [float(l.split()[1]) for l in lines if l.startswith("get")]
    post = [float(l.split()[1]) for l in lines if l.startswith("post")]
    return get, post


def device_cpu():
    """CPU seconds of the vhost-user net servers under the shim."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for p in pathlib.Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            cmd = (p / "cmdline").read_bytes().split(b"\0")
            st = (p / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if b"vhost-user" in cmd and any(c.startswith(b"net,") for c in cmd):
            total += (int(st[11]) + int(st[12])) / tick
    return total


def run_one(runtime, b, name, work):
    if runtime == "runm":
        cmd = [str(BUILD / "runm"), "--root", str(work / "root-runm"), "run", "--bundle", str(b), name]
    else:
        cmd = ["runc", "--root", str(work / "root-runc"), "run", "--bundle", str(b), name]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)


def main():
    work = pathlib.Path(tempfile.mkdtemp(prefix="runm-bench-net-"))
    net = Netns()
    out = {"net_mib": NET_MIB}
    try:
        net.veth("eth0", "peer0", "172.31.77", gateway=True)
        log = work / "server.log"
        log.write_text("")
        srv = subprocess.Popen(["ip", "netns", "exec", net.peer, sys.executable, "-c", SERVER, "x", str(NET_MIB),
                                str(log)])
        net.servers.append(srv)
        time.sleep(1)
        script = (f"head -c {NET_MIB << 20} /dev/zero | tr '\\0' x > /dev/shm/up; "
                  "wget -qO /dev/null http://172.31.77.1:8090/blob; "
                  "wget -qO /dev/null --post-file=/dev/shm/up http://172.31.77.1:8090/up; "
                  "ping -c 20 -i 0.1 172.31.77.1 | tail -1")
        for rt in ("runc", "runm"):
            b = bundle(work / f"b-{rt}", script)
            set_netns(b, net.path)
            since = len(log.read_text().splitlines())
            r = run_one(rt, b, f"bench-{uuid.uuid4().hex[:6]}", work)
            if r.returncode != 0:
                raise SystemExit(f"{rt}: exit {r.returncode}: {r.stderr[-2000:]}")
            get, post = server_times(log, since)
            m = re.search(r"= [\d.]+/([\d.]+)/", r.stdout)
            out[f"{rt}_download_mbps"] = round(NET_MIB * 8 * 1.048576 / get[-1], 1)
            out[f"{rt}_upload_mbps"] = round(NET_MIB * 8 * 1.048576 / post[-1], 1)
            out[f"{rt}_rtt_ms"] = float(m.group(1)) if m else None
        out["download_ratio"] = round(out["runm_download_mbps"] / out["runc_download_mbps"], 3)
        out["upload_ratio"] = round(out["runm_upload_mbps"] / out["runc_upload_mbps"], 3)
        # device server CPU per GB: a container that moves the data while we sample its server
        # (the server sends NET_MIB per GET: several GETs make enough to measure in clock ticks)
        gets = max(1, 512 // NET_MIB)
        b = bundle(work / "b-cpu", "sleep 2; " + "wget -qO /dev/null http://172.31.77.1:8090/blob; " * gets + "sleep 1")
        set_netns(b, net.path)
        name = f"bench-cpu-{uuid.uuid4().hex[:6]}"
        root = work / "root-cpu"
        p = subprocess.Popen([str(BUILD / "runm"), "--root", str(root), "run", "--bundle", str(b), name],
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        c0 = c1 = 0.0
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and p.poll() is None:
            c = device_cpu()
            if c0 == 0.0 and c > 0:
                c0 = c
            c1 = max(c1, c)
            time.sleep(0.05)
        p.wait()
        moved_gb = gets * NET_MIB / 1024
        out["device_cpu_ms_per_gb"] = round((c1 - c0) * 1000 / moved_gb, 1) if c1 > c0 else None
        # set-up cost from the shim's debug log
        cpu, wall = [], []
        b = bundle(work / "b-setup", "true")
        set_netns(b, net.path)
        for i in range(RUNS):
            logf = work / f"setup-{i}.log"
            n = f"bench-setup-{i}-{uuid.uuid4().hex[:4]}"
            subprocess.run([str(BUILD / "runm"), "--debug", "--log", str(logf), "--root", str(work / "root-setup"),
                            "run", "--bundle", str(b), n], capture_output=True, timeout=300, stdin=subprocess.DEVNULL)
            m = re.search(r"network: \d+ link\(s\) wired in ([\d.]+) ms CPU .*?, (\d+) ms wall", logf.read_text())
            if m:
                cpu.append(float(m.group(1)))
                wall.append(float(m.group(2)))
        out["setup_cpu_ms"] = round(statistics.median(cpu), 2) if cpu else None
        out["setup_wall_ms"] = statistics.median(wall) if wall else None
    finally:
        net.close()
        subprocess.run(["rm", "-rf", str(work)])
    print(json.dumps(out))


if __name__ == "__main__":
    main()
