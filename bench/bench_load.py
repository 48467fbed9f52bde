"""Load: many browsers on Periscope at once, under gunicorn on loopback.

Each simulated client does what an open page does: it polls the container
list partial (GET /containers/rows, as the list page's poller) and the log
follow partial of one chatty container (GET /containers/<id>/logs/poll with
the cursor the previous answer carried, as the logs page's poller), for the
whole duration. Two passes:
  paced    each client waits the page's poll interval between rounds (what
           real browsers do; default 2 s)
  flat-out no wait at all: the most the server gives
Every answer must be 200 with the expected content (the list holds the bench
containers; the log poll carries a new poller): anything else is an error.

Usage (an engine on DOCKER_HOST, the test image present):
  DOCKER_HOST=unix:///tmp/pdev/docker.sock .venv/bin/python bench/bench_load.py \
      [--clients 50] [--seconds 60] [--interval 2] [--containers 20]

gunicorn runs with gunicorn.conf.py as shipped (PERISCOPE_WORKERS/THREADS may
be set in the environment). Containers are labelled periscope.bench=load and
removed at the end.
"""

from __future__ import annotations

import argparse
import html
import os
import re
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from app.gateway import Engine, parse_host  # noqa: E402

IMAGE = os.environ.get("PERISCOPE_TEST_IMAGE", "periscope-test:busybox")
LABEL_KEY, LABEL_VAL = "periscope.bench", "load"
POLL_RE = re.compile(r'hx-get="([^"]*/logs/poll\?[^"]*)"')
LINE_RE = re.compile(r"bench line (\d+)")


def start_containers(eng: Engine, n: int) -> tuple[list[str], str]:
    ids = []
    labels = {LABEL_KEY: LABEL_VAL}
    for i in range(n):
        r = eng.create_container({"Image": IMAGE, "Cmd": ["sleep", "3600"], "Labels": labels})
        eng.start(r["Id"])
        ids.append(r["Id"])
    # the followed one: a line every 50 ms
    r = eng.create_container({"Image": IMAGE, "Labels": labels, "Cmd": [
        "sh", "-c", 'i=0; while true; do i=$((i+1)); echo "bench line $i"; sleep 0.05; done']})
    eng.start(r["Id"])
    ids.append(r["Id"])
    return ids, r["Id"]


def cleanup(eng: Engine) -> None:
    for c in eng.containers(all=True, filters={"label": [f"{LABEL_KEY}={LABEL_VAL}"]}):
        try:
            eng.remove(c["Id"], force=True)
        except Exception:  # noqa: BLE001 - best effort at the end
            pass


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.ms: dict[str, list[float]] = {"rows": [], "logs": []}
        self.errors: list[str] = []
        self.lines = 0

    def add(self, kind: str, ms: float) -> None:
        with self.lock:
            self.ms[kind].append(ms)

    def error(self, what: str) -> None:
        with self.lock:
            self.errors.append(what)


def client(url: str, log_page: str, interval: float, until: float, expect_ids: list[str],
           stats: Stats) -> None:
    s = requests.Session()
    hx = {"HX-Request": "true"}
    try:
        first = s.get(url + log_page, timeout=30)
        m = POLL_RE.search(first.text)
        if first.status_code != 200 or not m:
            stats.error(f"logs page: {first.status_code}")
            return
        poll = html.unescape(m.group(1))
        seen = [int(n) for n in LINE_RE.findall(first.text)]
        last = seen[-1] if seen else None
    except requests.RequestException as exc:
        stats.error(f"logs page: {exc}")
        return
    rows_url = f"{url}/containers/rows?label={LABEL_KEY}={LABEL_VAL}"
    while time.monotonic() < until:
        t0 = time.perf_counter()
        try:
            r = s.get(rows_url, headers={**hx, "HX-Target": "rows"}, timeout=30)
            ms = (time.perf_counter() - t0) * 1000
            if r.status_code != 200 or not all(i in r.text for i in expect_ids):
                stats.error(f"rows: {r.status_code} {r.text[:300]!r}")
            else:
                stats.add("rows", ms)
            t0 = time.perf_counter()
            r = s.get(url + poll, headers=hx, timeout=30)
            ms = (time.perf_counter() - t0) * 1000
            m = POLL_RE.search(r.text)
            if r.status_code != 200 or not m:
                stats.error(f"logs poll: {r.status_code} {r.text[:120]!r}")
                return
            poll = html.unescape(m.group(1))
            got = [int(n) for n in LINE_RE.findall(r.text)]
            # the cursor's promise: every line once, none twice, none skipped
            for n in got:
                if last is not None and n != last + 1:
                    stats.error(f"log line {n} after {last} (lost or repeated)")
                last = n
            with stats.lock:
                stats.lines += len(got)
            stats.add("logs", ms)
        except requests.RequestException as exc:
            stats.error(f"{type(exc).__name__}: {exc}")
        if interval:
            time.sleep(interval)


def pct(values: list[float], p: float) -> float:
    v = sorted(values)
    if not v:
        return float("nan")
    k = min(len(v) - 1, max(0, int(round(p / 100 * len(v) + 0.5)) - 1))
    return v[k]


def run_pass(url, log_page, clients, seconds, interval, ids) -> Stats:
    stats = Stats()
    until = time.monotonic() + seconds
    with ThreadPoolExecutor(clients) as pool:
        for _ in range(clients):
            pool.submit(client, url, log_page, interval, until, ids, stats)
    return stats


def report(name: str, st: Stats, seconds: float) -> str:
    out = []
    for kind in ("rows", "logs"):
        ms = st.ms[kind]
        out.append(f"| {name} | {kind} | {len(ms)} | {len(ms) / seconds:.1f} | "
                   f"{statistics.median(ms) if ms else float('nan'):.1f} | {pct(ms, 99):.1f} | "
                   f"{max(ms) if ms else float('nan'):.1f} |")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--interval", type=float, default=2.0)
    ap.add_argument("--containers", type=int, default=20)
    ap.add_argument("--passes", default="paced,flat-out")
    args = ap.parse_args()

    from conftest import ARTIFACTS, LiveServer

    eng = Engine(parse_host(os.environ.get("DOCKER_HOST")))
    cleanup(eng)
    ids, chatty = start_containers(eng, args.containers)
    ARTIFACTS.mkdir(exist_ok=True)
    srv = LiveServer({"PERISCOPE_POLL_INTERVAL": str(args.interval or 2)})
    try:
        log_page = f"/containers/{chatty}/logs?follow=1&tail=100"
        print(f"gunicorn workers={os.environ.get('PERISCOPE_WORKERS', '2')} "
              f"threads={os.environ.get('PERISCOPE_THREADS', '8')}, {args.clients} clients, "
              f"{args.seconds:g} s per pass, {len(ids)} bench containers", flush=True)
        print("| pass | partial | requests | req/s | p50 ms | p99 ms | max ms |")
        print("|---|---|---|---|---|---|---|")
        total_errors = []
        for name in args.passes.split(","):
            interval = args.interval if name == "paced" else 0.0
            st = run_pass(srv.url, log_page, args.clients, args.seconds, interval, ids)
            print(report(name, st, args.seconds), flush=True)
            print(f"<!-- {name}: errors={len(st.errors)} log lines received={st.lines} -->",
                  flush=True)
            total_errors += st.errors
        print(f"errors: {len(total_errors)}")
        for e in total_errors[:20]:
            print("  ", e)
    finally:
        srv.stop()
        cleanup(eng)
    sys.exit(1 if total_errors else 0)


if __name__ == "__main__":
    main()
