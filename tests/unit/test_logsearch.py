"""Search in log lines: literal and case-insensitive, or a guarded regex."""

import pytest

from app.logsearch import Search
from app.params import InputError


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
