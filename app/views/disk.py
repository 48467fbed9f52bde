"""Where the disk went (GET /system/df, asked here only: it walks every file
of every volume, so it is slow on big hosts; never on a poll), and pruning
each kind behind a confirm step that lists what will go and the space it
frees (app/diskusage.py, app/pruning.py)."""

from __future__ import annotations

from pathlib import Path

from flask import abort, current_app, redirect, render_template, request, url_for

from .. import diskusage as du
from .. import pruning
from ..errors import explain
from ..gateway import exceptions as ge
from ..security import changes_state
from ..web import EngineBlueprint, disk_store, engine, engine_entry, settings

bp = EngineBlueprint("disk", __name__)


def _hrefs() -> dict[str, str]:
    return {"image": url_for("images.detail", ref="_")[:-1],
            "container": url_for("containers.detail", ref="_")[:-1],
            "volume": url_for("volumes.detail", name="_")[:-1],
            "network": url_for("networks.detail", ref="_")[:-1]}


@bp.get("/disk")
def index():
    try:
        report = du.measure(engine())
    except ge.EngineTimeout as exc:
        # said here, without the error page's waiter: it would reload this page,
        # and so ask the slow call again and again
        x = explain(exc)
        return render_template("disk/index.html", report=None, late=x,
                               known=disk_store().recall(engine_entry().name)), x.status
    disk_store().remember(engine_entry().name, report)
    return render_template("disk/index.html", report=report, rows=du.summary(report.df),
                           top=du.biggest(report.df, _hrefs()), kinds=pruning.KINDS)


def _kind(kind: str) -> str:
    if kind not in pruning.KINDS:
        abort(404, description=f"There is nothing called {kind[:30]!r} to prune. Kinds: "
                               + ", ".join(pruning.KINDS) + ".")
    return kind


def _label(raw: str | None) -> str:
    label = (raw or "").strip()
    if len(label) > 500 or any(ord(ch) < 32 for ch in label):
        abort(400, description="A label filter is key or key=value, at most 500 characters.")
    return label


@bp.get("/disk/prune/<kind>")
@changes_state
def confirm_prune(kind: str):
    """The confirm step: what the prune will remove and the space it frees."""
    plan = pruning.plan(_kind(kind), engine(), _label(request.args.get("label")), _hrefs(),
                        disk_store().recall(engine_entry().name))
    return render_template("disk/confirm_prune.html", plan=plan)


@bp.post("/disk/prune/<kind>")
def prune(kind: str):
    label = _label(request.form.get("label"))
    planned = request.form.getlist("planned") if request.form.get("confirmed") == "1" else None
    if planned is None:
        abort(400, description="Prune from its confirm step, which lists what will go.")
    result = pruning.run(_kind(kind), engine(), label, planned)
    rid = results().save(engine_entry().name, result, label)
    return redirect(url_for("disk.pruned", rid=rid), 303)


def results() -> pruning.Results:
    store = current_app.extensions.get("periscope.pruned")
    if store is None:
        state = settings().state_dir
        store = current_app.extensions.setdefault(
            "periscope.pruned", pruning.Results(Path(state) / "pruned" if state else None))
    return store


@bp.get("/disk/pruned/<rid>")
def pruned(rid: str):
    """What a prune removed and reclaimed, as the engine reported it."""
    found = results().get(rid, engine_entry().name)
    if found is None:
        abort(404, description="No such prune result: results are kept for an hour.")
    result, label, at = found
    return render_template("disk/pruned.html", result=result, label=label, at=at)
