"""Merged logs: a Compose project's containers (or one service's replicas), or
a set picked in the container list, in one view: the page, its follow poll
(a cursor per container) and the merged text download. What they read and how
lives in app/logmerge.py."""

from __future__ import annotations

import datetime as dt
import re

from flask import Response, abort, render_template, request, url_for

from .. import logmerge, logview, params
from ..logreader import PAGE_BOUND, Cursors
from ..logrows import render_merged_rows
from ..web import EngineBlueprint, engine, settings

bp = EngineBlueprint("mergedlogs", __name__)
_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def _project_sel(name: str) -> logmerge.Selection:
    service = request.args.get("service")
    return logmerge.Selection(project=name, service=service.strip()[:200] if service else None)


def _picked_sel() -> tuple[logmerge.Selection, list[str]]:
    refs, errors = logmerge.parse_refs(request.args.getlist("c"))
    return logmerge.Selection(refs=refs), errors


def _urls(sel: logmerge.Selection, endpoint: str, **extra) -> str:
    if sel.picked:
        return url_for(f"mergedlogs.picked{endpoint}", **extra)
    return url_for(f"mergedlogs.project{endpoint}", name=sel.project,
                   **({"service": sel.service} if sel.service is not None else {}), **extra)


def _context(sel: logmerge.Selection, m: logmerge.Merged, o: logview.Opts) -> dict:
    links = {s.key: (url_for("logs.index", ref=s.id),
                     url_for("logs.download", ref=s.id, stdout=int(o.stdout),
                             stderr=int(o.stderr), timestamps=1 if o.ts else 0,
                             since=o.since_engine or None, until=o.until_engine or None))
             for s in m.sources}
    closed = logview.window_closed(o)
    delay = settings().poll_interval * (1 if m.running else 5)
    refs = [s.key for s in m.sources]
    return {"sel": sel, "m": m, "o": o, "links": links, "bound": PAGE_BOUND,
            "render_merged_rows": render_merged_rows, "closed": closed,
            "delay_ms": int(delay * 1000),
            "form_url": _urls(sel, ""),
            "dl": _urls(sel, "_download", **_dl_args(o), **({"c": refs} if sel.picked else {})),
            "poll_base": _urls(sel, "_poll")}


def _dl_args(o: logview.Opts) -> dict:
    """The download matching the page: streams, timestamps, the window; all of
    each log in it, as a container's own download link gives."""
    return {"stdout": int(o.stdout), "stderr": int(o.stderr), "timestamps": 1 if o.ts else 0,
            "since": o.since_engine or None, "until": o.until_engine or None}


def _no_project(sel: logmerge.Selection):
    what = f"service “{sel.service[:100]}” of " if sel.service is not None else ""
    abort(404, description=f"No container of {what}the Compose project “{sel.project[:100]}” "
                           "is on this engine.")


def _page(sel: logmerge.Selection, errors: list[str] | None = None):
    o = logview.read_opts(request.args)
    o.errors.extend(errors or [])
    if sel.picked and not sel.refs:
        return render_template("mergedlogs/index.html", sel=sel, m=None, o=o, nothing=True,
                               form_url=url_for("mergedlogs.picked"))
    m = logmerge.first_read(engine(), sel, o)
    if not sel.picked and not m.sources and not m.notices:
        _no_project(sel)
    return render_template("mergedlogs/index.html", **_context(sel, m, o), nothing=False)


def _poll(sel: logmerge.Selection):
    o = logview.read_opts(request.args)
    o.follow = True
    cursors = Cursors.decode(request.args.get("cur")) if "cur" in request.args else None
    if cursors is None:
        abort(400, description="the follow cursor is missing or malformed; reload the page.")
    shown = params.shown(request.args.get("shown"))
    m = logmerge.follow_read(engine(), sel, o, cursors)
    return render_template("mergedlogs/_poll.html", **_context(sel, m, o),
                           shown=shown + m.matched)


def _download(sel: logmerge.Selection, base: str):
    d = logview.download_opts(request.args)
    got = logmerge.download(engine(), sel, d)
    if not sel.picked and not got.listed:  # as the page says: nothing of that name here
        _no_project(sel)
    which = "" if d.stdout and d.stderr else ("-stdout" if d.stdout else "-stderr")
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    name = f"{_SAFE.sub('_', base)[:100] or 'containers'}{which}-{stamp}.log"

    headers = {"Content-Disposition": f'attachment; filename="{name}"',
               "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}
    return Response(got.chunks, mimetype="text/plain", headers=headers, direct_passthrough=True)


@bp.get("/projects/<name>/logs")
def project(name: str):
    return _page(_project_sel(name))


@bp.get("/projects/<name>/logs/poll")
def project_poll(name: str):
    return _poll(_project_sel(name))


@bp.get("/projects/<name>/logs/download")
def project_download(name: str):
    sel = _project_sel(name)
    return _download(sel, name + (f"-{sel.service}" if sel.service else ""))


@bp.get("/logs")
def picked():
    sel, errors = _picked_sel()
    return _page(sel, errors)


@bp.get("/logs/poll")
def picked_poll():
    return _poll(logmerge.Selection(refs=()))


@bp.get("/logs/download")
def picked_download():
    sel, errors = _picked_sel()
    if errors or not sel.refs:
        abort(400, description=" ".join(errors) or "Pick containers: /logs/download?c=ID&c=ID.")
    return _download(sel, "containers")
