"""Shared reads: identical Engine reads made close together in one process
share one call.

A read that arrives while the same read is in flight waits for it; an answer
younger than the freshness bound is reused. Age counts from when the call
began, so nothing handed out is older than the bound, except an answer a
read's `lasting` says still holds (watch.py: a container list while its
engine has reported no event). Writes drop every shared
answer of their engine, in every worker: a write bumps a marker file in the
state folder the workers share, and a read whose marker changed since its
answer was made calls again (one stat() per read).

Shared answers are the same objects for every reader: callers must not change
them (copy first).

Ahead of time: with `ahead` (a fraction of the bound), a read that finds an
answer older than that part of the bound is still given it (it is within the
bound), and one new call starts beside it, in a thread of its own; its answer
replaces the old one when it comes. Many viewers polling at every phase of
an interval then never wait on the engine: someone's read renews the answer
before it runs out. A single viewer, whose polls are a whole interval apart,
finds its answer run out and calls as before.

Across workers: a read given `raw` (the answer's bytes, with how to decode
them) is also shared between the gunicorn workers through files in the state
folder: the worker that reads first holds a lock on the key while it asks the
engine; another worker asking meanwhile waits on the lock and then reads the
file, as long as it is fresh. So a freshness period costs the engine one call
for the whole Periscope, not one per worker.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import secrets
import struct
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable, Hashable


class _Entry:
    __slots__ = ("started", "gen", "done", "value", "error", "event", "renewing")

    def __init__(self, started: float, gen):
        self.started = started
        self.gen = gen
        self.done = False
        self.value: Any = None
        self.error: BaseException | None = None
        self.event = threading.Event()
        self.renewing = False  # a call ahead of time is on its way


class SharedReads:
    MAX = 512

    def __init__(self, fresh_for: float, marker: Path | None = None, clock=time.monotonic,
                 folder: Path | None = None, ahead: float = 0.0):
        self.fresh_for = fresh_for
        self.ahead = ahead  # renew an answer older than this part of the bound (0: never)
        self.marker = marker
        self.folder = folder  # where answers are shared between workers (None: not)
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()
        self._local_gen = 0
        self.calls = 0  # reads that went to the engine
        self.hits = 0  # reads answered by a fresh answer
        self.joins = 0  # reads that waited on one in flight
        self.renewals = 0  # calls made ahead of time
        self.lasted = 0  # reads answered past the bound by a quiet engine's answer

    def _generation(self):
        if self.marker is None:
            return self._local_gen
        try:
            st = os.stat(self.marker)
            return self._local_gen, st.st_ino, st.st_mtime_ns
        except OSError:
            return self._local_gen, None

    def fresh(self, key: Hashable) -> bool:
        """A read of `key` now would be answered at once, without a call (and
        without starting one ahead of time)."""
        if self.fresh_for <= 0:
            return False
        gen = self._generation()
        with self._lock:
            e = self._entries.get(key)
            return (e is not None and e.gen == gen and e.done and e.error is None
                    and self._clock() - e.started < (self.ahead or 1.0) * self.fresh_for)

    def get(self, key: Hashable, fetch: Callable[[], Any],
            raw: tuple[Callable[[], bytes], Callable[[bytes], Any]] | None = None,
            lasting: Callable[[float, Any], bool] | None = None, ahead: bool = True
            ) -> tuple[Any, float | None]:
        """(value, age): age None when this call went to the engine, else how
        old (seconds) the shared answer is. fetch()'s errors are not shared
        beyond the reads that waited on it, and never kept. `raw`: (read the
        answer's bytes, decode them into the value), to share across workers.
        `lasting(started, value)`: whether an answer whose call began at
        `started` still holds past the bound (watch.py: the engine has been
        quiet since); it then needs no call, neither now nor ahead of time.
        `ahead` False: never renewed ahead of time (a read cheap enough for
        the first reader past the bound to wait on, which costs the engine a
        call per bound and no more)."""
        if self.fresh_for <= 0:
            self.calls += 1
            return fetch(), None
        gen = self._generation()
        now = self._clock()
        with self._lock:
            e = self._entries.get(key)
            if e is not None and e.gen == gen:
                ok = e.done and e.error is None
                within = ok and now - e.started <= self.fresh_for
                renew = (within and ahead and self.ahead
                         and now - e.started >= self.ahead * self.fresh_for)
                lasts = (ok and (renew or not within) and lasting is not None
                         and lasting(e.started, e.value))
                if within or lasts:
                    self.hits += 1
                    if lasts and not within:
                        self.lasted += 1
                    self._entries.move_to_end(key)
                    if renew and not lasts and not e.renewing:
                        e.renewing = True
                        self.renewals += 1
                        try:
                            threading.Thread(target=self._renew, args=(key, e, fetch, raw),
                                             daemon=True, name="shared-read-ahead").start()
                        except RuntimeError:  # no thread to be had: the answer runs out
                            e.renewing = False
                    return e.value, now - e.started
                if not e.done:
                    self.joins += 1
                    leader = False
                else:
                    e = None
            else:
                e = None
            if e is None:
                e = _Entry(now, gen)
                self._entries[key] = e
                self._entries.move_to_end(key)
                while len(self._entries) > self.MAX:
                    self._entries.popitem(last=False)
                leader = True
                if raw is None or self.folder is None:
                    self.calls += 1  # across workers, _across counts what it asks
        if not leader:
            e.event.wait()
            if e.error is not None:
                raise e.error
            return e.value, self._clock() - e.started
        try:
            if raw is not None and self.folder is not None:
                e.value, started = self._across(key, gen, raw, lasting=lasting)
                if started is not None:  # another worker's answer
                    e.started = started
                    return e.value, self._clock() - started
            else:
                e.value = fetch()
        except BaseException as exc:
            e.error = exc
            with self._lock:
                if self._entries.get(key) is e:
                    del self._entries[key]
            raise
        finally:
            e.done = True
            e.event.set()
        return e.value, None

    def _renew(self, key, old: _Entry, fetch, raw) -> None:
        """The call ahead of time: its answer replaces `old` if nothing else
        did meanwhile (a write, another read's call). A failure is not kept:
        the old answer runs out, and the next read calls as usual."""
        started = self._clock()
        try:
            if raw is not None and self.folder is not None:
                value, theirs = self._across(key, old.gen, raw, newer_than=old.started)
                started = theirs if theirs is not None else started
            else:
                value = fetch()
        except BaseException:  # noqa: BLE001 - see above
            return
        new = _Entry(started, old.gen)
        new.value, new.done = value, True
        new.event.set()
        with self._lock:
            if self._entries.get(key) is old and self._generation() == old.gen:
                self._entries[key] = new

    # -- across workers -----------------------------------------------------------
    _HEAD = struct.Struct(">d16s")  # when the call began (monotonic), generation

    def _across(self, key, gen, raw, newer_than: float | None = None,
                lasting: Callable[[float, Any], bool] | None = None
                ) -> tuple[Any, float | None]:
        """(value, started): started None when this worker asked the engine.
        `newer_than`: a call ahead of time, which another worker's answer
        spares only if that one began after the answer being renewed.
        `lasting`: as get's: another worker's answer past the bound is taken
        while it says the answer still holds (this worker's own watch of the
        engine says it has been quiet since that answer's call began)."""
        read, decode = raw
        name = hashlib.blake2b(repr(key).encode(), digest_size=12).hexdigest()
        path = self.folder / name
        mark = hashlib.blake2b(repr(gen[1:] if isinstance(gen, tuple) else gen).encode(),
                               digest_size=16).digest()
        hit = self._taken(path, mark, newer_than, decode, lasting)
        if hit is not None:
            return hit
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        with open(self.folder / (name + ".lock"), "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # a worker asking meanwhile waits here
            try:
                hit = self._taken(path, mark, newer_than, decode, lasting)
                if hit is not None:
                    return hit
                started = self._clock()
                body = read()
                tmp = path.with_name(f".{name}.{secrets.token_hex(4)}")
                with open(tmp, "wb") as fh:
                    fh.write(self._HEAD.pack(started, mark) + body)
                os.replace(tmp, path)
                self.calls += 1
                return decode(body), None
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _taken(self, path: Path, mark: bytes, newer_than: float | None, decode,
               lasting) -> tuple[Any, float] | None:
        """Another worker's answer that may be used: (value, started), or None."""
        hit = self._read_file(path, mark, newer_than, old_too=lasting is not None)
        if hit is None:
            return None
        started, body = hit
        old = self._clock() - started > self.fresh_for
        try:
            value = decode(body)
        except Exception:  # noqa: BLE001 - an answer that cannot be used is no answer:
            return None    # this worker asks the engine (and its answer replaces the file)
        if old and not lasting(started, value):
            return None
        self.hits += 1
        if old:
            self.lasted += 1
        return value, started

    def _read_file(self, path: Path, mark: bytes, newer_than: float | None = None,
                   old_too: bool = False) -> tuple[float, bytes] | None:
        """(started, body) of another worker's answer of this generation, within
        the bound (`old_too`: of any age, for the caller to judge)."""
        try:
            with open(path, "rb") as fh:
                data = fh.read()
        except OSError:
            return None
        if len(data) < self._HEAD.size:
            return None
        started, m = self._HEAD.unpack_from(data)
        age = self._clock() - started
        if m != mark or age < 0 or (not old_too and age > self.fresh_for):
            return None  # (a start ahead of the clock: a file from before a reboot)
        if newer_than is not None and started <= newer_than:
            return None
        return started, data[self._HEAD.size:]

    def invalidate(self) -> None:
        """A write: every shared answer is dropped, here and in the other
        workers (through the marker)."""
        with self._lock:
            self._local_gen += 1
            self._entries.clear()
        if self.marker is not None:
            try:
                self.marker.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                tmp = self.marker.with_name(f".{self.marker.name}.{secrets.token_hex(4)}")
                tmp.write_bytes(secrets.token_bytes(8))
                os.replace(tmp, self.marker)  # a new inode: every reader sees the change
            except OSError:
                pass
