"""The container list, apart from Flask: its filters as they stand in the query
string, one Engine call for the rows, each row's display texts computed once,
and a cache of rendered rows (a live poll re-renders only what changed)."""

from __future__ import annotations

from typing import Callable

from markupsafe import Markup

from dataclasses import dataclass

from . import params
from .display import time_texts
from .engines import Registry
from .fanout import ask_all
from .gateway import Engine

STATES = ["created", "restarting", "running", "removing", "paused", "exited", "dead"]
SORTS = ("cpu", "mem")  # by resource stats (app/statsview.py sorts)


def list_filters(args, engines: list[str] | None = None) -> dict:
    """The list's filters as they stand in the query string. `engines`: the
    names a combined list may be narrowed to (an unknown one is ignored)."""
    state = (args.get("state") or "").strip().lower()
    if state not in STATES:
        state = ""
    engine = (args.get("engine") or "").strip()
    sort = (args.get("sort") or "").strip().lower()
    return {
        "all": params.flag(args.get("all")),
        "q": (args.get("q") or "").strip()[:200],
        "state": state,
        "label": (args.get("label") or "").strip()[:500],
        "engine": engine if engines and engine in engines else "",
        "sort": sort if sort in SORTS else "",
    }


def query_string(f: dict) -> dict:
    """The filters back as query parameters (only the ones set)."""
    out = {}
    if f["all"]:
        out["all"] = "1"
    for k in ("q", "state", "label", "engine", "sort"):
        if f.get(k):
            out[k] = f[k]
    return out


def fetch_rows(eng: Engine, f: dict, href_prefix: str, max_age: float = 0) -> list[dict]:
    """One Engine call: GET /containers/json with the engine-side filters; the
    free text over name/image/ID is applied here, on that one answer.
    `max_age`: a live poll may share an answer that recent (gateway/shared.py)."""
    raw = eng.containers(all=f["all"] or bool(f["state"]), filters=_engine_filters(f) or None,
                         max_age=max_age)
    rows = _rows(raw, f, href_prefix)
    rows.sort(key=lambda r: (-r["created"], r["name"]))
    return rows


@dataclass
class EngineTrouble:
    """An engine a combined list could not show: it failed, or it is late."""

    name: str
    kind: str  # "error" | "late"
    message: str


def fetch_combined(registry: Registry, f: dict, prefixes: dict[str, str],
                   budget: float, max_age: float = 0) -> tuple[list[dict], list[EngineTrouble]]:
    """Every engine's rows (or the one f["engine"] names), asked in parallel,
    each within `budget` seconds; each row carries its engine's name. An engine
    that fails or is late is a trouble entry, and the others are shown."""
    entries = [e for e in registry if not f["engine"] or e.name == f["engine"]]
    key = ("containers", f["all"] or bool(f["state"]), f["state"], f["label"])

    def ask(entry):
        return entry.engine.containers(all=f["all"] or bool(f["state"]),
                                       filters=_engine_filters(f) or None, timeout=budget,
                                       max_age=max_age)

    rows: list[dict] = []
    trouble: list[EngineTrouble] = []
    for ans in ask_all(registry, entries, key, ask, budget):
        if ans.late:
            trouble.append(EngineTrouble(ans.name, "late", f"not answering within {budget:g} s; "
                                         "asked again at the next update"))
        elif ans.error is not None:
            trouble.append(EngineTrouble(ans.name, "error", ans.error.message))
        else:
            for row in _rows(ans.value, f, prefixes[ans.name]):
                row["engine"] = ans.name
                rows.append(row)
    rows.sort(key=lambda r: (-r["created"], r["name"], r["engine"]))
    return rows, trouble


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
    }


class RowCache:
    """The rendered HTML of list rows, by everything that goes into one.

    Live polling renders the same rows every few seconds; only a row whose data
    changed (state, status text, the relative time...) is rendered again. The
    HTML comes from a template that escapes every value, so it is marked safe
    as a whole, never a container's own text.

    A row's stats cells change with every sample, the rest of it seldom: they
    are rendered apart (`cells`, kept per distinct set of texts) and put in
    the kept row where it holds the STATS_MARK, so new figures never render
    the row again."""

    MAX = 20_000
    STATS_MARK = "<!--stats-cells-->"

    def __init__(self):
        self._html: dict[tuple, Markup | tuple[str, str]] = {}
        self._cells: dict[tuple, str] = {}

    def render(self, row: dict, context: tuple, make: Callable[[], str],
               cells: Callable[[tuple], str] | None = None) -> Markup:
        stats = row.get("stats")
        key = (row["id"], row["name"], row["image"], row["state"], row["health"],
               row["status"], row["created_rel"], row["created_iso"], tuple(row["ports"]),
               row["href"], stats is not None,
               context)  # context: the list it sits in, read-only, its engine
        html = self._html.get(key)
        if html is None:
            if len(self._html) >= self.MAX:
                self._html.clear()
            made = make()
            if stats is not None and self.STATS_MARK in made:
                head, _, tail = made.partition(self.STATS_MARK)
                html = self._html[key] = (head, tail)
            else:
                html = self._html[key] = Markup(made)
        if isinstance(html, Markup):
            return html
        cell_html = self._cells.get(stats)
        if cell_html is None:
            if len(self._cells) >= self.MAX:
                self._cells.clear()
            cell_html = self._cells[stats] = cells(stats) if cells else ""
        return Markup(html[0] + cell_html + html[1])
