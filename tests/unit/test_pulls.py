"""Pull jobs: progress aggregation from the engine's messages, and the private
file store the gunicorn workers share."""

import os
import stat
import threading
import time

from app.pulls import MAX_KEPT, Job, PullJobs, STALE_SECONDS


class FakeEngine:
    """Only where a fault or an exact message sequence must be forced."""

    def __init__(self, messages, fail=None, gate=None):
        self.messages, self.fail, self.gate = messages, fail, gate

    def pull(self, image, tag):
        for m in self.messages:
            yield m
        if self.gate:
            self.gate.wait(5)
        if self.fail:
            raise self.fail


def wait_done(store, job_id):
    for _ in range(100):
        job = store.get(job_id)
        if job and job["state"] != "running":
            return job
        time.sleep(0.02)
    raise AssertionError("job did not end")


A, B = "aaaaaaaaaaaa", "bbbbbbbbbbbb"
MESSAGES = [
    {"status": "Pulling from team/app", "id": "v1"},
    {"status": "Pulling fs layer", "id": A},
    {"status": "Pulling fs layer", "id": B},
    {"status": "Downloading", "id": A, "progressDetail": {"current": 50, "total": 100}},
    {"status": "Already exists", "id": B},
]


def test_progress_per_layer_and_overall(tmp_path):
    job = Job(PullJobs(tmp_path), "j" * 20, "team/app:v1", "team/app", "v1")
    for m in MESSAGES:
        job.feed(m)
    snap = job.snapshot()
    layers = {x["id"]: x for x in snap["layers"]}
    assert layers[A]["pct"] == 25 and layers[A]["size"] == 100
    assert layers[B]["pct"] == 100
    assert snap["overall_pct"] == 62 and snap["layers_done"] == 1
    job.feed({"status": "Extracting", "id": A, "progressDetail": {"current": 100, "total": 100}})
    job.feed({"status": "Pull complete", "id": A})
    job.feed({"status": "Digest: sha256:" + "c" * 64})
    snap = job.snapshot()
    assert snap["overall_pct"] == 100 and snap["digest"] == "sha256:" + "c" * 64
    assert snap["lines"][0] == "v1: Pulling from team/app"


def test_a_job_runs_to_done_and_any_store_reads_it(tmp_path):
    store = PullJobs(tmp_path)
    job_id = store.start(FakeEngine(MESSAGES), "team/app:v1", {"manifest": "{}", "name": "",
                                                               "start": "1"})
    job = wait_done(PullJobs(tmp_path), job_id)  # another worker's store
    assert job["state"] == "done" and job["overall_pct"] == 100
    assert job["form"] == {"manifest": "{}", "name": "", "start": "1"}
    assert stat.S_IMODE(os.stat(tmp_path).st_mode) == 0o700
    for p in tmp_path.iterdir():
        assert stat.S_IMODE(p.stat().st_mode) == 0o600


def test_errors_in_the_stream_and_raised_end_the_job(tmp_path):
    from app.gateway import exceptions as ge

    store = PullJobs(tmp_path)
    j1 = store.start(FakeEngine([{"errorDetail": {"message": "manifest unknown"},
                                  "error": "manifest unknown"}]), "x", None)
    j2 = store.start(FakeEngine([], fail=ge.NotFound("pull access denied for x")), "x", None)
    j3 = store.start(FakeEngine([], fail=RuntimeError("boom")), "x", None)
    assert wait_done(store, j1)["error"] == "manifest unknown"
    assert wait_done(store, j2)["error"] == "pull access denied for x"
    assert "RuntimeError" in wait_done(store, j3)["error"]
    assert store._running == 0


def test_ids_limits_and_staleness(tmp_path):
    store = PullJobs(tmp_path)
    for bad in ("", "short", "../../etc/passwd", "a" * 100, "x" * 20 + "/.."):
        assert store.get(bad) is None
    gate = threading.Event()
    running = [store.start(FakeEngine([], gate=gate), "x", None) for _ in range(4)]
    try:
        store.start(FakeEngine([]), "x", None)
        raise AssertionError("a fifth pull should be refused")
    except Exception as exc:  # noqa: BLE001
        assert type(exc).__name__ == "TooMany"
    gate.set()
    for j in running:
        wait_done(store, j)
    # a running job that stopped reporting is shown as failed
    job = Job(store, "s" * 20, "x", "x", "latest")
    job.save(force=True)
    path = tmp_path / ("s" * 20 + ".json")
    import json
    data = json.loads(path.read_text())
    data["updated"] -= STALE_SECONDS + 1
    path.write_text(json.dumps(data))
    assert store.get("s" * 20)["state"] == "failed"


def test_prune_keeps_a_bounded_number(tmp_path):
    store = PullJobs(tmp_path)
    for i in range(MAX_KEPT + 10):
        Job(store, f"{i:020d}", "x", "x", "latest").save(force=True)
    store.prune()
    assert len([p for p in tmp_path.glob("*.json") if not p.name.endswith(".form.json")]) == MAX_KEPT
