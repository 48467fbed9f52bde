"""The events page in real Chromium: it gains a row within two poll intervals
of starting a container, shows each event once, and looks right. Screenshots
of events and of whoami, outside a container and inside the deployed image."""

from __future__ import annotations

import os
import time
import uuid

import pytest
import requests

from conftest import LABEL, SESSION, free_port, screenshot, unique_name, wait_polls


def test_events_page_gains_a_row_within_two_polls(page, live_server, docker, run_container):
    tag = uuid.uuid4().hex[:8]
    poll_s = 1.0  # LiveServer runs with PERISCOPE_POLL_INTERVAL=1
    page.goto(f"{live_server.url}/events?label=evtest={tag}")
    assert page.title().startswith("Events")
    page.wait_for_selector("#events-poll", state="attached")
    page.evaluate("window.__marker = 7")
    assert page.locator("tr.ev").count() == 0
    assert page.is_visible("tr.empty-row")

    cid = run_container(name=unique_name("evlive"), labels={"evtest": tag})
    t0 = time.monotonic()
    page.wait_for_selector(f'tr.ev[data-actor="{cid}"][data-action="start"]',
                           timeout=int(2 * poll_s * 1000) + 500)
    print(f"\nrow shown {time.monotonic() - t0:.2f} s after docker run returned")
    assert not page.is_visible("tr.empty-row")

    docker("kill", cid)
    page.wait_for_selector(f'tr.ev[data-actor="{cid}"][data-action="die"]', timeout=2500)
    wait_polls(page, "/events/poll", 3)  # a few more polls: nothing doubles
    keys = page.eval_on_selector_all("tr.ev", "rs => rs.map(r => r.dataset.key)")
    assert len(keys) == len(set(keys)), keys
    actions = page.eval_on_selector_all("tr.ev", "rs => rs.map(r => r.dataset.action)")
    # newest first: die (and kill) above start above create
    assert actions.index("die") < actions.index("start") < actions.index("create"), actions
    assert page.evaluate("window.__marker") == 7  # never reloaded
    assert page.console_errors == []
    screenshot(page, "events-filtered")


def test_events_page_looks_right(page, live_server, docker, run_container):
    a = run_container("sleep 1; exit 2", name=unique_name("evlook"), labels={"app": "demo"})
    docker("wait", a)
    page.goto(f"{live_server.url}/events")
    page.wait_for_selector("tr.ev")
    screenshot(page, "events")
    page.goto(f"{live_server.url}/events?type=bogus&action=Bad!")
    page.wait_for_selector("#filter-problems")
    screenshot(page, "events-bad-filters")
    page.set_viewport_size({"width": 390, "height": 800})
    page.goto(f"{live_server.url}/events?type=container")
    page.wait_for_selector("tr.ev")
    screenshot(page, "events-phone")
    assert page.console_errors == []


def test_whoami_outside_a_container(page, live_server):
    page.goto(f"{live_server.url}/whoami")
    page.wait_for_selector("#whoami-verdict")
    assert page.get_attribute("#whoami-verdict", "data-method") == "none"
    screenshot(page, "whoami-outside")


@pytest.mark.slow
def test_whoami_inside_the_deployed_image(page, docker, docker_host, deploy_image):
    """Run the deployment image (built by tests/engine/test_deploy.py's fixture)
    and look at its /whoami as a person would."""
    from engine.test_deploy import _socket_path

    IMAGE_TAG = deploy_image
    sock = _socket_path(docker_host)
    port = free_port()
    cid = docker("run", "-d", "--label", f"{LABEL}={SESSION}", "--name", unique_name("pscope"),
                 "--network", "host", "--hostname", "periscope-box",
                 "-v", f"{sock}:/var/run/docker.sock", "--group-add", str(os.stat(sock).st_gid),
                 "-e", f"PERISCOPE_BIND=127.0.0.1:{port}", IMAGE_TAG).strip()
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                requests.get(url + "/healthz", timeout=2)
                break
            except (requests.ConnectionError, requests.Timeout):  # a loaded machine: slow, not down
                time.sleep(0.2)
        page.goto(url + "/whoami")
        page.wait_for_selector("#own-container")
        assert page.get_attribute("#whoami-verdict", "data-id") == cid
        assert page.is_visible("#socket-warning")
        screenshot(page, "whoami-inside")
        page.goto(url + f"/containers/{cid}")
        page.wait_for_selector("h1.container-name")
        screenshot(page, "whoami-own-detail")
        assert page.console_errors == []
    finally:
        docker("rm", "-f", "-v", cid, check=False)
