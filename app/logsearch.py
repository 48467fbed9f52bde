"""Searching log lines: a case-insensitive substring by default, a regular
expression on request, guarded against patterns that could take very long."""

from __future__ import annotations

import re
import time

import regex as _regex

from .params import InputError

MAX_PATTERN = 200
SEARCH_BUDGET_S = 1.0  # total regex time per request; beyond it, searching stops
REGEX_TEXT_CAP = 4096  # characters of a line a regex looks at
MAX_MARKS = 100  # matches highlighted in one line (the line counts as matching either way)


class Search:
    """Case-insensitive substring by default, a regular expression on request.

    Guards against costly patterns: a length cap, no nested repetition (the
    exponential kind: (a+)+, (a|aa)*), a cap on the text a regex sees, and a
    time budget for the whole request, which also stops a match in the middle
    of a line (the `regex` module's timeout: a pattern no check foresaw, such
    as a repeat inside a lookahead, cannot hold a worker)."""

    def __init__(self, query: str, regex: bool = False):
        self.query = query
        self.regex = regex
        self.spent = 0.0
        self.exhausted = False
        if len(query) > MAX_PATTERN:
            raise InputError(f"the search is {len(query)} characters long; at most "
                             f"{MAX_PATTERN} are allowed.")
        if regex:
            try:
                self.pattern = re.compile(query, re.IGNORECASE)
            except re.error as exc:
                raise InputError(f"not a valid regular expression: {exc}") from None
            why = _costly(query)
            if why:
                raise InputError(f"this regular expression could take very long to run "
                                 f"({why}); simplify it.")
            if self.pattern.search("") is not None:
                raise InputError("this regular expression matches the empty string, so it "
                                 "matches every line.")
            try:  # what runs: the same pattern (re's syntax), with a timeout
                self._timed = _regex.compile(query, _regex.IGNORECASE | _regex.VERSION0)
            except _regex.error as exc:
                raise InputError(f"not a valid regular expression: {exc}") from None
        else:
            self.pattern = re.compile(re.escape(query), re.IGNORECASE)

    def spans(self, text: str) -> list[tuple[int, int]] | None:
        """The match spans in text, or None for no match (or budget spent)."""
        if self.exhausted:
            return None
        if not self.regex:
            spans = []
            for m in self.pattern.finditer(text):
                spans.append(m.span())
                if len(spans) >= MAX_MARKS:
                    break
            return spans or None
        t0 = time.perf_counter()
        found = []
        try:
            for m in self._timed.finditer(text[:REGEX_TEXT_CAP],
                                          timeout=max(SEARCH_BUDGET_S - self.spent, 0.001)):
                if m.end() > m.start():
                    found.append(m.span())
                if len(found) >= MAX_MARKS:
                    break
        except TimeoutError:  # the budget ran out inside this line
            self.spent = SEARCH_BUDGET_S
            self.exhausted = True
            return None
        self.spent += time.perf_counter() - t0
        if self.spent > SEARCH_BUDGET_S:
            self.exhausted = True
        return found or None


def _costly(pattern: str) -> str | None:
    """Why a pattern risks catastrophic backtracking, or None."""
    try:
        import re._parser as sre_parse  # Python 3.11+
        from re._constants import BRANCH, MAX_REPEAT, MIN_REPEAT, MAXREPEAT, SUBPATTERN
    except ImportError:  # pragma: no cover
        return None
    try:
        parsed = sre_parse.parse(pattern, re.IGNORECASE)
    except Exception:  # noqa: BLE001 - compile already accepted it
        return None
    repeats = (MAX_REPEAT, MIN_REPEAT)

    def has_repeat_or_branch(items) -> bool:
        for op, av in items:
            if op in repeats and av[1] > 1:
                return True
            if op == BRANCH:
                return True
            if op == SUBPATTERN and has_repeat_or_branch(av[-1]):
                return True
        return False

    unbounded = 0

    def walk(items) -> str | None:
        nonlocal unbounded
        for op, av in items:
            if op in repeats:
                lo, hi, sub = av
                if hi == MAXREPEAT or hi > 100:
                    unbounded += 1
                    if has_repeat_or_branch(sub):
                        return "a repeated group that itself repeats or alternates"
                r = walk(sub)
                if r:
                    return r
            elif op == SUBPATTERN:
                r = walk(av[-1])
                if r:
                    return r
            elif op == BRANCH:
                for alt in av[1]:
                    r = walk(alt)
                    if r:
                        return r
        return None

    why = walk(parsed)
    if why:
        return why
    if unbounded > 3:
        return f"{unbounded} open-ended repetitions"
    return None
