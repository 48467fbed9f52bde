"""Tampered tokens and headers are refused with a plain 4xx, never a crash:
CSRF tokens, session cookies, Host and Origin headers that hold non-ASCII,
NUL, overlong or duplicated values, sent raw to gunicorn as a scanner would."""

from __future__ import annotations

import socket

import pytest


def raw(srv, request: bytes) -> tuple[int, bytes]:
    host, port = srv.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=15) as s:
        s.sendall(request)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0
    return status, data


def req(method: str, path: str, headers: list[tuple[bytes, bytes]], body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1".encode()]
    lines += [k + b": " + v for k, v in headers]
    if body:
        lines.append(b"Content-Length: " + str(len(body)).encode())
        lines.append(b"Content-Type: application/x-www-form-urlencoded")
    lines.append(b"Connection: close")
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


ODD = [b"\xc3\xa9t\xc3\xa9", b"caf\xe9", b"a\x00b", b"x" * 6000, b"\xff\xfe", b"[", b"http://[",
       b"http://localhost:99999999", b"http://:@/", b"\x1b[31m"]


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    from conftest import ARTIFACTS, LiveServer

    s = LiveServer()
    yield s
    s.stop()


def test_odd_host_and_origin_headers_are_4xx(srv, run_container, docker):
    cid = run_container()
    good = [(b"Host", b"localhost")]
    for odd in ODD:
        # a Host that is odd, or given twice: 400 on any route
        for headers in ([(b"Host", odd)], [(b"Host", b"localhost"), (b"Host", b"evil.example")],
                        [(b"Host", b"localhost"), (b"Host", odd)]):
            for method, path in (("GET", "/containers"), ("POST", f"/containers/{cid}/stop")):
                status, data = raw(srv, req(method, path, headers))
                assert status == 400, (method, headers, status, data[:300])
        # odd Origin, Referer, cookie or token: a state change is refused (403,
        # or gunicorn's own 400 for bytes no header may hold), a read is
        # answered as if they were absent (or that 400); never a crash
        for extra in ([(b"Origin", odd)], [(b"Referer", odd)],
                      [(b"Origin", b"http://localhost"), (b"Origin", odd)],
                      [(b"Cookie", b"periscope_session=" + odd)],
                      [(b"X-CSRF-Token", odd), (b"Origin", b"http://localhost")]):
            status, data = raw(srv, req("GET", "/containers", good + extra))
            assert status == 200 or (status == 400 and b"Invalid HTTP Header" in data), \
                (extra, status, data[:300])
            status, data = raw(srv, req("POST", f"/containers/{cid}/stop", good + extra,
                                        b"csrf_token=" + odd))
            assert status == 403 or (status == 400 and b"Invalid HTTP Header" in data), \
                (extra, status, data[:300])
            assert b"Traceback" not in data
    assert docker.inspect(cid)["State"]["Running"] is True
    log = open(srv.log.name, "rb").read()
    assert b"Traceback" not in log and b"Exception on" not in log


def test_tampered_session_cookie_and_csrf_token(srv, run_container, docker):
    cid = run_container()
    for cookie in (b"garbage", b"eyJjc3JmIjoieCJ9.invalid.sig", b"\xc3\xa9" * 50, b"." * 4000):
        status, data = raw(srv, req("POST", f"/containers/{cid}/stop",
                                    [(b"Host", b"localhost"), (b"Origin", b"http://localhost"),
                                     (b"Cookie", b"periscope_session=" + cookie),
                                     (b"X-CSRF-Token", "t\u00e9".encode())]))
        assert status == 403, (cookie[:20], status, data[:200])
    assert docker.inspect(cid)["State"]["Running"] is True


def test_a_valid_token_with_an_odd_origin_is_still_refused(srv, run_container, docker):
    import re

    import requests

    cid = run_container()
    s = requests.Session()
    page = s.get(srv.url + "/containers", timeout=10).text
    tok = re.search(r'"X-CSRF-Token": "([^"]+)"', page).group(1).encode()
    cookie = b"periscope_session=" + s.cookies.get("periscope_session").encode()
    for odd in ODD + [b"http://localhost@evil.example", b"null", b"http://localhost.evil"]:
        for header in (b"Origin", b"Referer"):
            status, data = raw(srv, req("POST", f"/containers/{cid}/stop", [
                (b"Host", b"localhost"), (b"Cookie", cookie), (b"X-CSRF-Token", tok),
                (header, odd)]))
            assert status == 403 or (status == 400 and b"Invalid HTTP Header" in data), \
                (header, odd[:30], status, data[:300])
    assert docker.inspect(cid)["State"]["Running"] is True
    log = open(srv.log.name, "rb").read()
    assert b"Traceback" not in log
