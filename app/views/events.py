"""Placeholder blueprint: see the open issue that builds this feature."""

from flask import Blueprint

bp = Blueprint("events", __name__)


@bp.get("/events")
def index():
    from flask import render_template
    return render_template("placeholder.html", title="Events")
