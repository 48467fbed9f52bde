"""Pull jobs: an image pull with progress that any gunicorn worker can report.

A pull job is a thread in the worker that took the POST, streaming
POST /images/create. Its state is written to a small file in a private
folder (0700), so any worker can answer the polls: the workers do not share
memory. Jobs are few (at most MAX_RUNNING at once per worker, MAX_KEPT kept)
and expire after KEEP_SECONDS. No Flask here.
"""

from __future__ import annotations

import logging
import re
import secrets
import threading
import time
from pathlib import Path

from . import manifest as mf
from .gateway import Engine, exceptions as ge
from .statefiles import PrivateFolder

log = logging.getLogger("periscope.pull")

MAX_RUNNING = 4
MAX_KEPT = 50
KEEP_SECONDS = 3600
STALE_SECONDS = 330  # a running job not heard of for this long lost its worker
_ID_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
_LAYER_RE = re.compile(r"^[0-9a-f]{12,64}$")
_DONE_STATES = {"pull complete", "already exists"}


class PullJobs(PrivateFolder):
    """Pull jobs as files in one private folder."""

    prefix = "periscope-pulls-"

    def __init__(self, folder: Path | None = None):
        # The gunicorn master makes one private state folder before the workers
        # fork (Settings.state_dir), so every worker can answer a job's polls; a
        # process of its own (tests, `flask run`) makes its own on the first
        # pull (app/statefiles.py).
        super().__init__(folder)
        self._running = 0

    def prune(self) -> None:
        d = self._dir()
        now = time.time()
        jobs = sorted(d.glob("*.json"), key=lambda p: p.stat().st_mtime if p.exists() else 0)
        states = [p for p in jobs if not p.name.endswith(".form.json")]
        extra = max(0, len(states) - MAX_KEPT)
        for i, p in enumerate(states):
            try:
                if i < extra or now - p.stat().st_mtime > KEEP_SECONDS:
                    p.unlink(missing_ok=True)
                    (d / p.name.replace(".json", ".form.json")).unlink(missing_ok=True)
            except OSError:
                pass

    def get(self, job_id: str) -> dict | None:
        if not isinstance(job_id, str) or not _ID_RE.match(job_id):
            return None
        job = self._read(f"{job_id}.json")
        if job is None:
            return None
        if job.get("state") == "running" and time.time() - job.get("updated", 0) > STALE_SECONDS:
            job["state"] = "failed"
            job["error"] = "The pull stopped reporting (its Periscope worker went away)."
        job["form"] = self._read(f"{job_id}.form.json")
        return job

    def start(self, eng: Engine, image: str, form: dict | None) -> str:
        with self._lock:
            if self._running >= MAX_RUNNING:
                raise TooMany()
            self._running += 1
        try:
            self.prune()
            job_id = secrets.token_urlsafe(18)
            repo, tag = mf.image_ref(image)
            job = Job(self, job_id, image, repo, tag)
            if form is not None:
                self._write(f"{job_id}.form.json", form)
            job.save(force=True)
            t = threading.Thread(target=self._run, args=(eng, job), name=f"pull-{job_id[:6]}",
                                 daemon=True)
            t.start()
        except BaseException:
            with self._lock:
                self._running -= 1
            raise
        return job_id

    def _run(self, eng: Engine, job: "Job") -> None:
        try:
            for msg in eng.pull(job.repo, job.tag):
                job.feed(msg)
                if job.state != "running":
                    break
            if job.state == "running":
                job.state = "done"
        except ge.EngineError as exc:
            job.fail(exc.message)
        except Exception as exc:  # noqa: BLE001 - the job must end, whatever happened
            log.exception("pull of %s failed", job.image)
            job.fail(f"Periscope failed while pulling: {type(exc).__name__}")
        finally:
            job.finished = time.time()
            job.save(force=True)
            with self._lock:
                self._running -= 1


class TooMany(Exception):
    pass


class Job:
    """One pull's progress, as the engine reports it."""

    def __init__(self, store: PullJobs, job_id: str, image: str, repo: str, tag: str):
        self.store = store
        self.id = job_id
        self.image = image
        self.repo, self.tag = repo, tag
        self.state = "running"
        self.error: str | None = None
        self.layers: dict[str, dict] = {}
        self.lines: list[str] = []
        self.digest: str | None = None
        self.started = time.time()
        self.finished: float | None = None
        self.messages = 0
        self._saved = 0.0

    def feed(self, msg: dict) -> None:
        self.messages += 1
        if msg.get("error") or msg.get("errorDetail"):
            detail = msg.get("errorDetail") or {}
            self.fail(str(msg.get("error") or detail.get("message") or "unknown error"))
            return
        status = str(msg.get("status") or "")
        lid = str(msg.get("id") or "")
        if lid and _LAYER_RE.match(lid):
            layer = self.layers.setdefault(lid, {"id": lid, "status": "", "current": 0,
                                                 "total": 0, "phase": ""})
            layer["status"] = status
            detail = msg.get("progressDetail") or {}
            low = status.lower()
            if low in ("downloading", "extracting"):
                layer["phase"] = low
                layer["current"] = int(detail.get("current") or 0)
                layer["total"] = int(detail.get("total") or layer.get("total") or 0)
                if low == "downloading" and layer["total"]:
                    layer["size"] = layer["total"]
            elif low in ("download complete", "verifying checksum"):
                layer["phase"] = "downloaded"
            elif low in _DONE_STATES:
                layer["phase"] = "done"
        else:
            text = f"{lid}: {status}" if lid and status else (status or lid)
            if text:
                self.lines.append(text[:300])
                del self.lines[:-12]
            if status.startswith("Digest: "):
                self.digest = status[len("Digest: "):]
        self.save()

    def fail(self, message: str) -> None:
        self.state = "failed"
        self.error = message[:2000]

    @staticmethod
    def fraction(layer: dict) -> float:
        phase = layer.get("phase")
        cur, tot = layer.get("current") or 0, layer.get("total") or 0
        part = min(1.0, cur / tot) if tot else 0.0
        return {"done": 1.0, "extracting": 0.5 + 0.5 * part, "downloaded": 0.5,
                "downloading": 0.5 * part}.get(phase, 0.0)

    def snapshot(self) -> dict:
        layers = list(self.layers.values())
        for layer in layers:
            layer["pct"] = round(100 * self.fraction(layer))
        overall = (sum(self.fraction(x) for x in layers) / len(layers)) if layers else 0.0
        if self.state == "done":
            overall = 1.0
        return {"id": self.id, "image": self.image, "repo": self.repo, "tag": self.tag,
                "state": self.state, "error": self.error, "layers": layers,
                "overall_pct": round(100 * overall),
                "layers_done": sum(1 for x in layers if x.get("phase") == "done"),
                "bytes_total": sum(x.get("size") or 0 for x in layers),
                "lines": self.lines, "digest": self.digest, "messages": self.messages,
                "started": self.started, "finished": self.finished, "updated": time.time()}

    def save(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._saved < 0.2:
            return
        self._saved = now
        try:
            self.store._write(f"{self.id}.json", self.snapshot())
        except OSError:
            log.exception("cannot save pull job %s", self.id)
