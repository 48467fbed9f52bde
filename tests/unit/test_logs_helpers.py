"""The logs page's pure helpers: timestamps and cursor, since, ANSI, search, reading."""

import datetime as dt

import pytest
from markupsafe import Markup

from app.gateway.frames import STDERR, STDOUT, mux
from app.logs import (Cursor, InputError, LineReader, Search, ansi_plain, ansi_segments,
                      ns_to_since, parse_since, parse_tail, render_line, split_ts, ts_ns)

TS = "2026-11-27T20:07:43.204780710Z"


def test_timestamps_exact_to_the_nanosecond():
    ns = ts_ns(TS)
    assert ns == int(dt.datetime(2026, 11, 27, 20, 7, 43, tzinfo=dt.timezone.utc).timestamp()) \
        * 10**9 + 204780710
    assert ns_to_since(ns) == f"{ns // 10**9}.204780710"
    assert ts_ns("2026-11-27T21:07:43.2+01:00") == ns - 4780710
    ts, n, rest = split_ts(TS.encode() + b" hello world\n")
    assert ts == TS.encode() and n == ns and rest == b"hello world\n"
    assert split_ts(b"no timestamp here") == (b"", None, b"no timestamp here")


def test_cursor_round_trip_and_junk():
    c = Cursor(1795810063204780710, 3)
    assert Cursor.decode(c.encode()) == c and c.since == "1795810063.204780710"
    for junk in (None, "", "abc", "1-2-3", "-1-2", "1" * 30 + "-1"):
        assert Cursor.decode(junk) is None


def test_parse_since():
    now = 1_800_000_000
    assert parse_since("", now) is None
    assert parse_since("15m", now) == str(now - 900)
    assert parse_since("2h", now) == str(now - 7200)
    assert parse_since("3d", now) == str(now - 3 * 86400)
    assert parse_since("1700000000.5", now) == "1700000000.5"
    assert parse_since("2026-01-31 14:00", now) == str(
        int(dt.datetime(2026, 1, 31, 14, tzinfo=dt.timezone.utc).timestamp()))
    assert parse_since("2026-01-31T14:00:00+02:00", now) == str(
        int(dt.datetime(2026, 1, 31, 12, tzinfo=dt.timezone.utc).timestamp()))
    for bad in ("yesterday", "15x", "2026-13-40", "<script>"):
        with pytest.raises(InputError):
            parse_since(bad, now)


def test_parse_tail():
    assert parse_tail(None) == "500" and parse_tail("all") == "all" and parse_tail("1000") == "1000"
    with pytest.raises(InputError):
        parse_tail("7")
    assert parse_tail("7", free=True) == "7"
    with pytest.raises(InputError):
        parse_tail("-1", free=True)
    for odd in ("²", "٣", "9" * 5000):  # digits int() refuses, or too many of them
        with pytest.raises(InputError):
            parse_tail(odd, free=True)


def test_hostile_sgr_parameters_do_not_break_the_line():
    segs = ansi_segments("\x1b[" + "1" * 5000 + "mloud\x1b[31;" + "7" * 4400 + "mred")
    assert "".join(text for text, _ in segs) == "loudred"


def test_ansi_sgr_to_classes_and_everything_else_stripped():
    segs = ansi_segments("\x1b[31mred\x1b[0m plain \x1b[1;92mbold\x1b[39m \x1b[38;5;21mblue\x1b[m")
    assert segs == [("red", "af1"), (" plain ", ""), ("bold", "af10 ab-b"), (" ", "ab-b"),
                    ("blue", "af4 ab-b")]
    text = "a\x1b]0;title\x07b\x1b[2Jc\x1b[?25ld\x1bMe\x1b(Bf\x00g\rh\x9b31mi\x1b"
    assert ansi_plain(text) == "abcdefghi"
    html = str(render_line(ansi_segments(text), None))
    assert "\x1b" not in html and "\x00" not in html and "\x9b" not in html


def test_render_is_escaped_and_highlights_across_colour_changes():
    text = '<img src=x onerror=alert(1)> \x1b[31m"red"\x1b[0m&'
    segs = ansi_segments(text)
    out = render_line(segs, None)
    assert isinstance(out, Markup)
    assert "<img" not in out and "&lt;img src=x onerror=alert(1)&gt;" in out
    assert '<span class="af1">&#34;red&#34;</span>&amp;' in out
    s = Search("1)> \x22R")  # matches across the colour boundary
    spans = s.spans(ansi_plain(text))
    html = str(render_line(segs, spans))
    assert "<mark>1)&gt; </mark>" in html and '<span class="af1"><mark>&#34;r</mark></span>' in html


def test_search_substring_is_case_insensitive_and_literal():
    s = Search("a.B")
    assert s.spans("xxA.bxx a.b") == [(2, 5), (8, 11)]
    assert s.spans("aXb") is None


def test_search_regex_and_its_guards():
    assert Search("err(or)?\\s+\\d+", regex=True).spans("ERROR 42 error 7") == [(0, 8), (9, 16)]
    for bad in ("(unclosed", "[z-a]", "*x"):
        with pytest.raises(InputError, match="not a valid regular expression"):
            Search(bad, regex=True)
    for slow in ("(a+)+$", "(a|aa)*b", "(x*)*", "(?:a.*)+z"):
        with pytest.raises(InputError, match="very long"):
            Search(slow, regex=True)
    with pytest.raises(InputError, match="empty string"):
        Search("x*", regex=True)
    with pytest.raises(InputError, match="at most"):
        Search("a" * 201)


def entry(stream, ts, text):
    return mux(stream, f"{ts} ".encode() + text)


def ts_at(i: int) -> str:
    return f"2026-11-27T20:00:00.{i:09d}Z"


def read(data: bytes, **kw):
    r = LineReader(tty=kw.pop("tty", False), **kw)
    for i in range(0, len(data), 7):  # odd chunking
        r.feed(data[i:i + 7])
    return r.close()


def test_reader_splits_timestamps_assembles_lines_and_bounds():
    data = (entry(STDOUT, ts_at(1), b"one\n") + entry(STDERR, ts_at(2), b"half ")
            + entry(STDOUT, ts_at(3), b"two\n") + entry(STDERR, ts_at(2), b"done\n"))
    r = read(data)
    assert [(ln.stream, ln.ts, ln.text) for ln in r.lines] == [
        (STDOUT, ts_at(1), "one"), (STDOUT, ts_at(3), "two"), (STDERR, ts_at(2), "half done")]
    assert r.entries == 4 and r.total == 3
    many = b"".join(entry(STDOUT, ts_at(i), b"line %d\n" % i) for i in range(30))
    r = read(many, bound=10)
    assert len(r.lines) == 10 and r.lines[0].text == "line 20" and r.dropped == 20


def test_cursor_skips_what_was_shown_even_when_timestamps_repeat():
    # a burst sharing one timestamp, read in two polls: nothing doubled, nothing lost
    same = ts_at(500)
    log = [entry(STDOUT, ts_at(1), b"a\n")] + [entry(STDOUT, same, b"b%d\n" % i) for i in range(5)]
    first = read(b"".join(log), slack_ns=0)
    cur = first.cursor()
    assert cur == Cursor(ts_ns(same), 5)
    log += [entry(STDOUT, same, b"b5\n"), entry(STDOUT, ts_at(501), b"c\n")]
    # what the engine answers to since=cursor (inclusive): entries at or after it
    again = [e for e in log if ts_ns(e[8:38]) >= cur.ns]
    second = read(b"".join(again), skip=cur.seen, slack_ns=0)
    assert [ln.text for ln in second.lines] == ["b5", "c"]
    assert second.cursor(cur) == Cursor(ts_ns(ts_at(501)), 1)


def test_cursor_slack_catches_a_late_entry_with_an_earlier_timestamp():
    log = [entry(STDOUT, ts_at(1000), b"x\n"), entry(STDERR, ts_at(2000), b"y\n")]
    first = read(b"".join(log), slack_ns=5000)
    cur = first.cursor()
    assert cur == Cursor(ts_ns(ts_at(2000)) - 5000, 2)
    log.append(entry(STDOUT, ts_at(1500), b"late\n"))  # written after, stamped before
    again = [e for e in log if ts_ns(e[8:38]) >= cur.ns]
    second = read(b"".join(again), skip=cur.seen, slack_ns=5000)
    assert [ln.text for ln in second.lines] == ["late"]


def test_tty_lines_and_partial_entry_markers():
    ts = ts_at(7).encode()
    raw = (ts + b" \x1b[32mgreen\x1b[0m\r\n" + ts_at(8).encode() + b" " + b"a" * 10
           + ts_at(8).encode() + b" " + b"b" * 10 + b"\r\n" + ts_at(9).encode() + b" tail")
    r = read(raw, tty=True)
    assert [(ln.text, ln.newline) for ln in r.lines] == [
        ("\x1b[32mgreen\x1b[0m", True), ("a" * 10 + "b" * 10, True), ("tail", False)]
    assert r.entries == 4  # the long line was two entries
    assert r.cursor(None) is not None


def test_reader_search_counts_matches():
    data = b"".join(entry(STDOUT, ts_at(i), b"req %d %s\n" % (i, b"ERROR" if i % 3 == 0 else b"ok"))
                    for i in range(30))
    r = read(data, search=Search("error"))
    assert r.matched == 10 and r.total == 30
    assert all("ERROR" in ln.text and ln.spans for ln in r.lines)


def test_cursor_of_a_tail_window_never_counts_unseen_older_entries():
    # the log has 10 entries within the slack; a tail of 4 saw only the last 4
    log = [entry(STDOUT, ts_at(100 + i), b"l%d\n" % i) for i in range(10)]
    window = read(b"".join(log[-4:]), slack_ns=1_000_000)
    loose = window.cursor()  # as if the window were the whole log: wrong here
    assert sum(1 for e in log if ts_ns(e[8:38]) >= loose.ns) != loose.seen
    cur = window.cursor(window=True)
    assert cur == Cursor(ts_ns(ts_at(106)) + 1, 3)
    log.append(entry(STDOUT, ts_at(200), b"new\n"))
    again = [e for e in log if ts_ns(e[8:38]) >= cur.ns]
    assert [ln.text for ln in read(b"".join(again), skip=cur.seen).lines] == ["new"]


def test_reader_reports_a_bad_header_and_a_truncated_frame():
    good = entry(STDOUT, ts_at(1), b"one\n") + entry(STDERR, ts_at(2), b"two\n")
    r = read(good + bytes([9, 0, 0, 0, 0, 0, 0, 4]) + b"junk\n")
    assert [ln.text for ln in r.lines][:2] == ["one", "two"]
    assert any("junk" in ln.text for ln in r.lines)
    assert [n.kind for n in r.notices] == ["bad-header"] and r.notices[0].offset == len(good)
    r = read(good + entry(STDOUT, ts_at(3), b"cut short\n")[:-4])
    assert [ln.text for ln in r.lines] == ["one", "two", "cut sh"]
    assert [n.kind for n in r.notices] == ["truncated"]


@pytest.mark.parametrize("step", [7, 4096, 70000])
def test_tty_huge_line_counts_every_partial_entry(step):
    ts = ts_at(42).encode()
    pieces = [b"%05d" % i * 3276 + b"a" for i in range(13)]  # 13 entries of 16,381 bytes
    raw = b"".join(ts + b" " + p for p in pieces) + b"\r\n" + ts_at(43).encode() + b" next\r\n"
    r = LineReader(tty=True, slack_ns=0)
    for i in range(0, len(raw), step):
        r.feed(raw[i:i + step])
    res = r.close()
    assert res.entries == 14
    first, second = res.lines
    assert first.text.startswith("00000" * 3276) and len(first.text) == 16 * 1024
    # bytes not shown (markers excluded); a few marker bytes may be cut at trim points
    assert abs(first.dropped - (sum(map(len, pieces)) - 16 * 1024)) < 64
    assert second.text == "next"
    # the cursor then skips exactly the 14 entries
    assert res.cursor() == Cursor(ts_ns(ts_at(43)), 1)
