"""What the logs page shows, apart from Flask: its options from the query
string, the first read, the follow poll after a cursor, and the download's
options and file name.

Reading goes through the gateway's LogStream (one per source) and the
LineReader; nothing here touches bytes off a socket.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
from dataclasses import dataclass, field
from itertools import islice
from typing import Callable, Iterator

from . import params
from .gateway import Engine
from .gateway.exceptions import EngineError
from .gateway.frames import wanted
from .gateway.logstream import PlainBatch
from .logreader import PAGE_BOUND, Cursor, LineReader, ReadResult, read_lines
from .logsearch import Search
from .params import InputError

log = logging.getLogger("periscope")

STREAMS = ("both", "stdout", "stderr")
TAIL_CHOICES = ["100", "500", "1000", "5000", "10000", "all"]
DEFAULT_TAIL = "500"
POLL_TAIL = 200  # entries a follow poll first asks for beyond those it skips


@dataclass
class Opts:
    """The page's query, as typed (kept to refill the form) and as used."""

    streams: str = "both"
    tail: str = DEFAULT_TAIL
    since: str = ""
    since_engine: str | None = None
    until: str = ""
    until_engine: str | None = None
    ts: bool = True
    q: str = ""
    regex: bool = False
    follow: bool = False
    errors: list[str] = field(default_factory=list)

    @property
    def stdout(self) -> bool:
        return self.streams in ("both", "stdout")

    @property
    def stderr(self) -> bool:
        return self.streams in ("both", "stderr")

    @property
    def tail_choices(self) -> list[str]:
        """The select's choices, with a count typed in the URL among them."""
        if self.tail in TAIL_CHOICES:
            return TAIL_CHOICES
        return sorted([*TAIL_CHOICES[:-1], self.tail], key=int) + ["all"]

    def query(self, **over) -> dict:
        """The options back as query parameters (for links and the poller)."""
        out = {"streams": self.streams, "tail": self.tail, "since": self.since,
               "until": self.until, "ts": "1" if self.ts else "0", "q": self.q,
               "regex": "1" if self.regex else None, "follow": "1" if self.follow else None}
        out.update(over)
        return {k: v for k, v in out.items() if v not in (None, "")}

    def search(self) -> Search | None:
        """A new Search for one read (it keeps a time budget), or None."""
        if not self.q:
            return None
        try:
            return Search(self.q, self.regex)
        except InputError as exc:
            self.errors.append(f"Search: {exc}")
            return None


def read_opts(args) -> Opts:
    """The options from a query string (a MultiDict); what cannot be used is
    said in `errors` and replaced by its default, so the page still shows."""
    o = Opts()
    streams = (args.get("streams") or "both").strip().lower()
    if streams not in STREAMS:
        o.errors.append(f"streams “{streams[:20]}” is not one of both, stdout, stderr; "
                        f"showing both.")
        streams = "both"
    o.streams = streams
    try:
        o.tail = params.tail(args.get("tail"), DEFAULT_TAIL)
    except InputError as exc:
        o.errors.append(f"{exc} Showing the last {DEFAULT_TAIL}.")
    for name in ("since", "until"):
        typed = params.typed(args.get(name), 100).strip()
        setattr(o, name, typed)
        try:
            setattr(o, f"{name}_engine", params.since(typed, name=name.capitalize()))
        except InputError as exc:
            o.errors.append(f"{exc} Showing without it.")
    o.ts = params.flags(args.getlist("ts"), default=True)
    o.q = params.typed(args.get("q"), 1000)
    o.regex = params.flag(args.get("regex"))
    o.follow = params.flag(args.get("follow"))
    return o


def state(c: dict) -> dict:
    st = c.get("State") or {}
    return {"running": bool(st.get("Running")), "status": st.get("Status") or "",
            "exit_code": st.get("ExitCode"), "paused": bool(st.get("Paused")),
            "restarting": bool(st.get("Restarting"))}


class _OfContainer:
    """What a read of a container's log says of the container."""

    container: dict

    @property
    def cid(self) -> str:
        return self.container["Id"]

    @property
    def name(self) -> str:
        return (self.container.get("Name") or "").lstrip("/") or self.cid[:12]


@dataclass
class Read(_OfContainer):
    """One read of a container's log for the page or a poll."""

    container: dict
    tty: bool
    result: ReadResult
    cursor: Cursor
    search: Search | None


def _read(stream, o: Opts, search: Search | None, skip: int = 0) -> ReadResult:
    return read_lines(stream, skip=skip, search=search)


def first_read(eng: Engine, ref: str, o: Opts) -> Read:
    """The page: the tail (and window) asked for, and the cursor to follow from."""
    read = read_tail(eng, ref, o, o.search())
    if read.tty:
        o.streams = "both"
    return read


def read_tail(eng: Engine, ref: str, o: Opts, search: Search | None,
              container: dict | None = None) -> Read:
    """One container's tail (and window) for a page, and the cursor to follow
    from; `o` is only read (a merged page reads several at once with it)."""
    stream = eng.logs(ref, stdout=o.stdout, stderr=o.stderr, timestamps=True, tail=o.tail,
                      since=o.since_engine, until=o.until_engine, container=container)
    result = _read(stream, o, search)
    return Read(stream.container, stream.tty, result, _tail_cursor(result, o), search)


def _tail_cursor(result: ReadResult, o: Opts) -> Cursor:
    """Where following a tail read for a page starts."""
    start_ns = _engine_ns(o.since_engine) if o.since_engine else 0
    # a tail that came back full may have cut the log: older entries were not seen
    window = o.tail != "all" and result.entries >= int(o.tail)
    return result.cursor(window=window) or Cursor(start_ns, 0)


def streamable(o: Opts) -> bool:
    """The page can be sent while its tail is read: a count of lines the page
    holds whole, so no line sent needs taking back (a tail of "all", or more
    than the page's bound, keeps only the newest lines: read first, then sent)."""
    return o.tail.isdigit() and 0 < int(o.tail) <= PAGE_BOUND


class LiveTail(_OfContainer):
    """The page's tail as it comes off the engine: `rows()` yields the new
    lines' HTML batch by batch while the engine still sends (the page goes
    out as it is read, not after), then `result`, `cursor`, `cut` and `error`
    say how it ended. Opened with the container's inspect and the log's
    headers in hand, so a missing container or an engine that is down is
    still an error page; a fault after the first byte is `error`, said in the
    page after the rows read before it (nothing sent can be taken back).

    `rows(render)` takes `render(lines) -> str`, which makes rows
    (app/logrows.py); at most `bound` lines are sent (the engine's tail of at
    most that many entries makes no more lines for a log the engine cuts into
    lines; one that does is `cut`)."""

    def __init__(self, stream, o: Opts, search: Search | None, bound: int = PAGE_BOUND):
        self._stream = stream
        self.container = stream.container
        self.tty = stream.tty
        self.search = search
        self._reader = LineReader(tty=stream.tty, search=search, bound=bound)
        self.result: ReadResult = self._reader.r
        self._opts = o
        self.bound = bound
        self.sent = 0  # lines sent
        self.cut = 0  # lines read beyond `bound`, not sent
        self.error: Exception | None = None
        self.cursor: Cursor | None = None
        self.flushes = 0  # asked of web.stream_page: send what the page holds now

    def _new_rows(self, render: Callable[[list], str]) -> str:
        r = self.result
        fresh = r.matched - self.sent - self.cut  # lines added since the last batch
        if fresh <= 0:
            return ""
        lines = r.lines
        have = min(fresh, len(lines))  # a batch of more than the bound lost its oldest
        take = min(have, self.bound - self.sent)
        self.cut += fresh - take
        if take <= 0:
            return ""
        picked = list(islice(reversed(lines), have))[::-1][:take]
        self.sent += take
        return render(picked)

    def rows(self, render: Callable[[list], str],
             plain: Callable[[PlainBatch], str | None] | None = None) -> Iterator[str]:
        """The rows' HTML as they are read. `plain(batch)` makes the rows of a
        batch of plain lines at once (None: render its lines instead)."""
        reader = self._reader
        self.flushes += 1  # what came before the rows goes out now, before the engine is read
        yield ""
        try:
            for batch in self._stream.plain_batches():
                if isinstance(batch, PlainBatch):
                    if (plain is not None and reader.plain_ok()
                            and self.sent + batch.n <= self.bound
                            and not self.result.matched - self.sent - self.cut):
                        html = plain(batch)
                        if html is not None and reader.take_plain(batch):
                            self.sent += batch.n
                            yield html
                            continue
                    batch = batch.entries()
                reader.read(batch)
                html = self._new_rows(render)
                if html:
                    yield html
        except Exception as exc:  # noqa: BLE001 - the page is half sent: said in it, not raised
            if not isinstance(exc, EngineError):
                log.exception("reading the log of %s for its page", self.name)
            self.error = exc
        finally:
            self.close()
        # the end of what came, whole or not: a last line without its newline
        # is a line too, and the stream's notices are said
        reader.close(self._stream.notices)
        html = self._new_rows(render)
        if html:
            yield html
        self.cursor = _tail_cursor(self.result, self._opts)

    def close(self) -> None:
        """Done with the engine's answer (read to its end or not)."""
        self._stream.close()


def open_tail(eng: Engine, ref: str, o: Opts) -> LiveTail:
    """The page's tail, opened (the container's inspect and the log's headers
    read: their errors raise here) and ready to be read as it is sent."""
    search = o.search()
    stream = eng.logs(ref, stdout=o.stdout, stderr=o.stderr, timestamps=True, tail=o.tail,
                      since=o.since_engine, until=o.until_engine)
    if stream.tty:
        o.streams = "both"
    return LiveTail(stream, o, search)


def follow_read(eng: Engine, ref: str, o: Opts, cursor: Cursor) -> Read:
    """A follow poll: the entries after the cursor."""
    read = read_after(eng, ref, o, cursor, o.search)
    if read.tty:
        o.streams = "both"
    return read


def read_after(eng: Engine, ref: str, o: Opts, cursor: Cursor,
               new_search: Callable[[], Search | None], container: dict | None = None) -> Read:
    """The entries after the cursor; `o` is only read (`container`: its
    inspect, or what of it the gateway needs, when the caller has it). A small tail first: the
    engine reads a tail backwards from the end of the log, so a poll costs
    what it returns; a burst bigger than that widens it (x8), never to no
    tail at all, which makes the engine decode the whole log from its start."""
    want = wanted(o.stdout, o.stderr)
    if eng.shared.fresh_for > 0 and not o.until_engine:
        # every viewer of this container reads one shared window of its log
        # (of both streams: the engine counts a tail over both, so only a
        # window of both can tell when its tail came back full)
        stream, cover, container = eng.logs_window(ref)
        if cursor.ns >= cover:
            if stream.tty:
                o.streams = "both"
            search = o.search()
            reader = LineReader(tty=stream.tty, skip=cursor.seen, search=search)
            after = cursor.ns
            reader.read(e for e in stream.entries()
                        if (e[2] is None or e[2] >= after) and (stream.tty or want[e[0]]))
            result = reader.close(stream.notices)
            return Read(container, stream.tty, result, result.cursor(cursor), search)
    # the engine counts a tail over both streams: one stream alone is read
    # out of both here, and the tail is full when both streams' entries fill it
    one = not (o.stdout and o.stderr)
    tail: int | None = cursor.seen + POLL_TAIL
    while True:
        search = new_search()
        stream = eng.logs(container["Id"] if container else ref, stdout=o.stdout or one,
                          stderr=o.stderr or one, timestamps=True, tail=tail,
                          since=cursor.since, until=o.until_engine, container=container)
        container, tty = stream.container, stream.tty
        if one and not tty:
            result, entries = _read_chosen(stream, want, search, cursor.seen)
        else:
            result = _read(stream, o, search, skip=cursor.seen)
            entries = result.entries
        if tail is None or entries < tail:
            return Read(container, tty, result, result.cursor(cursor), search)
        tail = tail * 8 if tail < 1_000_000 else None


def _read_chosen(stream, want: tuple[bool, ...], search: Search | None,
                 skip: int) -> tuple[ReadResult, int]:
    """The entries of the chosen stream out of an answer of both, and how many
    entries the answer held (the engine's tail counts them all)."""
    count = 0

    def chosen():
        nonlocal count
        for e in stream.entries():
            count += 1
            if want[e[0]]:
                yield e

    reader = LineReader(tty=False, skip=skip, search=search)
    reader.read(chosen())
    return reader.close(stream.notices), count


def window_closed(o: Opts, now: float | None = None) -> bool:
    """The window asked for ends in the past: following would bring nothing
    (the server stops the poller and says so)."""
    if not o.until_engine:
        return False
    now = time.time() if now is None else now
    return _engine_ns(o.until_engine) < int(now * 1_000_000_000)


def start_ns(o: Opts) -> int:
    """Where a log with nothing read yet is followed from: the window's start."""
    return _engine_ns(o.since_engine) if o.since_engine else 0


def _engine_ns(value: str) -> int:
    whole, _, frac = value.partition(".")
    return int(whole) * 1_000_000_000 + int((frac or "0").ljust(9, "0")[:9])


# -- the download --------------------------------------------------------------------------
@dataclass
class Download:
    stdout: bool
    stderr: bool
    timestamps: bool
    tail: str
    since: str | None
    until: str | None


def download_opts(args) -> Download:
    """The download's options; bad ones raise InputError (a 400: a file is
    all or nothing)."""
    stdout = params.flag(args.get("stdout"), True)
    stderr = params.flag(args.get("stderr"), True)
    if not stdout and not stderr:
        raise InputError("choose stdout, stderr or both (stdout=1 and/or stderr=1).")
    return Download(stdout, stderr, params.flag(args.get("timestamps")),
                    params.tail(args.get("tail"), "all"),
                    params.since(args.get("since"), name="Since"),
                    params.since(args.get("until"), name="Until"))


_SAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


def file_name(container: dict, d: Download, now: dt.datetime | None = None) -> str:
    """A safe file name: the container's name, the stream, the time."""
    cid = container.get("Id", "")
    name = _SAFE_NAME.sub("_", (container.get("Name") or "").lstrip("/"))[:100] or cid[:12]
    which = "" if d.stdout and d.stderr else ("-stdout" if d.stdout else "-stderr")
    stamp = (now or dt.datetime.now(dt.timezone.utc)).strftime("%Y%m%dT%H%M%SZ")
    return f"{name}{which}-{stamp}.log"



# -- a service's log -------------------------------------------------------------------------
# GET /services/{id}/logs through the same LogStream and LineReader (with
# details=1 every entry names its task: app/logreader.SourcedLineReader).
# The engine applies `tail` per task and has no `until` for services.

@dataclass
class ServiceRead:
    """One read of a service's log for the page or a poll."""

    service: dict
    tty: bool
    result: ReadResult
    cursor: Cursor
    search: Search | None

    @property
    def sid(self) -> str:
        return self.service["ID"]

    @property
    def name(self) -> str:
        return (self.service.get("Spec") or {}).get("Name") or self.sid[:12]


def service_first_read(eng: Engine, ref: str, o: Opts, service: dict | None = None) -> ServiceRead:
    search = o.search()
    stream = eng.service_logs(ref, stdout=o.stdout, stderr=o.stderr, timestamps=True,
                              tail=o.tail, since=o.since_engine, details=True, service=service)
    if stream.tty:
        o.streams = "both"
    result = read_lines(stream, search=search)
    start_ns = _engine_ns(o.since_engine) if o.since_engine else 0
    window = o.tail != "all" and result.most_per_source >= int(o.tail)
    cursor = result.cursor(window=window) or Cursor(start_ns, 0)
    return ServiceRead(stream.service, stream.tty, result, cursor, search)


def service_follow_read(eng: Engine, ref: str, o: Opts, cursor: Cursor,
                        service: dict | None = None) -> ServiceRead:
    """A follow poll of a service's log: each task's entries after the cursor
    (its count per task skips what was shown). The tail is per task; it
    widens as a container's does."""
    per = dict(cursor.per)
    tail: int | None = max(per.values(), default=cursor.seen) + POLL_TAIL
    search = o.search()
    stream = eng.service_logs(ref, stdout=o.stdout, stderr=o.stderr, timestamps=True, tail=tail,
                              since=cursor.since, details=True, service=service)
    service = stream.service
    if stream.tty:
        o.streams = "both"
    result = read_lines(stream, search=search, skip_per=per)
    while tail is not None and result.most_per_source >= tail:
        tail = tail * 8 if tail < 1_000_000 else None
        search = o.search()
        stream = eng.service_logs(service["ID"], stdout=o.stdout, stderr=o.stderr,
                                  timestamps=True, tail=tail, since=cursor.since, details=True,
                                  service=service)
        result = read_lines(stream, search=search, skip_per=per)
    return ServiceRead(service, stream.tty, result, result.cursor(cursor), search)


def service_file_name(service: dict, d: Download, now: dt.datetime | None = None) -> str:
    name = (service.get("Spec") or {}).get("Name") or ""
    return file_name({"Id": service.get("ID", ""), "Name": name}, d, now)
