"""A container's filesystem, read-only: a folder's entries, a file's first
MiB, and downloads (a file as itself, a folder as a tar). Everything is a GET
and changes nothing; it works on stopped containers too. What is read and
how lives in app/filebrowser.py."""

from __future__ import annotations

import posixpath

from flask import Response, render_template, request, url_for

from .. import filebrowser as fb
from ..filerows import rows_html
from ..web import EngineBlueprint, engine, settings

bp = EngineBlueprint("files", __name__)


def _path_arg() -> str | None:
    # from the raw query: a name that is not UTF-8 keeps its bytes
    return fb.query_path(request.query_string)


@bp.get("/containers/<ref>/files")
def index(ref: str):
    s = settings()
    o = fb.open_path(engine(), ref, _path_arg(), max_entries=s.files_max_entries,
                     max_bytes=s.files_max_mb << 20)
    base = url_for("files.index", ref=o.cid)
    ctx = {"o": o, "base": base, "dl": url_for("files.download", ref=o.cid),
           "crumbs": fb.crumbs(o.path), "up": fb.quote_path(fb.parent(o.path))}
    if o.kind == "dir":
        # rows link to downloads relative to this page: a row does not repeat the ID
        rel = posixpath.relpath(ctx["dl"], posixpath.dirname(base))
        return render_template("files/index.html", l=o.listing, rows_html=rows_html, rel_dl=rel,
                               **ctx)
    return render_template("files/detail.html", **ctx)


@bp.get("/containers/<ref>/files/download")
def download(ref: str):
    """A file's bytes as `docker cp` writes them, or a folder's tar, streamed."""
    d = fb.download(engine(), ref, _path_arg(), head=request.method == "HEAD")
    headers = {"Content-Disposition": d.disposition, "X-Content-Type-Options": "nosniff",
               "Cache-Control": "no-store"}
    if d.length is not None:
        headers["Content-Length"] = str(d.length)
    return Response(d.body, mimetype=d.mimetype, headers=headers, direct_passthrough=True)
