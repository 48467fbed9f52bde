"""Asking several engines at once: answers within the budget, errors and
lateness per engine, and a question in flight joined, never asked twice."""

import threading
import time

from app.registry import Registry, parse_list
from app import fanout
from app.fanout import ask_all
from app.gateway import exceptions as ge


def registry(n=3):
    return Registry.build(parse_list(",".join(f"e{i}=unix:///e{i}.sock" for i in range(n)), {}),
                          read_only=False, allow_host_access=False, connect_timeout=1,
                          read_timeout=1)


def test_answers_errors_and_lateness_each_apart():
    reg = registry()
    release = threading.Event()

    def ask(entry):
        if entry.name == "e1":
            raise ge.EngineUnreachable("gone", os_error="No such file")
        if entry.name == "e2":
            release.wait(5)
        return entry.name.upper()

    t0 = time.monotonic()
    out = ask_all(reg, list(reg), ("t1",), ask, budget=0.3)
    took = time.monotonic() - t0
    release.set()
    assert [(a.name, a.value, bool(a.error), a.late) for a in out] == [
        ("e0", "E0", False, False), ("e1", None, True, False), ("e2", None, False, True)]
    assert took < 2  # the late one held nobody up beyond the budget


def test_a_question_in_flight_is_joined_not_asked_again():
    reg = registry(1)
    calls = []
    gate = threading.Event()

    def ask(entry):
        calls.append(1)
        gate.wait(5)
        return len(calls)

    results = []
    threads = [threading.Thread(target=lambda: results.append(
        ask_all(reg, list(reg), ("same",), ask, budget=3)[0].value)) for _ in range(8)]
    for t in threads:
        t.start()
    # until all eight wait on the one question in flight (a condition, polled)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        fut = fanout._inflight.get(("e0", "same"))
        if fut is not None and len(fut._waiters) == 8:
            break
        time.sleep(0.01)
    gate.set()
    for t in threads:
        t.join()
    assert calls == [1] and results == [1] * 8
    # once answered, the next question is asked anew
    assert ask_all(reg, list(reg), ("same",), ask, budget=3)[0].value == 2


def test_an_engine_whose_own_timeout_ran_out_is_late_not_broken():
    """Its call's timeout is the budget, so it may end a moment before the
    wait does: still an engine that is not answering."""
    reg = registry(2)

    def ask(entry):
        if entry.name == "e1":
            raise ge.EngineTimeout("accepted the connection but did not answer within 1 s")
        return entry.name

    out = ask_all(reg, list(reg), ("t-timeout",), ask, budget=5)
    assert [(a.name, a.value, a.error, a.late) for a in out] == [
        ("e0", "e0", None, False), ("e1", None, None, True)]
    values, trouble = fanout.gather(reg, list(reg), ("t-timeout2",), ask, budget=5)
    assert values == [("e0", "e0")] and [(t.name, t.kind) for t in trouble] == [("e1", "late")]
