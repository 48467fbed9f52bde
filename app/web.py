"""The glue between Flask and the gateway: the engine of this app, the record
of Engine calls per request, and the template helpers every page uses."""

from __future__ import annotations

import datetime as dt
import json

from urllib.parse import unquote

from flask import Flask, current_app, g, render_template, request, session

from .config import Settings
from .gateway import Engine, calls


def engine() -> Engine:
    return current_app.extensions["periscope.engine"]


def settings() -> Settings:
    return current_app.extensions["periscope.settings"]


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


def _reltime(value) -> str:
    """'3 minutes ago' for an epoch number or an RFC 3339 string."""
    when = to_datetime(value)
    if when is None:
        return "never"
    secs = (dt.datetime.now(dt.timezone.utc) - when).total_seconds()
    future = secs < 0
    secs = abs(secs)
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if secs >= size:
            n = int(secs // size)
            text = f"{n} {unit}{'s' if n != 1 else ''}"
            break
    else:
        # under a minute, in steps of ten seconds: a live list's rows then stay
        # the same between polls (and their rendered HTML can be kept)
        n = int(secs) // 10 * 10
        text = "just now" if n < 10 else f"{n} seconds"
    if text == "just now":
        return text
    return f"in {text}" if future else f"{text} ago"


def to_datetime(value) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value
    if value in (None, "", 0, "0001-01-01T00:00:00Z"):
        return None
    if isinstance(value, (int, float)):
        return dt.datetime.fromtimestamp(value, dt.timezone.utc)
    s = str(value)
    if s.startswith("0001-01-01"):
        return None
    # Engine times carry nanoseconds; Python takes microseconds.
    if "." in s:
        head, _, frac = s.partition(".")
        tz = ""
        for i, ch in enumerate(frac):
            if not ch.isdigit():
                frac, tz = frac[:i], frac[i:]
                break
        s = f"{head}.{frac[:6]}{tz}"
    s = s.replace("Z", "+00:00")
    try:
        d = dt.datetime.fromisoformat(s)
    except ValueError:
        return None
    return d if d.tzinfo else d.replace(tzinfo=dt.timezone.utc)


_FIXED_TEXTS: dict = {}


def time_texts(value) -> tuple[str, str, str]:
    """(relative, ISO 8601, exact) for one time, parsed once; the two that
    never change are kept per value (a live list asks for the same ones)."""
    fixed = _FIXED_TEXTS.get(value)
    if fixed is None:
        d = to_datetime(value)
        if d is None:
            return "never", "", ""
        if len(_FIXED_TEXTS) > 50_000:
            _FIXED_TEXTS.clear()
        fixed = _FIXED_TEXTS[value] = (d, d.isoformat(), d.strftime("%Y-%m-%d %H:%M:%S UTC"))
    return _reltime(fixed[0]), fixed[1], fixed[2]


def _exact(value) -> str:
    d = to_datetime(value)
    return d.strftime("%Y-%m-%d %H:%M:%S UTC") if d else ""


def _iso(value) -> str:
    d = to_datetime(value)
    return d.isoformat() if d else ""


def _bytes(n) -> str:
    if n in (None, ""):
        return ""
    n = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return ""


def _pretty_json(value) -> str:
    return json.dumps(value, indent=2, sort_keys=False, ensure_ascii=False)


# Polled partials never replace the Engine calls panel: it shows the calls of
# the page, or of the last thing the user did (an action, a filter, a reveal).
POLL_ENDPOINTS = {"containers.rows", "logs.poll", "events.poll", "images.progress",
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
                          + render_template("partials/calls.html", calls_oob=True))
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

    app.jinja_env.filters.update(reltime=_reltime, exact=_exact, iso=_iso, bytes=_bytes,
                                 pretty_json=_pretty_json)
    app.jinja_env.globals["engine_calls"] = lambda: g.get("engine_calls")

    def carried_calls():
        """Calls carried over a redirect, shown once on the page it leads to."""
        if "carried" not in g:
            g.carried = session.pop("carried_calls", None) or []
        return g.carried

    app.jinja_env.globals["carried_calls"] = carried_calls
    app.jinja_env.filters["unquote_path"] = unquote
    app.jinja_env.filters["seconds"] = lambda v: f"{float(v):g} s"
    app.jinja_env.globals["url_for_safe"] = url_for_safe


def url_for_safe(endpoint: str, **values) -> str | None:
    """url_for, or None when the endpoint does not exist (a feature not built)."""
    from flask import url_for
    from werkzeug.routing import BuildError

    try:
        return url_for(endpoint, **values)
    except BuildError:
        return None
