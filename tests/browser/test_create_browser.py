"""The create form, pull progress and action buttons in real Chromium."""

from __future__ import annotations

import json
import re

import pytest

from conftest import IMAGE, LABEL, SESSION, screenshot, unique_name
from registrykit import Registry


def manifest_text(**fields) -> str:
    m = {"Image": IMAGE, "Cmd": ["echo", "hello from Periscope"], "Labels": {LABEL: SESSION}}
    m.update(fields)
    return json.dumps(m, indent=2)


def test_fill_submit_and_land_on_the_logs(page, live_server, docker, test_image):
    page.goto(f"{live_server.url}/containers/new")
    page.wait_for_selector("#manifest")
    assert "hello from Periscope" in page.input_value("#manifest")
    screenshot(page, "create-form")
    name = unique_name("browser")
    page.fill("#manifest", manifest_text())
    page.fill("input[name=name]", name)
    # the equivalent commands follow the text as it is typed
    page.wait_for_function(
        "n => document.querySelector('#preview').textContent.includes('--name ' + n)", arg=name,
        timeout=5000)
    assert IMAGE in page.inner_text("#preview")
    page.click("#create-submit")
    page.wait_for_url(re.compile(r"/containers/[0-9a-f]{64}/logs\?follow=1"), timeout=10000)
    try:
        page.wait_for_selector("text=hello from Periscope", timeout=8000)
        assert "Created and started" in page.inner_text("#flash")
        screenshot(page, "create-landed-on-logs")
        assert page.console_errors == []
    finally:
        docker("rm", "-f", name, check=False)


def test_malformed_manifest_keeps_its_text_and_shows_where(page, live_server):
    page.goto(f"{live_server.url}/containers/new")
    broken = '{\n  "Image": "busybox",\n  "Cmd": ["echo", "hi"\n  "Env": ["A=1"]\n}'
    page.fill("#manifest", broken)
    page.click("#create-submit")
    page.wait_for_selector("#problems")
    assert page.input_value("#manifest") == broken
    text = page.inner_text("#problems")
    assert "line 4, column 3" in text and '"Env": ["A=1"]' in text and "^" in text
    assert page.get_attribute("#manifest", "aria-invalid") == "true"
    screenshot(page, "create-error")
    # a type error names the field and its line
    page.fill("#manifest", '{\n  "Image": "busybox",\n  "Env": {"A": "1"}\n}')
    page.click("#create-submit")
    page.wait_for_selector("#problems")
    assert "Env · line 3" in page.inner_text("#problems")


def test_refusals_and_start_failure(page, live_server, docker, test_image):
    page.goto(f"{live_server.url}/containers/new")
    page.fill("#manifest", manifest_text(Image=f"periscope-test:missing-{SESSION}"))
    page.click("#create-submit")
    page.wait_for_selector("#refusal[data-kind=no-image]")
    assert page.is_visible("#pull-offer")
    screenshot(page, "create-refusal-no-image")

    page.fill("#manifest", manifest_text(HostConfig={"Privileged": True, "Binds": ["/:/host"]}))
    page.click("#create-submit")
    page.wait_for_selector("#violations")
    assert "HostConfig.Privileged" in page.inner_text("#violations")
    screenshot(page, "create-refusal-policy")

    name = unique_name("nostart")
    text = manifest_text(Cmd=["/no/such/command"])
    page.fill("#manifest", text)
    page.fill("input[name=name]", name)
    page.click("#create-submit")
    try:
        page.wait_for_selector("#start-failure")
        assert "no such file or directory" in page.inner_text("#start-failure").lower()
        assert docker.inspect(name)["State"]["Status"] == "created"
        screenshot(page, "create-start-failure")
        page.click("#discard")
        page.wait_for_selector("#discarded")
        assert page.input_value("#manifest") == text
        assert docker.raw("inspect", name).returncode != 0
    finally:
        docker("rm", "-f", name, check=False)


def test_action_buttons(page, live_server, docker, run_container):
    name = unique_name("acts")
    cid = run_container(name=name)
    page.goto(f"{live_server.url}/containers?all=1&label={LABEL}={SESSION}")
    row = f'tr[data-id="{cid}"]'
    page.wait_for_selector(f"{row} .actions")
    screenshot(page, "actions-rows")
    page.click(f'{row} button[formaction$="/stop"]')
    page.wait_for_selector(f"{row} .s-exited", timeout=15000)
    assert f"Stopped {name}." in page.inner_text("#flash")
    assert docker.inspect(cid)["State"]["Running"] is False
    page.click(f'{row} button[formaction$="/start"]')
    page.wait_for_selector(f"{row} .s-running", timeout=10000)
    assert docker.inspect(cid)["State"]["Running"] is True

    page.goto(f"{live_server.url}/containers/{cid}")
    page.wait_for_selector(".actions")
    screenshot(page, "actions-detail")
    page.click('button[data-action="pause"]')
    page.wait_for_selector(".subtitle .s-paused", timeout=10000)
    assert "Paused" in page.inner_text("#flash")
    assert docker.inspect(cid)["State"]["Paused"] is True
    page.click('button[data-action="unpause"]')
    page.wait_for_selector(".subtitle .s-running", timeout=10000)
    # remove asks first; the test's dialog handler says no, so nothing happens
    page.click("details.remove summary")
    screenshot(page, "actions-remove-open")
    page.click("#remove-confirm")
    page.wait_for_timeout(500)
    assert page.dialogs and "cannot be undone" in page.dialogs[-1]
    assert docker.inspect(cid)["State"]["Running"] is True
    assert page.console_errors == []


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    reg = Registry(tmp_path_factory.mktemp("registry"))
    yield reg
    reg.stop()


def test_pull_progress_in_the_browser(page, live_server, docker, registry, test_image):
    ref = registry.push_fresh(docker, 40 * 1024 * 1024)
    try:
        page.goto(f"{live_server.url}/containers/new")
        text = manifest_text(Image=ref, Cmd=["/hello.txt"])
        page.fill("#manifest", text)
        page.uncheck("input[name=start]")
        page.click("#create-submit")
        page.wait_for_selector("#pull-offer")
        page.click("#pull-offer")
        page.wait_for_url(re.compile(r"/images/pull/"))
        try:
            page.wait_for_selector("#pull[data-state=running] tr[data-layer]", timeout=5000)
            screenshot(page, "pull-progress")
        except Exception:  # noqa: BLE001 - a fast pull may be done before the first poll
            pass
        page.wait_for_selector("#pull[data-state=done]", timeout=60000)
        screenshot(page, "pull-done")
        page.click("#back-to-form")
        page.wait_for_selector("#pulled")
        assert page.input_value("#manifest") == text
        assert not page.is_checked("input[name=start]")
        page.click("#create-submit")
        page.wait_for_url(re.compile(r"/containers/[0-9a-f]{64}"))
        cid = re.search(r"/containers/([0-9a-f]{64})", page.url).group(1)
        docker("rm", "-f", cid, check=False)
    finally:
        docker("rmi", "-f", ref, check=False)
