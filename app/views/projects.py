"""Compose projects (read from the labels Compose writes): the list (live; all
engines side by side when several are configured and the URL names none), one
project's page (live), and start / stop / restart of a whole project (POST,
the result per container in plain words). What they know is app/composeprojects.py."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, session, url_for

from .. import composeprojects as projects, hostview, params, selfdetect, servicelist as sl, swarm
from ..gateway import exceptions as ge
from ..web import (EngineBlueprint, combined, engine, engine_entry, poll_answer, poll_tag, registry,
                   settings)

bp = EngineBlueprint("projects", __name__)
RESULTS_KEY = "project_results"
RESULTS_MAX = 24  # outcomes carried over the redirect (the session is a cookie)



def _list() -> dict:
    if not combined():
        prefix = url_for("containers.detail", ref="_")[:-1]
        return {"projects": projects.fetch_projects(engine(), prefix), "trouble": [],
                "several": False}
    reg = registry()
    prefixes = {e.name: url_for("containers.detail", ref="_", engine=e.name)[:-1] for e in reg}
    found, trouble = projects.fetch_combined(reg, prefixes, settings().engine_budget)
    return {"projects": found, "trouble": trouble, "several": True}


def _stacks() -> list[dict]:
    """Swarm stacks beside the projects (docker stack deploy's projects): on
    the page, not each poll (a stack changes when it is deployed)."""
    try:
        if not combined():
            rows = sl.stack_rows(engine(), url_for("services.detail", ref="_")[:-1])
        else:
            reg = registry()
            prefixes = {e.name: url_for("services.detail", ref="_", engine=e.name)[:-1]
                        for e in reg}
            rows, _ = sl.fetch_combined(reg, sl.list_filters({}, reg.names())[0], prefixes,
                                        settings().engine_budget)
    except ge.EngineError:  # the projects are the page; its stacks are a side note
        return []
    return swarm.stacks(rows)


@bp.get("/projects")
def index():
    ctx = _list()
    return render_template("projects/index.html", **ctx, stacks=_stacks(), tag=poll_tag(ctx))


@bp.get("/projects/_poll")
def rows():
    """The polled partial of the list, carrying its own trigger; 204 when the
    viewer's copy is made from the same answers (web.poll_answer)."""
    return poll_answer("projects/_poll.html", _list())


def _project(name: str) -> projects.Project:
    p = projects.fetch_project(engine(), name, url_for("containers.detail", ref="_")[:-1])
    if p is None:
        abort(404, description=f"No container on this engine belongs to a Compose project "
                               f"named “{name[:100]}”.")
    return p


def _detail_context(p: projects.Project) -> dict:
    own = selfdetect.own_container_id(engine())
    return {"p": p, "own_id": own, "self_in": bool(own and any(m.id == own for m in p.members))}


@bp.get("/projects/<name>")
def detail(name: str):
    p = _project(name)
    results = session.pop(RESULTS_KEY, None)
    return render_template("projects/detail.html", **_detail_context(p), results=results)


@bp.get("/projects/<name>/poll")
def poll(name: str):
    return render_template("projects/_detail_poll.html", **_detail_context(_project(name)))


def _timeout() -> int | None:
    return params.seconds(request.form.get("t"), name="The timeout", maximum=600)


@bp.post("/projects/<name>/<action>")
def act(name: str, action: str):
    if action not in projects.ACTIONS:
        abort(404, description=f"There is no project action “{action[:30]}”.")
    t = _timeout()
    p = _project(name)
    eng = engine()
    entry, st = engine_entry(), settings()
    outcomes = projects.act(eng, p, action, timeout=t,
                            is_self=lambda cid: selfdetect.is_self(eng, cid),
                            before_start=lambda refs, act: hostview.judge_before_start(
                                entry, refs, act, host_root=st.host_root,
                                bind_roots=st.bind_roots))
    text, level = projects.summary(action, outcomes, p.name)
    flash(text, level)
    # the ones that did not simply work first: they are what the user must read
    ordered = sorted(outcomes, key=lambda o: o.level == "ok")
    kept = [{"level": o.level, "text": o.text} for o in ordered[:RESULTS_MAX]]
    if len(ordered) > RESULTS_MAX:
        kept.append({"level": "info", "text": f"… and {len(ordered) - RESULTS_MAX} more."})
    session[RESULTS_KEY] = {"action": action, "items": kept}
    return redirect(url_for("projects.detail", name=p.name), 303)
