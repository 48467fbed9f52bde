"""The logs page in real Chromium: follow, stream filter, search, hostile lines."""

from __future__ import annotations

import time

from conftest import screenshot, unique_name

HOSTILE_LINES = ("echo '<img src=x onerror=alert(1)>'; echo '<script>alert(2)</script>' >&2; "
                 "printf '\\033[31mred alert\\033[0m and \\033[1;34mbold blue\\033[0m\\n'; "
                 "echo \"<svg onload=alert(3)>\"; ")


def texts(page) -> list[str]:
    return page.eval_on_selector_all("#log-lines .ll .ltx", "els => els.map(e => e.textContent)")


def wait_logged(docker, cid: str, text: bytes, timeout: float = 15) -> None:
    """Until the engine's log holds text (a page loaded before would be empty)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = docker.raw("logs", cid)
        if text in out.stdout or text in out.stderr:
            return
        time.sleep(0.1)
    raise AssertionError(f"{text!r} never reached the log")


def emit(docker, cid: str, text: str, stream: int = 1) -> None:
    docker("exec", cid, "sh", "-c", f"echo '{text}' > /proc/1/fd/{stream}")


def test_follow_appends_new_lines_within_two_polls_none_doubled(page, live_server, docker,
                                                                 run_container):
    cid = run_container(HOSTILE_LINES + "i=0; while true; do i=$((i+1)); echo \"tick $i\"; "
                        "[ $((i % 3)) = 0 ] && echo \"warn $i\" >&2; sleep 0.25; done")
    page.goto(f"{live_server.url}/containers/{cid}/logs?follow=1")
    page.wait_for_selector("#log-follow.live")
    for n in range(3):
        marker = f"marker-{n}-{time.time_ns()}"
        emit(docker, cid, marker)
        t0 = time.monotonic()
        page.wait_for_function("m => [...document.querySelectorAll('#log-lines .ltx')]"
                               ".some(e => e.textContent === m)", arg=marker, timeout=4000)
        assert time.monotonic() - t0 < 2.5, "a new line took more than two poll intervals"
    page.wait_for_timeout(1500)
    shown = texts(page)
    ticks = [t for t in shown if t.startswith("tick ")]
    assert len(ticks) >= 8
    assert len(shown) == len(set(shown)), "a line was shown twice"
    # no gap: the ticks shown are consecutive
    nums = [int(t.split()[1]) for t in ticks]
    assert nums == list(range(nums[0], nums[0] + len(nums)))
    # hostile lines ran nothing, made no element
    assert page.dialogs == []
    assert page.locator("#log-lines img, #log-lines script, #log-lines svg").count() == 0
    assert "<img src=x onerror=alert(1)>" in shown
    assert page.console_errors == []
    screenshot(page, "logs-follow")


def test_hostile_lines_appended_by_follow_run_nothing(page, live_server, docker, run_container):
    cid = run_container("sleep 300")
    page.goto(f"{live_server.url}/containers/{cid}/logs?follow=1")
    page.wait_for_selector("#log-follow.live")
    emit(docker, cid, "<img src=x onerror=alert(1)>")
    emit(docker, cid, "<script>alert(2)</script>", 2)
    emit(docker, cid, "<iframe src=javascript:alert(4)></iframe> done")
    page.wait_for_function("() => document.querySelector('#log-lines').textContent.includes('done')",
                           timeout=5000)
    page.wait_for_timeout(500)
    assert page.dialogs == []
    assert page.locator("#log-lines img, #log-lines script, #log-lines iframe").count() == 0
    assert texts(page)[:2] == ["<img src=x onerror=alert(1)>", "<script>alert(2)</script>"]


def test_stream_filter_and_search(page, live_server, docker, run_container):
    cid = run_container(HOSTILE_LINES + "for i in $(seq 1 40); do echo \"GET /item/$i 200\"; "
                        "[ $((i % 8)) = 0 ] && echo \"ERROR item $i failed\" >&2; done; "
                        "head -c 3000 /dev/zero | tr '\\0' w; echo; sleep 300")
    wait_logged(docker, cid, b"www\n")
    page.goto(f"{live_server.url}/containers/{cid}/logs")
    page.wait_for_selector("#log-lines .ll")
    screenshot(page, "logs-normal")
    assert page.locator("#log-lines .ll.err").count() == 6
    # the long line wraps inside the page: nothing wider than the window
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    # stream filter: stderr only (the form applies itself on change)
    page.select_option("select[name=streams]", "stderr")
    page.wait_for_url("**streams=stderr**")
    page.wait_for_selector("#log-lines .ll")
    assert page.locator("#log-lines .ll.out").count() == 0
    assert page.locator("#log-lines .ll.err").count() == 6
    page.select_option("select[name=streams]", "both")
    page.wait_for_url("**streams=both**")
    # search: substring, case-insensitive, highlighted, counted
    page.fill("#log-q", "error ITEM")
    page.press("#log-q", "Enter")
    page.wait_for_url("**q=error+ITEM**")
    assert page.locator("#log-lines .ll").count() == 5
    assert page.locator("#log-lines mark").count() == 5
    assert page.inner_text("#log-count") == "5 matching lines"
    screenshot(page, "logs-search")
    # regex, and an invalid one is a message
    page.fill("#log-q", r"item/\d*5 ")
    page.check("input[name=regex]")
    page.wait_for_url("**regex=1**")
    assert sorted(texts(page)) == ["GET /item/15 200", "GET /item/25 200", "GET /item/35 200",
                                   "GET /item/5 200"]
    page.fill("#log-q", "(item")
    page.press("#log-q", "Enter")
    page.wait_for_selector(".notice.bad")
    assert "not a valid regular expression" in page.inner_text("#log-notices")
    assert page.dialogs == [] and page.console_errors == []


def test_tty_page(page, live_server, docker, run_container):
    cid = run_container("printf '\\033[32mgreen\\033[0m from a tty\\n'; echo to-stderr >&2; "
                        "sleep 300", tty=True, name=unique_name("tty"))
    wait_logged(docker, cid, b"to-stderr")
    page.goto(f"{live_server.url}/containers/{cid}/logs")
    page.wait_for_selector("#log-lines .ll")
    assert "merges stdout and stderr" in page.inner_text("#log-notices")
    assert page.is_disabled("select[name=streams]")
    assert texts(page) == ["green from a tty", "to-stderr"]
    assert page.locator("#log-lines .af2").count() == 1
    screenshot(page, "logs-tty")


def test_follow_says_when_the_container_stops_and_resumes_on_start(page, live_server, docker,
                                                                   run_container):
    cid = run_container("echo \"run $(cat /proc/uptime)\"; printf 'partial line'; sleep 300")
    page.goto(f"{live_server.url}/containers/{cid}/logs?follow=1")
    page.wait_for_selector("#log-follow.live")
    docker("stop", "-t", "0", cid)
    page.wait_for_selector("#log-follow.stopped", timeout=5000)
    status = page.inner_text("#log-follow")
    assert "not running" in status and "exit code 137" in status
    assert page.inner_text("#log-state") == "exited exit code 137"  # the head follows too
    screenshot(page, "logs-follow-stopped")
    docker("start", cid)
    page.wait_for_function("() => [...document.querySelectorAll('#log-lines .ltx')]"
                           ".filter(e => e.textContent.startsWith('run ')).length === 2",
                           timeout=12000)
    page.wait_for_selector("#log-follow.live", timeout=5000)
    shown = texts(page)
    assert len(shown) == len(set(shown))
    assert page.console_errors == []
