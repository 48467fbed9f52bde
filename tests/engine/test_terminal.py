"""The terminal against real engines, through Periscope under gunicorn: a
WebSocket client does what the page's script does; the docker CLI is the
witness of what runs in the container (ExecIDs, top).

The handshake is refused (and no exec made) from another Origin, without the
token, without a session where a password is set, and in read-only mode; the
relay carries keystrokes and output both ways; the end of every kind is said
(exit code, a command that could not start, the container stopped or
removed, idle); closing ends the exec; the cap holds and pages still answer.
Also over tcp+TLS and ssh."""

from __future__ import annotations

import concurrent.futures as cf
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import requests

from conftest import (IMAGE, LABEL, ROOT, SESSION, LiveServer, free_port, login_http,
                      unique_name)
from termkit import Page, exec_ids, execs_created, processes, raw_handshake, wait_gone


@pytest.fixture(scope="module")
def server():
    srv = LiveServer()
    yield srv
    srv.stop()


def shell(docker_run, **kw) -> str:
    return docker_run("sleep 600", **kw)


def page_of(srv, cid: str, prefix: str = "") -> Page:
    p = Page(srv.url, f"{prefix}/containers/{cid}/terminal")
    assert p.status == 200 and p.ws_path, p.text[:500]
    return p


def test_keystrokes_output_resize_and_exit_code(server, run_container, docker):
    cid = shell(run_container)
    p = page_of(server, cid)
    t = p.connect(rows=30, cols=100)
    started = t.started()
    assert started["command"] == "/bin/sh" and exec_ids(docker, cid) == [started["exec"]]
    t.send(b"stty size\r")
    t.wait_output(b"30 100")  # the size asked for at the start
    t.resize(20, 70)
    t.send(b"stty size; echo $((6*7))\r")
    t.wait_output(b"20 70")
    t.wait_re(rb"\r\n42\r\n")
    t.send(b"exit 3\r")
    end = t.end()
    assert end["reason"] == "exit" and end["code"] == 3 and end["again"] is True
    assert "exit code 3" in end["text"]


def test_a_command_that_ends_at_once_still_shows_output_and_exit_code(server, run_container):
    cid = shell(run_container)
    t = page_of(server, cid).connect(shell="custom", argv="echo hi")
    end = t.end()
    assert b"hi\r\n" in t.output
    assert end["reason"] == "exit" and end["code"] == 0


def test_a_missing_executable_says_so(server, run_container):
    cid = shell(run_container)
    t = page_of(server, cid).connect(shell="bash")
    end = t.end()
    assert end["reason"] == "missing" and end["code"] in (126, 127)
    assert "/bin/bash could not be started" in end["text"]
    assert b"/bin/bash" in t.output  # the engine's own words, in the terminal


def test_user_and_working_dir(server, run_container):
    cid = shell(run_container)
    t = page_of(server, cid).connect(shell="custom", argv="sh -c 'id -u; pwd'", user="nobody",
                                     workdir="/tmp")
    t.end()
    assert b"65534\r\n/tmp\r\n" in t.output


def test_bad_input_is_refused_plainly_without_an_exec(server, run_container, docker):
    cid = shell(run_container)
    p = page_of(server, cid)
    t0 = time.time()
    for q, words in (({"shell": "custom", "argv": ""}, "type the command"),
                     ({"workdir": "tmp"}, "absolute path"),
                     ({"user": "a b"}, "the user is a name")):
        end = p.connect(**q).end()
        assert end["reason"] == "refused" and words in end["text"], end
    assert execs_created(docker, cid, t0) == []


def test_a_stopped_container_says_so_at_once(server, run_container, docker):
    cid = run_container("trap 'exit 0' TERM; while :; do sleep 1; done")
    t = page_of(server, cid).connect()
    t.started()
    t.wait_output(b"# ")
    docker("stop", "-t", "1", cid)
    end = t.end(timeout=10)
    assert end["reason"] == "stopped" and end["again"] is False, end
    assert "stopped" in end["text"]


def test_a_removed_container_says_so(server, run_container, docker):
    cid = shell(run_container)
    t = page_of(server, cid).connect()
    t.started()
    t.wait_output(b"# ")
    docker("rm", "-f", cid)
    end = t.end(timeout=10)
    # killed, then removed: the end is seen between the two or after both
    assert end["reason"] in ("removed", "stopped") and end["again"] is False, end


def test_a_container_that_is_not_running(server, run_container, docker):
    cid = run_container("true")
    docker("wait", cid)
    p = Page(server.url, f"/containers/{cid}/terminal")
    assert p.status == 200 and p.ws_path is None and "a terminal runs a command in a running" in p.text
    # a socket opened anyway (an old page) is told, and no exec is made
    p2 = page_of(server, shell(run_container))  # a session and token from a live page
    p2.ws_path = f"/containers/{cid}/terminal/ws"
    t0 = time.time()
    end = p2.connect().end()
    assert end["reason"] == "refused" and "not running" in end["text"]
    assert execs_created(docker, cid, t0) == []


@pytest.mark.parametrize("how", ["close", "drop"])
def test_closing_ends_the_exec_and_what_it_started(server, run_container, docker, how):
    cid = shell(run_container)
    t = page_of(server, cid).connect()
    t.started()
    t.send(b"sleep 4321 & sleep 4322\r")
    deadline = time.monotonic() + 30
    while not any("sleep 4322" in p for p in processes(docker, cid)):
        assert time.monotonic() < deadline, processes(docker, cid)
        time.sleep(0.1)
    getattr(t, how)()
    left = wait_gone(docker, cid, "sleep 432", shell=True)
    assert not any("sleep 432" in p or p.strip() == "/bin/sh" for p in left), left
    assert any("sleep 600" in p for p in left)  # the container's own process is untouched


@pytest.mark.parametrize("case", ["other-origin", "no-origin", "no-token", "wrong-token"])
def test_refused_handshakes_create_no_exec(server, run_container, docker, case):
    cid = shell(run_container)
    p = page_of(server, cid)
    t0 = time.time()
    headers = {"Cookie": p.cookie, "Origin": server.url,
               "Sec-WebSocket-Protocol": f"periscope.terminal, csrf.{p.csrf}"}
    if case == "other-origin":
        headers["Origin"] = "http://evil.example"
    elif case == "no-origin":
        del headers["Origin"]
    elif case == "no-token":
        headers["Sec-WebSocket-Protocol"] = "periscope.terminal"
    else:
        headers["Sec-WebSocket-Protocol"] = "periscope.terminal, csrf.not-the-token"
    assert raw_handshake(server.url, p.ws_path, headers) == 403
    assert exec_ids(docker, cid) == []
    # the same handshake, right, is accepted: the refusal was for that one reason
    t = p.connect()
    t.started()
    assert len(exec_ids(docker, cid)) == 1
    t.close()
    assert len(execs_created(docker, cid, t0)) == 1  # only the accepted one ever made an exec


def _token(base: str, s: requests.Session) -> str:
    """The session's CSRF token, as any page carries it."""
    page = s.get(base + "/containers", timeout=15).text
    return re.search(r'"X-CSRF-Token": "([^"]+)"', page).group(1)


def _cookie(s: requests.Session) -> str:
    return "; ".join(f"{c.name}={c.value}" for c in s.cookies)


def test_without_a_session_where_a_password_is_set(start_server, run_container, docker):
    srv = start_server({"PERISCOPE_PASSWORD": "s3cret-pass"})
    cid = shell(run_container)
    t0 = time.time()
    s = requests.Session()
    login_http(s, srv.url, "s3cret-pass")
    p = Page(srv.url, f"/containers/{cid}/terminal", session=s)
    assert p.ws_path, p.text[:300]
    stranger = requests.Session()
    stranger.get(srv.url + "/login", timeout=15)  # a session of its own, not logged in
    proto = f"periscope.terminal, csrf.{p.csrf}"
    for headers in ({"Origin": srv.url, "Sec-WebSocket-Protocol": proto},
                    {"Origin": srv.url, "Cookie": _cookie(stranger),
                     "Sec-WebSocket-Protocol": proto}):
        assert raw_handshake(srv.url, p.ws_path, headers) == 302  # to the login page
    assert exec_ids(docker, cid) == [] and execs_created(docker, cid, t0) == []
    t = p.connect()  # logged in: it works
    t.started()
    t.close()


def test_read_only_has_no_terminal_and_refuses_the_socket(start_server, run_container, docker):
    srv = start_server({"PERISCOPE_READ_ONLY": "1"})
    cid = shell(run_container)
    t0 = time.time()
    s = requests.Session()
    r = s.get(srv.url + f"/containers/{cid}/terminal", timeout=15)
    assert r.status_code == 200 and "Terminals are off" in r.text and "read-only" in r.text
    assert 'id="term-form"' not in r.text
    assert "/terminal" not in s.get(srv.url + f"/containers/{cid}", timeout=15).text
    # a socket opened anyway, with the session's real token: 403, no exec
    tok = _token(srv.url, s)
    status = raw_handshake(srv.url, f"/containers/{cid}/terminal/ws",
                           {"Cookie": _cookie(s), "Origin": srv.url,
                            "Sec-WebSocket-Protocol": f"periscope.terminal, csrf.{tok}"})
    assert status == 403
    assert exec_ids(docker, cid) == [] and execs_created(docker, cid, t0) == []


def test_idle_terminals_are_closed_and_ended(start_server, run_container, docker):
    srv = start_server({"PERISCOPE_TERMINAL_IDLE": "1.5"})
    cid = shell(run_container)
    t = page_of(srv, cid).connect()
    t.started()
    t.send(b"sleep 5555\r")
    end = t.end(timeout=15)
    assert end["reason"] == "idle" and "without a keystroke" in end["text"]
    left = wait_gone(docker, cid, "sleep 5555")
    assert not any("sleep 5555" in p for p in left), left


def test_a_stopping_periscope_ends_its_terminals(run_container, docker):
    srv = LiveServer()
    try:
        cid = shell(run_container)
        t = page_of(srv, cid).connect()
        t.started()
        t.send(b"sleep 9876\r")
        deadline = time.monotonic() + 30
        while not any("sleep 9876" in x for x in processes(docker, cid)):
            assert time.monotonic() < deadline
            time.sleep(0.1)
        os.killpg(srv.proc.pid, signal.SIGTERM)  # as a restart or `docker stop` does
        end = t.end()
        assert end["reason"] == "shutdown" and "restarting or stopping" in end["text"]
        left = wait_gone(docker, cid, "sleep 9876")
        assert not any("sleep 9876" in x for x in left), left
        assert srv.proc.wait(30) == 0
    finally:
        if srv.proc.poll() is None:
            srv.stop()
        else:
            srv.log.close()


def test_the_cap_holds_across_workers_and_pages_still_answer(start_server, run_container):
    # 2 workers of 4 threads; 2 terminals in all, 3 per client: the third is refused
    srv = start_server({"PERISCOPE_WORKERS": "2", "PERISCOPE_THREADS": "4",
                        "PERISCOPE_TERMINALS": "2", "PERISCOPE_TERMINALS_PER_CLIENT": "3"})
    cid = shell(run_container)
    p = page_of(srv, cid)
    held = [p.connect() for _ in range(2)]
    for t in held:
        t.started()
    third = p.connect().end()
    assert third["reason"] == "refused" and "All 2 terminals are in use" in third["text"]
    # with the cap reached, the dashboard answers: the list page, several at once
    with cf.ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda _: requests.get(srv.url + "/containers", timeout=10)
                                .status_code, range(6)))
    assert answers == [200] * 6
    # the terminals still work meanwhile, and a slot frees when one closes
    held[0].send(b"echo $((40+2))\r")
    held[0].wait_re(rb"\r\n42\r\n")
    held[1].send(b"exit\r")
    held[1].end()
    deadline = time.monotonic() + 10
    while True:  # the slot frees once the relay's thread is done (a moment after the end)
        again = p.connect()
        again.until(lambda t: t.notices, what="a first notice")
        if again.notices[0]["type"] == "started" or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert again.notices[0]["type"] == "started", again.notices
    for t in (held[0], again):
        t.close()


def test_the_cap_per_client(start_server, run_container):
    srv = start_server({"PERISCOPE_TERMINALS_PER_CLIENT": "1"})
    cid = shell(run_container)
    p = page_of(srv, cid)
    first = p.connect()
    first.started()
    end = p.connect().end()
    assert end["reason"] == "refused" and "You have 1 terminal open already" in end["text"]
    first.close()


def test_too_many_terminals_for_the_threads_stops_the_start():
    env = {"PERISCOPE_THREADS": "4", "PERISCOPE_TERMINALS": "3"}
    proc = subprocess.run([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"],
                          cwd=ROOT, env={**os.environ, **env, "PERISCOPE_BIND": f"127.0.0.1:{free_port()}"},
                          capture_output=True, timeout=30)
    assert proc.returncode != 0
    assert b"PERISCOPE_TERMINALS=3" in proc.stderr and b"half of a worker" in proc.stderr


# --- over tcp+TLS and ssh --------------------------------------------------------------
@pytest.fixture(scope="module")
def tls_engine(docker):
    from private_engine import PrivateDockerd, make_certs, require_dockerd

    require_dockerd()
    d = Path(tempfile.mkdtemp(prefix="pterm-certs-", dir="/tmp"))
    eng = None
    try:
        folders = make_certs(d)
        eng = PrivateDockerd(tcp_port=free_port(), tls_dir=d).start()
        saved = docker.raw("save", IMAGE)
        assert saved.returncode == 0, saved.stderr
        load = subprocess.run(["docker", "-H", eng.unix_host, "load"], input=saved.stdout,
                              capture_output=True, timeout=120)
        assert load.returncode == 0, load.stderr
        yield eng, folders["good"]
    finally:
        if eng:
            eng.stop()
        shutil.rmtree(d, ignore_errors=True)


def _roundtrip(p: Page) -> None:
    t = p.connect()
    t.started()
    t.send(b"echo $((6*7))\r")
    t.wait_re(rb"\r\n42\r\n")
    t.send(b"exit 3\r")
    end = t.end()
    assert end["reason"] == "exit" and end["code"] == 3


def test_over_tcp_with_tls(tls_engine, start_server):
    from conftest import Docker

    eng, folder = tls_engine
    witness = Docker(eng.unix_host)
    cid = witness("run", "-d", "--label", f"{LABEL}={SESSION}", IMAGE, "sleep", "600").strip()
    srv = start_server({"DOCKER_HOST": f"tcp://127.0.0.1:{eng.tcp_port}",
                        "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": str(folder)})
    p = page_of(srv, cid)
    _roundtrip(p)
    # closing ends it there too
    t = p.connect()
    t.started()
    t.send(b"sleep 6543\r")
    deadline = time.monotonic() + 30
    while not any("sleep 6543" in x for x in processes(witness, cid)):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    t.close()
    left = wait_gone(witness, cid, "sleep 6543")
    assert not any("sleep 6543" in x for x in left), left


@pytest.fixture(scope="module")
def sshd(docker_host):
    from sshkit import SSHServer, require_sshd

    require_sshd()
    srv = SSHServer(docker_host).start()
    yield srv
    srv.stop()


def test_over_ssh(sshd, start_server, run_container, docker, tmp_path):
    f = tmp_path / "engines.toml"
    f.write_text(f'[engines.remote]\nurl = "{sshd.url}"\nssh_config = "{sshd.client_config()}"\n')
    srv = start_server({"PERISCOPE_ENGINES_FILE": str(f)})
    cid = shell(run_container, name=unique_name("termssh"))
    p = page_of(srv, cid, prefix="/engines/remote")
    assert p.ws_path.startswith("/engines/remote/")
    _roundtrip(p)
    t = p.connect()
    t.started()
    t.send(b"sleep 7654\r")
    deadline = time.monotonic() + 30
    while not any("sleep 7654" in x for x in processes(docker, cid)):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    t.drop()
    left = wait_gone(docker, cid, "sleep 7654")
    assert not any("sleep 7654" in x for x in left), left
