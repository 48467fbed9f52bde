"""Lifecycle actions: POST /containers/<ref>/{start,stop,restart,kill,pause,
unpause,remove}.

Every action is a POST (CSRF is checked globally in app/security.py). Each
answers htmx with the updated list section (row buttons) or follows the same
path as a plain form: a message, then a 303 redirect back to the page it came
from (the detail page's htmx forms select their section from that page).
"Already started" (304) and the like are plain messages, not errors. A
start or restart mounts the container's binds again: unless the engine allows
host access, its paths are judged first (app/hostview.py judge_before_start;
a refusal is a 403 with the policy's words, app/errors.py).
"""

from __future__ import annotations

import re

from flask import abort, flash, redirect, render_template, request, url_for

from .. import display, hostview, params, selfdetect
from ..containerlist import list_filters, query_string
from ..gateway import exceptions as ge
from ..security import changes_state, local_path, safe_next
from ..web import EngineBlueprint, engine, engine_entry, is_htmx, registry, settings
from .containers import rows_for

bp = EngineBlueprint("actions", __name__)

ACTIONS = ("start", "stop", "restart", "kill", "pause", "unpause")
# Actions that would take Periscope down if aimed at its own container.
SELF_HARM = {"stop", "restart", "kill", "pause", "remove"}
SIGNAL_RE = re.compile(r"^(?:SIG)?[A-Z][A-Z0-9+-]{0,15}$|^[0-9]{1,2}$")



def _is_self(container_id: str) -> bool:
    """Stop, restart, kill, pause and remove refuse to act on Periscope's own
    container (app/selfdetect.py, cached per engine)."""
    return selfdetect.is_self(engine(), container_id)


def _safe_next(default: str) -> str:
    """The page to go back to: a local path only (never another site)."""
    return local_path(request.form.get("next")) or default


def _timeout() -> int | None:
    return params.seconds(request.form.get("t"), name="The timeout", maximum=600)


def _signal() -> str | None:
    sig = (request.form.get("signal") or "").strip().upper()
    if not sig:
        return None
    if not SIGNAL_RE.match(sig):
        abort(400, description=f"{sig[:20]!r} is not a signal name (like SIGTERM) or number.")
    return sig


def _inspect(ref: str) -> tuple[dict, str]:
    c = engine().inspect_container(ref)
    return c, (c.get("Name") or "").lstrip("/") or c.get("Id", "")[:12]


def _answer(cid: str, message: str, level: str, status: int = 200, removed: bool = False):
    """The updated section for htmx, or a redirect with the message."""
    ctx = request.form.get("ctx")
    filters = {k[2:]: v for k, v in request.form.items() if k.startswith("f_")}
    # a row of the list of every engine: the answer is that list again
    everywhere = params.flag(request.form.get("everywhere")) and registry().several
    if is_htmx() and ctx == "row":
        rows, f, trouble, stats = rows_for(filters, everywhere=everywhere)
        return render_template("actions/_row_response.html", rows=rows, f=f, trouble=trouble,
                               several=everywhere, qs=query_string(f), message=message,
                               level=level, stats=stats), status
    flash(message, level)
    if ctx == "row":
        f = list_filters(filters, registry().names())
        default = url_for("containers.index", **query_string(f),
                          **({"engine": None} if everywhere else {}))
    else:
        default = url_for("containers.index") if removed else url_for("containers.detail", ref=cid)
    target = _safe_next(default)
    if removed and target.rstrip("/").endswith(cid) or removed and ctx == "detail":
        target = url_for("containers.index")
    if is_htmx() and removed:
        return "", 200, {"HX-Redirect": target}
    return redirect(target, 303)


@bp.post("/containers/<ref>/<action>")
def act(ref: str, action: str):
    if action not in ACTIONS:
        abort(404, description=f"There is no action {action[:30]!r}.")
    c, name = _inspect(ref)
    cid = c["Id"]
    if action in SELF_HARM and _is_self(cid):
        abort(403, description=f"Periscope runs in {name}: it will not {action} its own "
                               "container.")
    eng = engine()
    sig = None
    if action in ("start", "restart"):  # a start mounts its binds again: judged now
        st = settings()
        hostview.judge_before_start(engine_entry(), [(cid, name)], action,
                                    host_root=st.host_root, bind_roots=st.bind_roots)
    try:
        if action in ("stop", "restart"):
            changed = getattr(eng, action)(cid, _timeout())
        elif action == "kill":
            sig = _signal()
            changed = eng.kill(cid, sig)
        else:
            changed = getattr(eng, action)(cid)
    except ge.APIError as exc:
        # "already paused", "not running"...: said where the user acted, not as
        # an error page; a vanished container is still a 404
        if isinstance(exc, ge.NotFound):
            raise
        return _answer(cid, f"{name}: {exc.message}", "warn")
    done, already = display.ACTION_DONE[action]
    text = (done if changed else already).format(n=name, sig=sig or "SIGKILL")
    return _answer(cid, text, "ok" if changed else "info")


@bp.get("/containers/<ref>/remove")
@changes_state
def confirm_remove(ref: str):
    """The confirmation step (works without JavaScript). GET changes nothing."""
    c, name = _inspect(ref)
    nxt = safe_next(request.args.get("next"))
    return render_template("actions/confirm_remove.html", c=c, name=name, next=nxt,
                           is_self=_is_self(c["Id"]))


@bp.post("/containers/<ref>/remove")
def remove(ref: str):
    c, name = _inspect(ref)
    cid = c["Id"]
    if _is_self(cid):
        abort(403, description=f"Periscope runs in {name}: it will not remove its own container.")
    if request.form.get("confirmed") != "1":
        return render_template("actions/confirm_remove.html", c=c, name=name,
                               next=_safe_next(url_for("containers.index")), is_self=False)
    force = params.flag(request.form.get("force"))
    volumes = params.flag(request.form.get("volumes"))
    try:
        engine().remove(cid, force=force, volumes=volumes)
    except ge.Conflict as exc:
        if is_htmx() and request.form.get("ctx") == "row":
            return _answer(cid, f"{name} was not removed: {exc.message}", "warn")
        flash(f"{name} was not removed: {exc.message}", "warn")
        back = url_for("actions.confirm_remove", ref=cid,
                       next=_safe_next(url_for("containers.index")))
        if is_htmx():  # the detail page's form swaps nothing: go to the step itself
            return "", 200, {"HX-Redirect": back}
        return redirect(back, 303)
    extra = " and its anonymous volumes" if volumes else ""
    return _answer(cid, f"Removed {name}{extra}.", "ok", removed=True)
