"""The container list (live) and the container detail page."""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from markupsafe import Markup

from ..web import engine, is_htmx, settings, time_texts

bp = Blueprint("containers", __name__)

STATES = ["created", "restarting", "running", "removing", "paused", "exited", "dead"]


def list_filters(args) -> dict:
    """The list's filters as they stand in the query string."""
    state = (args.get("state") or "").strip().lower()
    if state not in STATES:
        state = ""
    return {
        "all": args.get("all") in ("1", "true", "on"),
        "q": (args.get("q") or "").strip()[:200],
        "state": state,
        "label": (args.get("label") or "").strip()[:500],
    }


def query_string(f: dict) -> dict:
    """The filters back as query parameters (only the ones set)."""
    out = {}
    if f["all"]:
        out["all"] = "1"
    for k in ("q", "state", "label"):
        if f[k]:
            out[k] = f[k]
    return out


def fetch_rows(f: dict) -> list[dict]:
    """One Engine call: GET /containers/json with the engine-side filters; the
    free text over name/image/ID is applied here, on that one answer."""
    filters: dict[str, list[str]] = {}
    if f["state"]:
        filters["status"] = [f["state"]]
    if f["label"]:
        filters["label"] = [f["label"]]
    raw = engine().containers(all=f["all"] or bool(f["state"]), filters=filters or None)
    q = f["q"].lower()
    prefix = url_for("containers.detail", ref="_")[:-1]  # honours a mount prefix
    rows = []
    for c in raw:
        row = present(c, prefix)
        if q and not (q in row["name"].lower() or q in row["image"].lower()
                      or row["id"].startswith(q) or any(q in n.lower() for n in row["names"])):
            continue
        rows.append(row)
    rows.sort(key=lambda r: (-r["created"], r["name"]))
    return rows


def _health(status_text: str) -> str:
    for word in ("unhealthy", "healthy", "health: starting"):
        if f"({word})" in status_text:
            return "starting" if word == "health: starting" else word
    return ""


def present(c: dict, prefix: str = "/containers/") -> dict:
    names = [n.lstrip("/") for n in (c.get("Names") or [])]
    # The container's own name is the one without a slash (links look like a/b).
    name = next((n for n in names if "/" not in n), names[0] if names else "")
    ports = []
    seen = set()
    for p in c.get("Ports") or []:
        if p.get("PublicPort"):
            ip = p.get("IP") or "0.0.0.0"
            text = f"{'[' + ip + ']' if ':' in ip else ip}:{p['PublicPort']}→{p.get('PrivatePort')}/{p.get('Type', 'tcp')}"
        else:
            text = f"{p.get('PrivatePort')}/{p.get('Type', 'tcp')}"
        if text not in seen:
            seen.add(text)
            ports.append(text)
    status = c.get("Status") or ""
    cid = c.get("Id", "")
    created = c.get("Created") or 0
    rel, iso, exact = time_texts(created)
    return {
        "id": cid,
        "short_id": cid[:12],
        "name": name,
        "names": names,
        "image": c.get("Image", ""),
        "state": c.get("State", ""),
        "status": status,
        "health": _health(status),
        "created": created,
        "created_rel": rel,
        "created_iso": iso,
        "created_exact": exact,
        "href": prefix + cid,
        "ports": ports,
        "labels": c.get("Labels") or {},
    }


class RowCache:
    """The rendered HTML of list rows, by everything that goes into one.

    Live polling renders the same rows every few seconds; only a row whose data
    changed (state, status text, the relative time...) is rendered again. The
    HTML comes from templates/containers/_row.html, which escapes every value,
    so it is marked safe as a whole, never a container's own text."""

    MAX = 20_000

    def __init__(self):
        self._html: dict[tuple, Markup] = {}

    def render(self, row: dict, list_url: str, read_only: bool) -> Markup:
        key = (row["id"], row["name"], row["image"], row["state"], row["health"],
               row["status"], row["created_rel"], row["created_iso"], tuple(row["ports"]),
               row["href"], list_url, read_only)
        html = self._html.get(key)
        if html is None:
            if len(self._html) >= self.MAX:
                self._html.clear()
            tpl = current_app.jinja_env.get_template("containers/_row.html")
            html = Markup(tpl.render(r=row, list_url=list_url, read_only=read_only))
            self._html[key] = html
        return html


_rows_cache = RowCache()


@bp.app_context_processor
def _row_html():
    return {"row_html": lambda r, list_url="": _rows_cache.render(r, list_url, settings().read_only)}


@bp.get("/")
def root():
    return redirect(url_for("containers.index"))


@bp.get("/containers")
def index():
    f = list_filters(request.args)
    rows = fetch_rows(f)
    if is_htmx() and request.headers.get("HX-Target") == "rows":
        # the filter form: answer the rows, and put the filters in the address
        # bar without the empty fields, so the URL can be shared as it reads
        body = render_template("containers/_rows.html", rows=rows, f=f, qs=query_string(f))
        return body, 200, {"HX-Push-Url": url_for("containers.index", **query_string(f))}
    return render_template("containers/index.html", rows=rows, f=f, qs=query_string(f),
                           states=STATES)


@bp.get("/containers/rows")
def rows():
    """The polled partial: the table body, carrying its own trigger."""
    f = list_filters(request.args)
    rows = fetch_rows(f)
    return render_template("containers/_rows.html", rows=rows, f=f, qs=query_string(f))


@bp.get("/containers/<ref>")
def detail(ref: str):
    c = engine().inspect_container(ref)
    return render_template("containers/detail.html", c=c, name=c.get("Name", "").lstrip("/"))
