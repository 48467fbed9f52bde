"""The event watch (app/gateway/watch.py) on the real engine: a quiet
engine's container list is reused past the freshness bound with no call; any
change the engine reports makes the next read a call that shows it; a list
whose Status texts count seconds never lasts; and an engine whose events
stream fails or ends at once leaves the bound alone in charge, without
hammering it."""

from __future__ import annotations

import time

from app.gateway import Engine, parse_host
from conftest import LABEL, SESSION, unique_name
from faultkit import FakeEngine, remove_tree, short_tmp

BOUND = 0.2


def past_the_bound(eng: Engine) -> None:
    """Let every shared answer run past the freshness bound (what is tested
    here is how an answer is treated once it has)."""
    time.sleep(BOUND * 1.5)


def wait_for(cond, what: str, seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while not cond():
        assert time.monotonic() < deadline, f"{what} did not happen within {seconds:g} s"
        time.sleep(0.01)


def test_a_quiet_list_lasts_and_a_reported_change_ends_it_at_once(docker_host, docker,
                                                                   test_image):
    tag = f"watch-{unique_name()}"
    eng = Engine(parse_host(docker_host), share_for=BOUND, quiet_for=60)
    made = []
    try:
        listed = lambda: eng.containers(all=True, filters={"label": [f"{LABEL}={tag}"]})  # noqa: E731
        assert listed() == []
        reads = calls = 0
        deadline = time.monotonic() + 30
        while eng.shared.lasted < 3:  # reads past the bound answered with no call
            assert time.monotonic() < deadline, "a quiet list never lasted"
            before = eng.shared.calls
            past_the_bound(eng)
            assert listed() == []
            reads, calls = reads + 1, calls + eng.shared.calls - before
        # (the first reads call: the watch starts, connects, and an answer
        # counts as quiet only from a moment after the last event)
        assert calls == reads - 3
        seen = eng.watch.last_event
        # a change behind Periscope's back (the CLI, not this Engine: no write
        # of its own drops the answer)
        made.append(docker("create", "--label", f"{LABEL}={SESSION}", "--label",
                           f"{LABEL}={tag}", test_image, "true").strip())
        wait_for(lambda: eng.watch.last_event != seen, "the create event reaching the watch")
        before = eng.shared.calls
        assert [c["Id"] for c in listed()] == made
        assert eng.shared.calls == before + 1
    finally:
        eng.close()
        if made:
            docker("rm", "-f", *made, check=False)


def test_the_watch_ends_when_nobody_lists_and_when_the_engine_is_closed(docker_host):
    eng = Engine(parse_host(docker_host), share_for=BOUND, quiet_for=1.0)
    try:
        eng.containers(filters={"label": ["periscope.nothing=here"]})  # a list read starts it
        wait_for(lambda: eng.watch.connected_at is not None, "the watch's connection")
        wait_for(lambda: not eng.watch.running, "the unused watch's end", seconds=10)
        eng.containers(filters={"label": ["periscope.nothing=here"]})  # asked again: back
        wait_for(lambda: eng.watch.connected_at is not None, "the watch's new connection")
        assert eng.watch.connections == 2
    finally:
        eng.close()
    wait_for(lambda: not eng.watch.running, "the end on close", seconds=2)


def test_a_quiet_spell_keeps_the_watch_on_its_stream(docker_host):
    """Quiet for several times `quiet_for` while someone lists: the watch
    reads on the stream it has (asked anew, it could vouch only for lists
    begun after the new connection, and each such list would be asked for
    again)."""
    eng = Engine(parse_host(docker_host), share_for=BOUND, quiet_for=0.4)
    f = {"label": ["periscope.nothing=here"]}
    try:
        eng.containers(filters=f)
        wait_for(lambda: eng.watch.connected_at is not None, "the watch's connection")
        connected = eng.watch.connected_at
        end = time.monotonic() + 5 * eng.watch.hold
        while time.monotonic() < end:  # someone keeps looking (paced, not waited on)
            eng.containers(filters=f)
            time.sleep(BOUND / 2)
        assert eng.watch.running
        assert eng.watch.connections == 1 and eng.watch.connected_at == connected
    finally:
        eng.close()
    wait_for(lambda: not eng.watch.running, "the end on close", seconds=2)


def test_a_list_whose_status_counts_seconds_never_lasts(docker_host, run_container):
    cid = run_container()  # "Up 1 second" for its first minute
    eng = Engine(parse_host(docker_host), share_for=BOUND, quiet_for=60)
    try:
        f = {"id": [cid]}
        assert "second" in eng.containers(filters=f)[0]["Status"]
        past_the_bound(eng)
        eng.containers(filters=f)
        wait_for(lambda: eng.watch.connected_at is not None, "the watch's connection")
        calls = eng.shared.calls
        for _ in range(3):
            past_the_bound(eng)
            eng.containers(filters=f)
        assert eng.shared.calls == calls + 3 and eng.shared.lasted == 0
    finally:
        eng.close()


def test_an_events_stream_that_fails_or_ends_leaves_the_bound_in_charge():
    d = short_tmp()
    listed = (200, "[]", "application/json")
    failing = FakeEngine(d / "fail.sock", {"/v1.41/containers/json": listed,
                                           "/v1.41/events": (500, '{"message":"no"}',
                                                             "application/json")})
    ending = FakeEngine(d / "end.sock", {"/v1.41/containers/json": listed,
                                         "/v1.41/events": (200, "", "application/json")})
    try:
        for fake in (failing, ending):
            eng = Engine(parse_host(f"unix://{fake.path}", {}), share_for=BOUND, quiet_for=60)
            try:
                for _ in range(4):
                    eng.containers()
                    past_the_bound(eng)
                lists = sum(1 for s in fake.seen if s.startswith("GET /v1.41/containers/json"))
                streams = sum(1 for s in fake.seen if s.startswith("GET /v1.41/events"))
                assert lists == 4  # every read past the bound asked the engine
                assert streams == 1  # tried once, not again within RETRY seconds
                assert eng.shared.lasted == 0
            finally:
                eng.close()
    finally:
        failing.close()
        ending.close()
        remove_tree(d)


HELD = (b"HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n")


def test_a_stream_whose_last_chunk_came_is_over_though_its_connection_stays():
    """An events body ended by its last chunk on a connection kept open (as a
    proxy may): over, not quiet (the watch would vouch for nothing seen)."""
    d = short_tmp()
    fake = FakeEngine(d / "held.sock", {
        "/v1.41/containers/json": (200, "[]", "application/json"),
        "/v1.41/events": ("held", HELD + b"3\r\n{}\n\r\n0\r\n\r\n", "")})
    eng = Engine(parse_host(f"unix://{fake.path}", {}), share_for=BOUND, quiet_for=60)
    try:
        eng.containers()
        wait_for(lambda: eng.watch.connections == 1, "the watch's connection")
        wait_for(lambda: not eng.watch.running, "the end of the stream", seconds=5)
        assert eng.watch.connected_at is None
    finally:
        eng.close()
        fake.close()
        remove_tree(d)


def test_a_stream_silent_for_long_is_asked_anew():
    """Nothing at all for EVENTS_QUIET_MAX x `hold`: the stream is asked anew
    (a path may have died without a word)."""
    d = short_tmp()
    fake = FakeEngine(d / "silent.sock", {
        "/v1.41/containers/json": (200, "[]", "application/json"),
        "/v1.41/events": ("held", HELD, "")})
    eng = Engine(parse_host(f"unix://{fake.path}", {}), share_for=BOUND, quiet_for=0.2)
    eng.EVENTS_QUIET_MAX = 3
    try:
        end = time.monotonic() + 15
        while eng.watch.connections < 2:  # someone keeps looking (paced, not waited on)
            assert time.monotonic() < end, "the silent stream was never asked anew"
            eng.containers()
            time.sleep(0.05)
        streams = sum(1 for s in fake.seen if s.startswith("GET /v1.41/events"))
        assert streams >= 2
    finally:
        eng.close()
        fake.close()
        remove_tree(d)
