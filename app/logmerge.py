"""Merged logs: several containers' logs in one view, interleaved by the
engine's timestamps. No Flask, and no bytes off a socket.

Every container is one LogStream from the gateway (`Engine.logs`), read by its
own LineReader (app/logreader.py, through logview.read_tail / read_after), so
each container's lines, search budget and follow cursor stay apart; the calls
go out in parallel, one per container (fanout.each). The lines are then merged
in one pass (heapq.merge on the nanosecond timestamps; a tie keeps the
containers' order). Following keeps a cursor per container (logreader.Cursors,
in the poll URL): a container the engine lists that the cursor does not know
has joined and is read from the window's start; one the cursor knows that the
engine no longer lists was removed, which is said once.

The download merges the containers' entry streams lazily (a generator per
container, heapq.merge over them), so memory stays flat whatever the logs'
size; each line is prefixed with the container's short name as `docker
compose logs` prints it (`web_1  | line`).
"""

from __future__ import annotations

import heapq
import zlib
from collections import deque
from dataclasses import dataclass, field
from itertools import count, repeat
from operator import itemgetter
from typing import Iterator

from . import composeprojects as projects, logview
from .containerlist import present
from .fanout import each
from .gateway import Engine, check_ref
from .gateway import exceptions as ge
from .gateway.frames import Notice
from .gateway.logstream import LogStream
from .logreader import PAGE_BOUND, Cursor, Cursors, LogLine
from .logsearch import Search
from .logview import Opts

PALETTE = 10  # colour classes lc0..lc9 (static/style.css, light and dark)
MAX_PICKED = 50  # containers a picked set may hold
# A container's stdout and stderr copiers race: an entry may reach its log after
# a later one of the other stream. The download waits this long for such a one
# (memory: the entries of one such window, whatever the log's size).
REORDER_NS = 50_000_000
LINE_HOLD = 1 << 20  # bytes of one line held for the download before it is written in parts
WRITE_SIZE = 262144


def colour(name: str) -> int:
    """The colour a name asks for (a class lcN), from the name alone."""
    return zlib.crc32(name.encode("utf-8", "replace")) % PALETTE


def assign_colours(sources: list["Source"], known: "Cursors | None" = None) -> None:
    """Each container the colour its name asks for, or the next one no other
    container of the view has (two colours alike would read as one container),
    while the palette lasts. One the page already shows keeps its colour (the
    cursor carries it), so a container joining never repaints the others."""
    used: set[int] = set()
    fresh = []
    for s in sources:
        fixed = known.colour(s.key) if known is not None else None
        if fixed is None:
            fresh.append(s)
        else:
            s.colour = fixed
            used.add(fixed)
    for s in fresh:
        want = colour(s.short)
        for step in range(PALETTE):
            c = (want + step) % PALETTE
            if c not in used:
                want = c
                break
        s.colour = want
        used.add(want)


@dataclass
class Selection:
    """What a merged view is of: a project (or one of its services), or a set
    of containers picked by ID or name."""

    project: str | None = None
    service: str | None = None
    refs: tuple[str, ...] = ()

    @property
    def picked(self) -> bool:
        return self.project is None


@dataclass
class Source:
    """One container of the view, as its tag and legend entry show it."""

    id: str
    name: str
    short: str
    colour: int = 0
    state: str = ""
    status: str = ""
    service: str = ""
    tty: bool = False
    joined: bool = False  # came after the page was loaded (shown so once)

    @property
    def key(self) -> str:
        return Cursors.key(self.id)

    @property
    def css(self) -> str:
        return f"lc{self.colour}"

    @property
    def running(self) -> bool:
        return self.state == "running"


@dataclass
class Merged:
    """One read of a merged view: the first page, or a follow poll."""

    sources: list[Source]
    lines: list = field(default_factory=list)  # (Source, LogLine), oldest first
    total: int = 0  # lines read (after the cursors' skips), before search
    matched: int = 0
    unsearched: int = 0
    notices: list[tuple[str, str]] = field(default_factory=list)  # (level, plain words)
    stream_notices: list[tuple[Source, Notice]] = field(default_factory=list)
    cursors: Cursors = field(default_factory=Cursors)
    search: Search | None = None
    removed: list[str] = field(default_factory=list)  # keys of containers gone since the last read
    oneoffs: int = 0  # the project's one-off `run` containers, not in the view

    @property
    def dropped(self) -> int:
        """Matching lines the page bound left out."""
        return self.matched - len(self.lines)

    @property
    def running(self) -> bool:
        return any(s.running for s in self.sources)

    @property
    def searched_out(self) -> bool:
        return self.search is not None and self.search.exhausted


# -- who is in the view -----------------------------------------------------------------
def members(eng: Engine, sel: Selection) -> tuple[list[dict], list[str], int]:
    """The view's containers as list rows (one Engine call), the picked
    references that match no container, and how many one-off `run`
    containers of the project were left out (as `docker compose logs` does)."""
    if not sel.picked:
        labels = [f"{projects.PROJECT}={sel.project}"]
        if sel.service is not None:
            labels.append(f"{projects.SERVICE}={sel.service}")
        raw = eng.containers(all=True, filters={"label": labels})
        every = [present(c) for c in raw]
        rows = [r for r in every if not projects.is_oneoff(r["labels"])]
        rows.sort(key=lambda r: (r["labels"].get(projects.SERVICE) or "",
                                 projects.number(r["labels"]) or 0, r["name"]))
        return rows, [], len(every) - len(rows)
    rows_all = [present(c) for c in eng.containers(all=True)]
    out, missing, seen = [], [], set()
    for ref in sel.refs:
        ref = ref.lstrip("/")
        hits = [r for r in rows_all if r["name"] == ref or r["id"] == ref]
        if not hits and len(ref) >= 1:
            hits = [r for r in rows_all if r["id"].startswith(ref.lower())]
        if len(hits) != 1:
            missing.append(ref)
            continue
        if hits[0]["id"] not in seen:
            seen.add(hits[0]["id"])
            out.append(hits[0])
    return out, missing, 0


def parse_refs(values: list[str]) -> tuple[tuple[str, ...], list[str]]:
    """Picked references from the query (each checked as the gateway checks a
    container reference), and what was wrong with the rest."""
    refs, errors = [], []
    for v in values:
        for ref in (x.strip() for x in v.split(",")):
            if not ref:
                continue
            try:
                check_ref(ref)
            except ge.InvalidReference as exc:
                errors.append(f"“{ref[:60]}” is not a container name or ID: {exc.message}")
                continue
            if ref not in refs:
                refs.append(ref)
    if len(refs) > MAX_PICKED:
        errors.append(f"{len(refs)} containers were picked; the first {MAX_PICKED} are shown.")
        refs = refs[:MAX_PICKED]
    return tuple(refs), errors


def _sources(rows: list[dict], known: Cursors | None = None) -> list[Source]:
    out = []
    for r in rows:
        proj = r["labels"].get(projects.PROJECT)
        short = projects.short_name(r["name"], proj) if proj else r["name"]
        out.append(Source(r["id"], r["name"], short, 0, r["state"], r["status"],
                          r["labels"].get(projects.SERVICE) or ""))
    counts: dict[str, int] = {}
    for s in out:
        counts[s.short] = counts.get(s.short, 0) + 1
    for s in out:
        if counts[s.short] > 1:  # two projects' web_1 picked together: their full names
            s.short = s.name
    assign_colours(out, known)
    return out


# -- reading ---------------------------------------------------------------------------
# Whether a container has a TTY, by engine and ID: what the gateway needs to read
# its log, fixed for the container's life. Known, it spares the inspect that
# would go out beside each logs call (every poll of a merged view).
_TTY: dict[tuple[str, str], bool] = {}
_TTY_MAX = 20_000


def _known(eng: Engine, s: "Source") -> dict | None:
    """What the gateway needs of a container to read its log, when known."""
    tty = _TTY.get((eng.name, s.id))
    if tty is None:
        return None
    return {"Id": s.id, "Name": "/" + s.name, "Config": {"Tty": tty},
            "State": {"Status": s.state}}


def _remember(eng: Engine, read) -> None:
    c = read.container or {}
    if c.get("Id") and "Config" in c:
        if len(_TTY) >= _TTY_MAX:
            _TTY.clear()
        _TTY[(eng.name, c["Id"])] = bool(c["Config"].get("Tty"))


def _searcher(o: Opts):
    """A new Search per container (each keeps its own time budget), the
    query checked once: a bad one is said once in o.errors."""
    first = o.search()
    if first is None:
        return first, lambda: None
    return first, lambda: Search(o.q, o.regex)


def _in_order(lines) -> list:
    """A container's lines by timestamp: the engine's order, unless its stdout
    and stderr copiers crossed (then a stable sort puts them right)."""
    seq = list(lines)
    prev = None
    for ln in seq:
        ns = ln.ns
        if ns is None:
            ln.ns = ns = prev if prev is not None else 0
        if prev is not None and ns < prev:
            seq.sort(key=lambda x: x.ns)
            return seq
        prev = ns
    return seq


def _merge(pairs: list[tuple[Source, list[LogLine]]], bound: int = PAGE_BOUND) -> list:
    """One pass over every container's lines, oldest first (heapq.merge on the
    lines' ns; a tie keeps the containers' order, then each one's own); the
    newest `bound` kept, as (source, line) pairs."""
    runs = []
    srcs = []
    for src, lines in pairs:
        seq = _in_order(lines)
        if seq:
            i = len(srcs)
            srcs.append(src)
            # (ns, container, position, line): compared in C, never down to the line
            runs.append(zip([ln.ns for ln in seq], repeat(i), count(), seq))
    if not runs:
        return []
    merged = deque(runs[0] if len(runs) == 1 else heapq.merge(*runs), maxlen=bound)
    return [(srcs[i], ln) for _, i, _, ln in merged]


def first_read(eng: Engine, sel: Selection, o: Opts) -> Merged:
    """The page: each container's tail (and window), merged; a cursor each."""
    rows, missing, oneoffs = members(eng, sel)
    sources = _sources(rows)
    search, new_search = _searcher(o)
    m = Merged(sources, search=search, oneoffs=oneoffs)
    for ref in missing:
        m.notices.append(("warn", f"No single container is named or has an ID starting with "
                                  f"“{ref}”: it is not in this view."))
    results = each(sources, lambda s: logview.read_tail(eng, s.id, o, new_search(),
                                                        container=_known(eng, s)))
    _gather(m, sources, results, start=logview.start_ns(o), joined=set(), eng=eng)
    return m


def follow_read(eng: Engine, sel: Selection, o: Opts, cursors: Cursors) -> Merged:
    """A follow poll: each known container after its cursor, each new one from
    the window's start; the removed said once."""
    if sel.picked:  # a picked set is the set of containers it held
        sel = Selection(refs=tuple(sorted(cursors.keys())))
    rows, _, _ = members(eng, sel)
    sources = _sources(rows, cursors)
    search, new_search = _searcher(o)
    m = Merged(sources, search=search)
    start = logview.start_ns(o)
    known = cursors.keys()
    joined = {s.key for s in sources if s.key not in known}
    for s in sources:
        s.joined = s.key in joined

    def one(s: Source):
        cur = cursors.get(s.id) or Cursor(start, 0)
        return logview.read_after(eng, s.id, o, cur, new_search, container=_known(eng, s))

    results = each(sources, one)
    for key in sorted(known - {s.key for s in sources}):
        m.removed.append(key)
        m.notices.append(("info", f"{cursors.name(key) or key} was removed: its lines above "
                                  "stay; nothing more will come from it."))
    for s in sources:
        if s.joined:
            m.notices.append(("info", f"{s.short} joined the view."))
    _gather(m, sources, results, start=start, joined=joined, old=cursors, eng=eng)
    return m


def _gather(m: Merged, sources: list[Source], results, *, start: int, joined: set[str],
            eng: Engine, old: Cursors | None = None) -> None:
    pairs = []
    live = []
    for s, (read, exc) in zip(sources, results):
        if exc is not None:
            if isinstance(exc, ge.NotFound):
                was_known = old is not None and s.key in old.keys()
                if old is None or was_known:
                    m.notices.append(("info", f"{s.short} was removed before its log could be "
                                              "read; it is left out."))
                    m.removed.append(s.key)
                continue
            if isinstance(exc, (ge.EngineUnreachable, ge.EngineTimeout)):
                raise exc  # the engine itself: the page that waits for it
            if not isinstance(exc, ge.EngineError):
                raise exc
            if old is None or s.key in joined:  # said when it first comes, not every poll
                m.notices.append(("bad", f"{s.short}: its log cannot be read: {exc.message}"))
            m.cursors.put(s.id, (old.get(s.id) if old else None) or Cursor(start, 0), s.short,
                          s.colour)
            live.append(s)
            continue
        s.tty = read.tty
        _remember(eng, read)
        st = (read.container or {}).get("State") or {}
        if st.get("Status"):
            s.state = st["Status"]
        r = read.result
        m.total += r.total
        m.matched += r.matched
        m.unsearched += r.unsearched
        for n in r.notices:
            m.stream_notices.append((s, n))
        pairs.append((s, r.lines))
        m.cursors.put(s.id, read.cursor, s.short, s.colour)
        live.append(s)
    m.sources[:] = live
    m.lines = _merge(pairs)


# -- the download -------------------------------------------------------------------------
@dataclass
class Download:
    sources: list[Source]
    chunks: Iterator[bytes]
    missing: list[str]
    listed: int = 0  # containers the selection named (a project with none: not found)


def download(eng: Engine, sel: Selection, d: logview.Download) -> Download:
    """The merged log as text, each line `name  | line` (with the engine's
    timestamp after the bar when asked), oldest first, streamed: the streams
    are opened in parallel and read lazily, one entry at a time each."""
    rows, missing, _ = members(eng, sel)
    sources = _sources(rows)
    opened = each(sources, lambda s: eng.logs(s.id, stdout=d.stdout, stderr=d.stderr,
                                                timestamps=True, tail=d.tail, since=d.since,
                                                until=d.until, container=_known(eng, s)))
    streams: list[tuple[Source, LogStream]] = []
    fault = None
    for s, (stream, exc) in zip(sources, opened):
        if exc is None:
            streams.append((s, stream))
        elif isinstance(exc, (ge.EngineUnreachable, ge.EngineTimeout)) or \
                not isinstance(exc, ge.EngineError):
            fault = fault or exc
        # else: vanished, or a log the engine cannot read (the page says so): left out
    if fault is not None:
        for _, st in streams:
            st.close()
        raise fault
    width = max((len(s.short) for s, _ in streams), default=0)
    return Download([s for s, _ in streams], _text(streams, width, d.timestamps), missing,
                    len(rows))


def _text(streams: list[tuple[Source, LogStream]], width: int, timestamps: bool
          ) -> Iterator[bytes]:
    runs = [_stream_lines(st, (s.short.ljust(width + 1) + " | ").encode("utf-8", "replace"),
                          timestamps) for s, st in streams]
    pending: list[bytes] = []
    held = 0
    try:
        for batch in merge_batches(runs):
            for _, line in batch:
                pending.append(line)
                held += len(line)
            if held >= WRITE_SIZE:
                yield b"".join(pending)
                pending, held = [], 0
        if pending:
            yield b"".join(pending)
    finally:
        for r in runs:
            r.close()
        for _, st in streams:
            st.close()


def merge_batches(runs: list[Iterator[list]], slack: int = REORDER_NS) -> Iterator[list]:
    """Several sources' items, (ns, data) in batches as each source reads them,
    merged by ns, lazily, in batches: what every source has passed (its newest
    item less `slack`, for a container's crossed stdout and stderr) is sorted
    at once (in C; a tie keeps the sources' order, then each one's own) and
    handed on; the rest waits. The source furthest behind is read next, so
    memory holds about one batch per source, whatever the logs' size."""
    n = len(runs)
    bufs: list[list] = [[] for _ in range(n)]
    low: list[int] = [0] * n  # the oldest ns waiting in each buffer
    newest: list[int] = [0] * n
    live = [True] * n
    key = itemgetter(0)

    def pull(i: int) -> None:
        for batch in runs[i]:
            if batch:
                lo = min(batch, key=key)[0]
                low[i] = lo if not bufs[i] else min(low[i], lo)
                bufs[i].extend(batch)
                newest[i] = max(newest[i], max(batch, key=key)[0])
                return
        live[i] = False

    for i in range(n):
        pull(i)
    while True:
        alive = [i for i in range(n) if live[i]]
        if not alive:
            break
        behind = min(alive, key=newest.__getitem__)
        floor = newest[behind] - slack
        out: list = []
        for i in range(n):
            buf = bufs[i]
            if not buf or low[i] > floor:
                continue
            keep = [x for x in buf if x[0] > floor]
            if keep:
                out.extend(x for x in buf if x[0] <= floor)
                low[i] = min(keep, key=key)[0]
            else:
                out.extend(buf)
            bufs[i] = keep
        if out:
            out.sort(key=key)
            yield out
        pull(behind)
    rest = [x for buf in bufs for x in buf]
    if rest:
        rest.sort(key=key)
        yield rest


def _stream_lines(stream: LogStream, prefix: bytes, timestamps: bool) -> Iterator[list]:
    """One container's entries -> batches of (ns, `prefix[ts ]line\n`), as
    they come off the connection: a line per stream assembled across the
    engine's 16 KB pieces (a line longer than LINE_HOLD is written in parts,
    each prefixed)."""
    pending: dict[int, list] = {}  # stream -> [pieces, size, ts, ns]
    last_ns = 0
    join = b"".join
    sep = b" "
    nl_b = b"\n"

    def out(ts: bytes, ns: int, body: bytes) -> tuple[int, bytes]:
        if timestamps and ts:
            return ns, join((prefix, ts, sep, body, nl_b))
        return ns, join((prefix, body, nl_b))

    for batch in stream.batches():
        got = []
        add = got.append
        for code, ts, ns, data, _dropped in batch:
            if ns is None:
                ns = last_ns
            else:
                last_ns = ns
            if code not in pending and data[-1:] == nl_b and data.find(nl_b) == len(data) - 1:
                if timestamps and ts:
                    add((ns, join((prefix, ts, sep, data))))
                else:
                    add((ns, prefix + data))
                continue
            start, n = 0, len(data)
            while start < n:
                nl = data.find(nl_b, start)
                piece = data[start:] if nl < 0 else data[start:nl]
                p = pending.get(code)
                if p is None:
                    if nl >= 0:
                        add(out(ts, ns, piece))
                        start = nl + 1
                        continue
                    p = pending[code] = [[], 0, ts, ns]
                p[0].append(piece)
                p[1] += len(piece)
                if nl >= 0 or p[1] >= LINE_HOLD:
                    del pending[code]
                    add(out(p[2], p[3], join(p[0])))
                if nl < 0:
                    break
                start = nl + 1
        yield got
    # the log ended without a newline
    yield [out(p[2], p[3], join(p[0])) for _, p in sorted(pending.items())]
