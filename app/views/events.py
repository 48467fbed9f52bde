"""GET /events and its poll: the engine's events, newest first, kept live
(app/eventfeed.py holds the windows, the cursor and the rows); every engine's
at once, each row tagged with its engine, when several are configured and the
URL names none."""

from __future__ import annotations

from flask import g, render_template, request

from .. import eventfeed as ef
from ..web import EngineBlueprint, engine_entry, registry, settings

bp = EngineBlueprint("events", __name__)


def _sources():
    """(entries, budget): every engine within the budget, or this one alone."""
    reg = registry()
    if g.get("engine_name") is None and reg.several:
        return list(reg), settings().engine_budget
    return [engine_entry()], None


@bp.get("/events")
def index():
    f, problems = ef.read_filters(request.args)
    entries, budget = _sources()
    w = ef.first_window(registry(), entries, f, budget)
    qs = ef.query_string(f)
    return render_template("events/index.html", rows=w.rows, f=f, problems=problems, qs=qs,
                           cursor=w.cursor, poll_args={**qs, **w.cursor}, cut=w.cut,
                           trouble=w.trouble, several=budget is not None,
                           filtered=bool(ef.engine_filters(f)), types=ef.TYPES,
                           windows=list(ef.WINDOWS), limit=ef.ENGINE_LIMIT,
                           max_rows=ef.MAX_ROWS, since_ns=w.since_ns, until_ns=w.until_ns)


@bp.get("/events/poll")
def poll():
    """The polled partial: the poller (carrying the next cursor) and the new
    rows, newest first, swapped in place of the previous poller."""
    f, _problems = ef.read_filters(request.args)
    entries, budget = _sources()
    w = ef.next_window(registry(), entries, f, request.args.get("after", ""),
                       request.args.get("seen", ""), budget)
    return render_template("events/_poll.html", rows=w.rows, f=f, cursor=w.cursor,
                           poll_args={**ef.query_string(f), **w.cursor}, poll_cut=w.cut,
                           trouble=w.trouble, several=budget is not None, oob_trouble=True,
                           limit=ef.ENGINE_LIMIT, max_rows=ef.MAX_ROWS)
