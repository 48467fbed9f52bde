"""The container list (live; all engines side by side when several are
configured and the URL names none), one container's page, and revealing its
secret-looking env values (a POST with CSRF, never a linkable GET)."""

from __future__ import annotations

import hashlib

from flask import redirect, render_template, request, url_for

from .. import __version__
from .. import containerlist as cl, statsview
from ..web import (EngineBlueprint, combined, engine, engine_entry, is_htmx, registry, settings,
                   shared_partial, stats_sampler)

bp = EngineBlueprint("containers", __name__)


def listing_for(args, everywhere: bool) -> tuple[cl.Listing, dict]:
    reg = registry()
    if not everywhere:
        f = cl.list_filters(args)
        return cl.read_one(engine(), f), f
    f = cl.list_filters(args, reg.names())
    return cl.read_combined(reg, f, settings().engine_budget), f


def rows_for(args, *, everywhere: bool | None = None, poll: bool = False,
             listing: tuple[cl.Listing, dict] | None = None
             ) -> tuple[list[dict], dict, list, statsview.ListStats]:
    """The rows (with their stats cells, sorted as asked), the filters, the
    engines that could not be shown, and the stats columns' state
    (`listing`: what listing_for already read; `poll`: a live poll, which says
    which rows are on the viewer's screen)."""
    if everywhere is None:
        everywhere = combined()
    got, f = listing if listing is not None else listing_for(args, everywhere)
    prefixes = {name: url_for("containers.detail", ref="_", **({"engine": name} if everywhere
                                                                  else {}))[:-1]
                for name in got.raw}
    base = cl.shared_rows(got, f, prefixes, tagged=everywhere)
    # what is on someone's screen: the poll says (static/stats.js); a page just
    # loaded shows its first rows
    looking = statsview.seen_param(args) if poll else statsview.FIRST_SCREEN
    rows, stats = statsview.marked(stats_sampler(), base, engine_entry().name, f["sort"], looking)
    return rows, f, got.trouble, stats


def _context(rows, f, trouble, stats, tag: str = "", cells: str = "") -> dict:
    return {"rows": rows, "f": f, "qs": cl.query_string(f), "trouble": trouble,
            "several": combined(), "stats": stats, "tag": tag, "cells": cells}


def _with_stats(tag: str, rows: list[dict], stats: statsview.ListStats) -> str:
    """The tag with what of the stats changes the whole list: the notes, the
    interval, and the rows' order when sorted by a figure (the figures
    themselves have a tag of their own: statsview.cells_tag)."""
    if not stats.on:
        return tag
    order = [r["id"] for r in rows] if stats.sort else None
    h = hashlib.blake2b(repr((order, stats.notes, stats.interval)).encode(), digest_size=6)
    return tag + "." + h.hexdigest()


@bp.get("/")
def root():
    return redirect(url_for("containers.index"))


@bp.get("/containers")
def index():
    listing, f = listing_for(request.args, combined())
    rows, f, trouble, stats = rows_for(request.args, listing=(listing, f))
    ctx = _context(rows, f, trouble, stats, tag=_with_stats(_tag(listing), rows, stats),
                   cells=statsview.cells_tag(rows) if stats.on else "")
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
    of the engines' answers and, with stats on, the same figures), 204: nothing
    rendered or sent. With stats off no rows are even made. When only figures
    changed, only the stats cells that changed, each swapping itself in
    (static/stats.js sends the tag of the figures the viewer has)."""
    listing, f = listing_for(request.args, combined())
    tag = _tag(listing)
    if stats_sampler() is None and request.args.get("tag") == tag:
        return "", 204
    rows, f, trouble, stats = rows_for(request.args, listing=(listing, f), poll=True)
    tag = _with_stats(tag, rows, stats)
    cells = statsview.cells_tag(rows) if stats.on else ""
    had = request.args.get("cells")
    if request.args.get("tag") == tag and had is not None:
        # (a poller that does not say which figures it has gets the whole list)
        if had == cells:
            return "", 204
        body = statsview.cells_answer(rows, cells, had, lambda changed: render_template(
            "containers/_cells_poll.html", cells=cells, rows=changed))
        return body, 200, {"HX-Reswap": "none"}
    ctx = _context(rows, f, trouble, stats, tag=tag, cells=cells)
    key = getattr(rows, "key", None)
    if key is None:
        return render_template("containers/_poll.html", **ctx)
    # every viewer of these rows gets the same partial (but its CSRF token)
    return shared_partial(
        ("containers.rows", key, tag, cells, repr(sorted(f.items())), repr(trouble),
         stats.on, stats.sort, stats.interval, repr(stats.notes)),
        lambda **more: render_template("containers/_poll.html", **ctx, **more))


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
