"""Swarm pages in real Chromium, against the two-node test swarm: the service
list (live), a service's page (scale from the form, the tasks table follows
live), the nodes page, a service's log following; screenshots light and dark,
wide and at phone width."""

from __future__ import annotations

import uuid

import pytest

from conftest import screenshot
from swarmkit import cli

WIDE, PHONE = {"width": 1280, "height": 900}, {"width": 390, "height": 844}


@pytest.fixture
def swarm_server(swarm, start_server):
    name = f"shop_web-{uuid.uuid4().hex[:5]}"
    swarm.service(name, "--replicas", "2", "--label", "com.docker.stack.namespace=shop",
                  "--env", "SLOT={{.Task.Slot}}", "--env", "DB_PASSWORD=hunter2",
                  cmd=["sh", "-c", 'i=0; while true; do i=$((i+1)); echo "request $i served by '
                                   'slot $SLOT"; sleep 0.5; done'])
    other = f"cache-{uuid.uuid4().hex[:5]}"
    swarm.service(other, "--mode", "global")
    swarm.converged(name, "2/2")
    srv = start_server({"DOCKER_HOST": swarm.host})
    yield srv, name, other
    cli(swarm.host, "service", "rm", name, other, check=False)


def shots(page, name: str) -> None:
    for size, tag in ((WIDE, ""), (PHONE, "-phone")):
        page.set_viewport_size(size)
        for scheme in ("light", "dark"):
            page.emulate_media(color_scheme=scheme)
            screenshot(page, f"{name}{tag}{'-dark' if scheme == 'dark' else ''}")
    page.emulate_media(color_scheme="light")
    page.set_viewport_size(WIDE)


def test_services_service_page_scale_and_nodes(page, swarm, swarm_server):
    srv, name, other = swarm_server
    page.goto(f"{srv.url}/services")
    row = page.locator(f'tr.service[data-name="{name}"]')
    row.wait_for()
    assert "2/2" in row.locator("td.replicas").inner_text()
    assert page.locator(f'tr.service[data-name="{other}"] td.mode').inner_text() == "global"
    # live: a service made elsewhere appears without a reload
    page.evaluate("window.__marker = 1")
    late = f"late-{uuid.uuid4().hex[:5]}"
    swarm.service(late, "--replicas", "0")
    page.wait_for_selector(f'tr.service[data-name="{late}"]', timeout=10_000)
    assert page.evaluate("window.__marker") == 1
    shots(page, "swarm-services")

    # the service page: spec, masked env, tasks; scale to 3 from its form
    page.click(f'tr.service[data-name="{name}"] td.name a')
    page.wait_for_selector("#tasks-table")
    assert "hunter2" not in page.content()
    assert page.locator("#tasks-table tr.task:not(.history)").count() == 2
    page.fill('input[name="replicas"]', "3")
    page.click('form.scale button[type="submit"]')
    page.wait_for_selector(f"text=Scaling {name} to 3.")
    page.wait_for_function("() => document.querySelector('#replicas-text')?.textContent"
                           ".trim() === '3/3 running'", timeout=30_000)
    assert page.locator("#tasks-table tr.task[data-desired='running']").count() == 3
    shots(page, "swarm-service")

    # its log: each line tagged with its task, following
    page.click("a.button:has-text('Logs')")
    page.wait_for_selector("#log-lines .ll .lsrc")
    assert page.locator("#log-lines .lsrc", has_text=f"{name}.1@").count() >= 1
    page.check('input[name="follow"]')
    page.wait_for_selector("#log-follow.live")
    n = page.locator("#log-lines .ll").count()
    page.wait_for_function("(n) => document.querySelectorAll('#log-lines .ll').length > n",
                           arg=n, timeout=15_000)
    shots(page, "swarm-service-logs")

    page.goto(f"{srv.url}/nodes")
    page.wait_for_selector("#nodes tr.node")
    assert page.locator("#nodes tr.node").count() == 2
    assert page.locator("#nodes tr.node[data-role='manager']", has_text="leader").count() == 1
    shots(page, "swarm-nodes")
    page.goto(f"{srv.url}/stacks")
    page.wait_for_selector('section.stack[data-stack="shop"]')
    shots(page, "swarm-stacks")
    assert not page.console_errors, page.console_errors
