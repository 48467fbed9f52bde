"""The HTML of log lines for the logs page: many rows at once.

The page holds up to 5,000 lines, and a Jinja macro per line costs more than
the engine call, so rows are built here in one pass. Every piece of log data
is escaped (html.escape, quotes too: the same as markupsafe.escape at less
than half the cost per call); the markup around it is fixed text.
"""

from __future__ import annotations

import re
from html import escape as html_escape
from operator import itemgetter

from markupsafe import Markup, escape

from .ansi import BIDI, CONTROL_RE, ansi_segments, render_line, unbidi

# What html.escape would change, what ANSI rendering would, and the characters
# that reorder text (ansi.unbidi): a line with none of these is shown as it is.
_SPECIAL = re.compile(f"[&<>\"'\x00-\x08\x0a-\x1f\x7f-\x9f{BIDI}]")


# the stream's label is the CSS's (.ll > i::before): a byte-light row, and
# copying lines off the page does not copy "out" and "err" with them
# (plain_rows puts the same pieces together for a whole batch at once)
_ROW, _MID, _END = '<div class="ll ', '<i></i><span class="ltx">', "</span></div>\n"
_HEADS = {label: (f'{_ROW}{label}">', _MID) for label in ("out", "err", "tty")}


def _body(ln, dl: str) -> str:
    """A line's text as HTML: escaped, ANSI colours as classes, marks, cut notes."""
    text = ln.text
    if not text.isascii():
        text = unbidi(text)
    if ln.spans is None and _SPECIAL.search(text) is None:
        body = text  # the common line: nothing to escape, no colour, no match to mark
    elif ln.spans is None and "\x1b" not in text and CONTROL_RE.search(text) is None:
        body = html_escape(text)
    else:
        body = str(render_line(ansi_segments(text), ln.spans))
    if ln.dropped:
        body += (f'<span class="lcut"> … {ln.dropped:,} more bytes: <a href="{dl}">download'
                 f'</a> for the whole line</span>')
    if not ln.newline:
        body += ('<span class="lcut" title="the log ended here without a newline"> '
                 '(no newline)</span>')
    return body


def _time(ts: str) -> str:
    # the engine's timestamp, as split_ts accepts it: digits and -T:.Z+ only
    # (nothing to escape; tests/unit/test_logstream.py holds it to that)
    shown = f"{ts[:10]} {ts[11:23]}" if len(ts) == 30 else ts
    return f'<time title="{ts}">{shown}</time>'


# A batch of plain lines (app/gateway/logstream.PlainBatch), decoded and
# escaped whole, its rows put together by C-speed splits, slices and joins
# (no Python per line). The bytes were checked for control characters; what
# is left to refuse is found in the text (C1 controls, characters that
# reorder text): then the lines go row by row. Each line of the batch's text
# is NUL, out or err, the 30-character timestamp, a space, the message.
_PLAIN_REFUSE = re.compile(f"[\x7f-\x9f{BIDI}]")
_P_LABEL, _P_STAMP, _P_DATE, _P_TIME, _P_BODY = (
    itemgetter(slice(0, 3)), itemgetter(slice(3, 33)), itemgetter(slice(3, 13)),
    itemgetter(slice(14, 26)), itemgetter(slice(34, None)))


def plain_rows(batch, *, timestamps: bool) -> Markup | None:
    """The rows of a PlainBatch, as render_rows makes those of its lines; None
    when a line needs more than escaping (then render its lines)."""
    text = batch.blob.decode("utf-8", "replace")
    if not text.isascii() and _PLAIN_REFUSE.search(text) is not None:
        return None
    if "&" in text or "<" in text or ">" in text or '"' in text or "'" in text:
        text = html_escape(text)
    parts = text.replace("\n", _END).split("\x00")
    del parts[0]  # before the first NUL: nothing
    n = len(parts)
    if timestamps:
        out = [""] * (10 * n)
        out[0::10] = [_ROW] * n
        out[1::10] = map(_P_LABEL, parts)
        out[2::10] = ['"><time title="'] * n
        out[3::10] = map(_P_STAMP, parts)
        out[4::10] = ['">'] * n
        out[5::10] = map(_P_DATE, parts)
        out[6::10] = [" "] * n
        out[7::10] = map(_P_TIME, parts)
        out[8::10] = ["</time>" + _MID] * n
        out[9::10] = map(_P_BODY, parts)
    else:
        out = [""] * (4 * n)
        out[0::4] = [_ROW] * n
        out[1::4] = map(_P_LABEL, parts)
        out[2::4] = ['">' + _MID] * n
        out[3::4] = map(_P_BODY, parts)
    return Markup("".join(out))


def render_rows(lines, *, timestamps: bool, tty: bool, download_url: str,
                sources: dict | None = None) -> Markup:
    """The rows of `lines` (LogLines), escaped; `download_url` is offered for
    a line cut short. `sources`: a service's log: each line's task as
    (label, title) by task ID (LogLine.src), shown before the message."""
    out = []
    append = out.append
    dl = str(escape(download_url))
    heads = _HEADS
    special = _SPECIAL.search
    tags: dict = {}
    for ln in lines:
        start, mid = heads["tty" if tty else ln.label]
        if sources is not None:
            tag = tags.get(ln.src)
            if tag is None:
                label, title = sources.get(ln.src) or ((ln.src or "?")[:12], "a task")
                tag = tags[ln.src] = (f'<span class="lsrc" title="{html_escape(title)}">'
                                      f'{html_escape(label)}</span>')
            mid = tag + mid
        text = ln.text
        if ln.spans is None and not ln.dropped and ln.newline and special(text) is None:
            body = text  # the common line, inline
        else:
            body = _body(ln, dl)
        if timestamps:
            append(f'{start}{_time(ln.ts)}{mid}{body}{_END}')
        else:
            append(f"{start}{mid}{body}{_END}")
    return Markup("".join(out))


def render_merged_rows(pairs, *, links: dict) -> Markup:
    """The rows of a merged log: (source, LogLine) pairs, each line tagged with
    its container (short name, colour class; the legend links each to its own
    page). `links[source.key]` is (that container's logs page, its download):
    the download is offered for a line cut short. Every row carries its
    timestamp (hidden by the page's no-ts class when not asked for): the page
    puts a row a poll brings late in its place by it."""
    out = []
    append = out.append
    special = _SPECIAL.search
    heads: dict = {}  # id(source) -> {stream: (row start, tag and label), ...}, download
    for src, ln in pairs:
        got = heads.get(id(src))
        if got is None:
            tag = (f'<span class="lsrc {src.css}" title="{escape(src.name)}">'
                   f'{escape(src.short)}</span>')
            per = {}
            for code, label in ((1, "out"), (2, "err")):
                start, mid = _HEADS["tty" if src.tty else label]
                per[code] = (start, tag + mid)
            got = heads[id(src)] = (per, str(escape(links.get(src.key, ("", ""))[1])))
        start, mid = got[0].get(ln.stream) or got[0][1]
        text = ln.text
        if ln.spans is not None or ln.dropped or not ln.newline or special(text) is not None:
            text = _body(ln, got[1])
        ts = ln.ts
        append(f'{start}<time title="{ts}">{ts[:10]} {ts[11:23]}</time>{mid}{text}'
               + _END if len(ts) == 30 else
               f'{start}{_time(ts)}{mid}{text}{_END}')
    return Markup("".join(out))
