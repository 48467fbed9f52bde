"""A service's spec: sections, masking, the host-access policy in the spec's
own terms, and the changes Periscope sends."""

import pytest

from app import servicespec as ss
from app.params import InputError
from swarmkit import load


def spec(**cs):
    return {"Name": "s", "TaskTemplate": {"ContainerSpec": {"Image": "x", **cs}},
            "Mode": {"Replicated": {"Replicas": 1}}}


def test_sections_of_a_recorded_service():
    s = ss.sections(load("service-shop_api"))
    assert s["mode"] == "replicated" and s["stack"] == "shop"
    assert s["constraints"] == ["node.role==manager"]
    assert ("CPUs", "0.5") in s["limits"] and ("Memory", str(64 * 1024 * 1024)) in s["limits"]
    assert s["mounts"][0]["type"] == "volume" and s["mounts"][0]["target"] == "/data"
    assert ("condition", "on-failure") in s["restart_policy"]
    assert ("parallelism", "2") in s["update_policy"] and ("delay", "5 s") in s["update_policy"]
    assert s["ports"] == ["*:18080→80/tcp (host)"]


def test_masked_hides_secret_env_in_spec_and_previous_spec():
    svc = {"Spec": spec(Env=["DB_PASSWORD=pw", "MODE=prod"]),
           "PreviousSpec": spec(Env=["API_TOKEN=old"])}
    m = ss.masked(svc)
    assert "pw" not in str(m) and "old" not in str(m) and "MODE=prod" in str(m)
    assert svc["Spec"]["TaskTemplate"]["ContainerSpec"]["Env"][0] == "DB_PASSWORD=pw"
    assert "pw" not in str(ss.masked(spec(Env=["DB_PASSWORD=pw"])))


def test_violations_name_the_spec_fields():
    assert ss.violations(load("service-shop_api")["Spec"]) == []
    found = ss.violations(spec(
        Mounts=[{"Type": "volume", "Source": "data", "Target": "/d"},
                {"Type": "bind", "Source": "/var/run/docker.sock", "Target": "/s"}],
        CapabilityAdd=["SYS_ADMIN"],
        Privileges={"Seccomp": {"Mode": "unconfined"}, "AppArmor": {"Mode": "disabled"},
                    "SELinuxContext": {"Type": "spc_t"}}))
    fields = [v.field for v in found]
    assert "TaskTemplate.ContainerSpec.Mounts[1].Source" in fields
    assert "TaskTemplate.ContainerSpec.CapabilityAdd" in fields
    assert fields.count("TaskTemplate.ContainerSpec.Privileges.Seccomp") == 1
    assert "TaskTemplate.ContainerSpec.Privileges.AppArmor" in fields
    assert "TaskTemplate.ContainerSpec.Privileges.SELinuxContext" in fields
    assert not any(f.startswith("HostConfig") for f in fields)
    root = ss.violations(spec(Mounts=[{"Type": "bind", "Source": "/", "Target": "/h"}]))
    assert "root filesystem" in root[0].reason
    host_net = {"Name": "s", "TaskTemplate": {"ContainerSpec": {"Image": "x"},
                                              "Networks": [{"Target": "host"}]}}
    assert [v.field for v in ss.violations(host_net)] == ["TaskTemplate.Networks"]
    custom = ss.violations(spec(Privileges={"Seccomp": {"Mode": "custom", "Profile": "{}"}}))
    assert "changes the confinement" in custom[0].reason
    sock = ss.violations(spec(Mounts=[{"Type": "bind", "Source": "/tmp/x/docker.sock"}]),
                         engine_socket="/tmp/x/docker.sock")
    assert "Engine socket" in sock[0].reason


def test_changes():
    s = spec()
    ss.set_replicas(3)(s)
    assert s["Mode"]["Replicated"]["Replicas"] == 3
    with pytest.raises(InputError, match="this one is global"):
        ss.set_replicas(3)({"Mode": {"Global": {}}})
    with pytest.raises(InputError, match="replicated job"):
        ss.set_replicas(3)({"Mode": {"ReplicatedJob": {}}})
    ss.force_update(s)
    ss.force_update(s)
    assert s["TaskTemplate"]["ForceUpdate"] == 2
    assert ss.parse_replicas(" 0 ") == 0 and ss.parse_replicas("10000") == 10000
    for bad in ("", "-1", "1.5", "10001", "٣", "1e3", None):
        with pytest.raises(InputError):
            ss.parse_replicas(bad)
    assert ss.scales_down(1)({"Spec": spec()}) is False
    assert ss.scales_down(0)({"Spec": spec()}) is True


def test_the_task_template_around_the_container_spec_is_judged_too():
    base = {"Name": "s", "TaskTemplate": {"ContainerSpec": {"Image": "x"}}}

    def tt(**more):
        return {**base, "TaskTemplate": {**base["TaskTemplate"], **more}}

    assert ss.violations(tt(LogDriver={"Name": "json-file"}, Runtime="container")) == []
    assert [v.field for v in ss.violations(tt(PluginSpec={"Name": "evil/plugin"}))] == [
        "TaskTemplate.PluginSpec"]
    assert [v.field for v in ss.violations(tt(Runtime="plugin"))] == ["TaskTemplate.Runtime"]
    assert [v.field for v in ss.violations(tt(LogDriver={"Name": "syslog"}))] == [
        "TaskTemplate.LogDriver.Type"]
