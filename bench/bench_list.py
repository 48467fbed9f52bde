"""Container list: Periscope's page and rows partial against the raw Engine call.

Side by side in one run, for 20, 200 and 600 containers:
  raw      GET /containers/json?all=1 on the same socket, through one pooled
           requests session (what Periscope's gateway itself costs at best)
  page     GET /containers?all=1 from Periscope under gunicorn (full HTML page)
  rows     GET /containers/rows?all=1 (the partial that live polling fetches)
  cli      `docker ps -a` (the docker CLI; a process start included)
  docker-py  docker.from_env().containers.list(all=True, sparse=True)
             and, at 20 containers only, list(all=True) (one inspect per row)

Usage (an engine must answer on DOCKER_HOST; the test image must exist):
  DOCKER_HOST=unix:///tmp/pdev/docker.sock .venv/bin/python bench/bench_list.py [--rounds 30]

Containers are created (never started) with a label and removed at the end.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from app.gateway import Engine, parse_host  # noqa: E402
from benchkit import fmt, interleaved, timeit  # noqa: E402

LABEL = "periscope.bench=list"
IMAGE = os.environ.get("PERISCOPE_TEST_IMAGE", "periscope-test:busybox")


def ensure_count(engine: Engine, n: int) -> None:
    have = engine.containers(all=True, filters={"label": [LABEL]})
    missing = n - len(have)
    if missing <= 0:
        return
    def make(i):
        engine.create_container({"Image": IMAGE, "Cmd": ["true"], "Labels": {
            "periscope.bench": "list", "index": str(i), "app": "bench"}})
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(make, range(missing)))


def cleanup(engine: Engine) -> None:
    ids = [c["Id"] for c in engine.containers(all=True, filters={"label": [LABEL]})]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: engine.remove(i, force=True), ids))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--sizes", default="20,200,600")
    args = ap.parse_args()

    from conftest import LiveServer  # gunicorn as users run it

    host = parse_host(os.environ.get("DOCKER_HOST"))
    engine = Engine(host)
    api = engine.api_version
    raw_session = requests.Session() if host.scheme != "unix" else __import__(
        "requests_unixsocket").Session()
    raw_url = f"{host.base_url}/v{api}/containers/json?all=1"
    (ROOT / "artifacts").mkdir(exist_ok=True)
    srv = LiveServer({"PERISCOPE_WORKERS": "1", "PERISCOPE_THREADS": "4"})
    web = requests.Session()
    try:
        import docker as dockerpy  # the bench extra
    except ImportError:
        dockerpy = None
    dclient = dockerpy.from_env() if dockerpy else None
    base = len(engine.containers(all=True)) - len(engine.containers(all=True, filters={"label": [LABEL]}))
    print(f"engine {host.raw}, API {api}, {base} other containers on it; {args.rounds} rounds; "
          "median and p90 in ms")
    print(f"{'containers':>10} {'what':<22} {'median':>8} {'p90':>8}  ratio to raw (median)")
    try:
        for n in [int(x) for x in args.sizes.split(",")]:
            ensure_count(engine, n - base if n > base else 0)
            total = len(engine.containers(all=True))
            res = interleaved({
                "raw GET /containers/json": lambda: raw_session.get(raw_url).content,
                "Periscope page": lambda: web.get(srv.url + "/containers?all=1").content,
                "Periscope rows partial": lambda: web.get(srv.url + "/containers/rows?all=1").content,
            }, args.rounds)
            res["docker ps -a"] = timeit(lambda: subprocess.run(["docker", "ps", "-a"], capture_output=True), max(5, args.rounds // 3))
            if dclient:
                res["docker-py list sparse"] = timeit(lambda: dclient.containers.list(all=True, sparse=True), args.rounds)
                if total <= 50:
                    res["docker-py list (full)"] = timeit(lambda: dclient.containers.list(all=True), 5)
            raw_med = statistics.median(res["raw GET /containers/json"])
            for what, ms in res.items():
                print(f"{total:>10} {what:<22} {fmt(ms)}  {statistics.median(ms) / raw_med:5.2f}x")
            sys.stdout.flush()
    finally:
        srv.stop()
        cleanup(engine)


if __name__ == "__main__":
    main()
