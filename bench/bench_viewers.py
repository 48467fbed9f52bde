#!/usr/bin/env python3
"""What watching costs the engine as viewers are added (a script, not a test).

Simulated viewers poll what an open page polls, as the browser does (the
container list's rows partial with the tag of its last answer; a logs follow
poll with its cursor; the events poll with its cursor), every POLL seconds,
starting spread over one interval, for SECONDS. Periscope runs under gunicorn
as shipped (gunicorn.conf.py: 2 workers x 8 threads) and talks to the engine
through a pass-through proxy that counts the Engine calls. Each pass reports
dockerd's CPU seconds (from /proc), Periscope's (master and workers), the
Engine calls, the answers' p50/p99 and the errors; side by side, Periscope
with shared reads and tagged polls (as shipped) and without them
(PERISCOPE_SHARE_FOR=0, tags dropped: what every poll cost before).

  DOCKER_HOST=unix:///tmp/pdev/docker.sock .venv/bin/python bench/bench_viewers.py \\
      [--what list,logs,events] [--sizes 200,600] [--viewers 1,5,20,50] [--seconds 60]

`--viewers 0,1,20` adds an idle pass (the server up, nobody polling): dockerd's
own background cost over the same seconds, to read the passes' figures against.
`--calls` prints each pass's Engine requests with their time.
"""

from __future__ import annotations

import argparse
import html
import os
import re
import socket
import statistics
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
IMAGE = os.environ.get("PERISCOPE_TEST_IMAGE", "periscope-test:busybox")
LABEL = "periscope.bench=viewers"
POLL = 2.0
CLK = os.sysconf("SC_CLK_TCK")


def docker(*args: str) -> str:
    p = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=600)
    if p.returncode:
        raise SystemExit(f"docker {' '.join(args)}: {p.stderr[-400:]}")
    return p.stdout.strip()


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except OSError:
            pass
    return total / CLK


def dockerd_pid(sock: str) -> int:
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                cmd = (d / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if cmd and cmd[0].endswith(b"dockerd") and any(sock.encode() in c for c in cmd):
                return int(d.name)
    raise SystemExit(f"no dockerd serving {sock}")


class CountingProxy:
    """A unix socket that relays to the engine's, counting the requests sent."""

    def __init__(self, target: str):
        self.dir = tempfile.mkdtemp(prefix="pv-", dir="/tmp")
        self.path = f"{self.dir}/proxy.sock"
        self.target = target
        self.requests = 0
        self.seen: list[tuple[float, str]] = []  # (when, request line) of each request
        self._lock = threading.Lock()
        self.ls = socket.socket(socket.AF_UNIX)
        self.ls.bind(self.path)
        self.ls.listen(256)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.ls.accept()
            except OSError:
                return
            u = socket.socket(socket.AF_UNIX)
            u.connect(self.target)
            threading.Thread(target=self._pump, args=(c, u, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(u, c, False), daemon=True).start()

    def _pump(self, a, b, count):
        try:
            while True:
                data = a.recv(262144)
                if not data:
                    break
                if count:
                    lines = re.findall(rb"(?:^|\r\n\r\n)((?:GET|POST|HEAD|DELETE) /[^\r\n]*)",
                                       data)
                    with self._lock:
                        self.requests += len(lines)
                        self.seen += [(time.monotonic(), x.decode("latin-1")[:120])
                                      for x in lines]
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


class Server:
    def __init__(self, engine_sock: str, shared: bool):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, PERISCOPE_BIND=f"127.0.0.1:{self.port}",
                   DOCKER_HOST=f"unix://{engine_sock}", PERISCOPE_POLL_INTERVAL=str(POLL))
        if not shared:
            env["PERISCOPE_SHARE_FOR"] = "0"
        # shared: as shipped (the default bound), unless PERISCOPE_SHARE_FOR is set
        env.pop("PERISCOPE_WORKERS", None)
        env.pop("PERISCOPE_THREADS", None)
        # gunicorn's own record of each request: its status and how long the
        # worker took (%(D)s, microseconds), apart from the simulated browsers,
        # which share this machine's two CPUs and one Python process's lock
        self.access = Path(tempfile.mkdtemp(prefix="viewers-")) / "access.log"
        self.proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py",
                                      "--access-logfile", str(self.access),
                                      "--access-logformat", "%(s)s %(D)s"],
                                     cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        for _ in range(300):
            try:
                requests.get(self.url + "/healthz", timeout=1)
                break
            except requests.RequestException:
                time.sleep(0.1)

    def pids(self) -> list[int]:
        kids = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
        return [self.proc.pid, *map(int, kids)]

    def served(self) -> list[tuple[int, float]]:
        """(status, ms in the worker) of every request so far."""
        out = []
        try:
            for line in self.access.read_text().splitlines():
                parts = line.split()
                if len(parts) == 2 and parts[0].isdigit() and parts[1].isdigit():
                    out.append((int(parts[0]), int(parts[1]) / 1000))
        except OSError:
            pass
        return out

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)
        shutil.rmtree(self.access.parent, ignore_errors=True)


POLL_RE = re.compile(r'hx-get="([^"]+)"')


def viewer(srv: Server, what: str, first: str, until: float, delay: float, shared: bool,
           out: dict) -> None:
    s = requests.Session()
    time.sleep(delay)
    url = first
    while time.monotonic() < until:
        t0 = time.perf_counter()
        try:
            r = s.get(srv.url + url, timeout=30)
            dt = time.perf_counter() - t0
            ok = r.status_code in (200, 204)
            if r.status_code == 200:
                m = POLL_RE.search(r.text) if what == "list" else re.search(
                    r'id="(?:log-follow|events-poll)"[^>]*hx-get="([^"]+)"', r.text, re.S)
                if m:
                    url = html.unescape(m.group(1))
                    if not shared:
                        url = re.sub(r"([?&])tag=[^&]*&?", r"\1", url)
                else:
                    ok = False
        except requests.RequestException:
            dt, ok = time.perf_counter() - t0, False
        out["lat"].append(dt)
        if not ok:
            out["errors"] += 1
        next_at = t0 + POLL
        while time.monotonic() < min(next_at, until) and time.perf_counter() < next_at:
            time.sleep(min(0.05, max(0.0, next_at - time.perf_counter())))


def run_pass(srv, proxy, dpid, what, first_url, viewers, seconds, shared):
    out = {"lat": [], "errors": 0}
    d0, p0, c0 = cpu_seconds([dpid]), cpu_seconds(srv.pids()), proxy.requests
    s0 = len(srv.served())
    began = time.monotonic()
    until = began + seconds
    if viewers == 0:  # the idle pass: what dockerd and Periscope cost with nobody looking
        time.sleep(seconds)
    else:
        with ThreadPoolExecutor(viewers) as pool:
            for i in range(viewers):
                pool.submit(viewer, srv, what, first_url, until, POLL * i / viewers, shared,
                            out)
    d1, p1, c1 = cpu_seconds([dpid]), cpu_seconds(srv.pids()), proxy.requests
    lat = sorted(out["lat"]) or [0.0]
    end = time.monotonic() + 3  # gunicorn logs each answer as it goes out: until all are in
    while len(srv.served()) - s0 < len(out["lat"]) and time.monotonic() < end:
        time.sleep(0.05)
    served = srv.served()[s0:]
    in_worker = sorted(ms for _, ms in served) or [0.0]
    return {"dockerd": d1 - d0, "periscope": p1 - p0, "calls": c1 - c0, "n": len(lat),
            "p50": statistics.median(lat) * 1000, "p99": lat[int(len(lat) * 0.99) - 1] * 1000,
            "errors": out["errors"], "full": sum(1 for st, _ in served if st == 200),
            "srv_p50": statistics.median(in_worker),
            "srv_p99": in_worker[max(0, int(len(in_worker) * 0.99) - 1)],
            "seen": [(t - began, line) for t, line in proxy.seen[c0:c1]]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--what", default="list,logs,events")
    ap.add_argument("--sizes", default="200,600")
    ap.add_argument("--viewers", default="1,5,20,50",
                    help="viewer counts, one pass each; 0: an idle pass (nobody polls)")
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--shared-only", action="store_true", help="skip the unshared passes")
    ap.add_argument("--calls", action="store_true",
                    help="after each pass, the Engine calls it made, with their time")
    args = ap.parse_args()
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    sock = host.removeprefix("unix://")
    dpid = dockerd_pid(sock)
    proxy = CountingProxy(sock)
    viewers = [int(v) for v in args.viewers.split(",")]
    print(f"{os.cpu_count()} CPUs; poll every {POLL:g} s; {args.seconds:g} s per pass")
    print("| what | size | viewers | Periscope | dockerd CPU s | Periscope CPU s | Engine calls "
          "| answers (of them 200) | p50 ms | p99 ms | in the worker p50 / p99 ms | errors |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    logger = None
    try:
        for what in args.what.split(","):
            sizes = [int(n) for n in args.sizes.split(",")] if what == "list" else [0]
            for n in sizes:
                if what == "list":
                    have = len(docker("ps", "-aq", "--filter", f"label={LABEL}").split())
                    with ThreadPoolExecutor(4) as pool:
                        list(pool.map(lambda i: docker("create", "--label", LABEL, IMAGE, "true"),
                                      range(max(0, n - have))))
                    first = f"/containers/rows?all=1&label={LABEL}"
                elif what == "logs":
                    if logger is None:
                        logger = docker("run", "-d", "--label", LABEL, IMAGE, "sh", "-c",
                                        "i=0; while true; do i=$((i+1)); echo line $i; "
                                        "usleep 50000; done")
                    first = None
                else:
                    first = None
                for shared in (True,) if args.shared_only else (True, False):
                    for v in viewers:
                        srv = Server(proxy.path, shared)
                        try:
                            if what == "logs":
                                page = requests.get(f"{srv.url}/containers/{logger}/logs?follow=1&tail=100",
                                                    timeout=30).text
                                first = html.unescape(re.search(
                                    r'id="log-follow"[^>]*hx-get="([^"]+)"', page, re.S).group(1))
                            elif what == "events":
                                page = requests.get(f"{srv.url}/events", timeout=30).text
                                first = html.unescape(re.search(
                                    r'id="events-poll"[^>]*hx-get="([^"]+)"', page, re.S).group(1))
                            r = run_pass(srv, proxy, dpid, what, first, v, args.seconds, shared)
                        finally:
                            srv.stop()
                        label = "shared" if shared else "unshared"
                        print(f"| {what} | {n or '-'} | {v} | {label} | {r['dockerd']:.2f} | "
                              f"{r['periscope']:.2f} | {r['calls']} | {r['n']} ({r['full']}) | "
                              f"{r['p50']:.1f} | {r['p99']:.1f} | "
                              f"{r['srv_p50']:.1f} / {r['srv_p99']:.1f} | {r['errors']} |",
                              flush=True)
                        if args.calls:
                            for t, line in r["seen"]:
                                print(f"    {t:6.2f} s  {line}")
    finally:
        ids = docker("ps", "-aq", "--filter", f"label={LABEL}").split()
        for i in range(0, len(ids), 100):
            subprocess.run(["docker", "rm", "-f", *ids[i:i + 100]], capture_output=True)
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
