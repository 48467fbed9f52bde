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


@pytest.mark.parametrize("pattern, text", [
    (r"(?=(a+)+$)", "a" * 4000 + "b"),  # a repeat inside a lookahead: no check foresees it
    (r"(?=(a|aa)+$)", "a" * 4000 + "b"),
    (r"(a{1,100}){1,100}$", "a" * 4000 + "b"),  # bounded repeats, nested
])
def test_a_regex_no_check_foresaw_stops_at_the_budget_inside_a_line(pattern, text):
    """A pattern the checks let through that backtracks for minutes on one
    line stops when the request's search budget is spent (the match itself
    times out), and the page says the search stopped."""
    import threading

    s = Search(pattern, regex=True)
    done = {}
    t = threading.Thread(target=lambda: done.update(spans=s.spans(text)), daemon=True)
    t.start()
    t.join(60)  # well past the 1 s budget: a match that ignores it hangs here
    assert not t.is_alive(), "the match ran past the budget"
    assert done["spans"] is None and s.exhausted
    assert s.spans("a!") is None  # spent: nothing more is searched


@pytest.mark.parametrize("pattern", [r"a*a*a*b", r"\w*\w*\w*!", r".*.*=.*"])
def test_polynomial_patterns_run_quickly_on_long_lines(pattern):
    """Patterns that take re seconds on one 4,096-character line (found by a
    hostile test) are run by the regex module within the budget, whole."""
    s = Search(pattern, regex=True)
    assert s.spans("a" * 4096) is None and s.spans("w" * 4096) is None
    assert not s.exhausted
