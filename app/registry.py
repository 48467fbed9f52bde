"""The engines Periscope looks into: their configuration, read once at start,
and the registry of live Engine clients, default first. No Flask here.

Three ways to name them, one at a time:
- PERISCOPE_ENGINES: `name=URL,name=URL,...` (the first is the default);
- PERISCOPE_ENGINES_FILE: a TOML file, where each engine can also give a TLS
  folder, an ssh config file, read-only and host access of its own:

      [engines.laptop]
      url = "unix:///var/run/docker.sock"

      [engines.build]
      url = "tcp://build.example:2376"
      tls = "/etc/periscope/build"     # ca.pem, cert.pem, key.pem
      read_only = true

      [engines.prod]
      url = "ssh://deploy@prod.example"
      allow_host_access = false

- neither: DOCKER_HOST (with DOCKER_TLS_VERIFY and DOCKER_CERT_PATH), one
  engine named "default", as the docker CLI reads it.

A bad entry raises HostConfigError naming it; gunicorn's master then refuses
to start (app/server.py).
"""

from __future__ import annotations

import re
import tomllib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from .gateway import Engine, Host, HostConfigError, parse_host

NAME_RE = re.compile(r"[A-Za-z0-9_-]{1,40}")
DEFAULT_NAME = "default"
_FILE_KEYS = {"url", "tls", "ssh_config", "read_only", "allow_host_access"}


@dataclass(frozen=True)
class EngineSpec:
    name: str
    host: Host
    read_only: bool | None = None  # None: the global setting
    allow_host_access: bool | None = None


def _check_name(name: str, seen: set[str], where: str) -> None:
    if not NAME_RE.fullmatch(name):
        raise HostConfigError(f"{where}: engine name {name[:60]!r} may hold only letters, "
                              "digits, '-' and '_' (at most 40)")
    if name in seen:
        raise HostConfigError(f"{where}: engine name {name!r} is given twice")
    seen.add(name)


def _host(url: str, name: str, where: str, env: dict, **kw) -> Host:
    try:
        return parse_host(url, env, **kw)
    except HostConfigError as exc:
        raise HostConfigError(f"{where}, engine {name!r}: {exc}") from None


def parse_list(text: str, tls_env: dict) -> list[EngineSpec]:
    """PERISCOPE_ENGINES: name=URL, comma-separated. tcp:// entries follow
    DOCKER_TLS_VERIFY / DOCKER_CERT_PATH as the CLI does."""
    where = "PERISCOPE_ENGINES"
    out: list[EngineSpec] = []
    seen: set[str] = set()
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        name, sep, url = item.partition("=")
        name, url = name.strip(), url.strip()
        if not sep or not url:
            raise HostConfigError(f"{where}: {item[:80]!r} is not name=URL "
                                  "(like laptop=unix:///var/run/docker.sock)")
        _check_name(name, seen, where)
        out.append(EngineSpec(name, _host(url, name, where, tls_env)))
    if not out:
        raise HostConfigError(f"{where} is set but names no engine")
    return out


def parse_file(path: str) -> list[EngineSpec]:
    where = f"PERISCOPE_ENGINES_FILE={path}"
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise HostConfigError(f"{where} cannot be read: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise HostConfigError(f"{where} is not valid TOML: {exc}") from None
    engines = data.get("engines")
    extra = set(data) - {"engines"}
    if extra:
        raise HostConfigError(f"{where}: unknown top-level key(s) {', '.join(sorted(extra))}; "
                              "engines go in [engines.NAME] tables")
    if not isinstance(engines, dict) or not engines:
        raise HostConfigError(f"{where} names no engine: add an [engines.NAME] table with a url")
    out: list[EngineSpec] = []
    seen: set[str] = set()
    for name, entry in engines.items():
        _check_name(name, seen, where)
        if not isinstance(entry, dict):
            raise HostConfigError(f"{where}, engine {name!r}: expected a table with a url")
        unknown = set(entry) - _FILE_KEYS
        if unknown:
            raise HostConfigError(f"{where}, engine {name!r}: unknown key(s) "
                                  f"{', '.join(sorted(unknown))} (known: {', '.join(sorted(_FILE_KEYS))})")
        url = entry.get("url")
        if not isinstance(url, str) or not url.strip():
            raise HostConfigError(f"{where}, engine {name!r}: url is missing")
        for key in ("read_only", "allow_host_access"):
            if key in entry and not isinstance(entry[key], bool):
                raise HostConfigError(f"{where}, engine {name!r}: {key} must be true or false")
        for key in ("tls", "ssh_config"):
            if key in entry and not isinstance(entry[key], str):
                raise HostConfigError(f"{where}, engine {name!r}: {key} must be a path")
        tls = entry.get("tls")
        if tls is not None:
            missing = [f for f in ("ca.pem", "cert.pem", "key.pem") if not (Path(tls) / f).is_file()]
            if missing:
                raise HostConfigError(f"{where}, engine {name!r}: the TLS folder {tls} lacks "
                                      + ", ".join(missing))
            if not url.strip().startswith(("tcp://", "https://")):
                raise HostConfigError(f"{where}, engine {name!r}: tls is for a tcp:// engine")
        ssh_config = entry.get("ssh_config")
        if ssh_config is not None and not url.strip().startswith("ssh://"):
            raise HostConfigError(f"{where}, engine {name!r}: ssh_config is for an ssh:// engine")
        host = _host(url, name, where, {}, tls_dir=tls, ssh_config=ssh_config)
        out.append(EngineSpec(name, host, entry.get("read_only"), entry.get("allow_host_access")))
    return out


def specs(*, engines: str | None, engines_file: str | None, docker_host: str | None,
          tls_env: dict) -> list[EngineSpec]:
    """The configured engines, default first."""
    if engines and engines_file:
        raise HostConfigError("Set PERISCOPE_ENGINES or PERISCOPE_ENGINES_FILE, not both: "
                              "one list of engines, in one place.")
    if engines_file:
        return parse_file(engines_file)
    if engines:
        return parse_list(engines, tls_env)
    try:
        return [EngineSpec(DEFAULT_NAME, parse_host(docker_host, tls_env))]
    except HostConfigError as exc:
        raise HostConfigError(f"DOCKER_HOST {exc}") from None


@dataclass
class EngineEntry:
    """One engine as the pages see it."""

    name: str
    engine: Engine
    read_only: bool
    allow_host_access: bool

    @property
    def host(self) -> Host:
        return self.engine.host


class UnknownEngine(LookupError):
    def __init__(self, name: str):
        super().__init__(name)
        self.name = name


class Registry:
    """name -> engine, in the configured order; the first is the default."""

    def __init__(self, entries: list[EngineEntry]):
        if not entries:
            raise ValueError("no engines")
        self._by_name = {e.name: e for e in entries}
        self.entries = list(entries)
        self.default = entries[0]
        # Calls to several engines at once (combined pages): one pool for all.
        self.pool = ThreadPoolExecutor(max_workers=max(8, 4 * len(entries)),
                                       thread_name_prefix="periscope-fanout")

    @classmethod
    def build(cls, specs: list[EngineSpec], *, read_only: bool, allow_host_access: bool,
              connect_timeout: float, read_timeout: float, share_for: float = 0.0,
              state_dir: str | None = None, quiet_for: float = 0.0) -> "Registry":
        entries = []
        for s in specs:
            # a write in any worker drops every worker's shared reads of this engine
            marker = Path(state_dir) / "writes" / s.name if state_dir else None
            eng = Engine(s.host, connect_timeout=connect_timeout, read_timeout=read_timeout,
                         name=s.name, share_for=share_for, write_marker=marker,
                         quiet_for=quiet_for)
            entries.append(EngineEntry(s.name, eng,
                                       read_only if s.read_only is None else s.read_only,
                                       allow_host_access if s.allow_host_access is None
                                       else s.allow_host_access))
        return cls(entries)

    @property
    def several(self) -> bool:
        return len(self.entries) > 1

    def get(self, name: str | None) -> EngineEntry:
        if name is None:
            return self.default
        try:
            return self._by_name[name]
        except KeyError:
            raise UnknownEngine(name) from None

    def __iter__(self):
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def names(self) -> list[str]:
        return [e.name for e in self.entries]
