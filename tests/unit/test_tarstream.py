"""The streaming tar reader against Python's tarfile as the witness: every
format, any split points, contents skipped without being kept, budgets,
truncated and malformed archives."""

from __future__ import annotations

import io
import random
import tarfile
import tracemalloc

import pytest

from app.gateway.tarstream import BLOCK, TarReader, parse_pax, read_all

LONG_DIR = "/".join(["d" * 200] * 19)  # a path of about 3,800 bytes
NAME_255 = "n" * 251 + ".txt"


def _info(name, kind=tarfile.REGTYPE, size=0, mode=0o644, **kw):
    ti = tarfile.TarInfo(name)
    ti.type = kind
    ti.size = size
    ti.mode = mode
    ti.mtime = kw.pop("mtime", 1_700_000_000)
    ti.uid, ti.gid = kw.pop("uid", 1000), kw.pop("gid", 1001)
    ti.uname, ti.gname = kw.pop("uname", "alice"), kw.pop("gname", "staff")
    for k, v in kw.items():
        setattr(ti, k, v)
    return ti


def build(fmt, members, **kw) -> bytes:
    """A tar made by tarfile: members are (TarInfo, content or None)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt, encoding="utf-8",
                      errors="surrogateescape", **kw) as tf:
        for ti, data in members:
            tf.addfile(ti, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def sample(fmt) -> list:
    rnd = random.Random(7)
    big = bytes(rnd.getrandbits(8) for _ in range(70_000))
    out = [
        (_info("top/", tarfile.DIRTYPE, mode=0o755), None),
        (_info("top/hello.txt", size=6), b"hello\n"),
        (_info("top/empty"), b""),
        (_info("top/big.bin", size=len(big), mode=0o4755), big),
        (_info("top/link", tarfile.SYMTYPE, linkname="../etc/passwd", mode=0o777), None),
        (_info("top/hard", tarfile.LNKTYPE, linkname="top/hello.txt"), None),
        (_info("top/fifo", tarfile.FIFOTYPE), None),
        (_info("top/null", tarfile.CHRTYPE, devmajor=1, devminor=3), None),
        (_info("top/ünïcødé ☃.txt", size=3), b"abc"),
        (_info("top/<img src=x onerror=alert(1)>\n\u202etxt.exe", size=1), b"x"),
    ]
    if fmt != tarfile.USTAR_FORMAT:
        out += [
            (_info("top/" + NAME_255, size=2), b"ok"),
            (_info("top/" + LONG_DIR + "/deep.txt", size=4), b"deep"),
            (_info("top/longlink", tarfile.SYMTYPE, linkname="/" + LONG_DIR), None),
            (_info("top/bad\udcffbyte", size=1), b"b"),
        ]
    else:  # ustar: up to 255 bytes through the prefix field
        out.append((_info("top/" + "p" * 120 + "/" + "q" * 90, size=2), b"pq"))
    return out


def witness(data: bytes) -> list[tuple]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:", encoding="utf-8",
                      errors="surrogateescape") as tf:
        return [(m.name.rstrip("/") if m.isdir() else m.name, m.type, m.size if m.isreg() else 0,
                 m.mode & 0o7777, m.uid, m.gid, m.uname, m.gname, int(m.mtime), m.linkname)
                for m in tf.getmembers()]


TYPES = {"file": (tarfile.REGTYPE, tarfile.AREGTYPE), "dir": (tarfile.DIRTYPE,),
         "symlink": (tarfile.SYMTYPE,), "hardlink": (tarfile.LNKTYPE,),
         "fifo": (tarfile.FIFOTYPE,), "char": (tarfile.CHRTYPE,)}


def ours(entries) -> list[tuple]:
    out = []
    for e in entries:
        ttype = e.typeflag.encode()
        assert ttype in TYPES[e.kind]
        out.append((e.name.rstrip("/") if e.kind == "dir" else e.name, ttype, e.size, e.mode,
                    e.uid, e.gid, e.uname, e.gname, int(e.mtime), e.linkname))
    return out


def pieces(data: bytes, cuts: list[int]) -> list[bytes]:
    out, prev = [], 0
    for c in sorted(set(cuts)) + [len(data)]:
        out.append(data[prev:c])
        prev = c
    return out


FORMATS = [tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT]


@pytest.mark.parametrize("fmt", FORMATS, ids=["ustar", "gnu", "pax"])
def test_members_equal_tarfiles(fmt):
    data = build(fmt, sample(fmt))
    entries, reader = read_all([data])
    assert reader.stopped == "end" and reader.reason == "the end of the archive"
    assert ours(entries) == witness(data)
    assert reader.entries == len(entries)
    kinds = {e.name.rstrip("/").rsplit("/", 1)[-1]: e.kind for e in entries}
    assert kinds["link"] == "symlink" and kinds["hard"] == "hardlink" and kinds["fifo"] == "fifo"
    assert kinds["null"] == "char" and kinds["top"] == "dir" and kinds["big.bin"] == "file"
    null = next(e for e in entries if e.name.endswith("null"))
    assert (null.devmajor, null.devminor) == (1, 3)
    big = next(e for e in entries if e.name.endswith("big.bin"))
    assert big.mode == 0o4755


@pytest.mark.parametrize("fmt", FORMATS, ids=["ustar", "gnu", "pax"])
def test_any_split_points_read_the_same(fmt):
    data = build(fmt, sample(fmt))
    expected = ours(read_all([data])[0])
    rnd = random.Random(fmt)
    for _ in range(25):
        cuts = [rnd.randrange(len(data)) for _ in range(rnd.randrange(1, 60))]
        assert ours(read_all(pieces(data, cuts))[0]) == expected
    # one byte at a time, through the headers and a little content
    head = build(fmt, sample(fmt)[:3])
    assert ours(read_all([head[i:i + 1] for i in range(len(head))])[0]) == \
        ours(read_all([head])[0])


@pytest.mark.parametrize("fmt", FORMATS, ids=["ustar", "gnu", "pax"])
def test_content_is_handed_over_piece_by_piece(fmt):
    members = sample(fmt)
    data = build(fmt, members)
    want = {ti.name: content for ti, content in members if ti.isreg()}
    rnd = random.Random(3)
    reader = TarReader(pieces(data, [rnd.randrange(len(data)) for _ in range(40)]))
    got = {}
    for e in reader:
        if e.kind == "file":
            got[e.name] = b"".join(reader.content())
    assert got == want
    assert reader.stopped == "end"
    # a limit: the first bytes, the rest skipped on the next step
    reader = TarReader([data])
    heads = {e.name: b"".join(reader.content(1000)) for e in reader if e.kind == "file"}
    assert heads == {k: v[:1000] for k, v in want.items()}


def test_skipped_content_is_never_kept():
    """A 64 MB member streamed in 64 KB pieces: read past, memory stays flat."""
    size = 64 << 20
    header = _info("huge.bin", size=size).tobuf(tarfile.GNU_FORMAT)
    tail = _info("after.txt", size=2).tobuf(tarfile.GNU_FORMAT) + b"ok".ljust(BLOCK, b"\0")
    piece = bytes(65536)

    def stream():
        yield header
        for _ in range(size // len(piece)):
            yield piece
        yield tail + bytes(2 * BLOCK)

    tracemalloc.start()
    try:
        reader = TarReader(stream())
        names = [e.name for e in reader]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert names == ["huge.bin", "after.txt"] and reader.stopped == "end"
    assert reader.bytes >= size
    assert peak < 2 << 20, f"{peak:,} bytes held while skipping 64 MB"


def test_entry_budget_stops_and_says_so():
    data = build(tarfile.PAX_FORMAT, [(_info(f"f{i}", size=1), b"x") for i in range(10)])
    entries, reader = read_all([data], max_entries=4)
    assert [e.name for e in entries] == ["f0", "f1", "f2", "f3"]
    assert reader.stopped == "entries" and "4 entries" in reader.reason
    # exactly as many as the budget: that is the end, not a cut
    entries, reader = read_all([data], max_entries=10)
    assert len(entries) == 10 and reader.stopped == "end"


def test_byte_budget_stops_before_reading_past_it():
    big = bytes(200_000)
    data = build(tarfile.GNU_FORMAT, [(_info("a", size=10), b"0123456789"),
                                      (_info("big", size=len(big)), big),
                                      (_info("z", size=1), b"z")])
    pulled = []

    def stream():
        for i in range(0, len(data), 4096):
            pulled.append(i)
            yield data[i:i + 4096]

    entries, reader = read_all(stream(), max_bytes=50_000)
    assert [e.name for e in entries] == ["a", "big"]  # its header is within the budget
    assert reader.stopped == "bytes" and "50,000" in reader.reason
    assert reader.bytes <= 50_000
    assert len(pulled) * 4096 < 60_000  # the big content was not read


def test_base256_numbers_huge_size_and_negative_time():
    """GNU base-256: a 10 GiB member (header only here: the budget stops before
    its content) and a time before 1970."""
    ti = _info("ten-gib.img", size=10 << 30, mtime=-86_400 * 400)
    data = ti.tobuf(tarfile.GNU_FORMAT)
    assert data[124] & 0x80  # the size field is base-256 indeed
    entries, reader = read_all([data], max_bytes=1 << 20)
    assert len(entries) == 1 and entries[0].size == 10 << 30
    assert entries[0].mtime == -86_400 * 400
    assert reader.stopped == "bytes"


def test_global_and_per_member_pax_headers():
    data = build(tarfile.PAX_FORMAT,
                 [(_info("a.txt", size=1), b"a"),
                  (_info("b.txt", size=1, pax_headers={"uname": "bob", "mtime": "1700000000.5"}),
                   b"b")],
                 pax_headers={"gname": "global-group", "comment": "made for a test"})
    assert b"g" in data[156:157]  # a global header first
    entries, reader = read_all([data])
    assert [(e.name, e.uname, e.gname) for e in entries] == [
        ("a.txt", "alice", "global-group"), ("b.txt", "bob", "global-group")]
    assert entries[1].mtime == 1700000000.5
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:  # the witness agrees
        assert [(m.uname, m.gname) for m in tf.getmembers()] == [
            ("alice", "global-group"), ("bob", "global-group")]


def test_header_only_types_have_no_content_whatever_their_size_says():
    """As Go's archive/tar reads them (the Engine writes with it)."""
    link = _info("link", tarfile.SYMTYPE, linkname="target")
    raw = bytearray(link.tobuf(tarfile.USTAR_FORMAT))
    raw[124:136] = b"%011o\0" % 1024  # a size on a symlink
    raw[148:156] = b" " * 8
    raw[148:156] = b"%06o\0 " % sum(raw)
    after = _info("after", size=2).tobuf(tarfile.USTAR_FORMAT) + b"ok".ljust(BLOCK, b"\0")
    entries, reader = read_all([bytes(raw) + after + bytes(1024)])
    assert [(e.name, e.kind, e.size) for e in entries] == [("link", "symlink", 0),
                                                          ("after", "file", 2)]
    assert reader.stopped == "end"


def test_signed_checksum_is_accepted():
    ti = _info("caf\xe9", size=0)  # latin-1 name: a byte above 127
    raw = bytearray(ti.tobuf(tarfile.GNU_FORMAT, encoding="latin-1"))
    raw[148:156] = b" " * 8
    signed = sum(b - 256 if b > 127 else b for b in raw)
    raw[148:156] = b"%06o\0 " % signed
    entries, reader = read_all([bytes(raw) + bytes(1024)])
    assert entries[0].name == "caf\udce9" and reader.stopped == "end"


def test_truncated_archives_say_where():
    data = build(tarfile.GNU_FORMAT, [(_info("a.txt", size=5000), b"a" * 5000),
                                      (_info("b.txt", size=1), b"b")])
    entries, reader = read_all([data[:BLOCK + 100]])  # inside a's content
    assert [e.name for e in entries] == ["a.txt"]
    assert reader.stopped == "truncated" and "before the end" in reader.reason
    entries, reader = read_all([data[:300]])  # inside the first header
    assert entries == [] and reader.stopped == "truncated" and "inside a header" in reader.reason
    reader = TarReader([data[:BLOCK + 100]])  # reading the content itself
    e = next(iter(reader))
    assert len(b"".join(reader.content())) == 100 and reader.stopped == "truncated"
    # ended between members, without the end marker: lenient, as tar(1) is
    cut = BLOCK + 5120 + BLOCK * 2
    entries, reader = read_all([data[:cut]])
    assert [e.name for e in entries] == ["a.txt", "b.txt"]
    assert reader.stopped == "end" and "without its end marker" in reader.reason
    assert read_all([b""])[1].stopped == "end"


def test_malformed_archives_are_named_not_raised():
    entries, reader = read_all([b"this is not a tar archive at all".ljust(2048, b"!")])
    assert entries == [] and reader.stopped == "malformed"
    good = build(tarfile.GNU_FORMAT, [(_info("a", size=1), b"a")])
    bad = bytearray(good)
    bad[10] ^= 0x55  # the checksum no longer matches
    entries, reader = read_all([bytes(bad)])
    assert reader.stopped == "malformed" and "checksum" in reader.reason
    # a pax header whose record does not fit its length
    pax = build(tarfile.PAX_FORMAT, [(_info("x" * 150, size=1), b"a")])
    i = pax.index(b" path=")
    broken = bytearray(pax)
    broken[i - 3:i] = b"999"
    broken[148:156] = b" " * 8
    broken[148:156] = b"%06o\0 " % sum(broken[:BLOCK])
    entries, reader = read_all([bytes(broken)])
    assert reader.stopped == "malformed" and "pax record" in reader.reason
    # a meta header beyond the limit
    huge = build(tarfile.GNU_FORMAT, [(_info("y" * 5000, size=1), b"a")])
    entries, reader = read_all([huge], meta_max=1000)
    assert reader.stopped == "malformed" and "beyond" in reader.reason


def test_parse_pax_records():
    rec = lambda k, v: (lambda body: b"%d %s" % (len(body) + len(str(len(body) + 3)) + 1, body)
                        )(k + b"=" + v + b"\n")  # noqa: E731
    data = rec(b"path", b"a b=c\xff") + rec(b"mtime", b"1.5")
    assert parse_pax(data) == {"path": "a b=c\udcff", "mtime": "1.5"}
