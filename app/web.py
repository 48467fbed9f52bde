"""The glue between Flask and the rest: the engine of this request, the record
of Engine calls per request, and every app-wide template filter and global,
registered here and nowhere else."""

from __future__ import annotations

from urllib.parse import unquote

from flask import Flask, current_app, g, render_template, request, session

from . import display, masking
from .config import Settings
from .containerlist import RowCache
from .gateway import Engine, calls


def engine() -> Engine:
    return current_app.extensions["periscope.engine"]


def settings() -> Settings:
    return current_app.extensions["periscope.settings"]


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


# Polled partials never replace the Engine calls panel: it shows the calls of
# the page, or of the last thing the user did (an action, a filter, a reveal).
POLL_ENDPOINTS = {"containers.rows", "logs.poll", "events.poll", "images.pull_progress",
                  "system.wait", "create.preview_partial", "static"}
_CARRY_MAX_CALLS = 12
_CARRY_MAX_BODY = 1500


def _carry_calls(log) -> list[dict]:
    """The calls of a request that ends in a redirect, small enough for the
    session cookie, to show on the page the redirect leads to."""
    out, budget = [], _CARRY_MAX_BODY
    for c in list(log)[-_CARRY_MAX_CALLS:]:
        body = c.body
        if body is not None and len(body) > budget:
            body = None
        elif body is not None:
            budget -= len(body)
        out.append({"method": c.method, "path": c.path, "status": c.status,
                    "ms": round(c.ms, 1), "body": body, "error": c.error})
    return out


def init_app(app: Flask) -> None:
    @app.before_request
    def _start_calls():
        g.engine_calls, g._calls_token = calls.start()

    @app.after_request
    def _calls_panel(resp):
        log = g.get("engine_calls")
        if log is None or request.endpoint in POLL_ENDPOINTS:
            return resp
        if 300 <= resp.status_code < 400 and len(log):
            session["carried_calls"] = _carry_calls(log)
        elif (is_htmx() and resp.mimetype == "text/html" and not resp.is_streamed
              and resp.status_code != 204):
            resp.set_data(resp.get_data(as_text=True)
                          + render_template("partials/_calls.html", calls_oob=True))
        return resp

    @app.teardown_request
    def _stop_calls(exc=None):
        token = g.pop("_calls_token", None)
        if token is not None:
            try:
                calls.stop(token)
            except ValueError:  # reset from another context (streamed responses)
                pass

    @app.context_processor
    def _globals():
        eng = engine()
        return {
            "engine_host": eng.host,
            "api_version_in_use": eng.negotiated_version,
            "poll_ms": int(settings().poll_interval * 1000),
            "poll_s": settings().poll_interval,
            "read_only": settings().read_only,
        }

    app.jinja_env.filters.update(
        reltime=display.reltime, exact=display.exact, iso=display.iso, bytes=display.size,
        pretty_json=display.pretty_json, unquote_path=unquote,
        seconds=lambda v: f"{float(v):g} s",
        env_pairs=masking.env_pairs, masked_inspect=masking.mask_inspect)
    app.jinja_env.globals["engine_calls"] = lambda: g.get("engine_calls")

    def carried_calls():
        """Calls carried over a redirect, shown once on the page it leads to."""
        if "carried" not in g:
            g.carried = session.pop("carried_calls", None) or []
        return g.carried

    app.jinja_env.globals["carried_calls"] = carried_calls
    rows = RowCache()

    def row_html(r: dict, list_url: str = ""):
        """One container list row, rendered once while its data stays the same."""
        read_only = settings().read_only
        return rows.render(r, (list_url, read_only), lambda: app.jinja_env.get_template(
            "containers/_row.html").render(r=r, list_url=list_url, read_only=read_only))

    app.jinja_env.globals["row_html"] = row_html
