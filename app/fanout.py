"""Asking several engines at once, each within its own time budget: the
combined pages (all engines' containers, events, the engines page, whoami).

Every engine is asked in parallel. What an engine answers within the budget is
used; an engine that fails is a notice naming it and its error; one that does
not answer in time is "not answering" and is asked again at the next poll.
Neither delays nor breaks the others: the page waits the budget at most.

A question still in flight when the same one is asked again (the next poll of
a stalled engine, or another viewer) is not asked twice: the newcomer waits on
the one in flight. A stalled engine therefore costs one thread, never one per
poll. No Flask here.
"""

from __future__ import annotations

import contextvars
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, Callable

from .registry import EngineEntry, Registry
from .gateway import exceptions as ge


@dataclass
class Answer:
    entry: EngineEntry
    value: Any = None
    error: ge.EngineError | None = None
    late: bool = False  # still no answer when the budget ran out
    ms: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None and not self.late

    @property
    def name(self) -> str:
        return self.entry.name


@dataclass
class EngineTrouble:
    """An engine a combined page could not show: it failed, or it is late."""

    name: str
    kind: str  # "error" | "late"
    message: str


def gather(registry: Registry, entries: list[EngineEntry], key: tuple,
           ask: Callable[[EngineEntry], Any], budget: float
           ) -> tuple[list[tuple[str, Any]], list[EngineTrouble]]:
    """ask_all, sorted out for a combined list: (engine name, value) for
    every engine that answered, and a trouble entry for each one that did not."""
    values: list[tuple[str, Any]] = []
    trouble: list[EngineTrouble] = []
    for ans in ask_all(registry, entries, key, ask, budget):
        if ans.late:
            trouble.append(EngineTrouble(ans.name, "late", f"not answering within {budget:g} s; "
                                         "asked again at the next update"))
        elif ans.error is not None:
            trouble.append(EngineTrouble(ans.name, "error", ans.error.message))
        else:
            values.append((ans.name, ans.value))
    return values, trouble


_inflight: dict[tuple, Future] = {}
_lock = threading.Lock()


def _submit(registry: Registry, key: tuple, fn: Callable[[], Any]) -> Future:
    with _lock:
        fut = _inflight.get(key)
        if fut is not None and not fut.done():
            return fut
        fut = registry.pool.submit(contextvars.copy_context().run, _timed, fn)
        _inflight[key] = fut

    def _forget(f, key=key):
        with _lock:
            if _inflight.get(key) is f:
                del _inflight[key]

    fut.add_done_callback(_forget)
    return fut


def _timed(fn):
    t0 = time.perf_counter()
    value = fn()
    return value, (time.perf_counter() - t0) * 1000


def ask_all(registry: Registry, entries: list[EngineEntry], key: tuple,
            ask: Callable[[EngineEntry], Any], budget: float) -> list[Answer]:
    """ask(entry) for every entry, in parallel; the answers in entries' order.
    `key` names the question (with the entry's name, what makes two asks the
    same), so one in flight is joined rather than asked again."""
    futures = [(e, _submit(registry, (e.name, *key), lambda e=e: ask(e))) for e in entries]
    wait([f for _, f in futures], timeout=budget)
    out = []
    for entry, fut in futures:
        if not fut.done():
            out.append(Answer(entry, late=True, ms=budget * 1000))
            continue
        exc = fut.exception()
        if exc is None:
            value, ms = fut.result()
            out.append(Answer(entry, value=value, ms=ms))
        elif isinstance(exc, ge.EngineTimeout):
            # its own timeout (the budget) ran out a moment before the wait
            # did: the same engine that is not answering, not another fault
            out.append(Answer(entry, late=True, ms=budget * 1000))
        elif isinstance(exc, ge.EngineError):
            out.append(Answer(entry, error=exc))
        else:
            raise exc
    return out


def refused_filters(exc: ge.EngineError, filters) -> bool:
    """Did the engine answer a list call with a refusal of its filters? (A
    pattern it cannot parse is a 400, or a 500 on 20.10.) Then the page says so
    beside the filters it keeps, rather than as an error page."""
    return bool(filters) and exc.status is not None and not isinstance(
        exc, (ge.EngineUnreachable, ge.EngineTimeout))


# Calls to one engine that go out side by side (a list and the container list
# that cross-links it): a pool of their own, so a fanned-out ask that makes
# two calls never waits on its own pool.
_SIDE = ThreadPoolExecutor(max_workers=16, thread_name_prefix="periscope-side")


def together(*fns: Callable[[], Any]) -> list[Any]:
    """Call every fn at once (the first in this thread, the others beside it,
    each in a copy of this context so their Engine calls are recorded with
    this request's); their values in order. The first error, in order, is
    raised once all have finished."""
    futures = [_SIDE.submit(contextvars.copy_context().run, fn) for fn in fns[1:]]
    first: BaseException | None = None
    out: list[Any] = []
    try:
        out.append(fns[0]())
    except BaseException as exc:  # noqa: BLE001 - raised below, after the others end
        first = exc
        out.append(None)
    for fut in futures:
        try:
            out.append(fut.result())
        except BaseException as exc:  # noqa: BLE001
            first = first or exc
            out.append(None)
    if first is not None:
        raise first
    return out


# -- one call per item, in parallel (a merged log's containers, a project's) ---------------
_EACH_POOL = ThreadPoolExecutor(max_workers=32, thread_name_prefix="periscope-each")


def each(items: list, fn: Callable[[Any], Any]) -> list[tuple[Any, BaseException | None]]:
    """fn(item) for every item at once (one call per container, say), in the
    items' order: (value, None) or (None, the exception). The calls run in the
    request's context (its record of Engine calls). Not for the gateway's own
    helper pool: these calls may use it (an inspect beside a logs call)."""
    if len(items) == 1:  # no thread for one
        try:
            return [(fn(items[0]), None)]
        except Exception as exc:  # noqa: BLE001 - handed back to the caller
            return [(None, exc)]
    futures = [_EACH_POOL.submit(contextvars.copy_context().run, fn, it) for it in items]
    out: list[tuple[Any, BaseException | None]] = []
    for fut in futures:
        exc = fut.exception()
        out.append((None, exc) if exc is not None else (fut.result(), None))
    return out
