"""The password and the secret masking, in real Chromium."""

from __future__ import annotations

import re

from conftest import LABEL, SESSION, screenshot, unique_name


def test_login_in_chromium_and_a_poll_after_logout_goes_to_login(page, start_server,
                                                                  run_container):
    cid = run_container(name=unique_name("behind-login"))
    srv = start_server({"PERISCOPE_PASSWORD": "chromium-pw"})
    page.goto(f"{srv.url}/containers?label={LABEL}={SESSION}")
    assert "/login?next=" in page.url
    assert page.locator("#password").evaluate("e => e === document.activeElement")
    screenshot(page, "security-login")
    page.fill("#password", "wrong")
    page.click("button[type=submit]")
    assert page.locator(".notice.bad").inner_text().startswith("Wrong password")
    screenshot(page, "security-login-wrong")
    page.fill("#password", "chromium-pw")
    page.click("button[type=submit]")
    page.wait_for_selector(f'tr[data-id="{cid}"]')
    assert "label=" in page.url  # back where it was asked
    cookie = next(c for c in page.context.cookies() if c["name"] == "periscope_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert page.evaluate("document.cookie") == ""  # no script can read it
    # the session goes away (expired, logged out elsewhere): the next poll
    # takes the whole page to the login form, never a login form inside the table
    page.context.clear_cookies()
    page.wait_for_url(re.compile(r"/login\?next=/containers"), timeout=5000)
    assert page.locator("table.containers #password").count() == 0
    assert page.locator("#password").count() == 1
    assert page.dialogs == []


def test_logout_button(page, start_server):
    srv = start_server({"PERISCOPE_PASSWORD": "pw2"})
    page.goto(srv.url + "/login")
    page.fill("#password", "pw2")
    page.click("button[type=submit]")
    page.wait_for_selector("form.logout button")
    page.click("form.logout button")
    page.wait_for_url("**/login")
    page.goto(srv.url + "/engine")
    assert "/login" in page.url


def test_masked_env_and_reveal_in_chromium(page, live_server, run_container):
    cid = run_container(name=unique_name("secrets"),
                        args=["-e", "POSTGRES_PASSWORD=chromium-hunter2", "-e", "LOG_LEVEL=debug",
                              "-e", "STRIPE_API_KEY=sk_live_abc123"])
    page.goto(f"{live_server.url}/containers/{cid}")
    html = page.content()
    assert "chromium-hunter2" not in html and "sk_live_abc123" not in html
    assert page.locator("#env-body .masked").count() == 2
    assert "debug" in page.locator("#env-body").inner_text()
    page.locator("#env").scroll_into_view_if_needed()
    page.locator("#env").screenshot(path=str(screenshot(page, "security-env-masked")))
    page.click("#env-body form.reveal button")
    page.wait_for_selector("#env-body .masked", state="detached")
    assert "chromium-hunter2" in page.locator("#env-body").inner_text()
    assert "sk_live_abc123" in page.locator("#raw-json").text_content()  # swapped out of band
    assert page.url.endswith(f"/containers/{cid}")  # no reveal URL to share
    page.locator("#env").screenshot(path=str(screenshot(page, "security-env-revealed")))
    assert page.dialogs == [] and page.console_errors == []
