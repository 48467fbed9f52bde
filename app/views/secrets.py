"""Revealing the secret-looking env values of one container: a POST (with
CSRF, from the container page), never a GET a link elsewhere could trigger."""

from __future__ import annotations

from flask import Blueprint, render_template

from ..masking import env_pairs, mask_inspect
from ..web import engine, is_htmx

bp = Blueprint("secrets", __name__)


@bp.app_template_filter("env_pairs")
def _env_pairs(env, reveal=False):
    return env_pairs(env, reveal)


@bp.app_template_filter("masked_inspect")
def _masked_inspect(c, reveal=False):
    return mask_inspect(c, reveal)


@bp.post("/containers/<ref>/env/reveal")
def reveal_env(ref: str):
    c = engine().inspect_container(ref)
    ctx = {"c": c, "name": c.get("Name", "").lstrip("/"), "reveal_env": True}
    if is_htmx():
        return render_template("partials/env_reveal.html", **ctx)
    return render_template("containers/detail.html", **ctx)
