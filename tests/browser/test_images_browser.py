"""The images pages in real Chromium: a live list, filters in the address
bar, an image's page with its secrets revealed on request, untagging through
the confirm step; screenshots light, dark and at phone width."""

from conftest import wait_polls
from resourcekit import MARK, resources, shots  # noqa: F401


def test_the_list_is_live_and_filters_in_the_url(page, live_server, resources):
    first = resources.image(labels={"app": "web"})
    resources.tag(first, resources.repo("alias") + ":v2")
    dangling = resources.dangling()
    page.goto(f"{live_server.url}/images?label={MARK}")
    page.wait_for_selector(f'tr[data-id="{first}"]')
    assert page.is_visible(f'tr[data-id="{dangling}"].dangling')
    page.evaluate("window.__marker = 1")
    later = resources.image()
    page.wait_for_selector(f'tr[data-id="{later}"]', timeout=5000)  # the poll brought it
    shots(page, "images")
    page.goto(f"{live_server.url}/images?label={MARK}")
    page.evaluate("window.__marker = 1")
    page.select_option("select[name=dangling]", "true")
    page.wait_for_function("() => location.search.includes('dangling=true')", timeout=5000)
    page.wait_for_selector(f'tr[data-id="{first}"]', state="detached", timeout=5000)
    assert page.is_visible(f'tr[data-id="{dangling}"]')
    wait_polls(page, "/images/rows", 2)  # the filter holds over polls
    assert not page.is_visible(f'tr[data-id="{first}"]')
    assert page.evaluate("window.__marker") == 1  # never reloaded
    assert page.console_errors == []


def test_the_image_page_and_untag(page, live_server, docker, resources):
    iid = resources.image(changes=["ENV DB_PASSWORD=hunter2-secret", "ENV MODE=demo",
                                   "EXPOSE 80/tcp", 'CMD ["/serve"]'], labels={"team": "blue"})
    one = resources.tag(iid, resources.repo("one") + ":v1")
    two = resources.tag(iid, resources.repo("two") + ":v1")
    page.goto(f"{live_server.url}/images/{one}")
    assert "hunter2-secret" not in page.content()
    page.click("#env form.reveal button")
    page.wait_for_selector("#env-body code:has-text('hunter2-secret')", timeout=5000)
    shots(page, "image")
    page.goto(f"{live_server.url}/images/{iid}")
    page.click(f'li[data-tag="{one}"] a:has-text("Untag")')
    page.wait_for_selector("#confirm")
    assert page.is_visible(f'li[data-untag="{one}"]') and two in page.inner_text("#plan-stays")
    shots(page, "image-untag")
    page.click("#confirm-remove")
    page.wait_for_url("**/images")
    assert f"untagged {one}" in page.inner_text("#flash")
    assert docker.raw("image", "inspect", one).returncode != 0
    assert docker.raw("image", "inspect", two).returncode == 0
    assert page.console_errors == []
