"""The container list, apart from Flask: its filters as they stand in the query
string, one Engine call for the rows, each row's display texts computed once,
the rows of an unchanged answer made once (app/memo.py), and a cache of
rendered rows (a live poll re-renders only what changed)."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

from . import memo, params
from .display import time_texts
from .fanout import gather
from .registry import Registry
from .gateway import Engine

STATES = ["created", "restarting", "running", "removing", "paused", "exited", "dead"]
VIEWS = ("project",)  # besides the flat list: grouped by Compose project
SORTS = ("cpu", "mem")  # by resource stats (app/statsview.py sorts)


def list_filters(args, engines: list[str] | None = None) -> dict:
    """The list's filters as they stand in the query string. `engines`: the
    names a combined list may be narrowed to (an unknown one is ignored)."""
    state = (args.get("state") or "").strip().lower()
    if state not in STATES:
        state = ""
    engine = (args.get("engine") or "").strip()
    view = (args.get("view") or "").strip().lower()
    sort = (args.get("sort") or "").strip().lower()
    return {
        "all": params.flag(args.get("all")),
        "q": (args.get("q") or "").strip()[:200],
        "state": state,
        "label": (args.get("label") or "").strip()[:500],
        "engine": engine if engines and engine in engines else "",
        "view": view if view in VIEWS else "",
        "sort": sort if sort in SORTS else "",
    }


def query_string(f: dict) -> dict:
    """The filters back as query parameters (only the ones set)."""
    out = {}
    if f["all"]:
        out["all"] = "1"
    for k in ("q", "state", "label", "engine", "view", "sort"):
        if f.get(k):
            out[k] = f[k]
    return out


@dataclass
class Listing:
    """What the engine(s) answered for one list, before any row is made: a
    poll whose tag is the one the viewer has needs no rows at all."""

    raw: dict[str, list[dict]]  # engine name -> its answer
    trouble: list  # EngineTrouble of the engines that could not be listed
    tag: str  # changes whenever what the rows would show may change


def _tag(parts) -> str:
    # the minute: relative times ("5 minutes ago") move on while the data stays
    h = hashlib.blake2b(repr((parts, int(time.time() // 60))).encode(), digest_size=8)
    return h.hexdigest()


def tag_of(listing: Listing, context) -> str:
    """The listing's tag with what else the rows depend on (read-only, the
    code's version): the same in every worker (no hash() of str, which each
    process seeds differently)."""
    return listing.tag + "." + hashlib.blake2b(repr(context).encode(), digest_size=4).hexdigest()


def read_one(eng: Engine, f: dict) -> Listing:
    """One Engine call: GET /containers/json with the engine-side filters."""
    raw, tag = eng.containers_tagged(all=f["all"] or bool(f["state"]),
                                     filters=_engine_filters(f) or None)
    return Listing({eng.name: raw}, [], _tag((tag, sorted(f.items()))))


_made = memo.Memo(32)


def shared_rows(listing: Listing, f: dict, prefixes: dict[str, str], tagged: bool) -> memo.Keyed:
    """The rows: the free text over name/image/ID applied here, on the
    engines' answers; `tagged`: each row carries its engine's name. Made once
    per answer and shared by every caller: never to be changed (rows_of gives
    copies; statsview.marked adds the stats cells to copies of its own)."""
    step = memo.tick()
    key = (listing.tag, tuple(sorted(prefixes.items())), tagged, step)
    base = _made.get(key, lambda: memo.Keyed.of(_make_rows(listing, f, prefixes, tagged), key),
                     step)
    return base


def rows_of(listing: Listing, f: dict, prefixes: dict[str, str], tagged: bool) -> memo.Keyed:
    """shared_rows, each caller with its own copies of the rows (to add to or sort)."""
    base = shared_rows(listing, f, prefixes, tagged)
    return memo.Keyed.of((r.copy() for r in base), base.key)


def _make_rows(listing: Listing, f: dict, prefixes: dict[str, str], tagged: bool) -> list[dict]:
    rows = []
    for name, raw in listing.raw.items():
        for row in _rows(raw, f, prefixes[name]):
            if tagged:
                row["engine"] = name
            rows.append(row)
    rows.sort(key=lambda r: (-r["created"], r["name"], r.get("engine", "")))
    return rows


def fetch_rows(eng: Engine, f: dict, href_prefix: str) -> list[dict]:
    return rows_of(read_one(eng, f), f, {eng.name: href_prefix}, tagged=False)


def read_combined(registry: Registry, f: dict, budget: float) -> Listing:
    """Every engine's answer (or the one f["engine"] names), asked in
    parallel, each within `budget` seconds. An engine that fails or is late
    is a trouble entry, and the others are shown."""
    entries = [e for e in registry if not f["engine"] or e.name == f["engine"]]
    key = ("containers", f["all"] or bool(f["state"]), f["state"], f["label"])

    def ask(entry):
        return entry.engine.containers_tagged(all=f["all"] or bool(f["state"]),
                                              filters=_engine_filters(f) or None,
                                              timeout=budget)

    values, trouble = gather(registry, entries, key, ask, budget)
    raw: dict[str, list[dict]] = {}
    tags: list = []
    for name, (answer, tag) in values:
        raw[name] = answer
        tags.append((name, tag))
    return Listing(raw, trouble, _tag((tags, [(t.name, t.kind, t.message) for t in trouble],
                                       sorted(f.items()))))


def _engine_filters(f: dict) -> dict[str, list[str]]:
    filters: dict[str, list[str]] = {}
    if f["state"]:
        filters["status"] = [f["state"]]
    if f["label"]:
        filters["label"] = [f["label"]]
    return filters


def _rows(raw: list[dict], f: dict, href_prefix: str) -> list[dict]:
    q = f["q"].lower()
    rows = []
    for c in raw:
        row = present(c, href_prefix)
        if q and not (q in row["name"].lower() or q in row["image"].lower()
                      or row["id"].startswith(q) or any(q in n.lower() for n in row["names"])):
            continue
        rows.append(row)
    return rows


def health(status_text: str) -> str:
    """healthy / unhealthy / starting, from the list's Status text."""
    for word in ("unhealthy", "healthy", "health: starting"):
        if f"({word})" in status_text:
            return "starting" if word == "health: starting" else word
    return ""


def port_texts(ports: list[dict] | None) -> list[str]:
    out, seen = [], set()
    for p in ports or []:
        if p.get("PublicPort"):
            ip = p.get("IP") or "0.0.0.0"
            host = f"[{ip}]" if ":" in ip else ip
            text = f"{host}:{p['PublicPort']}→{p.get('PrivatePort')}/{p.get('Type', 'tcp')}"
        else:
            text = f"{p.get('PrivatePort')}/{p.get('Type', 'tcp')}"
        if text not in seen:
            seen.add(text)
            out.append(text)
    return out


def present(c: dict, prefix: str = "/containers/") -> dict:
    names = [n.lstrip("/") for n in (c.get("Names") or [])]
    # The container's own name is the one without a slash (links look like a/b).
    name = next((n for n in names if "/" not in n), names[0] if names else "")
    status = c.get("Status") or ""
    cid = c.get("Id", "")
    created = c.get("Created") or 0
    rel, iso, exact = time_texts(created)
    return {
        "id": cid,
        "short_id": cid[:12],
        "name": name,
        "names": names,
        "image": c.get("Image", ""),
        "state": c.get("State", ""),
        "status": status,
        "health": health(status),
        "created": created,
        "created_rel": rel,
        "created_iso": iso,
        "created_exact": exact,
        "href": prefix + cid,
        "ports": port_texts(c.get("Ports")),
        "labels": c.get("Labels") or {},
        "command": c.get("Command") or "",
    }


def row_key(row: dict) -> tuple:
    """Everything of a list row its HTML shows (display.HtmlCache's key): a
    live poll renders only a row whose data changed again."""
    return (row["id"], row["name"], row["image"], row["state"], row["health"], row["status"],
            row["created_rel"], row["created_iso"], tuple(row["ports"]), row["href"])
