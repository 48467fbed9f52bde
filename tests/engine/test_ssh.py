"""An ssh:// engine for real: Debian's openssh-server on 127.0.0.1, whose
sessions' `docker system dial-stdio` reaches the test engine. List, inspect,
logs (the download byte for byte), an action, all through ssh; the ssh
connections are kept (a handful of handshakes for many requests); a wrong
host key and a refused key are each a clear 503."""

from __future__ import annotations

import re

import pytest
import requests

from conftest import LABEL, SESSION, unique_name
from sshkit import SSHServer, require_sshd


@pytest.fixture(scope="module")
def sshd(docker_host):
    require_sshd()
    srv = SSHServer(docker_host).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def server(sshd, docker_host, tmp_path_factory):
    from conftest import LiveServer

    f = tmp_path_factory.mktemp("ssh") / "engines.toml"
    wrong = sshd.client_config("wrong-host", host_key_pub=sshd.other_host_pub)
    refused = sshd.client_config("refused", key="stranger_key")
    f.write_text(f"""
[engines.remote]
url = "{sshd.url}"
ssh_config = "{sshd.client_config()}"

[engines.local]
url = "{docker_host}"

[engines.impostor]
url = "{sshd.url}"
ssh_config = "{wrong}"

[engines.stranger]
url = "{sshd.url}"
ssh_config = "{refused}"
""")
    # one worker: the ssh connections counted below are all this process's
    srv = LiveServer({"PERISCOPE_ENGINES_FILE": str(f), "PERISCOPE_WORKERS": "1"})
    yield srv
    srv.stop()


def accepted(sshd) -> int:
    return (sshd.dir / "sshd.log").read_text(errors="replace").count("Accepted publickey")


def test_list_inspect_logs_and_an_action_through_ssh(server, sshd, docker, run_container):
    name = unique_name("viassh")
    cid = run_container("printf 'out one\\n'; printf 'err one\\n' >&2; printf '\\377 raw\\n'; "
                        "sleep 600", name=name)
    before = accepted(sshd)
    s = requests.Session()
    base = f"{server.url}/engines/remote"
    r = s.get(f"{base}/containers?label={LABEL}={SESSION}", timeout=30)
    assert r.status_code == 200 and f'data-id="{cid}"' in r.text
    assert "ssh" in r.text.split('class="engine-id"', 1)[1].split("</div>", 1)[0]
    assert s.get(f"{base}/containers/{name}", timeout=30).status_code == 200
    page = s.get(f"{base}/containers/{cid}/logs", timeout=30).text
    assert "out one" in page and "err one" in page
    for stream in ("stdout", "stderr"):
        other = "stderr" if stream == "stdout" else "stdout"
        got = s.get(f"{base}/containers/{cid}/logs/download?{stream}=1&{other}=0", timeout=30)
        cli = docker.raw("logs", cid)
        assert got.content == (cli.stdout if stream == "stdout" else cli.stderr), stream
    tok = re.search(r'"X-CSRF-Token": "([^"]+)"', page).group(1)
    r = s.post(f"{base}/containers/{cid}/stop", data={"csrf_token": tok, "t": "0"},
               headers={"Origin": server.url}, allow_redirects=False, timeout=60)
    assert r.status_code == 303
    assert docker.inspect(cid)["State"]["Running"] is False
    # a dozen more requests: the ssh connections were kept, not made per request
    for _ in range(12):
        assert s.get(f"{base}/containers/rows?all=1", timeout=30).status_code == 200
    made = accepted(sshd) - before  # the server's own start may have made the first ones
    assert accepted(sshd) >= 1 and made <= 4, (made, accepted(sshd))


@pytest.mark.parametrize("name, words", [
    ("impostor", ["Host key verification failed", "not the one in known_hosts"]),
    ("stranger", ["Permission denied", "refused the key"]),
])
def test_ssh_refusals_are_a_clear_503(server, name, words):
    r = requests.get(f"{server.url}/engines/{name}/containers", timeout=30)
    assert r.status_code == 503
    text = r.text
    for w in words:
        assert w in text, (w, text[:3000])
    assert "What ssh said" in text and f'hx-get="/engines/{name}/engine/wait"' in text
    assert "Traceback" not in text
    # the combined list names it and shows the others
    r = requests.get(f"{server.url}/containers", timeout=30)
    assert r.status_code == 200
    row = re.search(rf'<tr class="engine-trouble[^"]*" data-engine="{name}">(.*?)</tr>',
                    r.text, re.S).group(1)
    assert words[0] in row
