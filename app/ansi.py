"""ANSI escapes in text a container wrote, made safe for a page: SGR colour
and style codes become CSS classes on escaped spans; every other escape and
control character (but tab) is removed, so no ESC reaches the page.

Every piece of HTML made here is built from escaped text (markupsafe.escape on
each piece); the text is hostile and nothing of it is ever marked safe
unescaped.
"""

from __future__ import annotations

import re

from markupsafe import Markup, escape

# CSI (ESC [ params intermediates final), OSC (ESC ] ... BEL or ST), DCS/SOS/PM/APC
# strings, other two-byte escapes, a lone ESC; then every other control character
# but tab (C0, DEL, C1). SGR (CSI ... m) is kept for colour; the rest is dropped.
_ESC_RE = re.compile(
    r"\x1b\[([0-?]*)([ -/]*)([@-~])"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"
    r"|\x1b[ -/]*[0-~]?"
    r"|\x9b[0-?]*[ -/]*[@-~]?"
    r"|[\x00-\x08\x0a-\x1f\x7f-\x9f]"
)

_BASIC_RGB = [(0, 0, 0), (205, 49, 49), (13, 188, 121), (229, 229, 16), (36, 114, 200),
              (188, 63, 188), (17, 168, 205), (229, 229, 229), (102, 102, 102), (241, 76, 76),
              (35, 209, 139), (245, 245, 67), (59, 142, 234), (214, 112, 214), (41, 184, 219),
              (255, 255, 255)]


def _nearest16(r: int, g: int, b: int) -> int:
    return min(range(16), key=lambda i: (r - _BASIC_RGB[i][0]) ** 2 + (g - _BASIC_RGB[i][1]) ** 2
               + (b - _BASIC_RGB[i][2]) ** 2)


def _xterm256(n: int) -> int:
    if n < 16:
        return n
    if n >= 232:
        v = 8 + (n - 232) * 10
        return _nearest16(v, v, v)
    n -= 16
    steps = [0, 95, 135, 175, 215, 255]
    return _nearest16(steps[n // 36], steps[(n // 6) % 6], steps[n % 6])


class _SGR:
    __slots__ = ("fg", "bg", "bold", "dim", "italic", "underline", "strike", "inverse")

    def __init__(self):
        self.reset()

    def reset(self):
        self.fg = self.bg = None
        self.bold = self.dim = self.italic = self.underline = self.strike = self.inverse = False

    def apply(self, params: str) -> None:
        # a hostile line may carry 5,000 digits (int() refuses such strings) or
        # non-ASCII digits: anything but a short ASCII number counts as 0
        codes = ([int(p) if p.isascii() and p.isdigit() and len(p) <= 5 else 0
                  for p in re.split(r"[;:]", params)] if params else [0])
        i = 0
        while i < len(codes):
            c = codes[i]
            if c == 0:
                self.reset()
            elif c == 1:
                self.bold = True
            elif c == 2:
                self.dim = True
            elif c == 3:
                self.italic = True
            elif c == 4:
                self.underline = True
            elif c == 7:
                self.inverse = True
            elif c == 9:
                self.strike = True
            elif c == 22:
                self.bold = self.dim = False
            elif c == 23:
                self.italic = False
            elif c == 24:
                self.underline = False
            elif c == 27:
                self.inverse = False
            elif c == 29:
                self.strike = False
            elif 30 <= c <= 37:
                self.fg = c - 30
            elif 90 <= c <= 97:
                self.fg = c - 90 + 8
            elif c == 39:
                self.fg = None
            elif 40 <= c <= 47:
                self.bg = c - 40
            elif 100 <= c <= 107:
                self.bg = c - 100 + 8
            elif c == 49:
                self.bg = None
            elif c in (38, 48):
                colour = None
                if i + 2 < len(codes) and codes[i + 1] == 5:
                    colour = _xterm256(min(codes[i + 2], 255))
                    i += 2
                elif i + 4 < len(codes) and codes[i + 1] == 2:
                    colour = _nearest16(*(min(v, 255) for v in codes[i + 2:i + 5]))
                    i += 4
                else:
                    i = len(codes)
                if colour is not None:
                    if c == 38:
                        self.fg = colour
                    else:
                        self.bg = colour
            i += 1

    def classes(self) -> str:
        fg, bg = self.fg, self.bg
        if self.inverse:
            fg, bg = (bg if bg is not None else 16), (fg if fg is not None else 17)
        out = []
        if fg is not None:
            out.append(f"af{fg}")
        if bg is not None:
            out.append(f"ab{bg}")
        if self.bold:
            out.append("ab-b")
        if self.dim:
            out.append("ab-d")
        if self.italic:
            out.append("ab-i")
        if self.underline:
            out.append("ab-u")
        if self.strike:
            out.append("ab-s")
        return " ".join(out)


def ansi_segments(text: str) -> list[tuple[str, str]]:
    """[(plain text, css classes)] with SGR applied and every other escape or
    control character (but tab) removed: no ESC survives."""
    if "\x1b" not in text and not has_controls(text):
        return [(text, "")] if text else []
    sgr = _SGR()
    out: list[tuple[str, str]] = []
    pos = 0
    cls = ""
    for m in _ESC_RE.finditer(text):
        if m.start() > pos:
            out.append((text[pos:m.start()], cls))
        pos = m.end()
        if m.group(3) == "m" and not m.group(2) and not re.search(r"[<=>?]", m.group(1) or ""):
            sgr.apply(m.group(1))
            cls = sgr.classes()
    if pos < len(text):
        out.append((text[pos:], cls))
    return [(t, c) for t, c in out if t]


CONTROL_RE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")


# the characters that reorder text (embeddings, overrides, isolates): in a
# name or a log line they make it read as something else ("txt.exe" shown as
# "exe.txt"); shown as U+FFFD, one for one, so the rest stays in its place
BIDI = "\u202a-\u202e\u2066-\u2069"  # as a regex character class's ranges
BIDI_RE = re.compile(f"[{BIDI}]")
_BIDI_MAP = {c: "\ufffd" for c in (*range(0x202a, 0x202f), *range(0x2066, 0x206a))}


def unbidi(text: str) -> str:
    """`text` with every bidirectional control shown as U+FFFD (same length)."""
    if text.isascii() or BIDI_RE.search(text) is None:
        return text
    return text.translate(_BIDI_MAP)


def carriage_returns(text: str) -> str:
    """A line with carriage returns as a terminal shows it: each part written
    over the start of what came before ("10%\r20%" shows "20%", "abcd\rX"
    "Xbcd"), a CR at the end (CRLF endings) nothing. With escapes in the line
    their widths are unknown: the last part that is not empty is shown. The
    download keeps every byte."""
    if "\r" not in text:
        return text
    parts = text.split("\r")
    while len(parts) > 1 and not parts[-1]:
        parts.pop()
    if "\x1b" in text or "\x9b" in text:
        # the last part with text in it (one of escapes alone, a colour reset
        # after the CR, shows nothing)
        return next((p for p in reversed(parts) if ansi_plain(p)), parts[-1])
    shown = parts[-1]  # written last: over it only what earlier parts had beyond it
    for p in reversed(parts[:-1]):
        if len(p) > len(shown):
            shown += p[len(shown):]
    return shown


def has_controls(text: str) -> bool:
    return CONTROL_RE.search(text) is not None


def render_line(segments: list[tuple[str, str]], spans: list[tuple[int, int]] | None) -> Markup:
    """Escaped HTML for one line: SGR classes as spans, search matches in <mark>."""
    parts: list[str] = []
    marks = spans or []
    mi = 0
    off = 0
    for text, cls in segments:
        end = off + len(text)
        cuts = []  # (start, end, marked) pieces of this segment
        p = off
        while mi < len(marks) and marks[mi][0] < end:
            s, e = marks[mi]
            s = max(s, p)
            if s > p:
                cuts.append((p, s, False))
            e2 = min(e, end)
            if e2 > s:
                cuts.append((s, e2, True))
            p = max(p, e2)
            if e <= end:
                mi += 1
            else:
                break
        if p < end:
            cuts.append((p, end, False))
        for s, e, marked in cuts:
            piece = str(escape(text[s - off:e - off]))
            if marked:
                piece = f"<mark>{piece}</mark>"
            if cls:
                piece = f'<span class="{cls}">{piece}</span>'
            parts.append(piece)
        off = end
    return Markup("".join(parts))



def ansi_plain(text: str) -> str:
    """The text a reader sees: escapes and controls removed."""
    if "\x1b" not in text and not has_controls(text):
        return text
    return "".join(t for t, _ in ansi_segments(text))
