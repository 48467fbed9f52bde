"""The images list and one image's page, apart from Flask: the list's filters
as they stand in the query string, the Engine calls (GET /images/json beside
one container list, for the containers made from each image), each row's
texts computed once, and what removing an image will do, as the engine
decides it (untag only, or delete), for the confirm step."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .containeruse import key as containers_key, usage
from .diskusage import Known
from .display import time_texts
from .registry import Registry
from .fanout import EngineTrouble, gather, refused_filters, together
from .gateway import Engine, exceptions as ge
from .memo import Memo, answer_key, tick

DANGLING = ("", "true", "false")
NONE_TAG = "<none>:<none>"
NONE_DIGEST = "<none>@<none>"
_HEX_RE = re.compile(r"^(?:sha256:)?[0-9a-f]{4,64}$")


@dataclass
class Hrefs:
    """Where an image's page, a container's page and an image's remove step
    start (the ID follows)."""

    image: str
    container: str
    remove: str = ""


def list_filters(args, engines: list[str] | None = None) -> dict:
    dangling = (args.get("dangling") or "").strip().lower()
    engine = (args.get("engine") or "").strip()
    return {
        "reference": (args.get("reference") or "").strip()[:300],
        "dangling": dangling if dangling in DANGLING else "",
        "label": (args.get("label") or "").strip()[:500],
        "engine": engine if engines and engine in engines else "",
    }


def query_string(f: dict) -> dict:
    return {k: f[k] for k in ("reference", "dangling", "label", "engine") if f.get(k)}


def engine_filters(f: dict) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key in ("reference", "dangling", "label"):
        if f.get(key):
            out[key] = [f[key]]
    return out


def tags_of(img: dict) -> list[str]:
    return [t for t in (img.get("RepoTags") or []) if t and t != NONE_TAG]


def digests_of(img: dict) -> list[str]:
    return [d for d in (img.get("RepoDigests") or []) if d and d != NONE_DIGEST]


def is_dangling(img: dict) -> bool:
    """No tag and no digest: what the engine's `dangling` filter means."""
    return not tags_of(img) and not digests_of(img)


def short_id(image_id: str) -> str:
    return (image_id or "").removeprefix("sha256:")[:12]


def present(img: dict, users: list[dict], hrefs: Hrefs, known: Known | None = None) -> dict:
    """One row: every tag of the image together, sizes, the containers made
    from it. Shared size as the engine counted it (API 1.42 asks it with the
    list), else as the last disk measurement counted it, else unknown."""
    iid = img.get("Id", "")
    size = img.get("Size")
    if size is None or size == -1:
        size = img.get("VirtualSize", 0)
    shared, source = img.get("SharedSize", -1), "engine"
    if shared is None or shared == -1:
        shared, source = (known.shared.get(iid), "disk") if known else (None, None)
        if shared is None:
            source = None
    created = img.get("Created") or 0
    rel, iso, exact = time_texts(created)
    tags = tags_of(img)
    digests = digests_of(img)
    return {
        "id": iid, "short_id": short_id(iid), "tags": tags, "digests": digests,
        "repos": sorted({d.rsplit("@", 1)[0] for d in digests} - {t.rsplit(":", 1)[0]
                                                                for t in tags}) if digests else [],
        "dangling": not tags and not digests, "size": size, "shared": shared,
        "unique": size - shared if shared is not None else None, "shared_from": source,
        "created": created, "created_rel": rel, "created_iso": iso, "created_exact": exact,
        "labels": img.get("Labels") or {}, "users": users,
        "live_users": sum(1 for u in users if u["live"]), "href": hrefs.image + iid,
        "remove_href": hrefs.remove + iid,  # sha256:<hex>: nothing to quote
    }


_MEMO = Memo()


def _rows(images: list[dict], containers: list[dict], hrefs: Hrefs,
          known: Known | None, engine: str | None = None) -> list[dict]:
    """The rows of one engine's answers (made once while they stay the same)."""
    def make():
        use = usage(containers, hrefs.container)
        rows = [present(i, use.of_image(i.get("Id", "")), hrefs, known) for i in images]
        for row in rows:
            if engine:
                row["engine"] = engine
        _sort(rows)
        return rows

    # the engine answers in no set order (Go maps): keyed in one
    images = sorted(images, key=lambda x: x.get("Id") or "")
    key = (*answer_key(images, containers_key(containers)), hrefs.image, hrefs.container, hrefs.remove,
           known.at if known else None, engine, tick())
    return _MEMO.get(key, make)


def _sort(rows: list[dict]) -> None:
    rows.sort(key=lambda r: (-r["created"], r["tags"][0] if r["tags"] else "~", r["id"],
                             r.get("engine", "")))


def fetch_rows(eng: Engine, f: dict, hrefs: Hrefs,
               known: Known | None = None) -> tuple[list[dict], str]:
    """Two Engine calls side by side: the images (filtered by the engine) and
    the container list. Returns the rows and, when the engine refused the
    filters, its words (the rows are then empty)."""
    filters = engine_filters(f) or None
    try:
        images, containers = together(
            lambda: eng.images(filters=filters, shared_size=True),
            lambda: eng.containers(all=True))
    except ge.EngineError as exc:
        if not refused_filters(exc, filters):
            raise
        return [], exc.message
    return _rows(images, containers, hrefs, known), ""


def fetch_combined(registry: Registry, f: dict, hrefs: dict[str, Hrefs], budget: float,
                   known: dict[str, Known | None]) -> tuple[list[dict], list[EngineTrouble]]:
    """Every engine's images (or the one f["engine"] names), each within the
    budget; each row carries its engine's name."""
    entries = [e for e in registry if not f["engine"] or e.name == f["engine"]]
    filters = engine_filters(f) or None

    def ask(entry):
        eng = entry.engine
        return together(lambda: eng.images(filters=filters, shared_size=True, timeout=budget),
                        lambda: eng.containers(all=True, timeout=budget))

    values, trouble = gather(registry, entries, ("images", f["reference"], f["dangling"],
                                                 f["label"]), ask, budget)
    rows: list[dict] = []
    for name, (images, containers) in values:
        rows += _rows(images, containers, hrefs[name], known.get(name), name)
    _sort(rows)
    return rows, trouble


def totals(rows: list[dict]) -> dict:
    return {"count": len(rows), "dangling": sum(1 for r in rows if r["dangling"]),
            "size": sum(r["size"] or 0 for r in rows),
            "unused": sum(1 for r in rows if not r["users"])}


# -- one image ----------------------------------------------------------------
def image_page(eng: Engine, ref: str, hrefs: Hrefs) -> dict:
    """The inspect first (a name that is no image goes no further), then its
    history and the container list, side by side."""
    img = eng.inspect_image(ref)
    iid = img.get("Id") or ref
    history, containers = together(lambda: eng.image_history(iid),
                                   lambda: eng.containers(all=True))
    users = usage(containers, hrefs.container, status=True).of_image(img.get("Id", ""))
    return {"img": img, "history": history_rows(history), "users": users,
            "tags": tags_of(img), "digests": digests_of(img), "dangling": is_dangling(img),
            "short_id": short_id(img.get("Id", "")),
            "ports": sorted(((img.get("Config") or {}).get("ExposedPorts") or {}).keys())}


def history_rows(history: list[dict]) -> list[dict]:
    """GET /images/{id}/history, newest layer first, as the engine gives it."""
    out = []
    for h in history or []:
        created = h.get("Created") or 0
        rel, iso, exact = time_texts(created)
        hid = h.get("Id") or ""
        out.append({"id": hid, "short_id": short_id(hid) if hid != "<missing>" else "",
                    "created_by": (h.get("CreatedBy") or "").strip(), "size": h.get("Size") or 0,
                    "comment": h.get("Comment") or "", "tags": h.get("Tags") or [],
                    "created_rel": rel, "created_iso": iso, "created_exact": exact,
                    "empty": not h.get("Size")})
    return out


def familiar(ref: str) -> str:
    """A name the way the engine reports untagging it: with its tag
    (":latest" when none is given), or its digest."""
    if "@" in ref:
        return ref
    last = ref.rsplit("/", 1)[-1]
    return ref if ":" in last else ref + ":latest"


def _repo(ref: str) -> str:
    if "@" in ref:
        return ref.split("@", 1)[0]
    head, _, last = ref.rpartition("/")
    name = last.split(":", 1)[0]
    return f"{head}/{name}" if head else name


def by_id(img: dict, ref: str) -> bool:
    """Does `ref` name the image by its ID (or an ID prefix)?"""
    iid = (img.get("Id") or "").removeprefix("sha256:")
    r = ref.removeprefix("sha256:")
    return bool(_HEX_RE.fullmatch(ref)) and iid.startswith(r)


def remove_plan(img: dict, ref: str, users: list[dict]) -> dict:
    """What DELETE /images/{ref} (not forced) will do, as the engine decides:
    - by a name while other names remain: untag that name only;
    - by its last name, or by ID: untag every name and delete the image;
    and when it will refuse: a running container made from it (no force
    helps), a stopped one or several names given the ID (force needed)."""
    tags, digests = tags_of(img), digests_of(img)
    live = [u for u in users if u["live"]]
    plan = {"ref": ref, "by_id": by_id(img, ref), "untag": [], "delete": False, "stays": [],
            "refused": "", "force_helps": False, "users": users,
            "size": img.get("Size") or 0, "parent": img.get("Parent") or ""}
    if plan["by_id"]:
        repos = {_repo(t) for t in tags} | {_repo(d) for d in digests}
        if len(tags) > 1 or len(repos) > 1:
            plan["refused"] = (f"it has {len(tags)} names; removing it by ID needs force "
                               "(or remove the names one by one)")
            plan["force_helps"] = not live
        elif live:
            plan["refused"] = (f"a running container uses it ({live[0]['name']}); the engine "
                               "refuses even when forced")
        elif users:
            plan["refused"] = f"a stopped container uses it ({users[0]['name']}): needs force"
            plan["force_helps"] = True
        if not plan["refused"]:
            plan["untag"] = tags + digests
            plan["delete"] = True
        return plan
    name = familiar(ref)
    others = [t for t in tags if t != name]
    other_repos = [d for d in digests if _repo(d) != _repo(name) and d != name]
    single = not others and len({_repo(t) for t in tags} | {_repo(d) for d in digests}) <= 1
    if single and users:
        plan["refused"] = (f"container {users[0]['name']} ({users[0]['state']}) uses it and this "
                           "is its last name: needs force")
        plan["force_helps"] = True
        return plan
    plan["untag"] = [name]
    if others or other_repos:
        plan["stays"] = others + other_repos
        return plan
    # its last name: the digests of the same repository go with it, then the image
    plan["untag"] += [d for d in digests if d != name]
    plan["delete"] = True
    return plan


def removed_summary(answer: list[dict]) -> dict:
    """DELETE /images' answer: what was untagged, what was deleted."""
    return {"untagged": [a["Untagged"] for a in answer if a.get("Untagged")],
            "deleted": [a["Deleted"] for a in answer if a.get("Deleted")]}


def removed_message(ref: str, answer: list[dict]) -> str:
    """What the engine said it did, in one line."""
    done = removed_summary(answer)
    parts = []
    if done["untagged"]:
        parts.append("untagged " + ", ".join(done["untagged"]))
    n = len(done["deleted"])
    if n:
        parts.append("deleted " + ", ".join(short_id(d) for d in done["deleted"][:8])
                     + (f" and {n - 8} more" if n > 8 else "")
                     + " (the image, and its layers no other image uses)")
    return f"Removed {ref}: " + "; ".join(parts) + "." if parts else f"{ref}: nothing removed."
