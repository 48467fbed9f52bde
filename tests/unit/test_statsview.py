"""What pages show of the stats: cells, sort, processes."""

import json
from pathlib import Path

from app import statsmath as sm, statsview as sv

DATA = Path(__file__).parent / "data" / "stats"


def fig(name1, name2):
    load = lambda n: sm.reduce(json.loads((DATA / f"{n}.json").read_text()))  # noqa: E731
    return sm.figures(load(name1), load(name2))


def test_cells_for_each_case():
    assert sv.cells("exited", None) == ("off",)
    assert sv.cells("paused", fig("v2-web-1", "v2-web-2")) == ("off",)
    assert sv.cells("running", None) == ("wait",)
    ok = sv.cells("running", fig("v2-web-1", "v2-web-2"))
    assert ok[0] == "ok" and ok[1] == "50.0%" and ok[3] == "7.7 GiB"
    assert ok[4] == "2.0 kB/s" and ok[5] == "500 B/s" and ok[8] == "6"
    host = sv.cells("running", fig("v1-hostnet", "v1-hostnet"))
    assert host[4] == host[5] == sv.NONE  # no network of its own
    first = sv.cells("running", sm.figures(None, sm.reduce(
        json.loads((DATA / "v1-holder-1.json").read_text()))))
    assert first[1] == sv.PENDING and first[4] == sv.PENDING and first[2].endswith("MiB")


class FakeSampler:
    """Stands in for the sampler: the list's own logic only (marks, cells, sort)."""

    def __init__(self, figures):
        self.figures, self.marked = figures, []

    def engine(self, name):
        return self

    def watch(self, ids, focus=False):
        self.marked.extend(ids)

    def latest(self):
        from app.statsampler import Snapshot
        return Snapshot(figures=self.figures, list_interval=4.0)


def test_for_list_marks_running_rows_and_sorts():
    busy, idle = fig("v1-burner-1", "v1-burner-2"), fig("v2-web-1", "v2-web-2")
    rows = [{"id": "1" * 64, "state": "running"}, {"id": "2" * 64, "state": "exited"},
            {"id": "3" * 64, "state": "running"}, {"id": "4" * 64, "state": "running"}]
    s = FakeSampler({"1" * 64: idle, "3" * 64: busy})
    out = sv.for_list(s, rows, "default", "cpu")
    assert s.marked == ["1" * 64, "3" * 64, "4" * 64]  # running rows only
    assert [r["id"][0] for r in rows] == ["3", "1", "2", "4"]  # busiest first, unknowns after
    assert rows[2]["stats"] == ("off",) and rows[3]["stats"] == ("wait",)
    assert out.on and out.interval == 4.0
    sv.for_list(s, rows, "default", "mem")
    assert rows[0]["id"][0] == "1"  # 7.7 GiB-limited web uses more than the burner
    assert sv.for_list(None, rows, "default", "").on is False


def test_processes_picks_columns_by_title():
    top = {"Titles": ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"],
           "Processes": [["root", "12", "1", "0", "10:00", "?", "00:00:01", "sleep 60"]]}
    assert sv.processes(top) == (["PID", "User", "CPU time", "Command"],
                                 [["12", "root", "00:00:01", "sleep 60"]])
    win = {"Titles": ["Name", "PID", "CPU", "Private Working Set"],
           "Processes": [["smss.exe", "228", "00:00:00.031", "225.3kB"]]}
    assert sv.processes(win) == (["PID", "Command"], [["228", "smss.exe"]])
    assert sv.processes({}) == ([], [])


def test_sort_param():
    assert sv.sort_param({"sort": "CPU"}) == "cpu"
    assert sv.sort_param({"sort": "name"}) == ""


def test_changed_rows_against_the_figures_the_viewer_has():
    def rows(cpu_a, state_b="running", cpu_b="1.0%"):
        return [{"id": "a" * 64, "stats": ("ok", cpu_a)},
                {"id": "b" * 64, "stats": ("ok", cpu_b) if state_b == "running" else ("off",)},
                {"id": "c" * 64, "stats": ("off",)}]

    first = rows("5.0%")
    had = sv.cells_tag(first)
    assert sv.cells_tag(rows("5.0%")) == had  # the same figures, the same tag
    now = rows("7.5%")
    tag = sv.cells_tag(now)
    assert tag != had
    assert [r["id"][0] for r in sv.changed_rows(now, had)] == ["a"]  # only what moved
    assert sv.changed_rows(now, tag) == []
    # a tag this process never made (another worker's): every running row
    assert [r["id"][0] for r in sv.changed_rows(now, "0123456789ab")] == ["a", "b"]
    assert [r["id"][0] for r in sv.changed_rows(now, None)] == ["a", "b"]
    # the same container on two engines is two rows
    two = [dict(now[0], engine="x"), dict(now[0], engine="y", stats=("ok", "9.9%"))]
    had2 = sv.cells_tag([dict(two[0]), dict(two[1], stats=("ok", "7.5%"))])
    assert [r["engine"] for r in sv.changed_rows(two, had2)] == ["y"]


def test_marked_rows_are_made_once_per_rows_and_figures():
    from app import memo
    busy, idle = fig("v1-burner-1", "v1-burner-2"), fig("v2-web-1", "v2-web-2")
    base = memo.Keyed.of([{"id": "1" * 64, "state": "running"},
                          {"id": "2" * 64, "state": "exited"},
                          {"id": "3" * 64, "state": "running"}], ("marked-test", 1))
    s = FakeSampler({"1" * 64: idle, "3" * 64: busy})
    rows, out = sv.marked(s, base, "default", "cpu")
    assert [r["id"][0] for r in rows] == ["3", "1", "2"] and rows[2]["stats"] == ("off",)
    assert "stats" not in base[0] and [r["id"][0] for r in base] == ["1", "2", "3"]
    assert rows.key == base.key and rows.cells == sv.cells_tag(rows)
    again, out2 = sv.marked(s, base, "default", "cpu")
    assert again is rows and out2 is out  # nothing made again
    assert s.marked == ["1" * 64, "3" * 64] * 2  # but watched on every call
    s.figures = {"1" * 64: busy, "3" * 64: idle}  # new figures: new rows, new order
    moved, _ = sv.marked(s, base, "default", "cpu")
    assert moved is not rows and [r["id"][0] for r in moved] == ["1", "3", "2"]
    assert moved.cells != rows.cells
    assert sv.marked(s, base, "default", "")[0] is not moved  # another sort, other rows
    none, off = sv.marked(None, base, "default", "")
    assert none is base and off.on is False
    # only the rows on screen are watched
    s.marked.clear()
    sv.marked(s, base, "default", "", looking={"3" * 12})
    assert s.marked == ["3" * 64]


def test_a_figures_only_answer_is_made_once_for_viewers_who_had_the_same_figures():
    ok = sv.cells("running", fig("v2-web-1", "v2-web-2"))
    before = [{"id": "a" * 64, "short_id": "a" * 12, "state": "running", "stats": ("wait",)},
              {"id": "b" * 64, "short_id": "b" * 12, "state": "running", "stats": ok}]
    had = sv.cells_tag(before)
    now = [dict(before[0], stats=ok), before[1]]
    made = []

    def render(changed):
        made.append([r["id"][0] for r in changed])
        return f"answer {len(made)}"

    cells = sv.cells_tag(now)
    for _ in range(5):  # five viewers who had the same figures
        assert sv.cells_answer(now, cells, had, render) == "answer 1"
    assert made == [["a"]]  # the one row whose cells changed, rendered once
    assert sv.cells_answer(now, cells, "unknown-tag", render) == "answer 2"
    assert made[-1] == ["a", "b"]  # figures not known here: every running row
