"""The archive's stat header and the archive stream (chunked or not), without
an engine: the header values are ones dockerd 20.10 sent."""

import base64
import json

import pytest

from app.gateway.archive import Archive, PathStat
from app.gateway.exceptions import EngineError
from logkit import chunk_encode


def header(**stat) -> str:
    return base64.b64encode(json.dumps(stat).encode()).decode()


@pytest.mark.parametrize("mode, kind, perm", [
    (2147484141, "dir", 0o755),  # /data
    (134218239, "symlink", 0o777),
    (420, "file", 0o644),
    (2147484141 | (1 << 20), "dir", 0o1755),  # sticky, as /tmp
    (0o755 | (1 << 23), "file", 0o4755),  # setuid
    ((1 << 26) | (1 << 21) | 0o666, "char", 0o666),  # /dev/null
    ((1 << 26) | 0o660, "block", 0o660),
    ((1 << 25) | 0o644, "fifo", 0o644),
    ((1 << 24) | 0o755, "socket", 0o755),
])
def test_stat_kinds_and_permissions(mode, kind, perm):
    s = PathStat.from_header(header(name="x", size=1, mode=mode, mtime="2026-12-01T17:20:58Z",
                                    linkTarget=""))
    assert (s.kind, s.perm) == (kind, perm)


def test_stat_of_a_link_and_bad_headers():
    s = PathStat.from_header("eyJuYW1lIjoicmVsIiwic2l6ZSI6NiwibW9kZSI6MTM0MjE4MjM5LCJtdGltZSI6"
                             "IjIwMjYtMTItMDFUMTc6MjA6NTguNzQxNzQzNzk0WiIsImxpbmtUYXJnZXQiOiIvZXRjIn0=")
    assert (s.name, s.size, s.kind, s.link_target) == ("rel", 6, "symlink", "/etc")
    for bad in (None, "", "!!!not base64!!!", base64.b64encode(b"[1, 2]").decode(),
                base64.b64encode(b'{"size": "big"}').decode()):
        with pytest.raises(EngineError):
            PathStat.from_header(bad)


def _stat():
    return PathStat("data", 4096, 2147484141, "2026-12-01T17:20:58Z")


@pytest.mark.parametrize("chunked", [False, True])
def test_archive_stream_gives_the_body_and_closes(chunked):
    body = bytes(range(256)) * 1000
    closed = []
    wire = chunk_encode(body, [7000, 31, 32768]) if chunked else body
    pieces = [wire[i:i + 4096] for i in range(0, len(wire), 4096)]
    a = Archive(_stat(), iter(pieces), chunked=chunked, close=closed.append, path="/data")
    assert b"".join(a) == body and a.bytes == len(body)
    assert closed == [chunked]  # a chunked body read to its last chunk is clean


def test_archive_stream_cut_short_is_an_error_and_still_closes():
    wire = chunk_encode(b"x" * 5000, [1000])[:-5]  # no last chunk
    closed = []
    a = Archive(_stat(), iter([wire]), chunked=True, close=closed.append, path="/data")
    with pytest.raises(EngineError, match="broke off"):
        b"".join(a)
    assert closed == [False]
    # abandoned half way: close() closes once
    closed.clear()
    a = Archive(_stat(), iter([b"a", b"b"]), chunked=False, close=closed.append)
    it = iter(a)
    next(it)
    it.close()
    a.close()
    assert closed == [False]
