"""The container list in real Chromium: live updates without a reload."""

import os

from conftest import LABEL, SESSION, screenshot, unique_name, wait_polls


def test_list_is_live(page, live_server, docker, run_container):
    first = run_container(name=unique_name("first"))
    page.goto(f"{live_server.url}/containers?label={LABEL}={SESSION}")
    assert page.title().startswith("Containers")
    page.wait_for_selector(f'tr[data-id="{first}"]')
    page.evaluate("window.__marker = 42")  # survives only if the page is never reloaded
    screenshot(page, "list")

    # a container started after the page loaded appears within two poll intervals
    later = run_container(name=unique_name("later"))
    page.wait_for_selector(f'tr[data-id="{later}"]', timeout=2500)
    # one removed disappears
    docker("rm", "-f", first)
    page.wait_for_selector(f'tr[data-id="{first}"]', state="detached", timeout=2500)
    assert page.evaluate("window.__marker") == 42
    assert page.dialogs == []

    # the Engine calls panel opens and shows the curl line
    page.click("#engine-calls summary")
    assert page.is_visible("#engine-calls .calls-table")
    assert "curl" in page.inner_text("#engine-calls")
    screenshot(page, "list-calls-open")


def test_filter_box_keeps_focus_and_url(page, live_server, run_container):
    name = unique_name("focus")
    cid = run_container(name=name)
    other = run_container(name=unique_name("other"))
    page.goto(f"{live_server.url}/containers?all=1&label={LABEL}={SESSION}")
    page.click("#q")
    page.keyboard.type("focus")
    page.wait_for_function("() => location.search.includes('q=focus')", timeout=3000)
    page.wait_for_selector(f'tr[data-id="{other}"]', state="detached", timeout=3000)
    assert page.is_visible(f'tr[data-id="{cid}"]')
    wait_polls(page, "/containers/rows", 2)  # two polls later the filter still holds, focus too
    assert page.is_visible(f'tr[data-id="{cid}"]')
    assert not page.is_visible(f'tr[data-id="{other}"]')
    assert page.evaluate("document.activeElement.id") == "q"
    assert page.input_value("#q") == "focus"
    # the URL can be shared: opening it gives the same filtered list
    page2 = page.context.new_page()
    page2.goto(page.url)
    assert page2.is_visible(f'tr[data-id="{cid}"]')
    assert not page2.is_visible(f'tr[data-id="{other}"]')


def test_pages_look_right(page, live_server, run_container, docker):
    name = unique_name("look")
    cid = run_container(name=name, args=["-e", "MODE=demo", "--label", "app=demo"])
    page.goto(f"{live_server.url}/containers/{cid}")
    page.wait_for_selector("h1.container-name")
    assert name in page.inner_text("h1.container-name")
    assert "MODE" in page.inner_text("#env") and "demo" in page.inner_text("#env")
    assert "app" in page.inner_text("#labels")
    screenshot(page, "detail")
    page.goto(f"{live_server.url}/engine")
    assert page.inner_text("#api-in-use") == docker("version", "--format",
                                                     "{{.Server.APIVersion}}").strip()
    screenshot(page, "engine")
    page.set_viewport_size({"width": 390, "height": 800})
    page.goto(f"{live_server.url}/containers?all=1")
    page.wait_for_selector(f'tr[data-id="{cid}"]')
    # at phone width the page itself does not scroll sideways (the table may, in its box)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    screenshot(page, "list-phone")


def test_unreachable_page_recovers_by_itself(browser, start_server, docker_host, tmp_path):
    link = tmp_path / "engine.sock"
    srv = start_server({"DOCKER_HOST": f"unix://{link}"})
    ctx = browser.new_context()
    pg = ctx.new_page()
    resp = pg.goto(f"{srv.url}/containers")
    assert resp.status == 503
    assert "does not answer" in pg.inner_text("main")
    screenshot(pg, "unreachable")
    os.symlink(docker_host[len("unix://"):], link)
    pg.wait_for_selector("#rows", timeout=5000)  # reloaded by itself
    assert pg.title().startswith("Containers")
    ctx.close()


def test_engine_calls_panel_follows_what_the_user_did(page, live_server, run_container, test_image):
    name = unique_name("calls")
    cid = run_container(name=name)
    page.goto(f"{live_server.url}/containers?label={LABEL}={SESSION}")
    page.click("#engine-calls summary")
    assert "this page" in page.inner_text("#engine-calls-summary")
    # a filter change: the panel now shows that request's call, readable and open
    page.fill("#q", name)
    page.wait_for_function("() => document.querySelector('#engine-calls-summary')"
                           ".textContent.includes('the last request')", timeout=5000)
    assert page.evaluate("document.getElementById('engine-calls').open")
    text = page.inner_text("#engine-calls-body")
    assert f'"label":["{LABEL}={SESSION}"]' in text  # unquoted path
    assert "--data-urlencode" in text
    # polling does not replace it: two polls later it still shows the filter request
    wait_polls(page, "/containers/rows", 2)
    assert "the last request" in page.inner_text("#engine-calls-summary")
    # an action on a row: the panel shows the POST to the engine
    page.click(f'tr[data-id="{cid}"] button[formaction$="/stop"]')
    page.wait_for_function("() => document.querySelector('#engine-calls-body')"
                           f".textContent.includes('/containers/{cid}/stop')", timeout=20000)
    screenshot(page, "list-calls-after-action")


def test_calls_are_carried_over_a_redirect(page, live_server, test_image, docker):
    name = unique_name("carry")
    try:
        _carried_over_a_redirect(page, live_server, test_image, name)
    finally:  # made through the form: remove it here, not at the end of the session
        docker("rm", "-f", name, check=False)


def _carried_over_a_redirect(page, live_server, test_image, name):
    page.goto(f"{live_server.url}/containers/new")
    page.fill("textarea[name=manifest]", '{"Image": "%s", "Cmd": ["echo", "carried"], '
              '"Labels": {"%s": "%s"}}' % (test_image, LABEL, SESSION))
    page.fill("input[name=name]", name)
    page.click("#create-submit")
    page.wait_for_url("**/logs**")
    page.click("#engine-calls summary")
    body = page.inner_text("#engine-calls-body")
    assert "Before the redirect" in body
    assert "/containers/create" in body and "/start" in body
    # shown once: the next page has only its own calls
    page.reload()
    page.click("#engine-calls summary")
    assert "Before the redirect" not in page.inner_text("#engine-calls-body")
