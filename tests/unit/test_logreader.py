"""The page reader: entries from the gateway's LogStream -> bounded lines,
assembled per stream, searched, and the follow cursor."""

import pytest

from app.gateway.frames import STDERR, STDOUT, mux
from app.gateway.logstream import TtySplitter, ts_ns
from app.ansi import carriage_returns
from app.logreader import LINE_CAP, Cursor, LineReader
from app.logsearch import Search
from logkit import stream


def test_cursor_round_trip_and_junk():
    c = Cursor(1795810063204780710, 3)
    assert Cursor.decode(c.encode()) == c and c.since == "1795810063.204780710"
    for junk in (None, "", "abc", "1-2-3", "-1-2", "1" * 30 + "-1"):
        assert Cursor.decode(junk) is None


def entry(stream, ts, text):
    return mux(stream, f"{ts} ".encode() + text)


def ts_at(i: int) -> str:
    return f"2026-11-27T20:00:00.{i:09d}Z"


def read(data: bytes, **kw):
    """The page reader over a log stream of `data` (multiplexed, or a TTY's raw
    bytes), sent chunked in odd pieces: the gateway's LogStream, then LineReader."""
    tty = kw.pop("tty", False)
    s = stream(data, tty=tty)
    r = LineReader(tty=tty, **kw)
    r.read(s.entries())
    return r.close(s.notices)


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
    # all four within the margin: the cutoff is just past the newest, none counted
    assert cur == Cursor(ts_ns(ts_at(109)) + 1, 0)
    log.append(entry(STDOUT, ts_at(200), b"new\n"))
    again = [e for e in log if ts_ns(e[8:38]) >= cur.ns]
    assert [ln.text for ln in read(b"".join(again), skip=cur.seen).lines] == ["new"]


def test_a_window_cursor_survives_entries_filed_out_of_time_order():
    """stdout and stderr are filed as they come: an entry just before the tail
    window in the file can be stamped after the window's oldest. The next poll
    must neither skip it as seen nor show a seen entry again."""
    ms = 1_000_000
    ns = [0, 10, 27, 25, 28, 29, 30]  # in file order: the one stamped 27 is filed before 25
    log = [entry(STDERR if i % 2 else STDOUT, ts_at(n * ms), b"l%d\n" % i)
           for i, n in enumerate(ns)]
    window = read(b"".join(log[3:]), slack_ns=5 * ms)  # a tail of 4: from the "25" on
    cur = window.cursor(window=True)
    log.append(entry(STDOUT, ts_at(300 * ms), b"new\n"))
    again = [e for e in log if ts_ns(e[8:38]) >= cur.ns]
    shown = [ln.text for ln in window.lines] + [
        ln.text for ln in read(b"".join(again), skip=cur.seen).lines]
    assert len(shown) == len(set(shown)) and shown[-1] == "new"


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
    t = TtySplitter()
    for i in range(0, len(raw), step):
        r.read(t.feed(raw[i:i + step]))
    res = r.read(t.close()).close()
    assert res.entries == 14
    first, second = res.lines
    assert first.text.startswith("00000" * 3276) and len(first.text) == 16 * 1024
    # bytes not shown (markers excluded); a few marker bytes may be cut at trim points
    assert abs(first.dropped - (sum(map(len, pieces)) - 16 * 1024)) < 64
    assert second.text == "next"
    # the cursor then skips exactly the 14 entries
    assert res.cursor() == Cursor(ts_ns(ts_at(43)), 1)


def test_line_assembly_per_stream_across_entries():
    ts = b"2026-11-27T20:00:00.000000001Z"
    entries = [(STDOUT, ts, 1, b"par", 0), (STDERR, ts, 2, b"err line\nerr part", 0),
               (STDOUT, ts, 3, b"tial\n\nnext", 0), (STDERR, ts, 4, b"\n", 0), (STDOUT, ts, 5, b"", 0)]
    r = LineReader(slack_ns=0).read(entries).close()
    assert [(ln.stream, ln.text, ln.ns, ln.newline) for ln in r.lines] == [
        (STDERR, "err line", 2, True), (STDOUT, "partial", 1, True), (STDOUT, "", 3, True),
        (STDERR, "err part", 2, True), (STDOUT, "next", 3, False)]


def test_line_cap_keeps_the_head_and_counts_the_rest():
    ts = b""
    big = b"0123456789" * (LINE_CAP // 10 + 1)
    r = LineReader().read([(STDOUT, ts, None, big[:LINE_CAP - 5], 0),
                           (STDOUT, ts, None, big[:100] + b"\nshort\n", 0),
                           (STDERR, ts, None, b"x" * (LINE_CAP + 25) + b"\n", 0),
                           (STDERR, ts, None, b"cut by the gateway\n", 4000)]).close()
    first, short, whole, cut = r.lines
    assert len(first.text) == LINE_CAP and first.dropped == 95
    assert short.text == "short" and short.dropped == 0
    assert len(whole.text) == LINE_CAP and whole.dropped == 25
    assert cut.text == "cut by the gateway" and cut.dropped == 4000


# -- a service's log: several tasks in one stream (details=1) -------------------------------
from app.gateway.logstream import detail_attrs, with_details  # noqa: E402
from app.logreader import read_lines  # noqa: E402


def task_entry(stream_, i: int, task: str, text: bytes) -> bytes:
    attrs = f"com.docker.swarm.node.id=n{task},com.docker.swarm.service.id=svc," \
            f"com.docker.swarm.task.id={task}"
    return mux(stream_, f"{ts_at(i)} {attrs} ".encode() + text)


def sourced(data: bytes, **kw):
    return read_lines(stream(data, details=True), **kw)


def test_details_split_off_the_task_labels():
    assert detail_attrs(b"a=1,b=x%2Cy,c=%E2%9C%93+ok") == {"a": "1", "b": "x,y", "c": "\u2713 ok"}
    got = with_details([(1, b"t", 5, b"k=v hello world\n", 0), (1, b"t", 6, b" bare\n", 0),
                        (1, b"t", 7, b"nospace\n", 0)])
    assert got[0][3:] == (b"hello world\n", 0, {"k": "v"})
    assert got[1][3:] == (b"bare\n", 0, {})
    assert got[2][3:] == (b"nospace\n", 0, {})


def test_sourced_reader_tags_lines_orders_them_and_counts_per_task():
    # the nodes answer one after the other: task b's lines come after a's
    data = (task_entry(STDOUT, 1, "aaa", b"a1\n") + task_entry(STDOUT, 3, "aaa", b"a3\n")
            + task_entry(STDOUT, 2, "bbb", b"b2\n") + task_entry(STDERR, 4, "bbb", b"b4\n"))
    r = sourced(data)
    assert [(ln.src, ln.text, ln.label) for ln in r.lines] == [
        ("aaa", "a1", "out"), ("bbb", "b2", "out"), ("aaa", "a3", "out"), ("bbb", "b4", "err")]
    assert r.source_entries == {"aaa": 2, "bbb": 2} and r.most_per_source == 2
    assert r.source_attrs["bbb"]["com.docker.swarm.node.id"] == "nbbb"


def test_per_task_cursor_skips_exactly_what_was_shown_whatever_the_interleaving():
    # first read: both tasks wrote at the same nanosecond at the end
    first = (task_entry(STDOUT, 10, "aaa", b"a10\n") + task_entry(STDOUT, 10, "bbb", b"b10\n")
             + task_entry(STDOUT, 10, "aaa", b"a10bis\n"))
    r1 = sourced(first)
    cur = r1.cursor()
    assert dict(cur.per) == {"aaa": 2, "bbb": 1}
    back = Cursor.decode(cur.encode())
    assert back == cur and back.seen == 3
    # the poll (since the cutoff) answers in another order, with new lines of each task
    second = (task_entry(STDOUT, 10, "bbb", b"b10\n") + task_entry(STDOUT, 11, "bbb", b"b11\n")
              + task_entry(STDOUT, 10, "aaa", b"a10\n") + task_entry(STDOUT, 10, "aaa", b"a10bis\n")
              + task_entry(STDOUT, 12, "aaa", b"a12\n"))
    r2 = sourced(second, skip_per=back.per)
    assert [ln.text for ln in r2.lines] == ["b11", "a12"]
    # one shared count would have skipped b10, b11, a10 and shown a10bis again
    plain_lines = [e for e in stream(second, details=True).entries()][back.seen:]
    assert [e[3] for e in plain_lines][0] == b"a10bis\n"


def test_sourced_long_line_is_assembled_per_task():
    data = (task_entry(STDOUT, 1, "aaa", b"a-start ") + task_entry(STDOUT, 2, "bbb", b"b whole\n")
            + task_entry(STDOUT, 1, "aaa", b"a-end\n"))
    r = sourced(data)
    assert sorted((ln.src, ln.text) for ln in r.lines) == [("aaa", "a-start a-end"),
                                                            ("bbb", "b whole")]


def test_cursor_with_tasks_refuses_junk():
    for junk in ("1-aaa", "1-AAA:1", "1-a:1.", "1-a:1..b:2", "x-a:1"):
        assert Cursor.decode(junk) is None
    assert Cursor.decode("5-a:1.b:2") == Cursor(5, 3, (("a", 1), ("b", 2)))
def test_cursors_per_container_round_trip_and_junk():
    from app.logreader import Cursors

    cs = Cursors()
    cs.put("0123456789ab" + "f" * 52, Cursor(1795810063204780710, 3), "web_1", 7)
    cs.put("ba9876543210", Cursor(0, 0), "db<1>", 0)  # only the name's safe characters kept
    cs.put("cccccccccccc", Cursor(5, 1))
    text = cs.encode()
    assert text == (f"0123456789ab~{1795810063204780710:x}~3~7~web_1,ba9876543210~0~0~0~db1,"
                    "cccccccccccc~5~1")
    back = Cursors.decode(text)
    assert back.keys() == {"0123456789ab", "ba9876543210", "cccccccccccc"}
    assert back.get("0123456789abffff") == Cursor(1795810063204780710, 3)
    assert back.name("ba9876543210") == "db1" and back.get("dddddddddddd") is None
    assert (back.colour("0123456789ab"), back.colour("ba9876543210"),
            back.colour("cccccccccccc")) == (7, 0, None)
    assert len(Cursors.decode("")) == 0
    for junk in ("x", "0123456789ab~1", "0123456789ab~1~2~1~a b", "0123456789AB~1~2",
                 "0123456789ab~1~2~web", "0123456789ab~1~2~12~web",
                 "0123456789ab~" + "f" * 17 + "~1", ",".join(["0123456789ab~1~1"] * 501)):
        assert Cursors.decode(junk) is None, junk


def test_carriage_returns_in_a_line_show_what_a_terminal_would():
    data = (entry(STDOUT, ts_at(1), b"cr1\rcr2\n") + entry(STDERR, ts_at(2), b"10%\r20%\r30%\n")
            + entry(STDOUT, ts_at(3), b"plain\n") + entry(STDOUT, ts_at(4), b"crlf\r\n"))
    r = read(data)
    assert [ln.text for ln in r.lines] == ["cr2", "30%", "plain", "crlf"]
    # a search matches what is shown
    found = read(data, search=Search("cr2"))
    assert [ln.text for ln in found.lines] == ["cr2"]
    assert not read(data, search=Search("cr1")).lines


def _progress(n: int) -> bytes:
    """A progress bar's line: n updates, each written over the last."""
    return b"".join(b"\r%6d/%d [%-50s] caf\xc3\xa9" % (i, n, b"#" * (i * 50 // n), )
                    for i in range(1, n + 1)) + b"\rdone, all %d\n" % n


@pytest.mark.parametrize("step", [7, 4096, 70000])
def test_a_tty_progress_line_over_the_cap_shows_its_last_update(step):
    """A line of thousands of updates (over 16 KB) shows what a terminal
    would: its last update over the earlier ones, not its first 16 KB cut."""
    line = _progress(3000)
    assert len(line) > 10 * LINE_CAP
    ts = ts_at(42).encode()
    # the engine cuts a TTY line at its 16 KB buffer, each entry with the line's timestamp
    cut = [line[i:i + 16 * 1024] for i in range(0, len(line), 16 * 1024)]
    raw = b"".join(ts + b" " + p for p in cut) + ts_at(43).encode() + b" next\r\n"
    r = LineReader(tty=True, slack_ns=0)
    t = TtySplitter()
    for i in range(0, len(raw), step):
        r.read(t.feed(raw[i:i + step]))
    first, second = r.read(t.close()).close().lines
    want = carriage_returns(line.decode().rstrip("\n"))
    # the last update, with the end of the longer one before it
    assert want == "done, all 3000" + "#" * 49 + "] café"
    assert first.text == want and first.dropped == 0
    assert second.text == "next"


def test_a_progress_line_on_stderr_over_the_cap_shows_its_last_update():
    line = _progress(2000)
    data = b"".join(entry(STDERR, ts_at(5), line[i:i + 16 * 1024])
                    for i in range(0, len(line), 16 * 1024)) + entry(STDOUT, ts_at(6), b"ok\n")
    r = read(data)
    assert [(ln.stream, ln.text, ln.dropped) for ln in r.lines] == [
        (STDERR, carriage_returns(line.decode().rstrip("\n")), 0), (STDOUT, "ok", 0)]


def test_a_part_over_the_cap_is_cut_and_counted_and_later_parts_lie_over_it():
    ts = b""
    long = "é" * (LINE_CAP // 2 + 300)  # 2 bytes each: over the cap by 600 bytes
    pieces = [b"start\r", long.encode()[:9001], long.encode()[9001:] + b"\rend", b"ed\n"]
    r = LineReader().read([(STDOUT, ts, None, p, 0) for p in pieces]).close()
    (ln,) = r.lines
    assert ln.text.startswith("ended") and set(ln.text[5:]) == {"é"}
    assert len(ln.text.encode()) <= LINE_CAP and "\ufffd" not in ln.text
    assert ln.dropped == len(long.encode()) - LINE_CAP
    # a line cut before its first carriage return keeps its head, and what
    # came after the cut up to the carriage return counts as not shown
    head = b"h" * (LINE_CAP + 100)
    r = LineReader().read([(STDOUT, ts, None, head, 0), (STDOUT, ts, None, b"tail\rX\n", 0)]).close()
    (ln,) = r.lines
    assert ln.text == "X" + "h" * (LINE_CAP - 1) and ln.dropped == 104


def test_a_progress_line_of_small_entries_over_the_cap_keeps_the_part_being_written():
    """Entries shorter than the room left (an engine that logs each write as
    an entry) go on the part being written, not past it."""
    pieces = [b"ab\r" * 5000 + b"c" * 100, b"d" * 2000, b"\rXYZ\r", b"e" * 15000 + b"\n"]
    (ln,) = LineReader().read([(STDOUT, b"", None, p, 0) for p in pieces]).close().lines
    assert ln.text == "e" * 15000 and ln.dropped == 0
    whole = b"".join(pieces)
    for size in (1, 7, 100, 3000):  # any cut into entries: the same as the whole line
        cut = [whole[i:i + size] for i in range(0, len(whole), size)]
        (ln,) = LineReader().read([(STDOUT, b"", None, p, 0) for p in cut]).close().lines
        assert (ln.text, ln.dropped) == ("e" * 15000, 0), size


def test_a_progress_line_over_the_cap_with_bytes_that_are_not_utf8():
    pieces = [b"\xff" * 10000 + b"\ra", b"b" * 10000 + b"\n"]
    (ln,) = LineReader().read([(STDOUT, b"", None, p, 0) for p in pieces]).close().lines
    assert ln.dropped == 0 and ln.text.startswith("a" + "b" * 10000)
    (ln,) = LineReader().read([(STDOUT, b"", None, b"x\r" + b"\x80" * 18000, 0),
                               (STDOUT, b"", None, b"\n", 0)]).close().lines
    assert len(ln.text) >= LINE_CAP - 3 and ln.dropped == 18000 - LINE_CAP


@pytest.mark.parametrize("seed", range(6))
def test_progress_lines_over_the_cap_in_any_entries_show_what_the_whole_line_would(seed):
    import random
    rnd = random.Random(seed)
    parts = [bytes(rnd.choice(b"abc\xc3\xa9 #") for _ in range(rnd.randint(0, 300)))
             for _ in range(rnd.randint(200, 400))]
    whole = b"\r".join(parts)
    assert len(whole) > LINE_CAP
    at, entries = 0, []
    while at < len(whole):
        n = rnd.choice((1, 5, 50, 700, 5000, 20000))
        entries.append((STDOUT, b"", None, whole[at:at + n], 0))
        at += n
    entries.append((STDOUT, b"", None, b"\n", 0))
    (ln,) = LineReader().read(entries).close().lines
    assert ln.text == carriage_returns(whole.decode("utf-8", "replace")) and ln.dropped == 0
