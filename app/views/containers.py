"""The container list (live; all engines side by side when several are
configured and the URL names none), one container's page, and revealing its
secret-looking env values (a POST with CSRF, never a linkable GET)."""

from __future__ import annotations

from flask import g, redirect, render_template, request, url_for

from .. import containerlist as cl
from ..web import EngineBlueprint, engine, is_htmx, registry, settings

bp = EngineBlueprint("containers", __name__)


def combined() -> bool:
    """A list of every engine: several are configured and the URL names none."""
    return g.get("engine_name") is None and registry().several


def rows_for(args, *, everywhere: bool | None = None) -> tuple[list[dict], dict, list]:
    """The rows, the filters, and the engines that could not be shown."""
    if everywhere is None:
        everywhere = combined()
    if not everywhere:
        f = cl.list_filters(args)
        return cl.fetch_rows(engine(), f, url_for("containers.detail", ref="_")[:-1]), f, []
    reg = registry()
    f = cl.list_filters(args, reg.names())
    prefixes = {e.name: url_for("containers.detail", ref="_", engine=e.name)[:-1] for e in reg}
    rows, trouble = cl.fetch_combined(reg, f, prefixes, settings().engine_budget)
    return rows, f, trouble


def _context(rows, f, trouble) -> dict:
    return {"rows": rows, "f": f, "qs": cl.query_string(f), "trouble": trouble,
            "several": combined()}


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
    return render_template("containers/_poll.html", **_context(*rows_for(request.args)))


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
