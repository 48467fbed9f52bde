"""TLS to the engine, against a real dockerd this module starts on 127.0.0.1
with --tlsverify and certificates made here with openssl; and plain tcp://
against another dockerd on 127.0.0.1. Both are stopped and removed at the end,
pass or fail."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
import requests

from app import create_app
from app.gateway import Engine, parse_host
from conftest import IMAGE, free_port, make_settings, screenshot
from private_engine import PrivateDockerd, make_certs, require_dockerd


@pytest.fixture(scope="module")
def certs():
    require_dockerd()
    d = Path(tempfile.mkdtemp(prefix="sec6-certs-", dir="/tmp"))
    try:
        yield d, make_certs(d)
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def tls_engine(certs):
    d, _ = certs
    port = free_port()
    eng = PrivateDockerd(tcp_port=port, tls_dir=d).start()
    try:
        yield eng
    finally:
        eng.stop()


@pytest.fixture(scope="module")
def plain_engine():
    require_dockerd()
    eng = PrivateDockerd(tcp_port=free_port()).start()
    try:
        yield eng
    finally:
        eng.stop()


def tls_env(folder: Path) -> dict[str, str]:
    return {"DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": str(folder)}


def app_for(host: str, env: dict[str, str]):
    s = make_settings(docker_host=host, connect_timeout=3.0, read_timeout=10.0)
    return create_app(s, engine=Engine(parse_host(host, env), connect_timeout=3.0,
                                       read_timeout=10.0))


def docker_cli(eng: PrivateDockerd, *args: str, folder: Path | None = None,
               input: bytes | None = None) -> str:
    """The docker CLI against a private engine (the independent witness)."""
    argv = ["docker", "-H", eng.unix_host, *args]
    proc = subprocess.run(argv, capture_output=True, input=input, timeout=120)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    return proc.stdout.decode()


def load_test_image(eng: PrivateDockerd, docker) -> None:
    saved = docker.raw("save", IMAGE)
    if saved.returncode != 0:
        pytest.skip(f"cannot save {IMAGE} from the dev engine")
    docker_cli(eng, "load", input=saved.stdout)


def test_tls_with_the_right_client_certificate(tls_engine, certs, docker, start_server):
    d, folders = certs
    load_test_image(tls_engine, docker)
    cid = docker_cli(tls_engine, "run", "-d", "--name", "over-tls", "--label", "proof=tls",
                     IMAGE, "sleep", "300").strip()
    host = f"tcp://127.0.0.1:{tls_engine.tcp_port}"
    # under gunicorn, configured the docker CLI's way: environment variables only
    srv = start_server({"DOCKER_HOST": host, **tls_env(folders["good"])})
    r = requests.get(srv.url + "/containers", timeout=15)
    assert r.status_code == 200, r.text[:500]
    assert cid in r.text and "over-tls" in r.text
    assert re.search(r'class="badge ok">TCP with TLS<', r.text)
    r = requests.get(srv.url + f"/containers/{cid[:12]}", timeout=15)
    assert r.status_code == 200 and "proof" in r.text
    # the curl line in the calls panel names the certificates
    assert "--cacert" in r.text and "--cert" in r.text
    assert requests.get(srv.url + "/healthz", timeout=15).json()["engine"] == "ok"


def test_the_event_watch_over_tls_reads_on_through_quiet_spells(tls_engine, certs):
    """The watch waits on the TLS socket before reading (bytes the TLS layer
    holds count as there): quiet spells keep its stream, and an event still
    reaches it on that stream."""
    import time

    _, folders = certs
    host = f"tcp://127.0.0.1:{tls_engine.tcp_port}"
    eng = Engine(parse_host(host, tls_env(folders["good"])), share_for=0.2, quiet_for=0.4)
    f = {"label": ["periscope.nothing=here"]}

    def until(cond, seconds=15.0):
        end = time.monotonic() + seconds
        while not cond():
            assert time.monotonic() < end, "not within 15 s"
            eng.containers(filters=f)  # someone keeps looking (paced, not waited on)
            time.sleep(0.1)

    try:
        eng.containers(filters=f)
        until(lambda: eng.watch.connected_at is not None)
        connected = eng.watch.connected_at
        end = time.monotonic() + 5 * eng.watch.hold
        until(lambda: time.monotonic() > end)
        assert eng.watch.connections == 1 and eng.watch.connected_at == connected
        seen = eng.watch.last_event
        docker_cli(tls_engine, "volume", "create", "periscope-watch-tls")
        until(lambda: eng.watch.last_event > seen)
        assert eng.watch.connections == 1
    finally:
        eng.close()
        subprocess.run(["docker", "-H", tls_engine.unix_host, "volume", "rm", "-f",
                        "periscope-watch-tls"], capture_output=True, timeout=60)


def test_a_tls_engine_in_the_engines_file_beside_the_local_one(tls_engine, certs, docker,
                                                               docker_host, start_server,
                                                               tmp_path):
    _, folders = certs
    load_test_image(tls_engine, docker)
    cid = docker_cli(tls_engine, "run", "-d", "--label", "proof=tls-list", IMAGE,
                     "sleep", "300").strip()
    f = tmp_path / "engines.toml"
    f.write_text(f'[engines.local]\nurl = "{docker_host}"\n\n'
                 f'[engines.secure]\nurl = "tcp://127.0.0.1:{tls_engine.tcp_port}"\n'
                 f'tls = "{folders["good"]}"\n\n'
                 f'[engines.wrongca]\nurl = "tcp://127.0.0.1:{tls_engine.tcp_port}"\n'
                 f'tls = "{folders["wrong_ca"]}"\n')
    srv = start_server({"PERISCOPE_ENGINES_FILE": str(f)})
    r = requests.get(srv.url + "/containers?label=proof=tls-list", timeout=15)
    assert r.status_code == 200
    assert re.search(rf'data-id="{cid}"[^>]*data-engine="secure"', r.text)
    row = re.search(r'<tr class="engine-trouble[^"]*" data-engine="wrongca">(.*?)</tr>',
                    r.text, re.S).group(1)
    assert "TLS handshake failed" in row and "not signed by the CA" in row
    page = requests.get(srv.url + "/engines", timeout=15).text
    assert "TCP with TLS" in page
    detail = requests.get(srv.url + f"/engines/secure/containers/{cid}", timeout=15)
    assert detail.status_code == 200 and "--cacert" in detail.text


@pytest.mark.parametrize("folder, host, words", [
    ("wrong_client", "127.0.0.1", ["TLS handshake failed", "refused the client certificate",
                                   "wrong_client/cert.pem"]),
    ("wrong_ca", "127.0.0.1", ["TLS handshake failed", "certificate verify failed",
                               "not signed by the CA in", "wrong_ca/ca.pem"]),
    # the server's certificate is made out to IP 127.0.0.1 only: not to "localhost"
    ("good", "localhost", ["TLS handshake failed", "Hostname mismatch",
                           "not made out to localhost"]),
])
def test_tls_failures_are_a_clear_page(tls_engine, certs, folder, host, words):
    _, folders = certs
    app = app_for(f"tcp://{host}:{tls_engine.tcp_port}", tls_env(folders[folder]))
    c = app.test_client()
    r = c.get("/containers")
    html = r.get_data(as_text=True)
    assert r.status_code == 503, html[:500]
    for w in words:
        assert w in html, (w, html[:2000])
    assert "Traceback" not in html and "_ssl.c" not in html and "[SSL:" not in html
    assert "refused the TLS connection" in html and "Check its TLS folder" in html
    # an htmx poll gets the same reason as a notice, retargeted to #flash
    r = c.get("/containers/rows", headers={"HX-Request": "true"})
    assert r.status_code == 503 and r.headers["HX-Retarget"] == "#flash"
    assert "TLS handshake failed" in r.get_data(as_text=True)


def test_plain_http_to_the_tls_port_is_refused(tls_engine):
    app = app_for(f"tcp://127.0.0.1:{tls_engine.tcp_port}", {})
    r = app.test_client().get("/containers")
    assert r.status_code == 400
    assert "HTTP request to an HTTPS server" in r.get_data(as_text=True)


def test_plain_tcp_says_unencrypted(plain_engine, start_server):
    host = f"tcp://127.0.0.1:{plain_engine.tcp_port}"
    srv = start_server({"DOCKER_HOST": host, "DOCKER_TLS_VERIFY": ""})
    for path in ("/containers", "/engines/default"):
        r = requests.get(srv.url + path, timeout=15)
        assert r.status_code == 200, r.text[:500]
        assert re.search(r'class="badge warn">TCP, unencrypted<', r.text), path
        assert f">{host}</code>" in r.text


@pytest.mark.browser
def test_tls_error_page_screenshot(tls_engine, certs, start_server, page):
    _, folders = certs
    srv = start_server({"DOCKER_HOST": f"tcp://127.0.0.1:{tls_engine.tcp_port}",
                        **tls_env(folders["wrong_client"])})
    page.goto(srv.url + "/containers")
    assert page.locator(".status-code").inner_text() == "503"
    assert "TLS handshake failed" in page.locator(".error-page").inner_text()
    screenshot(page, "security-tls-error")
    assert page.dialogs == []
