"""The events page against the real engine: lifecycle events appear in order,
once each, under the right filters; polling with the cursor neither doubles
nor loses an event; what the docker CLI reports is the witness."""

from __future__ import annotations

import html as htmlmod
import json
import re
import time
import uuid


from conftest import LABEL, SESSION, unique_name

ROW_RE = re.compile(r'<tr class="ev [^"]*" data-key="([0-9a-f]{8})" data-ns="(\d+)" '
                    r'data-type="([^"]*)" data-action="([^"]*)" data-actor="([^"]*)">')
POLL_RE = re.compile(r'<tr id="events-poll" class="poller" hx-get="([^"]+)"')


def rows(page: str) -> list[tuple[int, str, str, str]]:
    """(timeNano, type, action, actor ID) of each row, in page order."""
    return [(int(ns), t, htmlmod.unescape(a), actor)
            for _k, ns, t, a, actor in ROW_RE.findall(page)]


def poll_url(page: str) -> str:
    m = POLL_RE.search(page)
    assert m, "the page carries no poller"
    return htmlmod.unescape(m.group(1))


def cli_events(docker, since: float, until: float, *filters: str) -> list[tuple[int, str, str, str]]:
    args = ["events", "--since", f"{since:.9f}", "--until", f"{until:.9f}",
            "--format", "{{json .}}"]
    for f in filters:
        args += ["--filter", f]
    out = []
    for line in docker(*args).splitlines():
        if line.strip():
            e = json.loads(line)
            out.append((int(e["timeNano"]), e["Type"], e["Action"], e["Actor"]["ID"]))
    return out


def wait_events(docker, since: float, filt: str, want: int, timeout: float = 30) -> None:
    """Until the engine itself reports `want` events (its CLI, the witness),
    and the newest is older than the page's lag (a window ends LAG_NS before
    now): conditions with a deadline, never a fixed sleep."""
    from app.eventfeed import LAG_NS

    deadline = time.monotonic() + timeout
    while True:
        got = cli_events(docker, since, time.time(), filt)
        if len(got) >= want:
            break
        assert time.monotonic() < deadline, f"the engine reported {len(got)} of {want} events"
        time.sleep(0.1)
    newest = max(ns for ns, *_ in got)
    while time.time_ns() - LAG_NS <= newest:
        time.sleep(0.01)



def test_lifecycle_events_in_order_once_each(client, docker, test_image):
    tag = uuid.uuid4().hex[:8]
    name = unique_name("ev")
    t0 = time.time()
    cid = docker("run", "-d", "--name", name, "--label", f"{LABEL}={SESSION}", "--label",
                 f"evtest={tag}", test_image, "sh", "-c", "exit 3").strip()
    assert docker("wait", cid).strip() == "3"
    docker("rm", "-v", cid)
    wait_events(docker, t0 - 1, f"label=evtest={tag}", 4)  # create, start, die, destroy
    r = client.get(f"/events?label=evtest={tag}")
    assert r.status_code == 200
    page = r.get_data(as_text=True)
    got = rows(page)
    actions = [a for _ns, _t, a, _id in got]
    # newest first
    assert actions[:4] == ["destroy", "die", "start", "create"], actions
    assert all(actor == cid for *_x, actor in got)
    assert len(set(got)) == len(got), "an event is doubled"
    assert [ns for ns, *_ in got] == sorted((ns for ns, *_ in got), reverse=True)
    # the same events the CLI reports for that window
    witness = cli_events(docker, t0 - 1, time.time(), f"label=evtest={tag}")
    assert sorted(got) == sorted(witness)
    # the exit code is shown in a readable form; the gone container is not linked
    assert "exit code</span> <code>3</code>" in page
    assert f'href="/containers/{cid}"' not in page
    assert name in page


def test_filters_type_action_container_label(client, docker, run_container, test_image):
    tag = uuid.uuid4().hex[:8]
    t0 = time.time()
    a = run_container("exit 0", name=unique_name("eva"), labels={"evtest": tag})
    b = run_container("exit 1", name=unique_name("evb"), labels={"evtest": tag})
    docker("wait", a)
    docker("wait", b)
    wait_events(docker, t0 - 1, f"label=evtest={tag}", 6)  # create, start, die each

    def get(q):
        r = client.get(f"/events?{q}")
        assert r.status_code == 200, q
        return rows(r.get_data(as_text=True))

    both = get(f"label=evtest={tag}")
    assert {actor for *_x, actor in both} == {a, b}
    dies = get(f"label=evtest={tag}&action=die")
    assert sorted(actor for *_x, actor in dies) == sorted([a, b])
    assert all(act == "die" for _n, _t, act, _i in dies)
    a_name = docker.inspect(a)["Name"].lstrip("/")
    only_a = get(f"container={a_name}")
    assert only_a and {actor for *_x, actor in only_a} == {a}
    only_b = get(f"container={b[:12]}&type=container")
    assert only_b and {actor for *_x, actor in only_b} == {b}
    assert get(f"label=evtest={tag}&type=image") == []
    # the existing containers are linked to their page (one list call for the page)
    page = client.get(f"/events?label=evtest={tag}").get_data(as_text=True)
    assert f'href="/containers/{a}"' in page and f'href="/containers/{b}"' in page
    calls = re.findall(r'<td class="path"><code>([^<]+)</code>', page)
    assert sum("/containers/json" in c for c in calls) == 1, calls
    assert sum("/events" in c for c in calls) == 1, calls


def test_bad_filters_say_so_and_keep_the_input(client):
    r = client.get("/events?type=bogus&action=Not%20An%20Action&container=a/b&window=9y")
    assert r.status_code == 200
    page = r.get_data(as_text=True)
    assert "Some filters were not applied" in page
    assert 'value="Not An Action"' in page and 'value="a/b"' in page
    assert "bogus" in page and "9y" in page
    # a hostile label value is escaped, never markup
    r = client.get("/events?label=%3Cscript%3Ealert(1)%3C/script%3E")
    assert r.status_code == 200 and "<script>alert(1)" not in r.get_data(as_text=True)


def test_polling_doubles_nothing_and_loses_nothing(client, docker, test_image):
    """Poll with the page's own cursor while containers churn; every event the
    engine reports for the whole span appears exactly once, newest first."""
    tag = uuid.uuid4().hex[:8]
    page = client.get(f"/events?label=evtest={tag}").get_data(as_text=True)
    assert rows(page) == []
    url = poll_url(page)
    start = time.time()
    seen: list[tuple[int, str, str, str]] = []
    made = []
    for i in range(6):
        # events land during and between polls, some within the same instant
        made.append(docker("run", "-d", "--label", f"{LABEL}={SESSION}", "--label",
                           f"evtest={tag}", test_image, "sh", "-c", f"exit {i}").strip())
        for _ in range(2):
            r = client.get(url, headers={"HX-Request": "true"})
            assert r.status_code == 200
            part = r.get_data(as_text=True)
            new = rows(part)
            assert [n for n, *_ in new] == sorted((n for n, *_ in new), reverse=True)
            seen += new
            url = poll_url(part)
            # the poller carries its own trigger
            assert 'hx-trigger="load delay:' in part
    for cid in made:
        docker("wait", cid)
    docker("rm", "-v", *made)
    wait_events(docker, start - 1, f"label=evtest={tag}", 6 * 4)
    for _ in range(2):
        part = client.get(url, headers={"HX-Request": "true"}).get_data(as_text=True)
        seen += rows(part)
        url = poll_url(part)
    witness = cli_events(docker, start - 1, time.time(), f"label=evtest={tag}")
    assert len(seen) == len(set(seen)), "an event was shown twice"
    assert sorted(seen) == sorted(witness), "an event was lost or invented"
    assert len(witness) == 6 * 4  # create, start, die, destroy each


def test_poll_drops_what_it_carries_in_its_cursor(client, docker, run_container):
    """The overlap re-read returns events already shown: the carried keys drop them."""
    tag = uuid.uuid4().hex[:8]
    t0 = time.time()
    cid = run_container("exit 0", labels={"evtest": tag})
    docker("wait", cid)
    wait_events(docker, t0 - 1, f"label=evtest={tag}", 3)  # create, start, die
    page = client.get(f"/events?label=evtest={tag}").get_data(as_text=True)
    shown = rows(page)
    assert {a for _n, _t, a, _i in shown} >= {"create", "start", "die"}
    url = poll_url(page)
    assert "seen=" in url and re.search(r"seen=[0-9a-f]{8}", url)
    part = client.get(url, headers={"HX-Request": "true"}).get_data(as_text=True)
    assert rows(part) == []
    # without the carried keys the same window would show them again
    bare = re.sub(r"seen=[^&]*", "seen=", url)
    again = rows(client.get(bare, headers={"HX-Request": "true"}).get_data(as_text=True))
    assert set(again) == set(shown)


def test_hostile_cursor_is_refused_quietly(client):
    for q in ("after=abc&seen=zz", "after=99999999999999999999&seen=<b>", "after=-5", ""):
        r = client.get(f"/events/poll?{q}", headers={"HX-Request": "true"})
        assert r.status_code == 200, q
        assert "events-poll" in r.get_data(as_text=True)


def test_unreachable_engine_is_a_503_page_and_a_flash_for_the_poll(tmp_path):
    from app import create_app
    from conftest import make_settings

    app = create_app(make_settings(docker_host=f"unix://{tmp_path}/missing.sock"))
    c = app.test_client()
    r = c.get("/events")
    assert r.status_code == 503 and "does not answer" in r.get_data(as_text=True)
    r = c.get("/events/poll?after=1&seen=", headers={"HX-Request": "true"})
    assert r.status_code == 503 and r.headers.get("HX-Retarget") == "#flash"
    r = c.get("/whoami")
    assert r.status_code == 503
