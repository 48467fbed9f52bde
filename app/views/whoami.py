"""GET /whoami: the container Periscope runs in, found and confirmed on the
engine (see app/selfdetect.py for how), or plainly: not in a container."""

from __future__ import annotations

from flask import Blueprint, render_template

from .. import selfdetect as sd
from ..web import engine

bp = Blueprint("whoami", __name__)


@bp.get("/whoami")
def index():
    eng = engine()
    det = sd.detect(eng)
    sd.remember(eng, det)
    c = det.container
    ctx = {"det": det, "c": c, "info": eng.info(), "proc": sd.process_facts(),
           "sock": sd.socket_access(eng.host), "methods": sd.METHODS}
    if c:
        hc = c.get("HostConfig") or {}
        ctx.update(
            name=(c.get("Name") or "").lstrip("/"),
            socket_mounts=sd.socket_mounts(c, eng.host.raw),
            ports=sd.published_ports(c),
            networks=sorted(((c.get("NetworkSettings") or {}).get("Networks") or {}).items()),
            network_mode=hc.get("NetworkMode") or "",
        )
    return render_template("whoami/index.html", **ctx)
