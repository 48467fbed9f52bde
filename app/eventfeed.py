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

from .registry import EngineEntry, Registry
from .fanout import ask_all
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
SHARED_WINDOW_NS = 30 * 10**9  # polls are answered from the last 30 s, shared by every viewer
_ACTION_RE = re.compile(r"^[a-z_]+(:.{0,100})?$")
_LABEL_RE = re.compile(r"^[^=\s]{1,200}(=.{0,300})?$")
_NS_RE = re.compile(r"^[0-9]{1,20}$")
_SEEN_RE = re.compile(r"^[0-9a-f]{8}$")


def now_ns() -> int:
    return time.time_ns()


def event_key(ev: dict) -> str:
    """A short stable key for one event: its engine, timeNano, actor ID and
    action, hashed."""
    actor = ev.get("Actor") or {}
    raw = (f"{ev.get('_engine', '')}\x00{ev.get('timeNano') or 0}\x00{actor.get('ID', '')}"
           f"\x00{ev.get('Action', '')}")
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


def _existing_containers(eng: Engine, events: list[dict], timeout: float | None = None) -> set[str]:
    """One list call per read, and only when a container event is shown."""
    if not any(e.get("Type") == "container" for e in events):
        return set()
    return {c.get("Id", "") for c in eng.containers(all=True, timeout=timeout)}


def fetch(eng: Engine, f: dict, since_ns: int, until_ns: int,
          timeout: float | None = None) -> list[dict]:
    return eng.events(since=ns_to_engine(since_ns), until=ns_to_engine(until_ns),
                      filters=engine_filters(f), timeout=timeout)


def _sorted_newest_first(events: list[dict]) -> list[dict]:
    # stable: events with the same timeNano keep the engine's order, reversed
    return list(reversed(sorted(events, key=lambda e: int(e.get("timeNano") or 0))))


@dataclass
class Trouble:
    name: str
    kind: str  # "error" | "late"
    message: str


@dataclass
class Window:
    """One read of the events page or its poll: rows newest first, and the
    cursor the next poll carries."""

    rows: list[dict]
    cursor: dict
    cut: bool  # an engine answered all it keeps: older events may be missing
    since_ns: int
    until_ns: int
    trouble: list[Trouble]


def _read(registry: Registry, entries: list[EngineEntry], f: dict,
          spans: dict[str, tuple[int, int]], budget: float | None,
          carried: set[str] = frozenset()):
    """Each engine's events in its span, tagged with the engine, and those not
    yet shown marked with whether their container still exists. One engine
    (budget None): its faults are the page's. Several: each within the budget;
    one that fails or is late is a Trouble, the others are shown."""
    def ask(entry: EngineEntry, timeout: float | None = None):
        since, until = spans[entry.name]
        eng = entry.engine
        window = None
        if eng.shared.fresh_for > 0 and now_ns() - since < SHARED_WINDOW_NS - OVERLAP_NS:
            # a poll: every viewer's is answered from one shared window of events
            evs, w_since, w_until = eng.events_window(
                seconds=SHARED_WINDOW_NS / 1e9, lag_ns=LAG_NS, filters=engine_filters(f))
            # it must hold the whole span, and end no earlier than the viewer's
            # last read did (or events shown then would come back unmarked)
            if w_since <= since and w_until >= since + OVERLAP_NS:
                window = w_until
                evs = [e for e in evs if since <= int(e.get("timeNano") or 0) <= w_until]
        if window is None:
            evs = fetch(eng, f, since, until, timeout)
        evs = [dict(e, _engine=entry.name) for e in evs]  # never change a shared answer
        fresh = [e for e in evs if event_key(e) not in carried]
        return evs, fresh, _existing_containers(eng, fresh, timeout), window or until

    if budget is None:
        return {entries[0].name: ask(entries[0])}, []
    got, trouble = {}, []
    key = ("events", repr(sorted(engine_filters(f).items()) if engine_filters(f) else None),
           repr(spans), repr(sorted(carried)))
    for ans in ask_all(registry, entries, key, lambda e: ask(e, budget), budget):
        if ans.late:
            trouble.append(Trouble(ans.name, "late", f"not answering within {budget:g} s; "
                                   "asked again at the next update, from where it left off"))
        elif ans.error is not None:
            trouble.append(Trouble(ans.name, "error", ans.error.message))
        else:
            got[ans.name] = ans.value
    return got, trouble


def _rows(got: dict, several: bool) -> list[dict]:
    shown = []
    for _evs, fresh, existing, _until in got.values():
        shown += [(e, existing) for e in fresh]
    shown.sort(key=lambda p: -int(p[0].get("timeNano") or 0))  # stable: engine order kept
    rows = []
    for e, existing in shown[:MAX_ROWS]:
        r = present(e, existing)
        r["engine"] = e.get("_engine") if several else None
        rows.append(r)
    return rows


def _cursor(got: dict, spans: dict, entries, now: int) -> dict:
    """The next poll's cursor: where each engine's next window starts (an
    engine that did not answer keeps its old start), and the keys of events
    already shown inside the overlap the next poll re-reads."""
    after = {}
    seen: list[str] = []
    for e in entries:
        if e.name in got:
            until = got[e.name][3]  # where this read really ended
            after[e.name] = until
            boundary = until - OVERLAP_NS
            for ev in sorted(got[e.name][0], key=lambda ev: -int(ev.get("timeNano") or 0)):
                k = event_key(ev)
                if int(ev.get("timeNano") or 0) >= boundary and k not in seen:
                    seen.append(k)
        else:
            after[e.name] = spans[e.name][0] + OVERLAP_NS if spans[e.name][0] else now
    if len(entries) == 1:
        text = str(after[entries[0].name])
    else:
        text = ";".join(f"{name}={ns}" for name, ns in after.items())
    return {"after": text, "seen": ",".join(seen[:MAX_SEEN])}


def first_window(registry: Registry, entries: list[EngineEntry], f: dict,
                 budget: float | None = None) -> Window:
    """The page: the chosen window up to a moment ago, on each engine."""
    until = now_ns() - LAG_NS
    since = until - WINDOWS[f["window"]] * 10**9
    spans = {e.name: (since, until) for e in entries}
    got, trouble = _read(registry, entries, f, spans, budget)
    return Window(_rows(got, budget is not None), _cursor(got, spans, entries, until),
                  any(len(v[0]) >= ENGINE_LIMIT for v in got.values()), since, until, trouble)


def parse_after(text: str, names: list[str], now: int) -> dict[str, int]:
    """A poll cursor's start per engine ("ns", or "name=ns;name=ns"); a
    missing or malformed one starts now, one from the future is clamped."""
    out = {}
    parts = dict(p.split("=", 1) for p in (text or "").split(";") if "=" in p)
    for name in names:
        v = parts.get(name, text if len(names) == 1 else "")
        out[name] = min(int(v), now) if _NS_RE.match(v or "") else now
    return out


def next_window(registry: Registry, entries: list[EngineEntry], f: dict, after_text: str,
                seen_text: str, budget: float | None = None) -> Window:
    """A poll: events since the cursor, re-reading OVERLAP before it and
    dropping those the cursor says were shown."""
    now = now_ns() - LAG_NS
    starts = parse_after(after_text, [e.name for e in entries], now)
    carried = {k for k in (seen_text or "").split(",") if _SEEN_RE.match(k)}
    spans = {name: (max(0, after - OVERLAP_NS), max(now, after)) for name, after in starts.items()}
    got, trouble = _read(registry, entries, f, spans, budget, carried)
    return Window(_rows(got, budget is not None), _cursor(got, spans, entries, now),
                  any(len(v[0]) >= ENGINE_LIMIT for v in got.values()),
                  min(s for s, _ in spans.values()), now, trouble)
