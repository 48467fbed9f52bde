"""One service, apart from Flask: its spec in plain sections, the host-access
policy applied to a service's spec, and the changes Periscope sends (scale,
force update) as POST /services/{id}/update with the version just read.

A service's ContainerSpec can ask for what a container's HostConfig can:
bind mounts of the host's folders, added capabilities, unconfined seccomp or
AppArmor, the host's network. `violations()` puts the spec into the shape
app/policy.py judges (judge_service: the ContainerSpec by allow-list).
Periscope sends a whole spec on every update, so a spec that the policy
refuses is not sent (scaled or redeployed) unless the engine allows host
access.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Callable

from . import masking, policy, selfdetect, swarm
from .gateway import Engine
from .gateway import exceptions as ge
from .params import InputError
from .servicelist import mode_of, port_texts

MAX_REPLICAS = 10_000
CS = "TaskTemplate.ContainerSpec"


# -- the spec in sections --------------------------------------------------------------
def _dur(ns) -> str:
    if not ns:
        return ""
    s = ns / 1e9
    return f"{s:g} s" if s < 120 else f"{s / 60:g} min"


def sections(service: dict) -> dict:
    """What the service page shows of the spec, each part plain."""
    spec = service.get("Spec") or {}
    tt = spec.get("TaskTemplate") or {}
    cs = tt.get("ContainerSpec") or {}
    res = tt.get("Resources") or {}
    placement = tt.get("Placement") or {}
    mode, wanted = mode_of(spec)

    def resources(part: dict) -> list[tuple[str, str]]:
        out = []
        if part.get("NanoCPUs"):
            out.append(("CPUs", f"{part['NanoCPUs'] / 1e9:g}"))
        if part.get("MemoryBytes"):
            out.append(("Memory", str(part["MemoryBytes"])))
        if part.get("Pids"):
            out.append(("PIDs", str(part["Pids"])))
        for g in part.get("GenericResources") or []:
            d = g.get("DiscreteResourceSpec") or g.get("NamedResourceSpec") or {}
            out.append((str(d.get("Kind", "generic")), str(d.get("Value", ""))))
        return out

    def policy_rows(p: dict | None, what: str) -> list[tuple[str, str]]:
        if not p:
            return []
        rows = []
        for key, label in (("Parallelism", "parallelism"), ("Delay", "delay"),
                           ("FailureAction", "on failure"), ("Monitor", "monitor"),
                           ("MaxFailureRatio", "max failure ratio"), ("Order", "order"),
                           ("Condition", "condition"), ("MaxAttempts", "max attempts"),
                           ("Window", "window")):
            if key in p:
                v = p[key]
                rows.append((label, _dur(v) if key in ("Delay", "Monitor", "Window") else str(v)))
        return rows

    mounts = []
    for m in cs.get("Mounts") or []:
        mounts.append({"type": m.get("Type") or "volume", "source": m.get("Source") or "",
                       "target": m.get("Target") or "", "read_only": bool(m.get("ReadOnly"))})
    nets = [{"target": n.get("Target") or "", "aliases": n.get("Aliases") or []}
            for n in tt.get("Networks") or spec.get("Networks") or []]
    return {
        "name": spec.get("Name") or "",
        "mode": mode,
        "replicas": wanted,
        "image": cs.get("Image") or "",
        "command": cs.get("Command"),
        "args": cs.get("Args"),
        "workdir": cs.get("Dir") or "",
        "user": cs.get("User") or "",
        "tty": bool(cs.get("TTY")),
        "env": cs.get("Env") or [],
        "labels": sorted((spec.get("Labels") or {}).items()),
        "container_labels": sorted((cs.get("Labels") or {}).items()),
        "mounts": mounts,
        "networks": nets,
        "ports": port_texts(service),
        "constraints": placement.get("Constraints") or [],
        "preferences": [p.get("Spread", {}).get("SpreadDescriptor", "")
                        for p in placement.get("Preferences") or []],
        "max_per_node": placement.get("MaxReplicas"),
        "limits": resources(res.get("Limits") or {}),
        "reservations": resources(res.get("Reservations") or {}),
        "restart_policy": policy_rows(tt.get("RestartPolicy"), "restart"),
        "update_policy": policy_rows(spec.get("UpdateConfig"), "update"),
        "rollback_policy": policy_rows(spec.get("RollbackConfig"), "rollback"),
        "force_update": tt.get("ForceUpdate") or 0,
        "stack": ((spec.get("Labels") or {}).get(swarm.STACK_LABEL)) or "",
        "update_status": service.get("UpdateStatus") or {},
    }


def masked(service: dict) -> dict:
    """The inspect (or a spec) with secret-looking env values masked, in the
    spec and the previous spec: for the raw JSON and the Engine calls panel."""
    out = copy.deepcopy(service)
    specs = [out] if "TaskTemplate" in out else [out.get("Spec"), out.get("PreviousSpec")]
    for spec in specs:
        cs = ((spec or {}).get("TaskTemplate") or {}).get("ContainerSpec")
        if isinstance(cs, dict) and cs.get("Env"):
            cs["Env"] = [f"{p['name']}={p['value']}" if p["has_value"] else p["name"]
                         for p in masking.env_pairs(cs["Env"])]
    return out


# -- the host-access policy on a service's spec ------------------------------------------
def violations(spec: dict, engine_socket: str | None = None,
               bind_roots: tuple[str, ...] = ()) -> list[policy.Violation]:
    """Every reason this service spec would own its nodes: app/policy.py's
    judgement of its task template (the ContainerSpec by allow-list; a node's
    host is one Periscope cannot see, so binds need an allowed bind root; no
    plugin task, runtime or log driver but the plain ones; not the host's
    network)."""
    host = policy.HostView(None, tuple(bind_roots),
                           "a service runs on the swarm's nodes, whose files Periscope cannot "
                           "see; PERISCOPE_BIND_ROOTS names host folders binds may use")
    return policy.judge_service(spec, engine_socket=engine_socket, host=host)


# -- changes -------------------------------------------------------------------------------
class PolicyRefusal(Exception):
    """The spec that would be sent asks for host access the engine does not allow."""

    def __init__(self, service: str, found: list[policy.Violation]):
        super().__init__(f"{service}: refused by the host-access policy")
        self.service = service
        self.violations = found


class SelfHarm(Exception):
    """Periscope's own container is a task of the service."""


def parse_replicas(text: str | None) -> int:
    t = (text or "").strip()
    if not (t.isascii() and t.isdigit()) or len(t) > 6 or int(t) > MAX_REPLICAS:
        raise InputError(f"Replicas “{t[:20]}” is not a whole number from 0 to "
                         f"{MAX_REPLICAS:,}.")
    return int(t)


def set_replicas(n: int) -> Callable[[dict], None]:
    def change(spec: dict) -> None:
        mode = spec.get("Mode") or {}
        if "Replicated" not in mode:
            kind, _ = mode_of(spec)
            raise InputError(f"Only a replicated service can be scaled; this one is {kind}.")
        mode["Replicated"] = dict(mode["Replicated"] or {}, Replicas=n)
    return change


def force_update(spec: dict) -> None:
    """What `docker service update --force` changes: the task template's
    ForceUpdate counter, so every task is replaced though nothing else changed."""
    tt = spec.setdefault("TaskTemplate", {})
    tt["ForceUpdate"] = int(tt.get("ForceUpdate") or 0) + 1


@dataclass
class Updated:
    service: dict  # the inspect the update was made from
    warnings: list[str]
    retried: bool


def _own_task(eng: Engine, service_id: str) -> bool:
    own = selfdetect.own_container_id(eng)
    if not own:
        return False
    tasks = eng.tasks(filters={"service": [service_id], "desired-state": ["running"]})
    return any(((t.get("Status") or {}).get("ContainerStatus") or {}).get("ContainerID") == own
               for t in tasks)


def update(eng: Engine, ref: str, change: Callable[[dict], None], *, allow_host_access: bool,
           harms_self: Callable[[dict], bool] | None = None,
           bind_roots: tuple[str, ...] = ()) -> Updated:
    """Read the service, change its spec, judge it, send it with the version
    just read. A version conflict (someone else updated it in between) is
    retried once on a fresh read; a second one raises OutOfSequence.
    `harms_self(service)`: True when this change would stop Periscope's own
    task (raises SelfHarm)."""
    retried = False
    while True:
        s = eng.inspect_service(ref)
        spec = copy.deepcopy(s.get("Spec") or {})
        change(spec)
        name = spec.get("Name") or s.get("ID", "")[:12]
        found = violations(spec, eng.host.socket_path, bind_roots)
        if found and not allow_host_access:
            raise PolicyRefusal(name, found)
        if harms_self is not None and harms_self(s) and _own_task(eng, s["ID"]):
            raise SelfHarm(f"Periscope runs in a task of {name}: it will not stop its own "
                           "container this way.")
        try:
            answer = eng.update_service(s["ID"], (s.get("Version") or {}).get("Index", 0), spec,
                                        shown=masked(spec))
        except ge.OutOfSequence:
            if retried:
                raise
            retried = True
            continue
        return Updated(s, [w for w in (answer.get("Warnings") or []) if w], retried)


def scales_down(n: int) -> Callable[[dict], bool]:
    def check(service: dict) -> bool:
        _mode, wanted = mode_of(service.get("Spec") or {})
        return n < (wanted or 0)
    return check
