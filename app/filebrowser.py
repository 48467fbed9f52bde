"""What the file pages read from a container's filesystem, apart from Flask.

Everything goes through one Engine call, GET /containers/{id}/archive: its
`X-Docker-Container-Path-Stat` header says what the path is before any of the
body, and the body is a tar (a folder's whole subtree), read by the gateway's
TarReader as it streams:

- a folder is listed from the tar headers of its members, contents skipped
  without being kept, within a budget of entries and bytes (settings); when
  the budget runs out the listing says so, and which names it could not reach
  (the Engine sends members in name order);
- a file shows its first MiB (as text, or said to be binary), and the
  connection is closed then: the rest is never sent;
- a download streams a file's content as itself (its bytes are `docker cp`'s)
  or a folder's tar as the Engine sends it, piece by piece, flat in memory.

A request's `path` is hostile: `clean_path` normalises it (`..` never climbs
above /), refuses control characters and bounds its length. Names in the
container keep their bytes (surrogateescape) from the tar to the links and
back. A symbolic link is shown as a link with its target; the Engine resolves
paths inside the container's filesystem, so following one never leaves it.
"""

from __future__ import annotations

import logging
import posixpath
import re
from dataclasses import dataclass, field
from typing import Iterator
from urllib.parse import parse_qsl

from .fsnames import content_disposition, plain, quote_path
from .gateway import Engine
from .gateway import exceptions as ge
from .gateway.archive import Archive, PathStat
from .gateway.tarstream import TarEntry, TarReader
from .params import InputError

log = logging.getLogger("periscope")

PATH_MAX = 4096  # bytes, as Linux's PATH_MAX
TEXT_LIMIT = 1 << 20  # a file page shows this much of a file
LINES_LIMIT = 20_000  # and at most this many lines of it (a MiB of short lines is a heavy page)
SNIFF = 8192  # bytes looked at to tell binary from text
WRITE_SIZE = 262144  # a download's writes
DEFAULT_MAX_ENTRIES = 20_000
DEFAULT_MAX_BYTES = 256 << 20


# -- the path of a request ------------------------------------------------------------
def query_path(query_string: bytes) -> str | None:
    """The `path` parameter of a raw query string, its bytes kept: a name that
    is not UTF-8 comes back as it went out (surrogateescape), where Flask's
    args would turn its bytes into U+FFFD. None when there is none."""
    qs = query_string.decode("utf-8", "surrogateescape")
    found = None
    for key, value in parse_qsl(qs, keep_blank_values=True, encoding="utf-8",
                                errors="surrogateescape"):
        if key == "path":
            found = value
    return found


_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")  # C0 and C1 controls, DEL


def clean_path(raw: str | None) -> str:
    """An absolute, normalised path: '' or None is '/'; `..` stops at '/';
    repeated and trailing slashes go. NUL and other control characters, and
    paths over PATH_MAX bytes, raise InputError (a 400 page)."""
    if raw is None or raw == "":
        return "/"
    bad = _CONTROL.search(raw)
    if bad is not None:
        raise InputError(f"The path holds a control character (U+{ord(bad.group()):04X}) at "
                         f"position {bad.start() + 1}: paths with NUL, newlines or other "
                         f"control characters cannot be opened here.")
    size = len(raw.encode("utf-8", "surrogateescape"))
    if size > PATH_MAX:
        raise InputError(f"The path is {size:,} bytes long; at most {PATH_MAX:,} are taken.")
    path = posixpath.normpath("/" + raw.lstrip("/"))
    return "/" + path.lstrip("/")


def resolve_link(folder: str, target: str) -> str:
    """Where a symbolic link in `folder` leads, as a path to open (the Engine
    resolves any further links inside the container's filesystem)."""
    joined = target if target.startswith("/") else posixpath.join(folder, target)
    try:
        return clean_path(joined)
    except InputError:  # a target the page cannot ask for: shown, not linked
        return ""


def _link_to_open(path: str, target: str) -> str:
    """Where a link leads, for a download; a target with a control character
    is refused in words about the link, not the path the user typed."""
    opens = resolve_link(parent(path), target)
    if not opens:
        raise InputError("The link's target has a control character in it, which cannot be "
                         "asked for here.")
    return opens


@dataclass
class Crumb:
    name: str
    path: str
    q: str


def crumbs(path: str) -> list[Crumb]:
    """The breadcrumb of a path: '/' and each folder down to it."""
    out = [Crumb("/", "/", "/")]
    cur = ""
    for part in path.strip("/").split("/"):
        if part:
            cur += "/" + part
            out.append(Crumb(part, cur, quote_path(cur)))
    return out


def parent(path: str) -> str:
    return posixpath.dirname(path) or "/"


# -- a folder -------------------------------------------------------------------------
@dataclass(slots=True)
class Entry:
    """A folder's member as the listing shows it."""

    name: str
    path: str
    kind: str
    size: int
    mode: int
    owner: str
    group: str
    mtime: float
    link: str = ""  # a symbolic link's text, a hard link's target path
    opens: str = ""  # the path a link leads to (to open it)
    items: int = 0  # a folder's members below it, at any depth
    total: int = 0  # the bytes of the files below it
    cut: bool = False  # the budget stopped inside this folder: items/total are at least
    q: str = ""  # the path quoted for a URL
    oq: str = ""  # `opens` quoted

    @property
    def is_dir(self) -> bool:
        return self.kind == "dir"


def _owner(e: TarEntry) -> tuple[str, str]:
    return e.uname or str(e.uid), e.gname or str(e.gid)


def openable(path: str) -> bool:
    """Whether a path can be asked for here (clean_path refuses control characters)."""
    return _CONTROL.search(path) is None


def _entry(te: TarEntry, name: str, path: str, base: str) -> Entry:
    owner, group = _owner(te)
    out = Entry(name=name, path=path, kind=te.kind, size=te.size, mode=te.mode, owner=owner,
                group=group, mtime=te.mtime, q=quote_path(path) if openable(name) else "")
    if te.kind == "symlink":
        out.link = te.linkname
        out.opens = resolve_link(parent(path), te.linkname)
    elif te.kind == "hardlink" and te.linkname:
        # another name of the same file; a name the page cannot ask for (a
        # control character in it) is shown, not linked
        target = posixpath.join(base, te.linkname)
        try:
            out.opens = out.link = clean_path(target)
        except InputError:
            out.link, out.opens = target, ""
    if out.opens:
        out.oq = quote_path(out.opens)
    return out


@dataclass
class Listing:
    """A folder's entries, folders first, and how the reading went."""

    path: str
    stat: PathStat
    entries: list[Entry]
    folder: Entry | None  # the folder's own member (owner, mode)
    read: int  # members read, at any depth
    bytes: int  # bytes of the tar read
    stopped: str  # TarReader.stopped: "end" when complete
    reason: str
    last_name: str = ""  # the last of the folder's names reached, when cut
    max_entries: int = 0
    max_bytes: int = 0

    @property
    def complete(self) -> bool:
        return self.stopped == "end"

    @property
    def folders(self) -> int:
        return sum(1 for e in self.entries if e.is_dir)


def _members(path: str, reader: TarReader) -> tuple[list[Entry], Entry | None, str]:
    """The direct members of the folder at `path` from its tar, each folder
    with the count and bytes of what is below it; the folder's own member;
    the last direct name reached."""
    base = parent(path)  # the tar's names are relative to the folder's parent
    prefix = None
    folder = None
    kids: dict[str, Entry] = {}
    order: list[Entry] = []
    last = None  # the direct member the reader is inside
    for te in reader:
        name = te.name
        if prefix is None:
            # the first member is the folder itself: "data/" (or "/" for the root)
            prefix = name if name.endswith("/") else name + "/"
            folder = _entry(te, posixpath.basename(path) or "/", path, base)
            continue
        if not name.startswith(prefix):
            continue  # not below the folder (no Engine sends one)
        rel = name[len(prefix):]
        head, sep, _ = rel.rstrip("/").partition("/")
        if not head:
            continue
        if not sep:
            if head in kids:  # the same name twice: the later member wins, as tar(1) does
                order.remove(kids[head])
            e = _entry(te, head, (path + "/" + head) if len(path) > 1 else "/" + head, base)
            if te.kind == "hardlink" and te.linkname.startswith(prefix):
                # the same file as one met before: its size, when it is here too
                same = kids.get(te.linkname[len(prefix):])
                if same is not None:
                    e.size = same.size
            kids[head] = e
            order.append(e)
            last = e
        else:
            e = kids.get(head)
            if e is not None:
                e.items += 1
                if te.kind == "file":
                    e.total += te.size
            last = e or last
    if reader.stopped != "end" and last is not None and last.is_dir:
        last.cut = True
    return order, folder, (last.name if last is not None else "")


def _sort_key(e: Entry):
    return (not e.is_dir, e.name.casefold(), e.name)


# -- one item -------------------------------------------------------------------------
@dataclass
class FileView:
    """A file's first MiB, as text lines or said to be binary."""

    path: str
    stat: PathStat
    member: TarEntry | None
    lines: list[str] = field(default_factory=list)
    binary: bool = False
    why_binary: str = ""
    shown: int = 0  # bytes shown
    cut: bool = False  # the file is longer than what is shown
    replaced: int = 0  # bytes that are not UTF-8, shown as U+FFFD
    more_lines: bool = False  # cut at LINES_LIMIT lines (before TEXT_LIMIT bytes)
    head: bytes = b""  # a binary file's first bytes, for the hex view
    broken: str = ""  # the archive ended early / was malformed

    @property
    def size(self) -> int:
        return self.member.size if self.member else self.stat.size


@dataclass
class LinkView:
    """A symbolic link: its text, where it leads, and what is there."""

    path: str
    stat: PathStat
    member: TarEntry | None
    opens: str
    target: PathStat | None  # None: the link leads nowhere
    target_missing: str = ""


@dataclass
class OtherView:
    """A device, FIFO or socket: its stat and header, nothing to read."""

    path: str
    stat: PathStat
    member: TarEntry | None


@dataclass
class Opened:
    """What a path turned out to be, read as the page shows it."""

    container: dict
    path: str
    kind: str  # dir, file, symlink, other
    listing: Listing | None = None
    file: FileView | None = None
    link: LinkView | None = None
    other: OtherView | None = None

    @property
    def cid(self) -> str:
        return self.container["Id"]

    @property
    def name(self) -> str:
        return (self.container.get("Name") or "").lstrip("/") or self.cid[:12]


def looks_binary(sample: bytes) -> str:
    """Why a sample is not text ('' when it is): a NUL byte, as git and grep
    decide."""
    i = sample.find(b"\0", 0, SNIFF)
    if i >= 0:
        return f"it holds a NUL byte (at byte {i:,})"
    return ""


def _decode(data: bytes, cut: bool) -> tuple[str, int, bool]:
    """(text, bytes that are not UTF-8, whether that many says it is not text)."""
    try:
        return data.decode("utf-8"), 0, False
    except UnicodeDecodeError as exc:
        if cut and exc.start >= len(data) - 3 and exc.reason == "unexpected end of data":
            try:
                return data[:exc.start].decode("utf-8"), 0, False  # a character cut in two
            except UnicodeDecodeError:
                pass
    text = data.decode("utf-8", "replace")
    bad = text.count("\ufffd") - data.decode("utf-8", "ignore").count("\ufffd")
    return text, bad, bad > max(8, len(data) // 100)


def _file_member(eng: Engine, cid: str, path: str, archive: Archive, *,
                 max_entries: int = DEFAULT_MAX_ENTRIES,
                 max_bytes: int = DEFAULT_MAX_BYTES) -> tuple[TarReader, TarEntry | None]:
    """A reader positioned at the file's member, before its content.

    The Engine sends an empty archive for a file whose name is not UTF-8 (it
    matches the name it put through JSON, where the bytes became U+FFFD); the
    file is then found in its folder's archive instead, within the listing
    budget."""
    reader = TarReader(archive, max_entries=1)
    member = next(iter(reader), None)
    if member is not None or reader.stopped != "end" or path == "/":
        return reader, member
    reader.close()
    want = posixpath.basename(path)
    reader = TarReader(eng.archive(cid, parent(path)), max_entries=max_entries,
                       max_bytes=max_bytes)
    prefix = None
    for te in reader:
        if prefix is None:
            prefix = te.name if te.name.endswith("/") else te.name + "/"
        elif te.name == prefix + want:
            return reader, te
    reader.close()
    return reader, None


def _read_file(path: str, archive: Archive, reader: TarReader,
               member: TarEntry | None) -> FileView:
    view = FileView(path, archive.stat, member)
    if member is None:
        view.broken = (f"the engine sent no file for this name ({reader.reason or 'nothing'}); "
                       f"download its folder to get it")
        return view
    data = b"".join(reader.content(TEXT_LIMIT))
    if reader.stopped in ("truncated", "malformed"):
        view.broken = reader.reason
    view.cut = member.size > len(data)
    if not view.cut:
        for _ in reader:  # read to the end marker: the connection can be kept
            break
    view.shown = len(data)
    why = looks_binary(data[:SNIFF])
    if not why:
        text, bad, not_text = _decode(data, view.cut)
        if not_text:
            why = f"{bad:,} of its first {len(data):,} bytes are not UTF-8"
        else:
            view.replaced = bad
            lines = text.split("\n", LINES_LIMIT)
            if len(lines) > LINES_LIMIT:
                view.more_lines = True
                view.cut = True
                lines.pop()
                view.shown = len("\n".join(lines).encode("utf-8", "replace")) + 1
            elif lines and lines[-1] == "":
                lines.pop()
            view.lines = lines
    if why:
        view.binary = True
        view.why_binary = why
        view.head = data[:256]
        view.lines = []
    return view


def hexdump(data: bytes) -> list[tuple[str, str, str]]:
    """(offset, hex, printable) rows of 16 bytes."""
    rows = []
    for off in range(0, len(data), 16):
        chunk = data[off:off + 16]
        hx = " ".join(f"{b:02x}" for b in chunk)
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        rows.append((f"{off:08x}", hx, text))
    return rows


def open_path(eng: Engine, ref: str, raw_path: str | None, *,
              max_entries: int = DEFAULT_MAX_ENTRIES,
              max_bytes: int = DEFAULT_MAX_BYTES) -> Opened:
    """Read what `raw_path` is in the container and what the page shows of it.
    Raises InputError for a path that cannot be asked for, the gateway's
    NotFound / NoSuchPath for a container or path that is not there."""
    path = clean_path(raw_path)
    # first the inspect, then the archive, never side by side: the Engine locks
    # the container while its archive is read, and the inspect would wait for it
    container = eng.inspect_container(ref)
    cid = container["Id"]
    archive = eng.archive(cid, path)
    kind = archive.stat.kind
    opened = Opened(container, path, kind if kind in ("dir", "file", "symlink") else "other")
    if kind == "dir":
        reader = TarReader(archive, max_entries=max_entries + 1, max_bytes=max_bytes)
        try:
            entries, folder, last = _members(path, reader)
        finally:
            reader.close()
        entries.sort(key=_sort_key)
        opened.listing = Listing(path, archive.stat, entries, folder, max(reader.entries - 1, 0),
                                 reader.bytes, reader.stopped or "end", reader.reason,
                                 last if reader.stopped != "end" else "", max_entries, max_bytes)
        return opened
    if kind == "file":
        reader, member = _file_member(eng, cid, path, archive, max_entries=max_entries,
                                      max_bytes=max_bytes)
        try:
            opened.file = _read_file(path, archive, reader, member)
        finally:
            reader.close()
        return opened
    reader = TarReader(archive, max_entries=1)
    try:
        member = next(iter(reader), None)
    finally:
        reader.close()
    if kind == "symlink":
        raw = archive.stat.link_target
        opens = resolve_link(parent(path), raw) if raw else parent(path)
        link = LinkView(path, archive.stat, member, opens, None)
        if not opens:
            link.target_missing = ("its target has a control character in it, which cannot be "
                                   "asked for here")
        else:
            try:
                link.target = eng.path_stat(cid, opens)
            except ge.NoSuchPath:
                link.target_missing = f"nothing is at {plain(opens)} in the container"
        opened.link = link
    else:
        opened.other = OtherView(path, archive.stat, member)
    return opened


# -- downloads -------------------------------------------------------------------------
class Stream:
    """A download's body: pieces of bytes. close() (the server calls it at the
    end, when the client goes away, and for a HEAD request that never reads
    it) closes the Engine's connection with it."""

    def __init__(self, pieces: Iterator[bytes], close):
        self._pieces = pieces
        self._close = close

    def __iter__(self) -> Iterator[bytes]:
        return self._pieces

    def close(self) -> None:
        try:
            end = getattr(self._pieces, "close", None)  # a generator; not a plain iterator
            if end is not None:
                end()
        finally:
            self._close()


@dataclass
class Download:
    """A download's headers and body (pieces of bytes, streamed)."""

    body: Stream
    disposition: str
    mimetype: str
    length: int | None = None
    name: str = ""


def _coalesce(pieces: Iterator[bytes], size: int = WRITE_SIZE) -> Iterator[bytes]:
    """Pieces joined into writes of about `size` bytes (the Engine flushes
    every 32 KB; a write per piece costs the server a system call each)."""
    pending: list[bytes] = []
    held = 0
    for p in pieces:
        if len(p) >= size and not pending:
            yield p
            continue
        pending.append(p)
        held += len(p)
        if held >= size:
            yield b"".join(pending)
            pending, held = [], 0
    if pending:
        yield b"".join(pending)


def _file_body(reader: TarReader, what: str) -> Iterator[bytes]:
    yield from _coalesce(reader.content())
    for _ in reader:  # the end marker: the connection can go back to the pool
        break
    if reader.stopped in ("truncated", "malformed"):
        log.warning("download of %s cut short: %s", what, reader.reason)


def _headers_only(kind: str, path: str, name: str, cname: str, size: int) -> Download:
    if kind == "dir":
        base = name if name not in ("", "/") else f"{cname}-root"
        return Download(Stream(iter(()), lambda: None),
                        content_disposition(base + ".tar", "folder.tar"), "application/x-tar",
                        None, base + ".tar")
    if kind != "file":
        raise InputError(f"{plain(path)} is a {kind_word(kind)}: only files and folders can be "
                         f"downloaded.")
    return Download(Stream(iter(()), lambda: None), content_disposition(name, "file"),
                    "application/octet-stream", size, name)


def download(eng: Engine, ref: str, raw_path: str | None, *, head: bool = False) -> Download:
    """A file as itself (its bytes, with its length), or a folder as the tar
    the Engine sends (what `docker cp CONTAINER:PATH -` writes). A symbolic
    link is followed once, inside the container (where the Engine resolves
    it). A device, FIFO or socket raises InputError: it has no bytes to give.
    `head`: the headers only, from HEAD /archive (no tar is made).

    The Engine keeps the container locked while its archive is being read
    (as for `docker cp`): other calls about that container wait until the
    download ends."""
    path = clean_path(raw_path)
    container = eng.inspect_container(ref)
    cid = container["Id"]
    cname = (container.get("Name") or "").lstrip("/") or cid[:12]
    if head:
        stat = eng.path_stat(cid, path)
        name = posixpath.basename(path) or stat.name
        if stat.kind == "symlink" and stat.link_target:
            stat = eng.path_stat(cid, _link_to_open(path, stat.link_target))
        return _headers_only(stat.kind, path, name, cname, stat.size)
    archive = eng.archive(cid, path)
    name = posixpath.basename(path) or archive.stat.name
    if archive.stat.kind == "symlink" and archive.stat.link_target:
        archive.close()
        archive = eng.archive(cid, _link_to_open(path, archive.stat.link_target))
    kind = archive.stat.kind
    if kind != "file":
        try:
            d = _headers_only(kind, path, name, cname, 0)
        except InputError:
            archive.close()
            raise
        d.body = Stream(_coalesce(iter(archive)), archive.close)
        return d
    reader, member = _file_member(eng, cid, archive.path, archive)
    if member is None:
        reader.close()
        raise ge.EngineError(f"the engine's archive of {plain(path)} held no file: "
                             f"{reader.reason}")
    return Download(Stream(_file_body(reader, plain(path)), reader.close),
                    content_disposition(name, "file"),
                    "application/octet-stream", member.size, name)


KIND_WORDS = {"dir": "folder", "file": "file", "symlink": "symbolic link",
              "hardlink": "hard link", "char": "character device", "block": "block device",
              "fifo": "named pipe (FIFO)", "socket": "socket", "other": "special file"}


def kind_word(kind: str) -> str:
    return KIND_WORDS.get(kind, kind)
