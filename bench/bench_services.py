"""Swarm services: Periscope's pages against the raw Engine calls.

Part 1, a real manager (DOCKER_HOST must be one), with 200 services at
replicas 0 (made cheaply: POST /services/create, no task to schedule):
  raw      GET /services?status=true on the same socket, one pooled session
  page     GET /services from Periscope under gunicorn (the full HTML page)
  rows     GET /services/rows (the partial the live list polls)
  rows 204 the same poll with the tag of the rows the viewer has, the list
           unchanged: 204, nothing rendered (the engine is still asked)
  (raw, page and rows read with `requests`, then again with http.client kept
  alive: benchkit.BareClient)
  cli      `docker service ls` (a process start included)

Part 2, recorded answers of a real two-node swarm extended to 100 nodes and
one service of 1,000 tasks (tests/swarmkit.py), served by a fake engine
(tests/faultkit.FakeEngine): what Periscope asks per page, and its time
against fetching the same answers raw.

Usage:
  DOCKER_HOST=unix:///tmp/h13/docker.sock .venv/bin/python bench/bench_services.py [--rounds 30]

The services are labelled periscope.bench=services and removed at the end.
"""

from __future__ import annotations

import argparse
import copy
import html
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from app.gateway import Engine, parse_host  # noqa: E402
from benchkit import BareClient, fmt, interleaved, timeit  # noqa: E402
from app.gateway import exceptions as ge  # noqa: E402

LABEL = "periscope.bench"
IMAGE = os.environ.get("PERISCOPE_TEST_IMAGE", "periscope-test:busybox")


def unix_session():
    return __import__("requests_unixsocket").Session()


def ensure_services(engine: Engine, n: int) -> None:
    have = engine.services(filters={"label": [f"{LABEL}=services"]}, status=False)
    missing = n - len(have)

    def make(i):
        engine._json("POST", "/services/create", body={
            "Name": f"bench-{i:04d}-{os.getpid()}", "Labels": {LABEL: "services"},
            "TaskTemplate": {"ContainerSpec": {"Image": IMAGE, "Args": ["sleep", "3600"]}},
            "Mode": {"Replicated": {"Replicas": 0}}})

    if missing > 0:
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(make, range(len(have), len(have) + missing)))


def cleanup(engine: Engine) -> None:
    ids = [s["ID"] for s in engine.services(filters={"label": [f"{LABEL}=services"]},
                                            status=False)]
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda i: engine._send("DELETE", f"/services/{i}"), ids))


def poll_of(page: str) -> str:
    """The list poll's URL (with the tag of the rows) in a page or partial."""
    return html.unescape(re.search(r'id="service-rows"[^>]*hx-get="([^"]+)"', page,
                                   re.S).group(1))


def part_real(args, LiveServer) -> None:
    host = parse_host(os.environ.get("DOCKER_HOST"))
    engine = Engine(host)
    try:
        engine.services(status=False)
    except ge.NotSwarmManager:
        sys.exit("DOCKER_HOST is not a swarm manager: `docker swarm init` it first")
    api = engine.api_version
    raw = unix_session() if host.scheme == "unix" else requests.Session()
    raw_url = f"{host.base_url}/v{api}/services?status=true"
    srv = LiveServer({"PERISCOPE_WORKERS": "1", "PERISCOPE_THREADS": "4"})
    web = requests.Session()
    bare_web = BareClient(srv.url)
    bare_raw = BareClient(host.raw[len("unix://"):] if host.scheme == "unix" else
                          "http://" + host.raw.split("://", 1)[1])
    print(f"engine {host.raw}, API {api}; {args.rounds} rounds; median and p90 in ms")
    print(f"{'services':>8} {'what':<28} {'median':>8} {'p90':>8}  ratio to the raw call "
          "read by the same client (median)")
    try:
        for n in [int(x) for x in args.sizes.split(",")]:
            ensure_services(engine, n)
            total = len(engine.services(status=False))
            polls = {"requests": poll_of(web.get(srv.url + "/services").text)}
            polls["http.client"] = polls["requests"]

            def unchanged(client: str) -> None:
                """The poll with its tag: a 204 while the rows stay the same; when
                they did change (the relative times' 10 s step), the new tag."""
                if client == "requests":
                    body = web.get(srv.url + polls[client]).text
                else:
                    body = bare_web.get(polls[client]).decode()
                if body:
                    polls[client] = poll_of(body)
            res = interleaved({  # round by round: a busier moment weighs on each alike
                "raw GET /services?status=1": lambda: raw.get(raw_url).content,
                "Periscope /services page": lambda: web.get(srv.url + "/services").content,
                "Periscope /services/rows": lambda: web.get(srv.url + "/services/rows").content,
                "rows, unchanged: 204": lambda: unchanged("requests"),
                # the same three read with http.client, as a browser's lean HTTP stack
                # would (benchkit.BareClient says why), each side alike
                "raw, http.client": lambda: bare_raw.get(f"/v{api}/services?status=true"),
                "page, http.client": lambda: bare_web.get("/services"),
                "rows, http.client": lambda: bare_web.get("/services/rows"),
                "rows 204, http.client": lambda: unchanged("http.client"),
            }, args.rounds)
            res["docker service ls"] = timeit(lambda: subprocess.run(
                ["docker", "service", "ls"], capture_output=True), max(5, args.rounds // 3))
            base = statistics.median(res["raw GET /services?status=1"])
            bare_base = statistics.median(res["raw, http.client"])
            for what, ms in res.items():
                b = bare_base if "http.client" in what else base
                print(f"{total:>8} {what:<28} {fmt(ms)}  {statistics.median(ms) / b:5.2f}x")
            sys.stdout.flush()
    finally:
        srv.stop()
        cleanup(engine)


def part_recorded(args, LiveServer) -> None:
    from faultkit import FakeEngine
    from swarmkit import load, scaled_nodes, scaled_tasks

    nodes = scaled_nodes(100)
    svc = copy.deepcopy(load("service-shop_api"))
    tasks = scaled_tasks(svc, 1000, nodes)
    J = "application/json"
    answers = {f"/v1.41/services/{svc['ID']}": json.dumps(svc),
               "/v1.41/services": json.dumps([svc]), "/v1.41/tasks": json.dumps(tasks),
               "/v1.41/nodes": json.dumps(nodes), "/v1.41/info": json.dumps(load("info-manager"))}
    d = Path(tempfile.mkdtemp(prefix="sec6-", dir="/tmp"))
    fake = FakeEngine(d / "fake.sock", {k: (200, v, J) for k, v in answers.items()})
    base_url = parse_host(f"unix://{fake.path}").base_url
    srv = LiveServer({"DOCKER_HOST": f"unix://{fake.path}", "PERISCOPE_WORKERS": "1",
                      "PERISCOPE_THREADS": "4"})
    web, raw = requests.Session(), unix_session()
    print(f"\nrecorded answers: 100 nodes ({len(answers['/v1.41/nodes']) // 1024} KiB), one "
          f"service of 1,000 tasks ({len(answers['/v1.41/tasks']) // 1024} KiB); median and "
          "p90 in ms")
    print(f"{'page':<26} {'calls':<44} {'median':>8} {'p90':>8}  raw calls alone")
    try:
        for page, paths in ((f"/services/{svc['ID']}", [f"/v1.41/services/{svc['ID']}",
                                                         "/v1.41/tasks", "/v1.41/nodes",
                                                         "/v1.41/info"]),
                            (f"/services/{svc['ID']}/tasks", None),
                            ("/nodes", ["/v1.41/nodes", "/v1.41/info"]),
                            ("/services", ["/v1.41/services"])):
            web.get(srv.url + page).content
            fake.seen.clear()
            web.get(srv.url + page).content
            asked = [s.split("?")[0].split(" ", 1)[1] for s in fake.seen if "/_ping" not in s]
            ms = timeit(lambda: web.get(srv.url + page).content, args.rounds)
            raw_ms = timeit(lambda: [raw.get(base_url + p).content for p in asked], args.rounds)
            shown = ", ".join(a.replace("/v1.41", "").replace(svc["ID"], "{id}") for a in asked)
            label = page.replace(svc["ID"], "{id}")
            print(f"{label:<26} {len(asked)}: {shown:<41} {fmt(ms)}  {fmt(raw_ms)}")
    finally:
        srv.stop()
        fake.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--sizes", default="200")
    ap.add_argument("--recorded-only", action="store_true")
    args = ap.parse_args()
    from conftest import LiveServer  # gunicorn as users run it

    (ROOT / "artifacts").mkdir(exist_ok=True)
    if not args.recorded_only:
        part_real(args, LiveServer)
    part_recorded(args, LiveServer)


if __name__ == "__main__":
    main()
