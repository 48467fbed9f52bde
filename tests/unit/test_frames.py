"""The frame parser and the chunk decoder: any chunking, any split point,
faults as notices, big frames in pieces with flat memory."""

import random

import pytest

from app.gateway.frames import (BIG_FRAME, FIRST, LAST, MIDDLE, STDERR, STDIN, STDOUT,
                                Dechunker, FrameParser, demux_all, joined, mux, wanted)
from app.gateway.frames import _split_chunk_frames
from logkit import chunk_encode

SAMPLE_FRAMES = [
    (STDOUT, b"hello\n"),
    (STDERR, b"oops: part"),
    (STDOUT, b""),  # zero-length payload
    (STDERR, b"ial line\nsecond err\n"),
    (STDIN, b"from stdin\n"),
    (STDOUT, b"two\nlines\n"),
    (STDOUT, b"bad \xff\xfe utf8\n"),
    (STDOUT, b"no newline at the end"),
]
SAMPLE = b"".join(mux(s, p) for s, p in SAMPLE_FRAMES)
EXPECTED = [(STDOUT if s == STDIN else s, p) for s, p in SAMPLE_FRAMES]


def parse_in_pieces(data: bytes, cuts: list[int]):
    """Frames (big ones joined) and notices, feeding `data` cut at `cuts`."""
    p = FrameParser()
    pieces, prev = [], 0
    for c in sorted(cuts) + [len(data)]:
        pieces += p.feed(data[prev:c])
        prev = c
    return joined(pieces + p.close()), p.notices


def test_whole_stream():
    frames, notices = demux_all(SAMPLE)
    assert frames == EXPECTED
    assert notices == []


def test_every_single_split_point_gives_the_same_frames():
    for i in range(len(SAMPLE) + 1):
        frames, notices = parse_in_pieces(SAMPLE, [i])
        assert frames == EXPECTED, i
        assert notices == []


def test_every_pair_of_split_points_in_the_first_frames():
    head = len(mux(STDOUT, b"hello\n")) + len(mux(STDERR, b"oops: part")) + 8
    for i in range(head):
        for j in range(i, head + 4):
            frames, _ = parse_in_pieces(SAMPLE, [i, j])
            assert frames == EXPECTED, (i, j)


def test_byte_at_a_time_and_random_chunkings():
    frames, _ = parse_in_pieces(SAMPLE, list(range(1, len(SAMPLE))))
    assert frames == EXPECTED
    rng = random.Random(7)
    for _ in range(200):
        cuts = sorted(rng.sample(range(len(SAMPLE)), rng.randint(1, 12)))
        assert parse_in_pieces(SAMPLE, cuts)[0] == EXPECTED


def test_stream_filter_table():
    only_out = wanted(True, False)
    assert only_out[STDOUT] and only_out[STDIN] and not only_out[STDERR]
    assert only_out[STDOUT | FIRST] and only_out[STDOUT | LAST] and not only_out[STDERR | MIDDLE]
    assert not any(wanted(False, False))


def test_a_big_frame_comes_out_in_pieces_as_it_arrives():
    # a frame announcing 10 MB: its payload comes out as it arrives, never held
    p = FrameParser()
    head = bytes([1, 0, 0, 0]) + (10 * 1024 * 1024).to_bytes(4, "big")
    assert p.feed(head + b"a" * 1000) == [(STDOUT | FIRST, b"a" * 1000)]
    assert p.feed(b"b" * 5) == [(STDOUT | MIDDLE, b"b" * 5)]
    assert p.offset == 8 + 1005  # nothing held
    rest = 10 * 1024 * 1024 - 1005
    out = p.feed(b"c" * rest + mux(STDERR, b"next\n"))
    assert out == [(STDOUT | LAST, b"c" * rest), (STDERR, b"next\n")]
    # a frame at the limit waits to be whole
    p = FrameParser()
    big = mux(STDERR, b"x" * BIG_FRAME)
    assert p.feed(big[:100]) == [] and p.feed(big[100:]) == [(STDERR, b"x" * BIG_FRAME)]


def test_one_megabyte_single_frame_in_odd_chunks():
    line = b"x" * (1024 * 1024)
    data = mux(STDOUT, line + b"\n")
    frames, _ = parse_in_pieces(data, [3, 9, 70000, 500001])
    assert frames == [(STDOUT, line + b"\n")]


def test_invalid_utf8_is_kept_as_bytes():
    frames, _ = demux_all(mux(STDOUT, b"\xff\xc3(\n"))
    assert frames == [(STDOUT, b"\xff\xc3(\n")]


def test_truncated_last_frame_is_a_notice_and_keeps_what_came():
    data = mux(STDOUT, b"whole\n") + mux(STDERR, b"cut short here")[:-5]
    for cut in range(len(data) + 1):
        frames, notices = parse_in_pieces(data, [cut])
        assert frames == [(STDOUT, b"whole\n"), (STDERR, b"cut short")], cut
        assert [n.kind for n in notices] == ["truncated"]
        assert "5 bytes" in notices[0].message
    # ending inside a header
    frames, notices = demux_all(mux(STDOUT, b"a\n") + bytes([2, 0, 0]))
    assert frames == [(STDOUT, b"a\n")]
    assert notices[0].kind == "truncated" and "header" in notices[0].message
    # a big frame cut short
    p = FrameParser()
    p.feed(bytes([2, 0, 0, 0]) + (BIG_FRAME + 10).to_bytes(4, "big") + b"abc")
    assert p.close() == [(STDERR | LAST, b"")]
    assert p.notices[0].kind == "truncated" and f"{BIG_FRAME + 7:,} bytes" in p.notices[0].message


@pytest.mark.parametrize("header", [bytes([7, 0, 0, 0, 0, 0, 0, 3]), bytes([1, 9, 0, 0, 0, 0, 0, 3]),
                                    b"2026-11-"])
def test_impossible_header_is_a_notice_and_the_rest_is_shown_raw(header):
    data = mux(STDOUT, b"fine\n") + header + b"abc\nmore"
    for cut in range(len(data) + 1):
        frames, notices = parse_in_pieces(data, [cut])
        assert frames[0] == (STDOUT, b"fine\n")
        assert b"".join(p for _, p in frames[1:]) == header + b"abc\nmore", cut
        assert all(s == STDOUT for s, _ in frames[1:])
        assert [n.kind for n in notices] == ["bad-header"]
        assert notices[0].offset == 13


def test_engine_error_frame_becomes_a_notice():
    data = mux(STDOUT, b"a\n") + mux(3, b"boom") + mux(STDOUT, b"b\n")
    for cut in range(len(data) + 1):
        frames, notices = parse_in_pieces(data, [cut])
        assert frames == [(STDOUT, b"a\n"), (STDOUT, b"b\n")], cut
        assert notices[0].kind == "engine-error" and "boom" in notices[0].message


def test_zero_length_frames_only():
    frames, notices = demux_all(mux(STDOUT, b"") * 3 + mux(STDERR, b""))
    assert frames == [(STDOUT, b"")] * 3 + [(STDERR, b"")]
    assert notices == []


def test_dechunker_any_chunking():
    body = SAMPLE * 3
    for sizes in ([1], [7, 3], [100], [len(body)]):
        wire = chunk_encode(body, sizes)
        for cut in range(0, len(wire), 5):
            d = Dechunker()
            got = d.feed(wire[:cut]) + d.feed(wire[cut:])
            assert got == body and d.done and d.error is None, (sizes, cut)
    d = Dechunker()
    d.feed(b"zz\r\nabc")
    assert d.done and "chunk size" in d.error
    d = Dechunker()
    d.feed(b"3\r\nabcXY")
    assert d.done and "chunk end" in d.error
    d = Dechunker()
    d.feed(b"-3\r\nabc\r\n")  # int() reads a sign: no chunk has a negative size
    assert d.done and "chunk size" in d.error
    d = Dechunker()  # an extension after the size (the engine sends none) is read past
    assert d.feed(b"3;name=v\r\nabc\r\n0\r\n\r\n") == b"abc" and d.done and d.error is None


def _per_frame_chunks(frames_bytes: list[bytes], rng: random.Random) -> bytes:
    """A chunked body as the engine writes a log: mostly one frame per chunk,
    now and then several in one, or one frame across two chunks."""
    out, i = [], 0
    while i < len(frames_bytes):
        k = rng.choice([1, 1, 1, 1, 2, 3])
        data = b"".join(frames_bytes[i:i + k])
        i += k
        if rng.random() < 0.1 and len(data) > 2:
            cut = rng.randrange(1, len(data))
            out += [data[:cut], data[cut:]]
        else:
            out.append(data)
    return b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in out) + b"0\r\n\r\n"


def _both_ways(wire: bytes, cuts: list[int]):
    """(frames, notices, offset, frames counted, body bytes, done, clean, error) read
    with feed_chunked and with Dechunker then feed, the wire cut at `cuts`."""
    got = []
    for fused in (True, False):
        p, d, frames, prev = FrameParser(), Dechunker(), [], 0
        for c in sorted(cuts) + [len(wire)]:
            piece = wire[prev:c]
            prev = c
            frames += p.feed_chunked(piece, d) if fused else p.feed(d.feed(piece))
        frames += p.close()
        got.append((joined(frames), p.notices, p.offset, p.frames, d.fed, d.done, d.clean,
                    d.error))
    return got


@pytest.mark.parametrize("seed", range(40))
def test_feed_chunked_reads_as_the_dechunker_and_feed_do(seed):
    rng = random.Random(seed)
    kinds = [lambda: mux(rng.choice([STDIN, STDOUT, STDERR]), b"line %d\n" % rng.randrange(999)),
             lambda: mux(STDOUT, b""),
             lambda: mux(3, b"engine trouble"),  # the engine's own error frame
             lambda: mux(STDERR, bytes(rng.randrange(256) for _ in range(rng.randrange(60))))]
    frames = [rng.choice(kinds)() for _ in range(rng.randrange(1, 80))]
    if seed % 5 == 0:  # an impossible header: the rest is raw stdout
        frames.insert(rng.randrange(len(frames)), b"\x07\x01\x00\x00\x00\x00\x00\x05junk!")
    wire = _per_frame_chunks(frames, rng)
    if seed % 7 == 0:
        wire = wire[:rng.randrange(len(wire))]  # the body breaks off
    for _ in range(5):
        cuts = sorted(rng.sample(range(len(wire) + 1), min(len(wire), rng.choice([0, 1, 5, 40]))))
        fused, plain = _both_ways(wire, cuts)
        assert fused == plain, (seed, cuts)


def test_feed_chunked_a_big_frame_and_a_bad_size_line():
    big = mux(STDOUT, b"x" * (BIG_FRAME + 10))
    wire = b"".join(b"%x\r\n%s\r\n" % (len(c), c)
                    for c in (mux(STDERR, b"a\n"), big, mux(STDOUT, b"b\n"))) + b"0\r\n\r\n"
    fused, plain = _both_ways(wire, [5, 30, 70000, len(wire) - 9])
    assert fused == plain and fused[0][1] == (STDOUT, b"x" * (BIG_FRAME + 10))
    fused, plain = _both_ways(b"8\r\n" + mux(STDOUT, b"") + b"\r\nzz\r\nabc", [])
    assert fused == plain and "chunk size" in fused[-1]


@pytest.mark.parametrize("seed", range(30))
def test_long_reads_of_whole_chunk_frames_read_as_the_dechunker_and_feed_do(seed):
    """Reads long enough for the split way (frames._split_chunk_frames): payloads
    with CRLFs, lone CRs and LFs, empty ones, an engine error frame, chunks
    that hold several frames or a cut one, a bad size line."""
    rng = random.Random(1000 + seed)
    kinds = [lambda: mux(rng.choice([STDIN, STDOUT, STDERR]), b"line %d\n" % rng.randrange(999)),
             lambda: mux(STDOUT, b"a\r\nb\n" if rng.random() < 0.5 else b"\r\n"),
             lambda: mux(STDERR, b"cr at the end\r"),
             lambda: mux(STDOUT, b"\nstarts with LF\n"),
             lambda: mux(STDOUT, b""),
             lambda: mux(STDERR, bytes(rng.randrange(256) for _ in range(rng.randrange(60))))]
    weights = [60, 2, 2, 2, 2, 5] if seed % 2 else [95, 0, 1, 1, 1, 0]
    frames = [make() for make in rng.choices(kinds, weights, k=3000)]
    if seed % 6 == 0:
        frames.insert(rng.randrange(len(frames)), mux(3, b"engine trouble"))
    if seed % 9 == 0:
        frames.insert(rng.randrange(len(frames)), b"\x07\x01\x00\x00\x00\x00\x00\x05junk!")
    if seed % 9 == 4:  # a known stream with padding that is not zero
        frames.insert(rng.randrange(len(frames)), b"\x01\x00\x00\x02\x00\x00\x00\x05junk!")
    wire = b"".join(b"%x\r\n%s\r\n" % (len(f), f) for f in frames) + b"0\r\n\r\n"
    if seed % 3 == 0:  # a few chunks of several frames, and cut ones
        wire = _per_frame_chunks(frames, rng)
    if seed % 7 == 0:
        wire = wire[:rng.randrange(len(wire))]
    for _ in range(3):
        cuts = sorted(rng.sample(range(len(wire) + 1), rng.choice([0, 3, 20])))
        fused, plain = _both_ways(wire, cuts)
        assert fused == plain, (seed, cuts)


def test_the_split_way_reads_a_clean_run_whole_and_stops_before_a_crlf_payload():
    frames = [mux(STDOUT if i % 3 else STDERR, b"line %d\n" % i) for i in range(500)]
    wire = b"".join(b"%x\r\n%s\r\n" % (len(f), f) for f in frames)
    got, used, body = _split_chunk_frames(wire + b"0\r\n\r\n")
    assert (got, used, body) == ([(f[0] or STDOUT, f[8:]) for f in frames], len(wire),
                                 sum(map(len, frames)))
    odd = mux(STDOUT, b"a\r\nb\n")
    got, used, _ = _split_chunk_frames(wire + b"%x\r\n%s\r\n" % (len(odd), odd) + wire)
    assert len(got) == 500 and used == len(wire)
    err = mux(3, b"engine trouble")
    assert _split_chunk_frames(b"%x\r\n%s\r\n" % (len(err), err) + wire) is None
    stdin = [mux(STDIN, b"in\n")] * 3
    got, _, _ = _split_chunk_frames(b"".join(b"%x\r\n%s\r\n" % (len(f), f) for f in stdin))
    assert got == [(STDOUT, b"in\n")] * 3
