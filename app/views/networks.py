"""Networks: the list (live; every engine side by side when several are
configured and the URL names none), one network's page with the containers
attached and their addresses and aliases, and removing one behind a confirm
step (app/networklist.py)."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from .. import networklist as nl
from ..errors import explain
from ..gateway import exceptions as ge
from ..security import changes_state
from ..web import (EngineBlueprint, combined, engine, is_htmx, poll_answer, poll_tag, registry,
                   settings)

bp = EngineBlueprint("networks", __name__)



def hrefs(name: str | None = None) -> nl.Hrefs:
    kw = {"engine": name} if name else {}
    return nl.Hrefs(url_for("networks.detail", ref="_", **kw)[:-1],
                    url_for("containers.detail", ref="_", **kw)[:-1])


def rows_for(args) -> dict:
    if not combined():
        f = nl.list_filters(args)
        rows, problem = nl.fetch_rows(engine(), f, hrefs())
        trouble = []
    else:
        reg = registry()
        f = nl.list_filters(args, reg.names())
        rows, trouble = nl.fetch_combined(reg, f, {e.name: hrefs(e.name) for e in reg},
                                          settings().engine_budget)
        problem = ""
    return {"rows": rows, "f": f, "qs": nl.query_string(f), "trouble": trouble,
            "problem": problem, "several": combined()}


@bp.get("/networks")
def index():
    ctx = rows_for(request.args)
    tag = poll_tag(ctx)
    if is_htmx() and request.headers.get("HX-Target") == "rows":
        body = render_template("networks/_poll.html", **ctx, tag=tag)
        return body, 200, {"HX-Push-Url": url_for("networks.index", **ctx["qs"])}
    return render_template("networks/index.html", **ctx, tag=tag)


@bp.get("/networks/rows")
def rows():
    return poll_answer("networks/_poll.html", rows_for(request.args))


def _page(ref: str) -> dict:
    page = nl.network_page(engine(), ref, hrefs())
    return {**page, "plan": nl.remove_plan(page["row"])}


@bp.get("/networks/<ref>")
def detail(ref: str):
    return render_template("networks/detail.html", **_page(ref))


@bp.get("/networks/<ref>/remove")
@changes_state
def confirm_remove(ref: str):
    return render_template("networks/confirm_remove.html", **_page(ref))


@bp.post("/networks/<ref>/remove")
def remove(ref: str):
    ctx = _page(ref)
    net = ctx["net"]
    try:
        engine().remove_network(net["Id"])
    except (ge.Conflict, ge.APIError) as exc:  # attached (403 or 409), predefined (403)
        if isinstance(exc, ge.NotFound):
            raise
        x = explain(exc)
        return render_template("networks/confirm_remove.html", **ctx, refusal=x), x.status
    flash(f"Removed network {net.get('Name', '')}.", "ok")
    return redirect(url_for("networks.index"), 303)
