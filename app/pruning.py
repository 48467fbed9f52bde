"""Pruning, apart from Flask: for each kind (dangling images, stopped
containers, unused volumes, unused networks, build cache) what the engine
will remove, listed beforehand from the same data the pages show, with the
space it frees where known; then the prune itself, and what the engine
reports it removed and reclaimed.

Each plan follows the engine's own rule for its prune:
- images: dangling (no tag, no digest) top-level images that no container,
  running or stopped, was made from;
- containers: every container that is not running (created, exited, dead);
- volumes: local volumes no container refers to, except those created with
  options (a bind over a host folder): the engine keeps those;
- networks: custom networks no running container is attached to;
- build cache: every record not in use (its list comes from the Disk page's
  last measurement: only GET /system/df lists it).
An optional label (key or key=value) narrows both the plan and the prune. No
Flask here.
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import asdict, dataclass, field

from .containeruse import usage
from .diskusage import Known
from .fanout import together
from .gateway import Engine
from .imagelist import is_dangling, short_id, tags_of
from .networklist import PREDEFINED
from .statefiles import PrivateFolder

KINDS = {
    "images": "dangling images",
    "containers": "stopped containers",
    "volumes": "unused volumes",
    "networks": "unused networks",
    "build-cache": "build cache",
}
STOPPED = ["created", "exited", "dead"]


@dataclass
class Plan:
    kind: str
    what: str
    label: str
    # id, key (what the engine names when it reports removing it), name, size, href, note
    items: list[dict] = field(default_factory=list)
    kept: list[dict] = field(default_factory=list)  # look prunable, the engine keeps them
    bytes: int | None = 0  # None: not known for every item
    notes: list[str] = field(default_factory=list)
    measured_at: float | None = None  # when the sizes were measured (Disk page), if from there

    @property
    def keys(self) -> list[str]:
        return [i["key"] for i in self.items]


@dataclass
class Result:
    kind: str
    what: str
    removed: list[str]  # names or IDs, as the engine reports them
    reclaimed: int | None  # bytes, as the engine reports them (None: it reports none)
    layers: list[str] = field(default_factory=list)  # images: layers deleted beside them
    untagged: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)  # removed but not in the plan
    left: list[str] = field(default_factory=list)  # in the plan but not removed


def label_filter(label: str) -> dict[str, list[str]]:
    return {"label": [label]} if label else {}


def plan(kind: str, eng: Engine, label: str, hrefs: dict[str, str],
         known: Known | None) -> Plan:
    """What a prune of `kind` will remove. `hrefs`: URL starts of the image,
    container, volume and network pages."""
    p = Plan(kind, KINDS[kind], label)
    getattr(_Planner, kind.replace("-", "_"))(p, eng, hrefs, known)
    return p


class _Planner:
    @staticmethod
    def images(p: Plan, eng: Engine, hrefs, known):
        images, containers = together(
            lambda: eng.images(filters={"dangling": ["true"], **label_filter(p.label)}),
            lambda: eng.containers(all=True))
        use = usage(containers, hrefs["container"])
        sizes_known = True
        for img in images:
            if not is_dangling(img):
                continue
            iid = img.get("Id", "")
            item = {"id": iid, "key": iid, "name": short_id(iid), "size": img.get("Size") or 0,
                    "href": hrefs["image"] + iid, "note": ""}
            users = use.of_image(iid)
            if users:
                item["note"] = f"{len(users)} container{'s' if len(users) != 1 else ''} " \
                               f"made from it ({users[0]['name']}{'…' if len(users) > 1 else ''})"
                p.kept.append(item)
                continue
            shared = img.get("SharedSize", -1)
            if (shared is None or shared == -1) and known:
                shared = known.shared.get(iid, -1)
            if shared is not None and shared != -1:
                item["unique"] = item["size"] - shared
            else:
                sizes_known = False
            p.items.append(item)
        p.bytes = sum(i.get("unique", i["size"]) for i in p.items)
        if p.items and not sizes_known:
            p.notes.append("Sizes are each image's whole size: layers an image shares with "
                           "another stay, so the engine may reclaim less.")

    @staticmethod
    def containers(p: Plan, eng: Engine, hrefs, known):
        found = eng.containers(all=True, size=True,
                               filters={"status": STOPPED, **label_filter(p.label)})
        for c in found:
            names = [n.lstrip("/") for n in c.get("Names") or []]
            name = next((n for n in names if "/" not in n), names[0] if names else "")
            p.items.append({"id": c["Id"], "key": c["Id"], "name": name or c["Id"][:12],
                            "size": c.get("SizeRw") or 0, "href": hrefs["container"] + c["Id"],
                            "note": f"{c.get('State', '')} · {c.get('Image', '')}"})
        p.bytes = sum(i["size"] for i in p.items)
        if p.items:
            p.notes.append("Sizes are each container's writable layer; its anonymous volumes "
                           "stay (prune volumes for those).")

    @staticmethod
    def volumes(p: Plan, eng: Engine, hrefs, known):
        vols = eng.volumes(filters={"dangling": ["true"], "driver": ["local"],
                                    **label_filter(p.label)})
        unknown = 0
        for v in vols:
            name = v.get("Name", "")
            item = {"id": name, "key": name, "name": name, "href": hrefs["volume"] + name, "note": "",
                    "size": known.volumes.get(name) if known else None}
            if v.get("Options"):
                item["note"] = "created with options (" + ", ".join(
                    f"{k}={val}" for k, val in sorted(v["Options"].items())) + \
                    "): the engine keeps it"
                p.kept.append(item)
                continue
            if item["size"] is None:
                unknown += 1
            p.items.append(item)
        p.bytes = None if unknown else sum(i["size"] for i in p.items)
        if known:
            p.measured_at = known.at
        if unknown:
            p.notes.append(f"{unknown} of these volume{'s have' if unknown != 1 else ' has'} no "
                           "measured size: only the Disk page measures volumes (it walks "
                           "their files).")

    @staticmethod
    def networks(p: Plan, eng: Engine, hrefs, known):
        nets, containers = together(lambda: eng.networks(filters=label_filter(p.label) or None),
                                    lambda: eng.containers(all=True))
        use = usage(containers, hrefs["container"])
        for n in nets:
            if n.get("Name") in PREDEFINED or n.get("Ingress"):
                continue
            users = use.of_network(n.get("Id", ""), n.get("Name", ""))
            if any(u["attached"] for u in users):
                continue
            stopped = [u["name"] for u in users]
            p.items.append({"id": n["Id"], "key": n.get("Name", ""), "name": n.get("Name", ""),
                            "size": 0,
                            "href": hrefs["network"] + n["Id"],
                            "note": (f"named by stopped container{'s' if len(stopped) != 1 else ''}"
                                     f" {', '.join(stopped[:3])}: they will not start again "
                                     "until it is recreated") if stopped else ""})
        p.bytes = None
        p.notes.append("Networks take no disk space.")

    @staticmethod
    def build_cache(p: Plan, eng: Engine, hrefs, known):
        if known is None:
            p.bytes = None
            p.notes.append("Only GET /system/df lists the build cache: open the Disk page to "
                           "measure it, then come back.")
            return
        p.measured_at = known.at
        for b in known.build_cache:
            item = {"id": b["id"], "key": b["id"], "name": b["short_id"] or b["id"][:12], "size": b["size"],
                    "href": "", "note": f"{b['type']}" + (f" · {b['description']}"
                                                         if b["description"] else "")}
            (p.kept if b["in_use"] else p.items).append(item)
        p.bytes = sum(i["size"] for i in p.items)
        if p.label:
            p.notes.append("The build cache has no labels: the label narrows nothing here.")


def run(kind: str, eng: Engine, label: str, planned: list[str] | None = None) -> Result:
    """The prune itself; what the engine reports it removed and reclaimed,
    compared with the plan the user confirmed (`planned`: its keys)."""
    filters = label_filter(label)
    what = KINDS[kind]
    if kind == "images":
        ans = eng.prune_images({"dangling": ["true"], **filters})
        entries = ans.get("ImagesDeleted") or []
        deleted = [e["Deleted"] for e in entries if e.get("Deleted")]
        untagged = [e["Untagged"] for e in entries if e.get("Untagged")]
        wanted = set(planned or [])
        images = [d for d in deleted if d in wanted] if planned is not None else deleted
        layers = [d for d in deleted if d not in wanted] if planned is not None else []
        res = Result(kind, what, images, ans.get("SpaceReclaimed"), layers=layers,
                     untagged=untagged)
    elif kind == "containers":
        ans = eng.prune_containers(filters or None)
        res = Result(kind, what, ans.get("ContainersDeleted") or [], ans.get("SpaceReclaimed"))
    elif kind == "volumes":
        ans = eng.prune_volumes(filters or None)
        res = Result(kind, what, ans.get("VolumesDeleted") or [], ans.get("SpaceReclaimed"))
    elif kind == "networks":
        ans = eng.prune_networks(filters or None)
        res = Result(kind, what, ans.get("NetworksDeleted") or [], None)
    else:
        ans = eng.prune_build_cache(all=True)
        res = Result(kind, what, ans.get("CachesDeleted") or [], ans.get("SpaceReclaimed"))
    if planned is not None:
        res.left = [i for i in planned if i not in set(res.removed)]
        if kind != "images":
            res.unexpected = [r for r in res.removed if r not in set(planned)]
    return res


def image_names(images: list[dict]) -> dict[str, str]:
    """ID -> a readable name, for a result that lists IDs."""
    return {i.get("Id", ""): (tags_of(i) or [short_id(i.get("Id", ""))])[0] for i in images}


class Results(PrivateFolder):
    """Prune results kept for an hour, one small file each, so the result is
    a page of its own (a reload shows it again rather than pruning again) that
    any worker can answer."""

    prefix = "periscope-pruned-"
    KEEP_SECONDS = 3600
    _ID_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")

    def save(self, engine: str, result: Result, label: str) -> str:
        self._forget_old()
        rid = secrets.token_urlsafe(12)
        self._write(f"{rid}.json", {"engine": engine, "label": label, "at": time.time(),
                                    "result": asdict(result)})
        return rid

    def get(self, rid: str, engine: str) -> tuple[Result, str, float] | None:
        if not self._ID_RE.fullmatch(rid or ""):
            return None
        data = self._read(f"{rid}.json")
        if not isinstance(data, dict) or data.get("engine") != engine:
            return None
        try:
            return Result(**data["result"]), str(data.get("label") or ""), float(data["at"])
        except (KeyError, TypeError, ValueError):
            return None

    def _forget_old(self) -> None:
        d = self._dir()
        now = time.time()
        for p in d.glob("*.json"):
            try:
                if now - p.stat().st_mtime > self.KEEP_SECONDS:
                    p.unlink()
            except OSError:
                pass
