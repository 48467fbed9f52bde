"""Periscope: a server-rendered dashboard for a Docker Engine.

`create_app()` is the factory; gunicorn runs `app:create_app()`.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from .config import Settings
from .gateway import Engine, parse_host


def _root() -> Path:
    """The folder holding templates/ and static/ (the project root)."""
    here = Path(__file__).resolve().parent
    for cand in (here.parent, here):
        if (cand / "templates").is_dir():
            return cand
    return here.parent


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> Flask:
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
        engine = Engine(parse_host(settings.docker_host), connect_timeout=settings.connect_timeout,
                        read_timeout=settings.read_timeout)
    app.extensions["periscope.engine"] = engine

    from . import errors, security, web
    web.init_app(app)
    security.init_app(app)
    errors.init_app(app)

    from .views import actions, containers, create, events, logs, system, whoami
    for mod in (containers, logs, create, actions, events, whoami, system):
        app.register_blueprint(mod.bp)
    from .views import auth, secrets
    app.register_blueprint(auth.bp), app.register_blueprint(secrets.bp)
    from .views import images
    app.register_blueprint(images.bp)
    return app
