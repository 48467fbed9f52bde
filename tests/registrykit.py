"""A real registry on 127.0.0.1 for pull tests: Debian's docker-registry
started with a temporary config and storage, and fresh images pushed to it
with the docker CLI. Used by tests/engine/test_pull.py and the browser tests."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
import time
import uuid
from pathlib import Path

import pytest
import requests

from conftest import ARTIFACTS, IN_CI, SESSION, free_port

REGISTRY = shutil.which("docker-registry") or "/usr/bin/docker-registry"


class Registry:
    def __init__(self, folder: Path):
        if not os.path.exists(REGISTRY):
            msg = "docker-registry is not installed (apt-get install docker-registry)"
            pytest.fail(msg) if IN_CI else pytest.skip(msg)
        self.port = free_port()
        self.addr = f"127.0.0.1:{self.port}"
        cfg = folder / "config.yml"
        cfg.write_text(f"""version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: {folder / 'data'}
  delete:
    enabled: true
http:
  addr: {self.addr}
""")
        ARTIFACTS.mkdir(exist_ok=True)
        self.log = open(ARTIFACTS / f"registry-{self.port}.log", "wb")
        self.proc = subprocess.Popen([REGISTRY, "serve", str(cfg)], stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + 20
        while True:
            if self.proc.poll() is not None:
                pytest.fail(f"docker-registry exited: see {self.log.name}")
            try:
                if requests.get(f"http://{self.addr}/v2/", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            if time.time() > deadline:
                self.stop()
                pytest.fail("docker-registry did not answer in 20 s")
            time.sleep(0.1)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.log.close()

    def push_fresh(self, docker, size: int, repo: str = "periscope/test") -> str:
        """Push a one-layer image of random bytes (nothing of it is on the
        engine) and remove the local copy. Returns its reference."""
        ref = f"{self.addr}/{repo}:{SESSION}-{uuid.uuid4().hex[:6]}"
        docker("import", "-", ref, input=image_tar(size))
        docker("push", ref, timeout=180)
        docker("rmi", ref)
        assert docker.raw("image", "inspect", ref).returncode != 0
        return ref


def image_tar(size: int) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in (("blob.bin", os.urandom(size)),
                           ("hello.txt", f"periscope pull test {SESSION}\n".encode())):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()
