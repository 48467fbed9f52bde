"""What pages show of resource stats, apart from Flask: the list's cells and
its sort by CPU or memory, and a container page's figures, 10-minute charts
and processes. The figures come from the sampler (app/statsampler.py),
never from a call of the page's own: a page marks what it shows as watched
and reads the last figures, so it never waits for a stats call."""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable

from . import charts, memo
from .display import dsize, ibytes, percent, rate
from .gateway import Engine, exceptions as ge
from .gateway.client import version_tuple
from .statsampler import WINDOW, Sampler, Snapshot
from .statsmath import Figures

SORTS = ("cpu", "mem")
PENDING = "…"  # running, no figure yet (the first samples are on their way)
NONE = "—"  # the figure does not exist (not running; no network of its own)
_FULL_ID = re.compile(r"[0-9a-f]{64}")


FIRST_SCREEN = 12  # rows a first page load marks watched (a screenful), before its script says
_SHORT_ID = re.compile(r"[0-9a-f]{12}")


def sort_param(args) -> str:
    v = (args.get("sort") or "").strip().lower()
    return v if v in SORTS else ""


def seen_param(args) -> set[str] | None:
    """The rows the browser says are on screen now (`seen`: short IDs, sent by
    static/stats.js with each poll; empty when the tab is hidden). None when
    the client did not say (no script): then every row counts as seen."""
    raw = args.get("seen")
    if raw is None:
        return None
    return {p for p in raw.split(",")[:500] if _SHORT_ID.fullmatch(p)}


@dataclass
class ListStats:
    """The list's stats columns: on or not, the engines' notes, how often."""

    on: bool = False
    notes: list[tuple[str, str]] = field(default_factory=list)  # (engine, text)
    interval: float = 0.0
    sort: str = ""  # the rows were sorted by this figure


def cells(state: str, fig: Figures | None) -> tuple:
    """The texts of one row's stats cells, also its part of the row cache's key:
    ("off",) not running, ("wait",) no figure yet, else
    ("ok", cpu, mem, limit, rx, tx, rd, wr, pids)."""
    if state != "running":
        return ("off",)
    if fig is None:
        return ("wait",)
    if fig.has_net:
        rx = PENDING if fig.rx is None else rate(fig.rx)
        tx = PENDING if fig.tx is None else rate(fig.tx)
    else:
        rx = tx = NONE
    if fig.blk_total is None:
        rd = wr = NONE
    else:
        rd = PENDING if fig.rd is None else rate(fig.rd)
        wr = PENDING if fig.wr is None else rate(fig.wr)
    return ("ok", PENDING if fig.cpu is None else percent(fig.cpu),
            NONE if fig.mem is None else ibytes(fig.mem),
            "" if not fig.limit else ibytes(fig.limit), rx, tx, rd, wr,
            NONE if fig.pids is None else str(fig.pids))


def for_list(sampler: Sampler | None, rows: list[dict], engine_name: str, sort: str,
             looking: set[str] | int | None = None) -> ListStats:
    """Mark the running rows someone looks at as watched, put every row's
    cells in it (row["stats"]), and sort the rows by CPU or memory when asked
    (highest first; rows without that figure after, in their own order).

    `looking`: the short IDs of the rows on the browser's screen (seen_param),
    or the number of first rows (a page just loaded, before its script could
    say), or None: every row. A sorted list watches every row: its order
    depends on every figure."""
    if sampler is None:
        return ListStats(on=False)
    return _put_cells(rows, _watch(sampler, rows, engine_name, sort, looking), engine_name, sort)


def _watch(sampler: Sampler, rows: list[dict], engine_name: str, sort: str,
           looking: set[str] | int | None) -> list[tuple[str, Snapshot]]:
    """Mark the running rows on screen watched; each engine's last figures,
    in the order the rows name the engines."""
    if sort:
        looking = None
    first = {r["id"] for r in rows[:looking]} if isinstance(looking, int) else None
    groups: dict[str, list[str]] = {}
    for r in rows:
        ids = groups.setdefault(r.get("engine") or engine_name, [])
        if r["state"] == "running" and (looking is None or (
                r["id"] in first if first is not None else r["id"][:12] in looking)):
            ids.append(r["id"])
    snaps = []
    for name, ids in groups.items():
        s = sampler.engine(name)
        if ids:
            s.watch(ids)
        snaps.append((name, s.latest()))
    return snaps


def _put_cells(rows: list[dict], snaps: list[tuple[str, Snapshot]], engine_name: str,
               sort: str) -> ListStats:
    """Each row's cells from its engine's figures, and the sort by them."""
    out = ListStats(on=True, sort=sort)
    by_name = dict(snaps)
    order: dict[str, float] = {}
    for r in rows:
        snap = by_name[r.get("engine") or engine_name]
        fig = snap.figures.get(r["id"]) if r["state"] == "running" else None
        r["stats"] = cells(r["state"], fig)
        if sort and fig is not None:
            v = fig.cpu if sort == "cpu" else fig.mem
            if v is not None:
                order[r["id"] + r.get("engine", "")] = v
    for name, snap in snaps:
        if snap.note:
            out.notes.append((name, snap.note))
        out.interval = max(out.interval, snap.list_interval)
    if sort:
        rows.sort(key=lambda r: -order.get(r["id"] + r.get("engine", ""), -1.0))
    return out


class Marked(list):
    """Rows with their stats cells, made by `marked`: shared by every caller
    until the figures change, so never to be changed. `key` is the rows' own
    (memo.Keyed); `cells` the tag of their cells (cells_tag), made once."""

    key: tuple | None = None
    cells: str = ""
    cells_of: dict | None = None


# the last rows with their cells, by the rows, the sort and each engine's last
# figures (by identity: the sampler's figures are one object until they change;
# the value holds them, so no other object can take their id meanwhile)
_marked = memo.Memo(16)


def marked(sampler: Sampler | None, base: list[dict], engine_name: str, sort: str,
           looking: set[str] | int | None = None) -> tuple[list[dict], ListStats]:
    """for_list on rows shared by every caller (memo.Keyed, never changed):
    the rows someone looks at are marked watched on every call, but the rows
    with their cells (copies), their order and their cells' tag are made once
    per rows' key and figures: a list polled by many, or again before new
    figures came, costs no work per row. Rows without a key: for_list on
    copies of them."""
    if sampler is None:
        return base, ListStats(on=False)
    key = getattr(base, "key", None)
    if key is None:
        rows = [r.copy() for r in base]
        return rows, for_list(sampler, rows, engine_name, sort, looking)
    snaps = _watch(sampler, base, engine_name, sort, looking)
    mkey = (key, sort, engine_name,
            tuple((n, id(s.figures), s.note, s.list_interval) for n, s in snaps))

    def make():
        rows = Marked(r.copy() for r in base)
        rows.key = key
        out = _put_cells(rows, snaps, engine_name, sort)
        rows.cells_of, rows.cells = _cells_tag(rows)
        return snaps, rows, out

    _, rows, out = _marked.get(mkey, make)
    return rows, out


_SENT_MAX = 64
_sent: "OrderedDict[str, dict[tuple, tuple]]" = OrderedDict()
_sent_lock = threading.Lock()


def _cells_tag(rows: list[dict]) -> tuple[dict, str]:
    cells = {(r["id"], r.get("engine")): r.get("stats") for r in rows}
    return cells, hashlib.blake2b(repr(list(cells.items())).encode(), digest_size=6).hexdigest()


def cells_tag(rows: list[dict]) -> str:
    """A tag of every row's cells (the rows themselves are in the list's own
    tag), the same in every worker; what the viewer has is then remembered
    here, to send only what changes from it (changed_rows)."""
    if getattr(rows, "cells", ""):
        cells, tag = rows.cells_of, rows.cells
    else:
        cells, tag = _cells_tag(rows)
    with _sent_lock:
        if tag not in _sent:
            _sent[tag] = cells
            while len(_sent) > _SENT_MAX:
                _sent.popitem(last=False)
        else:
            _sent.move_to_end(tag)
    return tag


def changed_rows(rows: list[dict], had: str | None) -> list[dict]:
    """The rows whose cells differ from those of the tag the viewer has: all
    the running ones when that tag is not known here (another worker made it,
    or it was long ago). A row that is not running shows dashes, which only
    a change of the list itself (a new tag of it: a whole new answer) ends."""
    with _sent_lock:
        before = _sent.get(had or "")
    if before is None:
        return [r for r in rows if r.get("stats") not in (None, ("off",))]
    return [r for r in rows if before.get((r["id"], r.get("engine"))) != r.get("stats")]


# the answers of polls whose figures alone changed, by the figures and the
# figures the viewer had: viewers polling one list had the same ones
_answers = memo.Memo(32)


def cells_answer(rows: list[dict], cells: str, had: str | None,
                 render: Callable[[list[dict]], str]) -> str:
    """A figures-only poll's answer, `render(changed_rows(rows, had))`, made
    once for every viewer who had the figures `had` while `rows` show the
    figures `cells` (the tag of every row's cells, ids included: the same tag,
    the same cells)."""
    with _sent_lock:
        known = (had or "") in _sent
    # every tag not known here has one answer (and a made-up one takes no room)
    return _answers.get((cells, had if known else None, known),
                        lambda: render(changed_rows(rows, had)))


@dataclass
class PageStats:
    cid: str
    name: str
    state: str
    figures: Figures | None = None
    cells: tuple = ("off",)
    charts: list[charts.Chart] = field(default_factory=list)
    titles: list[str] = field(default_factory=list)
    processes: list[list[str]] = field(default_factory=list)
    processes_note: str = ""
    note: str | None = None
    interval: float = 0.0
    call: str = ""  # the Engine call the sampler makes, to learn from

    @property
    def running(self) -> bool:
        return self.state == "running"


# the columns of `ps -ef` (and of other ps_args / Windows engines) shown, by title
_COLUMNS = (("PID", ("PID",)), ("User", ("UID", "USER")), ("CPU time", ("TIME",)),
            ("Command", ("CMD", "COMMAND", "ARGS", "Name")))


def processes(top: dict) -> tuple[list[str], list[list[str]]]:
    """PID, user, CPU time and command of each process, from the engine's
    /top answer (its Titles name the columns; those missing are left out)."""
    titles = [str(t) for t in (top.get("Titles") or [])]
    picks = []
    for label, names in _COLUMNS:
        for n in names:
            if n in titles:
                picks.append((label, titles.index(n)))
                break
    rows = []
    for p in top.get("Processes") or []:
        if isinstance(p, list):
            rows.append([str(p[i]) if i < len(p) else "" for _, i in picks])
    return [label for label, _ in picks], rows


def _state(eng: Engine, ref: str) -> tuple[str, str, str]:
    """(id, name, state) of a container, from a shared list read when the
    reference is a full ID (what the page polls with), else an inspect."""
    if _FULL_ID.fullmatch(ref):
        found = eng.containers(all=True, filters={"id": [ref]})
        for c in found:
            if c.get("Id") == ref:
                names = [n.lstrip("/") for n in c.get("Names") or []]
                return ref, next((n for n in names if "/" not in n), ""), c.get("State", "")
        raise ge.NotFound(f"No such container: {ref}")
    c = eng.inspect_container(ref)
    return c["Id"], (c.get("Name") or "").lstrip("/"), (c.get("State") or {}).get("Status", "")


def for_page(sampler: Sampler | None, eng: Engine, engine_name: str, ref: str,
             poll_interval: float, watch: bool = True) -> PageStats:
    """A container page's stats section: mark it watched (sampled every poll
    interval while open), its last figures, 10-minute charts, and its
    processes (GET /containers/{id}/top; the gateway shares identical reads
    close together among viewers)."""
    cid, name, state = _state(eng, ref)
    ps = PageStats(cid=cid, name=name, state=state)
    api = eng.negotiated_version or "1.41"
    ps.call = ("GET /containers/{id}/stats?stream=false"
               + ("&one-shot=true" if version_tuple(api) >= (1, 41) else ""))
    if sampler is not None:
        s = sampler.engine(engine_name)
        if ps.running and watch:  # not for a hidden tab: nobody is looking
            s.watch([cid], focus=True)
        snap = s.latest()
        ps.note, ps.interval = snap.note, snap.focus_interval
        ps.figures = snap.figures.get(cid) if ps.running else None
        ps.cells = cells(state, ps.figures)
        ps.charts = page_charts(s.history(cid), gap=max(3 * snap.list_interval, 10.0))
    if ps.running:
        try:
            ps.titles, ps.processes = processes(eng.top(cid))
        except ge.StateConflict:
            ps.processes_note = "It stopped: no processes."
        except ge.APIError as exc:
            ps.processes_note = f"The engine does not list its processes: {exc.message[:300]}"
    return ps


def page_charts(points: list[Figures], *, gap: float) -> list[charts.Chart]:
    def pts(*attrs):
        return [(p.t, tuple(getattr(p, a) for a in attrs)) for p in points]

    last = points[-1] if points else None
    limit = last.limit if last else None
    has_net = bool(last and last.has_net)
    has_blk = bool(last and last.blk_total is not None)
    no_net = bool(last) and not has_net
    no_blk = bool(last) and not has_blk
    return [
        charts.line_chart("cpu", "CPU", pts("cpu"), [("cpu", "CPU")], percent, window=WINDOW,
                          gap=gap, floor=1.0, note="100% is one CPU busy"),
        charts.line_chart("mem", "Memory", pts("mem"), [("mem", "used")], ibytes, window=WINDOW,
                          gap=gap, floor=1024 * 1024, limit=limit, scale=charts.nice_bytes,
                          note=f"limit {ibytes(limit)}" if limit else ""),
        charts.line_chart("net", "Network", [] if no_net else pts("rx", "tx"),
                          [("rx", "received"), ("tx", "sent")], rate, window=WINDOW, gap=gap,
                          floor=1000.0, none=no_net,
                          note="no network of its own" if no_net else "per second"),
        charts.line_chart("blk", "Block I/O", [] if no_blk else pts("rd", "wr"),
                          [("rd", "read"), ("wr", "written")], rate, window=WINDOW, gap=gap,
                          floor=1000.0, none=no_blk,
                          note="the engine gives no block I/O figures" if no_blk else "per second"),
    ]


def totals(fig: Figures | None) -> dict[str, str]:
    """Cumulative I/O as `docker stats` prints it (NET I/O, BLOCK I/O)."""
    if fig is None:
        return {}
    out = {}
    if fig.net_total:
        out["net"] = f"{dsize(fig.net_total[0])} / {dsize(fig.net_total[1])}"
    if fig.blk_total:
        out["blk"] = f"{dsize(fig.blk_total[0])} / {dsize(fig.blk_total[1])}"
    return out
