"""A log's entries (from any LogStream: a container's logs, later a service's
or several containers') -> a bounded list of lines for a page, with search,
and the follow cursor that says where the next poll starts.

No Flask and no bytes off a socket: the gateway's LogStream hands out the
entries (`(stream, timestamp, ns, data, dropped)`, see
app/gateway/logstream.py); this module assembles them into lines per stream
(the engine cuts a long line into 16 KB entries), counts them for the cursor,
and keeps the newest `bound` lines that match.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field
from typing import Iterable

from .ansi import ansi_plain, carriage_returns
from .gateway.frames import STDERR, Notice
from .gateway.logstream import PLAIN_MAX, PlainBatch, ns_to_engine, stamp_of, stamps_ns
from .logsearch import Search

PAGE_BOUND = 5000  # lines at most in the page
LINE_CAP = 16 * 1024  # bytes of one line kept for the page (the download has them all)
# The follow cursor re-reads this much before the last timestamp seen, so a
# line the engine wrote a moment late (its stdout and stderr copiers race)
# with an earlier timestamp is still found; the count skips what was shown.
CURSOR_SLACK_NS = 5_000_000
WINDOW_MARGIN_NS = 100_000_000  # see ReadResult.cursor


@dataclass(slots=True)
class LogLine:
    stream: int
    ts: str  # the engine's timestamp: only digits, '-', 'T', ':', '.', 'Z', '+' (logstream.split_ts)
    text: str  # decoded (invalid UTF-8 as U+FFFD), ANSI still in
    dropped: int = 0  # bytes not kept (beyond LINE_CAP)
    newline: bool = True
    spans: list | None = None
    ns: int | None = None
    src: str | None = None  # the task a service's line came from (details=1), else None

    @property
    def label(self) -> str:
        return "err" if self.stream == STDERR else "out"


@dataclass
class ReadResult:
    lines: deque = field(default_factory=lambda: deque(maxlen=PAGE_BOUND))
    total: int = 0  # lines read (after skipping the cursor's), before search
    matched: int = 0  # lines that matched the search (== total without one)
    entries: int = 0  # log entries (timestamped messages) received, skipped ones included
    skipped_entries: int = 0
    notices: list[Notice] = field(default_factory=list)
    max_ns: int | None = None
    min_ns: int | None = None
    recent_ns: list = field(default_factory=list)  # entry times near max_ns
    recent_stamps: list = field(default_factory=list)  # the same, of plain batches (as text)
    unsearched: int = 0  # lines not searched, the search's time budget spent
    slack_ns: int = CURSOR_SLACK_NS
    # a log of several sources in one stream (a service's tasks): each
    # source's entry times near max_ns, and its labels (task, node IDs)
    sources: dict | None = None
    source_attrs: dict = field(default_factory=dict)
    source_entries: dict = field(default_factory=dict)  # entries received per source

    @property
    def most_per_source(self) -> int:
        """The most entries one source sent (a per-task tail is full when this reaches it)."""
        return max(self.source_entries.values(), default=self.entries)

    @property
    def dropped(self) -> int:
        """Lines read (and matching) that the page bound left out."""
        return self.matched - len(self.lines)

    def cursor(self, old: "Cursor | None" = None, window: bool = False) -> "Cursor | None":
        """Where the next poll starts: a cutoff a little before the newest entry
        seen, and how many entries at or after it were already received.

        `window`: what was read is the tail of a longer log, so entries older
        than it were not seen: the cutoff then stays above the oldest entry
        read, by WINDOW_MARGIN_NS (the engine files stdout's and stderr's
        entries as they come, so an entry just before the window in the file
        may be stamped a little after the window's oldest: it must fall below
        the cutoff, or the next poll would skip it as seen and show a seen
        one again), and never above the newest + 1 (nothing later is lost)."""
        if self.max_ns is None:
            return old
        cutoff = self.max_ns - self.slack_ns
        if window and self.min_ns is not None:
            cutoff = max(cutoff, min(self.min_ns + WINDOW_MARGIN_NS, self.max_ns + 1))
        if old is not None:
            cutoff = max(cutoff, old.ns)
        if self.sources is not None:
            per = tuple(sorted((src, k) for src, times in self.sources.items()
                               if (k := sum(1 for n in times if n >= cutoff))))
            return Cursor(cutoff, sum(k for _, k in per), per)
        seen = sum(1 for n in self.recent_ns if n >= cutoff)
        if self.recent_stamps:
            at = stamp_of(cutoff)
            seen += sum(1 for t in self.recent_stamps if t >= at)
        return Cursor(cutoff, seen)


_PER_RE = re.compile(r"([a-z0-9]{1,64}):(\d{1,9})")


@dataclass(frozen=True)
class Cursor:
    ns: int  # entries at or after this time...
    seen: int  # ...that were already received (the engine's `since` is inclusive)
    # a log of several sources (a service's tasks): the entries seen per
    # source, (task ID, count). Each task's entries come in its own order, but
    # tasks interleave as the nodes answer, so one count for all cannot skip
    # exactly the entries already shown.
    per: tuple = ()

    def encode(self) -> str:
        if self.per:
            return f"{self.ns}-" + ".".join(f"{src}:{k}" for src, k in self.per)
        return f"{self.ns}-{self.seen}"

    @classmethod
    def decode(cls, text: str | None) -> "Cursor | None":
        text = (text or "").strip()
        m = re.fullmatch(r"(\d{1,20})-(\d{1,9})", text)
        if m:
            return cls(int(m.group(1)), int(m.group(2)))
        m = re.fullmatch(r"(\d{1,20})-((?:[a-z0-9]{1,64}:\d{1,9}\.){0,499}[a-z0-9]{1,64}:\d{1,9})",
                         text)
        if not m:
            return None
        per = tuple((src, int(k)) for src, k in _PER_RE.findall(m.group(2)))
        return cls(int(m.group(1)), sum(k for _, k in per), per)

    @property
    def since(self) -> str:
        return ns_to_engine(self.ns)


_ITEM_RE = re.compile(r"([0-9a-f]{12})~([0-9a-f]{1,16})~([0-9a-f]{1,8})"
                      r"(?:~(\d)~([A-Za-z0-9_.-]{0,64}))?")


class Cursors:
    """One Cursor per container of a merged log, in one compact text for the
    poll URL: `id~ns~seen~colour~name` per container (the ID's first 12 hex
    digits, ns and seen in hex, then how the page shows it: its colour class's
    digit and short name), joined by commas.

    The set of containers in it is the set the page knows: one the engine
    lists that is not in it has joined; one in it the engine no longer lists
    was removed (said once, then left out of the next cursor). Names follow
    the engine's rule for container names, so nothing in it needs escaping."""

    MAX_ITEMS = 500

    def __init__(self, items: dict[str, tuple[Cursor, str, int | None]] | None = None):
        self.items: dict[str, tuple[Cursor, str, int | None]] = dict(items or {})

    @staticmethod
    def key(cid: str) -> str:
        return cid[:12].lower()

    def get(self, cid: str) -> Cursor | None:
        got = self.items.get(self.key(cid))
        return got[0] if got else None

    def name(self, key: str) -> str:
        return self.items[key][1] if key in self.items else key

    def colour(self, key: str) -> int | None:
        return self.items[key][2] if key in self.items else None

    def put(self, cid: str, cursor: Cursor, name: str = "", colour: int | None = None) -> None:
        clean = re.sub(r"[^A-Za-z0-9_.-]", "", name)[:64]
        self.items[self.key(cid)] = (cursor, clean, colour if colour in range(10) else None)

    def keys(self) -> set[str]:
        return set(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def encode(self) -> str:
        return ",".join(f"{k}~{c.ns:x}~{c.seen:x}" + (f"~{col}~{n}" if col is not None else "")
                        for k, (c, n, col) in sorted(self.items.items()))

    @classmethod
    def decode(cls, text: str | None) -> "Cursors | None":
        """None when malformed (an empty set is the empty text)."""
        text = (text or "").strip()
        out = cls()
        if not text:
            return out
        parts = text.split(",")
        if len(parts) > cls.MAX_ITEMS:
            return None
        for part in parts:
            m = _ITEM_RE.fullmatch(part)
            if not m:
                return None
            col = m.group(4)
            out.items[m.group(1)] = (Cursor(int(m.group(2), 16), int(m.group(3), 16)),
                                     m.group(5) or "", int(col) if col is not None else None)
        return out


def _head(data: bytes, cap: int) -> bytes:
    """At most `cap` bytes of `data`, not cutting a UTF-8 character in two."""
    if len(data) <= cap:
        return data
    cut = cap
    while cut > cap - 3 and data[cut] & 0xC0 == 0x80:  # a character is 4 bytes at most
        cut -= 1
    return data[:cut]


def _overwrite(pend: list, piece: bytes, cap: int) -> None:
    """Add `piece` to a line over the cap that has carriage returns (a
    progress bar: thousands of updates, each written over the last). What is
    kept is what a terminal shows, not the line's first bytes: the parts up
    to the last carriage return laid over each other (ansi.carriage_returns),
    then the part still being written, each at most `cap` bytes. From then on
    `pend` ([pieces, kept, dropped, ts, ns]) has a sixth item, the whole
    length of the part being written, and its dropped count is how far the
    longest part went beyond the cap (what the page cannot show of it)."""
    kept = b"".join(pend[0])
    at = kept.rfind(b"\r")  # the part being written: kept after it (all of kept: -1)
    if len(pend) > 5:
        whole, over = pend[5], pend[2]
    else:  # bytes dropped so far were the part's (a line with no carriage return yet)
        whole, over = len(kept) - at - 1 + pend[2], 0
    first = piece.find(b"\r")
    goes_on = piece if first < 0 else piece[:first]
    if len(kept) - at - 1 < whole:  # the part was cut: what goes on lies beyond the cut
        piece = piece[len(goes_on):]
    whole += len(goes_on)
    if first >= 0:  # it ended at the piece's first carriage return; a new one began
        over = max(over, whole - cap)
        whole = len(piece) - piece.rfind(b"\r") - 1
    data = kept + piece
    cr = data.rfind(b"\r")
    done, current = data[:cr], data[cr + 1:]
    # (surrogateescape: bytes that are not UTF-8 come back as they were)
    shown = carriage_returns(done.decode("utf-8", "surrogateescape")).encode(
        "utf-8", "surrogateescape")
    over = max(over, len(shown) - cap, whole - cap)
    kept = _head(shown, cap) + b"\r" + _head(current, cap)
    pend[0] = [kept]
    pend[1] = len(kept)
    pend[2] = over
    if len(pend) == 5:
        pend.append(whole)
    else:
        pend[5] = whole


class LineReader:
    """Entries -> at most `bound` lines, skipping the first `skip` entries
    (those the cursor says were shown), keeping what the follow cursor needs.

    `tty`: the entries are a terminal's (a trailing carriage return is not
    part of a line)."""

    def __init__(self, *, tty: bool = False, bound: int = PAGE_BOUND, skip: int = 0,
                 search: Search | None = None, slack_ns: int = CURSOR_SLACK_NS):
        self.tty = tty
        self.skip = skip
        self.search = search
        self.slack = slack_ns
        self.r = ReadResult(lines=deque(maxlen=bound), slack_ns=slack_ns)
        self._pending: dict[int, list] = {}  # stream -> [pieces, kept, dropped, ts, ns]

    def read_batches(self, batches: Iterable[list[tuple]]) -> "LineReader":
        for batch in batches:
            self.read(batch)
        return self

    def read(self, entries: Iterable[tuple]) -> "LineReader":
        r = self.r
        pending = self._pending
        add_line = r.lines.append
        quick = self.search is None and not self.tty  # lines need no search: built here
        skip = self.skip
        slack = self.slack
        cap = LINE_CAP
        entries_n, mx, mn = r.entries, r.max_ns, r.min_ns
        recent = r.recent_ns
        added = 0
        for stream, ts, ns, data, dropped in entries:
            entries_n += 1
            if ns is not None:
                if mx is None or ns > mx:
                    mx = ns
                if mn is None or ns < mn:
                    mn = ns
                recent.append(ns)
                if len(recent) > 4096:
                    floor = mx - slack
                    recent = r.recent_ns = [x for x in recent if x >= floor]
            if entries_n <= skip:
                r.skipped_entries += 1
                continue
            # the usual entry: one whole line, nothing of its stream pending
            end = len(data) - 1
            if (quick and not dropped and end <= cap and data[-1:] == b"\n"
                    and stream not in pending and data.find(b"\n") == end
                    and b"\r" not in data):
                added += 1
                add_line(LogLine(stream, ts.decode("ascii", "replace"),
                                 data[:-1].decode("utf-8", "replace"), 0, True, None, ns))
                continue
            r.entries, r.max_ns, r.min_ns = entries_n, mx, mn
            r.total += added
            r.matched += added
            added = 0
            self._assemble(stream, ts, ns, data, dropped)
        r.entries, r.max_ns, r.min_ns = entries_n, mx, mn
        r.total += added
        r.matched += added
        return self

    def plain_ok(self) -> bool:
        """A batch of plain lines can be taken whole now (take_plain): no
        search, no TTY, no entries still to skip, no line of a stream pending."""
        return (self.search is None and not self.tty and not self._pending
                and self.r.entries >= self.skip and PLAIN_MAX <= LINE_CAP)

    def take_plain(self, batch: PlainBatch) -> bool:
        """Count a batch of plain lines (app/gateway/logstream.PlainBatch) as
        read() would, without making its lines: the caller shows them from
        the batch itself. False (nothing counted) when read() must see them
        (see plain_ok)."""
        r = self.r
        if not self.plain_ok():
            return False
        stamps = batch.stamps
        hi, lo = max(stamps), min(stamps)  # fixed width: as text, in time order
        hi_ns, lo_ns = stamps_ns([hi, lo])
        if hi_ns is None or lo_ns is None:
            return False
        n = batch.n
        r.entries += n
        r.total += n
        r.matched += n
        if r.max_ns is None or hi_ns > r.max_ns:
            r.max_ns = hi_ns
        if r.min_ns is None or lo_ns < r.min_ns:
            r.min_ns = lo_ns
        # only entries this close to the newest can count for the cursor
        floor = stamp_of(r.max_ns - self.slack)
        recent = r.recent_stamps
        recent.extend([t for t in stamps if t >= floor])
        if len(recent) > 4096:
            r.recent_stamps = [t for t in recent if t >= floor]
        return True

    def _assemble(self, stream: int, ts: bytes, ns: int | None, data: bytes,
                  dropped: int, src: str | None = None) -> None:
        """Lines out of one entry, per stream, across entries. The bytes the
        gateway dropped from an oversized entry sat just before its final
        newline (or at its end): they count against the entry's last line."""
        pending = self._pending
        key = stream if src is None else (src, stream)
        cap = LINE_CAP
        start = 0
        n = len(data)
        last = n - 1 if data.endswith(b"\n") else -1
        while start < n:
            nl = data.find(b"\n", start)
            piece = data[start:] if nl < 0 else data[start:nl]
            extra = dropped if nl < 0 or nl == last else 0
            pend = pending.get(key)
            if pend is None:
                if nl >= 0 and len(piece) <= cap and not extra:
                    self._line(stream, ts, ns, piece, src=src)
                    start = nl + 1
                    continue
                pend = pending[key] = [[], 0, 0, ts, ns]
            room = max(0, cap - pend[1])
            if len(pend) > 5:  # a progress line over the cap: what it ends showing
                _overwrite(pend, piece, cap)
            elif room >= len(piece):
                pend[0].append(piece)
                pend[1] += len(piece)
            elif b"\r" in piece or any(b"\r" in p for p in pend[0]):
                _overwrite(pend, piece, cap)
            else:
                if room:
                    pend[0].append(piece[:room])
                    pend[1] += room
                pend[2] += len(piece) - room
            pend[2] += extra
            if nl < 0:
                break
            del pending[key]
            self._line(stream, pend[3], pend[4], b"".join(pend[0]), pend[2], src=src)
            start = nl + 1

    def _line(self, stream: int, ts: bytes, ns: int | None, data: bytes, dropped: int = 0,
              newline: bool = True, src: str | None = None) -> None:
        r = self.r
        r.total += 1
        text = data.decode("utf-8", "replace")
        if "\r" in text:  # as a terminal shows it (a TTY's CRLF endings too)
            text = carriage_returns(text)
        spans = None
        if self.search is not None:
            if self.search.exhausted:
                r.unsearched += 1
                return
            spans = self.search.spans(ansi_plain(text))
            if spans is None:
                if self.search.exhausted:
                    r.unsearched += 1
                return
        r.matched += 1
        r.lines.append(LogLine(stream, ts.decode("ascii", "replace"), text, dropped, newline,
                               spans, ns, src))

    def close(self, notices: Iterable[Notice] = ()) -> ReadResult:
        """The end of the entries: each stream's unfinished last line (no
        newline) is a line too."""
        for key, p in sorted(self._pending.items(), key=lambda kv: str(kv[0])):
            src, stream = key if isinstance(key, tuple) else (None, key)
            self._line(stream, p[3], p[4], b"".join(p[0]), p[2], newline=False, src=src)
        self._pending.clear()
        self.r.notices.extend(notices)
        return self.r


TASK_ID = "com.docker.swarm.task.id"


class SourcedLineReader(LineReader):
    """The entries of a stream that carries several sources, each entry with
    its labels (a service's log with details=1: 6-item entries, see
    app/gateway/logstream.py): lines are assembled per task, `skip` is a
    count per task (Cursor.per), and each line knows its task (LogLine.src).

    The manager passes on each task's entries in that task's order, but the
    tasks interleave as their nodes answer: the page's lines are put in time
    order at the end of each read (stable, so a task's order is kept)."""

    def __init__(self, *, skip_per: tuple | dict = (), **kw):
        kw.pop("skip", None)
        super().__init__(**kw)
        self.skip_per = dict(skip_per)
        self.r.sources = {}
        self.counts = self.r.source_entries

    def read(self, entries) -> "SourcedLineReader":
        r = self.r
        counts, skip_per, sources, attrs_of = self.counts, self.skip_per, r.sources, r.source_attrs
        slack = self.slack
        for stream, ts, ns, data, dropped, attrs in entries:
            src = attrs.get(TASK_ID, "")
            if src not in attrs_of:
                attrs_of[src] = attrs
            r.entries += 1
            n = counts[src] = counts.get(src, 0) + 1
            if ns is not None:
                if r.max_ns is None or ns > r.max_ns:
                    r.max_ns = ns
                if r.min_ns is None or ns < r.min_ns:
                    r.min_ns = ns
                times = sources.get(src)
                if times is None:
                    times = sources[src] = []
                times.append(ns)
                if len(times) > 4096:
                    floor = r.max_ns - slack
                    times[:] = [x for x in times if x >= floor]
            if n <= skip_per.get(src, 0):
                r.skipped_entries += 1
                continue
            self._assemble(stream, ts, ns, data, dropped, src)
        return self

    def close(self, notices=()) -> ReadResult:
        r = super().close(notices)
        if len(r.lines) > 1:
            ordered = sorted(r.lines, key=lambda ln: ln.ns if ln.ns is not None else 0)
            r.lines.clear()
            r.lines.extend(ordered)
        return r


def read_lines(stream, **kw) -> ReadResult:
    """All of one LogStream through a LineReader (a SourcedLineReader when its
    entries carry their source's labels)."""
    if getattr(stream, "details", False):
        reader = SourcedLineReader(tty=stream.tty, **kw)
        reader.read_batches(stream.batches())
        return reader.close(stream.notices)
    reader = LineReader(tty=stream.tty, **kw)
    reader.read_batches(stream.batches())
    return reader.close(stream.notices)
