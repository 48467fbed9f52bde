"""Changes as a tree: folder order, implied folders, counts, the filter."""

from app.fschanges import Filter, read_filter, tree

SAMPLE = [{"Path": "/etc", "Kind": 0}, {"Path": "/etc/passwd", "Kind": 0},
          {"Path": "/etc/group", "Kind": 2}, {"Path": "/data", "Kind": 1},
          {"Path": "/data/sub", "Kind": 1}, {"Path": "/data/sub/x.txt", "Kind": 1},
          {"Path": "/data/a.txt", "Kind": 1}, {"Path": "/var/lib/deep/new", "Kind": 1},
          {"Path": "/data-other", "Kind": 1}]


def test_tree_order_counts_and_implied_folders():
    ch = tree(SAMPLE)
    assert ch.counts == {"added": 6, "changed": 2, "deleted": 1} and ch.total == 9
    assert [(r.path, r.depth, r.kind) for r in ch.rows] == [
        ("/data", 0, "added"), ("/data/a.txt", 1, "added"), ("/data/sub", 1, "added"),
        ("/data/sub/x.txt", 2, "added"), ("/data-other", 0, "added"), ("/etc", 0, "changed"),
        ("/etc/group", 1, "deleted"), ("/etc/passwd", 1, "changed"), ("/var", 0, ""),
        ("/var/lib", 1, ""), ("/var/lib/deep", 2, ""), ("/var/lib/deep/new", 3, "added")]
    by = {r.path: r for r in ch.rows}
    assert by["/data"].below == 3 and by["/var"].below == 1 and by["/etc/passwd"].below == 0
    assert by["/data/a.txt"].mark == "A" and by["/etc/group"].mark == "D" and by["/var"].mark == ""


def test_filter_keeps_the_folders_above_a_match():
    ch = tree(SAMPLE, Filter(q="X.TXT"))
    assert ch.matched == 1
    assert [(r.path, r.match) for r in ch.rows] == [("/data", False), ("/data/sub", False),
                                                   ("/data/sub/x.txt", True)]
    ch = tree(SAMPLE, Filter(kind="deleted"))
    assert [(r.path, r.match) for r in ch.rows] == [("/etc", False), ("/etc/group", True)]
    assert tree(SAMPLE, Filter(q="nothing-like-it")).rows == []


def test_rows_are_bounded_but_counts_are_not():
    many = [{"Path": f"/d/f{i}", "Kind": 1} for i in range(100)]
    ch = tree(many, max_rows=10)
    assert len(ch.rows) == 10 and ch.cut == 91 and ch.counts["added"] == 100


def test_odd_input_is_tolerated():
    ch = tree([{"Path": "/x", "Kind": 7}, {"Path": "", "Kind": 1}, {"Path": None}, {"Kind": 1},
               {"Path": "relative", "Kind": 1}, {"Path": "/", "Kind": 0}])
    assert [r.path for r in ch.rows] == ["/x"] and ch.unknown == [7]


def test_read_filter():
    assert read_filter({"q": "  etc ", "kind": "ADDED"}) == Filter("etc", "added")
    assert read_filter({"kind": "<script>"}) == Filter("", "")
    assert len(read_filter({"q": "x" * 9000}).q) == 500
