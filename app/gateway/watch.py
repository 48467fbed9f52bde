"""Quiet engines: one held-open GET /events per engine and process, to know
when nothing has happened.

A shared answer (sharing.py) that the engine's events would change, the
container list, may then be reused beyond the freshness bound while the
engine reports nothing at all: `quiet_since(t)` is true when the watch has
been connected since before `t` and no event has come since. Any byte of the
stream counts as an event (a container started, died, was renamed, a health
check ran, an image was tagged...): nothing is parsed, so nothing is missed
for not being understood.

Both hold with a MARGIN: the engine sends some events a moment before the
change shows in what it answers (a pause: the event, then the state), so an
answer asked for just after an event may predate the change; only one asked
for MARGIN seconds after the last event counts as quiet.

The watch asks with `since=1`: the engine subscribes a watcher only after
it has sent the answer's headers, and an event in between would be lost; from
`since` the engine first replays what it still holds (256 events at most),
and the replay counts as events. So every event after the request was sent
reaches the watch. The stream's bytes are read as they come off the socket
(`open_stream` gives the reader), whatever its transfer coding.

A stream that stays quiet is kept: its reader says so (None) after waiting
`hold` seconds, and the same stream is read on while someone still asks, so
what it vouches for runs on across quiet spells (asked anew, it could vouch
only for answers begun after the new connection: every list older than that
would be asked for again). An error, a read that times out, or a closed
stream ends the connection; an answer older than the next connection is not
quiet. Nobody asking for `hold` seconds ends the watch, events or not. An engine
that refuses the stream, or ends it at once, is asked again only after a
wait that doubles from RETRY up to RETRY_MAX seconds.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Callable

import requests

# (the response, its reader): the reader gives the next bytes, b"" at the end,
# or None when nothing came for `hold` seconds and the stream goes on
Opener = Callable[[float], "tuple[requests.Response, Callable[[], bytes | None]]"]


class EventWatch:
    MARGIN = 1.0  # seconds after an event (or the connection) before answers are quiet
    RETRY = 2.0  # seconds before connecting again after a failure, doubled up to RETRY_MAX
    RETRY_MAX = 60.0

    def __init__(self, open_stream: Opener, hold: float,
                 clock: Callable[[], float] = time.monotonic):
        self._open = open_stream  # GET /events?since=1, streaming, read timeout as given
        self.hold = hold
        self._clock = clock
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._resp: requests.Response | None = None
        self._closed = False
        self.connected_at: float | None = None  # when the current stream was asked for
        self.last_event = float("-inf")  # when the latest byte of it came
        self.used = float("-inf")
        self.failed_at = float("-inf")
        self._fails = 0  # failures in a row: the wait before the next try doubles
        self.connections = 0  # streams opened (for tests and the bench)

    def quiet_since(self, started: float) -> bool:
        """Nothing has happened on the engine since `started` (a monotonic
        time at or before the engine was asked), as far as a stream connected
        all that while can tell. Starts the watch when it is not running."""
        now = self._clock()
        self.used = now
        connected = self.connected_at
        if connected is None:
            self._ensure(now)
            return False
        return connected <= started - self.MARGIN and self.last_event < started - self.MARGIN

    def keep(self) -> None:
        """Someone reads what the watch vouches for: it runs from now on
        (started when it is not), so the answer of a call begun a MARGIN
        from now can be vouched for; started only when an answer was asked
        about, the list's first two calls could not be."""
        now = self._clock()
        self.used = now
        if self.connected_at is None:
            self._ensure(now)

    @property
    def running(self) -> bool:
        t = self._thread
        return t is not None and t.is_alive()

    def _ensure(self, now: float) -> None:
        with self._lock:
            if self._closed or self.running:
                return
            if self._fails and now - self.failed_at < min(
                    self.RETRY * 2 ** (self._fails - 1), self.RETRY_MAX):
                return
            self._thread = threading.Thread(target=self._run, daemon=True,
                                            name="periscope-event-watch")
            try:
                self._thread.start()
            except RuntimeError:  # no thread to be had: the freshness bound alone applies
                self._thread = None

    def _failed(self) -> None:
        self.failed_at = self._clock()
        self._fails += 1

    def _wanted(self) -> bool:
        return not self._closed and self._clock() - self.used < self.hold

    def _run(self) -> None:
        try:
            while self._wanted():
                asked = self._clock()
                try:
                    resp, read = self._open(self.hold)
                except Exception:  # noqa: BLE001 - an engine away: the bound alone applies
                    self._failed()
                    return
                with self._lock:
                    if self._closed:
                        resp.close()
                        return
                    self._resp = resp
                    self.connections += 1
                self.last_event = self._clock()  # at least as late as any gap
                self.connected_at = asked
                ended = False  # by the engine, or cut (not a quiet `hold`, not us)
                try:
                    while self._wanted():
                        data = read()
                        if data is None:  # a quiet spell: the same stream, read on
                            continue
                        if not data:
                            ended = True
                            break
                        self.last_event = self._clock()
                except TimeoutError:  # nothing for `hold` seconds, and no going on: again
                    pass
                except Exception:  # noqa: BLE001 - a cut: connect again
                    ended = True
                finally:
                    self.connected_at = None
                    self.last_event = self._clock()
                    with self._lock:
                        self._resp = None
                    resp.close()
                if ended and self._clock() - asked < self.RETRY:  # not again at once
                    self._failed()
                    return
                self._fails = 0
        finally:
            self.connected_at = None

    def close(self) -> None:
        """Stop watching: the stream's socket is shut down, which wakes the
        watch's read at once (closing the response from here would wait on
        the reader's lock until its read times out); the watch's thread then
        closes the response and ends."""
        with self._lock:
            self._closed = True
            resp = self._resp
        self.connected_at = None
        if resp is not None:
            sock = getattr(getattr(resp.raw, "_connection", None), "sock", None)
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except (AttributeError, OSError, ValueError):  # gone already; or no socket
                pass
