"""Errors mapped to pages and partials, in one place.

Views raise (or let the gateway raise) and never catch to render an error
themselves. Full page requests get a full error page with the right status;
htmx requests get a small notice swapped into the page's #flash area (the
response retargets itself), so a failing poll never breaks the layout.

A view that shows an Engine refusal on its own page (the create form keeps
the user's manifest beside it; a list action answers with the list) asks
`explain()` for the status and the words: the mapping lives here only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from flask import Flask, render_template, request
from werkzeug.exceptions import ClientDisconnected, HTTPException

from .gateway import exceptions as ge
from .gateway.hosts import HostConfigError
from .policy import Refused
from .web import engine_entry, is_htmx
from .params import InputError

log = logging.getLogger("periscope")


@dataclass
class Explained:
    """An Engine error in plain words: the status Periscope answers with."""

    status: int
    kind: str
    title: str
    message: str
    extra: dict = field(default_factory=dict)


def explain(e: ge.EngineError, *, image: str | None = None) -> Explained:
    """The one mapping from the gateway's typed errors to a status and words.

    An engine that cannot be reached is a 503, one that does not answer in
    time a 504; the engine's refusal of a request (4xx) keeps its status;
    the engine's own failure (5xx, malformed answers) is a 502: never a 500,
    which would say Periscope failed."""
    if isinstance(e, ge.EngineUnreachable):
        tls = (e.os_error or "").startswith("TLS handshake failed")
        return Explained(503, "unreachable", "The Docker Engine refused the TLS connection"
                         if tls else "The Docker Engine does not answer", e.message,
                         {"os_error": e.os_error, "wait": True})
    if isinstance(e, ge.EngineTimeout):
        return Explained(504, "timeout", "The Docker Engine is not answering in time",
                         e.message, {"wait": True})
    if isinstance(e, ge.AmbiguousReference):
        return Explained(400, "ambiguous", f"“{e.ref}” matches more than one container",
                         "Give more of the ID, or the name.", {"candidates": e.candidates})
    if isinstance(e, ge.InvalidReference):
        return Explained(400, "bad-ref", f"Not a {e.what}", e.message, {"ref": e.ref})
    if isinstance(e, ge.NoSuchImage):
        what = f"The image {image}" if image else "The image"
        return Explained(404, "no-image", f"{what} is not on this engine", e.message,
                         {"image": image})
    if isinstance(e, ge.NotSwarmManager):
        return Explained(409, "not-manager", "This engine is not a swarm manager", e.message)
    if isinstance(e, ge.OutOfSequence):
        return Explained(409, "conflict", "Someone else updated it first", e.message)
    if isinstance(e, ge.NoSuchPath):
        return Explained(404, "no-path", "No such file or folder in the container", e.message)
    if isinstance(e, ge.NotFound):
        return Explained(404, "not-found", "Not found", e.message)
    if isinstance(e, ge.NameInUse):
        return Explained(409, "name-in-use", "That name is already in use", e.message,
                         {"holder": e.holder})
    if isinstance(e, ge.InUse):
        return Explained(409, "in-use", "In use: the engine will not remove it", e.message)
    if isinstance(e, ge.StateConflict):
        return Explained(409, "state", "Not in that state", e.message)
    if isinstance(e, ge.Conflict):
        return Explained(409, "conflict", "The engine refused: conflict", e.message)
    if isinstance(e, ge.APIError):
        status = e.status if e.status and 400 <= e.status < 500 else 400
        return Explained(status, "bad-request", "The engine refused the request", e.message)
    return Explained(502, "engine-error", "The Docker Engine answered with an error", e.message,
                     {"engine_status": e.status})


def _render(status: int, kind: str, title: str, message: str, **ctx):
    template = "errors/_notice.html" if is_htmx() else "errors/index.html"
    body = render_template(template, status=status, kind=kind, title=title, message=message,
                           **ctx)
    headers = {}
    if is_htmx():
        headers = {"HX-Retarget": "#flash", "HX-Reswap": "innerHTML"}
    return body, status, headers


def stream_fault(e: BaseException) -> str:
    """A fault met after a page began to go out (a log read as it is sent):
    its status is sent already, so it is said in words in the page."""
    why = explain(e).message.rstrip(".") if isinstance(e, ge.EngineError) else (
        "Periscope failed to read it (its log has the details)")
    return (f"The log broke off: {why}. Only the lines read before that are shown; reload "
            "the page to read it again.")


def init_app(app: Flask) -> None:
    app.jinja_env.globals["stream_fault"] = stream_fault

    @app.errorhandler(ge.EngineError)
    def _engine_error(e: ge.EngineError):
        x = explain(e)
        entry = engine_entry()
        return _render(x.status, x.kind, x.title, x.message, docker_host=entry.host.raw,
                       engine_name=entry.name, **x.extra)

    @app.errorhandler(Refused)
    def _policy_refused(e: Refused):
        # a start or restart the host-access policy refuses (app/hostview.py)
        return _render(403, "policy", f"Refused: {e.name} would own the host",
                       f"Periscope will not {e.action} {e.name}: a start mounts its binds again, "
                       "and what they lead to now would give it host access, which this engine "
                       "does not allow. Nothing was started.",
                       violations=e.violations, host_view=e.host)

    @app.errorhandler(InputError)
    def _input(e: InputError):
        # a request's own value refused (app/params.py and the domain's checks)
        return _render(400, "http", "Bad request", str(e))

    @app.errorhandler(HostConfigError)
    def _host_config(e: HostConfigError):
        return _render(503, "config", "DOCKER_HOST cannot be used", str(e))

    @app.errorhandler(ClientDisconnected)
    def _body_never_came(e: ClientDisconnected):
        # a request's body that stopped coming (PERISCOPE_SEND_TIMEOUT, see
        # security._send_deadline) or whose client went away: one line in the
        # log, a short answer (no page: it is likely nobody's to read)
        log.warning("Dropped a client that took longer than PERISCOPE_SEND_TIMEOUT to send "
                    "its request's body (%s %s)", request.method, request.path[:200])
        return ("The request's body did not come in whole, in time.\n", 400,
                {"Content-Type": "text/plain; charset=utf-8"})

    @app.errorhandler(HTTPException)
    def _http(e: HTTPException):
        if e.code and e.code < 400:
            return e
        titles = {400: "Bad request", 403: "Forbidden", 404: "Page not found",
                  405: "Method not allowed", 413: "Too large", 429: "Too many requests"}
        return _render(e.code or 500, "http", titles.get(e.code or 500, e.name),
                       e.description or "")

    @app.errorhandler(Exception)
    def _unexpected(e: Exception):
        log.exception("unexpected error on %s %s", request.method, request.path)
        return _render(500, "internal", "Something went wrong inside Periscope",
                       "The error was logged on the server. No details are shown here.")
