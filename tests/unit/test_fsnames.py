"""Hostile file names shown and handed to browsers safely."""

import re
from urllib.parse import unquote

import pytest

from app.fsnames import content_disposition, mode_text, name_html, plain, quote_path, text_html


def test_markup_is_escaped():
    html = str(name_html('<img src=x onerror="alert(1)">&amp;'))
    assert "<img" not in html and "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&amp;amp;" in html


@pytest.mark.parametrize("name, shown", [
    ("invoice\u202efdp.exe", "invoice<span class=\"esc\" title=\"right-to-left override\">\\u202E</span>fdp.exe"),
    ("two\nlines", "two<span class=\"esc\" title=\"line feed\">\\n</span>lines"),
    ("bell\x07", "bell<span class=\"esc\" title=\"control character\">\\x07</span>"),
    ("not\udcffutf8", "not<span class=\"esc\" title=\"byte 0xFF, not UTF-8\">\\xFF</span>utf8"),
    ("a\u200bb", "a<span class=\"esc\" title=\"zero-width space\">\\u200B</span>b"),
    ("c1\x9b", "c1<span class=\"esc\" title=\"control character\">\\x9B</span>"),
])
def test_hidden_characters_become_visible(name, shown):
    assert str(name_html(name)) == shown


def test_ordinary_names_pass_as_they_are():
    for name in ("nginx.conf", "ünïcødé ☃.txt", "שלום.txt", "a b c", "emoji 👩‍💻"):
        assert str(name_html(name)) == name


def test_plain_text_has_no_surrogates_nor_controls():
    assert plain("x\udcff\n\u202ey") == "x\ufffd\\n\\u202Ey"
    plain("x\udcff").encode("utf-8")  # encodable


def test_quote_path_keeps_bytes():
    q = quote_path("/a b/\u00e9/\udcff?&#")
    assert q == "/a%20b/%C3%A9/%FF%3F%26%23"
    assert unquote(q, errors="surrogateescape") == "/a b/\u00e9/\udcff?&#"


def test_text_rows_keep_tabs_and_show_bidi():
    html = str(text_html(["\tindent <b>", "return\u202e // trojan source", ""]))
    assert html.count('<span class="ln">') == 3
    assert "\tindent &lt;b&gt;" in html
    assert "\\u202E" in html and "\u202e" not in html


@pytest.mark.parametrize("kind, mode, text", [
    ("dir", 0o755, "drwxr-xr-x"), ("file", 0o644, "-rw-r--r--"), ("symlink", 0o777, "lrwxrwxrwx"),
    ("file", 0o4755, "-rwsr-xr-x"), ("dir", 0o1777, "drwxrwxrwt"), ("char", 0o666, "crw-rw-rw-"),
    ("fifo", 0o600, "prw-------"), ("file", 0o2750, "-rwxr-s---"),
])
def test_mode_text(kind, mode, text):
    assert mode_text(kind, mode) == text


@pytest.mark.parametrize("name", [
    'evil"; filename="x.html', "invoice\u202efdp.exe", "line\r\nContent-Type: text/html",
    "..\\..\\windows", "/etc/passwd", "\udcff\udcfe", "ünï ☃.txt", "." * 5, "n" * 4000,
    "<script>.txt", "",
])
def test_content_disposition_is_safe(name):
    h = content_disposition(name)
    assert h.isascii() and "\r" not in h and "\n" not in h
    m = re.fullmatch(r'attachment; filename="([A-Za-z0-9._+-]+)"(?:; filename\*=UTF-8\'\'([A-Za-z0-9%._~-]+))?', h)
    assert m, h
    ascii_name, star = m.group(1), m.group(2)
    assert not ascii_name.startswith(".") and len(ascii_name) <= 150
    if star:
        full = unquote(star, errors="strict")
        assert not full.startswith(".") and len(full) <= 200
        assert not re.search("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069/\\\\]", full)
    if name == "ünï ☃.txt":
        assert unquote(star) == "ünï ☃.txt"
    if name == "invoice\u202efdp.exe":
        assert star is None and ascii_name == "invoice_fdp.exe"


def test_content_disposition_plain_name_has_no_star():
    assert content_disposition("nginx.conf") == 'attachment; filename="nginx.conf"'
    assert content_disposition("") == 'attachment; filename="download"'
