"""The engines page (/engines; /engine, the old URL, too): every engine with
its health, latency, versions and counts; and one engine's page
(/engines/<name>)."""

from __future__ import annotations

from flask import Blueprint, render_template

from .. import enginestatus
from ..gateway import MAX_API_VERSION
from ..web import engine, engine_entry, registry, settings

bp = Blueprint("engines", __name__)


@bp.get("/engines")
@bp.get("/engine")
def index():
    reg = registry()
    rows = enginestatus.statuses(reg, list(reg), settings().engine_budget)
    return render_template("engines/index.html", statuses=rows, max_api=MAX_API_VERSION,
                           several=reg.several, budget=settings().engine_budget)


@bp.get("/engines/<engine>")
def detail():
    eng = engine()
    return render_template("engines/detail.html", entry=engine_entry(), version=eng.version(),
                           info=eng.info(), api_in_use=eng.api_version, max_api=MAX_API_VERSION)
