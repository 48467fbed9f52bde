"""Who may reach Periscope and what every response carries.

- Host header allow-list (DNS rebinding defence), on every route.
- CSRF: every state-changing request carries the session's token (form field
  `csrf_token` or header `X-CSRF-Token`, which htmx sends) and a same-origin
  Origin or Referer.
- Security headers on every response, with a CSP that allows no inline script.
- An optional password (PERISCOPE_PASSWORD, or PERISCOPE_PASSWORD_FILE holding
  a werkzeug hash): every route but the login page, /static and /healthz needs
  a logged-in session; failed attempts slow the client down.
- WebSocket handshakes (the terminal): Origin must be this Host and the CSRF
  token must be offered as a subprotocol (see check_websocket).
- Read-only mode (PERISCOPE_READ_ONLY=1): every state-changing request but
  login, logout and the secret reveal is refused with 403, whatever its route,
  and so are the pages that exist only to make one (`changes_state`). This is
  the one read-only guard.
"""

from __future__ import annotations

import contextlib
import copy
import fcntl
import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from collections import OrderedDict
from pathlib import Path
from urllib.parse import urlsplit

from flask import (Flask, Response, abort, current_app, redirect, render_template, request,
                   session, url_for)
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import BadSignature
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.security import check_password_hash

from .web import engine_entry, is_htmx, settings

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
       "object-src 'none'")


def csrf_token() -> str:
    tok = session.get("csrf")
    if not tok:
        tok = secrets.token_urlsafe(32)
        session["csrf"] = tok
    return tok


def _host_allowed(host_header: str, allowed: list[str]) -> bool:
    host = (host_header or "").strip().lower()
    if not host:
        return False
    if host.startswith("["):  # [::1]:8000
        end = host.find("]")
        name = host[: end + 1] if end != -1 else host
    else:
        name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    return name in allowed or "*" in allowed


def _site_of(src: str | None) -> str | None:
    """The host[:port] an Origin or Referer names (lowercase), or None when it
    is not a plain http(s) URL (non-ASCII, over 4096 bytes, a space or control
    character, "http://[")."""
    if not src or len(src) > 4096 or not src.isascii() or any(ord(c) < 33 for c in src):
        return None
    try:
        parts = urlsplit(src)
        netloc = parts.netloc.lower()
    except ValueError:
        return None
    return netloc if parts.scheme in ("http", "https") else None


def _same_origin() -> bool:
    """The Origin (else the Referer) names this very site. Any header that is
    not a plain URL (given twice, non-ASCII, "http://[") is not."""
    origins = request.headers.getlist("Origin")
    if len(origins) > 1 or len(request.headers.getlist("Referer")) > 1:
        return False
    origin = origins[0] if origins else None
    src = origin if origin and origin != "null" else request.headers.get("Referer")
    site = _site_of(src)
    return site is not None and site == (request.host or "").lower()


def check_csrf() -> None:
    sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token", "")
    expected = session.get("csrf")
    if not expected or not sent or not hmac.compare_digest(
            str(sent).encode("utf-8", "surrogateescape"),
            str(expected).encode("utf-8", "surrogateescape")):
        abort(403, description="This form has expired or did not come from Periscope "
                               "(missing or wrong CSRF token). Reload the page and try again.")
    if not _same_origin():
        abort(403, description="Refused: the request did not come from a Periscope page "
                               "(cross-origin Origin or Referer).")


# --- WebSockets (the terminal) ---------------------------------------------------
# Browsers apply no same-origin rule to a WebSocket: any page may open one to
# Periscope (cross-site WebSocket hijacking). So a handshake must come from a
# Periscope page (Origin is this Host) and carry the session's CSRF token, sent
# as one of the offered subprotocols (`csrf.<token>`), never in the URL, which
# access logs keep. The server answers with WS_PROTOCOL only, never the token.
WS_PROTOCOL = "periscope.terminal"
SEND_PIECE = 64 * 1024  # bytes of an answer sent in one write (see PiecewiseResponse)
WS_TOKEN_PREFIX = "csrf."


def is_websocket() -> bool:
    return request.headers.get("Upgrade", "").strip().lower() == "websocket"


def check_websocket() -> None:
    origins = request.headers.getlist("Origin")
    # one plain URL (as a POST's Origin must be): a malformed one is a foreign one
    netloc = _site_of(origins[0]) if len(origins) == 1 else None
    if (netloc is None or netloc != (request.host or "").lower()
            or not _host_allowed(netloc, settings().allowed_hosts)):
        abort(403, description="Refused: this WebSocket was not opened by a Periscope page "
                               "(its Origin is another site's, or missing).")
    offered = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",")]
    sent = next((p[len(WS_TOKEN_PREFIX):] for p in offered if p.startswith(WS_TOKEN_PREFIX)), "")
    expected = session.get("csrf")
    if WS_PROTOCOL not in offered or not expected or not sent or not hmac.compare_digest(
            sent.encode("utf-8", "surrogateescape"), str(expected).encode("utf-8", "surrogateescape")):
        abort(403, description="Refused: this WebSocket did not carry the page's CSRF token. "
                               "Reload the page and try again.")


# --- the optional password -------------------------------------------------------
HASH_HOWTO = ("python3 -c 'import getpass, werkzeug.security as w; "
              "print(w.generate_password_hash(getpass.getpass()))' > periscope.hash")


class PasswordConfigError(ValueError):
    """PERISCOPE_PASSWORD / PERISCOPE_PASSWORD_FILE cannot be used as given."""


class Password:
    """The one password, held as given (PERISCOPE_PASSWORD) or as a werkzeug
    hash (PERISCOPE_PASSWORD_FILE). Checks take the same time whatever part of
    the guess is right."""

    def __init__(self, *, plain: str | None = None, hashed: str | None = None):
        if (plain is None) == (hashed is None):
            raise ValueError("give the password or its hash")
        self._digest = hashlib.sha256(plain.encode()).digest() if plain is not None else None
        self._hash = hashed
        # What a logged-in session carries: changes when the password changes,
        # so a new password logs every old session out.
        basis = self._hash.encode() if self._hash else self._digest
        self.fingerprint = hashlib.sha256(b"periscope-login:" + basis).hexdigest()[:32]

    def check(self, guess: str) -> bool:
        guess = guess or ""
        if self._hash is not None:
            try:
                return check_password_hash(self._hash, guess)
            except (ValueError, TypeError):
                return False
        return hmac.compare_digest(hashlib.sha256(guess.encode()).digest(), self._digest)


def load_password(password: str | None, password_file: str | None) -> Password | None:
    """The configured password, or None when Periscope runs without one."""
    if password and password_file:
        raise PasswordConfigError("Set PERISCOPE_PASSWORD or PERISCOPE_PASSWORD_FILE, not both.")
    if password:
        return Password(plain=password)
    if not password_file:
        return None
    try:
        text = Path(password_file).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise PasswordConfigError(
            f"PERISCOPE_PASSWORD_FILE={password_file!r} cannot be read: {exc.strerror}") from None
    method = text.split("$", 1)[0]
    if text.count("$") < 2 or not method.split(":", 1)[0] in ("scrypt", "pbkdf2"):
        raise PasswordConfigError(
            f"PERISCOPE_PASSWORD_FILE={password_file!r} does not hold a password hash "
            f"(expected 'scrypt:...' or 'pbkdf2:...'). Make one with: {HASH_HOWTO}")
    return Password(hashed=text)


class Throttle:
    """Failed logins per client address: after FREE failures each new try must
    wait 1, 2, 4 ... up to MAX_DELAY seconds. At most MAX_CLIENTS addresses are
    remembered (the oldest forgotten first), each for FORGET_AFTER seconds.

    With `path` (a file in the state folder the gunicorn workers share) every
    worker counts in the same place, under a lock, so two workers do not give a
    guesser twice the tries; it survives a restart, and a wait read back is
    never longer than MAX_DELAY from now (a clock set back locks nobody out)."""

    FREE = 3
    MAX_DELAY = 60.0
    MAX_CLIENTS = 4096
    FORGET_AFTER = 900.0

    def __init__(self, clock=time.time, path: Path | None = None):
        self._clock = clock
        self._lock = threading.Lock()
        self._path = path
        self._seen: OrderedDict[str, tuple[int, float]] = OrderedDict()  # ip -> (failures, until)

    def __len__(self) -> int:
        with self._shared():
            return len(self._seen)

    @contextlib.contextmanager
    def _shared(self, write: bool = False):
        """The counts, read from the shared file (and written back)."""
        with self._lock:
            if self._path is None:
                yield
                return
            self._path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            with open(self._path.with_suffix(".lock"), "a+b") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                try:
                    self._load()
                    yield
                    if write:
                        self._save()
                finally:
                    fcntl.flock(lock, fcntl.LOCK_UN)

    def _load(self) -> None:
        self._seen = OrderedDict()
        try:
            data = json.loads(self._path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return  # none yet, or unreadable: start afresh
        now = self._clock()
        if not isinstance(data, list):
            return
        for item in data[-self.MAX_CLIENTS:]:
            try:
                ip, n, until = str(item[0]), int(item[1]), float(item[2])
            except (TypeError, ValueError, IndexError):
                continue
            self._seen[ip] = (n, min(until, now + self.MAX_DELAY))

    def _save(self) -> None:
        tmp = self._path.with_name(f".{self._path.name}.{secrets.token_hex(4)}")
        tmp.write_text(json.dumps([[ip, n, u] for ip, (n, u) in self._seen.items()]),
                       encoding="utf-8")
        os.chmod(tmp, 0o600)
        os.replace(tmp, self._path)

    def _entry(self, ip: str, now: float) -> tuple[int, float] | None:
        entry = self._seen.get(ip)
        if entry and now - entry[1] > self.FORGET_AFTER:
            del self._seen[ip]
            return None
        return entry

    def wait_left(self, ip: str) -> float:
        """Seconds before this address may try again (0: now)."""
        with self._shared():
            now = self._clock()
            entry = self._entry(ip, now)
            return max(0.0, entry[1] - now) if entry else 0.0

    def attempt(self, ip: str) -> tuple[bool, float]:
        """One login try from this address, before its password is checked:
        (False, seconds left to wait) refuses it, uncounted; (True, delay)
        lets it through counted as a failure already (succeeded() clears it),
        delay being the wait it imposes on the next try. One lock (and the
        shared file's) for both, so tries sent at once cannot all find the
        address free: at most one passes each wait."""
        with self._shared(write=True):
            now = self._clock()
            entry = self._entry(ip, now)
            if entry and entry[1] > now:
                return False, entry[1] - now
            return True, self._count(ip, now)

    def failed(self, ip: str) -> float:
        """Count a failure; returns the wait now imposed on the next try."""
        with self._shared(write=True):
            return self._count(ip, self._clock())

    def _count(self, ip: str, now: float) -> float:
        entry = self._entry(ip, now)
        n = (entry[0] if entry else 0) + 1
        delay = 0.0 if n <= self.FREE else min(2.0 ** (n - self.FREE - 1), self.MAX_DELAY)
        self._seen[ip] = (n, now + delay)
        self._seen.move_to_end(ip)
        while len(self._seen) > self.MAX_CLIENTS:
            self._seen.popitem(last=False)
        return delay

    def succeeded(self, ip: str) -> None:
        with self._shared(write=True):
            self._seen.pop(ip, None)


def password() -> Password | None:
    return current_app.extensions.get("periscope.password")


def throttle() -> Throttle:
    return current_app.extensions["periscope.throttle"]


def is_authenticated() -> bool:
    pw = password()
    if pw is None:
        return True
    mark = session.get("auth")
    return isinstance(mark, str) and hmac.compare_digest(mark, pw.fingerprint)


def log_in() -> None:
    """Start a fresh session (no fixation): logged in, with a new CSRF token."""
    session.clear()
    session["auth"] = password().fingerprint
    session["csrf"] = secrets.token_urlsafe(32)


def local_path(target: str | None) -> str | None:
    """`target` when it is a path on this site (never another site), else None."""
    t = (target or "").strip()
    if (not t.startswith("/") or t.startswith("//") or t.startswith("/\\")
            or any(ord(ch) < 32 for ch in t) or len(t) > 2000):
        return None
    return t


def safe_next(target: str | None) -> str:
    """A local path to go back to; anything else goes to the list."""
    return local_path(target) or url_for("containers.index")


# Open without a session: the login page itself, static files, the healthcheck.
OPEN_ENDPOINTS = {"auth.login", "static", "system.healthz"}
# State-changing requests that stay allowed in read-only mode.
READ_ONLY_EXEMPT = {"auth.login", "auth.logout", "containers.reveal_env", "services.reveal_env",
                    "images.reveal_env"}
READ_ONLY_MESSAGE = ("Periscope runs read-only (PERISCOPE_READ_ONLY=1): nothing can be created, "
                     "pulled, started, stopped, removed or pruned from here.")


def changes_state(view):
    """Marks a GET view that exists only to change something (the create form,
    a confirm step): read-only mode refuses it as it refuses every POST."""
    view.changes_state = True
    return view


def _writes(app: Flask) -> bool:
    if request.method not in SAFE_METHODS:
        return request.endpoint not in READ_ONLY_EXEMPT
    view = app.view_functions.get(request.endpoint or "")
    return bool(getattr(view, "changes_state", False))


def _login_required():
    if is_htmx():
        # Never a login page inside a partial: send the whole page to login.
        cur = urlsplit(request.headers.get("HX-Current-URL", ""))
        back = cur.path + ("?" + cur.query if cur.query else "") if (
            cur.netloc or "").lower() == (request.host or "").lower() else ""
        login = url_for("auth.login", next=safe_next(back)) if back else url_for("auth.login")
        body = render_template("errors/_notice.html", status=401, kind="login",
                               title="Logged out", message="Log in again to go on.")
        return body, 401, {"HX-Redirect": login, "HX-Retarget": "#flash",
                           "HX-Reswap": "innerHTML"}
    if request.method in ("GET", "HEAD"):
        return redirect(url_for("auth.login", next=safe_next(request.full_path.rstrip("?"))))
    # A form sent after the session ended: the login page (not a page that
    # would show the engine's address to someone not logged in).
    return render_template("auth/login.html", next=url_for("containers.index"),
                           error="Your session has ended: log in again, then repeat what you "
                                 "were doing."), 401


class _SessionInterface(SecureCookieSessionInterface):
    """The session cookie is Secure whenever the request came over HTTPS (as
    ProxyFix reports it when PERISCOPE_TRUSTED_PROXY=1).

    A cookie that was verified once is not verified again while it is the
    same text: Flask builds a signer and checks the signature (keys derived,
    two HMACs, the tagged JSON decoded) on every request, about 0.15 ms here,
    for the same cookie a viewer sends with every poll. Only a cookie whose
    signature held is remembered, under the exact text and the serializer it
    held for (the secret keys); its age is checked on every use as the signer
    checks it, and each request gets its own copy of the data."""

    OPENED = 512  # cookies remembered per process (a few viewers' sessions)

    def __init__(self) -> None:
        self._signers: dict[tuple, object] = {}
        self._opened: OrderedDict[tuple, tuple[dict, float]] = OrderedDict()
        self._opened_lock = threading.Lock()

    def get_cookie_secure(self, app) -> bool:
        try:
            return bool(app.config["SESSION_COOKIE_SECURE"] or request.is_secure)
        except RuntimeError:  # outside a request
            return bool(app.config["SESSION_COOKIE_SECURE"])

    def get_signing_serializer(self, app):
        """Flask's serializer, made once per set of keys (not per request)."""
        return self._signer(app)[1]

    def _signer(self, app) -> tuple[tuple, object]:
        """(the keys, Flask's serializer for them), made once per set of keys."""
        key = (app.secret_key, tuple(app.config.get("SECRET_KEY_FALLBACKS") or ()),
               self.salt, self.key_derivation, self.digest_method)
        signer = self._signers.get(key)
        if signer is None:
            signer = super().get_signing_serializer(app)
            if signer is not None:
                signer = self._signers.setdefault(key, signer)
        return key, signer

    def open_session(self, app, request):
        keys, signer = self._signer(app)
        if signer is None:
            return None
        text = request.cookies.get(self.get_cookie_name(app))
        if not text:
            return self.session_class()
        max_age = int(app.permanent_session_lifetime.total_seconds())
        key = (keys, text)  # (the keys themselves: what they verified is theirs alone)
        with self._opened_lock:
            hit = self._opened.get(key)
            if hit is not None:
                self._opened.move_to_end(key)
        if hit is not None:
            data, signed_at = hit
            if 0 <= time.time() - signed_at <= max_age:  # as the signer's age check
                return self.session_class(copy.deepcopy(data))
        try:
            data, when = signer.loads(text, max_age=max_age, return_timestamp=True)
        except BadSignature:
            return self.session_class()
        with self._opened_lock:
            self._opened[key] = (copy.deepcopy(data), when.timestamp())
            while len(self._opened) > self.OPENED:
                self._opened.popitem(last=False)
        return self.session_class(data)


class PiecewiseResponse(Response):
    """Flask's response, its body handed to the server in pieces of at most
    SEND_PIECE bytes: the server writes each with Python's sendall, whose
    timeout (PERISCOPE_SEND_TIMEOUT, see _send_deadline) holds over the
    whole write. A page of a megabyte in one piece would need a client
    taking 35 KB/s to be sent within 30 s; in pieces, each has the whole
    setting, and a client taking 2 KB/s still gets every page."""

    def iter_encoded(self):
        for item in super().iter_encoded():
            if len(item) <= SEND_PIECE:
                yield item
            else:
                for i in range(0, len(item), SEND_PIECE):
                    yield item[i:i + SEND_PIECE]


def init_app(app: Flask) -> None:
    st = app.extensions["periscope.settings"]
    app.response_class = PiecewiseResponse
    app.extensions["periscope.password"] = load_password(st.password, st.password_file)
    app.extensions["periscope.throttle"] = Throttle(
        path=Path(st.state_dir) / "logins.json" if st.state_dir else None)
    app.session_interface = _SessionInterface()
    if st.trusted_proxy:
        # One proxy in front: trust its X-Forwarded-For (client address, for the
        # login slowdown) and X-Forwarded-Proto (HTTPS, for the Secure cookie).
        # Never X-Forwarded-Host: the Host allow-list checks the real header.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=0, x_port=0,
                                x_prefix=0)

    @app.before_request  # first: before any guard answers, or reads a form's body
    def _send_deadline():
        # A client that stops reading (stalled, or hostile), or sends a body
        # it never finishes, would hold the thread answering it for as long
        # as it likes, and a handful would hold every thread of a worker: each
        # piece of the request's body must come, and each piece of the answer
        # go out, within the setting, else the connection is dropped. gunicorn
        # makes the socket blocking again for the next request on it. A
        # WebSocket's socket is the terminal's, quiet for minutes at a time:
        # left alone.
        limit = settings().send_timeout
        sock = request.environ.get("gunicorn.socket")
        if limit and sock is not None and not is_websocket():
            sock.settimeout(limit)

    @app.before_request
    def _guard():
        if not _host_allowed(request.host, settings().allowed_hosts):
            # Plain text, nothing from the page layout: a DNS-rebinding page
            # that reads this answer learns nothing (not even DOCKER_HOST).
            return (f"400 Bad Request: Host {request.host[:100]!r} is not allowed. Set "
                    "PERISCOPE_ALLOWED_HOSTS to serve under another name.\n", 400,
                    {"Content-Type": "text/plain; charset=utf-8"})
        if not is_authenticated() and request.endpoint not in OPEN_ENDPOINTS:
            return _login_required()
        if _writes(app) and engine_entry().read_only:
            abort(403, description=READ_ONLY_MESSAGE)
        if is_websocket():
            check_websocket()
        if request.method not in SAFE_METHODS:
            check_csrf()

    @app.after_request
    def _headers(resp):
        h = resp.headers
        h.setdefault("Content-Security-Policy", CSP)
        h.setdefault("X-Content-Type-Options", "nosniff")
        h.setdefault("Referrer-Policy", "same-origin")
        h.setdefault("X-Frame-Options", "DENY")
        # the auditor is gone from today's browsers; old ones block rather than "repair"
        h.setdefault("X-XSS-Protection", "1; mode=block")
        if request.is_secure:  # behind HTTPS (a trusted proxy says so): stay there
            h.setdefault("Strict-Transport-Security", "max-age=31536000")
        if "HX-Request" in request.headers or request.endpoint in ("containers.index",):
            h.add("Vary", "HX-Request")
        return resp

    @app.context_processor
    def _auth_globals():
        return {"auth_enabled": password() is not None,
                "logged_in": password() is not None and is_authenticated()}

    app.jinja_env.globals["csrf_token"] = csrf_token
