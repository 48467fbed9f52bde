"""Deployment: build the image with the real Dockerfile, run it as users do
(socket mounted, --network host, a --hostname of its own), and check from the
outside that it finds itself, turns healthy and refuses to stop itself.

python:3.12-slim cannot be pulled everywhere: when it is missing, a local base
is made with debootstrap (Debian bookworm, python3 + venv), cached as a tarball
under ~/.cache/periscope/ and imported as periscope-base:bookworm.
"""

from __future__ import annotations

import json
import os
import re
import time
import uuid

import pytest
import requests

from conftest import LABEL, SESSION, free_port

pytestmark = [pytest.mark.slow, pytest.mark.engine]

from deploykit import BASE_TAG, BASE_VERSION, IMAGE_TAG, ensure_base  # noqa: E402,F401


# --- the test ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def image(deploy_image):
    return deploy_image


def _socket_path(docker_host: str) -> str:
    if not docker_host.startswith("unix://"):
        pytest.skip("the deployment test mounts the engine socket: DOCKER_HOST must be unix://")
    return docker_host[len("unix://"):]


def _csrf(sess: requests.Session, base: str) -> str:
    page = sess.get(base + "/containers", timeout=10)
    assert page.status_code == 200
    m = re.search(r'<body hx-headers=\'\{"X-CSRF-Token": "([^"]+)"\}\'', page.text)
    assert m, "no CSRF token in <body hx-headers>"
    return m.group(1)


def test_image_runs_finds_itself_turns_healthy_and_refuses_to_stop_itself(docker, docker_host,
                                                                          image):
    sock = _socket_path(docker_host)
    gid = os.stat(sock).st_gid
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    name = f"periscope-deploy-{SESSION}-{uuid.uuid4().hex[:6]}"
    hostname = "not-the-container-id"
    # the image's own settings
    cfg = json.loads(docker("image", "inspect", image))[0]["Config"]
    assert cfg["User"] == "10001:10001"
    assert cfg["Labels"]["org.opencontainers.image.title"] == "Periscope"
    assert cfg["Healthcheck"]["Test"][0] == "CMD"
    env = dict(e.split("=", 1) for e in cfg["Env"])
    assert env["PERISCOPE_BIND"] == "0.0.0.0:8000"
    cid = docker("run", "-d", "--name", name, "--label", f"{LABEL}={SESSION}",
                 "--network", "host", "--hostname", hostname,
                 "-v", f"{sock}:/var/run/docker.sock", "--group-add", str(gid),
                 "-e", f"PERISCOPE_BIND=127.0.0.1:{port}",
                 "--health-interval", "1s", "--health-start-period", "2s",
                 image).strip()
    try:
        t0 = time.monotonic()
        state = {}
        while time.monotonic() - t0 < 60:
            state = docker.inspect(cid)["State"]
            if not state.get("Running") or (state.get("Health") or {}).get("Status") == "healthy":
                break
            time.sleep(0.25)
        logs = docker("logs", cid, check=False)
        assert state.get("Running"), f"the container stopped: {state}\n{logs}"
        assert state["Health"]["Status"] == "healthy", f"{state['Health']}\n{logs}"
        print(f"healthy {time.monotonic() - t0:.1f} s after docker run")

        # whoami: the ID the engine reports, and how it was found
        inside = docker.inspect(cid)
        assert inside["Config"]["Hostname"] == hostname
        r = requests.get(base + "/whoami", timeout=10)
        assert r.status_code == 200, r.text[-2000:]
        m = re.search(r'id="whoami-verdict" data-method="([a-z]+)" data-id="([0-9a-f]{64})"', r.text)
        assert m, r.text[-3000:]
        method, shown = m.groups()
        assert shown == inside["Id"] == cid
        assert method in ("cgroup", "mountinfo"), method  # the hostname cannot say it here
        assert "Found by" in r.text and name in r.text
        assert 'id="socket-warning"' in r.text  # the socket mount is picked out
        print(f"whoami found {cid[:12]} by {method}")

        # its own stop (and kill, pause, remove) buttons are refused, with the reason
        sess = requests.Session()
        token = _csrf(sess, base)
        headers = {"X-CSRF-Token": token, "Origin": base}
        for action in ("stop", "kill", "pause", "remove"):
            resp = sess.post(f"{base}/containers/{cid}/{action}", headers=headers,
                             data={"csrf_token": token}, timeout=30, allow_redirects=False)
            assert resp.status_code == 403, (action, resp.status_code, resp.text[-1500:])
            assert "own container" in resp.text, (action, resp.text[-1500:])
        assert docker.inspect(cid)["State"]["Status"] == "running"
        # the same session can act on another container: the refusal is not a CSRF failure
        other = docker("create", "--label", f"{LABEL}={SESSION}", "periscope-test:busybox",
                       "sleep", "30").strip()
        try:
            resp = sess.post(f"{base}/containers/{other}/start", headers=headers,
                             data={"csrf_token": token}, timeout=30, allow_redirects=False)
            assert resp.status_code in (200, 303), resp.text[-1500:]
            assert docker.inspect(other)["State"]["Running"]
        finally:
            docker("rm", "-f", other, check=False)
    finally:
        docker("rm", "-f", "-v", cid, check=False)
    assert docker.raw("inspect", "--type", "container", cid).returncode != 0


def test_in_a_private_cgroup_namespace_mountinfo_finds_it(docker, docker_host, image):
    """With --cgroupns private /proc/self/cgroup names nothing: the second way,
    the mounts behind /etc/hostname and friends, must find the container."""
    sock = _socket_path(docker_host)
    port = free_port()
    cid = docker("run", "-d", "--label", f"{LABEL}={SESSION}", "--network", "host",
                 "--cgroupns", "private", "--hostname", "elsewhere",
                 "-v", f"{sock}:/var/run/docker.sock", "--group-add", str(os.stat(sock).st_gid),
                 "-e", f"PERISCOPE_BIND=127.0.0.1:{port}", image).strip()
    try:
        assert "docker" not in docker("exec", cid, "cat", "/proc/self/cgroup")
        deadline = time.monotonic() + 30
        r = None
        while time.monotonic() < deadline:
            try:
                r = requests.get(f"http://127.0.0.1:{port}/whoami", timeout=5)
                break
            except requests.ConnectionError:
                time.sleep(0.2)
        assert r is not None and r.status_code == 200, docker("logs", cid, check=False)
        m = re.search(r'id="whoami-verdict" data-method="([a-z]+)" data-id="([0-9a-f]{64})"', r.text)
        assert m and m.groups() == ("mountinfo", cid), r.text[-3000:]
        assert re.search(r'data-method="cgroup" data-outcome="no-candidate"', r.text)
    finally:
        docker("rm", "-f", "-v", cid, check=False)


def test_healthcheck_turns_unhealthy_without_an_engine(docker, image):
    """No socket mounted: the app serves, /healthz answers 503, the check fails."""
    port = free_port()
    cid = docker("run", "-d", "--label", f"{LABEL}={SESSION}", "--network", "host",
                 "-e", f"PERISCOPE_BIND=127.0.0.1:{port}", "--health-interval", "1s",
                 "--health-retries", "1", "--health-start-period", "1s", image).strip()
    try:
        # until a check ran while the app served (earlier ones may find no
        # listener yet on a busy machine): it answered 503, the check failed
        deadline = time.monotonic() + 60
        health: dict = {}
        while time.monotonic() < deadline:
            health = docker.inspect(cid)["State"].get("Health") or {}
            if any("503" in e.get("Output", "") for e in health.get("Log") or []):
                break
            time.sleep(0.25)
        assert health.get("Status") == "unhealthy", health
        assert any("503" in e.get("Output", "") and e.get("ExitCode") == 1
                   for e in health.get("Log") or []), health
        r = requests.get(f"http://127.0.0.1:{port}/containers", timeout=10)
        assert r.status_code == 503 and "does not answer" in r.text
    finally:
        docker("rm", "-f", "-v", cid, check=False)
