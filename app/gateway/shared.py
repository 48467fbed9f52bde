"""Shared reads: one answer of a read-only Engine call, given to every asker
within a short age, and one call in flight per question.

Twenty browsers polling the same list every two seconds ask the engine the
same question ten times a second; the engine answers it once per `max_age`
instead. A caller that needs a fresh answer (a page just loaded, the answer
to an action) asks with max_age=0 and never gets a kept one. Errors are
never kept: the next asker asks again. Answers are shared objects: callers
read them and never change them.

With a folder (`use_folder`: the state folder gunicorn's workers share), a
kept answer is a file there, so one worker's answer serves every worker's
askers, and any change made through an Engine (a POST, a DELETE) removes them
all: no worker gives an answer from before it. No Flask here.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import threading
import time
from pathlib import Path
from typing import Any, Callable, Hashable

try:
    from orjson import dumps as _dumps, loads as _loads
except ImportError:  # pragma: no cover
    _loads = json.loads

    def _dumps(v):
        return json.dumps(v).encode()


class _Pending:
    __slots__ = ("done", "value", "error")

    def __init__(self):
        self.done = threading.Event()
        self.value: Any = None
        self.error: BaseException | None = None


class SharedReads:
    MAX = 256  # questions kept (filters come from users: bounded)

    def __init__(self):
        self._lock = threading.Lock()
        self._kept: dict[Hashable, tuple[float, Any]] = {}
        self._inflight: dict[Hashable, _Pending] = {}
        self._folder: Path | None = None
        self._parsed: dict[Path, tuple[tuple, Any]] = {}
        self._to_write: dict[Path, tuple[Any, float]] = {}
        self._writer: threading.Thread | None = None
        self._write_wake = threading.Event()
        self._cleared_mono = 0.0  # answers asked for before a change are not kept
        self.calls = 0  # answers fetched (for tests and benchmarks)

    def use_folder(self, folder: Path) -> None:
        """Keep answers as files in `folder` (0700), shared with other processes."""
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._folder = folder

    # -- the kept answers: in memory, or files ------------------------------------
    def _path(self, key: Hashable) -> Path:
        return self._folder / (hashlib.sha1(repr(key).encode()).hexdigest()[:32] + ".json")

    def _kept_value(self, key: Hashable, max_age: float):
        if self._folder is None:
            kept = self._kept.get(key)
            if kept is not None and time.monotonic() - kept[0] <= max_age:
                return True, kept[1]
            return False, None
        path = self._path(key)
        try:
            st = os.stat(path)
        except OSError:
            return False, None
        if time.time() - st.st_mtime > max_age or st.st_mtime <= self._cleared_at():
            return False, None
        stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        hit = self._parsed.get(path)
        if hit is not None and hit[0] == stamp:
            return True, hit[1]
        try:
            with open(path, "rb") as fh:
                value = _loads(fh.read())
        except (OSError, ValueError):
            return False, None
        if len(self._parsed) >= self.MAX:
            self._parsed.clear()
        self._parsed[path] = (stamp, value)
        return True, value

    def _cleared_at(self) -> float:
        """When any process last made a change (the `cleared` file's time)."""
        try:
            return os.stat(self._folder / "cleared").st_mtime
        except OSError:
            return 0.0

    def _keep(self, key: Hashable, value: Any, asked_mono: float, asked_wall: float) -> None:
        if asked_mono <= self._cleared_mono:
            return  # asked before a change: the answer may be from before it
        if self._folder is None:
            if len(self._kept) >= self.MAX:
                cut = sorted(self._kept.items(), key=lambda kv: kv[1][0])[: self.MAX // 4]
                for k, _ in cut:
                    del self._kept[k]
            self._kept[key] = (asked_mono, value)  # the age counts from the asking
            return
        # written by a thread of its own: the asker (a page) never waits for the disk
        self._to_write[self._path(key)] = (value, asked_wall)
        if self._writer is None:
            self._writer = threading.Thread(target=self._write_loop, daemon=True,
                                            name="shared-reads")
            self._writer.start()
        self._write_wake.set()

    def _write_loop(self) -> None:
        while True:
            self._write_wake.wait()
            self._write_wake.clear()
            with self._lock:
                batch, self._to_write = self._to_write, {}
            for path, (value, asked_wall) in batch.items():
                self._write(path, value, asked_wall)

    def _write(self, path: Path, value: Any, asked_wall: float) -> None:
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(_dumps(value))
            os.utime(tmp, (asked_wall, asked_wall))
            os.replace(tmp, path)
        except (OSError, TypeError, ValueError):
            try:
                tmp.unlink(missing_ok=True)
            except OSError:
                pass
            return
        try:
            names = os.listdir(self._folder)
            if len(names) > self.MAX:
                for name in names:
                    p = self._folder / name
                    if time.time() - os.stat(p).st_mtime > 60:
                        p.unlink(missing_ok=True)
        except OSError:
            pass

    # -- asking ---------------------------------------------------------------
    def get(self, key: Hashable, max_age: float, fetch: Callable[[], Any]) -> Any:
        asked_mono, asked_wall = time.monotonic(), time.time()
        with self._lock:
            found, value = self._kept_value(key, max_age)
            if found:
                return value
            pending = self._inflight.get(key)
            mine = pending is None
            if mine:
                pending = self._inflight[key] = _Pending()
        if not mine:
            pending.done.wait()
            if pending.error is not None:
                raise pending.error
            return pending.value
        try:
            pending.value = fetch()
        except BaseException as exc:
            pending.error = exc
            raise
        finally:
            with self._lock:
                self.calls += 1
                del self._inflight[key]
                if pending.error is None:
                    self._keep(key, pending.value, asked_mono, asked_wall)
            pending.done.set()
        return pending.value

    def clear(self) -> None:
        """Forget every kept answer (something changed), in every process."""
        with self._lock:
            self._cleared_mono = time.monotonic()
            self._kept.clear()
            self._parsed.clear()
            self._to_write.clear()
            if self._folder is not None:
                try:
                    marker = self._folder / "cleared"
                    marker.touch(mode=0o600)
                    now = time.time()
                    os.utime(marker, (now, now))
                except OSError:
                    pass
                try:
                    for name in os.listdir(self._folder):
                        if name.endswith(".json"):
                            (self._folder / name).unlink(missing_ok=True)
                except OSError:
                    pass
