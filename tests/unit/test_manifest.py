"""Manifest checks before any Engine call, and the equivalent command lines."""

import json
import shlex

import pytest

from app.gateway.hosts import parse_host
from app.manifest import (MAX_BYTES, check_image, check_name, curl_calls, docker_run, image_ref,
                          parse)


def one(text: str):
    m, problems = parse(text)
    assert len(problems) == 1, problems
    return problems[0]


def test_valid_manifest_has_no_problem():
    m, problems = parse('{"Image": "busybox", "Cmd": ["echo", "hi"], "Env": ["A=1", "B="],'
                        ' "Labels": {"x": "y"}, "ExposedPorts": {"80/tcp": {}},'
                        ' "HostConfig": {"Memory": 1048576}, "Tty": true}')
    assert problems == [] and m["Image"] == "busybox"


def test_syntax_error_names_line_column_and_quotes_the_line():
    text = '{\n  "Image": "busybox",\n  "Cmd": ["echo" "hi"]\n}'
    p = one(text)
    assert p.line == 3 and p.column == 18
    assert p.line_text == '  "Cmd": ["echo" "hi"]'
    assert "JSON syntax error" in p.message


@pytest.mark.parametrize("text,line", [
    ('{"Image": "busybox",}', 1),
    ('{\n"Image": "busybox"\n', 2),
    ("{'Image': 'busybox'}", 1),
    ('{"Image": "busybox"} extra', 1),
    ('{"Image": NaN}', None),
])
def test_other_syntax_errors(text, line):
    p = one(text)
    assert p.line == line
    assert "syntax" in p.message.lower() or "ends" in p.message.lower()


@pytest.mark.parametrize("text,needle", [
    ("", "empty"), ("   \n", "empty"),
    ("[1, 2]", "not a list"), ('"busybox"', "not a string"), ("42", "not a number"),
    ("null", "not null"),
    ("{}", '"Image" is missing'), ('{"Image": ""}', "empty"), ('{"Image": 3}', "must be a string"),
    ('{"Image": "busy box"}', "spaces"),
    ('{"Image": "b", "Cmd": 3}', "string or a list of strings"),
    ('{"Image": "b", "Cmd": ["echo", 3]}', "item 1"),
    ('{"Image": "b", "Entrypoint": {"a": 1}}', "Entrypoint"),
    ('{"Image": "b", "Env": "A=1"}', "list of"),
    ('{"Image": "b", "Env": ["NOVALUE"]}', "KEY=value"),
    ('{"Image": "b", "Env": ["=x"]}', "KEY=value"),
    ('{"Image": "b", "Env": [1]}', "Env item 0"),
    ('{"Image": "b", "Labels": ["a"]}', "object of strings"),
    ('{"Image": "b", "Labels": {"n": 1}}', "string value"),
    ('{"Image": "b", "ExposedPorts": ["80/tcp"]}', "ExposedPorts"),
    ('{"Image": "b", "HostConfig": []}', "HostConfig"),
    ('{"Image": "b", "Tty": "yes"}', "true or false"),
    ('{"Image": "b", "image": "c"}', "same field"),
    ('{"Image": "b", "Image": "c"}', "appears twice"),
])
def test_shape_checks(text, needle):
    p = one(text)
    assert needle in p.message, p


def test_field_problems_point_at_their_line():
    text = '{\n  "Image": "busybox",\n  "Env": ["A=1",\n   "oops"]\n}'
    p = one(text)
    assert p.field == "Env[1]" and p.line == 3 and '"Env"' in p.line_text


def test_keys_in_any_case_are_read():
    m, problems = parse('{"image": "busybox", "cmd": ["true"]}')
    assert problems == []


def test_size_limit():
    big = '{"Image": "b", "Env": ["A=' + "x" * MAX_BYTES + '"]}'
    p = one(big)
    assert "256 KiB" in p.message


@pytest.mark.parametrize("name,ok", [
    ("", True), ("web", True), ("/web", True), ("a1", True), ("a.b_c-d", True),
    ("a", False), ("-web", False), ("_web", False), ("we b", False), ("we/b", False),
    ("x" * 256, False), ("héllo", False),
])
def test_names(name, ok):
    assert (check_name(name) is None) == ok


def test_docker_run_line():
    m, _ = parse('{"Image": "busybox", "Cmd": ["sh", "-c", "echo $HOME; sleep 1"],'
                 ' "Env": ["A=1 2"], "Labels": {"team": "x"}, "Tty": true,'
                 ' "ExposedPorts": {"80/tcp": {}}, "WorkingDir": "/tmp",'
                 ' "HostConfig": {"RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 3},'
                 ' "PortBindings": {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}]},'
                 ' "Binds": ["data:/data"], "Memory": 1048576, "NanoCpus": 500000000,'
                 ' "Ulimits": []}, "Healthcheck": {"Test": ["NONE"]}}')
    line, left = docker_run(m, "web")
    argv = shlex.split(line)
    assert argv[:5] == ["docker", "run", "-d", "--name", "web"]
    assert argv[-4:] == ["busybox", "sh", "-c", "echo $HOME; sleep 1"]
    for pair in (["-e", "A=1 2"], ["--label", "team=x"], ["--expose", "80/tcp"], ["-w", "/tmp"],
                 ["--restart", "on-failure:3"], ["-p", "127.0.0.1:8080:80"], ["-v", "data:/data"],
                 ["-m", "1048576"], ["--cpus", "0.5"]):
        i = argv.index(pair[0], argv.index(pair[0]) if pair[0] not in ("-e",) else 0)
        assert pair[1] in argv[i:], pair
    assert "-t" in argv
    assert "Healthcheck" in left and "HostConfig.Ulimits" in left
    line2, _ = docker_run({"Image": "b", "Entrypoint": ["/bin/sh", "-c"], "Cmd": "date"}, None,
                          start=False)
    assert shlex.split(line2) == ["docker", "create", "--entrypoint", "/bin/sh", "b", "-c", "date"]



def test_docker_run_line_survives_odd_nested_types():
    """The preview is drawn for any manifest that parses (the engine judges
    nested fields): a number where a list or string belongs must not crash it."""
    for hc in ({"PortBindings": {"80/tcp": 5}}, {"PortBindings": {"80/tcp": [{"HostIp": 5}]}},
               {"PortBindings": {"80/tcp": [{"HostPort": 8080}]}}, {"LogConfig": {"Config": 5}}):
        m, problems = parse(json.dumps({"Image": "b", "HostConfig": hc}))
        assert not problems
        line, _ = docker_run(m)
        assert line.startswith("docker run -d")
    line, _ = docker_run({"Image": "b", "HostConfig": {"PortBindings": {"80/tcp": [{"HostPort": 8080}]}}})
    assert "-p 8080:80" in line

def test_curl_calls_are_filled_in():
    host = parse_host("unix:///tmp/pdev/docker.sock", {})
    m, _ = parse('{"Image": "busybox", "Cmd": ["echo", "it\'s"]}')
    calls = curl_calls(host.curl, "1.41", m, "web")
    assert len(calls) == 2
    create, start = (shlex.split(c[1]) for c in calls)
    assert create[-1] == "http://localhost/v1.41/containers/create?name=web"
    assert create[create.index("-d") + 1] == '{"Image":"busybox","Cmd":["echo","it\'s"]}'
    assert "--unix-socket" in create and "/tmp/pdev/docker.sock" in create
    assert start[-1] == "http://localhost/v1.41/containers/web/start" and "POST" in start
    unnamed = curl_calls(host.curl, "1.41", m, None)
    assert unnamed[1][1].endswith('"http://localhost/v1.41/containers/$ID/start"')
    assert "name=" not in unnamed[0][1]
    assert len(curl_calls(host.curl, "1.41", m, None, start=False)) == 1


@pytest.mark.parametrize("image,ref", [
    ("busybox", ("busybox", "latest")), ("busybox:1.36", ("busybox", "1.36")),
    ("127.0.0.1:5000/periscope/test", ("127.0.0.1:5000/periscope/test", "latest")),
    ("127.0.0.1:5000/periscope/test:v1", ("127.0.0.1:5000/periscope/test", "v1")),
    ("b@sha256:" + "a" * 64, ("b", "sha256:" + "a" * 64)),
])
def test_image_ref(image, ref):
    assert image_ref(image) == ref
    assert check_image(image) is None


@pytest.mark.parametrize("image", ["", "Busybox", "a b", "x:", "../x", "a" * 600, "http://x/y"])
def test_bad_image_refs(image):
    assert check_image(image)
