"""bench/harness.py: the one list syntax and the ratio table every benchmark script prints."""

import importlib.util
import math
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location("harness", Path(__file__).resolve().parents[1] / "bench" / "harness.py")
harness = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(harness)


def test_one_list_syntax_for_every_script():
    assert harness.int_list(["0-2,5", "7"]) == [0, 1, 2, 5, 7]
    assert harness.int_list("10,50,100") == harness.int_list(["10", "50", "100"]) == [10, 50, 100]
    assert harness.float_list(["0,0.05", "0.1"]) == [0.0, 0.05, 0.1]
    assert harness.str_list(["capacity,matching"]) == ["capacity", "matching"]
    with pytest.raises(ValueError):
        harness.int_list("4-2")


def test_timed_pair_returns_each_side_in_order():
    calls = []
    t_a, t_b, out_a, out_b = harness.timed_pair(lambda: calls.append("a") or "A", lambda: calls.append("b") or "B",
                                                rounds=2)
    assert (out_a, out_b) == ("A", "B") and calls == ["a", "b", "b", "a"]
    assert t_a >= 0 and t_b >= 0


def test_ratio_and_table():
    assert harness.ratio(0.5, 2.0) == 4.0 and math.isnan(harness.ratio(math.nan, 1.0))
    t = harness.Table({"n": "d", "ratio": ".1f"})
    t.add(n=10, ratio=4.0)
    t.add(n=200, ratio=math.nan)
    assert t.render().splitlines() == ["  n  ratio", " 10    4.0", "200      -"]
