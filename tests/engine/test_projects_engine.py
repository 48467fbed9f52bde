"""Compose projects against the real engine, with Debian's docker-compose as the
witness: the project page holds what `docker-compose ps` lists, in the same
states; the project actions change what `docker-compose ps` says; Periscope's
own container is skipped; read-only refuses; hostile labels stay text."""

from __future__ import annotations

import html
import re
from urllib.parse import quote

import pytest

from app import selfdetect
from conftest import IMAGE, LABEL, SESSION, create_app, csrf_post, make_settings, unique_name

LOOP = "trap 'exit 0' TERM; while :; do echo tick $HOSTNAME; sleep 1 & wait; done"


def page_members(text: str) -> dict[str, str]:
    """name -> state of the project page's service containers."""
    body = text.split('id="project-body"', 1)[1].split("project-oneoffs", 1)[0]
    return dict(re.findall(r'<tr class="member" data-id="[0-9a-f]+" data-name="([^"]+)" '
                           r'data-state="([^"]+)"', body))


def as_compose(state: str, status: str = "") -> str:
    return {"running": "Up", "exited": "Exit"}.get(state, state)


def compose_states(ps: dict[str, str]) -> dict[str, str]:
    return {n: s.split()[0] for n, s in ps.items()}


@pytest.fixture
def shop(compose):
    """Two services, web scaled to 2, and a one-off `run` container."""
    p = compose({"web": {"command": ["sh", "-c", LOOP], "scale": 2},
                 "db": {"command": ["sh", "-c", LOOP]}})
    p("run", "-d", "--no-deps", "web", "echo", "one-off")
    return p


def test_project_page_equals_compose_ps(client, shop, docker):
    ps = shop.ps()
    assert len(ps) == 3 and all(s == "Up" for s in ps.values()), ps  # the witness saw it
    r = client.get(f"/projects/{shop.name}")
    assert r.status_code == 200
    text = r.get_data(as_text=True)
    got = page_members(text)
    assert {n: as_compose(s) for n, s in got.items()} == compose_states(ps)
    # by service, then by container number
    assert list(got) == [f"{shop.name}_db_1", f"{shop.name}_web_1", f"{shop.name}_web_2"]
    # the one-off `run` container is shown apart (compose ps leaves it out)
    oneoffs = text.split("project-oneoffs", 1)[1]
    assert re.search(rf'data-name="{shop.name}_web_run_[0-9a-f]+"', oneoffs)
    assert f"{shop.name}_web_run_" not in "".join(ps)
    assert shop.dir.as_posix() in text and "compose.json" in text
    # the list of projects: 3 of 3 running, both services, its files
    lst = client.get("/projects").get_data(as_text=True)
    assert 'id="stacks-head"' not in lst  # an engine in no swarm: no stacks, no word of them
    row = lst.split(f'data-project="{shop.name}"', 1)[1].split("</tr>", 1)[0]
    assert ">3/3<" in row and "web <small" in row and "db <small" in row
    # one stopped by the CLI: the page follows compose ps
    shop("stop", "-t", "0", "db")
    ps = shop.ps()
    assert ps[f"{shop.name}_db_1"].startswith("Exit")
    got = page_members(client.get(f"/projects/{shop.name}/poll").get_data(as_text=True))
    assert {n: as_compose(s) for n, s in got.items()} == compose_states(ps)


def test_unknown_project_is_a_404(client):
    r = client.get("/projects/no-such-project-" + SESSION)
    assert r.status_code == 404 and "No container on this engine belongs" in r.get_data(as_text=True)
    for path in ("logs", "logs/download"):  # its merged log and its download, alike
        r = client.get(f"/projects/no-such-project-{SESSION}/{path}")
        assert r.status_code == 404 and "is on this engine" in r.get_data(as_text=True)


def test_actions_change_what_compose_ps_says(client, shop):
    base = f"/projects/{shop.name}"
    r = csrf_post(client, base + "/stop", {"t": "1"})
    assert r.status_code == 303 and r.headers["Location"] == base
    assert set(compose_states(shop.ps()).values()) == {"Exit"}
    page = html.unescape(client.get(base).get_data(as_text=True))
    assert "Stopped 3 of 3 containers of " + shop.name in page
    assert f"Stopped {shop.name}_web_2." in page and "one-off" in page
    # the one-off was left alone: still as it was (exited, never restarted)
    r = csrf_post(client, base + "/stop")
    page = html.unescape(client.get(r.headers["Location"]).get_data(as_text=True))
    assert f"{shop.name}_db_1 was already stopped." in page and "3 already so" in page
    csrf_post(client, base + "/start")
    assert set(compose_states(shop.ps()).values()) == {"Up"}
    page = html.unescape(client.get(base).get_data(as_text=True))
    assert f"Started {shop.name}_db_1." in page
    assert "What start did" in page
    assert "What start did" not in client.get(base).get_data(as_text=True)  # said once


def test_restart_skips_periscopes_own_container(client, shop, docker, monkeypatch):
    own = docker.inspect(f"{shop.name}_web_1")["Id"]
    monkeypatch.setattr(selfdetect, "own_container_id", lambda eng: own)
    before = {n: docker.inspect(n)["State"]["StartedAt"] for n in shop.ps()}
    page = html.unescape(client.get(f"/projects/{shop.name}").get_data(as_text=True))
    assert "Periscope runs in one of this project's containers" in page
    assert "Periscope runs here" in page
    r = csrf_post(client, f"/projects/{shop.name}/restart", {"t": "1"})
    page = html.unescape(client.get(r.headers["Location"]).get_data(as_text=True))
    assert (f"Skipped {shop.name}_web_1: Periscope runs in it and will not restart its own "
            "container.") in page
    assert "Restarted 2 of 3 containers" in page and "1 skipped" in page
    after = {n: docker.inspect(n)["State"]["StartedAt"] for n in shop.ps()}
    assert after[f"{shop.name}_web_1"] == before[f"{shop.name}_web_1"]
    assert after[f"{shop.name}_web_2"] != before[f"{shop.name}_web_2"]
    assert after[f"{shop.name}_db_1"] != before[f"{shop.name}_db_1"]
    assert set(compose_states(shop.ps()).values()) == {"Up"}


def test_read_only_refuses_project_actions(shop):
    app = create_app(make_settings(read_only=True))
    client = app.test_client()
    page = client.get(f"/projects/{shop.name}").get_data(as_text=True)
    assert "Stop all" not in page
    r = csrf_post(client, f"/projects/{shop.name}/stop")
    assert r.status_code == 403
    assert set(compose_states(shop.ps()).values()) == {"Up"}


def test_bad_action_and_timeout(client, shop):
    assert csrf_post(client, f"/projects/{shop.name}/explode").status_code == 404
    r = csrf_post(client, f"/projects/{shop.name}/stop", {"t": "soon"})
    assert r.status_code == 400 and "whole number" in r.get_data(as_text=True)
    assert set(compose_states(shop.ps()).values()) == {"Up"}
    assert client.post(f"/projects/{shop.name}/stop").status_code in (400, 403)  # no CSRF


def test_list_by_project_folds_and_keeps_the_rest(client, shop, run_container):
    loose = run_container(name=unique_name("loose"))
    text = client.get("/containers?view=project&all=1").get_data(as_text=True)
    groups = text.split('<details class="project-group"')
    mine = next(g for g in groups[1:] if f'data-keep="/{shop.name}"' in g)
    assert "<summary>" in mine and " open" not in mine.split(">", 1)[0]  # folded by default
    for n in ("db_1", "web_1", "web_2"):
        assert f'data-name="{shop.name}_{n}"' in mine
    assert f"{shop.name}_web_run_" in mine  # the one-off sits with its project
    rest = text.split("Not in a project", 1)[1]
    assert loose in rest and shop.name not in rest
    # filtered: the groups are open; the poll keeps the view
    text = client.get(f"/containers?view=project&q={shop.name}_web").get_data(as_text=True)
    assert f'data-keep="/{shop.name}" open' in text
    poll = client.get("/containers/rows?view=project").get_data(as_text=True)
    assert "project-group" in poll and "view=project" in poll


def test_hostile_project_and_service_labels_stay_text(client, run_container):
    evil_p = '<script>alert("p")<script>&x'
    evil_s = '"><img src=x onerror=alert(1)>'
    labels = {"com.docker.compose.project": evil_p, "com.docker.compose.service": evil_s,
              "com.docker.compose.container-number": "1",
              "com.docker.compose.project.working_dir": "<b>dir</b>"}
    run_container("echo '<script>alert(2)</script>'; sleep 300", labels=labels)
    for url in ("/projects", f"/projects/{quote(evil_p, safe='')}",
                f"/projects/{quote(evil_p, safe='')}/logs",
                "/containers?view=project"):
        r = client.get(url)
        assert r.status_code == 200, url
        text = r.get_data(as_text=True)
        assert "<script>alert" not in text and "<img src=x" not in text and "<b>dir" not in text
    assert "&lt;script&gt;alert(&#34;p&#34;)&lt;script&gt;&amp;x" in client.get(
        "/projects").get_data(as_text=True)
    # a "/" (only a label set by hand can hold one) cannot be a page: listed, not linked
    run_container("sleep 300", labels={"com.docker.compose.project": "a/b</i>",
                                       "com.docker.compose.service": "s"})
    text = client.get("/projects").get_data(as_text=True)
    assert "<strong>a/b&lt;/i&gt;</strong>" in text and 'href="/projects/a/b' not in text


def test_every_engine_side_by_side(second_engine, docker_host, run_container):
    """Two engines: /projects shows both engines' projects, and each one's own
    pages live under /engines/<name>/projects."""
    import subprocess

    proj = f"two{SESSION}"
    labels = ["--label", f"{LABEL}={SESSION}", "--label", f"com.docker.compose.project={proj}",
              "--label", "com.docker.compose.service=api",
              "--label", "com.docker.compose.container-number=1"]
    run_container("sleep 300", labels={"com.docker.compose.project": proj,
                                       "com.docker.compose.service": "web",
                                       "com.docker.compose.container-number": "1"})
    out = subprocess.run(["docker", "-H", second_engine.unix_host, "run", "-d", *labels,
                          "--name", unique_name("far"), IMAGE, "sleep", "300"],
                         capture_output=True, timeout=60)
    assert out.returncode == 0, out.stderr
    try:
        s = make_settings()
        s.engines = f"here={docker_host},far={second_engine.unix_host}"
        client = create_app(s).test_client()
        text = client.get("/projects").get_data(as_text=True)
        rows = re.findall(rf'<tr class="project" data-project="{proj}" data-engine="(\w+)"', text)
        assert sorted(rows) == ["far", "here"]
        assert f'href="/engines/far/projects/{proj}"' in text
        far = client.get(f"/engines/far/projects/{proj}").get_data(as_text=True)
        assert "api" in far and 'data-service="web"' not in far
        assert client.get(f"/engines/far/projects/{proj}/logs").status_code == 200
        grouped = client.get("/containers?view=project").get_data(as_text=True)
        assert f'data-keep="here/{proj}"' in grouped and f'data-keep="far/{proj}"' in grouped
        assert f'href="/engines/far/projects/{proj}"' in grouped
    finally:
        subprocess.run(["docker", "-H", second_engine.unix_host, "rm", "-f",
                        out.stdout.decode().strip()], capture_output=True, timeout=60)
