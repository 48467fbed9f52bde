"""A path inside a container, as the Engine's archive endpoint describes it:
the `X-Docker-Container-Path-Stat` header (base64 JSON of the path's stat,
on HEAD and GET /containers/{id}/archive alike) and the tar stream of GET,
as bytes. `Engine.path_stat()` and `Engine.archive()` make them; the tar is
read by tarstream.TarReader.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Callable, Iterator

from .exceptions import EngineError
from .frames import BodyStream

# Go's os.FileMode type bits, as the Engine sends them in the stat's `mode`.
GO_DIR = 1 << 31
GO_SYMLINK = 1 << 27
GO_DEVICE = 1 << 26
GO_PIPE = 1 << 25
GO_SOCKET = 1 << 24
GO_SETUID = 1 << 23
GO_SETGID = 1 << 22
GO_CHARDEV = 1 << 21
GO_STICKY = 1 << 20
GO_IRREGULAR = 1 << 19

STAT_HEADER = "X-Docker-Container-Path-Stat"


@dataclass(frozen=True, slots=True)
class PathStat:
    """A path's stat as the Engine gives it. `link_target` of a symbolic link
    is where the Engine resolves it, inside the container's filesystem (an
    absolute path there), not the link's text."""

    name: str
    size: int
    mode: int  # Go's os.FileMode: type bits high, permission bits low
    mtime: str  # RFC 3339
    link_target: str = ""

    @property
    def kind(self) -> str:
        m = self.mode
        if m & GO_DIR:
            return "dir"
        if m & GO_SYMLINK:
            return "symlink"
        if m & GO_DEVICE:
            return "char" if m & GO_CHARDEV else "block"
        if m & GO_PIPE:
            return "fifo"
        if m & GO_SOCKET:
            return "socket"
        if m & GO_IRREGULAR:
            return "other"
        return "file"

    @property
    def perm(self) -> int:
        """Permission bits as in a tar header (0o7777): setuid, setgid, sticky too."""
        p = self.mode & 0o777
        if self.mode & GO_SETUID:
            p |= 0o4000
        if self.mode & GO_SETGID:
            p |= 0o2000
        if self.mode & GO_STICKY:
            p |= 0o1000
        return p

    @classmethod
    def from_header(cls, value: str | None) -> "PathStat":
        """Decode the header; an absent or malformed one is an EngineError."""
        if not value:
            raise EngineError(f"the engine sent no {STAT_HEADER} header")
        try:
            raw = json.loads(base64.b64decode(value.strip(), validate=False))
            return cls(name=str(raw.get("name") or ""), size=int(raw.get("size") or 0),
                       mode=int(raw.get("mode") or 0), mtime=str(raw.get("mtime") or ""),
                       link_target=str(raw.get("linkTarget") or ""))
        except (binascii.Error, ValueError, TypeError, AttributeError) as exc:
            raise EngineError(f"the engine sent a {STAT_HEADER} header that cannot be read: "
                              f"{value[:80]!r}") from exc


class Archive(BodyStream):
    """GET /containers/{id}/archive?path=: the path's stat and the tar of it
    (a folder: its whole subtree), as pieces of bytes with flat memory.

    Iterate it once (or hand it to a TarReader); it closes itself at the end
    or when the consumer stops (close()), and a body read to its last chunk
    leaves its connection to the pool."""

    def __init__(self, stat: PathStat, wire: Iterator[bytes], *, chunked: bool,
                 close: Callable[[bool], None], path: str = ""):
        super().__init__(wire, chunked=chunked, close=close)
        self.stat = stat
        self.path = path

    def __iter__(self) -> Iterator[bytes]:
        return self._pieces(f"the engine's archive of {self.path or 'a path'} broke off")

    def __enter__(self) -> "Archive":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
