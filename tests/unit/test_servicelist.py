"""The service list from recorded answers of a real two-node swarm, served by
a fake engine (tests/faultkit.FakeEngine) where the API version or the number
of engines matters; and what the service pages ask the engine at 100 nodes
and 1,000 tasks (one filtered /tasks call per page, never one per task)."""

import copy
import json

import pytest

from app import create_app, servicelist as sl
from app.config import Settings
from app.registry import EngineEntry, Registry
from app.gateway import Engine
from faultkit import FakeEngine
from swarmkit import load, scaled_nodes, scaled_tasks

J = "application/json"


def rows(services, **f):
    filters, problems = sl.list_filters(f)
    assert not problems
    answer = sl.Answer(services, None, (json.dumps(services, sort_keys=True), None))
    return {r["name"]: r for r in sl.rows_from(answer, filters, "/services/")}


def test_rows_of_every_mode_with_counts_ports_and_stacks():
    r = rows(load("services"))
    assert (r["web"]["mode"], r["web"]["running"], r["web"]["desired"]) == ("replicated", 2, 2)
    assert r["glob"]["mode"] == "global" and r["glob"]["desired"] == 2 and not r["glob"]["scalable"]
    job = r["job1"]
    assert job["mode"] == "replicated job" and job["completed"] == 2 and job["running"] == 0
    assert r["shop_api"]["ports"] == ["*:18080→80/tcp (host)"] and r["shop_api"]["stack"] == "shop"
    assert r["web"]["href"] == "/services/" + r["web"]["id"]
    assert list(r) == ["glob", "job1", "web", "shop_api", "shop_worker"]  # no stack first
    assert set(rows(load("services"), q="SHOP")) == {"shop_api", "shop_worker"}


def test_rows_made_again_in_the_next_step_show_the_same_and_say_so(monkeypatch):
    """Rows are made again each step of relative times (memo.tick); what
    they show (their `shows`) stays the same while the texts do, so a live
    list's poll keeps answering "no change"."""
    from app import memo

    services = load("services")  # updated long ago: texts that move in days
    answer = sl.Answer(services, None, ("tag", None))
    f, _ = sl.list_filters({})
    monkeypatch.setattr(memo, "tick", lambda: 10)
    before = sl.rows_from(answer, f, "/services/")
    monkeypatch.setattr(memo, "tick", lambda: 11)
    after = sl.rows_from(answer, f, "/services/")
    assert before is not after and before.key != after.key
    assert before.shows == after.shows
    assert memo.context_tag({"rows": before}) == memo.context_tag({"rows": after})
    older = copy.deepcopy(services)
    older[0]["UpdatedAt"] = "2001-01-01T00:00:00Z"
    changed = sl.rows_from(sl.Answer(older, None, ("tag2", None)), f, "/services/")
    assert memo.context_tag({"rows": changed}) != memo.context_tag({"rows": after})


def test_filters_refuse_bad_values_and_go_to_the_engine():
    f, problems = sl.list_filters({"label": "=x", "stack": "a b", "q": " web "})
    assert len(problems) == 2 and f["q"] == "web" and sl.engine_filters(f) is None
    f, problems = sl.list_filters({"label": "tier=db", "stack": "shop"})
    assert not problems
    assert sl.engine_filters(f) == {"label": ["tier=db", "com.docker.stack.namespace=shop"]}
    assert sl.query_string(f) == {"label": "tier=db", "stack": "shop"}


def test_image_pinned_by_digest_is_shown_without_it():
    assert sl.image_text("busybox:1@sha256:" + "a" * 64) == ("busybox:1", "busybox:1@sha256:" + "a" * 64)


def _fake(tmp_path, name, routes, api="1.41"):
    return FakeEngine(tmp_path / f"{name}.sock", routes, api_version=api)


def test_below_api_1_41_running_and_desired_are_counted_from_one_tasks_call(tmp_path):
    old = [{k: v for k, v in s.items() if k != "ServiceStatus"} for s in load("services")]
    fake = _fake(tmp_path, "old", {"/v1.40/services": (200, json.dumps(old), J),
                                   "/v1.40/tasks": (200, json.dumps(load("tasks")), J)},
                 api="1.40")
    try:
        eng = Engine(f"unix://{fake.path}")
        f, _ = sl.list_filters({})
        out = {r["name"]: r for r in sl.fetch(eng, f, "/services/").rows}
        assert (out["web"]["running"], out["web"]["desired"]) == (2, 2)
        assert (out["glob"]["running"], out["glob"]["desired"]) == (2, 2)
        assert out["shop_worker"]["desired"] == 1
        assert fake.seen[1:] == ["GET /v1.40/services",
                                 'GET /v1.40/tasks?filters=%7B%22desired-state%22%3A%5B%22running%22%5D%7D']
    finally:
        fake.close()


def test_combined_list_shows_a_swarm_once_and_notes_the_others(tmp_path):
    services = json.dumps(load("services"))
    not_mgr = '{"message":"This node is not a swarm manager. Worker nodes can\'t be used to view or modify cluster state."}'
    a = _fake(tmp_path, "a", {"/v1.41/services": (200, services, J)})
    b = _fake(tmp_path, "b", {"/v1.41/services": (200, services, J)})
    w = _fake(tmp_path, "w", {"/v1.41/services": (503, not_mgr, J),
                              "/v1.41/info": (200, json.dumps(load("info-worker")), J)})
    try:
        reg = Registry([EngineEntry(n, Engine(f"unix://{x.path}", name=n), False, False)
                        for n, x in (("a", a), ("b", b), ("w", w))])
        f, _ = sl.list_filters({}, reg.names())
        out, notes = sl.fetch_combined(reg, f, {n: f"/engines/{n}/services/" for n in "abw"}, 2.0)
        assert len(out) == len(load("services"))
        assert all(r["engine"] == "a" and r["also"] == ["b"] for r in out)
        assert [(n.name, n.kind) for n in notes] == [("w", "swarm")]
        assert "swarm worker" in notes[0].message
    finally:
        for x in (a, b, w):
            x.close()


@pytest.fixture
def big(tmp_path):
    """A fake manager answering as a real one would with 100 nodes and one
    service of 1,000 tasks (recorded answers, extended)."""
    nodes = scaled_nodes(100)
    svc = copy.deepcopy(load("service-shop_api"))
    tasks = scaled_tasks(svc, 1000, nodes)
    info = load("info-manager")
    routes = {f"/v1.41/services/{svc['ID']}": (200, json.dumps(svc), J),
              "/v1.41/services": (200, json.dumps([svc]), J),
              "/v1.41/tasks": (200, json.dumps(tasks), J),
              "/v1.41/nodes": (200, json.dumps(nodes), J),
              "/v1.41/info": (200, json.dumps(info), J)}
    fake = FakeEngine(tmp_path / "big.sock", routes)
    s = Settings.from_env({"DOCKER_HOST": f"unix://{fake.path}"})
    s.secret_key = "t"
    yield create_app(s).test_client(), fake, svc, tasks
    fake.close()


def test_pages_ask_a_fixed_number_of_calls_at_100_nodes_and_1000_tasks(big):
    c, fake, svc, tasks = big

    def calls(url):
        fake.seen.clear()
        r = c.get(url)
        assert r.status_code == 200, r.get_data(as_text=True)[:500]
        return [x.split("?")[0] for x in fake.seen if x != "GET /_ping"], r.get_data(as_text=True)

    seen, body = calls(f"/services/{svc['ID']}")
    assert seen == [f"GET /v1.41/services/{svc['ID']}", "GET /v1.41/tasks", "GET /v1.41/nodes",
                    "GET /v1.41/info"]
    assert body.count('<tr class="task') == 1000 and "worker-099" in body
    seen, _ = calls(f"/services/{svc['ID']}/tasks")  # the poll: nodes' names were kept
    assert seen == [f"GET /v1.41/services/{svc['ID']}", "GET /v1.41/tasks", "GET /v1.41/info"]
    seen, body = calls("/nodes")
    assert seen == ["GET /v1.41/nodes", "GET /v1.41/info"] and body.count('<tr class="node"') == 100
    seen, _ = calls("/services")
    assert seen == ["GET /v1.41/services"]
