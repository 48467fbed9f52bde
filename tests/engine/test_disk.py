"""The Disk page against `docker system df`, asked there only (never by a
list or a poll), with its time shown; pruning stopped containers and the build
cache change the engine as the confirm step listed."""

from __future__ import annotations

import json
import re

import pytest

from app.gateway import calls
from conftest import create_app, csrf_post, make_settings
from resourcekit import MARK, human, resources, rows, sizes  # noqa: F401


def cli_df(docker) -> dict[str, dict]:
    return {d["Type"]: d for d in map(json.loads, docker("system", "df", "--format",
                                                         "{{json .}}").splitlines())}


def summary(page: str) -> dict[str, dict]:
    out = {}
    for kind, row in rows(page, "data-kind").items():
        pct = re.search(r'data-pct="(\d+)"', row)
        out[kind] = {"total": int(re.search(r'class="num total"[^>]*>(\d+)<', row).group(1)),
                     "active": int(re.search(r'class="num active"[^>]*>(\d+)<', row).group(1)),
                     "size": sizes(row)[0], "reclaimable": sizes(row)[1],
                     "pct": int(pct.group(1)) if pct else None}
    return out


def test_the_summary_equals_docker_system_df(client, docker, resources, run_container):
    vol = resources.volume()
    run_container("head -c 40000 /dev/zero > /data/f; sleep 300", args=["-v", f"{vol}:/data"])
    run_container("head -c 3000 /dev/zero > /tmp/x", start=True)  # exits: reclaimable
    resources.dangling(size=1500)
    r = client.get("/disk")
    assert r.status_code == 200
    page = r.get_data(as_text=True)
    cli = cli_df(docker)
    got = summary(page)
    for kind, cli_type in (("images", "Images"), ("containers", "Containers"),
                           ("volumes", "Local Volumes"), ("build-cache", "Build Cache")):
        g, c = got[kind], cli[cli_type]
        assert str(g["total"]) == c["TotalCount"], kind
        assert str(g["active"]) == c["Active"], kind
        assert human(g["size"]) == c["Size"], kind
        want = human(g["reclaimable"]) + (f" ({g['pct']}%)" if g["pct"] is not None else "")
        assert want == c["Reclaimable"], kind
    # the time it took is shown
    ms = float(re.search(r'id="df-ms" data-ms="([\d.]+)"', page).group(1))
    assert ms > 0
    # the biggest: every volume measured, with its size as docker system df -v says
    v = {x["Name"]: x for x in json.loads(docker("system", "df", "-v", "--format",
                                                 "{{json .}}"))["Volumes"]}
    top = rows(page.split('id="top-volumes"')[1], "data-name")
    assert human(sizes(top[vol])[0]) == v[vol]["Size"] == "40kB"


def test_df_is_asked_on_the_disk_page_only(client, monkeypatch, resources):
    resources.volume()
    resources.image()
    seen: list[str] = []
    real = calls.add
    monkeypatch.setattr(calls, "add", lambda c: (seen.append(c.path), real(c)))
    for path in ("/images", "/images/rows", "/volumes", "/volumes/rows", "/networks",
                 "/networks/rows", "/disk/prune/volumes", "/disk/prune/images",
                 "/disk/prune/build-cache"):
        seen.clear()
        assert client.get(path).status_code == 200, path
        assert not any("/system/df" in p for p in seen), (path, seen)
    seen.clear()
    client.get("/disk")
    assert sum("/system/df" in p for p in seen) == 1
    # the disk page carries no poll
    assert "hx-trigger" not in client.get("/disk").get_data(as_text=True).split("<main>")[1] \
        .split("</main>")[0]


def test_prune_stopped_containers_as_the_step_listed(client, docker, run_container):
    running = run_container(labels={"prune": "me"})
    a = run_container("head -c 7000 /dev/zero > /f", labels={"prune": "me"})
    b = run_container(start=False, labels={"prune": "me"})
    docker("wait", a)
    label = "prune=me"
    step = client.get(f"/disk/prune/containers?label={label}").get_data(as_text=True)
    listed = set(rows(step, "data-key"))
    assert listed == {a, b}
    planned = sizes(step.split('id="plan-bytes"')[1])[0]
    assert planned >= 7000
    r = csrf_post(client, "/disk/prune/containers",
                  {"confirmed": "1", "label": label, "planned": sorted(listed)},
                  follow_redirects=True)
    assert r.status_code == 200
    left = set(docker("ps", "-aq", "--no-trunc", "--filter", f"label={label}").split())
    assert left == {running}
    result = r.get_data(as_text=True)
    assert set(re.findall(r'<li data-key="([0-9a-f]{64})">', result)) == listed
    assert sizes(result.split('id="reclaimed"')[1])[0] == planned  # as the engine reports it
    assert 'id="unexpected"' not in result and 'id="left"' not in result
    # the result is a page of its own: a reload shows it again, it prunes nothing
    url = r.request.path
    assert url.startswith("/disk/pruned/")
    assert client.get(url).get_data(as_text=True).count('<li data-key="') == len(listed)
    assert client.get("/disk/pruned/not-a-result-id-at-all").status_code == 404


def test_build_cache_prune_needs_a_measurement_first(docker):
    fresh = create_app(make_settings()).test_client()
    step = fresh.get("/disk/prune/build-cache").get_data(as_text=True)
    assert "open the Disk page" in step
    assert fresh.get("/disk").status_code == 200
    step = fresh.get("/disk/prune/build-cache").get_data(as_text=True)
    df = json.loads(docker("system", "df", "-v", "--format", "{{json .}}"))
    cache = [b for b in (df.get("BuildCache") or []) if not b.get("InUse")]
    assert len(rows(step, "data-key")) == len(cache)
    if cache:
        pytest.skip("this engine holds build cache: not pruned by a test")
    r = csrf_post(fresh, "/disk/prune/build-cache", {"confirmed": "1"}, follow_redirects=True)
    assert r.status_code == 200 and 'id="removed-count">0<' in r.get_data(as_text=True)


def test_a_result_says_what_changed_since_the_step(client, docker, run_container):
    a = run_container(start=False, labels={"late": "1"})
    step = client.get("/disk/prune/containers?label=late=1").get_data(as_text=True)
    assert set(rows(step, "data-key")) == {a}
    b = run_container(start=False, labels={"late": "1"})  # made after the step
    r = csrf_post(client, "/disk/prune/containers",
                  {"confirmed": "1", "label": "late=1", "planned": [a]},
                  follow_redirects=True)
    result = r.get_data(as_text=True)
    assert b in result.split('id="unexpected"')[1]
    assert not docker("ps", "-aq", "--filter", "label=late=1").split()


def test_a_df_that_takes_too_long_is_said_and_not_asked_again(docker_host):
    """The engine walks every volume: when that outlasts the timeout, the page
    says so, with no waiter that would reload it (and ask again)."""
    from app.gateway import Engine, exceptions as ge, parse_host

    class SlowDf(Engine):  # the real engine, whose /system/df is forced to time out
        def disk_usage(self, timeout=None):
            raise ge.EngineTimeout("the engine did not answer within 300 s", seconds=300)

    c = create_app(make_settings(), engine=SlowDf(parse_host(docker_host))).test_client()
    r = c.get("/disk")
    assert r.status_code == 504
    page = r.get_data(as_text=True)
    assert 'id="df-late"' in page and "did not answer within 300 s" in page
    assert "/engine/wait" not in page and "hx-trigger" not in page.split("<main>")[1]
