"""What a container changed against its image (`docker diff`), as a tree
with a filter. Read in app/fschanges.py."""

from __future__ import annotations

from flask import render_template, request, url_for

from .. import fschanges
from ..web import EngineBlueprint, engine

bp = EngineBlueprint("changes", __name__)


@bp.get("/containers/<ref>/changes")
def index(ref: str):
    f = fschanges.read_filter(request.args)
    r = fschanges.read(engine(), ref, f)
    return render_template("changes/index.html", r=r, ch=r.changes, f=f,
                           files=url_for("files.index", ref=r.cid))
