"""The Disk page in real Chromium, and a prune from its confirm step to its
result, checked with the docker CLI."""

from resourcekit import resources, shots  # noqa: F401


def test_disk_and_prune_stopped_containers(page, live_server, docker, resources, run_container):
    resources.dangling()
    stopped = run_container("true", labels={"browser-prune": "1"})
    docker("wait", stopped)
    running = run_container(labels={"browser-prune": "1"})
    page.goto(f"{live_server.url}/disk")
    page.wait_for_selector("#summary")
    assert "ms" in page.inner_text("#df-ms")
    shots(page, "disk")
    page.click('tr[data-kind="containers"] a:has-text("Prune")')
    page.wait_for_selector("#confirm")
    page.fill("input[name=label]", "browser-prune=1")
    page.click("text=List again")
    page.wait_for_selector(f'tr[data-key="{stopped}"]')
    assert not page.is_visible(f'tr[data-key="{running}"]')
    shots(page, "disk-prune")
    page.click("#confirm-prune")
    page.wait_for_selector("#result")
    assert page.inner_text("#removed-count") == "1"
    assert page.is_visible(f'#removed li[data-key="{stopped}"]')
    assert docker("ps", "-aq", "--no-trunc", "--filter", "label=browser-prune=1").split() == [
        running]
    shots(page, "disk-pruned")
    assert page.console_errors == []
