#!/usr/bin/env python3
"""The file browser's speed and memory, side by side in one run (a script, not a test).

Makes a container holding a folder of 2,000 small files, a 200 MB file of random
bytes, and a 1 GiB folder, then times, in interleaved rounds:

  listing   raw       GET /containers/ID/archive?path=/bench/many off the Engine socket
                      (the whole tar read, nothing parsed)
            periscope GET /containers/ID/files?path=/bench/many through gunicorn
                      (1 worker, gthread); the page is checked once to list 2,000
                      entries
  download  raw       GET /containers/ID/archive?path=/bench/blob (the tar: 200 MB
                      and its headers)
            cli       `docker cp ID:/bench/blob - > /dev/null` (a tar too)
            docker-py container.get_archive() read to its end, in its own process
            periscope GET /containers/ID/files/download?path=/bench/blob (the file's
                      bytes), the worker's RSS sampled every 10 ms

Both sides are read the same way: a raw socket, a 1 MiB buffer, bytes counted
(the Engine's unix socket, Periscope's TCP port), so neither pays a client's
parsing the other does not.

then downloads the 1 GiB folder through Periscope once, RSS sampled, and removes
the container (unless given with --container).

  DOCKER_HOST=unix:///tmp/pdev/docker.sock .venv/bin/python bench/bench_files.py [--rounds 5]

docker-py is only for this bench: pip install -e '.[bench]' (or pip install docker).
"""

from __future__ import annotations

import argparse
import os
import resource
import socket
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_logs import IMAGE, Server, api_version, child_run, docker, raw_get  # noqa: E402
from benchkit import PeakRSS  # noqa: E402

LABEL = "periscope.bench=files"
BLOB_MB = 200

MAKE = (f"mkdir -p /bench/many /bench/gig && cd /bench/many && "
        f"for i in $(seq 1 2000); do echo \"file $i\" > f$i.txt; done && "
        f"head -c {BLOB_MB * 1048576} /dev/urandom > /bench/blob && "
        f"for i in 1 2 3 4; do head -c 268435456 /dev/zero > /bench/gig/part$i; done && "
        f"touch /ready && exec sleep 86400")

DOCKERPY = """
import docker, sys
c = docker.from_env().containers.get(sys.argv[1])
bits, stat = c.get_archive(sys.argv[2], chunk_size=262144)
n = 0
for chunk in bits:
    n += len(chunk)
print(n)
"""


def make_container() -> str:
    name = f"bench-files-{uuid.uuid4().hex[:8]}"
    t0 = time.perf_counter()
    cid = docker("run", "-d", "--name", name, "--label", LABEL, IMAGE, "sh", "-c", MAKE)
    while subprocess.run(["docker", "exec", cid, "test", "-e", "/ready"],
                         capture_output=True).returncode:
        time.sleep(0.2)
    print(f"made {name}: 2,000 files, a {BLOB_MB} MB file, a 1 GiB folder in "
          f"{time.perf_counter() - t0:.1f} s", flush=True)
    return cid


def tcp_get(port: int, path: str) -> tuple[int, float]:
    """Bytes of an HTTP answer off a TCP connection to Periscope (headers
    included, nothing parsed) and seconds taken: read as raw_get reads the
    Engine's socket, so both sides pay the same for the reading."""
    s = socket.create_connection(("127.0.0.1", port))
    t0 = time.perf_counter()
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
    n = 0
    buf = bytearray(1 << 20)
    while True:
        k = s.recv_into(buf)
        if not k:
            break
        n += k
    s.close()
    return n, time.perf_counter() - t0


def sampled_get(srv: Server, path: str) -> tuple[int, float, int, int]:
    """(bytes, seconds, worker RSS before in KB, worker peak RSS in KB) of one GET."""
    with PeakRSS(srv.worker, every=0.01) as mem:
        n, dt = tcp_get(srv.port, path)
    return n, dt, mem.before, mem.peak


def med(xs: list[float]) -> float:
    return statistics.median(xs)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--list-runs", type=int, default=15, help="listing pairs per round")
    ap.add_argument("--container", help="reuse this container (made by an earlier run)")
    args = ap.parse_args()
    try:
        import docker as _dockerpy  # noqa: F401
        have_dockerpy = True
    except ImportError:
        have_dockerpy = False
        print("docker-py missing (pip install docker): its row is skipped", file=sys.stderr)
    api = api_version()
    cid = args.container or make_container()
    srv = Server()
    browser = requests.Session()
    t: dict[str, list[float]] = {k: [] for k in ("list_raw", "list_page", "dl_raw", "dl_cli",
                                                  "dl_py", "dl_page")}
    rss: dict[str, list] = {"dl_raw": [], "dl_cli": [], "dl_py": [], "dl_page": []}
    sizes: dict[str, int] = {}
    list_path = f"/containers/{cid}/files?path=/bench/many"
    list_url = srv.url + list_path
    try:
        page = browser.get(list_url, timeout=60)
        page.raise_for_status()
        assert page.text.count('<tr class="k-file">') == 2000, "the page did not list 2,000 files"
        assert 'id="listing-cut"' not in page.text
        for rnd in range(args.rounds):
            for _ in range(args.list_runs):
                n, dt = raw_get(f"/v{api}/containers/{cid}/archive?path=/bench/many")
                t["list_raw"].append(dt)
                sizes["list_raw"] = n
                n, dt = tcp_get(srv.port, list_path)
                t["list_page"].append(dt)
                sizes["list_page"] = n
            n, dt = raw_get(f"/v{api}/containers/{cid}/archive?path=/bench/blob")
            t["dl_raw"].append(dt)
            sizes["dl_raw"] = n
            rss["dl_raw"].append(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
            dt, peak, _ = child_run(["docker", "cp", f"{cid}:/bench/blob", "-"],
                                    stdout=subprocess.DEVNULL)
            t["dl_cli"].append(dt)
            rss["dl_cli"].append(peak)
            if have_dockerpy:
                dt, peak, out = child_run([sys.executable, "-c", DOCKERPY, cid, "/bench/blob"])
                t["dl_py"].append(dt)
                rss["dl_py"].append(peak)
                sizes["dl_py"] = int(out.strip())
            n, dt, before, peak = sampled_get(srv, f"/containers/{cid}/files/download"
                                                   f"?path=/bench/blob")
            t["dl_page"].append(dt)
            rss["dl_page"].append((before, peak))
            sizes["dl_page"] = n
            assert BLOB_MB * 1048576 < n < BLOB_MB * 1048576 + 4096, f"the download sent {n:,} bytes"
            print(f"round {rnd + 1}: listing raw {med(t['list_raw'][-args.list_runs:]) * 1000:.0f} ms,"
                  f" page {med(t['list_page'][-args.list_runs:]) * 1000:.0f} ms; download raw "
                  f"{t['dl_raw'][-1]:.2f} s, cli {t['dl_cli'][-1]:.2f} s, "
                  + (f"docker-py {t['dl_py'][-1]:.2f} s, " if t["dl_py"] else "")
                  + f"periscope {t['dl_page'][-1]:.2f} s", flush=True)
        gig = sampled_get(srv, f"/containers/{cid}/files/download?path=/bench/gig")
    finally:
        srv.stop()
        if not args.container:
            docker("rm", "-f", cid, check=False)

    mb = lambda kb: f"{kb / 1024:.0f} MB"  # noqa: E731
    load = os.getloadavg()
    lr, lp = med(t["list_raw"]), med(t["list_page"])
    dr = med(t["dl_raw"])
    print()
    print(f"{args.rounds} rounds ({args.list_runs} listing pairs each), median (min); "
          f"{os.cpu_count()} CPUs, load average {load[0]:.1f} at the end.")
    print()
    print("| what | time | vs raw | MB/s | peak RSS |")
    print("|---|---|---|---|---|")
    print(f"| listing: raw GET archive of the folder ({sizes['list_raw'] / 1e6:.1f} MB of tar) | "
          f"{lr * 1000:.1f} ms ({min(t['list_raw']) * 1000:.1f}) | 1.00x | | |")
    print(f"| listing: Periscope page, 2,000 rows ({sizes['list_page'] / 1e3:.0f} KB of HTML) | "
          f"{lp * 1000:.1f} ms ({min(t['list_page']) * 1000:.1f}) | {lp / lr:.2f}x | | |")
    blob = BLOB_MB * 1048576

    def row(label, key, rss_text):
        m = med(t[key])
        print(f"| {label} | {m:.2f} s ({min(t[key]):.2f}) | {m / dr:.2f}x | {blob / m / 1e6:.0f} | "
              f"{rss_text} |")

    row(f"download: raw GET archive of the {BLOB_MB} MB file", "dl_raw",
        f"{mb(max(rss['dl_raw']))} (this bench process)")
    row("download: `docker cp ID:/bench/blob - >/dev/null`", "dl_cli", mb(max(rss["dl_cli"])))
    if t["dl_py"]:
        row("download: docker-py `get_archive()`", "dl_py", mb(max(rss["dl_py"])))
    growth = max(p - b for b, p in rss["dl_page"])
    worst = max(rss["dl_page"], key=lambda bp: bp[1] - bp[0])
    row("download: Periscope (gunicorn worker)", "dl_page",
        f"worker {mb(worst[0])} → {mb(worst[1])}: +{growth / 1024:.1f} MB")
    gn, gdt, gb, gp = gig
    print(f"| 1 GiB folder as a tar through Periscope ({gn / 1e6:.0f} MB) | {gdt:.2f} s | | "
          f"{gn / gdt / 1e6:.0f} | worker {mb(gb)} → {mb(gp)}: +{(gp - gb) / 1024:.1f} MB |")
    print()
    dl = med(t["dl_page"]) / dr
    print(f"Goals: listing {lp / lr:.2f}x raw (goal ≤ 1.3x): {'met' if lp / lr <= 1.3 else 'NOT met'}; "
          f"download {dl:.2f}x raw (goal ≤ 1.1x): {'met' if dl <= 1.1 else 'NOT met'}; "
          f"worker RSS +{growth / 1024:.1f} MB for 200 MB, +{(gp - gb) / 1024:.1f} MB for 1 GiB "
          f"(goal ≤ 20 MB): {'met' if max(growth, gp - gb) <= 20 * 1024 else 'NOT met'}.")


if __name__ == "__main__":
    main()
