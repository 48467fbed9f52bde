"""The logs page's logic, apart from Flask: timestamps and the follow cursor,
`since` parsing, ANSI SGR -> escaped HTML, search, and reading an Engine logs
response into a bounded list of lines.

Every piece of HTML made here is built from escaped text (markupsafe.escape on
each piece of log data); log lines are hostile and nothing of theirs is ever
marked safe unescaped.
"""

from __future__ import annotations

import datetime as dt
import re
from html import escape as html_escape
import struct
import time
from collections import deque
from dataclasses import dataclass, field

from markupsafe import Markup, escape

from .gateway.frames import STDERR, STDOUT, Demuxer, LineAssembler, Notice

PAGE_BOUND = 5000  # lines at most in the page
LINE_CAP = 16 * 1024  # bytes of one line kept for the page (the download has them all)
TAIL_CHOICES = ["100", "500", "1000", "5000", "10000", "all"]
DEFAULT_TAIL = "500"
# The follow cursor re-reads this much before the last timestamp seen, so a
# line the engine wrote a moment late (its stdout and stderr copiers race)
# with an earlier timestamp is still found; the count skips what was shown.
CURSOR_SLACK_NS = 5_000_000

# -- timestamps ----------------------------------------------------------------
_TS_RE = re.compile(rb"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?"
                    rb"(Z|[+-]\d\d:\d\d) ")


def ts_ns(ts: bytes | str) -> int | None:
    """Nanoseconds since the epoch of an RFC 3339 timestamp, exactly (no float)."""
    if isinstance(ts, str):
        ts = ts.encode("ascii", "replace")
    m = _TS_RE.match(ts + b" ")
    if not m:
        return None
    y, mo, d, h, mi, s, frac, tz = m.groups()
    try:
        when = dt.datetime(int(y), int(mo), int(d), int(h), int(mi), int(s), tzinfo=dt.timezone.utc)
    except ValueError:
        return None
    secs = int(when.timestamp())
    if tz != b"Z":
        sign = 1 if tz[:1] == b"+" else -1
        secs -= sign * (int(tz[1:3]) * 3600 + int(tz[4:6]) * 60)
    nanos = int((frac or b"0").ljust(9, b"0"))
    return secs * 1_000_000_000 + nanos


_SECS_CACHE: dict[bytes, int] = {}
_HEADER = struct.Struct(">II").unpack_from


def split_ts(payload: bytes) -> tuple[bytes, int | None, bytes]:
    """(timestamp text, its nanoseconds, the rest) of a `timestamps=1` entry."""
    # the engine's own form, fixed width: 2026-11-27T20:07:43.204780710Z
    if payload[29:31] == b"Z " and payload[19:20] == b"." and payload[10:11] == b"T":
        head = payload[:19]
        secs = _SECS_CACHE.get(head)
        if secs is None:
            full = ts_ns(payload[:30])
            frac = payload[20:29]
            if full is not None and frac.isdigit():
                if len(_SECS_CACHE) > 4096:
                    _SECS_CACHE.clear()
                _SECS_CACHE[head] = full // 1_000_000_000
                return payload[:30], full, payload[31:]
        else:
            frac = payload[20:29]
            if frac.isdigit():
                return payload[:30], secs * 1_000_000_000 + int(frac), payload[31:]
    m = _TS_RE.match(payload)
    if not m:
        return b"", None, payload
    ts = m.group(0)[:-1]
    return ts, ts_ns(ts), payload[m.end():]


def ns_to_since(ns: int) -> str:
    """The engine's `since`/`until` form: seconds.nanoseconds (inclusive, to the ns)."""
    return f"{ns // 1_000_000_000}.{ns % 1_000_000_000:09d}"


def show_ts(ts: str) -> str:
    """2026-11-27T20:07:43.204754401Z -> 2026-11-27 20:07:43.204"""
    if len(ts) >= 23 and ts[10] == "T":
        return ts[:10] + " " + ts[11:23]
    return ts


# -- user input ----------------------------------------------------------------
_REL_RE = re.compile(r"^(\d{1,6})\s*(s|m|h|d|w)$", re.I)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class InputError(ValueError):
    """A query value the user can correct; the message says how."""


def parse_since(text: str | None, now: float | None = None) -> str | None:
    """'' -> None; '15m', '2h', '3d' -> now minus that; an epoch number; an
    ISO date or time (UTC unless it says otherwise) -> the engine's form."""
    text = (text or "").strip()
    if not text:
        return None
    now = time.time() if now is None else now
    m = _REL_RE.match(text)
    if m:
        return str(int(now) - int(m.group(1)) * _UNITS[m.group(2).lower()])
    if re.fullmatch(r"\d{1,11}(\.\d{1,9})?", text):
        return text
    iso = text.replace(" ", "T", 1) if re.match(r"\d{4}-\d\d-\d\d \d", text) else text
    try:
        when = dt.datetime.fromisoformat(iso.replace("z", "Z"))
    except ValueError:
        raise InputError(f"“{text[:60]}” is not a time: use 15m, 2h, 3d, or a date and time "
                         f"such as 2026-01-31 14:00 (UTC).") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return str(int(when.timestamp()))


def parse_tail(text: str | None, *, free: bool = False) -> str:
    """The tail choice; `free` (the download) admits any count."""
    t = (text or "").strip().lower() or DEFAULT_TAIL
    if t == "all" or t in TAIL_CHOICES:
        return t
    if free and t.isascii() and t.isdigit() and len(t) <= 9 and int(t) > 0:
        return str(int(t))
    raise InputError(f"tail “{t[:20]}” is not one of {', '.join(TAIL_CHOICES)}.")


# -- search --------------------------------------------------------------------
MAX_PATTERN = 200
SEARCH_BUDGET_S = 1.0  # total regex time per request; beyond it, searching stops
REGEX_TEXT_CAP = 4096  # characters of a line a regex looks at
MAX_MARKS = 100  # matches highlighted in one line (the line counts as matching either way)


class Search:
    """Case-insensitive substring by default, a regular expression on request.

    Guards against costly patterns: a length cap, no nested repetition (the
    exponential kind: (a+)+, (a|aa)*), a cap on the text a regex sees, and a
    time budget for the whole request."""

    def __init__(self, query: str, regex: bool = False):
        self.query = query
        self.regex = regex
        self.spent = 0.0
        self.exhausted = False
        if len(query) > MAX_PATTERN:
            raise InputError(f"the search is {len(query)} characters long; at most "
                             f"{MAX_PATTERN} are allowed.")
        if regex:
            try:
                self.pattern = re.compile(query, re.IGNORECASE)
            except re.error as exc:
                raise InputError(f"not a valid regular expression: {exc}") from None
            why = _costly(query)
            if why:
                raise InputError(f"this regular expression could take very long to run "
                                 f"({why}); simplify it.")
            if self.pattern.search("") is not None:
                raise InputError("this regular expression matches the empty string, so it "
                                 "matches every line.")
        else:
            self.pattern = re.compile(re.escape(query), re.IGNORECASE)

    def spans(self, text: str) -> list[tuple[int, int]] | None:
        """The match spans in text, or None for no match (or budget spent)."""
        if self.exhausted:
            return None
        if not self.regex:
            spans = []
            for m in self.pattern.finditer(text):
                spans.append(m.span())
                if len(spans) >= MAX_MARKS:
                    break
            return spans or None
        t0 = time.perf_counter()
        found = []
        for m in self.pattern.finditer(text[:REGEX_TEXT_CAP]):
            if m.end() > m.start():
                found.append(m.span())
            if len(found) >= MAX_MARKS:
                break
        self.spent += time.perf_counter() - t0
        if self.spent > SEARCH_BUDGET_S:
            self.exhausted = True
        return found or None


def _costly(pattern: str) -> str | None:
    """Why a pattern risks catastrophic backtracking, or None."""
    try:
        import re._parser as sre_parse  # Python 3.11+
        from re._constants import BRANCH, MAX_REPEAT, MIN_REPEAT, MAXREPEAT, SUBPATTERN
    except ImportError:  # pragma: no cover
        return None
    try:
        parsed = sre_parse.parse(pattern, re.IGNORECASE)
    except Exception:  # noqa: BLE001 - compile already accepted it
        return None
    repeats = (MAX_REPEAT, MIN_REPEAT)

    def has_repeat_or_branch(items) -> bool:
        for op, av in items:
            if op in repeats and av[1] > 1:
                return True
            if op == BRANCH:
                return True
            if op == SUBPATTERN and has_repeat_or_branch(av[-1]):
                return True
        return False

    unbounded = 0

    def walk(items) -> str | None:
        nonlocal unbounded
        for op, av in items:
            if op in repeats:
                lo, hi, sub = av
                if hi == MAXREPEAT or hi > 100:
                    unbounded += 1
                    if has_repeat_or_branch(sub):
                        return "a repeated group that itself repeats or alternates"
                r = walk(sub)
                if r:
                    return r
            elif op == SUBPATTERN:
                r = walk(av[-1])
                if r:
                    return r
            elif op == BRANCH:
                for alt in av[1]:
                    r = walk(alt)
                    if r:
                        return r
        return None

    why = walk(parsed)
    if why:
        return why
    if unbounded > 3:
        return f"{unbounded} open-ended repetitions"
    return None


# -- ANSI SGR -> HTML ------------------------------------------------------------
# CSI (ESC [ params intermediates final), OSC (ESC ] ... BEL or ST), DCS/SOS/PM/APC
# strings, other two-byte escapes, a lone ESC; then every other control character
# but tab (C0, DEL, C1). SGR (CSI ... m) is kept for colour; the rest is dropped.
_ESC_RE = re.compile(
    r"\x1b\[([0-?]*)([ -/]*)([@-~])"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"
    r"|\x1b[ -/]*[0-~]?"
    r"|\x9b[0-?]*[ -/]*[@-~]?"
    r"|[\x00-\x08\x0a-\x1f\x7f-\x9f]"
)

_BASIC_RGB = [(0, 0, 0), (205, 49, 49), (13, 188, 121), (229, 229, 16), (36, 114, 200),
              (188, 63, 188), (17, 168, 205), (229, 229, 229), (102, 102, 102), (241, 76, 76),
              (35, 209, 139), (245, 245, 67), (59, 142, 234), (214, 112, 214), (41, 184, 219),
              (255, 255, 255)]


def _nearest16(r: int, g: int, b: int) -> int:
    return min(range(16), key=lambda i: (r - _BASIC_RGB[i][0]) ** 2 + (g - _BASIC_RGB[i][1]) ** 2
               + (b - _BASIC_RGB[i][2]) ** 2)


def _xterm256(n: int) -> int:
    if n < 16:
        return n
    if n >= 232:
        v = 8 + (n - 232) * 10
        return _nearest16(v, v, v)
    n -= 16
    steps = [0, 95, 135, 175, 215, 255]
    return _nearest16(steps[n // 36], steps[(n // 6) % 6], steps[n % 6])


class _SGR:
    __slots__ = ("fg", "bg", "bold", "dim", "italic", "underline", "strike", "inverse")

    def __init__(self):
        self.reset()

    def reset(self):
        self.fg = self.bg = None
        self.bold = self.dim = self.italic = self.underline = self.strike = self.inverse = False

    def apply(self, params: str) -> None:
        # a hostile line may carry 5,000 digits (int() refuses such strings) or
        # non-ASCII digits: anything but a short ASCII number counts as 0
        codes = ([int(p) if p.isascii() and p.isdigit() and len(p) <= 5 else 0
                  for p in re.split(r"[;:]", params)] if params else [0])
        i = 0
        while i < len(codes):
            c = codes[i]
            if c == 0:
                self.reset()
            elif c == 1:
                self.bold = True
            elif c == 2:
                self.dim = True
            elif c == 3:
                self.italic = True
            elif c == 4:
                self.underline = True
            elif c == 7:
                self.inverse = True
            elif c == 9:
                self.strike = True
            elif c == 22:
                self.bold = self.dim = False
            elif c == 23:
                self.italic = False
            elif c == 24:
                self.underline = False
            elif c == 27:
                self.inverse = False
            elif c == 29:
                self.strike = False
            elif 30 <= c <= 37:
                self.fg = c - 30
            elif 90 <= c <= 97:
                self.fg = c - 90 + 8
            elif c == 39:
                self.fg = None
            elif 40 <= c <= 47:
                self.bg = c - 40
            elif 100 <= c <= 107:
                self.bg = c - 100 + 8
            elif c == 49:
                self.bg = None
            elif c in (38, 48):
                colour = None
                if i + 2 < len(codes) and codes[i + 1] == 5:
                    colour = _xterm256(min(codes[i + 2], 255))
                    i += 2
                elif i + 4 < len(codes) and codes[i + 1] == 2:
                    colour = _nearest16(*(min(v, 255) for v in codes[i + 2:i + 5]))
                    i += 4
                else:
                    i = len(codes)
                if colour is not None:
                    if c == 38:
                        self.fg = colour
                    else:
                        self.bg = colour
            i += 1

    def classes(self) -> str:
        fg, bg = self.fg, self.bg
        if self.inverse:
            fg, bg = (bg if bg is not None else 16), (fg if fg is not None else 17)
        out = []
        if fg is not None:
            out.append(f"af{fg}")
        if bg is not None:
            out.append(f"ab{bg}")
        if self.bold:
            out.append("ab-b")
        if self.dim:
            out.append("ab-d")
        if self.italic:
            out.append("ab-i")
        if self.underline:
            out.append("ab-u")
        if self.strike:
            out.append("ab-s")
        return " ".join(out)


def ansi_segments(text: str) -> list[tuple[str, str]]:
    """[(plain text, css classes)] with SGR applied and every other escape or
    control character (but tab) removed: no ESC survives."""
    if "\x1b" not in text and not _has_controls(text):
        return [(text, "")] if text else []
    sgr = _SGR()
    out: list[tuple[str, str]] = []
    pos = 0
    cls = ""
    for m in _ESC_RE.finditer(text):
        if m.start() > pos:
            out.append((text[pos:m.start()], cls))
        pos = m.end()
        if m.group(3) == "m" and not m.group(2) and not re.search(r"[<=>?]", m.group(1) or ""):
            sgr.apply(m.group(1))
            cls = sgr.classes()
    if pos < len(text):
        out.append((text[pos:], cls))
    return [(t, c) for t, c in out if t]


_CTRL_RE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")


def _has_controls(text: str) -> bool:
    return _CTRL_RE.search(text) is not None


def render_line(segments: list[tuple[str, str]], spans: list[tuple[int, int]] | None) -> Markup:
    """Escaped HTML for one line: SGR classes as spans, search matches in <mark>."""
    parts: list[str] = []
    marks = spans or []
    mi = 0
    off = 0
    for text, cls in segments:
        end = off + len(text)
        cuts = []  # (start, end, marked) pieces of this segment
        p = off
        while mi < len(marks) and marks[mi][0] < end:
            s, e = marks[mi]
            s = max(s, p)
            if s > p:
                cuts.append((p, s, False))
            e2 = min(e, end)
            if e2 > s:
                cuts.append((s, e2, True))
            p = max(p, e2)
            if e <= end:
                mi += 1
            else:
                break
        if p < end:
            cuts.append((p, end, False))
        for s, e, marked in cuts:
            piece = str(escape(text[s - off:e - off]))
            if marked:
                piece = f"<mark>{piece}</mark>"
            if cls:
                piece = f'<span class="{cls}">{piece}</span>'
            parts.append(piece)
        off = end
    return Markup("".join(parts))


def render_rows(lines, *, timestamps: bool, tty: bool, download_url: str) -> Markup:
    """The HTML of many log lines at once (the page holds up to 5,000: a Jinja
    macro per line costs more than the engine call). Every piece of log data
    is escaped (html.escape, quotes too: the same as markupsafe.escape at less
    than half the cost per call); the markup around it is fixed text."""
    out = []
    append = out.append
    dl = str(escape(download_url))
    heads = {}
    for label, title in (("out", "standard output"), ("err", "standard error"),
                         ("tty", "TTY: stdout and stderr merged")):
        heads[label] = (f'<div class="ll {label}">',
                        f'<span class="lst" title="{title}">{label}</span><span class="ltx">')
    plain = _CTRL_RE.search
    for ln in lines:
        start, mid = heads["tty" if tty else ln.label]
        text = ln.text
        if ln.spans is None and "\x1b" not in text and plain(text) is None:
            body = html_escape(text)  # the common line: no colour, no match to mark
        else:
            body = ln.html.__str__()
        if ln.dropped:
            body += (f'<span class="lcut"> … {ln.dropped:,} more bytes: <a href="{dl}">download'
                     f'</a> for the whole line</span>')
        if not ln.newline:
            body += ('<span class="lcut" title="the log ended here without a newline"> '
                     '(no newline)</span>')
        if timestamps:
            ts = html_escape(ln.ts)
            shown = f"{ts[:10]} {ts[11:23]}" if len(ts) == 30 else ts
            append(f'{start}<time title="{ts}">{shown}</time>{mid}{body}'
                   f'</span></div>\n')
        else:
            append(f"{start}{mid}{body}</span></div>\n")
    return Markup("".join(out))


# -- reading a logs response into lines ----------------------------------------
@dataclass(slots=True)
class LogLine:
    stream: int
    ts: str
    text: str  # decoded (invalid UTF-8 as U+FFFD), ANSI still in
    dropped: int = 0  # bytes not kept (beyond LINE_CAP)
    newline: bool = True
    spans: list | None = None

    @property
    def label(self) -> str:
        return "err" if self.stream == STDERR else "out"

    @property
    def html(self) -> Markup:
        return render_line(ansi_segments(self.text), self.spans)

    @property
    def plain(self) -> str:
        return "".join(t for t, _ in ansi_segments(self.text))


@dataclass
class ReadResult:
    lines: deque = field(default_factory=lambda: deque(maxlen=PAGE_BOUND))
    total: int = 0  # lines read (after skipping the cursor's), before search
    matched: int = 0  # lines that matched the search (== total without one)
    entries: int = 0  # log entries (timestamped messages) received, skipped ones included
    skipped_entries: int = 0
    notices: list[Notice] = field(default_factory=list)
    bytes: int = 0
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
        return ns_to_since(self.ns)


class LineReader:
    """Reads a `timestamps=1` logs response (multiplexed or raw TTY) into at
    most `bound` lines, skipping the first `skip` entries (the cursor's), and
    keeping what the follow cursor needs."""

    def __init__(self, *, tty: bool, bound: int = PAGE_BOUND, skip: int = 0,
                 search: Search | None = None, slack_ns: int = CURSOR_SLACK_NS):
        self.tty = tty
        self.skip = skip
        self.search = search
        self.slack = slack_ns
        self.r = ReadResult(lines=deque(maxlen=bound), slack_ns=slack_ns)
        self._demux = None if tty else Demuxer()
        self._asm = LineAssembler(max_line=LINE_CAP)
        self._raw_pending = bytearray()  # TTY: bytes of an unfinished line
        self._pend = b""  # multiplexed: bytes of an unfinished frame (fast path)
        self._general = False  # the fast path met something odd: Demuxer from here on
        self._consumed = 0

    # entry bookkeeping (skips and the cursor)
    def _entry(self, ns: int | None) -> bool:
        """Count one entry; False when the cursor says it was already shown."""
        r = self.r
        r.entries += 1
        if ns is not None:
            if r.max_ns is None or ns > r.max_ns:
                r.max_ns = ns
            if r.min_ns is None or ns < r.min_ns:
                r.min_ns = ns
            r.recent_ns.append(ns)
            if len(r.recent_ns) > 4096:
                floor = r.max_ns - self.slack
                r.recent_ns = [n for n in r.recent_ns if n >= floor]
        if r.entries <= self.skip:
            r.skipped_entries += 1
            return False
        return True

    def _line(self, stream: int, ts: bytes, data: bytes, dropped: int = 0,
              newline: bool = True) -> None:
        r = self.r
        r.total += 1
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
                               spans))

    def feed(self, chunk: bytes) -> None:
        self.r.bytes += len(chunk)
        if self.tty:
            self._feed_tty(chunk)
            return
        if self._general:
            for stream, payload in self._demux.feed(chunk):
                self._frame(stream, payload)
            return
        # the fast path: whole frames straight out of the buffer; anything odd
        # (a bad header, the engine's error frame, a huge frame) goes to Demuxer
        buf = self._pend + chunk if self._pend else chunk
        n = len(buf)
        pos = 0
        frame = self._frame
        odd = False
        r = self.r
        add_line = r.lines.append
        recent = r.recent_ns
        cache = _SECS_CACHE
        pending = self._asm._pending
        quick = self.search is None  # lines need no search: build them here
        skip = self.skip
        # counters kept in locals in the loop, written back before the general path
        entries, mx, mn, added = r.entries, r.max_ns, r.min_ns, 0
        while n - pos >= 8:
            word, size = _HEADER(buf, pos)
            stream = word >> 24
            if word & 0xFFFFFF or stream > 2 or size > 1 << 20:
                odd = True
                break
            end = pos + 8 + size
            if end > n:
                break
            start = pos + 8
            pos = end
            stream = stream or 1
            # the usual entry, inline: engine timestamp, one whole line, not skipped
            if (quick and buf[start + 29:start + 31] == b"Z " and buf[end - 1] == 10
                    and buf[start + 19] == 46 and entries >= skip and stream not in pending
                    and end - start - 31 <= LINE_CAP):
                secs = cache.get(buf[start:start + 19])
                frac = buf[start + 20:start + 29]
                if secs is not None and frac.isdigit() and buf.find(b"\n", start + 31) == end - 1:
                    ns = secs * 1_000_000_000 + int(frac)
                    entries += 1
                    if mx is None or ns > mx:
                        mx = ns
                    if mn is None or ns < mn:
                        mn = ns
                    recent.append(ns)
                    if len(recent) > 4096:
                        floor = mx - self.slack
                        recent = r.recent_ns = [x for x in recent if x >= floor]
                    added += 1
                    add_line(LogLine(stream, buf[start:start + 30].decode("ascii"),
                                     buf[start + 31:end - 1].decode("utf-8", "replace")))
                    continue
            r.entries, r.max_ns, r.min_ns = entries, mx, mn
            r.total += added
            r.matched += added
            added = 0
            frame(stream, buf[start:end])
            entries, mx, mn = r.entries, r.max_ns, r.min_ns
            recent = r.recent_ns
        r.entries, r.max_ns, r.min_ns = entries, mx, mn
        r.total += added
        r.matched += added
        self._consumed += pos
        if odd:
            self._general = True
            self._pend = b""
            self._demux.offset = self._consumed
            for stream, payload in self._demux.feed(buf[pos:]):
                self._frame(stream, payload)
        else:
            self._pend = buf[pos:] if pos < n else b""

    def _frame(self, stream: int, payload: bytes) -> None:
        ts, ns, rest = split_ts(payload)
        if not self._entry(ns):
            return
        if rest[-1:] == b"\n" and rest.find(b"\n") == len(rest) - 1 and len(rest) <= LINE_CAP \
                and stream not in self._asm._pending:
            self._line(stream, ts, rest[:-1])  # the usual entry: one whole line
            return
        for ln in self._asm.feed(stream, rest, ts):
            self._line(ln.stream, ln.tag or b"", ln.data, ln.dropped)

    def _feed_tty(self, chunk: bytes) -> None:
        buf = self._raw_pending
        buf += chunk
        start = 0
        while True:
            nl = buf.find(b"\n", start)
            if nl < 0:
                break
            self._tty_line(bytes(buf[start:nl]))
            start = nl + 1
        del buf[:start]
        if len(buf) > LINE_CAP + 64 * 1024:  # a huge unfinished line: keep its head only
            self._tty_trim(buf)

    def _tty_trim(self, buf: bytearray) -> None:
        """Drop the middle of a huge unfinished TTY line, still counting the
        engine's partial entries (each prefixed with the line's timestamp) in
        what is dropped, so the follow cursor stays exact."""
        ts, _, _ = split_ts(bytes(buf[:40]))
        head = len(ts) + 1 + LINE_CAP if ts else LINE_CAP
        m = len(ts) + 1
        markers = 0
        if ts:
            region = bytes(buf[head - (m - 1):])  # no marker straddles the head's end unseen
            markers = region.count(ts + b" ")
            self._tty_more = getattr(self, "_tty_more", 0) + markers
            tail = region[-(m - 1):]  # a marker cut at the end is counted with what follows
        else:
            tail = b""
        self._tty_overflow = (getattr(self, "_tty_overflow", 0) + len(buf) - head - len(tail)
                              - markers * m)
        buf[head:] = tail

    def _tty_line(self, raw: bytes, newline: bool = True) -> None:
        ts, ns, rest = split_ts(raw)
        entries = 1 + getattr(self, "_tty_more", 0)
        self._tty_more = 0
        if ts:
            # a line longer than the engine's 16 KB buffer is logged as several
            # entries sharing the first one's timestamp, each prefixed with it
            marker = ts + b" "
            more = rest.count(marker)
            if more:
                rest = rest.replace(marker, b"")
                entries += more
        dropped = getattr(self, "_tty_overflow", 0)
        self._tty_overflow = 0
        shown = False
        for _ in range(entries):
            shown = self._entry(ns) or shown
        if not shown:
            return
        if rest.endswith(b"\r"):
            rest = rest[:-1]
        if len(rest) > LINE_CAP:
            dropped += len(rest) - LINE_CAP
            rest = rest[:LINE_CAP]
        self._line(STDOUT, ts, rest, dropped, newline)

    def close(self) -> ReadResult:
        if self.tty:
            if self._raw_pending:
                self._tty_line(bytes(self._raw_pending), newline=False)
                self._raw_pending = bytearray()
        else:
            if self._pend:
                self._demux.offset = self._consumed
                for stream, payload in self._demux.feed(self._pend):
                    self._frame(stream, payload)
                self._pend = b""
            for stream, payload in self._demux.close():
                self._frame(stream, payload)
            for ln in self._asm.flush():
                self._line(ln.stream, ln.tag or b"", ln.data, ln.dropped, newline=False)
            self.r.notices.extend(self._demux.notices)
        return self.r


def ansi_plain(text: str) -> str:
    """The text a reader sees: escapes and controls removed."""
    if "\x1b" not in text and not _has_controls(text):
        return text
    return "".join(t for t, _ in ansi_segments(text))
