"""Shared reads: one call for reads in flight together, reuse within the
freshness bound, nothing older; a write drops them, in other workers too."""

import threading

import pytest

from app.gateway.sharing import SharedReads


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_reuse_within_the_bound_and_never_older():
    clock = Clock()
    s = SharedReads(1.0, clock=clock)
    calls = []
    fetch = lambda: calls.append(1) or len(calls)  # noqa: E731
    assert s.get("k", fetch) == (1, None)
    clock.now += 0.5
    assert s.get("k", fetch) == (1, 0.5)
    clock.now += 0.6  # 1.1 s after the call began: too old
    assert s.get("k", fetch) == (2, None)
    assert s.get("other", fetch) == (3, None)  # another read is its own
    assert (s.calls, s.hits) == (3, 1)


def test_fresh_says_whether_a_read_now_would_be_answered_at_once():
    clock = Clock()
    s = SharedReads(1.0, clock=clock, ahead=0.8)
    assert not s.fresh("k")
    s.get("k", lambda: 1)
    assert s.fresh("k")
    clock.now += 0.85  # within the bound, but a read now would start a call ahead of time
    assert not s.fresh("k")
    s.invalidate()
    clock.now -= 0.85
    assert not s.fresh("k")  # a write dropped it
    assert not SharedReads(0.0, clock=clock).fresh("k")


def test_reads_in_flight_together_make_one_call():
    s = SharedReads(5.0)
    gate, started = threading.Event(), threading.Event()
    calls = []

    def fetch():
        calls.append(1)
        started.set()
        gate.wait(5)
        return "answer"

    out = []
    threads = [threading.Thread(target=lambda: out.append(s.get("k", fetch)[0]))
               for _ in range(10)]
    threads[0].start()
    started.wait(5)
    for t in threads[1:]:
        t.start()
    while s.joins < 9:  # a condition: every other read waits on the one in flight
        threading.Event().wait(0.005)
    gate.set()
    for t in threads:
        t.join()
    assert calls == [1] and out == ["answer"] * 10


def test_errors_are_not_kept():
    s = SharedReads(5.0)
    state = {"fail": True}

    def fetch():
        if state["fail"]:
            raise RuntimeError("engine down")
        return "ok"

    with pytest.raises(RuntimeError):
        s.get("k", fetch)
    state["fail"] = False
    assert s.get("k", fetch) == ("ok", None)


def test_a_write_drops_shared_answers_in_every_worker(tmp_path):
    marker = tmp_path / "writes" / "default"
    worker_a, worker_b = SharedReads(60.0, marker), SharedReads(60.0, marker)
    n = {"a": 0, "b": 0}

    def fetch(w):
        n[w] += 1
        return n[w]

    assert worker_a.get("k", lambda: fetch("a"))[0] == 1
    assert worker_b.get("k", lambda: fetch("b"))[0] == 1
    assert worker_b.get("k", lambda: fetch("b"))[0] == 1  # shared
    worker_a.invalidate()  # a write in worker A...
    assert worker_b.get("k", lambda: fetch("b"))[0] == 2  # ...is seen by worker B
    assert worker_a.get("k", lambda: fetch("a"))[0] == 2


def test_off_when_the_bound_is_zero():
    s = SharedReads(0.0)
    calls = []
    for _ in range(3):
        s.get("k", lambda: calls.append(1))
    assert len(calls) == 3


def test_across_workers_one_call_per_freshness_period(tmp_path):
    marker = tmp_path / "writes" / "e"
    a = SharedReads(60.0, marker, folder=tmp_path / "shared" / "e")
    b = SharedReads(60.0, marker, folder=tmp_path / "shared" / "e")
    asked = []

    def read():
        asked.append(1)
        return b'{"n": %d}' % len(asked)

    decode = lambda data: data.decode()  # noqa: E731
    got_a = a.get("k", lambda: decode(read()), raw=(read, decode))
    got_b = b.get("k", lambda: decode(read()), raw=(read, decode))
    assert got_a == ('{"n": 1}', None)
    assert got_b[0] == '{"n": 1}' and got_b[1] is not None  # the other worker's answer
    assert len(asked) == 1
    b.invalidate()  # a write in worker B
    assert a.get("k", lambda: decode(read()), raw=(read, decode)) == ('{"n": 2}', None)
    assert len(asked) == 2


def test_an_engine_that_went_away_gives_no_kept_answer():
    from app.gateway import Engine, exceptions as ge
    from faultkit import CuttableProxy, FakeEngine, remove_tree, short_tmp

    d = short_tmp()
    fake = FakeEngine(d / "e.sock", {"/v1.41/containers/json": (200, "[]", "application/json")})
    proxy = CuttableProxy(d / "p.sock", str(fake.path)).start()
    try:
        eng = Engine(f"unix://{proxy.path}", connect_timeout=1, share_for=60)
        assert eng.containers() == []
        assert eng.containers() == []  # shared: the answer is kept for 60 s
        proxy.cut()  # the engine goes away, its connections too
        with pytest.raises(ge.EngineUnreachable):
            eng.inspect_container("x")  # a page finds it gone
        with pytest.raises(ge.EngineUnreachable):
            eng.containers()  # so the poll is not given the kept answer
    finally:
        fake.close()
        remove_tree(d)


def test_an_answer_near_its_bound_is_renewed_ahead_of_time_beside_the_reads():
    clock = Clock()
    s = SharedReads(1.0, clock=clock, ahead=0.8)
    calls, gate = [], threading.Event()

    def fetch():
        calls.append(1)
        if len(calls) > 1:
            assert gate.wait(5)
        return len(calls)

    assert s.get("k", fetch) == (1, None)
    clock.now += 0.5
    assert s.get("k", fetch) == (1, 0.5) and s.renewals == 0  # young: nothing more
    clock.now += 0.4  # 0.9 s: within the bound, past 0.8 of it
    assert s.get("k", fetch) == (1, pytest.approx(0.9))  # given at once, not waited on
    assert s.get("k", fetch)[0] == 1 and s.renewals == 1  # one renewal, not one per read
    gate.set()
    deadline = clock.now
    import time
    end = time.monotonic() + 5
    while s.get("k", fetch)[0] != 2 and time.monotonic() < end:
        time.sleep(0.01)  # a condition: the renewed answer replaces the old one
    value, age = s.get("k", fetch)
    assert value == 2 and age == pytest.approx(clock.now - deadline)  # its age counts anew
    assert len(calls) == 2


def test_a_failed_renewal_keeps_nothing_and_the_old_answer_runs_out():
    clock = Clock()
    s = SharedReads(1.0, clock=clock, ahead=0.8)
    done = threading.Event()
    answers = iter([1])

    def fetch():
        try:
            return next(answers)
        except StopIteration:
            done.set()
            raise RuntimeError("engine down")

    assert s.get("k", fetch) == (1, None)
    clock.now += 0.9
    assert s.get("k", fetch)[0] == 1
    assert done.wait(5)
    clock.now += 0.2  # past the bound: the next read calls, and meets the error
    with pytest.raises(RuntimeError):
        s.get("k", fetch)


def test_an_answer_that_lasts_is_reused_past_the_bound_and_never_renewed_ahead():
    """`lasting` (the engine quiet since the call began: gateway/watch.py) is
    asked only of an answer past the bound or due for renewal; while it says
    so, the answer is given with no call, now or ahead of time."""
    clock = Clock()
    s = SharedReads(1.0, clock=clock, ahead=0.5)
    calls, asked = [], []
    fetch = lambda: calls.append(1) or len(calls)  # noqa: E731
    quiet = {"yes": True}

    def lasting(started, value):
        asked.append((started, value))
        return quiet["yes"]

    assert s.get("k", fetch, lasting=lasting) == (1, None)
    clock.now += 0.2
    assert s.get("k", fetch, lasting=lasting) == (1, pytest.approx(0.2))
    assert asked == []  # young: nothing to ask
    clock.now += 0.4  # due for renewal ahead: a quiet engine spares it
    assert s.get("k", fetch, lasting=lasting) == (1, pytest.approx(0.6))
    clock.now += 9.4  # ten seconds old
    assert s.get("k", fetch, lasting=lasting) == (1, pytest.approx(10.0))
    assert asked[-1] == (100.0, 1) and (s.renewals, s.lasted) == (0, 1)
    quiet["yes"] = False  # something happened: asked again, at once
    assert s.get("k", fetch, lasting=lasting) == (2, None)
    s.invalidate()  # a write through Periscope drops it however quiet
    quiet["yes"] = True
    assert s.get("k", fetch, lasting=lasting) == (3, None)
    assert calls == [1, 1, 1]


def test_an_answer_that_lasts_is_taken_from_another_worker_past_the_bound(tmp_path):
    """A quiet engine's list held by one worker spares the other workers their
    calls too, while their own `lasting` says it holds; not once it says no,
    nor after a write."""
    clock = Clock()
    marker = tmp_path / "writes" / "e"
    a = SharedReads(1.0, marker, folder=tmp_path / "shared" / "e", clock=clock)
    b = SharedReads(1.0, marker, folder=tmp_path / "shared" / "e", clock=clock)
    asked, judged = [], []
    quiet = {"yes": True}

    def read():
        asked.append(1)
        return b"answer %d" % len(asked)

    def lasting(started, value):
        judged.append((started, value))
        return quiet["yes"]

    decode = lambda data: data.decode()  # noqa: E731
    get = lambda s: s.get("k", lambda: decode(read()), raw=(read, decode),  # noqa: E731
                          lasting=lasting)
    assert get(a) == ("answer 1", None)
    clock.now += 10.0  # far past the bound: worker B has never read it
    assert get(b) == ("answer 1", pytest.approx(10.0))
    assert judged == [(100.0, "answer 1")] and len(asked) == 1
    clock.now += 5.0
    assert get(b) == ("answer 1", pytest.approx(15.0))  # held in B now, still judged
    quiet["yes"] = False  # something happened on the engine
    c = SharedReads(1.0, marker, folder=tmp_path / "shared" / "e", clock=clock)
    assert get(c) == ("answer 2", None)
    quiet["yes"] = True
    a.invalidate()  # a write through Periscope: no worker takes the older answer
    d = SharedReads(1.0, marker, folder=tmp_path / "shared" / "e", clock=clock)
    clock.now += 5.0
    assert get(d) == ("answer 3", None)
    assert len(asked) == 3


def test_another_worker_s_answer_that_cannot_be_decoded_is_no_answer(tmp_path):
    """An answer the engine once sent broken (a proxy's page, say) keeps no
    worker from asking again, however old it is and whatever `lasting` says."""
    clock = Clock()
    marker = tmp_path / "writes" / "e"
    bodies = [b"<html>", b"[1]", b"[2]"]
    asked = []

    def read():
        asked.append(1)
        return bodies[len(asked) - 1]

    decode = lambda data: __import__("json").loads(data)  # noqa: E731
    a = SharedReads(1.0, marker, folder=tmp_path / "shared" / "e", clock=clock)
    with pytest.raises(ValueError):
        a.get("k", lambda: decode(read()), raw=(read, decode), lasting=lambda s, v: True)
    clock.now += 60.0
    b = SharedReads(1.0, marker, folder=tmp_path / "shared" / "e", clock=clock)
    assert b.get("k", lambda: decode(read()), raw=(read, decode),
                 lasting=lambda s, v: True) == ([1], None)
    assert len(asked) == 2


def test_a_file_that_began_after_now_is_not_taken(tmp_path):
    """A file written before a reboot (its monotonic start ahead of the clock
    now) is neither fresh nor lasting."""
    clock = Clock()
    marker = tmp_path / "writes" / "e"
    asked = []

    def read():
        asked.append(1)
        return b"answer %d" % len(asked)

    decode = lambda data: data.decode()  # noqa: E731
    a = SharedReads(1.0, marker, folder=tmp_path / "shared" / "e", clock=clock)
    assert a.get("k", lambda: decode(read()), raw=(read, decode)) == ("answer 1", None)
    clock.now -= 50.0  # the machine started again: its clock counts from less
    b = SharedReads(1.0, marker, folder=tmp_path / "shared" / "e", clock=clock)
    assert b.get("k", lambda: decode(read()), raw=(read, decode),
                 lasting=lambda s, v: True) == ("answer 2", None)
