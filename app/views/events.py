"""GET /events and its poll: the engine's events, newest first, kept live
(app/eventfeed.py holds the windows, the cursor and the rows)."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from .. import eventfeed as ef
from ..web import engine

bp = Blueprint("events", __name__)


@bp.get("/events")
def index():
    f, problems = ef.read_filters(request.args)
    w = ef.first_window(engine(), f)
    qs = ef.query_string(f)
    return render_template("events/index.html", rows=w.rows, f=f, problems=problems, qs=qs,
                           cursor=w.cursor, poll_args={**qs, **w.cursor}, cut=w.cut,
                           filtered=bool(ef.engine_filters(f)), types=ef.TYPES,
                           windows=list(ef.WINDOWS), limit=ef.ENGINE_LIMIT,
                           max_rows=ef.MAX_ROWS, since_ns=w.since_ns, until_ns=w.until_ns)


@bp.get("/events/poll")
def poll():
    """The polled partial: the poller (carrying the next cursor) and the new
    rows, newest first, swapped in place of the previous poller."""
    f, _problems = ef.read_filters(request.args)
    w = ef.next_window(engine(), f, request.args.get("after", ""), request.args.get("seen", ""))
    return render_template("events/_poll.html", rows=w.rows, f=f, cursor=w.cursor,
                           poll_args={**ef.query_string(f), **w.cursor}, poll_cut=w.cut,
                           limit=ef.ENGINE_LIMIT, max_rows=ef.MAX_ROWS)
