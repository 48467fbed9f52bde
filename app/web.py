"""The glue between Flask and the rest: the engine of this request, the record
of Engine calls per request, and every app-wide template filter and global,
registered here and nowhere else."""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Callable
from urllib.parse import unquote

from flask import (Blueprint, Flask, Response, abort, current_app, g, get_flashed_messages,
                   render_template, request, session, stream_template, url_for)
from markupsafe import Markup, escape

from . import __version__, ansi, composeprojects, display, filebrowser, fsnames, masking, memo, swarm
from .config import Settings
from .containerlist import row_key
from .diskusage import DiskStore
from .memo import Memo
from .registry import EngineEntry, Registry, UnknownEngine
from .gateway import Engine, calls

ENGINE_PREFIX = "/engines/<engine>"
# The indentation between a row template's tags: dropped once per rendered row
# (a list of 300 rows is then a quarter smaller on the wire).
_BETWEEN_TAGS = re.compile(r">\s*\n\s*<")
_HEX12 = re.compile(r"[0-9a-f]{12}")
# Pages that show every engine when the URL names none (several configured).
COMBINED_PAGES = {"containers.index", "events.index", "whoami.index", "engines.index",
                  "services.index", "services.stacks", "images.index", "volumes.index",
                  "networks.index", "projects.index"}
# Pages without an item in their URL: the switcher keeps them on another engine.
SWITCHABLE = COMBINED_PAGES | {"create.new", "engines.detail", "nodes.index", "disk.index"}
SWITCH_KEEPS = {"all", "q", "state", "label", "type", "action", "window", "stack", "reference",
                "dangling", "used", "driver", "view"}


def compact(html: str) -> str:
    """A rendered row as it goes on the wire: without the indentation between
    its tags, and in ASCII (every other character as a character reference,
    which HTML reads the same in text and in attributes). A list of 600 rows
    is then a tenth smaller, and joining and sending it copies bytes, not
    two-byte characters ("Remove…" in one row made the whole list wide)."""
    return _BETWEEN_TAGS.sub("><", html).strip().encode("ascii", "xmlcharrefreplace").decode(
        "ascii")


class EngineBlueprint(Blueprint):
    """A blueprint whose every route is about one engine: each rule is added
    twice, as written (the default engine: the URLs users and scripts already
    link to) and under /engines/<engine>. The view never sees `engine`: it is
    taken from the URL before the view runs (see init_app), and url_for adds
    it back by itself while a page is about a named engine."""

    def add_url_rule(self, rule, endpoint=None, view_func=None, **options):
        super().add_url_rule(rule, endpoint, view_func, **options)
        endpoint = endpoint or (view_func.__name__ if view_func else None)
        super().add_url_rule(ENGINE_PREFIX + rule, endpoint, view_func, **options)


def registry() -> Registry:
    return current_app.extensions["periscope.engines"]


def engine_entry() -> EngineEntry:
    """The engine this request is about: the one in its URL, or the default."""
    return registry().get(g.get("engine_name"))


def engine() -> Engine:
    return engine_entry().engine


def settings() -> Settings:
    return current_app.extensions["periscope.settings"]


def combined() -> bool:
    """A page of every engine: several are configured and the URL names none."""
    return g.get("engine_name") is None and registry().several


def state_store(name: str, make):
    """One store per app of files the workers share, in the state folder's
    `name` subfolder (None without a state folder): make(folder)."""
    key = "periscope." + name
    store = current_app.extensions.get(key)
    if store is None:
        state = settings().state_dir
        store = current_app.extensions.setdefault(key, make(Path(state) / name if state else None))
    return store


def disk_store() -> DiskStore:
    """The last disk measurement of each engine (app/diskusage.py)."""
    return state_store("disk", DiskStore)


def stats_sampler():
    """The process's stats sampler (app/statsampler.py), None when stats are off."""
    return current_app.extensions.get("periscope.stats")


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


# Whole polled partials, by everything they are made from: a list whose rows
# changed is fetched whole by every viewer of the old rows at their next poll,
# fifty viewers, fifty identical renders of up to thousands of rows. Viewers'
# sessions differ in one thing the partial holds, the CSRF token of its
# actions form: the partial is made with a mark in its place (random per
# process: no container's text can hold it) and split there, and each viewer
# gets its own token put in.
_TOKEN_MARK = "\x00csrf:" + secrets.token_hex(12) + "\x00"


def shared_partial(key: tuple, render: Callable[..., str]) -> str:
    """render(csrf_token=...) once per key (which must hold everything the
    partial shows but the token and the app's own settings: the rows' key and
    tag, the filters, the engine in the URL, where the app is mounted), the
    viewer's token put in. Kept per app (its settings: the poll interval)."""
    partials = current_app.extensions.get("periscope.partials")
    if partials is None:
        partials = current_app.extensions.setdefault("periscope.partials", Memo(16))
    full = (key, g.get("engine_name"), request.script_root)
    parts = partials.get(full, lambda: tuple(render(csrf_token=lambda: _TOKEN_MARK)
                                             .split(_TOKEN_MARK)))
    if len(parts) == 1:
        return parts[0]
    from .security import csrf_token  # (security imports this module)
    return csrf_token().join(parts)


def poll_tag(ctx: dict) -> str:
    """The tag of a polled list's partial: everything it is made from (its
    context, which holds its relative times as texts: "3 minutes ago") with
    what the page frame adds (the engines and their read-only setting, the
    API version, the engine in the URL, where the app is mounted, the code's
    version). An unchanged list keeps its tag for as long as it stays so."""
    entry = engine_entry()
    frame = (__version__, g.get("engine_name"), request.script_root,
             [(e.name, e.read_only) for e in registry()], entry.read_only,
             entry.engine.negotiated_version)
    return memo.context_tag(ctx, frame)


def poll_answer(template: str, ctx: dict):
    """A list's polled partial, or 204 (nothing rendered, nothing sent: htmx
    leaves the page and its `every` trigger alone) when the viewer's copy,
    whose tag the poll carries, is made from the same things."""
    tag = poll_tag(ctx)
    if request.args.get("tag") == tag:
        return "", 204
    return render_template(template, **ctx, tag=tag)


# Polled partials never replace the Engine calls panel: it shows the calls of
# the page, or of the last thing the user did (an action, a filter, a reveal).
POLL_ENDPOINTS = {"containers.rows", "logs.poll", "events.poll", "images.pull_progress",
                  "system.wait", "create.preview_partial", "static", "services.rows",
                  "services.tasks", "services.logs_poll", "images.rows", "volumes.rows",
                  "networks.rows", "stats.section", "projects.rows", "projects.poll",
                  "mergedlogs.project_poll", "mergedlogs.picked_poll"}
_CARRY_MAX_CALLS = 12
_CARRY_MAX_BODY = 1500


# template globals that read or change the session: a streamed page calls them
# before its body, since Flask saves the session when the view returns, before
# a stream's first byte (each keeps its answer for the request)
_SESSION_GLOBALS = ("csrf_token", "carried_calls")


def stream_page(template: str, size: int = 32768, on_close: Callable[[], None] | None = None,
                flushes: Callable[[], int] | None = None, **context) -> Response:
    """A page sent as it is made: the template rendered as a stream (the
    request's context pushed again while it runs), its pieces joined into
    writes of about `size` bytes; when `flushes()` has grown since the last
    piece, what is held goes out at once (the page's head, before a read that
    waits on the engine: app/logview.LiveTail). What the page takes from the
    session (flashed messages, carried calls, the CSRF token) is taken first,
    while the session can still be saved. `on_close` runs when the response is
    done with, sent or not (a HEAD request, a client that went away). Errors
    raised after the first byte cannot become an error page: what the stream
    reads catches its own."""
    get_flashed_messages(with_categories=True)
    for name in _SESSION_GLOBALS:
        current_app.jinja_env.globals[name]()
    if request.method == "HEAD":
        if on_close is not None:
            on_close()
        return Response(mimetype="text/html")
    pieces = stream_template(template, **context)
    asked = flushes or (lambda: 0)

    def body():
        held: list[str] = []
        n = 0
        seen = asked()
        try:
            for piece in pieces:
                held.append(piece)
                n += len(piece)
                if n < size:
                    now = asked()
                    if now == seen:
                        continue
                    seen = now
                if n:
                    yield "".join(held)
                held, n = [], 0
            if held:
                yield "".join(held)
        finally:
            pieces.close()

    resp = Response(body(), mimetype="text/html")
    if on_close is not None:
        resp.call_on_close(on_close)
    return resp


def _carry_calls(log) -> list[dict]:
    """The calls of a request that ends in a redirect, small enough for the
    session cookie, to show on the page the redirect leads to."""
    out, budget = [], _CARRY_MAX_BODY
    for c in list(log)[-_CARRY_MAX_CALLS:]:
        body = c.body
        if body is not None and len(body) > budget:
            body = None
        elif body is not None:
            budget -= len(body)
        out.append({"method": c.method, "path": c.path, "status": c.status,
                    "ms": round(c.ms, 1), "body": body, "error": c.error, "engine": c.engine,
                    "shared_age": c.shared_age})
    return out


def init_engine_check(app: Flask) -> None:
    """The 404 of an engine name that is not configured. Registered after
    security.init_app (before_request functions run in the order they were
    registered): a foreign Host or a logged-out visitor meets its guard first
    and never learns which engines there are."""

    @app.before_request
    def _known_engine():
        name = g.get("unknown_engine")
        if name is not None:
            abort(404, description=f"There is no engine named “{name[:60]}” here. "
                                   f"Engines: {', '.join(registry().names())}.")


def init_app(app: Flask) -> None:
    scoped: set[str] = set()

    @app.url_value_preprocessor
    def _engine_from_url(endpoint, values):
        """Only notes the name: this runs before every guard, so the 404 of a
        name that is not configured (it lists the engines) waits for them
        (see init_engine_check)."""
        name = (values or {}).pop("engine", None)
        if name is not None:
            try:
                registry().get(name)
            except UnknownEngine:
                g.unknown_engine = name  # the page stays on the default until then
                return
            g.engine_name = name

    @app.url_defaults
    def _engine_into_urls(endpoint, values):
        """While a page is about a named engine, its links stay on that engine."""
        name = g.get("engine_name")
        if name and "engine" not in values:
            if not scoped:
                scoped.update(r.endpoint for r in app.url_map.iter_rules()
                              if "engine" in r.arguments)
            if endpoint in scoped:
                values["engine"] = name

    @app.before_request
    def _start_calls():
        g.engine_calls, g._calls_token = calls.start()

    @app.after_request
    def _calls_panel(resp):
        log = g.get("engine_calls")
        if log is None or request.endpoint in POLL_ENDPOINTS:
            return resp
        if 300 <= resp.status_code < 400 and len(log):
            session["carried_calls"] = _carry_calls(log)
        elif (is_htmx() and resp.mimetype == "text/html" and not resp.is_streamed
              and resp.status_code != 204):
            resp.set_data(resp.get_data(as_text=True)
                          + render_template("partials/_calls.html", calls_oob=True))
        return resp

    @app.teardown_request
    def _stop_calls(exc=None):
        token = g.pop("_calls_token", None)
        if token is not None:
            try:
                calls.stop(token)
            except ValueError:  # reset from another context (streamed responses)
                pass

    @app.context_processor
    def _globals():
        entry = engine_entry()
        return {
            "engine_entry": entry,
            "engine_host": entry.host,
            "engine_in_url": g.get("engine_name"),
            "engines": registry(),
            "api_version_in_use": entry.engine.negotiated_version,
            "poll_ms": int(settings().poll_interval * 1000),
            "poll_s": settings().poll_interval,
            "read_only": entry.read_only,
            # engines whose items a page may offer to change (a combined list's rows)
            "writable": {e.name for e in registry() if not e.read_only},
        }

    app.jinja_env.filters.update(
        reltime=display.reltime, exact=display.exact, iso=display.iso, bytes=display.size,
        pretty_json=display.pretty_json, unquote_path=unquote, ibytes=display.ibytes,
        shown=ansi.unbidi,
        rate=display.rate, percent=display.percent,
        seconds=lambda v: f"{float(v):g} s",
        env_pairs=masking.env_pairs, masked_inspect=masking.mask_inspect,
        swarm_state=swarm.swarm_state,
        fsname=fsnames.name_html, fsplain=fsnames.plain, text_html=fsnames.text_html,
        mode_text=fsnames.mode_text, kind_word=filebrowser.kind_word,
        hexdump=filebrowser.hexdump, quote_fs=fsnames.quote_path)
    app.jinja_env.globals["engine_calls"] = lambda: g.get("engine_calls")

    def call_curl(c) -> str:
        """The curl line of one recorded call, for the engine it went to."""
        get = c.get if isinstance(c, dict) else lambda k: getattr(c, k)
        try:
            host = registry().get(get("engine")).host
        except UnknownEngine:
            host = engine_entry().host
        return host.curl(get("method"), get("path"), get("body"))

    app.jinja_env.globals["call_curl"] = call_curl
    links: dict[tuple, str] = {}

    def link(endpoint: str, **values) -> str:
        """url_for for the page frame's fixed links (its assets, the nav),
        kept by what they depend on (the engine in the URL, where the app is
        mounted): twenty of them on every page cost a millisecond to build."""
        key = (endpoint, g.get("engine_name"), request.script_root, tuple(sorted(values.items())))
        url = links.get(key)
        if url is None:
            if len(links) > 1000:
                links.clear()
            url = links[key] = url_for(endpoint, **values)
        return url

    app.jinja_env.globals["link"] = link

    def switch_url(name: str | None) -> str | None:
        """This page on another engine (None: on every engine), where that
        means something; else that engine's container list."""
        ep = request.endpoint or ""
        args = dict(request.view_args or {})
        query = {k: v for k, v in request.args.items() if k in SWITCH_KEEPS}
        if ep not in COMBINED_PAGES and (ep not in SWITCHABLE or args):
            ep, args, query = "containers.index", {}, {}
        if ep in ("engines.index", "engines.detail"):  # the engines page and one engine's
            return url_for("engines.detail", engine=name) if name else url_for("engines.index")
        if name is None:
            if ep not in COMBINED_PAGES:
                return None
            return url_for(ep, engine=None, **args, **query)
        query.pop("engine", None)
        return url_for(ep, engine=name, **args, **query)

    app.jinja_env.globals["switch_url"] = switch_url

    def carried_calls():
        """Calls carried over a redirect, shown once on the page it leads to."""
        if "carried" not in g:
            g.carried = session.pop("carried_calls", None) or []
        return g.carried

    app.jinja_env.globals["carried_calls"] = carried_calls
    row_cache = display.HtmlCache()  # every list's rows: keys say which list
    STATS_MARK = "<!--stats-cells-->"  # where a container row's stats cells go
    row_parts: dict[tuple, tuple[str, str]] = {}
    cell_html: dict[tuple, str] = {}  # stats cells by their texts (figures, never a container's)

    def _row_context(r: dict, list_url: str, several: bool, actions: bool) -> tuple:
        if "engine" in r:
            read_only = registry().get(r["engine"]).read_only
        else:  # once per request, not per row (600 rows: a measurable part of the poll)
            read_only = g.get("_rows_read_only")
            if read_only is None:
                read_only = g._rows_read_only = engine_entry().read_only
        return read_only, ("containers", row_key(r), r.get("stats") is not None, list_url,
                           read_only, several, actions, r.get("engine"))

    def _row_markup(r: dict, list_url: str, several: bool, actions: bool) -> Markup:
        read_only, key = _row_context(r, list_url, several, actions)
        return row_cache.keyed(key, lambda: compact(app.jinja_env.get_template(
            "containers/_row.html").render(r=r, list_url=list_url, read_only=read_only,
                                           several=several, actions=actions)))

    def _row_parts(r: dict, list_url: str, several: bool, actions: bool) -> tuple[str, str]:
        """The row around its stats cells, split once and kept as plain text:
        joined as str and marked safe once (Markup's own + escapes each time)."""
        key = _row_context(r, list_url, several, actions)[1]
        parts = row_parts.get(key)
        if parts is None:
            head, _, tail = str(_row_markup(r, list_url, several, actions)).partition(STATS_MARK)
            if len(row_parts) >= row_cache.MAX:
                row_parts.clear()
            parts = row_parts[key] = (head, tail)
        return parts

    def _cells(stats: tuple, oob: bool = False) -> str:
        key = (stats, oob)
        cells = cell_html.get(key)
        if cells is None:
            if len(cell_html) >= row_cache.MAX:
                cell_html.clear()
            cells = cell_html[key] = compact(app.jinja_env.get_template(
                "stats/_cells.html").render(stats=stats, oob=oob))
        return cells

    def stats_cells_oob(rows) -> Markup:
        """The stats cells of `rows` as a poll sends new figures: each cell
        swaps itself in for its like in its row (htmx out-of-band swaps)."""
        out = []
        for r in rows:
            if not _HEX12.fullmatch(r["short_id"]):  # an engine's odd ID is no selector
                continue
            rid = ("c-" + r["engine"] + "-" if "engine" in r else "c-") + r["short_id"]
            out.append(_cells(r["stats"], oob=True).replace("@ROW@", str(escape(rid))))
        return Markup("".join(out))

    app.jinja_env.globals["stats_cells_oob"] = stats_cells_oob

    def row_html(r: dict, list_url: str = "", several: bool = False, actions: bool = True):
        """One container list row, rendered once while its data stays the same
        (its stats cells apart: new figures render only them).
        `several`: the list of every engine (an Engine column); `actions`: the
        list has an actions column."""
        stats = r.get("stats")
        if stats is None:
            return _row_markup(r, list_url, several, actions)
        head, tail = _row_parts(r, list_url, several, actions)
        return Markup(head + _cells(stats) + tail)

    row_blocks = display.BlockCache()  # whole lists' rows, by what they were made from
    making = threading.RLock()  # blocks are made one at a time (memo.Memo says why)

    def rows_html(rows, list_url: str = "", several: bool = False, actions: bool = True):
        """Every row of a container list at once. Rows of a key seen before
        (memo.Keyed: made from the same answers) are the rows made last
        time: without stats their HTML is the block made then; with stats each
        row's two halves are, and only the cells are put in between (in the
        rows' order: a sort by CPU moves them)."""
        key = getattr(rows, "key", None)
        if key is None or not rows:
            return Markup("".join(row_html(r, list_url, several, actions) for r in rows))
        with_stats = rows[0].get("stats") is not None
        read_only = None if several else engine_entry().read_only
        bkey = ("containers", key, list_url, several, actions, read_only, with_stats)
        block = row_blocks.get(bkey)
        if block is None:
            with making:  # one maker at a time (memo.Memo says why)
                block = row_blocks.get(bkey)
                if block is None:
                    if with_stats:
                        block = {(r["id"], r.get("engine")):
                                 _row_parts(r, list_url, several, actions) for r in rows}
                        size = sum(len(h) + len(t) for h, t in block.values())
                    else:
                        block = Markup("".join(_row_markup(r, list_url, several, actions)
                                               for r in rows))
                        size = len(block)
                    row_blocks.put(bkey, block, size)
        if not with_stats:
            return block
        # the same rows in the same order with the same cells: the same HTML
        cells = getattr(rows, "cells", "")  # statsview.marked's tag of every row's cells
        jkey = ("joined", bkey, cells or hashlib.blake2b(repr(
            [(r["id"], r.get("engine"), r["stats"]) for r in rows]).encode(),
            digest_size=16).digest())
        html = row_blocks.get(jkey)
        if html is not None:
            return html
        with making:
            html = row_blocks.get(jkey)
            if html is not None:
                return html
            out = []
            for r in rows:
                head, tail = block[(r["id"], r.get("engine"))]
                out.append(head)
                out.append(_cells(r["stats"]))
                out.append(tail)
            html = Markup("".join(out))
            return row_blocks.put(jkey, html, len(html))

    app.jinja_env.globals["rows_html"] = rows_html
    app.jinja_env.globals["row_html"] = row_html
    from . import servicelist
    from .swarm import TASK_ROW_KEYS

    def service_row_html(r: dict, several: bool = False):
        """One service list row, rendered once while its data stays the same."""
        return row_cache.keyed(("services", servicelist.row_key(r), several, g.get("engine_name")),
                               lambda: app.jinja_env.get_template(
                                   "services/_row.html").render(r=r, several=several))

    app.jinja_env.globals["service_row_html"] = service_row_html

    def service_rows_html(rows, several: bool = False):
        """Every row of a service list at once: rows of a key seen before
        (memo.Keyed: made from the same answers) are the block made then."""
        key = getattr(rows, "key", None)
        if key is None:
            return Markup("".join(service_row_html(r, several) for r in rows))
        bkey = ("services", key, several, g.get("engine_name"))
        html = row_blocks.get(bkey)
        if html is None:
            with making:
                html = row_blocks.get(bkey)
                if html is None:
                    html = Markup("".join(compact(str(service_row_html(r, several)))
                                          for r in rows))
                    row_blocks.put(bkey, html, len(html))
        return html

    app.jinja_env.globals["service_rows_html"] = service_rows_html

    def task_row_html(t: dict):
        """One row of a service's tasks, rendered once while it stays the same."""
        return row_cache.keyed(("tasks", servicelist.row_key(t, TASK_ROW_KEYS, ()),
                                g.get("engine_name")),
                               lambda: app.jinja_env.get_template(
                                   "services/_task_row.html").render(t=t))

    app.jinja_env.globals["task_row_html"] = task_row_html

    def resource_row(template: str, r: dict, several: bool = False, can_change: bool = False):
        """One row of the images, volumes or networks list (`template` renders
        it from `r` alone: its links come with it), rendered once while its
        data stays the same. `several`: the list of every engine; `can_change`:
        its engine is not read-only (the row offers to remove)."""
        return row_cache.render(template, r, (several, can_change), lambda: _BETWEEN_TAGS.sub(
            "><", app.jinja_env.get_template(template).render(r=r, several=several,
                                                               can_change=can_change)).strip())

    app.jinja_env.globals["resource_row"] = resource_row
    blocks: OrderedDict[int, tuple] = OrderedDict()
    blocks_lock = threading.Lock()
    writable_names = frozenset(e.name for e in app.extensions["periscope.engines"]
                               if not e.read_only)

    def resource_rows(template: str, rows: list[dict], several: bool = False):
        """Every row of a list at once. A list made from Engine answers that did
        not change is the same object as last time (app/memo.py): its HTML is
        then the one made last time."""
        read_only = engine_entry().read_only
        ctx = (template, several, read_only)
        with blocks_lock:
            hit = blocks.get(id(rows))
        if hit is not None and hit[0] is rows and hit[1] == ctx:
            return hit[2]
        html = Markup("".join(
            resource_row(template, r, several, r.get("engine") in writable_names if several
                         else not read_only) for r in rows))
        with blocks_lock:
            blocks[id(rows)] = (rows, ctx, html)
            while len(blocks) > 64:
                blocks.popitem(last=False)
        return html

    app.jinja_env.globals["resource_rows"] = resource_rows

    def group_projects(rows: list[dict], several: bool = False):
        """The list's rows by Compose project: (projects, rows of none)."""
        return composeprojects.group(rows, engine_key=several)

    app.jinja_env.globals["group_projects"] = group_projects

    def sort_qs(qs: dict, key: str) -> dict:
        """The list's query with another sort (an empty key: the default order)."""
        out = {k: v for k, v in qs.items() if k != "sort"}
        if key:
            out["sort"] = key
        return out

    app.jinja_env.globals["sort_qs"] = sort_qs
