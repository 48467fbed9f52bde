"""Swarm pages against a real two-node swarm (tests/swarmkit.py: a manager and
a worker, private dockerds on loopback), the docker CLI as the witness:
services, a service's page and tasks, nodes, stacks, service logs, scaling,
force update, version conflicts, the host-access policy, read-only, workers
and engines in no swarm, an engine leaving its swarm, events."""

from __future__ import annotations

import html
import json
import re
import uuid

import pytest

from conftest import LABEL, SESSION, create_app, csrf_post, make_settings
from swarmkit import cli, wait_for

TICKS = ("i=0; while true; do i=$((i+1)); echo \"tick $i slot $SLOT\"; "
         "if [ $((i % 3)) = 0 ]; then echo \"warn $i slot $SLOT\" >&2; fi; sleep 0.4; done")


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="module")
def svc(swarm):
    """A replicated service at 2 that ticks, a global one, and a stack of two."""
    names = {"web": _name("web"), "glob": _name("glob"), "stack": f"st{uuid.uuid4().hex[:5]}"}
    swarm.service(names["web"], "--replicas", "2", "--env", "SLOT={{.Task.Slot}}",
                  "--env", "API_TOKEN=hunter2", "--env", "PLAIN=visible",
                  cmd=["sh", "-c", TICKS])
    swarm.service(names["glob"], "--mode", "global")
    st = names["stack"]
    for part in ("api", "db"):
        swarm.service(f"{st}_{part}", "--label", f"com.docker.stack.namespace={st}",
                      "--replicas", "1")
    swarm.converged(names["web"], "2/2")
    swarm.converged(names["glob"], "2/2")
    swarm.converged(f"{st}_api", "1/1")
    swarm.converged(f"{st}_db", "1/1")
    yield names
    ids = cli(swarm.host, "service", "ls", "-q", "--filter", f"label={LABEL}={SESSION}").split()
    if ids:
        cli(swarm.host, "service", "rm", *ids, check=False)


def _app(host: str, **over):
    return create_app(make_settings(docker_host=host, **over))


def _rows(body: str) -> dict[str, dict]:
    out = {}
    for m in re.finditer(r'<tr class="service" data-id="([^"]+)" data-name="([^"]+)".*?</tr>', body,
                         re.S):
        row = m.group(0)
        rep = re.search(r'<td class="num replicas">.*?(\d+)/(\d+)', row, re.S)
        mode = re.search(r'<td class="mode">([^<]*)</td>', row).group(1)
        out[html.unescape(m.group(2))] = {"id": m.group(1), "mode": mode,
                                          "replicas": f"{rep.group(1)}/{rep.group(2)}"}
    return out


def test_services_list_equals_docker_service_ls(swarm, svc):
    c = _app(swarm.host).test_client()
    r = c.get("/services")
    assert r.status_code == 200
    got = _rows(r.get_data(as_text=True))
    ls = cli(swarm.host, "service", "ls", "--format", "{{json .}}").splitlines()
    want = {}
    for line in ls:
        d = json.loads(line)
        want[d["Name"]] = {"id": d["ID"], "mode": d["Mode"], "replicas": d["Replicas"]}
    assert set(got) == set(want)
    for name, w in want.items():
        assert got[name]["id"].startswith(w["id"])
        assert got[name]["mode"] == w["mode"]
        assert got[name]["replicas"] == w["replicas"].split(" ")[0], name
    # one Engine call for the whole list (status=true: the engine counts)
    r2 = c.get("/services/rows")
    assert r2.status_code == 200 and _rows(r2.get_data(as_text=True)) == got


def test_services_filters_by_name_label_and_stack(swarm, svc):
    c = _app(swarm.host).test_client()
    st = svc["stack"]
    by_stack = _rows(c.get(f"/services?stack={st}").get_data(as_text=True))
    assert set(by_stack) == {f"{st}_api", f"{st}_db"}
    by_name = _rows(c.get(f"/services?q={svc['web']}").get_data(as_text=True))
    assert set(by_name) == {svc["web"]}
    by_label = _rows(c.get(f"/services?label=com.docker.stack.namespace%3D{st}")
                     .get_data(as_text=True))
    assert set(by_label) == {f"{st}_api", f"{st}_db"}
    bad = c.get("/services?label=%3Dnokey")
    assert bad.status_code == 200 and "Label must be key or key=value" in bad.get_data(as_text=True)
    stacks = c.get("/stacks").get_data(as_text=True)
    assert f'data-stack="{st}"' in stacks and f"{st}_api" in stacks and "2/2 tasks running" in stacks
    # the projects page shows the stacks beside Compose projects
    projects = c.get("/projects").get_data(as_text=True)
    assert 'id="stacks-head"' in projects and f'data-stack="{st}"' in projects
    assert f"{st}_db" in projects and svc["web"] not in projects  # a service of no stack: not there


def test_an_unchanged_services_poll_is_204_and_a_change_is_not(swarm, monkeypatch):
    """The list polls with the tag of what the viewer has: 204 while the
    engine's answer stays the same; a scale (a new answer) is the new rows."""
    from app import memo
    monkeypatch.setattr(memo, "tick", lambda: 1)  # relative times: one step throughout
    mark = uuid.uuid4().hex[:8]
    name = _name("poll")
    swarm.service(name, "--replicas", "0", "--label", f"poll={mark}")
    c = _app(swarm.host).test_client()
    page = c.get(f"/services?label=poll%3D{mark}").get_data(as_text=True)
    assert set(_rows(page)) == {name}
    poll = re.search(r'id="service-rows"[^>]*hx-get="([^"]+)"', page, re.S).group(1)
    poll = poll.replace("&amp;", "&")
    assert "tag=" in poll and 'hx-trigger="every ' in page
    again = c.get(poll)
    assert again.status_code == 204 and again.get_data() == b""
    # the next step of relative times (the rows are made again), the same
    # texts: still nothing to send
    monkeypatch.setattr(memo, "tick", lambda: 2)
    assert c.get(poll).status_code == 204
    cli(swarm.host, "service", "scale", "-d", f"{name}=1")
    changed = c.get(poll)
    assert changed.status_code == 200
    assert _rows(changed.get_data(as_text=True))[name]["replicas"].endswith("/1")
    cli(swarm.host, "service", "rm", name)


def test_service_page_spec_tasks_and_links(swarm, svc):
    c = _app(swarm.host).test_client()
    name = svc["web"]
    r = c.get(f"/services/{name}")
    body = r.get_data(as_text=True)
    assert r.status_code == 200
    assert "hunter2" not in body  # a secret-looking env value is masked, raw JSON too
    assert "API_TOKEN" in body and "visible" in body
    shown = csrf_post(c, f"/services/{name}/env/reveal", headers={"HX-Request": "true"})
    assert shown.status_code == 200 and "hunter2" in shown.get_data(as_text=True)
    assert c.post(f"/services/{name}/env/reveal").status_code == 403  # no token: refused
    ps = [json.loads(x) for x in cli(swarm.host, "service", "ps", name, "--no-trunc",
                                     "--filter", "desired-state=running",
                                     "--format", "{{json .}}").splitlines()]
    assert len(ps) == 2
    for t in ps:
        assert f'data-task="{t["ID"]}"' in body
    # each task's container links to its page only where it runs on this engine
    manager_node = cli(swarm.host, "info", "--format", "{{.Swarm.NodeID}}").strip()
    raw = json.loads(cli(swarm.host, "inspect", *[t["ID"] for t in ps]))
    for t in raw:
        cid = t["Status"]["ContainerStatus"]["ContainerID"]
        link = f'href="/containers/{cid}"' in body
        assert link == (t["NodeID"] == manager_node), t["NodeID"]
    # the local task's container page opens
    local = [t for t in raw if t["NodeID"] == manager_node]
    if local:
        cid = local[0]["Status"]["ContainerStatus"]["ContainerID"]
        assert c.get(f"/containers/{cid}").status_code == 200
    # by ID too, and the tasks poll
    sid = raw[0]["ServiceID"]
    assert c.get(f"/services/{sid}").status_code == 200
    tp = c.get(f"/services/{name}/tasks")
    assert tp.status_code == 200 and 'hx-trigger="load delay:' in tp.get_data(as_text=True)
    assert c.get("/services/no-such-service-here").status_code == 404


def test_global_service_runs_on_both_nodes_and_nodes_page(swarm, svc):
    c = _app(swarm.host).test_client()
    raw = json.loads(cli(swarm.host, "inspect", *cli(swarm.host, "service", "ps", "-q",
                                                      "--filter", "desired-state=running",
                                                      svc["glob"]).split()))
    nodes = {t["NodeID"] for t in raw}
    assert len(nodes) == 2
    body = c.get(f"/services/{svc['glob']}").get_data(as_text=True)
    for n in nodes:
        assert f'data-node="{n}"' in body
    page = c.get("/nodes").get_data(as_text=True)
    ls = [json.loads(x) for x in cli(swarm.host, "node", "ls", "--format", "{{json .}}")
          .splitlines()]
    assert len(ls) == 2
    for n in ls:
        m = re.search(rf'<tr class="node" data-id="({n["ID"]}[a-z0-9]*)" data-role="(\w+)">(.*?)</tr>',
                      page, re.S)
        assert m, n
        role = "manager" if n["ManagerStatus"] else "worker"
        assert m.group(2) == role
        assert n["Availability"].lower() in m.group(3)
        if n["ManagerStatus"] == "Leader":
            assert "<strong>leader</strong>" in m.group(3)
            assert "this engine" in m.group(3)


def _log_lines(body: str) -> list[tuple[str, str, str]]:
    """(task label, stream, text) of each log row."""
    return [(html.unescape(m.group(2)), m.group(1),
             html.unescape(re.sub(r"<[^>]+>", "", m.group(3)))) for m in
            re.finditer(r'<div class="ll (\w+)">(?:<time[^>]*>[^<]*</time>)?<span class="lsrc" '
                        r'title="[^"]*">([^<]*)</span><i></i><span class="ltx">(.*?)</span></div>',
                        body)]


def _poll_url(body: str) -> str | None:
    m = re.search(r'id="log-follow"[^>]*hx-get="([^"]+)"', body, re.S)
    return html.unescape(m.group(1)) if m else None


def test_service_logs_hold_each_tasks_output_exactly_once(swarm, svc):
    c = _app(swarm.host, poll_interval=0.5).test_client()
    name = svc["web"]
    r = c.get(f"/services/{name}/logs?tail=all&follow=1")
    assert r.status_code == 200
    body = r.get_data(as_text=True)
    seen: dict[tuple[str, int], int] = {}
    labels: dict[str, set] = {}

    def take(lines):
        for label, stream, text in lines:
            m = re.fullmatch(r"(tick|warn) (\d+) slot (\d+)", text)
            assert m, text
            assert (stream == "err") == (m.group(1) == "warn"), (stream, text)
            key = (m.group(1) + m.group(3), int(m.group(2)))
            seen[key] = seen.get(key, 0) + 1
            labels.setdefault(m.group(3), set()).add(label)

    take(_log_lines(body))
    url = _poll_url(body)
    assert url
    start = max(n for (_, n) in seen)

    def polled_past():
        nonlocal url
        r = c.get(url)
        assert r.status_code == 200
        b = r.get_data(as_text=True)
        take(_log_lines(b))
        url = _poll_url(b)
        return max(n for (_, n) in seen) >= start + 8

    wait_for(polled_past, 30, "ticks after the first read", every=0.2)
    dupes = {k: v for k, v in seen.items() if v > 1}
    assert not dupes, dupes
    for stream_slot in {k[0] for k in seen}:
        got = sorted(n for (s, n) in seen if s == stream_slot)
        step = 3 if stream_slot.startswith("warn") else 1
        assert got == list(range(got[0], got[-1] + 1, step)), (stream_slot, got)
        assert got[0] <= step  # tail=all: from the task's first line
    # each line tagged with its own task, name.slot@node
    assert set(labels) == {"1", "2"}
    for slot, ls in labels.items():
        assert len(ls) == 1 and next(iter(ls)).startswith(f"{name}.{slot}@"), ls
    # search: only the matching lines, still tagged
    found = _log_lines(c.get(f"/services/{name}/logs?tail=all&q=slot+2").get_data(as_text=True))
    assert found and all(t.endswith("slot 2") and lb.startswith(f"{name}.2@")
                         for lb, _, t in found)
    # the download: every task's bytes, as `docker service logs --raw` prints them
    dl = c.get(f"/services/{name}/logs/download?stderr=0")
    assert dl.status_code == 200 and "attachment" in dl.headers["Content-Disposition"]
    text = dl.get_data(as_text=True)
    assert "tick 1 slot 1\n" in text and "tick 1 slot 2\n" in text and "warn" not in text


def test_scale_to_three_from_the_page(swarm):
    name = _name("scale")
    swarm.service(name, "--replicas", "2")
    swarm.converged(name, "2/2")
    c = _app(swarm.host).test_client()
    r = csrf_post(c, f"/services/{name}/scale", {"replicas": "3"})
    assert r.status_code == 303
    page = c.get(r.headers["Location"]).get_data(as_text=True)
    assert f"Scaling {name} to 3." in page
    swarm.converged(name, "3/3")
    wait_for(lambda: "3/3 running" in c.get(f"/services/{name}/tasks").get_data(as_text=True),
             30, "the tasks poll to say 3/3")
    # bad input loses nothing and says why
    bad = csrf_post(c, f"/services/{name}/scale", {"replicas": "-1"})
    assert bad.status_code == 303
    assert "is not a whole number from 0" in c.get(bad.headers["Location"]).get_data(as_text=True)
    # a global service cannot be scaled: said, nothing sent
    g = _name("g")
    swarm.service(g, "--mode", "global")
    rg = csrf_post(c, f"/services/{g}/scale", {"replicas": "3"})
    assert "Only a replicated service can be scaled" in c.get(rg.headers["Location"]) \
        .get_data(as_text=True)
    # no CSRF token: refused
    assert c.post(f"/services/{name}/scale", data={"replicas": "1"}).status_code == 403
    cli(swarm.host, "service", "rm", name, g)


def test_force_update_replaces_every_task(swarm):
    name = _name("force")
    swarm.service(name, "--replicas", "1", "--env", "DB_PASSWORD=s3cr3t-value")
    swarm.converged(name, "1/1")
    before = set(cli(swarm.host, "service", "ps", "-q", name).split())
    c = _app(swarm.host).test_client()
    r = csrf_post(c, f"/services/{name}/update")
    assert r.status_code == 303
    # the spec sent shows in the Engine calls panel after the redirect, its
    # secret-looking env value masked (it went through the session cookie too)
    after = c.get(r.headers["Location"]).get_data(as_text=True)
    assert "/update?version=" in after and "DB_PASSWORD=" in after
    assert "s3cr3t-value" not in after
    spec = json.loads(cli(swarm.host, "service", "inspect", name))[0]["Spec"]
    assert spec["TaskTemplate"]["ForceUpdate"] == 1
    wait_for(lambda: set(cli(swarm.host, "service", "ps", "-q", "--filter",
                             "desired-state=running", name).split()) - before, 30,
             "a new task")
    cli(swarm.host, "service", "rm", name)


def _racing(app, host: str, times: int):
    """Make a real concurrent update happen right after each of Periscope's
    next `times` reads of the service: the docker CLI updates it in between."""
    eng = app.extensions["periscope.engines"].default.engine
    real = eng.inspect_service
    left = {"n": times}

    def inspect(ref, timeout=None):
        s = real(ref, timeout=timeout)
        if left["n"] > 0:
            left["n"] -= 1
            cli(host, "service", "update", "--detach", "--label-add", f"race{left['n']}=1", ref)
        return s

    eng.inspect_service = inspect


def test_a_concurrent_update_is_retried_once(swarm):
    name = _name("race")
    swarm.service(name, "--replicas", "1")
    app = _app(swarm.host)
    c = app.test_client()
    _racing(app, swarm.host, 1)
    r = csrf_post(c, f"/services/{name}/scale", {"replicas": "2"})
    page = c.get(r.headers["Location"]).get_data(as_text=True)
    assert "retried once" in page
    spec = json.loads(cli(swarm.host, "service", "inspect", name))[0]["Spec"]
    assert spec["Mode"]["Replicated"]["Replicas"] == 2
    assert spec["Labels"].get("race0") == "1"  # the other update was kept, not overwritten
    cli(swarm.host, "service", "rm", name)


def test_two_concurrent_updates_are_explained_and_nothing_changes(swarm):
    name = _name("race2")
    swarm.service(name, "--replicas", "1")
    app = _app(swarm.host)
    c = app.test_client()
    _racing(app, swarm.host, 2)
    r = csrf_post(c, f"/services/{name}/scale", {"replicas": "4"})
    page = c.get(r.headers["Location"]).get_data(as_text=True)
    assert "Someone else updated this service at the same moment, twice in a row" in page
    spec = json.loads(cli(swarm.host, "service", "inspect", name))[0]["Spec"]
    assert spec["Mode"]["Replicated"]["Replicas"] == 1
    cli(swarm.host, "service", "rm", name)


def test_policy_refuses_a_spec_that_binds_the_engine_socket(swarm):
    name = _name("sock")
    swarm.service(name, "--replicas", "0", "--mount",
                  "type=bind,source=/var/run/docker.sock,target=/var/run/docker.sock")
    c = _app(swarm.host).test_client()
    r = csrf_post(c, f"/services/{name}/scale", {"replicas": "1"})
    page = c.get(r.headers["Location"]).get_data(as_text=True)
    assert "asks for host access" in page
    assert "TaskTemplate.ContainerSpec.Mounts[0].Source" in page
    spec = json.loads(cli(swarm.host, "service", "inspect", name))[0]["Spec"]
    assert spec["Mode"]["Replicated"]["Replicas"] == 0  # nothing was sent
    # an engine that allows host access sends it
    ok = _app(swarm.host, allow_host_access=True).test_client()
    r2 = csrf_post(ok, f"/services/{name}/scale", {"replicas": "0"})
    assert f"Scaling {name} to 0." in ok.get(r2.headers["Location"]).get_data(as_text=True)
    cli(swarm.host, "service", "rm", name)


def test_read_only_refuses_scale_and_hides_the_form(swarm, svc):
    c = _app(swarm.host, read_only=True).test_client()
    assert csrf_post(c, f"/services/{svc['web']}/scale", {"replicas": "5"}).status_code == 403
    assert csrf_post(c, f"/services/{svc['web']}/update").status_code == 403
    assert 'name="replicas"' not in c.get(f"/services/{svc['web']}").get_data(as_text=True)
    # revealing a secret-looking value changes nothing: allowed read-only too
    assert "hunter2" in csrf_post(c, f"/services/{svc['web']}/env/reveal").get_data(as_text=True)
    spec = json.loads(cli(swarm.host, "service", "inspect", svc["web"]))[0]["Spec"]
    assert spec["Mode"]["Replicated"]["Replicas"] == 2


def test_worker_and_non_swarm_engines_say_so(swarm, svc, second_engine):
    worker = swarm.workers[0].unix_host
    engines = f"mgr={swarm.host},wrk={worker},plain={second_engine.unix_host}"
    c = create_app(make_settings(engines=engines)).test_client()
    w = c.get("/engines/wrk/services").get_data(as_text=True)
    assert "This engine is a swarm worker" in w and "Managers it knows: " in w
    assert swarm.net + ".1:" in w
    p = c.get("/engines/plain/services").get_data(as_text=True)
    assert "This engine is not in a swarm" in p
    assert "This engine is a swarm worker" in c.get("/engines/wrk/nodes").get_data(as_text=True)
    assert c.get(f"/engines/wrk/services/{svc['web']}").status_code == 409
    # every manager's services, once; a plain note for the others
    allp = c.get("/services").get_data(as_text=True)
    rows = _rows(allp)
    assert svc["web"] in rows and svc["glob"] in rows
    assert re.search(r'data-engine="wrk"><td colspan="\d+"><span class="badge info">wrk</span>'
                     r' <span class="engine-message">This engine is a swarm worker', allp)
    assert 'data-engine="plain"' in allp
    # the engines page says each engine's part
    e = c.get("/engines").get_data(as_text=True)
    for name, kind in (("mgr", "manager"), ("wrk", "worker"), ("plain", "inactive")):
        assert re.search(rf'data-engine="{name}".*?data-swarm="{kind}"', e, re.S), name


def test_an_engine_leaving_its_swarm_while_a_page_is_open_recovers(second_engine, test_image):
    host = second_engine.unix_host
    net = f"127.{uuid.uuid4().int % 200 + 20}.{uuid.uuid4().int % 250 + 1}.1"
    import socket

    with socket.socket() as s:
        s.bind((net, 0))
        port = s.getsockname()[1]
    cli(host, "swarm", "init", "--advertise-addr", net, "--listen-addr", f"{net}:{port}",
        "--data-path-port", str(20000 + port % 20000))
    try:
        name = _name("leave")
        cli(host, "service", "create", "-d", "--quiet", "--name", name, "--label",
            f"{LABEL}={SESSION}", test_image, "sleep", "3600")
        c = _app(host).test_client()
        assert name in c.get("/services").get_data(as_text=True)
        assert c.get(f"/services/{name}/tasks").status_code == 200
        page = c.get(f"/services/{name}/logs?follow=1").get_data(as_text=True)
        poll = html.unescape(re.search(r'id="log-follow"[^>]*hx-get="([^"]+)"', page,
                                       re.S).group(1))
        cli(host, "swarm", "leave", "--force")
        lp = c.get(poll)
        lb = lp.get_data(as_text=True)
        assert lp.status_code == 200 and "cannot be read now" in lb and 'id="log-follow"' in lb
        # the open page's polls answer in place and go on
        t = c.get(f"/services/{name}/tasks")
        tb = t.get_data(as_text=True)
        assert t.status_code == 200 and "cannot be read now" in tb and "hx-trigger" in tb
        rows = c.get("/services/rows")
        rb = rows.get_data(as_text=True)
        assert rows.status_code == 200 and "This engine is not in a swarm" in rb
        assert "hx-trigger" in rb
        # and in a swarm again, the list is there again (a new swarm: no services)
        cli(host, "swarm", "init", "--advertise-addr", net, "--listen-addr", f"{net}:{port}",
            "--data-path-port", str(20000 + port % 20000))
        back = c.get("/services/rows").get_data(as_text=True)
        assert "The swarm has no services." in back
    finally:
        cli(host, "swarm", "leave", "--force", check=False)


def test_events_page_shows_service_and_node_events(swarm):
    name = _name("ev")
    swarm.service(name, "--replicas", "0")
    cli(swarm.host, "node", "update", "--label-add", f"periscope-ev={SESSION}",
        cli(swarm.host, "info", "--format", "{{.Swarm.NodeID}}").strip())
    c = _app(swarm.host).test_client()
    # the engine files a swarm's events a moment after the CLI returns: the
    # page is asked again until the create is in it (the engine's own word)
    s = wait_for(lambda: (lambda p: p if name in p else None)(
        c.get("/events?type=service").get_data(as_text=True)), timeout=20,
        what=f"the create of {name} among the events")
    assert re.search(r'data-type="service" data-action="create"', s) and name in s
    assert 'href="/services/' in s  # a service event links to its page
    n = c.get("/events?type=node").get_data(as_text=True)
    assert 'data-type="node" data-action="update"' in n
    cli(swarm.host, "service", "rm", name)


def test_periscope_does_not_scale_away_or_redeploy_its_own_task(swarm):
    from app import selfdetect

    name = _name("self")
    swarm.service(name, "--replicas", "1", "--constraint", "node.role==manager")
    swarm.converged(name, "1/1")
    task = json.loads(cli(swarm.host, "inspect", cli(swarm.host, "service", "ps", "-q", "--filter",
                                                      "desired-state=running", name).split()[0]))[0]
    own = task["Status"]["ContainerStatus"]["ContainerID"]
    app = _app(swarm.host)
    eng = app.extensions["periscope.engines"].default.engine
    # as if Periscope ran in that task's container (what whoami would find)
    selfdetect.remember(eng, selfdetect.Detection({"Id": own}, "test", [], "", True))
    try:
        c = app.test_client()
        down = csrf_post(c, f"/services/{name}/scale", {"replicas": "0"})
        assert down.status_code == 403 and "it will not stop its own" in down.get_data(as_text=True)
        assert csrf_post(c, f"/services/{name}/update").status_code == 403
        up = csrf_post(c, f"/services/{name}/scale", {"replicas": "2"})
        assert up.status_code == 303
        spec = json.loads(cli(swarm.host, "service", "inspect", name))[0]["Spec"]
        assert spec["Mode"]["Replicated"]["Replicas"] == 2 and not spec["TaskTemplate"].get(
            "ForceUpdate")
    finally:
        selfdetect.remember(eng, selfdetect.Detection(None, None, [], "", False))
        cli(swarm.host, "service", "rm", name)


def test_a_tty_services_log_is_read_raw_and_still_tagged(swarm):
    name = _name("tty")
    swarm.service(name, "--tty", "--replicas", "1",
                  cmd=["sh", "-c", "echo 'tty line one'; echo 'tty line two' >&2; sleep 3600"])
    swarm.converged(name, "1/1")
    c = _app(swarm.host).test_client()

    def lines():
        body = c.get(f"/services/{name}/logs?tail=all").get_data(as_text=True)
        got = [(lb, t) for lb, _, t in _log_lines(body)]
        return got if len(got) >= 2 else None

    got = wait_for(lines, 30, "both lines of the TTY service")
    assert [t for _, t in got] == ["tty line one", "tty line two"]
    assert all(lb.startswith(f"{name}.1@") for lb, _ in got)
    cli(swarm.host, "service", "rm", name)
