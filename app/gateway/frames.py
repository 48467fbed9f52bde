"""Demultiplexing the Engine's log (and attach) streams. Pure functions, no I/O.

Without a TTY the Engine multiplexes stdout and stderr into one byte stream of
frames, each an 8-byte header and a payload:

    [stream, 0, 0, 0, size (4 bytes, big-endian)] payload[size]

stream is 0 (stdin, shown as stdout), 1 (stdout) or 2 (stderr); newer engines
also send 3 (an error of the engine itself, its payload a message). HTTP
chunks do not line up with frames: a frame may be split anywhere, even inside
its header, and a chunk may hold many frames. A container with a TTY sends one
raw stream and no headers: whether to demultiplex is decided by the caller
from the container's Config.Tty, never from the Content-Type header.

Three consumers:
- `Demuxer`: bytes in any chunking -> whole frames (stream, payload).
- `PayloadFilter`: bytes in -> the payload bytes of the chosen streams, as they
  arrive, never holding a whole frame (the download: memory stays flat
  whatever a frame's announced size).
- `LineAssembler`: frames -> lines, assembled per stream across frames (a frame
  may hold part of a line or many lines), with a cap on the bytes kept per line.

Faults never raise and never lose bytes silently: a truncated last frame or an
impossible header (stream above 3, non-zero padding) becomes a `Notice`; after
an impossible header the rest of the stream is passed on as raw stdout bytes,
since no frame boundary can be trusted any more.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

STDIN, STDOUT, STDERR, SYSTEMERR = 0, 1, 2, 3
HEADER_SIZE = 8
STREAM_NAMES = {STDIN: "stdin", STDOUT: "stdout", STDERR: "stderr", SYSTEMERR: "engine"}


@dataclass(frozen=True)
class Notice:
    """Something wrong in the stream, to be shown to the user."""

    kind: str  # "truncated" | "bad-header" | "engine-error"
    message: str
    offset: int  # byte offset in the multiplexed stream where it was found


class _Splitter:
    """The frame parser shared by Demuxer and PayloadFilter.

    `_parse(data, emit)` calls emit(stream, piece, starts_frame, ends_frame)
    for every payload piece found in `data`, keeping the state (a partial
    header, the bytes left in the current frame) between calls."""

    def __init__(self) -> None:
        self._hdr = b""  # a header split across chunks
        self._stream = STDOUT
        self._left = 0  # payload bytes still to come for the current frame
        self._started = False  # the current frame has emitted its first piece
        self._in_frame = False
        self.raw = False  # an impossible header was met: the rest is raw stdout
        self.offset = 0  # bytes consumed so far
        self.frames = 0  # frames whose header was read
        self.notices: list[Notice] = []
        self.closed = False

    def _bad_header(self, header: bytes, at: int) -> None:
        self.raw = True
        self.notices.append(Notice(
            "bad-header",
            f"impossible frame header {header.hex(' ')} at byte {at:,}: the rest of the log is "
            f"shown as it came, undemultiplexed", at))

    def _parse(self, data, emit) -> None:
        n = len(data)
        if not n:
            return
        mv = memoryview(data)
        pos = 0
        base = self.offset
        self.offset += n
        if self.raw:
            emit(STDOUT, bytes(mv), True, True)
            return
        while pos < n:
            left = self._left
            if self._in_frame:
                take = left if left <= n - pos else n - pos
                end = take == left
                emit(self._stream, bytes(mv[pos:pos + take]), not self._started, end)
                self._started = True
                pos += take
                self._left = left - take
                if end:
                    self._in_frame = False
                continue
            # a header
            if self._hdr or n - pos < HEADER_SIZE:
                need = HEADER_SIZE - len(self._hdr)
                self._hdr += bytes(mv[pos:pos + need])
                pos += min(need, n - pos)
                if len(self._hdr) < HEADER_SIZE:
                    return
                header = self._hdr
                self._hdr = b""
                hdr_at = base + pos - HEADER_SIZE
            else:
                header = mv[pos:pos + HEADER_SIZE]
                hdr_at = base + pos
                pos += HEADER_SIZE
            stream = header[0]
            if stream > SYSTEMERR or header[1] or header[2] or header[3]:
                self._bad_header(bytes(header), hdr_at)
                rest = bytes(header) + bytes(mv[pos:])
                emit(STDOUT, rest, True, True)
                return
            size = int.from_bytes(header[4:8], "big")
            self.frames += 1
            self._stream = stream
            if size == 0:
                emit(stream, b"", True, True)
                continue
            self._left = size
            self._in_frame = True
            self._started = False

    def _close(self, emit) -> None:
        if self.closed:
            return
        self.closed = True
        if self._hdr:
            self.notices.append(Notice(
                "truncated", f"the log ended inside a frame header ({len(self._hdr)} of 8 "
                             f"bytes): {self._hdr.hex(' ')}", self.offset - len(self._hdr)))
            self._hdr = b""
        if self._in_frame:
            self.notices.append(Notice(
                "truncated", f"the last frame was cut short: {self._left:,} bytes of its "
                             f"payload never came", self.offset))
            emit(self._stream, b"", not self._started, True)
            self._in_frame = False


class Demuxer(_Splitter):
    """Bytes in any chunking -> whole frames (stream, payload).

    Stream 0 (stdin) is reported as stdout. Frames of stream 3 (the engine's
    own error) become notices. `close()` reports a truncated last frame and
    returns what of it came."""

    def __init__(self) -> None:
        super().__init__()
        self._pieces: list[bytes] = []
        self._out: list[tuple[int, bytes]] = []

    def _emit(self, stream: int, piece: bytes, start: bool, end: bool) -> None:
        if start and end:
            whole = piece
        else:
            self._pieces.append(piece)
            if not end:
                return
            whole = b"".join(self._pieces)
            self._pieces = []
        if stream == SYSTEMERR:
            self.notices.append(Notice("engine-error", "the engine reported an error: "
                                       + whole.decode("utf-8", "replace").strip(), self.offset))
            return
        self._out.append((STDOUT if stream == STDIN else stream, whole))

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        self._parse(data, self._emit)
        out, self._out = self._out, []
        return out

    def close(self) -> list[tuple[int, bytes]]:
        """End of stream: the partial last frame (if any), with a notice."""
        self._close(self._emit)
        out, self._out = self._out, []
        return out


class PayloadFilter(_Splitter):
    """Bytes in -> the payload bytes of the wanted streams, as soon as they
    arrive (a frame is never held whole). stdin frames count as stdout, as the
    docker CLI prints them."""

    def __init__(self, stdout: bool = True, stderr: bool = True) -> None:
        super().__init__()
        self._want = (stdout, stdout, stderr, False)
        self._buf: list[bytes] = []

    def _emit(self, stream: int, piece: bytes, start: bool, end: bool) -> None:
        if self._want[stream] and piece:
            self._buf.append(piece)

    def feed(self, data: bytes) -> bytes:
        self._parse(data, self._emit)
        out = b"".join(self._buf)
        self._buf = []
        return out

    def close(self) -> bytes:
        self._close(self._emit)
        out = b"".join(self._buf)
        self._buf = []
        return out


def demux_all(data: bytes) -> tuple[list[tuple[int, bytes]], list[Notice]]:
    """The whole of a multiplexed byte string at once (tests, small logs)."""
    d = Demuxer()
    frames = d.feed(data) + d.close()
    return frames, d.notices


def mux(stream: int, payload: bytes) -> bytes:
    """One frame, as the Engine writes it (tests and fakes)."""
    return bytes([stream, 0, 0, 0]) + len(payload).to_bytes(4, "big") + payload


@dataclass
class Line:
    stream: int
    data: bytes  # without its newline; at most `max_line` bytes kept
    tag: object = None  # what the caller attached to the piece that began the line
    dropped: int = 0  # bytes beyond max_line not kept
    newline: bool = True  # False for a last line the stream ended without a newline

    @property
    def size(self) -> int:
        return len(self.data) + self.dropped


class LineAssembler:
    """Frames -> lines, per stream: a stdout line split over three frames with
    a stderr frame between them comes out whole, once its newline arrives.

    Lines come out in the order they are completed. At most `max_line` bytes
    of one line are kept; the rest is counted in `Line.dropped`."""

    def __init__(self, max_line: int | None = None) -> None:
        self.max_line = max_line
        self._pending: dict[int, list] = {}  # stream -> [pieces, kept, dropped, tag]

    def feed(self, stream: int, payload: bytes, tag: object = None) -> list[Line]:
        out: list[Line] = []
        if stream == STDIN:
            stream = STDOUT
        start = 0
        n = len(payload)
        cap = self.max_line
        while start < n:
            nl = payload.find(b"\n", start)
            piece = payload[start:] if nl < 0 else payload[start:nl]
            pend = self._pending.get(stream)
            if pend is None:
                if nl >= 0 and (cap is None or len(piece) <= cap):
                    out.append(Line(stream, piece, tag))  # the common case: one whole line
                    start = nl + 1
                    continue
                pend = self._pending[stream] = [[], 0, 0, tag]
            if piece:
                room = len(piece) if cap is None else max(0, cap - pend[1])
                if room >= len(piece):
                    pend[0].append(piece)
                    pend[1] += len(piece)
                else:
                    if room:
                        pend[0].append(piece[:room])
                        pend[1] += room
                    pend[2] += len(piece) - room
            if nl < 0:
                break
            del self._pending[stream]
            out.append(Line(stream, b"".join(pend[0]), pend[3], pend[2]))
            start = nl + 1
        return out

    def flush(self) -> list[Line]:
        """End of stream: each stream's unfinished last line (no newline)."""
        out = [Line(s, b"".join(p[0]), p[3], p[2], newline=False)
               for s, p in sorted(self._pending.items())]
        self._pending.clear()
        return out


class Dechunker:
    """HTTP/1.1 chunked transfer decoding, incremental and pure: bytes off the
    socket in any chunking -> the body bytes, joined per feed.

    The engine flushes every log frame as its own HTTP chunk (a 100 MB log of
    short lines is over a million chunks); http.client decodes them one by one
    at several Python calls each. This loop does the same work at a fraction
    of the cost, so the download keeps up with the engine."""

    def __init__(self) -> None:
        self._buf = b""
        self._left = 0  # >0: body bytes of the current chunk still to come; -1: its CRLF
        self.done = False
        self.error: str | None = None

    def feed(self, data: bytes) -> bytes:
        if self.done:
            return b""
        buf = self._buf + data if self._buf else data
        n = len(buf)
        pos = 0
        left = self._left
        out = []
        append = out.append
        find = buf.find
        while True:
            if left > 0:
                if pos >= n:
                    break
                end = pos + left
                if end <= n:
                    append(buf[pos:end])
                    pos = end
                    left = -1
                else:
                    append(buf[pos:])
                    left -= n - pos
                    pos = n
                    break
            if left == -1:
                if n - pos < 2:
                    break
                if buf[pos:pos + 2] != b"\r\n":
                    self.error = f"malformed chunked body at a chunk end: {buf[pos:pos + 8]!r}"
                    self.done = True
                    break
                pos += 2
                left = 0
            eol = find(b"\r\n", pos)
            if eol < 0:
                if n - pos > 1024:
                    self.error = "malformed chunked body: no chunk size line"
                    self.done = True
                break
            line = buf[pos:eol]
            try:
                size = int(line.split(b";", 1)[0], 16)
            except ValueError:
                self.error = f"malformed chunk size line: {line[:40]!r}"
                self.done = True
                break
            if size == 0:  # the last chunk; trailers (none from the engine) are ignored
                self.done = True
                pos = n
                break
            pos = eol + 2
            left = size
        self._left = left
        self._buf = buf[pos:] if pos < n else b""
        return b"".join(out)


_unpack_header = struct.Struct(">II").unpack_from


class ChunkedPayloadFilter:
    """The wire bytes of a chunked logs response -> the payload bytes of the
    wanted streams: `Dechunker` then `PayloadFilter`, with a fast path for the
    usual shape, one whole frame per HTTP chunk, handled in one step.

    Anything else (a frame split over chunks, a bad header, the last chunk)
    goes through the general pair, and the fast path resumes at the next
    boundary where both are idle. The result is the same either way."""

    def __init__(self, stdout: bool = True, stderr: bool = True) -> None:
        self.dechunker = Dechunker()
        self.frames = PayloadFilter(stdout, stderr)
        self._want = (stdout, stdout, stderr, False)
        self._buf = b""

    @property
    def notices(self) -> list[Notice]:
        return self.frames.notices

    def _idle(self) -> bool:
        d, f = self.dechunker, self.frames
        return (not d.done and d._left == 0 and not d._buf and not f._in_frame and not f._hdr
                and not f.raw)

    def feed(self, data: bytes) -> bytes:
        if not self._idle():
            body = self.dechunker.feed(data)
            return self.frames.feed(body) if body else b""
        buf = self._buf + data if self._buf else data
        self._buf = b""
        n = len(buf)
        pos = 0
        out = []
        append = out.append
        find = buf.find
        want = self._want
        frames = self.frames
        count = 0
        size_total = 0
        while True:
            eol = find(b"\r\n", pos, pos + 18)
            if eol < 0:
                break
            try:
                size = int(buf[pos:eol], 16)
            except ValueError:
                break
            start = eol + 2
            end = start + size
            if end + 2 > n:
                if size < 8 or n - pos > 1 << 20:
                    break
                # an incomplete chunk at the end of this read: wait for the rest
                self._buf = buf[pos:]
                pos = n
                break
            if size < 8 or buf[end:end + 2] != b"\r\n":
                break
            word, fsize = _unpack_header(buf, start)
            stream = word >> 24
            if word & 0xFFFFFF or stream > 2 or fsize != size - 8:
                break
            if want[stream]:
                append(buf[start + 8:end])
            count += 1
            size_total += size
            pos = end + 2
        frames.frames += count
        frames.offset += size_total
        if pos < n:  # the general path for the rest
            body = self.dechunker.feed(buf[pos:])
            if body:
                append(frames.feed(body))
        return b"".join(out)

    def close(self) -> bytes:
        out = b""
        if self._buf:
            body = self.dechunker.feed(self._buf)
            self._buf = b""
            out = self.frames.feed(body) if body else b""
        if not self.dechunker.done and not self.dechunker.error:
            self.dechunker.error = "the response ended before its last chunk"
        return out + self.frames.close()
