"""The engine page, the health check, and the waiter that brings an error page
back once the engine answers again."""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template

from ..gateway import MAX_API_VERSION, exceptions as ge
from ..web import engine

bp = Blueprint("system", __name__)


@bp.get("/engine")
def engine_page():
    eng = engine()
    version = eng.version()
    info = eng.info()
    return render_template("engines/index.html", version=version, info=info,
                           api_in_use=eng.api_version, max_api=MAX_API_VERSION)


@bp.get("/healthz")
def healthz():
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
