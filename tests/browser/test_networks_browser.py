"""The networks pages in real Chromium: the list, a network's page with its
containers, their addresses and aliases."""

from conftest import SESSION
from resourcekit import MARK, resources, shots  # noqa: F401


def test_networks_list_and_page(page, live_server, resources, run_container):
    nid = resources.network(subnet="198.18.77.0/24", labels={"tier": "back"})
    cid = run_container(args=["--network", nid, "--network-alias", f"api-{SESSION}"])
    page.goto(f"{live_server.url}/networks?label={MARK}")
    page.wait_for_selector(f'tr[data-id="{nid}"]')
    assert "198.18.77.0/24" in page.inner_text(f'tr[data-id="{nid}"]')
    shots(page, "networks")
    page.click(f'tr[data-id="{nid}"] td.name a')
    page.wait_for_selector("#containers")
    assert f"api-{SESSION}" in page.inner_text(f'#containers tr[data-id="{cid}"]')
    shots(page, "network")
    assert page.console_errors == []
