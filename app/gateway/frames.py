"""The Engine's byte formats for log and attach streams. Pure, no I/O.

Without a TTY the Engine multiplexes stdout and stderr into one byte stream of
frames, each an 8-byte header and a payload:

    [stream, 0, 0, 0, size (4 bytes, big-endian)] payload[size]

stream is 0 (stdin, shown as stdout), 1 (stdout) or 2 (stderr); newer engines
also send 3 (an error of the engine itself, its payload a message). HTTP
chunks do not line up with frames: a frame may be split anywhere, even inside
its header, and a chunk may hold many frames. A container with a TTY sends one
raw stream and no headers: whether to demultiplex is decided from the
container's Config.Tty (app/gateway/logstream.py), never from Content-Type.

Two pieces, both incremental (bytes in any chunking):
- `Dechunker`: HTTP/1.1 chunked transfer coding -> the body bytes.
- `FrameParser`: the body of a multiplexed stream -> frames. This is the only
  place in Periscope that reads a frame header.

Faults never raise and never lose bytes silently: a truncated last frame or an
impossible header (stream above 3, non-zero padding) becomes a `Notice`; after
an impossible header the rest of the stream is passed on as raw stdout bytes,
since no frame boundary can be trusted any more.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from itertools import repeat
from operator import itemgetter, sub
from typing import Callable, Iterator

from .exceptions import EngineError

STDIN, STDOUT, STDERR, SYSTEMERR = 0, 1, 2, 3
HEADER_SIZE = 8
STREAM_NAMES = {STDIN: "stdin", STDOUT: "stdout", STDERR: "stderr", SYSTEMERR: "engine"}

# A frame up to this size is handed out whole; a bigger one (never seen from a
# log driver, which cuts messages at 16 KB, but a stream may announce 4 GB) is
# handed out in pieces as its bytes arrive, so memory stays flat.
BIG_FRAME = 1 << 20
# Piece flags, or'ed into the stream number of what FrameParser.feed returns.
WHOLE, FIRST, MIDDLE, LAST = 0x00, 0x10, 0x20, 0x30
STREAM_MASK = 0x0F

_HEADER = struct.Struct(">II").unpack_from
_PLAIN_WORDS = frozenset((STDIN << 24, STDOUT << 24, STDERR << 24))


@dataclass(frozen=True)
class Notice:
    """Something wrong in the stream, to be shown to the user."""

    kind: str  # "truncated" | "bad-header" | "engine-error" | "broken"
    message: str
    offset: int  # byte offset in the multiplexed stream where it was found


def wanted(stdout: bool = True, stderr: bool = True) -> tuple[bool, ...]:
    """A lookup table, indexed by the codes FrameParser hands out (stream and
    piece flags together), saying whether a piece belongs to a chosen stream."""
    streams = {STDIN: stdout, STDOUT: stdout, STDERR: stderr}
    return tuple(streams.get(code & STREAM_MASK, False) for code in range(64))


# A read of this many bytes or more is first tried the C-speed way below.
_SPLIT_AT = 2048
_HEAD = itemgetter(slice(0, 8))
_PAYLOAD = itemgetter(slice(8, None))
_GOOD_HEADS = frozenset((s << 56) - HEADER_SIZE for s in (STDIN, STDOUT, STDERR))


def _split_chunk_frames(data: bytes) -> tuple[list[tuple[int, bytes]], int, int] | None:
    """The leading run of `data` (starting at a chunk's size line) in which
    every chunk is one whole frame of stdin, stdout or stderr, read without
    Python per frame: split on CRLF, a chunk's body is the piece after its
    size line exactly when the size line's number is that piece's length (a
    body holding a CRLF makes a shorter piece: the run ends before it), then
    the frames' headers checked all at once against those lengths. Returns
    (frames, bytes of `data` read, body bytes), or None when nothing could be
    read this way (feed_chunked's loop reads it; it reads what is after the
    run too: a cut chunk, the last chunk, any fault)."""
    parts = data.split(b"\r\n")
    k = (len(parts) - 1) // 2  # size lines whose chunk's CRLF came
    if k < 2:
        return None
    sizes, bodies = parts[0:2 * k:2], parts[1:2 * k:2]
    lens = list(map(len, bodies))
    try:
        said = list(map(int, sizes, repeat(16)))
    except ValueError:  # past a body holding a CRLF, or a size line the loop refuses
        said = []
        for line in sizes:
            try:
                said.append(int(line, 16))
            except ValueError:
                break
    if said != lens or min(lens) < HEADER_SIZE:
        k = next((i for i, (a, b) in enumerate(zip(said, lens)) if a != b or b < HEADER_SIZE),
                 len(said))
        if k < 2:
            return None
        del sizes[k:], bodies[k:], lens[k:]
    heads = b"".join(map(_HEAD, bodies))
    # a header read as one big-endian 64-bit number is stream << 56 | length,
    # so minus its chunk's size it is one of three numbers for every good frame
    if not _GOOD_HEADS.issuperset(map(sub, struct.unpack(f">{k}Q", heads), lens)):
        return None  # the engine's error frame, an impossible header: the loop says
    frames = list(zip(heads[0::8].replace(b"\x00", b"\x01"), map(_PAYLOAD, bodies)))
    body = sum(lens)
    return frames, body + sum(map(len, sizes)) + 4 * k, body


class FrameParser:
    """The body of a multiplexed stream, in any chunking -> frames.

    `feed(data)` returns a list of (code, payload): code is the stream (stdin
    already shown as stdout) or'ed with WHOLE for a whole frame, or with
    FIRST / MIDDLE / LAST for the pieces of a frame over BIG_FRAME. Frames of
    the engine's own error stream become notices. `close()` reports a
    truncated last frame and returns what of it came."""

    __slots__ = ("_buf", "_base", "_left", "_code", "raw", "frames", "notices", "closed",
                 "_err_pieces")

    def __init__(self) -> None:
        self._buf = b""  # an unfinished frame (or header) carried to the next feed
        self._base = 0  # stream offset of _buf[0]
        self._left = 0  # bytes still to come of a big frame being handed out
        self._code = STDOUT
        self.raw = False  # an impossible header was met: the rest is raw stdout
        self.frames = 0  # frames whose header was read
        self.notices: list[Notice] = []
        self.closed = False
        self._err_pieces: list[bytes] | None = None

    @property
    def offset(self) -> int:
        """Bytes of the stream consumed so far (held ones included)."""
        return self._base + len(self._buf)

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        out: list[tuple[int, bytes]] = []
        if not data:
            return out
        if self.raw:
            self._base += len(data)
            out.append((STDOUT, bytes(data)))
            return out
        buf = self._buf + data if self._buf else data
        n = len(buf)
        pos = 0
        if self._left:  # the rest of a big frame
            take = self._left if self._left <= n else n
            self._left -= take
            self._piece(out, buf[:take], LAST if not self._left else MIDDLE)
            pos = take
        append = out.append
        header = _HEADER
        plain = _PLAIN_WORDS
        count = 0
        while n - pos >= HEADER_SIZE and not self._left:
            word, size = header(buf, pos)
            if word not in plain:
                if word != SYSTEMERR << 24:
                    self._bad_header(out, buf, pos)
                    self.frames += count
                    return out
                count += 1
                end = pos + HEADER_SIZE + size
                if end <= n:
                    self._engine_error(buf[pos + HEADER_SIZE:end], self._base + pos)
                    pos = end
                    continue
                if size <= BIG_FRAME:
                    count -= 1  # read again, whole, at the next feed
                    break
                self._code = SYSTEMERR
                self._err_pieces = [buf[pos + HEADER_SIZE:]]
                self._left = end - n
                pos = n
                break
            end = pos + HEADER_SIZE + size
            if end > n:
                if size > BIG_FRAME:  # hand out what came; the rest as it arrives
                    count += 1
                    self._code = (word >> 24) or STDOUT
                    self._left = end - n
                    append((self._code | FIRST, buf[pos + HEADER_SIZE:]))
                    pos = n
                break
            count += 1
            append(((word >> 24) or STDOUT, buf[pos + HEADER_SIZE:end]))
            pos = end
        self.frames += count
        self._base += pos
        self._buf = buf[pos:] if pos < n else b""
        return out

    def feed_chunked(self, data: bytes, d: "Dechunker") -> list[tuple[int, bytes]]:
        """Bytes of an HTTP/1.1 chunked body off the wire -> frames, as
        `self.feed(d.feed(data))` gives them. The engine writes each frame of a
        log as one chunk: while the chunks come that way (a chunk, all here,
        holding exactly one whole frame), both are read in one pass, the
        chunk's size line and the frame's header together; whatever else (a
        chunk cut by the read, several frames in one, the last chunk, a fault)
        goes the way of the two readers, from where this pass stopped."""
        out: list[tuple[int, bytes]] = []
        pos = 0
        if (not self._buf and not self._left and not self.raw and self._err_pieces is None
                and not d._buf and not d._left and not d.done):
            n = len(data)
            find = data.find
            starts = data.startswith
            header = _HEADER
            plain = _PLAIN_WORDS
            count = body = 0
            if n >= _SPLIT_AT:
                got = _split_chunk_frames(data)
                if got is not None:
                    out, pos, body = got
                    count = len(out)
            append = out.append
            while True:
                eol = find(b"\r\n", pos)
                if eol < 0:
                    break
                try:
                    size = int(data[pos:eol], 16)
                except ValueError:
                    break
                start = eol + 2
                end = start + size
                if size < HEADER_SIZE or end + 2 > n or not starts(b"\r\n", end):
                    break
                word, length = header(data, start)
                if word not in plain or length != size - HEADER_SIZE:
                    break
                append(((word >> 24) or STDOUT, data[start + HEADER_SIZE:end]))
                count += 1
                body += size
                pos = end + 2
            self.frames += count
            self._base += body
            d.fed += body
        if pos < len(data):
            out.extend(self.feed(d.feed(data[pos:] if pos else data)))
        return out

    def _piece(self, out: list, piece: bytes, flag: int) -> None:
        if self._code == SYSTEMERR:
            if sum(map(len, self._err_pieces)) < 4096:  # a message, not a payload
                self._err_pieces.append(piece[:4096])
            if flag == LAST:
                at = self._base
                self._engine_error(b"".join(self._err_pieces)[:4096], at)
                self._err_pieces = None
            return
        out.append((self._code | flag, piece))

    def _engine_error(self, payload: bytes, at: int) -> None:
        self.notices.append(Notice("engine-error", "the engine reported an error: "
                                   + payload.decode("utf-8", "replace").strip()[:2000], at))

    def _bad_header(self, out: list, buf: bytes, pos: int) -> None:
        at = self._base + pos
        self.raw = True
        self.notices.append(Notice(
            "bad-header",
            f"impossible frame header {bytes(buf[pos:pos + HEADER_SIZE]).hex(' ')} at byte "
            f"{at:,}: the rest of the log is shown as it came, undemultiplexed", at))
        out.append((STDOUT, bytes(buf[pos:])))
        self._base += len(buf)
        self._buf = b""

    def close(self) -> list[tuple[int, bytes]]:
        """End of stream: the partial last frame (if any), with a notice."""
        out: list[tuple[int, bytes]] = []
        if self.closed:
            return out
        self.closed = True
        if self._left:
            self.notices.append(Notice(
                "truncated", f"the last frame was cut short: {self._left:,} bytes of its "
                             f"payload never came", self.offset))
            self._left = 0
            self._piece(out, b"", LAST)
            return out
        buf = self._buf
        if not buf or self.raw:
            return out
        self._buf = b""
        if len(buf) < HEADER_SIZE:
            self.notices.append(Notice(
                "truncated", f"the log ended inside a frame header ({len(buf)} of 8 "
                             f"bytes): {bytes(buf).hex(' ')}", self._base))
            return out
        word, size = _HEADER(buf, 0)
        missing = HEADER_SIZE + size - len(buf)
        self.notices.append(Notice(
            "truncated", f"the last frame was cut short: {missing:,} bytes of its payload "
                         f"never came", self._base + len(buf)))
        self.frames += 1
        if word >> 24 == SYSTEMERR:
            self._engine_error(bytes(buf[HEADER_SIZE:]), self._base)
        else:
            out.append(((word >> 24) or STDOUT, bytes(buf[HEADER_SIZE:])))
        self._base += len(buf)
        return out


def joined(pieces: list[tuple[int, bytes]]) -> list[tuple[int, bytes]]:
    """FrameParser's output as (stream, payload) pairs, each big frame's
    pieces joined into one payload (tests, small logs)."""
    out: list[tuple[int, bytes]] = []
    pending: list[bytes] = []
    for code, piece in pieces:
        flag = code & ~STREAM_MASK
        if flag == WHOLE:
            out.append((code, piece))
        elif flag == LAST:
            out.append((code & STREAM_MASK, b"".join(pending) + piece))
            pending = []
        else:
            pending.append(piece)
    return out


def demux_all(data: bytes) -> tuple[list[tuple[int, bytes]], list[Notice]]:
    """The whole of a multiplexed byte string at once (tests, small logs)."""
    p = FrameParser()
    return joined(p.feed(data) + p.close()), p.notices


def mux(stream: int, payload: bytes) -> bytes:
    """One frame, as the Engine writes it (tests and fakes)."""
    return bytes([stream, 0, 0, 0]) + len(payload).to_bytes(4, "big") + payload


class Dechunker:
    """HTTP/1.1 chunked transfer decoding, incremental and pure: bytes off the
    socket in any chunking -> the body bytes, joined per feed.

    The engine flushes every log frame as its own HTTP chunk (a 100 MB log of
    short lines is over a million chunks); http.client decodes them one by one
    at several Python calls each. This loop does the same work at a fraction
    of the cost, so the download keeps up with the engine."""

    __slots__ = ("_buf", "_left", "done", "error", "clean", "fed")

    def __init__(self) -> None:
        self.fed = 0  # body bytes read past by FrameParser.feed_chunked
        self._buf = b""
        self._left = 0  # >0: body bytes of the current chunk still to come; -1: its CRLF
        self.done = False
        self.error: str | None = None
        self.clean = False  # ended at its last chunk with nothing after it

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
                if not buf.startswith(b"\r\n", pos):
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
                size = int(line, 16)
            except ValueError:  # with an extension (;name=value), which the engine sends none of
                try:
                    size = int(line.split(b";", 1)[0], 16)
                except ValueError:
                    self.error = f"malformed chunk size line: {line[:40]!r}"
                    self.done = True
                    break
            if size <= 0:
                if size < 0:  # int() reads a sign; no chunk size has one
                    self.error = f"malformed chunk size line: {line[:40]!r}"
                    self.done = True
                    break
                # the last chunk, and no trailers (the engine sends none)
                self.done = True
                self.clean = buf[eol + 2:eol + 4] == b"\r\n" and n == eol + 4
                pos = n
                break
            pos = eol + 2
            left = size
        self._left = left
        self._buf = buf[pos:] if pos < n else b""
        body = b"".join(out)
        self.fed += len(body)
        return body


class BrokenBody(Exception):
    """A chunked body that broke off or broke its coding (the caller words it)."""


class Body:
    """A response body off the wire (an iterable of the socket's bytes), its
    chunked coding removed when it has one, in pieces as they come. `clean`
    once it ended at its last chunk with nothing after (the connection may
    then be used again)."""

    def __init__(self, wire, chunked: bool):
        self.wire = wire
        self.chunked = chunked
        self.clean = False

    def __iter__(self):
        if not self.chunked:
            yield from self.wire
            return
        d = Dechunker()
        for data in self.wire:
            body = d.feed(data)
            if body:
                yield body
            if d.done:
                break
        if d.error or not d.done:
            raise BrokenBody(d.error or "it ended before its last chunk")
        self.clean = d.clean

    def frames(self, parser: "FrameParser") -> Iterator[list[tuple[int, bytes]]]:
        """The frames of a multiplexed body as they come, read by `parser`
        (FrameParser.feed_chunked when chunked: the chunks and the frames in
        one pass); `body_bytes` counts the body read."""
        self.body_bytes = 0
        if not self.chunked:
            for data in self.wire:
                self.body_bytes += len(data)
                yield parser.feed(data)
            return
        d = Dechunker()
        for data in self.wire:
            yield parser.feed_chunked(data, d)
            self.body_bytes = d.fed
            if d.done:
                break
        if d.error or not d.done:
            raise BrokenBody(d.error or "it ended before its last chunk")
        self.clean = d.clean


class BodyStream:
    """An open Engine response whose body is read once (a log, an archive):
    its bytes counted as they come, and its connection closed at the end,
    kept for the pool when the body ended clean. Subclasses say what it is."""

    def __init__(self, wire, *, chunked: bool, close: Callable | None = None):
        self._wire = wire
        self.chunked = chunked
        self._close = close
        self.bytes = 0  # body bytes read

    def close(self, clean: bool = False) -> None:
        """Done with it; `clean` (the body read to its end, nothing beyond)
        lets the gateway keep the connection."""
        if self._close is not None:
            close, self._close = self._close, None
            try:
                close(clean)
            except TypeError:  # a close() that takes no argument (tests, fakes)
                close()

    def _frames(self, broke: str, parser: "FrameParser") -> Iterator[list[tuple[int, bytes]]]:
        """The body's frames as they come (Body.frames), as _pieces gives its bytes."""
        body = Body(self._wire, self.chunked)
        try:
            for frames in body.frames(parser):
                self.bytes = body.body_bytes
                yield frames
        except BrokenBody as exc:
            raise EngineError(f"{broke}: {exc}") from None
        finally:
            self.bytes = getattr(body, "body_bytes", self.bytes)
            self.close(body.clean)

    def _pieces(self, broke: str) -> Iterator[bytes]:
        """The body in pieces; one that breaks off is an EngineError starting
        with `broke`."""
        body = Body(self._wire, self.chunked)
        try:
            for piece in body:
                self.bytes += len(piece)
                yield piece
        except BrokenBody as exc:
            raise EngineError(f"{broke}: {exc}") from None
        finally:
            self.close(body.clean)

