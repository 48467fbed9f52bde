"""A real ssh server on 127.0.0.1 for ssh:// engines: Debian's openssh-server
with a host key, a client key and known_hosts made here (under /tmp, so
`StrictModes no`), whose sessions reach a given engine: sshd sets
DOCKER_HOST for them (SetEnv), and the client's `docker system dial-stdio`
joins that engine's socket, as on any host that runs docker.

The client side is an ssh config file (`-F`, the engine's `ssh_config` in
Periscope's engines file) naming the key and the known_hosts: root's own
~/.ssh is never touched. Starting sshd needs root; outside CI its absence
skips, in CI it fails.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
SSHD = shutil.which("sshd") or ("/usr/sbin/sshd" if Path("/usr/sbin/sshd").exists() else None)


def require_sshd() -> None:
    why = None
    if not SSHD or not shutil.which("ssh") or not shutil.which("ssh-keygen"):
        why = "openssh-server and openssh-client are not installed"
    elif os.geteuid() != 0:
        why = "starting sshd needs root"
    if why:
        if IN_CI:
            pytest.fail(f"CI=true: {why}")
        pytest.skip(why)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _keygen(path: Path) -> str:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return Path(str(path) + ".pub").read_text().strip()


class SSHServer:
    def __init__(self, docker_host: str):
        self.dir = Path(tempfile.mkdtemp(prefix="pssh-", dir="/tmp"))
        self.port = _free_port()
        self.docker_host = docker_host
        self.proc: subprocess.Popen | None = None
        self.host_pub = _keygen(self.dir / "host_key")
        self.client_pub = _keygen(self.dir / "client_key")
        self.stranger_pub = _keygen(self.dir / "stranger_key")  # a key sshd does not know
        self.other_host_pub = _keygen(self.dir / "other_host_key")  # some other host's key
        (self.dir / "authorized_keys").write_text(self.client_pub + "\n")

    @property
    def url(self) -> str:
        return f"ssh://root@127.0.0.1:{self.port}"

    def start(self) -> "SSHServer":
        Path("/run/sshd").mkdir(exist_ok=True)  # privilege separation needs it
        d = self.dir
        (d / "sshd_config").write_text(f"""Port {self.port}
ListenAddress 127.0.0.1
HostKey {d}/host_key
AuthorizedKeysFile {d}/authorized_keys
PidFile {d}/sshd.pid
StrictModes no
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PermitRootLogin prohibit-password
SetEnv DOCKER_HOST={self.docker_host}
""")
        self.proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(d / "sshd_config")],
                                     stdout=open(d / "sshd.log", "wb"), stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("sshd exited: " + (d / "sshd.log").read_text()[-2000:])
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("sshd did not listen in 15 s")

    def client_config(self, name: str = "good", *, key: str = "client_key",
                      host_key_pub: str | None = None) -> Path:
        """An ssh config file (-F) with this key and a known_hosts that trusts
        `host_key_pub` (the server's own key by default) for this server."""
        known = self.dir / f"known_hosts-{name}"
        known.write_text(f"[127.0.0.1]:{self.port} {' '.join((host_key_pub or self.host_pub).split()[:2])}\n")
        cfg = self.dir / f"ssh_config-{name}"
        cfg.write_text(f"""Host *
  IdentityFile {self.dir / key}
  IdentitiesOnly yes
  UserKnownHostsFile {known}
  GlobalKnownHostsFile /dev/null
""")
        return cfg

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
        shutil.rmtree(self.dir, ignore_errors=True)
