"""The host-access policy: every field that would own the host is named, with why."""

import json

import pytest

from app.manifest import parse
from app.policy import sensitive_path, violations


def fields(manifest: dict, **kw) -> list[str]:
    return [v.field for v in violations(manifest, **kw)]


def hc(**host) -> dict:
    return {"Image": "busybox", "HostConfig": host}


def test_a_plain_manifest_passes():
    assert violations({"Image": "busybox", "Cmd": ["echo", "hi"]}) == []
    assert violations(hc(Binds=["data:/data", "/srv/app:/app:ro", "/home/me/x:/x"],
                         NetworkMode="bridge", CapDrop=["ALL"],
                         SecurityOpt=["no-new-privileges"], Memory=1 << 20)) == []


@pytest.mark.parametrize("host,field", [
    ({"Privileged": True}, "HostConfig.Privileged"),
    ({"CapAdd": ["SYS_ADMIN"]}, "HostConfig.CapAdd"),
    ({"Devices": [{"PathOnHost": "/dev/sda", "PathInContainer": "/dev/sda"}]}, "HostConfig.Devices"),
    ({"DeviceCgroupRules": ["b 8:* rmw"]}, "HostConfig.DeviceCgroupRules"),
    ({"PidMode": "host"}, "HostConfig.PidMode"),
    ({"IpcMode": "host"}, "HostConfig.IpcMode"),
    ({"UTSMode": "host"}, "HostConfig.UTSMode"),
    ({"UsernsMode": "host"}, "HostConfig.UsernsMode"),
    ({"NetworkMode": "host"}, "HostConfig.NetworkMode"),
    ({"SecurityOpt": ["seccomp=unconfined"]}, "HostConfig.SecurityOpt[0]"),
    ({"SecurityOpt": ["no-new-privileges", "apparmor:unconfined"]}, "HostConfig.SecurityOpt[1]"),
    ({"SecurityOpt": ["label=disable"]}, "HostConfig.SecurityOpt[0]"),
    ({"SecurityOpt": ['seccomp={"defaultAction": "SCMP_ACT_ALLOW"}']}, "HostConfig.SecurityOpt[0]"),
    ({"SecurityOpt": ["label=type:spc_t"]}, "HostConfig.SecurityOpt[0]"),
    ({"SecurityOpt": ["label:type:unconfined_t"]}, "HostConfig.SecurityOpt[0]"),
    ({"PidMode": "container:abc"}, "HostConfig.PidMode"),
    ({"IpcMode": "container:abc"}, "HostConfig.IpcMode"),
    ({"NetworkMode": "container:abc"}, "HostConfig.NetworkMode"),
    ({"MaskedPaths": []}, "HostConfig.MaskedPaths"),
    ({"Binds": ["/:/host"]}, "HostConfig.Binds[0]"),
    ({"Binds": ["/var/run/docker.sock:/var/run/docker.sock"]}, "HostConfig.Binds[0]"),
    ({"Binds": ["/run/docker.sock:/s"]}, "HostConfig.Binds[0]"),
    ({"Binds": ["/etc:/e:ro"]}, "HostConfig.Binds[0]"),
    ({"Binds": ["/etc/shadow:/s"]}, "HostConfig.Binds[0]"),
    ({"Binds": ["/proc:/p"]}, "HostConfig.Binds[0]"),
    ({"Binds": ["/sys/kernel:/k"]}, "HostConfig.Binds[0]"),
    ({"Binds": ["/root:/r"]}, "HostConfig.Binds[0]"),
    ({"Binds": ["/boot:/b"]}, "HostConfig.Binds[0]"),
    ({"Binds": ["/var/lib/docker:/d"]}, "HostConfig.Binds[0]"),
    ({"Binds": ["ok:/ok", "/var:/v"]}, "HostConfig.Binds[1]"),  # a parent of /var/lib/docker
    ({"Binds": ["/var/lib:/v"]}, "HostConfig.Binds[0]"),
    ({"Binds": ["/run:/r"]}, "HostConfig.Binds[0]"),  # holds the socket
    ({"Binds": ["/srv/../etc:/e"]}, "HostConfig.Binds[0]"),  # normalised
    ({"Binds": ["//etc//:/e"]}, "HostConfig.Binds[0]"),
    ({"Mounts": [{"Type": "bind", "Source": "/", "Target": "/host"}]}, "HostConfig.Mounts[0].Source"),
    ({"Mounts": [{"Type": "volume", "Target": "/x", "VolumeOptions": {"DriverConfig": {
        "Name": "local", "Options": {"type": "none", "o": "bind", "device": "/etc"}}}}]},
     "HostConfig.Mounts[0].VolumeOptions"),
])
def test_each_refused_field_is_named(host, field):
    found = violations(hc(**host))
    assert [v.field for v in found] == [field]
    assert found[0].reason and len(found[0].reason) > 10


def test_keys_are_read_as_the_engine_reads_them():
    # Go's encoding/json matches field names in any case.
    assert fields({"Image": "b", "hostconfig": {"privileged": True}}) == ["HostConfig.Privileged"]
    assert fields({"Image": "b", "HOSTCONFIG": {"BINDS": ["/:/h"]}}) == ["HostConfig.Binds[0]"]
    # ...and the long s folds to s, as in Go.
    assert fields({"Image": "b", "HostConfig": {"ſecurityOpt": ["seccomp=unconfined"]}}) == \
        ["HostConfig.SecurityOpt[0]"]


def test_duplicate_keys_in_any_case_are_refused_before_policy():
    text = '{"Image": "b", "HostConfig": {"Privileged": false, "privileged": true}}'
    m, problems = parse(text)
    assert m is None and problems and "Privileged" in problems[0].message


def test_engine_socket_from_docker_host_is_protected():
    assert sensitive_path("/tmp/pdev/docker.sock", "/tmp/pdev/docker.sock")
    assert sensitive_path("/tmp/pdev", "/tmp/pdev/docker.sock")
    assert sensitive_path("/tmp/pdev", None) is None
    assert sensitive_path("named-volume") is None


def test_many_violations_all_reported():
    found = fields(hc(Privileged=True, NetworkMode="host", Binds=["/:/h", "/etc:/e"]))
    assert found == ["HostConfig.Privileged", "HostConfig.NetworkMode",
                     "HostConfig.Binds[0]", "HostConfig.Binds[1]"]


def test_odd_types_do_not_crash():
    for host in ({"Binds": "/:/h"}, {"Binds": [1, None]}, {"Mounts": ["x"]}, {"CapAdd": "ALL"},
                 {"SecurityOpt": [1]}, {"Mounts": [{"Type": "bind", "Source": 3}]}):
        violations(hc(**host))
    assert violations({"Image": "b", "HostConfig": "x"}) == []
    json.dumps([str(v) for v in violations(hc(Privileged=True))])
