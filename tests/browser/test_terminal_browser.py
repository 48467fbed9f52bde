"""The terminal page in real Chromium, under the page's strict CSP: keystrokes
and their output, a resize that `stty size` sees, an exit code and a start
again, a container stopped while open, a command that ends at once, what the
container prints kept as text, and no shell left once the page is gone."""

from __future__ import annotations

import time

from conftest import screenshot, unique_name
from termkit import processes, wait_gone

ROWS_TEXT = "() => document.querySelector('.xterm-rows').innerText"


def lines(page) -> list[str]:
    return [line.rstrip() for line in page.evaluate(ROWS_TEXT).split("\n")]


def wait_line(page, text: str, timeout: float = 10_000) -> None:
    page.wait_for_function(
        "t => document.querySelector('.xterm-rows').innerText.split('\\n')"
        ".some(l => l.trimEnd() === t)", arg=text, timeout=timeout)


def open_terminal(page, url: str) -> str:
    page.goto(url)
    page.wait_for_selector('#term-status[data-state="running"]', timeout=15_000)
    page.wait_for_function("() => /# $/.test(document.querySelector('.xterm-rows')"
                           ".innerText.trimEnd() + ' ')", timeout=10_000)  # the prompt
    return page.get_attribute("#term-status", "data-exec")


def type_line(page, text: str) -> None:
    page.locator(".xterm-helper-textarea").focus()
    page.keyboard.type(text)
    page.keyboard.press("Enter")


def test_type_resize_exit_and_start_again(page, live_server, run_container):
    cid = run_container("sleep 600", name=unique_name("term"))
    first = open_terminal(page, f"{live_server.url}/containers/{cid}/terminal")
    type_line(page, "echo $((6*7))")
    wait_line(page, "42")
    # what the container prints is text for the terminal, never markup for the page
    type_line(page, "printf '<img src=x onerror=alert(1)>\\n'")
    wait_line(page, "<img src=x onerror=alert(1)>")
    assert page.locator(".xterm img").count() == 0 and page.dialogs == []
    # the browser window's size reaches the TTY
    before = page.get_attribute("#terminal", "data-cols")
    page.set_viewport_size({"width": 900, "height": 700})
    page.wait_for_function("c => document.querySelector('#terminal').dataset.cols !== c",
                           arg=before, timeout=5_000)
    rows = page.get_attribute("#terminal", "data-rows")
    cols = page.get_attribute("#terminal", "data-cols")
    type_line(page, "stty size")
    wait_line(page, f"{rows} {cols}")
    page.set_viewport_size({"width": 1280, "height": 900})
    type_line(page, "exit 3")
    page.wait_for_selector('#term-status[data-code="3"]', timeout=10_000)
    assert "exit code 3" in page.inner_text("#term-status")
    assert page.get_attribute("#term-status", "data-state") == "exited"
    screenshot(page, "terminal-exit-code")
    page.click("#term-start")  # start again: a new exec
    page.wait_for_selector('#term-status[data-state="running"]', timeout=15_000)
    assert page.get_attribute("#term-status", "data-exec") != first
    assert page.console_errors == []  # no CSP violation from xterm's styles among them


def test_screenshots_light_dark_wide_narrow(page, live_server, run_container):
    cid = run_container("sleep 600", name=unique_name("term-shot"))
    for scheme in ("light", "dark"):
        for width in (1280, 390):
            page.emulate_media(color_scheme=scheme)
            page.set_viewport_size({"width": width, "height": 900})
            open_terminal(page, f"{live_server.url}/containers/{cid}/terminal")
            type_line(page, "printf '\\033[31mred\\033[0m \\033[38;2;90;200;120mtruecolor\\033[0m\\n'; ls /")
            wait_line(page, "red truecolor")
            colours = page.evaluate("""() => [...document.querySelectorAll('.xterm-rows span')]
                .filter(s => ['red', 'truecolor'].includes(s.textContent))
                .map(s => getComputedStyle(s).color)""")
            assert "rgb(90, 200, 120)" in colours and len(set(colours)) == 2, colours
            screenshot(page, f"terminal-{scheme}-{width}")
    assert page.console_errors == []


def test_docker_stop_while_open_says_so(page, live_server, run_container, docker):
    cid = run_container("trap 'exit 0' TERM; while :; do sleep 1; done")
    open_terminal(page, f"{live_server.url}/containers/{cid}/terminal")
    docker("stop", "-t", "2", cid)
    page.wait_for_selector('#term-status[data-state="stopped"]', timeout=10_000)
    assert "container stopped" in page.inner_text("#term-status")
    assert page.inner_text("#term-state") == "exited" and page.is_disabled("#term-start")
    assert page.is_visible("#term-gone")  # where to start it again
    screenshot(page, "terminal-container-stopped")


def test_a_command_that_ends_at_once_shows_its_output(page, live_server, run_container):
    cid = run_container("sleep 600")
    open_terminal(page, f"{live_server.url}/containers/{cid}/terminal")
    page.fill('input[name="argv"]', "echo hi")
    assert page.is_checked('input[value="custom"]')
    page.click("#term-start")
    page.wait_for_selector('#term-status[data-state="ok"]', timeout=10_000)
    wait_line(page, "hi")
    assert "exit code 0" in page.inner_text("#term-status")


def test_a_missing_shell_says_so(page, live_server, run_container):
    cid = run_container("sleep 600")
    open_terminal(page, f"{live_server.url}/containers/{cid}/terminal")
    page.check('input[value="bash"]')
    page.click("#term-start")
    page.wait_for_selector('#term-status[data-state="missing"]', timeout=10_000)
    assert "/bin/bash could not be started" in page.inner_text("#term-status")
    screenshot(page, "terminal-missing-shell")


def test_closing_the_page_leaves_no_shell(page, live_server, run_container, docker):
    cid = run_container("sleep 600")
    open_terminal(page, f"{live_server.url}/containers/{cid}/terminal")
    type_line(page, "sleep 3456")
    deadline = time.monotonic() + 30
    while not any("sleep 3456" in p for p in processes(docker, cid)):
        assert time.monotonic() < deadline, processes(docker, cid)
        time.sleep(0.1)
    page.close()
    left = wait_gone(docker, cid, "sleep 3456", timeout=40, shell=True)
    assert not any("sleep 3456" in p or p.strip() == "/bin/sh" for p in left), left


def test_links_from_the_list_and_the_container_page(page, live_server, run_container):
    name = unique_name("term-link")
    cid = run_container("sleep 600", name=name)
    page.goto(f"{live_server.url}/containers?q={name}")
    page.click(f'tr[data-id="{cid}"] a.row-term')
    page.wait_for_selector('#term-status[data-state="running"]', timeout=15_000)
    page.click("text=Details")
    page.click(".head-links >> text=Terminal")
    page.wait_for_selector('#term-status[data-state="running"]', timeout=15_000)


def test_read_only_says_why(page, start_server, run_container):
    srv = start_server({"PERISCOPE_READ_ONLY": "1"})
    cid = run_container("sleep 600")
    page.goto(f"{srv.url}/containers/{cid}/terminal")
    assert "Terminals are off" in page.inner_text(".terminal-off")
    assert page.locator("#term-form, .xterm").count() == 0
    screenshot(page, "terminal-read-only")
