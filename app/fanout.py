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

from .engines import EngineEntry, Registry
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
        elif isinstance(exc, ge.EngineError):
            out.append(Answer(entry, error=exc))
        else:
            raise exc
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
