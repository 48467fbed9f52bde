#!/usr/bin/env python3
"""Periscope's own CPU work per page, counted in instructions (a script, not a test).

Wall-clock figures on a shared 2-CPU machine move by 20% from run to run; the
instructions a process executes do not. This runs Periscope in-process (the
Flask app, the real engine on its socket) under valgrind's callgrind, once
with no request and once with N requests of one page, and reports the
difference divided by N: the instructions one page costs Periscope, engine
time excluded. With --compare, the same for another checkout (an earlier
commit's worktree), in the same run.

  DOCKER_HOST=unix:///tmp/pdev/docker.sock .venv/bin/python bench/bench_cpu.py \\
      --path '/containers/{cid}/logs?tail=1000' [--compare /tmp/old-worktree] [-n 10]

`{cid}` is a container the script makes: 3,000 log lines of 60 bytes, then
it exits. It is removed at the end. Needs valgrind (apt-get install valgrind).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IMAGE = os.environ.get("PERISCOPE_TEST_IMAGE", "periscope-test:busybox")

CHILD = """
import os, sys
root, path, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
sys.path.insert(0, root)
os.chdir(root)
from app import create_app
from app.config import Settings
c = create_app(Settings.from_env()).test_client()
for _ in range(3):
    r = c.get(path)
    assert r.status_code == 200, (r.status_code, r.get_data(as_text=True)[:300])
for _ in range(n):
    c.get(path)
"""


def docker(*args: str) -> str:
    return subprocess.run(["docker", *args], capture_output=True, text=True,
                          check=True).stdout.strip()


def instructions(root: Path, path: str, n: int) -> int:
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "cg.out"
        p = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                            sys.executable, "-c", CHILD, str(root), path, str(n)],
                           capture_output=True, text=True)
        m = re.search(r"Collected : (\d+)", p.stderr)
        if p.returncode or not m:
            raise SystemExit(f"callgrind run failed:\n{p.stderr[-2000:]}")
        return int(m.group(1))


def per_page(root: Path, path: str, n: int) -> float:
    return (instructions(root, path, n) - instructions(root, path, 0)) / n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--path", default="/containers/{cid}/logs?tail=1000")
    ap.add_argument("--compare", type=Path)
    ap.add_argument("-n", type=int, default=10)
    args = ap.parse_args()
    if not shutil.which("valgrind"):
        raise SystemExit("valgrind is missing (apt-get install valgrind)")
    cid = docker("run", "-d", "--label", "periscope.bench=cpu", IMAGE, "sh", "-c",
                 'i=0; while [ $i -lt 3000 ]; do echo "GET /item/$i 200 OK and some more words"; '
                 'i=$((i+1)); done')
    try:
        docker("wait", cid)
        path = args.path.format(cid=cid)
        rows = [("this tree", ROOT)] + ([(str(args.compare), args.compare)] if args.compare else [])
        results = [(label, per_page(root, path, args.n)) for label, root in rows]
    finally:
        docker("rm", "-f", cid)
    print(f"{args.path} ({args.n} requests, after 3 to warm up):")
    base = results[-1][1]
    for label, ins in results:
        print(f"  {label}: {ins / 1e6:.2f} M instructions per page ({ins / base:.2f}x)")


if __name__ == "__main__":
    main()
