#!/usr/bin/env python3
"""Logs speed and memory, side by side in one run (a script, not a test).

Makes a container with about 100 MB of mixed stdout/stderr log (~1.3 million
frames), then reads it, in interleaved rounds:

  raw      GET /containers/ID/logs off the Engine socket, bytes counted, nothing parsed
  cli      `docker logs ID` to /dev/null
  docker-py  docker-py's container.logs(stream=True), in its own process
  periscope  GET /containers/ID/logs/download through gunicorn (1 worker, gthread),
           the worker's RSS sampled every 20 ms while it streams

each as time, MB/s and peak RSS; then the logs page with tail=1000 (through
gunicorn, on a kept-alive connection as a browser has) against the raw Engine
tail call. The container is removed at the end (unless given with --container).

  DOCKER_HOST=unix:///tmp/pdev/docker.sock .venv/bin/python bench/bench_logs.py [--rounds 3] [--mb 100]

docker-py is only for this bench: pip install -e '.[bench]' (or pip install docker).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import unquote, urlparse

import requests

from benchkit import BareClient, PeakRSS, rss_kb

ROOT = Path(__file__).resolve().parent.parent
IMAGE = os.environ.get("PERISCOPE_TEST_IMAGE", "periscope-test:busybox")
LABEL = "periscope.bench=logs"


def docker(*args: str, check: bool = True) -> str:
    p = subprocess.run(["docker", *args], capture_output=True, text=True)
    if check and p.returncode:
        raise SystemExit(f"docker {' '.join(args)}: {p.stderr.strip()}")
    return p.stdout.strip()


def socket_path() -> str:
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if not host.startswith("unix://"):
        raise SystemExit("this bench reads the Engine's unix socket: set DOCKER_HOST=unix://...")
    return unquote(urlparse(host).path)


def api_version() -> str:
    return json.loads(docker("version", "--format", "{{json .Server.APIVersion}}"))


def raw_get(path: str) -> tuple[int, float]:
    """Bytes of an HTTP response body off the socket (headers and chunk framing
    included, nothing parsed), and seconds taken."""
    s = socket.socket(socket.AF_UNIX)
    s.connect(socket_path())
    t0 = time.perf_counter()
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n".encode())
    n = 0
    buf = bytearray(1 << 20)
    while True:
        k = s.recv_into(buf)
        if not k:
            break
        n += k
    s.close()
    return n, time.perf_counter() - t0


def child_run(argv: list[str], **kw) -> tuple[float, int, str]:
    """Run a process; (seconds, its peak RSS in KB read from /proc while it runs, stdout).
    (wait4's ru_maxrss would count the forked bench before exec.)"""
    t0 = time.perf_counter()
    p = subprocess.Popen(argv, stdout=kw.pop("stdout", subprocess.PIPE), stderr=subprocess.DEVNULL,
                         **kw)
    peak = [0]
    done = threading.Event()

    def sample():
        while not done.is_set():
            try:
                peak[0] = max(peak[0], rss_kb(p.pid, "VmHWM"))
            except (OSError, ValueError):
                pass
            time.sleep(0.02)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    out = p.stdout.read() if p.stdout else b""
    p.wait()
    dt = time.perf_counter() - t0
    done.set()
    t.join()
    if p.returncode:
        raise SystemExit(f"{argv[0]} failed ({p.returncode})")
    return dt, peak[0], (out or b"").decode()


DOCKERPY = """
import docker, sys
c = docker.from_env().containers.get(sys.argv[1])
n = 0
for chunk in c.logs(stream=True, stdout=True, stderr=True):
    n += len(chunk)
print(n)
"""


class Server:
    """gunicorn as users run it, one worker so its RSS is the one that serves."""

    def __init__(self, root: Path = ROOT):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, PERISCOPE_BIND=f"127.0.0.1:{self.port}", PERISCOPE_WORKERS="1",
                   PERISCOPE_THREADS="4")
        self.log = open(f"/tmp/bench-logs-gunicorn-{self.port}.log", "wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"],
                                     cwd=root, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        for _ in range(200):
            try:
                requests.get(self.url + "/healthz", timeout=1)
                break
            except requests.RequestException:
                time.sleep(0.1)
        kids = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
        self.worker = int(kids[0])

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def periscope_download(srv: Server, cid: str) -> tuple[int, float, int, int]:
    """(bytes, seconds, worker RSS before in KB, worker peak RSS while streaming in KB)."""
    with PeakRSS(srv.worker) as mem:
        t0 = time.perf_counter()
        n = 0
        with requests.get(f"{srv.url}/containers/{cid}/logs/download", stream=True,
                          timeout=600) as r:
            r.raise_for_status()
            for chunk in r.iter_content(1 << 20):
                n += len(chunk)
        dt = time.perf_counter() - t0
    return n, dt, mem.before, mem.peak


def make_log(mb: int) -> str:
    """A container whose log holds about `mb` MB: 2/3 stdout, 1/3 stderr, 76-byte lines."""
    lines = mb * 1_000_000 // 76
    out, err = lines * 2 // 3, lines - lines * 2 // 3
    name = f"bench-logs-{uuid.uuid4().hex[:8]}"
    cmd = ('L=$(head -c 70 /dev/zero | tr "\\0" o); E=$(head -c 70 /dev/zero | tr "\\0" e); '
           f'(yes "out $L" | head -n {out}) & (yes "err $E" | head -n {err} >&2) & wait')
    t0 = time.perf_counter()
    cid = docker("run", "-d", "--name", name, "--label", LABEL, IMAGE, "sh", "-c", cmd)
    docker("wait", cid)
    print(f"made {name}: {lines:,} lines ({out:,} stdout, {err:,} stderr) in "
          f"{time.perf_counter() - t0:.1f} s", flush=True)
    return cid


def fmt(label: str, secs: list[float], nbytes: int, rss: str, base: float | None) -> str:
    med = statistics.median(secs)
    rel = f"{med / base:.2f}x" if base else "1.00x"
    return (f"| {label} | {med:.2f} s ({', '.join(f'{s:.2f}' for s in secs)}) | "
            f"{nbytes / med / 1e6:.1f} | {rel} | {rss} |")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--mb", type=int, default=100)
    ap.add_argument("--container", help="reuse this container instead of making one")
    ap.add_argument("--page-runs", type=int, default=30, help="page/tail-call pairs to time")
    ap.add_argument("--compare", type=Path, help="another Periscope checkout (an earlier "
                    "commit's worktree) timed in the same rounds, as a row of its own")
    args = ap.parse_args()
    try:
        import docker as _dockerpy  # noqa: F401
        have_dockerpy = True
    except ImportError:
        have_dockerpy = False
        print("docker-py missing (pip install docker): its row is skipped", file=sys.stderr)

    api = api_version()
    cid = args.container or make_log(args.mb)
    srv = Server()
    old = Server(args.compare) if args.compare else None
    res: dict[str, list] = {"raw": [], "cli": [], "dockerpy": [], "periscope": [], "compare": []}
    rss: dict[str, list] = {"raw": [], "cli": [], "dockerpy": [], "periscope": [], "compare": []}
    sizes: dict[str, int] = {}
    try:
        requests.get(f"{srv.url}/containers/{cid}/logs?tail=10", timeout=60).raise_for_status()
        for rnd in range(args.rounds):
            n, dt = raw_get(f"/v{api}/containers/{cid}/logs?stdout=1&stderr=1")
            res["raw"].append(dt)
            sizes["raw"] = n
            rss["raw"].append(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
            dt, peak, _ = child_run(["docker", "logs", cid], stdout=subprocess.DEVNULL)
            res["cli"].append(dt)
            rss["cli"].append(peak)
            if have_dockerpy:
                dt, peak, out = child_run([sys.executable, "-c", DOCKERPY, cid])
                res["dockerpy"].append(dt)
                rss["dockerpy"].append(peak)
                sizes["dockerpy"] = int(out.strip())
            n, dt, before, peak = periscope_download(srv, cid)
            res["periscope"].append(dt)
            rss["periscope"].append((before, peak))
            sizes["periscope"] = n
            if old:
                n2, dt, before, peak = periscope_download(old, cid)
                res["compare"].append(dt)
                rss["compare"].append((before, peak))
                if n2 != n:
                    print(f"WARNING: {args.compare} sent {n2:,} bytes, this tree {n:,}",
                          file=sys.stderr)
            print(f"round {rnd + 1}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in res.items() if v),
                  flush=True)
        if "dockerpy" in sizes and sizes["dockerpy"] != sizes.get("periscope"):
            print(f"WARNING: docker-py read {sizes['dockerpy']:,} payload bytes, Periscope "
                  f"{sizes['periscope']:,}", file=sys.stderr)

        # the page with tail=1000 against the raw tail call
        page, tail, page_old, page_bare = [], [], [], []
        browser = requests.Session()  # keep-alive, as a browser holds its connection
        browser.get(f"{srv.url}/containers/{cid}/logs?tail=1000", timeout=60).raise_for_status()
        if old:
            browser.get(f"{old.url}/containers/{cid}/logs?tail=1000", timeout=60)
        # the page read by a bare client, as the raw call is (http.client, kept alive):
        # what of the ratio is the requests library's reading of the answer
        bare = BareClient(srv.url)  # (it keeps its session cookie, as a browser does)
        bare.get(f"/containers/{cid}/logs?tail=1000")
        for _ in range(args.page_runs):
            n, dt = raw_get(f"/v{api}/containers/{cid}/logs?stdout=1&stderr=1&timestamps=1&tail=1000")
            tail.append(dt)
            for target, into in ((srv, page), (old, page_old)):
                if target is None:
                    continue
                t0 = time.perf_counter()
                r = browser.get(f"{target.url}/containers/{cid}/logs?tail=1000", timeout=60)
                into.append(time.perf_counter() - t0)
                r.raise_for_status()
                assert r.text.count('<div class="ll ') == 1000, "the page did not show 1000 lines"
            t0 = time.perf_counter()
            got = bare.get(f"/containers/{cid}/logs?tail=1000")
            page_bare.append(time.perf_counter() - t0)
            assert got.count(b'<div class="ll ') == 1000, "the page did not show 1000 lines"
    finally:
        srv.stop()
        if old:
            old.stop()
        if not args.container:
            docker("rm", "-f", cid, check=False)

    pm, tm = statistics.median(page), statistics.median(tail)
    if not res["raw"]:  # --rounds 0: the page only
        if page_old:
            po = statistics.median(page_old)
            print(f"Page tail=1000 at {args.compare.name}: {po * 1000:.1f} ms median "
                  f"({po / tm:.2f}x the raw tail call)")
        print(f"Page tail=1000: {pm * 1000:.1f} ms median vs raw Engine tail call "
              f"{tm * 1000:.1f} ms ({pm / tm:.2f}x); min {min(page) * 1000:.1f} vs "
              f"{min(tail) * 1000:.1f} ms.")
        pb = statistics.median(page_bare)
        print(f"Page tail=1000 read with http.client: {pb * 1000:.1f} ms median ({pb / tm:.2f}x).")
        return
    base = statistics.median(res["raw"])
    mb = lambda kb: f"{kb / 1024:.0f} MB"  # noqa: E731
    load = os.getloadavg()
    print()
    print(f"Log: {sizes['raw'] / 1e6:.1f} MB on the wire (multiplexed, chunked), "
          f"{sizes['periscope'] / 1e6:.1f} MB of payload; {args.rounds} rounds, median (all); "
          f"{os.cpu_count()} CPUs, load average {load[0]:.1f} at the end.")
    print()
    print("| reader | time | MB/s (payload) | vs raw | peak RSS |")
    print("|---|---|---|---|---|")
    pay = sizes["periscope"]
    print(fmt("raw socket, GET /containers/ID/logs", res["raw"], pay,
              f"{mb(max(rss['raw']))} (this bench process)", None))
    print(fmt("`docker logs ID >/dev/null`", res["cli"], pay, mb(max(rss["cli"])), base))
    if res["dockerpy"]:
        print(fmt("docker-py `logs(stream=True)`", res["dockerpy"], pay, mb(max(rss["dockerpy"])),
                  base))
    growth = max(p - b for b, p in rss["periscope"])
    worst = max(rss["periscope"], key=lambda bp: bp[1] - bp[0])
    print(fmt("Periscope download (gunicorn worker)", res["periscope"], pay,
              f"worker {mb(worst[0])} → {mb(worst[1])}: +{growth / 1024:.1f} MB", base))
    if res["compare"]:
        g2 = max(p - b for b, p in rss["compare"])
        print(fmt(f"Periscope at {args.compare.name} (gunicorn worker)", res["compare"], pay,
                  f"+{g2 / 1024:.1f} MB", base))
    print()
    if page_old:
        po = statistics.median(page_old)
        print(f"Page tail=1000 at {args.compare.name}: {po * 1000:.1f} ms median ({po / tm:.2f}x "
              f"the raw tail call)")
    print(f"Page tail=1000: {pm * 1000:.1f} ms median vs raw Engine tail call {tm * 1000:.1f} ms "
          f"({pm / tm:.2f}x); min {min(page) * 1000:.0f} vs {min(tail) * 1000:.0f} ms.")
    ok_dl = statistics.median(res["periscope"]) / base
    print(f"Goals: download {ok_dl:.2f}x raw (goal ≤ 1.2x): {'met' if ok_dl <= 1.2 else 'NOT met'}; "
          f"worker RSS +{growth / 1024:.1f} MB (goal < 20 MB): {'met' if growth < 20 * 1024 else 'NOT met'}; "
          f"page {pm / tm:.2f}x (goal < 2x): {'met' if pm / tm < 2 else 'NOT met'}.")


if __name__ == "__main__":
    main()
