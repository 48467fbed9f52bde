"""The images list and pages against the real engine, the docker CLI as the
witness: `docker image ls`, `docker history`, `docker image inspect`; removing
a name or an image changes the engine exactly as the confirm step said; an
image in use refuses plainly; read-only, CSRF and cross-origin refuse; hostile
labels are escaped."""

from __future__ import annotations

import html
import json
import re

from conftest import LABEL, SESSION, create_app, csrf_post, make_settings
from resourcekit import (MARK, count, csrf_headers, human, resources, rows, sizes,  # noqa: F401
                         texts)


def cli_images(docker, *filters: str) -> dict[str, dict]:
    """`docker image ls` by image ID: its names and the CLI's size text."""
    argv = ["image", "ls", "--no-trunc", "--format", "{{json .}}"]
    for f in filters:
        argv += ["--filter", f]
    out: dict[str, dict] = {}
    for line in docker(*argv).splitlines():
        d = json.loads(line)
        e = out.setdefault(d["ID"], {"names": set(), "size": d["Size"], "created": d["CreatedAt"]})
        if d["Repository"] != "<none>" and d["Tag"] != "<none>":
            e["names"].add(f"{d['Repository']}:{d['Tag']}")
    return out


def users_by_image(docker) -> dict[str, int]:
    ids = docker("ps", "-aq", "--no-trunc").split()
    out: dict[str, int] = {}
    if ids:
        for image in docker("inspect", "-f", "{{.Image}}", *ids).split():
            out[image] = out.get(image, 0) + 1
    return out


def test_the_list_equals_docker_image_ls(client, docker, resources, run_container):
    a = resources.image()
    resources.tag(a, resources.repo("second") + ":v2")
    dangling = resources.dangling()
    used = resources.image()
    docker("create", "--label", MARK, "--name", f"uses-{SESSION}", used, "/nothing")
    try:
        page = client.get("/images").get_data(as_text=True)
        got = rows(page)
        want = cli_images(docker)
        assert set(got) == set(want)
        users = users_by_image(docker)
        for iid, cli in want.items():
            row = got[iid]
            assert set(texts(row, "tag")) - {"<none>"} == cli["names"], iid
            assert human(sizes(row)[0], 3) == cli["size"], iid
            assert count(row) == users.get(iid, 0), iid
            assert ('class="dangling"' in page.split(f'data-id="{iid}"')[1][:60]) == (
                not cli["names"]), iid
        assert not want[dangling]["names"] and "badge warn\">dangling" in got[dangling]
        # the containers made from it are links to their pages
        cid = docker.inspect(f"uses-{SESSION}")["Id"]
        assert f'href="/containers/{cid}"' in got[used]
    finally:
        docker("rm", "-f", f"uses-{SESSION}", check=False)


def test_filters_are_the_engines(client, docker, resources):
    a = resources.image()
    d = resources.dangling()
    mine = f"label={MARK}"
    r = rows(client.get(f"/images?label={MARK}").get_data(as_text=True))
    assert set(r) == set(cli_images(docker, mine))
    r = rows(client.get(f"/images?label={MARK}&dangling=true").get_data(as_text=True))
    assert set(r) == set(cli_images(docker, mine, "dangling=true")) and d in r and a not in r
    r = rows(client.get(f"/images?label={MARK}&dangling=false").get_data(as_text=True))
    assert d not in r and a in r
    repo = resources.repo("only")
    b = resources.image(repo + ":x")
    r = rows(client.get(f"/images?reference={repo}").get_data(as_text=True))
    assert set(r) == {b} == set(cli_images(docker, f"reference={repo}"))
    # the rows partial (the poll) holds the same, and carries its trigger
    part = client.get(f"/images/rows?reference={repo}").get_data(as_text=True)
    assert set(rows(part)) == {b} and 'hx-trigger="every ' in part
    # a pattern the engine refuses is said on the page, the form kept
    bad = client.get("/images?reference=%5B").get_data(as_text=True)
    assert 'id="filter-problem"' in bad and 'name="reference" value="["' in bad


def test_the_image_page(client, docker, resources):
    iid = resources.image(changes=['ENV API_TOKEN=s3cr3t-value', "ENV MODE=demo",
                                   "EXPOSE 8080/tcp", "USER 1000:1000", 'CMD ["/run", "--fast"]',
                                   'ENTRYPOINT ["/entry"]', "WORKDIR /srv"],
                          labels={"app": "demo"})
    ref = resources.repo("page") + ":v3"
    resources.tag(iid, ref)
    docker("create", "--label", MARK, "--name", f"made-{SESSION}", ref)
    try:
        r = client.get(f"/images/{ref}")
        assert r.status_code == 200
        page = r.get_data(as_text=True)
        inspect = json.loads(docker("image", "inspect", ref))[0]
        assert inspect["Id"] == iid and iid in page
        assert "s3cr3t-value" not in page  # masked, in the table and the raw JSON
        assert "API_TOKEN" in page and "MODE" in page and "demo" in page
        assert "8080/tcp" in page and "1000:1000" in page and "/srv" in page
        assert "/run --fast" in html.unescape(page) and "/entry" in page
        assert "app" in page
        cid = docker.inspect(f"made-{SESSION}")["Id"]
        assert f'href="/containers/{cid}"' in page
        # and back: the container's page links to its image
        assert f'href="/images/{iid}"' in client.get(f"/containers/{cid}").get_data(as_text=True)
        # the history, as docker history reports it
        hist = [json.loads(x) for x in docker("history", "--no-trunc", "--format", "{{json .}}",
                                              ref).splitlines()]
        table = page.split('id="history"')[1]
        assert [h["ID"][7:19] for h in hist if h["ID"] != "<missing>"] == \
            re.findall(r'<code title="sha256:[0-9a-f]+">([0-9a-f]{12})</code>', table)
        # pull is linked from the page, per name
        assert 'action="/images/pull"' in page and f'name="image" value="{ref}"' in page
        # reveal: a POST with the token, answered with the values
        shown = csrf_post(client, "/images/reveal", {"ref": ref}).get_data(as_text=True)
        assert "s3cr3t-value" in shown
        # a GET reveals nothing (it is read as an image named "reveal")
        r = client.get("/images/reveal")
        assert r.status_code == 404 and "s3cr3t-value" not in r.get_data(as_text=True)
    finally:
        docker("rm", "-f", f"made-{SESSION}", check=False)


def test_a_missing_image_and_a_bad_reference(client):
    r = client.get(f"/images/nothing-{SESSION}:here")
    assert r.status_code == 404 and "not on this engine" in r.get_data(as_text=True)
    r = client.get("/images/a/../../containers/json")
    assert r.status_code in (400, 404)
    r = client.get("/images/..%2F..%2Fcontainers%2Fjson")
    assert r.status_code in (400, 404)


def test_untag_one_name_of_several(client, docker, resources):
    iid = resources.image()
    one = resources.repo("one") + ":a"
    two = resources.repo("two") + ":b"
    resources.tag(iid, one)
    resources.tag(iid, two)
    step = client.get(f"/images/remove?ref={one}").get_data(as_text=True)
    assert f'data-untag="{one}"' in step and "data-delete" not in step
    assert two in step.split('id="plan-stays"')[1][:800]
    r = csrf_post(client, "/images/remove", {"ref": one, "confirmed": "1"})
    assert r.status_code == 303
    assert not resources.exists("image", one)
    assert json.loads(docker("image", "inspect", two))[0]["Id"] == iid
    assert f"untagged {one}" in html.unescape(client.get(r.headers["Location"]).get_data(
        as_text=True))


def test_remove_the_last_name_deletes_the_image(client, docker, resources):
    ref = resources.repo("last") + ":only"
    iid = resources.image(ref)
    step = client.get(f"/images/remove?ref={ref}").get_data(as_text=True)
    assert f'data-untag="{ref}"' in step and f'data-delete="{iid}"' in step
    r = csrf_post(client, "/images/remove", {"ref": ref, "confirmed": "1"})
    assert r.status_code == 303
    assert not resources.exists("image", iid)


def test_remove_a_dangling_image_by_id(client, docker, resources):
    d = resources.dangling()
    step = client.get(f"/images/remove?ref={d}").get_data(as_text=True)
    assert f'data-delete="{d}"' in step and "data-untag" not in step
    assert csrf_post(client, "/images/remove", {"ref": d, "confirmed": "1"}).status_code == 303
    assert not resources.exists("image", d)


def test_an_image_in_use_refuses_plainly(client, docker, resources):
    ref = resources.repo("busy") + ":v1"
    iid = resources.image(ref)
    docker("create", "--label", MARK, "--name", f"busy-{SESSION}", ref, "/x")
    try:
        step = client.get(f"/images/remove?ref={ref}").get_data(as_text=True)
        assert 'id="plan-refused"' in step and f"busy-{SESSION}" in step
        r = csrf_post(client, "/images/remove", {"ref": ref, "confirmed": "1"})
        assert r.status_code == 409
        page = r.get_data(as_text=True)
        assert 'data-kind="in-use"' in page and "In use" in page
        assert "is using its referenced image" in html.unescape(page)  # the engine's words
        assert json.loads(docker("image", "inspect", ref))[0]["Id"] == iid
        # by ID too (a stopped container made from it: force needed)
        r = csrf_post(client, "/images/remove", {"ref": iid, "confirmed": "1"})
        assert r.status_code == 409 and resources.exists("image", iid)
    finally:
        docker("rm", "-f", f"busy-{SESSION}", check=False)


def test_read_only_refuses_and_offers_nothing(docker, resources):
    ref = resources.repo("ro") + ":v1"
    iid = resources.image(ref)
    c = create_app(make_settings(read_only=True)).test_client()
    page = c.get("/images").get_data(as_text=True)
    assert iid in page and "Remove…" not in page and "Prune" not in page
    assert 'action="/images/pull"' not in page
    assert "Untag" not in c.get(f"/images/{ref}").get_data(as_text=True)
    assert c.get(f"/images/remove?ref={ref}").status_code == 403
    assert csrf_post(c, "/images/remove", {"ref": ref, "confirmed": "1"}).status_code == 403
    assert c.get("/disk/prune/images").status_code == 403
    assert csrf_post(c, "/disk/prune/images", {"confirmed": "1"}).status_code == 403
    # the reveal stays allowed: it changes nothing
    assert csrf_post(c, "/images/reveal", {"ref": ref}).status_code == 200
    assert resources.exists("image", ref)


def test_csrf_and_cross_origin_are_refused(client, docker, resources):
    ref = resources.repo("csrf") + ":v1"
    resources.image(ref)
    client.get("/images")  # a session
    r = client.post("/images/remove", data={"ref": ref, "confirmed": "1"},
                    headers={"Origin": "http://localhost"})
    assert r.status_code == 403 and "CSRF" in r.get_data(as_text=True)
    h = csrf_headers(client)
    r = client.post("/images/remove", data={"ref": ref, "confirmed": "1"},
                    headers={**h, "Origin": "http://evil.example"})
    assert r.status_code == 403 and "cross-origin" in r.get_data(as_text=True)
    r = client.post("/disk/prune/images", data={"confirmed": "1"},
                    headers={**h, "Origin": "http://evil.example"})
    assert r.status_code == 403
    assert resources.exists("image", ref)


def test_hostile_labels_are_escaped(client, resources):
    evil = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'
    ref = resources.repo("evil") + ":v1"
    resources.image(ref, labels={'<i>k"</i>': evil}, changes=[f"ENV X={json.dumps(evil)}"])
    for path in (f"/images?label={MARK}", f"/images/{ref}", f"/images/remove?ref={ref}"):
        page = client.get(path).get_data(as_text=True)
        assert "<script>alert(1)" not in page and "<img src=x" not in page, path
        assert "<i>k" not in page, path
        if "remove" not in path:  # the list and the page show the labels, escaped
            assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page, path
            assert "&lt;i&gt;k" in page, path


def test_prune_dangling_images_as_the_step_listed(client, docker, resources):
    a = resources.dangling(size=3000)
    b = resources.dangling(size=5000)
    kept = resources.dangling()
    docker("create", "--label", MARK, "--name", f"keeps-{SESSION}", kept, "/x")
    try:
        step = client.get(f"/disk/prune/images?label={MARK}").get_data(as_text=True)
        listed = set(rows(step, "data-key"))
        assert {a, b} <= listed and kept not in listed
        assert kept in step.split('id="kept"')[1]
        planned_bytes = sizes(step.split('id="plan-bytes"')[1])[0]
        r = csrf_post(client, "/disk/prune/images",
                      {"confirmed": "1", "label": MARK, "planned": sorted(listed)},
                  follow_redirects=True)
        assert r.status_code == 200
        result = r.get_data(as_text=True)
        left = set(docker("image", "ls", "-q", "--no-trunc", "--filter", "dangling=true",
                          "--filter", f"label={MARK}").split())
        assert left == {kept}  # exactly what the step listed went
        assert set(re.findall(r'<li data-key="(sha256:[0-9a-f]+)">',
                              result.split('id="removed"')[1])) == listed
        # the space reclaimed as the engine reports it: each image's own layer
        assert sizes(result.split('id="reclaimed"')[1])[0] == planned_bytes
    finally:
        docker("rm", "-f", f"keeps-{SESSION}", check=False)


def test_prune_refuses_without_the_confirm_step(client):
    r = csrf_post(client, "/disk/prune/images", {})
    assert r.status_code == 400 and "confirm step" in r.get_data(as_text=True)
    assert client.get("/disk/prune/everything").status_code == 404


def test_pull_from_the_images_page_then_see_the_image(live_server, docker, tmp_path_factory):
    """The images page's pull form is the create form's pull job, without a
    manifest: its page then leads to the image."""
    import time

    import requests

    from registrykit import Registry

    reg = Registry(tmp_path_factory.mktemp("registry"))
    ref = None
    try:
        ref = reg.push_fresh(docker, 64 * 1024, repo=f"periscope/images-{SESSION}")
        base = live_server.url
        s = requests.Session()
        page = s.get(base + "/images").text
        assert 'id="pull-form"' in page
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        r = s.post(base + "/images/pull", data={"csrf_token": token, "image": ref},
                   headers={"Origin": base}, allow_redirects=False)
        assert r.status_code == 303
        end = time.time() + 60
        while time.time() < end:
            part = s.get(base + r.headers["Location"] + "/progress").text
            if 'hx-trigger="load' not in part:
                break
            time.sleep(0.1)
        assert 'data-state="done"' in part
        link = html.unescape(re.search(r'id="see-image" href="([^"]+)"', part).group(1))
        image = s.get(base + link)
        assert image.status_code == 200
        iid = json.loads(docker("image", "inspect", ref))[0]["Id"]
        assert iid in image.text
        assert iid in s.get(base + "/images").text
    finally:
        if ref:
            docker("rmi", "-f", ref, check=False)
        reg.stop()
