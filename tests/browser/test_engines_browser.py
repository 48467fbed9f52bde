"""Several engines in real Chromium: the combined list (live, an Engine column,
a notice row for an engine that is down), the switcher, the engines page;
screenshots light and dark, wide and at phone width."""

from __future__ import annotations

import subprocess

import pytest

from conftest import LABEL, SESSION, screenshot, unique_name, wait_polls


def on(host: str, *args: str) -> str:
    p = subprocess.run(["docker", "-H", host, *args], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    return p.stdout.strip()


@pytest.fixture
def two_engines(docker_host, second_engine, fault_engines, test_image, start_server, tmp_path):
    made = []
    for host, name in ((docker_host, "web"), (second_engine.unix_host, "worker")):
        made.append((host, on(host, "run", "-d", "--label", f"{LABEL}={SESSION}", "--name",
                              unique_name(name), test_image, "sleep", "600")))
    f = tmp_path / "engines.toml"
    f.write_text(f'[engines.laptop]\nurl = "{docker_host}"\n\n'
                 f'[engines.build]\nurl = "{second_engine.unix_host}"\nread_only = true\n\n'
                 f'[engines.prod]\nurl = "{fault_engines["missing"]}"\n')
    srv = start_server({"PERISCOPE_ENGINES_FILE": str(f), "PERISCOPE_ENGINE_BUDGET": "1"})
    yield srv, made
    for host, cid in made:
        subprocess.run(["docker", "-H", host, "rm", "-f", cid], capture_output=True)


def test_combined_list_switcher_and_engines_page(page, two_engines, test_image):
    srv, made = two_engines
    (laptop_host, on_laptop), (build_host, on_build) = made
    page.goto(f"{srv.url}/containers?label={LABEL}={SESSION}")
    page.wait_for_selector(f'tr[data-engine="laptop"][data-id="{on_laptop}"]')
    assert page.is_visible(f'tr[data-engine="build"][data-id="{on_build}"]')
    down = page.locator('tr.engine-trouble[data-engine="prod"]')
    assert "cannot be listed" in down.inner_text()
    # the read-only engine's row has no buttons; the other's has
    assert page.locator(f'tr[data-id="{on_build}"] button').count() == 0
    assert page.locator(f'tr[data-id="{on_laptop}"] button').count() >= 1
    # live: a container started on the second engine appears without a reload
    page.evaluate("window.__marker = 1")
    later = on(build_host, "run", "-d", "--label", f"{LABEL}={SESSION}", test_image, "sleep", "600")
    made.append((build_host, later))
    page.wait_for_selector(f'tr[data-engine="build"][data-id="{later}"]', timeout=8000)
    assert page.evaluate("window.__marker") == 1
    wait_polls(page, "/containers/rows", 1)
    screenshot(page, "engines-list")
    page.emulate_media(color_scheme="dark")
    screenshot(page, "engines-list-dark")
    page.emulate_media(color_scheme="light")

    # the switcher: to one engine, then back to all
    page.click(".switcher > summary")
    screenshot(page, "engines-switcher-open")
    page.click('.switcher a[data-engine="build"]')
    page.wait_for_url("**/engines/build/containers**")
    assert page.locator(f'tr[data-id="{on_laptop}"]').count() == 0
    assert page.is_visible(f'tr[data-id="{on_build}"]')
    assert page.inner_text(".engine-id .engine-name") == "build"
    assert "read-only" in page.inner_text(".engine-id")
    page.click(".switcher > summary")
    page.click('.switcher a:text("All engines")')
    page.wait_for_selector(f'tr[data-engine="laptop"][data-id="{on_laptop}"]')

    # the engines page
    page.goto(f"{srv.url}/engines")
    assert "answers" in page.inner_text('table.engines tr[data-engine="laptop"]')
    assert "unreachable" in page.inner_text('table.engines tr[data-engine="prod"]')
    screenshot(page, "engines-page")
    page.set_viewport_size({"width": 390, "height": 800})
    screenshot(page, "engines-page-phone")
    page.goto(f"{srv.url}/containers?label={LABEL}={SESSION}")
    page.wait_for_selector(f'tr[data-id="{on_laptop}"]')
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    screenshot(page, "engines-list-phone")
    page.emulate_media(color_scheme="dark")
    screenshot(page, "engines-list-phone-dark")
    assert page.console_errors == []
