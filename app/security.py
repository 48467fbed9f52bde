"""Who may reach Periscope and what every response carries.

- Host header allow-list (DNS rebinding defence), on every route.
- CSRF: every state-changing request carries the session's token (form field
  `csrf_token` or header `X-CSRF-Token`, which htmx sends) and a same-origin
  Origin or Referer.
- Security headers on every response, with a CSP that allows no inline script.
"""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlsplit

from flask import Flask, abort, request, session

from .web import settings

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
       "object-src 'none'")


def csrf_token() -> str:
    tok = session.get("csrf")
    if not tok:
        tok = secrets.token_urlsafe(32)
        session["csrf"] = tok
    return tok


def _host_allowed(host_header: str, allowed: list[str]) -> bool:
    host = (host_header or "").strip().lower()
    if not host:
        return False
    if host.startswith("["):  # [::1]:8000
        end = host.find("]")
        name = host[: end + 1] if end != -1 else host
    else:
        name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    return name in allowed or "*" in allowed


def _same_origin() -> bool:
    origin = request.headers.get("Origin")
    if origin and origin != "null":
        src = origin
    else:
        src = request.headers.get("Referer")
    if not src:
        return False
    parts = urlsplit(src)
    return parts.netloc.lower() == (request.host or "").lower()


def check_csrf() -> None:
    sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token", "")
    expected = session.get("csrf")
    if not expected or not sent or not hmac.compare_digest(str(sent), str(expected)):
        abort(403, description="This form has expired or did not come from Periscope "
                               "(missing or wrong CSRF token). Reload the page and try again.")
    if not _same_origin():
        abort(403, description="Refused: the request did not come from a Periscope page "
                               "(cross-origin Origin or Referer).")


def init_app(app: Flask) -> None:
    @app.before_request
    def _guard():
        if not _host_allowed(request.host, settings().allowed_hosts):
            abort(400, description=f"Host {request.host!r} is not allowed. Set "
                                   "PERISCOPE_ALLOWED_HOSTS to serve under another name.")
        if request.method not in SAFE_METHODS:
            check_csrf()

    @app.after_request
    def _headers(resp):
        h = resp.headers
        h.setdefault("Content-Security-Policy", CSP)
        h.setdefault("X-Content-Type-Options", "nosniff")
        h.setdefault("Referrer-Policy", "same-origin")
        h.setdefault("X-Frame-Options", "DENY")
        if "HX-Request" in request.headers or request.endpoint in ("containers.index",):
            h.add("Vary", "HX-Request")
        return resp

    app.jinja_env.globals["csrf_token"] = csrf_token
