"""Tar archives read as they stream, header by header: the gateway's one tar
reader. Pure: it takes pieces of bytes (any sizes, any split points) and
never touches a socket.

`TarReader(pieces)` yields one `TarEntry` per member, in the archive's order.
Contents are skipped without being kept (a 10 GB file costs its reading,
never its memory), unless the consumer asks for the current member's content
with `content()`, which hands it over piece by piece.

What it understands: POSIX ustar (the name prefix), pax extended headers
(per member `x` and global `g`: path, linkpath, size, uid, gid, uname, gname,
mtime), GNU long names and long link names (`L`, `K`), base-256 numbers (GNU,
for sizes over 8 GiB and negative times), both checksum conventions (unsigned
and signed bytes). Members of the header-only types (links, devices, folders,
FIFOs) have no content whatever their size field says, as Go's archive/tar
(which the Engine writes with) reads them.

A listing asks for a budget: at most `max_entries` members and `max_bytes`
bytes of the archive read. When the reader stops, `stopped` says why:

  "end"        the end-of-archive marker (or the stream ended between members)
  "entries"    the entry budget ran out and more members follow
  "bytes"      the next member (or its content) lies beyond the byte budget
  "truncated"  the stream ended inside a header or a member's content
  "malformed"  a header that is not tar (a bad checksum, a number that is not
               one, a pax record that does not parse, a meta header too large)

and `reason` says it in words. Names are decoded as UTF-8 with
surrogateescape: a name that is not UTF-8 keeps its bytes (encode it back
with `errors="surrogateescape"`), and nothing here fails on one.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from typing import Iterable, Iterator

BLOCK = 512
ZERO_BLOCK = bytes(BLOCK)
# A pax header or GNU long name bigger than this is refused (a path is at most
# 4 KB on Linux; the rest of a pax header is a handful of small records).
META_MAX = 1 << 20
# After the end marker, this much more is read so the stream ends by itself
# (the Engine sends two zero blocks; tar(1) pads to 10 KB records).
TRAILER_MAX = 20 * BLOCK

KINDS = {b"0": "file", b"\0": "file", b"7": "file", b"S": "file", b"1": "hardlink",
         b"2": "symlink", b"3": "char", b"4": "block", b"5": "dir", b"6": "fifo"}
# Types whose members never carry content (Go's isHeaderOnlyType).
HEADER_ONLY = frozenset((b"1", b"2", b"3", b"4", b"5", b"6"))
META_TYPES = frozenset((b"x", b"g", b"L", b"K", b"X"))

USTAR_MAGIC = b"ustar\x00"  # POSIX: the prefix field continues the name
GNU_MAGIC = b"ustar "  # GNU: that field holds times instead


@dataclass(slots=True)
class TarEntry:
    """One member, as its headers describe it."""

    name: str  # as in the archive (UTF-8, surrogateescape)
    kind: str  # file, dir, symlink, hardlink, char, block, fifo, other
    size: int  # content bytes (0 for the header-only types)
    mode: int  # permission bits, with setuid/setgid/sticky (& 0o7777)
    uid: int
    gid: int
    uname: str
    gname: str
    mtime: float  # seconds since the epoch
    linkname: str  # a link's target, as in the archive
    typeflag: str  # the raw type character
    devmajor: int = 0
    devminor: int = 0
    offset: int = 0  # where its (first) header starts in the archive


class _Stop(Exception):
    def __init__(self, why: str, reason: str):
        super().__init__(reason)
        self.why = why
        self.reason = reason


def _cstr(field: bytes) -> bytes:
    end = field.find(b"\0")
    return field if end < 0 else field[:end]


# name mode uid gid size mtime chksum type linkname magic version uname gname devmajor
# devminor prefix
_HEADER = struct.Struct("100s8s8s8s12s12s8sc100s6s2s32s32s8s8s155s12x")


def _number(field: bytes, what: str, at: int) -> int:
    """An octal ASCII number (NUL or space terminated), or GNU base-256."""
    if field and not field[0] & 0x80:
        try:
            return int(field.strip(b" \0") or b"0", 8)  # the usual field: digits, then NUL
        except ValueError:
            pass
    if field and field[0] & 0x80:
        if field[0] == 0xFF:  # negative, two's complement of the whole field
            return int.from_bytes(field, "big", signed=True)
        return int.from_bytes(bytes([field[0] & 0x7F]) + field[1:], "big")
    text = _cstr(field).strip(b" \0")
    if not text:
        return 0
    try:
        return int(text, 8)
    except ValueError:
        raise _Stop("malformed", f"the {what} field of the header at byte {at:,} is not a "
                                 f"number: {bytes(field)[:24]!r}") from None


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def parse_pax(data: bytes, at: int = 0) -> dict[str, str]:
    """The records of a pax extended header: `<length> <key>=<value>\\n` each,
    the length counting the whole record."""
    out: dict[str, str] = {}
    pos, n = 0, len(data)
    while pos < n:
        if data[pos] == 0:  # padding some writers leave after the records
            break
        sp = data.find(b" ", pos, pos + 24)
        if sp < 0:
            raise _Stop("malformed", f"a pax record at byte {at:,} has no length")
        try:
            length = int(data[pos:sp])
        except ValueError:
            raise _Stop("malformed", f"a pax record at byte {at:,} has a length that is not "
                                     f"a number: {data[pos:sp][:24]!r}") from None
        end = pos + length
        if length <= sp - pos + 1 or end > n or data[end - 1:end] != b"\n":
            raise _Stop("malformed", f"a pax record at byte {at:,} does not fit its length")
        key, eq, value = data[sp + 1:end - 1].partition(b"=")
        if not eq:
            raise _Stop("malformed", f"a pax record at byte {at:,} has no '='")
        out[_decode(key)] = _decode(value)
        pos = end
    return out


def _checksum_ok(block: bytes, stored: int) -> bool:
    # The sum of the header's bytes (its checksum field counted as spaces).
    # Adler-32's first half is 1 + that sum modulo 65521, in C: a header whose
    # stored checksum agrees modulo 65521 and lies in range (512 bytes sum to
    # 130,560 at most) is taken; anything else is summed exactly below.
    field = sum(block[148:156])
    if 0 <= stored <= 130_560 and (stored - (zlib.adler32(block) & 0xFFFF) + 1 + field - 256) \
            % 65521 == 0:
        return True
    base = sum(block) - field + 8 * 32
    if stored == base:
        return True
    # some old writers summed signed bytes
    signed = base - 256 * sum(1 for b in block if b > 127) + 256 * sum(
        1 for b in block[148:156] if b > 127)
    return stored == signed


class TarReader:
    """Members of a tar stream, one at a time, within a budget (see the
    module's docstring). Iterate it once."""

    def __init__(self, pieces: Iterable[bytes], *, max_entries: int | None = None,
                 max_bytes: int | None = None, meta_max: int = META_MAX):
        self._it: Iterator[bytes] = iter(pieces)
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.meta_max = meta_max
        self._buf = b""
        self._pos = 0  # read position inside _buf
        self._eof = False
        self.bytes = 0  # bytes of the archive consumed (headers, contents, padding)
        self.entries = 0  # members yielded
        self.stopped: str | None = None
        self.reason = ""
        self._left = 0  # content bytes of the current member not yet consumed
        self._pad = 0  # padding after them
        self._globals: dict[str, str] = {}
        # the same modes, owners and times come back member after member
        self._numbers: dict[bytes, int] = {}
        self._names: dict[bytes, str] = {}

    # -- bytes ---------------------------------------------------------------------
    def _fill(self) -> bool:
        """One more piece into the buffer; False at the end of the stream."""
        if self._eof:
            return False
        for piece in self._it:
            if piece:
                rest = len(self._buf) - self._pos
                self._buf = (self._buf[self._pos:] + piece) if rest else piece
                self._pos = 0
                return True
        self._eof = True
        return False

    def _take(self, n: int) -> bytes:
        """Exactly n bytes, or fewer at the end of the stream."""
        while len(self._buf) - self._pos < n and self._fill():
            pass
        got = self._buf[self._pos:self._pos + n]
        self._pos += len(got)
        self.bytes += len(got)
        return got

    def _skip(self, n: int) -> int:
        """Drop n bytes without keeping them; returns how many were there."""
        done = 0
        while done < n:
            avail = len(self._buf) - self._pos
            if avail == 0:
                if not self._fill():
                    break
                continue
            step = min(avail, n - done)
            self._pos += step
            done += step
        if self._pos == len(self._buf):
            self._buf, self._pos = b"", 0
        self.bytes += done
        return done

    def content(self, limit: int | None = None) -> Iterator[bytes]:
        """The current member's content, in pieces as they come off the
        stream, up to `limit` bytes; what is left is skipped on the next step.
        A stream that ends early sets `stopped` to "truncated"."""
        want = self._left if limit is None else min(limit, self._left)
        while want > 0:
            avail = len(self._buf) - self._pos
            if avail == 0:
                if not self._fill():
                    self._stop("truncated", f"the archive ended {self._left:,} bytes before "
                                            f"the end of a member's content")
                    return
                continue
            step = min(avail, want)
            if self._pos == 0 and step == len(self._buf):
                piece = self._buf  # the whole piece: no copy
                self._buf = b""
            else:
                piece = self._buf[self._pos:self._pos + step]
                self._pos += step
            self.bytes += step
            self._left -= step
            want -= step
            yield piece

    def _stop(self, why: str, reason: str) -> None:
        if self.stopped is None:
            self.stopped, self.reason = why, reason

    def close(self) -> None:
        """Stop reading: the stream of pieces is closed (its connection with it)."""
        close = getattr(self._it, "close", None)
        if close is not None:
            close()

    # -- members -------------------------------------------------------------------
    def __iter__(self) -> Iterator[TarEntry]:
        try:
            while self.stopped is None:
                entry = self._next()
                if entry is None:
                    break
                self.entries += 1
                yield entry
        except _Stop as stop:
            self._stop(stop.why, stop.reason)

    def _finish_member(self) -> None:
        """Skip what is left of the current member's content and padding."""
        rest = self._left + self._pad
        if not rest:
            return
        if self.max_bytes is not None and self.bytes + rest > self.max_bytes:
            raise _Stop("bytes", f"the byte budget ({self.max_bytes:,} bytes) ran out: the "
                                 f"next member starts beyond it")
        need = self._left
        got = self._skip(rest)
        self._left = self._pad = 0
        if got < need:
            raise _Stop("truncated", f"the archive ended {need - got:,} bytes before the end "
                                     f"of a member's content")

    def _next(self) -> TarEntry | None:
        self._finish_member()
        pax: dict[str, str] = {}
        long_name = long_link = None
        first_at = None
        while True:
            at = self.bytes
            if self.max_bytes is not None and at + BLOCK > self.max_bytes:
                raise _Stop("bytes", f"the byte budget ({self.max_bytes:,} bytes) ran out after "
                                     f"{self.entries:,} entries")
            block = self._take(BLOCK)
            if not block:
                self._stop("end", "the archive ended without its end marker")
                return None
            if len(block) < BLOCK:
                raise _Stop("truncated", f"the archive ended inside a header at byte {at:,}")
            if block == ZERO_BLOCK:
                self._stop("end", "the end of the archive")
                self._skip(TRAILER_MAX)  # the rest is zero padding: let the stream end
                if len(self._buf) - self._pos == 0:
                    self._fill()
                return None
            if first_at is None:
                first_at = at
            fields = _HEADER.unpack(block)
            stored = _number(fields[6], "checksum", at)
            if not _checksum_ok(block, stored):
                raise _Stop("malformed", f"the header at byte {at:,} has a bad checksum: this "
                                         f"is not a tar archive, or it is damaged")
            typeflag = fields[7]
            size = _number(fields[4], "size", at)
            if size < 0:
                raise _Stop("malformed", f"the header at byte {at:,} has a negative size")
            if typeflag in META_TYPES:
                if size > self.meta_max:
                    raise _Stop("malformed", f"a {typeflag.decode()!r} header of {size:,} bytes at "
                                             f"byte {at:,} is beyond the {self.meta_max:,} allowed")
                data = self._take(size)
                if len(data) < size:
                    raise _Stop("truncated", f"the archive ended inside a header at byte {at:,}")
                self._skip(-size % BLOCK)
                if typeflag in (b"x", b"X"):
                    pax.update(parse_pax(data, at))
                elif typeflag == b"g":
                    self._globals.update(parse_pax(data, at))
                elif typeflag == b"L":
                    long_name = _cstr(data)
                else:
                    long_link = _cstr(data)
                continue
            if self.max_entries is not None and self.entries >= self.max_entries:
                raise _Stop("entries", f"the entry budget ({self.max_entries:,} entries) ran out; "
                                       f"more follow")
            if self._globals:
                pax = {**self._globals, **pax}
            return self._entry(fields, typeflag, size, pax, long_name, long_link, first_at)

    def _entry(self, fields: tuple, typeflag: bytes, size: int, pax: dict, long_name, long_link,
               at: int) -> TarEntry:
        (name, mode, uid, gid, _size, mtime, _sum, _type, linkname, magic, _version, uname,
         gname, devmajor, devminor, prefix) = fields
        name = _cstr(name)
        if magic == USTAR_MAGIC and prefix[0]:
            name = _cstr(prefix) + b"/" + name
        if long_name is not None:
            name = long_name
        linkname = long_link if long_link is not None else _cstr(linkname)
        ustar = magic == USTAR_MAGIC or magic == GNU_MAGIC
        numbers, names = self._numbers, self._names
        if len(numbers) > 4096:
            numbers.clear()
            names.clear()
        m = numbers.get(mode)
        if m is None:
            m = numbers[mode] = _number(mode, "mode", at) & 0o7777
        u = numbers.get(uid)
        if u is None:
            u = numbers[uid] = _number(uid, "uid", at)
        g = numbers.get(gid)
        if g is None:
            g = numbers[gid] = _number(gid, "gid", at)
        t = numbers.get(mtime)
        if t is None:
            t = numbers[mtime] = _number(mtime, "mtime", at)
        if ustar:
            un = names.get(uname)
            if un is None:
                un = names[uname] = _decode(_cstr(uname))
            gn = names.get(gname)
            if gn is None:
                gn = names[gname] = _decode(_cstr(gname))
        else:
            un = gn = ""
        entry = TarEntry(
            name=pax.get("path") or name.decode("utf-8", "surrogateescape"),
            kind=KINDS.get(typeflag, "other"),
            size=size,
            mode=m,
            uid=u,
            gid=g,
            uname=un,
            gname=gn,
            mtime=float(t),
            linkname=pax.get("linkpath") or (_decode(linkname) if linkname else ""),
            typeflag=typeflag.decode("latin-1"),
            devmajor=_number(devmajor, "devmajor", at) if ustar and devmajor[0] else 0,
            devminor=_number(devminor, "devminor", at) if ustar and devminor[0] else 0,
            offset=at,
        )
        if typeflag in (b"0", b"\0") and entry.name.endswith("/"):  # old tars: a folder
            entry.kind = "dir"
        if pax:
            self._apply_pax(entry, pax, at)
        if typeflag in HEADER_ONLY:
            entry.size = 0
        self._left = entry.size
        self._pad = -entry.size % BLOCK
        return entry

    @staticmethod
    def _apply_pax(entry: TarEntry, pax: dict, at: int) -> None:
        for key in ("uid", "gid", "size"):
            if key in pax:
                try:
                    setattr(entry, key, int(pax[key]))
                except ValueError:
                    raise _Stop("malformed", f"the pax {key} of the member at byte {at:,} is "
                                             f"not a number: {pax[key][:24]!r}") from None
        for key in ("uname", "gname"):
            if key in pax:
                setattr(entry, key, pax[key])
        if "mtime" in pax:
            try:
                entry.mtime = float(pax["mtime"])
            except ValueError:
                raise _Stop("malformed", f"the pax mtime of the member at byte {at:,} is not a "
                                         f"time: {pax['mtime'][:24]!r}") from None
        if entry.size < 0:
            raise _Stop("malformed", f"the member at byte {at:,} has a negative size")


def read_all(pieces: Iterable[bytes], **budget) -> tuple[list[TarEntry], TarReader]:
    """Every member (within the budget) and the reader, which says why it stopped."""
    reader = TarReader(pieces, **budget)
    return list(reader), reader
