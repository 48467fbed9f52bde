"""GET /whoami: the container Periscope runs in, found and confirmed on the
engine (see app/whoami.py for how), or plainly: not in a container."""

from __future__ import annotations

import os
import platform
import socket
import stat
import sys

from flask import Blueprint, render_template

from .. import whoami as who
from ..web import engine

bp = Blueprint("whoami", __name__)


def _process() -> dict:
    groups = []
    try:
        groups = sorted(os.getgroups())
    except OSError:
        pass
    return {
        "pid": os.getpid(),
        "uid": os.getuid(),
        "gid": os.getgid(),
        "groups": groups,
        "hostname": socket.gethostname(),
        "python": platform.python_version(),
        "executable": sys.executable,
        "platform": platform.platform(),
        "cwd": os.getcwd(),
        "dockerenv": os.path.exists("/.dockerenv"),
    }


def _socket_access(host) -> dict | None:
    """For a unix DOCKER_HOST: who owns the socket and may we use it."""
    if host.scheme != "unix" or not host.socket_path:
        return None
    path = host.socket_path
    try:
        st = os.stat(path)
    except OSError as exc:
        return {"path": path, "error": exc.strerror or str(exc)}
    return {"path": path, "uid": st.st_uid, "gid": st.st_gid, "mode": stat.filemode(st.st_mode),
            "usable": os.access(path, os.R_OK | os.W_OK)}


def _ports(c: dict) -> list[str]:
    out = []
    for port, binds in sorted(((c.get("NetworkSettings") or {}).get("Ports") or {}).items()):
        if not binds:
            out.append(f"{port} (not published)")
            continue
        for b in binds:
            ip = b.get("HostIp") or "0.0.0.0"
            ip = f"[{ip}]" if ":" in ip else ip
            out.append(f"{ip}:{b.get('HostPort')} → {port}")
    return out


@bp.get("/whoami")
def index():
    eng = engine()
    det = who.detect(eng)
    who.remember(eng, det)
    info = eng.info()
    c = det.container
    ctx = {"det": det, "c": c, "info": info, "proc": _process(),
           "sock": _socket_access(eng.host), "methods": who.METHODS}
    if c:
        hc = c.get("HostConfig") or {}
        ctx.update(
            name=(c.get("Name") or "").lstrip("/"),
            socket_mounts=who.socket_mounts(c, eng.host.raw),
            ports=_ports(c),
            networks=sorted(((c.get("NetworkSettings") or {}).get("Networks") or {}).items()),
            network_mode=hc.get("NetworkMode") or "",
        )
    return render_template("whoami.html", **ctx)
