"""A record of the Engine calls made while serving one page.

The web layer opens a record per request (`record()`); the gateway appends to
whatever record is open in the current context. No Flask here: a contextvar is
enough, and it works the same under threads.
"""

from __future__ import annotations

import contextlib
import contextvars
from dataclasses import dataclass, field


@dataclass
class Call:
    method: str
    path: str  # versioned path with query string, as sent
    status: int | None  # None when no answer came
    ms: float
    body: str | None = None  # request body as sent (JSON text), for the curl line
    error: str | None = None
    engine: str = "default"  # the name of the engine it went to
    shared_age: float | None = None  # answered by a shared read this old (s): no call made


@dataclass
class CallLog:
    calls: list[Call] = field(default_factory=list)

    @property
    def total_ms(self) -> float:
        return sum(c.ms for c in self.calls)

    def __len__(self) -> int:
        return len(self.calls)

    def __iter__(self):
        return iter(self.calls)


_current: contextvars.ContextVar[CallLog | None] = contextvars.ContextVar("engine_calls", default=None)


def start() -> tuple[CallLog, contextvars.Token]:
    log = CallLog()
    return log, _current.set(log)


def stop(token: contextvars.Token) -> None:
    _current.reset(token)


@contextlib.contextmanager
def record():
    log, token = start()
    try:
        yield log
    finally:
        stop(token)


def add(call: Call) -> None:
    log = _current.get()
    if log is not None:
        log.calls.append(call)
