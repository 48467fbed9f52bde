"""Errors mapped to pages and partials, in one place.

Views raise (or let the gateway raise) and never catch to render an error
themselves. Full page requests get a full error page with the right status;
htmx requests get a small notice swapped into the page's #flash area (the
response retargets itself), so a failing poll never breaks the layout.
"""

from __future__ import annotations

import logging

from flask import Flask, render_template, request
from werkzeug.exceptions import HTTPException

from .gateway import errors as ge
from .gateway.hosts import HostConfigError
from .web import engine, is_htmx

log = logging.getLogger("periscope")


def _render(status: int, kind: str, title: str, message: str, **ctx):
    template = "partials/error.html" if is_htmx() else "error.html"
    body = render_template(template, status=status, kind=kind, title=title, message=message,
                           **ctx)
    headers = {}
    if is_htmx():
        headers = {"HX-Retarget": "#flash", "HX-Reswap": "innerHTML"}
    return body, status, headers


def init_app(app: Flask) -> None:
    @app.errorhandler(ge.EngineUnreachable)
    def _unreachable(e: ge.EngineUnreachable):
        tls = (e.os_error or "").startswith("TLS handshake failed")
        return _render(503, "unreachable", "The Docker Engine refused the TLS connection" if tls
                       else "The Docker Engine does not answer",
                       e.message, docker_host=engine().host.raw, os_error=e.os_error,
                       wait=True)

    @app.errorhandler(ge.EngineTimeout)
    def _timeout(e: ge.EngineTimeout):
        return _render(504, "timeout", "The Docker Engine is not answering in time", e.message,
                       docker_host=engine().host.raw, wait=True)

    @app.errorhandler(ge.AmbiguousReference)
    def _ambiguous(e: ge.AmbiguousReference):
        return _render(400, "ambiguous", f"“{e.ref}” matches more than one container",
                       "Give more of the ID, or the name.", candidates=e.candidates)

    @app.errorhandler(ge.InvalidReference)
    def _invalid_ref(e: ge.InvalidReference):
        return _render(400, "bad-ref", "Not a container name or ID", e.message, ref=e.ref)

    @app.errorhandler(ge.NotFound)
    def _not_found(e: ge.NotFound):
        return _render(404, "not-found", "Not found", e.message)

    @app.errorhandler(ge.Conflict)
    def _conflict(e: ge.Conflict):
        return _render(409, "conflict", "The engine refused: conflict", e.message)

    @app.errorhandler(ge.APIError)
    def _api_error(e: ge.APIError):
        status = e.status if e.status and 400 <= e.status < 500 else 400
        return _render(status, "bad-request", "The engine refused the request", e.message)

    @app.errorhandler(ge.EngineError)
    def _engine_error(e: ge.EngineError):
        return _render(502, "engine-error", "The Docker Engine answered with an error",
                       e.message, engine_status=e.status)

    @app.errorhandler(HostConfigError)
    def _host_config(e: HostConfigError):
        return _render(503, "config", "DOCKER_HOST cannot be used", str(e))

    @app.errorhandler(HTTPException)
    def _http(e: HTTPException):
        if e.code and e.code < 400:
            return e
        titles = {400: "Bad request", 403: "Forbidden", 404: "Page not found",
                  405: "Method not allowed", 413: "Too large"}
        return _render(e.code or 500, "http", titles.get(e.code or 500, e.name),
                       e.description or "")

    @app.errorhandler(Exception)
    def _unexpected(e: Exception):
        log.exception("unexpected error on %s %s", request.method, request.path)
        return _render(500, "internal", "Something went wrong inside Periscope",
                       "The error was logged on the server. No details are shown here.")
