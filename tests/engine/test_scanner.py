"""A third-party web scanner in the suite: wapiti (Debian's package) crawls and
attacks a Periscope served under gunicorn against the test engine, which
holds containers with hostile names, labels, env and log lines. It submits
the action forms, so these containers are its to stop and remove. Asserted:
no finding (but the two that only apply over HTTPS, which Periscope does set
behind HTTPS), and no 500 and no traceback in the server's log. Its time is
bounded (--max-scan-time, --max-attack-time) to keep the suite short."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from conftest import ARTIFACTS, IN_CI, SESSION

HOSTILE = '"><img src=x onerror=alert(1)><script>alert(2)</script>'
# Over plain HTTP on loopback these cannot be set (a Secure cookie would never
# come back; browsers ignore HSTS over HTTP): Periscope sets both behind HTTPS.
HTTPS_ONLY = {"Secure Flag cookie", "Strict-Transport-Security is not set",
              "Secure flag is not set in the cookie : periscope_session"}
# injection of every kind, open redirects, CSRF, headers and cookies; blind SQL
# (timing) and the ones that need the network (nikto, wapp) are left out
MODULES = "xss,permanentxss,exec,file,crlf,redirect,sql,ssrf,xxe,csrf,http_headers,cookieflags,csp,methods"


@pytest.fixture
def wapiti():
    path = shutil.which("wapiti")
    if not path:
        if IN_CI:
            pytest.fail("CI=true: wapiti is not installed (apt-get install wapiti)")
        pytest.skip("wapiti is not installed")
    return path


@pytest.mark.slow
def test_wapiti_finds_nothing_and_causes_no_500(wapiti, start_server, run_container, tmp_path):
    for i in range(2):  # its victims: stopped, restarted and removed by the scanner at will
        run_container(f"echo '{HOSTILE}'; echo 'err {HOSTILE}' >&2; sleep 600",
                      name=f"victim{i}-{SESSION}",
                      labels={"evil": HOSTILE}, args=["-e", f"API_TOKEN={HOSTILE}",
                                                      "-e", f"GREETING={HOSTILE}"])
    srv = start_server({"PERISCOPE_ACCESS_LOG": "-"})
    report = tmp_path / "wapiti.json"
    home = tmp_path / "home"  # its session database, not root's ~/.wapiti
    home.mkdir()
    p = subprocess.run([wapiti, "-u", srv.url + "/", "--scope", "folder", "-m", MODULES,
                        "-d", "2", "--max-links-per-page", "25", "--max-scan-time", "120",
                        "--max-attack-time", "12", "--flush-session", "-f", "json", "-o",
                        str(report), "--verify-ssl", "0"],
                       cwd=tmp_path, env=dict(os.environ, HOME=str(home)), capture_output=True,
                       text=True, timeout=600)
    (ARTIFACTS / "wapiti.log").write_text(p.stdout + p.stderr)
    assert report.exists(), p.stdout[-3000:] + p.stderr[-3000:]
    data = json.loads(report.read_text())
    found = []
    for kind in ("vulnerabilities", "anomalies"):
        for category, items in (data.get(kind) or {}).items():
            for item in items:
                info = item.get("info", "")
                if category in HTTPS_ONLY or info in HTTPS_ONLY:
                    continue
                found.append((kind, category, info, item.get("path"), item.get("parameter")))
    assert found == [], found
    assert data.get("infos", {}).get("target"), "the scan did not run"
    log = open(srv.log.name, "rb").read().decode("utf-8", "replace")
    assert "Traceback" not in log
    statuses = [line.split('"')[2].split()[0] for line in log.splitlines()
                if line.count('"') >= 2 and " HTTP/1." in line and line.split('"')[2].strip()]
    assert statuses, "the access log recorded no request"
    assert not [s for s in statuses if s.startswith("5")], "a 500 in the server's log"
    # it really attacked: well over a hundred requests, forms submitted
    assert len(statuses) > 100, len(statuses)
