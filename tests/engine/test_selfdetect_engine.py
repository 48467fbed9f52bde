"""Whoami detection against the real engine: each way, in order, with texts
in the real formats naming real containers; every candidate confirmed."""

from __future__ import annotations

import os

import pytest

from app import selfdetect as whoami
from app.gateway import Engine, parse_host

# real formats (see tests/unit/test_whoami.py for more)
CGROUP_V2_PRIVATE = "0::/\n"
MOUNTINFO_HOST = "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"


@pytest.fixture
def eng():
    e = Engine(parse_host(os.environ.get("DOCKER_HOST")))
    yield e
    e.close()


def reader(cgroup: str | None, mountinfo: str | None):
    files = {"/proc/self/cgroup": cgroup, "/proc/self/mountinfo": mountinfo}
    return lambda path: files.get(path)


def cgroup_for(cid: str) -> str:
    return f"9:name=systemd:/docker/{cid}\n8:pids:/docker/{cid}\n"


def mountinfo_for(cid: str) -> str:
    return "".join(f"9{i} 74 254:0 /var/lib/docker/containers/{cid}/{f} /etc/{f} rw,relatime - "
                   "ext4 /dev/vda rw\n" for i, f in enumerate(("resolv.conf", "hostname", "hosts")))


def test_cgroup_first(eng, run_container):
    cid = run_container()
    d = whoami.detect(eng, read=reader(cgroup_for(cid), mountinfo_for(cid)), hostname="h")
    assert d.id == cid and d.method == "cgroup"
    assert [a.method for a in d.attempts] == ["cgroup"]


def test_mountinfo_when_cgroup_names_nothing(eng, run_container):
    cid = run_container()
    d = whoami.detect(eng, read=reader(CGROUP_V2_PRIVATE, mountinfo_for(cid)), hostname="h")
    assert d.id == cid and d.method == "mountinfo"
    assert d.attempts[0].outcome == "no-candidate"


def test_hostname_last_and_only_when_it_matches(eng, docker, run_container):
    cid = run_container()  # default hostname: the 12-character ID prefix
    assert docker.inspect(cid)["Config"]["Hostname"] == cid[:12]
    d = whoami.detect(eng, read=reader(None, None), hostname=cid[:12])
    assert d.id == cid and d.method == "hostname"
    assert [a.outcome for a in d.attempts] == ["unreadable", "unreadable", "confirmed"]
    # a container whose ID prefix looks like our hostname but whose hostname differs
    other = run_container(args=["--hostname", "custom-name"])
    d = whoami.detect(eng, read=reader("", ""), hostname=other[:12])
    assert d.id is None and d.attempts[-1].outcome == "mismatch"


def test_candidates_the_engine_does_not_know_are_not_shown(eng):
    ghost = "f" * 64
    d = whoami.detect(eng, read=reader(cgroup_for(ghost), mountinfo_for(ghost)),
                      hostname="myhost", dockerenv=False)
    assert d.container is None and d.method is None
    assert d.unconfirmed == [ghost] and d.in_container_hint
    assert [a.outcome for a in d.attempts] == ["not-found", "not-found", "no-candidate"]


def test_not_in_a_container(eng):
    d = whoami.detect(eng, read=reader("0::/\n", MOUNTINFO_HOST), hostname="laptop",
                      dockerenv=False)
    assert d.container is None and not d.in_container_hint and not d.unconfirmed


def test_whoami_page_outside_a_container(client):
    r = client.get("/whoami")
    assert r.status_code == 200
    page = r.get_data(as_text=True)
    assert 'data-method="none"' in page
    assert "This process" in page and "The engine it talks to" in page
    for m in ("cgroup", "mountinfo", "hostname"):
        assert f'data-method="{m}"' in page
