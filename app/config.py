"""Configuration from the environment. Every variable is listed in the README."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field


def _bool(env, name, default=False) -> bool:
    v = env.get(name)
    if v is None or v.strip() == "":
        return default
    return v.strip().lower() in ("1", "true", "yes", "on")


def _float(env, name, default: float) -> float:
    v = env.get(name)
    if v is None or v.strip() == "":
        return default
    try:
        f = float(v)
    except ValueError:
        raise ValueError(f"{name}={v!r} is not a number") from None
    if f <= 0:
        raise ValueError(f"{name}={v!r} must be above zero")
    return f


@dataclass
class Settings:
    docker_host: str | None = None
    connect_timeout: float = 3.0
    read_timeout: float = 30.0
    poll_interval: float = 2.0
    secret_key: str = field(default_factory=lambda: secrets.token_hex(32))
    read_only: bool = False
    allow_host_access: bool = False
    allowed_hosts: list[str] = field(default_factory=lambda: ["localhost", "127.0.0.1", "[::1]"])
    password: str | None = None
    password_file: str | None = None
    trusted_proxy: bool = False

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> "Settings":
        env = os.environ if env is None else env
        s = cls()
        s.docker_host = env.get("DOCKER_HOST") or None
        s.connect_timeout = _float(env, "PERISCOPE_CONNECT_TIMEOUT", 3.0)
        s.read_timeout = _float(env, "PERISCOPE_READ_TIMEOUT", 30.0)
        s.poll_interval = _float(env, "PERISCOPE_POLL_INTERVAL", 2.0)
        if env.get("PERISCOPE_SECRET_KEY"):
            s.secret_key = env["PERISCOPE_SECRET_KEY"]
        s.read_only = _bool(env, "PERISCOPE_READ_ONLY")
        s.allow_host_access = _bool(env, "PERISCOPE_ALLOW_HOST_ACCESS")
        hosts = env.get("PERISCOPE_ALLOWED_HOSTS")
        if hosts:
            s.allowed_hosts = [h.strip().lower() for h in hosts.split(",") if h.strip()]
        s.password = env.get("PERISCOPE_PASSWORD") or None
        s.password_file = env.get("PERISCOPE_PASSWORD_FILE") or None
        s.trusted_proxy = _bool(env, "PERISCOPE_TRUSTED_PROXY")
        return s
