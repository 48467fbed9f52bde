"""Resource stats and processes of one container: the section of its page
that polls (GET /containers/<ref>/stats), also a page of its own without
htmx. The list's stats cells come with the list (views/containers.py)."""

from __future__ import annotations

from flask import render_template, request

from .. import statsview
from ..web import EngineBlueprint, engine, engine_entry, is_htmx, settings, stats_sampler

bp = EngineBlueprint("stats", __name__)


@bp.get("/containers/<ref>/stats")
def section(ref: str):
    ps = statsview.for_page(stats_sampler(), engine(), engine_entry().name, ref,
                            settings().poll_interval,
                            watch=request.args.get("hidden") != "1")  # static/stats.js says
    ctx = {"ps": ps, "totals": statsview.totals(ps.figures),
           "stats_on": stats_sampler() is not None}
    if is_htmx():
        return render_template("stats/_poll.html", **ctx)
    return render_template("stats/index.html", **ctx)
