"""Merged logs against the real engine and real Compose: the merged page and
download hold the union of each container's `docker logs`, in timestamp order,
none lost or doubled (a burst across containers within one millisecond too);
following survives `docker-compose restart` and a `--scale` while following;
since/until match `docker logs --since --until` on every logs page; hostile
lines stay text."""

from __future__ import annotations

import html
import re
import time
from collections import Counter

import pytest

from conftest import unique_name

MLINE_RE = re.compile(
    r'<div class="ll (out|err|tty)">(?:<time title="([^"]+)">[^<]*</time>)?'
    r'<span class="lsrc (lc\d)" title="([^"]*)">([^<]*)</span>'
    r'<i></i><span class="ltx">(.*?)</span></div>')


def merged_lines(text: str) -> list[tuple[str, str, str, str]]:
    """(stream label, timestamp, container name, visible text) per merged row."""
    out = []
    for label, ts, _css, title, _short, inner in MLINE_RE.findall(text):
        inner = re.sub(r'<span class="lcut".*', "", inner)
        out.append((label, ts, html.unescape(title), html.unescape(re.sub(r"<[^>]+>", "", inner))))
    return out


LINE_RE = re.compile(r'<div class="ll (out|err|tty)">(?:<time title="([^"]+)">[^<]*</time>)?'
                     r'<i></i><span class="ltx">(.*?)</span></div>')


def page_lines(text: str) -> list[tuple[str, str, str]]:
    """(label, timestamp, visible text) per row of one container's logs page."""
    return [(lb, ts, html.unescape(re.sub(r"<[^>]+>", "", re.sub(r'<span class="lcut".*', "", t))))
            for lb, ts, t in LINE_RE.findall(text)]


def cli_lines(docker, name: str, *args: str) -> list[tuple[str, str, str, str]]:
    """The witness: `docker logs -t` of one container, as (label, ts, name, text)."""
    r = docker.raw("logs", "-t", *args, name)
    assert r.returncode == 0, r.stderr
    out = []
    for label, data in (("out", r.stdout), ("err", r.stderr)):
        for ln in data.decode("utf-8", "replace").splitlines():
            ts, _, text = ln.partition(" ")
            out.append((label, ts, name, text))
    return out


def union(docker, names, *args):
    return [ln for n in names for ln in cli_lines(docker, n, *args)]


def in_time_order(lines) -> bool:
    from app.gateway.logstream import ts_ns

    ns = [ts_ns(ts) for _, ts, _, _ in lines]
    return all(a <= b for a, b in zip(ns, ns[1:]))


def poll_url(text: str) -> str | None:
    m = re.search(r'id="log-follow"[^>]*hx-get="([^"]+)"', text, re.S)
    return html.unescape(m.group(1)) if m else None


def wait_for(cond, timeout: float = 30, pause: float = 0.2, what: str = "condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        got = cond()
        if got:
            return got
        time.sleep(pause)
    raise AssertionError(f"timed out waiting for {what}")


# every container waits (spinning, no fork) for one file in a shared volume,
# then bursts: lines of several containers fall within one millisecond
def burst_cmd(n: int) -> list[str]:
    return ["sh", "-c", "while [ ! -e /sync/go ]; do :; done; i=0; "
            f"while [ $i -lt {n} ]; do echo \"$HOSTNAME o$i\"; echo \"$HOSTNAME e$i\" >&2; "
            "i=$((i+1)); done; exec sleep 300"]


def test_merged_page_and_download_are_the_union_in_time_order(client, compose, docker):
    svc = {"command": burst_cmd(200), "volumes": ["sync:/sync"]}
    p = compose({"web": {**svc, "scale": 3}, "db": dict(svc)}, volumes={"sync": {}})
    names = sorted(p.ps())
    assert len(names) == 4
    docker("exec", names[0], "touch", "/sync/go")
    wait_for(lambda: all(len(cli_lines(docker, n)) == 400 for n in names), 60,
             what="every burst logged")
    want = union(docker, names)
    # the test can fail: several containers' lines share a millisecond
    per_ms: dict[str, set] = {}
    for _, ts, name, _ in want:
        per_ms.setdefault(ts[:23], set()).add(name)
    assert max(len(v) for v in per_ms.values()) >= 2

    text = client.get(f"/projects/{p.name}/logs?tail=all").get_data(as_text=True)
    got = merged_lines(text)
    assert len(got) == 1600
    assert Counter(got) == Counter(want)  # none lost, none doubled
    assert in_time_order(got)
    assert "1,600 lines" in text
    # each container's tag and colour class are the same on every line
    tags = {}
    for m in MLINE_RE.finditer(text):
        tags.setdefault(m.group(4), set()).add((m.group(3), m.group(5)))
    assert all(len(v) == 1 for v in tags.values()) and len(tags) == 4
    assert {next(iter(v))[1] for v in tags.values()} == {"db_1", "web_1", "web_2", "web_3"}

    # a tail per container: the last 5 of each, merged
    got5 = merged_lines(client.get(f"/projects/{p.name}/logs?tail=5").get_data(as_text=True))
    assert Counter(got5) == Counter(ln for n in names for ln in cli_lines(docker, n, "--tail", "5"))
    # one service's replicas only
    web = merged_lines(client.get(f"/projects/{p.name}/logs?tail=all&service=web"
                                  ).get_data(as_text=True))
    assert Counter(web) == Counter(ln for ln in want if "_web_" in ln[2])

    # the download: `name  | ts line`, by time, the same union
    r = client.get(f"/projects/{p.name}/logs/download?timestamps=1")
    assert r.status_code == 200 and r.mimetype == "text/plain"
    assert "attachment" in r.headers["Content-Disposition"] and p.name in r.headers[
        "Content-Disposition"]
    rows = r.get_data(as_text=True).splitlines()
    assert all(re.fullmatch(r"(db_1 |web_1|web_2|web_3)  \| \S+ .*", ln) for ln in rows), rows[:3]
    parsed = [(ln.split(" | ", 1)[0].strip(), *ln.split(" | ", 1)[1].split(" ", 1)) for ln in rows]
    short = {n: n[len(p.name) + 1:] for n in names}
    assert Counter(parsed) == Counter((short[n], ts, t) for _, ts, n, t in want)
    assert in_time_order([("", ts, "", "") for _, ts, _ in parsed])
    # without timestamps, the same lines `docker-compose logs` prints
    mine = Counter(tuple(x.strip() for x in ln.split(" | ", 1)) for ln in
                   client.get(f"/projects/{p.name}/logs/download").get_data(as_text=True
                                                                            ).splitlines())
    theirs = Counter(tuple(x.strip() for x in ln.split(" | ", 1))
                     for ln in p("logs", "--no-color").splitlines() if " | " in ln)
    assert mine == theirs and sum(mine.values()) == 1600
    # stdout only
    out_only = client.get(f"/projects/{p.name}/logs/download?stderr=0").get_data(as_text=True)
    assert out_only.count("\n") == 800 and " e1\n" not in out_only


TICKS = ("trap 'exit 0' TERM; n=$(cat /tmp/boots 2>/dev/null || echo 0); n=$((n+1)); "
         "echo $n > /tmp/boots; echo \"$HOSTNAME boot $n\"; i=0; "
         "while :; do i=$((i+1)); echo \"$HOSTNAME b$n t$i\"; sleep 0.2 & wait; done")


class Follower:
    """The merged page with follow=1, then its polls, as the browser would."""

    def __init__(self, client, url: str):
        self.client = client
        text = client.get(url).get_data(as_text=True)
        self.lines = merged_lines(text)
        self.notices: list[str] = []
        self.url = poll_url(text)
        assert self.url, "the page carries a poller"

    def poll(self) -> str:
        text = self.client.get(self.url).get_data(as_text=True)
        self.lines += merged_lines(text)
        self.notices += [html.unescape(n) for n in re.findall(
            r'<p class="notice \w+">(.*?)</p>', text)]
        self.url = poll_url(text)
        assert self.url, text[:2000]
        return text

    def until(self, cond, timeout=40, what="condition"):
        def step():
            self.poll()
            return cond(self)
        return wait_for(step, timeout, 0.3, what)


def texts_of(lines, name_part):
    return [t for _, _, n, t in lines if name_part in n]


def test_follow_across_restart_and_scale(client, compose, docker):
    p = compose({"web": {"command": ["sh", "-c", TICKS], "scale": 2}})
    w1, w2, w3 = (f"{p.name}_web_{i}" for i in (1, 2, 3))
    f = Follower(client, f"/projects/{p.name}/logs?follow=1&tail=all")
    f.until(lambda f: all(sum("b1 t" in t for t in texts_of(f.lines, n)) >= 3 for n in (w1, w2)),
            what="ticks of both")
    p("restart", "-t", "1")
    f.until(lambda f: all(any("b2 t2" in t for t in texts_of(f.lines, n)) for n in (w1, w2)),
            what="ticks after the restart")
    p.up("--no-recreate", "--scale", "web=3")
    f.until(lambda f: sum("b1 t" in t for t in texts_of(f.lines, w3)) >= 3, what="web_3's ticks")
    assert f.notices.count("web_3 joined the view.") == 1
    p.up("--no-recreate", "--scale", "web=2")
    f.until(lambda f: any("web_3 was removed" in n for n in f.notices), what="web_3 removed")
    p("stop", "-t", "1")
    # two polls with nothing new once everything stopped
    quiet = []

    def settled(f):
        quiet.append(len(f.lines))
        return len(quiet) >= 3 and quiet[-1] == quiet[-2] == quiet[-3]

    f.until(settled, what="the end of the logs")
    assert sum("web_3 was removed" in n for n in f.notices) == 1  # said once
    # nothing lost or doubled for the containers still there
    for n in (w1, w2):
        assert Counter(ln for ln in f.lines if ln[2] == n) == Counter(cli_lines(docker, n))
    # the one that came and went: every line it printed while here, once, in order
    w3_texts = texts_of(f.lines, w3)
    assert w3_texts[0].endswith("boot 1") and len(w3_texts) == len(set(w3_texts))
    ticks = [int(t.rsplit("t", 1)[1]) for t in w3_texts[1:]]
    assert ticks == list(range(1, len(ticks) + 1))
    assert in_time_order([ln for ln in f.lines if ln[2] in (w1, w2)][-20:])


WINDOW = ("i=0; while [ $i -lt 30 ]; do echo \"$HOSTNAME w$i\"; echo \"$HOSTNAME x$i\" >&2; "
          "i=$((i+1)); sleep 0.1; done; exec sleep 300")


def test_since_until_on_every_logs_page_against_docker_logs(client, compose, docker):
    p = compose({"a": {"command": ["sh", "-c", WINDOW]}, "b": {"command": ["sh", "-c", WINDOW]}})
    names = sorted(p.ps())
    wait_for(lambda: all(len(cli_lines(docker, n)) == 60 for n in names), 60, what="all logged")
    from app.gateway.logstream import ns_to_engine, ts_ns

    a_lines = sorted(cli_lines(docker, names[0]), key=lambda ln: ts_ns(ln[1]))
    since_ns, until_ns = ts_ns(a_lines[15][1]), ts_ns(a_lines[40][1])
    rfc_since = a_lines[15][1][:26] + "Z"  # microseconds: what an RFC 3339 time gives here
    for since, until in ((ns_to_engine(since_ns), ns_to_engine(until_ns)),
                         (rfc_since, a_lines[40][1][:26] + "Z")):
        want = union(docker, names, "--since", since, "--until", until)
        assert 0 < len(want) < 120  # a real window: some lines in, some out
        q = f"since={since}&until={until}"
        got = merged_lines(client.get(f"/projects/{p.name}/logs?tail=all&{q}").get_data(
            as_text=True))
        assert Counter(got) == Counter(want) and in_time_order(got)
        dl = client.get(f"/projects/{p.name}/logs/download?timestamps=1&{q}").get_data(
            as_text=True).splitlines()
        assert len(dl) == len(want)
        # each container's own page and download: the same window
        one = names[1]
        page = client.get(f"/containers/{one}/logs?tail=all&{q}").get_data(as_text=True)
        assert Counter((lb, ts, t) for lb, ts, t in page_lines(page)) == Counter(
            (lb, ts, t) for lb, ts, _, t in cli_lines(docker, one, "--since", since,
                                                      "--until", until))
        raw = client.get(f"/containers/{one}/logs/download?stderr=0&{q}").data
        assert raw == docker.raw("logs", "--since", since, "--until", until, one).stdout
    # a window with nothing in it says so, on both pages
    q = "since=2001-01-01T00:00:00Z&until=2001-01-02T00:00:00Z"
    text = html.unescape(client.get(f"/projects/{p.name}/logs?{q}").get_data(as_text=True))
    assert ("No lines between 2001-01-01T00:00:00Z and 2001-01-02T00:00:00Z in the 2 "
            "containers.") in text
    assert merged_lines(text) == []
    single = html.unescape(client.get(f"/containers/{names[0]}/logs?{q}").get_data(as_text=True))
    assert "No lines between 2001-01-01T00:00:00Z and 2001-01-02T00:00:00Z" in single
    assert client.get(f"/projects/{p.name}/logs/download?{q}").data == b""
    # a window that ended is not followed: the server says so and sets no poller
    for url in (f"/projects/{p.name}/logs?follow=1&{q}", f"/containers/{names[0]}/logs?follow=1&{q}"):
        text = html.unescape(client.get(url).get_data(as_text=True))
        assert poll_url(text) is None and "The window ends at 2001-01-02T00:00:00Z" in text, url
    # a bad time is said plainly and the page still shows
    text = html.unescape(client.get(f"/projects/{p.name}/logs?since=yesterday").get_data(
        as_text=True))
    assert "is not a time" in text and len(merged_lines(text)) == 120


def test_picked_containers_and_one_removed_is_said_once(client, docker, run_container):
    a_name, b_name = unique_name("pa"), unique_name("pb")
    a = run_container("echo a-one; sleep 300", name=a_name)
    b = run_container("echo b-one; echo '<b>bold</b> & \"q\"' >&2; sleep 300", name=b_name)
    wait_for(lambda: len(cli_lines(docker, b)) == 2, what="b's lines")
    text = client.get(f"/logs?c={a[:12]}&c={b_name}&c=nosuch{a[:5]}x&c=bad..&follow=1"
                      ).get_data(as_text=True)
    got = merged_lines(text)
    assert Counter(got) == Counter(union(docker, [a_name, b_name])) and len(got) == 3
    plain = html.unescape(text)
    assert f"“nosuch{a[:5]}x”: it is not in this view" in plain
    assert "“bad..” is not a container name or ID" not in plain  # a valid reference form
    assert "<b>bold</b>" not in text and "&lt;b&gt;bold&lt;/b&gt; &amp; &quot;q&quot;" in text
    f_url = poll_url(text)
    docker("rm", "-f", b)
    first = html.unescape(client.get(f_url).get_data(as_text=True))
    assert f"{b_name} was removed" in first
    second = html.unescape(client.get(poll_url(first)).get_data(as_text=True))
    assert "was removed" not in second
    assert f'id="src-{b[:12]}"' not in second and f'id="src-{a[:12]}"' in second
    dl = client.get(f"/logs/download?c={a[:12]}").get_data(as_text=True)
    assert dl.endswith(" | a-one\n")
    assert client.get("/logs/download").status_code == 400
    assert "No containers picked" in client.get("/logs").get_data(as_text=True)
    bad = html.unescape(client.get("/logs?c=../etc").get_data(as_text=True))
    assert "is not a container name or ID" in bad


def test_hostile_lines_in_the_merged_view(client, compose, docker):
    evil = ("echo '<script>alert(1)</script>'; printf '\\033[31mred\\033[0m <img src=x>\\n'; "
            "printf 'a&b \"q\" </div></div>\\n' >&2; printf 'no newline <i>'")
    p = compose({"x": {"command": ["sh", "-c", evil]}, "y": {"command": ["sh", "-c", evil]}})
    names = sorted(p.ps())
    wait_for(lambda: all(len(cli_lines(docker, n)) == 4 for n in names), what="logged")
    text = client.get(f"/projects/{p.name}/logs").get_data(as_text=True)
    assert "<script>alert" not in text and "<img src=x>" not in text and "<i>" not in text.replace("<i></i>", "")
    got = merged_lines(text)
    from app.ansi import ansi_plain

    assert Counter(got) == Counter((lb, ts, n, ansi_plain(t)) for lb, ts, n, t in union(docker, names))
    # the markup stays balanced: every row closed where it opened
    box = text.split('id="log-lines"', 1)[1].split('<script src=', 1)[0]
    assert box.count("<div") == box.count("</div>") - 1 == 8  # and the box's own </div>
    assert '<span class="af1">red</span>' in text and "(no newline)" in text


@pytest.mark.parametrize("url", ["/projects/{p}/logs/poll", "/projects/{p}/logs/poll?cur=zz"])
def test_poll_without_a_good_cursor_is_a_400(client, url):
    assert client.get(url.format(p="whatever")).status_code == 400


def test_until_needs_api_1_35(docker_host, run_container):
    """An engine below API 1.35 has no `until` for logs: said, never ignored."""
    from app.gateway import Engine, exceptions as ge

    cid = run_container("echo hi; sleep 300")
    old = Engine(docker_host, max_api="1.30")
    with pytest.raises(ge.BadRequest, match="no “until” before API 1.35"):
        old.logs(cid, until="1")
    assert b"hi" in b"".join(old.logs(cid, since="1").payload())  # since alone is fine
