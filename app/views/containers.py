"""The container list (live; all engines side by side when several are
configured and the URL names none), one container's page, and revealing its
secret-looking env values (a POST with CSRF, never a linkable GET)."""

from __future__ import annotations

from flask import g, redirect, render_template, request, url_for

from .. import __version__
from .. import containerlist as cl
from ..web import EngineBlueprint, engine, engine_entry, is_htmx, registry, settings

bp = EngineBlueprint("containers", __name__)


def combined() -> bool:
    """A list of every engine: several are configured and the URL names none."""
    return g.get("engine_name") is None and registry().several


def listing_for(args, everywhere: bool) -> tuple[cl.Listing, dict]:
    reg = registry()
    if not everywhere:
        f = cl.list_filters(args)
        return cl.read_one(engine(), f), f
    f = cl.list_filters(args, reg.names())
    return cl.read_combined(reg, f, settings().engine_budget), f


def rows_for(args, *, everywhere: bool | None = None,
             listing: tuple[cl.Listing, dict] | None = None) -> tuple[list[dict], dict, list]:
    """The rows, the filters, and the engines that could not be shown
    (`listing`: what listing_for already read)."""
    if everywhere is None:
        everywhere = combined()
    got, f = listing if listing is not None else listing_for(args, everywhere)
    prefixes = {name: url_for("containers.detail", ref="_", **({"engine": name} if everywhere
                                                                  else {}))[:-1]
                for name in got.raw}
    return cl.rows_of(got, f, prefixes, tagged=everywhere), f, got.trouble


def _context(rows, f, trouble, tag: str = "") -> dict:
    return {"rows": rows, "f": f, "qs": cl.query_string(f), "trouble": trouble,
            "several": combined(), "tag": tag}


@bp.get("/")
def root():
    return redirect(url_for("containers.index"))


@bp.get("/containers")
def index():
    listing, f = listing_for(request.args, combined())
    ctx = _context(*rows_for(request.args, listing=(listing, f)), tag=_tag(listing))
    if is_htmx() and request.headers.get("HX-Target") == "rows":
        # the filter form: answer the rows, and put the filters in the address
        # bar without the empty fields, so the URL can be shared as it reads
        body = render_template("containers/_poll.html", **ctx)
        return body, 200, {"HX-Push-Url": url_for("containers.index", **ctx["qs"])}
    return render_template("containers/index.html", **ctx, states=cl.STATES)


def _tag(listing: cl.Listing) -> str:
    """What the viewer's rows were made from: the engines' answers and this
    engine's (or each engine's) read-only setting."""
    ro = [(e.name, e.read_only) for e in registry()] if combined() else engine_entry().read_only
    return cl.tag_of(listing, (ro, __version__))


@bp.get("/containers/rows")
def rows():
    """The polled partial: the table body, carrying its own trigger. When
    nothing it shows could have changed since the viewer's copy (the same tag
    of the engines' answers), 204: no rows made, nothing rendered or sent."""
    listing, f = listing_for(request.args, combined())
    tag = _tag(listing)
    if request.args.get("tag") == tag:
        return "", 204
    return render_template("containers/_poll.html",
                           **_context(*rows_for(request.args, listing=(listing, f)), tag=tag))


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
