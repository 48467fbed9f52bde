"""The host-access policy against the real engine, through the real create
form, tried as an attacker would: VolumesFrom of a container that holds the
Engine socket, binds through symbolic links (planted beforehand, and planted
by a first allowed container made through the form itself), a local volume
whose device is a link, an unknown field added to a recorded manifest; and
random manifests, each accepted one checked by what the engine made of it."""

from __future__ import annotations

import json
import os
import random
import shutil
import tempfile
from pathlib import Path

import pytest

from conftest import LABEL, SESSION, csrf_post, unique_name


@pytest.fixture
def plant():
    d = Path(tempfile.mkdtemp(prefix="pplant-", dir="/tmp"))
    os.chmod(d, 0o777)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def labelled(docker) -> set[str]:
    return set(docker("ps", "-aq", "--no-trunc", "--filter", f"label={LABEL}={SESSION}").split())


def create(client, m: dict, name: str = "", start: bool = False):
    m = dict(m)
    m.setdefault("Labels", {})[LABEL] = SESSION
    return csrf_post(client, "/containers", {"manifest": json.dumps(m), "name": name,
                                             "start": "1" if start else ""})


def refused(r, *words) -> bool:
    text = r.get_data(as_text=True)
    return r.status_code == 403 and 'id="violations"' in text and all(w in text for w in words)


def test_volumes_from_a_container_holding_the_socket_is_refused(client, docker, docker_host,
                                                                 run_container, test_image):
    sock = docker_host.removeprefix("unix://")
    holder = run_container(args=["-v", f"{sock}:/var/run/docker.sock"])
    chain = run_container(args=["--volumes-from", holder])
    before = labelled(docker)
    for via in (holder, chain, docker.inspect(holder)["Name"].lstrip("/") + ":ro"):
        r = create(client, {"Image": test_image, "HostConfig": {"VolumesFrom": [via]}})
        assert refused(r, "HostConfig.VolumesFrom[0]"), r.get_data(as_text=True)[:2000]
    assert labelled(docker) == before


def test_binds_through_planted_links_are_refused(client, docker, docker_host, plant, test_image):
    os.symlink("/", plant / "root")
    os.symlink(docker_host.removeprefix("unix://"), plant / "sock")
    os.symlink("/etc", plant / "etc")
    (plant / "vol").mkdir()
    os.symlink("/", plant / "vol" / "up")
    docker("volume", "create", "--label", f"{LABEL}={SESSION}", "--opt", "type=none",
           "--opt", "o=bind", "--opt", f"device={plant}/vol/up", f"pvol-{SESSION}")
    before = labelled(docker)
    try:
        for hc in ({"Binds": [f"{plant}/root:/host"]},
                   {"Binds": [f"{plant}/sock:/var/run/docker.sock"]},
                   {"Binds": [f"{plant}/etc/shadow:/s:ro"]},
                   {"Mounts": [{"Type": "bind", "Source": f"{plant}/root", "Target": "/h"}]},
                   {"Mounts": [{"Type": "volume", "Target": "/h", "VolumeOptions": {
                       "DriverConfig": {"Name": "local", "Options": {
                           "type": "none", "o": "bind", "device": f"{plant}/root"}}}}]},
                   {"Binds": [f"pvol-{SESSION}:/h"]}):
            r = create(client, {"Image": test_image, "HostConfig": hc})
            assert refused(r, "leads to"), (hc, r.get_data(as_text=True)[:3000])
        assert labelled(docker) == before
    finally:
        docker("volume", "rm", "-f", f"pvol-{SESSION}", check=False)


def labelled_volumes(docker) -> set[str]:
    return set(docker("volume", "ls", "-q", "--filter", f"label={LABEL}={SESSION}").split())


def test_local_volumes_of_other_file_systems_are_refused(client, docker, test_image):
    """overlay with lowerdir=/, proc, sysfs, cgroup2: the host's / or its kernel
    file systems, through a volume's driver options and no host path at all."""
    owning = [{"type": "overlay", "device": "overlay", "o": "lowerdir=/:/etc"},
              {"type": "proc", "device": "x"}, {"type": "sysfs", "device": "sysfs"},
              {"type": "cgroup2", "device": "cgroup2"}]
    vol = f"pproc-{SESSION}"
    docker("volume", "create", "--label", f"{LABEL}={SESSION}", "--opt", "type=proc",
           "--opt", "device=x", vol)
    before, before_vols = labelled(docker), labelled_volumes(docker)
    try:
        for opts in owning:
            r = create(client, {"Image": test_image, "HostConfig": {"Mounts": [{
                "Type": "volume", "Target": "/h", "VolumeOptions": {
                    "Labels": {LABEL: SESSION},
                    "DriverConfig": {"Name": "local", "Options": opts}}}]}}, start=True)
            assert refused(r, "HostConfig.Mounts[0].VolumeOptions", "local volume may only"), \
                (opts, r.get_data(as_text=True)[:3000])
        # an existing volume of proc, named by a bind and by a mount
        for hc in ({"Binds": [f"{vol}:/h"]},
                   {"Mounts": [{"Type": "volume", "Source": vol, "Target": "/h"}]}):
            r = create(client, {"Image": test_image, "HostConfig": hc}, start=True)
            assert refused(r, f"the volume {vol}&#39;s file system type"), \
                (hc, r.get_data(as_text=True)[:3000])
        assert labelled(docker) == before
        assert labelled_volumes(docker) == before_vols
    finally:
        docker("volume", "rm", "-f", vol, check=False)


def test_the_two_step_plant_through_the_form_is_refused(client, docker, plant, test_image):
    # first, an allowed container with an ordinary writable bind plants the link...
    first = unique_name("planter")
    r = create(client, {"Image": test_image, "Cmd": ["ln", "-s", "/", "/p/root"],
                        "HostConfig": {"Binds": [f"{plant}:/p"]}}, name=first, start=True)
    assert r.status_code == 303, r.get_data(as_text=True)[:2000]
    docker("wait", first)
    assert os.path.islink(plant / "root")
    # ...then a second binds through it: refused, nothing made
    before = labelled(docker)
    r = create(client, {"Image": test_image, "HostConfig": {"Binds": [f"{plant}/root:/host"]}})
    assert refused(r, "HostConfig.Binds[0]", "leads to /")
    assert labelled(docker) == before


def test_an_unknown_field_added_to_a_recorded_manifest_is_refused(client, docker, test_image):
    # what `docker run --memory 64m --restart always -p 127.0.0.1:9:80` sends, recorded
    recorded = {"Image": test_image, "Cmd": ["true"], "HostConfig": {
        "Memory": 67108864, "RestartPolicy": {"Name": "always"},
        "PortBindings": {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "9"}]},
        "LogConfig": {"Type": "json-file", "Config": {}}, "NetworkMode": "default"}}
    before = labelled(docker)
    recorded["HostConfig"]["EngineFieldFromTheFuture"] = {"anything": True}
    r = create(client, recorded)
    assert refused(r, "HostConfig.EngineFieldFromTheFuture", "new engine field")
    assert labelled(docker) == before
    del recorded["HostConfig"]["EngineFieldFromTheFuture"]
    assert create(client, recorded).status_code == 303  # the recorded one alone is fine


FIELD_CHOICES = {
    "Privileged": [True, False], "CapAdd": [["SYS_ADMIN"], ["NET_ADMIN"], []],
    "PidMode": ["host", "", "private"], "IpcMode": ["host", "private", "shareable"],
    "UTSMode": ["host", ""], "NetworkMode": ["host", "none", "default"],
    "Devices": [[{"PathOnHost": "/dev/null", "PathInContainer": "/dev/x",
                  "CgroupPermissions": "rwm"}], []],
    "SecurityOpt": [["seccomp=unconfined"], ["apparmor=unconfined"], ["no-new-privileges"], []],
    "Binds": [["/:/h"], ["/etc:/e:ro"], ["{plant}/root:/h"], ["{plant}/ok:/ok"], ["{volume}:/d"]],
    "Memory": [0, 64 << 20], "CgroupParent": ["", "/"],
    "MaskedPaths": [None, []], "UsernsMode": ["host", ""],
    "Mounts": [[{"Type": "bind", "Source": "/", "Target": "/h"}],
               [{"Type": "bind", "Source": "{plant}/root", "Target": "/h"}],
               [{"Type": "tmpfs", "Target": "/t"}]],
}


def _owns_the_host(c: dict, sock: str) -> list[str]:
    """What, in the engine's own record of a created container, owns the host."""
    hc = c.get("HostConfig") or {}
    why = []
    if hc.get("Privileged"):
        why.append("privileged")
    if hc.get("CapAdd"):
        why.append("capabilities")
    if hc.get("Devices"):
        why.append("devices")
    for k in ("PidMode", "IpcMode", "UTSMode", "NetworkMode", "UsernsMode"):
        if (hc.get(k) or "").lower() == "host":
            why.append(k)
    for o in hc.get("SecurityOpt") or []:
        if "unconfined" in o:
            why.append(o)
    if hc.get("CgroupParent"):
        why.append("cgroup parent")
    if hc.get("MaskedPaths") == []:
        why.append("unmasked paths")
    for m in c.get("Mounts") or []:
        if m.get("Type") == "bind":
            real = os.path.realpath(m.get("Source") or "")
            if real == "/" or real.startswith(("/etc", "/proc", "/sys")) or real == sock:
                why.append(f"bind {real}")
    return why


def test_random_manifests_accepted_never_own_the_host(client, docker, docker_host, plant,
                                                       test_image):
    os.symlink("/", plant / "root")
    (plant / "ok").mkdir()
    sock = docker_host.removeprefix("unix://")
    rng = random.Random(16)
    volume = f"polvol-{SESSION}"  # a named volume the engine makes on use: removed at the end
    counts = {"accepted": 0, "refused": 0}
    try:
        _random_manifests(client, docker, plant, sock, rng, test_image, volume, counts)
    finally:
        docker("volume", "rm", "-f", volume, check=False)
    accepted, refused_n = counts["accepted"], counts["refused"]
    assert accepted >= 5 and refused_n >= 20, (accepted, refused_n)


def _random_manifests(client, docker, plant, sock, rng, test_image, volume, counts):
    for i in range(60):
        hc = {}
        for key in rng.sample(sorted(FIELD_CHOICES), rng.randint(1, 4)):
            value = json.loads(json.dumps(rng.choice(FIELD_CHOICES[key])).replace(
                "{plant}", str(plant)).replace("{volume}", volume))
            spelled = rng.choice([key, key.lower(), key.upper(), key[0].lower() + key[1:]])
            hc[spelled] = value
        m = {"Image": test_image, "Cmd": ["true"], rng.choice(["HostConfig", "hostconfig"]): hc}
        r = create(client, m)
        if r.status_code == 403:
            counts["refused"] += 1
            continue
        assert r.status_code in (303, 400, 404, 409, 500, 502), (m, r.status_code)
        if r.status_code != 303:
            continue  # the engine itself refused the combination
        counts["accepted"] += 1
        cid = r.headers["Location"].rstrip("/").split("/")[-1].split("#")[0]
        c = docker.inspect(cid)
        try:
            assert _owns_the_host(c, sock) == [], (m, _owns_the_host(c, sock))
        finally:
            docker("rm", "-f", cid, check=False)


def _relink_to_root(folder: Path) -> None:
    """What an attacker with a writable host folder does after the create:
    the folder a bind names becomes a link to /."""
    shutil.rmtree(folder)
    os.symlink("/", folder)


def test_start_and_restart_judge_the_paths_again(client, docker, plant, test_image):
    """A link planted on the host after the create reaches / at the start:
    starts and restarts from the list are judged, refused with 403, and the
    container is left as it was."""
    (plant / "ok").mkdir()
    name = unique_name("late-link")
    r = create(client, {"Image": test_image, "Cmd": ["sleep", "600"],
                        "HostConfig": {"Binds": [f"{plant}/ok:/ok"]}}, name=name)
    assert r.status_code == 303, r.get_data(as_text=True)[:2000]  # fine when created
    _relink_to_root(plant / "ok")
    for action in ("start", "restart"):
        r = csrf_post(client, f"/containers/{name}/{action}", {"ctx": "row"},
                      headers={"HX-Request": "true"})
        text = r.get_data(as_text=True)
        assert r.status_code == 403, (action, r.status_code, text[:2000])
        assert 'id="violations"' in text and "HostConfig.Binds[0]" in text, text[:2000]
        assert f"{plant}/ok leads to / on the host" in text and f"will not {action}" in text
        state = docker.inspect(name)["State"]
        assert state["Running"] is False and state["StartedAt"].startswith("0001-"), state
    # the same container with its folder back is started as before
    os.unlink(plant / "ok")
    (plant / "ok").mkdir()
    r = csrf_post(client, f"/containers/{name}/start", {"ctx": "detail"})
    assert r.status_code == 303 and docker.inspect(name)["State"]["Running"] is True
    docker("rm", "-f", name, check=False)


def test_a_project_start_judges_every_container_first(client, compose, docker, plant):
    (plant / "ok").mkdir()
    p = compose({"web": {"command": ["sleep", "600"], "volumes": [f"{plant}/ok:/ok"]},
                 "db": {"command": ["sleep", "600"]}})
    p("stop", "-t", "0")
    stopped = {n: docker.inspect(n)["State"]["StartedAt"] for n in p.ps()}
    _relink_to_root(plant / "ok")
    for action in ("start", "restart"):
        r = csrf_post(client, f"/projects/{p.name}/{action}")
        text = r.get_data(as_text=True)
        assert r.status_code == 403, (action, r.status_code, text[:2000])
        assert f"{p.name}_web_1" in text and f"{plant}/ok leads to / on the host" in text
        # nothing was started, the harmless db neither (docker-compose ps and inspect)
        assert {s.split()[0] for s in p.ps().values()} == {"Exit"}, p.ps()
        assert {n: docker.inspect(n)["State"]["StartedAt"] for n in stopped} == stopped
