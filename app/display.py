"""Texts for display, the same on every page: relative and exact times from
the Engine's epoch numbers or RFC 3339 strings (with nanoseconds), byte sizes,
pretty JSON. Pure; registered as template filters in app/web.py."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections import OrderedDict
from typing import Any, Callable

from markupsafe import Markup

from .ansi import BIDI_RE

try:  # orjson: a row's key in microseconds
    import orjson

    def _key_bytes(value) -> bytes:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
except ImportError:  # pragma: no cover - it is a dependency
    def _key_bytes(value) -> bytes:
        return json.dumps(value, sort_keys=True, default=str).encode()


def reltime(value) -> str:
    """'3 minutes ago' for an epoch number or an RFC 3339 string."""
    when = to_datetime(value)
    if when is None:
        return "never"
    secs = (dt.datetime.now(dt.timezone.utc) - when).total_seconds()
    future = secs < 0
    secs = abs(secs)
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if secs >= size:
            n = int(secs // size)
            text = f"{n} {unit}{'s' if n != 1 else ''}"
            break
    else:
        # under a minute, in steps of ten seconds: a live list's rows then stay
        # the same between polls (and their rendered HTML can be kept)
        n = int(secs) // 10 * 10
        text = "just now" if n < 10 else f"{n} seconds"
    if text == "just now":
        return text
    return f"in {text}" if future else f"{text} ago"


def to_datetime(value) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value
    if value in (None, "", 0, "0001-01-01T00:00:00Z"):
        return None
    if isinstance(value, (int, float)):
        return dt.datetime.fromtimestamp(value, dt.timezone.utc)
    s = str(value)
    if s.startswith("0001-01-01"):
        return None
    # Engine times carry nanoseconds; Python takes microseconds.
    if "." in s:
        head, _, frac = s.partition(".")
        tz = ""
        for i, ch in enumerate(frac):
            if not ch.isdigit():
                frac, tz = frac[:i], frac[i:]
                break
        s = f"{head}.{frac[:6]}{tz}"
    s = s.replace("Z", "+00:00")
    try:
        d = dt.datetime.fromisoformat(s)
    except ValueError:
        return None
    return d if d.tzinfo else d.replace(tzinfo=dt.timezone.utc)


_FIXED_TEXTS: dict = {}


def time_texts(value) -> tuple[str, str, str]:
    """(relative, ISO 8601, exact) for one time, parsed once; the two that
    never change are kept per value (a live list asks for the same ones)."""
    fixed = _FIXED_TEXTS.get(value)
    if fixed is None:
        d = to_datetime(value)
        if d is None:
            return "never", "", ""
        if len(_FIXED_TEXTS) > 50_000:
            _FIXED_TEXTS.clear()
        fixed = _FIXED_TEXTS[value] = (d, d.isoformat(), d.strftime("%Y-%m-%d %H:%M:%S UTC"))
    return reltime(fixed[0]), fixed[1], fixed[2]


def exact(value) -> str:
    d = to_datetime(value)
    return d.strftime("%Y-%m-%d %H:%M:%S UTC") if d else ""


def iso(value) -> str:
    d = to_datetime(value)
    return d.isoformat() if d else ""


def size(n) -> str:
    if n in (None, ""):
        return ""
    n = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return ""


def pretty_json(value) -> str:
    """JSON as it reads, characters outside ASCII as they are, but for those
    that reorder text (a label's U+202E): their JSON escapes, so the text is
    still the same JSON and reads as what it is."""
    text = json.dumps(value, indent=2, sort_keys=False, ensure_ascii=False)
    if text.isascii():
        return text
    return BIDI_RE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


class BlockCache:
    """Whole blocks of rows (a list's HTML, or its rows' halves) by key, the
    last used kept while their sizes add up to at most `budget` characters:
    a 600-row list is about a megabyte, and each minute's relative times make
    new keys, so a count alone would let a worker hold hundreds of them."""

    def __init__(self, budget: int = 24_000_000):
        self.budget = budget
        self._d: OrderedDict[tuple, tuple[Any, int]] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, key: tuple) -> Any:
        with self._lock:
            hit = self._d.get(key)
            if hit is None:
                return None
            self._d.move_to_end(key)
            return hit[0]

    def put(self, key: tuple, value: Any, size: int) -> Any:
        with self._lock:
            old = self._d.pop(key, None)
            if old is not None:
                self._size -= old[1]
            self._d[key] = (value, size)
            self._size += size
            while self._size > self.budget and len(self._d) > 1:
                _, (_, gone) = self._d.popitem(last=False)
                self._size -= gone
        return value


class HtmlCache:
    """Rendered HTML kept by everything that went into it: a live list renders
    the same rows every few seconds, and only a row whose data changed (a
    container started, the relative time moved on) is rendered again. The
    HTML comes from templates that escape every value, so it is marked safe
    as a whole, never an engine's own text."""

    MAX = 20_000

    def __init__(self):
        self._html: dict[tuple, Markup] = {}

    def render(self, template: str, row: dict, context: tuple,
               make: Callable[[], str]) -> Markup:
        """A row made from `row` alone (all of it is the key)."""
        return self.keyed((template, _key_bytes(row), context), make)

    def keyed(self, key: tuple, make: Callable[[], str]) -> Markup:
        """HTML by a key the caller made of what goes into it."""
        html = self._html.get(key)
        if html is None:
            if len(self._html) >= self.MAX:
                self._html.clear()
            html = self._html[key] = Markup(make())
        return html


def ibytes(n) -> str:
    """Binary units as `docker stats` prints memory: '61.8 MiB'."""
    if n is None or n == "":
        return ""
    n = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return ""


def rate(n) -> str:
    """Bytes per second in decimal units, as `docker stats` prints I/O: '1.2 kB/s'."""
    if n is None or n == "":
        return ""
    n = float(n)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}/s" if unit == "B" else f"{n:.1f} {unit}/s"
        n /= 1000
    return ""


def dsize(n) -> str:
    """Bytes in decimal units, as `docker stats` prints NET I/O totals: '1.2 kB'."""
    return rate(n)[:-2] if n not in (None, "") else ""


def percent(v) -> str:
    return "" if v is None else f"{v:.1f}%"


# What a container action did, in words: (done, it was so already) by action.
ACTION_DONE = {"start": ("Started {n}.", "{n} was already running."),
               "stop": ("Stopped {n}.", "{n} was already stopped."),
               "restart": ("Restarted {n}.", "{n} was restarted."),
               "kill": ("Sent {sig} to {n}.", "{n} was not running."),
               "pause": ("Paused {n}.", "{n} was already paused."),
               "unpause": ("Resumed {n}.", "{n} was not paused.")}
