"""Pulling an image with progress: POST /images/pull starts a pull job
(app/pulls.py), a page polls its progress (the partial carries its own
trigger and drops it when the job ends), then the user goes back to the
create form with the manifest as it was."""

from __future__ import annotations

from pathlib import Path

from flask import abort, current_app, redirect, render_template, request, url_for

from .. import manifest as mf
from ..pulls import MAX_RUNNING, PullJobs, TooMany
from ..web import EngineBlueprint, engine, settings

bp = EngineBlueprint("images", __name__)


def jobs() -> PullJobs:
    store = current_app.extensions.get("periscope.pulls")
    if store is None:
        state = settings().state_dir
        store = current_app.extensions.setdefault(
            "periscope.pulls", PullJobs(Path(state) / "pulls" if state else None))
    return store


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
