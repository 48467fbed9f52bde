"""Images, volumes and disk pages against the raw Engine calls they stand on.

Side by side in one run, round by round:
  /images with N images       vs raw GET /images/json (and the raw pair the page
                                 asks side by side: /images/json + /containers/json)
  /volumes with N volumes     vs raw GET /volumes (and the pair with /containers/json)
  /disk                       vs raw GET /system/df
plus the docker CLI (`docker image ls`, `docker volume ls`, `docker system df`),
a process start included, as the client everyone has, and the floor of any
Periscope answer (GET /healthz: one ping through gunicorn and Flask) beside
the raw ping.

Usage (an engine must answer on DOCKER_HOST; never a shared one: it makes and
removes N images and N volumes):
  DOCKER_HOST=unix:///tmp/pdev/docker.sock .venv/bin/python bench/bench_resources.py [--n 300] [--rounds 30]

Images are made by importing N tiny distinct tarballs (POST /images/create
?fromSrc=-), volumes with POST /volumes/create, each labelled
periscope.bench=resources, and removed at the end.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import subprocess
import sys
import tarfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from app.gateway import Engine, parse_host  # noqa: E402
from benchkit import fmt  # noqa: E402
from app.gateway.transports import UnixAdapter  # noqa: E402

LABEL = "periscope.bench=resources"
REPO = "periscope-bench"


def tarball(i: int) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        data = f"bench image {i}\n".encode()
        info = tarfile.TarInfo(f"file-{i}.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def make(raw: requests.Session, base: str, n_images: int, n_volumes: int) -> None:
    def image(i):
        r = raw.post(f"{base}/images/create", params={
            "fromSrc": "-", "repo": REPO, "tag": f"t{i}",
            "changes": [f"LABEL periscope.bench=resources"]}, data=tarball(i),
            headers={"Content-Type": "application/x-tar"})
        r.raise_for_status()

    def volume(i):
        r = raw.post(f"{base}/volumes/create", json={
            "Name": f"periscope-bench-{i}", "Labels": {"periscope.bench": "resources"}})
        r.raise_for_status()

    with ThreadPoolExecutor(6) as pool:
        list(pool.map(image, range(n_images)))
        list(pool.map(volume, range(n_volumes)))


def cleanup(engine: Engine) -> None:
    imgs = engine.images(filters={"label": [LABEL]})
    vols = engine.volumes(filters={"label": [LABEL]})
    with ThreadPoolExecutor(6) as pool:
        list(pool.map(lambda i: engine.remove_image(i["Id"], force=True), imgs))
        list(pool.map(lambda v: engine.remove_volume(v["Name"]), vols))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--keep", action="store_true", help="leave the images and volumes")
    args = ap.parse_args()

    from conftest import LiveServer  # gunicorn as users run it

    host = parse_host(os.environ.get("DOCKER_HOST"))
    if host.scheme != "unix":
        sys.exit("bench_resources.py wants a unix:// DOCKER_HOST (a private engine)")
    engine = Engine(host)
    api = engine.api_version
    raw = requests.Session()
    raw.trust_env = False
    raw.mount("http+unix://", UnixAdapter(8))
    base = f"{host.base_url}/v{api}"
    have_i = len(engine.images(filters={"label": [LABEL]}))
    have_v = len(engine.volumes(filters={"label": [LABEL]}))
    t0 = time.time()
    make(raw, base, 0 if have_i >= args.n else args.n, 0 if have_v >= args.n else args.n)
    made = time.time() - t0
    n_img, n_vol = len(engine.images()), len(engine.volumes())
    n_ct = len(engine.containers(all=True))
    (ROOT / "artifacts").mkdir(exist_ok=True)
    srv = LiveServer({"PERISCOPE_WORKERS": "1", "PERISCOPE_THREADS": "4"})
    web = requests.Session()
    pair_pool = ThreadPoolExecutor(2)

    def pair(a: str, b: str):
        fa = pair_pool.submit(lambda: raw.get(base + a).content)
        raw.get(base + b).content
        fa.result()

    load = os.getloadavg()
    print(f"engine {host.raw}, API {api}; {n_img} images, {n_vol} volumes, {n_ct} containers "
          f"on it (made in {made:.0f} s); load average {load[0]:.2f}; {args.rounds} rounds; "
          "median and p90 in ms")
    print(f"{'what':<44} {'median':>8} {'p90':>8}  ratio to raw (median)")
    try:
        groups = [
            ("raw GET /images/json", [
                ("raw GET /images/json", lambda: raw.get(base + "/images/json").content),
                ("raw /images/json + /containers/json (pair)",
                 lambda: pair("/images/json", "/containers/json?all=1")),
                ("Periscope /images (page)", lambda: web.get(srv.url + "/images").content),
                ("Periscope /images/rows (poll)", lambda: web.get(srv.url + "/images/rows").content),
                ("docker image ls", lambda: subprocess.run(["docker", "image", "ls"],
                                                           capture_output=True)),
            ]),
            ("raw GET /volumes", [
                ("raw GET /volumes", lambda: raw.get(base + "/volumes").content),
                ("raw /volumes + /containers/json (pair)",
                 lambda: pair("/volumes", "/containers/json?all=1")),
                ("Periscope /volumes (page)", lambda: web.get(srv.url + "/volumes").content),
                ("Periscope /volumes/rows (poll)",
                 lambda: web.get(srv.url + "/volumes/rows").content),
                ("docker volume ls", lambda: subprocess.run(["docker", "volume", "ls"],
                                                            capture_output=True)),
                ("floor: Periscope /healthz (one ping)",
                 lambda: web.get(srv.url + "/healthz").content),
                ("floor: raw GET /_ping", lambda: raw.get(f"{host.base_url}/_ping").content),
            ]),
            ("raw GET /system/df", [
                ("raw GET /system/df", lambda: raw.get(base + "/system/df").content),
                ("Periscope /disk", lambda: web.get(srv.url + "/disk").content),
                ("docker system df", lambda: subprocess.run(["docker", "system", "df"],
                                                            capture_output=True)),
            ]),
        ]
        for ref, items in groups:
            # interleaved: each round runs every item once, so a busy moment on
            # this shared machine hits them all alike
            res: dict[str, list[float]] = {name: [] for name, _ in items}
            for _, fn in items:
                fn()
            cli_every = 3
            for r in range(args.rounds):
                for name, fn in items:
                    if name.startswith("docker ") and r % cli_every:
                        continue
                    t0 = time.perf_counter()
                    fn()
                    res[name].append((time.perf_counter() - t0) * 1000)
            raw_med = statistics.median(res[ref])
            for name, ms in res.items():
                print(f"{name:<44} {fmt(ms)}  {statistics.median(ms) / raw_med:5.2f}x")
            print()
            sys.stdout.flush()
    finally:
        srv.stop()
        if not args.keep:
            cleanup(engine)


if __name__ == "__main__":
    main()
