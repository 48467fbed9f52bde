"""The volumes list and pages against the real engine, `docker volume ls`,
`docker ps --filter volume=` and `docker system df -v` as the witnesses;
removing and pruning change the engine as the confirm step listed; a volume in
use refuses plainly; hostile labels are escaped."""

from __future__ import annotations

import html
import json
import re

from conftest import SESSION, csrf_post
from resourcekit import MARK, count, resources, rows, sizes  # noqa: F401


def cli_volumes(docker, *filters: str) -> dict[str, dict]:
    argv = ["volume", "ls", "--format", "{{json .}}"]
    for f in filters:
        argv += ["--filter", f]
    return {d["Name"]: d for d in map(json.loads, docker(*argv).splitlines())}


def mounting(docker, name: str) -> set[str]:
    return set(docker("ps", "-aq", "--no-trunc", "--filter", f"volume={name}").split())


def test_the_list_equals_docker_volume_ls(client, docker, resources, run_container, tmp_path):
    used = resources.volume(labels={"app": "db"})
    idle = resources.volume()
    bound = resources.volume(opts={"type": "none", "o": "bind", "device": str(tmp_path)})
    cid = run_container(args=["-v", f"{used}:/data"])
    page = client.get("/volumes").get_data(as_text=True)
    got = rows(page, "data-name")
    want = cli_volumes(docker)
    assert set(got) == set(want)
    for name, cli in want.items():
        row = got[name]
        assert cli["Driver"] in row and html.escape(cli["Mountpoint"]) in row, name
        assert count(row) == len(mounting(docker, name)), name
    assert f'href="/containers/{cid}"' in got[used] and "app" in got[used]
    assert count(got[idle]) == 0
    # the bind's host folder, and no size the engine never measures
    assert html.escape(str(tmp_path)) in got[bound] and "bind of" in got[bound]
    assert "not measured" in got[bound]
    # the filters are the engine's
    r = rows(client.get(f"/volumes?label={MARK}&used=unused").get_data(as_text=True), "data-name")
    assert set(r) == set(cli_volumes(docker, f"label={MARK}", "dangling=true")) == {idle, bound}
    r = rows(client.get(f"/volumes?label={MARK}&used=used").get_data(as_text=True), "data-name")
    assert set(r) == {used}
    r = rows(client.get(f"/volumes/rows?q={idle[-8:]}").get_data(as_text=True), "data-name")
    assert set(r) == {idle}


def test_sizes_come_from_the_disk_page_only(client, docker, resources, run_container):
    name = resources.volume()
    run_container("head -c 12345 /dev/zero > /data/f", args=["-v", f"{name}:/data"])
    docker("wait", docker("ps", "-aq", "--filter", f"volume={name}").split()[0])
    before = rows(client.get("/volumes").get_data(as_text=True), "data-name")[name]
    assert sizes(before) == []  # not measured: this page never asks
    disk = client.get("/disk")
    assert disk.status_code == 200
    after = client.get("/volumes").get_data(as_text=True)
    cli = {v["Name"]: v for v in json.loads(docker("system", "df", "-v", "--format",
                                                   "{{json .}}"))["Volumes"]}
    assert cli[name]["Size"] == "12.35kB"
    assert sizes(rows(after, "data-name")[name]) == [12345]
    assert "as the" in after and "Disk page" in after and "measured them" in after
    page = client.get(f"/volumes/{name}").get_data(as_text=True)
    assert 'data-bytes="12345"' in page


def test_the_volume_page(client, docker, resources, run_container):
    name = resources.volume(labels={"team": "blue"})
    cid = run_container(args=["-v", f"{name}:/srv/data:ro"])
    page = client.get(f"/volumes/{name}").get_data(as_text=True)
    inspect = json.loads(docker("volume", "inspect", name))[0]
    assert html.escape(inspect["Mountpoint"]) in page and "blue" in page
    assert f'href="/containers/{cid}"' in page and "/srv/data" in page and "read-only" in page
    assert f'href="/volumes/{name}"' in client.get(f"/containers/{cid}").get_data(as_text=True)
    assert client.get(f"/volumes/nothing-{SESSION}").status_code == 404
    assert client.get("/volumes/..").status_code in (400, 404)


def test_remove_an_unused_volume(client, docker, resources):
    name = resources.volume()
    step = client.get(f"/volumes/{name}/remove").get_data(as_text=True)
    assert f'data-delete="{name}"' in step and "plan-refused" not in step
    r = csrf_post(client, f"/volumes/{name}/remove", {"confirmed": "1"})
    assert r.status_code == 303
    assert not resources.exists("volume", name)
    assert f"Removed volume {name}" in client.get(r.headers["Location"]).get_data(as_text=True)


def test_a_volume_in_use_refuses_plainly(client, docker, resources, run_container):
    name = resources.volume()
    run_container(args=["-v", f"{name}:/data"])
    step = client.get(f"/volumes/{name}/remove").get_data(as_text=True)
    assert 'id="plan-refused"' in step
    r = csrf_post(client, f"/volumes/{name}/remove", {"confirmed": "1"})
    assert r.status_code == 409
    page = html.unescape(r.get_data(as_text=True))
    assert 'data-kind="in-use"' in page and "volume is in use" in page
    assert resources.exists("volume", name)


def test_prune_unused_volumes_as_the_step_listed(client, docker, resources, run_container,
                                                  tmp_path):
    a = resources.volume()
    b = resources.volume()
    used = resources.volume()
    bound = resources.volume(opts={"type": "none", "o": "bind", "device": str(tmp_path)})
    run_container(args=["-v", f"{used}:/data"], start=False)  # a stopped one holds it too
    run_container("head -c 2000 /dev/zero > /d/f", args=["-v", f"{b}:/d"], start=True)
    for cid in docker("ps", "-aq", "--filter", f"volume={b}").split():
        docker("wait", cid)
        docker("rm", cid)
    client.get("/disk")  # measured: the step can say how much
    step = client.get(f"/disk/prune/volumes?label={MARK}").get_data(as_text=True)
    listed = set(rows(step, "data-key"))
    assert listed == {a, b}
    assert bound in step.split('id="kept"')[1] and used not in listed
    assert sizes(step.split('id="plan-bytes"')[1])[0] == 2000
    r = csrf_post(client, "/disk/prune/volumes",
                  {"confirmed": "1", "label": MARK, "planned": sorted(listed)},
                  follow_redirects=True)
    assert r.status_code == 200
    left = set(docker("volume", "ls", "-q", "--filter", f"label={MARK}").split())
    assert left == {used, bound}
    result = r.get_data(as_text=True)
    assert set(re.findall(r'<li data-key="([^"]+)">', result)) == listed
    assert sizes(result.split('id="reclaimed"')[1])[0] == 2000  # as the engine reports it


def test_hostile_labels_are_escaped(client, resources):
    evil = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'
    name = resources.volume(labels={"evil": evil})
    for path in (f"/volumes?label={MARK}", f"/volumes/{name}", f"/volumes/{name}/remove"):
        page = client.get(path).get_data(as_text=True)
        assert "<script>alert(1)" not in page and "<img src=x" not in page, path
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in client.get(f"/volumes/{name}").get_data(
        as_text=True)


def test_read_only_and_csrf(client, docker, resources):
    from conftest import create_app, make_settings

    name = resources.volume()
    ro = create_app(make_settings(read_only=True)).test_client()
    assert "Remove…" not in ro.get("/volumes").get_data(as_text=True)
    assert ro.get(f"/volumes/{name}/remove").status_code == 403
    assert csrf_post(ro, f"/volumes/{name}/remove", {"confirmed": "1"}).status_code == 403
    assert ro.get("/disk/prune/volumes").status_code == 403
    client.get("/volumes")
    assert client.post(f"/volumes/{name}/remove", data={"confirmed": "1"},
                       headers={"Origin": "http://localhost"}).status_code == 403
    assert csrf_post(client, f"/volumes/{name}/remove", {"confirmed": "1"},
                     headers={"Origin": "http://evil.example"}).status_code == 403
    assert resources.exists("volume", name)
