#!/usr/bin/env python3
"""The merged logs page against the raw Engine calls, side by side in one run
(a script, not a test).

Brings up a Compose project (Debian's docker-compose, the test image) whose one
service is scaled to 4 containers, each of which logs 1,000 lines, then times,
in interleaved rounds:

  raw, slowest    each container's raw tail call (GET /containers/ID/logs?tail=1000&
                  timestamps=1 off the Engine socket, nothing parsed), one after the
                  other; the round's slowest of the four is the figure (the goal's base)
  raw, 4 at once  the four raw tail calls in parallel (the floor of parallel calls)
  periscope       GET /projects/NAME/logs?tail=1000 through gunicorn (one gthread
                  worker, on a kept-alive connection as a browser holds it): the
                  list call, four logs calls in parallel, the merge and 4,000 rows
  compose         `docker-compose logs --no-color -t --tail=1000` to /dev/null: the
                  way people read a project's logs today

Every Periscope answer is checked to hold the 4,000 lines.

Then the merged download of a second project of 4 containers with --download-mb
MB of log each (two `yes | head` pipes, stdout and stderr): the four raw full
log calls at once, Periscope's GET /projects/NAME/logs/download?timestamps=1
(its worker's RSS sampled every 20 ms while it streams: memory stays flat) and
`docker-compose logs -t`. Both projects are brought down at the end.

  DOCKER_HOST=unix:///tmp/pdev/docker.sock .venv/bin/python bench/bench_merged.py [--runs 30]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_logs import Server, api_version, docker, raw_get  # noqa: E402
from benchkit import PeakRSS  # noqa: E402

IMAGE = os.environ.get("PERISCOPE_TEST_IMAGE", "periscope-test:busybox")
LINE = "merged bench line $i: some realistic text of about seventy-six bytes, ok"


def compose(project: str, file: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["docker-compose", "-p", project, "-f", str(file), *args],
                          capture_output=True, text=True, cwd=file.parent)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=30, help="rounds of every reader")
    ap.add_argument("--containers", type=int, default=4)
    ap.add_argument("--lines", type=int, default=1000)
    ap.add_argument("--download-mb", type=int, default=10, help="MB of log per container for "
                    "the download pass (0: none)")
    ap.add_argument("--download-runs", type=int, default=3)
    args = ap.parse_args()
    if not shutil.which("docker-compose"):
        raise SystemExit("docker-compose is missing (apt-get install docker-compose)")
    api = api_version()
    project = f"benchmerge{uuid.uuid4().hex[:8]}"
    tmp = Path(tempfile.mkdtemp(prefix="bench-merged-"))
    file = tmp / "compose.json"
    cmd = (f"i=0; while [ $i -lt {args.lines} ]; do i=$((i+1)); echo \"{LINE}\"; done; "
           "exec sleep 3600").replace("$", "$$")
    file.write_text(json.dumps({"version": "2.4", "services": {"web": {
        "image": IMAGE, "command": ["sh", "-c", cmd], "labels": {"periscope.bench": "merged"},
        "network_mode": "none", "stop_grace_period": "1s"}}}))
    n = args.containers
    total = n * args.lines
    srv = None
    big = f"{project}big"
    bigfile = tmp / "big.json"
    per = args.download_mb * 1_000_000 // 76
    big_cmd = ('L=$(head -c 70 /dev/zero | tr "\\0" o); E=$(head -c 70 /dev/zero | tr "\\0" e); '
               f'(yes "out $L" | head -n {per * 2 // 3}) & (yes "err $E" | head -n {per - per * 2 // 3} >&2) & '
               'wait; echo bench-done; exec sleep 3600').replace("$", "$$")
    bigfile.write_text(json.dumps({"version": "2.4", "services": {"web": {
        "image": IMAGE, "command": ["sh", "-c", big_cmd], "labels": {"periscope.bench": "merged"},
        "network_mode": "none", "stop_grace_period": "1s"}}}))
    dl: dict[str, list] = {"parallel": [], "periscope": [], "cli": [], "rss": []}
    dl_bytes = 0
    try:
        up = compose(project, file, "up", "-d", "--scale", f"web={n}")
        if up.returncode:
            raise SystemExit(f"docker-compose up failed: {up.stderr}")
        ids = compose(project, file, "ps", "-q").stdout.split()
        assert len(ids) == n, ids
        deadline = time.time() + 60
        while any(len(docker("logs", "--tail", "2", c).splitlines()) < 1 or
                  f"line {args.lines}:" not in docker("logs", "--tail", "1", c) for c in ids):
            if time.time() > deadline:
                raise SystemExit("the containers did not log their lines")
            time.sleep(0.2)
        srv = Server()
        browser = requests.Session()
        url = f"{srv.url}/projects/{project}/logs?tail={args.lines}"
        for _ in range(3):  # warm: imports, templates, the connection pools
            browser.get(url, timeout=60).raise_for_status()
        tail_path = f"/v{api}/containers/{{}}/logs?stdout=1&stderr=1&timestamps=1&tail={args.lines}"
        slowest, parallel, page, cli = [], [], [], []
        for _ in range(args.runs):
            slowest.append(max(raw_get(tail_path.format(c))[1] for c in ids))
            times: list[float] = []
            t0 = time.perf_counter()
            threads = [threading.Thread(target=lambda c=c: times.append(
                raw_get(tail_path.format(c))[1])) for c in ids]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            parallel.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            r = browser.get(url, timeout=60)
            page.append(time.perf_counter() - t0)
            r.raise_for_status()
            shown = r.text.count('<div class="ll ')
            assert shown == total, f"the page showed {shown} lines, not {total}"
            t0 = time.perf_counter()
            subprocess.run(["docker-compose", "-p", project, "-f", str(file), "logs",
                            "--no-color", "-t", f"--tail={args.lines}"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, cwd=tmp)
            cli.append(time.perf_counter() - t0)
        if args.download_mb:
            t0 = time.perf_counter()
            up = compose(big, bigfile, "up", "-d", "--scale", f"web={n}")
            if up.returncode:
                raise SystemExit(f"docker-compose up failed: {up.stderr}")
            big_ids = compose(big, bigfile, "ps", "-q").stdout.split()
            deadline = time.time() + 600
            while any("bench-done" not in docker("logs", "--tail", "1", c) for c in big_ids):
                if time.time() > deadline:
                    raise SystemExit("the big logs were not made")
                time.sleep(0.5)
            print(f"made {n} logs of {args.download_mb} MB in {time.perf_counter() - t0:.1f} s",
                  flush=True)
            for _ in range(args.download_runs):
                got = []
                t0 = time.perf_counter()
                threads = [threading.Thread(target=lambda c=c: got.append(raw_get(
                    f"/v{api}/containers/{c}/logs?stdout=1&stderr=1&timestamps=1")[0]))
                    for c in big_ids]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
                dl["parallel"].append(time.perf_counter() - t0)
                with PeakRSS(srv.worker) as mem:
                    t0 = time.perf_counter()
                    nbytes = lines_n = 0
                    with requests.get(f"{srv.url}/projects/{big}/logs/download?timestamps=1",
                                      stream=True, timeout=600) as r:
                        r.raise_for_status()
                        for chunk in r.iter_content(1 << 20):
                            nbytes += len(chunk)
                            lines_n += chunk.count(b"\n")
                    dl["periscope"].append(time.perf_counter() - t0)
                dl["rss"].append((mem.before, mem.peak))
                want = n * (per + 1)  # and each one's bench-done
                assert lines_n == want, f"the download held {lines_n:,} lines, not {want:,}"
                dl_bytes = nbytes
                t0 = time.perf_counter()
                subprocess.run(["docker-compose", "-p", big, "-f", str(bigfile), "logs",
                                "--no-color", "-t"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, cwd=tmp)
                dl["cli"].append(time.perf_counter() - t0)
    finally:
        if srv is not None:
            srv.stop()
        compose(project, file, "down", "-t", "0")
        if args.download_mb:
            compose(big, bigfile, "down", "-t", "0")
        shutil.rmtree(tmp, ignore_errors=True)

    base = statistics.median(slowest)
    load = os.getloadavg()
    print()
    print(f"{n} containers x {args.lines:,} lines ({total:,} in the merged page); {args.runs} "
          f"rounds, median (min); {os.cpu_count()} CPUs, load average {load[0]:.1f} at the end.")
    print()
    print("| reader | median | min | vs the slowest raw tail call |")
    print("|---|---|---|---|")
    for label, vals in ((f"raw tail call, the slowest of the {n}", slowest),
                        (f"raw tail calls, all {n} at once", parallel),
                        ("Periscope merged page (gunicorn)", page),
                        ("`docker-compose logs -t --tail` (1.29.2)", cli)):
        med = statistics.median(vals)
        print(f"| {label} | {med * 1000:.1f} ms | {min(vals) * 1000:.1f} ms | {med / base:.2f}x |")
    ratio = statistics.median(page) / base
    print()
    print(f"Goal: merged page at most 1.5x the slowest raw tail call: {ratio:.2f}x, "
          f"{'met' if ratio <= 1.5 else 'NOT met'}.")
    if dl["periscope"]:
        b = statistics.median(dl["parallel"])
        growth = max(p - q for q, p in dl["rss"])
        print()
        print(f"Merged download: {n} x {args.download_mb} MB logs ({n * per:,} lines, "
              f"{dl_bytes / 1e6:.1f} MB of text); {args.download_runs} runs, median (min).")
        print()
        print("| reader | median | min | vs the raw calls at once | memory |")
        print("|---|---|---|---|---|")
        print(f"| raw full log calls, all {n} at once | {b:.2f} s | {min(dl['parallel']):.2f} s "
              f"| 1.00x | |")
        print(f"| Periscope merged download (gunicorn) | {statistics.median(dl['periscope']):.2f} s "
              f"| {min(dl['periscope']):.2f} s | {statistics.median(dl['periscope']) / b:.2f}x "
              f"| worker +{growth / 1024:.1f} MB |")
        print(f"| `docker-compose logs -t` (1.29.2) | {statistics.median(dl['cli']):.2f} s "
              f"| {min(dl['cli']):.2f} s | {statistics.median(dl['cli']) / b:.2f}x | |")


if __name__ == "__main__":
    main()
