"""One parser for each kind of typed value: flags, counts, tails, times."""

import datetime as dt

import pytest

from app.params import InputError, count, flag, flags, since, tail


def test_flags():
    for on in ("1", "true", "YES", " on "):
        assert flag(on) is True
    for off in ("0", "false", "no", "off", "junk"):
        assert flag(off) is False
    assert flag(None, True) is True and flag("", True) is True and flag("  ") is False
    assert flags(["0", "1"]) is True and flags(["0"]) is False and flags([], True) is True


def test_counts_and_tails():
    assert tail(None) == "500" and tail("all") == "all" and tail("ALL") == "all"
    assert tail("200") == "200" and tail("7") == "7" and tail("007") == "7"
    for bad in ("-1", "0", "1.5", "²", "٣", "9" * 5000, "<b>"):
        with pytest.raises(InputError):
            tail(bad)
    assert count("", name="n", default=3) == 3
    with pytest.raises(InputError, match="from 1 to 10"):
        count("11", name="n", maximum=10)


def test_since_and_until():
    now = 1_800_000_000
    assert since("", now) is None
    assert since("15m", now) == str(now - 900)
    assert since("2h", now) == str(now - 7200)
    assert since("3d", now) == str(now - 3 * 86400)
    assert since("1700000000.5", now) == "1700000000.5"
    assert since("2026-01-31 14:00", now) == str(
        int(dt.datetime(2026, 1, 31, 14, tzinfo=dt.timezone.utc).timestamp()))
    assert since("2026-01-31T14:00:00+02:00", now) == str(
        int(dt.datetime(2026, 1, 31, 12, tzinfo=dt.timezone.utc).timestamp()))
    base = int(dt.datetime(2026, 1, 31, 14, tzinfo=dt.timezone.utc).timestamp())
    assert since("2026-01-31T14:00:00.123456789Z", now) == f"{base}.123456789"
    assert since("2026-01-31T14:00:00.5+00:00", now) == f"{base}.500000000"
    for bad in ("yesterday", "15x", "2026-13-40", "<script>"):
        with pytest.raises(InputError, match="Until"):
            since(bad, now, name="Until")
    # the engine reads 0 or less as no bound: a time that early is the log's
    # start as `since`, and before every line (1 ns) as `until`
    for early in ("99999w", "0", "0.0", "1960-01-01"):
        assert since(early, now, name="Since") == "0"
        assert since(early, now, name="Until") == "0.000000001"


def test_typed_text_drops_control_characters():
    from app.params import typed

    assert typed("a\x00b\x1bc\td\x7f", 100) == "abc\td"
    assert typed(None, 5) == "" and typed("abcdefgh", 5) == "abcde"
