"""The create form against the real engine: validation before any call, the
engine's refusals in plain words, start failures, the host-access policy."""

from __future__ import annotations

import html
import json
import re
import time

import pytest

from app import create_app
from conftest import IMAGE, LABEL, SESSION, csrf_post, make_settings, unique_name


def textarea(page: str) -> str:
    """The manifest textarea's text as the browser would show it."""
    m = re.search(r'<textarea id="manifest"[^>]*>(.*?)</textarea>', page, re.S)
    assert m, "no manifest textarea"
    text = html.unescape(m.group(1))
    return text[1:] if text.startswith("\n") else text  # the parser drops one leading newline


def labelled(docker) -> set[str]:
    return set(docker("ps", "-aq", "--no-trunc", "--filter", f"label={LABEL}={SESSION}").split())


def manifest(**fields) -> dict:
    m = {"Image": IMAGE, "Labels": {LABEL: SESSION}}
    m.update(fields)
    return m


def post(client, m: dict | str, name: str = "", start: bool = True, **kw):
    text = m if isinstance(m, str) else json.dumps(m, indent=2)
    data = {"manifest": text, "name": name}
    if start:
        data["start"] = "1"
    return csrf_post(client, "/containers", data, **kw)


@pytest.fixture
def made(docker):
    """IDs created through Periscope in a test; removed after it."""
    ids: list[str] = []
    yield ids
    if ids:
        docker("rm", "-f", "-v", *ids, check=False)


def created_id(location: str) -> str:
    m = re.search(r"/containers/([0-9a-f]{64})", location)
    assert m, location
    return m.group(1)


def test_form_is_prefilled_with_a_working_example(client):
    r = client.get("/containers/new")
    assert r.status_code == 200
    page = r.get_data(as_text=True)
    m = json.loads(textarea(page))
    assert m["Image"] and m["Cmd"]
    assert "docker run -d" in page and "/containers/create" in page and "curl" in page
    for ex in ("oneshot", "service", "tty"):
        p = client.get(f"/containers/new?example={ex}").get_data(as_text=True)
        assert json.loads(textarea(p))["Image"]
    assert re.search(r'<input type="checkbox" name="start" value="1" checked\s', page)  # on by default


def test_example_manifest_runs_and_its_output_is_on_the_landing_page(client, docker, test_image,
                                                                     made):
    r = post(client, manifest(Cmd=["echo", "hello from Periscope"]))
    assert r.status_code == 303, r.get_data(as_text=True)[:2000]
    cid = created_id(r.headers["Location"])
    made.append(cid)
    c = docker.inspect(cid)
    assert c["Config"]["Cmd"] == ["echo", "hello from Periscope"]
    assert c["State"]["StartedAt"] and not c["State"]["StartedAt"].startswith("0001")
    docker("wait", cid)
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    assert "hello from Periscope" in page
    assert "Created and started" in page  # the flash message


def test_named_container_and_not_started(client, docker, test_image, made):
    name = unique_name("named")
    r = post(client, manifest(Cmd=["sleep", "30"]), name=name, start=False)
    assert r.status_code == 303
    cid = created_id(r.headers["Location"])
    made.append(cid)
    c = docker.inspect(name)
    assert c["Id"] == cid and c["State"]["Status"] == "created"


SHAPES = [
    ('{\n  "Image": "x",\n  "Cmd": ["echo" "hi"]\n}', "line 3, column 18"),
    ('{"Image": "x",}', "line 1"),
    ("", "empty"),
    ("[]", "must be a JSON object"),
    ('{"Cmd": ["true"]}', '"Image" is missing'),
    ('{"Image": ""}', '"Image" is empty'),
    ('{"Image": "x", "Cmd": [1]}', "Cmd"),
    ('{"Image": "x", "Entrypoint": 5}', "Entrypoint"),
    ('{"Image": "x", "Env": ["NOEQUALS"]}', "KEY=value"),
    ('{"Image": "x", "Labels": {"a": 1}}', "string value"),
    ('{"Image": "x", "ExposedPorts": ["80"]}', "ExposedPorts"),
    ('{"Image": "x", "HostConfig": "host"}', "HostConfig"),
    ('{"Image": "x", "image": "y"}', "same field"),
]


@pytest.mark.parametrize("text,needle", SHAPES)
def test_every_validation_case_keeps_the_text(client, docker, text, needle):
    before = labelled(docker)
    r = post(client, text)
    page = r.get_data(as_text=True)
    assert r.status_code == 400
    assert needle in html.unescape(page)
    assert textarea(page) == text
    assert "nothing was sent to the engine" in page
    assert labelled(docker) == before


def test_syntax_error_quotes_the_line_with_a_caret(client):
    text = '{\n  "Image": "x",\n  "Cmd": ["echo" "hi"]\n}'
    page = html.unescape(post(client, text).get_data(as_text=True))
    assert '3 │ </span>  "Cmd": ["echo" "hi"]' in page
    assert re.search(r"│ </span><span class=\"caret\"> {17}\^", page)


def test_leading_newline_and_odd_characters_survive(client):
    text = '\n\n{"Image": "x", "Labels": {"a": 1}, "Cmd": ["</textarea><script>alert(1)</script>"]}'
    page = post(client, text).get_data(as_text=True)
    assert textarea(page) == text
    assert "<script>alert(1)" not in page


@pytest.mark.parametrize("name", ["a", "-x", "has space", "a/b", "é"])
def test_bad_names(client, docker, name):
    before = labelled(docker)
    r = post(client, manifest(), name=name)
    assert r.status_code == 400 and "two or more letters" in r.get_data(as_text=True)
    assert labelled(docker) == before


def test_over_256_kib_is_413_with_text_kept(client, docker):
    text = json.dumps(manifest(Env=["BIG=" + "x" * (300 * 1024)]))
    r = post(client, text)
    assert r.status_code == 413
    page = r.get_data(as_text=True)
    assert "256 KiB" in page and textarea(page) == text


def test_no_such_image_offers_a_pull(client, docker):
    before = labelled(docker)
    r = post(client, manifest(Image="periscope-test:no-such-tag-" + SESSION))
    page = html.unescape(r.get_data(as_text=True))
    assert r.status_code == 404
    assert "No such image" in page and "is not on this engine" in page
    assert 'action="/images/pull"' in page and 'id="pull-offer"' in page
    assert f'name="image" value="periscope-test:no-such-tag-{SESSION}"' in page
    assert labelled(docker) == before


def test_name_in_use_links_to_the_holder(client, run_container):
    name = unique_name("taken")
    holder = run_container(name=name)
    r = post(client, manifest(), name=name)
    page = html.unescape(r.get_data(as_text=True))
    assert r.status_code == 409
    assert "already in use" in page
    assert f'href="/containers/{holder}"' in page


def test_bad_parameter_is_400_with_the_engine_message(client, docker):
    before = labelled(docker)
    r = post(client, manifest(HostConfig={"Memory": 5}))
    page = html.unescape(r.get_data(as_text=True))
    assert r.status_code == 400
    assert "The engine refused" in page and "Minimum memory limit" in page
    assert labelled(docker) == before


def test_start_failure_shows_the_container_and_removes_it_on_request(client, docker, test_image,
                                                                     made):
    name = unique_name("nostart")
    text = json.dumps(manifest(Cmd=["/no/such/command"]), indent=2)
    r = post(client, text, name=name)
    page = html.unescape(r.get_data(as_text=True))
    assert r.status_code == 400, page[:500]
    assert "did not start" in page and "no such file or directory" in page.lower()
    c = docker.inspect(name)
    made.append(c["Id"])
    assert c["State"]["Status"] == "created"
    assert f'href="/containers/{c["Id"]}"' in page
    assert textarea(page) == text
    m = re.search(r'formaction="(/containers/discard)" name="discard" value="([0-9a-f]{64})"', page)
    assert m and m.group(2) == c["Id"]
    r2 = csrf_post(client, m.group(1), {"discard": c["Id"], "manifest": text, "name": name,
                                        "start": "1"})
    assert r2.status_code == 200
    assert textarea(r2.get_data(as_text=True)) == text
    assert docker.raw("inspect", c["Id"]).returncode != 0


def test_host_access_is_refused_by_default(client, docker):
    before = labelled(docker)
    r = post(client, manifest(HostConfig={"Privileged": True, "Binds": ["/:/host"]}))
    page = html.unescape(r.get_data(as_text=True))
    assert r.status_code == 403
    assert "HostConfig.Privileged" in page and "HostConfig.Binds[0]" in page
    assert "root filesystem" in page and "PERISCOPE_ALLOW_HOST_ACCESS" in page
    assert labelled(docker) == before
    # the engine's own socket (DOCKER_HOST) is protected wherever it lives
    sock = client.application.extensions["periscope.engines"].default.host.socket_path
    if sock:
        r = post(client, manifest(HostConfig={"Binds": [f"{sock}:/docker.sock"]}))
        assert r.status_code == 403 and "Engine socket" in r.get_data(as_text=True)


def test_allow_host_access_lifts_the_policy_and_says_so(docker, test_image, made):
    app = create_app(make_settings(allow_host_access=True))
    client = app.test_client()
    page = client.get("/containers/new").get_data(as_text=True)
    assert 'id="host-access"' in page and "Host access is allowed" in page
    r = post(client, manifest(HostConfig={"CapAdd": ["NET_ADMIN"]}), start=False)
    assert r.status_code == 303
    cid = created_id(r.headers["Location"])
    made.append(cid)
    assert docker.inspect(cid)["HostConfig"]["CapAdd"] == ["NET_ADMIN"]


def test_csrf_missing_or_cross_origin_creates_nothing(client, docker):
    before = labelled(docker)
    data = {"manifest": json.dumps(manifest()), "start": "1"}
    r = client.post("/containers", data=data, headers={"Origin": "http://localhost"})
    assert r.status_code == 403
    r = csrf_post(client, "/containers", data, headers={"Origin": "http://evil.example"})
    assert r.status_code == 403
    assert labelled(docker) == before  # refused before any Engine call: nothing in flight


def test_read_only_refuses_the_form(docker):
    client = create_app(make_settings(read_only=True)).test_client()
    assert client.get("/containers/new").status_code == 403
    assert post(client, manifest()).status_code == 403


def test_preview_partial(client):
    r = csrf_post(client, "/containers/new/preview",
                  {"manifest": '{"Image": "busybox", "Env": ["A=b c"]}', "name": "web",
                   "start": "1"})
    page = html.unescape(r.get_data(as_text=True))
    assert r.status_code == 200
    assert "docker run -d --name web -e 'A=b c' busybox" in page
    assert "/containers/create?name=web" in page and "/containers/web/start" in page
    bad = csrf_post(client, "/containers/new/preview", {"manifest": "{"}).get_data(as_text=True)
    assert "Shown once the manifest is valid" in bad
    # while typing, the preview says where the first fault is (the form does on submit)
    bad = html.unescape(csrf_post(client, "/containers/new/preview", {
        "manifest": '{\n  "Image": "x",\n  "Cmd": ["a",],\n}'}).get_data(as_text=True))
    assert "line 3, column 15" in bad and '"Cmd": ["a",],' in bad, bad
    empty = csrf_post(client, "/containers/new/preview", {"manifest": "  "}).get_data(as_text=True)
    assert "Shown once the manifest is valid" in empty and "line" not in empty


def test_over_the_app_limit_says_the_text_could_not_be_kept(client, docker):
    before = labelled(docker)
    text = json.dumps(manifest(Env=["BIG=" + "x" * (1100 * 1024)]))
    r = post(client, text)
    page = html.unescape(r.get_data(as_text=True))
    assert r.status_code == 413
    assert "did not read it" in page and "256 KiB" in page and 'id="manifest"' in page
    # the same when the token comes as a form field (read before the view runs)
    with client.session_transaction() as sess:
        token = sess["csrf"]
    r = client.post("/containers", data={"csrf_token": token, "manifest": text},
                    headers={"Origin": "http://localhost"})
    assert r.status_code == 413 and "did not read it" in r.get_data(as_text=True)
    assert labelled(docker) == before


def test_a_bad_name_is_blamed_on_the_name_not_the_manifest(client):
    r = post(client, manifest(), name="bad name!")
    page = r.get_data(as_text=True)
    assert r.status_code == 400
    assert "The name cannot be used" in page and "The manifest has" not in page
