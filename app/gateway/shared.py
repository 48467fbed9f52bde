"""Shared reads: one answer of a read-only Engine call, given to every asker
within a short age, and one call in flight per question.

Twenty browsers polling the same list every two seconds ask the engine the
same question ten times a second; the engine answers it once per `max_age`
instead. A caller that needs a fresh answer (a page just loaded, the answer
to an action) asks with max_age=0 and never gets a kept one. Errors are
never kept: the next asker asks again. Answers are shared objects: callers
read them and never change them. No Flask here.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Hashable


class _Pending:
    __slots__ = ("done", "value", "error")

    def __init__(self):
        self.done = threading.Event()
        self.value: Any = None
        self.error: BaseException | None = None


class SharedReads:
    MAX = 256  # questions kept (filters come from users: bounded)

    def __init__(self):
        self._lock = threading.Lock()
        self._kept: dict[Hashable, tuple[float, Any]] = {}
        self._inflight: dict[Hashable, _Pending] = {}
        self.calls = 0  # answers fetched (for tests and benchmarks)

    def get(self, key: Hashable, max_age: float, fetch: Callable[[], Any]) -> Any:
        now = time.monotonic()
        with self._lock:
            kept = self._kept.get(key)
            if kept is not None and now - kept[0] <= max_age:
                return kept[1]
            pending = self._inflight.get(key)
            mine = pending is None
            if mine:
                pending = self._inflight[key] = _Pending()
        if not mine:
            pending.done.wait()
            if pending.error is not None:
                raise pending.error
            return pending.value
        try:
            pending.value = fetch()
        except BaseException as exc:
            pending.error = exc
            raise
        finally:
            with self._lock:
                self.calls += 1
                del self._inflight[key]
                if pending.error is None:
                    if len(self._kept) >= self.MAX:
                        self._forget_oldest()
                    self._kept[key] = (now, pending.value)  # the age counts from the asking
            pending.done.set()
        return pending.value

    def _forget_oldest(self) -> None:
        cut = sorted(self._kept.items(), key=lambda kv: kv[1][0])[: self.MAX // 4]
        for k, _ in cut:
            del self._kept[k]

    def clear(self) -> None:
        with self._lock:
            self._kept.clear()
