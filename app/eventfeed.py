"""The events page's logic, apart from Flask: the engine's events, newest
first, kept live by polling.

Never a held-open stream: every request is one bounded GET /events?since&until
(the engine answers its buffered events in that window and closes).

The cursor. The engine's since and until are both inclusive, at nanosecond
precision, and an event is stamped (time taken) just before the engine files
it, so one stamped inside a window already read can still arrive a moment
later. Each poll therefore reads again from OVERLAP before the last window's
end, up to LAG before now, and drops what it already showed: the page carries
the keys (timeNano, Actor.ID, Action; hashed short) of the events it showed
inside that overlap. An event is lost only if it arrives more than OVERLAP
after its own time stamp; none is shown twice.

The engine keeps its last 256 events only: a window that returns 256 may have
lost older ones, and the page says so.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import time
from dataclasses import dataclass

from .gateway import Engine, check_ref, exceptions as ge
from .gateway.logstream import ns_to_engine

TYPES = ["container", "image", "network", "volume", "daemon", "plugin", "service", "node",
         "secret", "config"]
WINDOWS = {"5m": 300, "15m": 900, "1h": 3600, "6h": 6 * 3600, "24h": 86400}
DEFAULT_WINDOW = "15m"
ENGINE_LIMIT = 256          # the engine's buffer of past events (measured on 20.10)
MAX_ROWS = 1000             # rows kept in the page
OVERLAP_NS = 5 * 10**9      # each poll re-reads this much before the last window's end
LAG_NS = 100 * 10**6        # a window ends this long before now
MAX_SEEN = 300              # keys carried in the cursor (the engine holds 256 at most)
_ACTION_RE = re.compile(r"^[a-z_]+(:.{0,100})?$")
_LABEL_RE = re.compile(r"^[^=\s]{1,200}(=.{0,300})?$")
_NS_RE = re.compile(r"^[0-9]{1,20}$")
_SEEN_RE = re.compile(r"^[0-9a-f]{8}$")


def now_ns() -> int:
    return time.time_ns()


def event_key(ev: dict) -> str:
    """A short stable key for one event: timeNano, actor ID and action, hashed."""
    actor = ev.get("Actor") or {}
    raw = f"{ev.get('timeNano') or 0}\x00{actor.get('ID', '')}\x00{ev.get('Action', '')}"
    return hashlib.blake2b(raw.encode("utf-8", "replace"), digest_size=4).hexdigest()


def read_filters(args) -> tuple[dict, list[str]]:
    """The filters from the query string, and a message for each one refused.
    A refused value stays in its field (the user loses nothing) but is not sent."""
    f = {
        "type": (args.get("type") or "").strip().lower(),
        "action": (args.get("action") or "").strip(),
        "container": (args.get("container") or "").strip(),
        "label": (args.get("label") or "").strip(),
        "window": (args.get("window") or DEFAULT_WINDOW).strip(),
    }
    problems: list[str] = []
    if f["type"] and f["type"] not in TYPES:
        problems.append(f"Type “{f['type'][:50]}” is not one of: {', '.join(TYPES)}.")
        f["type_bad"] = True
    if f["action"] and not _ACTION_RE.match(f["action"]):
        problems.append("Action must be an event name such as start, die or health_status "
                        "(lowercase letters and _).")
        f["action_bad"] = True
    if f["container"]:
        try:
            check_ref(f["container"])
        except ge.InvalidReference as exc:
            problems.append(f"Container: {exc.message}.")
            f["container_bad"] = True
    if f["label"] and not _LABEL_RE.match(f["label"]):
        problems.append("Label must be key or key=value.")
        f["label_bad"] = True
    if f["window"] not in WINDOWS:
        problems.append(f"Window “{f['window'][:20]}” is not one of: {', '.join(WINDOWS)}; "
                        f"showing {DEFAULT_WINDOW}.")
        f["window"] = DEFAULT_WINDOW
    return f, problems


def engine_filters(f: dict) -> dict[str, list[str]] | None:
    out: dict[str, list[str]] = {}
    if f["type"] and not f.get("type_bad"):
        out["type"] = [f["type"]]
    if f["action"] and not f.get("action_bad"):
        out["event"] = [f["action"]]
    if f["container"] and not f.get("container_bad"):
        out["container"] = [f["container"].lstrip("/")]
    if f["label"] and not f.get("label_bad"):
        out["label"] = [f["label"]]
    return out or None


def query_string(f: dict) -> dict:
    out = {k: f[k] for k in ("type", "action", "container", "label") if f[k]}
    if f["window"] != DEFAULT_WINDOW:
        out["window"] = f["window"]
    return out


def present(ev: dict, existing: set[str]) -> dict:
    """One event as a row. Only Type, Action and Actor are read (status, id and
    from are gone since API 1.52)."""
    actor = ev.get("Actor") or {}
    attrs = dict(actor.get("Attributes") or {})
    etype = ev.get("Type") or ""
    action = ev.get("Action") or ""
    aid = actor.get("ID") or ""
    name = attrs.get("name") or ""
    shown: list[tuple[str, str]] = []
    if "exitCode" in attrs:
        shown.append(("exit code", attrs.pop("exitCode")))
    if "signal" in attrs:
        shown.append(("signal", attrs.pop("signal")))
    if etype == "container" and "image" in attrs:
        shown.append(("image", attrs.pop("image")))
    if etype == "network" and "container" in attrs:
        cid = attrs.pop("container")
        shown.append(("container", cid[:12] if re.fullmatch(r"[0-9a-f]{64}", cid) else cid))
    for k in ("type", "driver", "destination"):
        if k in attrs and etype in ("network", "volume"):
            shown.append((k, attrs.pop(k)))
    attrs.pop("name", None)
    tn = ev.get("timeNano") or (int(ev.get("time") or 0) * 10**9)
    # a hash ID is shown short beside the name; a non-hash ID (a volume's name,
    # an image reference) is the name itself
    hexid = re.fullmatch(r"(?:sha256:)?([0-9a-f]{64})", aid)
    short = hexid.group(1)[:12] if hexid else ""
    if name.startswith("sha256:") or (hexid and name == aid):
        name = ""
    if not hexid and (not name or etype == "image"):
        name = aid
    when = dt.datetime.fromtimestamp(int(tn) // 10**9, dt.timezone.utc)
    return {
        "key": event_key(ev),
        "clock": f"{when:%H:%M:%S}.{int(tn) % 10**9 // 10**6:03d}",
        "date": f"{when:%Y-%m-%d}",
        "kind": re.sub(r"[^a-z_]", "", action.split(":", 1)[0].lower())[:40],
        "ns": int(tn),
        "secs": int(tn) / 1e9,
        "type": etype,
        "action": action,
        "actor_id": aid,
        "short_id": short,
        "name": name,
        "link": etype == "container" and aid in existing,
        "shown": shown,
        "more": sorted(attrs.items()),
    }


def _existing_containers(eng: Engine, events: list[dict]) -> set[str]:
    """One list call per render, and only when a container event is shown."""
    if not any(e.get("Type") == "container" for e in events):
        return set()
    return {c.get("Id", "") for c in eng.containers(all=True)}


def fetch(eng: Engine, f: dict, since_ns: int, until_ns: int) -> list[dict]:
    return eng.events(since=ns_to_engine(since_ns), until=ns_to_engine(until_ns),
                      filters=engine_filters(f))


def _sorted_newest_first(events: list[dict]) -> list[dict]:
    # stable: events with the same timeNano keep the engine's order, reversed
    return list(reversed(sorted(events, key=lambda e: int(e.get("timeNano") or 0))))


@dataclass
class Window:
    """One read of the events page or its poll: rows newest first, and the
    cursor the next poll carries."""

    rows: list[dict]
    cursor: dict
    cut: bool  # the engine answered all it keeps: older events may be missing
    since_ns: int
    until_ns: int


def first_window(eng: Engine, f: dict) -> Window:
    """The page: the chosen window up to a moment ago."""
    until = now_ns() - LAG_NS
    since = until - WINDOWS[f["window"]] * 10**9
    raw = fetch(eng, f, since, until)
    existing = _existing_containers(eng, raw)
    rows = [present(e, existing) for e in _sorted_newest_first(raw)[:MAX_ROWS]]
    seen = [r["key"] for r in rows if r["ns"] >= until - OVERLAP_NS][:MAX_SEEN]
    return Window(rows, {"after": str(until), "seen": ",".join(seen)},
                  len(raw) >= ENGINE_LIMIT, since, until)


def next_window(eng: Engine, f: dict, after_text: str, seen_text: str) -> Window:
    """A poll: events since the cursor, re-reading OVERLAP before it and
    dropping those the cursor says were shown."""
    now = now_ns() - LAG_NS
    after = int(after_text) if _NS_RE.match(after_text or "") else now
    after = min(after, now)  # a cursor from the future is clamped, not trusted
    carried = {k for k in (seen_text or "").split(",") if _SEEN_RE.match(k)}
    since = max(0, after - OVERLAP_NS)
    until = max(now, after)
    raw = fetch(eng, f, since, until)
    fresh = [e for e in raw if event_key(e) not in carried]
    existing = _existing_containers(eng, fresh)
    rows = [present(e, existing) for e in _sorted_newest_first(fresh)[:MAX_ROWS]]
    # The keys the next poll must drop: every event of this window (new or
    # already shown) that lies inside the next overlap. Older ones cannot
    # come back, so the carried set stays small.
    boundary = until - OVERLAP_NS
    seen: list[str] = []
    for e in sorted(raw, key=lambda e: -int(e.get("timeNano") or 0)):
        k = event_key(e)
        if int(e.get("timeNano") or 0) >= boundary and k not in seen:
            seen.append(k)
    return Window(rows, {"after": str(until), "seen": ",".join(seen[:MAX_SEEN])},
                  len(raw) >= ENGINE_LIMIT, since, until)
