"""The ``exploration`` suite of ``engine-bench``: planners on procedural maps.

Registered in ``pyproject.toml``::

    [project.entry-points."engine_bench.suites"]
    exploration = "planning.exploration.suites:exploration_suite"

Run it with ``engine-bench run exploration --maps indoor,forest,warehouse --seeds 0-9``. Each case
is one (map kind, map seed, planner); the map is ``generate(kind, size, seed=map_seed)`` and the
run ``explore(map, planner, seed=ctx.seed)``. Metrics: travel distance and steps to 90% and 99%
explored, planning milliseconds per step, final explored fraction. The summary table gives means
per (map kind, planner) and the mean ratio of each planner's distance to 99% to the classic
nearest frontier's (cell-level Yamauchi frontier exploration, sensing at every cell) on the
same maps; ``nearest_viewpoint`` is nearest frontier on the viewpoint graph. ``--figures DIR``
writes the trajectory, community and waypoint PNGs of every run.

What the CLI hands a run (:class:`engine.suites.RunContext`) reaches ``explore``: the seed drives
the planner's random choices (the map comes from ``--seeds``); ``--time-limit`` stops the episode
(status ``time_limit``, metrics of the part explored; map generation counts towards it);
``--threads`` holds for the run's BLAS/Numba pools; the callback sees every step (the progress bar
shows the explored share) and ``StopIteration`` stops the episode (status ``stopped``).
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from engine.suites import Case, RunContext, Suite, SuiteOption, int_list_at_least, parse_choice_list
from planning.exploration.explore import FARE, explore
from planning.exploration.figures import save_figures
from planning.exploration.local import LearnedPolicy
from planning.exploration.maps import generate

__all__ = ["exploration_suite", "build_cases", "summarize", "run_one"]

_PLANNERS = ("nearest_frontier", "nearest_viewpoint", "utility_greedy", "gain_greedy", "fare", "fare_learned")
_MAPS = ("indoor", "forest", "warehouse")


def _parse_size(text: str) -> int:
    n = int(text)
    if not 50 <= n <= 1000:
        raise ValueError(f"size must be in 50..1000, got {n}")
    return n


def _optional_text(text: str) -> Optional[str]:
    return text or None


def run_one(kind: str, size: int, map_seed: int, planner: str, *, seed: int = 0, policy: Optional[str] = None,
            figures: Optional[str] = None, max_steps: Optional[int] = None, time_limit: Optional[float] = None,
            callback: Any = None, deadline: Optional[float] = None, occupancy: Any = None) -> dict[str, Any]:
    """One run as a flat metrics dict (used by the suite and ``bench/exploration.py``).

    ``occupancy`` (an :class:`~planning.exploration.maps.OccupancyMap`, e.g. a user's file) replaces
    the generated map; ``kind``, ``size`` and ``map_seed`` then only label the run.

    ``time_limit`` (seconds) and ``callback`` go to :func:`~planning.exploration.explore.explore`:
    the episode stops at the limit with status ``time_limit`` (the metrics of the part explored)
    or when the callback raises ``StopIteration`` (status ``stopped``). ``deadline`` (a
    ``time.perf_counter()`` instant, e.g. the end of the suite's run) shortens ``time_limit`` by
    the time the map generation and planner loading took.
    """
    m = generate(kind, size, seed=map_seed) if occupancy is None else occupancy
    plan: Any = planner
    if planner == "fare_learned" and policy:
        plan = FARE(local=LearnedPolicy.load(policy), name="fare_learned")
    if deadline is not None:
        left = max(deadline - time.perf_counter(), 1e-6)
        time_limit = left if time_limit is None else min(time_limit, left)
    res = explore(m, plan, seed=seed, max_steps=max_steps, time_limit=time_limit, callback=callback)
    steps = max(1, len(res.planning_time))
    out = {"status": res.status.value, "runtime": res.runtime, "distance_to_90": res.distance_to_90,
           "distance_to_99": res.distance_to_99, "steps_to_90": res.steps_to_90, "steps_to_99": res.steps_to_99,
           "distance": float(res.objective), "steps": int(res.nit),
           "planning_ms_per_step": 1000.0 * float(np.sum(res.planning_time)) / steps,
           "explored": float(res.explored[-1]), "grid_fallbacks": int(np.sum(res.grid_fallback)),
           "strategist_fallbacks": len(res.strategist_fallbacks)}
    if figures:
        save_figures(res, m.grid, figures, f"{kind}_s{map_seed}_{planner}")
    return out


def build_cases(*, maps: Sequence[str] = _MAPS, seeds: Sequence[int] = tuple(range(10)), size: int = 200,
                planners: Sequence[str] = _PLANNERS, figures: Optional[str] = None, policy: Optional[str] = None,
                max_steps: Optional[int] = None) -> list[Case]:
    """One case per (map kind, map seed, planner)."""
    cases = []
    for kind in maps:
        for ms in seeds:
            for planner in planners:
                def run(ctx: RunContext, kind=kind, ms=ms, planner=planner) -> Mapping[str, Any]:
                    deadline = None if ctx.time_limit is None else ctx.started + ctx.time_limit
                    return run_one(kind, size, ms, planner, seed=ctx.seed, policy=policy, figures=figures,
                                   max_steps=max_steps, callback=ctx.callback, deadline=deadline)

                cases.append(Case(f"{kind} s{ms} {planner}", {"map": kind, "map_seed": ms, "size": size,
                                                               "planner": planner}, run))
    return cases


def summarize(records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Mean metrics per (map, planner) and the mean ratio of distance to 99% vs nearest frontier."""
    base: dict[tuple, float] = {}
    for r in records:
        p = r.get("params", {})
        if p.get("planner") == "nearest_frontier" and r.get("status") != "error":
            base[(p.get("map"), p.get("map_seed"), r.get("seed"))] = r["metrics"].get("distance_to_99", math.nan)
    groups: dict[tuple, list] = defaultdict(list)
    for r in records:
        p = r.get("params", {})
        groups[(p.get("map"), p.get("planner"))].append(r)
        groups[("all", p.get("planner"))].append(r)
    rows = []
    for (kind, planner), recs in groups.items():
        ok = [r for r in recs if r.get("status") != "error"]

        def mean(key: str) -> float:  # over the runs that reached it (steps_to_* is -1 for a run that did not)
            vals = [float(r["metrics"].get(key, math.nan)) for r in ok]
            vals = [v for v in vals if not math.isnan(v) and not (key.startswith("steps_to") and v < 0)]
            return float(np.mean(vals)) if vals else math.nan

        ratios = []
        for r in ok:
            p = r["params"]
            b = base.get((p["map"], p["map_seed"], r.get("seed")))
            d = r["metrics"].get("distance_to_99", math.nan)
            if b and not math.isnan(b) and not math.isnan(d):
                ratios.append(d / b)
        rows.append({"map": kind, "planner": planner, "runs": len(recs), "failed": len(recs) - len(ok),
                     "dist_90": mean("distance_to_90"), "dist_99": mean("distance_to_99"),
                     "steps_90": mean("steps_to_90"), "steps_99": mean("steps_to_99"),
                     "plan_ms_step": mean("planning_ms_per_step"), "explored": mean("explored"),
                     "ratio_99_vs_nf": float(np.mean(ratios)) if ratios else math.nan})
    order = {k: i for i, k in enumerate(list(_MAPS) + ["all"])}
    porder = {k: i for i, k in enumerate(_PLANNERS)}
    rows.sort(key=lambda row: (order.get(row["map"], 99), porder.get(row["planner"], 99)))
    return rows


exploration_suite = Suite(
    name="exploration",
    description="Robot exploration on procedural maps: nearest frontier (classic, cell level), nearest viewpoint, "
                "utility-greedy, gain-greedy (cell level), FARE (route + cell-level gain-greedy), "
                "FARE learned; distance/steps to 90%/99% explored and planning time per step.",
    build=build_cases,
    options=(
        SuiteOption("maps", parse_choice_list("map kind", _MAPS), list(_MAPS), "map kinds, e.g. indoor,forest,warehouse"),
        SuiteOption("seeds", int_list_at_least(0, what="seeds"), list(range(10)), "map seeds, e.g. 0-9"),
        SuiteOption("size", _parse_size, 200, "map side in cells (50..1000)"),
        SuiteOption("planners", parse_choice_list("planner", _PLANNERS), list(_PLANNERS), "subset of " + ",".join(_PLANNERS)),
        SuiteOption("figures", _optional_text, None, "directory for PNG figures of every run"),
        SuiteOption("policy", _optional_text, None, "LearnedPolicy checkpoint (.pt) for fare_learned"),
        SuiteOption("max_steps", lambda t: int(t), None, "step budget per run"),
    ),
    summarize=summarize,
)
