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
import shutil
import subprocess
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from conftest import IN_CI, LABEL, ROOT, SESSION, free_port

pytestmark = [pytest.mark.slow, pytest.mark.engine]

BASE_VERSION = "bookworm-minbase-py3-v1"
BASE_TAG = "periscope-base:bookworm"
IMAGE_TAG = "periscope:test"
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "periscope"
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")


def _run(argv, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, **kw)


def base_tarball() -> Path:
    """The debootstrapped root filesystem as a tarball, made once and cached."""
    tar = CACHE / f"base-{BASE_VERSION}.tar"
    if tar.exists() and tar.stat().st_size > 10_000_000:
        return tar
    if not shutil.which("debootstrap"):
        if os.geteuid() == 0 and shutil.which("apt-get"):
            _run(["apt-get", "install", "-y", "-qq", "debootstrap"])
        if not shutil.which("debootstrap"):
            raise RuntimeError("debootstrap is missing (apt-get install debootstrap)")
    CACHE.mkdir(parents=True, exist_ok=True)
    work = CACHE / f"rootfs-{uuid.uuid4().hex[:8]}"
    try:
        p = _run(["debootstrap", "--variant=minbase", "--include=python3,python3-venv",
                  "bookworm", str(work), "http://deb.debian.org/debian"], timeout=900)
        if p.returncode != 0:
            raise RuntimeError(f"debootstrap failed: {p.stderr[-2000:]}")
        # This network may intercept TLS: give the image the host's CA bundle so
        # pip inside the build can reach PyPI.
        if HOST_CA.exists():
            (work / "etc/ssl/certs").mkdir(parents=True, exist_ok=True)
            shutil.copy(HOST_CA, work / "etc/ssl/certs/ca-certificates.crt")
        # keep it small: apt lists and caches are not needed in a base
        for sub in ("var/lib/apt/lists", "var/cache/apt/archives"):
            d = work / sub
            if d.is_dir():
                for f in d.iterdir():
                    if f.is_file():
                        f.unlink()
        part = tar.with_suffix(".part")
        p = _run(["tar", "-C", str(work), "-cf", str(part), "."], timeout=600)
        if p.returncode != 0:
            raise RuntimeError(f"tar failed: {p.stderr[-2000:]}")
        part.rename(tar)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return tar


def ensure_base(docker) -> str:
    """A base image for the Dockerfile's PYTHON_IMAGE: python:3.12-slim when the
    engine has it, else the cached debootstrap base, imported once."""
    if docker.raw("image", "inspect", "python:3.12-slim").returncode == 0:
        return "python:3.12-slim"
    have = docker.raw("image", "inspect", "--format",
                      "{{index .Config.Labels \"periscope.base\"}}", BASE_TAG)
    if have.returncode == 0 and have.stdout.decode().strip() == BASE_VERSION:
        return BASE_TAG
    tar = base_tarball()
    with open(tar, "rb") as fh:
        p = subprocess.run(["docker", "import", "-c", f"LABEL periscope.base={BASE_VERSION}",
                            "-", BASE_TAG], stdin=fh, env=docker.env, capture_output=True,
                           timeout=600)
    if p.returncode != 0:
        raise RuntimeError(f"docker import failed: {p.stderr.decode()[-2000:]}")
    return BASE_TAG


if __name__ == "__main__":  # make the base ahead of a test run: python tests/engine/test_deploy.py
    print(base_tarball())


# --- the test ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def image(docker):
    try:
        base = ensure_base(docker)
    except RuntimeError as exc:
        if IN_CI:
            raise
        pytest.skip(f"no base image for the Dockerfile: {exc}")
    t0 = time.monotonic()
    p = docker.raw("build", "--network", "host", "--build-arg", f"PYTHON_IMAGE={base}",
                   "--build-arg", f"REVISION=test-{SESSION}", "-t", IMAGE_TAG, str(ROOT),
                   timeout=1200)
    out = p.stdout.decode(errors="replace") + p.stderr.decode(errors="replace")
    assert p.returncode == 0, f"docker build failed:\n{out[-4000:]}"
    print(f"\nbuilt {IMAGE_TAG} from {base} in {time.monotonic() - t0:.1f} s")
    return IMAGE_TAG


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
        deadline = time.monotonic() + 40
        status = ""
        while time.monotonic() < deadline:
            health = docker.inspect(cid)["State"].get("Health") or {}
            status = health.get("Status", "")
            if status in ("healthy", "unhealthy"):
                break
            time.sleep(0.25)
        assert status == "unhealthy", health
        assert "503" in (health.get("Log") or [{}])[-1].get("Output", "")
        r = requests.get(f"http://127.0.0.1:{port}/containers", timeout=10)
        assert r.status_code == 503 and "does not answer" in r.text
    finally:
        docker("rm", "-f", "-v", cid, check=False)
