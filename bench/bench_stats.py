"""Resource stats: what they cost the engine, side by side in one run.

50 running containers (busybox, each doing a little work every 0.3 s so its figures move), and each pass for --seconds:

  stats, 20 viewers   Periscope as shipped (gunicorn.conf.py: 2 workers, one
                      sampler for both), 20 simulated browsers polling the list
                      partial (GET /containers/rows) every 2 s, as the page does
  stats, 1 viewer     the same, one browser
  no stats, 20        Periscope with PERISCOPE_STATS=0: the list partial without
                      stats columns (the list's own cost)
  naive, 20           no stats in Periscope; each of 20 viewers also asks the
                      engine for every container's stats every poll (one
                      `stream=false&one-shot=true` call per container per viewer
                      per poll, 8 at a time as a browser's connection limit
                      would), as a dashboard without a shared sampler does
  stream everything   the peers' way (Dozzle): `stats?stream=true` held open for
                      every running container, each sample read and decoded;
                      beside it the same 20 viewers of a Periscope without
                      stats (the list's own cost, as in the stats passes)
  idle                nothing at all (dockerd's own background)

For each: dockerd's CPU seconds (utime+stime from /proc/<pid>/stat of the
engine's dockerd: --dockerd-pid, default the pid in the pidfile next to a
unix DOCKER_HOST socket), Periscope's CPU seconds (gunicorn's master and
workers), the viewers' or streamer's own CPU seconds (they run in a child
process), the list partial's p50/p99, errors (any answer but 200 with all 50
rows, any failed stats call), and the stats calls the engine answered.

  DOCKER_HOST=unix:///tmp/h11/docker.sock .venv/bin/python bench/bench_stats.py [--seconds 60]

Containers are labelled periscope.bench=stats and removed at the end.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import random
import re
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from app.config import Settings  # noqa: E402
from app.gateway import Engine, parse_host  # noqa: E402

# the settings as shipped at the bench's poll interval (2 s)
SHIPPED = Settings.from_env({"PERISCOPE_POLL_INTERVAL": "2"})

IMAGE = os.environ.get("PERISCOPE_TEST_IMAGE", "periscope-test:busybox")
LABEL_KEY, LABEL_VAL = "periscope.bench", "stats"
TICK = os.sysconf("SC_CLK_TCK")


def cpu_of(pid: int) -> float:
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / TICK


def family_cpu(pid: int) -> float:
    """A process's CPU seconds and its living children's (gunicorn's workers)."""
    total = cpu_of(pid)
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                st = open(f"/proc/{d}/stat").read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(st[1]) == pid:
                total += (int(st[11]) + int(st[12])) / TICK
    return total


def pct(values: list[float], p: float) -> float:
    v = sorted(values)
    if not v:
        return float("nan")
    return v[min(len(v) - 1, max(0, int(round(p / 100 * len(v) + 0.5)) - 1))]


# --- the child processes -----------------------------------------------------
def _poll_url(base: str, body: str) -> str | None:
    """The rows partial's own poll URL (hx-get, with its tag), as htmx reads it."""
    m = re.search(r'<div id="rows"[^>]*?hx-get="([^"]+)"', body)
    return base + html.unescape(m.group(1)) if m else None


def _cells_tag(body: str) -> str | None:
    m = re.search(r'<span id="rows-cells" data-cells="([^"]*)"', body)
    return m.group(1) if m else None


def viewers_child(url: str, n: int, seconds: float, interval: float, naive: bool,
                  on_screen: int, ids: list[str]) -> None:
    """n browsers polling the list partial, each saying which rows are on its
    screen as static/stats.js does (`seen`: the first `on_screen` rows; 0: not
    said, as a client without the script); naive: each also asks every
    container's stats of the engine every poll."""
    lock = threading.Lock()
    out = {"ms": [], "errors": [], "stats_calls": 0, "filled": 0}
    until = time.monotonic() + seconds
    rows_url = f"{url}/containers/rows?label={LABEL_KEY}={LABEL_VAL}"

    def viewer(k: int) -> None:
        s = requests.Session()
        eng = Engine(parse_host(os.environ.get("DOCKER_HOST")), pool_size=8) if naive else None
        pool = ThreadPoolExecutor(8) if naive else None
        time.sleep(random.Random(k).uniform(0, interval))  # browsers do not open in step
        nxt = time.monotonic()
        seen = None
        poll_url = rows_url
        cells = None  # the tag of the figures on the page (#rows-cells), sent as stats.js does
        try:  # a browser opens the page first (its first rows are marked), then polls
            first = s.get(f"{url}/containers?label={LABEL_KEY}={LABEL_VAL}", timeout=30)
            poll_url = _poll_url(url, first.text) or rows_url
            cells = _cells_tag(first.text)
            if on_screen:
                seen = ",".join(re.findall(r'<tr id="c-([0-9a-f]{12})"', first.text)[:on_screen])
        except requests.RequestException as exc:
            with lock:
                out["errors"].append(f"page {type(exc).__name__}")
        nxt += interval
        time.sleep(max(0.0, nxt - time.monotonic()))
        while time.monotonic() < until:
            t0 = time.perf_counter()
            try:
                params = {"seen": seen} if seen is not None else {}
                if cells is not None:
                    params["cells"] = cells
                # as htmx polls: the URL of the last answer (its tag); a 204
                # (nothing changed since) leaves the page and the URL as they are;
                # an answer of new figures only (HX-Reswap: none) swaps its
                # cells in and leaves the rest, the URL too
                r = s.get(poll_url, params=params, headers={"HX-Request": "true"}, timeout=30)
                ms = (time.perf_counter() - t0) * 1000
                body = r.text
                only_cells = r.headers.get("HX-Reswap") == "none"
                ok = r.status_code == 204 or r.status_code == 200 and (
                    only_cells or all(i in body for i in ids))
                if r.status_code == 200:
                    cells = _cells_tag(body) or cells
                if r.status_code == 200 and not only_cells:
                    poll_url = _poll_url(url, body) or poll_url
                if on_screen and r.status_code == 200 and not only_cells:
                    order = re.findall(r'<tr id="c-([0-9a-f]{12})"', body)
                    seen = ",".join(order[:on_screen])
                with lock:
                    if r.status_code == 204:
                        out["ms"].append(ms)
                        out["unchanged"] = out.get("unchanged", 0) + 1
                    elif ok and only_cells:
                        out["ms"].append(ms)
                        out["cells_only"] = out.get("cells_only", 0) + 1
                    elif ok:
                        out["ms"].append(ms)
                        out["filled"] = max(out["filled"], body.count('class="num stat cpu">'))
                    else:
                        out["errors"].append(f"rows {r.status_code} {body[:200]!r}")
            except requests.RequestException as exc:
                with lock:
                    out["errors"].append(f"rows {type(exc).__name__}")
            if naive:
                def one(cid):
                    try:
                        eng.stats_sample(cid, timeout=30)
                        return None
                    except Exception as exc:  # noqa: BLE001
                        return f"stats {type(exc).__name__}: {exc}"
                errs = [e for e in pool.map(one, ids) if e]
                with lock:
                    out["stats_calls"] += len(ids)
                    out["errors"] += errs
            nxt += interval
            time.sleep(max(0.0, nxt - time.monotonic()))

    threads = [threading.Thread(target=viewer, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(json.dumps(out))


def stream_child(seconds: float, ids: list[str]) -> None:
    """The peers' way: a held-open stats stream for every running container."""
    stop = time.monotonic() + seconds
    counts = [0] * len(ids)
    errors = []

    def follow(i: int, cid: str) -> None:
        eng = Engine(parse_host(os.environ.get("DOCKER_HOST")), pool_size=1)
        try:
            resp = eng._send("GET", eng.container_path(cid) + "/stats",
                             params={"stream": "true"}, stream=True, timeout=30)
            for line in resp.iter_lines():
                if line:
                    json.loads(line)  # a peer decodes every sample
                    counts[i] += 1
                if time.monotonic() > stop:
                    break
            resp.close()
        except Exception as exc:  # noqa: BLE001
            errors.append(f"stream {type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=follow, args=(i, c)) for i, c in enumerate(ids)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(json.dumps({"ms": [], "errors": errors, "stats_calls": sum(counts), "filled": 0}))


# --- the orchestra ------------------------------------------------------------
def dockerd_pid(arg: int | None) -> int:
    if arg:
        return arg
    host = parse_host(os.environ.get("DOCKER_HOST"))
    if host.scheme == "unix":
        pidfile = Path(host.raw[len("unix://"):]).with_name("docker.pid")
        if pidfile.exists():
            return int(pidfile.read_text().strip())
    raise SystemExit("give --dockerd-pid (the pid of the engine's dockerd)")


def child(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, __file__, *args], stdout=subprocess.PIPE,
                            env=dict(os.environ), text=True)


def run(name: str, dpid: int, seconds: float, ids: list[str], *, stats: bool | None,
        viewers: int = 0, naive: bool = False, stream: bool = False,
        on_screen: int = 0) -> dict:
    from conftest import LiveServer

    import shutil
    import tempfile

    srv = None
    from app.config import fast_tmp

    state = tempfile.mkdtemp(prefix="bench-stats-", dir=fast_tmp())
    # gunicorn's own record of each request: its path, status and how long the
    # worker took (%(D)s, microseconds), apart from the simulated browsers
    # (Python's requests spends about 1.2 ms of its own on each answer here)
    access = Path(state) / "access.log"
    if stats is not None:
        srv = LiveServer({"PERISCOPE_POLL_INTERVAL": "2", "PERISCOPE_STATS": "1" if stats else "0",
                          "PERISCOPE_WORKERS": "2", "PERISCOPE_THREADS": "8",
                          "PERISCOPE_STATE_DIR": state,
                          "GUNICORN_CMD_ARGS": f"--access-logfile {access} "
                                               "--access-logformat '%(U)s %(s)s %(D)s'",
                          # as shipped (the tests' server turns shared reads off)
                          "PERISCOPE_SHARE_FOR": str(SHIPPED.share_for)})
        time.sleep(2)  # let the workers settle
    try:
        d0, p0, t0 = cpu_of(dpid), family_cpu(srv.proc.pid) if srv else 0.0, time.monotonic()
        procs = []
        if stream:
            procs.append(child("--child-stream", str(seconds), *ids))
        if viewers:
            procs.append(child("--child-viewers", srv.url, str(viewers), str(seconds),
                               "1" if naive else "0", str(on_screen), *ids))
        if not procs:
            time.sleep(seconds)
        result = {"ms": [], "errors": [], "stats_calls": 0, "filled": 0, "unchanged": 0,
                  "cells_only": 0}
        client_cpu = 0.0
        for proc in procs:  # each reports its own CPU (the sum of its threads) as it ends
            out, _ = proc.communicate(timeout=seconds + 120)
            got = json.loads(out.strip().splitlines()[-1])
            client_cpu += got.pop("cpu", 0.0)
            result["ms"] += got["ms"]
            result["errors"] += got["errors"]
            result["stats_calls"] += got["stats_calls"]
            result["unchanged"] += got.get("unchanged", 0)
            result["cells_only"] += got.get("cells_only", 0)
            result["filled"] = max(result["filled"], got["filled"])
        d1, t1 = cpu_of(dpid), time.monotonic()
        p1 = family_cpu(srv.proc.pid) if srv else 0.0
        if stats:  # every sample is a line of a container's history in the state folder
            result["stats_calls"] = sum(
                len(p.read_text().splitlines()) for p in Path(state).glob("stats/*/h-*.jsonl"))
        result["worker_ms"] = _served(access, "/containers/rows")
        return {"name": name, "dockerd": d1 - d0, "periscope": (p1 - p0) if srv else None,
                "client": client_cpu, "wall": t1 - t0, **result}
    finally:
        if srv is not None:
            srv.stop()
        shutil.rmtree(state, ignore_errors=True)


def _p50_p99(ms: list[float]) -> str:
    return f"{statistics.median(ms):.1f} / {pct(ms, 99):.1f}" if ms else "—"


def _served(access: Path, path: str) -> list[float]:
    """ms in the worker of each request for `path` (gunicorn's access log)."""
    out = []
    try:
        for line in access.read_text().splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[0] == path and parts[2].isdigit():
                out.append(int(parts[2]) / 1000)
    except OSError:
        pass
    return out


WORK = "while :; do head -c 20000 /dev/urandom > /dev/null; usleep 300000; done"


def start_containers(eng: Engine, n: int) -> list[str]:
    ids = []
    for _ in range(n):
        # a little work now and then, as a service does: its figures move
        # from sample to sample (a `sleep` shows 0.00% and the same bytes forever)
        r = eng.create_container({"Image": IMAGE, "Cmd": ["sh", "-c", WORK],
                                  "Labels": {LABEL_KEY: LABEL_VAL}})
        eng.start(r["Id"])
        ids.append(r["Id"])
    return ids


def up_a_minute(eng: Engine) -> None:
    """Until every bench container's status says it has been up a minute."""
    while True:
        got = eng.containers(filters={"label": [f"{LABEL_KEY}={LABEL_VAL}"]})
        if got and all(re.search(r"minute|hour|day|week|month|year", c.get("Status", ""))
                       for c in got):
            return
        time.sleep(1)


def cleanup(eng: Engine) -> None:
    for c in eng.containers(all=True, filters={"label": [f"{LABEL_KEY}={LABEL_VAL}"]}):
        try:
            eng.remove(c["Id"], force=True)
        except Exception:  # noqa: BLE001
            pass


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] in ("--child-viewers", "--child-stream"):
        import resource
        if sys.argv[1] == "--child-viewers":
            url, n, seconds, naive = sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
            on_screen, ids = int(sys.argv[6]), sys.argv[7:]
            import contextlib
            import io
            buf = io.StringIO()
            with contextlib.redirect_stdout(buf):
                viewers_child(url, n, seconds, 2.0, naive == "1", on_screen, ids)
        else:
            import contextlib
            import io
            buf = io.StringIO()
            with contextlib.redirect_stdout(buf):
                stream_child(float(sys.argv[2]), sys.argv[3:])
        res = json.loads(buf.getvalue())
        ru = resource.getrusage(resource.RUSAGE_SELF)
        res["cpu"] = ru.ru_utime + ru.ru_stime
        print(json.dumps(res))
        return

    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--containers", type=int, default=50)
    ap.add_argument("--viewers", type=int, default=20)
    ap.add_argument("--dockerd-pid", type=int)
    ap.add_argument("--on-screen", type=int, default=8,
                    help="rows a viewer's screen shows (a 1280x900 window: 8)")
    ap.add_argument("--passes", default="stats-many,stats-one,stats-many-all,nostats-many,naive,"
                                        "stream,idle")
    args = ap.parse_args()

    from conftest import ARTIFACTS

    ARTIFACTS.mkdir(exist_ok=True)
    dpid = dockerd_pid(args.dockerd_pid)
    eng = Engine(parse_host(os.environ.get("DOCKER_HOST")))
    cleanup(eng)
    others = len(eng.containers())
    ids = start_containers(eng, args.containers)
    t0 = time.monotonic()
    up_a_minute(eng)
    print(f"waited {time.monotonic() - t0:.0f} s for the containers to be up a minute "
          "(the engine's \"Up 5 seconds\" changes the list every second; a dashboard "
          "mostly watches containers up for long)", flush=True)
    v = args.viewers
    n = args.on_screen
    plan = {
        "stats-many": (f"stats, {v} viewers", dict(stats=True, viewers=v, on_screen=n)),
        "stats-one": ("stats, 1 viewer", dict(stats=True, viewers=1, on_screen=n)),
        "stats-many-all": (f"stats, {v} viewers, every row watched",
                           dict(stats=True, viewers=v)),
        "nostats-many": (f"no stats, {v} viewers", dict(stats=False, viewers=v)),
        "naive": (f"naive, {v} viewers", dict(stats=False, viewers=v, naive=True)),
        "stream": (f"stream everything, {v} viewers", dict(stats=False, viewers=v, stream=True)),
        "idle": ("idle", dict(stats=None)),
    }
    try:
        load = os.getloadavg()[0]
        print(f"engine {eng.host.raw}, API {eng.api_version}, dockerd pid {dpid}; "
              f"{len(ids)} running bench containers (+{others} others running); "
              f"{args.seconds:g} s per pass; load average {load:.1f} at the start", flush=True)
        results = []
        for key in args.passes.split(","):
            name, kw = plan[key]
            r = run(name, dpid, args.seconds, ids, **kw)
            results.append(r)
            ms = r["ms"]
            per = "—" if r["periscope"] is None else f"{r['periscope']:.2f} s"
            p50 = statistics.median(ms) if ms else float("nan")
            print(f"  {name}: dockerd {r['dockerd']:.2f} s, periscope {per}, client "
                  f"{r['client']:.2f} s, partial p50 {p50:.1f} ms, errors {len(r['errors'])}",
                  flush=True)
            time.sleep(3)
        print(f"load average {os.getloadavg()[0]:.1f} at the end")
        print()
        print("| pass | dockerd CPU s | Periscope CPU s | viewers'/streamer's CPU s | "
              "list partial p50 ms | p99 ms | in the worker p50 / p99 ms | "
              "partials (of them 204 / cells only) | "
              "stats calls / samples | "
              "rows with figures | errors |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        for r in results:
            ms = r["ms"]
            print(f"| {r['name']} | {r['dockerd']:.2f} | "
                  f"{'—' if r['periscope'] is None else format(r['periscope'], '.2f')} | "
                  f"{r['client']:.2f} | "
                  f"{format(statistics.median(ms), '.1f') if ms else '—'} | "
                  f"{format(pct(ms, 99), '.1f') if ms else '—'} | {_p50_p99(r['worker_ms'])} | "
                  f"{len(ms)} ({r.get('unchanged', 0)} / {r.get('cells_only', 0)}) | "
                  f"{r['stats_calls'] or '—'} | {r['filled'] or '—'} | {len(r['errors'])} |")
        print("(stats calls: by Periscope's sampler for the stats passes, by the viewers for "
              "the naive one, samples read off the streams for the streaming one)")
        by = {r["name"]: r for r in results}
        many, one = by.get(f"stats, {v} viewers"), by.get("stats, 1 viewer")
        base = by.get(f"no stats, {v} viewers")
        stream = by.get(f"stream everything, {v} viewers")
        print()

        def ratio(a, b):
            return a / b if b > 0.005 else float("nan")

        if many and one:
            print(f"dockerd, {v} viewers / 1 viewer: {ratio(many['dockerd'], one['dockerd']):.2f}x"
                  " (goal: at most 1.5x)")
        if many and stream:
            print(f"dockerd, {v} viewers / stream everything ({v} viewers too): "
                  f"{ratio(many['dockerd'], stream['dockerd']):.2f}x (goal: at most 0.2x)")
        if many and stream and base:
            print(f"  the stats' own part (each minus the no-stats pass): "
                  f"{ratio(many['dockerd'] - base['dockerd'], stream['dockerd'] - base['dockerd']):.2f}x")
        if many and base and many["ms"] and base["ms"]:
            print(f"list partial with stats / without, {v} viewers: p50 "
                  f"{statistics.median(many['ms']) / statistics.median(base['ms']):.2f}x, p99 "
                  f"{pct(many['ms'], 99) / pct(base['ms'], 99):.2f}x (goal: at most 1.3x)")
        if many and base and many["worker_ms"] and base["worker_ms"]:
            print(f"  the same in the worker (gunicorn's own time): p50 "
                  f"{statistics.median(many['worker_ms']) / statistics.median(base['worker_ms']):.2f}x"
                  f", p99 {pct(many['worker_ms'], 99) / pct(base['worker_ms'], 99):.2f}x")
        for r in results:
            for e in r["errors"][:5]:
                print(f"  error in {r['name']}: {e}")
    finally:
        cleanup(eng)


if __name__ == "__main__":
    main()
