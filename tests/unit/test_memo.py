"""Work not done twice while the Engine's answers stay the same."""

from app import memo
from app.containeruse import key


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
