"""The file browser's pure parts: the request's path, links, a folder's
members from its tar, a file's text or binary verdict."""

import io
import tarfile

import pytest

from app import filebrowser as fb
from app.gateway.archive import PathStat
from app.gateway.tarstream import TarReader
from app.params import InputError


@pytest.mark.parametrize("raw, path", [
    (None, "/"), ("", "/"), ("/", "/"), ("etc", "/etc"), ("/etc/", "/etc"), ("//etc//nginx/", "/etc/nginx"),
    ("/../../..", "/"), ("/a/../../b", "/b"), ("../../etc/passwd", "/etc/passwd"), ("/./a/./b/.", "/a/b"),
    ("///", "/"), ("/a b/c\\d", "/a b/c\\d"), ("/\u202etxt", "/\u202etxt"), ("/\udcff", "/\udcff"),
    ("/...", "/..."), ("/a/..b", "/a/..b"),
])
def test_clean_path(raw, path):
    assert fb.clean_path(raw) == path


@pytest.mark.parametrize("raw", ["/a\x00b", "/a\nb", "/tab\there", "\r", "/x\x7f", "/c1\x85", "/\x1b[31m"])
def test_control_characters_are_refused(raw):
    with pytest.raises(InputError, match="control character"):
        fb.clean_path(raw)


def test_length_is_bounded():
    fb.clean_path("/" + "a" * 4095)
    with pytest.raises(InputError, match="4,097 bytes"):
        fb.clean_path("/" + "a" * 4096)
    with pytest.raises(InputError):  # counted in bytes, not characters
        fb.clean_path("/" + "é" * 2100)


def test_query_path_keeps_bytes_that_are_not_utf8():
    assert fb.query_path(b"path=%2Fa%FFb&x=1") == "/a\udcffb"
    assert fb.query_path(b"path=/caf%C3%A9") == "/café"
    assert fb.query_path(b"x=1") is None
    assert fb.query_path(b"path=") == ""
    assert fb.query_path(b"path=a%2Bb+c") == "a+b c"


@pytest.mark.parametrize("folder, target, opens", [
    ("/data", "/etc/passwd", "/etc/passwd"), ("/data", "../etc", "/etc"),
    ("/data", "../../../../etc", "/etc"), ("/", "bin/sh", "/bin/sh"), ("/a/b", "./c", "/a/b/c"),
    ("/data", "evil\nname", ""),  # a control character: shown, not linked
])
def test_resolve_link(folder, target, opens):
    assert fb.resolve_link(folder, target) == opens


def test_crumbs():
    assert [(c.name, c.path, c.q) for c in fb.crumbs("/etc/my conf")] == [
        ("/", "/", "/"), ("etc", "/etc", "/etc"), ("my conf", "/etc/my conf", "/etc/my%20conf")]
    assert [c.path for c in fb.crumbs("/")] == ["/"]


def _tar(members) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, kind, data, link in members:
            ti = tarfile.TarInfo(name)
            ti.type, ti.linkname, ti.uname = kind, link, "root"
            ti.size = len(data) if data else 0
            tf.addfile(ti, io.BytesIO(data) if data else None)
    return buf.getvalue()


class _Arch:
    def __init__(self, name):
        self.stat = PathStat(name, 4096, 2147484141, "2026-12-01T17:20:58Z")


F, D, L, H = tarfile.REGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE
FOLDER = [("data/", D, None, ""), ("data/a.txt", F, b"abc", ""), ("data/sub/", D, None, ""),
          ("data/sub/x", F, b"x" * 10, ""), ("data/sub/deeper/", D, None, ""),
          ("data/sub/deeper/y", F, b"y" * 100, ""), ("data/ln", L, None, "../etc"),
          ("data/hard", H, None, "data/a.txt"), ("data/zz", F, b"z", "")]


def test_members_of_a_folder_with_counts_below():
    reader = TarReader([_tar(FOLDER)])
    entries, folder, last = fb._members("/data", reader)
    assert reader.stopped == "end" and last == "zz"
    by = {e.name: e for e in entries}
    assert sorted(by) == ["a.txt", "hard", "ln", "sub", "zz"]
    assert (by["sub"].items, by["sub"].total, by["sub"].cut) == (3, 110, False)
    assert by["ln"].link == "../etc" and by["ln"].opens == "/etc" and by["ln"].oq == "/etc"
    assert by["hard"].opens == "/data/a.txt" and by["hard"].size == 3
    assert by["a.txt"].path == "/data/a.txt" and by["a.txt"].size == 3
    assert folder.kind == "dir" and folder.path == "/data"
    entries.sort(key=fb._sort_key)
    assert [e.name for e in entries] == ["sub", "a.txt", "hard", "ln", "zz"]  # folders first


def test_a_hard_link_to_a_name_with_a_control_character_is_shown_not_linked():
    # the engine writes a second name of one inode as a hard link to the first
    tar = _tar([("h/", D, None, ""), ("h/a\nb", F, b"x", ""), ("h/z", H, None, "h/a\nb"),
                ("h/s", L, None, "a\nb")])
    entries, _, _ = fb._members("/h", TarReader([tar]))
    by = {e.name: e for e in entries}
    assert by["z"].link == "/h/a\nb" and by["z"].opens == "" and by["z"].oq == ""
    assert by["s"].link == "a\nb" and by["s"].opens == ""
    assert by["a\nb"].q == ""  # the row itself cannot be opened either, and says so


def test_members_of_the_root():
    tar = _tar([("/", D, None, ""), ("/bin/", D, None, ""), ("/bin/sh", F, b"#!", ""),
                ("/etc/", D, None, ""), ("/.dockerenv", F, b"", "")])
    entries, folder, _ = fb._members("/", TarReader([tar]))
    assert sorted((e.name, e.path) for e in entries) == [(".dockerenv", "/.dockerenv"),
                                                        ("bin", "/bin"), ("etc", "/etc")]


def test_a_cut_listing_names_where_it_stopped():
    reader = TarReader([_tar(FOLDER)], max_entries=5)  # the folder, a.txt, sub, sub/x, deeper
    entries, _, last = fb._members("/data", reader)
    assert reader.stopped == "entries"
    assert last == "sub" and [e.name for e in entries] == ["a.txt", "sub"]
    assert next(e for e in entries if e.name == "sub").cut


@pytest.mark.parametrize("data, binary", [
    (b"hello\nworld\n", ""), (b"", ""), (b"\x7fELF\x02\x01\x01\x00\x00", "NUL byte (at byte 7)"),
    (b"caf\xc3\xa9\n", ""),
])
def test_looks_binary(data, binary):
    assert binary in fb.looks_binary(data) and bool(fb.looks_binary(data)) == bool(binary)


def test_decode_text_and_not_text():
    assert fb._decode("naïve".encode(), False) == ("naïve", 0, False)
    # a character cut in two at the 1 MiB limit is not a fault
    cut = ("x" * 10 + "é").encode()[:-1]
    assert fb._decode(cut, True) == ("x" * 10, 0, False)
    text, bad, not_text = fb._decode(b"latin-1 caf\xe9 here\n", False)
    assert bad == 1 and not not_text and "\ufffd" in text
    assert fb._decode(bytes(range(128, 256)) * 4, False)[2]  # mostly not UTF-8: not text


def test_read_file_text_cut_and_binary():
    big = ("x" * 99 + "\n").encode() * 15_000  # 1.5 MB in long lines: cut at 1 MiB
    tar = _tar([("f.txt", F, big, "")])
    r = TarReader([tar])
    view = fb._read_file("/f.txt", _Arch("f.txt"), r, next(iter(r)))
    assert view.cut and view.shown == fb.TEXT_LIMIT and not view.binary and not view.more_lines
    assert len(view.lines) == -(-fb.TEXT_LIMIT // 100) and view.lines[0] == "x" * 99
    small = b"ab\n" * 100_000  # 300 KB in short lines: cut at 20,000 lines
    r = TarReader([_tar([("s.txt", F, small, "")])])
    view = fb._read_file("/s.txt", _Arch("s.txt"), r, next(iter(r)))
    assert view.cut and view.more_lines and len(view.lines) == fb.LINES_LIMIT
    assert view.shown == fb.LINES_LIMIT * 3
    tar = _tar([("b.bin", F, b"\x00\x01\x02" * 100, "")])
    r = TarReader([tar])
    view = fb._read_file("/b.bin", _Arch("b.bin"), r, next(iter(r)))
    assert view.binary and "NUL" in view.why_binary and view.head == (b"\x00\x01\x02" * 100)[:256]
    assert not view.cut and view.lines == []


def test_hexdump():
    rows = fb.hexdump(b"AB\x00\xff" * 5)
    assert rows[0] == ("00000000", "41 42 00 ff 41 42 00 ff 41 42 00 ff 41 42 00 ff", "AB..AB..AB..AB..")
    assert rows[1] == ("00000010", "41 42 00 ff", "AB..")
