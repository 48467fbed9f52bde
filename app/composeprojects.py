"""Compose projects, read from the labels Compose writes on every container it
makes (v1, the Python `docker-compose`, and v2, the `docker compose` plugin,
write the same ones): whoever started a project, Periscope sees all of it.

- `com.docker.compose.project`: the project's name;
- `.service`, `.container-number`: the service, and the replica's number;
- `.oneoff`: "True" for a `run` container (kept apart from the service's own);
- `.project.working_dir`, `.project.config_files` (comma-separated);
- `.depends_on` (v2 only): "db:service_started:false,cache:service_healthy:true".

Grouping is pure: it takes the container list's rows (containerlist.present)
and gives projects with their services and containers, the containers of no
project apart. `fetch_*` make the one Engine call a page needs; `act` runs a
start, stop or restart over a project's containers, dependencies first (or
last), in parallel within a level, each result in plain words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

from . import display
from .containerlist import present
from .registry import Registry
from .fanout import ask_all, each
from .gateway import Engine
from .gateway import exceptions as ge

PREFIX = "com.docker.compose."
PROJECT = PREFIX + "project"
SERVICE = PREFIX + "service"
NUMBER = PREFIX + "container-number"
ONEOFF = PREFIX + "oneoff"
WORKING_DIR = PREFIX + "project.working_dir"
CONFIG_FILES = PREFIX + "project.config_files"
DEPENDS_ON = PREFIX + "depends_on"
VERSION = PREFIX + "version"

ACTIONS = ("start", "stop", "restart")


@dataclass
class Dependency:
    service: str
    condition: str = ""  # service_started, service_healthy, service_completed_successfully
    required: bool = True


def parse_depends_on(text: str | None) -> list[Dependency]:
    """v2's label: `svc:condition[:required]` items, comma-separated."""
    out = []
    for item in (text or "").split(","):
        parts = item.strip().split(":")
        if not parts[0]:
            continue
        cond = parts[1] if len(parts) > 1 else ""
        required = not (len(parts) > 2 and parts[2].strip().lower() == "false")
        out.append(Dependency(parts[0], cond, required))
    return out


def split_files(text: str | None) -> list[str]:
    return [p for p in (s.strip() for s in (text or "").split(",")) if p]


def is_oneoff(labels: dict) -> bool:
    return (labels.get(ONEOFF) or "").strip().lower() == "true"


def number(labels: dict) -> int | None:
    raw = (labels.get(NUMBER) or "").strip()
    return int(raw) if raw.isdigit() and len(raw) < 10 else None


def short_name(name: str, project: str | None) -> str:
    """The container's name without its project, as `docker compose logs`
    prefixes a line: proj_web_1 -> web_1 (v1), proj-web-1 -> web-1 (v2); a
    name Compose did not make (container_name:, or none) stays whole."""
    if project:
        for sep in ("_", "-"):
            head = project + sep
            if name.startswith(head) and len(name) > len(head):
                return name[len(head):]
    return name


_EXIT_RE = re.compile(r"Exited \((-?\d+)\)")


def exit_code(status_text: str) -> int | None:
    m = _EXIT_RE.search(status_text or "")
    return int(m.group(1)) if m else None


@dataclass
class Member:
    """One container of a project: its list row and what the labels say."""

    row: dict
    service: str
    number: int | None
    oneoff: bool

    @property
    def id(self) -> str:
        return self.row["id"]

    @property
    def name(self) -> str:
        return self.row["name"]

    @property
    def running(self) -> bool:
        return self.row["state"] == "running"

    @property
    def exit_code(self) -> int | None:
        return exit_code(self.row["status"])


@dataclass
class Service:
    name: str
    members: list[Member] = field(default_factory=list)
    depends_on: list[Dependency] = field(default_factory=list)

    @property
    def running(self) -> int:
        return sum(m.running for m in self.members)

    @property
    def total(self) -> int:
        return len(self.members)


@dataclass
class Project:
    name: str
    engine: str | None = None  # the engine's name on a page of every engine
    services: list[Service] = field(default_factory=list)
    oneoffs: list[Member] = field(default_factory=list)
    working_dirs: list[str] = field(default_factory=list)
    config_files: list[str] = field(default_factory=list)
    versions: list[str] = field(default_factory=list)  # the Compose versions that made it

    @property
    def members(self) -> list[Member]:
        return [m for s in self.services for m in s.members]

    @property
    def running(self) -> int:
        return sum(s.running for s in self.services)

    @property
    def total(self) -> int:
        return sum(s.total for s in self.services)

    @property
    def health(self) -> dict[str, int]:
        """How many of its containers are healthy, unhealthy, starting (only
        those with a health check count)."""
        out: dict[str, int] = {}
        for m in self.members:
            h = m.row["health"]
            if h:
                out[h] = out.get(h, 0) + 1
        return {k: out[k] for k in ("unhealthy", "starting", "healthy") if k in out}

    @property
    def state(self) -> str:
        """running (all), partial (some), stopped (none), empty (only one-offs)."""
        if not self.total:
            return "empty"
        if self.running == self.total:
            return "running"
        return "partial" if self.running else "stopped"

    def service(self, name: str) -> Service | None:
        return next((s for s in self.services if s.name == name), None)


def _member(row: dict) -> Member:
    labels = row["labels"]
    return Member(row, labels.get(SERVICE) or "", number(labels), is_oneoff(labels))


def _sort_key(m: Member):
    return (m.number is None, m.number or 0, m.name)


def group(rows: list[dict], *, engine_key: bool = False) -> tuple[list[Project], list[dict]]:
    """Rows (containerlist.present, with "labels") -> (projects by name, the
    rows of no project, in their given order). `engine_key`: rows carry
    "engine" (a list of every engine): projects of the same name on two
    engines are two projects."""
    projects: dict[tuple, Project] = {}
    loose: list[dict] = []
    for row in rows:
        labels = row.get("labels") or {}
        name = labels.get(PROJECT)
        if not name:
            loose.append(row)
            continue
        eng = row.get("engine") if engine_key else None
        p = projects.get((eng, name))
        if p is None:
            p = projects[(eng, name)] = Project(name, eng)
        m = _member(row)
        for value, into in ((labels.get(WORKING_DIR), p.working_dirs),
                            (labels.get(VERSION), p.versions)):
            if value and value not in into:
                into.append(value)
        for f in split_files(labels.get(CONFIG_FILES)):
            if f not in p.config_files:
                p.config_files.append(f)
        if m.oneoff:
            p.oneoffs.append(m)
            continue
        svc = p.service(m.service)
        if svc is None:
            svc = Service(m.service)
            p.services.append(svc)
        svc.members.append(m)
        if not svc.depends_on and labels.get(DEPENDS_ON):
            svc.depends_on = parse_depends_on(labels.get(DEPENDS_ON))
    out = sorted(projects.values(), key=lambda p: (p.name, p.engine or ""))
    for p in out:
        p.services.sort(key=lambda s: s.name)
        for s in p.services:
            s.members.sort(key=_sort_key)
        p.oneoffs.sort(key=lambda m: (m.service, -m.row["created"], m.name))
    return out, loose


def levels(project: Project, action: str) -> list[list[Member]]:
    """The project's containers in the order an action takes them: for start
    (and restart), a service after the services it depends on; for stop, in
    reverse. Services in a cycle or without dependency labels (v1) share a
    level. Containers of one level are acted on together."""
    names = {s.name for s in project.services}
    deps = {s.name: {d.service for d in s.depends_on if d.service in names}
            for s in project.services}
    done: set[str] = set()
    order: list[list[str]] = []
    while len(done) < len(names):
        ready = sorted(n for n in names - done if deps[n] <= done)
        if not ready:  # a cycle: the rest together
            ready = sorted(names - done)
        order.append(ready)
        done.update(ready)
    if action == "stop":
        order.reverse()
    by_name = {s.name: s for s in project.services}
    return [[m for n in lvl for m in by_name[n].members] for lvl in order]


# -- the Engine calls ------------------------------------------------------------------
def _filters(name: str | None = None, service: str | None = None) -> dict:
    labels = [f"{PROJECT}={name}" if name is not None else PROJECT]
    if service is not None:
        labels.append(f"{SERVICE}={service}")
    return {"label": labels}


def fetch_projects(eng: Engine, href_prefix: str, timeout: float | None = None) -> list[Project]:
    """Every project of one engine: one call, the containers with a project label."""
    raw = eng.containers(all=True, filters=_filters(), timeout=timeout)
    return group([present(c, href_prefix) for c in raw])[0]


def fetch_project(eng: Engine, name: str, href_prefix: str) -> Project | None:
    """One project (None: no container carries its name)."""
    raw = eng.containers(all=True, filters=_filters(name))
    found = [p for p in group([present(c, href_prefix) for c in raw])[0] if p.name == name]
    return found[0] if found else None


@dataclass
class EngineTrouble:
    name: str
    kind: str  # "error" | "late"
    message: str


def fetch_combined(registry: Registry, prefixes: dict[str, str],
                   budget: float) -> tuple[list[Project], list[EngineTrouble]]:
    """Every engine's projects, asked in parallel within `budget` seconds each."""
    def ask(entry):
        return fetch_projects(entry.engine, prefixes[entry.name], timeout=budget)

    out: list[Project] = []
    trouble: list[EngineTrouble] = []
    for ans in ask_all(registry, list(registry), ("projects",), ask, budget):
        if ans.late:
            trouble.append(EngineTrouble(ans.name, "late", f"not answering within {budget:g} s; "
                                         "asked again at the next update"))
        elif ans.error is not None:
            trouble.append(EngineTrouble(ans.name, "error", ans.error.message))
        else:
            for p in ans.value:
                p.engine = ans.name
                out.append(p)
    out.sort(key=lambda p: (p.name, p.engine or ""))
    return out, trouble


@dataclass
class Outcome:
    """What an action did to one container, in plain words."""

    name: str
    id: str
    level: str  # ok | info | warn | bad
    text: str


SELF_HARM = {"stop", "restart"}


def act(eng: Engine, project: Project, action: str, *, timeout: int | None = None,
        is_self: Callable[[str], bool] = lambda cid: False,
        before_start: Callable[[list[tuple[str, str]], str], None] | None = None
        ) -> list[Outcome]:
    """start / stop / restart every container of the project's services (not
    its one-off `run` containers), level by level (see `levels`), the
    containers of a level in parallel. Periscope's own container is skipped
    for stop and restart, and said so. `before_start((id, name) pairs,
    action)` judges every container a start or restart would mount again
    before any is touched (app/hostview.py judge_before_start: it raises
    policy.Refused, and nothing is started)."""
    if action not in ACTIONS:
        raise ValueError(action)
    outcomes: dict[str, Outcome] = {}
    plan = levels(project, action)
    if before_start is not None and action in ("start", "restart"):
        before_start([(m.id, m.name) for level in plan for m in level
                      if not (action in SELF_HARM and is_self(m.id))], action)

    def one(m: Member) -> Outcome:
        if action in SELF_HARM and is_self(m.id):
            return Outcome(m.name, m.id, "warn",
                           f"Skipped {m.name}: Periscope runs in it and will not {action} "
                           "its own container.")
        try:
            if action == "start":
                changed = eng.start(m.id)
            else:
                changed = getattr(eng, action)(m.id, timeout)
        except ge.NotFound:
            return Outcome(m.name, m.id, "warn", f"{m.name} is gone: it was removed meanwhile.")
        except ge.EngineError as exc:  # a refusal, or the engine failing midway
            return Outcome(m.name, m.id, "bad", f"{m.name}: {exc.message}")
        done, already = display.ACTION_DONE[action]
        return Outcome(m.name, m.id, "ok" if changed else "info",
                       (done if changed else already).format(n=m.name))

    for level in plan:
        for m, (value, exc) in zip(level, each(level, one)):
            if exc is not None:
                raise exc  # not the engine's (those are outcomes): a fault of ours
            outcomes[m.id] = value
    return [outcomes[m.id] for m in project.members if m.id in outcomes]


def summary(action: str, outcomes: list[Outcome], project: str) -> tuple[str, str]:
    """One sentence for the whole action, and its level."""
    verb = {"start": "Started", "stop": "Stopped", "restart": "Restarted"}[action]
    changed = sum(o.level == "ok" for o in outcomes)
    skipped = sum(o.level == "warn" for o in outcomes)
    failed = sum(o.level == "bad" for o in outcomes)
    n = len(outcomes)
    text = f"{verb} {changed} of {n} container{'s' if n != 1 else ''} of {project}"
    extra = []
    if n - changed - skipped - failed:
        extra.append(f"{n - changed - skipped - failed} already so")
    if skipped:
        extra.append(f"{skipped} skipped")
    if failed:
        extra.append(f"{failed} failed")
    text += (" (" + ", ".join(extra) + ")." if extra else ".")
    return text, "bad" if failed else ("warn" if skipped else "ok")
