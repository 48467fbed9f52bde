"""The container list (live; all engines side by side when several are
configured and the URL names none), one container's page, and revealing its
secret-looking env values (a POST with CSRF, never a linkable GET)."""

from __future__ import annotations

from flask import g, redirect, render_template, request, url_for

from .. import containerlist as cl, statsview
from ..web import EngineBlueprint, engine, engine_entry, is_htmx, registry, settings, stats_sampler

bp = EngineBlueprint("containers", __name__)


def combined() -> bool:
    """A list of every engine: several are configured and the URL names none."""
    return g.get("engine_name") is None and registry().several


def rows_for(args, *, everywhere: bool | None = None,
             poll: bool = False) -> tuple[list[dict], dict, list, statsview.ListStats]:
    """The rows (with their stats cells, sorted as asked), the filters, the
    engines that could not be shown, and the stats columns' state. `poll`: a
    live poll, which may share a list answer of the last poll interval (other
    viewers' polls; an action of this process makes it fresh again)."""
    if everywhere is None:
        everywhere = combined()
    max_age = settings().poll_interval if poll else 0
    if not everywhere:
        f = cl.list_filters(args)
        rows = cl.fetch_rows(engine(), f, url_for("containers.detail", ref="_")[:-1], max_age)
        trouble = []
    else:
        reg = registry()
        f = cl.list_filters(args, reg.names())
        prefixes = {e.name: url_for("containers.detail", ref="_", engine=e.name)[:-1]
                    for e in reg}
        rows, trouble = cl.fetch_combined(reg, f, prefixes, settings().engine_budget, max_age)
    # what is on someone's screen: the poll says (static/stats.js); a page just
    # loaded shows its first rows
    looking = statsview.seen_param(args) if poll else statsview.FIRST_SCREEN
    stats = statsview.for_list(stats_sampler(), rows, engine_entry().name, f["sort"], looking)
    return rows, f, trouble, stats


def _context(rows, f, trouble, stats) -> dict:
    return {"rows": rows, "f": f, "qs": cl.query_string(f), "trouble": trouble,
            "several": combined(), "stats": stats}


@bp.get("/")
def root():
    return redirect(url_for("containers.index"))


@bp.get("/containers")
def index():
    ctx = _context(*rows_for(request.args))
    if is_htmx() and request.headers.get("HX-Target") == "rows":
        # the filter form: answer the rows, and put the filters in the address
        # bar without the empty fields, so the URL can be shared as it reads
        body = render_template("containers/_poll.html", **ctx)
        return body, 200, {"HX-Push-Url": url_for("containers.index", **ctx["qs"])}
    return render_template("containers/index.html", **ctx, states=cl.STATES)


@bp.get("/containers/rows")
def rows():
    """The polled partial: the table body, carrying its own trigger."""
    return render_template("containers/_poll.html",
                           **_context(*rows_for(request.args, poll=True)))


@bp.get("/containers/<ref>")
def detail(ref: str):
    c = engine().inspect_container(ref)
    return render_template("containers/detail.html", c=c, name=c.get("Name", "").lstrip("/"))


@bp.post("/containers/<ref>/env/reveal")
def reveal_env(ref: str):
    c = engine().inspect_container(ref)
    ctx = {"c": c, "name": c.get("Name", "").lstrip("/"), "reveal_env": True}
    if is_htmx():
        return render_template("containers/_env_reveal.html", **ctx)
    return render_template("containers/detail.html", **ctx)
