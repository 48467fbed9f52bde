"""Merged logs in real Chromium: following a project while a replica joins,
the tags and colours, hostile names and lines (no markup, no layout
breakage), light and dark, wide and phone-sized."""

from __future__ import annotations

from collections import Counter

from conftest import screenshot, wait_polls

TICK = ("trap 'exit 0' TERM; i=0; while :; do i=$((i+1)); echo \"$HOSTNAME tick $i\"; "
        "[ $((i % 4)) = 0 ] && echo \"$HOSTNAME warn $i\" >&2; sleep 0.3 & wait; done")
HOSTILE = ("echo '<img src=x onerror=alert(1)>'; echo '<script>alert(2)</script>' >&2; "
           "printf '\\033[31mred\\033[0m '; head -c 300 /dev/zero | tr '\\0' W; echo; ")


def rows(page) -> list[tuple[str, str]]:
    return [tuple(r) for r in page.eval_on_selector_all(
        "#log-lines .ll", "els => els.map(e => [e.querySelector('.lsrc').textContent, "
        "e.querySelector('.ltx').textContent])")]


def test_merged_follow_with_a_replica_joining(page, live_server, compose):
    p = compose({"web": {"command": ["sh", "-c", TICK], "scale": 2},
                 "a-rather-long-service-name": {"command": ["sh", "-c", HOSTILE + TICK]}})
    page.goto(f"{live_server.url}/projects/{p.name}/logs?follow=1")
    page.wait_for_selector("#log-follow.live")
    wait_polls(page, f"/projects/{p.name}/logs/poll", 2)
    tags = {t for t, _ in rows(page)}
    assert {"web_1", "web_2", "a-rather-long-service-name_1"} <= tags
    # each container one colour class, the same on every line and in the legend
    classes = page.eval_on_selector_all(
        "#log-lines .lsrc, #merge-legend .lsrc",
        "els => els.map(e => [e.textContent, e.className])")
    per = {}
    for t, c in classes:
        per.setdefault(t, set()).add(c)
    assert all(len(v) == 1 for v in per.values())
    # a replica joins while following
    p.up("--no-recreate", "--scale", "web=3")
    page.wait_for_function("() => [...document.querySelectorAll('#log-lines .lsrc')]"
                           ".some(e => e.textContent === 'web_3')", timeout=20_000)
    assert page.locator("#log-notices", has_text="web_3 joined the view.").count() == 1
    assert page.locator("#merge-legend .lsrc", has_text="web_3").count() == 1
    wait_polls(page, f"/projects/{p.name}/logs/poll", 2)
    shown = rows(page)
    assert max(Counter(shown).values()) == 1, "a line was shown twice"
    # in time order across polls too (a row a poll brings late moves to its place)
    stamps = page.eval_on_selector_all("#log-lines .ll time", "els => els.map(e => e.title)")
    assert len(stamps) == len(shown) and stamps == sorted(stamps)
    for tag in ("web_1", "web_2", "web_3"):
        ticks = [int(t.rsplit(" ", 1)[1]) for s, t in shown if s == tag and " tick " in t]
        assert ticks == list(range(ticks[0], ticks[0] + len(ticks))), f"{tag} lost a line"
    # hostile lines made no element and ran nothing
    assert page.dialogs == []
    assert page.locator("#log-lines img, #log-lines script").count() == 0
    assert ("a-rather-long-service-name_1", "<img src=x onerror=alert(1)>") in shown
    assert page.console_errors == []
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        for scheme in ("light", "dark"):
            page.emulate_media(color_scheme=scheme)
            page.wait_for_timeout(50)
            over = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
            assert over <= 1, f"{width}px {scheme}: {over}px wider than the screen"
            screenshot(page, f"merged-follow-{scheme}-{width}")
