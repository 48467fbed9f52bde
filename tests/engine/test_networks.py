"""The networks list and pages against the real engine, `docker network
inspect` (and each container's inspect, for aliases) as the witness; removing
and pruning change the engine as the confirm step listed; a network with
containers attached refuses plainly; hostile names and labels are escaped.
Subnets are from 198.18.0.0/15 (benchmarking, never routed); no traffic is
sent anywhere."""

from __future__ import annotations

import html
import json
import re
import uuid

from conftest import SESSION, csrf_post, unique_name
from resourcekit import MARK, resources, rows  # noqa: F401


def subnet() -> str:
    return f"198.18.{uuid.uuid4().int % 250}.0/24"


def inspect(docker, ref: str) -> dict:
    return json.loads(docker("network", "inspect", ref))[0]


def test_list_and_page_equal_docker_network_inspect(client, docker, resources, run_container):
    net = subnet()
    nid = resources.network(subnet=net, labels={"tier": "back"}, args=["--internal",
                                                                        "--attachable"])
    alias = f"db-{SESSION}"
    cid = run_container(args=["--network", nid, "--network-alias", alias])
    stopped = run_container(args=["--network", nid], start=False)
    want = inspect(docker, nid)
    page = client.get("/networks").get_data(as_text=True)
    got = rows(page)
    assert set(got) == {n["ID"] for n in map(json.loads, docker(
        "network", "ls", "--no-trunc", "--format", "{{json .}}").splitlines())}
    row = got[nid]
    assert want["IPAM"]["Config"][0]["Subnet"] == net and net in row
    assert "internal" in row and "attachable" in row and "tier" in row
    ep = want["Containers"][cid]
    assert ep["IPv4Address"] in row and f'href="/containers/{cid}"' in row
    assert "1 stopped container names it" in row
    # the network's page: every engine-side fact, each container with its aliases
    page = client.get(f"/networks/{nid}").get_data(as_text=True)
    assert want["Name"] in page and want["Driver"] in page and want["Scope"] in page
    attached = rows(page.split('id="containers"')[1])
    assert set(want["Containers"]) == {c for c in attached if c != stopped}
    assert ep["IPv4Address"] in attached[cid] and ep["MacAddress"] in attached[cid]
    aliases = docker.inspect(cid)["NetworkSettings"]["Networks"][want["Name"]]["Aliases"]
    assert alias in aliases
    assert set(re.findall(r"<code>([^<]+)</code>", attached[cid].split('class="aliases"')[1])) \
        == set(aliases)
    assert "not attached now" in attached[stopped]
    assert f'href="/networks/{nid}"' in client.get(f"/containers/{cid}").get_data(as_text=True)
    # the gateway the engine gives its containers, when the pool names none
    if not want["IPAM"]["Config"][0].get("Gateway"):
        gw = docker.inspect(cid)["NetworkSettings"]["Networks"][want["Name"]]["Gateway"]
        assert gw in page
    # by name too, and a missing one is a 404
    assert client.get(f"/networks/{want['Name']}").status_code == 200
    assert client.get(f"/networks/nothing-{SESSION}").status_code == 404


def test_remove_an_unused_network(client, docker, resources):
    nid = resources.network(subnet=subnet())
    step = client.get(f"/networks/{nid}/remove").get_data(as_text=True)
    assert f'data-delete="{nid}"' in step and "plan-refused" not in step
    r = csrf_post(client, f"/networks/{nid}/remove", {"confirmed": "1"})
    assert r.status_code == 303
    assert not resources.exists("network", nid)


def test_a_network_in_use_refuses_plainly(client, docker, resources, run_container):
    nid = resources.network(subnet=subnet())
    run_container(args=["--network", nid])
    step = client.get(f"/networks/{nid}/remove").get_data(as_text=True)
    assert 'id="plan-refused"' in step and "running container is attached" in step
    r = csrf_post(client, f"/networks/{nid}/remove", {"confirmed": "1"})
    assert r.status_code == 409
    page = html.unescape(r.get_data(as_text=True))
    assert 'data-kind="in-use"' in page and "has active endpoints" in page
    assert resources.exists("network", nid)
    # a predefined one offers no remove, and the engine refuses it anyway
    host = inspect(docker, "host")["Id"]
    assert "Remove…" not in client.get(f"/networks/{host}").get_data(as_text=True)
    r = csrf_post(client, f"/networks/{host}/remove", {"confirmed": "1"})
    assert r.status_code == 403 and resources.exists("network", "host")


def test_prune_unused_networks_as_the_step_listed(client, docker, resources, run_container):
    a = resources.network(subnet=subnet())
    b = resources.network(subnet=subnet())
    busy = resources.network(subnet=subnet())
    run_container(args=["--network", busy])
    names = {n: inspect(docker, n)["Name"] for n in (a, b, busy)}
    step = client.get(f"/disk/prune/networks?label={MARK}").get_data(as_text=True)
    listed = set(rows(step, "data-key"))
    assert listed == {names[a], names[b]}
    r = csrf_post(client, "/disk/prune/networks",
                  {"confirmed": "1", "label": MARK, "planned": sorted(listed)},
                  follow_redirects=True)
    assert r.status_code == 200
    left = set(docker("network", "ls", "-q", "--no-trunc", "--filter", f"label={MARK}").split())
    assert left == {busy}
    assert set(re.findall(r'<li data-key="([^"]+)">', r.get_data(as_text=True))) == listed


def test_hostile_names_and_labels_are_escaped(client, docker, resources):
    evil = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'
    nid = resources.network(unique_name("x") + evil, labels={"evil": evil}, subnet=subnet())
    for path in ("/networks", f"/networks/{nid}", f"/networks/{nid}/remove",
                 f"/disk/prune/networks?label={MARK}"):
        page = client.get(path).get_data(as_text=True)
        assert "<script>alert(1)" not in page and "<img src=x" not in page, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page, path


def test_read_only_and_csrf(client, resources):
    from conftest import create_app, make_settings

    nid = resources.network(subnet=subnet())
    ro = create_app(make_settings(read_only=True)).test_client()
    assert "Remove…" not in ro.get("/networks").get_data(as_text=True)
    assert ro.get(f"/networks/{nid}/remove").status_code == 403
    assert csrf_post(ro, f"/networks/{nid}/remove", {"confirmed": "1"}).status_code == 403
    assert csrf_post(ro, "/disk/prune/networks", {"confirmed": "1"}).status_code == 403
    client.get("/networks")
    assert client.post(f"/networks/{nid}/remove", data={"confirmed": "1"},
                       headers={"Origin": "http://localhost"}).status_code == 403
    assert csrf_post(client, f"/networks/{nid}/remove", {"confirmed": "1"},
                     headers={"Origin": "http://evil.example"}).status_code == 403
    assert resources.exists("network", nid)
