"""Where Periscope may listen. Read by gunicorn.conf.py before anything binds.

Periscope hands the Docker Engine (root on the host) to whoever opens its
pages, so it listens on loopback unless told otherwise, and it refuses to
listen anywhere else with no password set, unless the operator says, with
PERISCOPE_ALLOW_UNAUTHENTICATED_REMOTE=1, that this is on purpose (a
container whose published port is itself bound to loopback, a private
network behind an authenticating proxy).
"""

from __future__ import annotations

import ipaddress

ALLOW_SETTING = "PERISCOPE_ALLOW_UNAUTHENTICATED_REMOTE"


def _host_of(addr: str) -> str | None:
    """The host part of a gunicorn bind address; None for a unix socket."""
    if addr.startswith("unix:"):
        return None
    if addr.startswith("["):  # [::1]:8000
        end = addr.find("]")
        return addr[1:end] if end != -1 else addr
    if addr.count(":") == 1:
        return addr.split(":", 1)[0]
    if addr.count(":") > 1:  # a bare IPv6 address
        return addr
    return addr  # host alone: gunicorn uses port 8000


def is_local(addr: str) -> bool:
    """True when only this machine can connect: loopback or a unix socket."""
    host = _host_of(addr)
    if host is None:
        return True
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name (or fd://): we cannot tell, so it counts as remote


def refusal(settings) -> str | None:
    """Why Periscope must not start with these settings, or None."""
    remote = [a for a in settings.bind if not is_local(a)]
    if not remote:
        return None
    if settings.password or settings.password_file or settings.allow_unauthenticated_remote:
        return None
    return (
        f"Periscope refuses to listen on {', '.join(remote)} without a password: anyone who can "
        "reach that address would control the Docker Engine, which is root on this host.\n"
        "Either bind to loopback (PERISCOPE_BIND=127.0.0.1:8000, the default), or set "
        "PERISCOPE_PASSWORD (or PERISCOPE_PASSWORD_FILE), or, if something else already "
        f"guards that address, say so on purpose with {ALLOW_SETTING}=1.")
