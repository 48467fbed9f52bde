"""Shared fixtures: a real Docker Engine, labelled test containers that are
always removed, the Flask app, a live gunicorn server, and real Chromium.

A test that asks for an engine fixture (docker, run_container, client,
live_server...) or is marked `engine` needs a real engine; one that asks for
`page` or `browser` needs Chromium too. Outside CI they are skipped when these
are missing; in CI (CI=true) that is an error, never a skip.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app import create_app  # noqa: E402
from app.config import Settings  # noqa: E402
from app.gateway import Engine, exceptions as ge, parse_host  # noqa: E402

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
SESSION = uuid.uuid4().hex[:10]
LABEL = "periscope.test"
IMAGE = os.environ.get("PERISCOPE_TEST_IMAGE", "periscope-test:busybox")
ARTIFACTS = ROOT / "artifacts"
CHROMIUM = os.environ.get("PERISCOPE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-quic", "--no-first-run", "--disable-component-update", "--disable-sync"]


def _engine_status() -> tuple[bool, str]:
    if os.environ.get("PERISCOPE_NO_ENGINE"):
        return False, "scripts/test.sh found no engine"
    try:
        Engine(parse_host(os.environ.get("DOCKER_HOST")), connect_timeout=3).ping()
    except ge.EngineError as exc:
        return False, exc.message
    return True, ""


ENGINE_OK, ENGINE_WHY = _engine_status()
CHROMIUM_OK = Path(CHROMIUM).exists()


def pytest_configure(config):
    if IN_CI and not ENGINE_OK:
        raise pytest.UsageError(f"CI=true and no Docker Engine answers: {ENGINE_WHY}")
    if IN_CI and not CHROMIUM_OK:
        raise pytest.UsageError(f"CI=true and Chromium is missing at {CHROMIUM}")


# What a test needs is told by the fixtures it asks for (or an explicit mark),
# never by its folder: a test of a fake engine runs without a real one.
ENGINE_FIXTURES = {"docker", "docker_host", "run_container", "test_image", "live_server",
                   "start_server", "deploy_image", "app", "client", "registry",
                   "eng", "tls_engine", "second_engine", "swarm", "compose"}
BROWSER_FIXTURES = {"browser", "page"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if fixtures & BROWSER_FIXTURES:
            item.add_marker(pytest.mark.browser)
        if fixtures & (ENGINE_FIXTURES | BROWSER_FIXTURES):
            item.add_marker(pytest.mark.engine)
        if item.get_closest_marker("engine") and not ENGINE_OK:
            item.add_marker(pytest.mark.skip(reason=f"no Docker Engine: {ENGINE_WHY}"))
        if item.get_closest_marker("browser") and not CHROMIUM_OK:
            item.add_marker(pytest.mark.skip(reason=f"no Chromium at {CHROMIUM}"))


# --- the engine, through the docker CLI (the independent witness) -------------
class Docker:
    """Runs the docker CLI against the test engine."""

    def __init__(self, host: str | None):
        self.env = dict(os.environ)
        if host:
            self.env["DOCKER_HOST"] = host

    def __call__(self, *args: str, check: bool = True, input: bytes | None = None,
                 timeout: float = 120) -> str:
        proc = subprocess.run(["docker", *args], env=self.env, capture_output=True,
                              input=input, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)} failed ({proc.returncode}): "
                                 f"{proc.stderr.decode(errors='replace')}")
        return proc.stdout.decode("utf-8", "replace")

    def raw(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run(["docker", *args], env=self.env, capture_output=True,
                              timeout=timeout)

    def inspect(self, ref: str) -> dict:
        return json.loads(self("inspect", "--type", "container", ref))[0]

    def remove_labelled(self, label: str) -> None:
        ids = self("ps", "-aq", "--filter", f"label={label}", check=False).split()
        if ids:
            self("rm", "-f", "-v", *ids, check=False)


@pytest.fixture(scope="session")
def docker_host() -> str:
    return os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


@pytest.fixture(scope="session")
def docker(docker_host):
    d = Docker(docker_host)
    yield d
    if ENGINE_OK:
        d.remove_labelled(f"{LABEL}={SESSION}")
        d.remove_labelled(f"periscope.elder={SESSION}")  # tests/browser/test_stats_browser.py


@pytest.fixture(scope="session")
def test_image(docker) -> str:
    if docker.raw("image", "inspect", IMAGE).returncode != 0:
        pytest.fail(f"test image {IMAGE} is missing; scripts/test.sh makes it") if IN_CI else \
            pytest.skip(f"test image {IMAGE} is missing; run scripts/test.sh")
    return IMAGE


def unique_name(prefix: str = "pt") -> str:
    return f"{prefix}-{SESSION}-{uuid.uuid4().hex[:6]}"


@pytest.fixture
def run_container(docker, test_image):
    """Start a labelled container with the docker CLI; removed after the test.

    run_container("echo hi", name=..., tty=False, detach=True, args=[...], start=True)
    returns the container's full ID."""
    made: list[str] = []

    def _run(cmd: str | list[str] | None = "sleep 300", *, name: str | None = None,
             tty: bool = False, args: list[str] | None = None, start: bool = True,
             image: str | None = None, labels: dict[str, str] | None = None) -> str:
        name = name or unique_name()
        argv = ["run" if start else "create", "--name", name, "--label", f"{LABEL}={SESSION}"]
        if start:
            argv.append("-d")
        if tty:
            argv.append("-t")
        for k, v in (labels or {}).items():
            argv += ["--label", f"{k}={v}"]
        argv += list(args or [])
        argv.append(image or test_image)
        if isinstance(cmd, str):
            argv += ["sh", "-c", cmd]
        elif cmd:
            argv += list(cmd)
        cid = docker(*argv).strip().splitlines()[-1] if start else docker(*argv).strip()
        if not re.fullmatch(r"[0-9a-f]{64}", cid):
            cid = docker.inspect(name)["Id"]
        made.append(cid)
        return cid

    yield _run
    if made:
        docker("rm", "-f", "-v", *made, check=False)


@pytest.fixture
def compose(docker_host, docker, test_image):
    """Bring up Compose projects with docker-compose; each is brought down
    after the test, failures included.

    compose({"web": {"command": "...", "scale": 2}, "db": {...}}) returns a
    composekit.ComposeProject, already up (`scale` becomes --scale); `volumes`:
    the file's named volumes (labelled too, removed with the project)."""
    from composekit import ComposeProject, available

    if not available():
        pytest.fail("docker-compose is missing") if IN_CI else pytest.skip("no docker-compose")
    made: list[ComposeProject] = []

    def _up(services: dict, *, name: str | None = None, up: bool = True,
            volumes: dict | None = None) -> ComposeProject:
        scales = {k: v.pop("scale") for k, v in services.items() if "scale" in v}
        p = ComposeProject(docker_host, name or f"pc{SESSION}{uuid.uuid4().hex[:6]}", services,
                           label=LABEL, session=SESSION, image=test_image, volumes=volumes)
        made.append(p)
        if up:
            p.up(*[f"--scale={k}={n}" for k, n in scales.items()])
        return p

    yield _up
    for p in made:
        p.down()


@pytest.fixture(scope="session")
def deploy_image(docker):
    """The deployment image, built once per run from the real Dockerfile."""
    from deploykit import build_image

    try:
        return build_image(docker, ROOT, f"test-{SESSION}")
    except RuntimeError as exc:  # no base image could be made
        if IN_CI:
            raise
        pytest.skip(f"no base image for the Dockerfile: {exc}")


@pytest.fixture(scope="session")
def second_engine(docker, test_image):
    """A second engine (a private dockerd on its own socket) holding the test
    image (docker save | docker load), for several-engines tests."""
    from private_engine import PrivateDockerd, require_dockerd

    require_dockerd()
    eng = PrivateDockerd().start()
    try:
        saved = docker.raw("save", test_image)
        assert saved.returncode == 0, saved.stderr
        load = subprocess.run(["docker", "-H", eng.unix_host, "load"], input=saved.stdout,
                              capture_output=True, timeout=120)
        assert load.returncode == 0, load.stderr
        yield eng
    finally:
        eng.stop()


@pytest.fixture(scope="session")
def swarm(docker, test_image):
    """A two-node swarm of its own (tests/swarmkit.py): a manager and a worker,
    private dockerds holding the test image; stopped at the end of the run."""
    from private_engine import require_dockerd
    from swarmkit import Swarm

    require_dockerd()
    sw = Swarm(test_image, docker.env.get("DOCKER_HOST") or "unix:///var/run/docker.sock",
               f"{LABEL}={SESSION}").start()
    try:
        yield sw
    finally:
        sw.stop()


@pytest.fixture(scope="session")
def fault_engines():
    """URLs of two engines that fail: a socket that is missing, and one that
    accepts and never answers."""
    from faultkit import StalledEngine, remove_tree, short_tmp

    d = short_tmp()
    stalled = StalledEngine(d / "stalled.sock")
    yield {"missing": f"unix://{d}/missing.sock", "stalled": f"unix://{stalled.path}"}
    stalled.close()
    remove_tree(d)


# --- the app -----------------------------------------------------------------
def make_settings(**over) -> Settings:
    s = Settings.from_env({"DOCKER_HOST": os.environ.get("DOCKER_HOST", "")})
    s.secret_key = "test-secret"
    # Tests change engines behind Periscope's back (the docker CLI) and look at
    # once: no shared reads unless a test asks (tests of sharing itself do).
    s.share_for = float(over.pop("share_for", 0.0))
    s.poll_interval = float(over.pop("poll_interval", 1.0))
    for k, v in over.items():
        setattr(s, k, v)
    return s


@pytest.fixture
def app():
    return create_app(make_settings())


@pytest.fixture
def client(app):
    return app.test_client()


def csrf_post(client, url: str, data: dict | None = None, **kw):
    """POST as a Periscope page would: session token and same-origin header."""
    with client.session_transaction() as sess:
        token = sess.setdefault("csrf", "t-" + uuid.uuid4().hex)
    headers = {"X-CSRF-Token": token, "Origin": "http://localhost"}
    headers.update(kw.pop("headers", {}))
    return client.post(url, data=data or {}, headers=headers, **kw)


def login_http(session, base: str, password: str, timeout: float = 15) -> None:
    """Log a requests.Session in to a live server as a browser would: the
    login page's token, then the POST from the same origin (a 303 back)."""
    page = session.get(base + "/login", timeout=timeout)
    assert page.status_code == 200 and 'type="password"' in page.text, page.text[:300]
    tok = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    r = session.post(base + "/login", data={"password": password, "csrf_token": tok},
                     headers={"Origin": base}, allow_redirects=False, timeout=timeout)
    assert r.status_code == 303, r.text[:300]


def login(client, password: str, *, next: str | None = None, headers: dict | None = None):
    """Log a Flask test client in as the login page would: GET /login for the
    session's token, then POST it with the password (same origin). Returns the
    POST's response; the token is `client.csrf` afterwards."""
    client.get("/login")
    with client.session_transaction() as sess:
        tok = sess.get("csrf", "")
    data = {"password": password, "csrf_token": tok}
    if next is not None:
        data["next"] = next
    r = client.post("/login", data=data, headers={"Origin": "http://localhost", **(headers or {})})
    with client.session_transaction() as sess:
        client.csrf = sess.get("csrf", tok)
    return r


# --- a live server (gunicorn, as users run it) ----------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    def __init__(self, env: dict[str, str] | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        e = dict(os.environ)
        e.update({"PERISCOPE_BIND": f"127.0.0.1:{self.port}", "PERISCOPE_POLL_INTERVAL": "1",
                  "PERISCOPE_WORKERS": "2", "PERISCOPE_THREADS": "8",
                  "PERISCOPE_SHARE_FOR": "0"})  # see make_settings
        e.update(env or {})
        self.log = open(ARTIFACTS / f"gunicorn-{self.port}.log", "wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"],
                                     cwd=ROOT, env=e, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                self.log.close()
                raise RuntimeError(f"gunicorn exited: see {self.log.name}")
            try:
                requests.get(self.url + "/healthz", timeout=1)
                return
            except requests.RequestException:
                time.sleep(0.1)
        self.stop()  # never leave a server behind
        raise RuntimeError(f"gunicorn did not start in 20 s: see {self.log.name}")

    def stop(self):
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.log.close()


@pytest.fixture(scope="session")
def live_server():
    ARTIFACTS.mkdir(exist_ok=True)
    srv = LiveServer()
    yield srv
    srv.stop()


@pytest.fixture
def start_server():
    """Start extra servers with their own environment; stopped after the test."""
    ARTIFACTS.mkdir(exist_ok=True)
    started = []

    def _start(env: dict[str, str] | None = None) -> LiveServer:
        srv = LiveServer(env)
        started.append(srv)
        return srv

    yield _start
    for s in started:
        s.stop()


# --- real Chromium through Playwright ----------------------------------------------
@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser, request):
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = ctx.new_page()
    pg.dialogs = []  # every alert/confirm a page raises is kept here
    pg.on("dialog", lambda d: (pg.dialogs.append(d.message), d.dismiss()))
    pg.console_errors = []
    pg.on("console", lambda m: m.type == "error" and pg.console_errors.append(m.text))
    yield pg
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        shots = ARTIFACTS / "screenshots"
        shots.mkdir(parents=True, exist_ok=True)
        try:
            pg.screenshot(path=str(shots / f"FAILED-{request.node.name}.png"), full_page=True)
        except Exception:  # noqa: BLE001 - a failed screenshot must not hide the failure
            pass
    ctx.close()


# An answer counts when it was swapped in (afterSettle), or when it was a 204
# (the server's "nothing changed": htmx leaves the page as it is, no settle).
_POLL_WATCH = """() => { if (window.__polls) return; window.__polls = {};
  const count = (e) => { const info = e.detail.pathInfo || {};
    const path = (info.requestPath || '').split('?')[0];
    window.__polls[path] = (window.__polls[path] || 0) + 1; };
  document.addEventListener('htmx:afterSettle', count);
  document.addEventListener('htmx:afterRequest', (e) => {
    if (e.detail.xhr && e.detail.xhr.status === 204) count(e); }); }"""


def polls_done(page, path: str) -> int:
    """How many htmx answers for `path` (no query) the page has swapped in since
    it was loaded (counted from the first call of this function on the page)."""
    page.evaluate(_POLL_WATCH)
    return page.evaluate("(p) => window.__polls[p] || 0", path)


def wait_polls(page, path: str, n: int = 2, timeout: float = 10_000,
               since: int | None = None) -> None:
    """Wait until `n` more htmx answers for `path` have been swapped in or
    said "no change" (a 204), more than `since` (a polls_done count taken
    earlier): a condition, never a fixed sleep."""
    start = polls_done(page, path) if since is None else since
    page.wait_for_function("([p, n]) => (window.__polls[p] || 0) >= n", arg=[path, start + n],
                           timeout=timeout)


def screenshot(page, name: str) -> Path:
    shots = ARTIFACTS / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    path = shots / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)
