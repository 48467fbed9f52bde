"""Logs against the real engine: byte-exact download, the page, TTY, follow."""

import html
import re
import time

import pytest

from conftest import unique_name

# interleaved streams, markup, ANSI, invalid UTF-8, an empty line, a 100 KB line
# (longer than the engine's 16 KB message buffer), and no newline at the end
HOSTILE = (
    "echo out-1; echo err-1 >&2; echo '<script>alert(1)</script>'; "
    "printf '\\033[31mred\\033[0m \\033[1;32mbold green\\033[0m\\n'; "
    "printf 'bad \\377\\376 utf8\\n' >&2; echo; "
    "head -c 102400 /dev/zero | tr '\\0' x; echo; "
    "printf 'err-part ' >&2; echo out-2; echo 'err-rest' >&2; "
    "printf '<img src=x onerror=alert(1)>\\n'; printf 'no newline at the end'"
)


def wait_exit(docker, cid):
    docker("wait", cid)


LINE_RE = re.compile(r'<div class="ll (out|err|tty)">(?:<time title="([^"]+)">[^<]*</time>)?'
                     r'<i></i><span class="ltx">(.*?)</span></div>')


def page_lines(text: str) -> list[tuple[str, str, str]]:
    """(label, timestamp, visible text) of each line in a page or partial."""
    out = []
    for label, ts, inner in LINE_RE.findall(text):
        inner = re.sub(r"<span class=\"lcut\".*", "", inner)
        out.append((label, ts, html.unescape(re.sub(r"<[^>]+>", "", inner))))
    return out


def poll_url(text: str) -> str | None:
    m = re.search(r'id="log-follow"[^>]*hx-get="([^"]+)"', text, re.S)
    return html.unescape(m.group(1)) if m else None


@pytest.mark.parametrize("driver", ["json-file", "local"])
def test_download_is_byte_exact_per_stream(client, docker, run_container, driver):
    # json-file stores lines as JSON strings (invalid UTF-8 becomes U+FFFD in the
    # engine); the local driver keeps the original bytes: both must pass through
    name = unique_name("logs")
    cid = run_container(HOSTILE, name=name, args=["--log-driver", driver])
    wait_exit(docker, cid)
    cli = docker.raw("logs", name)
    assert len(cli.stdout) > 102400 and b"err-rest" in cli.stderr  # the witness saw it all
    if driver == "local":
        assert b"bad \xff\xfe utf8" in cli.stderr
    r = client.get(f"/containers/{name}/logs/download?stdout=1&stderr=0")
    assert r.status_code == 200
    assert r.data == cli.stdout
    assert "attachment" in r.headers["Content-Disposition"] and name in r.headers["Content-Disposition"]
    r = client.get(f"/containers/{name}/logs/download?stdout=0&stderr=1")
    assert r.data == cli.stderr
    # with timestamps, as `docker logs -t`
    cli_t = docker.raw("logs", "-t", name)
    assert client.get(f"/containers/{cid[:12]}/logs/download?stdout=1&stderr=0&timestamps=1"
                      ).data == cli_t.stdout
    assert client.get(f"/containers/{name}/logs/download?stdout=0&stderr=1&timestamps=1"
                      ).data == cli_t.stderr
    # both streams: every byte of each, nothing else
    both = client.get(f"/containers/{name}/logs/download").data
    assert len(both) == len(cli.stdout) + len(cli.stderr)
    # tail as the CLI counts it
    assert client.get(f"/containers/{name}/logs/download?stdout=1&stderr=0&tail=3").data == \
        docker.raw("logs", "--tail", "3", name).stdout


def test_download_bad_input_is_a_clear_400(client, run_container):
    cid = run_container("echo hi")
    for q, words in (("stdout=0&stderr=0", "choose"), ("since=yesterday", "not a time"),
                     ("tail=-5", "tail")):
        r = client.get(f"/containers/{cid}/logs/download?{q}")
        assert r.status_code == 400, q
        assert words in r.get_data(as_text=True), q
    assert client.get("/containers/no-such-container-xyz/logs/download").status_code == 404
    assert client.get("/containers/no-such-container-xyz/logs").status_code == 404


def test_page_shows_streams_labels_escaped_and_coloured(client, docker, run_container):
    name = unique_name("logs")
    cid = run_container(HOSTILE, name=name)
    wait_exit(docker, cid)
    r = client.get(f"/containers/{name}/logs")
    assert r.status_code == 200
    text = r.get_data(as_text=True)
    assert "\x1b" not in text
    assert "<script>alert" not in text and "<img src=x" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert '<span class="af1">red</span>' in text and '<span class="af2 ab-b">bold green</span>' in text
    lines = page_lines(text)
    visible = [(lab, t) for lab, _, t in lines]
    assert ("out", "out-1") in visible and ("err", "err-1") in visible
    assert ("err", "bad \ufffd\ufffd utf8") in visible
    assert ("out", "") in visible  # the empty line
    assert ("err", "err-part err-rest") in visible  # assembled across frames
    assert ("out", "<img src=x onerror=alert(1)>") in visible
    assert ("out", "no newline at the end") in visible
    long = [t for _, t in visible if t.startswith("xxx")]
    assert len(long) == 1 and len(long[0]) == 16 * 1024  # capped in the page...
    assert "more bytes" in text  # ...saying so, with the download for the rest
    assert all(ts.endswith("Z") for _, ts, _ in lines)  # timestamps column on by default
    # the stream filter
    only_err = page_lines(client.get(f"/containers/{name}/logs?streams=stderr").get_data(as_text=True))
    assert {lab for lab, _, _ in only_err} == {"err"} and len(only_err) == 3
    # timestamps off
    no_ts = client.get(f"/containers/{name}/logs?ts=0").get_data(as_text=True)
    assert "<time" not in no_ts.split('id="log-lines"')[1]
    # tail
    assert [t for _, _, t in page_lines(client.get(f"/containers/{name}/logs?tail=100&streams=stdout"
                                                   ).get_data(as_text=True))][-1] == "no newline at the end"


def test_page_search_substring_regex_and_bad_input(client, docker, run_container):
    cid = run_container("for i in $(seq 1 60); do echo \"req $i ok\"; "
                        "[ $((i % 6)) = 0 ] && echo \"req $i ERROR\" >&2; done; true")
    wait_exit(docker, cid)
    text = client.get(f"/containers/{cid}/logs?q=error").get_data(as_text=True)
    lines = page_lines(text)
    assert len(lines) == 10 and all("ERROR" in t for _, _, t in lines)
    assert '<span id="log-count">10 matching lines</span>' in text
    assert text.count("<mark>ERROR</mark>") == 10
    text = client.get(f"/containers/{cid}/logs?q=req+%5B0-9%5D*0+&regex=1").get_data(as_text=True)
    assert sorted(t for _, _, t in page_lines(text)) == sorted(
        [f"req {i} ok" for i in (10, 20, 30, 40, 50, 60)] + [f"req {i} ERROR" for i in (30, 60)])
    # an invalid regex is a message, not a 500; the log is still shown
    r = client.get(f"/containers/{cid}/logs?q=%28unclosed&regex=1")
    assert r.status_code == 200
    body = r.get_data(as_text=True)
    assert "not a valid regular expression" in body and len(page_lines(body)) == 70
    r = client.get(f"/containers/{cid}/logs?q=%28a%2B%29%2B%24&regex=1")
    assert r.status_code == 200 and "very long" in r.get_data(as_text=True)
    # other bad input keeps what it can
    r = client.get(f"/containers/{cid}/logs?tail=-7&since=soon&streams=both2")
    body = r.get_data(as_text=True)
    assert r.status_code == 200
    assert "tail “-7”" in body and "not a time" in body and "streams" in body
    assert 'value="soon"' in body  # the input is kept to correct
    # any positive tail, as `docker logs --tail` takes; the select offers it among its choices
    body = client.get(f"/containers/{cid}/logs?tail=7").get_data(as_text=True)
    cli = docker.raw("logs", "--tail", "7", cid)
    assert sorted(t for _, _, t in page_lines(body)) == sorted(
        ln.decode() for ln in cli.stdout.splitlines() + cli.stderr.splitlines())
    assert len(page_lines(body)) == 7
    assert '<option value="7" selected>7</option>' in body


def test_page_since_relative(client, docker, run_container):
    cid = run_container("echo before; sleep 3; echo after")
    wait_exit(docker, cid)
    texts = [t for _, _, t in page_lines(client.get(f"/containers/{cid}/logs?since=2s"
                                                    ).get_data(as_text=True))]
    assert texts == [] or texts == ["after"]  # it may be older than 2 s by now
    texts = [t for _, _, t in page_lines(client.get(f"/containers/{cid}/logs?since=1h"
                                                    ).get_data(as_text=True))]
    assert texts == ["before", "after"]


def test_tty_container(client, docker, run_container):
    name = unique_name("tty")
    cid = run_container("echo out-line; echo err-line >&2; printf '\\033[34mblue\\033[0m\\n'",
                        name=name, tty=True)
    wait_exit(docker, cid)
    text = client.get(f"/containers/{name}/logs").get_data(as_text=True)
    assert "merges stdout and stderr" in text
    lines = page_lines(text)
    assert [(lab, t) for lab, _, t in lines] == [("tty", "out-line"), ("tty", "err-line"),
                                                 ("tty", "blue")]
    assert '<span class="af4">blue</span>' in text
    cli = docker.raw("logs", name)
    assert client.get(f"/containers/{name}/logs/download?stdout=1&stderr=0").data == cli.stdout
    assert b"\r\n" in cli.stdout  # raw TTY bytes, not demultiplexed


def test_a_tty_progress_bar_over_16_kb_shows_its_last_update(client, docker, run_container):
    """A progress bar writes thousands of updates over each other on one line:
    far over the engine's 16 KB (it logs such a line in several entries) and
    the page's cap. The page shows what a terminal would: the last update."""
    name = unique_name("bar")
    cid = run_container("i=0; while [ $i -lt 3000 ]; do printf '\\r%6d/3000 done' $i; "
                        "i=$((i+1)); done; printf '\\rfinished\\n'; echo after",
                        name=name, tty=True)
    wait_exit(docker, cid)
    raw = docker.raw("logs", name).stdout
    assert len(raw) > 50_000 and raw.count(b"\r") >= 3000  # the witness: one long line
    text = client.get(f"/containers/{name}/logs").get_data(as_text=True)
    lines = page_lines(text)
    assert [t for _, _, t in lines] == ["finished000 done", "after"]  # over "  2999/3000 done"
    assert "more bytes" not in text
    # the download keeps every byte
    assert client.get(f"/containers/{name}/logs/download").data == raw


def test_tty_follow(client, docker, run_container):
    cid = run_container("echo first; sleep 1; for i in $(seq 1 50); do echo \"t$i\"; done; "
                        "sleep 300", tty=True)
    first = client.get(f"/containers/{cid}/logs?follow=1").get_data(as_text=True)
    seen = [t for _, _, t in page_lines(first)]
    more, _ = collect_follow(client, poll_url(first), polls=30, pause=0.2,
                             until=lambda s, b: "t50" in s)
    seen += more
    assert seen == ["first"] + [f"t{i}" for i in range(1, 51)]


def collect_follow(client, url: str, polls: int, pause: float, until=None):
    """Poll the follow partial like the browser does; returns (texts, last html)."""
    seen: list[str] = []
    body = ""
    for _ in range(polls):
        r = client.get(url, headers={"HX-Request": "true"})
        assert r.status_code == 200, r.get_data(as_text=True)[:500]
        body = r.get_data(as_text=True)
        seen += [t for _, _, t in page_lines(body)]
        url = poll_url(body)
        assert url, body
        if until and until(seen, body):
            break
        time.sleep(pause)
    return seen, body


def test_follow_nothing_doubled_or_lost(client, docker, run_container):
    # bursts of many lines, both streams, written while we poll
    cid = run_container("i=0; while [ $i -lt 40 ]; do i=$((i+1)); seq 1 150 | sed \"s/^/o$i-/\"; "
                        "seq 1 50 | sed \"s/^/e$i-/\" >&2; sleep 0.05; done; sleep 300")
    first = client.get(f"/containers/{cid}/logs?follow=1&tail=100").get_data(as_text=True)
    seen = [t for _, _, t in page_lines(first)]
    url = poll_url(first)
    assert url and "cursor=" in url
    more, _ = collect_follow(client, url, polls=60, pause=0.1,
                             until=lambda s, b: "o40-150" in s and "e40-50" in s)
    seen += more
    cli = docker.raw("logs", cid)
    assert len(seen) == len(set(seen)), "a line was shown twice"
    # per stream, what was shown is exactly the end of what the engine holds:
    # no line doubled, none skipped after the first one shown
    for prefix, full in (("o", cli.stdout.decode().splitlines()),
                         ("e", cli.stderr.decode().splitlines())):
        shown = [t for t in seen if t.startswith(prefix)]
        assert shown and shown == full[len(full) - len(shown):], prefix
    assert len(seen) >= 100 + 39 * 200  # the tail window, then every burst after it


def test_follow_after_start_sees_every_line_exactly_once(client, docker, run_container):
    # started with follow before the container logs anything: all lines, once, in order per stream
    cid = run_container("sleep 1; for i in $(seq 1 30); do seq 1 100 | sed \"s/^/b$i-/\"; "
                        "echo \"e$i\" >&2; done; sleep 300")
    first = client.get(f"/containers/{cid}/logs?follow=1").get_data(as_text=True)
    seen = [t for _, _, t in page_lines(first)]
    more, _ = collect_follow(client, poll_url(first), polls=80, pause=0.1,
                             until=lambda s, b: "b30-100" in s and "e30" in s)
    seen += more
    cli = docker.raw("logs", cid)
    assert [t for t in seen if t.startswith("b")] == cli.stdout.decode().splitlines()
    assert [t for t in seen if t.startswith("e")] == cli.stderr.decode().splitlines()


def test_follow_across_stop_and_restart(client, docker, run_container):
    cid = run_container("echo \"boot $(cat /proc/uptime)\"; i=0; while true; do i=$((i+1)); "
                        "echo \"tick $i\"; sleep 0.2; done")
    first = client.get(f"/containers/{cid}/logs?follow=1").get_data(as_text=True)
    url = poll_url(first)
    seen = [t for _, _, t in page_lines(first)]
    more, body = collect_follow(client, url, polls=20, pause=0.3,
                                until=lambda s, b: sum(t.startswith("tick") for t in s) >= 3)
    seen += more
    url = poll_url(body)
    docker("stop", "-t", "1", cid)
    more, body = collect_follow(client, url, polls=3, pause=0.1)
    seen += more
    assert "not running" in body and "exit code 137" in body
    assert 'hx-trigger="load delay:5000ms"' in body  # polls slowly while stopped
    docker("start", cid)
    more, body = collect_follow(client, poll_url(body), polls=30, pause=0.3,
                                until=lambda s, b: sum(t.startswith("boot") for t in s) >= 1
                                and sum(t.startswith("tick") for t in s) >= 2)
    seen += more
    assert sum(t.startswith("boot") for t in seen) == 2  # both runs, each once
    assert "Following" in body
    cli = docker.raw("logs", cid).stdout.decode().splitlines()
    # every line shown exactly once, in the engine's order
    assert seen == cli[:len(seen)]


def test_burst_larger_than_the_page_between_polls(client, docker, run_container):
    cid = run_container("sleep 300")
    first = client.get(f"/containers/{cid}/logs?follow=1").get_data(as_text=True)
    assert page_lines(first) == []
    url = poll_url(first)
    docker("exec", cid, "sh", "-c", "seq 1 12000 > /proc/1/fd/1")
    for _ in range(100):  # until the engine has logged all of it
        if docker.raw("logs", "--tail", "1", cid).stdout == b"12000\n":
            break
        time.sleep(0.1)
    r = client.get(url, headers={"HX-Request": "true"})
    body = r.get_data(as_text=True)
    texts = [t for _, _, t in page_lines(body)]
    assert len(texts) == 5000 and texts[0] == "7001" and texts[-1] == "12000"
    assert "the oldest 7,000 of them were skipped" in body
    # and the next poll does not repeat them
    docker("exec", cid, "sh", "-c", "echo after > /proc/1/fd/1")
    texts, body = collect_follow(client, poll_url(body), polls=10, pause=0.2,
                                 until=lambda s, b: "after" in s)
    assert texts == ["after"]
    # a burst bigger than a poll's first tail but within the page: all of it, no notice
    docker("exec", cid, "sh", "-c", "seq 20001 23000 > /proc/1/fd/1")
    for _ in range(100):
        if docker.raw("logs", "--tail", "1", cid).stdout == b"23000\n":
            break
        time.sleep(0.1)
    body = client.get(poll_url(body), headers={"HX-Request": "true"}).get_data(as_text=True)
    assert [t for _, _, t in page_lines(body)] == [str(i) for i in range(20001, 23001)]
    assert "skipped" not in body


@pytest.mark.slow
def test_200k_lines_page_bounded(client, docker, run_container):
    cid = run_container("seq 1 200000; echo done >&2")
    wait_exit(docker, cid)
    text = client.get(f"/containers/{cid}/logs?tail=all").get_data(as_text=True)
    lines = page_lines(text)
    assert len(lines) == 5000 and lines[-1][2] in ("done", "200000")
    assert "195,001 older ones are not shown" in text and "can be large" in text
    text = client.get(f"/containers/{cid}/logs").get_data(as_text=True)
    assert len(page_lines(text)) == 500
    # following from the end of a big log reads only the tail
    r = client.get(poll_url(client.get(f"/containers/{cid}/logs?follow=1").get_data(as_text=True)),
                   headers={"HX-Request": "true"})
    assert page_lines(r.get_data(as_text=True)) == []
    # the download has all of it
    data = client.get(f"/containers/{cid}/logs/download?stderr=0").data
    assert data == docker.raw("logs", cid).stdout and data.count(b"\n") == 200000


def test_poll_of_a_removed_container_is_a_404_into_flash(client, docker, run_container):
    cid = run_container("echo hi; sleep 300")
    url = poll_url(client.get(f"/containers/{cid}/logs?follow=1").get_data(as_text=True))
    docker("rm", "-f", cid)
    r = client.get(url, headers={"HX-Request": "true"})
    assert r.status_code == 404
    assert r.headers.get("HX-Retarget") == "#flash"
    assert 'id="log-follow"' not in r.get_data(as_text=True)  # polling stops
    r = client.get(f"/containers/{cid}/logs/poll?cursor=junk", headers={"HX-Request": "true"})
    assert r.status_code == 400 and "cursor" in r.get_data(as_text=True)
    r = client.get("/containers/%2E%2E/logs")
    assert r.status_code in (400, 404)


def test_unreachable_engine_is_a_503_page():
    from conftest import make_settings
    from app import create_app

    app = create_app(make_settings(docker_host="unix:///tmp/periscope-no-such.sock"))
    c = app.test_client()
    for url in ("/containers/abc/logs", "/containers/abc/logs/download",
                "/containers/abc/logs/poll?cursor=1-0"):
        r = c.get(url)
        assert r.status_code == 503, url
        assert "does not answer" in r.get_data(as_text=True)


def test_carriage_returns_and_reordering_characters(client, docker, run_container):
    """A progress line shows as a terminal shows it; characters that reorder
    text (U+202E and the like) are shown, never obeyed: in the log and in the
    labels and env on the container's page. The download keeps every byte."""
    name = unique_name("cr")
    cid = run_container(r"printf 'cr1\rcr2\n10%%\r20%%\r30%%\n' ; printf 'spoof \342\200\256txt.exe\n' >&2",
                        name=name, labels={"odd": "invoice\u202efdp.exe"},
                        args=["-e", "ODD=a\u2066b\u2069c"])
    wait_exit(docker, cid)
    text = client.get(f"/containers/{name}/logs").get_data(as_text=True)
    visible = [(lab, t) for lab, _, t in page_lines(text)]
    assert ("out", "cr2") in visible and ("out", "30%") in visible
    assert ("err", "spoof \ufffdtxt.exe") in visible
    assert "\u202e" not in text
    raw = client.get(f"/containers/{name}/logs/download?stdout=1&stderr=0").data
    assert raw == docker("logs", cid).encode()
    page = client.get(f"/containers/{name}").get_data(as_text=True)
    assert "invoice\ufffdfdp.exe" in html.unescape(page) and "a\ufffdb\ufffdc" in html.unescape(page)
    assert not any(c in page for c in "\u202e\u2066\u2069")
