"""Merging several containers' logs, apart from any engine: the one-pass merge
of the page, the lazy per-container line streams of the download, the
reordering of a container's crossed stdout/stderr, the colour classes, and the
tagged rows (escaped)."""

from __future__ import annotations

import re

from app import logmerge
from app.gateway.frames import STDERR, STDOUT, mux
from app.gateway.logstream import ts_ns
from app.logreader import LogLine
from app.logrows import render_merged_rows
from logkit import stream


def ts_at(i: int) -> str:
    return f"2026-11-27T20:00:00.{i:09d}Z"


def line(i: int, text: str, stream_=STDOUT) -> LogLine:
    return LogLine(stream_, ts_at(i), text, ns=ts_ns(ts_at(i)))


def flat(batched):
    return [x for batch in batched for x in batch]


def src(name: str) -> logmerge.Source:
    return logmerge.Source(id=(name.encode().hex() * 12)[:64], name="proj_" + name, short=name,
                           colour=logmerge.colour(name))


def test_colours_from_the_name_never_two_alike_and_kept_for_the_shown():
    from app.logreader import Cursor, Cursors

    names = [f"web_{i}" for i in range(40)]
    wanted = {logmerge.colour(n) for n in names}
    assert wanted <= set(range(logmerge.PALETTE)) and len(wanted) > 5
    assert logmerge.colour("web_1") == logmerge.colour("web_1")
    srcs = [src(f"web_{i}") for i in range(1, 8)]
    logmerge.assign_colours(srcs)
    assert len({s.colour for s in srcs}) == 7  # while the palette lasts, all different
    assert srcs[0].colour == logmerge.colour("web_1")  # the first gets what it asks for
    # the page shows them so; a newcomer that would take one of theirs gets another,
    # and nobody already shown is repainted
    shown = Cursors()
    for s in srcs:
        shown.put(s.id, Cursor(0, 0), s.short, s.colour)
    later = [src("aaa")] + [src(f"web_{i}") for i in range(1, 8)]
    later[0].colour = -1
    logmerge.assign_colours(later, shown)
    assert [s.colour for s in later[1:]] == [s.colour for s in srcs]
    assert later[0].colour not in {s.colour for s in srcs}
    many = [src(f"s{i}") for i in range(25)]
    logmerge.assign_colours(many)
    assert {s.colour for s in many} == set(range(logmerge.PALETTE))


def test_merge_is_by_time_ties_keep_the_container_order_and_bound():
    a, b = src("a"), src("b")
    merged = logmerge._merge([(a, [line(1, "a1"), line(5, "a5"), line(5, "a5bis")]),
                              (b, [line(2, "b2"), line(5, "b5"), line(9, "b9")])])
    assert [(s.short, ln.text) for s, ln in merged] == [
        ("a", "a1"), ("b", "b2"), ("a", "a5"), ("a", "a5bis"), ("b", "b5"), ("b", "b9")]
    newest = logmerge._merge([(a, [line(i, f"a{i}") for i in range(0, 100, 2)]),
                              (b, [line(i, f"b{i}") for i in range(1, 100, 2)])], bound=5)
    assert [ln.text for _, ln in newest] == ["b95", "a96", "b97", "a98", "b99"]
    assert logmerge._merge([(a, []), (b, [])]) == []


def test_a_container_whose_streams_crossed_is_put_in_order():
    a, b = src("a"), src("b")
    # the engine logged stderr's 3 after stdout's 4 (its copiers race)
    merged = logmerge._merge([(a, [line(1, "a1"), line(4, "a4"), line(3, "a3", STDERR)]),
                              (b, [line(2, "b2")])])
    assert [ln.text for _, ln in merged] == ["a1", "b2", "a3", "a4"]


def test_stream_lines_assemble_pieces_per_stream_and_prefix():
    ts = [ts_at(i) for i in range(6)]
    body = (mux(STDOUT, f"{ts[0]} one\n".encode()) + mux(STDERR, f"{ts[1]} half ".encode())
            + mux(STDOUT, f"{ts[2]} two\n".encode()) + mux(STDERR, f"{ts[1]} done\n".encode())
            + mux(STDOUT, f"{ts[3]} no newline".encode()))
    got = flat(logmerge._stream_lines(stream(body), b"web_1  | ", timestamps=False))
    assert [d for _, d in got] == [b"web_1  | one\n", b"web_1  | two\n", b"web_1  | half done\n",
                                   b"web_1  | no newline\n"]
    assert [n for n, _ in got] == [ts_ns(ts[0]), ts_ns(ts[2]), ts_ns(ts[1]), ts_ns(ts[3])]
    with_ts = flat(logmerge._stream_lines(stream(body), b"x | ", timestamps=True))
    assert with_ts[0][1] == f"x | {ts[0]} one\n".encode()


def test_stream_lines_write_a_huge_line_in_parts():
    big = b"x" * (logmerge.LINE_HOLD + 10)
    body = b"".join(mux(STDOUT, f"{ts_at(1)} ".encode() + big[i:i + 16384])
                    for i in range(0, len(big), 16384)) + mux(STDOUT, f"{ts_at(1)} \n".encode())
    got = [d for _, d in flat(logmerge._stream_lines(stream(body), b"p | ", timestamps=False))]
    assert len(got) == 2 and all(d.startswith(b"p | ") and d.endswith(b"\n") for d in got)
    assert sum(len(d) - 5 for d in got) == len(big)


def batches(items, size):
    return iter([items[i:i + size] for i in range(0, len(items), size)])


def test_merge_batches_orders_within_the_slack_keeps_ties_and_stays_lazy():
    a = [(10, b"a10"), (30, b"a30"), (20, b"a20"), (30, b"a30b"), (100, b"a100"), (95, b"a95")]
    b = [(5, b"b5"), (30, b"b30"), (200, b"b200")]
    got = flat(logmerge.merge_batches([batches(a, 2), batches(b, 1)], slack=15))
    assert [d for _, d in got] == [b"b5", b"a10", b"a20", b"a30", b"a30b", b"b30", b"a95",
                                   b"a100", b"b200"]
    # later than the slack: handed on as soon as it is read (the rest stays in order)
    late = [(100, b"x"), (200, b"z"), (10, b"y")]
    assert [d for _, d in flat(logmerge.merge_batches([batches(late, 1)], slack=5))] == \
        [b"x", b"y", b"z"]
    # lazy: a source far ahead waits with one batch while the one behind streams
    pulled = []

    def counting(items, name):
        for i in range(0, len(items), 10):
            pulled.append(name)
            yield items[i:i + 10]

    old = [(i, b"o") for i in range(0, 100_000, 10)]  # 10,000 items, all older
    new = [(10**9 + i, b"n") for i in range(1000)]
    it = logmerge.merge_batches([counting(old, "old"), counting(new, "new")], slack=0)
    got = list(next(it))
    assert got[0] == (0, b"o") and pulled.count("new") == 1
    for _ in range(500):
        got += next(it)
    assert pulled.count("new") == 1  # the one ahead was not read on meanwhile
    got += flat(it)
    assert got == old + new


def test_merged_text_pads_names_like_compose_logs():
    a = stream(mux(STDOUT, f"{ts_at(1)} from a\n".encode()) + mux(STDOUT, f"{ts_at(3)} a3\n".encode()))
    b = stream(mux(STDERR, f"{ts_at(2)} from longer\n".encode()))
    text = b"".join(logmerge._text([(src("a"), a), (src("longer"), b)], width=6, timestamps=False))
    assert text == b"a       | from a\nlonger  | from longer\na       | a3\n"


def test_tagged_rows_escape_names_and_lines():
    s = logmerge.Source(id="ab" * 32, name='x"><script>', short="<b>web</b>", colour=3)
    ln = LogLine(STDOUT, ts_at(1), "<img src=x onerror=alert(1)> & \x1b[31mred\x1b[0m",
                 ns=ts_ns(ts_at(1)))
    html = str(render_merged_rows([(s, ln)],
                                  links={s.key: ('/c/"x/logs', "/c/x/dl")}))
    assert "<script>" not in html and "<img" not in html and "<b>" not in html
    assert 'class="lsrc lc3"' in html and "&lt;b&gt;web&lt;/b&gt;" in html
    assert '<span class="lsrc lc3" title="x&#34;&gt;&lt;script&gt;">' in html
    assert re.search(r'<span class="af1">red</span>', html)
    tty = logmerge.Source(id="cd" * 32, name="t", short="t", colour=1, tty=True)
    assert '<div class="ll tty">' in str(render_merged_rows([(tty, ln)], links={}))
