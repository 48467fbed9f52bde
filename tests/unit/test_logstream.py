"""The gateway's log reader: entries and payload out of a (chunked) log
stream, multiplexed or TTY, and the engine's timestamps."""

import datetime as dt
import random
import pytest

from app.gateway.exceptions import EngineError
from app.gateway.frames import STDERR, STDOUT, mux
from app.gateway.logstream import (ENTRY_CAP, LogStream, TtySplitter, ns_to_engine, split_ts,
                                   ts_ns)
from logkit import chunk_encode, stream

TS = "2026-11-27T20:07:43.204780710Z"


def ts_at(i: int) -> str:
    return f"2026-11-27T20:00:00.{i:09d}Z"


def test_timestamps_exact_to_the_nanosecond():
    ns = ts_ns(TS)
    assert ns == int(dt.datetime(2026, 11, 27, 20, 7, 43, tzinfo=dt.timezone.utc).timestamp()) \
        * 10**9 + 204780710
    assert ns_to_engine(ns) == f"{ns // 10**9}.204780710"
    assert ts_ns("2026-11-27T21:07:43.2+01:00") == ns - 4780710
    ts, n, rest = split_ts(TS.encode() + b" hello world\n")
    assert ts == TS.encode() and n == ns and rest == b"hello world\n"
    assert split_ts(b"no timestamp here") == (b"", None, b"no timestamp here")
    assert split_ts(b"2026-11-27T21:07:43.2+01:00 x") == (b"2026-11-27T21:07:43.2+01:00", ns - 4780710, b"x")


def test_a_timestamp_never_holds_anything_to_escape():
    """The page shows timestamps unescaped: split_ts must only ever hand out
    digits and -T:.Z+ whatever the entry (hostile text in the right places)."""
    rng = random.Random(5)
    alphabet = b'0123456789-T:.Z+ <>&"\'x\n\xff'
    base = TS.encode() + b" "
    for _ in range(20000):
        b = bytearray(base + b"rest")
        for _ in range(rng.randint(1, 4)):
            b[rng.randrange(len(base))] = rng.choice(alphabet)
        ts, _ns, _rest = split_ts(bytes(b))
        assert set(ts) <= set(b"0123456789-T:.Z+"), ts


def test_entries_of_a_multiplexed_stream():
    body = (mux(STDOUT, f"{ts_at(1)} one\n".encode()) + mux(STDERR, f"{ts_at(2)} half ".encode())
            + mux(0, f"{ts_at(3)} stdin\n".encode()) + mux(3, b"engine trouble")
            + mux(STDERR, f"{ts_at(4)} done\n".encode()))
    s = stream(body)
    got = list(s.entries())
    assert [(st, ts.decode(), data) for st, ts, _ns, data, _d in got] == [
        (STDOUT, ts_at(1), b"one\n"), (STDERR, ts_at(2), b"half "), (STDOUT, ts_at(3), b"stdin\n"),
        (STDERR, ts_at(4), b"done\n")]
    assert [e[2] for e in got] == [ts_ns(ts_at(i)) for i in (1, 2, 3, 4)]
    assert [n.kind for n in s.notices] == ["engine-error"]
    assert s.closed == [1]  # closed at the end


def test_payload_is_each_stream_byte_exact_in_any_chunking():
    frames = [(STDOUT, b"a" * 70000 + b"\n"), (STDERR, b"err\n"), (0, b"in\n"), (STDOUT, b""),
              (STDOUT, b"\xff\xfe"), (STDERR, b"tail")]
    body = b"".join(mux(st, p) for st, p in frames)
    for chunked in (True, False):
        for out, err in ((True, True), (True, False), (False, True)):
            want = b"".join(p for st, p in frames if (st != STDERR and out) or (st == STDERR and err))
            got = b"".join(stream(body, chunked=chunked, stdout=out, stderr=err).payload(size=100))
            assert got == want, (chunked, out, err)


def test_payload_of_a_tty_is_the_stream_as_it_came():
    raw = b"\x1b[31mred\x1b[0m\r\nno newline" * 100
    assert b"".join(stream(raw, tty=True).payload()) == raw


def test_a_broken_chunked_body_raises_after_what_came():
    wire = chunk_encode(mux(STDOUT, b"ok\n"), [100])[:-5]  # no last chunk
    s = LogStream(iter([wire]), chunked=True, tty=False, timestamps=False)
    out = []
    with pytest.raises(EngineError, match="ended before its last chunk"):
        for piece in s.payload():
            out.append(piece)
    assert out == []  # held back, never half a write


def test_a_huge_entry_keeps_its_head_and_counts_the_rest():
    payload = f"{ts_at(5)} ".encode() + b"y" * (ENTRY_CAP + 1000) + b"\n"
    s = stream(mux(STDOUT, payload))
    (st, ts, ns, data, dropped), = list(s.entries())
    assert ts.decode() == ts_at(5) and len(data) == ENTRY_CAP - 31 + 1
    assert len(data) + dropped == len(payload) - 31
    assert dropped > 0 and data.endswith(b"\n")


def feed_tty(raw: bytes, step: int, timestamps: bool = True):
    t = TtySplitter(timestamps)
    out = []
    for i in range(0, len(raw), step):
        out += t.feed(raw[i:i + step])
    return out + t.close()


@pytest.mark.parametrize("step", [1, 7, 40, 4096])
def test_tty_entries_and_partial_entry_markers(step):
    ts7, ts8, ts9 = (ts_at(i).encode() for i in (7, 8, 9))
    raw = (ts7 + b" \x1b[32mgreen\x1b[0m\r\n" + ts8 + b" " + b"a" * 10 + ts8 + b" " + b"b" * 10
           + b"\r\n" + ts9 + b" tail")
    got = [(ts, data) for _s, ts, _n, data, _d in feed_tty(raw, step)]
    assert got == [(ts7, b"\x1b[32mgreen\x1b[0m\r\n"), (ts8, b"a" * 10), (ts8, b"b" * 10 + b"\r\n"),
                   (ts9, b"tail")]


def test_tty_without_timestamps_is_lines():
    got = feed_tty(b"one\r\ntwo\r\nthree", 3, timestamps=False)
    assert [(ts, data) for _s, ts, _n, data, _d in got] == [
        (b"", b"one\r\n"), (b"", b"two\r\n"), (b"", b"three")]


def test_tty_huge_line_is_every_partial_entry():
    ts = ts_at(42).encode()
    pieces = [b"%05d" % i * 3276 + b"a" for i in range(13)]  # 13 entries of 16,381 bytes
    raw = b"".join(ts + b" " + p for p in pieces) + b"\r\n" + ts_at(43).encode() + b" next\r\n"
    for step in (7, 4096, 70000):
        got = feed_tty(raw, step)
        assert [d for _s, _t, _n, d, _x in got] == pieces[:-1] + [pieces[-1] + b"\r\n", b"next\r\n"]
