"""The deployment image: a base for the Dockerfile's PYTHON_IMAGE (python:3.12-slim
when the engine has it, else a debootstrap base cached under ~/.cache/periscope/)
and the build itself, shared by the deploy and whoami tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path

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






def build_image(docker, root: Path, revision: str) -> str:
    """docker build the real Dockerfile; returns the tag."""
    base = ensure_base(docker)
    t0 = time.monotonic()
    p = docker.raw("build", "--network", "host", "--build-arg", f"PYTHON_IMAGE={base}",
                   "--build-arg", f"REVISION={revision}", "-t", IMAGE_TAG, str(root),
                   timeout=1200)
    out = p.stdout.decode(errors="replace") + p.stderr.decode(errors="replace")
    if p.returncode != 0:
        raise AssertionError(f"docker build failed:\n{out[-4000:]}")
    print(f"\nbuilt {IMAGE_TAG} from {base} in {time.monotonic() - t0:.1f} s")
    return IMAGE_TAG


if __name__ == "__main__":  # make the base ahead of a test run: python tests/deploykit.py
    print(base_tarball())
