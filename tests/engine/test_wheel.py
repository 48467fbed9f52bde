"""The wheel, as a user installs it: `pip install` of the built wheel (not -e)
into a fresh venv outside the checkout, started by the `periscope` command and
by plain `gunicorn 'app:create_app()'`; every GET page answers, and the
vendored htmx is the checkout's byte for byte."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
import requests

from conftest import ARTIFACTS, IMAGE, ROOT, free_port, login_http

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel_venv(tmp_path_factory):
    d = tmp_path_factory.mktemp("wheel")
    out = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w",
                          str(d / "dist"), str(ROOT)], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    wheel = next((d / "dist").glob("periscope-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "app/templates/base.html" in names and "app/static/vendor/htmx/htmx.min.js" in names
    assert not any(n.startswith(("tests/", "templates/", "static/")) for n in names)
    subprocess.run([sys.executable, "-m", "venv", str(d / "venv")], check=True, timeout=120)
    pip = subprocess.run([str(d / "venv/bin/pip"), "install", "-q", str(wheel)],
                         capture_output=True, text=True, timeout=600)
    assert pip.returncode == 0, pip.stderr[-3000:]
    return d


def serve(d: Path, argv: list[str], port: int, env_extra: dict | None = None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERISCOPE_")}
    env.update({"PERISCOPE_BIND": f"127.0.0.1:{port}", "PYTHONPATH": "", **(env_extra or {})})
    ARTIFACTS.mkdir(exist_ok=True)
    log = open(ARTIFACTS / f"wheel-{port}.log", "wb")
    # run from a folder that is not the checkout: nothing can be found there by accident
    proc = subprocess.Popen(argv, cwd=d, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, (ARTIFACTS / f"wheel-{port}.log").read_text()[-3000:]
        try:
            requests.get(url + "/healthz", timeout=1)
            return proc, url, log
        except requests.RequestException:
            time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    raise AssertionError("the installed Periscope did not answer in 30 s")


def stop(proc, log):
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
    log.close()


def get_pages(app_rules, url: str, cid: str, http, volume: str, project: str) -> dict[str, int]:
    """Every GET route of the app, with a real container for <ref>, a real
    volume and Compose project for <name> (a pull job's and a prune's pages
    need one made first: not here)."""
    out = {}
    for rule in app_rules:
        if "GET" not in rule.methods or rule.endpoint == "static" or "<job_id>" in rule.rule:
            continue
        if rule.websocket:  # the terminal's socket: a plain GET is refused (400) by design
            continue
        ref = "host" if rule.endpoint.startswith("networks.") else cid  # a network every engine has
        name = volume if rule.endpoint.startswith("volumes.") else project
        path = rule.rule.replace("<ref>", ref).replace("<engine>", "default").replace(
            "<path:ref>", IMAGE).replace("<kind>", "images").replace("<name>", name)
        if "<" in path:
            continue
        params = None
        if path.endswith("/poll"):  # a container's cursor, and a merged log's (empty)
            params = {"cursor": "1-0", "cur": ""}
        elif path.endswith("/logs/download") and "/containers/" not in path:
            params = {"c": cid}  # merged logs of picked containers
        if rule.endpoint == "images.confirm_remove":
            params = {"ref": IMAGE}
        r = http.get(url + path, params=params, timeout=20, allow_redirects=False)
        out[path] = r.status_code
        assert "Traceback" not in r.text, path
    return out


def test_the_installed_wheel_serves_every_page(wheel_venv, run_container, docker_host, docker):
    from app import create_app
    from conftest import LABEL, SESSION, make_settings, unique_name

    rules = list(create_app(make_settings()).url_map.iter_rules())
    # a container of a Compose project (by its labels) with a named volume:
    # the <name> pages of both are loaded too
    volume, project = unique_name("wheelvol"), unique_name("wheelproj")
    docker("volume", "create", "--label", f"{LABEL}={SESSION}", volume)
    cid = None
    try:
        cid = run_container("echo from-the-wheel; sleep 300", args=["-v", f"{volume}:/data"],
                            labels={"com.docker.compose.project": project,
                                    "com.docker.compose.service": "web",
                                    "com.docker.compose.container-number": "1"})
        _serve_every_page(wheel_venv, docker_host, rules, cid, volume, project)
    finally:
        if cid:
            docker("rm", "-f", cid)
        docker("volume", "rm", "-f", volume)


def _serve_every_page(wheel_venv, docker_host, rules, cid, volume, project):
    htmx = (ROOT / "static/vendor/htmx/htmx.min.js").read_bytes()
    # the command as shipped; then plain gunicorn with none of Periscope's
    # configuration, behind a password (so the login page is loaded too)
    for argv, password in (([str(wheel_venv / "venv/bin/periscope")], None),
                           ([str(wheel_venv / "venv/bin/gunicorn"), "--bind", None,
                             "app:create_app()"], "wheel-pw")):
        port = free_port()
        argv = [a if a is not None else f"127.0.0.1:{port}" for a in argv]
        env = {"DOCKER_HOST": docker_host}
        if password:
            env.update(PERISCOPE_PASSWORD=password, PERISCOPE_SECRET_KEY="wheel-test")
        proc, url, log = serve(wheel_venv, argv, port, env)
        try:
            http = requests.Session()
            if password:
                login_http(http, url, password)
            codes = get_pages(rules, url, cid, http, volume, project)
            assert codes.pop("/") == 302 and codes.pop("/login") == 302
            assert codes.pop("/engines/default/") == 302  # to that engine's list
            # a service's pages on an engine in no swarm: the plain "not a
            # swarm manager" answer (its polls, the lists and /nodes say so
            # in place with a 200, and poll on)
            swarm_only = {p: c for p, c in codes.items()
                          if re.match(r"(/engines/default)?/services/[0-9a-f]{64}", p)}
            assert swarm_only[f"/services/{cid}"] == 409, swarm_only
            assert set(swarm_only.values()) <= {200, 409}, swarm_only
            for p in swarm_only:
                codes.pop(p)
            assert {p: c for p, c in codes.items() if c != 200} == {}, argv
            page = http.get(url + f"/containers/{cid}/logs", timeout=10).text
            assert "from-the-wheel" in page
            assert requests.get(url + "/static/vendor/htmx/htmx.min.js", timeout=10).content == htmx
            css = re.search(r'href="(/static/style\.css[^"]*)"', page).group(1)
            assert requests.get(url + css, timeout=10).status_code == 200
            missing = http.get(url + "/no-such-page", timeout=10)
            assert missing.status_code == 404 and "Page not found" in missing.text
        finally:
            stop(proc, log)
        assert "TemplateNotFound" not in (ARTIFACTS / f"wheel-{port}.log").read_text()
