"""File names and file text from inside a container, made safe to show and
to hand to a browser. Pure; no Flask.

Everything a container's filesystem holds is hostile: a name may carry markup,
newlines, a right-to-left override that shows `invoice‮fdp.exe` as
`invoiceexe.pdf`, zero-width characters that make two names look the same,
bytes that are not UTF-8 (kept as surrogateescape by the tar reader), and be
4,000 bytes long. Here such characters are shown as visible escapes
(`\\n`, `\\u202E`, `\\xFF`) in their own <span class="esc">, everything is
HTML-escaped, and download file names are reduced to what a browser can take.

The HTML is built in one pass from escaped pieces only (as app/logrows.py
does for log lines): a listing of thousands of names costs less than a Jinja
macro per name would.
"""

from __future__ import annotations

import re
import stat as st
from html import escape
from urllib.parse import quote

from markupsafe import Markup

# Characters that are invisible, reorder text, or are not text at all: C0/C1
# controls, bidi embeddings/overrides/isolates and marks, zero-width space,
# word joiners, the BOM, and the surrogates that stand for bytes not UTF-8.
HIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200b\u200e\u200f\u202a-\u202e\u2060-\u2064"
                    "\u2066-\u2069\ufeff\udc80-\udcff]")
# The same, with tab allowed (file text keeps its tabs).
HIDDEN_IN_TEXT = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u061c\u200b\u200e\u200f"
                            "\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\udc80-\udcff]")
_NAMES = {"\n": "line feed", "\r": "carriage return", "\t": "tab", "\x1b": "escape",
          "\u202e": "right-to-left override", "\u202d": "left-to-right override",
          "\u202a": "left-to-right embedding", "\u202b": "right-to-left embedding",
          "\u202c": "pop directional formatting", "\u2066": "left-to-right isolate",
          "\u2067": "right-to-left isolate", "\u2068": "first strong isolate",
          "\u2069": "pop directional isolate", "\u200e": "left-to-right mark",
          "\u200f": "right-to-left mark", "\u061c": "Arabic letter mark",
          "\u200b": "zero-width space", "\ufeff": "byte order mark", "\u2060": "word joiner"}
_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_one(ch: str) -> str:
    """The visible form of one hidden character, as HTML."""
    o = ord(ch)
    if 0xDC80 <= o <= 0xDCFF:  # a byte that is not UTF-8
        return (f'<span class="esc" title="byte 0x{o - 0xDC00:02X}, not UTF-8">'
                f'\\x{o - 0xDC00:02X}</span>')
    text = _SHORT.get(ch) or (f"\\x{o:02X}" if o < 0x100 else f"\\u{o:04X}")
    title = _NAMES.get(ch) or ("control character" if o < 0x100 else "invisible character")
    return f'<span class="esc" title="{title}">{text}</span>'


def name_html(name: str, hidden: re.Pattern = HIDDEN) -> Markup:
    """A name (or a path) as HTML: escaped, its hidden characters visible."""
    if hidden.search(name) is None:
        return Markup(escape(name))
    out = []
    pos = 0
    for m in hidden.finditer(name):
        out.append(escape(name[pos:m.start()]))
        out.append(_escape_one(m.group()))
        pos = m.end()
    out.append(escape(name[pos:]))
    return Markup("".join(out))


def has_hidden(name: str) -> bool:
    return HIDDEN.search(name) is not None


def plain(name: str) -> str:
    """A name as plain text (for a title attribute, a message): bytes that are
    not UTF-8 become U+FFFD, hidden characters their escapes."""
    text = name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return HIDDEN.sub(lambda m: _SHORT.get(m.group()) or (
        f"\\x{ord(m.group()):02X}" if ord(m.group()) < 0x100 else f"\\u{ord(m.group()):04X}"),
                      text)


_URL_SAFE = re.compile(r"[A-Za-z0-9_.~/-]*")


def quote_path(path: str) -> str:
    """A container path for a URL's query, its bytes kept."""
    if _URL_SAFE.fullmatch(path):
        return path  # the usual name: nothing to quote
    return quote(path.encode("utf-8", "surrogateescape"), safe="/")


def text_html(lines: list[str]) -> Markup:
    """Lines of a text file as numbered rows (the numbers come from CSS, so
    copying the text does not copy them): escaped, hidden characters but tabs
    made visible (a bidi override in source code is shown, not obeyed)."""
    out = []
    append = out.append
    search = HIDDEN_IN_TEXT.search
    for line in lines:
        if search(line) is None:
            append(f'<span class="ln">{escape(line, quote=False)}\n</span>')
        else:
            append(f'<span class="ln">{name_html(line, HIDDEN_IN_TEXT)}\n</span>')
    return Markup("".join(out))


# -- modes -----------------------------------------------------------------------------
_TYPE_CHAR = {"dir": "d", "symlink": "l", "char": "c", "block": "b", "fifo": "p",
              "socket": "s", "hardlink": "h", "file": "-"}


def mode_text(kind: str, mode: int) -> str:
    """`drwxr-xr-x` as ls shows it (setuid, setgid and sticky included)."""
    perm = st.filemode(mode & 0o7777)[1:]
    return _TYPE_CHAR.get(kind, "?") + perm


# -- downloads -------------------------------------------------------------------------
_ASCII_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")
_STAR_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069"
                          "\ufeff\udc80-\udcff/\\\\]+")


def content_disposition(name: str, fallback: str = "download") -> str:
    """`attachment` with a file name a browser can take: an ASCII one (what is
    not a letter, digit, '.', '_', '+' or '-' becomes '_') and the UTF-8 name
    as RFC 5987's filename* (controls, bidi and invisible characters, bytes
    that are not UTF-8 and slashes replaced). Both bounded, neither starting
    with a dot (a hidden file once saved)."""
    star = _STAR_UNSAFE.sub("_", name).strip().lstrip(".")[:200] or fallback
    ascii_name = _ASCII_UNSAFE.sub("_", star).strip("_").lstrip(".")[:150] or fallback
    header = f'attachment; filename="{ascii_name}"'
    if star != ascii_name:
        header += f"; filename*=UTF-8''{quote(star, safe='')}"
    return header
