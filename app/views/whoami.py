"""GET /whoami: the container Periscope runs in, found and confirmed on the
engine (see app/selfdetect.py for how), or plainly: not in a container. With
several engines and none in the URL, every engine is asked which holds it."""

from __future__ import annotations

from flask import render_template

from .. import selfdetect as sd
from ..web import EngineBlueprint, combined, engine_entry, registry, settings

bp = EngineBlueprint("whoami", __name__)


@bp.get("/whoami")
def index():
    entry, det, info, seen = sd.whoami(registry(), engine_entry(), combined(),
                                       settings().engine_budget)
    eng = entry.engine
    c = det.container
    ctx = {"det": det, "c": c, "info": info, "proc": sd.process_facts(),
           "sock": sd.socket_access(eng.host), "methods": sd.METHODS, "seen": seen,
           "holder": entry.name, "several": seen is not None, "about": entry}
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
