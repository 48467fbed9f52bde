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

from .ansi import ansi_plain
from .gateway.frames import STDERR, Notice
from .gateway.logstream import ns_to_engine
from .logsearch import Search

PAGE_BOUND = 5000  # lines at most in the page
LINE_CAP = 16 * 1024  # bytes of one line kept for the page (the download has them all)
# The follow cursor re-reads this much before the last timestamp seen, so a
# line the engine wrote a moment late (its stdout and stderr copiers race)
# with an earlier timestamp is still found; the count skips what was shown.
CURSOR_SLACK_NS = 5_000_000


@dataclass(slots=True)
class LogLine:
    stream: int
    ts: str  # the engine's timestamp: only digits, '-', 'T', ':', '.', 'Z', '+' (logstream.split_ts)
    text: str  # decoded (invalid UTF-8 as U+FFFD), ANSI still in
    dropped: int = 0  # bytes not kept (beyond LINE_CAP)
    newline: bool = True
    spans: list | None = None
    ns: int | None = None

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
    unsearched: int = 0  # lines not searched, the search's time budget spent
    slack_ns: int = CURSOR_SLACK_NS

    @property
    def dropped(self) -> int:
        """Lines read (and matching) that the page bound left out."""
        return self.matched - len(self.lines)

    def cursor(self, old: "Cursor | None" = None, window: bool = False) -> "Cursor | None":
        """Where the next poll starts: a cutoff a little before the newest entry
        seen, and how many entries at or after it were already received.

        `window`: what was read is the tail of a longer log, so entries older
        than it were not seen: the cutoff then stays above the oldest entry
        read, or the next poll would count unseen entries as seen."""
        if self.max_ns is None:
            return old
        cutoff = self.max_ns - self.slack_ns
        if window and self.min_ns is not None:
            cutoff = max(cutoff, self.min_ns + 1)
        if old is not None:
            cutoff = max(cutoff, old.ns)
        return Cursor(cutoff, sum(1 for n in self.recent_ns if n >= cutoff))


@dataclass(frozen=True)
class Cursor:
    ns: int  # entries at or after this time...
    seen: int  # ...that were already received (the engine's `since` is inclusive)

    def encode(self) -> str:
        return f"{self.ns}-{self.seen}"

    @classmethod
    def decode(cls, text: str | None) -> "Cursor | None":
        m = re.fullmatch(r"(\d{1,20})-(\d{1,9})", (text or "").strip())
        return cls(int(m.group(1)), int(m.group(2))) if m else None

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
                    and stream not in pending and data.find(b"\n") == end):
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

    def _assemble(self, stream: int, ts: bytes, ns: int | None, data: bytes,
                  dropped: int) -> None:
        """Lines out of one entry, per stream, across entries. The bytes the
        gateway dropped from an oversized entry sat just before its final
        newline (or at its end): they count against the entry's last line."""
        pending = self._pending
        cap = LINE_CAP
        start = 0
        n = len(data)
        last = n - 1 if data.endswith(b"\n") else -1
        while start < n:
            nl = data.find(b"\n", start)
            piece = data[start:] if nl < 0 else data[start:nl]
            extra = dropped if nl < 0 or nl == last else 0
            pend = pending.get(stream)
            if pend is None:
                if nl >= 0 and len(piece) <= cap and not extra:
                    self._line(stream, ts, ns, piece)
                    start = nl + 1
                    continue
                pend = pending[stream] = [[], 0, 0, ts, ns]
            room = max(0, cap - pend[1])
            if room >= len(piece):
                pend[0].append(piece)
                pend[1] += len(piece)
            else:
                if room:
                    pend[0].append(piece[:room])
                    pend[1] += room
                pend[2] += len(piece) - room
            pend[2] += extra
            if nl < 0:
                break
            del pending[stream]
            self._line(stream, pend[3], pend[4], b"".join(pend[0]), pend[2])
            start = nl + 1

    def _line(self, stream: int, ts: bytes, ns: int | None, data: bytes, dropped: int = 0,
              newline: bool = True) -> None:
        r = self.r
        r.total += 1
        if self.tty and data.endswith(b"\r"):
            data = data[:-1]
        text = data.decode("utf-8", "replace")
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
                               spans, ns))

    def close(self, notices: Iterable[Notice] = ()) -> ReadResult:
        """The end of the entries: each stream's unfinished last line (no
        newline) is a line too."""
        for stream, p in sorted(self._pending.items()):
            self._line(stream, p[3], p[4], b"".join(p[0]), p[2], newline=False)
        self._pending.clear()
        self.r.notices.extend(notices)
        return self.r


def read_lines(stream, **kw) -> ReadResult:
    """All of one LogStream through a LineReader."""
    reader = LineReader(tty=stream.tty, **kw)
    reader.read_batches(stream.batches())
    return reader.close(stream.notices)
