"""Shared reads: one answer for every asker within the age, one call in flight."""

import threading
import time

import pytest

from app.gateway.shared import SharedReads


def test_kept_within_age_and_fresh_when_asked():
    s = SharedReads()
    n = [0]

    def fetch():
        n[0] += 1
        return n[0]

    assert s.get("k", 60, fetch) == 1
    assert s.get("k", 60, fetch) == 1
    assert s.get("k", 0, fetch) == 2  # max_age 0: never a kept one
    assert s.get("other", 60, fetch) == 3


def test_one_call_in_flight_joined():
    s = SharedReads()
    go, calls = threading.Event(), []

    def fetch():
        calls.append(1)
        go.wait(5)
        return "answer"

    out = []
    threads = [threading.Thread(target=lambda: out.append(s.get("k", 60, fetch)))
               for _ in range(5)]
    for t in threads:
        t.start()
    while not calls:
        pass
    go.set()
    for t in threads:
        t.join()
    assert out == ["answer"] * 5 and len(calls) == 1


def test_errors_are_not_kept():
    s = SharedReads()
    with pytest.raises(ValueError):
        s.get("k", 60, lambda: (_ for _ in ()).throw(ValueError("no")))
    assert s.get("k", 60, lambda: "ok") == "ok"


def test_bounded():
    s = SharedReads()
    for i in range(SharedReads.MAX * 2):
        s.get(i, 60, lambda i=i: i)
    assert len(s._kept) <= SharedReads.MAX


def test_workers_share_through_a_folder_and_a_change_clears_it(tmp_path):
    a, b = SharedReads(), SharedReads()  # two gunicorn workers
    a.use_folder(tmp_path / "shared")
    b.use_folder(tmp_path / "shared")
    assert a.get("k", 60, lambda: [{"Id": "x"}]) == [{"Id": "x"}]
    deadline = time.monotonic() + 10  # written by a's writer thread
    while not list((tmp_path / "shared").glob("*.json")) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert b.get("k", 60, lambda: pytest.fail("asked again")) == [{"Id": "x"}]
    assert (a.calls, b.calls) == (1, 0)
    b.clear()  # a POST in the other worker
    assert a.get("k", 60, lambda: ["fresh"]) == ["fresh"]
    assert a.get("k", 0, lambda: ["fresher"]) == ["fresher"]


def test_engine_polls_share_and_a_change_asks_again():
    from app.gateway import Engine
    from faultkit import FakeEngine, remove_tree, short_tmp

    d = short_tmp()
    fake = FakeEngine(d / "e.sock", {"/v1.41/containers/json": (200, "[]", "application/json"),
                                     "/v1.41/containers/abc/start": (204, "", "text/plain")})
    try:
        eng = Engine(f"unix://{fake.path}")
        lists = lambda: [s for s in fake.seen if "/containers/json" in s]  # noqa: E731
        eng.containers(max_age=60)
        eng.containers(max_age=60)
        assert len(lists()) == 1
        eng.containers()  # max_age 0: fresh
        assert len(lists()) == 2
        eng.start("abc")
        eng.containers(max_age=60)
        assert len(lists()) == 3
    finally:
        fake.close()
        remove_tree(d)


def test_an_answer_asked_before_a_change_is_not_kept():
    s = SharedReads()

    def fetch_during_a_change():
        s.clear()  # a POST lands while the list is on its way
        return "from before"

    assert s.get("k", 60, fetch_during_a_change) == "from before"
    assert s.get("k", 60, lambda: "after") == "after"


def test_an_engine_that_went_away_gives_no_kept_answer():
    from app.gateway import Engine, exceptions as ge
    from faultkit import CuttableProxy, FakeEngine, remove_tree, short_tmp

    d = short_tmp()
    fake = FakeEngine(d / "e.sock", {"/v1.41/containers/json": (200, "[]", "application/json")})
    proxy = CuttableProxy(d / "p.sock", str(fake.path)).start()
    try:
        eng = Engine(f"unix://{proxy.path}", connect_timeout=1)
        assert eng.containers(max_age=60) == []
        proxy.cut()  # the engine goes away, its connections too
        with pytest.raises(ge.EngineUnreachable):
            eng.containers()  # a page load finds it gone
        with pytest.raises(ge.EngineUnreachable):
            eng.containers(max_age=60)  # so the poll is not given the old answer
    finally:
        fake.close()
        remove_tree(d)
