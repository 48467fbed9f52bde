"""Where the disk went: GET /system/df as `docker system df` sums it up
(images, containers' writable layers, local volumes, build cache: total,
active, size, reclaimable), the biggest items of each kind, and the last
measurement of each engine kept for the other pages.

/system/df walks every file of every volume, so on a big host it is slow: it
is asked only by the Disk page, on the user's request, never on a poll. What
it measured (volume sizes, shared image sizes, the build cache) is kept per
engine in the private state folder (every worker sees it), so the volumes and
images pages and the prune steps can show sizes "as measured N minutes ago"
without asking again. No Flask here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from .containeruse import LIVE_STATES
from .gateway import Engine
from .statefiles import PrivateFolder

BIGGEST = 10


@dataclass
class Report:
    """One answer of GET /system/df, when it was asked and how long it took."""

    df: dict
    at: float  # epoch seconds
    ms: float


def measure(eng: Engine) -> Report:
    at = time.time()
    t0 = time.perf_counter()
    df = eng.disk_usage()
    return Report(df, at, (time.perf_counter() - t0) * 1000)


def _pct(part: int, whole: int) -> int | None:
    """As the docker CLI prints it: whole percent, rounded down."""
    return part * 100 // whole if whole > 0 else None


def summary(df: dict) -> list[dict]:
    """The four rows of `docker system df`, counted as the docker CLI counts
    them: type, total, active, size, reclaimable (bytes) and its percent."""
    images = df.get("Images") or []
    layers = int(df.get("LayersSize") or 0)
    used = sum(i["Size"] - i["SharedSize"] for i in images
               if (i.get("Containers") or 0) > 0 and i.get("Size", -1) != -1
               and i.get("SharedSize", -1) != -1)
    img_reclaim = layers - used

    containers = df.get("Containers") or []
    live = [c for c in containers if c.get("State") in LIVE_STATES]
    c_size = sum(int(c.get("SizeRw") or 0) for c in containers)
    c_reclaim = sum(int(c.get("SizeRw") or 0) for c in containers
                    if c.get("State") not in LIVE_STATES)

    volumes = df.get("Volumes") or []
    usage = [(v.get("UsageData") or {}) for v in volumes]
    v_size = sum(u.get("Size", -1) for u in usage if u.get("Size", -1) != -1)
    v_reclaim = sum(u.get("Size", -1) for u in usage
                    if u.get("Size", -1) != -1 and u.get("RefCount", 0) == 0)

    cache = df.get("BuildCache") or []
    b_size = sum(int(b.get("Size") or 0) for b in cache if not b.get("Shared"))
    b_in_use = sum(int(b.get("Size") or 0) for b in cache if b.get("InUse") and not b.get("Shared"))
    b_reclaim = int(df.get("BuilderSize") or 0) - b_in_use

    return [
        {"kind": "images", "type": "Images", "total": len(images),
         "active": sum(1 for i in images if (i.get("Containers") or 0) > 0),
         "size": layers, "reclaimable": img_reclaim, "pct": _pct(img_reclaim, layers),
         "prune": "images"},
        {"kind": "containers", "type": "Containers", "total": len(containers),
         "active": len(live), "size": c_size, "reclaimable": c_reclaim,
         "pct": _pct(c_reclaim, c_size), "prune": "containers"},
        {"kind": "volumes", "type": "Local Volumes", "total": len(volumes),
         "active": sum(1 for u in usage if u.get("RefCount", 0) > 0), "size": v_size,
         "reclaimable": v_reclaim, "pct": _pct(v_reclaim, v_size), "prune": "volumes"},
        {"kind": "build-cache", "type": "Build Cache", "total": len(cache),
         "active": sum(1 for b in cache if b.get("InUse")), "size": b_size,
         "reclaimable": b_reclaim, "pct": None, "prune": "build-cache"},
    ]


def _name(c: dict) -> str:
    names = [n.lstrip("/") for n in (c.get("Names") or [])]
    return next((n for n in names if "/" not in n), names[0] if names else c.get("Id", "")[:12])


def _image_name(i: dict) -> str:
    tags = [t for t in (i.get("RepoTags") or []) if t != "<none>:<none>"]
    return ", ".join(tags) if tags else "<none>"


def biggest(df: dict, hrefs: dict[str, str], n: int = BIGGEST) -> dict[str, list[dict]]:
    """The n biggest items of each kind, biggest first. `hrefs`: URL starts for
    "image", "container" and "volume" pages (the ID or name follows)."""
    images = sorted(df.get("Images") or [], key=lambda i: -(i.get("Size") or 0))[:n]
    containers = sorted(df.get("Containers") or [], key=lambda c: -(c.get("SizeRw") or 0))[:n]
    volumes = sorted(df.get("Volumes") or [],
                     key=lambda v: -((v.get("UsageData") or {}).get("Size") or 0))[:n]
    cache = sorted(df.get("BuildCache") or [], key=lambda b: -(b.get("Size") or 0))[:n]
    return {
        "images": [{"name": _image_name(i), "id": i.get("Id", ""),
                    "short_id": i.get("Id", "").removeprefix("sha256:")[:12],
                    "size": i.get("Size") or 0,
                    "shared": i.get("SharedSize") if i.get("SharedSize", -1) != -1 else None,
                    "unique": ((i.get("Size") or 0) - i["SharedSize"])
                    if i.get("SharedSize", -1) != -1 else None,
                    "containers": i.get("Containers") or 0,
                    "href": hrefs["image"] + i.get("Id", "")} for i in images],
        "containers": [{"name": _name(c), "id": c.get("Id", ""), "short_id": c.get("Id", "")[:12],
                        "image": c.get("Image", ""), "state": c.get("State", ""),
                        "size": c.get("SizeRw") or 0, "rootfs": c.get("SizeRootFs") or 0,
                        "href": hrefs["container"] + c.get("Id", "")} for c in containers],
        "volumes": [{"name": v.get("Name", ""), "driver": v.get("Driver", ""),
                     "size": (v.get("UsageData") or {}).get("Size", -1),
                     "refs": (v.get("UsageData") or {}).get("RefCount", 0),
                     "href": hrefs["volume"] + v.get("Name", "")} for v in volumes],
        "build_cache": [cache_row(b) for b in cache],
    }


def cache_row(b: dict) -> dict:
    return {"id": b.get("ID", ""), "short_id": (b.get("ID") or "")[:12], "type": b.get("Type", ""),
            "size": b.get("Size") or 0, "in_use": bool(b.get("InUse")),
            "shared": bool(b.get("Shared")), "description": b.get("Description") or "",
            "last_used": b.get("LastUsedAt") or "", "created": b.get("CreatedAt") or ""}


@dataclass
class Known:
    """What the last /system/df of one engine measured, for other pages."""

    at: float
    ms: float
    volumes: dict[str, int] = field(default_factory=dict)  # name -> bytes
    shared: dict[str, int] = field(default_factory=dict)  # image ID -> shared bytes
    build_cache: list[dict] = field(default_factory=list)
    builder_size: int = 0


class DiskStore(PrivateFolder):
    """The last measurement of each engine, one small file each in the state
    folder (engine names are plain: letters, digits, '-' and '_')."""

    prefix = "periscope-disk-"

    def remember(self, engine: str, report: Report) -> None:
        df = report.df
        self._write(f"{engine}.json", {
            "at": report.at, "ms": report.ms,
            "volumes": {v["Name"]: v["UsageData"]["Size"] for v in df.get("Volumes") or []
                        if (v.get("UsageData") or {}).get("Size", -1) != -1},
            "shared": {i["Id"]: i["SharedSize"] for i in df.get("Images") or []
                       if i.get("SharedSize", -1) != -1},
            "build_cache": [cache_row(b) for b in df.get("BuildCache") or []],
            "builder_size": int(df.get("BuilderSize") or 0)})

    def recall(self, engine: str) -> Known | None:
        data = self._read(f"{engine}.json")
        if not isinstance(data, dict):
            return None
        try:
            return Known(float(data["at"]), float(data["ms"]), dict(data.get("volumes") or {}),
                         dict(data.get("shared") or {}), list(data.get("build_cache") or []),
                         int(data.get("builder_size") or 0))
        except (KeyError, TypeError, ValueError):
            return None
