"""Create (and start) a container from a JSON manifest: the seed article's
write path as a form.

GET /containers/new shows the form; POST /containers checks the manifest
(app/manifest.py), the host-access policy (app/policy.py), then calls
POST /containers/create and POST /containers/{id}/start. Every refusal comes
back on the form with the user's text exactly as typed.
"""

from __future__ import annotations

import re

from flask import (Blueprint, abort, current_app, flash, redirect, render_template, request,
                   url_for)

from .. import manifest as mf
from .. import policy
from ..gateway import errors as ge
from ..web import engine, settings, url_for_safe

bp = Blueprint("create", __name__)

EXAMPLES: dict[str, tuple[str, str]] = {
    "oneshot": ("One-shot command", """{
  "Image": "busybox",
  "Cmd": ["echo", "hello from Periscope"]
}
"""),
    "service": ("Long-running service with env and labels", """{
  "Image": "busybox",
  "Cmd": ["sh", "-c", "while true; do echo \\"$GREETING, it is $(date)\\"; sleep 5; done"],
  "Env": ["GREETING=Hello from a service"],
  "Labels": {
    "app": "greeter",
    "tier": "demo"
  },
  "StopSignal": "SIGKILL",
  "HostConfig": {
    "RestartPolicy": {"Name": "unless-stopped"}
  }
}
"""),
    "tty": ("Tty container (a shell kept open)", """{
  "Image": "busybox",
  "Tty": true,
  "OpenStdin": true,
  "Cmd": ["sh"]
}
"""),
}
DEFAULT_EXAMPLE = "oneshot"
_HOLDER_RE = re.compile(r'by container "?([0-9a-f]{12,64})"?')


@bp.before_request
def _writable():
    if settings().read_only:
        abort(403, description="Periscope runs read-only (PERISCOPE_READ_ONLY=1): creating "
                               "containers and pulling images are turned off.")


def _engine_socket() -> str | None:
    host = engine().host
    return host.socket_path if host.scheme == "unix" else None


def preview(text: str, name: str, start: bool) -> dict | None:
    """The docker run line and the curl calls for a manifest that parses."""
    m, problems = mf.parse(text)
    if m is None or problems:
        return None
    line, left = mf.docker_run(m, name or None, start)
    eng = engine()
    try:
        api = eng.api_version
    except ge.EngineError:
        api = eng.max_api
    return {"docker_run": line, "left": left,
            "curls": mf.curl_calls(eng.host.curl, api, m, name or None, start)}


def form_from(source) -> dict:
    """The form's fields from request.form (or a stored pull job)."""
    return {"manifest": source.get("manifest", ""),
            "name": (source.get("name") or "").strip(),
            "start": source.get("start") in ("1", "on", "true", True)}


def render_form(form: dict, status: int = 200, **ctx):
    ctx.setdefault("problems", [])
    ctx.setdefault("violations", [])
    ctx.setdefault("preview", preview(form["manifest"], form["name"], form["start"]))
    ctx.setdefault("example", None)
    return render_template("create/form.html", form=form, examples=EXAMPLES,
                           allow_host_access=settings().allow_host_access,
                           policy_text=policy.describe(), max_kib=mf.MAX_BYTES // 1024,
                           **ctx), status


@bp.get("/containers/new")
def new():
    job_id = request.args.get("pull")
    if job_id:
        from .images import jobs
        job = jobs().get(job_id)
        if job and job.get("form"):
            return render_form(form_from(job["form"]), pulled=job)
        flash("That pull has expired; the form starts afresh.", "warn")
    example = request.args.get("example", DEFAULT_EXAMPLE)
    if example not in EXAMPLES:
        example = DEFAULT_EXAMPLE
    form = {"manifest": EXAMPLES[example][1], "name": "", "start": True}
    return render_form(form, example=example)


@bp.post("/containers/new/preview")
def preview_partial():
    form = form_from(request.form)
    return render_template("create/_preview.html", preview=preview(form["manifest"], form["name"],
                                                                   form["start"]), form=form)


def _refusal(exc: ge.EngineError, m: dict) -> tuple[dict, int]:
    """An Engine refusal in plain words, with the engine's own message."""
    msg = exc.message
    if isinstance(exc, ge.NotFound) and "no such image" in msg.lower():
        image = str(mf.get(m, "Image"))
        return {"kind": "no-image", "title": f"The image {image} is not on this engine",
                "message": msg, "image": image}, 404
    if isinstance(exc, ge.Conflict):
        holder = _HOLDER_RE.search(msg)
        return {"kind": "name-in-use", "title": "That name is already in use", "message": msg,
                "holder": holder.group(1) if holder else None}, 409
    if isinstance(exc, ge.EngineUnreachable):
        return {"kind": "unreachable", "title": "The Docker Engine does not answer",
                "message": msg}, 503
    if isinstance(exc, ge.EngineTimeout):
        return {"kind": "timeout", "title": "The Docker Engine did not answer in time",
                "message": msg}, 504
    if isinstance(exc, ge.APIError):
        status = exc.status if exc.status and 400 <= exc.status < 500 else 400
        return {"kind": "bad-request", "title": "The engine refused the manifest",
                "message": msg}, status
    return {"kind": "engine-error", "title": "The engine failed to create the container",
            "message": msg}, 502


def _landing(cid: str) -> str:
    """Where a started container is shown: its logs page, following, when
    there is one (the output of a just-started container may still be coming)."""
    return url_for_safe("logs.page", ref=cid, follow=1) or (url_for("containers.detail", ref=cid) + "#state")


@bp.post("/containers")
def create():
    form = form_from(request.form)
    text = form["manifest"]
    size = len(text.encode("utf-8"))
    if size > mf.MAX_BYTES:
        return render_form(form, 413, preview=None, problems=[mf.Problem(
            f"The manifest is {size / 1024:,.0f} KiB; Periscope takes at most {mf.MAX_BYTES // 1024} "
            "KiB. Your text is kept below: shorten it and submit again.")])
    m, problems = mf.parse(text)
    name_problem = mf.check_name(form["name"])
    if name_problem:
        problems = [*problems, name_problem]
    if problems:
        return render_form(form, 400, problems=problems)
    found = policy.violations(m, _engine_socket())
    if found and not settings().allow_host_access:
        return render_form(form, 403, violations=found)

    eng = engine()
    try:
        created = eng.create_container(mf.compact(m), name=form["name"] or None)
    except ge.EngineError as exc:
        refusal, status = _refusal(exc, m)
        return render_form(form, status, refusal=refusal)
    cid = created.get("Id", "")
    warnings = [w for w in (created.get("Warnings") or []) if w]
    label = form["name"].lstrip("/") or cid[:12]
    for w in warnings[:5]:
        flash(f"The engine warned: {w[:500]}", "warn")
    if not form["start"]:
        flash(f"Created {label}; not started.", "ok")
        return redirect(url_for("containers.detail", ref=cid), 303)
    try:
        eng.start(cid)
    except ge.EngineError as exc:
        try:
            c = eng.inspect_container(cid)
        except ge.EngineError:
            c = {"Id": cid, "Name": "/" + label, "State": {"Status": "unknown"}}
        # the engine's 4xx as it came; its 5xx (or no answer) is a 502, as in app/errors.py
        status = exc.status if exc.status and 400 <= exc.status < 500 else 502
        return render_form(form, status, start_failure={"message": exc.message, "c": c},
                           warnings=warnings)
    flash(f"Created and started {label}.", "ok")
    return redirect(_landing(cid), 303)


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
    cid = request.form.get("discard", "")
    from .. import whoami
    c = engine().inspect_container(cid)
    if whoami.is_self(engine(), c.get("Id", "")):
        abort(403, description="Periscope does not remove its own container.")
    engine().remove(c["Id"], force=True, volumes=True)
    name = c.get("Name", "").lstrip("/") or c["Id"][:12]
    return render_form(form, 200, discarded=name)
