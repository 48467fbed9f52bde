"""The stats formulas on recorded cgroup v1 answers (this machine) and cgroup v2
answers built from the API reference's shape (see data/stats/README.md)."""

import copy
import json
from pathlib import Path

import pytest

from app import statsmath as sm

DATA = Path(__file__).parent / "data" / "stats"


def answer(name: str) -> dict:
    return json.loads((DATA / f"{name}.json").read_text())


def cli_cpu(prev: dict, cur: dict) -> float:
    """The CLI's calculateCPUPercentUnix, written out from the answers' fields."""
    cpu_delta = cur["cpu_usage"]["total_usage"] - prev["cpu_usage"]["total_usage"]
    sys_delta = cur["system_cpu_usage"] - prev["system_cpu_usage"]
    online = cur.get("online_cpus") or len(cur["cpu_usage"].get("percpu_usage") or [])
    return cpu_delta / sys_delta * online * 100.0 if cpu_delta > 0 and sys_delta > 0 else 0.0


def test_v1_burner_cpu_from_two_one_shot_answers():
    a, b = answer("v1-burner-1"), answer("v1-burner-2")
    f = sm.figures(sm.reduce(a), sm.reduce(b))
    assert f.cpu == pytest.approx(cli_cpu(a["cpu_stats"], b["cpu_stats"]))
    assert 70 <= f.cpu <= 130  # `yes > /dev/null`: one CPU busy
    assert f.pids == 1


def test_v1_answer_without_one_shot_matches_the_cli_on_its_own_precpu():
    a = answer("v1-burner-two-sample")
    cur = sm.reduce(a)
    prev = sm.previous_in(a)
    assert prev is not None and cur.online_cpus == 2
    assert sm.cpu_percent(prev, cur) == pytest.approx(cli_cpu(a["precpu_stats"], a["cpu_stats"]))
    assert 70 <= sm.cpu_percent(prev, cur) <= 130  # the CLI printed 100.76 %


def test_first_sample_has_no_cpu_or_rates_but_memory_and_pids():
    s = sm.reduce(answer("v1-holder-1"))
    f = sm.figures(None, s)
    assert f.cpu is None and f.rx is None and f.tx is None and f.rd is None and f.wr is None
    assert f.mem == s.mem_used and f.pids == 3
    assert f.net_total == (answer("v1-holder-1")["networks"]["eth0"]["rx_bytes"], 0)


def test_v1_memory_is_usage_minus_total_inactive_file():
    a = answer("v1-holder-1")
    ms = a["memory_stats"]
    assert sm.mem_used(ms) == ms["usage"] - ms["stats"]["total_inactive_file"]
    # about 62 MiB held, as `docker stats` said (61.79MiB)
    assert sm.mem_used(ms) / 2**20 == pytest.approx(61.79, abs=0.01)
    # total_inactive_file wins over the non-recursive inactive_file on v1
    ms2 = copy.deepcopy(ms)
    ms2["stats"]["total_inactive_file"] = 4_000_000
    ms2["stats"]["inactive_file"] = 1_000
    assert sm.mem_used(ms2) == ms["usage"] - 4_000_000


def test_memory_never_below_zero():
    ms = copy.deepcopy(answer("v1-holder-1")["memory_stats"])
    ms["stats"]["total_inactive_file"] = ms["usage"] + 10  # cache above usage: not subtracted
    ms["stats"]["inactive_file"] = ms["usage"] + 10
    assert sm.mem_used(ms) == ms["usage"]
    v2 = copy.deepcopy(answer("v2-web-1")["memory_stats"])
    v2["stats"]["inactive_file"] = v2["usage"]
    assert sm.mem_used(v2) == v2["usage"]
    assert sm.mem_used({}) is None and sm.mem_used(None) is None


def test_v2_figures():
    a, b = answer("v2-web-1"), answer("v2-web-2")
    pa, pb = sm.reduce(a), sm.reduce(b)
    assert pa.online_cpus == 4  # online_cpus: v2 has no percpu_usage
    f = sm.figures(pa, pb)
    assert f.cpu == pytest.approx(cli_cpu(a["cpu_stats"], b["cpu_stats"]))
    assert f.cpu == pytest.approx(50.0)  # 1e9 ns of 8e9 ns on 4 CPUs: half of one CPU
    assert f.mem == b["memory_stats"]["usage"] - b["memory_stats"]["stats"]["inactive_file"]
    assert f.limit == b["memory_stats"]["limit"]
    assert f.mem_pct == pytest.approx(f.mem / f.limit * 100)
    # net: summed over eth0 and eth5, per second over the engine's own 2 s
    rx_a = sum(n["rx_bytes"] for n in a["networks"].values())
    rx_b = sum(n["rx_bytes"] for n in b["networks"].values())
    assert f.rx == pytest.approx((rx_b - rx_a) / 2.0)
    assert f.tx == pytest.approx(1000 / 2.0)
    # block I/O: "read"/"write" in lower case, two devices summed
    assert f.blk_total == (1048576 + 409600 + 4096, 524288 + 819200)
    assert f.rd == pytest.approx(409600 / 2.0) and f.wr == pytest.approx(819200 / 2.0)
    assert f.pids == 6 and f.has_net


def test_v1_capitalised_block_ops_are_counted():
    a = answer("v1-holder-1")
    a["blkio_stats"]["io_service_bytes_recursive"] = [
        {"major": 8, "minor": 0, "op": "Read", "value": 100},
        {"major": 8, "minor": 0, "op": "Write", "value": 50},
        {"major": 8, "minor": 0, "op": "Sync", "value": 7},
        {"major": 8, "minor": 0, "op": "Total", "value": 150}]
    assert sm.reduce(a).blk == (100, 50)


def test_counter_that_went_backwards_gives_no_cpu():
    before, after = sm.reduce(answer("v1-burner-2")), sm.reduce(answer("v1-burner-restarted"))
    assert after.cpu_total < before.cpu_total  # recorded across a `docker restart`
    f = sm.figures(before, after)
    assert f.cpu is None
    assert f.mem is not None and f.pids == 1
    # the next pair (after the restart) counts again
    later = answer("v1-burner-restarted")
    later["read"] = "2026-12-01T17:23:59.000000000Z"
    later["cpu_stats"]["cpu_usage"]["total_usage"] += 1_000_000_000
    later["cpu_stats"]["system_cpu_usage"] += 2_000_000_000
    assert sm.figures(after, sm.reduce(later)).cpu == pytest.approx(100.0)


def test_net_counter_backwards_gives_no_rate():
    a, b = answer("v2-web-1"), answer("v2-web-2")
    b["networks"]["eth0"]["rx_bytes"] = 1
    f = sm.figures(sm.reduce(a), sm.reduce(b))
    assert f.rx is None and f.tx is not None


def test_no_network_namespace_has_no_net_figures():
    s = sm.reduce(answer("v1-hostnet"))
    assert s.net is None
    f = sm.figures(s, s)
    assert not f.has_net and f.rx is None and f.net_total is None


def test_stopped_container_answer_holds_no_sample():
    # what the engine answers for a container that is not running
    assert sm.reduce({"read": "0001-01-01T00:00:00Z", "preread": "0001-01-01T00:00:00Z",
                      "name": "/x", "id": "ab" * 32, "cpu_stats": {}, "memory_stats": {}}) is None
    assert sm.reduce({}) is None and sm.reduce("nonsense") is None


def test_no_cpu_count_gives_no_cpu():
    a, b = answer("v2-web-1"), answer("v2-web-2")
    del b["cpu_stats"]["online_cpus"]  # and v2 has no percpu_usage to count
    assert sm.figures(sm.reduce(a), sm.reduce(b)).cpu is None


def test_system_counter_that_did_not_move_gives_no_cpu():
    a = sm.reduce(answer("v2-web-1"))
    assert sm.cpu_percent(a, a) is None


def test_read_stamp_keeps_nanoseconds_and_zones():
    t = sm.parse_read("2025-01-16T13:55:44.165926882Z")
    assert t == pytest.approx(1737035744.165926882, abs=1e-6)
    assert sm.parse_read("2025-01-16T14:55:44.165926882+01:00") == pytest.approx(t, abs=1e-6)
    assert sm.parse_read("2025-01-16T13:55:44Z") == 1737035744
    assert sm.parse_read("0001-01-01T00:00:00Z") is None and sm.parse_read(None) is None
    assert sm.parse_read("yesterday") is None


def test_hostile_shapes_do_not_break_it():
    a = answer("v2-web-1")
    a["networks"] = {"eth0": "x", "eth1": {"rx_bytes": "9", "tx_bytes": None}}
    a["blkio_stats"] = {"io_service_bytes_recursive": [None, {"op": None, "value": "1"}]}
    a["pids_stats"] = {"current": True}
    s = sm.reduce(a)
    assert s.net == (0, 0) and s.blk == (0, 0) and s.pids is None


def test_figures_round_trip_as_lists():
    f = sm.figures(sm.reduce(answer("v2-web-1")), sm.reduce(answer("v2-web-2")))
    assert sm.Figures.from_list(json.loads(json.dumps(f.as_list()))) == f
