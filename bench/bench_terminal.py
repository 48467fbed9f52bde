#!/usr/bin/env python3
"""The terminal's keystroke round trip, side by side in one run (a script, not
a test): one byte in, its echo back, through

  raw        a hijacked POST /exec/{id}/start connection to the Engine socket
             (Periscope's own gateway call, nothing else on the path)
  cli        `docker exec -it` in a pseudo-terminal (what lazydocker runs)
  periscope  Periscope's WebSocket under gunicorn (1 worker, gthread), which
             relays to such a hijacked connection

The command in the container is `stty raw -echo; exec cat`: each byte is read
and written back by a program, as a shell's line editor does. Keystrokes are
sent one at a time, each after the last one's echo came back; rounds of each
way are interleaved. Prints p50, p90 and p99 in ms, and Periscope's p50 over
raw's (the goal: at most 2 ms added on loopback).

  DOCKER_HOST=unix:///tmp/pdev/docker.sock .venv/bin/python bench/bench_terminal.py [--keys 300] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import pty
import select
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from app.gateway import from_env  # noqa: E402
from termkit import Page  # noqa: E402

IMAGE = os.environ.get("PERISCOPE_TEST_IMAGE", "periscope-test:busybox")
ECHO = ["sh", "-c", "stty raw -echo; printf ready; exec cat"]


def docker(*args: str) -> str:
    p = subprocess.run(["docker", *args], capture_output=True, text=True)
    if p.returncode:
        raise SystemExit(f"docker {' '.join(args)}: {p.stderr.strip()}")
    return p.stdout.strip()


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def keys(n: int):
    for i in range(n):
        yield bytes([97 + i % 26])


def raw_round(cid: str, n: int) -> list[float]:
    eng = from_env()
    eid = eng.exec_create(cid, ECHO)
    out = []
    with eng.exec_start(eid, console_size=(24, 80)) as s:
        got = b""
        while b"ready" not in got:
            got += s.recv()
        for k in keys(n):
            t0 = time.perf_counter()
            s.send(k)
            got = b""
            while k not in got:
                got += s.recv(4096)
            out.append((time.perf_counter() - t0) * 1000)
    return out


def cli_round(cid: str, n: int) -> list[float]:
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp("docker", ["docker", "exec", "-it", cid, *ECHO])
    out = []
    try:
        got = b""
        while b"ready" not in got:
            got += os.read(fd, 4096)
        for k in keys(n):
            t0 = time.perf_counter()
            os.write(fd, k)
            got = b""
            while k not in got:
                select.select([fd], [], [], 5)
                got += os.read(fd, 4096)
            out.append((time.perf_counter() - t0) * 1000)
    finally:
        os.write(fd, b"\x04")
        os.kill(pid, 15)
        os.waitpid(pid, 0)
        os.close(fd)
    return out


def periscope_round(page: Page, n: int) -> list[float]:
    t = page.connect(shell="custom", argv=" ".join(f"'{a}'" for a in ECHO))
    t.wait_output(b"ready")
    ws = t.ws
    out = []
    for k in keys(n):
        t0 = time.perf_counter()
        ws.send(k)
        got = b""
        while k not in got:
            msg = ws.receive(5)
            if isinstance(msg, bytes):
                got += msg
        out.append((time.perf_counter() - t0) * 1000)
    t.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--keys", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    from conftest import LiveServer  # the tests' gunicorn starter

    name = f"bench-term-{uuid.uuid4().hex[:6]}"
    cid = docker("run", "-d", "--name", name, "--label", "periscope.bench=terminal", IMAGE,
                 "sleep", "3600")
    (ROOT / "artifacts").mkdir(exist_ok=True)
    srv = LiveServer({"PERISCOPE_WORKERS": "1", "PERISCOPE_THREADS": "8"})
    try:
        page = Page(srv.url, f"/containers/{cid}/terminal")
        results: dict[str, list[float]] = {"raw": [], "cli": [], "periscope": []}
        for _ in range(a.rounds):
            results["raw"] += raw_round(cid, a.keys)
            results["cli"] += cli_round(cid, a.keys)
            results["periscope"] += periscope_round(page, a.keys)
        print(f"keystroke round trip, {a.rounds} rounds x {a.keys} keys, engine "
              f"{docker('version', '--format', '{{.Server.Version}}')}, {os.cpu_count()} CPUs")
        print(f"{'way':<10} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'mean ms':>8}")
        for way, xs in results.items():
            print(f"{way:<10} {pct(xs, .5):8.3f} {pct(xs, .9):8.3f} {pct(xs, .99):8.3f} "
                  f"{statistics.fmean(xs):8.3f}")
        added = pct(results["periscope"], .5) - pct(results["raw"], .5)
        print(f"periscope adds {added:.3f} ms at p50 over raw (goal: at most 2 ms)")
    finally:
        srv.stop()
        docker("rm", "-f", cid)


if __name__ == "__main__":
    main()
