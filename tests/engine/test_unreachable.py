"""An engine that does not answer: every page about it is a 503 that names it
and the OS error, and recovers by itself when the engine is back; the engines
page lists it with its error."""

import os
import socket

import pytest

from app import create_app
from conftest import make_settings


def app_for(host):
    return create_app(make_settings(docker_host=host))


@pytest.mark.parametrize("path", ["/containers", "/containers?all=1", "/containers/rows",
                                  "/containers/abc", "/engines/default", "/events", "/whoami"])
def test_missing_socket_is_a_503_page(tmp_path, path):
    host = f"unix://{tmp_path}/missing.sock"
    r = app_for(host).test_client().get(path)
    assert r.status_code == 503
    html = r.get_data(as_text=True)
    assert host in html and "No such file or directory" in html
    assert "Traceback" not in html
    # it polls (its own engine) until the engine is back
    want = "/engines/default/engine/wait" if path.startswith("/engines/") else "/engine/wait"
    assert f'hx-get="{want}"' in html


def test_the_engines_page_names_a_dead_engine_and_its_error(tmp_path):
    host = f"unix://{tmp_path}/missing.sock"
    r = app_for(host).test_client().get("/engine")  # the old URL of the engines page
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    row = html.split('data-engine="default"', 1)[1].split("</tr>", 1)[0]
    assert "unreachable" in row and "No such file or directory" in row and host in html


def test_refused_tcp_port_is_a_503_page():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    r = app_for(f"tcp://127.0.0.1:{port}").test_client().get("/containers")
    assert r.status_code == 503
    assert "Connection refused" in r.get_data(as_text=True)


def test_htmx_poll_gets_a_notice_in_flash(tmp_path):
    r = app_for(f"unix://{tmp_path}/missing.sock").test_client().get(
        "/containers/rows", headers={"HX-Request": "true"})
    assert r.status_code == 503
    assert r.headers["HX-Retarget"] == "#flash"
    assert "does not answer" in r.get_data(as_text=True)


def test_healthz_is_503_when_unreachable(tmp_path):
    r = app_for(f"unix://{tmp_path}/missing.sock").test_client().get("/healthz")
    assert r.status_code == 503 and r.json["engine"] == "unreachable"


def test_recovers_when_the_engine_comes_back(tmp_path, docker_host):
    assert docker_host.startswith("unix://"), "this test links to the engine's socket"
    link = tmp_path / "engine.sock"
    client = app_for(f"unix://{link}").test_client()
    assert client.get("/containers").status_code == 503
    waiting = client.get("/engine/wait", headers={"HX-Request": "true"})
    assert waiting.status_code == 200 and "HX-Refresh" not in waiting.headers
    assert 'hx-trigger="load delay:' in waiting.get_data(as_text=True)
    os.symlink(docker_host[len("unix://"):], link)  # the engine is back
    back = client.get("/engine/wait", headers={"HX-Request": "true"})
    assert back.headers.get("HX-Refresh") == "true"
    assert client.get("/containers").status_code == 200
