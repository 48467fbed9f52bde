"""Work not done twice: a live list polls the same Engine answers every few
seconds, and while they stay byte for byte the same, their rows are the ones
made last time (a poll whose answer did not change costs the Engine calls and
little else). Keys are the answers themselves, serialised with orjson (a 600
item answer in well under a millisecond), with whatever else went into the
result. Relative times in the rows ("3 minutes ago") are redone at least
every TICK seconds. No Flask here."""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from typing import Any, Callable

try:
    import orjson

    def answer_key(*answers: Any) -> tuple[bytes, ...]:
        return tuple(orjson.dumps(a, option=orjson.OPT_SORT_KEYS) for a in answers)

    def _tag_bytes(value: Any) -> bytes:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS,
                            default=repr)
except ImportError:  # pragma: no cover - it is a dependency
    import json

    def answer_key(*answers: Any) -> tuple[bytes, ...]:
        return tuple(json.dumps(a, sort_keys=True, default=str).encode() for a in answers)

    def _tag_bytes(value: Any) -> bytes:
        return json.dumps(value, sort_keys=True, default=repr).encode()

TICK = 10.0


def tick() -> int:
    """The current step of relative times: a result older than a step is made again."""
    return int(time.time() // TICK)


class Keyed(list):
    """Rows made from Engine answers, with `key`: everything they were made
    from (the answers' tags, the filters, the links, the step of relative
    times). Rows of the same key are the same rows, so their HTML can be the
    one made last time (web.py's row blocks)."""

    key: tuple | None = None
    # what the rows show, where that differs from `key` (a key that holds the
    # step of relative times changes every step; the texts may not)
    shows: tuple | None = None

    @classmethod
    def of(cls, rows, key: tuple, shows: tuple | None = None) -> "Keyed":
        out = cls(rows)
        out.key = key
        out.shows = shows
        return out


class Memo:
    """The last `size` results, by key. Results are shared between callers:
    they must not be changed after they are made."""

    def __init__(self, size: int = 32):
        self.size = size
        self._d: OrderedDict[tuple, Any] = OrderedDict()
        self._lock = threading.Lock()
        # one maker at a time: fifty viewers opening a list at once make its
        # rows once, the others wait and take them (made side by side, they
        # only took turns on the interpreter's lock, each as slow as all)
        self._making = threading.Lock()
        self._steps: dict[tuple, int] = {}  # key -> the step it was made in

    def _hit(self, key: tuple) -> tuple[bool, Any]:
        with self._lock:
            if key in self._d:
                self._d.move_to_end(key)
                return True, self._d[key]
        return False, None

    def get(self, key: tuple, make: Callable[[], Any], step: int | None = None) -> Any:
        """`step`: the step of relative times the result was made in (tick());
        results of steps before the last are dropped as it is put in, never
        to be asked for again."""
        found, value = self._hit(key)
        if found:
            return value
        with self._making:
            found, value = self._hit(key)
            if found:
                return value
            value = make()
            with self._lock:
                if step is not None:
                    for k in [k for k, s in self._steps.items() if s < step - 1]:
                        del self._steps[k]
                        self._d.pop(k, None)
                    self._steps[key] = step
                self._d[key] = value
                while len(self._d) > self.size:
                    gone, _ = self._d.popitem(last=False)
                    self._steps.pop(gone, None)
        return value


def context_tag(context: dict, *more: Any) -> str:
    """A short tag of everything a partial is made from (its context: rows,
    filters, notes; and `more`): equal tags, equal partials. Rows that carry
    their key (Keyed) count by what they show (or their key), not by their
    content. The same in every worker (no hash(), which each process seeds
    apart)."""
    parts = {k: ((v.shows if v.shows is not None else v.key)
                 if isinstance(v, Keyed) and v.key is not None else v)
             for k, v in context.items()}
    return hashlib.blake2b(_tag_bytes([parts, more]), digest_size=9).hexdigest()
