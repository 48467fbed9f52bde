"""Swarm state, nodes, tasks and stacks from recorded answers of a real
two-node swarm (tests/data/swarm/, made with tests/swarmkit.py's layout)."""

from app import swarm
from swarmkit import load


def test_swarm_state_of_a_manager_a_worker_and_others():
    m = swarm.swarm_state(load("info-manager"))
    assert m.kind == "manager" and m.manager and m.nodes == 2 and m.manager_count == 1
    assert m.node_id and m.cluster_id
    w = swarm.swarm_state(load("info-worker"))
    assert w.kind == "worker" and not w.manager
    assert w.managers and "Managers it knows: " + w.managers[0]["Addr"] in w.note
    assert swarm.swarm_state({}).kind == "inactive"
    assert "not in a swarm" in swarm.swarm_state({"Swarm": {"LocalNodeState": ""}}).note
    assert swarm.swarm_state({"Swarm": {"LocalNodeState": "locked"}}).kind == "locked"
    e = swarm.swarm_state({"Swarm": {"LocalNodeState": "error", "Error": "raft <b>"}})
    assert e.kind == "error" and "raft <b>" in e.note


def test_node_rows_put_the_leader_first_and_mark_this_engine():
    own = swarm.swarm_state(load("info-manager")).node_id
    rows = swarm.node_rows(load("nodes"), own)
    assert [r["role"] for r in rows] == ["manager", "worker"]
    assert rows[0]["leader"] and rows[0]["self"] and not rows[1]["self"]
    assert rows[1]["state"] == "ready" and rows[1]["availability"] == "active"
    assert rows[0]["cpus"] and rows[0]["memory"] and rows[0]["engine_version"]


def test_task_rows_current_first_then_history_and_local_links():
    tasks = load("tasks")
    services = {s["ID"]: s["Spec"]["Name"] for s in load("services")}
    names = swarm.node_names(load("nodes"))
    own = swarm.swarm_state(load("info-manager")).node_id
    worker = next(s for s, n in services.items() if n == "shop_worker")
    rows = swarm.task_rows([t for t in tasks if t["ServiceID"] == worker], "shop_worker", names,
                           own)
    assert len(rows) >= 2 and rows[0]["name"] == "shop_worker.1" and not rows[0]["history"]
    assert all(r["history"] for r in rows[1:])
    assert any("non-zero exit (3)" in r["error"] for r in rows[1:])
    assert [r["when"] for r in rows[1:]] == sorted((r["when"] for r in rows[1:]), reverse=True)
    failed = next(r for r in rows if r["state"] == "failed")
    assert failed["exit_code"] == 3
    glob = next(s for s, n in services.items() if n == "glob")
    g = swarm.task_rows([t for t in tasks if t["ServiceID"] == glob], "glob", names, own)
    assert len({r["node_id"] for r in g}) == 2
    assert [r["local"] for r in g].count(True) == 1  # only the manager's own task links
    labels = swarm.task_labels([t for t in tasks if t["ServiceID"] == glob], "glob", names)
    assert all(v[0].startswith("glob.") and "@" in v[0] for v in labels.values())


def test_running_count_and_stacks():
    tasks = load("tasks")
    web = next(s["ID"] for s in load("services") if s["Spec"]["Name"] == "web")
    assert swarm.running_count([t for t in tasks if t["ServiceID"] == web]) == (2, 2)
    rows = [{"name": "a_x", "stack": "a", "running": 1, "desired": 2},
            {"name": "a_y", "stack": "a", "running": 3, "desired": 3},
            {"name": "solo", "stack": "", "running": 1, "desired": 1},
            {"name": "b_z", "stack": "b", "running": None, "desired": None, "engine": "e2"}]
    st = swarm.stacks(rows)
    assert [(g["name"], len(g["services"]), g["running"], g["desired"]) for g in st] == [
        ("a", 2, 4, 5), ("b", 1, 0, 0)]
    assert st[1]["engine"] == "e2"


def test_repeated_hostnames_are_told_apart():
    names = swarm.node_names(load("nodes"))  # both recorded nodes are called "vm"
    assert len(set(names.values())) == 2
    assert all(v.startswith("vm/") and v[3:] == k[:8] for k, v in names.items())
    one = swarm.node_names(load("nodes")[:1])
    assert list(one.values()) == ["vm"]


def test_bounded_keeps_every_current_task_and_the_newest_past_ones():
    rows = [{"history": False, "when": f"2026-01-01T00:00:{i:02d}Z"} for i in range(5)]
    rows += [{"history": True, "when": f"2026-01-01T00:01:{i:02d}Z"} for i in range(30)]
    kept, hidden = swarm.bounded(rows, history=10)
    assert hidden == 20 and sum(not r["history"] for r in kept) == 5
    assert sorted(r["when"] for r in kept if r["history"])[0] == "2026-01-01T00:01:20Z"
    assert swarm.bounded(rows, history=30) == (rows, 0)
