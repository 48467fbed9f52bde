"""Shared reads through the app: a counting fake engine shows that viewers
polling together make one Engine call, that a read after the bound makes a
new one and that an action drops the shared answers; against the real
engine under gunicorn (two workers), the poll after a stop from the page
shows it stopped, never the older shared answer; an unchanged list poll is a
204 with nothing rendered."""

from __future__ import annotations

import json
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from app import create_app, memo
from app.gateway import Engine, parse_host
from conftest import LABEL, SESSION, csrf_post, make_settings
from faultkit import FakeEngine, remove_tree, short_tmp
from resourcekit import resources  # noqa: F401 - a fixture

CID = "a" * 64
LISTED = json.dumps([{"Id": CID, "Names": ["/shared"], "Image": "img", "State": "running",
                      "Status": "Up 2 hours", "Created": 1_700_000_000, "Ports": [],
                      "Labels": {}}])
INSPECTED = json.dumps({"Id": CID, "Name": "/shared", "State": {"Status": "running",
                                                                "Running": True},
                        "Config": {"Tty": False}, "HostConfig": {}})


@pytest.fixture
def counting():
    d = short_tmp()
    gate = threading.Event()
    fake = FakeEngine(d / "count.sock", {
        "/v1.41/containers/json": (200, LISTED, "application/json"),
        f"/v1.41/containers/{CID}/json": (200, INSPECTED, "application/json"),
        f"/v1.41/containers/{CID}/stop": (204, "", "application/json"),
    }, gate=gate)
    yield fake, gate
    gate.set()
    fake.close()
    remove_tree(d)


def app_on(fake, share_for: float):
    eng = Engine(parse_host(f"unix://{fake.path}", {}), share_for=share_for)
    return create_app(make_settings(share_for=share_for), engine=eng)


def list_calls(fake) -> int:
    return sum(1 for s in fake.seen if s.startswith("GET /v1.41/containers/json"))


def test_viewers_polling_together_make_one_engine_call(counting):
    fake, gate = counting
    app = app_on(fake, share_for=5.0)

    def poll(_):
        return app.test_client().get("/containers/rows").status_code

    with ThreadPoolExecutor(10) as pool:
        futures = [pool.submit(poll, i) for i in range(10)]
        deadline = time.monotonic() + 10
        while list_calls(fake) < 1 and time.monotonic() < deadline:
            time.sleep(0.01)  # a condition: the first call reached the engine
        eng = app.extensions["periscope.engines"].default.engine
        while eng.shared.joins < 9 and time.monotonic() < deadline:
            time.sleep(0.01)  # ...and the nine others wait on it
        gate.set()
        assert [f.result() for f in futures] == [200] * 10
    assert list_calls(fake) == 1


def test_a_read_after_the_bound_and_after_an_action_asks_again(counting):
    fake, gate = counting
    gate.set()
    app = app_on(fake, share_for=0.3)
    eng = app.extensions["periscope.engines"].default.engine
    now = [1000.0]
    eng.shared._clock = lambda: now[0]  # the bound's clock, moved by hand
    c = app.test_client()
    c.get("/containers/rows")
    now[0] += 0.2
    c.get("/containers/rows")
    assert list_calls(fake) == 1  # the second within the bound: shared
    now[0] += 0.2  # 0.4 s after the first call began: past the bound
    c.get("/containers/rows")
    assert list_calls(fake) == 2
    # an action drops what it changes: the next read goes to the engine
    assert csrf_post(c, f"/containers/{CID}/stop", {"ctx": "detail"}).status_code == 303
    c.get("/containers/rows")
    assert list_calls(fake) == 3
    assert eng.shared.calls >= 3


def test_the_calls_panel_says_a_read_was_shared(counting):
    fake, gate = counting
    gate.set()
    app = app_on(fake, share_for=5.0)
    c = app.test_client()
    c.get("/containers")
    page = c.get("/containers").get_data(as_text=True)
    panel = page.split('id="engine-calls"', 1)[1]
    assert "shared</span>" in panel and "/containers/json" in panel


def test_after_a_stop_from_the_page_the_next_poll_shows_it_stopped(start_server, run_container,
                                                                    docker):
    srv = start_server({"PERISCOPE_SHARE_FOR": "1.5", "PERISCOPE_WORKERS": "2"})
    cid = run_container()
    s = requests.Session()
    url = f"{srv.url}/containers/rows?label={LABEL}={SESSION}"
    page = s.get(f"{srv.url}/containers?label={LABEL}={SESSION}", timeout=10).text
    assert f'data-id="{cid}"' in page
    # many polls, on new connections, so that both workers hold a shared
    # answer that says "running"
    for _ in range(12):
        r = requests.get(url, headers={"Connection": "close"}, timeout=10)
        assert f'data-id="{cid}"' in r.text
    tok = re.search(r'"X-CSRF-Token": "([^"]+)"', page).group(1)
    r = s.post(f"{srv.url}/containers/{cid}/stop", data={"csrf_token": tok, "t": "0",
                                                          "ctx": "detail"},
               headers={"Origin": srv.url}, allow_redirects=False, timeout=30)
    assert r.status_code == 303
    assert docker.inspect(cid)["State"]["Running"] is False
    # whichever worker answers (a new connection each time: either worker may
    # take it), the next polls no longer list it as running
    for _ in range(12):
        r = requests.get(url, headers={"Connection": "close"}, timeout=10)
        assert f'data-id="{cid}"' not in r.text


def test_an_unchanged_list_poll_is_204_and_a_changed_one_is_not(run_container, docker):
    client = create_app(make_settings(stats=False)).test_client()  # figures change on their own
    cid = run_container()
    html = client.get(f"/containers?label={LABEL}={SESSION}").get_data(as_text=True)
    poll = re.search(r'id="rows"[^>]*hx-get="([^"]+)"', html, re.S).group(1).replace("&amp;", "&")
    assert client.get(poll).status_code == 204
    docker("pause", cid)
    r = client.get(poll)
    assert r.status_code == 200 and "paused" in r.get_data(as_text=True)
    docker("unpause", cid)


def test_new_stats_figures_make_the_list_poll_answer_not_204(run_container):
    """With stats on, the same list with new figures is a change: the poll
    answers them (the figures have a tag of their own, which the page sends
    back as static/stats.js does), where the list's tag alone would say 204
    forever. The answer is the whole list when the rows changed too (a young
    container's "Up 5 seconds" moves every second), else its cells only."""
    client = create_app(make_settings(stats=True)).test_client()
    cid = run_container()
    html = client.get(f"/containers?label={LABEL}={SESSION}").get_data(as_text=True)
    assert 'class="num stat cpu pending"' in html  # no figure yet: a page never waits for one
    poll = re.search(r'id="rows"[^>]*hx-get="([^"]+)"', html, re.S).group(1).replace("&amp;", "&")
    cells = re.search(r'id="rows-cells" data-cells="([^"]+)"', html).group(1)
    deadline = time.monotonic() + 30
    got = None
    while time.monotonic() < deadline:
        r = client.get(f"{poll}&cells={cells}")
        if r.status_code == 200:
            body = r.get_data(as_text=True)
            cells = re.search(r'id="rows-cells" data-cells="([^"]+)"', body).group(1)
            whole = re.search(r'id="rows"[^>]*hx-get="([^"]+)"', body, re.S)
            if whole:
                poll = whole.group(1).replace("&amp;", "&")
            else:  # the cells only: htmx swaps them in and leaves the list
                assert r.headers["HX-Reswap"] == "none"
                assert f"#c-{cid[:12]} td.stat." in body
            if re.search(r'<td class="num stat mem"[ >]', body):
                got = body
                break
        else:
            assert r.status_code == 204
        time.sleep(0.2)  # a poll's pace, as the page's; the condition is the figures
    assert got is not None and cid[:12] in got, "the figures never reached the poll"


def test_viewers_following_one_log_share_its_window_and_miss_nothing(run_container, docker):
    """Three viewers follow one log through the shared window: each sees every
    line once, in order; and the engine is asked far fewer times than polled."""
    cid = run_container("i=0; while true; do i=$((i+1)); echo \"seq $i\"; "
                        "[ $((i % 4)) = 0 ] && echo \"err $i\" >&2; usleep 20000; done")
    app = create_app(make_settings(share_for=0.4))
    eng = app.extensions["periscope.engines"].default.engine
    viewers = []
    for _ in range(3):
        c = app.test_client()
        page = c.get(f"/containers/{cid}/logs?follow=1&tail=5").get_data(as_text=True)
        viewers.append({"c": c, "poll": _follow_url(page), "lines": _log_texts(page)})
    calls_before = eng.shared.calls
    polls = 0
    deadline = time.monotonic() + 60
    while min(len(v["lines"]) for v in viewers) < 120 and time.monotonic() < deadline:
        for v in viewers:
            part = v["c"].get(v["poll"]).get_data(as_text=True)
            polls += 1
            v["lines"] += _log_texts(part)
            v["poll"] = _follow_url(part)
    for v in viewers:
        seq = [int(t.split()[1]) for t in v["lines"] if t.startswith("seq ")]
        assert seq == list(range(seq[0], seq[0] + len(seq))), "a line lost or doubled"
        errs = [int(t.split()[1]) for t in v["lines"] if t.startswith("err ")]
        assert errs == sorted(set(errs)) and all(n % 4 == 0 for n in errs)
        assert len(v["lines"]) == len(set(v["lines"]))
    assert eng.shared.calls - calls_before < polls  # the window was shared between them


def _follow_url(text: str) -> str:
    import html as htmlmod
    return htmlmod.unescape(re.search(r'id="log-follow"[^>]*hx-get="([^"]+)"', text, re.S).group(1))


def _log_texts(text: str) -> list[str]:
    import html as htmlmod
    return [htmlmod.unescape(t) for t in re.findall(r'<span class="ltx">([^<]*)</span>', text)]


def test_events_viewers_share_one_window_and_see_each_event_once(run_container, docker):
    tag = f"shev-{SESSION}"
    app = create_app(make_settings(share_for=0.5))
    eng = app.extensions["periscope.engines"].default.engine
    viewers = []
    for _ in range(3):
        c = app.test_client()
        page = c.get(f"/events?label=shev={tag}").get_data(as_text=True)
        viewers.append({"c": c, "poll": _events_url(page), "keys": []})
    cids = [run_container("true", labels={"shev": tag}) for _ in range(3)]
    calls_before, polls = eng.shared.calls, 0
    deadline = time.monotonic() + 30
    want = {(cid, a) for cid in cids for a in ("create", "start", "die")}
    while time.monotonic() < deadline:
        for v in viewers:
            part = v["c"].get(v["poll"]).get_data(as_text=True)
            polls += 1
            v["keys"] += re.findall(r'data-key="([0-9a-f]+)"[^>]*data-action="([a-z_]+)"'
                                    r'[^>]*data-actor="([0-9a-f]+)"', part)
            v["poll"] = _events_url(part)
        if all(want <= {(a, b) for _k, b, a in v["keys"]} for v in viewers):
            break
    for v in viewers:
        assert want <= {(actor, action) for _k, action, actor in v["keys"]}
        keys = [k for k, _a, _b in v["keys"]]
        assert len(keys) == len(set(keys)), "an event shown twice"
    assert eng.shared.calls - calls_before < polls


def _events_url(text: str) -> str:
    import html as htmlmod
    return htmlmod.unescape(re.search(r'id="events-poll"[^>]*hx-get="([^"]+)"', text, re.S).group(1))


def test_a_burst_bigger_than_the_window_s_last_tail_is_followed_whole(run_container):
    """The shared follow window asks the engine for a tail of twice its last
    size (the engine reads a tail back from the log's end: a smaller tail is
    a cheaper call), widened while it comes back full: a burst of thousands of
    lines between two polls still reaches the viewer whole, each line once."""
    cid = run_container("i=0; while [ $i -lt 40 ]; do i=$((i+1)); echo \"seq $i\"; "
                        "usleep 50000; done; "
                        "while [ $i -lt 3040 ]; do i=$((i+1)); echo \"seq $i\"; done; "
                        "while true; do i=$((i+1)); echo \"seq $i\"; usleep 50000; done")
    app = create_app(make_settings(share_for=0.4))
    c = app.test_client()
    page = c.get(f"/containers/{cid}/logs?follow=1&tail=5").get_data(as_text=True)
    poll, lines = _follow_url(page), _log_texts(page)
    deadline = time.monotonic() + 60
    while (not lines or int(lines[-1].split()[1]) < 3100) and time.monotonic() < deadline:
        part = c.get(poll).get_data(as_text=True)
        lines += _log_texts(part)
        poll = _follow_url(part)
        time.sleep(0.3)  # a poll's pace (faster than the page's, for the test's length)
    seq = [int(t.split()[1]) for t in lines]
    assert seq[-1] >= 3100, "the follow never got past the burst"
    assert seq == list(range(seq[0], seq[0] + len(seq))), "a line lost or doubled"


def test_a_tty_s_burst_of_long_lines_is_followed_whole(run_container):
    """A TTY's lines over 16 KB are several entries each to the engine's tail
    (found by a tester: counted as lines, a window's tail looked short of full
    while it had cut lines off). Every line reaches the viewer, once."""
    cid = run_container("L=$(head -c 40000 /dev/zero | tr '\\0' x); sleep 2; n=0; "
                        "for b in 1 2 3; do i=0; while [ $i -lt 100 ]; do i=$((i+1)); "
                        "n=$((n+1)); echo \"out $n $L\"; done; sleep 2; done; sleep 300",
                        tty=True)
    app = create_app(make_settings(share_for=0.4))
    c = app.test_client()
    page = c.get(f"/containers/{cid}/logs?follow=1&tail=5").get_data(as_text=True)
    poll, seen = _follow_url(page), []
    deadline = time.monotonic() + 60
    while (not seen or seen[-1] < 300) and time.monotonic() < deadline:
        part = c.get(poll).get_data(as_text=True)
        seen += [int(n) for n in re.findall(r"out (\d+) x", part)]
        poll = _follow_url(part)
        time.sleep(0.5)  # a poll's pace; the condition is the last line
    assert seen == list(range(1, 301)), "a long line lost or doubled"


@pytest.mark.parametrize("share_for", [0.4, 0.0])
def test_one_stream_followed_alone_gets_each_of_its_lines_once(run_container, share_for):
    """The engine counts a tail over both streams: a view of one stream read
    its tail's fullness from its own entries and missed lines whenever the
    other stream filled the tail (found by a tester; the log empty when the
    page loaded made every poll take the unshared read). Shared window or
    not, each view gets every line of its stream, once, in order."""
    cid = run_container("sleep 2; n=0; for b in 1 2 3; do m=$((n+1)); n=$((n+1000)); "
                        "seq $m $n | sed 's/^/out /'; seq $m $n | sed 's/^/err /' >&2; "
                        "sleep 1; done; sleep 300")
    app = create_app(make_settings(share_for=share_for))
    views = {}
    for stream, word in (("stdout", "out"), ("stderr", "err")):  # both open before the bursts
        c = app.test_client()
        page = c.get(f"/containers/{cid}/logs?follow=1&tail=5&streams={stream}")
        page = page.get_data(as_text=True)
        views[stream] = {"c": c, "word": word, "poll": _follow_url(page),
                         "lines": _log_texts(page)}
    deadline = time.monotonic() + 60
    while (any(not v["lines"] or v["lines"][-1] != f"{v['word']} 3000" for v in views.values())
           and time.monotonic() < deadline):
        for v in views.values():
            part = v["c"].get(v["poll"]).get_data(as_text=True)
            v["lines"] += _log_texts(part)
            v["poll"] = _follow_url(part)
        time.sleep(0.3)  # a poll's pace; the condition is each stream's last line
    for stream, v in views.items():
        assert {t.split()[0] for t in v["lines"]} <= {v["word"]}, "the other stream shown"
        seq = [int(t.split()[1]) for t in v["lines"]]
        assert seq == list(range(1, 3001)), f"{stream}: a line lost or doubled"


def test_viewers_of_one_list_share_one_render_each_with_its_own_token(counting, monkeypatch):
    """The rows partial is made once for every viewer of the same rows
    (web.shared_partial); each gets the CSRF token of its own session in it,
    and that token works for the rows' actions."""
    fake, gate = counting
    gate.set()
    eng = Engine(parse_host(f"unix://{fake.path}", {}), share_for=5.0)
    app = create_app(make_settings(share_for=5.0, stats=False), engine=eng)
    from app.views import containers as view
    renders = []
    real = view.render_template
    monkeypatch.setattr(view, "render_template",
                        lambda name, **ctx: renders.append(name) or real(name, **ctx))
    clients, bodies = [], []
    for who in ("ann", "bob"):
        c = app.test_client()
        with c.session_transaction() as sess:
            sess["csrf"] = f"token-of-{who}"
        c.get("/containers")  # the page (not shared) puts the session cookie in place
        clients.append(c)
    renders.clear()
    for c in clients:
        r = c.get("/containers/rows")
        assert r.status_code == 200
        bodies.append(r.get_data(as_text=True))
    assert renders == ["containers/_poll.html"]  # made once, for both
    ann, bob = bodies
    assert 'value="token-of-ann"' in ann and "token-of-bob" not in ann
    assert 'value="token-of-bob"' in bob and "token-of-ann" not in bob
    assert ann.replace("token-of-ann", "T") == bob.replace("token-of-bob", "T")
    assert "\x00" not in ann and 'data-id="' + CID + '"' in ann
    # what the partial shows is in its key: other filters, another render
    assert 'data-id="' + CID not in clients[0].get("/containers/rows?q=nomatch").get_data(
        as_text=True)
    assert renders == ["containers/_poll.html"] * 2
    token = re.search(r'name="csrf_token" value="([^"]+)"', bob).group(1)
    r = clients[1].post(f"/containers/{CID}/stop", data={"ctx": "row"},
                        headers={"X-CSRF-Token": token, "Origin": "http://localhost",
                                 "HX-Request": "true"})
    assert r.status_code == 200, r.status_code


def _poll_url(page: str, rows_id: str) -> str:
    m = re.search(rf'id="{rows_id}"[^>]*hx-get="([^"]+)"', page, re.S)
    assert m, f"no poll on #{rows_id}"
    return m.group(1).replace("&amp;", "&")


@pytest.mark.parametrize("kind", ["images", "volumes", "networks"])
def test_an_unchanged_resource_list_poll_is_204_and_a_change_is_not(kind, resources,
                                                                    monkeypatch):
    """The images, volumes and networks lists poll as the container list does:
    with the tag of what the viewer has, answered 204 while nothing it shows
    changed, the new rows (with a new tag) once the engine's answer changed."""
    monkeypatch.setattr(memo, "tick", lambda: 1)  # relative times: one step throughout
    client = create_app(make_settings(stats=False)).test_client()
    make = getattr(resources, {"images": "image", "volumes": "volume",
                               "networks": "network"}[kind])
    first = make()
    page = client.get(f"/{kind}?label={LABEL}={SESSION}")
    poll = _poll_url(page.get_data(as_text=True), "rows")
    assert "tag=" in poll and f"label={LABEL}" in poll
    assert 'hx-trigger="every ' in page.get_data(as_text=True)
    again = client.get(poll)
    assert again.status_code == 204 and again.get_data() == b""
    # the next step of relative times, the same texts: still nothing to send
    monkeypatch.setattr(memo, "tick", lambda: 2)
    assert client.get(poll).status_code == 204
    second = make()
    changed = client.get(poll)
    body = changed.get_data(as_text=True)
    short = {v: v.split(":")[-1][:12] for v in (first, second)}
    assert changed.status_code == 200 and short[second] in body and short[first] in body
    assert _poll_url(body, "rows") != poll
    assert client.get(_poll_url(body, "rows")).status_code == 204
    # a poll without a tag (an old page) gets the rows
    assert client.get(poll.split("tag=")[0]).status_code == 200


def test_an_unchanged_projects_poll_is_204_and_a_change_is_not(compose, monkeypatch):
    monkeypatch.setattr(memo, "tick", lambda: 1)  # relative times: one step throughout
    client = create_app(make_settings(stats=False)).test_client()
    p = compose({"web": {"command": ["sleep", "300"]}})
    page = client.get("/projects").get_data(as_text=True)
    assert p.name in page
    poll = _poll_url(page, "projects")
    assert client.get(poll).status_code == 204
    p("stop", "-t", "0")
    changed = client.get(poll)
    assert changed.status_code == 200 and p.name in changed.get_data(as_text=True)
    assert _poll_url(changed.get_data(as_text=True), "projects") != poll
