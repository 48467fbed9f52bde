"""Images, volumes and networks on several engines: with none in the URL the
lists hold every engine's side by side (and name the one that cannot answer);
each engine's pages show only its own, and their links and remove steps stay
on that engine."""

from __future__ import annotations

import re
import subprocess

import pytest

from conftest import LABEL, SESSION, create_app, csrf_post, make_settings, unique_name
from resourcekit import rows, tarball


def on(host: str, *args: str, input: bytes | None = None) -> str:
    p = subprocess.run(["docker", "-H", host, *args], capture_output=True, input=input,
                       timeout=120)
    assert p.returncode == 0, p.stderr
    return p.stdout.decode().strip()


@pytest.fixture(scope="module")
def made(docker_host, second_engine):
    """On each live engine: an image, a volume and a network, labelled."""
    out = {}
    for key, host in (("main", docker_host), ("second", second_engine.unix_host)):
        ref = f"multi-{key}-{SESSION}:v1"
        out[key] = {
            "host": host,
            "image": on(host, "import", "--change", f"LABEL {LABEL}={SESSION}", "-", ref,
                        input=tarball()).splitlines()[-1],
            "volume": on(host, "volume", "create", "--label", f"{LABEL}={SESSION}",
                         unique_name(f"v{key}")),
            "network": on(host, "network", "create", "--label", f"{LABEL}={SESSION}",
                          unique_name(f"n{key}")),
        }
    yield out
    for m in out.values():
        subprocess.run(["docker", "-H", m["host"], "network", "rm", m["network"]],
                       capture_output=True)
        subprocess.run(["docker", "-H", m["host"], "volume", "rm", "-f", m["volume"]],
                       capture_output=True)
        subprocess.run(["docker", "-H", m["host"], "rmi", "-f", m["image"]], capture_output=True)


@pytest.fixture(scope="module")
def client(made, fault_engines):
    s = make_settings(engines=f"main={made['main']['host']},second={made['second']['host']},"
                              f"gone={fault_engines['missing']}", engine_budget=2.0)
    return create_app(s).test_client()


def engines_of(page: str, key_attr: str) -> dict[str, str]:
    """key -> engine of each row of a combined list."""
    return {k: e for k, e in re.findall(rf'<tr\b[^>]*{key_attr}="([^"]+)"[^>]*data-engine="([^"]+)"',
                                        page)}


@pytest.mark.parametrize("path,kind,attr", [("/images", "image", "data-id"),
                                            ("/volumes", "volume", "data-name"),
                                            ("/networks", "network", "data-id")])
def test_the_combined_list_holds_every_engine(client, made, path, kind, attr):
    mark = f"?label={LABEL}={SESSION}"
    for url in (path + mark, path + "/rows" + mark):
        r = client.get(url)
        assert r.status_code == 200, url
        page = r.get_data(as_text=True)
        got = engines_of(page, attr)
        assert got.get(made["main"][kind]) == "main", url
        assert got.get(made["second"][kind]) == "second", url
        trouble = re.search(r'<tr class="engine-trouble error" data-engine="gone">(.*?)</tr>',
                            page, re.S)
        assert trouble and "No such file or directory" in trouble.group(1), url
    # each row links and removes on its own engine
    page = client.get(path + mark).get_data(as_text=True)
    row = rows(page, attr)[made["second"][kind]]
    assert f'href="/engines/second/{path[1:]}/' in row
    if kind != "network":
        assert "/engines/second/" in row.split("Remove…")[0].rsplit('href="', 1)[1]
    # narrowed to one engine by the filter
    page = client.get(f"{path}{mark}&engine=second").get_data(as_text=True)
    assert set(engines_of(page, attr).values()) == {"second"}


def test_each_engine_shows_only_its_own(client, made):
    for name, other in (("main", "second"), ("second", "main")):
        mine, theirs = made[name], made[other]
        page = client.get(f"/engines/{name}/images?label={LABEL}={SESSION}").get_data(
            as_text=True)
        assert mine["image"] in page and theirs["image"] not in page
        assert client.get(f"/engines/{name}/images/{mine['image']}").status_code == 200
        assert client.get(f"/engines/{name}/images/{theirs['image']}").status_code == 404
        assert client.get(f"/engines/{name}/volumes/{mine['volume']}").status_code == 200
        assert client.get(f"/engines/{name}/volumes/{theirs['volume']}").status_code == 404
        assert client.get(f"/engines/{name}/networks/{mine['network']}").status_code == 200
        page = client.get(f"/engines/{name}/disk").get_data(as_text=True)
        assert "GET /system/df took" in page and f'/engines/{name}/disk/prune/images' in page
    # the default engine's pages are the first engine's
    assert client.get(f"/images/{made['main']['image']}").status_code == 200
    assert client.get(f"/images/{made['second']['image']}").status_code == 404


def test_remove_goes_to_the_engine_in_the_url(client, made):
    host = made["second"]["host"]
    vol = on(host, "volume", "create", "--label", f"{LABEL}={SESSION}", unique_name("gone"))
    step = client.get(f"/engines/second/volumes/{vol}/remove").get_data(as_text=True)
    assert f'action="/engines/second/volumes/{vol}/remove"' in step
    # not on the other engine
    assert csrf_post(client, f"/engines/main/volumes/{vol}/remove",
                     {"confirmed": "1"}).status_code == 404
    r = csrf_post(client, f"/engines/second/volumes/{vol}/remove", {"confirmed": "1"})
    assert r.status_code == 303 and r.headers["Location"] == "/engines/second/volumes"
    assert vol not in on(host, "volume", "ls", "-q")
