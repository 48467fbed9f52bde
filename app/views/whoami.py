"""Placeholder blueprint: see the open issue that builds this feature."""

from flask import Blueprint

bp = Blueprint("whoami", __name__)


@bp.get("/whoami")
def index():
    from flask import render_template
    return render_template("placeholder.html", title="Whoami")
