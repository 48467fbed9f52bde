"""What a container changed against its image (GET /containers/{id}/changes,
what `docker diff` prints), as a folder tree: each changed path with its mark
(added, changed, deleted), the folders above it (the Engine lists most of
them itself, as changed), counts per mark, and a filter. Pure but for the
one Engine call; no Flask.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .filebrowser import openable
from .fsnames import quote_path
from .gateway import Engine

KINDS = {0: "changed", 1: "added", 2: "deleted"}
MARKS = {"added": "A", "changed": "C", "deleted": "D"}
MAX_ROWS = 5000  # rows a page shows; the counts always cover everything
DEPTH_CLASSES = 24  # the CSS indents this many levels (deeper ones stay there)


@dataclass(slots=True)
class Row:
    path: str
    name: str
    depth: int
    kind: str  # added, changed, deleted, or "" for a folder only implied by what is below
    below: int = 0  # changes below this path
    match: bool = True  # False: shown only as the folder of a match
    q: str = ""

    @property
    def mark(self) -> str:
        return MARKS.get(self.kind, "")

    @property
    def indent(self) -> int:
        return min(self.depth, DEPTH_CLASSES)


@dataclass
class Filter:
    q: str = ""
    kind: str = ""  # "", added, changed, deleted

    @property
    def active(self) -> bool:
        return bool(self.q or self.kind)


def read_filter(args) -> Filter:
    q = (args.get("q") or "").strip()[:500]
    kind = (args.get("kind") or "").strip().lower()
    return Filter(q, kind if kind in MARKS else "")


@dataclass
class Changes:
    rows: list[Row]
    counts: dict[str, int]
    total: int
    matched: int
    f: Filter
    cut: int = 0  # rows not shown (beyond MAX_ROWS)
    unknown: list = field(default_factory=list)  # kinds the Engine sent that are not 0, 1, 2


def _key(path: str) -> tuple:
    return tuple(path.split("/"))


def tree(changes: list[dict], f: Filter | None = None, max_rows: int = MAX_ROWS) -> Changes:
    """The changes as tree rows in folder order (a folder before what is in
    it), filtered: a path matches when it holds `q` (any case) and has the
    mark asked for; the folders above a match are shown with it."""
    f = f or Filter()
    kinds: dict[str, str] = {}
    counts = {"added": 0, "changed": 0, "deleted": 0}
    unknown = []
    for c in changes:
        path = c.get("Path") or ""
        if not isinstance(path, str) or not path.startswith("/") or path == "/":
            continue
        kind = KINDS.get(c.get("Kind"))
        if kind is None:
            unknown.append(c.get("Kind"))
            kind = "changed"
        kinds[path] = kind
        counts[kind] += 1
    needle = f.q.casefold()
    matched = [p for p, k in kinds.items()
               if (not needle or needle in p.casefold()) and (not f.kind or k == f.kind)]
    shown: set[str] = set(matched)
    below: dict[str, int] = {}
    for p in kinds:
        anc = p.rpartition("/")[0]
        while anc:
            below[anc] = below.get(anc, 0) + 1
            anc = anc.rpartition("/")[0]
    for p in matched:
        anc = p.rpartition("/")[0]
        while anc and anc not in shown:
            shown.add(anc)
            anc = anc.rpartition("/")[0]
    match_set = set(matched)
    ordered = sorted(shown, key=_key)
    cut = max(0, len(ordered) - max_rows)
    rows = [Row(path=p, name=p.rpartition("/")[2], depth=p.count("/") - 1,
                kind=kinds.get(p, ""), below=below.get(p, 0), match=p in match_set,
                q=quote_path(p) if openable(p) else "")
            for p in ordered[:max_rows]]
    return Changes(rows, counts, len(kinds), len(matched), f, cut, unknown)


@dataclass
class Read:
    container: dict
    changes: Changes

    @property
    def cid(self) -> str:
        return self.container["Id"]

    @property
    def name(self) -> str:
        return (self.container.get("Name") or "").lstrip("/") or self.cid[:12]


def read(eng: Engine, ref: str, f: Filter) -> Read:
    """The container (for the page's head) and its changes as a tree."""
    container = eng.inspect_container(ref)
    return Read(container, tree(eng.changes(container["Id"]), f))
