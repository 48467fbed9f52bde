"""A container's logs: the page, the follow poll, and the byte-exact download.
What they read and how lives in app/logview.py."""

from __future__ import annotations

import logging
from functools import partial
from itertools import chain

from flask import Response, abort, render_template, request, url_for

from .. import logview, params
from ..logreader import PAGE_BOUND, Cursor
from ..logrows import plain_rows, render_rows
from ..web import EngineBlueprint, engine, settings, stream_page

bp = EngineBlueprint("logs", __name__)
log = logging.getLogger("periscope")


def _page_context(read: logview.Read, o: logview.Opts) -> dict:
    return {"c": read.container, "cid": read.cid, "name": read.name, "tty": read.tty, "o": o,
            "r": read.result, "search": read.search, "cursor": read.cursor,
            "state": logview.state(read.container), "bound": PAGE_BOUND,
            "render_rows": render_rows, "dl": download_url(read.cid, o),
            "closed": logview.window_closed(o)}


@bp.get("/containers/<ref>/logs")
def index(ref: str):
    o = logview.read_opts(request.args)
    if logview.streamable(o):
        # sent as it is read: the page's head while the engine still sends
        # the tail, each batch of lines as it comes
        live = logview.open_tail(engine(), ref, o)
        ctx = _page_context(live, o)
        rows_html = partial(render_rows, timestamps=o.ts, tty=live.tty, download_url=ctx["dl"])
        return stream_page("logs/index.html", on_close=live.close, flushes=lambda: live.flushes,
                           live=live,
                           rows_html=rows_html, plain_html=partial(plain_rows, timestamps=o.ts),
                           **ctx)
    read = logview.first_read(engine(), ref, o)
    return render_template("logs/index.html", **_page_context(read, o))


@bp.get("/containers/<ref>/logs/poll")
def poll(ref: str):
    """The follow partial: lines after the cursor, appended out of band, and
    the poller again (slower while the container is stopped)."""
    o = logview.read_opts(request.args)
    o.follow = True
    cursor = Cursor.decode(request.args.get("cursor"))
    if cursor is None:
        abort(400, description="the follow cursor is missing or malformed; reload the page.")
    shown = params.shown(request.args.get("shown"))
    read = logview.follow_read(engine(), ref, o, cursor)
    ctx = _page_context(read, o)
    delay = settings().poll_interval * (1 if ctx["state"]["running"] else 5)
    return render_template("logs/_poll.html", **ctx, delay_ms=int(delay * 1000),
                           shown=shown + read.result.matched)


@bp.get("/containers/<ref>/logs/download")
def download(ref: str):
    """The demultiplexed bytes of the chosen streams, streamed as they come:
    byte for byte what `docker logs` prints on stdout (or stderr)."""
    d = logview.download_opts(request.args)
    stream = engine().logs(ref, stdout=d.stdout, stderr=d.stderr, timestamps=d.timestamps,
                           tail=d.tail, since=d.since, until=d.until)

    def body():
        yield from stream.payload()
        for n in stream.notices:
            log.warning("logs download of %s: %s", stream.source, n.message)

    chunks = body()
    # the first write read here: an engine that breaks off before it is an
    # error page (errors.py), not a bare 500 after the status went out
    first = next(chunks, b"")
    headers = {"Content-Disposition": f'attachment; filename="{logview.file_name(stream.container, d)}"',
               "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}
    return Response(chain((first,), chunks), mimetype="application/octet-stream",
                    headers=headers, direct_passthrough=True)


def download_url(cid: str, o: logview.Opts) -> str:
    """The download link matching the page (streams, window; all of the log)."""
    return url_for("logs.download", ref=cid, stdout=int(o.stdout), stderr=int(o.stderr),
                   timestamps=1 if o.ts else 0, since=o.since_engine or None,
                   until=o.until_engine or None)
