"""Grouping Compose projects from labels, on recorded container lists:
compose_v1_containers.json is GET /containers/json?all=1 of a project made by
Debian's docker-compose 1.29.2 (web scaled to 2, db, a one-off `run`, and a
container of no project); compose_v2_containers.json carries the label set the
v2 plugin writes (dash names, absolute config files, depends_on, health)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app import composeprojects as projects
from app.containerlist import present

HERE = Path(__file__).parent / "recorded"


def rows(name: str) -> list[dict]:
    return [present(c) for c in json.loads((HERE / name).read_text())]


def test_v1_project_services_oneoff_and_loose():
    found, loose = projects.group(rows("compose_v1_containers.json"))
    assert [p.name for p in found] == ["manual1"]
    p = found[0]
    assert [s.name for s in p.services] == ["db", "web"]
    web = p.service("web")
    assert [m.name for m in web.members] == ["manual1_web_1", "manual1_web_2"]
    assert [m.number for m in web.members] == [1, 2]
    assert (web.running, web.total) == (1, 2)
    assert (p.running, p.total) == (1, 3)
    assert p.state == "partial"
    assert [m.name for m in p.oneoffs] == ["manual1_web_run_9f0151c67540"]
    assert p.oneoffs[0].service == "web" and p.oneoffs[0].number is None
    assert p.working_dirs == ["/tmp/h12/c1"] and p.config_files == ["dc.yml"]
    assert p.versions == ["1.29.2"]
    assert p.service("db").depends_on == []  # v1 writes no depends_on label
    assert [r["name"] for r in loose] == ["b1"]
    assert p.service("db").members[0].exit_code == 0


def test_v2_project_numbers_depends_on_health_and_two_projects():
    found, loose = projects.group(rows("compose_v2_containers.json"))
    assert [p.name for p in found] == ["blog", "shop"]
    blog, shop = found
    assert [s.name for s in shop.services] == ["api", "cache", "db"]
    api = shop.service("api")
    # by container number, not by name: 10 after 2
    assert [m.name for m in api.members] == ["shop-api-1", "shop-api-2", "shop-api-10"]
    assert api.depends_on == [projects.Dependency("db", "service_healthy", False),
                              projects.Dependency("cache", "service_started", True)]
    assert shop.service("cache").depends_on == [projects.Dependency("db", "service_started")]
    assert shop.service("db").depends_on == []
    assert (shop.running, shop.total) == (4, 5)
    assert shop.health == {"unhealthy": 1, "starting": 1, "healthy": 1}
    assert shop.config_files == ["/srv/shop/compose.yaml", "/srv/shop/compose.override.yaml"]
    assert [m.name for m in shop.oneoffs] == ["shop-api-run-3c1d2e9f0a1b"]
    assert api.members[2].exit_code == 137
    assert blog.state == "stopped" and blog.working_dirs == ["/home/ann/blog"]
    assert [r["name"] for r in loose] == ["loner"]


def test_same_project_on_two_engines_is_two_projects():
    a = rows("compose_v1_containers.json")
    b = rows("compose_v1_containers.json")
    for r in a:
        r["engine"] = "one"
    for r in b:
        r["engine"] = "two"
        r["id"] = "ff" + r["id"][2:]
    found, loose = projects.group(a + b, engine_key=True)
    assert [(p.name, p.engine) for p in found] == [("manual1", "one"), ("manual1", "two")]
    assert all(p.total == 3 for p in found) and len(loose) == 2
    merged, _ = projects.group(a + b)  # without the key: one project of both
    assert len(merged) == 1 and merged[0].total == 6


@pytest.mark.parametrize("name,project,short", [
    ("manual1_web_1", "manual1", "web_1"),  # v1
    ("shop-api-10", "shop", "api-10"),  # v2
    ("shop-api-run-3c1d2e9f0a1b", "shop", "api-run-3c1d2e9f0a1b"),
    ("blog_db", "shop", "blog_db"),  # container_name: not prefixed
    ("shop", "shop", "shop"),
    ("b1", None, "b1"),
])
def test_short_name(name, project, short):
    assert projects.short_name(name, project) == short


def test_depends_on_forms():
    assert projects.parse_depends_on("") == []
    assert projects.parse_depends_on(None) == []
    assert projects.parse_depends_on("db") == [projects.Dependency("db", "", True)]
    assert projects.parse_depends_on("db:service_completed_successfully:false, ,x:y") == [
        projects.Dependency("db", "service_completed_successfully", False),
        projects.Dependency("x", "y", True)]


def test_levels_follow_depends_on():
    shop = projects.group(rows("compose_v2_containers.json"))[0][1]
    names = lambda lv: [[m.name for m in level] for level in lv]  # noqa: E731
    assert names(projects.levels(shop, "start")) == [
        ["shop-db-1"], ["shop-cache-1"], ["shop-api-1", "shop-api-2", "shop-api-10"]]
    assert names(projects.levels(shop, "stop")) == [
        ["shop-api-1", "shop-api-2", "shop-api-10"], ["shop-cache-1"], ["shop-db-1"]]
    v1 = projects.group(rows("compose_v1_containers.json"))[0][0]
    # no labels for dependencies (v1): one level of everything
    assert names(projects.levels(v1, "restart")) == [
        ["manual1_db_1", "manual1_web_1", "manual1_web_2"]]


def test_levels_survive_a_cycle():
    def svc(name, deps):
        m = projects.Member({"id": name, "name": name}, name, 1, False)
        return projects.Service(name, [m], [projects.Dependency(d) for d in deps])

    p = projects.Project("c", services=[svc("a", ["b"]), svc("b", ["a"]), svc("z", []),
                                        svc("y", ["gone"])])  # a dependency not in the project
    assert [[m.name for m in lv] for lv in projects.levels(p, "start")] == [["y", "z"], ["a", "b"]]


def test_hostile_labels_are_just_text():
    raw = [{"Id": "ab" * 32, "Names": ["/x"], "Image": "i", "State": "running",
            "Status": "Up", "Created": 1, "Labels": {
                projects.PROJECT: "<script>alert(1)</script>",
                projects.SERVICE: "\"><img src=x>", projects.NUMBER: "1e9",
                projects.CONFIG_FILES: ",,a,,b,", projects.ONEOFF: "TRUE"}}]
    found, _ = projects.group([present(c) for c in raw])
    p = found[0]
    assert p.name == "<script>alert(1)</script>"
    assert p.config_files == ["a", "b"]
    assert [m.service for m in p.oneoffs] == ["\"><img src=x>"]
    assert p.oneoffs[0].number is None


def test_summary_words():
    o = projects.Outcome
    text, level = projects.summary("stop", [o("a", "1", "ok", ""), o("b", "2", "info", ""),
                                            o("c", "3", "warn", "")], "p")
    assert text == "Stopped 1 of 3 containers of p (1 already so, 1 skipped)."
    assert level == "warn"
    assert projects.summary("start", [o("a", "1", "bad", "")], "p") == (
        "Started 0 of 1 container of p (1 failed).", "bad")
