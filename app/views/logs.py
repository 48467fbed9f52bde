"""A container's logs: the page (bounded, searchable, coloured), live follow by
polling with a cursor, and a streamed byte-exact download."""

from __future__ import annotations

import contextvars
import datetime as dt
import logging
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from flask import Blueprint, Response, abort, render_template, request, url_for

from ..gateway.errors import EngineError
from ..gateway.frames import ChunkedPayloadFilter, PayloadFilter
from ..logs import (DEFAULT_TAIL, PAGE_BOUND, TAIL_CHOICES, Cursor, InputError, LineReader,
                    ReadResult, Search, parse_since, parse_tail, render_rows, show_ts)
from ..web import engine, settings

bp = Blueprint("logs", __name__)
log = logging.getLogger("periscope")

STREAMS = ("both", "stdout", "stderr")
POLL_TAIL = 200  # entries a follow poll first asks for beyond those it skips


@dataclass
class Opts:
    """The page's query, as typed (kept to refill the form) and as used."""

    streams: str = "both"
    tail: str = DEFAULT_TAIL
    since: str = ""
    since_engine: str | None = None
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

    def query(self, **over) -> dict:
        """The options back as query parameters (for links and the poller)."""
        out = {"streams": self.streams, "tail": self.tail, "since": self.since,
               "ts": "1" if self.ts else "0", "q": self.q, "regex": "1" if self.regex else None,
               "follow": "1" if self.follow else None}
        out.update(over)
        return {k: v for k, v in out.items() if v not in (None, "")}


def _flag(args, name: str, default: bool) -> bool:
    v = args.get(name)
    if v is None:
        return default
    return v.strip().lower() in ("1", "true", "on", "yes")


def read_opts(args, tty: bool) -> Opts:
    o = Opts()
    streams = (args.get("streams") or "both").strip().lower()
    if streams not in STREAMS:
        o.errors.append(f"streams “{streams[:20]}” is not one of both, stdout, stderr; "
                        f"showing both.")
        streams = "both"
    o.streams = "both" if tty else streams
    try:
        o.tail = parse_tail(args.get("tail"))
    except InputError as exc:
        o.errors.append(f"{exc} Showing the last {DEFAULT_TAIL}.")
    o.since = (args.get("since") or "").strip()[:100]
    try:
        o.since_engine = parse_since(o.since)
    except InputError as exc:
        o.errors.append(f"Since: {exc} Showing without it.")
    # the form sends ts=0 (hidden) and ts=1 (the box, when ticked)
    ts_values = [v.strip().lower() for v in args.getlist("ts")]
    o.ts = not ts_values or any(v in ("1", "true", "on", "yes") for v in ts_values)
    o.q = (args.get("q") or "")[:1000]
    o.regex = _flag(args, "regex", False)
    o.follow = _flag(args, "follow", False)
    return o


def _search(o: Opts) -> Search | None:
    if not o.q:
        return None
    try:
        return Search(o.q, o.regex)
    except InputError as exc:
        o.errors.append(f"Search: {exc}")
        return None


def _open(ref: str, o: Opts, *, tail: str | int | None, since: str | None):
    return engine().logs(ref, stdout=o.stdout, stderr=o.stderr, timestamps=True,
                         tail=None if tail in (None, "all") else tail, since=since)


def _consume(resp, tty: bool, search: Search | None, skip: int = 0) -> ReadResult:
    reader = LineReader(tty=tty, skip=skip, search=search)
    for chunk in engine().read_stream(resp):
        reader.feed(chunk)
    return reader.close()


def _read(ref: str, tty: bool, o: Opts, search: Search | None, *, tail: str | int | None,
          since: str | None, skip: int = 0) -> ReadResult:
    return _consume(_open(ref, o, tail=tail, since=since), tty, search, skip)


# Inspect and the logs call go out together: the page needs Config.Tty only to
# choose how to read the bytes, which wait in the socket meanwhile.
_POOL = ThreadPoolExecutor(max_workers=8, thread_name_prefix="periscope-inspect")


def _inspect_and_open(ref: str, o: Opts, *, tail, since) -> tuple[dict, object, bool]:
    """(inspect, the open logs response, tty); o.streams is set right for a TTY."""
    fut = _POOL.submit(contextvars.copy_context().run, engine().inspect_container, ref)
    resp, err = None, None
    try:
        resp = _open(ref, o, tail=tail, since=since)
    except EngineError as exc:
        err = exc
    try:
        c = fut.result()
    except BaseException:
        if resp is not None:
            resp.close()
        raise
    if err is not None:
        raise err
    tty = bool((c.get("Config") or {}).get("Tty"))
    if tty and o.streams != "both":  # a TTY has one stream: ask again for all of it
        resp.close()
        o.streams = "both"
        resp = _open(c["Id"], o, tail=tail, since=since)
    return c, resp, tty


def _state(c: dict) -> dict:
    st = c.get("State") or {}
    return {"running": bool(st.get("Running")), "status": st.get("Status") or "",
            "exit_code": st.get("ExitCode"), "paused": bool(st.get("Paused")),
            "restarting": bool(st.get("Restarting"))}


@bp.get("/containers/<ref>/logs")
def page(ref: str):
    o = read_opts(request.args, False)
    search = _search(o)
    c, resp, tty = _inspect_and_open(ref, o, tail=o.tail, since=o.since_engine)
    cid = c["Id"]
    result = _consume(resp, tty, search)
    start_ns = int(o.since_engine.split(".")[0]) * 1_000_000_000 if o.since_engine else 0
    # a tail that came back full may have cut the log: older entries were not seen
    window = o.tail != "all" and result.entries >= int(o.tail)
    cursor = result.cursor(window=window) or Cursor(start_ns, 0)
    return render_template("logs/page.html", c=c, cid=cid, name=c.get("Name", "").lstrip("/"),
                           tty=tty, o=o, r=result, search=search, cursor=cursor,
                           state=_state(c), bound=PAGE_BOUND, tail_choices=TAIL_CHOICES,
                           show_ts=show_ts, render_rows=render_rows, dl=download_url(cid, o))


@bp.get("/containers/<ref>/logs/poll")
def poll(ref: str):
    """The follow partial: lines after the cursor, appended out of band, and
    the poller again (slower while the container is stopped)."""
    o = read_opts(request.args, False)
    o.follow = True
    cursor = Cursor.decode(request.args.get("cursor"))
    if cursor is None:
        abort(400, description="the follow cursor is missing or malformed; reload the page.")
    shown = _int(request.args.get("shown"))
    search = _search(o)
    # A small tail first: the engine reads a tail backwards from the end of the
    # log, so a poll costs what it returns; a bigger burst widens it below.
    tail = cursor.seen + POLL_TAIL
    c, resp, tty = _inspect_and_open(ref, o, tail=tail, since=cursor.since)
    cid = c["Id"]
    result = _consume(resp, tty, search, skip=cursor.seen)
    while result.entries >= tail:
        # More came since the last poll than that tail: read further back (past
        # the page bound, to count what is skipped). A bigger tail, not none:
        # without a tail the engine reads the whole log from its start.
        tail = tail * 8 if tail < 1_000_000 else None
        search = _search(o)
        result = _read(cid, tty, o, search, tail=tail, since=cursor.since, skip=cursor.seen)
        if tail is None:
            break
    new_cursor = result.cursor(cursor)
    state = _state(c)
    delay = settings().poll_interval * (1 if state["running"] else 5)
    return render_template("logs/poll.html", c=c, cid=cid, tty=tty, o=o, r=result, search=search,
                           cursor=new_cursor, state=state, delay_ms=int(delay * 1000),
                           shown=shown + result.matched, bound=PAGE_BOUND, show_ts=show_ts,
                           render_rows=render_rows, dl=download_url(cid, o))


def _int(v) -> int:
    try:
        return max(0, int(v or 0))
    except ValueError:
        return 0


_SAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


@bp.get("/containers/<ref>/logs/download")
def download(ref: str):
    """The demultiplexed bytes of the chosen streams, streamed as they come:
    byte for byte what `docker logs` prints on stdout (or stderr)."""
    eng = engine()
    c = eng.inspect_container(ref)
    cid = c["Id"]
    tty = bool((c.get("Config") or {}).get("Tty"))
    args = request.args
    stdout = _flag(args, "stdout", True)
    stderr = _flag(args, "stderr", True)
    if not stdout and not stderr:
        abort(400, description="choose stdout, stderr or both (stdout=1 and/or stderr=1).")
    timestamps = _flag(args, "timestamps", False)
    try:
        tail = parse_tail(args.get("tail") or "all", free=True)
        since = parse_since(args.get("since"))
        until = parse_since(args.get("until"))
    except InputError as exc:
        abort(400, description=str(exc))
    resp = eng.logs(cid, stdout=stdout, stderr=stderr, timestamps=timestamps,
                    tail=None if tail == "all" else tail, since=since, until=until)
    chunked, wire = (False, None) if tty else eng.read_wire(resp, 262144)

    def demuxed():
        f = ChunkedPayloadFilter(stdout, stderr) if chunked else PayloadFilter(stdout, stderr)
        pending: list[bytes] = []  # joined into writes of ~256 KB: fewer sends
        size = 0
        for data in wire:
            out = f.feed(data)
            if out:
                pending.append(out)
                size += len(out)
                if size >= 262144:
                    yield b"".join(pending)
                    pending, size = [], 0
            if chunked and f.dechunker.done:
                break
        pending.append(f.close())
        out = b"".join(pending)
        if out:
            yield out
        for n in f.notices:
            log.warning("logs download of %s: %s", cid[:12], n.message)
        if chunked and f.dechunker.error:
            raise EngineError(f"the engine sent a broken response: {f.dechunker.error}")

    name = _SAFE_NAME.sub("_", c.get("Name", "").lstrip("/")) or cid[:12]
    which = "" if stdout and stderr else ("-stdout" if stdout else "-stderr")
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    headers = {"Content-Disposition": f'attachment; filename="{name}{which}-{stamp}.log"',
               "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}
    # a TTY: one stream, sent as it came; otherwise the chosen streams' payloads
    body = eng.read_stream(resp, 262144) if tty else demuxed()
    return Response(body, mimetype="application/octet-stream",
                    headers=headers, direct_passthrough=True)


def download_url(cid: str, o: Opts) -> str:
    """The download link matching the page (streams, since; all of the log)."""
    return url_for("logs.download", ref=cid, stdout=int(o.stdout), stderr=int(o.stderr),
                   timestamps=1 if o.ts else 0, since=o.since_engine or None)
