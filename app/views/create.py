"""Create (and start) a container from a JSON manifest: the seed article's
write path as a form.

GET /containers/new shows the form; POST /containers checks the manifest
(app/manifest.py), the host-access policy (app/policy.py), then calls
POST /containers/create and POST /containers/{id}/start. Every refusal comes
back on the form with the user's text exactly as typed.
"""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for

from .. import creation, params, policy, selfdetect
from .. import manifest as mf
from ..errors import explain
from ..gateway import exceptions as ge
from ..security import changes_state
from ..web import EngineBlueprint, engine, engine_entry, settings

bp = EngineBlueprint("create", __name__)


def _preview(form: dict) -> dict | None:
    eng = engine()
    try:
        api = eng.api_version
    except ge.EngineError:
        api = eng.max_api
    return mf.preview(form["manifest"], form["name"], form["start"], host=eng.host, api=api)


def form_from(source) -> dict:
    """The form's fields from request.form (or a stored pull job)."""
    return {"manifest": source.get("manifest", ""),
            "name": (source.get("name") or "").strip(),
            "start": source.get("start") is True or params.flag(source.get("start") or None)}


def render_form(form: dict, status: int = 200, **ctx):
    ctx.setdefault("problems", [])
    ctx.setdefault("violations", [])
    if "preview" not in ctx:
        ctx["preview"] = _preview(form)
    ctx.setdefault("example", None)
    return render_template("create/index.html", form=form, examples=mf.EXAMPLES,
                           allow_host_access=engine_entry().allow_host_access,
                           policy_text=policy.describe(), max_kib=mf.MAX_BYTES // 1024,
                           **ctx), status


@bp.get("/containers/new")
@changes_state
def new():
    job_id = request.args.get("pull")
    if job_id:
        from .images import jobs
        job = jobs().get(job_id)
        if job and job.get("form"):
            return render_form(form_from(job["form"]), pulled=job)
        flash("That pull has expired; the form starts afresh.", "warn")
    example = request.args.get("example", mf.DEFAULT_EXAMPLE)
    if example not in mf.EXAMPLES:
        example = mf.DEFAULT_EXAMPLE
    form = {"manifest": mf.EXAMPLES[example][1], "name": "", "start": True}
    return render_form(form, example=example)


@bp.post("/containers/new/preview")
def preview_partial():
    form = form_from(request.form)
    return render_template("create/_preview.html", preview=_preview(form), form=form)


@bp.post("/containers")
def create():
    form = form_from(request.form)
    st = settings()
    got = creation.create(engine(), engine_entry(), form["manifest"], form["name"], form["start"],
                          host_root=st.host_root, bind_roots=st.bind_roots)
    if got.kind == "problems":
        return render_form(form, got.status, problems=got.problems,
                           **({"preview": None} if got.status == 413 else {}))
    if got.kind == "refused":
        return render_form(form, 403, violations=got.violations, host_view=got.host_view)
    if got.kind == "engine":
        refusal = explain(got.error, image=got.image)
        return render_form(form, refusal.status, refusal=refusal)
    for w in got.warnings[:5]:
        flash(f"The engine warned: {w[:500]}", "warn")
    if got.kind == "created":
        flash(f"Created {got.label}; not started.", "ok")
        return redirect(url_for("containers.detail", ref=got.cid), 303)
    if got.kind == "start_failed":
        return render_form(form, explain(got.error).status,
                           start_failure={"message": got.error.message, "c": got.container},
                           warnings=got.warnings)
    flash(f"Created and started {got.label}.", "ok")
    # its logs, following: the output of a just-started container may still be coming
    return redirect(url_for("logs.index", ref=got.cid, follow=1), 303)


@bp.errorhandler(413)
def _too_large(exc):
    """A body over the app's limit (1 MiB) is never read, so it cannot be shown
    again: say so plainly, on the form (or in the preview for htmx)."""
    limit = current_app.config.get("MAX_CONTENT_LENGTH") or 0
    if request.endpoint == "create.preview_partial":
        return render_template("create/_preview.html", preview=None, form=None), 413
    form = {"manifest": "", "name": "", "start": True}
    return render_form(form, 413, preview=None, problems=[mf.Problem(
        f"The request was over {limit // 1024:,} KiB, so Periscope did not read it and cannot "
        f"show your text again. A manifest may be at most {mf.MAX_BYTES // 1024} KiB.")])


@bp.post("/containers/discard")
def discard():
    """Remove a container whose start failed, and give the form back as it was."""
    form = form_from(request.form)
    eng = engine()
    c = eng.inspect_container(request.form.get("discard", ""))
    if selfdetect.is_self(eng, c.get("Id", "")):
        abort(403, description="Periscope does not remove its own container.")
    eng.remove(c["Id"], force=True, volumes=True)
    name = c.get("Name", "").lstrip("/") or c["Id"][:12]
    return render_form(form, 200, discarded=name)
