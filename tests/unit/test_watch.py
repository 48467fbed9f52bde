"""The event watch's rules (app/gateway/watch.py), with a stream made here:
an answer is quiet only when asked for MARGIN seconds after the connection
and after the last event; a watch nobody asks ends even while events keep
coming; an engine that refuses the stream is asked again after a wait that
doubles."""

import queue
import threading

from app.gateway.watch import EventWatch


class Stream:
    """A response whose reader gives what the test puts in (None: the end)."""

    def __init__(self):
        self.q: queue.SimpleQueue = queue.SimpleQueue()
        self.closed = threading.Event()
        self.raw = None

    def read(self) -> bytes:
        item = self.q.get(timeout=10)
        return b"" if item is None else item

    def close(self):
        self.closed.set()


def wait_until(cond, seconds=10.0):
    done = threading.Event()
    for _ in range(int(seconds / 0.005)):
        if cond():
            return
        done.wait(0.005)
    raise AssertionError("the condition was not met in time")


def test_quiet_only_a_margin_after_the_connection_and_the_last_event():
    streams = []

    def opener(hold):
        s = Stream()
        streams.append(s)
        return s, s.read

    w = EventWatch(opener, hold=60)
    assert not w.quiet_since(0.0)  # not connected: it starts, and says no
    wait_until(lambda: w.connected_at is not None)
    base = w.last_event
    assert not w.quiet_since(base + 0.5 * w.MARGIN)  # too soon after the connection
    assert w.quiet_since(base + 1.5 * w.MARGIN)
    streams[0].q.put(b'{"Type":"container","Action":"pause"}\n')
    wait_until(lambda: w.last_event > base)
    event = w.last_event
    assert not w.quiet_since(event - 0.1)  # asked before the event
    assert not w.quiet_since(event + 0.5 * w.MARGIN)  # the change may not show yet
    assert w.quiet_since(event + 1.5 * w.MARGIN)
    streams[0].q.put(None)  # the stream ends: nothing is quiet until a new one
    wait_until(lambda: streams[0].closed.is_set())
    assert not w.quiet_since(event + 1.5 * w.MARGIN)
    w.close()


def test_a_watch_nobody_asks_ends_though_events_keep_coming():
    stream = Stream()
    w = EventWatch(lambda hold: (stream, stream.read), hold=0.3)
    w.quiet_since(0.0)
    wait_until(lambda: w.connected_at is not None)
    feeding = threading.Event()

    def feed():  # a busy engine: an event every 20 ms, forever
        while not feeding.is_set():
            stream.q.put(b"{}\n")
            feeding.wait(0.02)

    t = threading.Thread(target=feed, daemon=True)
    t.start()
    try:
        wait_until(lambda: not w.running, seconds=5)  # `hold` after the last ask
        assert stream.closed.is_set() and w.connected_at is None
    finally:
        feeding.set()
        t.join()


def test_a_refused_stream_is_asked_again_after_a_doubling_wait():
    tries = []
    clock = {"now": 100.0}

    def opener(hold):
        tries.append(clock["now"])
        raise OSError("refused")

    w = EventWatch(opener, hold=600, clock=lambda: clock["now"])

    def ask_after(seconds: float) -> int:
        clock["now"] += seconds
        w.quiet_since(0.0)
        wait_until(lambda: not w.running)
        return len(tries)

    assert ask_after(0) == 1
    waits = []
    for _ in range(7):
        n, waited = len(tries), 0.0
        while ask_after(0.5) == n:
            waited += 0.5
        waits.append(waited + 0.5)
    assert waits == [2, 4, 8, 16, 32, 60, 60]  # the first ask once each wait is over


def test_a_list_read_starts_the_watch_so_its_second_call_can_be_vouched_for():
    """keep() (each list read) starts the watch at once: a call begun a MARGIN
    after the first read is quiet, without waiting for an answer to be asked
    about first."""
    def opener(hold):
        s = Stream()
        return s, s.read

    w = EventWatch(opener, hold=60)
    assert w.connected_at is None
    w.keep()
    wait_until(lambda: w.connected_at is not None)
    assert w.quiet_since(w.connected_at + 1.5 * w.MARGIN)
    w.close()


def test_a_quiet_spell_keeps_the_stream_and_what_it_vouches_for():
    """A reader that says "nothing came" (None) is read on: the same stream,
    the same connection time, so an answer begun before the quiet spells is
    still quiet after them; an event ends that."""
    streams = []
    clock = {"now": 100.0}

    def opener(hold):
        s = Stream()
        streams.append(s)

        def read():
            try:
                item = s.q.get(timeout=0.01)  # (the reader's own wait: `hold` in the gateway)
            except queue.Empty:
                return None
            return b"" if item is None else item

        return s, read

    w = EventWatch(opener, hold=60, clock=lambda: clock["now"])
    w.keep()
    wait_until(lambda: w.connected_at is not None)
    assert w.connected_at == 100.0
    begun = 100.0 + 1.5 * w.MARGIN  # a list's call, begun after the connection
    for _ in range(10):  # quiet spells, someone asking all the while
        clock["now"] += 1.0
        assert w.quiet_since(begun)
        threading.Event().wait(0.02)
    assert len(streams) == 1 and w.connections == 1 and w.connected_at == 100.0
    streams[0].q.put(b"{}\n")
    wait_until(lambda: w.last_event == clock["now"])
    assert not w.quiet_since(begun)
    w.close()
