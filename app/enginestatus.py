"""What the engines page shows of each engine: does it answer, how fast,
which versions (the API version negotiated is per engine: engines differ),
its OS and counts; a dead one with its error. Every engine is asked in
parallel within the page's budget (app/fanout.py). No Flask here."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from .registry import EngineEntry, Registry
from .fanout import ask_all


@dataclass
class Status:
    entry: EngineEntry
    ok: bool = False
    late: bool = False
    error: str = ""
    latency_ms: float | None = None  # GET /_ping, once connected
    version: dict = field(default_factory=dict)
    info: dict = field(default_factory=dict)
    api: str | None = None

    @property
    def name(self) -> str:
        return self.entry.name


def _probe(entry: EngineEntry, budget: float) -> tuple[float, dict, dict, str]:
    eng = entry.engine
    eng.ping(timeout=budget)  # connects (and negotiates) first: the latency is the call's own
    t0 = time.perf_counter()
    eng.ping(timeout=budget)
    latency = (time.perf_counter() - t0) * 1000
    return latency, eng.version(timeout=budget), eng.info(timeout=budget), eng.api_version


def statuses(registry: Registry, entries: list[EngineEntry], budget: float) -> list[Status]:
    out = []
    for ans in ask_all(registry, entries, ("status",), lambda e: _probe(e, budget), budget):
        st = Status(ans.entry)
        if ans.late:
            st.late = True
            st.error = f"not answering within {budget:g} s"
        elif ans.error is not None:
            st.error = ans.error.message
        else:
            st.ok = True
            st.latency_ms, st.version, st.info, st.api = ans.value
        out.append(st)
    return out

