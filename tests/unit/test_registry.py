"""The engines' configuration: PERISCOPE_ENGINES, the engines file, DOCKER_HOST
alone; every bad entry named; and the registry."""

import pytest

from app.registry import DEFAULT_NAME, Registry, UnknownEngine, parse_file, parse_list, specs
from app.gateway import HostConfigError


def test_the_list_in_order_first_is_default():
    got = parse_list("laptop=unix:///var/run/docker.sock, build=tcp://127.0.0.1:2375,"
                     "prod=ssh://deploy@prod.example:2222", {})
    assert [s.name for s in got] == ["laptop", "build", "prod"]
    assert got[0].host.scheme == "unix" and got[1].host.scheme == "http"
    prod = got[2].host
    assert (prod.scheme, prod.netloc, prod.ssh_user, prod.ssh_port) == ("ssh", "prod.example", "deploy", 2222)
    assert prod.ssh_argv(3)[-6:] == ["2222", "--", "prod.example", "docker", "system", "dial-stdio"]
    assert "BatchMode=yes" in prod.ssh_argv(3) and "-l" in prod.ssh_argv(3)
    assert not any("StrictHostKeyChecking" in a for a in prod.ssh_argv(3))


@pytest.mark.parametrize("text, words", [
    ("a=unix:///x,a=unix:///y", ["'a'", "twice"]),
    ("a=unix:///x,b=ftp://h", ["engine 'b'", "unsupported scheme"]),
    ("b@d=unix:///x", ["'b@d'"]),
    ("nourl", ["name=URL"]),
    ("a=", ["name=URL"]),
    (",,", ["names no engine"]),
    ("s=ssh://-oProxyCommand=touch%20x", ["engine 's'"]),
    ("s=ssh://host/path", ["no path"]),
    ("s=ssh://user:secret@host", ["no password"]),
    ("u=unix://", ["engine 'u'"]),
])
def test_bad_lists_name_the_entry(text, words):
    with pytest.raises(HostConfigError) as e:
        parse_list(text, {})
    for w in words:
        assert w in str(e.value), (w, str(e.value))


def test_the_file(tmp_path):
    tls = tmp_path / "tls"
    tls.mkdir()
    for f in ("ca.pem", "cert.pem", "key.pem"):
        (tls / f).write_text("x")
    cfg = tmp_path / "ssh_config"
    cfg.write_text("Host *\n")
    f = tmp_path / "e.toml"
    f.write_text(f"""
[engines.laptop]
url = "unix:///var/run/docker.sock"
[engines.build]
url = "tcp://build.example:2376"
tls = "{tls}"
read_only = true
[engines.prod]
url = "ssh://deploy@prod.example"
ssh_config = "{cfg}"
allow_host_access = false
""")
    got = parse_file(str(f))
    assert [s.name for s in got] == ["laptop", "build", "prod"]
    assert got[1].host.scheme == "https" and got[1].host.ca_cert == str(tls / "ca.pem")
    assert got[1].read_only is True and got[0].read_only is None
    assert got[2].host.ssh_config == str(cfg) and got[2].allow_host_access is False
    assert got[2].host.ssh_argv(3)[got[2].host.ssh_argv(3).index("-F") + 1] == str(cfg)


def test_both_or_neither():
    with pytest.raises(HostConfigError, match="not both"):
        specs(engines="a=unix:///x", engines_file="/x", docker_host=None, tls_env={})
    only = specs(engines=None, engines_file=None, docker_host="unix:///run/d.sock", tls_env={})
    assert [(s.name, s.host.socket_path) for s in only] == [(DEFAULT_NAME, "/run/d.sock")]
    with pytest.raises(HostConfigError, match="DOCKER_HOST"):
        specs(engines=None, engines_file=None, docker_host="ftp://x", tls_env={})


def test_registry_lookup():
    reg = Registry.build(parse_list("a=unix:///a.sock,b=unix:///b.sock", {}), read_only=True,
                         allow_host_access=False, connect_timeout=1, read_timeout=1)
    assert reg.default.name == "a" and reg.get(None) is reg.default and reg.get("b").name == "b"
    assert reg.several and reg.names() == ["a", "b"] and reg.get("b").read_only is True
    assert reg.get("b").engine.name == "b"
    with pytest.raises(UnknownEngine):
        reg.get("c")
