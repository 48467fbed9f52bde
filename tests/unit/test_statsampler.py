"""The sampler against a fake engine (faultkit.FakeEngine, canned recorded
answers), to force what a real engine will not do on cue: vanish, refuse,
stall. Two EngineSamplers on one folder stand for two gunicorn workers."""

import json
import re
import time
from pathlib import Path

import pytest

from app.gateway import Engine
from app.statsampler import PUBLISH_HOLD, EngineSampler
from faultkit import FakeEngine, StalledEngine, remove_tree, short_tmp

DATA = Path(__file__).parent / "data" / "stats"
A, B, GONE, BAD = ("a" * 64), ("b" * 64), ("c" * 64), ("d" * 64)


def wait_until(cond, timeout=10.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.02)
    raise AssertionError(f"{what} did not happen within {timeout} s")


@pytest.fixture
def tmp():
    d = short_tmp()
    yield d
    remove_tree(d)


def fresh(path: str) -> str:
    """The recorded answer, stamped now (as the engine stamps each sample)."""
    a = json.loads((DATA / "v1-holder-1.json").read_text())
    a["read"] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + f".{time.time_ns() % 10**9:09d}Z"
    return json.dumps(a)


def fake(tmp, routes=None, **kw):
    body = fresh
    r = dict(routes or {})
    r.setdefault("/v1.41/containers/", (200, body, "application/json"))
    r.setdefault("/v1.40/containers/", (200, body, "application/json"))
    return FakeEngine(tmp / "fake.sock", r, **kw)


def sampler(tmp, sock, folder="stats", **kw):
    kw.setdefault("poll_interval", 0.2)
    kw.setdefault("budget", 1000.0)
    kw.setdefault("linger", 1.0)
    eng = Engine(f"unix://{sock}", read_timeout=5, connect_timeout=2)
    return EngineSampler(eng, tmp / folder, **kw)


def stats_calls(f, cid=None):
    return [s for s in f.seen if "/stats" in s and (cid is None or cid in s)]


def test_one_shot_from_api_141(tmp):
    f = fake(tmp)
    try:
        Engine(f"unix://{f.path}").stats_sample(A)
        assert stats_calls(f)[-1].endswith(f"/containers/{A}/stats?stream=false&one-shot=true")
    finally:
        f.close()


def test_below_api_141_stream_false_only(tmp):
    f = fake(tmp, api_version="1.40")
    try:
        Engine(f"unix://{f.path}").stats_sample(A)
        assert stats_calls(f)[-1].endswith(f"/v1.40/containers/{A}/stats?stream=false")
    finally:
        f.close()


def test_two_workers_one_sampler_marks_of_both_sampled(tmp):
    f = fake(tmp)
    w1, w2 = sampler(tmp, f.path), sampler(tmp, f.path)
    try:
        w1.watch([A])
        wait_until(lambda: A in w1.latest().figures, what="A sampled")
        w2.watch([B])  # the other worker's page: the leader samples it
        wait_until(lambda: B in w2.latest().figures and B in w1.latest().figures,
                   what="B sampled and seen by both")
        assert (w1.samples_taken == 0) != (w2.samples_taken == 0)  # one of them leads
        fig = w2.latest().figures[B]
        assert fig.mem == json.loads((DATA / "v1-holder-1.json").read_text())[
            "memory_stats"]["usage"]
        assert fig.pids == 3
        wait_until(lambda: (w1.watch([A]), len(w2.history(A)) >= 2)[1], what="history of A")
    finally:
        w1.stop(), w2.stop(), f.close()


def test_sampled_at_most_once_per_interval_however_many_viewers(tmp):
    f = fake(tmp)
    viewers = [sampler(tmp, f.path, poll_interval=0.5) for _ in range(3)]
    try:
        t0 = time.monotonic()
        while time.monotonic() - t0 < 3.0:
            for v in viewers:  # every viewer's poll marks it, many times per interval
                v.watch([A])
            time.sleep(0.05)
        elapsed = time.monotonic() - t0
        n = len(stats_calls(f, A))
        assert 2 <= n <= elapsed / 0.5 + 2
    finally:
        for v in viewers:
            v.stop()
        f.close()


def test_list_rows_share_the_budget_a_page_does_not(tmp):
    f = fake(tmp)
    s = sampler(tmp, f.path, poll_interval=0.2, budget=2.0)
    try:
        ids = [f"{i:064x}" for i in range(1, 9)]
        def look():
            s.watch(ids)  # 8 list rows at 2 samples/s: each every 4 s
            s.watch([A], focus=True)  # an open page: every poll interval
            return True

        # (pages keep looking while they are open: each poll marks again)
        wait_until(lambda: look() and all(len(stats_calls(f, i)) >= 2 for i in ids + [A]),
                   what="all sampled twice")
        assert s.latest().list_interval == pytest.approx(4.0)
        base = {i: len(stats_calls(f, i)) for i in ids + [A]}
        # the page's container is sampled every poll interval (0.2 s), each row
        # every 4 s: while the page's gets 8 more samples the rows get about
        # one more each; a ratio, not a time (a loaded machine slows both)
        wait_until(lambda: look() and len(stats_calls(f, A)) - base[A] >= 8,
                   what="the page's container sampled on")
        more = len(stats_calls(f, A)) - base[A]
        rows_more = [len(stats_calls(f, i)) - base[i] for i in ids]
        assert max(rows_more) <= 1 + more // 5, (more, rows_more)
    finally:
        s.stop(), f.close()


def test_sampling_stops_after_the_last_look(tmp):
    f = fake(tmp)
    s = sampler(tmp, f.path, linger=0.5)
    try:
        s.watch([A])
        wait_until(lambda: A in s.latest().figures)
        # the thread ends and leads no more (another worker may)
        wait_until(lambda: s._thread is None and s._lock_fd is None, what="the sampler ends")
        assert s.latest().figures == {}  # nothing stale is shown after
    finally:
        s.stop(), f.close()


def test_vanished_container_is_dropped_quietly(tmp):
    f = fake(tmp, {f"/v1.41/containers/{GONE}/": (404, '{"message":"No such container"}',
                                                   "application/json")})
    s = sampler(tmp, f.path)
    try:
        s.watch([A, GONE])
        wait_until(lambda: A in s.latest().figures and stats_calls(f, GONE))
        snap = s.latest()
        assert GONE not in snap.figures and snap.note is None
        assert s.history(GONE) == []
    finally:
        s.stop(), f.close()


def test_engine_that_refuses_stats_gets_one_note_and_is_left_alone(tmp):
    f = fake(tmp, {"/v1.41/containers/": (501, '{"message":"stats are not supported here"}',
                                          "application/json")})
    s = sampler(tmp, f.path)
    try:
        s.watch([A, B])
        wait_until(lambda: s.latest().note is not None, what="a note")
        assert "stats are not supported here" in s.latest().note
        asked = len(stats_calls(f))
        for _ in range(10):  # pages keep looking; the engine is not asked again for a while
            s.watch([A, B])
            time.sleep(0.05)
        assert len(stats_calls(f)) == asked <= 2
        assert s.latest().figures == {}
    finally:
        s.stop(), f.close()


def test_stalled_engine_holds_up_no_page(tmp):
    stalled = StalledEngine(tmp / "stalled.sock")
    s = sampler(tmp, stalled.path)
    try:
        # the engine answers nothing: watch() and latest() still return, empty
        s.watch([A])
        wait_until(lambda: stalled.accepted >= 1, what="the call went out")
        s.watch([A])
        snap = s.latest()
        assert snap.figures == {} and snap.note is None
        assert s.history(A) == []
    finally:
        s.stop()
        stalled.close()  # the call in flight ends with it


def test_not_running_answer_is_no_figure(tmp):
    empty = json.dumps({"read": "0001-01-01T00:00:00Z", "name": "/x", "id": A,
                        "cpu_stats": {}, "memory_stats": {}})
    f = fake(tmp, {f"/v1.41/containers/{A}/": (200, empty, "application/json")})
    s = sampler(tmp, f.path)
    try:
        s.watch([A, B])
        wait_until(lambda: B in s.latest().figures and stats_calls(f, A))
        assert A not in s.latest().figures
    finally:
        s.stop(), f.close()


def test_hostile_ids_are_never_sampled_nor_files(tmp):
    f = fake(tmp)
    s = sampler(tmp, f.path)
    try:
        s.watch(["../../etc/passwd", "A" * 64, "x"])
        assert not (tmp / "stats").exists() or not any(
            p.name.startswith("h-") for p in (tmp / "stats").iterdir())
        assert s.history("../../x") == []
        assert not stats_calls(f)
    finally:
        s.stop(), f.close()


def test_history_survives_a_change_of_leader(tmp):
    f = fake(tmp)
    w1 = sampler(tmp, f.path)
    try:
        wait_until(lambda: (w1.watch([A]), len(w1.history(A)) >= 2)[1])
        before = w1.history(A)
        # the leading worker goes away (its lock freed), another takes over
        w1.stop()
        w1._resign()
        w2 = sampler(tmp, f.path)
        wait_until(lambda: (w2.watch([A]), len(w2.history(A)) >= len(before) + 1)[1],
                   what="history continued")
        assert [p.t for p in w2.history(A)][: len(before)] == [p.t for p in before]
        assert re.fullmatch(r"[0-9a-f]{64}", A)
        w2.stop()
    finally:
        f.close()


def test_rows_watched_at_different_moments_are_sampled_and_published_together(tmp):
    """Due times fall on one grid of the interval, so rows that came on screen
    at different moments are soon due at the same moments (one round); and a
    round's figures go out as one change of the figures file, once the calls
    still out have come (or PUBLISH_HOLD after the first), not one per row:
    pages polling between two rounds then share one answer."""
    f = fake(tmp)
    s = sampler(tmp, f.path, poll_interval=0.4)
    ids = [A, B, "e" * 64]
    try:
        for cid in ids:  # on screen at three moments, a third of an interval apart
            s.watch([cid])
            time.sleep(0.13)
        t0 = time.monotonic()
        while time.monotonic() - t0 < 2.0:
            s.watch(ids)
            time.sleep(0.05)
        due = {round(s._next[c], 6) for c in ids if c in s._next}
        assert len(due) == 1, s._next  # one round
    finally:
        s.stop()
        f.close()
    held = sampler(tmp, f.path, folder="held")
    latest = tmp / "held" / "latest.json"
    latest.parent.mkdir(parents=True)
    held._dirty, held._inflight = True, {A}
    held._publish()
    assert not latest.exists()  # a call of the round is still out
    held._dirty_since -= 2 * PUBLISH_HOLD
    held._publish()
    assert latest.exists()  # not held longer than PUBLISH_HOLD
    latest.unlink()
    held._dirty, held._inflight = True, set()
    held._publish()
    assert latest.exists()  # nothing out: at once


def test_aligned_times():
    from app.statsampler import _aligned
    assert _aligned(10.9, 2.0) == 10.0 and _aligned(11.1, 2.0) == 12.0
    assert _aligned(7.3, 0.0) == 7.3


def test_a_sampler_whose_pool_was_shut_down_ends_quietly(tmp, caplog, monkeypatch):
    """At the interpreter's exit its thread pools take no more work (the flag
    concurrent.futures sets then): the sampler's thread ends without a
    traceback in the log."""
    import concurrent.futures.thread as cft
    f = fake(tmp)
    s = sampler(tmp, f.path)
    try:
        monkeypatch.setattr(cft, "_shutdown", True)
        with caplog.at_level("ERROR", logger="periscope"):
            s.watch([A])
            wait_until(lambda: s._thread is None or not s._thread.is_alive(),
                       what="the sampler ends")
        assert not [r for r in caplog.records if r.exc_info], caplog.text
    finally:
        s.stop(), f.close()


def test_no_thread_to_be_had_is_logged_and_the_next_look_samples_again(tmp, caplog, monkeypatch):
    """Out of threads (not the interpreter's exit): the sampler says so, and a
    page that looks later gets figures again."""
    import app.statsampler as ss
    real = ss.ThreadPoolExecutor
    refused = []

    class Refusing(real):
        def submit(self, *a, **kw):
            if not refused:
                refused.append(1)
                raise RuntimeError("can't start new thread")
            return super().submit(*a, **kw)

    monkeypatch.setattr(ss, "ThreadPoolExecutor", Refusing)
    f = fake(tmp)
    s = sampler(tmp, f.path)
    try:
        with caplog.at_level("ERROR", logger="periscope"):
            s.watch([A])
            wait_until(lambda: s._thread is None, what="the sampler stops")
        assert "stopped" in caplog.text
        s.watch([A])  # the next look
        wait_until(lambda: A in s.latest().figures, what="figures again")
    finally:
        s.stop(), f.close()
