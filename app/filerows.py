"""The HTML of a folder's rows for the file browser: many at once.

A folder may hold thousands of entries, and a Jinja macro per row costs more
than reading their headers, so rows are built here in one pass (as
app/logrows.py builds log lines). Every name, link text and owner comes from
the container and is escaped (fsnames.name_html: hidden characters made
visible); the markup around them is fixed text. Links inside the folder are
relative (`?path=...`: the same page, another path), so a row does not repeat
the container's 64-character ID.
"""

from __future__ import annotations

import datetime as dt
from html import escape

from markupsafe import Markup

from .display import size
from .filebrowser import Entry, kind_word
from .fsnames import HIDDEN, mode_text, name_html, plain


def _when(mtime: float, cache: dict) -> str:
    got = cache.get(mtime)
    if got is None:
        try:
            d = dt.datetime.fromtimestamp(mtime, dt.timezone.utc)
            got = (f'<time datetime="{d.isoformat()}">'
                   f'{d.strftime("%Y-%m-%d %H:%M:%S")}</time>')
        except (OverflowError, OSError, ValueError):
            got = '<span class="muted">?</span>'
        cache[mtime] = got
    return got


def _size_cell(e: Entry) -> str:
    if e.kind == "dir":
        if not e.items:
            return '<span class="muted">empty</span>'
        more = "+" if e.cut else ""
        word = "item" if e.items == 1 and not more else "items"
        return (f'<span title="{e.total:,} bytes of files in {e.items:,}{more} entries below">'
                f'{size(e.total)} <small class="muted">{e.items:,}{more} {word}</small></span>')
    if e.kind == "file" or (e.kind == "hardlink" and e.size):
        return f'<span title="{e.size:,} bytes">{size(e.size)}</span>'
    return ""


def rows_html(entries: list[Entry], download_url: str) -> Markup:
    """The <tr> of each entry; `download_url` is the download route (its
    `?path=` is added per row)."""
    out = []
    append = out.append
    dl = escape(download_url)
    times: dict = {}
    modes: dict = {}  # (kind, mode) -> text
    owners: dict = {}  # (owner, group) -> HTML
    sizes: dict = {}  # a file's size -> its cell
    hidden = HIDDEN.search
    for e in entries:
        name = e.name
        # the usual name: nothing hidden, and escaped as logrows escapes (html.escape)
        name = escape(name) if hidden(name) is None else str(name_html(name))
        kind = e.kind
        if e.q:
            cell = f'<a class="fn" href="?path={e.q}">{name}</a>'
        else:  # a name with a control character cannot be asked for: shown, not linked
            cell = (f'<span class="fn" title="a name with control characters cannot be opened '
                    f'here; download the folder to get it">{name}</span>')
        if kind == "file":
            sc = sizes.get(e.size)
            if sc is None:
                sc = sizes[e.size] = _size_cell(e)
        else:
            sc = _size_cell(e)
            if kind == "dir":
                cell += '<span class="slash">/</span>'
            elif kind == "symlink":
                cell += (f' <span class="badge info">link</span> <span class="arrow" '
                         f'aria-label="points to">→</span> <a class="fn target" '
                         f'href="?path={e.oq}" title="opens {escape(plain(e.opens))}">'
                         f'{name_html(e.link)}</a>')
            elif kind == "hardlink":
                cell += (f' <span class="badge info">hard link</span> <span class="arrow" '
                         f'aria-label="same file as">=</span> <a class="fn target" '
                         f'href="?path={e.oq}">{name_html(e.link)}</a>')
            else:
                cell += f' <span class="badge">{kind_word(kind)}</span>'
        mk = (kind, e.mode)
        mode = modes.get(mk)
        if mode is None:
            mode = modes[mk] = mode_text("file" if kind == "hardlink" else kind, e.mode)
        ok = (e.owner, e.group)
        owner = owners.get(ok)
        if owner is None:
            owner = owners[ok] = str(name_html(e.owner if e.group == e.owner
                                               else f"{e.owner}:{e.group}"))
        if e.q and kind in ("file", "dir", "hardlink"):
            down = (f'<a href="{dl}?path={e.q}" download title="Download'
                    f'{" as tar" if kind == "dir" else ""}">download</a>')
        else:
            down = ""
        append(f'<tr class="k-{kind}"><td class="fname">{cell}</td><td class="num">{sc}</td>'
               f'<td><code>{mode}</code></td><td>{owner}</td>'
               f'<td class="when">{_when(e.mtime, times)}</td><td class="dl">{down}</td></tr>\n')
    return Markup("".join(out))
