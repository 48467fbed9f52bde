"""Several engines in one Periscope, for real: the test engine, a second
private dockerd on its own socket, an entry whose socket is missing, and one
whose socket accepts and never answers (the fault kit's stall). The combined
list and events hold both live engines' containers and name the others;
each engine's pages show only its own; actions go to the engine in the URL;
read-only is per engine; bad configuration stops gunicorn at start."""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
import time

import pytest
import requests

from conftest import LABEL, ROOT, SESSION, unique_name

BUDGET = 1.0


def on(host: str, *args: str, check: bool = True) -> str:
    p = subprocess.run(["docker", "-H", host, *args], capture_output=True, text=True, timeout=120)
    if check and p.returncode:
        raise AssertionError(f"docker -H {host} {' '.join(args)}: {p.stderr}")
    return p.stdout.strip()


@pytest.fixture(scope="module")
def second(second_engine):
    return second_engine


@pytest.fixture(scope="module")
def faults(fault_engines):
    return fault_engines


@pytest.fixture(scope="module")
def containers(docker_host, second, test_image):
    """Two containers on each live engine, labelled; removed at the end."""
    made = {"main": [], "second": []}
    for key, host in (("main", docker_host), ("second", second.unix_host)):
        for i in range(2):
            made[key].append(on(host, "run", "-d", "--label", f"{LABEL}={SESSION}", "--name",
                                unique_name(f"{key}{i}"), test_image, "sleep", "600"))
    yield made
    for key, host in (("main", docker_host), ("second", second.unix_host)):
        on(host, "rm", "-f", *made[key], check=False)


@pytest.fixture(scope="module")
def server(docker_host, second, faults, containers, tmp_path_factory):
    """gunicorn with four engines; `second` read-only (engines file)."""
    from conftest import LiveServer

    f = tmp_path_factory.mktemp("engines") / "engines.toml"
    f.write_text(f"""
[engines.main]
url = "{docker_host}"

[engines.second]
url = "{second.unix_host}"

[engines.gone]
url = "{faults['missing']}"

[engines.stuck]
url = "{faults['stalled']}"
""")
    srv = LiveServer({"PERISCOPE_ENGINES_FILE": str(f), "PERISCOPE_ENGINE_BUDGET": str(BUDGET),
                      "PERISCOPE_READ_TIMEOUT": "20"})
    yield srv
    srv.stop()


def part(text: str, tag: str, name: str) -> str:
    """The inside of the first <tag ... data-engine="name"...> element (a row, an item)."""
    m = re.search(rf'<{tag}\b[^>]*data-engine="{name}"[^>]*>(.*?)</{tag}>', text, re.S)
    assert m, (tag, name)
    return m.group(1)


def ids_in(text: str) -> dict[str, set[str]]:
    """Container IDs per engine in a list page or partial."""
    out: dict[str, set[str]] = {}
    for cid, eng in re.findall(r'<tr id="c-[^"]*" data-id="([0-9a-f]{64})"[^>]*data-engine="([^"]+)"',
                               text):
        out.setdefault(eng, set()).add(cid)
    return out


def test_the_combined_list_holds_both_engines_and_names_the_others(server, containers):
    for path in ("/containers", "/containers/rows"):
        t0 = time.monotonic()
        r = requests.get(f"{server.url}{path}?label={LABEL}={SESSION}", timeout=30)
        took = time.monotonic() - t0
        assert r.status_code == 200, r.text[:500]
        got = ids_in(r.text)
        assert got.get("main") == set(containers["main"]), path
        assert got.get("second") == set(containers["second"]), path
        # the dead one and the stalled one: one notice row each, neither holding the others up
        gone = part(r.text, "tr", "gone")
        assert "cannot be listed" in gone and "No such file or directory" in gone
        assert "not answering" in part(r.text, "tr", "stuck")
        # within the budget plus rendering: never the stalled engine's read timeout (20 s)
        assert took < BUDGET + 4, took
    # the engine filter narrows it to one
    r = requests.get(f"{server.url}/containers?engine=second&label={LABEL}={SESSION}", timeout=30)
    assert set(ids_in(r.text)) == {"second"}


def test_each_engine_shows_only_its_own_and_ids_never_mix(server, containers):
    for name, mine, theirs in (("main", containers["main"], containers["second"]),
                               ("second", containers["second"], containers["main"])):
        r = requests.get(f"{server.url}/engines/{name}/containers?label={LABEL}={SESSION}",
                         timeout=30)
        assert r.status_code == 200
        shown = set(re.findall(r'data-id="([0-9a-f]{64})"', r.text))
        assert shown == set(mine), name
        assert requests.get(f"{server.url}/engines/{name}/containers/{mine[0]}",
                            timeout=30).status_code == 200
        other = requests.get(f"{server.url}/engines/{name}/containers/{theirs[0]}", timeout=30)
        assert other.status_code == 404, name
        logs = requests.get(f"{server.url}/engines/{name}/containers/{mine[0]}/logs", timeout=30)
        assert logs.status_code == 200 and f"/engines/{name}/containers/{mine[0]}" in logs.text
    # the old URLs act on the default engine (the first)
    assert requests.get(f"{server.url}/containers/{containers['main'][0]}",
                        timeout=30).status_code == 200
    assert requests.get(f"{server.url}/containers/{containers['second'][0]}",
                        timeout=30).status_code == 404
    # an unknown engine is a 404 page naming the known ones
    r = requests.get(f"{server.url}/engines/nope/containers", timeout=30)
    assert r.status_code == 404 and "main, second, gone, stuck" in html.unescape(r.text)
    # a dead engine's own pages are a 503 that waits for it
    r = requests.get(f"{server.url}/engines/gone/containers", timeout=30)
    assert r.status_code == 503 and 'hx-get="/engines/gone/engine/wait"' in r.text


def test_links_stay_on_the_engine_and_the_switcher_changes_it(server, containers):
    r = requests.get(f"{server.url}/engines/second/containers", timeout=30)
    nav = r.text.split('<nav aria-label="Main">', 1)[1].split("</nav>", 1)[0]
    assert 'href="/engines/second/events"' in nav and 'href="/engines/second/whoami"' in nav
    switcher = r.text.split('class="switcher"', 1)[1].split("</details>", 1)[0]
    assert 'href="/containers"' in switcher  # all engines
    assert 'href="/engines/main/containers"' in switcher
    # on a container page, the switcher goes to the other engine's list (the ID is not there)
    r = requests.get(f"{server.url}/engines/second/containers/{containers['second'][0]}",
                     timeout=30)
    switcher = r.text.split('class="switcher"', 1)[1].split("</details>", 1)[0]
    assert 'href="/engines/main/containers"' in switcher


def test_actions_go_to_the_engine_in_the_url_and_read_only_is_per_engine(
        server, containers, docker_host, second, tmp_path_factory):
    from conftest import LiveServer

    s = requests.Session()
    page = s.get(f"{server.url}/engines/second/containers", timeout=30).text
    tok = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    target = containers["second"][1]
    r = s.post(f"{server.url}/engines/second/containers/{target}/pause",
               data={"csrf_token": tok, "ctx": "detail"}, headers={"Origin": server.url},
               allow_redirects=False, timeout=30)
    assert r.status_code == 303, r.text[:300]
    assert json.loads(on(second.unix_host, "inspect", target))[0]["State"]["Paused"] is True
    on(second.unix_host, "unpause", target)
    # the same ID on the other engine is not found: nothing happens anywhere
    r = s.post(f"{server.url}/engines/main/containers/{target}/pause",
               data={"csrf_token": tok, "ctx": "detail"}, headers={"Origin": server.url},
               allow_redirects=False, timeout=30)
    assert r.status_code == 404
    # read-only for one engine only
    f = tmp_path_factory.mktemp("ro") / "engines.toml"
    f.write_text(f'[engines.main]\nurl = "{docker_host}"\n\n'
                 f'[engines.second]\nurl = "{second.unix_host}"\nread_only = true\n')
    srv = LiveServer({"PERISCOPE_ENGINES_FILE": str(f)})
    try:
        s = requests.Session()
        page = s.get(f"{srv.url}/engines/second/containers", timeout=30).text
        assert "read-only" in page and "/pause" not in page
        tok = re.search(r'"X-CSRF-Token": "([^"]+)"', page).group(1)
        r = s.post(f"{srv.url}/engines/second/containers/{target}/pause",
                   data={"csrf_token": tok}, headers={"Origin": srv.url}, timeout=30)
        assert r.status_code == 403 and "read-only" in r.text
        assert s.get(f"{srv.url}/engines/second/containers/new", timeout=30).status_code == 403
        assert json.loads(on(second.unix_host, "inspect", target))[0]["State"]["Paused"] is False
        mine = containers["main"][1]
        r = s.post(f"{srv.url}/engines/main/containers/{mine}/pause", data={"csrf_token": tok},
                   headers={"Origin": srv.url}, allow_redirects=False, timeout=30)
        assert r.status_code == 303
        assert json.loads(on(docker_host, "inspect", mine))[0]["State"]["Paused"] is True
        on(docker_host, "unpause", mine)
    finally:
        srv.stop()


def test_combined_events_are_tagged_with_their_engine(server, containers, second, test_image):
    tag = f"ev-{SESSION}"
    page = requests.get(f"{server.url}/events?label=evtag={tag}", timeout=30)
    assert page.status_code == 200
    poll = re.search(r'id="events-poll"[^>]*hx-get="([^"]+)"', page.text).group(1)
    cid = on(second.unix_host, "run", "-d", "--label", f"{LABEL}={SESSION}", "--label",
             f"evtag={tag}", test_image, "true")
    try:
        on(second.unix_host, "wait", cid)
        rows = []
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not rows:
            r = requests.get(server.url + html.unescape(poll), timeout=30)
            poll = re.search(r'id="events-poll"[^>]*hx-get="([^"]+)"', r.text).group(1)
            rows = re.findall(r'<tr class="ev t-container" data-engine="([^"]+)"[^>]*'
                              rf'data-action="start" data-actor="{cid}"', r.text)
            assert "cannot be read" in part(r.text, "p", "gone")
            assert "not answering" in part(r.text, "p", "stuck")
        assert rows == ["second"]
    finally:
        on(second.unix_host, "rm", "-f", cid, check=False)


def test_the_engines_page_shows_each_engine(server, docker_host, second):
    t0 = time.monotonic()
    r = requests.get(f"{server.url}/engines", timeout=30)
    assert time.monotonic() - t0 < BUDGET + 4
    assert r.status_code == 200
    api = on(docker_host, "version", "--format", "{{.Server.APIVersion}}")
    for name in ("main", "second"):
        row = part(r.text, "tr", name)
        assert "answers" in row and f"<strong>{api}</strong>" in row and " ms" in row
    gone = part(r.text, "tr", "gone")
    assert "unreachable" in gone and "No such file or directory" in gone
    assert "not answering" in part(r.text, "tr", "stuck")
    assert requests.get(f"{server.url}/engine", timeout=30).status_code == 200  # the old URL
    one = requests.get(f"{server.url}/engines/second", timeout=30)
    assert one.status_code == 200 and second.unix_host in one.text


def test_whoami_asks_every_engine(server):
    r = requests.get(f"{server.url}/whoami", timeout=30)
    assert r.status_code == 200
    box = r.text.split('id="whoami-engines"', 1)[1].split("</section>", 1)[0]
    for name in ("main", "second"):
        assert "not here" in part(box, "li", name)
    assert "could not be asked" in part(box, "li", "gone")


@pytest.mark.parametrize("env, words", [
    ({"PERISCOPE_ENGINES": "a=unix:///x.sock,a=unix:///y.sock"}, ["'a'", "given twice"]),
    ({"PERISCOPE_ENGINES": "a=unix:///x.sock,b=gopher://host"}, ["engine 'b'", "unsupported scheme"]),
    ({"PERISCOPE_ENGINES": "bad name=unix:///x.sock"}, ["'bad name'", "letters"]),
    ({"PERISCOPE_ENGINES": "nourl"}, ["'nourl'", "name=URL"]),
    ({"PERISCOPE_ENGINES": "a=unix:///x", "PERISCOPE_ENGINES_FILE": "/etc/hosts"}, ["not both"]),
    ({"PERISCOPE_ENGINES": "s=ssh://-oProxyCommand=x"}, ["engine 's'"]),
])
def test_a_bad_engines_list_stops_the_start_naming_the_entry(env, words):
    e = {k: v for k, v in os.environ.items() if not k.startswith("PERISCOPE_")}
    e.update(env, PERISCOPE_BIND="127.0.0.1:1")
    p = subprocess.run([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"], cwd=ROOT,
                       env=e, capture_output=True, text=True, timeout=60)
    assert p.returncode == 2, p.stderr[-1000:]
    for w in words:
        assert w in p.stderr, (w, p.stderr[-1000:])


def test_a_bad_engines_file_stops_the_start_naming_the_entry(tmp_path):
    tls = tmp_path / "tls"
    tls.mkdir()
    (tls / "ca.pem").write_text("x")
    cases = [
        ('[engines.build]\nurl = "tcp://127.0.0.1:2376"\ntls = "%s"\n' % tls, ["'build'", "cert.pem", "key.pem"]),
        ('[engines.a]\nurl = "unix:///x"\nreadonly = true\n', ["'a'", "unknown key", "readonly"]),
        ('[engines.a]\nurl = "unix:///x"\nread_only = "yes"\n', ["'a'", "true or false"]),
        ('[engines.a]\n', ["'a'", "url is missing"]),
        ('engines = 3\n', ["names no engine"]),
        ('[engines.a\n', ["not valid TOML"]),
    ]
    for text, words in cases:
        f = tmp_path / "engines.toml"
        f.write_text(text)
        e = {k: v for k, v in os.environ.items() if not k.startswith("PERISCOPE_")}
        e.update(PERISCOPE_ENGINES_FILE=str(f), PERISCOPE_BIND="127.0.0.1:1")
        p = subprocess.run([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"], cwd=ROOT,
                           env=e, capture_output=True, text=True, timeout=60)
        assert p.returncode == 2, (text, p.stderr[-1000:])
        for w in words:
            assert w in p.stderr, (text, w, p.stderr[-1000:])


def test_the_combined_list_has_each_engines_stats(server, containers):
    """Each engine's rows get their own engine's figures (one sampler per
    engine); the dead and the stalled engine hold none of it up."""
    def cells():
        r = requests.get(f"{server.url}/containers/rows?label={LABEL}={SESSION}",
                         headers={"HX-Request": "true"}, timeout=30)
        assert r.status_code == 200
        got = {}
        for eng, cid in (("main", containers["main"][0]), ("second", containers["second"][0])):
            m = re.search(rf'data-id="{cid}"[^>]*data-engine="{eng}".*?</tr>', r.text, re.S)
            assert m, eng
            cpu = re.search(r'<td class="num stat cpu[^"]*"[^>]*>(?:<span[^>]*>[^<]*</span>)?'
                            r'([^<]*)<', m.group(0))
            got[eng] = cpu.group(1).strip() if cpu else None
        return got

    deadline = time.monotonic() + 40
    got = cells()
    while not all(v and v.endswith("%") for v in got.values()) and time.monotonic() < deadline:
        time.sleep(0.5)
        got = cells()
    assert all(v and v.endswith("%") for v in got.values()), got
