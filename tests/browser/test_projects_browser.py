"""Compose projects in real Chromium: the projects page, a project's page, the
container list by project (a group opened stays open across polls), and
picking containers in the list for their merged logs."""

from __future__ import annotations

from conftest import screenshot, wait_polls

LOOP = "trap 'exit 0' TERM; i=0; while :; do i=$((i+1)); echo \"$HOSTNAME tick $i\"; sleep 0.5 & wait; done"


def shots(page, name: str) -> None:
    """Light and dark, wide and phone-sized; nothing wider than the screen."""
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        for scheme in ("light", "dark"):
            page.emulate_media(color_scheme=scheme)
            page.wait_for_timeout(50)
            overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 1, f"{name} {width}px {scheme}: {overflow}px wider than the screen"
            screenshot(page, f"{name}-{scheme}-{width}")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.emulate_media(color_scheme="light")


def test_projects_page_and_a_project(page, live_server, compose):
    p = compose({"web": {"command": ["sh", "-c", LOOP], "scale": 2},
                 "db": {"command": ["sh", "-c", LOOP]},
                 "worker": {"command": ["sh", "-c", "echo done; exit 3"]}})
    page.goto(f"{live_server.url}/projects")
    row = page.locator(f'tr.project[data-project="{p.name}"]')
    row.wait_for()
    # the worker exits a moment after it starts: 3 of 4 running, at load or at
    # the live list's next poll
    row.locator("td.running", has_text="3/4").wait_for(timeout=10000)
    wait_polls(page, "/projects/_poll", 1)
    assert page.locator(f'tr.project[data-project="{p.name}"]').count() == 1
    shots(page, "projects-list")
    page.locator(f'tr.project[data-project="{p.name}"] td.name a').click()
    page.wait_for_selector("#project-body")
    states = page.eval_on_selector_all(
        "tr.member", "els => els.map(e => [e.dataset.name, e.dataset.state])")
    assert dict(states) == {f"{p.name}_db_1": "running", f"{p.name}_web_1": "running",
                            f"{p.name}_web_2": "running", f"{p.name}_worker_1": "exited"}
    assert "Exited (3)" in page.locator(f'tr.member[data-name="{p.name}_worker_1"]').inner_text()
    # live: a container stopped by the CLI shows so without a reload
    p("stop", "-t", "1", "db")
    page.wait_for_selector(f'tr.member[data-name="{p.name}_db_1"][data-state="exited"]',
                           timeout=15_000)
    assert "2/4 running" in page.locator("#project-summary").inner_text()
    shots(page, "project-detail")
    # Start all: the page says what happened to each container
    page.locator("form.act-start button").click()
    page.wait_for_selector("#project-results")
    assert f"Started {p.name}_db_1." in page.locator("#project-results").inner_text()
    assert page.console_errors == [] and page.dialogs == []


def test_list_by_project_keeps_a_group_open_and_picks_for_merged_logs(page, live_server, compose,
                                                                       run_container):
    p = compose({"web": {"command": ["sh", "-c", LOOP], "scale": 2},
                 "db": {"command": ["sh", "-c", LOOP]}})
    run_container(LOOP)
    page.goto(f"{live_server.url}/containers")
    page.locator("#filters input[name=view]").check()
    group = page.locator(f'details.project-group[data-keep="/{p.name}"]')
    group.wait_for()
    assert group.get_attribute("open") is None
    group.locator("summary .pg-name").click()
    assert group.get_attribute("open") == ""
    wait_polls(page, "/containers/rows", 2)
    group = page.locator(f'details.project-group[data-keep="/{p.name}"]')
    assert group.get_attribute("open") == "", "the poll closed the group"
    assert page.url.endswith("view=project")
    shots(page, "containers-by-project")
    # tick two containers, across a poll, then their merged logs
    for n in ("web_1", "db_1"):
        page.locator(f'tr[data-name="{p.name}_{n}"] input.pick').check()
    wait_polls(page, "/containers/rows", 1)
    assert page.locator("input.pick:checked").count() == 2, "the poll lost the ticks"
    page.locator("#pick-logs button").click()
    page.wait_for_selector("#merge-legend")
    legend = page.eval_on_selector_all("#merge-legend .lsrc", "els => els.map(e => e.textContent)")
    assert sorted(legend) == ["db_1", "web_1"]
    page.wait_for_function("() => document.querySelectorAll('#log-lines .ll').length > 0")
    assert page.console_errors == []
