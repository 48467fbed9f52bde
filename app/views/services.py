"""Swarm services: the list (live; every manager's side by side when several
engines are configured and the URL names none), stacks, one service's page
with its tasks (live), its log (follow, search, download), and the two
changes: scale and force update (POSTs).

What they read and send lives in app/servicelist.py, app/servicespec.py,
app/swarm.py and app/logview.py.
"""

from __future__ import annotations

import logging

from flask import Response, abort, flash, redirect, render_template, request, url_for

from .. import logview, params, servicelist as sl, servicespec as ss, swarm
from ..errors import explain
from ..gateway import exceptions as ge
from ..logreader import PAGE_BOUND, Cursor
from ..logrows import render_rows
from ..params import InputError
from ..web import (EngineBlueprint, combined, engine, engine_entry, is_htmx, poll_answer, poll_tag,
                   registry, settings)

bp = EngineBlueprint("services", __name__)
log = logging.getLogger("periscope")



def _list(args) -> dict:
    """The list's context: rows, filters, notes of engines that show none."""
    several = combined()
    reg = registry()
    f, problems = sl.list_filters(args, reg.names() if several else None)
    if several:
        prefixes = {e.name: url_for("services.detail", ref="_", engine=e.name)[:-1] for e in reg}
        rows, notes = sl.fetch_combined(reg, f, prefixes, settings().engine_budget)
        state = None
    else:
        out = sl.fetch(engine(), f, url_for("services.detail", ref="_")[:-1])
        rows, notes, state = out.rows, [], out.state
    return {"rows": rows, "notes": notes, "state": state, "f": f, "problems": problems,
            "qs": sl.query_string(f), "several": several}


@bp.get("/services")
def index():
    ctx = _list(request.args)
    tag = poll_tag(ctx)
    if is_htmx() and request.headers.get("HX-Target") == "service-rows":
        body = render_template("services/_poll.html", **ctx, tag=tag)
        return body, 200, {"HX-Push-Url": url_for("services.index", **ctx["qs"])}
    return render_template("services/index.html", **ctx, tag=tag)


@bp.get("/services/rows")
def rows():
    """The polled partial: the table, carrying its own trigger; 204 when the
    viewer's copy is made from the same answers (web.poll_answer)."""
    return poll_answer("services/_poll.html", _list(request.args))


@bp.get("/stacks")
def stacks():
    ctx = _list(request.args)
    return render_template("services/stacks.html", stacks=swarm.stacks(ctx["rows"]), **ctx)


def _detail(ref: str) -> dict:
    """The service page's reads: the service, its tasks (one filtered
    GET /tasks, never one per task), node names, and this engine's node."""
    eng = engine()
    s = eng.inspect_service(ref)
    tasks = eng.tasks(filters={"service": [s["ID"]]})
    names = swarm.hostnames(eng, {t.get("NodeID") for t in tasks if t.get("NodeID")})
    own = swarm.swarm_state(eng.info()).node_id
    name = (s.get("Spec") or {}).get("Name") or s["ID"][:12]
    running, desired = swarm.running_count(tasks)
    rows, hidden = swarm.bounded(swarm.task_rows(tasks, name, names, own))
    return {"s": s, "sid": s["ID"], "name": name, "spec": ss.sections(s),
            "tasks": rows, "hidden_tasks": hidden, "running": running,
            "desired": desired, "raw": ss.masked(s), "row": sl.present(s)}


@bp.get("/services/<ref>")
def detail(ref: str):
    return render_template("services/detail.html", **_detail(ref))


@bp.post("/services/<ref>/env/reveal")
def reveal_env(ref: str):
    """Secret-looking env values shown on request (a POST with CSRF, never a
    linkable GET), as on a container's page."""
    s = engine().inspect_service(ref)
    spec = ss.sections(s)
    if is_htmx():
        return render_template("services/_env.html", spec=spec, sid=s["ID"], reveal_env=True)
    return render_template("services/detail.html", **_detail(ref), reveal_env=True)


@bp.get("/services/<ref>/tasks")
def tasks(ref: str):
    """The tasks table's poll. A service gone, or an engine that left the
    swarm, is said in place and the poll goes on, slower."""
    try:
        ctx = _detail(ref)
    except (ge.NotFound, ge.NotSwarmManager) as exc:
        return render_template("services/_tasks_poll.html", gone=exc.message, ref=ref,
                               delay_ms=int(settings().poll_interval * 5000))
    return render_template("services/_tasks_poll.html", **ctx, ref=ref, gone=None,
                           delay_ms=int(settings().poll_interval * 1000))


# -- changes ---------------------------------------------------------------------------------
def _change(ref: str, change, done: str, harms_self=None):
    entry = engine_entry()
    try:
        up = ss.update(entry.engine, ref, change, allow_host_access=entry.allow_host_access,
                       harms_self=harms_self, bind_roots=settings().bind_roots)
    except InputError as exc:
        return _back(ref, str(exc), "bad")
    except ss.PolicyRefusal as exc:
        text = "; ".join(str(v) for v in exc.violations[:5])
        return _back(ref, f"Not sent: {exc.service}'s spec asks for host access, which this "
                          f"engine does not allow (PERISCOPE_ALLOW_HOST_ACCESS): {text}.",
                     "bad")
    except ss.SelfHarm as exc:
        abort(403, description=str(exc))
    except ge.OutOfSequence:
        return _back(ref, "Someone else updated this service at the same moment, twice in a "
                          "row: nothing was changed. The page shows it as it is now; try again.",
                     "warn")
    except ge.NotFound:
        raise
    except ge.APIError as exc:
        x = explain(exc)
        return _back(ref, f"The engine refused: {x.message}", "bad")
    name = (up.service.get("Spec") or {}).get("Name") or ref
    for w in up.warnings[:5]:
        flash(f"The engine warned: {w[:500]}", "warn")
    note = " (a concurrent update came first; retried once)" if up.retried else ""
    return _back(up.service["ID"], done.format(n=name) + note, "ok")


def _back(ref: str, message: str, level: str):
    """The service page again, with the message (PRG: a reload sends nothing)."""
    flash(message, level)
    target = url_for("services.detail", ref=ref)
    if is_htmx():
        return "", 200, {"HX-Redirect": target}
    return redirect(target, 303)


@bp.post("/services/<ref>/scale")
def scale(ref: str):
    try:
        n = ss.parse_replicas(request.form.get("replicas"))
    except InputError as exc:
        return _back(ref, str(exc), "bad")
    return _change(ref, ss.set_replicas(n), f"Scaling {{n}} to {n}.", ss.scales_down(n))


@bp.post("/services/<ref>/update")
def force_update(ref: str):
    """Redeploy: every task replaced, nothing else changed (--force)."""
    return _change(ref, ss.force_update, "Redeploying {n}: every task is being replaced.",
                   lambda s: True)


# -- the service's log -----------------------------------------------------------------------
def _log_context(read: logview.ServiceRead, o: logview.Opts, tasks: list[dict]) -> dict:
    running, desired = swarm.running_count(tasks)
    names = swarm.hostnames(engine(), {t.get("NodeID") for t in tasks if t.get("NodeID")})
    state = {"running": desired > 0 or running > 0,
             "status": f"{running}/{desired} running", "exit_code": None,
             "css": "running" if running else "exited"}
    return {"service": read.service, "cid": read.sid, "name": read.name, "tty": read.tty,
            "o": o, "r": read.result, "search": read.search, "cursor": read.cursor,
            "state": state, "bound": PAGE_BOUND, "render_rows": render_rows,
            "sources": swarm.task_labels(tasks, read.name, names),
            "dl": url_for("services.logs_download", ref=read.sid, stdout=int(o.stdout),
                          stderr=int(o.stderr), timestamps=1 if o.ts else 0,
                          since=o.since_engine or None),
            "log_page": "services.logs", "log_poll": "services.logs_poll", "of_service": True}


def _service_and_tasks(ref: str) -> tuple[dict, list[dict]]:
    eng = engine()
    s = eng.inspect_service(ref)
    return s, eng.tasks(filters={"service": [s["ID"]]})


@bp.get("/services/<ref>/logs")
def logs(ref: str):
    o = logview.read_opts(request.args)
    if o.until:
        o.errors.append("The engine has no “until” for a service's log; showing without it.")
        o.until, o.until_engine = "", None
    s, tasks = _service_and_tasks(ref)
    read = logview.service_first_read(engine(), ref, o, service=s)
    return render_template("logs/index.html", **_log_context(read, o, tasks))


@bp.get("/services/<ref>/logs/poll")
def logs_poll(ref: str):
    o = logview.read_opts(request.args)
    o.follow = True
    o.until, o.until_engine = "", None
    cursor = Cursor.decode(request.args.get("cursor"))
    if cursor is None:
        abort(400, description="the follow cursor is missing or malformed; reload the page.")
    shown = params.shown(request.args.get("shown"))
    try:
        s, tasks = _service_and_tasks(ref)
        read = logview.service_follow_read(engine(), ref, o, cursor, service=s)
    except (ge.NotFound, ge.NotSwarmManager) as exc:
        # the service is gone, or the engine left its swarm: said in place,
        # and the poll goes on (slower) with the same cursor
        return render_template("services/_logs_gone.html", message=exc.message,
                               delay_ms=int(settings().poll_interval * 5000),
                               stop=url_for("services.logs", ref=ref, **o.query(follow=None)))
    ctx = _log_context(read, o, tasks)
    delay = settings().poll_interval * (1 if ctx["state"]["running"] else 5)
    return render_template("logs/_poll.html", **ctx, delay_ms=int(delay * 1000),
                           shown=shown + read.result.matched)


@bp.get("/services/<ref>/logs/download")
def logs_download(ref: str):
    """Every task's messages as the engine sends them (no task labels: the
    bytes the tasks wrote, as `docker service logs --raw` prints them)."""
    d = logview.download_opts(request.args)
    stream = engine().service_logs(ref, stdout=d.stdout, stderr=d.stderr,
                                   timestamps=d.timestamps, tail=d.tail, since=d.since,
                                   details=False)

    def body():
        yield from stream.payload()
        for n in stream.notices:
            log.warning("logs download of %s: %s", stream.source, n.message)

    headers = {"Content-Disposition":
               f'attachment; filename="{logview.service_file_name(stream.service, d)}"',
               "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}
    return Response(body(), mimetype="application/octet-stream", headers=headers,
                    direct_passthrough=True)
