"""Who may reach Periscope, against the real engine and under gunicorn: the
bind rule, the Host allow-list, CSRF on real state changes, headers, the
password, read-only mode and the masking of secret env values."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time

import requests
from werkzeug.security import generate_password_hash

from app import create_app
from app.masking import MASK
from app.security import CSP
from conftest import ROOT, csrf_post, free_port, make_settings


def token_from(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


# --- the bind rule ---------------------------------------------------------------
def _gunicorn(env: dict[str, str], timeout: float = 20) -> subprocess.CompletedProcess:
    e = {k: v for k, v in os.environ.items()
         if not k.startswith("PERISCOPE_PASSWORD") and k != "PERISCOPE_ALLOW_UNAUTHENTICATED_REMOTE"}
    e.update(env)
    return subprocess.run([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"], cwd=ROOT,
                          env=e, capture_output=True, timeout=timeout)


def test_remote_bind_without_password_refuses_to_start():
    port = free_port()
    t0 = time.monotonic()
    # 0.0.0.0 only here: the refusal comes before anything listens
    proc = _gunicorn({"PERISCOPE_BIND": f"0.0.0.0:{port}"})
    assert proc.returncode == 2
    err = proc.stderr.decode()
    assert "PERISCOPE_ALLOW_UNAUTHENTICATED_REMOTE=1" in err and f"0.0.0.0:{port}" in err
    assert "PERISCOPE_PASSWORD" in err and "Traceback" not in err
    assert time.monotonic() - t0 < 15
    with socket.socket() as s:  # nothing listened on that port
        assert s.connect_ex(("127.0.0.1", port)) != 0


def test_unusable_password_file_refuses_to_start(tmp_path):
    f = tmp_path / "pw"
    f.write_text("not-a-hash")
    proc = _gunicorn({"PERISCOPE_BIND": f"127.0.0.1:{free_port()}",
                      "PERISCOPE_PASSWORD_FILE": str(f)})
    assert proc.returncode == 2
    assert "generate_password_hash" in proc.stderr.decode()


# --- Host allow-list, headers and CSRF on real pages -------------------------------------
def test_host_header_refused_on_every_kind_of_route(live_server, run_container):
    cid = run_container()
    for path in ("/containers", f"/containers/{cid}", "/containers/rows", "/engine",
                 "/healthz", "/static/style.css", f"/containers/{cid}/logs"):
        r = requests.get(live_server.url + path, headers={"Host": "evil.example"}, timeout=10)
        assert r.status_code == 400, path
        assert cid not in r.text
    r = requests.post(live_server.url + f"/containers/{cid}/stop",
                      headers={"Host": "evil.example:8000"}, timeout=10)
    assert r.status_code == 400
    ok = requests.get(live_server.url + "/containers", headers={"Host": "localhost:1234"},
                      timeout=10)
    assert ok.status_code == 200


def test_headers_on_pages_partials_and_errors(client, run_container):
    cid = run_container()
    for path, hx in (("/containers", False), ("/containers/rows", True), (f"/containers/{cid}",
                     False), ("/containers/no-such-thing", False), ("/containers/%2e%2e", True)):
        r = client.get(path, headers={"HX-Request": "true"} if hx else {})
        h = r.headers
        assert h["Content-Security-Policy"] == CSP, path
        assert h["X-Content-Type-Options"] == "nosniff" and h["Referrer-Policy"] == "same-origin"
        assert "frame-ancestors 'none'" in h["Content-Security-Policy"]
        body = r.get_data(as_text=True)
        assert "<script>" not in body and " style=" not in body and "hx-on" not in body


def test_csrf_and_origin_on_a_real_action(client, docker, run_container):
    cid = run_container()
    with client.session_transaction() as sess:
        sess["csrf"] = "real-token"
    attempts = [
        {},  # no token, no origin
        {"Origin": "http://localhost"},  # no token
        {"X-CSRF-Token": "wrong", "Origin": "http://localhost"},
        {"X-CSRF-Token": "real-token", "Origin": "http://evil.example"},  # cross-origin
        {"X-CSRF-Token": "real-token", "Referer": "http://evil.example/x"},
        {"X-CSRF-Token": "real-token"},  # neither Origin nor Referer
    ]
    for h in attempts:
        r = client.post(f"/containers/{cid}/stop", headers=h)
        assert r.status_code == 403, h
    assert docker.inspect(cid)["State"]["Running"] is True  # nothing changed
    r = client.get(f"/containers/{cid}/stop")  # GET never changes state
    assert r.status_code in (404, 405)
    assert docker.inspect(cid)["State"]["Running"] is True


# --- the password, under gunicorn ------------------------------------------------------
def test_login_under_gunicorn(start_server, tmp_path):
    hfile = tmp_path / "periscope.hash"
    hfile.write_text(generate_password_hash("open sesame"))
    srv = start_server({"PERISCOPE_PASSWORD_FILE": str(hfile)})
    s = requests.Session()
    r = s.get(srv.url + "/containers?all=1", allow_redirects=False, timeout=10)
    assert r.status_code == 302 and r.headers["Location"].startswith("/login?next=")
    assert requests.get(srv.url + "/healthz", timeout=10).status_code == 200  # healthcheck open
    page = s.get(srv.url + r.headers["Location"], timeout=10)
    assert page.status_code == 200 and 'type="password"' in page.text
    tok = token_from(page.text)
    origin = {"Origin": srv.url}
    bad = s.post(srv.url + "/login", data={"password": "open sesam", "csrf_token": tok},
                 headers=origin, allow_redirects=False, timeout=10)
    assert bad.status_code == 401 and "Wrong password" in bad.text
    assert s.get(srv.url + "/containers", allow_redirects=False, timeout=10).status_code == 302
    good = s.post(srv.url + "/login", data={"password": "open sesame", "csrf_token": tok,
                                            "next": "/containers?all=1"},
                  headers=origin, allow_redirects=False, timeout=10)
    assert good.status_code == 303 and good.headers["Location"] == "/containers?all=1"
    cookie = good.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" not in cookie
    assert "open sesame" not in good.headers.get("Location", "")
    lst = s.get(srv.url + "/containers", timeout=10)
    assert lst.status_code == 200 and "Log out" in lst.text
    # logged in on one worker means logged in on all (shared secret)
    assert all(s.get(srv.url + "/engine", allow_redirects=False, timeout=10).status_code == 200
               for _ in range(6))
    out = s.post(srv.url + "/logout", data={"csrf_token": token_from(lst.text)}, headers=origin,
                 allow_redirects=False, timeout=10)
    assert out.status_code == 303
    assert s.get(srv.url + "/containers", allow_redirects=False, timeout=10).status_code == 302


def test_secure_cookie_only_behind_a_trusted_proxy(start_server):
    for trusted, secure in (("", False), ("1", True)):
        srv = start_server({"PERISCOPE_PASSWORD": "pw", "PERISCOPE_TRUSTED_PROXY": trusted})
        r = requests.get(srv.url + "/login", headers={"X-Forwarded-Proto": "https"}, timeout=10)
        assert ("Secure" in r.headers["Set-Cookie"]) is secure, trusted


# --- read-only mode -------------------------------------------------------------------
def test_read_only_by_list_and_by_id(docker, run_container, start_server):
    cid = run_container()
    name = docker.inspect(cid)["Name"].lstrip("/")
    srv = start_server({"PERISCOPE_READ_ONLY": "1"})
    s = requests.Session()
    page = s.get(srv.url + f"/containers/{cid}", timeout=10)
    tok = token_from(page.text) if 'name="csrf_token"' in page.text else re.search(
        r'"X-CSRF-Token": "([^"]+)"', page.text).group(1)
    h = {"X-CSRF-Token": tok, "Origin": srv.url}
    def unlabelled() -> set[str]:  # what a refused create would add; tests label theirs
        out = set()
        for line in docker("ps", "-a", "--no-trunc", "--format", "{{.ID}} {{.Labels}}").splitlines():
            cid_, _, labels = line.partition(" ")
            if "periscope.test=" not in labels:
                out.add(cid_)
        return out

    before = unlabelled()
    refused = [
        ("post", f"/containers/{cid}/stop"), ("post", f"/containers/{name}/kill"),
        ("post", f"/containers/{cid[:12]}/pause"), ("post", f"/containers/{cid}/remove"),
        ("post", "/containers"), ("post", "/containers/new/preview"),
        ("post", "/images/pull"), ("delete", f"/containers/{cid}"), ("put", "/containers"),
    ]
    for method, path in refused:
        r = getattr(s, method)(srv.url + path, headers=h,
                               data={"confirmed": "1", "force": "1", "image": "busybox",
                                     "manifest": '{"Image": "periscope-test:busybox"}'},
                               timeout=10)
        assert r.status_code == 403, (method, path, r.status_code)
        assert "read-only" in r.text
    assert docker.inspect(cid)["State"]["Running"] is True
    assert unlabelled() <= before  # nothing new (others may remove theirs meanwhile)
    # and the controls are not offered
    for path in ("/containers", f"/containers/{cid}", "/containers/rows"):
        html = s.get(srv.url + path, timeout=10).text
        assert f'/containers/{cid}/stop' not in html and "/containers/new" not in html, path
        assert 'action="/images/pull"' not in html
    assert "read-only" in s.get(srv.url + "/containers", timeout=10).text


# --- secret env values ---------------------------------------------------------------------
def test_secret_env_masked_until_a_post_reveals_it(client, run_container):
    cid = run_container(args=["-e", "DB_PASSWORD=hunter2-secret", "-e", "API_TOKEN=tok-4242",
                              "-e", "DATABASE_URL=postgres://app:pg-pass-77@db/app",
                              "-e", "GREETING=hello-visible"])
    html = client.get(f"/containers/{cid}").get_data(as_text=True)
    for secret in ("hunter2-secret", "tok-4242", "pg-pass-77"):
        assert secret not in html  # not in the table, not in the raw JSON, nowhere
    assert "hello-visible" in html and "DB_PASSWORD" in html and "API_TOKEN" in html
    assert html.count(MASK) >= 6  # three in the table, three in the raw JSON
    assert "Reveal 3 hidden values" in html
    # not a GET anyone could link to
    assert client.get(f"/containers/{cid}/env/reveal").status_code in (404, 405)
    assert client.post(f"/containers/{cid}/env/reveal").status_code == 403
    assert client.post(f"/containers/{cid}/env/reveal",
                       headers={"Origin": "http://evil.example"}).status_code == 403
    r = csrf_post(client, f"/containers/{cid}/env/reveal", headers={"HX-Request": "true"})
    part = r.get_data(as_text=True)
    assert r.status_code == 200 and "hunter2-secret" in part and "tok-4242" in part
    assert 'id="raw-json" hx-swap-oob="true"' in part and "<html" not in part
    r = csrf_post(client, f"/containers/{cid}/env/reveal")  # without JavaScript: the whole page
    assert r.status_code == 200 and "<html" in r.get_data(as_text=True)
    assert "pg-pass-77" in r.get_data(as_text=True)
    # the reveal is one answer only: the page is masked again
    assert "hunter2-secret" not in client.get(f"/containers/{cid}").get_data(as_text=True)


def test_reveal_allowed_in_read_only_mode_and_checks_the_ref(run_container):
    app = create_app(make_settings(read_only=True))
    c = app.test_client()
    cid = run_container(args=["-e", "SECRET_KEY=ro-visible-on-request"])
    r = csrf_post(c, f"/containers/{cid}/env/reveal", headers={"HX-Request": "true"})
    assert r.status_code == 200 and "ro-visible-on-request" in r.get_data(as_text=True)
    for ref in ("a%00b", "x" * 300, "..", "-rf"):
        r = csrf_post(c, f"/containers/{ref}/env/reveal")
        assert r.status_code in (400, 404), ref


def test_the_login_slowdown_is_shared_by_the_gunicorn_workers(start_server):
    """Wrong passwords from one address, each on a new connection (so either of
    the two workers may take it): the slowdown starts after FREE failures in
    all, not FREE per worker."""
    from app.security import Throttle

    srv = start_server({"PERISCOPE_PASSWORD": "right one", "PERISCOPE_WORKERS": "2"})
    codes = []
    for i in range(Throttle.FREE + 3):
        s = requests.Session()
        page = s.get(srv.url + "/login", headers={"Connection": "close"}, timeout=10)
        tok = token_from(page.text)
        r = s.post(srv.url + "/login", data={"password": f"wrong {i}", "csrf_token": tok},
                   headers={"Origin": srv.url, "Connection": "close"}, allow_redirects=False,
                   timeout=10)
        codes.append(r.status_code)
    # 401 for the free tries and the one after them (which starts a 1 s wait),
    # then 429 at once: the count was kept across the workers, wherever it landed
    assert codes[:Throttle.FREE + 1] == [401] * (Throttle.FREE + 1), codes
    assert codes[Throttle.FREE + 1] == 429, codes


def test_wrong_passwords_sent_at_once_get_one_check_per_wait(start_server, tmp_path):
    """16 wrong passwords at once (2 workers x 8 threads, each on its own
    connection), from an address that has failed before and whose wait is
    over: each try is counted before its password is checked, so only one is
    checked and the rest are told to wait (were the count taken after the
    check, every try that arrived during the others' checks would be let in)."""
    import threading

    from app.security import Throttle

    hfile = tmp_path / "periscope.hash"
    hfile.write_text(generate_password_hash("the right one"))
    state = tmp_path / "state"
    # ten failures two minutes ago (the clock of the seeding Throttle): the
    # wait they imposed is over, the next failure imposes the longest one
    past = Throttle(clock=lambda: time.time() - 120, path=state / "logins.json")
    for _ in range(Throttle.FREE + 7):
        past.failed("127.0.0.1")
    srv = start_server({"PERISCOPE_PASSWORD_FILE": str(hfile), "PERISCOPE_STATE_DIR": str(state),
                        "PERISCOPE_WORKERS": "2", "PERISCOPE_THREADS": "8"})
    n = 16
    tries = []
    for _ in range(n):  # each with its own session and token, fetched beforehand
        s = requests.Session()
        page = s.get(srv.url + "/login", headers={"Connection": "close"}, timeout=10)
        tries.append((s, token_from(page.text)))
    start, answers = threading.Barrier(n, timeout=30), []

    def one(i):
        s, tok = tries[i]
        start.wait()
        r = s.post(srv.url + "/login", data={"password": f"wrong {i}", "csrf_token": tok},
                   headers={"Origin": srv.url, "Connection": "close"}, allow_redirects=False,
                   timeout=30)
        answers.append((r.status_code, r.text))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    checked = [a for a in answers if a[0] == 401 and "Wrong password." in a[1]]
    told_to_wait = [a for a in answers
                    if a[0] == 429 and "Too many wrong passwords from your address" in a[1]]
    assert len(checked) == 1, [a[0] for a in answers]
    assert len(told_to_wait) == n - 1, [a[0] for a in answers]
    assert f"Wait {int(Throttle.MAX_DELAY)} s before the next try" in checked[0][1]
