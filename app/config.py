"""Configuration from the environment. Every variable is listed in the README."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field

from .params import flag


def fast_tmp() -> str | None:
    """Where to make a private state folder: /dev/shm (memory) when it can be
    used, else the system's temporary folder (None). The workers' shared state
    (stats, polled answers) is rewritten every second; on a disk each rename
    can wait for the journal and hold up readers of the folder."""
    shm = "/dev/shm"
    return shm if os.path.isdir(shm) and os.access(shm, os.W_OK | os.X_OK) else None


def _bool(env, name, default=False) -> bool:
    return flag(env.get(name), default)


def _float(env, name, default: float, zero: bool = False) -> float:
    v = env.get(name)
    if v is None or v.strip() == "":
        return default
    try:
        f = float(v)
    except ValueError:
        raise ValueError(f"{name}={v!r} is not a number") from None
    if f < 0 or (f == 0 and not zero) or f != f or f == float("inf"):
        raise ValueError(f"{name}={v!r} must be above zero" + (" (or 0)" if zero else ""))
    return f


def _int(env, name, default: int | None, low: int = 1, high: int = 1024) -> int | None:
    v = (env.get(name) or "").strip()
    if not v:
        return default
    if not (v.isascii() and v.isdigit()) or not low <= int(v) <= high:
        raise ValueError(f"{name}={v!r} must be a whole number from {low} to {high}")
    return int(v)


def _count(env, name, default: int, lo: int, hi: int) -> int:
    v = (env.get(name) or "").strip().replace("_", "")
    if not v:
        return default
    if not (v.isascii() and v.isdigit()) or not lo <= int(v) <= hi:
        raise ValueError(f"{name}={env.get(name)!r} must be a whole number from {lo:,} to {hi:,}")
    return int(v)


@dataclass
class Settings:
    docker_host: str | None = None
    engines: str | None = None  # PERISCOPE_ENGINES
    engines_file: str | None = None  # PERISCOPE_ENGINES_FILE
    engine_budget: float = 2.0  # seconds each engine gets on a combined page
    share_for: float = 1.9  # seconds an identical Engine read may be shared (0: never)
    quiet_for: float = 30.0  # seconds a shared container list holds while the engine is quiet
    host_root: str | None = None  # a read-only mount of the engine host's / (policy)
    bind_roots: tuple = ()  # host folders binds may use where paths cannot be resolved
    docker_tls_verify: str | None = None
    docker_cert_path: str | None = None
    connect_timeout: float = 3.0
    read_timeout: float = 30.0
    poll_interval: float = 2.0
    stats: bool = True  # resource stats in the list and on container pages
    stats_budget: float = 5.0  # samples per second per engine the list's rows may cost
    secret_key: str = field(default_factory=lambda: secrets.token_hex(32))
    read_only: bool = False
    allow_host_access: bool = False
    allowed_hosts: list[str] = field(default_factory=lambda: ["localhost", "127.0.0.1", "[::1]"])
    password: str | None = None
    password_file: str | None = None
    trusted_proxy: bool = False
    state_dir: str | None = None  # a private folder the workers share (pull jobs)
    # a folder listing reads the tar of the folder's subtree: at most this many
    # members and this many MB of it
    files_max_entries: int = 20_000
    files_max_mb: int = 256
    # the server (gunicorn.conf.py / app/server.py)
    bind: list[str] = field(default_factory=lambda: ["127.0.0.1:8000"])
    allow_unauthenticated_remote: bool = False
    workers: int = 2
    threads: int = 8
    access_log: str | None = None
    send_timeout: float = 30.0  # seconds a client may take to take each piece of an answer
    # terminals (app/terminalrelay.py): each open one holds a gunicorn thread
    terminals: int | None = None  # in all; None: min(4, threads // 2); 0: terminals off
    terminals_per_client: int = 2
    terminal_idle: float = 900.0  # seconds without a keystroke before a terminal is closed

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> "Settings":
        env = os.environ if env is None else env
        s = cls()
        s.docker_host = env.get("DOCKER_HOST") or None
        s.engines = env.get("PERISCOPE_ENGINES") or None
        s.engines_file = env.get("PERISCOPE_ENGINES_FILE") or None
        s.engine_budget = _float(env, "PERISCOPE_ENGINE_BUDGET", 2.0)
        s.docker_tls_verify = env.get("DOCKER_TLS_VERIFY") or None
        s.docker_cert_path = env.get("DOCKER_CERT_PATH") or None
        s.connect_timeout = _float(env, "PERISCOPE_CONNECT_TIMEOUT", 3.0)
        s.read_timeout = _float(env, "PERISCOPE_READ_TIMEOUT", 30.0)
        s.poll_interval = _float(env, "PERISCOPE_POLL_INTERVAL", 2.0)
        # just below the poll interval: a viewer's next poll sees a newer answer,
        # and viewers polling at every phase of the interval share about one
        # call per interval (at 0.75 x it, about two: measured in docs/benchmarks.md)
        s.share_for = _float(env, "PERISCOPE_SHARE_FOR", 0.95 * s.poll_interval, zero=True)
        # past the bound, while the engine reports no event (gateway/watch.py)
        s.quiet_for = _float(env, "PERISCOPE_QUIET_FOR", 30.0, zero=True)
        s.stats = _bool(env, "PERISCOPE_STATS", True)
        s.stats_budget = _float(env, "PERISCOPE_STATS_BUDGET", 5.0)
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
        s.state_dir = env.get("PERISCOPE_STATE_DIR") or None
        s.host_root = env.get("PERISCOPE_HOST_ROOT") or None
        roots = [r.strip() for r in (env.get("PERISCOPE_BIND_ROOTS") or "").split(",") if r.strip()]
        bad = [r for r in roots if not r.startswith("/") or r == "/"]
        if bad:
            raise ValueError(f"PERISCOPE_BIND_ROOTS: {bad[0]!r} is not an absolute folder below /")
        s.bind_roots = tuple(roots)
        s.files_max_entries = _count(env, "PERISCOPE_FILES_MAX_ENTRIES", 20_000, 10, 10_000_000)
        s.files_max_mb = _count(env, "PERISCOPE_FILES_MAX_MB", 256, 1, 1_000_000)
        s.bind = (env.get("PERISCOPE_BIND") or "").replace(",", " ").split() or s.bind
        s.allow_unauthenticated_remote = _bool(env, "PERISCOPE_ALLOW_UNAUTHENTICATED_REMOTE")
        s.workers = _int(env, "PERISCOPE_WORKERS", 2)
        s.threads = _int(env, "PERISCOPE_THREADS", 8)
        s.access_log = env.get("PERISCOPE_ACCESS_LOG") or None
        s.terminals = _int(env, "PERISCOPE_TERMINALS", None, low=0)
        s.terminals_per_client = _int(env, "PERISCOPE_TERMINALS_PER_CLIENT", 2)
        s.terminal_idle = _float(env, "PERISCOPE_TERMINAL_IDLE", 900.0)
        s.send_timeout = _float(env, "PERISCOPE_SEND_TIMEOUT", 30.0, zero=True)
        return s

    @property
    def terminal_cap(self) -> int:
        """Terminals open at once in all (0: off). Each holds one gunicorn
        thread while open, and at least half of a worker's threads stay for
        pages, so the default is min(4, threads // 2)."""
        if self.terminals is None:
            return min(4, self.threads // 2)
        return self.terminals

    def terminal_refusal(self) -> str | None:
        """Why these terminal settings cannot be used (app/server.py stops
        the start with it), or None."""
        if self.terminals is not None and self.terminals > self.threads // 2:
            return (f"PERISCOPE_TERMINALS={self.terminals} would let terminals take more than "
                    f"half of a worker's {self.threads} threads (PERISCOPE_THREADS): each open "
                    f"terminal holds one. Use at most {self.threads // 2}, or raise "
                    "PERISCOPE_THREADS.")
        return None

    def engine_specs(self) -> list:
        """The engines to talk to (app/registry.py), default first;
        HostConfigError names the entry that cannot be used."""
        from .registry import specs

        tls = {k: v for k, v in (("DOCKER_TLS_VERIFY", self.docker_tls_verify),
                                 ("DOCKER_CERT_PATH", self.docker_cert_path)) if v}
        return specs(engines=self.engines, engines_file=self.engines_file,
                     docker_host=self.docker_host, tls_env=tls)
