"""Resource stats and processes against the real engine, `docker stats
--no-stream` and `docker top` as the witnesses."""

import html as htmllib
import re
import time

import pytest

from conftest import LABEL, SESSION, unique_name

BURN = "yes > /dev/null"
HOLD = "head -c 64000000 /dev/zero | tail -c 64000000 | sleep 600"
UNITS = {"B": 1, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "kB": 1e3, "MB": 1e6, "GB": 1e9}


def until(cond, timeout=40.0, what="condition"):
    """Poll cond() (which returns a value or None) until it gives a value."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = cond()
        if last:
            return last
        time.sleep(0.3)
    raise AssertionError(f"{what() if callable(what) else what}: not within {timeout} s")


def size(text: str) -> float:
    m = re.fullmatch(r"\s*([\d.]+)\s*([A-Za-z]+)\s*", text)
    assert m, text
    return float(m.group(1)) * UNITS[m.group(2)]


def docker_stats(docker, cid) -> dict:
    out = docker("stats", "--no-stream", "--format",
                 "{{.CPUPerc}}|{{.MemUsage}}|{{.NetIO}}|{{.PIDs}}", cid).strip()
    cpu, mem, net, pids = out.split("|")
    used, limit = mem.split(" / ")
    return {"cpu": float(cpu.rstrip("%")), "mem": size(used), "limit": size(limit),
            "net": net, "pids": int(pids)}


def row_cells(page: str, cid: str) -> dict | None:
    m = re.search(rf'<tr id="c-[^"]*" data-id="{cid}".*?</tr>', page, re.S)
    if not m:
        return None
    cells = {}
    for cls, body in re.findall(r'<td class="num stat (\w+)[^"]*"[^>]*>(.*?)</td>', m.group(0),
                                re.S):
        body = re.sub(r'<span class="stat-label">.*?</span>', "", body)
        cells[cls] = " ".join(htmllib.unescape(re.sub(r"<[^>]+>", " ", body)).split())
    return cells


def list_rows(client, q=""):
    r = client.get(f"/containers/rows?label={LABEL}={SESSION}{q}", headers={"HX-Request": "true"})
    assert r.status_code == 200
    return r.get_data(as_text=True)


def page_stats(client, cid):
    r = client.get(f"/containers/{cid}/stats", headers={"HX-Request": "true"})
    assert r.status_code == 200
    return r.get_data(as_text=True)


def dd(page: str, cls: str) -> str:
    m = re.search(rf'<dd class="stat {cls}">(.*?)</dd>', page, re.S)
    assert m, cls
    return " ".join(htmllib.unescape(re.sub(r"<[^>]+>", " ", m.group(1))).split())


def pct(text: str) -> float | None:
    m = re.fullmatch(r"([\d.]+)%", text or "")
    return float(m.group(1)) if m else None


@pytest.fixture
def stats_client(app):
    yield app.test_client()
    app.extensions["periscope.stats"].stop()


def test_cpu_burner_in_the_list_and_on_its_page_as_docker_stats(stats_client, docker,
                                                                  run_container):
    cid = run_container(BURN, name=unique_name("burn"))

    seen = []

    def both_busy(figure):
        # docker stats is asked beside each of our figures; on a busy machine the
        # burner's share moves from second to second, so ours is held against
        # the docker figure just before it and the one just after
        before = docker_stats(docker, cid)["cpu"]
        ours = figure()
        after = docker_stats(docker, cid)["cpu"]
        seen.append((before, ours, after))
        del seen[:-5]
        busy = [t for t in (before, after) if 70 <= t <= 130]
        return (ours, busy[0]) if ours is not None and 70 <= ours <= 130 and busy else None

    # (on a busy shared machine the burner gets less than a CPU now and then:
    # both figures are asked for again until both see one CPU busy)
    ours, theirs = until(lambda: both_busy(
        lambda: pct((row_cells(list_rows(stats_client), cid) or {}).get("cpu"))), timeout=90,
        what=lambda: f"the list shows the burner at 70-130 % as docker stats does ({seen})")
    ours, theirs = until(lambda: both_busy(lambda: pct(dd(page_stats(stats_client, cid), "cpu"))),
                         timeout=90, what=lambda: f"its page shows it at 70-130 % as docker stats does "
                                      f"({seen})")


def test_memory_holder_within_ten_percent_of_docker_stats(stats_client, docker, run_container):
    cid = run_container(HOLD, name=unique_name("hold"))
    # it really holds ~62 MiB (tail keeps its last 64,000,000 bytes) once both say so
    theirs = until(lambda: (lambda s: s if s["mem"] > 55 * 2**20 else None)(
        docker_stats(docker, cid)), what="the holder holds its 64 MB")
    cells = until(lambda: (lambda c: c if c and c.get("mem", "…") != "…" else None)(
        row_cells(list_rows(stats_client), cid)), what="a memory figure in the list")
    used, limit = cells["mem"].split(" / ")
    assert size(used) == pytest.approx(theirs["mem"], rel=0.10)
    assert size(limit) == pytest.approx(theirs["limit"], rel=0.01)
    assert size(used) == pytest.approx(64_000_000, rel=0.10)
    on_page = until(lambda: (lambda t: t if t != "…" else None)(dd(page_stats(stats_client, cid),
                                                                   "mem")))
    assert size(" ".join(on_page.split()[:2])) == pytest.approx(theirs["mem"], rel=0.10)
    assert cells["pids"] == str(docker_stats(docker, cid)["pids"]) == "3"


def test_processes_equal_docker_top(stats_client, docker, run_container):
    cid = run_container(HOLD, name=unique_name("top"))

    def theirs():
        lines = docker("top", cid).splitlines()
        head = lines[0].split()
        return {(ln.split()[head.index("PID")], ln.split(None, len(head) - 1)[-1])
                for ln in lines[1:]}

    # once the pipeline settled (head done: sh, tail, sleep), so both look at the same
    until(lambda: docker_stats(docker, cid)["mem"] > 55 * 2**20, what="the holder settled")
    page = page_stats(stats_client, cid)
    table = re.search(r'<table class="processes">.*?</table>', page, re.S).group(0)
    heads = re.findall(r"<th>(.*?)</th>", table)
    assert heads == ["PID", "User", "CPU time", "Command"]
    ours = set()
    for tr in re.findall(r"<tr>(.*?)</tr>", table, re.S)[1:]:
        tds = [htmllib.unescape(re.sub(r"<[^>]+>", "", td)) for td in re.findall(
            r"<td>(.*?)</td>", tr, re.S)]
        ours.add((tds[0], tds[3]))
    assert ours == theirs() and len(ours) == 3


def test_stopped_and_paused_show_dashes_and_no_processes(stats_client, docker, run_container):
    stopped = run_container("exit 0", name=unique_name("stopped"))
    docker("wait", stopped)
    paused = run_container(name=unique_name("paused"))
    docker("pause", paused)
    try:
        page = list_rows(stats_client, "&all=1")
        for cid in (stopped, paused):
            cells = row_cells(page, cid)
            assert cells and set(cells.values()) == {"—"}, cells
        p = page_stats(stats_client, stopped)
        assert "it has no processes" in p and '<table class="processes">' not in p
        assert "Paused" in page_stats(stats_client, paused)
    finally:
        docker("unpause", paused, check=False)


def test_net_figures_only_with_a_network_of_its_own(stats_client, docker, run_container):
    net = unique_name("net")
    docker("network", "create", "--label", f"{LABEL}={SESSION}", net)
    try:
        own = run_container(name=unique_name("own"), args=["--network", net])
        host = run_container(name=unique_name("host"), args=["--network", "host"])

        def both():
            page = list_rows(stats_client)
            a, b = row_cells(page, own), row_cells(page, host)
            ready = a and b and "…" not in a.get("net", "…") and a.get("cpu", "…") != "…"
            return (a, b) if ready else None

        a, b = until(both, what="net figures of both")
        assert re.fullmatch(r"↓ [\d.]+ k?B/s ↑ [\d.]+ k?B/s", a["net"]), a["net"]
        assert b["net"] == "—"
        assert "no network of its own" in page_stats(stats_client, host)
        assert "no network of its own" not in page_stats(stats_client, own)
    finally:
        docker("rm", "-f", own, host, check=False)
        docker("network", "rm", net, check=False)


def test_sorted_by_cpu_and_memory(stats_client, run_container):
    busy = run_container(BURN, name=unique_name("sort-busy"))
    big = run_container(HOLD, name=unique_name("sort-big"))
    idle = run_container(name=unique_name("sort-idle"))

    def order(q):
        page = list_rows(stats_client, q)
        ids = re.findall(r'<tr id="c-[^"]*" data-id="([0-9a-f]{64})"', page)
        cells = [row_cells(page, i) for i in ids]
        if any(c.get("cpu", "…") == "…" for c in cells):
            return None
        return ids

    assert until(lambda: (lambda o: o if o and o[0] == busy else None)(order("&sort=cpu")),
                 what="the burner first by CPU")
    assert until(lambda: (lambda o: o if o and o[0] == big else None)(order("&sort=mem")),
                 what="the holder first by memory")
    plain = order("")
    assert plain and set(plain) == {busy, big, idle}
    # the poll keeps the sort, the headers offer it
    page = list_rows(stats_client, "&sort=cpu")
    assert re.search(r'hx-get="[^"]*sort=cpu', page)
    assert 'aria-sort="descending"' in page


def test_many_viewers_one_sample_per_interval(app, run_container):
    a = run_container(name=unique_name("shared"))
    viewers = [app.test_client() for _ in range(8)]
    s = app.extensions["periscope.stats"].engine("default")
    try:
        for v in viewers:
            list_rows(v)
        until(lambda: a in s.latest().figures, what="a first sample")
        before, t0 = s.samples_taken, time.monotonic()
        while time.monotonic() - t0 < 4:
            for v in viewers:  # eight pages polling as fast as they can
                list_rows(v)
        elapsed = time.monotonic() - t0
        interval = s.latest().list_interval
        assert s.samples_taken - before <= elapsed / interval + 2
    finally:
        app.extensions["periscope.stats"].stop()


def test_vanished_container_dropped_quietly(stats_client, docker, run_container):
    cid = run_container(name=unique_name("gone"))
    until(lambda: (row_cells(list_rows(stats_client), cid) or {}).get("cpu", "…") != "…",
          what="sampled")
    docker("rm", "-f", cid)
    page = until(lambda: (lambda p: p if row_cells(p, cid) is None else None)(
        list_rows(stats_client)), what="gone from the list")
    assert "stats-note" not in page
    r = stats_client.get(f"/containers/{cid}/stats", headers={"HX-Request": "true"})
    assert r.status_code == 404


def test_stats_off_makes_no_stats_calls(run_container):
    from conftest import make_settings
    from app import create_app
    from app.gateway import from_env

    cid = run_container(name=unique_name("off"))
    asked = {True: [], False: []}
    for on in (True, False):
        eng = from_env()
        real = eng.stats_sample
        eng.stats_sample = lambda ref, _on=on, **kw: (asked[_on].append(ref), real(ref, **kw))[1]
        app = create_app(make_settings(stats=on), engine=eng)
        c = app.test_client()
        try:
            if on:
                until(lambda: row_cells(list_rows(c), cid).get("cpu", "…") != "…")
            else:
                page = list_rows(c)
                assert cid in page and row_cells(page, cid) == {}
                p = page_stats(c, cid)
                assert "turned off" in p and '<table class="processes">' in p
                assert "periscope.stats" not in app.extensions
        finally:
            if on:
                app.extensions["periscope.stats"].stop()
    assert cid in asked[True] and asked[False] == []


def test_only_rows_on_screen_are_sampled(app, run_container):
    on = run_container(name=unique_name("on-screen"))
    off = run_container(name=unique_name("off-screen"))
    c = app.test_client()
    s = app.extensions["periscope.stats"].engine("default")
    try:
        # the browser's script says which rows it shows (static/stats.js)
        page = until(lambda: (lambda p: p if (row_cells(p, on) or {}).get("cpu", "…") != "…"
                              else None)(list_rows(c, f"&seen={on[:12]}")),
                     what="the row on screen sampled")
        assert row_cells(page, off) == dict.fromkeys(("cpu", "mem", "net", "blk", "pids"), "…")  # never asked for
        assert off not in s.latest().figures
        # a hidden tab says nothing is on screen: nothing new is sampled
        assert list_rows(c, "&seen=").count("stat cpu") == 2
        # scrolled down: the other row is sampled in turn
        until(lambda: (row_cells(list_rows(c, f"&seen={off[:12]}"), off) or {}).get(
            "cpu", "…") != "…", what="the row scrolled to sampled")
    finally:
        app.extensions["periscope.stats"].stop()


def test_a_hidden_container_page_is_not_sampled(app, run_container):
    cid = run_container(name=unique_name("hidden-tab"))
    c = app.test_client()
    s = app.extensions["periscope.stats"].engine("default")
    hx = {"HX-Request": "true"}
    try:
        # the page's script says the tab is hidden (static/stats.js): no mark
        assert c.get(f"/containers/{cid}/stats?hidden=1", headers=hx).status_code == 200
        assert cid not in s._mine and cid not in s.latest().figures
        # the same poll from a tab in view marks it, and it is sampled
        assert c.get(f"/containers/{cid}/stats", headers=hx).status_code == 200
        assert cid in s._mine
        until(lambda: cid in s.latest().figures, what="sampled once shown")
    finally:
        app.extensions["periscope.stats"].stop()
