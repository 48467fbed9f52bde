"""The service list, apart from Flask: its filters as they stand in the query
string, one Engine call for the rows (GET /services?status=true: the engine
counts running and desired tasks since API 1.41; below it one GET /tasks for
all services counts them here), the rows' texts, and every manager's list at
once when several engines are configured.

An engine that is not a manager answers 503 (NotSwarmManager): it is a plain
note, naming what it is (worker and its managers, or no swarm), never an
error page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


from . import memo, swarm
from .display import time_texts
from .fanout import EngineTrouble, gather
from .registry import EngineEntry, Registry
from .gateway import Engine
from .gateway import exceptions as ge

_LABEL_RE = re.compile(r"^[^=\s]{1,200}(=.{0,300})?$")
_STACK_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,100}$")

MODES = {"Replicated": "replicated", "Global": "global", "ReplicatedJob": "replicated job",
         "GlobalJob": "global job"}


def list_filters(args, engines: list[str] | None = None) -> tuple[dict, list[str]]:
    """The filters, and a message for each refused (kept in its field, not sent)."""
    f = {"q": (args.get("q") or "").strip()[:200],
         "label": (args.get("label") or "").strip()[:500],
         "stack": (args.get("stack") or "").strip()[:100],
         "engine": ""}
    engine = (args.get("engine") or "").strip()
    if engines and engine in engines:
        f["engine"] = engine
    problems = []
    if f["label"] and not _LABEL_RE.match(f["label"]):
        problems.append("Label must be key or key=value.")
        f["label_bad"] = True
    if f["stack"] and not _STACK_RE.match(f["stack"]):
        problems.append("A stack name holds letters, digits, '_', '.' and '-'.")
        f["stack_bad"] = True
    return f, problems


def query_string(f: dict) -> dict:
    return {k: f[k] for k in ("q", "label", "stack", "engine") if f.get(k)}


def engine_filters(f: dict) -> dict[str, list[str]] | None:
    labels = []
    if f["label"] and not f.get("label_bad"):
        labels.append(f["label"])
    if f["stack"] and not f.get("stack_bad"):
        labels.append(f"{swarm.STACK_LABEL}={f['stack']}")
    return {"label": labels} if labels else None


def mode_of(spec: dict) -> tuple[str, int | None]:
    """('replicated', 3) / ('global', None) / ('replicated job', total)..."""
    mode = spec.get("Mode") or {}
    for key, text in MODES.items():
        if key in mode:
            m = mode[key] or {}
            if key == "Replicated":
                return text, m.get("Replicas", 1)
            if key == "ReplicatedJob":
                return text, m.get("TotalCompletions", m.get("MaxConcurrent", 1))
            return text, None
    return "unknown", None


def image_text(image: str) -> tuple[str, str]:
    """(shown, full): an image pinned by digest is shown without it."""
    shown = image.split("@", 1)[0] if "@sha256:" in image else image
    return shown, image


def port_texts(service: dict) -> list[str]:
    ports = ((service.get("Endpoint") or {}).get("Ports")
             or ((service.get("Spec") or {}).get("EndpointSpec") or {}).get("Ports") or [])
    out = []
    for p in ports:
        target = f"{p.get('TargetPort')}/{p.get('Protocol') or 'tcp'}"
        pub = p.get("PublishedPort")
        mode = p.get("PublishMode") or "ingress"
        text = f"*:{pub}→{target}" if pub else target
        if mode != "ingress":
            text += f" ({mode})"
        if text not in out:
            out.append(text)
    return out


_STATIC: dict[tuple, dict] = {}


def _static(s: dict, href_prefix: str) -> dict:
    """What a row shows that only changes with the service's version: kept
    per (ID, version), so a live list of 200 services does not build them
    again every poll."""
    sid = s.get("ID", "")
    key = (sid, (s.get("Version") or {}).get("Index"), s.get("UpdatedAt"), href_prefix,
           json_key(s.get("UpdateStatus")), json_key((s.get("Endpoint") or {}).get("Ports")))
    row = _STATIC.get(key)
    if row is not None:
        return row
    key = (sid, key[1], key[2], key[3], key[4], key[5])
    spec = s.get("Spec") or {}
    mode, wanted = mode_of(spec)
    cs = (spec.get("TaskTemplate") or {}).get("ContainerSpec") or {}
    shown, full = image_text(cs.get("Image") or "")
    up = s.get("UpdateStatus") or {}
    labels = spec.get("Labels") or {}
    row = {
        "id": sid,
        "short_id": sid[:12],
        "name": spec.get("Name") or sid[:12],
        "mode": mode,
        "replicas": wanted,
        "image": shown,
        "image_full": full,
        "ports": port_texts(s),
        "updated": s.get("UpdatedAt") or "",
        "update_state": up.get("State") or "",
        "update_message": up.get("Message") or "",
        "stack": labels.get(swarm.STACK_LABEL) or "",
        "labels": labels,
        "href": href_prefix + sid,
        "scalable": mode == "replicated",
        "_key": key,
    }
    if len(_STATIC) > 20_000:
        _STATIC.clear()
    _STATIC[key] = row
    return row


def json_key(v) -> str | None:
    return None if not v else repr(v)


def present(s: dict, href_prefix: str = "/services/", counts: dict | None = None) -> dict:
    row = dict(_static(s, href_prefix))
    status = s.get("ServiceStatus")
    if status is not None:
        running, desired = status.get("RunningTasks", 0), status.get("DesiredTasks", 0)
        completed = status.get("CompletedTasks", 0)
    elif counts is not None:
        running, desired = counts.get(row["id"], (0, 0))
        completed = None
        if row["mode"] == "replicated":
            desired = row["replicas"] or 0
    else:
        running = desired = completed = None
    row["running"], row["desired"], row["completed"] = running, desired, completed
    row["updated_rel"], row["updated_iso"], row["updated_exact"] = time_texts(s.get("UpdatedAt"))
    # what the row cache keys on: the version's texts, the counts, the time text
    row["_key"] = (row["_key"], running, desired, completed, row["updated_rel"])
    return row


def _matches(row: dict, q: str) -> bool:
    return (not q or q in row["name"].lower() or row["id"].startswith(q)
            or q in row["image"].lower())


def task_counts(eng: Engine, timeout: float | None = None) -> dict[str, tuple[int, int]]:
    """Below API 1.41: running and desired-running tasks per service, from
    one GET /tasks (desired state running) for every service at once."""
    out: dict[str, list[int]] = {}
    for t in eng.tasks(filters={"desired-state": ["running"]}, timeout=timeout):
        c = out.setdefault(t.get("ServiceID", ""), [0, 0])
        c[1] += 1
        if (t.get("Status") or {}).get("State") == "running":
            c[0] += 1
    return {k: (v[0], v[1]) for k, v in out.items()}


@dataclass
class Answer:
    """One manager's answer: its services, the task counts below API 1.41,
    and a tag of what the rows are made from."""

    raw: list[dict]
    counts: dict | None
    tag: tuple


def _raw(eng: Engine, f: dict, timeout: float | None = None) -> Answer:
    raw, tag = eng.services_tagged(filters=engine_filters(f), status=True, timeout=timeout)
    counts = None
    if raw and not eng.has_service_status:
        counts = task_counts(eng, timeout)
    return Answer(raw or [], counts, (tag, repr(sorted(counts.items())) if counts else None))


_made = memo.Memo(32)


def rows_from(answer: Answer, f: dict, href_prefix: str) -> memo.Keyed:
    """The rows, made once per answer (and step of relative times): callers
    must not change them."""
    step = memo.tick()
    key = (answer.tag, f["q"].lower(), href_prefix, step)

    def make():
        q = f["q"].lower()
        rows = [r for r in (present(s, href_prefix, answer.counts) for s in answer.raw)
                if _matches(r, q)]
        rows.sort(key=lambda r: (r["stack"], r["name"]))
        # what they show: the same answer's rows with the same time texts
        shows = (answer.tag, q, href_prefix, [r["updated_rel"] for r in rows])
        return memo.Keyed.of(rows, key, shows=shows)

    return _made.get(key, make, step)


@dataclass
class Outcome:
    """One engine's part of a service list."""

    rows: list[dict]
    state: swarm.SwarmState | None = None  # set when the engine is not a manager


def fetch(eng: Engine, f: dict, href_prefix: str) -> Outcome:
    """One manager's services; a non-manager's plain state instead."""
    try:
        answer = _raw(eng, f)
    except ge.NotSwarmManager:
        return Outcome([], swarm.swarm_state(eng.info()))
    return Outcome(rows_from(answer, f, href_prefix))


def stack_rows(eng: Engine, href_prefix: str) -> list[dict]:
    """A manager's services that belong to a stack (the projects page shows
    stacks beside Compose projects). An engine that is no manager has none:
    one refused call, no /info asked."""
    f, _ = list_filters({})
    try:
        answer = _raw(eng, f)
    except ge.NotSwarmManager:
        return []
    return [r for r in rows_from(answer, f, href_prefix) if r.get("stack")]


def fetch_combined(registry: Registry, f: dict, prefixes: dict[str, str],
                   budget: float) -> tuple[list[dict], list[EngineTrouble]]:
    """Every manager's services (or the one engine f["engine"] names), in
    parallel within `budget`. Two configured managers of one swarm list the
    same services: each is shown once (service IDs are the swarm's own),
    with the engines that list it."""
    entries = [e for e in registry if not f["engine"] or e.name == f["engine"]]
    key = ("services", f["label"], f["stack"])

    def ask(entry: EngineEntry):
        eng = entry.engine
        try:
            return _raw(eng, f, timeout=budget)
        except ge.NotSwarmManager:
            return swarm.swarm_state(eng.info(timeout=budget))

    values, notes = gather(registry, entries, key, ask, budget)
    answers = []
    for name, value in values:
        if isinstance(value, swarm.SwarmState):  # an engine in no swarm: a plain note
            notes.append(EngineTrouble(name, "swarm", value.note))
        else:
            answers.append((name, rows_from(value, f, prefixes[name])))
    mkey = tuple((name, made.key) for name, made in answers)
    return _merged.get(mkey, lambda: _merge(answers, mkey), memo.tick()), notes


_merged = memo.Memo(16)


def _merge(answers: list[tuple[str, list[dict]]], key: tuple) -> memo.Keyed:
    rows: list[dict] = []
    by_id: dict[str, dict] = {}
    for name, made in answers:
        for row in made:
            seen = by_id.get(row["id"])
            if seen is not None:
                seen["also"].append(name)
                continue
            row = dict(row, engine=name, also=[])
            by_id[row["id"]] = row
            rows.append(row)
    rows.sort(key=lambda r: (r["stack"], r["name"], r["engine"]))
    shows = tuple((name, made.shows if made.shows is not None else made.key)
                  for name, made in answers)
    return memo.Keyed.of(rows, key, shows=shows)


ROW_KEYS = ("id", "name", "mode", "running", "desired", "completed", "image", "image_full",
            "updated_rel", "updated_iso", "updated_exact", "update_state", "update_message",
            "stack", "href", "engine")
ROW_LISTS = ("ports", "also")


def row_key(row: dict, keys: tuple = ROW_KEYS, lists: tuple = ROW_LISTS) -> tuple:
    """Everything of a service row (or, with swarm.TASK_ROW_KEYS, a task row)
    its HTML shows: display.HtmlCache's key."""
    fixed = row.get("_key")  # a row that carries its own key (present() made it)
    if fixed is not None:
        return (fixed, row.get("engine"), tuple(row.get("also") or ()))
    return (tuple(row.get(k) for k in keys), tuple(tuple(row.get(k) or ()) for k in lists))
