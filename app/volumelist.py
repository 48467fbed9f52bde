"""The volumes list and one volume's page, apart from Flask: filters, the
Engine calls (GET /volumes beside one container list, for the containers that
mount each volume), each row's texts, sizes where known (the engine measures
them only in GET /system/df: the Disk page's last measurement is shown with
its age), and what removing one will do."""

from __future__ import annotations

from dataclasses import dataclass

from .containeruse import key as containers_key, usage
from .diskusage import Known
from .display import time_texts
from .registry import Registry
from .fanout import EngineTrouble, gather, refused_filters, together
from .gateway import Engine, exceptions as ge
from .memo import Memo, answer_key, tick

USED = ("", "used", "unused")


@dataclass
class Hrefs:
    volume: str
    container: str


def list_filters(args, engines: list[str] | None = None) -> dict:
    used = (args.get("used") or "").strip().lower()
    engine = (args.get("engine") or "").strip()
    return {
        "q": (args.get("q") or "").strip()[:200],
        "used": used if used in USED else "",
        "label": (args.get("label") or "").strip()[:500],
        "engine": engine if engines and engine in engines else "",
    }


def query_string(f: dict) -> dict:
    return {k: f[k] for k in ("q", "used", "label", "engine") if f.get(k)}


def engine_filters(f: dict) -> dict[str, list[str]]:
    """The engine filters: `name` matches a part of the name; `dangling`
    means no container (running or not) refers to the volume."""
    out: dict[str, list[str]] = {}
    if f.get("q"):
        out["name"] = [f["q"]]
    if f.get("used"):
        out["dangling"] = ["true" if f["used"] == "unused" else "false"]
    if f.get("label"):
        out["label"] = [f["label"]]
    return out


def bind_device(vol: dict) -> str:
    """The host folder or device a local volume was created over
    (`-o type=none -o o=bind -o device=/path`, or a device like /dev/sdb1)."""
    opts = vol.get("Options") or {}
    if vol.get("Driver") == "local" and opts.get("device"):
        return str(opts["device"])
    return ""


def present(vol: dict, users: list[dict], hrefs: Hrefs, known: Known | None) -> dict:
    name = vol.get("Name", "")
    usage_data = vol.get("UsageData") or {}
    size, size_from = usage_data.get("Size", -1), "engine"
    if size is None or size == -1:
        size, size_from = (known.volumes.get(name), "disk") if known else (None, None)
        if size is None:
            size_from = None
    opts = vol.get("Options") or {}
    created = vol.get("CreatedAt") or ""
    rel, iso, exact = time_texts(created)
    return {
        "name": name, "driver": vol.get("Driver", ""), "scope": vol.get("Scope", ""),
        "mountpoint": vol.get("Mountpoint", ""), "labels": vol.get("Labels") or {},
        "options": opts, "device": bind_device(vol),
        "bind": "bind" in str(opts.get("o", "")).split(","),
        "measured": vol.get("Driver") == "local" and not opts,
        "created": created, "created_rel": rel, "created_iso": iso, "created_exact": exact,
        "users": users, "live_users": sum(1 for u in users if u["live"]),
        "size": size, "size_from": size_from, "href": hrefs.volume + name,
    }


_MEMO = Memo()


def _rows(vols: list[dict], containers: list[dict], hrefs: Hrefs, known: Known | None,
          engine: str | None = None) -> list[dict]:
    """The rows of one engine's answers (made once while they stay the same)."""
    def make():
        use = usage(containers, hrefs.container)
        rows = [present(v, use.of_volume(v.get("Name", "")), hrefs, known) for v in vols]
        for row in rows:
            if engine:
                row["engine"] = engine
        _sort(rows)
        return rows

    # the engine answers in no set order (Go maps): keyed in one
    vols = sorted(vols, key=lambda x: x.get("Name") or "")
    key = (*answer_key(vols, containers_key(containers)), hrefs.volume, hrefs.container,
           known.at if known else None, engine, tick())
    return _MEMO.get(key, make)


def _sort(rows: list[dict]) -> None:
    rows.sort(key=lambda r: (r["name"], r.get("engine", "")))


def fetch_rows(eng: Engine, f: dict, hrefs: Hrefs,
               known: Known | None = None) -> tuple[list[dict], str]:
    filters = engine_filters(f) or None
    try:
        vols, containers = together(lambda: eng.volumes(filters=filters),
                                    lambda: eng.containers(all=True))
    except ge.EngineError as exc:
        if not refused_filters(exc, filters):
            raise
        return [], exc.message
    return _rows(vols, containers, hrefs, known), ""


def fetch_combined(registry: Registry, f: dict, hrefs: dict[str, Hrefs], budget: float,
                   known: dict[str, Known | None]) -> tuple[list[dict], list[EngineTrouble]]:
    entries = [e for e in registry if not f["engine"] or e.name == f["engine"]]
    filters = engine_filters(f) or None

    def ask(entry):
        eng = entry.engine
        return together(lambda: eng.volumes(filters=filters, timeout=budget),
                        lambda: eng.containers(all=True, timeout=budget))

    values, trouble = gather(registry, entries, ("volumes", f["q"], f["used"], f["label"]),
                             ask, budget)
    rows: list[dict] = []
    for name, (vols, containers) in values:
        rows += _rows(vols, containers, hrefs[name], known.get(name), name)
    _sort(rows)
    return rows, trouble


def totals(rows: list[dict]) -> dict:
    sized = [r["size"] for r in rows if r["size"] is not None]
    return {"count": len(rows), "unused": sum(1 for r in rows if not r["users"]),
            "size": sum(sized), "sized": len(sized)}


def volume_page(eng: Engine, name: str, hrefs: Hrefs, known: Known | None) -> dict:
    vol = eng.inspect_volume(name)  # first: a name that is no volume goes no further
    containers = eng.containers(all=True)
    row = present(vol, usage(containers, hrefs.container).of_volume(vol.get("Name", "")),
                  hrefs, known)
    return {"vol": vol, "row": row}


def remove_plan(row: dict) -> dict:
    """DELETE /volumes/{name}: the engine refuses while any container (even a
    stopped one) refers to the volume; force does not change that."""
    users = row["users"]
    refused = ""
    if users:
        live = [u for u in users if u["live"]]
        refused = (f"{len(users)} container{'s' if len(users) != 1 else ''} "
                   f"({', '.join(u['name'] for u in users[:3])}{'…' if len(users) > 3 else ''}) "
                   f"{'use' if len(users) != 1 else 'uses'} it"
                   + ("; remove them first" if not live else "; stop and remove them first"))
    return {"refused": refused, "size": row["size"], "size_from": row["size_from"],
            "measured": row["measured"], "device": row["device"]}
