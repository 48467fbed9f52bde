"""Values people type, in a URL or the environment: on/off flags, counts, and
times such as `since` and `until`. One parser for each, used everywhere.

A value the user can correct raises InputError, whose message says how.
"""

from __future__ import annotations

import datetime as dt
import re
import time

TRUE = frozenset(("1", "true", "yes", "on"))
FALSE = frozenset(("0", "false", "no", "off"))


class InputError(ValueError):
    """A value the user can correct; the message says how."""


_CONTROLS = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def typed(value: str | None, limit: int) -> str:
    """Text a person typed into a field (a search, a time): at most `limit`
    characters, without control characters (tab aside), which no search or
    time needs and a page should not write back raw."""
    return _CONTROLS.sub("", (value or "")[:limit])


def flag(value: str | None, default: bool = False) -> bool:
    """An on/off value: 1, true, yes, on (any case) are on; 0, false, no, off
    are off; empty or missing is the default; anything else is off."""
    if value is None:
        return default
    v = value.strip().lower()
    if not v:
        return default
    return v in TRUE


def flags(values: list[str], default: bool = False) -> bool:
    """A checkbox sent with a hidden default (`ts=0` then `ts=1` when ticked):
    on when any of the values is on."""
    vals = [v for v in values if v is not None and v.strip()]
    if not vals:
        return default
    return any(flag(v) for v in vals)


def count(text: str | None, *, name: str, default: int | None = None,
          maximum: int = 999_999_999) -> int | None:
    """A positive whole number (a tail, a replica count's upper bound)."""
    t = (text or "").strip()
    if not t:
        return default
    if not (t.isascii() and t.isdigit()) or len(t) > 12 or not 0 < int(t) <= maximum:
        raise InputError(f"{name} “{t[:20]}” is not a whole number from 1 to {maximum:,}.")
    return int(t)


def seconds(text: str | None, *, name: str, maximum: int) -> int | None:
    """Whole seconds from 0 to `maximum` (a stop's timeout); '' -> None."""
    t = (text or "").strip()
    if not t:
        return None
    if not (t.isascii() and t.isdigit()) or len(t) > 9 or int(t) > maximum:
        raise InputError(f"{name} must be a whole number of seconds from 0 to {maximum}, "
                         f"not “{t[:20]}”.")
    return int(t)


def shown(text: str | None) -> int:
    """The count of lines a page says it shows (carried by its poll): only
    a display figure, so anything but a plain count is 0."""
    t = text or ""
    return int(t) if t.isascii() and t.isdigit() and len(t) < 10 else 0


def tail(text: str | None, default: str = "500") -> str:
    """A logs tail: 'all' or any positive count (as `docker logs --tail` takes)."""
    t = (text or "").strip().lower() or default
    if t == "all":
        return t
    return str(count(t, name="tail"))


_REL_RE = re.compile(r"^(\d{1,6})\s*(s|m|h|d|w)$", re.I)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def since(text: str | None, now: float | None = None, *, name: str = "since") -> str | None:
    """A point in time as the engine's `since`/`until` take it (seconds, with
    nanoseconds after a dot). '' -> None; '15m', '2h', '3d' -> now minus that;
    Unix seconds; an RFC 3339 or ISO date and time (UTC unless it says)."""
    text = (text or "").strip()
    if not text:
        return None
    now = time.time() if now is None else now
    m = _REL_RE.match(text)
    if m:
        return _not_before_1970(int(now) - int(m.group(1)) * _UNITS[m.group(2).lower()], name)
    if re.fullmatch(r"\d{1,11}(\.\d{1,9})?", text):
        return _not_before_1970(0, name) if not text.strip("0.") else text
    iso = text.replace(" ", "T", 1) if re.match(r"\d{4}-\d\d-\d\d \d", text) else text
    # Python takes microseconds at most: the fraction is kept apart, to the
    # nanosecond (the engine's `until` is inclusive: a line's own timestamp
    # as its row shows it must keep that line, as `docker logs --until` does)
    frac = ""
    m = re.search(r"\.(\d{1,9})\d*", iso)
    if m:
        frac, iso = m.group(1), iso[:m.start()] + iso[m.end():]
    iso = iso.replace("z", "Z")
    try:
        when = dt.datetime.fromisoformat(iso)
    except ValueError:
        raise InputError(f"{name}: “{text[:60]}” is not a time: use 15m, 2h, 3d, Unix seconds, "
                         f"or a date and time such as 2026-01-31 14:00 (UTC).") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    whole = int(when.timestamp())
    if whole < 0:
        return _not_before_1970(whole, name)
    frac = frac.ljust(9, "0")
    return f"{whole}.{frac}" if frac.strip("0") else str(whole)


def _not_before_1970(secs: int, name: str) -> str:
    """The engine reads 0 (or less) as no bound at all: a `since` that early
    is the log's start, an `until` that early is before any line (1 ns)."""
    if secs > 0:
        return str(secs)
    return "0.000000001" if name.lower() == "until" else "0"

