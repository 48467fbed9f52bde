"""Who may reach Periscope, without an engine: the bind rule, the password,
the login slowdown, the Host allow-list, CSRF, headers, read-only and the
secret masking. Routes used here make no Engine call (logout, login, 404s)."""

from __future__ import annotations

import re

import pytest
from werkzeug.security import generate_password_hash

from app import create_app
from app.bind import ALLOW_SETTING, is_local, refusal
from app.config import Settings
from app.masking import MASK, env_pairs, looks_secret, mask_inspect
from app.security import (CSP, Password, PasswordConfigError, Throttle, _host_allowed,
                          load_password)
from conftest import login


def make_app(**over):
    s = Settings.from_env({"DOCKER_HOST": "unix:///nonexistent/docker.sock"})
    s.secret_key = "unit-secret"
    for k, v in over.items():
        setattr(s, k, v)
    return create_app(s)


def bind_refusal(env: dict) -> str | None:
    return refusal(Settings.from_env(env))


def token_of(client) -> str:
    with client.session_transaction() as sess:
        return sess.setdefault("csrf", "tok-123")


# --- bind rule -------------------------------------------------------------------
@pytest.mark.parametrize("addr", ["127.0.0.1:8000", "127.1.2.3:80", "localhost:8000",
                                  "[::1]:8000", "unix:/run/periscope.sock"])
def test_local_binds(addr):
    assert is_local(addr)
    assert bind_refusal({"PERISCOPE_BIND": addr}) is None


@pytest.mark.parametrize("addr", ["0.0.0.0:8000", "[::]:8000", "192.0.2.7:8000",
                                  "example.org:8000", "0.0.0.0"])
def test_remote_binds_need_a_password_or_the_setting(addr):
    why = bind_refusal({"PERISCOPE_BIND": addr})
    assert why and ALLOW_SETTING in why and addr in why and "PERISCOPE_PASSWORD" in why
    assert bind_refusal({"PERISCOPE_BIND": addr, "PERISCOPE_PASSWORD": "x"}) is None
    assert bind_refusal({"PERISCOPE_BIND": addr, "PERISCOPE_PASSWORD_FILE": "/h"}) is None
    assert bind_refusal({"PERISCOPE_BIND": addr, ALLOW_SETTING: "1"}) is None
    assert bind_refusal({"PERISCOPE_BIND": addr, ALLOW_SETTING: "0"}) is not None


def test_default_bind_and_lists():
    assert Settings.from_env({}).bind == ["127.0.0.1:8000"]
    assert bind_refusal({}) is None
    assert Settings.from_env({"PERISCOPE_BIND": "127.0.0.1:1, 0.0.0.0:2"}).bind == [
        "127.0.0.1:1", "0.0.0.0:2"]
    assert "0.0.0.0:2" in bind_refusal({"PERISCOPE_BIND": "127.0.0.1:1,0.0.0.0:2"})


# --- password --------------------------------------------------------------------
def test_plain_password_checks():
    pw = Password(plain="correct horse")
    assert pw.check("correct horse")
    assert not pw.check("correct hors") and not pw.check("") and not pw.check(None)


def test_hash_file(tmp_path):
    f = tmp_path / "hash"
    f.write_text(generate_password_hash("s3cret") + "\n")
    pw = load_password(None, str(f))
    assert pw.check("s3cret") and not pw.check("s3cre")
    assert pw.fingerprint != Password(plain="s3cret").fingerprint


def test_bad_password_config(tmp_path):
    assert load_password(None, None) is None
    with pytest.raises(PasswordConfigError, match="not both"):
        load_password("a", "/x")
    with pytest.raises(PasswordConfigError, match="cannot be read"):
        load_password(None, str(tmp_path / "missing"))
    plain = tmp_path / "plain"
    plain.write_text("hunter2")
    with pytest.raises(PasswordConfigError, match="generate_password_hash"):
        load_password(None, str(plain))


def test_throttle_slows_down_after_failures_and_forgets():
    now = [1000.0]
    t = Throttle(clock=lambda: now[0])
    delays = [t.failed("a") for _ in range(6)]
    assert delays == [0, 0, 0, 1, 2, 4]
    assert t.wait_left("a") == 4 and t.wait_left("b") == 0
    for _ in range(20):
        t.failed("a")
    assert t.wait_left("a") == Throttle.MAX_DELAY
    t.succeeded("a")
    assert t.wait_left("a") == 0
    t.failed("c"); t.failed("c"); t.failed("c"); t.failed("c")
    now[0] += Throttle.FORGET_AFTER + 5
    assert t.failed("c") == 0  # forgotten: starts again


def test_an_attempt_is_counted_before_the_password_is_checked():
    now = [1000.0]
    t = Throttle(clock=lambda: now[0])
    assert [t.attempt("a") for _ in range(Throttle.FREE + 2)] == (
        [(True, 0.0)] * Throttle.FREE + [(True, 1.0), (False, 1.0)])
    now[0] += 1
    assert t.attempt("a") == (True, 2.0)  # one more try per wait
    t.succeeded("a")  # that one was right: the count is gone
    assert t.attempt("a") == (True, 0.0) and t.attempt("b") == (True, 0.0)


def test_attempts_at_once_in_two_workers_pass_one_by_one(tmp_path):
    """16 threads in two "workers" (each its own Throttle on the shared file),
    released together at a frozen clock: only the free tries and the one that
    starts the wait pass, whatever the interleaving."""
    import threading

    path = tmp_path / "logins.json"
    workers = [Throttle(clock=lambda: 1000.0, path=path) for _ in range(2)]
    start, results = threading.Barrier(16, timeout=30), []

    def one(i):
        start.wait()
        results.append(workers[i % 2].attempt("198.51.100.7"))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(16)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sorted(results) == [(False, 1.0)] * (16 - Throttle.FREE - 1) + (
        [(True, 0.0)] * Throttle.FREE + [(True, 1.0)])


def test_throttle_memory_is_bounded():
    t = Throttle()
    t.MAX_CLIENTS = 100
    for i in range(1000):
        t.failed(f"10.0.{i // 256}.{i % 256}")
    assert len(t) == 100


def test_login_flow_and_cookie_flags():
    app = make_app(password="pw-1")
    c = app.test_client()
    r = c.get("/containers?all=1")
    assert r.status_code == 302 and r.headers["Location"] == "/login?next=/containers?all%3D1"
    page = c.get(r.headers["Location"]).get_data(as_text=True)
    tok = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert 'type="password"' in page and 'value="/containers?all=1"' in page
    h = {"Origin": "http://localhost"}
    r = c.post("/login", data={"password": "nope", "csrf_token": tok}, headers=h)
    assert r.status_code == 401 and "Wrong password" in r.get_data(as_text=True)
    r = c.post("/login", data={"password": "pw-1", "csrf_token": tok,
                               "next": "/containers?all=1"}, headers=h)
    assert r.status_code == 303 and r.headers["Location"] == "/containers?all=1"
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" not in cookie
    # the session changed at login (no fixation): the old token is gone
    with c.session_transaction() as sess:
        assert sess["csrf"] != tok and sess["auth"]
    assert c.get("/login").status_code == 302  # already in


def test_login_never_redirects_elsewhere():
    app = make_app(password="pw")
    c = app.test_client()
    for evil in ("https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:x"):
        r = login(c, "pw", next=evil)
        assert r.status_code == 303 and r.headers["Location"] == "/containers", evil
        c.post("/logout", data={"csrf_token": c.csrf}, headers={"Origin": "http://localhost"})


def test_login_slowdown_refuses_without_checking():
    app = make_app(password="pw")
    c = app.test_client()
    codes = [login(c, f"guess{i}").status_code for i in range(4)]
    assert codes == [401, 401, 401, 401]
    # now even the right password must wait: the guess is not even checked
    r = login(c, "pw")
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
    assert "Try again in" in r.get_data(as_text=True)


def test_secure_cookie_behind_https_only_with_trusted_proxy():
    for trusted, expect in ((False, False), (True, True)):
        app = make_app(password="pw", trusted_proxy=trusted)
        c = app.test_client()
        r = c.get("/login", headers={"X-Forwarded-Proto": "https"})
        assert ("Secure" in r.headers["Set-Cookie"]) is expect
    # a direct HTTPS request is secure whatever the proxy setting
    app = make_app(password="pw")
    r = app.test_client().get("/login", base_url="https://localhost")
    assert "Secure" in r.headers["Set-Cookie"]


def test_trusted_proxy_client_address_feeds_the_slowdown():
    app = make_app(password="pw", trusted_proxy=True)
    c = app.test_client()
    for i in range(4):
        login(c, "x", headers={"X-Forwarded-For": "198.51.100.9"})
    assert app.extensions["periscope.throttle"].wait_left("198.51.100.9") > 0
    assert app.extensions["periscope.throttle"].wait_left("127.0.0.1") == 0


def test_htmx_without_session_is_sent_to_login_not_given_a_login_partial():
    app = make_app(password="pw")
    r = app.test_client().get("/containers/rows", headers={
        "HX-Request": "true", "HX-Current-URL": "http://localhost/containers?q=web"})
    assert r.status_code == 401
    assert r.headers["HX-Redirect"] == "/login?next=/containers?q%3Dweb"
    assert r.headers["HX-Retarget"] == "#flash"
    assert 'type="password"' not in r.get_data(as_text=True)
    # a foreign HX-Current-URL is not followed back
    r = app.test_client().get("/containers/rows", headers={
        "HX-Request": "true", "HX-Current-URL": "http://evil.example/x"})
    assert r.headers["HX-Redirect"] == "/login"


def test_open_routes_without_session():
    app = make_app(password="pw")
    c = app.test_client()
    assert c.get("/static/style.css").status_code == 200
    assert c.get("/healthz").status_code == 503  # open: answers (no engine here)
    assert c.get("/login").status_code == 200
    assert c.post("/containers/x/start").status_code == 401
    assert c.get("/engine").status_code == 302


def test_logout_is_a_post_with_csrf():
    app = make_app(password="pw")
    c = app.test_client()
    login(c, "pw")
    tok = c.csrf
    assert c.get("/logout").status_code == 405
    assert c.post("/logout", headers={"Origin": "http://localhost"}).status_code == 403
    assert c.get("/containers/x").status_code != 302  # still logged in
    r = c.post("/logout", data={"csrf_token": tok}, headers={"Origin": "http://localhost"})
    assert r.status_code == 303 and r.headers["Location"] == "/login"
    assert c.get("/engine").status_code == 302


def test_changing_the_password_ends_old_sessions():
    a1 = make_app(password="old")
    c = a1.test_client()
    assert login(c, "old").status_code == 303
    cookie = c.get_cookie("periscope_session").value
    a2 = make_app(password="new")
    c2 = a2.test_client()
    c2.set_cookie("periscope_session", cookie)
    assert c2.get("/engine").status_code == 302


# --- host, CSRF, headers -------------------------------------------------------------
def test_host_allow_list():
    allowed = ["localhost", "127.0.0.1", "[::1]"]
    for h in ("localhost", "localhost:8000", "127.0.0.1:1", "[::1]:8000", "LOCALHOST"):
        assert _host_allowed(h, allowed), h
    for h in ("evil.example", "evil.example:8000", "localhost.evil.example", "", "127.0.0.2",
              "[::2]:80", "localhost:80:80"):
        assert not _host_allowed(h, allowed), h
    app = make_app()
    c = app.test_client()
    for path in ("/containers", "/static/style.css", "/healthz", "/login", "/nope"):
        r = c.get(path, headers={"Host": "evil.example"})
        assert r.status_code == 400 and "not allowed" in r.get_data(as_text=True), path


def test_csrf_token_and_origin_both_needed():
    app = make_app()
    c = app.test_client()
    tok = token_of(c)
    # no token / wrong token / token but cross-origin / token but no Origin nor Referer
    assert c.post("/logout").status_code == 403
    assert c.post("/logout", headers={"X-CSRF-Token": "wrong",
                                      "Origin": "http://localhost"}).status_code == 403
    assert c.post("/logout", headers={"X-CSRF-Token": tok,
                                      "Origin": "http://evil.example"}).status_code == 403
    assert c.post("/logout", headers={"X-CSRF-Token": tok}).status_code == 403
    assert c.post("/logout", headers={"X-CSRF-Token": tok, "Origin": "null"}).status_code == 403
    # the good ones: header token, form token, Referer instead of Origin
    assert c.post("/logout", headers={"X-CSRF-Token": tok,
                                      "Origin": "http://localhost"}).status_code == 303
    tok = token_of(c)
    assert c.post("/logout", data={"csrf_token": tok},
                  headers={"Referer": "http://localhost/containers"}).status_code == 303


def test_security_headers_everywhere():
    app = make_app()
    c = app.test_client()
    for path in ("/login", "/static/style.css", "/nope", "/healthz"):
        h = c.get(path).headers
        assert h["Content-Security-Policy"] == CSP, path
        assert h["X-Content-Type-Options"] == "nosniff"
        assert h["Referrer-Policy"] == "same-origin"
        assert h["X-Frame-Options"] == "DENY"
    assert "script-src 'self'" in CSP and "frame-ancestors 'none'" in CSP
    assert "unsafe-inline" not in CSP and "unsafe-eval" not in CSP


def test_read_only_refuses_every_non_get_whatever_the_route():
    app = make_app(read_only=True)
    c = app.test_client()
    tok = token_of(c)
    h = {"X-CSRF-Token": tok, "Origin": "http://localhost"}
    for path in ("/containers/abc/start", "/containers/create", "/images/pull",
                 "/containers/abc", "/anything/new"):
        for method in ("post", "put", "delete", "patch"):
            r = getattr(c, method)(path, headers=h)
            assert r.status_code == 403, (method, path)
            assert "read-only" in r.get_data(as_text=True)
    # logout (and login) stay allowed
    assert c.post("/logout", headers=h).status_code == 303


# --- secret masking ------------------------------------------------------------------
@pytest.mark.parametrize("name", ["DB_PASSWORD", "MYSQL_ROOT_PASSWORD", "api_key", "GITHUB_TOKEN",
                                  "AWS_SECRET_ACCESS_KEY", "PGPASSWD", "SMTP_PASS", "PRIVATE_PEM",
                                  "AUTH_HEADER", "GOOGLE_APPLICATION_CREDENTIALS", "SENTRY_DSN",
                                  "SESSION_COOKIE", "Secret"])
def test_secret_names(name):
    assert looks_secret(name, "v")


@pytest.mark.parametrize("name", ["PATH", "HOME", "HOSTNAME", "PWD", "LANG", "TZ", "PORT", "USER"])
def test_plain_names(name):
    assert not looks_secret(name, "v")


def test_url_with_credentials_is_secret_whatever_the_name():
    assert looks_secret("DATABASE_URL", "postgres://app:hunter2@db:5432/app")
    assert not looks_secret("UPSTREAM", "http://db:5432/app")


def test_env_pairs_and_inspect_masking():
    env = ["DB_PASSWORD=hunter2", "PLAIN=ok", "EMPTY_TOKEN=", "NOVALUE", "X=a=b"]
    rows = env_pairs(env)
    assert [r["value"] for r in rows] == [MASK, "ok", MASK, "", "a=b"]
    assert [r["masked"] for r in rows] == [True, False, True, False, False]
    assert env_pairs(env, reveal=True)[0]["value"] == "hunter2"
    c = {"Id": "x", "Config": {"Env": env, "Image": "i"}}
    m = mask_inspect(c)
    assert "hunter2" not in str(m) and m["Config"]["Env"][0] == f"DB_PASSWORD={MASK}"
    assert m["Config"]["Env"][3] == "NOVALUE" and m["Config"]["Image"] == "i"
    assert c["Config"]["Env"][0] == "DB_PASSWORD=hunter2"  # the original is untouched
    assert mask_inspect(c, reveal=True) is c


def test_refusals_tell_an_outsider_nothing_about_the_engine():
    app = make_app(password="pw")
    c = app.test_client()
    r = c.get("/containers", headers={"Host": "evil.example"})
    assert r.status_code == 400 and r.mimetype == "text/plain"
    assert "nonexistent" not in r.get_data(as_text=True)  # DOCKER_HOST is not shown
    r = c.post("/containers/abc/stop")  # a form sent with no session
    body = r.get_data(as_text=True)
    assert r.status_code == 401 and 'type="password"' in body and "session has ended" in body
    assert "nonexistent" not in body and "Log out" not in body
    assert "Log out" not in c.get("/login").get_data(as_text=True)


def test_the_slowdown_is_shared_through_its_file_and_capped_after_a_restart(tmp_path):
    now = [1000.0]
    path = tmp_path / "state" / "logins.json"
    worker_a = Throttle(clock=lambda: now[0], path=path)
    worker_b = Throttle(clock=lambda: now[0], path=path)
    for _ in range(Throttle.FREE):
        worker_a.failed("198.51.100.1")
    assert worker_b.failed("198.51.100.1") == 1.0  # the fourth, counted in the other worker
    assert worker_a.wait_left("198.51.100.1") == 1.0
    for _ in range(20):
        worker_b.failed("198.51.100.1")
    # a restart with the clock set back a day: the wait is never longer than the cap
    now[0] -= 86400
    again = Throttle(clock=lambda: now[0], path=path)
    assert 0 < again.wait_left("198.51.100.1") <= Throttle.MAX_DELAY
    again.succeeded("198.51.100.1")
    assert worker_a.wait_left("198.51.100.1") == 0.0
    path.write_text("not json")  # a broken file starts afresh, never a crash
    assert worker_b.wait_left("198.51.100.1") == 0.0 and worker_b.failed("x") == 0.0


# --- WebSocket handshakes: the Origin ------------------------------------------------
WS_FOREIGN = "its Origin is another site"  # the refusal of a foreign or missing Origin


@pytest.mark.parametrize("origins", [
    ["http://["], ["http://[::1"], ["http://a:notaport"], ["http://local\thost"],
    ["http://localhost\x01"], ["http://local\x7fhost"], ["http://localhost/" + "a" * 5000],
    ["http://localhost", "http://localhost"], ["null"], ["localhost"], ["ftp://localhost"],
    ["http://évil.example"],
], ids=lambda o: repr(o)[:40])
def test_a_malformed_websocket_origin_is_refused_as_a_foreign_one(origins):
    c = make_app().test_client()
    headers = [("Upgrade", "websocket"), ("Connection", "Upgrade")]
    headers += [("Origin", o) for o in origins]
    for path in ("/healthz", "/containers/x/terminal/ws"):
        r = c.get(path, headers=headers)
        assert r.status_code == 403, (origins, path, r.status_code)
        assert WS_FOREIGN in r.get_data(as_text=True), (origins, path)


def test_a_plain_same_origin_websocket_passes_the_origin_check():
    # the next check (no CSRF token offered) refuses it: the Origin itself passed
    c = make_app().test_client()
    r = c.get("/healthz", headers={"Upgrade": "websocket", "Origin": "http://localhost"})
    assert r.status_code == 403
    body = r.get_data(as_text=True)
    assert WS_FOREIGN not in body and "CSRF token" in body


# --- an engine name that is not configured ------------------------------------------
TWO_ENGINES = "alpha-eng=unix:///nonexistent/alpha.sock,spare-eng=unix:///nonexistent/spare.sock"
LAYOUT = ("/nonexistent/", "alpha-eng", "spare-eng")  # what only the guards' passers may see


def _tells_nothing(body: str) -> None:
    assert not [w for w in LAYOUT if w in body], body[:300]


def test_an_unknown_engine_meets_the_host_check_first():
    c = make_app(engines=TWO_ENGINES).test_client()
    for method, path in (("GET", "/engines/nope/containers"), ("GET", "/engines/nope"),
                         ("GET", "/engines/nope/containers/x/logs"),
                         ("POST", "/engines/nope/containers/x/stop")):
        r = c.open(path, method=method, headers={"Host": "evil.example"})
        body = r.get_data(as_text=True)
        assert r.status_code == 400 and "not allowed" in body, (method, path)
        _tells_nothing(body)


def test_an_unknown_engine_sends_a_logged_out_visitor_to_login_first():
    c = make_app(engines=TWO_ENGINES, password="pw").test_client()
    r = c.get("/engines/nope/containers")
    assert r.status_code == 302
    assert r.headers["Location"] == "/login?next=/engines/nope/containers"
    _tells_nothing(r.get_data(as_text=True))
    r = c.get("/engines/nope/containers/rows", headers={"HX-Request": "true"})
    assert r.status_code == 401 and r.headers["HX-Redirect"].startswith("/login")
    _tells_nothing(r.get_data(as_text=True))
    r = c.post("/engines/nope/containers/x/stop")  # a form sent with no session
    assert r.status_code == 401 and 'type="password"' in r.get_data(as_text=True)
    _tells_nothing(r.get_data(as_text=True))
    login(c, "pw")  # logged in: the 404 that names the engines
    r = c.get("/engines/nope/containers")
    body = r.get_data(as_text=True)
    assert r.status_code == 404
    assert "There is no engine named “nope” here. Engines: alpha-eng, spare-eng." in body


def test_an_unknown_engine_is_the_404_naming_the_engines_without_a_password():
    c = make_app(engines=TWO_ENGINES).test_client()
    for path in ("/engines/nope/containers", "/engines/nope", "/engines/nope/containers/x"):
        r = c.get(path)
        assert r.status_code == 404, path
        assert "Engines: alpha-eng, spare-eng." in r.get_data(as_text=True), path


# --- the session cookie, verified once per text -------------------------------------
def _open(app, text: str):
    with app.test_request_context(headers={"Cookie": f"periscope_session={text}"}):
        from flask import request
        return app.session_interface.open_session(app, request)


def test_a_remembered_session_cookie_is_checked_as_a_new_one(monkeypatch):
    """A cookie's text that verified once is not verified again, but a
    changed text is, its age is checked on every use, and each request gets
    its own copy of the data."""
    import time as _time

    app = make_app(password="pw-1")
    si = app.session_interface
    with app.app_context():
        text = si.get_signing_serializer(app).dumps({"auth": "a", "csrf": "t", "seen": [1]})
    first = _open(app, text)
    assert dict(first) == {"auth": "a", "csrf": "t", "seen": [1]}
    assert len(si._opened) == 1  # remembered
    first["csrf"] = "changed"
    first["seen"].append(2)
    again = _open(app, text)  # answered from memory: the data as signed, not as changed
    assert dict(again) == {"auth": "a", "csrf": "t", "seen": [1]}
    assert again is not first
    # one character of the signature changed: a new text, verified, refused
    # (one in its middle: the last one's low bits may be base64's padding)
    at = len(text) - 10
    tampered = text[:at] + ("A" if text[at] != "A" else "g") + text[at + 1:]
    assert dict(_open(app, tampered)) == {}
    # older than the session's lifetime, or signed in the future: refused from memory too
    real = _time.time
    life = app.permanent_session_lifetime.total_seconds()
    monkeypatch.setattr(_time, "time", lambda: real() + life + 60)
    assert dict(_open(app, text)) == {}
    monkeypatch.setattr(_time, "time", lambda: real() - 3600)
    assert dict(_open(app, text)) == {}
    monkeypatch.setattr(_time, "time", real)
    assert dict(_open(app, text)) == {"auth": "a", "csrf": "t", "seen": [1]}
    # the secret key changed: the remembered text means nothing to the new one
    app.secret_key = "another-secret"
    assert dict(_open(app, text)) == {}


def test_the_remembered_cookies_are_bounded():
    app = make_app()
    si = app.session_interface
    with app.app_context():
        s = si.get_signing_serializer(app)
        texts = [s.dumps({"n": i}) for i in range(si.OPENED + 20)]
    for i, t in enumerate(texts):
        assert dict(_open(app, t)) == {"n": i}
    assert len(si._opened) == si.OPENED


def test_answers_go_to_the_server_in_pieces_of_at_most_send_piece():
    from app.security import SEND_PIECE, PiecewiseResponse

    body = bytes(range(256)) * (3 * SEND_PIECE // 256 + 7)
    pieces = list(PiecewiseResponse(body).iter_encoded())
    assert len(pieces) == 4 and max(map(len, pieces)) == SEND_PIECE and b"".join(pieces) == body
    assert list(PiecewiseResponse(b"small").iter_encoded()) == [b"small"]
    streamed = PiecewiseResponse(iter([b"a" * (SEND_PIECE + 1), b"b"]))
    assert [len(p) for p in streamed.iter_encoded()] == [SEND_PIECE, 1, 1]
