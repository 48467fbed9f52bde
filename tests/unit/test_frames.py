"""The log stream demultiplexer: any chunking, any split point, faults as notices."""

import random

import pytest

from app.gateway.frames import (STDERR, STDIN, STDOUT, ChunkedPayloadFilter, Dechunker, Demuxer,
                                LineAssembler, PayloadFilter,
                                demux_all, mux)

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


def feed_in_pieces(data: bytes, cuts: list[int]):
    d = Demuxer()
    frames = []
    prev = 0
    for c in sorted(cuts) + [len(data)]:
        frames += d.feed(data[prev:c])
        prev = c
    frames += d.close()
    return frames, d.notices


def test_whole_stream():
    frames, notices = demux_all(SAMPLE)
    assert frames == EXPECTED
    assert notices == []


def test_every_single_split_point_gives_the_same_frames():
    for i in range(len(SAMPLE) + 1):
        frames, notices = feed_in_pieces(SAMPLE, [i])
        assert frames == EXPECTED, i
        assert notices == []


def test_every_pair_of_split_points_in_the_first_frames():
    head = len(mux(STDOUT, b"hello\n")) + len(mux(STDERR, b"oops: part")) + 8
    for i in range(head):
        for j in range(i, head + 4):
            frames, _ = feed_in_pieces(SAMPLE, [i, j])
            assert frames == EXPECTED, (i, j)


def test_byte_at_a_time_and_random_chunkings():
    d = Demuxer()
    out = []
    for b in SAMPLE:
        out += d.feed(bytes([b]))
    assert out + d.close() == EXPECTED
    rng = random.Random(7)
    for _ in range(200):
        cuts = sorted(rng.sample(range(len(SAMPLE)), rng.randint(1, 12)))
        assert feed_in_pieces(SAMPLE, cuts)[0] == EXPECTED


def test_payload_filter_any_chunking_equals_the_joined_payloads():
    want_out = b"".join(p for s, p in EXPECTED if s == STDOUT)
    want_err = b"".join(p for s, p in EXPECTED if s == STDERR)
    for i in range(len(SAMPLE) + 1):
        for flags, want in (((True, False), want_out), ((False, True), want_err),
                            ((True, True), b"".join(p for _, p in EXPECTED))):
            f = PayloadFilter(*flags)
            got = f.feed(SAMPLE[:i]) + f.feed(SAMPLE[i:]) + f.close()
            assert got == want, (i, flags)


def test_payload_filter_never_holds_a_whole_frame():
    # a frame announcing 10 MB: its payload comes out as it arrives
    f = PayloadFilter()
    head = bytes([1, 0, 0, 0]) + (10 * 1024 * 1024).to_bytes(4, "big")
    assert f.feed(head + b"a" * 1000) == b"a" * 1000
    assert f.feed(b"b" * 5) == b"b" * 5


def test_one_megabyte_single_line():
    line = b"x" * (1024 * 1024)
    # the engine splits long lines into 16 KB messages: many frames, one line
    data = b"".join(mux(STDOUT, line[i:i + 16384]) for i in range(0, len(line), 16384))
    data += mux(STDOUT, b"\n") + mux(STDERR, b"after\n")
    frames, notices = demux_all(data)
    asm = LineAssembler()
    lines = [ln for s, p in frames for ln in asm.feed(s, p)]
    assert [(ln.stream, ln.data) for ln in lines] == [(STDOUT, line), (STDERR, b"after")]
    # the same as one huge frame, fed in odd chunks
    data = mux(STDOUT, line + b"\n")
    frames, _ = feed_in_pieces(data, [3, 9, 70000, 500001])
    assert frames == [(STDOUT, line + b"\n")]


def test_line_assembly_per_stream_across_frames():
    asm = LineAssembler()
    out = []
    out += asm.feed(STDOUT, b"par", "t1")
    out += asm.feed(STDERR, b"err line\nerr part", "t2")
    out += asm.feed(STDOUT, b"tial\n\nnext", "t3")
    out += asm.feed(STDERR, b"\n", "t4")
    out += asm.feed(STDOUT, b"", "t5")
    rest = asm.flush()
    assert [(ln.stream, ln.data, ln.tag) for ln in out] == [
        (STDERR, b"err line", "t2"), (STDOUT, b"partial", "t1"), (STDOUT, b"", "t3"),
        (STDERR, b"err part", "t2")]
    assert [(ln.stream, ln.data, ln.tag, ln.newline) for ln in rest] == [
        (STDOUT, b"next", "t3", False)]


def test_line_cap_keeps_the_head_and_counts_the_rest():
    asm = LineAssembler(max_line=10)
    out = asm.feed(STDOUT, b"0123456789abcdef") + asm.feed(STDOUT, b"ghij\nshort\n")
    assert out[0].data == b"0123456789" and out[0].dropped == 10 and out[0].size == 20
    assert out[1].data == b"short" and out[1].dropped == 0
    # a whole long line in one frame is capped too
    out = asm.feed(STDERR, b"x" * 25 + b"\n")
    assert out[0].data == b"x" * 10 and out[0].dropped == 15


def test_invalid_utf8_is_kept_as_bytes():
    frames, _ = demux_all(mux(STDOUT, b"\xff\xc3(\n"))
    assert frames == [(STDOUT, b"\xff\xc3(\n")]
    assert frames[0][1].decode("utf-8", "replace") == "\ufffd\ufffd(\n"


def test_truncated_last_frame_is_a_notice_and_keeps_what_came():
    data = mux(STDOUT, b"whole\n") + mux(STDERR, b"cut short here")[:-5]
    frames, notices = demux_all(data)
    assert frames == [(STDOUT, b"whole\n"), (STDERR, b"cut short")]
    assert [n.kind for n in notices] == ["truncated"]
    assert "5 bytes" in notices[0].message
    # ending inside a header
    frames, notices = demux_all(mux(STDOUT, b"a\n") + bytes([2, 0, 0]))
    assert frames == [(STDOUT, b"a\n")]
    assert notices[0].kind == "truncated" and "header" in notices[0].message
    # the payload filter keeps the partial bytes as well
    f = PayloadFilter()
    assert f.feed(data) + f.close() == b"whole\ncut short"
    assert f.notices[0].kind == "truncated"


@pytest.mark.parametrize("header", [bytes([7, 0, 0, 0, 0, 0, 0, 3]), bytes([1, 9, 0, 0, 0, 0, 0, 3]),
                                    b"2026-11-"])
def test_impossible_header_is_a_notice_and_the_rest_is_shown_raw(header):
    data = mux(STDOUT, b"fine\n") + header + b"abc\nmore"
    for cut in range(len(data) + 1):
        frames, notices = feed_in_pieces(data, [cut])
        assert frames[0] == (STDOUT, b"fine\n")
        assert b"".join(p for _, p in frames[1:]) == header + b"abc\nmore", cut
        assert [n.kind for n in notices] == ["bad-header"]
        assert notices[0].offset == 13


def test_engine_error_frame_becomes_a_notice():
    frames, notices = demux_all(mux(STDOUT, b"a\n") + mux(3, b"boom") + mux(STDOUT, b"b\n"))
    assert frames == [(STDOUT, b"a\n"), (STDOUT, b"b\n")]
    assert notices[0].kind == "engine-error" and "boom" in notices[0].message


def test_zero_length_frames_only():
    frames, notices = demux_all(mux(STDOUT, b"") * 3 + mux(STDERR, b""))
    assert frames == [(STDOUT, b"")] * 3 + [(STDERR, b"")]
    asm = LineAssembler()
    assert [ln for s, p in frames for ln in asm.feed(s, p)] == [] and asm.flush() == []


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


def frame_aligned_wire(frames) -> bytes:
    """As the engine sends logs: one HTTP chunk per frame."""
    return b"".join(b"%x\r\n" % len(f) + f + b"\r\n" for f in (mux(s, p) for s, p in frames)) \
        + b"0\r\n\r\n"


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


def test_chunked_payload_filter_equals_the_general_path():
    frames = SAMPLE_FRAMES * 5 + [(STDOUT, b"x" * 70000 + b"\n"), (STDERR, b"tail\n")]
    body = b"".join(mux(s, p) for s, p in frames)
    wires = [frame_aligned_wire(frames),  # the fast path
             chunk_encode(body, [5, 300, 11]),  # frames split across chunks: the general one
             frame_aligned_wire(frames[:6]) [:-5] + chunk_encode(b"".join(mux(s, p) for s, p in
                                                                 frames[6:]), [13])]
    rng = random.Random(3)
    for wire in wires:
        for flags in ((True, True), (True, False), (False, True)):
            want = b"".join(p for s, p in frames
                            if (s in (STDIN, STDOUT) and flags[0]) or (s == STDERR and flags[1]))
            for _ in range(30):
                cuts = sorted(rng.sample(range(1, len(wire)), 6))
                f = ChunkedPayloadFilter(*flags)
                prev, got = 0, b""
                for c in cuts + [len(wire)]:
                    got += f.feed(wire[prev:c])
                    prev = c
                got += f.close()
                assert got == want
                assert f.dechunker.done and f.dechunker.error is None and f.notices == []


def test_chunked_payload_filter_reports_truncation_and_bad_headers():
    wire = frame_aligned_wire([(STDOUT, b"ok\n")]) + b"10\r\n" + bytes([9, 0, 0, 0, 0, 0, 0, 8]) \
        + b"garbage!\r\n0\r\n\r\n"
    wire = wire.replace(b"0\r\n\r\n1", b"1", 1)  # the first terminator is not the end
    f = ChunkedPayloadFilter()
    got = f.feed(wire) + f.close()
    assert got.startswith(b"ok\n") and b"garbage!" in got
    assert [n.kind for n in f.notices] == ["bad-header"]
    f = ChunkedPayloadFilter()
    got = f.feed(frame_aligned_wire([(STDOUT, b"ok\n")])[:-5]) + f.close()
    assert got == b"ok\n" and "ended before" in f.dechunker.error
