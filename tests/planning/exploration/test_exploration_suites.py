"""The exploration suite passes on what the CLI hands each run: seed, time limit, threads, callback."""

from __future__ import annotations

import time

from engine.cli import run_suite
from engine.events import Iteration, Progress
from engine.suites import RunContext
from planning.exploration.suites import exploration_suite


def _case(planner="fare", size=100, kind="forest", max_steps=None):
    args = ["--maps", kind, "--seeds", "0", "--planners", planner, "--size", str(size)]
    if max_steps is not None:
        args += ["--max-steps", str(max_steps)]
    (case,) = exploration_suite.cases(**exploration_suite.parse_options(args))
    return case


def test_time_limit_stops_the_episode():
    case = _case(size=200)
    t0 = time.perf_counter()
    out = dict(case.run(RunContext(seed=0, repeat=0, time_limit=0.05)))
    assert out["status"] == "time_limit" and out["explored"] < 1.0
    assert time.perf_counter() - t0 < 60  # generous: map generation and JIT may be slow, the episode is cut


def test_seed_time_limit_and_callback_reach_explore(monkeypatch):
    import importlib

    explore_module = importlib.import_module("planning.exploration.suites")  # run_one's explore
    seen = {}
    real = explore_module.explore

    def spy(m, planner, **kwargs):
        seen.update(kwargs)
        return real(m, planner, **kwargs)

    monkeypatch.setattr(explore_module, "explore", spy)
    events = []
    case = _case(planner="nearest_frontier", size=50)
    case.run(RunContext(seed=7, repeat=0, time_limit=30.0, callback=events.append))
    assert seen["seed"] == 7 and seen["callback"] == events.append
    assert 0 < seen["time_limit"] <= 30.0  # what is left of the run's limit after the map was made


def test_callback_sees_steps_and_progress_and_can_stop():
    case = _case(planner="nearest_frontier", size=60)
    events = []
    out = dict(case.run(RunContext(seed=0, repeat=0, callback=events.append)))
    steps = [e for e in events if isinstance(e, Iteration)]
    shares = [e for e in events if isinstance(e, Progress)]
    assert len(steps) == out["steps"] == len(shares)
    assert shares[-1].total == 100.0 and shares[-1].completed == 100.0  # percent explored: the bar's ETA

    def stop_at_5(event):
        if isinstance(event, Iteration) and event.nit >= 5:
            raise StopIteration

    out = dict(case.run(RunContext(seed=0, repeat=0, callback=stop_at_5)))
    assert out["status"] == "stopped" and out["steps"] == 5


def test_threads_and_time_limit_recorded():
    (record,) = run_suite(exploration_suite, exploration_suite.parse_options(
        ["--maps", "indoor", "--seeds", "0", "--planners", "nearest_frontier", "--size", "50"]), threads=2,
        time_limit=60.0, seed=3)
    assert record["status"] == "feasible" and record["threads"] == 2 and record["time_limit"] == 60.0
    assert record["seed"] == 3


def test_summary_of_runs_cut_short_has_no_sentinel_steps():
    records = [{"case": "c", "params": {"map": "indoor", "map_seed": 0, "planner": "fare"}, "seed": 0,
                "status": "time_limit", "metrics": {"distance_to_90": float("nan"), "steps_to_90": -1,
                                                    "explored": 0.4}}]
    (row, _all) = exploration_suite.summarize(records)
    import math

    assert math.isnan(row["steps_90"]) and math.isnan(row["dist_90"]) and row["explored"] == 0.4
