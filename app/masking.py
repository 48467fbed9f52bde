"""Secret-looking env values are hidden on the container page and in its raw
JSON until the user asks (a POST with CSRF, never a linkable GET). The masking
happens here, server-side: a hidden value never reaches the HTML."""

from __future__ import annotations

import copy
import re

# A name is secret-looking when one of these appears in it (case-insensitive).
SECRET_WORDS = ("PASSWORD", "PASSWD", "PASS", "PWD", "SECRET", "TOKEN", "KEY", "CREDENTIAL",
                "CRED", "PRIVATE", "AUTH", "SALT", "COOKIE", "SESSION", "SIGNATURE", "DSN",
                "CERT")
# ...except these well-known harmless ones.
NOT_SECRET = {"PWD", "OLDPWD"}
_WORD_RE = re.compile("|".join(SECRET_WORDS))
# A value holding credentials in a URL (postgres://user:pw@host/db) is secret
# whatever its name.
_URL_CREDS_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/@\s:]*:[^/@\s]+@")

MASK = "•••••••• (hidden)"


def looks_secret(name: str, value: str = "") -> bool:
    n = (name or "").upper()
    if n not in NOT_SECRET and _WORD_RE.search(n):
        return True
    return bool(_URL_CREDS_RE.match(value or ""))


def env_pairs(env: list[str] | None, reveal: bool = False) -> list[dict]:
    """Config.Env as rows: name, value (MASK when hidden), masked, secret."""
    out = []
    for item in env or []:
        name, sep, value = str(item).partition("=")
        secret = looks_secret(name, value)
        masked = secret and not reveal
        out.append({"name": name, "value": MASK if masked else value, "masked": masked,
                    "secret": secret, "has_value": bool(sep)})
    return out


def mask_inspect(c: dict, reveal: bool = False) -> dict:
    """The inspect document (a container's or an image's) with secret-looking
    env values masked: Config.Env, and an image's ContainerConfig.Env."""
    if reveal or not isinstance(c, dict):
        return c
    out = c
    for key in ("Config", "ContainerConfig"):
        cfg = c.get(key)
        if not isinstance(cfg, dict) or not cfg.get("Env"):
            continue
        if out is c:
            out = copy.copy(c)
        out[key] = dict(cfg)
        out[key]["Env"] = [f"{p['name']}={p['value']}" if p["has_value"] else p["name"]
                           for p in env_pairs(cfg["Env"])]
    return out
