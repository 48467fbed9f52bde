"""A folder's rows: every name escaped, links relative, nothing unencodable."""

from app.filebrowser import Entry
from app.filerows import rows_html
from app.fsnames import quote_path


def entry(name, kind="file", **kw):
    path = "/x/" + name
    e = Entry(name=name, path=path, kind=kind, size=kw.pop("size", 12), mode=0o644,
              owner=kw.pop("owner", "root"), group=kw.pop("group", "root"), mtime=1.7e9,
              q=quote_path(path), **kw)
    if e.opens:
        e.oq = quote_path(e.opens)
    return e


def test_hostile_names_are_escaped_and_links_relative():
    rows = [entry("<img src=x onerror=alert(1)>"), entry("a\nb\u202ec.exe"),
            entry("bad\udcff", "dir", items=3, total=4096),
            entry("ln", "symlink", link="<b>\udcfe", opens="/etc/\udcfe"),
            entry("pipe", "fifo"), entry("o", owner="<i>evil</i>", group="g\u202e")]
    html = str(rows_html(rows, "/containers/abc/files/download"))
    html.encode("utf-8")  # no lone surrogate made it through
    assert "<img" not in html and "<b>" not in html and "<i>" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert '\\u202E' in html and "\u202e" not in html and "\\n" in html
    assert 'href="?path=/x/bad%FF"' in html and 'href="?path=/etc/%FE"' in html
    assert 'href="/containers/abc/files/download?path=/x/bad%FF"' in html
    assert html.count("<tr ") == 6
    assert "named pipe" in html and "4.0 KB <small class=\"muted\">3 items</small>" in html
    # a fifo cannot be downloaded; files and folders can
    assert html.count(">download</a>") == 4
    # a hard link is a file: its mode reads as one, it downloads
    hard = str(rows_html([entry("h", "hardlink", link="/x/a", opens="/x/a", size=5)], "/d"))
    assert "<code>-rw-r--r--</code>" in hard and ">download</a>" in hard and "5 B" in hard
