"""An engine's URL in, a connection description out.

Follows the docker CLI's conventions: unix:///path (default
unix:///var/run/docker.sock), tcp://host:port, and for TLS DOCKER_TLS_VERIFY=1
with DOCKER_CERT_PATH holding ca.pem, cert.pem and key.pem (~/.docker when
unset); ssh://[user@]host[:port], reached as the CLI does: the system's ssh
client running `docker system dial-stdio` on the far host.
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

    raw: str  # the URL as given (or the default)
    scheme: str  # "unix", "http", "https" or "ssh"
    socket_path: str | None = None  # for unix
    netloc: str | None = None  # host:port for tcp; the host for ssh
    ca_cert: str | None = None
    client_cert: tuple[str, str] | None = None
    ssh_user: str | None = None
    ssh_port: int | None = None
    ssh_config: str | None = None  # an ssh config file (-F) of this engine's own

    @property
    def base_url(self) -> str:
        if self.scheme == "unix":
            return "http+unix://" + quote(self.socket_path or "", safe="")
        if self.scheme == "ssh":
            return "http+ssh://" + quote(self.raw, safe="")
        return f"{self.scheme}://{self.netloc}"

    @property
    def encrypted(self) -> bool:
        return self.scheme in ("unix", "https", "ssh")

    @property
    def transport(self) -> str:
        """Plain words for the page header."""
        if self.scheme == "unix":
            return "unix socket"
        if self.scheme == "https":
            return "TCP with TLS"
        if self.scheme == "ssh":
            return "ssh"
        return "TCP, unencrypted"

    def ssh_argv(self, connect_timeout: float) -> list[str]:
        """The ssh command that reaches the far engine, as the docker CLI runs
        it. The user's ssh configuration, agent and known_hosts apply (or the
        engine's own config file); host keys are always checked. BatchMode:
        a server has nobody to answer a password or host-key prompt.
        ServerAlive: a path that died silently (a NAT or firewall that forgot
        an idle flow) ends ssh within 30 s, so a held stream (the event watch)
        ends and is asked anew, not trusted for hours."""
        argv = ["ssh", "-T", "-o", "BatchMode=yes", "-o",
                f"ConnectTimeout={max(1, int(connect_timeout + 0.999))}",
                "-o", "ServerAliveInterval=10", "-o", "ServerAliveCountMax=3"]
        if self.ssh_config:
            argv += ["-F", self.ssh_config]
        if self.ssh_user:
            argv += ["-l", self.ssh_user]
        if self.ssh_port:
            argv += ["-p", str(self.ssh_port)]
        return argv + ["--", self.netloc or "", "docker", "system", "dial-stdio"]

    def curl(self, method: str, path: str, body: str | None = None) -> str:
        """The equivalent curl command line for one Engine call."""
        parts = ["curl", "-s"]
        # HEAD as -I: `-X HEAD` would wait for a body that never comes
        verb = ["-I"] if method == "HEAD" else (["-X", method] if method != "GET" else [])
        parts += verb
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
        if self.scheme == "ssh":
            # curl cannot speak ssh: the same call made on the far host
            far = ["curl", "-s"] + verb
            far += ["--unix-socket", "/var/run/docker.sock"]
            if body is not None:
                far += ["-H", "Content-Type: application/json", "-d", body]
            far.append("http://localhost" + path)
            who = f"{self.ssh_user}@{self.netloc}" if self.ssh_user else (self.netloc or "")
            ssh = ["ssh"] + (["-p", str(self.ssh_port)] if self.ssh_port else []) + [who]
            return " ".join(shlex.quote(p) for p in ssh) + " " + shlex.quote(
                " ".join(shlex.quote(p) for p in far))
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


def parse_host(value: str | None, env: dict[str, str] | None = None, *,
               tls_dir: str | None = None, ssh_config: str | None = None) -> Host:
    """Turn DOCKER_HOST (and the TLS variables) into a Host. `tls_dir`: a TLS
    folder of this engine's own (ca.pem, cert.pem, key.pem), which turns TLS
    on; `ssh_config`: an ssh config file for an ssh:// engine."""
    env = os.environ if env is None else env
    if tls_dir:
        env = {"DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": tls_dir}
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
            raise HostConfigError(f"{raw!r}: a unix socket path must be absolute")
        return Host(raw=raw, scheme="unix", socket_path=path)
    if scheme in ("tcp", "http", "https"):
        if not parts.hostname:
            raise HostConfigError(f"{raw!r}: no host name")
        try:
            port = parts.port
        except ValueError as exc:
            raise HostConfigError(f"{raw!r}: {exc}") from None
        verify = env.get("DOCKER_TLS_VERIFY", "").strip().lower()
        tls_verify = verify not in ("", "0", "false", "no")
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
    if scheme == "ssh":
        if not parts.hostname:
            raise HostConfigError(f"{raw!r}: no host name after ssh://")
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise HostConfigError(f"{raw!r}: an ssh:// engine is ssh://[user@]host[:port], "
                                  "with no path")
        try:
            port = parts.port
        except ValueError as exc:
            raise HostConfigError(f"{raw!r}: {exc}") from None
        if parts.password:
            raise HostConfigError(f"{raw!r}: no password in the URL; ssh uses your keys")
        host = parts.hostname
        if host.startswith("-") or not all(c.isalnum() or c in ".-_:" for c in host):
            raise HostConfigError(f"{raw!r}: {host!r} is not a host name")
        user = parts.username
        if user is not None and (not user or user.startswith("-")
                                 or not all(c.isalnum() or c in "._-" for c in user)):
            raise HostConfigError(f"{raw!r}: {user!r} is not a user name")
        if ssh_config and not Path(ssh_config).is_file():
            raise HostConfigError(f"{raw!r}: the ssh config file {ssh_config} does not exist")
        return Host(raw=raw, scheme="ssh", netloc=host, ssh_user=user, ssh_port=port,
                    ssh_config=ssh_config)
    raise HostConfigError(
        f"{raw!r}: unsupported scheme {scheme or '(none)'!r}; use unix://, tcp:// or ssh://")
