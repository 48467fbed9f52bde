"""The volumes pages in real Chromium: sizes shown once the Disk page has
measured them, removing through the confirm step, a refusal said plainly."""

from conftest import screenshot
from resourcekit import MARK, resources, shots  # noqa: F401


def test_volumes_sizes_and_remove(page, live_server, docker, resources, run_container, tmp_path):
    used = resources.volume(labels={"app": "db"})
    idle = resources.volume()
    resources.volume(opts={"type": "none", "o": "bind", "device": str(tmp_path)})
    run_container("head -c 4096 /dev/zero > /data/f; sleep 300", args=["-v", f"{used}:/data"])
    page.goto(f"{live_server.url}/volumes?label={MARK}")
    page.wait_for_selector(f'tr[data-name="{used}"]')
    page.click("text=Measure sizes (Disk)")
    page.wait_for_selector("#summary")
    page.go_back()
    page.wait_for_selector(f'tr[data-name="{used}"] .size[data-bytes="4096"]', timeout=5000)
    shots(page, "volumes")
    # in use: the step says the engine will refuse, and the engine does
    page.goto(f"{live_server.url}/volumes/{used}/remove")
    assert page.is_visible("#plan-refused")
    page.click("#confirm-remove")
    page.wait_for_selector("#refusal")
    assert "volume is in use" in page.inner_text("#refusal")
    screenshot(page, "volume-refused")
    # unused: gone
    page.goto(f"{live_server.url}/volumes/{idle}")
    page.click("#remove-volume")
    page.click("#confirm-remove")
    page.wait_for_url("**/volumes")
    assert f"Removed volume {idle}" in page.inner_text("#flash")
    assert docker.raw("volume", "inspect", idle).returncode != 0
    # the one error the console saw: the engine's refusal (409), shown on the page
    assert [e for e in page.console_errors if "409" not in e] == []
