"""Resource stats in real Chromium, on gunicorn with two workers (one sampler
for both): the list's cells and the page's charts update by themselves."""

import pytest

from conftest import LABEL, SESSION, screenshot, unique_name, wait_polls

BURN = "yes > /dev/null"
ELDER = "while :; do head -c 200000 /dev/urandom > /dev/null; usleep 50000; done"
HOLD = "head -c 64000000 /dev/zero | tail -c 64000000 | sleep 600"


@pytest.fixture(scope="module")
def elder(docker, test_image):
    """A container of some CPU use, started when this module starts: by its
    last test it has been up a minute, so its list row stays the same from
    poll to poll (the engine's "Up 5 seconds" moves every second) while its
    figures move. Not under the session's label: the other tests' lists (a
    sort by CPU) stay theirs; removed by its own label if this run dies."""
    cid = docker("run", "-d", "--label", f"periscope.elder={SESSION}", "--name", unique_name("elder"),
                 test_image, "sh", "-c", ELDER).strip()
    yield cid
    docker("rm", "-f", cid, check=False)


@pytest.fixture(autouse=True)
def _elder_starts_first(elder):
    """Every test of the module asks for it, so it starts with the first."""


def cell(page, cid, cls):
    return page.inner_text(f'tr[data-id="{cid}"] td.stat.{cls}').strip()


def test_list_cells_update_and_sort(page, live_server, run_container, docker):
    net = unique_name("bnet")
    docker("network", "create", "--label", f"{LABEL}={SESSION}", net)
    busy = None
    try:
        busy = run_container(BURN, name=unique_name("busy"), args=["--network", net])
        hold = run_container(HOLD, name=unique_name("hold"))
        stopped = run_container("exit 0", name=unique_name("stopped"))
        docker("wait", stopped)
        page.goto(f"{live_server.url}/containers?all=1&label={LABEL}={SESSION}")
        sel = f'tr[data-id="{busy}"] td.stat.cpu'
        page.wait_for_function(
            "(s) => { const e = document.querySelector(s); return e && /%$/.test(e.innerText); }",
            arg=sel, timeout=20_000)
        first = cell(page, busy, "cpu")
        # new samples replace the figures without a reload
        page.evaluate("window.__marker = 1")
        page.wait_for_function(
            "([s, t]) => { const e = document.querySelector(s); return e && /%$/.test(e.innerText)"
            " && e.innerText.trim() !== t; }", arg=[sel, first], timeout=30_000)
        assert page.evaluate("window.__marker") == 1
        assert page.inner_text(f'tr[data-id="{stopped}"] td.stat.cpu').strip() == "—"
        page.wait_for_function(
            "(s) => { const e = document.querySelector(s); return e && /MiB/.test(e.innerText); }",
            arg=f'tr[data-id="{hold}"] td.stat.mem', timeout=20_000)
        assert "stats every" in page.inner_text("p.count")
        screenshot(page, "stats-list")
        page.emulate_media(color_scheme="dark")
        screenshot(page, "stats-list-dark")
        page.set_viewport_size({"width": 390, "height": 900})
        screenshot(page, "stats-list-390-dark")
        page.emulate_media(color_scheme="light")
        screenshot(page, "stats-list-390")
        page.set_viewport_size({"width": 1280, "height": 900})

        # sorting by CPU: a header link; the server sorts and the poll keeps it
        page.click("th.stat-head a.sort >> text=CPU")
        page.wait_for_url("**sort=cpu**")
        page.wait_for_function(
            "(id) => { const r = document.querySelector('table.containers tbody tr');"
            " return r && r.dataset.id === id; }", arg=busy, timeout=20_000)
        wait_polls(page, "/containers/rows", 2)
        assert page.eval_on_selector("table.containers tbody tr", "r => r.dataset.id") == busy
        assert page.dialogs == [] and page.console_errors == []
    finally:
        if busy:
            docker("rm", "-f", busy, check=False)
        docker("network", "rm", net, check=False)


def test_page_charts_and_processes_update(page, live_server, run_container, docker):
    cid = run_container(BURN, name=unique_name("chart"))
    page.goto(f"{live_server.url}/containers/{cid}")
    page.wait_for_selector("#stats h2")
    page.wait_for_selector("figure.c-cpu path.line", state="attached", timeout=20_000)
    d1 = page.get_attribute("figure.c-cpu path.line", "d")
    page.wait_for_function(
        "(d) => { const p = document.querySelector('figure.c-cpu path.line');"
        " return p && p.getAttribute('d') !== d; }", arg=d1, timeout=20_000)
    page.wait_for_selector("figure.c-mem path.line", state="attached")
    assert page.is_visible("figure.c-net .chart-empty")  # no network of its own here
    assert "no network of its own" in page.inner_text("figure.c-net")
    pids = page.eval_on_selector_all("table.processes tbody tr td:first-child",
                                     "tds => tds.map(t => t.innerText.trim())")
    lines = docker("top", cid).splitlines()
    col = lines[0].split().index("PID")
    assert sorted(pids) == sorted(ln.split()[col] for ln in lines[1:])
    # a few more polls: still one section, no errors, no reload
    page.evaluate("window.__marker = 2")
    wait_polls(page, f"/containers/{cid}/stats", 2, timeout=20_000)
    assert page.evaluate("window.__marker") == 2
    assert page.locator("#stats").count() == 1
    assert page.console_errors == []
    page.wait_for_function(
        "() => document.querySelectorAll('figure.c-cpu path.line')[0]"
        ".getAttribute('d').split('L').length > 3", timeout=30_000)
    screenshot(page, "stats-page")
    page.emulate_media(color_scheme="dark")
    screenshot(page, "stats-page-dark")
    page.set_viewport_size({"width": 390, "height": 900})
    screenshot(page, "stats-page-390-dark")
    page.emulate_media(color_scheme="light")
    screenshot(page, "stats-page-390")

    # stopped: the page says it has no processes, and the charts keep its last minutes
    docker("stop", "-t", "0", cid)
    page.wait_for_selector(".processes-none", timeout=20_000)
    assert "no processes" in page.inner_text(".processes-none")
    screenshot(page, "stats-page-stopped-390")


def test_poll_says_which_rows_are_on_screen(page, live_server, run_container):
    made = [run_container(name=unique_name(f"row{i}")) for i in range(4)]
    seen = []
    page.on("request", lambda r: "/containers/rows" in r.url and seen.append(r.url))
    page.set_viewport_size({"width": 1280, "height": 420})
    page.goto(f"{live_server.url}/containers?label={LABEL}={SESSION}")
    for cid in made:
        page.wait_for_selector(f'tr[data-id="{cid}"]', state="attached")
    # newest first, by the engine's Created (whole seconds: names order a tie)
    order = page.eval_on_selector_all("tr[data-id]", "rows => rows.map(r => r.dataset.id)")
    assert sorted(order) == sorted(made)
    top, bottom = order[0], order[-1]
    wait_polls(page, "/containers/rows", 1)
    last = seen[-1]
    assert "seen=" in last and top[:12] in last  # the top row is on screen
    assert bottom[:12] not in last  # the bottom one is not: its stats are not asked for
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    n = len(seen)
    wait_polls(page, "/containers/rows", 1)
    assert len(seen) > n and bottom[:12] in seen[-1]


def test_new_figures_swap_only_the_cells(page, live_server, elder):
    """A poll whose rows stayed the same brings only the stats cells that
    changed, each swapping itself in: the row element stays the one it was."""
    answers = []
    page.on("response", lambda r: "/containers/rows" in r.url and answers.append(
        (r.status, r.headers.get("hx-reswap"))))
    page.goto(f"{live_server.url}/containers?label=periscope.elder={SESSION}")
    row = f'tr[data-id="{elder}"]'
    page.wait_for_function(  # up a minute: the engine's status text holds still
        "(s) => { const e = document.querySelector(s + ' td.state-cell small');"
        " return e && /minute|hour/.test(e.innerText); }", arg=row, timeout=90_000)
    # true once one and the same row element has shown two different CPU
    # figures (a whole new list, at a minute's turn, is a new element: marked anew)
    page.wait_for_function(
        """(s) => { const r = document.querySelector(s); if (!r) return false;
           const t = r.querySelector('td.stat.cpu').innerText.trim();
           if (!/%$/.test(t)) return false;
           if (r.__first === undefined) { r.__first = t; return false; }
           return t !== r.__first; }""", arg=row, timeout=30_000, polling=200)
    assert (200, "none") in answers, answers
    assert page.locator(f"{row} td.stat").count() == 5  # swapped in, none added
    assert page.console_errors == []
