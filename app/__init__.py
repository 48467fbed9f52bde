"""Periscope: a server-rendered dashboard for Docker Engines.

`create_app()` is the factory; gunicorn runs `app:create_app()` (see
app/server.py for its configuration, and the `periscope` command).
"""

from __future__ import annotations

__version__ = "0.2.0"

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported in create_app: `python3 -m app.healthcheck` stays light
    from flask import Flask

    from .config import Settings
    from .gateway import Engine


def _root() -> Path:
    """The folder holding templates/ and static/: inside the installed package
    (a wheel carries them there), else the checkout's top level."""
    here = Path(__file__).resolve().parent
    for cand in (here, here.parent):
        if (cand / "templates" / "base.html").is_file():
            return cand
    return here.parent


def create_app(settings: "Settings | None" = None, engine: "Engine | None" = None) -> "Flask":
    from flask import Flask

    from .config import Settings
    from .registry import EngineEntry, Registry

    settings = settings or Settings.from_env()
    root = _root()
    app = Flask(__name__, template_folder=str(root / "templates"),
                static_folder=str(root / "static"), static_url_path="/static")
    app.config["SECRET_KEY"] = settings.secret_key
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Strict"
    app.config["SESSION_COOKIE_NAME"] = "periscope_session"
    app.config["MAX_CONTENT_LENGTH"] = 1024 * 1024
    app.config["TEMPLATES_AUTO_RELOAD"] = False
    app.extensions["periscope.settings"] = settings
    if engine is None:
        registry = Registry.build(settings.engine_specs(), read_only=settings.read_only,
                                  allow_host_access=settings.allow_host_access,
                                  connect_timeout=settings.connect_timeout,
                                  read_timeout=settings.read_timeout,
                                  share_for=settings.share_for, state_dir=settings.state_dir,
                                  quiet_for=settings.quiet_for)
    else:  # one engine given (tests, a fake)
        registry = Registry([EngineEntry(engine.name, engine, settings.read_only,
                                         settings.allow_host_access)])
    app.extensions["periscope.engines"] = registry
    if settings.stats:
        from .statsampler import Sampler
        app.extensions["periscope.stats"] = Sampler(
            registry, poll_interval=settings.poll_interval, budget=settings.stats_budget,
            state_dir=settings.state_dir)

    from . import errors, security, web
    web.init_app(app)
    security.init_app(app)
    web.init_engine_check(app)  # after security's guard
    errors.init_app(app)

    from .views import (actions, auth, changes, containers, create, disk, engines, events, files,
                        images, logs, mergedlogs, networks, nodes, projects, services, system,
                        stats, terminal, volumes, whoami)
    for view in (containers, logs, files, changes, create, actions, images, volumes, networks, disk,
                 events, whoami, engines, system, auth, services, nodes, terminal, projects,
                 mergedlogs, stats):
        app.register_blueprint(view.bp)
    return app
