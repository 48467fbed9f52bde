"""Chart geometry: scales, paths broken at gaps, limits."""

import pytest

from app import charts


def test_nice_ceiling_and_bytes():
    assert charts.nice_ceiling(0.7) == pytest.approx(1.0)
    assert charts.nice_ceiling(1.3) == pytest.approx(2.0)
    assert charts.nice_ceiling(2.2) == pytest.approx(2.5)
    assert charts.nice_ceiling(37) == pytest.approx(50)
    assert charts.nice_ceiling(101) == pytest.approx(200)
    assert charts.nice_ceiling(0) == 1.0
    assert charts.nice_bytes(3 * 2**20) == 5 * 2**20  # 5 MiB, not 5,000,000
    assert charts.nice_bytes(1000) == 1000
    assert charts.tidy("100.0%") == "100%" and charts.tidy("2.0 MiB") == "2 MiB"


def test_path_maps_time_and_value_into_the_box():
    d = charts.path([(0.0, 0.0), (300.0, 50.0), (600.0, 100.0)], t_end=600, window=600,
                    y_max=100, gap=1000)
    assert d == f"M0.0,{charts.H:.1f} L300.0,{charts.H / 2:.1f} L600.0,0.0"


def test_path_breaks_at_gaps_and_missing_values():
    pts = [(0, 1.0), (2, 1.0), (4, None), (6, 1.0), (8, 1.0), (100, 1.0)]
    d = charts.path(pts, t_end=100, window=100, y_max=1, gap=10)
    assert d.count("M") == 3  # before the None, after it, after the gap
    assert "h0.01" in d  # a lone point still shows


def test_points_older_than_the_window_are_left_out():
    d = charts.path([(0, 5.0), (50, 5.0), (100, 5.0)], t_end=100, window=60, y_max=10, gap=100)
    assert d.startswith("M" + f"{(50 - 40) / 60 * charts.W:.1f}")


def test_values_are_clamped_to_the_box():
    d = charts.path([(0, -5.0), (1, 500.0)], t_end=1, window=1, y_max=100, gap=10)
    assert d == f"M0.0,{charts.H:.1f} L{charts.W:.1f},0.0"


def test_line_chart_scale_limit_and_last_values():
    pts = [(t, (float(t), None if t == 3 else 2.0 * t)) for t in range(4)]
    ch = charts.line_chart("net", "Network", pts, [("rx", "in"), ("tx", "out")], str,
                           window=600, gap=30, floor=1.0)
    assert not ch.empty and float(ch.top) == 5.0  # 1.1 x the highest (4.0), made round
    assert [s.last for s in ch.series] == ["3.0", "—"]
    mem = charts.line_chart("mem", "Memory", [(0, (60.0,)), (1, (70.0,))], [("mem", "used")],
                            str, window=600, gap=30, floor=1.0, limit=100.0)
    assert mem.limit_y == pytest.approx(0.0) and mem.top == "100.0"
    far = charts.line_chart("mem", "Memory", [(0, (1.0,))], [("mem", "used")], str,
                            window=600, gap=30, floor=1.0, limit=1000.0)
    assert far.limit_y is None  # a limit far above is named, not drawn


def test_empty_chart():
    ch = charts.line_chart("cpu", "CPU", [], [("cpu", "CPU")], str, window=600, gap=30,
                           floor=1.0, none=True, note="why")
    assert ch.empty and ch.none and ch.series[0].last == "—" and ch.note == "why"
