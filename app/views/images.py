"""Images: the list (live; every engine side by side when several are
configured and the URL names none), one image's page, removing an image or
one of its names behind a confirm step (app/imagelist.py holds what each
shows and what a removal will do), and pulling an image with progress:
POST /images/pull starts a pull job (app/pulls.py), a page polls its progress
(the partial carries its own trigger and drops it when the job ends), then
the user goes back to the create form with the manifest as it was, or to the
image."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for

from .. import imagelist as il
from .. import manifest as mf
from .. import params
from ..errors import explain
from ..gateway import exceptions as ge
from ..pulls import MAX_RUNNING, PullJobs, TooMany
from ..security import changes_state
from ..web import (EngineBlueprint, combined, disk_store, engine, engine_entry, is_htmx, poll_answer,
                   poll_tag, registry, settings, state_store)

bp = EngineBlueprint("images", __name__)


def jobs() -> PullJobs:
    return state_store("pulls", PullJobs)


@bp.post("/images/pull")
def pull():
    image = (request.form.get("image") or "").strip()
    why = mf.check_image(image)
    if why:
        abort(400, description=why)
    form = None
    if "manifest" in request.form:
        manifest = request.form.get("manifest", "")
        if len(manifest.encode("utf-8")) > mf.MAX_BYTES:
            abort(413, description="The manifest sent with this pull is over 256 KiB.")
        form = {"manifest": manifest, "name": request.form.get("name", ""),
                "start": request.form.get("start", "")}
    try:
        job_id = jobs().start(engine(), image, form)
    except TooMany:
        abort(429, description=f"{MAX_RUNNING} pulls are already running here; wait for one "
                               "to finish.")
    return redirect(url_for("images.pull_page", job_id=job_id), 303)


def _job_or_404(job_id: str) -> dict:
    job = jobs().get(job_id)
    if job is None:
        abort(404, description="No such pull: it finished more than an hour ago, or never "
                               "started.")
    return job


@bp.get("/images/pull/<job_id>")
def pull_page(job_id: str):
    return render_template("pulls/detail.html", job=_job_or_404(job_id))


@bp.get("/images/pull/<job_id>/progress")
def pull_progress(job_id: str):
    return render_template("pulls/_poll.html", job=_job_or_404(job_id))


# -- the images list and one image's page ----------------------------------------

def hrefs(name: str | None = None) -> il.Hrefs:
    """Where image and container pages start, on this page's engine or `name`."""
    kw = {"engine": name} if name else {}
    return il.Hrefs(url_for("images.detail", ref="_", **kw)[:-1],
                    url_for("containers.detail", ref="_", **kw)[:-1],
                    url_for("images.confirm_remove", ref="_", **kw)[:-1])


def rows_for(args) -> dict:
    if not combined():
        f = il.list_filters(args)
        known = disk_store().recall(engine_entry().name)
        rows, problem = il.fetch_rows(engine(), f, hrefs(), known)
        trouble = []
    else:
        reg = registry()
        f = il.list_filters(args, reg.names())
        store = disk_store()
        rows, trouble = il.fetch_combined(reg, f, {e.name: hrefs(e.name) for e in reg},
                                          settings().engine_budget,
                                          {e.name: store.recall(e.name) for e in reg})
        problem = ""
    return {"rows": rows, "f": f, "qs": il.query_string(f), "trouble": trouble,
            "problem": problem, "several": combined(), "totals": il.totals(rows),
            "shared_size_asked": combined() or engine().supports_shared_size()}


@bp.get("/images")
def index():
    ctx = rows_for(request.args)
    tag = poll_tag(ctx)
    if is_htmx() and request.headers.get("HX-Target") == "rows":
        body = render_template("images/_poll.html", **ctx, tag=tag)
        return body, 200, {"HX-Push-Url": url_for("images.index", **ctx["qs"])}
    return render_template("images/index.html", **ctx, tag=tag)


@bp.get("/images/rows")
def rows():
    """The polled partial: the table, carrying its own trigger."""
    return poll_answer("images/_poll.html", rows_for(request.args))


@bp.get("/images/<path:ref>")
def detail(ref: str):
    page = il.image_page(engine(), ref, hrefs())
    return render_template("images/detail.html", **page, reveal_env=False)


@bp.post("/images/reveal")
def reveal_env():
    """The image's secret-looking env values, on request (a POST with CSRF)."""
    ref = request.form.get("ref", "")
    page = il.image_page(engine(), ref, hrefs())
    if is_htmx():
        return render_template("images/_env_reveal.html", **page, reveal_env=True)
    return render_template("images/detail.html", **page, reveal_env=True)


def _removal(ref: str) -> dict:
    page = il.image_page(engine(), ref, hrefs())
    return {**page, "plan": il.remove_plan(page["img"], ref, page["users"]), "ref": ref}


@bp.get("/images/remove")
@changes_state
def confirm_remove():
    """The confirm step: what removing this name or image will do."""
    ref = (request.args.get("ref") or "").strip()
    return render_template("images/confirm_remove.html", **_removal(ref))


@bp.post("/images/remove")
def remove():
    ref = (request.form.get("ref") or "").strip()
    force = params.flag(request.form.get("force"))
    ctx = _removal(ref)
    try:
        answer = engine().remove_image(ref, force=force)
    except ge.Conflict as exc:  # in use, several names: said on the step itself
        x = explain(exc)
        return render_template("images/confirm_remove.html", **ctx, refusal=x,
                               forced=force), x.status
    flash(il.removed_message(ref, answer), "ok")
    return redirect(url_for("images.index"), 303)
