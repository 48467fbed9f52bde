"""The stats sampler: one per engine, shared by every viewer of every worker.

What it samples: only containers someone is looking at. Every poll of a page
that shows a running container marks it watched (`watch`): the rows of an
open list, the container of an open page (`focus`). A mark lasts a few poll
intervals (`linger`); when the last one lapses the container is no longer
sampled, and when nothing is watched at all the sampler's thread ends.

How often: a container is sampled at most once per interval however many
pages show it. An open container page's container every poll interval; the
rows of lists every poll interval too, unless that would cost the engine
more than `budget` samples per second, in which case they share the budget
(50 rows at 5 per second: each every 10 s). A newly watched container gets
its second sample one poll interval after its first, so its CPU shows soon.
Each sample is one `GET /containers/{id}/stats?stream=false&one-shot=true`
(Engine.stats_sample); the engine answers all the calls waiting for it at
its next collection (once a second on dockerd), so they go out in parallel,
at most MAX_PARALLEL at once per engine.

Pages never wait for it: they read the last figures (`latest`) and history
(`history`); a slow or stalled call only means an older figure or "—". A
container that vanished (404) or stopped is dropped quietly; an engine that
refuses stats (rootless, some runtimes) gets one plain note, and is asked
again only after BACKOFF seconds.

One sampler for all gunicorn workers: the workers do not share memory, so
they share a folder (Settings.state_dir, 0700). Each worker writes the
containers its pages watch to `watch-<pid>.json`; the worker that holds the
folder's lock (flock on `lead.lock`) is the one that samples, and it writes
`latest.json` (every watched container's last figures) and one
`h-<id>.jsonl` per container (10 minutes of figures, a line per sample),
which any worker reads. If the sampling worker goes away the kernel frees the
lock and the next worker with a watcher takes over. No Flask here.
"""

from __future__ import annotations

import atexit
import collections
import fcntl
import json
import logging
import os
import queue
import re
import secrets
import shutil
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

from . import statsmath as sm
from .config import fast_tmp
from .gateway import Engine, exceptions as ge

try:
    from orjson import loads as _loads
except ImportError:  # pragma: no cover
    _loads = json.loads

log = logging.getLogger("periscope.stats")

ID_RE = re.compile(r"[0-9a-f]{64}")
WINDOW = 600.0  # seconds of history kept per container
MAX_PARALLEL = 16  # stats calls in flight per engine
CALL_TIMEOUT = 10.0  # a stats call that takes longer is given up (the cell says "—")
BACKOFF = 60.0  # seconds before asking again an engine that refused stats
TICK = 0.5  # the sampler looks for due containers this often at most
# new figures wait this long at most for the calls still out with them: the
# rows of a list are sampled together (their times on one grid: _aligned) and
# their figures go out as one change, so pages polling meanwhile share it
PUBLISH_HOLD = 1.0


# no figures, one and the same object each time (statsview.marked tells a
# snapshot's figures from the last ones by identity)
_NO_FIGURES: Mapping[str, sm.Figures] = MappingProxyType({})


def _exiting() -> bool:
    """The interpreter is exiting: thread pools take no more work."""
    import concurrent.futures.thread as cft
    return bool(getattr(cft, "_shutdown", False)) or sys.is_finalizing()


@dataclass
class Snapshot:
    """What the pages show of one engine: the last figures of every watched
    running container, a note when the engine refuses stats, and how often
    list rows and open container pages are sampled."""

    figures: dict[str, sm.Figures] = field(default_factory=dict)
    note: str | None = None
    list_interval: float = 0.0
    focus_interval: float = 0.0


def _write_json(path: Path, data) -> None:
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, separators=(",", ":"))
    os.replace(tmp, path)


class _FileCache:
    """A file's parsed content, parsed again only when the file changed."""

    def __init__(self):
        self._seen: dict[Path, tuple[tuple, object]] = {}

    def get(self, path: Path, parse):
        try:
            st = os.stat(path)
        except OSError:
            self._seen.pop(path, None)
            return None
        key = (st.st_mtime_ns, st.st_size, st.st_ino)
        hit = self._seen.get(path)
        if hit is not None and hit[0] == key:
            return hit[1]
        try:
            with open(path, "rb") as fh:
                value = parse(fh.read())
        except (OSError, ValueError):
            return None
        if len(self._seen) > 4096:
            self._seen.clear()
        self._seen[path] = (key, value)
        return value

    def forget(self, path: Path) -> None:
        self._seen.pop(path, None)


def _parse_history(data: bytes) -> list[sm.Figures]:
    out = []
    for line in data.splitlines():
        try:
            out.append(sm.Figures.from_list(_loads(line)))
        except (ValueError, TypeError, IndexError):
            continue  # a line being written as we read
    return out


def _aligned(t: float, step: float) -> float:
    """`t` moved to the nearest multiple of `step` (a monotonic time): the
    rows sampled every `step` seconds fall due at the same moments, go out as
    one round, and their figures change once per round, not once per row."""
    return round(t / step) * step if step > 0 else t


class EngineSampler:
    """The sampler of one engine in this process (see the module's text)."""

    def __init__(self, engine: Engine, folder: Path, *, poll_interval: float, budget: float,
                 linger: float | None = None):
        self.engine = engine
        self.folder = folder
        self.poll_interval = poll_interval
        self.budget = budget
        # a mark outlives a few slow polls, and then sampling stops
        self.linger = linger if linger is not None else max(10.0, 3 * poll_interval)
        self.samples_taken = 0  # stats calls made while leading (tests, benchmarks)
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._stopping = False
        # this worker's marks: id -> [until, focus until] (wall clock)
        self._mine: dict[str, list[float]] = {}
        self._written: dict[str, list[float]] = {}
        self._marks_dirty = False
        self._files = _FileCache()
        # the leader's state
        self._lock_fd: int | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._done: queue.SimpleQueue = queue.SimpleQueue()
        self._inflight: set[str] = set()
        self._prev: dict[str, sm.Sample] = {}
        self._latest: dict[str, sm.Figures] = {}
        self._hist: dict[str, collections.deque] = {}
        self._hist_lines: dict[str, int] = {}
        self._next: dict[str, float] = {}
        self._held_off_until = 0.0
        self._note: str | None = None
        self._list_interval = poll_interval
        self._dirty = False
        self._dirty_since: float | None = None  # when figures first waited to go out
        self._swept = 0.0

    # -- what pages call ---------------------------------------------------------
    def watch(self, ids, *, focus: bool = False) -> None:
        """Mark these running containers as shown by a page now."""
        now = time.time()
        until = now + self.linger
        write = False
        with self._lock:
            for cid in ids:
                if not ID_RE.fullmatch(cid):
                    continue
                mark = self._mine.get(cid)
                if mark is None:
                    mark = self._mine[cid] = [0.0, 0.0]
                mark[0] = until
                if focus:
                    mark[1] = until
                seen = self._written.get(cid)
                if seen is None or seen[0] < until - 1.0 or (focus and seen[1] < until - 1.0):
                    write = True
            # the file is written by this worker's sampler thread, not here: a
            # page never waits for the disk
            self._marks_dirty = self._marks_dirty or write
            start = self._thread is None
            if start:
                self._thread = threading.Thread(target=self._run, daemon=True,
                                                name=f"stats-{self.engine.name}")
        if start:
            self._thread.start()
        if write:
            self._wake.set()

    def latest(self) -> Snapshot:
        data = self._files.get(self.folder / "latest.json", _loads)
        if not isinstance(data, dict):
            return Snapshot(figures=_NO_FIGURES, list_interval=self.poll_interval,
                            focus_interval=self.poll_interval)
        stale = time.time() - float(data.get("updated") or 0) > max(30.0, 3 * data.get(
            "interval", 0))
        figs = _NO_FIGURES
        if not stale:
            cached = data.get("_figs")
            if cached is None:
                cached = data["_figs"] = {cid: sm.Figures.from_list(v)
                                          for cid, v in (data.get("figures") or {}).items()}
            figs = cached
        return Snapshot(figures=figs, note=data.get("note"),
                        list_interval=float(data.get("interval") or self.poll_interval),
                        focus_interval=self.poll_interval)

    def history(self, cid: str) -> list[sm.Figures]:
        """The last WINDOW seconds of one container's figures, oldest first."""
        if not ID_RE.fullmatch(cid):
            return []
        points = self._files.get(self.folder / f"h-{cid}.jsonl", _parse_history) or []
        if points:
            cut = points[-1].t - WINDOW
            if points[0].t < cut:
                points = [p for p in points if p.t >= cut]
        return points

    def stop(self) -> None:
        """End the thread now (tests; the process's end does it otherwise)."""
        self._stopping = True
        self._wake.set()
        t = self._thread
        if t is not None:
            t.join(timeout=CALL_TIMEOUT + 2)

    # -- this worker's marks -------------------------------------------------------
    def _marks_path(self) -> Path:
        return self.folder / f"watch-{os.getpid()}.json"

    def _write_marks(self) -> None:
        """This worker's marks to its file, when they changed (the thread)."""
        now = time.time()
        with self._lock:
            if not self._marks_dirty:
                return
            self._marks_dirty = False
            for cid in [c for c, m in self._mine.items() if m[0] < now]:
                del self._mine[cid]
            self._written = {cid: list(m) for cid, m in self._mine.items()}
            marks = dict(self._written)
        try:
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            _write_json(self._marks_path(), marks)
        except OSError:
            log.exception("cannot write the stats marks in %s", self.folder)

    def _mine_live(self, now: float) -> bool:
        with self._lock:
            return any(m[0] >= now for m in self._mine.values())

    def _all_marks(self, now: float) -> dict[str, list[float]]:
        """Every worker's live marks, merged (the latest wins)."""
        merged: dict[str, list[float]] = {}
        try:
            names = os.listdir(self.folder)
        except OSError:
            names = []
        for name in names:
            if not (name.startswith("watch-") and name.endswith(".json")):
                continue
            path = self.folder / name
            data = self._files.get(path, _loads)
            if not isinstance(data, dict):
                continue
            live = False
            for cid, m in data.items():
                if not (isinstance(m, list) and len(m) == 2 and ID_RE.fullmatch(cid)):
                    continue
                if m[0] >= now:
                    live = True
                    cur = merged.setdefault(cid, [0.0, 0.0])
                    cur[0] = max(cur[0], m[0])
                    cur[1] = max(cur[1], m[1])
            if not live and name != self._marks_path().name:
                try:  # a worker that went away, or whose pages all closed
                    if now - os.stat(path).st_mtime > 300:
                        path.unlink()
                        self._files.forget(path)
                except OSError:
                    pass
        return merged

    # -- the thread ---------------------------------------------------------------
    def _run(self) -> None:
        idle_since = None
        try:
            while not self._stopping:
                self._write_marks()
                now = time.time()
                if self._lock_fd is None and not self._try_lead():
                    if not self._mine_live(now) and self._quit_if_idle():
                        return
                    self._wake.wait(TICK)
                    self._wake.clear()
                    continue
                marks = self._all_marks(now)
                self._collect()
                if not marks and not self._inflight:
                    idle_since = idle_since or now
                    if now - idle_since > self.linger and self._quit_if_idle():
                        return
                else:
                    idle_since = None
                self._forget_unwatched(marks)
                if time.monotonic() - self._swept > 60:
                    self._sweep()
                wait = self._submit_due(marks)
                self._publish()
                self._wake.wait(min(TICK, max(0.05, wait)))
                self._wake.clear()
        except Exception:  # noqa: BLE001 - a sampler fault must not go unseen, nor loop
            log.exception("the stats sampler of %s stopped", self.engine.name)
            with self._lock:
                self._thread = None
        finally:
            if self._thread is None or self._stopping:
                self._resign()

    def _quit_if_idle(self) -> bool:
        """End the thread unless a mark came in meanwhile."""
        with self._lock:
            if any(m[0] >= time.time() for m in self._mine.values()):
                return False
            if self._lock_fd is not None and self._inflight:
                return False
            self._thread = None
        return True

    def _try_lead(self) -> bool:
        try:
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(self.folder / "lead.lock", os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:
            log.exception("cannot open the stats lock in %s", self.folder)
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._lock_fd = fd
        while not self._done.empty():  # answers to calls of an earlier lead
            self._done.get_nowait()
        self._sweep()
        self._pool = ThreadPoolExecutor(max_workers=MAX_PARALLEL,
                                        thread_name_prefix=f"stats-{self.engine.name}")
        return True

    def _resign(self) -> None:
        """Stop leading: the latest figures go (a new leader starts afresh)."""
        if self._lock_fd is None:
            return
        try:
            (self.folder / "latest.json").unlink(missing_ok=True)
        except OSError:
            pass
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        for kept in (self._prev, self._latest, self._hist, self._hist_lines, self._next):
            kept.clear()
        self._inflight.clear()
        fd, self._lock_fd = self._lock_fd, None
        try:  # last: another thread may lead as soon as this is released
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def _sweep(self) -> None:
        """Remove the history of containers nobody watched for WINDOW seconds."""
        now = time.time()
        self._swept = time.monotonic()
        try:
            names = os.listdir(self.folder)
        except OSError:
            return
        for name in names:
            if name.startswith("h-") and name.endswith(".jsonl"):
                path = self.folder / name
                try:
                    if now - os.stat(path).st_mtime > WINDOW:
                        path.unlink()
                except OSError:
                    pass

    # -- sampling (the leader only) -----------------------------------------------
    def _intervals(self, marks) -> tuple[float, float]:
        now = time.time()
        rows = sum(1 for m in marks.values() if m[1] < now)
        return max(self.poll_interval, rows / self.budget), self.poll_interval

    def _forget_unwatched(self, marks) -> None:
        for cid in [c for c in self._latest if c not in marks]:
            del self._latest[cid]
            self._dirty = True
        for cid in [c for c in self._prev if c not in marks]:
            del self._prev[cid]  # a predecessor from before a gap would average over it
            self._next.pop(cid, None)

    def _submit_due(self, marks) -> float:
        """Send the calls that are due; returns the seconds until the next one."""
        now_wall = time.time()
        now = time.monotonic()
        self._list_interval, focus_interval = self._intervals(marks)
        if now < self._held_off_until:
            return self._held_off_until - now
        soonest = TICK
        for cid, m in marks.items():
            if cid in self._inflight:
                continue
            due = self._next.get(cid, 0.0)
            if due > now:
                soonest = min(soonest, due - now)
                continue
            if len(self._inflight) >= MAX_PARALLEL:
                break
            self._inflight.add(cid)
            interval = focus_interval if m[1] >= now_wall else self._list_interval
            try:
                self._pool.submit(self._fetch, cid, now, interval)
            except RuntimeError:
                self._inflight.discard(cid)
                if not _exiting():
                    raise  # (no thread to be had: logged, and the next look starts again)
                self._stopping = True  # the interpreter is exiting: pools take no more work
                break
        return soonest

    def _fetch(self, cid: str, started: float, interval: float) -> None:
        try:
            answer = self.engine.stats_sample(cid, timeout=CALL_TIMEOUT)
            self._done.put((cid, started, interval, answer, None))
        except Exception as exc:  # noqa: BLE001 - every fault is handled by the loop
            self._done.put((cid, started, interval, None, exc))
        self._wake.set()

    def _collect(self) -> None:
        while True:
            try:
                cid, started, interval, answer, exc = self._done.get_nowait()
            except queue.Empty:
                return
            self._inflight.discard(cid)
            self.samples_taken += 1
            if exc is not None:
                self._failed(cid, started, interval, exc)
                continue
            sample = sm.reduce(answer)
            if sample is None:  # not running (any more)
                self._drop(cid, keep_history=True)
                self._next[cid] = started + interval
                continue
            prev = self._prev.get(cid)
            fig = sm.figures(prev, sample)
            self._prev[cid] = sample
            self._latest[cid] = fig
            if sample.cpu_total is None and sample.mem_used is None:
                self._note = ("This engine answers stats without figures (a rootless engine "
                              "on cgroup v1 does): CPU and memory cannot be shown.")
            else:
                self._note = None
            self._dirty = True
            self._append(cid, fig)
            # the first sample's successor comes one poll interval later, so
            # the CPU figure (two samples) shows soon; then the interval
            step = self.poll_interval if prev is None else interval
            self._next[cid] = _aligned(started + step, step)

    def _failed(self, cid: str, started: float, interval: float, exc: Exception) -> None:
        if isinstance(exc, ge.NotFound):  # vanished between the list and its sample
            self._drop(cid, keep_history=False)
            self._next[cid] = started + interval
        elif isinstance(exc, ge.StateConflict):  # stopped, paused, restarting
            self._drop(cid, keep_history=True)
            self._next[cid] = started + interval
        elif isinstance(exc, (ge.EngineUnreachable, ge.EngineTimeout)):
            # the pages say the engine does not answer; try again later
            self._next[cid] = started + max(interval, CALL_TIMEOUT)
        elif isinstance(exc, ge.EngineError):
            # the engine answers, but not stats: one note, and a pause
            self._note = ("This engine does not give resource stats: "
                          f"{exc.message[:300]}")
            self._held_off_until = time.monotonic() + BACKOFF
            self._dirty = True
        else:
            log.error("stats of %s on %s failed: %r", cid[:12], self.engine.name, exc)
            self._next[cid] = started + BACKOFF

    def _drop(self, cid: str, *, keep_history: bool) -> None:
        self._prev.pop(cid, None)
        if self._latest.pop(cid, None) is not None:
            self._dirty = True
        if not keep_history:
            self._hist.pop(cid, None)
            self._hist_lines.pop(cid, None)
            try:
                (self.folder / f"h-{cid}.jsonl").unlink(missing_ok=True)
            except OSError:
                pass

    def _append(self, cid: str, fig: sm.Figures) -> None:
        path = self.folder / f"h-{cid}.jsonl"
        hist = self._hist.get(cid)
        if hist is None:  # a leader before this one may have kept some
            hist = self._hist[cid] = collections.deque(
                p for p in (_parse_history(path.read_bytes()) if path.exists() else [])
                if p.t >= fig.t - WINDOW and p.t < fig.t)
            self._hist_lines[cid] = len(hist) + 1_000_000  # rewrite it once, cleanly
        hist.append(fig)
        while hist and hist[0].t < fig.t - WINDOW:
            hist.popleft()
        lines = self._hist_lines.get(cid, 0) + 1
        try:
            if lines > 1.5 * len(hist) + 20:
                tmp = path.with_name(f".{path.name}.tmp")
                with open(tmp, "w", encoding="utf-8") as fh:
                    fh.writelines(json.dumps(p.as_list(), separators=(",", ":")) + "\n"
                                  for p in hist)
                os.replace(tmp, path)
                lines = len(hist)
            else:
                with open(path, "a", encoding="utf-8") as fh:
                    fh.write(json.dumps(fig.as_list(), separators=(",", ":")) + "\n")
        except OSError:
            log.exception("cannot keep the stats history in %s", self.folder)
        self._hist_lines[cid] = lines
        # history of containers nobody watches ages out
        for other in [c for c, h in self._hist.items() if h and h[-1].t < fig.t - WINDOW]:
            self._drop(other, keep_history=False)

    def _publish(self) -> None:
        """The latest figures to the file every worker reads, once the calls
        still out have come (or PUBLISH_HOLD seconds after the first change):
        a list's rows, sampled together, change together."""
        if not self._dirty:
            return
        now = time.monotonic()
        if self._dirty_since is None:
            self._dirty_since = now
        if self._inflight and now - self._dirty_since < PUBLISH_HOLD:
            return
        self._dirty = False
        self._dirty_since = None
        data = {"updated": time.time(), "note": self._note, "interval": self._list_interval,
                "figures": {cid: f.as_list() for cid, f in self._latest.items()}}
        try:
            _write_json(self.folder / "latest.json", data)
        except OSError:
            log.exception("cannot write the stats in %s", self.folder)


class Sampler:
    """Every engine's sampler in this process, made on first need."""

    def __init__(self, registry, *, poll_interval: float, budget: float,
                 state_dir: str | None):
        self.registry = registry
        self.poll_interval = poll_interval
        self.budget = budget
        self._root = Path(state_dir) / "stats" if state_dir else None
        self._made_root = False
        self._samplers: dict[str, EngineSampler] = {}
        self._lock = threading.Lock()

    def _folder(self, name: str) -> Path:
        if self._root is None:
            # a process of its own (tests, `flask run`): a private folder,
            # removed at exit; under gunicorn the master made Settings.state_dir
            self._root = Path(tempfile.mkdtemp(prefix="periscope-stats-", dir=fast_tmp()))
            self._made_root = True
            atexit.register(shutil.rmtree, self._root, True)
        return self._root / name

    def engine(self, name: str) -> EngineSampler:
        s = self._samplers.get(name)
        if s is None:
            with self._lock:
                s = self._samplers.get(name)
                if s is None:
                    entry = self.registry.get(name)
                    s = self._samplers[name] = EngineSampler(
                        entry.engine, self._folder(entry.name), poll_interval=self.poll_interval,
                        budget=self.budget)
        return s

    def stop(self) -> None:
        for s in list(self._samplers.values()):
            s.stop()
