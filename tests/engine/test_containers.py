"""The container list and detail pages against the real engine."""

import json
import re


from conftest import LABEL, SESSION, unique_name


def ids_on_page(html: str) -> set[str]:
    return set(re.findall(r'data-id="([0-9a-f]{64})"', html))


def labelled_ids(docker, all_=True) -> set[str]:
    args = ["ps", "-q", "--no-trunc", "--filter", f"label={LABEL}={SESSION}"]
    if all_:
        args.insert(1, "-a")
    return set(docker(*args).split())


def test_root_redirects_to_containers(client):
    r = client.get("/")
    assert r.status_code == 302 and r.headers["Location"].endswith("/containers")


def test_list_equals_what_the_engine_reports(client, docker, run_container):
    running = [run_container() for _ in range(2)]
    stopped = run_container("exit 3")
    docker("wait", stopped)
    label = f"{LABEL}={SESSION}"
    page_running = ids_on_page(client.get(f"/containers?label={label}").get_data(as_text=True))
    page_all = ids_on_page(client.get(f"/containers?all=1&label={label}").get_data(as_text=True))
    assert page_running == labelled_ids(docker, all_=False) == set(running)
    assert page_all == labelled_ids(docker) == set(running) | {stopped}


def test_rows_partial_and_filters(client, docker, run_container):
    a = run_container(name=unique_name("alpha"), labels={"tier": "web"})
    b = run_container(name=unique_name("beta"), labels={"tier": "db"})
    c = run_container("true", name=unique_name("gamma"))
    docker("wait", c)
    base = f"label={LABEL}={SESSION}"
    def rows(q):
        r = client.get(f"/containers/rows?{q}")
        assert r.status_code == 200
        return ids_on_page(r.get_data(as_text=True))
    assert rows(f"{base}") == {a, b}
    assert rows(f"all=1&{base}") == {a, b, c}
    assert rows(f"all=1&q=ALPHA&{base}") == {a}
    assert rows(f"all=1&q={b[:10]}&{base}") == {b}
    assert rows(f"all=1&q=periscope-test&{base}") == {a, b, c}  # image name
    assert rows("all=1&label=tier=db") >= {b} and a not in rows("all=1&label=tier=db")
    assert rows("all=1&label=tier") >= {a, b}
    assert rows(f"state=exited&{base}") == {c}
    assert rows(f"state=running&{base}") == {a, b}
    # the partial carries its own trigger, with the filters kept
    r = client.get(f"/containers/rows?all=1&q=alpha&{base}")
    html = r.get_data(as_text=True)
    assert 'hx-trigger="every 1000ms"' in html
    assert "q=alpha" in html and "all=1" in html
    # polled again with the tag it carries (and, as static/stats.js adds, the
    # tag of the figures it shows): nothing changed, so nothing is sent
    poll = re.search(r'hx-get="([^"]+)"', html).group(1).replace("&amp;", "&")
    cells = re.search(r'id="rows-cells" data-cells="([^"]*)"', html)
    poll += f"&cells={cells.group(1)}" if cells else ""
    again = client.get(poll)
    assert again.status_code == 204 and again.get_data() == b""
    # a change on the engine is a new answer (with a new tag)
    docker("stop", "-t", "0", a)
    changed = client.get(poll)
    assert changed.status_code == 200 and a in changed.get_data(as_text=True)
    assert re.search(r'hx-get="([^"]+)"', changed.get_data(as_text=True)).group(1) != \
        re.search(r'hx-get="([^"]+)"', html).group(1)


def test_list_shows_ports_state_and_health(client, run_container):
    cid = run_container(args=["--health-cmd", "true", "--health-interval", "1s",
                              "--network", "host"])
    html = client.get(f"/containers?label={LABEL}={SESSION}").get_data(as_text=True)
    assert cid[:12] in html and "running" in html


def test_inspect_by_id_prefix_and_name(client, docker, run_container):
    name = unique_name("insp")
    cid = run_container("echo hello; sleep 300", name=name,
                        args=["-e", "GREETING=hi", "--label", "role=test"])
    for ref in (cid, cid[:12], name):
        r = client.get(f"/containers/{ref}")
        assert r.status_code == 200, ref
        html = r.get_data(as_text=True)
        assert name in html and cid in html
        assert "GREETING" in html and "role" in html
        for section in ("State", "Config", "Host config", "Mounts", "Network", "Raw JSON"):
            assert section in html


def test_unknown_ref_is_404(client):
    r = client.get("/containers/no-such-container-" + SESSION)
    assert r.status_code == 404
    assert "No such container" in r.get_data(as_text=True)


def test_ambiguous_prefix_is_400_naming_candidates(client, docker, run_container):
    # make containers until two share a first hex digit
    made = {}
    for _ in range(20):
        cid = run_container(start=False)
        made.setdefault(cid[0], []).append(cid)
        if len(made[cid[0]]) >= 2:
            pair = made[cid[0]]
            break
    prefix = cid[0]
    r = client.get(f"/containers/{prefix}")
    # other containers may share the prefix too; ours must be named
    assert r.status_code == 400
    html = r.get_data(as_text=True)
    for c in pair:
        assert c[:12] in html


def test_engine_page(client, docker):
    r = client.get("/engine")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    info = json.loads(docker("info", "--format", "{{json .}}"))
    assert info["Driver"] in html
    assert re.search(r'id="api-in-use">1\.\d+<', html)


def test_healthz(client):
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.json["engine"] == "ok" and re.fullmatch(r"1\.\d+", r.json["api_version"])


def test_engine_calls_panel_lists_calls_with_curl(client):
    html = client.get("/containers?all=1").get_data(as_text=True)
    assert "Engine calls for this page: 2" in html or "Engine calls for this page: 1" in html
    assert "/containers/json" in html and "curl" in html
