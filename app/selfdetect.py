"""Which container is Periscope running in? Pure detection, no Flask.

Tried in order, each candidate confirmed with GET /containers/{id}/json on
the engine Periscope talks to before it is believed:

1. /proc/self/cgroup: cgroup v1 paths such as `/docker/<64 hex>`, and the
   systemd driver's `docker-<64 hex>.scope` (v1 or v2 with a host cgroup
   namespace). A private cgroup namespace (the v2 default) shows only `0::/`.
2. /proc/self/mountinfo: the engine bind-mounts /etc/hostname, /etc/hosts and
   /etc/resolv.conf from `<data-root>/containers/<64 hex>/`; the mount's root
   field names that path. This works with --hostname set and with
   --network host, and inside a private cgroup namespace.
3. The hostname: by default a container's hostname is its 12-character ID
   prefix. Wrong with --hostname or --network host (the host's name), so it
   comes last and its match must also have that hostname in its config.
"""

from __future__ import annotations

import os
import platform
import re
import socket
import stat
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from .gateway import exceptions as ge

HEX64 = re.compile(r"[0-9a-f]{64}")
# /docker/<id>, /docker-<id>.scope, /system.slice/docker-<id>.scope, also nested
# (/docker/<outer>/docker/<inner> in docker-in-docker: the innermost is ours).
_CGROUP_RE = re.compile(r"(?:^|/)docker[/-]([0-9a-f]{64})(?:\.scope)?(?=/|$)")
_MOUNT_RE = re.compile(r"/containers/([0-9a-f]{64})/")
_WATCHED_MOUNTS = ("/etc/hostname", "/etc/hosts", "/etc/resolv.conf")
_HOSTNAME_ID = re.compile(r"^[0-9a-f]{12,64}$")

METHODS = {
    "cgroup": "/proc/self/cgroup",
    "mountinfo": "/proc/self/mountinfo",
    "hostname": "the hostname",
}


def ids_from_cgroup(text: str) -> list[str]:
    """Container IDs named in a /proc/self/cgroup text, innermost first, once each."""
    found: list[str] = []
    for line in text.splitlines():
        # hierarchy-ID:controllers:path ; the path may itself hold colons
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        ids = _CGROUP_RE.findall(parts[2])
        if ids and ids[-1] not in found:
            found.append(ids[-1])
    return found


def _unescape(field_: str) -> str:
    """mountinfo escapes space, tab, newline and backslash as octal (\\040)."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field_)


def ids_from_mountinfo(text: str) -> list[str]:
    """Container IDs from the roots of the /etc/hostname, /etc/hosts and
    /etc/resolv.conf mounts, most named first."""
    counts: dict[str, int] = {}
    order: list[str] = []
    for line in text.splitlines():
        fields = line.split(" ")
        # id parent major:minor root mountpoint options [optional...] - fstype source superopts
        if len(fields) < 5:
            continue
        root, mountpoint = _unescape(fields[3]), _unescape(fields[4])
        if mountpoint not in _WATCHED_MOUNTS:
            continue
        m = _MOUNT_RE.search(root)
        if not m:
            continue
        cid = m.group(1)
        if cid not in counts:
            order.append(cid)
            counts[cid] = 0
        counts[cid] += 1
    return sorted(order, key=lambda c: -counts[c])


def id_from_hostname(hostname: str) -> str | None:
    h = (hostname or "").strip().lower()
    return h if _HOSTNAME_ID.match(h) else None


@dataclass
class Attempt:
    method: str            # cgroup | mountinfo | hostname
    source: str            # what was read
    candidates: list[str] = field(default_factory=list)
    outcome: str = ""      # confirmed | not-found | no-candidate | unreadable | mismatch
    note: str = ""


@dataclass
class Detection:
    container: dict | None           # the engine's inspect of our container, when confirmed
    method: str | None               # the way that worked
    attempts: list[Attempt]
    hostname: str
    in_container_hint: bool          # /.dockerenv or a container ID seen, even if unconfirmed

    @property
    def id(self) -> str | None:
        return self.container.get("Id") if self.container else None

    @property
    def unconfirmed(self) -> list[str]:
        """IDs seen locally that the engine does not know (another engine?)."""
        out: list[str] = []
        for a in self.attempts:
            if a.outcome == "not-found":
                out += [c for c in a.candidates if c not in out]
        return out


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read()
    except OSError:
        return None


def detect(engine, *, read: Callable[[str], str | None] = _read,
           hostname: str | None = None, dockerenv: bool | None = None) -> Detection:
    """Find and confirm our own container on `engine`.

    Engine faults other than 404 (unreachable, timeout) propagate: the caller
    cannot tell "not a container" from "cannot ask"."""
    host = hostname if hostname is not None else socket.gethostname()
    attempts: list[Attempt] = []

    def confirm(att: Attempt, check_hostname: bool = False) -> dict | None:
        if not att.candidates:
            att.outcome = att.outcome or "no-candidate"
            return None
        for cid in att.candidates:
            try:
                c = engine.inspect_container(cid)
            except (ge.NotFound, ge.InvalidReference, ge.AmbiguousReference):
                continue
            if check_hostname and (c.get("Config") or {}).get("Hostname", "").lower() != host.lower():
                att.outcome = "mismatch"
                att.note = f"{cid[:12]} exists but its hostname is not {host!r}"
                continue
            if not check_hostname and c.get("Id") != cid:
                continue
            att.outcome = "confirmed"
            att.candidates = [cid]
            return c
        if att.outcome != "mismatch":
            att.outcome = "not-found"
            att.note = "the engine has no container with this ID"
        return None

    for method, path in (("cgroup", "/proc/self/cgroup"), ("mountinfo", "/proc/self/mountinfo")):
        att = Attempt(method, path)
        attempts.append(att)
        text = read(path)
        if text is None:
            att.outcome = "unreadable"
            att.note = f"{path} cannot be read here"
            continue
        att.candidates = ids_from_cgroup(text) if method == "cgroup" else ids_from_mountinfo(text)
        c = confirm(att)
        if c is not None:
            return Detection(c, method, attempts, host, True)

    att = Attempt("hostname", f"hostname {host!r}")
    attempts.append(att)
    cand = id_from_hostname(host)
    if cand:
        att.candidates = [cand]
    c = confirm(att, check_hostname=True)
    if c is not None:
        return Detection(c, "hostname", attempts, host, True)

    hint = bool(dockerenv if dockerenv is not None else os.path.exists("/.dockerenv"))
    hint = hint or any(a.candidates for a in attempts[:2])
    return Detection(None, None, attempts, host, hint)


# -- a cached answer for the self-protection check ----------------------------
_cache: dict[str, tuple[str | None, float]] = {}
_cache_lock = threading.Lock()
NEGATIVE_TTL = 30.0


def own_container_id(engine) -> str | None:
    """Our own container's full ID on this engine, or None. Cached per engine:
    a found ID for the life of the process (it cannot change), "none" for 30 s.
    An engine that cannot be asked gives None and is not cached."""
    key = engine.host.raw
    now = time.monotonic()
    with _cache_lock:
        hit = _cache.get(key)
    if hit is not None and (hit[0] is not None or now - hit[1] < NEGATIVE_TTL):
        return hit[0]
    try:
        found = detect(engine).id
    except ge.EngineError:
        return None
    with _cache_lock:
        _cache[key] = (found, now)
    return found


def is_self(engine, container_id: str) -> bool:
    """True when `container_id` is the container Periscope itself runs in: the
    guard that keeps its own pages from stopping, killing, pausing or removing it."""
    own = own_container_id(engine)
    return bool(own and container_id and own == container_id)


def remember(engine, detection: Detection) -> None:
    """Store a detection made elsewhere (the whoami page) in the cache."""
    with _cache_lock:
        _cache[engine.host.raw] = (detection.id, time.monotonic())


def socket_mounts(container: dict, docker_host: str | None = None) -> list[dict]:
    """The container's mounts that carry an Engine socket."""
    targets = {"/var/run/docker.sock", "/run/docker.sock"}
    if docker_host and docker_host.startswith("unix://"):
        targets.add(docker_host[len("unix://"):])
    out = []
    for m in container.get("Mounts") or []:
        dest = m.get("Destination") or ""
        src = m.get("Source") or ""
        if dest in targets or dest.endswith("/docker.sock") or src.endswith("/docker.sock"):
            out.append(m)
    return out


# -- what the whoami page shows besides the container ---------------------------
def process_facts() -> dict:
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


def socket_access(host) -> dict | None:
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


def published_ports(c: dict) -> list[str]:
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


# -- several engines: which one holds Periscope's container -------------------------
@dataclass
class Seen:
    """One engine's answer to "is Periscope's container yours?"."""

    name: str
    detection: Detection | None = None
    info: dict | None = None
    error: str = ""  # the engine could not be asked (or not in time)

    @property
    def holds(self) -> bool:
        return bool(self.detection and self.detection.container)


def find_everywhere(registry, budget: float) -> list[Seen]:
    """Detection on every engine in parallel, each within `budget` seconds."""
    from .fanout import ask_all

    def ask(entry):
        return detect(entry.engine), entry.engine.info(timeout=budget)

    out = []
    for ans in ask_all(registry, list(registry), ("whoami",), ask, budget):
        if ans.ok:
            det, info = ans.value
            remember(ans.entry.engine, det)
            out.append(Seen(ans.name, det, info))
        else:
            out.append(Seen(ans.name, error=ans.error.message if ans.error else
                            f"not answering within {budget:g} s"))
    return out


def whoami(registry, entry, everywhere: bool, budget: float):
    """Which engine holds Periscope's container, and what it says: (the
    engine's entry, its Detection, its /info, what every engine said or None).
    `everywhere`: several engines and none named in the URL: each is asked,
    and the one that holds it (else the first that could tell) is shown; no
    engine answering is the default engine's error."""
    if not everywhere:
        det = detect(entry.engine)
        remember(entry.engine, det)
        return entry, det, entry.engine.info(), None
    seen = find_everywhere(registry, budget)
    chosen = next((s for s in seen if s.holds), None) or next(
        (s for s in seen if s.detection), None)
    if chosen is None:  # no engine answered: the default's error, as a page
        entry = registry.default
        return entry, detect(entry.engine), entry.engine.info(), seen
    return registry.get(chosen.name), chosen.detection, chosen.info, seen
