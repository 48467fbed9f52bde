"""ANSI escapes from a container made safe: SGR to classes, the rest stripped, escaped."""

from markupsafe import Markup

from app.ansi import ansi_plain, ansi_segments, render_line
from app.logsearch import Search


def test_hostile_sgr_parameters_do_not_break_the_line():
    segs = ansi_segments("\x1b[" + "1" * 5000 + "mloud\x1b[31;" + "7" * 4400 + "mred")
    assert "".join(text for text, _ in segs) == "loudred"


def test_ansi_sgr_to_classes_and_everything_else_stripped():
    segs = ansi_segments("\x1b[31mred\x1b[0m plain \x1b[1;92mbold\x1b[39m \x1b[38;5;21mblue\x1b[m")
    assert segs == [("red", "af1"), (" plain ", ""), ("bold", "af10 ab-b"), (" ", "ab-b"),
                    ("blue", "af4 ab-b")]
    text = "a\x1b]0;title\x07b\x1b[2Jc\x1b[?25ld\x1bMe\x1b(Bf\x00g\rh\x9b31mi\x1b"
    assert ansi_plain(text) == "abcdefghi"
    html = str(render_line(ansi_segments(text), None))
    assert "\x1b" not in html and "\x00" not in html and "\x9b" not in html


def test_render_is_escaped_and_highlights_across_colour_changes():
    text = '<img src=x onerror=alert(1)> \x1b[31m"red"\x1b[0m&'
    segs = ansi_segments(text)
    out = render_line(segs, None)
    assert isinstance(out, Markup)
    assert "<img" not in out and "&lt;img src=x onerror=alert(1)&gt;" in out
    assert '<span class="af1">&#34;red&#34;</span>&amp;' in out
    s = Search("1)> \x22R")  # matches across the colour boundary
    spans = s.spans(ansi_plain(text))
    html = str(render_line(segs, spans))
    assert "<mark>1)&gt; </mark>" in html and '<span class="af1"><mark>&#34;r</mark></span>' in html


def test_carriage_returns_as_a_terminal_shows_them():
    from app.ansi import carriage_returns
    assert carriage_returns("plain") == "plain"
    assert carriage_returns("cr1\rcr2") == "cr2"
    assert carriage_returns("10%\r20%\r30%") == "30%"
    assert carriage_returns("abcd\rX") == "Xbcd"  # written over the start, the rest stays
    assert carriage_returns("line\r") == "line" and carriage_returns("line\r\r") == "line"
    assert carriage_returns("\r") == "" and carriage_returns("\rx") == "x"
    # escapes have no known width: the last part written is shown whole
    assert carriage_returns("\x1b[32m10%\x1b[0m\r\x1b[32m20%\x1b[0m") == "\x1b[32m20%\x1b[0m"
    # a part of escapes alone written last shows nothing: the text before it stays
    assert ansi_plain(carriage_returns("\x1b[32mOK\r\x1b[0m")) == "OK"
    assert ansi_plain(carriage_returns("done\r\x1b[?25h")) == "done"
    assert carriage_returns("abcdef\rxy\rZ") == "Zycdef"
    many = "a" * 8000 + "\ry" * 4000  # thousands of CRs: one pass, not a copy per CR
    assert carriage_returns(many) == "y" + "a" * 7999


def test_bidirectional_controls_are_shown_not_obeyed():
    from app.ansi import unbidi
    assert unbidi("plain") == "plain" and unbidi("caf\u00e9 \U0001f642") == "caf\u00e9 \U0001f642"
    spoof = "invoice\u202efdp.exe"
    assert unbidi(spoof) == "invoice\ufffdfdp.exe" and len(unbidi(spoof)) == len(spoof)
    assert unbidi("\u2066a\u2069\u202ab\u202c") == "\ufffda\ufffd\ufffdb\ufffd"


def test_raw_json_shows_reordering_characters_as_their_escapes():
    import json
    from app.display import pretty_json
    value = {"odd": "invoice\u202efdp.exe", "fine": "caf\u00e9 \U0001f642"}
    text = pretty_json(value)
    assert "\u202e" not in text and "invoice\\u202efdp.exe" in text
    assert "caf\u00e9 \U0001f642" in text  # the rest as it reads
    assert json.loads(text) == value  # still the same JSON
