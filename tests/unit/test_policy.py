"""The host-access policy: every field has a verdict, what is not known is
refused by name, host paths are judged where their symbolic links lead (on a
host tree made here), and inherited mounts and named volumes are looked up."""

import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from app.manifest import parse
from app.policy import (FIELDS, MOUNT_FIELDS, VOLUME_DRIVER_OPTIONS, HostView, Lookups, judge,
                        judge_service, resolve_under, sensitive_path)


@pytest.fixture
def host(tmp_path):
    """A small host tree: /etc, /srv/app, and links planted the ways an
    attacker would plant them."""
    root = tmp_path / "host"
    for d in ("etc/ssl", "srv/app", "srv/data", "var/run", "var/lib/docker"):
        (root / d).mkdir(parents=True)
    (root / "var/run/docker.sock").write_text("")
    os.symlink("/", root / "srv/data/root")  # absolute, to /
    os.symlink("../../etc", root / "srv/data/up")  # relative, climbing
    os.symlink("/etc/ssl", root / "srv/data/ssl")  # for .. taken after the link
    os.symlink("/srv/data/hop2", root / "srv/data/hop1")  # a chain
    os.symlink("/var/run/docker.sock", root / "srv/data/hop2")
    os.symlink("/srv/data/loop2", root / "srv/data/loop1")
    os.symlink("/srv/data/loop1", root / "srv/data/loop2")
    os.symlink("/etc", root / "srv/etcdir")  # a parent that is a link
    os.symlink("app", root / "srv/fine")  # a harmless one
    return HostView(str(root), why="(test)")


def fields(m: dict, **kw) -> list[str]:
    return [v.field for v in judge(m, **kw)]


def hc(**host) -> dict:
    return {"Image": "busybox", "HostConfig": host}


def test_a_plain_manifest_passes(host):
    assert judge({"Image": "busybox", "Cmd": ["echo", "hi"]}, host=host) == []
    assert judge(hc(Binds=["data:/data", "/srv/app:/app:ro", "/srv/fine:/f", "/srv/new/x:/n"],
                    NetworkMode="bridge", CapDrop=["ALL"], SecurityOpt=["no-new-privileges"],
                    Memory=1 << 20, RestartPolicy={"Name": "always"}, Sysctls={"net.ipv4.ip_forward": "1"},
                    LogConfig={"Type": "json-file", "Config": {"max-size": "10m"}},
                    Mounts=[{"Type": "tmpfs", "Target": "/t", "TmpfsOptions": {"SizeBytes": 1}},
                            {"Type": "bind", "Source": "/srv/app", "Target": "/a",
                             "BindOptions": {"Propagation": "rprivate"}}]), host=host) == []


@pytest.mark.parametrize("conf,field", [
    ({"Privileged": True}, "HostConfig.Privileged"),
    ({"CapAdd": ["SYS_ADMIN"]}, "HostConfig.CapAdd"),
    ({"Capabilities": ["CAP_SYS_ADMIN"]}, "HostConfig.Capabilities"),
    ({"Devices": [{"PathOnHost": "/dev/sda", "PathInContainer": "/dev/sda"}]}, "HostConfig.Devices"),
    ({"DeviceCgroupRules": ["b 8:* rmw"]}, "HostConfig.DeviceCgroupRules"),
    ({"DeviceRequests": [{"Count": -1}]}, "HostConfig.DeviceRequests"),
    ({"CgroupParent": "/"}, "HostConfig.CgroupParent"),
    ({"Cgroup": "container:abc"}, "HostConfig.Cgroup"),
    ({"PidMode": "host"}, "HostConfig.PidMode"),
    ({"IpcMode": "host"}, "HostConfig.IpcMode"),
    ({"UTSMode": "host"}, "HostConfig.UTSMode"),
    ({"UsernsMode": "host"}, "HostConfig.UsernsMode"),
    ({"CgroupnsMode": "host"}, "HostConfig.CgroupnsMode"),
    ({"NetworkMode": "host"}, "HostConfig.NetworkMode"),
    ({"PidMode": "container:abc"}, "HostConfig.PidMode"),
    ({"NetworkMode": "container:abc"}, "HostConfig.NetworkMode"),
    ({"SecurityOpt": ["seccomp=unconfined"]}, "HostConfig.SecurityOpt[0]"),
    ({"SecurityOpt": ["no-new-privileges", "apparmor:unconfined"]}, "HostConfig.SecurityOpt[1]"),
    ({"SecurityOpt": ["apparmor=some-profile"]}, "HostConfig.SecurityOpt[0]"),
    ({"SecurityOpt": ["label=disable"]}, "HostConfig.SecurityOpt[0]"),
    ({"SecurityOpt": ['seccomp={"defaultAction": "SCMP_ACT_ALLOW"}']}, "HostConfig.SecurityOpt[0]"),
    ({"SecurityOpt": ["label=type:spc_t"]}, "HostConfig.SecurityOpt[0]"),
    ({"SecurityOpt": ["systempaths=unconfined"]}, "HostConfig.SecurityOpt[0]"),
    ({"MaskedPaths": []}, "HostConfig.MaskedPaths"),
    ({"ReadonlyPaths": ["/proc/x"]}, "HostConfig.ReadonlyPaths"),
    ({"Runtime": "sysbox-runc"}, "HostConfig.Runtime"),
    ({"VolumeDriver": "vieux/sshfs"}, "HostConfig.VolumeDriver"),
    ({"LogConfig": {"Type": "syslog"}}, "HostConfig.LogConfig.Type"),
    ({"Sysctls": {"kernel.core_pattern": "|/tmp/x"}}, "HostConfig.Sysctls.kernel.core_pattern"),
    ({"StorageOpt": {"dm.basesize": "1T"}}, "HostConfig.StorageOpt.dm.basesize"),
    ({"Annotations": {"io.kubernetes.cri.x": "y"}}, "HostConfig.Annotations"),
    ({"ContainerIDFile": "/etc/cron.d/x"}, "HostConfig.ContainerIDFile"),
    ({"Binds": ["/:/host"]}, "HostConfig.Binds[0]"),
    ({"Binds": ["/var/run/docker.sock:/s"]}, "HostConfig.Binds[0]"),
    ({"Binds": ["/etc/shadow:/s"]}, "HostConfig.Binds[0]"),
    ({"Binds": ["ok:/ok", "/var:/v"]}, "HostConfig.Binds[1]"),  # a parent of /var/lib/docker
    ({"Binds": ["/srv/../etc:/e"]}, "HostConfig.Binds[0]"),
    ({"Binds": ["//etc//:/e"]}, "HostConfig.Binds[0]"),
    ({"Mounts": [{"Type": "bind", "Source": "/", "Target": "/host"}]}, "HostConfig.Mounts[0].Source"),
    ({"Mounts": [{"Type": "npipe", "Source": "x", "Target": "/x"}]}, "HostConfig.Mounts[0].Type"),
    ({"Mounts": [{"Type": "bind", "Source": "/srv/app", "Target": "/a",
                  "BindOptions": {"Propagation": "rshared"}}]},
     "HostConfig.Mounts[0].BindOptions.Propagation"),
    ({"Mounts": [{"Type": "volume", "Target": "/x", "VolumeOptions": {"DriverConfig": {
        "Name": "local", "Options": {"type": "none", "o": "bind", "device": "/etc"}}}}]},
     "HostConfig.Mounts[0].VolumeOptions"),
])
def test_each_refused_field_is_named(host, conf, field):
    found = judge(hc(**conf), host=host)
    assert [v.field for v in found] == [field]
    assert found[0].reason and len(found[0].reason) > 10


@pytest.mark.parametrize("bind", [
    "/srv/data/root:/x",  # an absolute link to /
    "/srv/data/root/etc:/x",  # through it
    "/srv/data/up:/x",  # relative, climbing to /etc
    "/srv/data/hop1:/x",  # a chain ending at the engine socket
    "/srv/etcdir/passwd:/x",  # a parent that is a link to /etc
    "/srv/data/ssl/../shadow:/x",  # .. taken after the link: /etc/shadow
    "/srv/data/loop1:/x",  # a loop
])
def test_binds_are_judged_where_their_links_lead(host, bind):
    assert fields(hc(Binds=[bind]), host=host) == ["HostConfig.Binds[0]"]
    src = bind.split(":")[0]
    # the same through Mounts and through a local volume's device
    assert fields(hc(Mounts=[{"Type": "bind", "Source": src, "Target": "/y"}]), host=host) == \
        ["HostConfig.Mounts[0].Source"]
    assert fields(hc(Mounts=[{"Type": "volume", "Target": "/y", "VolumeOptions": {
        "DriverConfig": {"Options": {"o": "bind", "device": src}}}}]), host=host) == \
        ["HostConfig.Mounts[0].VolumeOptions"]


# local volume driver options that mount the host's / or its kernel file systems
# without any host path in `device` (the device is a file system's name there)
HOST_OWNING_OPTIONS = [
    {"type": "overlay", "device": "overlay", "o": "lowerdir=/:/etc"},
    {"type": "proc", "device": "x"},
    {"type": "sysfs", "device": "sysfs"},
    {"type": "cgroup2", "device": "cgroup2"},
    {"type": "ext4", "device": "/dev/sda1"},
    {"type": "none", "o": "bind,remount", "device": "/srv/app"},  # not a bind flag
    {"type": "none", "o": "bind,lowerdir=/", "device": "/srv/app"},
    {"o": "addr=127.0.0.1", "device": "/srv/app"},  # type "" takes bind options only
    {"type": "tmpfs", "device": "tmpfs", "o": "size=1m,lowerdir=/"},
    {"type": "tmpfs", "device": "tmpfs", "o": "nr_inodes"},
    {"device": "/srv/app", "o": "bind", "size": "1g"},  # a key Periscope does not know
    {"Type": "overlay", "device": "overlay"},  # the engine's keys are exact: refused as unknown
    {"type": 1},
]


@pytest.mark.parametrize("opts", HOST_OWNING_OPTIONS)
def test_local_volume_options_are_judged_by_allow_list(host, opts):
    # inline, on a mount (the engine creates the volume with them)...
    found = judge(hc(Mounts=[{"Type": "volume", "Target": "/v", "VolumeOptions": {
        "DriverConfig": {"Name": "local", "Options": opts}}}]), host=host)
    assert found and {v.field for v in found} == {"HostConfig.Mounts[0].VolumeOptions"}, found
    assert all(len(v.reason) > 20 for v in found)
    # ...and an existing volume a bind or a mount names, as the engine reports it
    look = Lookups(volume={"ovl": {"Driver": "local", "Options": opts}}.get)
    for m in (hc(Binds=["ovl:/v"]), hc(Mounts=[{"Type": "volume", "Source": "ovl",
                                               "Target": "/v"}])):
        found = judge(m, host=host, lookups=look)
        assert len(found) >= 1 and "the volume ovl's" in found[0].reason, (m, found)


def test_local_volume_options_that_pass(host):
    look = Lookups(volume={
        "bound": {"Driver": "local", "Options": {"type": "none", "o": "bind,ro,nosuid",
                                                 "device": "/srv/app"}},
        "tmp": {"Driver": "local", "Options": {"type": "tmpfs", "device": "tmpfs",
                                               "o": "size=64m,mode=1777,uid=1000,gid=1000"}},
        "plain": {"Driver": "local", "Options": {}}}.get)
    assert judge(hc(Binds=["bound:/a", "tmp:/b", "plain:/c"]), host=host, lookups=look) == []
    for opts in ({"type": "none", "o": "rbind,rw,nodev,noexec", "device": "/srv/app"},
                 {"o": "bind", "device": "/srv/fine"}, {"type": "tmpfs", "device": "tmpfs"},
                 {"type": "tmpfs", "device": "/", "o": "size=1m"}):  # a tmpfs's device is a name
        assert judge(hc(Mounts=[{"Type": "volume", "Target": "/v", "VolumeOptions": {
            "DriverConfig": {"Name": "local", "Options": opts}}}]), host=host) == [], opts
    # the device of a bind is still a host path, judged where it leads
    assert fields(hc(Mounts=[{"Type": "volume", "Target": "/v", "VolumeOptions": {
        "DriverConfig": {"Options": {"type": "none", "o": "bind", "device": "/srv/data/root"}}}}]),
        host=host) == ["HostConfig.Mounts[0].VolumeOptions"]
    # DriverConfig itself is by allow-list too
    assert fields(hc(Mounts=[{"Type": "volume", "Target": "/v", "VolumeOptions": {
        "DriverConfig": {"Name": "local", "Extra": {}}}}]), host=host) == \
        ["HostConfig.Mounts[0].VolumeOptions.DriverConfig.Extra"]


def test_resolution_is_the_kernels(host):
    assert resolve_under(host.root, "/srv/data/root/etc/x")[0] == "/etc/x"
    assert resolve_under(host.root, "/srv/data/ssl/../shadow")[0] == "/etc/shadow"
    assert resolve_under(host.root, "/srv/fine/sub")[0] == "/srv/app/sub"
    assert resolve_under(host.root, "/../../srv/app")[0] == "/srv/app"  # never above /
    with pytest.raises(ValueError):
        resolve_under(host.root, "/srv/data/loop1")


def test_a_path_under_a_file_is_kept_as_written(host):
    (Path(host.root) / "srv/app/file").write_text("x")
    assert resolve_under(host.root, "/srv/app/file/x")[0] == "/srv/app/file/x"
    assert judge(hc(Binds=["/srv/app/file/x:/x"]), host=host) == []


def judged_as_nobody(root: str, binds: list[str]) -> dict[str, str]:
    """judge() in a forked child that is uid/gid 65534 when the suite is root
    (the same interpreter: one under /root could not be run as nobody)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never back into pytest
        code = 1
        try:
            os.close(r)
            if os.getuid() == 0:
                os.setgroups([])
                os.setgid(65534)
                os.setuid(65534)
            found = judge({"Image": "b", "HostConfig": {"Binds": binds}}, host=HostView(root))
            os.write(w, json.dumps({v.field: v.reason for v in found}).encode())
            code = 0
        except BaseException as exc:  # said to the parent, which fails the test
            os.write(w, json.dumps({"error": repr(exc)}).encode())
        finally:
            os._exit(code)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        data = f.read()
    _, status = os.waitpid(pid, 0)
    out = json.loads(data or b"{}")
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, out
    return out


def test_links_in_folders_periscope_cannot_search_are_refused():
    """A folder Periscope's user may not search hides where a link in it
    leads: that path cannot be resolved, so it is refused (not taken as
    missing). Checked honestly, by the kernel's own permission check: the
    judgement runs in a child process as uid 65534 (nobody) when the suite
    runs as root (root searches any folder, whatever its mode, so a
    monkeypatched os call would prove less); the folder's mode is 000, which
    denies its owner too when the suite is not root."""
    top = Path(tempfile.mkdtemp(prefix="pdeny-", dir="/tmp"))
    try:
        os.chmod(top, 0o755)
        for d in ("srv/d", "srv/open"):
            (top / d).mkdir(parents=True)
            os.chmod(top / d, 0o755)
        os.chmod(top / "srv", 0o755)
        os.symlink("/", top / "srv/d/l")
        os.symlink("/", top / "srv/open/l")
        os.chmod(top / "srv/d", 0o000)
        found = judged_as_nobody(str(top), ["/srv/d/l:/h", "/srv/d/l/etc:/e", "/srv/open/l:/o",
                                            "/srv/open/new:/n"])
        assert sorted(found) == ["HostConfig.Binds[0]", "HostConfig.Binds[1]",
                                 "HostConfig.Binds[2]"], found
        for i in (0, 1):
            reason = found[f"HostConfig.Binds[{i}]"]
            assert "cannot be resolved" in reason and "Permission denied" in reason, reason
            assert "at /srv/d/l" in reason and str(top) not in reason, reason
        assert "leads to / on the host" in found["HostConfig.Binds[2]"]  # a searchable one
    finally:
        os.chmod(top / "srv/d", 0o755)
        shutil.rmtree(top, ignore_errors=True)


def test_without_a_view_of_the_host_only_allowed_roots_pass():
    blind = HostView(None, bind_roots=("/data",), why="the engine is remote")
    assert judge(hc(Binds=["/data/app:/a", "/data:/d", "vol:/v"]), host=blind) == []
    found = judge(hc(Binds=["/srv/app:/a", "/database:/d"]), host=blind)
    assert [v.field for v in found] == ["HostConfig.Binds[0]", "HostConfig.Binds[1]"]
    assert "cannot see this engine's host" in found[0].reason and "remote" in found[0].reason
    # a sensitive path is refused whatever the roots say
    assert fields(hc(Binds=["/etc:/e"]), host=HostView(None, bind_roots=("/",))) == \
        ["HostConfig.Binds[0]"]


def test_unknown_fields_are_refused_by_name(host):
    found = judge(hc(Memory=1, FutureField={"x": 1}), host=host)
    assert [v.field for v in found] == ["HostConfig.FutureField"]
    assert "new engine field" in found[0].reason
    assert fields(hc(Mounts=[{"Type": "volume", "Target": "/x", "Propagate": 1}]), host=host) == \
        ["HostConfig.Mounts[0].Propagate"]
    assert fields(hc(Mounts=[{"Type": "bind", "Source": "/srv/app", "Target": "/x",
                              "BindOptions": {"Hop": 1}}]), host=host) == \
        ["HostConfig.Mounts[0].BindOptions.Hop"]


def test_a_recorded_engine_hostconfig_with_a_new_field_added(host):
    # HostConfig as dockerd 20.10 reports a plain `docker run` (engine defaults);
    # what the create body would carry is the same keys minus the computed ones
    recorded = {"Binds": None, "ContainerIDFile": "", "LogConfig": {"Type": "json-file", "Config": {}},
                "NetworkMode": "default", "PortBindings": {}, "RestartPolicy": {"Name": "no",
                                                                               "MaximumRetryCount": 0},
                "AutoRemove": False, "VolumeDriver": "", "VolumesFrom": None, "CapAdd": None,
                "CapDrop": None, "CgroupnsMode": "host", "Dns": [], "DnsOptions": [], "DnsSearch": [],
                "ExtraHosts": None, "GroupAdd": None, "IpcMode": "private", "Cgroup": "",
                "Links": None, "OomScoreAdj": 0, "PidMode": "", "Privileged": False,
                "PublishAllPorts": False, "ReadonlyRootfs": False, "SecurityOpt": None,
                "UTSMode": "", "UsernsMode": "", "ShmSize": 67108864, "Runtime": "runc",
                "ConsoleSize": [0, 0], "Isolation": "", "CpuShares": 0, "Memory": 0,
                "NanoCpus": 0, "CgroupParent": "", "BlkioWeight": 0, "BlkioWeightDevice": [],
                "BlkioDeviceReadBps": None, "BlkioDeviceWriteBps": None,
                "BlkioDeviceReadIOps": None, "BlkioDeviceWriteIOps": None, "CpuPeriod": 0,
                "CpuQuota": 0, "CpuRealtimePeriod": 0, "CpuRealtimeRuntime": 0, "CpusetCpus": "",
                "CpusetMems": "", "Devices": [], "DeviceCgroupRules": None, "DeviceRequests": None,
                "KernelMemory": 0, "KernelMemoryTCP": 0, "MemoryReservation": 0, "MemorySwap": 0,
                "MemorySwappiness": None, "OomKillDisable": False, "PidsLimit": None,
                "Ulimits": None, "CpuCount": 0, "CpuPercent": 0, "IOMaximumIOps": 0,
                "IOMaximumBandwidth": 0}
    found = judge({"Image": "b", "HostConfig": recorded}, host=host)
    # cgroupns "host" is 20.10's default on cgroup v1: refused here, plainly named
    assert [v.field for v in found] == ["HostConfig.CgroupnsMode"]
    recorded["CgroupnsMode"] = "private"
    assert judge({"Image": "b", "HostConfig": recorded}, host=host) == []
    recorded["SomethingNew"] = True
    assert fields({"Image": "b", "HostConfig": recorded}, host=host) == ["HostConfig.SomethingNew"]


def test_every_field_has_a_reason():
    for table in (FIELDS, MOUNT_FIELDS, VOLUME_DRIVER_OPTIONS):
        for name, (verdict, why) in table.items():
            assert verdict in ("ok", "judged", "empty", "unset") and len(why) > 5, name


def test_volumes_from_is_judged_through_what_it_inherits(host):
    containers = {
        "sock": {"Id": "1", "Mounts": [{"Type": "bind", "Source": "/var/run/docker.sock"}],
                 "HostConfig": {}},
        "plain": {"Id": "2", "Mounts": [{"Type": "volume", "Name": "v"}],
                  "HostConfig": {"VolumesFrom": ["sock"]}},
        "fine": {"Id": "3", "Mounts": [{"Type": "bind", "Source": "/srv/app"}], "HostConfig": {}},
        "linked": {"Id": "4", "Mounts": [{"Type": "bind", "Source": "/srv/data/root"}],
                   "HostConfig": {}},
    }
    look = Lookups(container=containers.get)
    assert fields(hc(VolumesFrom=["sock"]), host=host, lookups=look) == \
        ["HostConfig.VolumesFrom[0] (sock)"]
    # through another container's own VolumesFrom
    assert fields(hc(VolumesFrom=["fine", "plain:ro"]), host=host, lookups=look) == \
        ["HostConfig.VolumesFrom[1] (plain → sock)"]
    assert fields(hc(VolumesFrom=["linked"]), host=host, lookups=look) == \
        ["HostConfig.VolumesFrom[0] (linked)"]
    assert judge(hc(VolumesFrom=["fine", "missing"]), host=host, lookups=look) == []


def test_named_volumes_are_looked_up(host):
    volumes = {"rootvol": {"Driver": "local", "Options": {"type": "none", "o": "bind", "device": "/"}},
               "viaLink": {"Driver": "local", "Options": {"o": "bind", "device": "/srv/data/root"}},
               "plugin": {"Driver": "vieux/sshfs", "Options": {}},
               "plain": {"Driver": "local", "Options": None}}
    look = Lookups(volume=volumes.get)
    for name in ("rootvol", "viaLink", "plugin"):
        assert fields(hc(Binds=[f"{name}:/x"]), host=host, lookups=look) == ["HostConfig.Binds[0]"]
        assert fields(hc(Mounts=[{"Type": "volume", "Source": name, "Target": "/x"}]), host=host,
                      lookups=look) == ["HostConfig.Mounts[0].Source"]
    assert judge(hc(Binds=["plain:/x", "new:/y"]), host=host, lookups=look) == []


def test_a_service_spec(host):
    ok = {"TaskTemplate": {"ContainerSpec": {"Image": "b", "Args": ["x"], "Env": ["A=1"],
                                             "Mounts": [{"Type": "volume", "Source": "v",
                                                         "Target": "/v"}]}}}
    assert judge_service(ok, host=host) == []
    bad = {"TaskTemplate": {"ContainerSpec": {"Image": "b", "CapabilityAdd": ["CAP_SYS_ADMIN"],
                                              "Mounts": [{"Type": "bind", "Source": "/",
                                                          "Target": "/h"}],
                                              "Privileges": {"Seccomp": {"Mode": "unconfined"}},
                                              "Novel": 1}}}
    assert sorted(v.field for v in judge_service(bad, host=host)) == sorted([
        "TaskTemplate.ContainerSpec.CapabilityAdd", "TaskTemplate.ContainerSpec.Mounts[0].Source",
        "TaskTemplate.ContainerSpec.Privileges.Seccomp", "TaskTemplate.ContainerSpec.Novel"])


def test_keys_are_read_as_the_engine_reads_them(host):
    # Go's encoding/json matches field names in any case.
    assert fields({"Image": "b", "hostconfig": {"privileged": True}}, host=host) == \
        ["HostConfig.Privileged"]
    assert fields({"Image": "b", "HOSTCONFIG": {"BINDS": ["/:/h"]}}, host=host) == \
        ["HostConfig.Binds[0]"]
    # ...and the long s folds to s, as in Go.
    assert fields({"Image": "b", "HostConfig": {"ſecurityOpt": ["seccomp=unconfined"]}},
                  host=host) == ["HostConfig.SecurityOpt[0]"]


def test_duplicate_keys_in_any_case_are_refused_before_policy():
    text = '{"Image": "b", "HostConfig": {"Privileged": false, "privileged": true}}'
    m, problems = parse(text)
    assert m is None and problems and "Privileged" in problems[0].message


def test_engine_socket_from_docker_host_is_protected():
    assert sensitive_path("/tmp/pdev/docker.sock", "/tmp/pdev/docker.sock")
    assert sensitive_path("/tmp/pdev", "/tmp/pdev/docker.sock")
    assert sensitive_path("/tmp/pdev", None) is None
    assert sensitive_path("named-volume") is None


def test_many_violations_all_reported(host):
    found = fields(hc(Privileged=True, NetworkMode="host", Binds=["/:/h", "/etc:/e"]), host=host)
    assert found == ["HostConfig.Privileged", "HostConfig.NetworkMode",
                     "HostConfig.Binds[0]", "HostConfig.Binds[1]"]


def test_odd_types_do_not_crash(host):
    for conf in ({"Binds": "/:/h"}, {"Binds": [1, None]}, {"Mounts": ["x"]}, {"CapAdd": "ALL"},
                 {"SecurityOpt": [1]}, {"Mounts": [{"Type": "bind", "Source": 3}]},
                 {"VolumesFrom": "x"}, {"Sysctls": [1]}, {"LogConfig": "x"}):
        judge(hc(**conf), host=host)
    assert fields({"Image": "b", "HostConfig": "x"}, host=host) == ["HostConfig"]
    json.dumps([str(v) for v in judge(hc(Privileged=True), host=host)])


def test_docs_security_lists_every_field_with_its_verdict():
    from pathlib import Path

    from app.policy import SPEC_FIELDS

    text = (Path(__file__).resolve().parents[2] / "docs" / "security.md").read_text()
    for table in (FIELDS, MOUNT_FIELDS, SPEC_FIELDS, VOLUME_DRIVER_OPTIONS):
        for name, (_verdict, why) in table.items():
            assert any(line.startswith(f"| `{name}`") and why in line
                       for line in text.splitlines()), name


def test_a_bind_string_with_shared_propagation_is_refused_as_a_mount_would_be():
    host = HostView("/")
    for mode in ("rshared", "ro,shared", "rslave", "slave,z"):
        found = judge({"Image": "x", "HostConfig": {"Binds": [f"/tmp:/x:{mode}"]}}, host=host)
        assert [v.field for v in found] == ["HostConfig.Binds[0]"], mode
        assert "propagation" in found[0].reason
    for mode in ("ro", "rw,z", "rprivate", "private,ro"):
        assert judge({"Image": "x", "HostConfig": {"Binds": [f"/tmp:/x:{mode}"]}}, host=host) == []
