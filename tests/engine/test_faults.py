"""Faults survived: the engine goes away mid-session and comes back, an engine
that accepts and never answers, a container removed between list and inspect,
and an engine answering 500 or something that is not JSON."""

from __future__ import annotations

import concurrent.futures as cf
import json
import re
import time

import pytest
import requests

from app import create_app
from app.gateway import Engine, exceptions as ge, parse_host
from app.gateway.frames import mux
from conftest import LABEL, SESSION, csrf_post, make_settings
from faultkit import CuttableProxy, FakeEngine, StalledEngine, remove_tree, short_tmp


@pytest.fixture
def tmpdir_short():
    d = short_tmp()
    yield d
    remove_tree(d)


@pytest.fixture
def proxy(docker_host, tmpdir_short):
    if not docker_host.startswith("unix://"):
        pytest.skip("the cuttable proxy relays to a unix-socket engine")
    p = CuttableProxy(tmpdir_short / "engine.sock", docker_host[len("unix://"):]).start()
    yield p
    p.close()


# --- the engine stops mid-session, then comes back --------------------------------------
def test_engine_stops_mid_session_and_comes_back(proxy, run_container, start_server):
    cid = run_container()
    connect_timeout = 2.0
    srv = start_server({"DOCKER_HOST": f"unix://{proxy.path}",
                        "PERISCOPE_CONNECT_TIMEOUT": str(connect_timeout)})
    s = requests.Session()  # keep-alive, as a browser would
    assert s.get(srv.url + f"/containers/{cid}", timeout=10).status_code == 200
    assert cid in s.get(srv.url + "/containers/rows", timeout=10).text

    proxy.cut()
    for path in ("/containers", f"/containers/{cid}", "/containers/rows", "/engines/default"):
        t0 = time.monotonic()
        r = s.get(srv.url + path, timeout=10)
        took = time.monotonic() - t0
        assert r.status_code == 503, (path, r.status_code)
        assert took < connect_timeout + 1.0, (path, took)
        assert "Traceback" not in r.text
    page = s.get(srv.url + "/containers", timeout=10).text
    assert 'hx-get="/engine/wait"' in page  # the 503 page polls the waiter
    w = s.get(srv.url + "/engine/wait", headers={"HX-Request": "true"}, timeout=10)
    assert w.status_code == 200 and "HX-Refresh" not in w.headers
    assert 'hx-trigger="load delay:' in w.text  # still waiting: the poll goes on
    assert requests.get(srv.url + "/healthz", timeout=10).status_code == 503

    proxy.restore()
    w = s.get(srv.url + "/engine/wait", headers={"HX-Request": "true"}, timeout=10)
    assert w.status_code == 200 and w.headers.get("HX-Refresh") == "true"
    # no worker left stuck: many pages at once, all served
    with cf.ThreadPoolExecutor(24) as pool:
        codes = list(pool.map(lambda _: requests.get(srv.url + f"/containers/{cid}",
                                                     timeout=15).status_code, range(48)))
    assert codes == [200] * 48


@pytest.mark.browser
def test_the_503_page_recovers_by_itself_in_chromium(proxy, run_container, start_server, page):
    cid = run_container()
    srv = start_server({"DOCKER_HOST": f"unix://{proxy.path}",
                        "PERISCOPE_POLL_INTERVAL": "0.5"})
    proxy.cut()
    page.goto(srv.url + f"/containers/{cid}")
    assert page.locator(".status-code").inner_text() == "503"
    for _ in range(3):  # it polls, and stays while the engine is away
        with page.expect_response(lambda r: "/engine/wait" in r.url, timeout=10000):
            pass
    assert page.locator(".status-code").count() == 1
    proxy.restore()
    # the waiter answers HX-Refresh and the container page comes back on its own
    page.locator("h1.container-name").wait_for(timeout=10000)
    assert page.url.endswith(f"/containers/{cid}")
    assert page.dialogs == []


@pytest.mark.browser
def test_live_lists_stand_still_while_the_engine_is_away(proxy, run_container, start_server,
                                                         page):
    """A live list whose engine goes away: its failed poll puts the waiting
    notice up, and from then on only the notice asks (each list poll would
    only fail again, and hold a server thread on a hung engine); once the
    engine is back, the page comes back with its list."""
    from urllib.parse import urlsplit

    run_container()
    srv = start_server({"DOCKER_HOST": f"unix://{proxy.path}",
                        "PERISCOPE_POLL_INTERVAL": "0.5"})
    asked: list[str] = []
    page.on("request", lambda r: asked.append(urlsplit(r.url).path))
    for path in ("/networks", "/containers"):
        asked.clear()
        page.goto(srv.url + path)
        page.wait_for_selector("#rows table")
        proxy.cut()
        page.wait_for_selector("#flash .waiting", timeout=10000)
        polled = asked.count(path + "/rows")
        assert polled >= 1
        for _ in range(3):  # the notice asks again and again...
            with page.expect_response(lambda r: "/engine/wait" in r.url, timeout=10000):
                pass
        assert asked.count(path + "/rows") == polled  # ...the list does not
        proxy.restore()
        page.wait_for_selector("#flash .waiting", state="detached", timeout=10000)
        page.wait_for_selector("#rows table", timeout=10000)
    assert page.dialogs == []


# --- a stalled engine -----------------------------------------------------------------
def test_gateway_honours_the_read_timeout_on_unix_sockets(tmpdir_short):
    stalled = StalledEngine(tmpdir_short / "stalled.sock")
    try:
        eng = Engine(parse_host(f"unix://{stalled.path}", env={}), connect_timeout=1,
                     read_timeout=0.7)
        t0 = time.monotonic()
        with pytest.raises(ge.EngineTimeout) as ei:
            eng.containers()
        took = time.monotonic() - t0
        assert 0.6 < took < 2.0, took
        assert "did not answer within 0.7 s" in ei.value.message
        assert stalled.accepted >= 1
    finally:
        stalled.close()


def test_stalled_engine_is_a_504_and_other_pages_still_served(tmpdir_short, start_server):
    stalled = StalledEngine(tmpdir_short / "stalled.sock")
    try:
        read_timeout = 0.8  # under 1 s so the live server's own health probe gets answers
        srv = start_server({"DOCKER_HOST": f"unix://{stalled.path}",
                            "PERISCOPE_READ_TIMEOUT": str(read_timeout)})
        with cf.ThreadPoolExecutor(12) as pool:
            def timed(path):
                t0 = time.monotonic()
                r = requests.get(srv.url + path, timeout=15)
                return r.status_code, time.monotonic() - t0, r.text

            stuck = [pool.submit(timed, p) for p in ["/containers", "/containers/abc",
                                                     "/engines/default", "/containers/rows"] * 2]
            deadline = time.monotonic() + 10
            while stalled.accepted < 1:  # they reach the engine (and hang there)
                assert time.monotonic() < deadline, "no request reached the stalled engine"
                time.sleep(0.02)
            # while those hang on the engine, pages that need no engine are served at once
            for path in ("/static/style.css", "/static/app.js"):
                t0 = time.monotonic()
                assert requests.get(srv.url + path, timeout=5).status_code == 200
                assert time.monotonic() - t0 < 0.5, path
            for f in stuck:
                code, took, text = f.result()
                assert code == 504, (code, text[:300])
                assert took < read_timeout + 1.0, took
                assert "not answering in time" in text and "Traceback" not in text
        # and again: no worker or thread is left holding on
        with cf.ThreadPoolExecutor(16) as pool:
            codes = list(pool.map(lambda _: timed("/containers")[0], range(32)))
        assert codes == [504] * 32
        r = requests.get(srv.url + "/containers/rows", headers={"HX-Request": "true"}, timeout=5)
        assert r.status_code == 504 and r.headers["HX-Retarget"] == "#flash"
    finally:
        stalled.close()


# --- a container removed between list and inspect -----------------------------------
def test_container_removed_between_list_and_inspect(client, docker, run_container):
    cid = run_container()
    rows = client.get(f"/containers/rows?label={LABEL}={SESSION}").get_data(as_text=True)
    assert cid in rows
    docker("rm", "-f", cid)
    r = client.get(f"/containers/{cid}")
    assert r.status_code == 404 and "Traceback" not in r.get_data(as_text=True)
    assert "No such container" in r.get_data(as_text=True)
    r = client.get(f"/containers/{cid}", headers={"HX-Request": "true"})
    assert r.status_code == 404 and r.headers["HX-Retarget"] == "#flash"
    assert cid not in client.get(f"/containers/rows?all=1&label={LABEL}={SESSION}").get_data(
        as_text=True)


# --- an engine answering 500 or malformed JSON ----------------------------------------
def _fake_app(fake: FakeEngine):
    return create_app(make_settings(docker_host=f"unix://{fake.path}"))


def test_engine_500_is_a_502_page_with_the_engines_text(tmpdir_short):
    fake = FakeEngine(tmpdir_short / "fake.sock", {
        "/v1.41/containers/json": (500, '{"message":"boom: the store is locked"}',
                                   "application/json"),
        "/v1.41/containers/": (500, "plain text panic: nil map", "text/plain"),
    })
    try:
        c = _fake_app(fake).test_client()
        r = c.get("/containers")
        html = r.get_data(as_text=True)
        assert r.status_code == 502 and "boom: the store is locked" in html
        assert "HTTP 500" in html and "Traceback" not in html
        r = c.get("/containers/abc")
        assert r.status_code == 502 and "plain text panic: nil map" in r.get_data(as_text=True)
        r = c.get("/containers/rows", headers={"HX-Request": "true"})
        assert r.status_code == 502 and r.headers["HX-Retarget"] == "#flash"
        assert "boom: the store is locked" in r.get_data(as_text=True)
    finally:
        fake.close()


def test_engine_malformed_json_is_a_502_page_with_the_text(tmpdir_short):
    fake = FakeEngine(tmpdir_short / "fake.sock", {
        "/v1.41/containers/json": (200, '[{"Id": "abc", "Names": ["/x"', "application/json"),
        "/v1.41/containers/": (200, "<html>a proxy error page</html>", "text/html"),
        "/v1.41/version": (200, "not json at all", "application/json"),
    })
    try:
        c = _fake_app(fake).test_client()
        for path, text in (("/containers", '[{&#34;Id&#34;: &#34;abc&#34;'),
                           ("/containers/abc", "&lt;html&gt;a proxy error page&lt;/html&gt;"),
                           ("/engines/default", "not json at all")):
            r = c.get(path)
            html = r.get_data(as_text=True)
            assert r.status_code == 502, (path, r.status_code)
            assert "not JSON" in html and text in html, (path, html[:1500])
            assert "Traceback" not in html
    finally:
        fake.close()



def _log_engine(path, lines: int, *, whole: bool):
    """A fake engine with one running container whose log is `lines` lines,
    sent as the engine does (a chunk per frame); not `whole`: the answer
    breaks off before its last chunk."""
    cid = "b" * 64
    inspect = json.dumps({"Id": cid, "Name": "/breaks", "Config": {"Tty": False},
                          "State": {"Running": True, "Status": "running"}})
    frames = [mux(1 + i % 2, b"2026-12-07T10:00:%02d.000000000Z line <%d>\n" % (i % 60, i))
              for i in range(lines)]
    raw = (b"HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\n"
           b"Content-Type: application/vnd.docker.multiplexed-stream\r\n"
           b"Transfer-Encoding: chunked\r\n\r\n"
           + b"".join(b"%x\r\n%s\r\n" % (len(f), f) for f in frames)
           + (b"0\r\n\r\n" if whole else b""))
    return cid, FakeEngine(path, {
        f"/v1.41/containers/{cid}/json": (200, inspect, "application/json"),
        f"/v1.41/containers/{cid}/logs": ("raw", raw, ""),
    })


def test_log_breaking_off_mid_page_is_said_where_the_page_stops(tmpdir_short):
    """The logs page goes out as the engine sends the tail: when the engine's
    answer breaks off after some lines (the connection closes mid-body), the
    page keeps the lines it showed and says the log broke off; a page too big
    to be sent as it is read (tail=all) is still the 502 page."""
    cid, fake = _log_engine(tmpdir_short / "fake.sock", 40, whole=False)
    try:
        c = _fake_app(fake).test_client()
        r = c.get(f"/containers/{cid}/logs?tail=100")
        html = r.get_data(as_text=True)
        assert r.status_code == 200 and "Traceback" not in html
        shown = re.findall(r'<span class="ltx">line &lt;(\d+)&gt;</span>', html)
        assert shown == [str(i) for i in range(40)]
        assert 'id="log-broke"' in html and "The log broke off" in html
        assert html.rstrip().endswith("</html>")  # the page is whole, footer and all
        r = c.get(f"/containers/{cid}/logs?tail=all")
        assert r.status_code == 502 and "Traceback" not in r.get_data(as_text=True)
    finally:
        fake.close()


def test_a_download_that_breaks_before_its_first_write_is_an_error_page(tmpdir_short):
    """The download's first write is read before the answer starts: an engine
    that breaks off before it gives Periscope's 502 page, not a bare 500."""
    cid, fake = _log_engine(tmpdir_short / "fake.sock", 40, whole=False)
    try:
        r = _fake_app(fake).test_client().get(f"/containers/{cid}/logs/download")
        body = r.get_data(as_text=True)
        assert r.status_code == 502 and "broken response" in body and "Traceback" not in body
    finally:
        fake.close()


def test_control_characters_typed_into_the_logs_form_are_not_written_back(tmpdir_short):
    """A NUL or another control character in the search or a time is dropped
    (no search or time needs one), never written back raw into the page."""
    cid, fake = _log_engine(tmpdir_short / "fake.sock", 10, whole=True)
    try:
        c = _fake_app(fake).test_client()
        for q in ("tail=100&q=%00line+%3C3%3E%1b", "tail=all&q=%00line+%3C3%3E%1b&since=%00"):
            r = c.get(f"/containers/{cid}/logs?{q}")
            html = r.get_data(as_text=True)
            assert r.status_code == 200 and "\x00" not in html and "\x1b" not in html, q
            assert 'value="line &lt;3&gt;"' in html, q
            assert '<mark>line &lt;3&gt;</mark>' in html, q
    finally:
        fake.close()


def test_a_streamed_logs_page_takes_from_the_session_once(tmpdir_short):
    """Flask saves the session before a streamed page's first byte: the
    page's flashed message is shown once, and its CSRF token is the one the
    cookie keeps (a form on the next page is accepted with it)."""
    cid, fake = _log_engine(tmpdir_short / "fake.sock", 10, whole=True)
    try:
        c = _fake_app(fake).test_client()
        with c.session_transaction() as sess:
            sess["_flashes"] = [("ok", "Created and started breaks.")]
        first = c.get(f"/containers/{cid}/logs").get_data(as_text=True)
        assert "Created and started breaks." in first
        # while the rows come, a line holds the count's place (it comes after them)
        assert 'class="count log-count pending"' in first and 'id="log-count"' in first
        again = c.get(f"/containers/{cid}/logs").get_data(as_text=True)
        assert "Created and started breaks." not in again
        token = re.search(r'"X-CSRF-Token": "([^"]+)"', first)
        with c.session_transaction() as sess:
            assert token and sess.get("csrf") == token.group(1)
    finally:
        fake.close()


def test_a_streamed_logs_page_lets_go_of_the_engine_unread(tmpdir_short, monkeypatch):
    """A HEAD request, or a client that goes away mid-page, closes the
    engine's answer at once (not when it is garbage collected)."""
    from app import logview

    closed = []
    monkeypatch.setattr(logview.LiveTail, "close",
                        lambda self: closed.append(1) or self._stream.close())
    cid, fake = _log_engine(tmpdir_short / "fake.sock", 3000, whole=True)
    try:
        c = _fake_app(fake).test_client()
        r = c.head(f"/containers/{cid}/logs?tail=5000")
        assert r.status_code == 200 and r.data == b"" and closed == [1]
        r = c.get(f"/containers/{cid}/logs?tail=5000", buffered=False)
        head = next(iter(r.response))  # the head, before any line
        assert b"<html" in head and b'class="ll ' not in head
        r.close()  # the client went away
        assert closed == [1, 1]
    finally:
        fake.close()


def test_engine_500_on_start_is_a_502_on_the_form(tmpdir_short):
    """Created, then the engine fails the start with a 500: the form says so
    (with the engine's text and the manifest kept), as a 502, never a 500."""
    cid = "c" * 64
    fake = FakeEngine(tmpdir_short / "fake.sock", {
        "/v1.41/containers/create": (201, '{"Id": "%s", "Warnings": []}' % cid,
                                     "application/json"),
        # read back before the start (the policy judges it again): as the engine records it
        f"/v1.41/containers/{cid}/json": (200, '{"Id": "%s", "Name": "/x", "HostConfig": {},'
                                               ' "State": {"Status": "created"}}' % cid,
                                          "application/json"),
        "/v1.41/containers/": (500, '{"message":"boom: runtime exploded"}', "application/json"),
    })
    try:
        c = _fake_app(fake).test_client()
        r = csrf_post(c, "/containers", {"manifest": '{"Image": "x"}', "start": "1"})
        html = r.get_data(as_text=True)
        assert r.status_code == 502, r.status_code
        assert "did not start" in html and "boom: runtime exploded" in html
        assert f"POST /v1.41/containers/{cid}/start" in fake.seen
    finally:
        fake.close()

def test_container_removed_during_follow(client, docker, run_container):
    import html as htmlmod
    import re

    cid = run_container("while true; do echo tick; sleep 0.2; done")
    page = client.get(f"/containers/{cid}/logs?follow=1").get_data(as_text=True)
    m = re.search(r'hx-get="([^"]*/logs/poll\?[^"]*)"', page)
    assert m, "the logs page carries its follow poller"
    poll = htmlmod.unescape(m.group(1))
    assert client.get(poll, headers={"HX-Request": "true"}).status_code == 200
    docker("rm", "-f", cid)
    r = client.get(poll, headers={"HX-Request": "true"})
    body = r.get_data(as_text=True)
    assert r.status_code == 404 and r.headers["HX-Retarget"] == "#flash"
    assert "No such container" in body and "Traceback" not in body


@pytest.mark.parametrize("cut", [
    b"HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.multiplexed-stream\r\nTransfer-Enc",
    b"HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nTransfer-Encoding: chun",
])
def test_an_answer_cut_off_in_its_headers_is_an_error_not_an_empty_log(tmpdir_short, cut):
    """Cut inside its headers, an answer reads as one with no length and no
    chunks: an empty body to the end of the connection. The engine never
    answers so, and showing it as an empty log (or an empty list) would say
    there is nothing: it is the 502 page of a broken answer."""
    cid = "e" * 64
    inspect = json.dumps({"Id": cid, "Name": "/cut", "Config": {"Tty": False},
                          "State": {"Running": True, "Status": "running"}})
    fake = FakeEngine(tmpdir_short / "fake.sock", {
        f"/v1.41/containers/{cid}/json": (200, inspect, "application/json"),
        f"/v1.41/containers/{cid}/logs": ("raw", cut, ""),
        "/v1.41/containers/json": ("raw", cut, ""),
    })
    try:
        c = _fake_app(fake).test_client()
        for path in (f"/containers/{cid}/logs?tail=100", f"/containers/{cid}/logs?tail=all",
                     f"/containers/{cid}/logs/download", "/containers"):
            r = c.get(path)
            body = r.get_data(as_text=True)
            assert r.status_code == 502, (path, r.status_code, body[:300])
            assert "neither a length nor chunks" in body and "Traceback" not in body
    finally:
        fake.close()


# --- clients that stop reading -------------------------------------------------------

def test_clients_that_stop_reading_cannot_hold_every_thread(run_container, docker,
                                                            start_server):
    """A client that asks for a big answer and then reads no more holds the
    thread answering it for PERISCOPE_SEND_TIMEOUT at most: twice as many such
    clients as the worker has threads, and a page is still served after them."""
    import socket

    cid = run_container("yes 0123456789012345678901234567890123456789 | head -c 12000000")
    docker("wait", cid)
    srv = start_server({"PERISCOPE_WORKERS": "1", "PERISCOPE_THREADS": "2",
                        "PERISCOPE_SEND_TIMEOUT": "1"})
    host, port = srv.url.split("//", 1)[1].split(":")
    stalled = []
    try:
        for _ in range(4):
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a small window
            s.settimeout(30)
            s.connect((host, int(port)))
            s.sendall(f"GET /containers/{cid}/logs/download HTTP/1.1\r\n"
                      f"Host: {host}:{port}\r\n\r\n".encode())
            stalled.append(s)
        for s in stalled:  # each is answered in turn (a thread comes free for it)...
            assert s.recv(64).startswith(b"HTTP/1.1 200")
        # ...and reads no more; a page asked now is served all the same
        r = requests.get(srv.url + "/static/style.css", timeout=30)
        assert r.status_code == 200 and len(r.content) > 1000
        # a stalled client's answer ended short of the whole download
        got = 0
        stalled[0].settimeout(10)
        while chunk := stalled[0].recv(1 << 20):
            got += len(chunk)
        assert got < 12_000_000
    finally:
        for s in stalled:
            s.close()
    # the server's log says so in a line each (written before it closed the
    # connection the loop above read to its end), no traceback
    log = open(srv.log.name, encoding="utf-8", errors="replace").read()
    assert "Dropped a client that took longer than PERISCOPE_SEND_TIMEOUT" in log
    assert "Traceback" not in log and "Socket error" not in log


def test_clients_that_never_finish_sending_a_form_cannot_hold_every_thread(start_server):
    """A form whose body never comes in whole (sent to the login page, open to
    anyone): each holds a thread for PERISCOPE_SEND_TIMEOUT at most, and is
    answered 400, never a 500."""
    import socket

    srv = start_server({"PERISCOPE_WORKERS": "1", "PERISCOPE_THREADS": "2",
                        "PERISCOPE_SEND_TIMEOUT": "1", "PERISCOPE_PASSWORD": "a-long-password"})
    host, port = srv.url.split("//", 1)[1].split(":")
    stalled = []
    try:
        for _ in range(4):
            s = socket.create_connection((host, int(port)), timeout=30)
            s.sendall(f"POST /login HTTP/1.1\r\nHost: {host}:{port}\r\n"
                      "Content-Type: application/x-www-form-urlencoded\r\n"
                      "Content-Length: 100000\r\n\r\npassword=".encode())
            stalled.append(s)
        r = requests.get(srv.url + "/static/style.css", timeout=30)
        assert r.status_code == 200
        for s in stalled:
            answer = b""
            while chunk := s.recv(4096):
                answer += chunk
            assert answer.startswith(b"HTTP/1.1 400")
            assert answer.endswith(b"The request's body did not come in whole, in time.\n")
    finally:
        for s in stalled:
            s.close()
    log = open(srv.log.name, encoding="utf-8", errors="replace").read()
    assert log.count("to send its request's body (POST /login)") == 4
    assert "Traceback" not in log
