"""Log streams for tests: the engine's chunked wire made from frames, and a
LogStream reading it in odd pieces (as a socket would deliver it)."""

from __future__ import annotations

import random

from app.gateway.logstream import LogStream


def chunk_encode(body: bytes, sizes: list[int]) -> bytes:
    """HTTP/1.1 chunked encoding of body, cut into chunks of the given sizes (cycled)."""
    out = []
    pos = 0
    i = 0
    while pos < len(body):
        n = sizes[i % len(sizes)]
        i += 1
        piece = body[pos:pos + n]
        out.append(b"%x\r\n" % len(piece) + piece + b"\r\n")
        pos += n
    return b"".join(out) + b"0\r\n\r\n"


def stream(body: bytes, *, tty=False, timestamps=True, chunked=True, **kw):
    """A LogStream over `body`, sent chunked (in odd chunks) off a fake wire cut at odd places."""
    wire = chunk_encode(body, [5, 300, 11]) if chunked else body
    pieces, prev = [], 0
    rng = random.Random(len(body))
    for c in sorted(set(rng.randrange(1, max(2, len(wire))) for _ in range(12))) + [len(wire)]:
        pieces.append(wire[prev:c])
        prev = c
    closed = []
    s = LogStream(iter(pieces), chunked=chunked, tty=tty, timestamps=timestamps,
                  close=lambda: closed.append(1), **kw)
    s.closed = closed
    return s
