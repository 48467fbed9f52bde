"""Pulling an image with progress, from a real registry on 127.0.0.1.

Debian's docker-registry (the distribution project's registry) is started here
with a temporary config and storage; the test pushes a fresh image to it with
the docker CLI (engines trust registries on 127.0.0.0/8 as insecure), removes
the local copy, then pulls through Periscope under gunicorn (two workers: the
polls may land on either). Outside CI the test is skipped when docker-registry
is not installed; in CI (CI=true) that is a failure.
"""

from __future__ import annotations

import html
import re
import time

import pytest
import requests

from conftest import LABEL, SESSION, csrf_post
from registrykit import Registry


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    reg = Registry(tmp_path_factory.mktemp("registry"))
    yield reg
    reg.stop()


@pytest.fixture(scope="module")
def pushed(registry, docker):
    """An image in the registry and not on the engine."""
    ref = registry.push_fresh(docker, 6 * 1024 * 1024)
    yield ref
    docker("rmi", "-f", ref, check=False)


def csrf_of(session: requests.Session, base: str) -> str:
    page = session.get(base + "/containers/new").text
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def follow(session, base, location, deadline=90) -> tuple[str, list[str]]:
    """Poll the progress partial as htmx would, until it stops polling."""
    job_url = base + location + "/progress"
    seen = []
    end = time.time() + deadline
    while time.time() < end:
        part = session.get(job_url, headers={"HX-Request": "true"}).text
        seen.append(part)
        if 'hx-trigger="load' not in part:
            return part, seen
        assert 'data-state="running"' in part
        time.sleep(0.1)
    raise AssertionError("the pull did not end in time")


def test_pull_with_progress_then_back_to_the_form(live_server, docker, pushed):
    base = live_server.url
    s = requests.Session()
    token = csrf_of(s, base)
    # the image holds data only: a Cmd lets the engine create a container of it
    manifest = '{\n  "Image": "%s",\n  "Cmd": ["/hello.txt"],\n  "Labels": {"%s": "%s"}\n}\n' % (
        pushed, LABEL, SESSION)
    name = f"pulled-{SESSION}"
    r = s.post(base + "/images/pull", data={"csrf_token": token, "image": pushed,
                                            "manifest": manifest, "name": name, "start": ""},
               headers={"Origin": base}, allow_redirects=False)
    assert r.status_code == 303, r.text[:500]
    location = r.headers["Location"]
    assert re.fullmatch(r"/images/pull/[A-Za-z0-9_-]{16,64}", location)
    assert "manifest" not in location and len(location) < 100
    page = s.get(base + location).text
    assert "Pulling" in page
    final, seen = follow(s, base, location)
    final = html.unescape(final)
    assert 'data-state="done"' in final, final[:2000]
    assert "Pulled" in final and 'value="100"' in final
    # per-layer progress was seen: the layer row carries the size that only
    # the engine's "Downloading" messages (progressDetail.total) give
    layer = re.search(r'<tr data-layer="([0-9a-f]+)">(.*?)</tr>', final, re.S)
    assert layer and "Pull complete" in layer.group(2)
    assert re.search(r'class="num">\d+\.\d MB<', layer.group(2)), layer.group(2)
    assert docker.raw("image", "inspect", pushed).returncode == 0
    # back to the form with the manifest intact
    form = html.unescape(s.get(base + f"/containers/new?pull={location.rsplit('/', 1)[1]}").text)
    body = re.search(r'<textarea id="manifest"[^>]*>\n(.*?)</textarea>', form, re.S).group(1)
    assert body == manifest
    assert f'value="{name}"' in form and "Pulled" in form
    # "Create now" posts the manifest as it was: the image is there now
    r = s.post(base + "/containers", data={"csrf_token": token, "manifest": manifest,
                                           "name": name, "start": ""},
               headers={"Origin": base}, allow_redirects=False)
    assert r.status_code == 303, re.findall(r'<div class="notice.*?</div>', r.text, re.S)
    try:
        assert docker.inspect(name)["Config"]["Image"] == pushed
    finally:
        docker("rm", "-f", name, check=False)


def test_registry_error_is_shown_plainly(live_server, registry):
    base = live_server.url
    s = requests.Session()
    token = csrf_of(s, base)
    ref = f"{registry.addr}/periscope/no-such-repo:latest"
    r = s.post(base + "/images/pull", data={"csrf_token": token, "image": ref},
               headers={"Origin": base}, allow_redirects=False)
    assert r.status_code == 303
    final, _ = follow(s, base, r.headers["Location"], deadline=60)
    final = html.unescape(final)
    assert 'data-state="failed"' in final and 'data-kind="pull-failed"' in final
    assert re.search(r"not found|manifest unknown|does not exist", final, re.I), final[:1500]
    assert "Traceback" not in final


def test_pull_input_checks(client, docker):
    assert csrf_post(client, "/images/pull", {"image": "Not An Image"}).status_code == 400
    assert csrf_post(client, "/images/pull", {"image": ""}).status_code == 400
    r = client.post("/images/pull", data={"image": "busybox"},
                    headers={"Origin": "http://localhost"})
    assert r.status_code == 403
    assert client.get("/images/pull/" + "x" * 24).status_code == 404
    # not a pull job: read as an image name, which it cannot be
    assert client.get("/images/pull/../../etc/passwd/progress").status_code in (400, 404)
    big = "x" * (300 * 1024)
    assert csrf_post(client, "/images/pull", {"image": "busybox", "manifest": big}).status_code == 413
