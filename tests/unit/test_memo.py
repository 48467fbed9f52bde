"""Work not done twice while the Engine's answers stay the same."""

import copy
import os
import subprocess
import sys
from pathlib import Path

from app import memo
from app.containeruse import key

ROOT = Path(__file__).resolve().parents[2]


def test_same_answers_same_result_object():
    m = memo.Memo(size=2)
    made = []

    def make(v):
        def f():
            made.append(v)
            return [v]
        return f

    k1 = memo.answer_key([{"b": 1, "a": 2}])
    assert m.get(k1, make(1)) is m.get(memo.answer_key([{"a": 2, "b": 1}]), make(2))
    assert made == [1]  # key order inside an object does not matter
    m.get(memo.answer_key([{"a": 3}]), make(3))
    m.get(memo.answer_key([{"a": 4}]), make(4))
    m.get(k1, make(5))  # pushed out by the two after it: made again
    assert made == [1, 3, 4, 5]


def test_a_containers_status_text_does_not_change_the_key():
    a = [{"Id": "x", "State": "running", "Status": "Up 3 seconds", "ImageID": "i"}]
    b = [{**a[0], "Status": "Up 2 minutes"}]
    assert memo.answer_key(key(a)) == memo.answer_key(key(b))
    c = [{**a[0], "State": "exited"}]
    assert memo.answer_key(key(a)) != memo.answer_key(key(c))


def test_results_of_steps_before_the_last_are_dropped_as_new_ones_come():
    from app.memo import Memo

    m = Memo(size=32)
    made = []

    def make(v):
        return lambda: made.append(v) or v

    assert m.get(("a", 1), make("a1"), step=1) == "a1"
    assert m.get(("b", 1), make("b1"), step=1) == "b1"
    assert m.get(("a", 2), make("a2"), step=2) == "a2"  # the step before stays
    assert m.get(("b", 1), make("again"), step=1) == "b1"
    assert m.get(("a", 3), make("a3"), step=3) == "a3"  # step 1's are dropped now
    assert m.get(("b", 1), make("b1 anew"), step=1) == "b1 anew"
    assert made == ["a1", "b1", "a2", "a3", "b1 anew"]


def test_context_tag_holds_everything_a_partial_is_made_from():
    from dataclasses import dataclass

    @dataclass
    class Note:
        name: str
        message: str

    ctx = {"rows": [{"id": "a", "labels": {"k": "v"}, "ports": ["80/tcp"]}],
           "f": {"q": ""}, "notes": [Note("e1", "slow")], "several": False}
    tag = memo.context_tag(ctx, ("frame", 1))
    assert tag == memo.context_tag(copy.deepcopy(ctx), ("frame", 1))
    # any nested value, a note's text, the frame: another tag
    for change in (lambda c: c["rows"][0]["labels"].update(k="w"),
                   lambda c: c["rows"][0]["ports"].append("81/tcp"),
                   lambda c: c["notes"].__setitem__(0, Note("e1", "gone")),
                   lambda c: c["f"].update(q="x"), lambda c: c.update(several=True)):
        other = copy.deepcopy(ctx)
        change(other)
        assert memo.context_tag(other, ("frame", 1)) != tag
    assert memo.context_tag(ctx, ("frame", 2)) != tag


def test_context_tag_counts_keyed_rows_by_their_key_and_is_the_same_in_every_process():
    rows = memo.Keyed.of([{"id": "a"}], ("answer-tag", 7))
    same_key = memo.Keyed.of([{"id": "other"}], ("answer-tag", 7))
    assert memo.context_tag({"rows": rows}) == memo.context_tag({"rows": same_key})
    assert memo.context_tag({"rows": rows}) != memo.context_tag(
        {"rows": memo.Keyed.of([{"id": "a"}], ("answer-tag", 8))})
    code = ("from app import memo; print(memo.context_tag({'rows': [{'id': 'a', 'n': 1}], "
            "'set': {'x'}, 'b': b'1'}, ('f', None)))")
    tags = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           env={**os.environ, "PYTHONHASHSEED": seed}, check=True,
                           cwd=ROOT).stdout for seed in ("1", "2")}
    assert len(tags) == 1 and len(tags.pop().strip()) == 18


def test_context_tag_counts_keyed_rows_by_what_they_show_when_they_say():
    made_then = memo.Keyed.of([{"id": "a"}], ("answer", 1), shows=("answer", ["3 minutes ago"]))
    made_now = memo.Keyed.of([{"id": "a"}], ("answer", 2), shows=("answer", ["3 minutes ago"]))
    later = memo.Keyed.of([{"id": "a"}], ("answer", 3), shows=("answer", ["4 minutes ago"]))
    assert memo.context_tag({"rows": made_then}) == memo.context_tag({"rows": made_now})
    assert memo.context_tag({"rows": made_now}) != memo.context_tag({"rows": later})
