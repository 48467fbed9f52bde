"""A private dockerd for one test module: its own data root, exec root,
pidfile and unix socket under /tmp/sec6-dockerd-*/, --bridge=none
--iptables=false, optionally listening on 127.0.0.1:PORT (plain or TLS).
Stopped and cleaned up whatever happens (processes it started, its mounts,
its folder). Also: openssl-made certificates for TLS tests.

Starting dockerd needs root. Outside CI a missing dockerd (or no root) skips;
in CI it fails.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from app.gateway import Engine, exceptions as ge, parse_host

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
DOCKERD = shutil.which("dockerd")
OPENSSL = shutil.which("openssl")


def require_dockerd() -> None:
    why = None
    if not DOCKERD:
        why = "dockerd is not installed"
    elif os.geteuid() != 0:
        why = "starting a private dockerd needs root"
    elif not OPENSSL:
        why = "openssl is not installed"
    if why:
        if IN_CI:
            pytest.fail(f"CI=true: {why}")
        pytest.skip(why)


def _pids_under(base: Path) -> list[int]:
    """Processes whose command line names our folder (its containerd, shims)."""
    out = []
    needle = str(base).encode()
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            if needle in (d / "cmdline").read_bytes():
                out.append(int(d.name))
        except OSError:
            continue
    return [p for p in out if p != os.getpid()]


class PrivateDockerd:
    def __init__(self, tcp_port: int | None = None, tls_dir: Path | None = None):
        self.base = Path(tempfile.mkdtemp(prefix="sec6-dockerd-", dir="/tmp"))
        self.sock = self.base / "docker.sock"
        self.tcp_port = tcp_port
        self.tls_dir = tls_dir
        self.proc: subprocess.Popen | None = None
        self.log_path = self.base / "dockerd.log"

    @property
    def unix_host(self) -> str:
        return f"unix://{self.sock}"

    def start(self, timeout: float = 40) -> "PrivateDockerd":
        argv = [DOCKERD, "--host", self.unix_host, "--data-root", str(self.base / "data"),
                "--exec-root", str(self.base / "exec"), "--pidfile", str(self.base / "docker.pid"),
                "--bridge=none", "--iptables=false", "--ip-masq=false"]
        if self.tcp_port:
            argv += ["--host", f"tcp://127.0.0.1:{self.tcp_port}"]
        if self.tls_dir:
            d = self.tls_dir
            argv += ["--tlsverify", "--tlscacert", str(d / "ca.pem"),
                     "--tlscert", str(d / "server-cert.pem"), "--tlskey", str(d / "server-key.pem")]
        log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        log.close()
        eng = Engine(parse_host(self.unix_host, env={}), connect_timeout=1, read_timeout=3)
        deadline = time.time() + timeout
        try:
            while time.time() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError("dockerd exited: " + self.log_tail())
                try:
                    eng.ping()
                    if self.tcp_port:
                        self._wait_tcp(deadline)
                    return self
                except ge.EngineError:
                    time.sleep(0.2)
            raise RuntimeError("dockerd did not answer in time: " + self.log_tail())
        except BaseException:
            self.stop()
            raise
        finally:
            eng.close()

    def _wait_tcp(self, deadline: float) -> None:
        import socket

        while time.time() < deadline:
            with socket.socket() as s:
                s.settimeout(1)
                if s.connect_ex(("127.0.0.1", self.tcp_port)) == 0:
                    return
            time.sleep(0.1)
        raise RuntimeError("dockerd's TCP port did not open: " + self.log_tail())

    def log_tail(self, n: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        """Stop dockerd (TERM, then KILL), whatever it left, and remove the folder."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        for _ in range(2):
            pids = _pids_under(self.base)
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            if pids:
                time.sleep(0.3)
        try:
            mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()
                      if line.split()[1].startswith(str(self.base) + "/")]
        except OSError:
            mounts = []
        for m in sorted(mounts, reverse=True):
            subprocess.run(["umount", "-l", m], capture_output=True)
        shutil.rmtree(self.base, ignore_errors=True)


def _openssl(*args: str, cwd: Path) -> None:
    proc = subprocess.run([OPENSSL, *args], cwd=cwd, capture_output=True)
    if proc.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)}: {proc.stderr.decode(errors='replace')}")


def _key_and_cert(d: Path, name: str, cn: str, ca: str, ext: str) -> None:
    _openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-keyout", f"{name}-key.pem", "-out", f"{name}.csr", "-subj", f"/CN={cn}",
             cwd=d)
    (d / f"{name}.ext").write_text(ext)
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}-key.pem",
             "-CAcreateserial", "-out", f"{name}-cert.pem", "-days", "2", "-extfile",
             f"{name}.ext", cwd=d)


def make_certs(d: Path) -> dict[str, Path]:
    """A CA, a server cert for IP:127.0.0.1, a client cert; a second, unrelated
    CA with a client cert of its own. Returns DOCKER_CERT_PATH folders:
    good, wrong_client (cert from the other CA), wrong_ca (trusts only the
    other CA, so the server's cert does not verify)."""
    d.mkdir(parents=True, exist_ok=True)
    for ca, cn in (("ca", "periscope-test-ca"), ("other-ca", "some-other-ca")):
        _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                 "-nodes", "-keyout", f"{ca}-key.pem", "-out", f"{ca}.pem", "-days", "2",
                 "-subj", f"/CN={cn}", cwd=d)
    _key_and_cert(d, "server", "periscope-test-engine", "ca",
                  "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    _key_and_cert(d, "client", "periscope", "ca", "extendedKeyUsage=clientAuth\n")
    _key_and_cert(d, "stranger", "stranger", "other-ca", "extendedKeyUsage=clientAuth\n")
    out = {}
    for folder, ca, cert in (("good", "ca", "client"), ("wrong_client", "ca", "stranger"),
                             ("wrong_ca", "other-ca", "client")):
        f = d / folder
        f.mkdir(exist_ok=True)
        shutil.copy(d / f"{ca}.pem", f / "ca.pem")
        shutil.copy(d / f"{cert}-cert.pem", f / "cert.pem")
        shutil.copy(d / f"{cert}-key.pem", f / "key.pem")
        out[folder] = f
    return out
