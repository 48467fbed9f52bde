#!/usr/bin/env python3
"""Several engines, side by side in one run (a script, not a test).

1. The combined list over two engines with N containers each (created, never
   started), against the raw list calls of each engine, alone and made in
   parallel (what the combined list can at best cost: the slower of the two):
     raw A, raw B, raw A+B in parallel, Periscope /containers/rows (both engines)
2. ssh: the same list through an ssh:// engine (Debian's sshd on 127.0.0.1,
   `docker system dial-stdio` on the far side) against the unix socket, and
   the ssh connection's set-up cost (the first call) against later calls.

The second engine is a private dockerd the bench starts (and stops); sshd
comes from tests/sshkit.py. Containers are removed at the end.

  DOCKER_HOST=unix:///tmp/pdev/docker.sock .venv/bin/python bench/bench_engines.py [--n 300] [--rounds 30]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "bench")]

from app.gateway import Engine, parse_host  # noqa: E402
from benchkit import BareClient  # noqa: E402
from private_engine import PrivateDockerd  # noqa: E402
from sshkit import SSHServer  # noqa: E402

IMAGE = os.environ.get("PERISCOPE_TEST_IMAGE", "periscope-test:busybox")
LABEL = "periscope.bench=engines"


def docker(host: str, *args: str, input: bytes | None = None) -> str:
    p = subprocess.run(["docker", "-H", host, *args], capture_output=True, input=input,
                       timeout=600)
    if p.returncode:
        raise SystemExit(f"docker -H {host} {' '.join(args)}: {p.stderr.decode()[-500:]}")
    return p.stdout.decode()


def make(host: str, n: int) -> None:
    have = len(docker(host, "ps", "-aq", "--filter", f"label={LABEL}").split())
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda i: docker(host, "create", "--label", LABEL, IMAGE, "true"),
                      range(n - have)))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, env: dict):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # shared reads off: each round is a fresh read of every engine, as the
        # raw calls beside it are (a shared answer would cost no Engine call)
        e = dict(os.environ, PERISCOPE_BIND=f"127.0.0.1:{self.port}", PERISCOPE_WORKERS="1",
                 PERISCOPE_SHARE_FOR="0",
                 PERISCOPE_THREADS="4", **env)
        self.proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"],
                                     cwd=ROOT, env=e, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        for _ in range(300):
            try:
                requests.get(self.url + "/healthz", timeout=1)
                return
            except requests.RequestException:
                time.sleep(0.1)
        raise SystemExit("gunicorn did not start")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


def ms(xs: list[float]) -> str:
    return f"{statistics.median(xs) * 1000:7.1f} {sorted(xs)[int(len(xs) * 0.9)] * 1000:7.1f}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=30)
    args = ap.parse_args()
    a_host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    second = PrivateDockerd().start()
    sshd = None
    try:
        b_host = second.unix_host
        docker(b_host, "load", input=subprocess.run(["docker", "-H", a_host, "save", IMAGE],
                                                    capture_output=True, check=True).stdout)
        t0 = time.monotonic()
        make(a_host, args.n)
        make(b_host, args.n)
        print(f"{args.n} containers on each engine ({time.monotonic() - t0:.0f} s to make)")
        filters = '{"label":["%s"]}' % LABEL
        a, b = (Engine(parse_host(h, {})) for h in (a_host, b_host))
        raw_a, raw_b, raw_par, page = [], [], [], []
        bare_par, bare_page = [], []
        pool = ThreadPoolExecutor(2)
        srv = Server({"PERISCOPE_ENGINES": f"a={a_host},b={b_host}"})
        http = requests.Session()
        path = f"/containers/rows?all=1&label={LABEL}"
        url = srv.url + path
        http.get(url, timeout=30).raise_for_status()
        # the same reads with http.client kept alive, as a browser's lean HTTP
        # stack would (benchkit.BareClient says why), the raw side alike
        bare_web = BareClient(srv.url)
        bare_engines = [BareClient(h[len("unix://"):]) for h in (a_host, b_host)]
        raw_path = (f"/v{a.api_version}/containers/json?all=1&filters="
                    + requests.utils.quote(filters))

        def raw(e):
            t = time.perf_counter()
            e._send("GET", "/containers/json", params={"all": 1, "filters": filters}).content
            return time.perf_counter() - t

        for e in (a, b):
            raw(e)
        list(pool.map(lambda c: c.get(raw_path), bare_engines))
        bare_web.get(path)
        for _ in range(args.rounds):
            raw_a.append(raw(a))
            raw_b.append(raw(b))
            t = time.perf_counter()
            list(pool.map(raw, (a, b)))
            raw_par.append(time.perf_counter() - t)
            t = time.perf_counter()
            r = http.get(url, timeout=30)
            page.append(time.perf_counter() - t)
            assert r.status_code == 200 and r.text.count('data-engine="a"') >= args.n \
                and r.text.count('data-engine="b"') >= args.n, "not every row came back"
            t = time.perf_counter()
            list(pool.map(lambda c: c.get(raw_path), bare_engines))
            bare_par.append(time.perf_counter() - t)
            t = time.perf_counter()
            body = bare_web.get(path)
            bare_page.append(time.perf_counter() - t)
            assert body.count(b'data-engine="b"') >= args.n, "not every row came back"
        srv.stop()
        slower = max(statistics.median(raw_a), statistics.median(raw_b))
        par = statistics.median(raw_par)
        print(f"\n## combined list, 2 engines x {args.n} containers, {args.rounds} rounds "
              f"(median, p90 in ms; ratio to the slower engine's raw call alone, and to "
              f"the raw calls made in parallel, read by the same client)")
        for label, xs, base in (("raw GET /containers/json, engine a", raw_a, par),
                                ("raw GET /containers/json, engine b", raw_b, par),
                                ("raw a and b in parallel", raw_par, par),
                                ("Periscope /containers/rows, both", page, par),
                                ("raw a and b in parallel, http.client", bare_par,
                                 statistics.median(bare_par)),
                                ("Periscope rows, http.client", bare_page,
                                 statistics.median(bare_par))):
            alone = ("—" if "http.client" in label  # (the raw calls alone: read with requests)
                     else f"{statistics.median(xs) / slower:.2f}x")
            print(f"| {label:38} | {ms(xs)} | {alone} | {statistics.median(xs) / base:.2f}x |")

        # -- ssh ----------------------------------------------------------------------------
        sshd = SSHServer(a_host).start()
        cfg = sshd.client_config()
        over_ssh = Engine(parse_host(sshd.url, {}, ssh_config=str(cfg)))
        t = time.perf_counter()
        over_ssh.ping()
        first = time.perf_counter() - t
        later_ping = []
        for _ in range(args.rounds):
            t = time.perf_counter()
            over_ssh.ping()
            later_ping.append(time.perf_counter() - t)
        ssh_list, unix_list = [], []
        for _ in range(args.rounds):
            unix_list.append(raw(a))
            ssh_list.append(raw(over_ssh))
        conns = (sshd.dir / "sshd.log").read_text().count("Accepted publickey")
        srv = Server({"PERISCOPE_ENGINES_FILE": str(_engines_file(sshd, cfg, a_host))})
        ssh_page, unix_page = [], []
        for path, into in ((f"/engines/s/containers/rows?all=1&label={LABEL}", ssh_page),
                           (f"/engines/u/containers/rows?all=1&label={LABEL}", unix_page)):
            http.get(srv.url + path, timeout=30).raise_for_status()
            for _ in range(args.rounds):
                t = time.perf_counter()
                http.get(srv.url + path, timeout=30).raise_for_status()
                into.append(time.perf_counter() - t)
        srv.stop()
        base = statistics.median(unix_list)
        print(f"\n## ssh:// against the unix socket, {args.n} containers, {args.rounds} rounds "
              f"(median, p90 in ms)")
        print(f"| first call over ssh (ssh handshake + dial-stdio) | {first * 1000:7.1f} | |")
        print(f"| later GET /_ping over ssh | {ms(later_ping)} | |")
        print(f"| raw list, unix socket | {ms(unix_list)} | 1.00x |")
        print(f"| raw list, ssh | {ms(ssh_list)} | {statistics.median(ssh_list) / base:.2f}x |")
        print(f"| Periscope rows, unix engine | {ms(unix_page)} | {statistics.median(unix_page) / base:.2f}x |")
        print(f"| Periscope rows, ssh engine | {ms(ssh_page)} | {statistics.median(ssh_page) / base:.2f}x |")
        print(f"ssh connections made for {1 + 2 * args.rounds} raw calls: {conns}")
        load = os.getloadavg()
        print(f"\n{os.cpu_count()} CPUs, load average {load[0]:.1f} at the end")
    finally:
        if sshd:
            sshd.stop()
        for host in (a_host, second.unix_host):
            ids = subprocess.run(["docker", "-H", host, "ps", "-aq", "--filter",
                                  f"label={LABEL}"], capture_output=True, text=True).stdout.split()
            for i in range(0, len(ids), 100):
                subprocess.run(["docker", "-H", host, "rm", "-f", *ids[i:i + 100]],
                               capture_output=True)
        second.stop()


def _engines_file(sshd, cfg, unix_host) -> Path:
    f = sshd.dir / "engines.toml"
    f.write_text(f'[engines.s]\nurl = "{sshd.url}"\nssh_config = "{cfg}"\n\n'
                 f'[engines.u]\nurl = "{unix_host}"\n')
    return f


if __name__ == "__main__":
    main()
