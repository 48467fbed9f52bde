"""Resource figures from the Engine's stats answers, computed as the docker
CLI computes them (cli/command/container/stats_helpers.go), pure.

An answer of GET /containers/{id}/stats is reduced to a `Sample` (the few
counters the figures need, so a sampler keeps 80 bytes per container, not
the 3 KB answer), and two samples of one container give its `Figures`:

- CPU % = Δ cpu_usage.total_usage / Δ system_cpu_usage × online CPUs × 100,
  online CPUs being `online_cpus`, else the length of `percpu_usage`. The
  CLI takes both samples from one answer (`precpu_stats`); with
  `one-shot=true` that is empty, so the previous sample is the one the
  sampler kept.
- Memory used = `usage` − `total_inactive_file` (cgroup v1) or
  − `inactive_file` (cgroup v2), never below zero: the CLI's rule, in its
  order (a v1 answer carries both keys; `total_inactive_file` wins while it
  is below the usage).
- Net: rx_bytes and tx_bytes summed over every interface in `networks`;
  block I/O: `io_service_bytes_recursive` entries whose op starts with r / w
  (v1 says "Read", v2 "read"); both as rates between two samples, timed by
  the engine's own `read` stamps. PIDs: `pids_stats.current`.

Where the CLI would print 0 for a figure that cannot be known, these
functions say None (shown as "—"): no previous sample (the first one), a
counter that went backwards (the container restarted between the samples:
its cgroup is new), no `networks` (a container without its own network
namespace: host mode, `container:`, none), no block I/O list, no CPU count.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

_EPOCH_ZERO = "0001-01-01"


@dataclass(frozen=True)
class Sample:
    """The counters of one stats answer that the figures need."""

    read: float  # the engine's time of the sample, epoch seconds
    cpu_total: int | None  # cpu_usage.total_usage, ns
    system: int | None  # system_cpu_usage, ns (all CPUs)
    online_cpus: int  # online_cpus, else len(percpu_usage); 0 when neither
    mem_used: int | None  # usage minus inactive file cache (the CLI's figure)
    mem_limit: int | None
    net: tuple[int, int] | None  # (rx, tx) bytes summed over interfaces; None: no networks
    blk: tuple[int, int] | None  # (read, write) bytes; None: no list at all
    pids: int | None


@dataclass(frozen=True)
class Figures:
    """What the list and the container page show for one container."""

    t: float  # when (the engine's clock)
    cpu: float | None  # % of one CPU (100 = one CPU busy), as `docker stats`
    mem: int | None  # bytes used (without inactive file cache)
    limit: int | None  # memory limit, bytes (the host's memory when none is set)
    mem_pct: float | None
    rx: float | None  # bytes per second
    tx: float | None
    rd: float | None  # block I/O bytes per second
    wr: float | None
    pids: int | None
    net_total: tuple[int, int] | None  # cumulative, as `docker stats` prints NET I/O
    blk_total: tuple[int, int] | None  # cumulative, as BLOCK I/O
    has_net: bool  # the container has networks of its own

    def as_list(self) -> list:
        """A compact JSON form (the sampler writes it for other workers)."""
        return [self.t, self.cpu, self.mem, self.limit, self.mem_pct, self.rx, self.tx,
                self.rd, self.wr, self.pids, list(self.net_total) if self.net_total else None,
                list(self.blk_total) if self.blk_total else None, self.has_net]

    @classmethod
    def from_list(cls, v: list) -> "Figures":
        return cls(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9],
                   tuple(v[10]) if v[10] else None, tuple(v[11]) if v[11] else None,
                   bool(v[12]))


def _int(v) -> int | None:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    return int(v)


def parse_read(text) -> float | None:
    """The engine's `read` stamp (RFC 3339 with nanoseconds) as epoch seconds;
    None for the zero time an answer about a stopped container carries."""
    if not isinstance(text, str) or not text or text.startswith(_EPOCH_ZERO):
        return None
    s = text.replace("Z", "+00:00")
    if "." in s:
        head, _, frac = s.partition(".")
        digits = ""
        for i, ch in enumerate(frac):
            if not ch.isdigit():
                digits, tz = frac[:i], frac[i:]
                break
        else:
            digits, tz = frac, ""
        nanos = int((digits + "000000000")[:9])
        s = head + tz
    else:
        nanos = 0
    try:
        when = dt.datetime.fromisoformat(s)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return int(when.timestamp()) + nanos / 1e9


def mem_used(memory_stats: dict | None) -> int | None:
    """The docker CLI's memory figure: usage without the inactive file cache.
    v1 answers carry `total_inactive_file` (and a non-recursive
    `inactive_file`), v2 answers `inactive_file` only; a cache figure at or
    above the usage is not subtracted (never below zero)."""
    if not isinstance(memory_stats, dict):
        return None
    usage = _int(memory_stats.get("usage"))
    if usage is None:
        return None
    stats = memory_stats.get("stats") or {}
    v1 = _int(stats.get("total_inactive_file"))
    if v1 is not None and v1 < usage:
        return usage - v1
    v2 = _int(stats.get("inactive_file"))
    if v2 is None:
        v2 = 0
    if v2 < usage:
        return usage - v2
    return usage


def _net(networks) -> tuple[int, int] | None:
    if not isinstance(networks, dict) or not networks:
        return None
    rx = tx = 0
    for iface in networks.values():
        if isinstance(iface, dict):
            rx += _int(iface.get("rx_bytes")) or 0
            tx += _int(iface.get("tx_bytes")) or 0
    return rx, tx


def _blk(blkio) -> tuple[int, int] | None:
    entries = (blkio or {}).get("io_service_bytes_recursive") if isinstance(blkio, dict) else None
    if not isinstance(entries, list):
        return None
    rd = wr = 0
    for e in entries:
        if not isinstance(e, dict):
            continue
        op = str(e.get("op") or "")
        value = _int(e.get("value")) or 0
        if op[:1] in ("r", "R"):
            rd += value
        elif op[:1] in ("w", "W"):
            wr += value
    return rd, wr


def reduce(answer: dict) -> Sample | None:
    """One stats answer as a Sample; None when it holds no sample (the
    engine answers a stopped container with an empty one: no `read` time)."""
    if not isinstance(answer, dict):
        return None
    read = parse_read(answer.get("read"))
    if read is None:
        return None
    cpu = answer.get("cpu_stats") or {}
    usage = cpu.get("cpu_usage") or {}
    online = _int(cpu.get("online_cpus")) or 0
    if not online:
        online = len(usage.get("percpu_usage") or [])
    mem = answer.get("memory_stats") or {}
    pids = (answer.get("pids_stats") or {}).get("current")
    return Sample(read=read, cpu_total=_int(usage.get("total_usage")),
                  system=_int(cpu.get("system_cpu_usage")), online_cpus=online,
                  mem_used=mem_used(mem), mem_limit=_int(mem.get("limit")),
                  net=_net(answer.get("networks")), blk=_blk(answer.get("blkio_stats")),
                  pids=_int(pids))


def previous_in(answer: dict) -> Sample | None:
    """The `precpu_stats` half of an answer made without one-shot (the engine
    waited for its second sample) as a Sample holding only the CPU counters,
    to compute the CPU % of that one answer as the CLI does."""
    pre = (answer or {}).get("precpu_stats") or {}
    read = parse_read(answer.get("preread"))
    usage = pre.get("cpu_usage") or {}
    if read is None or not pre.get("system_cpu_usage"):
        return None
    return Sample(read=read, cpu_total=_int(usage.get("total_usage")),
                  system=_int(pre.get("system_cpu_usage")), online_cpus=0, mem_used=None,
                  mem_limit=None, net=None, blk=None, pids=None)


def cpu_percent(prev: Sample | None, cur: Sample) -> float | None:
    """(Δ container CPU / Δ system CPU) × online CPUs × 100, as the CLI.
    None without a previous sample, when a counter went backwards (a
    restart), when the system counter did not move, or with no CPU count."""
    if prev is None or prev.cpu_total is None or cur.cpu_total is None:
        return None
    if prev.system is None or cur.system is None or not cur.online_cpus:
        return None
    cpu_delta = cur.cpu_total - prev.cpu_total
    system_delta = cur.system - prev.system
    if cpu_delta < 0 or system_delta <= 0:
        return None
    return cpu_delta / system_delta * cur.online_cpus * 100.0


def _rate(prev: tuple[int, int] | None, cur: tuple[int, int] | None,
          seconds: float) -> tuple[float | None, float | None]:
    if prev is None or cur is None or seconds <= 0:
        return None, None
    return tuple(None if c < p else (c - p) / seconds for p, c in zip(prev, cur))  # type: ignore


def figures(prev: Sample | None, cur: Sample) -> Figures:
    """The figures of `cur`, with rates against `prev` (None: the first
    sample; then CPU and rates are None, memory and PIDs are known)."""
    seconds = cur.read - prev.read if prev is not None else 0.0
    rx, tx = _rate(prev.net if prev else None, cur.net, seconds)
    rd, wr = _rate(prev.blk if prev else None, cur.blk, seconds)
    pct = None
    if cur.mem_used is not None and cur.mem_limit:
        pct = cur.mem_used / cur.mem_limit * 100.0
    return Figures(t=cur.read, cpu=cpu_percent(prev, cur), mem=cur.mem_used, limit=cur.mem_limit,
                   mem_pct=pct, rx=rx, tx=tx, rd=rd, wr=wr, pids=cur.pids, net_total=cur.net,
                   blk_total=cur.blk, has_net=cur.net is not None)
