"""Creating (and starting) a container from a manifest, apart from Flask:
the size and manifest checks (app/manifest.py), the host-access policy before
the create and again on what the engine recorded, just before the start
(app/hostview.py), POST /containers/create and POST /containers/{id}/start.

`create()` hands back an Outcome the view turns into a page: every refusal
keeps the user's text (the form is the view's), and an Engine refusal is
handed back as the error itself (app/errors.py explains it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import hostview, policy
from . import manifest as mf
from .gateway import Engine
from .gateway import exceptions as ge


@dataclass
class Outcome:
    """What became of a create. `kind`: "problems" (the manifest or the name;
    `status` 400 or 413), "refused" (the policy: 403), "engine" (the engine
    refused the create: `error`), "created" (not started), "started", or
    "start_failed" (created, the start refused: `error`, and `container`)."""

    kind: str
    status: int = 200
    problems: list = field(default_factory=list)
    violations: list = field(default_factory=list)
    host_view: Any = None
    error: ge.EngineError | None = None
    image: str = ""
    cid: str = ""
    label: str = ""
    warnings: list[str] = field(default_factory=list)
    container: dict | None = None


def check(text: str, name: str) -> tuple[dict | None, list[mf.Problem], int]:
    """The manifest's and the name's problems (none: the parsed manifest)."""
    size = len(text.encode("utf-8"))
    if size > mf.MAX_BYTES:
        return None, [mf.Problem(
            f"The manifest is {size / 1024:,.0f} KiB; Periscope takes at most "
            f"{mf.MAX_BYTES // 1024} KiB. Your text is kept below: shorten it and submit "
            "again.")], 413
    m, problems = mf.parse(text)
    name_problem = mf.check_name(name)
    if name_problem:
        problems = [*problems, name_problem]
    return (None if problems else m), problems, 400


def create(eng: Engine, entry, text: str, name: str, start: bool, *,
           host_root: str | None, bind_roots: tuple[str, ...]) -> Outcome:
    """Check, judge, create, judge again, start (when asked)."""
    m, problems, status = check(text, name)
    if m is None:
        return Outcome("problems", status, problems=problems)
    guard = hostview.guard(entry, host_root=host_root, bind_roots=bind_roots)
    if guard is not None:
        found = policy.judge(m, **guard)
        if found:
            return Outcome("refused", 403, violations=found, host_view=guard["host"])
    image = str(mf.get(m, "Image"))
    try:
        created = eng.create_container(mf.compact(m), name=name or None)
    except ge.EngineError as exc:
        return Outcome("engine", error=exc, image=image)
    cid = created.get("Id", "")
    out = Outcome("created", cid=cid, label=name.lstrip("/") or cid[:12], image=image,
                  warnings=[w for w in (created.get("Warnings") or []) if w])
    if guard is not None:
        # judged again right before it can start, on what the engine recorded:
        # a link planted since the first judgement is caught if it is there now
        found = hostview.judge_recorded(entry, cid, guard)
        if found:
            eng.remove(cid, force=True, volumes=True)
            return Outcome("refused", 403, violations=found, host_view=guard["host"])
    if not start:
        return out
    try:
        eng.start(cid)
    except ge.EngineError as exc:
        try:
            c = eng.inspect_container(cid)
        except ge.EngineError:
            c = {"Id": cid, "Name": "/" + out.label, "State": {"Status": "unknown"}}
        out.kind, out.error, out.container = "start_failed", exc, c
        return out
    out.kind = "started"
    return out
