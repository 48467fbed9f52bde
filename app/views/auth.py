"""The login page and logout, when a password is set (PERISCOPE_PASSWORD or
PERISCOPE_PASSWORD_FILE). The guard that sends everyone else here lives in
app/security.py."""

from __future__ import annotations

import math

from flask import Blueprint, redirect, render_template, request, session, url_for

from ..security import is_authenticated, log_in, password, safe_next, throttle

bp = Blueprint("auth", __name__)


def _page(status: int = 200, error: str | None = None, headers: dict | None = None):
    nxt = safe_next(request.values.get("next"))
    return render_template("auth/login.html", error=error, next=nxt), status, headers or {}


@bp.route("/login", methods=["GET", "POST"])
def login():
    pw = password()
    if pw is None:  # no password set: nothing to log in to
        return redirect(url_for("containers.index"))
    if request.method == "GET":
        if is_authenticated():
            return redirect(safe_next(request.args.get("next")))
        return _page()
    ip = request.remote_addr or "?"
    # counted before the check: tries sent at once cannot all pass the wait
    allowed, wait = throttle().attempt(ip)
    if not allowed:
        secs = math.ceil(wait)
        return _page(429, f"Too many wrong passwords from your address. Try again in {secs} s.",
                     {"Retry-After": str(secs)})
    if not pw.check(request.form.get("password", "")):
        msg = "Wrong password."
        if wait:
            msg += f" Wait {math.ceil(wait)} s before the next try."
        return _page(401, msg)
    throttle().succeeded(ip)
    log_in()
    return redirect(safe_next(request.form.get("next")), code=303)


@bp.post("/logout")
def logout():
    session.clear()
    return redirect(url_for("auth.login") if password() else url_for("containers.index"),
                    code=303)
