"""The logs page read as it is sent (logview.LiveTail): the same rows, counts
and follow cursor as the page read whole, whatever the lines hold and however
the bytes come; plain batches (logstream.PlainBatch) are only a faster way to
the same HTML."""

from __future__ import annotations

import random
from functools import partial

import pytest

from app import logview
from app.gateway.exceptions import EngineError
from app.gateway.frames import mux
from app.gateway.logstream import PLAIN_BATCH, LogStream, plain_batch, stamp_of
from app.logreader import LineReader, read_lines
from app.logrows import plain_rows, render_rows

DL = "/containers/abc/logs/download?stdout=1&stderr=1"
BASE_NS = 1_796_640_000_000_000_000  # 2026-12-07T10:40:00Z

# what a line may hold: plain text, markup, tabs, other scripts, characters that
# reorder text, C1 controls, ANSI colour, carriage returns, invalid UTF-8, nothing
PIECES = [b"plain text", b"<script>alert('x')</script> & \"q\"", b"tab\there",
          "caf\u00e9 \u65e5\u672c \U0001f600".encode(), "invoice\u202efdp.exe".encode(),
          "c1\u0085control".encode(), b"\x1b[31mred\x1b[0m", b"cr1\rcr2", b"bad \xff\xfe utf8",
          b"", b"x" * 300, b"{\"level\":\"info\",\"msg\":\"<ok>\"}", b"del\x7fchar"]


def stamp(ns: int) -> bytes:
    return stamp_of(ns)


def frames_for(rng: random.Random, n: int) -> list[tuple[int, bytes]]:
    """(stream, payload) as the engine sends them with timestamps=1: mostly one
    line each, sometimes a long line cut into 16 KB entries, stdout and stderr
    interleaved, their times now and then a little out of order."""
    out, ns = [], BASE_NS
    plain_run = rng.random() < 0.5  # some streams all plain, to use PlainBatch
    for _ in range(n):
        ns += rng.choice([1, 1500, 250_000, 7_000_000])
        stream = rng.choice([1, 1, 2])
        at = ns - (rng.choice([0, 0, 0, 3_000_000]) if stream == 2 else 0)
        if plain_run:
            text = rng.choice([b"plain text", b"tab\there", b"<&>\"'", "\u00e9t\u00e9".encode(), b""])
        else:
            text = rng.choice(PIECES)
        if not plain_run and rng.random() < 0.02:  # a line longer than the engine's 16 KB buffer
            long = b"L" * rng.randint(16385, 40000)
            for i in range(0, len(long), 16384):
                piece = long[i:i + 16384]
                out.append((stream, stamp(at) + b" " + piece
                            + (b"\n" if i + 16384 >= len(long) else b"")))
            continue
        out.append((stream, stamp(at) + b" " + text + b"\n"))
    if rng.random() < 0.3:  # the log ends without a newline
        out.append((1, stamp(ns + 1) + b" no newline at the end"))
    return out


def wire_of(frames, rng: random.Random) -> list[bytes]:
    """The frames as the engine sends them (each its own HTTP chunk), cut into
    reads of any size."""
    body = b"".join(b"%x\r\n%s\r\n" % (len(f), f) for f in (mux(s, p) for s, p in frames))
    body += b"0\r\n\r\n"
    out, i = [], 0
    while i < len(body):
        k = rng.choice([1, 7, 100, 4096, 65536])
        out.append(body[i:i + k])
        i += k
    return out


def stream_of(wire: list[bytes], **kw) -> LogStream:
    return LogStream(iter(wire), chunked=True, tty=False, timestamps=True,
                     container={"Id": "c" * 64, "Name": "/t", "Config": {"Tty": False}}, **kw)


def whole_page(wire, tail: str, ts: bool):
    """What the page showed before it was sent as it is read: all of it read,
    then rendered, and the cursor as logview.read_tail makes it."""
    result = read_lines(stream_of(wire))
    window = result.entries >= int(tail)
    cursor = result.cursor(window=window) or logview.Cursor(0, 0)
    html = str(render_rows(result.lines, timestamps=ts, tty=False, download_url=DL))
    return html, result, cursor


def live_page(wire, tail: str, ts: bool, plain: bool = True, bound: int | None = None):
    o = logview.Opts(tail=tail)
    kw = {} if bound is None else {"bound": bound}
    live = logview.LiveTail(stream_of(wire), o, None, **kw)
    render = partial(render_rows, timestamps=ts, tty=False, download_url=DL)
    pieces = list(live.rows(render, partial(plain_rows, timestamps=ts) if plain else None))
    assert pieces[0] == "" and live.flushes == 1  # the head goes out before the engine is read
    return "".join(pieces[1:]), live


@pytest.mark.parametrize("seed", range(60))
def test_live_rows_equal_the_whole_page(seed):
    rng = random.Random(seed)
    frames = frames_for(rng, rng.choice([5, 300, 1200]))
    wire = wire_of(frames, rng)
    tail = str(rng.choice([len(frames), len(frames) + 10, 5000]))
    for ts in (True, False):
        html, result, cursor = whole_page(wire, tail, ts)
        for plain in (True, False):
            got, live = live_page(wire, tail, ts, plain)
            assert got == html, (seed, ts, plain)
            r = live.result
            assert (r.entries, r.total, r.matched, r.max_ns, r.min_ns) == (
                result.entries, result.total, result.matched, result.max_ns, result.min_ns)
            assert live.cursor == cursor
            assert live.sent == result.matched and live.cut == 0 and live.error is None


def test_plain_batches_are_taken_whole():
    """A log of plain lines goes through PlainBatch (rows by bulk passes), in
    batches of at least PLAIN_BATCH frames but the last."""
    frames = [(1 + i % 2, stamp(BASE_NS + i * 1000) + b" line <%d>\n" % i) for i in range(1000)]
    body = b"".join(wire_of(frames, random.Random(7)))
    wire = [body[i:i + 2000] for i in range(0, len(body), 2000)]  # reads of 2 KB
    batches = list(stream_of(wire).plain_batches())
    plain = [b for b in batches if not isinstance(b, list)]
    assert len(plain) >= 3 and sum(b.n for b in plain) == 1000
    assert all(b.n >= PLAIN_BATCH for b in plain[:-1])
    assert all(b == [] for b in batches if isinstance(b, list))  # the close: nothing left


@pytest.mark.parametrize("payload", [
    b"a\nb\n",  # two lines in one entry
    b"a\rb\n",  # a carriage return
    b"no newline",
    b"a\x00b\n", b"a\x1b[1mb\n", b"a\x7fb\n", b"a\x08b\n",
    b"x" * (16 * 1024 + 1) + b"\n",  # longer than the engine's cut
])
def test_what_is_not_a_plain_line(payload):
    assert plain_batch([(1, stamp(BASE_NS) + b" " + payload)]) is None
    assert plain_batch([(1, stamp(BASE_NS) + b" ok\n"), (2, stamp(BASE_NS) + b" " + payload)]) is None


def test_what_is_a_plain_line():
    ok = [(1, stamp(BASE_NS) + b" tab\tand <markup> & \xc3\xa9\n"), (2, stamp(BASE_NS + 1) + b" \n"),
          (1, stamp(BASE_NS + 2) + b" " + b"y" * (16 * 1024) + b"\n")]
    b = plain_batch(ok)
    assert b is not None and b.n == 3 and b.stamps == [stamp(BASE_NS + i) for i in range(3)]
    for bad_stamp in (b"2026-12-07 10:40:00.000000000Z", b"2026-12-07T10:40:00Z",
                      b"2026-12-07T10:40:00.00000000xZ"):
        assert plain_batch([(1, bad_stamp + b" text\n")]) is None
    assert plain_batch([(17, stamp(BASE_NS) + b" text\n")]) is None  # a piece of a big frame


def test_rows_of_lines_that_reorder_text_or_hold_c1_controls_go_line_by_line():
    for text in ("a\u202eb", "a\u0085b"):
        b = plain_batch([(1, stamp(BASE_NS) + b" " + text.encode() + b"\n")])
        assert b is not None and plain_rows(b, timestamps=True) is None


def test_more_lines_than_the_page_holds_are_cut_and_said():
    """A log whose entries make more lines than the bound (not one the engine
    cuts into lines): the first `bound` go out, the rest are counted."""
    rng = random.Random(3)
    frames = [(1, stamp(BASE_NS + i) + b" a\n") for i in range(40)]
    frames[5] = (1, stamp(BASE_NS + 5) + b" " + b"two\nlines\n" * 30)
    got, live = live_page(wire_of(frames, rng), "40", True, bound=50)
    assert live.sent == 50 and live.cut == live.result.matched - 50 > 0
    assert got.count('<div class="ll ') == 50


def test_a_stream_that_breaks_off_ends_the_rows_and_says_so():
    rng = random.Random(5)
    frames = [(1, stamp(BASE_NS + i) + b" line %d\n" % i) for i in range(600)]
    wire = wire_of(frames, rng)
    cut = b"".join(wire)[:30000]  # the connection closes mid-body
    got, live = live_page([cut], "1000", True)
    assert isinstance(live.error, EngineError)
    shown = got.count('<div class="ll ')
    assert 0 < shown < 600 and "line 0<" in got
    assert live.cursor is not None  # the follow poll still has where to start


def test_a_broken_stream_keeps_its_last_line_and_its_notices():
    """What came before the break is the log: a line still without its
    newline is shown as one, and the stream's notices are kept."""
    frames = [(1, stamp(BASE_NS) + b" whole\n"), (3, b"the engine hiccupped"),
              (2, stamp(BASE_NS + 1) + b" half a line")]
    body = b"".join(b"%x\r\n%s\r\n" % (len(f), f) for f in (mux(s, p) for s, p in frames))
    got, live = live_page([body], "100", True)  # no last chunk: it broke off
    assert isinstance(live.error, EngineError)
    assert "whole" in got and "half a line" in got and "no newline" in got
    assert [n.kind for n in live.result.notices] == ["engine-error"]


def test_a_search_makes_no_plain_rows():
    """A searched page reads line by line: no batch is made into rows only to
    be thrown away."""
    frames = [(1, stamp(BASE_NS + i) + b" line %d\n" % i) for i in range(600)]
    made = []
    o = logview.Opts(tail="1000", q="line 5")
    live = logview.LiveTail(stream_of(wire_of(frames, random.Random(2))), o, o.search())
    render = partial(render_rows, timestamps=True, tty=False, download_url=DL)
    got = "".join(list(live.rows(render, lambda b: made.append(b) or "x"))[1:])
    assert made == [] and live.result.matched == 111 and got.count("<mark>") == 111


def test_a_big_frame_is_not_held_back_with_the_small_ones():
    """Small batches wait for more frames, but not a big frame's pieces: they
    are capped as they come (memory stays flat whatever the stream announces)."""
    small = [mux(1, stamp(BASE_NS + i) + b" s%d\n" % i) for i in range(5)]
    big = mux(1, stamp(BASE_NS + 9) + b" " + b"B" * (3 << 20) + b"\n")
    body = b"".join(small) + big
    wire = [body[i:i + 65536] for i in range(0, len(body), 65536)]
    st = LogStream(iter(wire), chunked=False, tty=False, timestamps=True)
    batches = list(st.plain_batches())
    assert len(batches) >= len(wire) - 1  # a batch per read, not one at the end
    assert sum(len(b) if isinstance(b, list) else b.n for b in batches) == 6


def test_streamable_tails():
    assert logview.streamable(logview.Opts(tail="500"))
    assert logview.streamable(logview.Opts(tail="5000"))
    assert not logview.streamable(logview.Opts(tail="5001"))
    assert not logview.streamable(logview.Opts(tail="all"))


def test_take_plain_refuses_what_read_must_see():
    b = plain_batch([(1, stamp(BASE_NS) + b" x\n")])
    assert not LineReader(tty=True).take_plain(b)
    assert not LineReader(skip=3).take_plain(b)
    r = LineReader()
    r.read([(1, stamp(BASE_NS), BASE_NS, b"no newline yet", 0)])
    assert not r.take_plain(b)  # a line of stdout is pending
    fresh = LineReader()
    assert fresh.take_plain(b) and fresh.r.matched == 1 and fresh.r.max_ns == BASE_NS


def test_a_body_without_chunked_coding_reads_the_same():
    rng = random.Random(11)
    frames = frames_for(rng, 400)
    body = b"".join(mux(s, p) for s, p in frames)
    pieces = [body[i:i + 3000] for i in range(0, len(body), 3000)]

    def stream(chunked_wire, chunked):
        return LogStream(iter(chunked_wire), chunked=chunked, tty=False, timestamps=True,
                         container={"Id": "c" * 64, "Config": {"Tty": False}})

    html, result, cursor = whole_page(wire_of(frames, rng), "5000", True)
    live = logview.LiveTail(stream(pieces, False), logview.Opts(tail="5000"), None)
    got = "".join(list(live.rows(partial(render_rows, timestamps=True, tty=False, download_url=DL),
                                 partial(plain_rows, timestamps=True)))[1:])
    assert got == html and live.cursor == cursor and live.result.matched == result.matched
