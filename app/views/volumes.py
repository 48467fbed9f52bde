"""Volumes: the list (live; every engine side by side when several are
configured and the URL names none), one volume's page, and removing one
behind a confirm step. app/volumelist.py holds what each shows; sizes come
from the Disk page's last measurement, never asked here."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from .. import volumelist as vl
from ..display import reltime
from ..errors import explain
from ..gateway import exceptions as ge
from ..security import changes_state
from ..web import (EngineBlueprint, combined, disk_store, engine, engine_entry, is_htmx, poll_answer,
                   poll_tag, registry, settings)

bp = EngineBlueprint("volumes", __name__)



def hrefs(name: str | None = None) -> vl.Hrefs:
    kw = {"engine": name} if name else {}
    return vl.Hrefs(url_for("volumes.detail", name="_", **kw)[:-1],
                    url_for("containers.detail", ref="_", **kw)[:-1])


def rows_for(args) -> dict:
    store = disk_store()
    if not combined():
        f = vl.list_filters(args)
        known = store.recall(engine_entry().name)
        rows, problem = vl.fetch_rows(engine(), f, hrefs(), known)
        trouble, measured = [], {engine_entry().name: known}
    else:
        reg = registry()
        f = vl.list_filters(args, reg.names())
        measured = {e.name: store.recall(e.name) for e in reg}
        rows, trouble = vl.fetch_combined(reg, f, {e.name: hrefs(e.name) for e in reg},
                                          settings().engine_budget, measured)
        problem = ""
    measured = {k: v for k, v in measured.items() if v is not None}
    return {"rows": rows, "f": f, "qs": vl.query_string(f), "trouble": trouble,
            "problem": problem, "several": combined(), "totals": vl.totals(rows),
            "measured": measured,
            # the texts the partial shows of when ("3 minutes ago"): its poll's tag holds them
            "measured_rel": {k: reltime(v.at) for k, v in measured.items()}}


@bp.get("/volumes")
def index():
    ctx = rows_for(request.args)
    tag = poll_tag(ctx)
    if is_htmx() and request.headers.get("HX-Target") == "rows":
        body = render_template("volumes/_poll.html", **ctx, tag=tag)
        return body, 200, {"HX-Push-Url": url_for("volumes.index", **ctx["qs"])}
    return render_template("volumes/index.html", **ctx, tag=tag)


@bp.get("/volumes/rows")
def rows():
    return poll_answer("volumes/_poll.html", rows_for(request.args))


def _page(name: str) -> dict:
    known = disk_store().recall(engine_entry().name)
    page = vl.volume_page(engine(), name, hrefs(), known)
    return {**page, "known": known, "plan": vl.remove_plan(page["row"])}


@bp.get("/volumes/<name>")
def detail(name: str):
    return render_template("volumes/detail.html", **_page(name))


@bp.get("/volumes/<name>/remove")
@changes_state
def confirm_remove(name: str):
    return render_template("volumes/confirm_remove.html", **_page(name))


@bp.post("/volumes/<name>/remove")
def remove(name: str):
    ctx = _page(name)
    try:
        engine().remove_volume(ctx["vol"]["Name"])
    except ge.Conflict as exc:  # in use: said on the step itself
        x = explain(exc)
        return render_template("volumes/confirm_remove.html", **ctx, refusal=x), x.status
    flash(f"Removed volume {ctx['vol']['Name']}.", "ok")
    return redirect(url_for("volumes.index"), 303)
