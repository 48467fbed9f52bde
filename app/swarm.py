"""Swarm as the pages see it, apart from Flask: an engine's place in a swarm
(from GET /info), the nodes, a service's tasks, and stacks (services grouped
by the label `docker stack deploy` gives them).

Pure functions over the Engine's answers, except `hostnames()` (node IDs to
names, kept a few seconds per engine: a service's log polls every couple of
seconds and node names hardly ever change).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from .display import time_texts
from .gateway import Engine

STACK_LABEL = "com.docker.stack.namespace"
HOSTNAME_TTL = 15.0


@dataclass
class SwarmState:
    """What GET /info says of the engine's part in a swarm."""

    kind: str  # manager | worker | inactive | pending | locked | error
    node_id: str = ""
    node_addr: str = ""
    managers: list[dict] = field(default_factory=list)  # RemoteManagers: NodeID, Addr
    nodes: int | None = None
    manager_count: int | None = None
    cluster_id: str = ""
    error: str = ""

    @property
    def manager(self) -> bool:
        return self.kind == "manager"

    @property
    def note(self) -> str:
        """The plain sentence for a page that needs a manager."""
        if self.kind == "manager":
            return "This engine is a swarm manager."
        if self.kind == "worker":
            known = ", ".join(m.get("Addr") or m.get("NodeID", "?") for m in self.managers)
            return ("This engine is a swarm worker: services, tasks and nodes are only known to "
                    "managers." + (f" Managers it knows: {known}." if known else ""))
        if self.kind == "locked":
            return ("This engine's swarm is locked: unlock it with `docker swarm unlock` to see "
                    "services.")
        if self.kind == "pending":
            return "This engine is joining a swarm; services appear once it has joined."
        if self.kind == "error":
            return f"This engine's swarm is in error: {self.error or 'no details'}."
        return ("This engine is not in a swarm: it has no services or nodes "
                "(`docker swarm init` makes it a manager of a swarm of its own).")


def swarm_state(info: dict) -> SwarmState:
    sw = (info or {}).get("Swarm") or {}
    local = (sw.get("LocalNodeState") or "inactive").lower()
    if local == "active":
        kind = "manager" if sw.get("ControlAvailable") else "worker"
    elif local in ("pending", "locked", "error"):
        kind = local
    else:
        kind = "inactive"
    cluster = sw.get("Cluster") or {}
    return SwarmState(kind=kind, node_id=sw.get("NodeID") or "", node_addr=sw.get("NodeAddr") or "",
                      managers=list(sw.get("RemoteManagers") or []), nodes=sw.get("Nodes"),
                      manager_count=sw.get("Managers"), cluster_id=cluster.get("ID") or "",
                      error=sw.get("Error") or "")


# -- nodes -------------------------------------------------------------------------------
def node_row(n: dict, own_id: str = "") -> dict:
    spec = n.get("Spec") or {}
    desc = n.get("Description") or {}
    status = n.get("Status") or {}
    ms = n.get("ManagerStatus") or {}
    res = desc.get("Resources") or {}
    plat = desc.get("Platform") or {}
    engine = desc.get("Engine") or {}
    nano = res.get("NanoCPUs") or 0
    rel, iso, exact = time_texts(n.get("UpdatedAt"))
    return {
        "id": n.get("ID", ""),
        "short_id": (n.get("ID") or "")[:12],
        "hostname": desc.get("Hostname") or "",
        "role": spec.get("Role") or "",
        "availability": spec.get("Availability") or "",
        "state": status.get("State") or "",
        "message": status.get("Message") or "",
        "addr": status.get("Addr") or "",
        "leader": bool(ms.get("Leader")),
        "reachability": ms.get("Reachability") or "",
        "manager_addr": ms.get("Addr") or "",
        "engine_version": engine.get("EngineVersion") or "",
        "os": "/".join(x for x in (plat.get("OS"), plat.get("Architecture")) if x),
        "labels": sorted((spec.get("Labels") or {}).items()),
        "engine_labels": sorted((engine.get("Labels") or {}).items()),
        "cpus": nano / 1e9 if nano else None,
        "memory": res.get("MemoryBytes"),
        "self": bool(own_id) and n.get("ID") == own_id,
        "updated_rel": rel, "updated_iso": iso, "updated_exact": exact,
    }


def node_rows(nodes: list[dict], own_id: str = "") -> list[dict]:
    rows = [node_row(n, own_id) for n in nodes or []]
    # managers first (the leader first of all), then by name
    rows.sort(key=lambda r: (not r["leader"], r["role"] != "manager", r["hostname"], r["id"]))
    return rows


def node_names(nodes: list[dict]) -> dict[str, str]:
    """Node ID -> the name to show: its hostname, or hostname/ID prefix where
    two nodes share a hostname (several engines on one machine)."""
    names = {n.get("ID", ""): ((n.get("Description") or {}).get("Hostname") or "")
             for n in nodes or []}
    counts: dict[str, int] = {}
    for h in names.values():
        counts[h] = counts.get(h, 0) + 1
    return {i: (f"{h}/{i[:8]}" if counts[h] > 1 else h) for i, h in names.items()}


_names_cache: dict[str, tuple[float, dict]] = {}
_names_lock = threading.Lock()


def hostnames(eng: Engine, need: set[str] | None = None) -> dict[str, str]:
    """Node ID -> hostname for this engine's swarm (one GET /nodes, kept
    HOSTNAME_TTL seconds; asked again at once when a node in `need` is not in
    it)."""
    key = eng.host.raw
    now = time.monotonic()
    with _names_lock:
        hit = _names_cache.get(key)
    if hit and now - hit[0] < HOSTNAME_TTL and not (need and need - hit[1].keys()):
        return hit[1]
    names = node_names(eng.nodes())
    with _names_lock:
        _names_cache[key] = (now, names)
    return names


# -- tasks -------------------------------------------------------------------------------
def task_row(t: dict, service_name: str, names: dict[str, str], own_node: str = "") -> dict:
    st = t.get("Status") or {}
    cs = st.get("ContainerStatus") or {}
    node = t.get("NodeID") or ""
    slot = t.get("Slot")
    cid = cs.get("ContainerID") or ""
    rel, iso, exact = time_texts(st.get("Timestamp"))
    return {
        "id": t.get("ID", ""),
        "short_id": (t.get("ID") or "")[:12],
        "name": f"{service_name}.{slot}" if slot else f"{service_name}.{node[:12] or '?'}",
        "slot": slot,
        "node_id": node,
        "node": names.get(node) or (node[:12] if node else ""),
        "state": st.get("State") or "",
        "desired": t.get("DesiredState") or "",
        "message": st.get("Message") or "",
        "error": st.get("Err") or "",
        "exit_code": cs.get("ExitCode") if st.get("State") in ("complete", "failed", "shutdown",
                                                                "rejected") else None,
        "container_id": cid,
        "local": bool(cid) and bool(own_node) and node == own_node,
        "when_rel": rel, "when_iso": iso, "when_exact": exact,
        "when": st.get("Timestamp") or "",
        "image": ((t.get("Spec") or {}).get("ContainerSpec") or {}).get("Image") or "",
    }


def task_rows(tasks: list[dict], service_name: str, names: dict[str, str],
              own_node: str = "") -> list[dict]:
    """Tasks as `docker service ps` orders them: by slot (or node, for a global
    service), the current task of each first, then its history, newest first."""
    rows = [task_row(t, service_name, names, own_node) for t in tasks or []]
    rows.sort(key=lambda r: r["when"], reverse=True)
    rows.sort(key=lambda r: (r["slot"] or 0, "" if r["slot"] else r["node"], r["node_id"]))
    seen: set = set()
    for r in rows:
        group = r["slot"] or r["node_id"]
        r["history"] = group in seen
        seen.add(group)
    return rows


TASK_ROW_KEYS = ("id", "name", "node", "node_id", "slot", "state", "desired", "message", "error",
                 "exit_code", "container_id", "local", "when_rel", "when_iso", "when_exact",
                 "history")
HISTORY_SHOWN = 100  # past tasks shown at most, the newest (current ones are all shown)


def bounded(rows: list[dict], history: int = HISTORY_SHOWN) -> tuple[list[dict], int]:
    """The rows to show: every current task, and the `history` newest past
    ones (a swarm keeps 5 per slot by default: 1,000 replicas, 5,000 tasks);
    and how many past ones were left out."""
    past = [r["when"] for r in rows if r["history"]]
    if len(past) <= history:
        return rows, 0
    floor = sorted(past, reverse=True)[history - 1]
    kept = [r for r in rows if not r["history"] or r["when"] >= floor]
    return kept, len(rows) - len(kept)


def task_labels(tasks: list[dict], service_name: str, names: dict[str, str]) -> dict:
    """Task ID -> (label, title) for a service's log lines: web.1@node."""
    out = {}
    for t in tasks or []:
        r = task_row(t, service_name, names)
        label = f"{r['name']}@{r['node']}" if r["node"] else r["name"]
        out[r["id"]] = (label, f"task {r['id']} on node {r['node'] or '?'} ({r['node_id']})")
    return out


def running_count(tasks: list[dict]) -> tuple[int, int]:
    """(running, desired running) over a service's tasks."""
    running = sum(1 for t in tasks if (t.get("Status") or {}).get("State") == "running")
    desired = sum(1 for t in tasks if t.get("DesiredState") == "running")
    return running, desired


# -- stacks ------------------------------------------------------------------------------
def stack_of(service: dict) -> str:
    return ((service.get("Spec") or {}).get("Labels") or {}).get(STACK_LABEL) or ""


def stacks(rows: list[dict]) -> list[dict]:
    """Service rows (app/servicelist.py) grouped by stack: name, services,
    running and desired tasks summed. Services of no stack are left out."""
    groups: dict[tuple, dict] = {}
    for r in rows:
        if not r.get("stack"):
            continue
        key = (r.get("engine") or "", r["stack"])
        g = groups.setdefault(key, {"name": r["stack"], "engine": r.get("engine"),
                                    "services": [], "running": 0, "desired": 0})
        g["services"].append(r)
        g["running"] += r["running"] or 0
        g["desired"] += r["desired"] or 0
    return sorted(groups.values(), key=lambda g: (g["name"], g["engine"] or ""))
