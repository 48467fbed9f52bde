"""How the host-access policy sees an engine's host (app/policy.py HostView),
and the engine lookups it needs. No Flask here.

Periscope can resolve host paths through their symbolic links only where it
sees the engine host's files:
- PERISCOPE_HOST_ROOT names a read-only mount of the host's / inside
  Periscope's container (as node-exporter and cAdvisor take one): paths are
  resolved under it (for an engine on a unix socket, the local host's);
- Periscope runs on the engine's host itself, outside that engine's
  containers (a unix socket, and the engine's own data folder is here): paths
  are resolved from /;
- otherwise (a remote engine, or Periscope in a container with no host root)
  it cannot: host paths are refused unless under PERISCOPE_BIND_ROOTS.

Every start mounts a container's binds again, through whatever links are on
the host by then: the create form's judgement right before its start, a
start or restart from the list or a container's page, and a project's start
or restart all judge the container's paths as the engine recorded them with
one function, `judge_recorded`.
"""

from __future__ import annotations

import os
import threading

from . import selfdetect
from .registry import EngineEntry
from .gateway import exceptions as ge
from . import policy
from .policy import HostView, Lookups, Violation

_local: dict[str, bool] = {}
_lock = threading.Lock()


def _engine_is_here(entry: EngineEntry) -> bool:
    """A unix-socket engine whose files Periscope sees as they are: it is not
    in a container of that engine (selfdetect), and the engine's own data
    folder (DockerRootDir, from /info) is here with the engine's containers
    in it. Cached per engine (it does not change)."""
    with _lock:
        known = _local.get(entry.name)
    if known is not None:
        return known
    here = False
    if entry.host.scheme == "unix":
        try:
            if selfdetect.own_container_id(entry.engine) is None:
                root = entry.engine.info().get("DockerRootDir") or ""
                ids = [c.get("Id", "") for c in entry.engine.containers(all=True)[:20]]
                folder = os.path.join(root, "containers")
                here = bool(root) and os.path.isdir(folder) and (
                    not ids or any(os.path.isdir(os.path.join(folder, i)) for i in ids))
        except ge.EngineError:
            return False  # not cached: ask again once the engine answers
    with _lock:
        _local[entry.name] = here
    return here


def view(entry: EngineEntry, *, host_root: str | None, bind_roots: tuple[str, ...]) -> HostView:
    roots = tuple(bind_roots)
    if entry.host.scheme != "unix":
        return HostView(None, roots, f"the engine {entry.name} is on another host "
                                     f"({entry.host.transport}), whose files Periscope cannot "
                                     "see; PERISCOPE_BIND_ROOTS names host folders binds may use")
    if host_root:
        return HostView(host_root, roots, f"the host's / is read at {host_root} "
                                          "(PERISCOPE_HOST_ROOT)")
    if _engine_is_here(entry):
        return HostView("/", roots, "Periscope runs on the engine's host and resolves paths there")
    return HostView(None, roots, "Periscope runs in a container and cannot see the host's "
                                 "files: mount the host's / read-only and name it in "
                                 "PERISCOPE_HOST_ROOT, or name allowed folders in "
                                 "PERISCOPE_BIND_ROOTS")


def lookups(entry: EngineEntry) -> Lookups:
    eng = entry.engine

    def container(ref: str) -> dict | None:
        try:
            return eng.inspect_container(ref)
        except (ge.NotFound, ge.InvalidReference, ge.AmbiguousReference):
            return None

    def volume(name: str) -> dict | None:
        try:
            return eng.inspect_volume(name)
        except (ge.NotFound, ge.BadRequest, ge.InvalidReference):
            return None

    return Lookups(container=container, volume=volume)


def guard(entry: EngineEntry, *, host_root: str | None,
          bind_roots: tuple[str, ...]) -> dict | None:
    """What the host-access policy judges with for this engine (policy.judge's
    keyword arguments); None when the engine allows host access."""
    if entry.allow_host_access:
        return None
    return {"engine_socket": entry.host.socket_path,
            "host": view(entry, host_root=host_root, bind_roots=bind_roots),
            "lookups": lookups(entry)}


def judge_recorded(entry: EngineEntry, ref: str, judged_with: dict) -> list[Violation]:
    """A container's host paths (Binds, Mounts, VolumesFrom of its inspect's
    HostConfig, as the engine recorded them) judged right before the engine
    mounts them: a link planted since the last judgement is caught if it is
    there by now. A container that is gone raises NotFound."""
    try:
        recorded = entry.engine.inspect_container(ref).get("HostConfig") or {}
    except ge.NotFound:
        raise
    except ge.EngineError:
        return [Violation("HostConfig", "the container could not be read back to judge what "
                                        "it mounts")]
    return policy.judge_paths(recorded, **judged_with)


def judge_before_start(entry: EngineEntry, refs: list[tuple[str, str]], action: str, *,
                       host_root: str | None, bind_roots: tuple[str, ...]) -> None:
    """Before a start or restart of these containers ((id, name) pairs):
    raises policy.Refused for the first one whose paths the policy refuses
    now, unless the engine allows host access. Nothing is started then."""
    judged_with = guard(entry, host_root=host_root, bind_roots=bind_roots)
    if judged_with is None:
        return
    for ref, name in refs:
        found = judge_recorded(entry, ref, judged_with)
        if found:
            raise policy.Refused(name, action, found, judged_with["host"])
