"""The container list (live), one container's page, and revealing its
secret-looking env values (a POST with CSRF, never a linkable GET)."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for

from .. import containerlist as cl
from ..web import engine, is_htmx

bp = Blueprint("containers", __name__)


def rows_for(args) -> tuple[list[dict], dict]:
    f = cl.list_filters(args)
    return cl.fetch_rows(engine(), f, url_for("containers.detail", ref="_")[:-1]), f


@bp.get("/")
def root():
    return redirect(url_for("containers.index"))


@bp.get("/containers")
def index():
    rows, f = rows_for(request.args)
    qs = cl.query_string(f)
    if is_htmx() and request.headers.get("HX-Target") == "rows":
        # the filter form: answer the rows, and put the filters in the address
        # bar without the empty fields, so the URL can be shared as it reads
        body = render_template("containers/_poll.html", rows=rows, f=f, qs=qs)
        return body, 200, {"HX-Push-Url": url_for("containers.index", **qs)}
    return render_template("containers/index.html", rows=rows, f=f, qs=qs, states=cl.STATES)


@bp.get("/containers/rows")
def rows():
    """The polled partial: the table body, carrying its own trigger."""
    rows, f = rows_for(request.args)
    return render_template("containers/_poll.html", rows=rows, f=f, qs=cl.query_string(f))


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
