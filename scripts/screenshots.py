#!/usr/bin/env python3
"""The README's screenshots (docs/screenshots/*.png), made from a real run.

Starts a few labelled demo containers on DOCKER_HOST's engine (they log on
stdout and stderr, one with a health check), runs the `periscope` command on
a free loopback port, opens the pages in Chromium (light and dark, desktop
and phone width), saves small PNGs, and removes the containers again, also
when something fails. Run it after a change to a page the README shows:

    DOCKER_HOST=unix:///tmp/pdev/docker.sock .venv/bin/python scripts/screenshots.py

Needs the test image (scripts/test.sh imports it: periscope-test:busybox)
and Chromium (PERISCOPE_CHROMIUM, default /usr/bin/chromium).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
IMAGE = os.environ.get("PERISCOPE_TEST_IMAGE", "periscope-test:busybox")
LABEL = "periscope.screenshots=1"
CHROMIUM = os.environ.get("PERISCOPE_CHROMIUM", "/usr/bin/chromium")

DEMO = [
    # name, labels, command
    ("web", ["app=shop", "tier=front"],
     'i=0; while :; do echo "GET /item/$i 200 4.$((i % 9))ms"; '
     '[ $((i % 5)) = 0 ] && echo "slow upstream for /item/$i" >&2; i=$((i+1)); sleep 1; done'),
    ("worker", ["app=shop", "tier=back"],
     'i=0; while :; do echo "job $i done"; i=$((i+1)); sleep 2; done'),
    ("nightly-backup", ["app=ops"], 'echo "backup finished: 0 errors"; exit 0'),
]


def docker(*args: str) -> str:
    p = subprocess.run(["docker", *args], capture_output=True, text=True)
    if p.returncode:
        raise SystemExit(f"docker {' '.join(args)}: {p.stderr.strip()}")
    return p.stdout.strip()


def cleanup() -> None:
    ids = docker("ps", "-aq", "--filter", f"label={LABEL}").split()
    if ids:
        subprocess.run(["docker", "rm", "-f", *ids], capture_output=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_up(url: str, proc: subprocess.Popen, limit: float = 30.0) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("periscope stopped at start")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.1)  # not yet listening: poll again (a start, not a sync point)
    raise SystemExit("periscope did not answer /healthz")


def shoot(base: str, ids: dict[str, str]) -> list[Path]:
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    made = []
    shots = [
        ("containers.png", "/containers?all=1", "light", 1180, 560),
        ("logs-dark.png", f"/containers/{ids['web']}/logs?tail=100", "dark", 1180, 560),
        ("container.png", f"/containers/{ids['web']}", "light", 1180, 640),
        ("containers-phone.png", "/containers", "dark", 390, 760),
    ]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM,
                                    args=["--headless", "--no-sandbox", "--disable-gpu"])
        try:
            for name, path, scheme, width, height in shots:
                page = browser.new_page(viewport={"width": width, "height": height},
                                        color_scheme=scheme)
                page.goto(base + path)
                page.wait_for_load_state("networkidle")
                # the list's stats cells fill with its polls: shoot them with figures
                page.wait_for_function(
                    "() => !document.querySelector('tr[data-id] td.stat.cpu.pending')",
                    timeout=20_000)
                target = OUT / name
                page.screenshot(path=str(target))
                made.append(target)
                page.close()
        finally:
            browser.close()
    return made


def main() -> int:
    if not os.environ.get("DOCKER_HOST"):
        print("set DOCKER_HOST to the engine to show", file=sys.stderr)
        return 2
    cleanup()
    ids = {}
    proc = None
    try:
        for name, labels, cmd in DEMO:
            args = ["run", "-d", "--name", f"{name}-demo", "--label", LABEL]
            for lab in labels:
                args += ["--label", lab]
            if name == "web":
                args += ["--health-cmd", "true", "--health-interval", "2s"]
            ids[name] = docker(*args, IMAGE, "sh", "-c", cmd)
        docker("wait", ids["nightly-backup"])
        port = free_port()
        env = dict(os.environ, PERISCOPE_BIND=f"127.0.0.1:{port}", PERISCOPE_WORKERS="1")
        exe = Path(sys.executable).with_name("periscope")
        proc = subprocess.Popen([str(exe)], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        wait_up(base, proc)
        # the web container's health check and a few log lines first
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (
                docker("inspect", "-f", "{{.State.Health.Status}}", ids["web"]) == "healthy"
                and subprocess.run(["docker", "logs", ids["web"]], capture_output=True,
                                   text=True).stdout.count("\n") >= 8):
            time.sleep(0.2)  # a demo's state to show, not a test's sync point
        for path in shoot(base, ids):
            print(f"{path.relative_to(ROOT)}: {path.stat().st_size // 1024} KB")
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(10)
        cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
