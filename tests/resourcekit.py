"""Images, volumes and networks for tests, made with the docker CLI (the
independent witness) and always removed: images by `docker import` of a tiny
tarball whose content is unique (so no two share a layer) and `docker tag`,
volumes and networks by `docker volume/network create`. Everything carries
the label periscope.test=<SESSION>.

Also: reading rows out of the pages' HTML, and sizes as the docker CLI
prints them (go-units HumanSize)."""

from __future__ import annotations

import html
import io
import json
import re
import tarfile
import uuid

import pytest

from conftest import LABEL, SESSION, screenshot, unique_name

MARK = f"{LABEL}={SESSION}"


def tarball(text: str | None = None, files: dict[str, bytes] | None = None) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in (files or {f"f-{uuid.uuid4().hex[:8]}.txt":
                                     (text or uuid.uuid4().hex).encode()}).items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


class Resources:
    def __init__(self, docker):
        self.docker = docker
        self.images: list[str] = []
        self.volumes: list[str] = []
        self.networks: list[str] = []

    def repo(self, prefix: str = "pt") -> str:
        return f"{prefix}-{SESSION}-{uuid.uuid4().hex[:6]}"

    def image(self, ref: str | None = None, *, changes: list[str] = (), labels: dict | None = None,
              size: int | None = None) -> str:
        """docker import of a unique tarball (`size` bytes of content when
        given); returns the image ID (sha256:...)."""
        ref = ref or self.repo() + ":v1"
        argv = ["import", "--change", f"LABEL {LABEL}={SESSION}"]
        for k, v in (labels or {}).items():
            argv += ["--change", f"LABEL {json.dumps(k)}={json.dumps(v)}"]
        for c in changes:
            argv += ["--change", c]
        data = tarball(files={f"f-{uuid.uuid4().hex[:8]}": (uuid.uuid4().hex.encode() * (
            (size or 32) // 32 + 1))[:size or 32]})
        iid = self.docker(*argv, "-", ref, input=data).strip().splitlines()[-1]
        self.images.append(iid)
        return iid

    def tag(self, src: str, ref: str) -> str:
        self.docker("tag", src, ref)
        return ref

    def dangling(self, **kw) -> str:
        """An image left without a name: imported under a tag that a second
        import then takes over (that second image is kept too)."""
        ref = self.repo("dangle") + ":v1"
        first = self.image(ref, **kw)
        self.image(ref, **kw)
        return first

    def volume(self, name: str | None = None, *, labels: dict | None = None,
               opts: dict | None = None) -> str:
        name = name or unique_name("vol")
        argv = ["volume", "create", "--label", MARK]
        for k, v in (labels or {}).items():
            argv += ["--label", f"{k}={v}"]
        for k, v in (opts or {}).items():
            argv += ["--opt", f"{k}={v}"]
        self.docker(*argv, name)
        self.volumes.append(name)
        return name

    def network(self, name: str | None = None, *, labels: dict | None = None,
                subnet: str | None = None, args: list[str] = ()) -> str:
        name = name or unique_name("net")
        argv = ["network", "create", "--label", MARK]
        for k, v in (labels or {}).items():
            argv += ["--label", f"{k}={v}"]
        if subnet:
            argv += ["--subnet", subnet]
        nid = self.docker(*argv, *args, name).strip()
        self.networks.append(nid)
        return nid

    def exists(self, kind: str, ref: str) -> bool:
        return self.docker.raw(kind, "inspect", ref).returncode == 0

    def cleanup(self) -> None:
        d = self.docker
        for nid in self.networks:
            if d.raw("network", "inspect", nid).returncode == 0:
                attached = json.loads(d("network", "inspect", nid))[0].get("Containers") or {}
                for cid in attached:
                    d("network", "disconnect", "-f", nid, cid, check=False)
                d("network", "rm", nid, check=False)
        if self.volumes:
            d("volume", "rm", "-f", *self.volumes, check=False)
        labelled = d("image", "ls", "-aq", "--no-trunc", "--filter", f"label={MARK}",
                     check=False).split()
        for iid in dict.fromkeys(self.images + labelled):
            d("rmi", "-f", iid, check=False)


@pytest.fixture
def resources(docker):
    made = Resources(docker)
    try:
        yield made
    finally:
        made.cleanup()


# -- reading the pages --------------------------------------------------------
def rows(page: str, attr: str = "data-id") -> dict[str, str]:
    """Each list row's inner HTML by its data-id (or data-name, data-key)."""
    out = {}
    for m in re.finditer(rf'<tr\b[^>]*\b{attr}="([^"]*)"[^>]*>(.*?)</tr>', page, re.S):
        out[html.unescape(m.group(1))] = m.group(2)
    return out


def texts(fragment: str, cls: str) -> list[str]:
    """The texts of the <a class="cls"> (or any element with that class) in a fragment."""
    return [html.unescape(re.sub(r"<[^>]+>", "", t)).strip()
            for t in re.findall(rf'<(?:a|span|code|td)\b[^>]*class="[^"]*\b{cls}\b[^"]*"[^>]*>(.*?)</(?:a|span|code|td)>',
                                fragment, re.S)]


def sizes(fragment: str) -> list[int]:
    return [int(b) for b in re.findall(r'data-bytes="(-?\d+)"', fragment)]


def count(fragment: str) -> int:
    m = re.search(r'data-count="(\d+)"', fragment)
    return int(m.group(1)) if m else -1


def human(n: float, precision: int = 4) -> str:
    """go-units HumanSizeWithPrecision, as the docker CLI prints sizes
    (`docker system df` uses 4 digits, `docker image ls` 3)."""
    units = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"]
    i = 0
    n = float(n)
    while n >= 1000 and i < len(units) - 1:
        n /= 1000
        i += 1
    return f"{n:.{precision}g}{units[i]}"


def csrf_headers(client) -> dict:
    with client.session_transaction() as sess:
        token = sess.setdefault("csrf", "t-" + uuid.uuid4().hex)
    return {"X-CSRF-Token": token, "Origin": "http://localhost"}


def shots(page, name: str) -> None:
    """Light and dark at 1280 px, and light at 390 px (the page itself never
    scrolls sideways there)."""
    screenshot(page, name)
    page.emulate_media(color_scheme="dark")
    screenshot(page, f"{name}-dark")
    page.emulate_media(color_scheme="light")
    page.set_viewport_size({"width": 390, "height": 800})
    page.reload()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    screenshot(page, f"{name}-phone")
    page.set_viewport_size({"width": 1280, "height": 900})
