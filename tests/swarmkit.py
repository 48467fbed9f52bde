"""Swarms for tests: private dockerds (tests/private_engine.py) turned into a
swarm of their own, a manager and optionally a worker joined to it, each
advertising its own loopback address (127.X.Y.1 and .2, X and Y drawn at
random, so the gossip port 7946 that every node binds on its advertise
address never meets another test's or another swarm's on this machine),
with the swarm port on a free port and the data path port moved off 4789.

Services made here carry the label periscope.test=<SESSION> and are removed
at the end; the dockerds are stopped and their folders removed, failures
included. Recorded answers of a real two-node swarm live in tests/data/swarm/
(`load()`), with `scaled_*()` to make answers of 100 nodes and 1,000 tasks.
"""

from __future__ import annotations

import copy
import json
import random
import socket
import subprocess
import time
from pathlib import Path

from private_engine import PrivateDockerd

DATA = Path(__file__).resolve().parent / "data" / "swarm"


def _free_port(addr: str) -> int:
    with socket.socket() as s:
        s.bind((addr, 0))
        return s.getsockname()[1]


def cli(host: str, *args: str, check: bool = True, timeout: float = 60,
        input: bytes | None = None) -> str:
    proc = subprocess.run(["docker", "-H", host, *args], capture_output=True, timeout=timeout,
                          input=input)
    if check and proc.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} failed ({proc.returncode}): "
                             f"{proc.stderr.decode(errors='replace')}")
    return proc.stdout.decode("utf-8", "replace")


def wait_for(check, timeout: float = 60, what: str = "a condition", every: float = 0.3):
    """Poll `check()` until it returns something truthy, with a deadline."""
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            last = check()
        except AssertionError as exc:  # a CLI call that failed in passing
            last = exc
        else:
            if last:
                return last
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what} (last: {last!r})")


class Swarm:
    """A manager (and optionally a worker) on private dockerds."""

    def __init__(self, image: str, source_host: str, label: str, workers: int = 1):
        self.label = label
        self.image = image
        self.net = f"127.{random.randint(20, 250)}.{random.randint(1, 250)}"
        self.manager = PrivateDockerd()
        self.workers = [PrivateDockerd() for _ in range(workers)]
        self._source = source_host

    @property
    def host(self) -> str:
        return self.manager.unix_host

    def start(self) -> "Swarm":
        try:
            saved = subprocess.run(["docker", "-H", self._source, "save", self.image],
                                   capture_output=True, timeout=120)
            assert saved.returncode == 0, saved.stderr
            for d in (self.manager, *self.workers):
                d.start()
                cli(d.unix_host, "load", input=saved.stdout, timeout=120)
            addr = f"{self.net}.1"
            port = _free_port(addr)
            cli(self.host, "swarm", "init", "--advertise-addr", addr, "--listen-addr",
                f"{addr}:{port}", "--data-path-port", str(random.randint(20000, 40000)))
            token = cli(self.host, "swarm", "join-token", "-q", "worker").strip()
            for i, w in enumerate(self.workers, start=2):
                waddr = f"{self.net}.{i}"
                cli(w.unix_host, "swarm", "join", "--token", token, "--advertise-addr", waddr,
                    "--listen-addr", f"{waddr}:{_free_port(waddr)}", f"{addr}:{port}")
            want = 1 + len(self.workers)
            wait_for(lambda: cli(self.host, "node", "ls", "--format", "{{.Status}}").split()
                     == ["Ready"] * want, 60, f"{want} ready nodes")
            return self
        except BaseException:
            self.stop()
            raise

    def service(self, name: str, *args: str, cmd: list[str] | None = None) -> str:
        """`docker service create -d` with the test label; returns the ID."""
        out = cli(self.host, "service", "create", "-d", "--quiet", "--name", name,
                  "--label", self.label, *args, self.image, *(cmd or ["sleep", "3600"]))
        return out.strip().splitlines()[-1]

    def converged(self, name: str, want: str, timeout: float = 60) -> None:
        """Wait until `docker service ls` says `want` (like '2/2') for `name`."""
        wait_for(lambda: cli(self.host, "service", "ls", "--filter", f"name={name}",
                             "--format", "{{.Name}} {{.Replicas}}").strip()
                 == f"{name} {want}", timeout, f"{name} at {want}")

    def stop(self) -> None:
        for d in (*self.workers, self.manager):
            try:
                d.stop()
            except Exception:  # noqa: BLE001 - stop every one whatever happens
                pass


# -- recorded answers ------------------------------------------------------------------
def load(name: str):
    return json.loads((DATA / f"{name}.json").read_text())


def scaled_nodes(n: int) -> list[dict]:
    """`n` nodes made from the recorded two (a manager leader and a worker)."""
    base = load("nodes")
    worker = next(x for x in base if x["Spec"]["Role"] == "worker")
    leader = next(x for x in base if x["Spec"]["Role"] == "manager")
    out = [leader]
    for i in range(1, n):
        node = copy.deepcopy(worker)
        node["ID"] = f"node{i:021d}"
        node["Description"]["Hostname"] = f"worker-{i:03d}"
        node["Status"]["Addr"] = f"127.0.{i // 250}.{i % 250 + 1}"
        out.append(node)
    return out


def scaled_tasks(service: dict, n: int, nodes: list[dict]) -> list[dict]:
    """`n` tasks of one replicated service spread over `nodes`, made from a
    recorded task."""
    base = next(t for t in load("tasks") if t.get("Slot") and t["Status"]["State"] == "running")
    out = []
    for i in range(n):
        t = copy.deepcopy(base)
        t["ID"] = f"task{i:021d}"
        t["ServiceID"] = service["ID"]
        t["Slot"] = i + 1
        t["NodeID"] = nodes[i % len(nodes)]["ID"]
        t["Status"]["ContainerStatus"]["ContainerID"] = f"{i:064x}"
        out.append(t)
    return out
