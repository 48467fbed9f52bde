"""What the bench scripts share: timed rounds and their summary, and a
process's memory read from /proc, sampled while it works. No test imports
this; the scripts do (bench/ is on their path as they run)."""

from __future__ import annotations

import http.client
import socket
import statistics
import threading
import time
from pathlib import Path


def timeit(fn, rounds: int) -> list[float]:
    """fn's time in ms for each of `rounds` calls, after one warm call."""
    fn()  # warm
    out = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def interleaved(fns: dict, rounds: int) -> dict[str, list[float]]:
    """Each fn's time in ms for `rounds` rounds, after one warm call each; a
    round calls every fn once in turn, so a machine that gets busier or
    quieter during the run weighs on each of them alike (timing one after the
    other let a load spike land on one side only)."""
    for fn in fns.values():
        fn()  # warm
    out: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(rounds):
        for what, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            out[what].append((time.perf_counter() - t0) * 1000)
    return out


def fmt(ms: list[float]) -> str:
    """Median and p90 of ms, as the tables print them."""
    ms = sorted(ms)
    p90 = ms[int(len(ms) * 0.9) - 1] if len(ms) >= 10 else ms[-1]
    return f"{statistics.median(ms):8.1f} {p90:8.1f}"


def rss_kb(pid: int, field: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


class PeakRSS:
    """A process's RSS before, and its peak while the `with` block runs
    (sampled every `every` seconds by a thread of its own), in KB."""

    def __init__(self, pid: int, every: float = 0.02):
        self.pid, self.every = pid, every
        self.before = self.peak = 0
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    def _sample(self) -> None:
        while not self._done.is_set():
            self.peak = max(self.peak, rss_kb(self.pid))
            self._done.wait(self.every)

    def __enter__(self) -> "PeakRSS":
        self.before = self.peak = rss_kb(self.pid)
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()
        self._thread.join()


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


class BareClient:
    """A kept-alive HTTP/1.1 connection read with the standard library's
    http.client (its chunk and header parsing partly in C), for the side-by-side
    reads: Python's `requests` spends about 1.2 ms of its own on every answer
    on these machines and about 4.4 ms per MB of body (measured 2026-12-07:
    a static file from Periscope's gunicorn, 2.4 ms with requests against
    1.2 ms with http.client), which a browser's HTTP stack does not. Used on
    both sides of a ratio: the Engine's raw call and Periscope's page alike.
    It keeps the cookies it is given and sends them back, as a browser does
    (without, every page would start a session: a new CSRF token, a signed
    cookie, about 0.3 ms that no browser pays after its first page).
    `where`: "http://host:port" or a unix socket's path."""

    def __init__(self, where: str, timeout: float = 60):
        self.cookies: dict[str, str] = {}
        if where.startswith("http://"):
            host, _, port = where[len("http://"):].partition(":")
            self._make = lambda: http.client.HTTPConnection(host, int(port), timeout=timeout)
        else:
            self._make = lambda: _UnixConnection(where, timeout)
        self.conn = self._make()

    def get(self, path: str) -> bytes:
        """The body of GET `path` (raises on a status >= 400)."""
        headers = {"Host": "localhost"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        try:
            self.conn.request("GET", path, headers=headers)
            resp = self.conn.getresponse()
        except (http.client.HTTPException, OSError):  # a kept-alive connection the server closed
            self.conn.close()
            self.conn = self._make()
            self.conn.request("GET", path, headers=headers)
            resp = self.conn.getresponse()
        body = resp.read()
        for set_cookie in resp.headers.get_all("Set-Cookie") or ():
            name, _, value = set_cookie.split(";", 1)[0].partition("=")
            self.cookies[name.strip()] = value.strip()
        if resp.status >= 400:
            raise RuntimeError(f"GET {path}: {resp.status}")
        return body
