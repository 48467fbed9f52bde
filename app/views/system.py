"""The health check, and the waiter that brings an error page back once its
engine answers again."""

from __future__ import annotations

from flask import jsonify, render_template

from ..gateway import exceptions as ge
from ..web import EngineBlueprint, engine

bp = EngineBlueprint("system", __name__)


@bp.get("/healthz")
def healthz():
    """200 while Periscope serves and the engine answers (the default engine,
    or the one in the URL); 503 with the engine's error otherwise."""
    eng = engine()
    try:
        api = eng.ping()
    except ge.EngineError as exc:
        return jsonify(engine="unreachable", api_version=None, error=exc.message), 503
    return jsonify(engine="ok", api_version=api)


@bp.get("/engine/wait")
def wait():
    """Polled by every 'engine unreachable' page and notice. While the engine
    is down it answers with itself (the poll goes on); once it answers, it
    tells htmx to reload the page the user was on."""
    eng = engine()
    try:
        eng.ping()
    except (ge.EngineUnreachable, ge.EngineTimeout) as exc:
        return render_template("errors/_poll.html", error=exc.message)
    return "", 200, {"HX-Refresh": "true"}
