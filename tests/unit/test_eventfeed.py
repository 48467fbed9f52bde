"""The events cursor where a fault must be forced: an engine whose buffer is
full (256 events), and an event filed late, stamped inside a window already
read. The engine here is a fake that applies since/until as 20.10 does
(both inclusive, nanoseconds); everything else is the real app."""

from __future__ import annotations

import html as htmlmod
import re

from app import create_app
from app.config import Settings
from app.gateway import Engine
from app import eventfeed as ev

POLL_RE = re.compile(r'<tr id="events-poll" class="poller" hx-get="([^"]+)"')
KEY_RE = re.compile(r'data-ns="(\d+)" data-type="[^"]*" data-action="([^"]*)" data-actor="([^"]*)"')


def parse_ts(v: str) -> int:
    s, _, n = v.partition(".")
    return int(s) * 10**9 + int((n or "0").ljust(9, "0")[:9])


class FakeEngine(Engine):
    def __init__(self):
        super().__init__("unix:///nonexistent/fake.sock")
        self._api = "1.41"
        self.buffer: list[dict] = []
        self.calls: list[tuple[int, int]] = []

    def events(self, *, since, until, filters=None, timeout=None):
        lo, hi = parse_ts(str(since)), parse_ts(str(until))
        self.calls.append((lo, hi))
        out = [e for e in self.buffer if lo <= e["timeNano"] <= hi]
        return out[-256:]

    def containers(self, **kw):
        return []


def event(ns: int, action: str, cid: str = "c" * 64) -> dict:
    return {"Type": "container", "Action": action, "Actor": {"ID": cid, "Attributes": {"name": "x"}},
            "scope": "local", "time": ns // 10**9, "timeNano": ns}


def make(monkeypatch, start_ns: int):
    clock = {"now": start_ns}
    monkeypatch.setattr(ev, "now_ns", lambda: clock["now"])
    eng = FakeEngine()
    s = Settings(secret_key="t", poll_interval=1.0)
    app = create_app(s, engine=eng)
    return app.test_client(), eng, clock


def shown(text: str) -> list[tuple[int, str, str]]:
    return [(int(n), a, i) for n, a, i in KEY_RE.findall(text)]


def next_url(text: str) -> str:
    return htmlmod.unescape(POLL_RE.search(text).group(1))


def test_a_late_event_inside_the_overlap_is_shown_once(monkeypatch):
    t0 = 1_800_000_000 * 10**9
    client, eng, clock = make(monkeypatch, t0)
    eng.buffer = [event(t0 - 10**9, "create")]
    page = client.get("/events").get_data(as_text=True)
    assert [a for _n, a, _i in shown(page)] == ["create"]
    url = next_url(page)

    # an event stamped exactly at the last window's end, and one stamped before
    # it but filed only now (the engine takes the time before it files the event)
    boundary = t0 - ev.LAG_NS
    clock["now"] = t0 + 2 * 10**9
    eng.buffer += [event(boundary, "start"), event(boundary - 3 * 10**8, "attach")]
    eng.buffer.sort(key=lambda e: e["timeNano"])
    part = client.get(url, headers={"HX-Request": "true"}).get_data(as_text=True)
    got = shown(part)
    assert sorted(a for _n, a, _i in got) == ["attach", "start"]
    # newest first
    assert [n for n, *_ in got] == sorted((n for n, *_ in got), reverse=True)
    url = next_url(part)

    # the next polls re-read the overlap and show none of them again
    for step in (3, 4, 10):
        clock["now"] = t0 + step * 10**9
        part = client.get(url, headers={"HX-Request": "true"}).get_data(as_text=True)
        assert shown(part) == [], step
        url = next_url(part)
    # each window is bounded, and starts OVERLAP before the previous end
    for (lo, hi), (lo2, _hi2) in zip(eng.calls[1:], eng.calls[2:]):
        assert lo2 == hi - ev.OVERLAP_NS
    assert all(lo < hi for lo, hi in eng.calls)


def test_same_nanosecond_events_are_kept_apart(monkeypatch):
    t0 = 1_800_000_000 * 10**9
    client, eng, clock = make(monkeypatch, t0)
    page = client.get("/events").get_data(as_text=True)
    url = next_url(page)
    same = t0 + 5 * 10**8
    eng.buffer = [event(same, "create", "a" * 64), event(same, "create", "b" * 64),
                  event(same, "start", "a" * 64)]
    clock["now"] = t0 + 10**9
    part = client.get(url, headers={"HX-Request": "true"}).get_data(as_text=True)
    assert len(shown(part)) == 3
    clock["now"] = t0 + 2 * 10**9
    part = client.get(next_url(part), headers={"HX-Request": "true"}).get_data(as_text=True)
    assert shown(part) == []


def test_a_full_buffer_says_the_window_may_be_cut_short(monkeypatch):
    t0 = 1_800_000_000 * 10**9
    client, eng, clock = make(monkeypatch, t0)
    eng.buffer = [event(t0 - 300 * 10**9 + i * 10**6, "start") for i in range(300)]
    page = client.get("/events").get_data(as_text=True)
    assert 'id="events-cut"' in page and "256" in page
    assert len(shown(page)) == 256
    eng.buffer = eng.buffer[:10]
    page = client.get("/events").get_data(as_text=True)
    assert 'id="events-cut"' not in page
    # a poll that gets 256 says so too
    url = next_url(page)
    eng.buffer = [event(t0 + i * 10**6, "start") for i in range(400)]
    clock["now"] = t0 + 2 * 10**9
    part = client.get(url, headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "cut-notice" in part


def test_the_page_never_holds_more_than_max_rows(monkeypatch):
    monkeypatch.setattr(ev, "MAX_ROWS", 50)
    t0 = 1_800_000_000 * 10**9
    client, eng, clock = make(monkeypatch, t0)
    eng.buffer = [event(t0 - 100 * 10**9 + i * 10**6, "start") for i in range(200)]
    page = client.get("/events").get_data(as_text=True)
    got = shown(page)
    assert len(got) == 50 and got[0][0] == eng.buffer[-1]["timeNano"]  # the newest kept
    assert 'data-max-rows="50"' in page
