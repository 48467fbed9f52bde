"""Lifecycle actions against the real engine, each effect checked with
`docker inspect`, and every refusal checked to change nothing."""

from __future__ import annotations

import html
import re
from urllib.parse import unquote


from app.views import actions
from conftest import LABEL, SESSION, csrf_post, unique_name


def state(docker, cid) -> dict:
    return docker.inspect(cid)["State"]


def act(client, cid, action, data=None, **kw):
    return csrf_post(client, f"/containers/{cid}/{action}", data or {}, **kw)


def flashed(client, response) -> str:
    """Follow a no-JS redirect and return the page it lands on."""
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    return html.unescape(client.get(response.headers["Location"]).get_data(as_text=True))


def test_stop_start_with_plain_messages_for_304(client, docker, run_container):
    cid = run_container()
    r = act(client, cid, "stop", {"t": "1"})
    assert r.headers["Location"] == f"/containers/{cid}"
    assert "Stopped" in flashed(client, r)
    assert state(docker, cid)["Running"] is False
    page = flashed(client, act(client, cid, "stop"))
    assert "was already stopped" in page and 'data-kind=' not in page.split('id="flash"')[1][:300]
    assert "Started" in flashed(client, act(client, cid, "start"))
    assert state(docker, cid)["Running"] is True
    assert "was already running" in flashed(client, act(client, cid, "start"))


def test_restart_changes_started_at(client, docker, run_container):
    cid = run_container()
    before = state(docker, cid)["StartedAt"]
    assert "Restarted" in flashed(client, act(client, cid, "restart", {"t": "0"}))
    after = state(docker, cid)
    assert after["Running"] and after["StartedAt"] != before


def test_pause_unpause_and_the_engine_saying_already(client, docker, run_container):
    cid = run_container()
    assert "Paused" in flashed(client, act(client, cid, "pause"))
    assert state(docker, cid)["Paused"] is True
    page = flashed(client, act(client, cid, "pause"))  # engine: 409 already paused
    assert "already paused" in page
    assert "Resumed" in flashed(client, act(client, cid, "unpause"))
    assert state(docker, cid)["Paused"] is False
    page = flashed(client, act(client, cid, "unpause"))  # engine: 500 is not paused
    assert "is not paused" in page


def test_kill_with_a_signal(client, docker, run_container):
    cid = run_container("trap 'exit 7' USR1; while true; do sleep 0.1; done")
    page = flashed(client, act(client, cid, "kill", {"signal": "SIGUSR1"}))
    assert "Sent SIGUSR1" in page
    docker("wait", cid)
    assert state(docker, cid)["ExitCode"] == 7
    cid2 = run_container()
    flashed(client, act(client, cid2, "kill"))
    st = state(docker, cid2)
    assert st["Running"] is False and st["ExitCode"] == 137
    assert "not running" in flashed(client, act(client, cid2, "kill"))


def test_remove_asks_first_then_removes(client, docker, run_container):
    cid = run_container()
    # GET shows the confirmation and changes nothing
    r = client.get(f"/containers/{cid}/remove")
    assert r.status_code == 200 and 'name="confirmed" value="1"' in r.get_data(as_text=True)
    # a POST without the confirmation shows it too
    r = act(client, cid, "remove")
    assert r.status_code == 200 and "cannot be undone" in r.get_data(as_text=True)
    assert state(docker, cid)["Running"]
    # running and not forced: the engine refuses, nothing changes
    r = act(client, cid, "remove", {"confirmed": "1"})
    assert r.status_code == 303
    page = html.unescape(client.get(r.headers["Location"]).get_data(as_text=True))
    assert "was not removed" in page
    assert state(docker, cid)["Running"]
    r = act(client, cid, "remove", {"confirmed": "1", "force": "1"})
    assert r.status_code == 303 and r.headers["Location"] == "/containers"
    assert "Removed" in flashed(client, r)
    assert docker.raw("inspect", cid).returncode != 0


def test_remove_with_anonymous_volumes(client, docker, run_container):
    keep = run_container("true", args=["-v", "/data"])
    drop = run_container("true", args=["-v", "/data"])
    docker("wait", keep)
    docker("wait", drop)
    vol_keep = docker.inspect(keep)["Mounts"][0]["Name"]
    vol_drop = docker.inspect(drop)["Mounts"][0]["Name"]
    try:
        page = flashed(client, act(client, drop, "remove", {"confirmed": "1", "volumes": "1"}))
        assert "anonymous volumes" in page
        assert docker.raw("volume", "inspect", vol_drop).returncode != 0
        flashed(client, act(client, keep, "remove", {"confirmed": "1"}))
        assert docker.raw("inspect", keep).returncode != 0
        assert docker.raw("volume", "inspect", vol_keep).returncode == 0
    finally:
        docker("volume", "rm", "-f", vol_keep, vol_drop, check=False)


def test_htmx_row_answers_with_the_rows_and_a_message(client, docker, run_container):
    name = unique_name("row")
    cid = run_container(name=name)
    r = act(client, cid, "stop", {"t": "0", "ctx": "row", "f_all": "1",
                                  "f_label": f"{LABEL}={SESSION}"},
            headers={"HX-Request": "true"})
    page = r.get_data(as_text=True)
    assert r.status_code == 200
    assert page.lstrip().startswith('<div id="rows"')
    assert f'data-id="{cid}"' in page  # the filters were kept (all=1 shows it stopped)
    assert 'hx-swap-oob="true"' in page and f"Stopped {name}." in page
    assert 'hx-trigger="every ' in page  # the polling goes on
    assert state(docker, cid)["Running"] is False
    # the same without JS: back to the list with the filters
    r = act(client, cid, "start", {"ctx": "row", "f_all": "1", "f_q": "row"})
    assert r.status_code == 303 and r.headers["Location"] == "/containers?all=1&q=row"


def test_rows_and_detail_carry_the_buttons(client, run_container):
    cid = run_container()
    rows = client.get(f"/containers/rows?label={LABEL}={SESSION}").get_data(as_text=True)
    assert f'formaction="/containers/{cid}/stop"' in rows and f'href="/containers/{cid}/remove?next=' in rows
    detail = client.get(f"/containers/{cid}").get_data(as_text=True)
    for a in ("stop", "restart", "pause", "kill"):
        assert f'action="/containers/{cid}/{a}"' in detail
    assert f'action="/containers/{cid}/remove"' in detail and 'data-confirm=' in detail


def test_detail_htmx_remove_redirects_to_the_list(client, docker, run_container):
    cid = run_container()
    r = act(client, cid, "remove", {"confirmed": "1", "force": "1", "ctx": "detail"},
            headers={"HX-Request": "true"})
    assert r.status_code == 200 and r.headers["HX-Redirect"] == "/containers"
    assert docker.raw("inspect", cid).returncode != 0


def test_csrf_missing_or_cross_origin_changes_nothing(client, docker, run_container):
    cid = run_container()
    for action in ("stop", "kill", "pause", "restart", "remove"):
        started = state(docker, cid)["StartedAt"]
        r = client.post(f"/containers/{cid}/{action}", data={"confirmed": "1", "force": "1"},
                        headers={"Origin": "http://localhost"})
        assert r.status_code == 403
        r = act(client, cid, action, {"confirmed": "1", "force": "1"},
                headers={"Origin": "http://evil.example"})
        assert r.status_code == 403
        st = state(docker, cid)
        assert st["Running"] and not st["Paused"] and st["StartedAt"] == started
    assert client.get(f"/containers/{cid}/stop").status_code == 405


def test_bad_input_and_vanished_containers(client, docker, run_container):
    cid = run_container()
    assert act(client, cid, "stop", {"t": "soon"}).status_code == 400
    assert act(client, cid, "stop", {"t": "9999"}).status_code == 400
    assert act(client, cid, "kill", {"signal": "KILL ME"}).status_code == 400
    assert act(client, cid, "explode").status_code == 404
    assert state(docker, cid)["Running"]
    assert act(client, "periscope-no-such-" + SESSION, "stop").status_code == 404
    assert act(client, "../etc", "stop").status_code in (400, 404)
    r = act(client, cid, "stop", {"t": "0", "next": "https://evil.example/x"})
    assert r.headers["Location"] == f"/containers/{cid}"


def test_periscope_will_not_stop_its_own_container(client, docker, run_container, monkeypatch):
    cid = run_container()
    monkeypatch.setattr(actions, "_is_self", lambda c: c == cid)
    for action in ("stop", "kill", "pause", "restart", "remove"):
        r = act(client, cid, action, {"confirmed": "1", "force": "1"})
        assert r.status_code == 403, action
        assert "its own container" in r.get_data(as_text=True)
    assert state(docker, cid)["Running"]


def test_read_only_refuses_actions(docker, run_container):
    from app import create_app
    from conftest import make_settings

    client = create_app(make_settings(read_only=True)).test_client()
    cid = run_container()
    assert act(client, cid, "stop").status_code == 403
    assert state(docker, cid)["Running"]
    assert f"/containers/{cid}/stop" not in client.get(f"/containers/{cid}").get_data(as_text=True)


def test_detail_htmx_remove_refused_goes_to_the_confirm_step(client, docker, run_container):
    cid = run_container()
    r = act(client, cid, "remove", {"confirmed": "1", "ctx": "detail"},
            headers={"HX-Request": "true"})
    assert r.status_code == 200 and r.headers["HX-Redirect"].startswith(f"/containers/{cid}/remove")
    page = html.unescape(client.get(r.headers["HX-Redirect"]).get_data(as_text=True))
    assert "was not removed" in page and "cannot be undone" in page
    assert state(docker, cid)["Running"]


def test_remove_from_a_filtered_list_goes_back_to_it(client, docker, run_container):
    cid = run_container("true")
    docker("wait", cid)
    back = f"/containers?all=1&label={LABEL}={SESSION}"
    rows = client.get(back.replace("/containers?", "/containers/rows?")).get_data(as_text=True)
    m = re.search(rf'href="(/containers/{cid}/remove\?next=[^"]+)"', rows)
    assert m, "the row's Remove link carries the list it came from"
    confirm = client.get(m.group(1).replace("&amp;", "&")).get_data(as_text=True)
    nxt = re.search(r'name="next" value="([^"]+)"', confirm).group(1).replace("&amp;", "&")
    assert unquote(nxt) == back
    r = act(client, cid, "remove", {"confirmed": "1", "next": nxt})
    assert r.status_code in (302, 303) and unquote(r.headers["Location"]) == back
    assert docker.raw("inspect", cid).returncode != 0
