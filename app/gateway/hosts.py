"""DOCKER_HOST in, a connection description out.

Follows the docker CLI's conventions: unix:///path (default
unix:///var/run/docker.sock), tcp://host:port, and for TLS DOCKER_TLS_VERIFY=1
with DOCKER_CERT_PATH holding ca.pem, cert.pem and key.pem (~/.docker when unset).
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlsplit

DEFAULT_HOST = "unix:///var/run/docker.sock"


class HostConfigError(ValueError):
    """DOCKER_HOST (or the TLS settings) cannot be used as given."""


@dataclass(frozen=True)
class Host:
    """Where the Engine is and how to reach it."""

    raw: str  # DOCKER_HOST as given (or the default)
    scheme: str  # "unix", "http" or "https"
    socket_path: str | None = None  # for unix
    netloc: str | None = None  # host:port for tcp
    ca_cert: str | None = None
    client_cert: tuple[str, str] | None = None

    @property
    def base_url(self) -> str:
        if self.scheme == "unix":
            return "http+unix://" + quote(self.socket_path or "", safe="")
        return f"{self.scheme}://{self.netloc}"

    @property
    def encrypted(self) -> bool:
        return self.scheme in ("unix", "https")

    @property
    def transport(self) -> str:
        """Plain words for the page header."""
        if self.scheme == "unix":
            return "unix socket"
        if self.scheme == "https":
            return "TCP with TLS"
        return "TCP, unencrypted"

    def curl(self, method: str, path: str, body: str | None = None) -> str:
        """The equivalent curl command line for one Engine call."""
        parts = ["curl", "-s"]
        if method != "GET":
            parts += ["-X", method]
        if self.scheme == "unix":
            parts += ["--unix-socket", self.socket_path or ""]
            url = "http://localhost" + path
        else:
            if self.scheme == "https":
                if self.ca_cert:
                    parts += ["--cacert", self.ca_cert]
                if self.client_cert:
                    parts += ["--cert", self.client_cert[0], "--key", self.client_cert[1]]
            url = f"{self.scheme}://{self.netloc}{path}"
        if body is not None:
            parts += ["-H", "Content-Type: application/json", "-d", body]
        base, _, query = url.partition("?")
        if query and method == "GET" and body is None:
            # readable and still exact: curl encodes each parameter itself
            parts += ["-G", base]
            for k, v in parse_qsl(query, keep_blank_values=True):
                parts += ["--data-urlencode", f"{k}={v}"]
        else:
            parts.append(url)
        return " ".join(shlex.quote(p) for p in parts)


def parse_host(value: str | None, env: dict[str, str] | None = None) -> Host:
    """Turn DOCKER_HOST (and the TLS variables) into a Host."""
    env = os.environ if env is None else env
    raw = (value or "").strip() or DEFAULT_HOST
    if raw.startswith("/"):
        raw = "unix://" + raw
    parts = urlsplit(raw)
    scheme = parts.scheme.lower()
    if scheme == "unix":
        path = parts.path or ""
        if parts.netloc:  # unix://relative/path is not a thing; keep what was meant
            path = "/" + parts.netloc + path if not path.startswith("/") else parts.netloc + path
        if not path.startswith("/"):
            raise HostConfigError(f"DOCKER_HOST {raw!r}: a unix socket path must be absolute")
        return Host(raw=raw, scheme="unix", socket_path=path)
    if scheme in ("tcp", "http", "https"):
        if not parts.hostname:
            raise HostConfigError(f"DOCKER_HOST {raw!r}: no host name")
        try:
            port = parts.port
        except ValueError as exc:
            raise HostConfigError(f"DOCKER_HOST {raw!r}: {exc}") from None
        tls_verify = env.get("DOCKER_TLS_VERIFY", "") not in ("", "0", "false", "no")
        if port is None:
            port = 2376 if (tls_verify or scheme == "https") else 2375
        host = parts.hostname
        netloc = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        if tls_verify or scheme == "https":
            cert_dir = Path(env.get("DOCKER_CERT_PATH") or Path.home() / ".docker")
            ca = cert_dir / "ca.pem"
            cert, key = cert_dir / "cert.pem", cert_dir / "key.pem"
            missing = [str(p) for p in (ca, cert, key) if not p.is_file()]
            if tls_verify and missing:
                raise HostConfigError(
                    "DOCKER_TLS_VERIFY is set but these files are missing: " + ", ".join(missing)
                    + " (set DOCKER_CERT_PATH to the folder holding ca.pem, cert.pem and key.pem)")
            client = (str(cert), str(key)) if cert.is_file() and key.is_file() else None
            return Host(raw=raw, scheme="https", netloc=netloc,
                        ca_cert=str(ca) if ca.is_file() else None, client_cert=client)
        return Host(raw=raw, scheme="http", netloc=netloc)
    raise HostConfigError(
        f"DOCKER_HOST {raw!r}: unsupported scheme {scheme or '(none)'!r}; use unix:// or tcp://")
