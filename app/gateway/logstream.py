"""A log stream from the Engine, read at the byte level: the gateway's one log
reader. Container logs and a service's logs come through it (a merged view of
several containers uses the same object: each source is one LogStream).

`Engine.logs()` opens one and decides how to read it: a container with a TTY
sends raw bytes, any other a multiplexed stream of frames (frames.py), and
either may come HTTP-chunked. Callers never see that; they take

- `entries()`: the log's entries, one per message the engine logged, as
  `(stream, timestamp, nanoseconds, data, dropped)` tuples: `timestamp` is the
  engine's RFC 3339 text (b"" without timestamps=1), `data` the message bytes
  with their newline when they had one (a line the engine cut at 16 KB comes
  as several entries), `dropped` how many bytes of an oversized entry were not
  kept (memory stays bounded whatever the stream announces);
- `payload()`: the chosen streams' bytes, exactly as `docker logs` prints
  them, in writes of about 256 KB, with flat memory.

A service's log asked with `details=1` (`Engine.service_logs`) carries, after
each entry's timestamp, the task's labels (`com.docker.swarm.task.id=...,
com.docker.swarm.node.id=...`, URL-encoded, comma-separated) and a space: a
`details` stream splits them off here, and its entries have a sixth item, the
labels as a dict (`detail_attrs`, decoded once per distinct text).

Faults in the stream (a truncated frame, an impossible header, the engine's
own error frames, a broken chunked body) are kept in `notices`; read faults of
the connection raise the gateway's typed errors.
"""

from __future__ import annotations

import datetime as dt
import re
from operator import add, itemgetter
from typing import Callable, Iterator

from .exceptions import EngineError
from .frames import (FIRST, LAST, STDERR, STDOUT, STREAM_MASK, WHOLE, BodyStream, FrameParser,
                     Notice, wanted)

# An entry is never kept beyond this many bytes (the engine's are 16 KB at most).
ENTRY_CAP = 1 << 20
WRITE_SIZE = 262144

# -- the engine's timestamps ------------------------------------------------------------
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


def split_ts(payload: bytes) -> tuple[bytes, int | None, bytes]:
    """(timestamp text, its nanoseconds, the rest) of a `timestamps=1` entry."""
    # the engine's own form, fixed width: 2026-11-27T20:07:43.204780710Z
    if payload[29:31] == b"Z " and payload[19:20] == b"." and payload[10:11] == b"T":
        frac = payload[20:29]
        if frac.isdigit():
            secs = _SECS_CACHE.get(payload[:19])
            if secs is None:
                full = ts_ns(payload[:30])
                if full is not None:
                    if len(_SECS_CACHE) > 4096:
                        _SECS_CACHE.clear()
                    _SECS_CACHE[payload[:19]] = full // 1_000_000_000
                    return payload[:30], full, payload[31:]
            else:
                return payload[:30], secs * 1_000_000_000 + int(frac), payload[31:]
    m = _TS_RE.match(payload)
    if not m:
        return b"", None, payload
    ts = m.group(0)[:-1]
    return ts, ts_ns(ts), payload[m.end():]


def ns_to_engine(ns: int) -> str:
    """The engine's `since`/`until` form: seconds.nanoseconds (inclusive, to the ns)."""
    return f"{ns // 1_000_000_000}.{ns % 1_000_000_000:09d}"


_ATTRS_CACHE: dict[bytes, dict] = {}


def detail_attrs(raw: bytes) -> dict:
    """`k=v,k=v` (each part URL-encoded, as the engine writes details=1) -> a dict."""
    got = _ATTRS_CACHE.get(raw)
    if got is None:
        from urllib.parse import unquote_plus

        got = {}
        for part in raw.split(b","):
            k, sep, v = part.partition(b"=")
            if sep:
                got[unquote_plus(k.decode("utf-8", "replace"))] = unquote_plus(
                    v.decode("utf-8", "replace"))
        if len(_ATTRS_CACHE) > 4096:
            _ATTRS_CACHE.clear()
        _ATTRS_CACHE[raw] = got
    return got


def with_details(entries: list[tuple]) -> list[tuple]:
    """Entries of a details=1 stream: the labels before the first space of
    each entry's data split off, as a sixth item (a dict)."""
    out = []
    append = out.append
    for code, ts, ns, data, dropped in entries:
        sp = data.find(b" ")
        if sp < 0:  # not the engine's details form: all message
            append((code, ts, ns, data, dropped, {}))
        else:
            append((code, ts, ns, data[sp + 1:], dropped, detail_attrs(data[:sp])))
    return out


# -- entries of a multiplexed stream ---------------------------------------------------
class _Capped:
    """The pieces of one oversized entry: its head kept, the rest counted."""

    __slots__ = ("pieces", "kept", "dropped")

    def __init__(self) -> None:
        self.pieces: list[bytes] = []
        self.kept = 0
        self.dropped = 0

    def add(self, piece: bytes) -> None:
        room = ENTRY_CAP - self.kept
        if room >= len(piece):
            self.pieces.append(piece)
            self.kept += len(piece)
        else:
            if room > 0:
                self.pieces.append(piece[:room])
                self.kept += room
            self.dropped += len(piece) - max(room, 0)

    def finish(self, last: bytes) -> tuple[bytes, int]:
        newline = last.endswith(b"\n")
        self.add(last[:-1] if newline else last)
        data = b"".join(self.pieces)
        return (data + b"\n" if newline else data), self.dropped


def frame_entries(frames: list[tuple[int, bytes]], timestamps: bool, big: dict) -> list[tuple]:
    """Frames (FrameParser's output) -> entries. `big` holds, per stream, the
    entry of a big frame still coming in pieces."""
    out = []
    append = out.append
    cache = _SECS_CACHE
    for code, piece in frames:
        flag = code & ~STREAM_MASK
        if flag == WHOLE:
            data, dropped = piece, 0
            if len(piece) > ENTRY_CAP:
                c = _Capped()
                data, dropped = c.finish(piece)
        else:
            stream = code & STREAM_MASK
            if flag == FIRST:
                big[stream] = c = _Capped()
                c.add(piece)
                continue
            c = big.get(stream)
            if c is None:
                continue
            if flag != LAST:
                c.add(piece)
                continue
            del big[stream]
            data, dropped = c.finish(piece)
            code = stream
        if not timestamps:
            append((code, b"", None, data, dropped))
            continue
        # split_ts's usual case, inline: the engine's fixed-width timestamp
        if data[29:31] == b"Z " and data[19:20] == b"." and data[10:11] == b"T":
            secs = cache.get(data[:19])
            frac = data[20:29]
            if secs is not None and frac.isdigit():
                append((code, data[:30], secs * 1_000_000_000 + int(frac), data[31:], dropped))
                continue
        ts, ns, data = split_ts(data)
        append((code, ts, ns, data, dropped))
    return out


# -- a batch of plain lines, in one piece ----------------------------------------------
# The common log, as the engine sends it with timestamps=1: every frame whole,
# one line with the engine's own timestamp, no control character in it (tab
# aside), no longer than the engine's own 16 KB cut. Such a batch is checked
# and handed out in one piece of bytes (C-speed passes over them all), not as
# an entry per frame: a page can make its rows in one pass over it.
PLAIN_MAX = 16 * 1024  # bytes of a plain line's text at most
PLAIN_BATCH = 256  # frames at least in a batch (but the last)
_PLAIN_HEADS = {STDOUT: b"\x00out", STDERR: b"\x00err"}
# what a plain line's text may hold: every byte but the control characters
# (tab aside) and DEL; bytes.translate deletes these, leaving the others
_PLAIN_TEXT = bytes(b for b in range(256) if b == 0x09 or 0x20 <= b != 0x7f)
# a plain line's first 31 bytes, its digits made 0: the timestamp and its space
_STAMP_SHAPE = b"0000-00-00T00:00:00.000000000Z "
_DIGITS_0 = bytes.maketrans(b"123456789", b"000000000")
_HEAD_31, _STAMP = itemgetter(slice(0, 31)), itemgetter(slice(0, 30))
_LAST = itemgetter(slice(-1, None))


class PlainBatch:
    """Entries that are each one whole plain line (see above), as `blob`: for
    each, a NUL and `out` or `err` (its stream), its timestamp, a space, its
    text and its newline. NUL is in no plain line, so it marks where each
    begins (a pattern that starts with it is found at C speed). `stamps`:
    each entry's timestamp, in the engine's fixed-width form (so they compare
    as text in time order). `entries()` gives them as any batch's entries,
    for a reader that wants those."""

    __slots__ = ("_frames", "blob", "stamps", "n")

    def __init__(self, frames: list[tuple[int, bytes]], blob: bytes, stamps: list[bytes]):
        self._frames = frames
        self.blob = blob
        self.stamps = stamps
        self.n = len(frames)

    def entries(self) -> list[tuple]:
        return frame_entries(self._frames, True, {})


def plain_batch(frames: list[tuple[int, bytes]]) -> PlainBatch | None:
    """`frames` (FrameParser's output) as a PlainBatch, or None when any of
    them is not a whole plain line. Checked in C-speed passes over all of them
    at once: each begins with a timestamp of the engine's form (its digits
    made 0, the shape), ends with a newline, and has no other newline nor any
    control character (what is left once a plain text's bytes are deleted is
    the NUL put before each and its newline)."""
    if not frames:
        return None
    codes = [c for c, _ in frames]
    payloads = [p for _, p in frames]
    if not _PLAIN_HEADS.keys() >= set(codes) or max(map(len, payloads)) > PLAIN_MAX + 32:
        return None
    n = len(payloads)
    if (b"".join(map(_HEAD_31, payloads)).translate(_DIGITS_0) != _STAMP_SHAPE * n
            or b"".join(map(_LAST, payloads)) != b"\n" * n):
        return None
    blob = b"".join(map(add, map(_PLAIN_HEADS.__getitem__, codes), payloads))
    if blob.translate(None, _PLAIN_TEXT) != b"\x00\n" * n:
        return None
    return PlainBatch(frames, blob, list(map(_STAMP, payloads)))


_STAMP_HEADS: dict[int, bytes] = {}  # a second's text, by the second


def stamp_of(ns: int) -> bytes:
    """The engine's fixed-width timestamp of a time in ns (see PlainBatch)."""
    secs, frac = divmod(ns, 1_000_000_000)
    head = _STAMP_HEADS.get(secs)
    if head is None:
        if len(_STAMP_HEADS) > 4096:
            _STAMP_HEADS.clear()
        w = dt.datetime.fromtimestamp(secs, dt.timezone.utc)
        head = _STAMP_HEADS[secs] = (b"%04d-%02d-%02dT%02d:%02d:%02d" % (
            w.year, w.month, w.day, w.hour, w.minute, w.second))
    return b"%s.%09dZ" % (head, frac)


def stamps_ns(stamps: list[bytes]) -> list[int | None]:
    """The ns of fixed-width timestamps (as split_ts reads them)."""
    out = []
    append = out.append
    cache = _SECS_CACHE
    for ts in stamps:
        secs = cache.get(ts[:19])
        append(secs * 1_000_000_000 + int(ts[20:29]) if secs is not None
               else split_ts(ts + b" ")[1])
    return out


# -- entries of a TTY's raw stream -------------------------------------------------------
class TtySplitter:
    """A TTY's raw stream -> entries. With timestamps=1 every entry starts with
    its timestamp and a space; a line longer than the engine's 16 KB buffer is
    logged as several entries, each prefixed with the line's first timestamp
    (found here as that marker in the middle of a line). Pure."""

    def __init__(self, timestamps: bool = True) -> None:
        self.timestamps = timestamps
        self._carry = b""
        self._ts: bytes | None = None  # the current line's timestamp (None: at a line start)
        self._ns: int | None = None
        self._marker: bytes | None = None
        self._cur: _Capped | None = None  # an entry still coming

    def feed(self, data: bytes, final: bool = False) -> list[tuple]:
        out: list[tuple] = []
        buf = self._carry + data if self._carry else data
        n = len(buf)
        pos = 0
        find = buf.find
        while pos < n or (final and self._cur is not None):
            if self._ts is None:
                if pos >= n:
                    break
                if self.timestamps:
                    if n - pos < 31 and find(b"\n", pos) < 0 and not final:
                        break  # not yet enough to read the timestamp
                    ts, ns, _ = split_ts(buf[pos:pos + 40])
                else:
                    ts, ns = b"", None
                self._ts, self._ns = ts, ns
                self._marker = ts + b" " if ts else None
                if ts:
                    pos += len(ts) + 1
            nl = find(b"\n", pos)
            mk = find(self._marker, pos, nl if nl >= 0 else n) if self._marker else -1
            if mk >= 0:  # the next entry of the same line
                out.append(self._finish(buf[pos:mk]))
                pos = mk + len(self._marker)
                continue
            if nl >= 0:
                out.append(self._finish(buf[pos:nl + 1]))
                pos = nl + 1
                self._ts = self._marker = None
                continue
            if final:
                out.append(self._finish(buf[pos:]))
                pos = n
                self._ts = self._marker = None
                break
            # unfinished: keep what came; a marker may straddle the end
            keep = len(self._marker) - 1 if self._marker else 0
            cut = max(pos, n - keep)
            if cut > pos:
                if self._cur is None:
                    self._cur = _Capped()
                self._cur.add(buf[pos:cut])
                pos = cut
            break
        self._carry = buf[pos:] if pos < n else b""
        return out

    def _finish(self, last: bytes) -> tuple:
        cur, self._cur = self._cur, None
        if cur is None and len(last) <= ENTRY_CAP:
            return (STDOUT, self._ts or b"", self._ns, last, 0)
        data, dropped = (cur or _Capped()).finish(last)
        return (STDOUT, self._ts or b"", self._ns, data, dropped)

    def close(self) -> list[tuple]:
        return self.feed(b"", final=True)


# -- the stream --------------------------------------------------------------------------
class LogStream(BodyStream):
    """One open log stream of the Engine. Iterate it once, with `entries()` or
    `payload()`; it closes itself at the end, or when the consumer stops."""

    def __init__(self, wire: Iterator[bytes], *, chunked: bool, tty: bool, timestamps: bool,
                 stdout: bool = True, stderr: bool = True, container: dict | None = None,
                 source: str = "", close: Callable[[], None] | None = None,
                 details: bool = False, service: dict | None = None):
        super().__init__(wire, chunked=chunked, close=close)
        self.tty = tty
        self.timestamps = timestamps
        self.stdout, self.stderr = stdout, stderr
        self.container = container  # the container's inspect, when the gateway made one
        self.service = service  # a service's inspect, for a service's log
        self.details = details  # entries carry the task's labels (a sixth item)
        self.source = source  # what the stream is of, for messages
        self.notices: list[Notice] = []

    def _broke(self) -> str:
        return f"the engine sent a broken response for {self.source or 'a log'}"

    def body(self) -> Iterator[bytes]:
        """The response body, its chunked coding removed, in pieces as they come."""
        return self._pieces(self._broke())

    def batches(self) -> Iterator[list[tuple]]:
        """Every entry, in the engine's order (see the module's docstring), in
        lists as they come off the connection."""
        if self.details:
            for batch in self._batches():
                yield with_details(batch)
            return
        yield from self._batches()

    def _batches(self) -> Iterator[list[tuple]]:
        if self.tty:
            split = TtySplitter(self.timestamps)
            for data in self.body():
                got = split.feed(data)
                if got:
                    yield got
            yield split.close()
            return
        parser = FrameParser()
        big: dict = {}
        ts = self.timestamps
        try:
            for frames in self._frames(self._broke(), parser):
                if frames:
                    yield frame_entries(frames, ts, big)
            yield frame_entries(parser.close(), ts, big)
        finally:
            self.notices.extend(parser.notices)

    def plain_batches(self) -> Iterator[PlainBatch | list[tuple]]:
        """As batches(), but a batch of plain lines only (see PlainBatch) comes
        as one PlainBatch. A TTY's stream, or one without timestamps or with
        details, comes as batches() gives it."""
        if self.tty or self.details or not self.timestamps:
            yield from self.batches()
            return
        parser = FrameParser()
        big: dict = {}
        held: list[tuple[int, bytes]] = []
        try:
            for frames in self._frames(self._broke(), parser):
                if not frames:
                    continue
                # a batch costs the same few passes whatever its size: the
                # frames of small reads wait for those of the next ones (whole
                # frames only: a big frame's pieces are capped as they come)
                if frames[0][0] & ~STREAM_MASK or frames[-1][0] & ~STREAM_MASK:
                    if held:
                        frames, held = held + frames, []
                elif held or len(frames) < PLAIN_BATCH:
                    held.extend(frames)
                    if len(held) < PLAIN_BATCH:
                        continue
                    frames, held = held, []
                yield plain_batch(frames) or frame_entries(frames, True, big)
        except EngineError:
            if held:  # what came before the stream broke off is still the log
                yield plain_batch(held) or frame_entries(held, True, big)
            raise
        else:
            if held:
                yield plain_batch(held) or frame_entries(held, True, big)
            yield frame_entries(parser.close(), True, big)
        finally:
            self.notices.extend(parser.notices)

    def entries(self) -> Iterator[tuple]:
        """Every entry, one at a time."""
        for batch in self.batches():
            yield from batch

    def payload(self, size: int = WRITE_SIZE) -> Iterator[bytes]:
        """The chosen streams' bytes as `docker logs` prints them (a TTY's one
        stream as it came), joined into writes of about `size` bytes."""
        pending: list[bytes] = []
        held = 0
        if self.tty:
            for data in self.body():
                pending.append(data)
                held += len(data)
                if held >= size:
                    yield b"".join(pending)
                    pending, held = [], 0
        else:
            parser = FrameParser()
            want = wanted(self.stdout, self.stderr)
            try:
                for frames in self._frames(self._broke(), parser):
                    for code, piece in frames:
                        if want[code]:
                            pending.append(piece)
                            held += len(piece)
                    if held >= size:
                        yield b"".join(pending)
                        pending, held = [], 0
                for code, piece in parser.close():
                    if want[code]:
                        pending.append(piece)
            finally:
                self.notices.extend(parser.notices)
        if pending:
            yield b"".join(pending)
