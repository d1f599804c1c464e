"""Occupancy maps given as files: what ``engine-bench solve`` / ``serve`` do with them.

The ``map`` input kind (registered under ``engine_bench.kinds``) takes a ``gameplan/map`` JSON
document (:func:`planning.exploration.save_map` to ``.json``), a PNG image (free white,
occupied black, unknown grey, like ROS ``map_server``) or a ``.npy`` grid (-1/0/1),
recognised by their content (the PNG and NPY magic bytes), and explores it from its start
cell (``--start r,c`` overrides it) with ``--planner`` (:data:`planning.exploration.PLANNERS`,
default ``fare``; ``--method`` names the planner too). ``--time-limit`` stops the robot where
it is (status ``time_limit``); ``--max-steps`` bounds the steps (status ``iteration_limit``).
The answer is an :class:`planning.exploration.ExplorationResult`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from engine.errors import InvalidInputError
from engine.solve import Kind, KindOption, Solved, SolveRequest, Source, with_instances
from engine.suites import Case, parse_positive_int
from planning.exploration.explore import explore
from planning.exploration.maps import OccupancyMap, load_map
from planning.exploration.suites import _PLANNERS, run_one
from planning.exploration.suites import exploration_suite as _generated_suite

__all__ = ["map_kind", "load_source_map"]


def _planners() -> tuple:
    return ("fare", "nearest_frontier", "nearest_viewpoint", "utility_greedy", "gain_greedy", "fare_learned")


def _sniff(src: Source) -> bool:
    return src.is_png or src.is_npy or src.schema == "gameplan/map"


def load_source_map(src: Source, start: Optional[tuple] = None) -> Any:
    """The :class:`~planning.exploration.OccupancyMap` of a map document, PNG or ``.npy`` input."""
    if src.schema == "gameplan/map":
        return OccupancyMap.from_dict(src.document, start=start)
    with src.as_file(".png" if src.is_png else ".npy") as path:
        m = load_map(path, start=start)
    return m


def _parse_start(text: str) -> tuple:
    parts = [p for p in str(text).replace("(", "").replace(")", "").split(",") if p.strip()]
    if len(parts) != 2:
        raise ValueError("the start cell is row,col")
    r, c = (int(p) for p in parts)
    if r < 0 or c < 0:
        raise ValueError("the start cell has non-negative row and column")
    return (r, c)


def _parse_planner(text: str) -> str:
    name = str(text).strip()
    if name not in _planners():
        raise ValueError(f"choose from {', '.join(_planners())}")
    return name


def _parse_range(text: str) -> float:
    v = float(text)
    if not v >= 1.5 or v != v or v == float("inf"):
        raise ValueError("the sensor range is a finite number of cells >= 1.5")
    return v


def _solve(src: Source, req: SolveRequest) -> Solved:
    opts = req.options
    planner = opts.get("planner")
    if planner is not None and req.method != _planners()[0] and planner != req.method:
        raise InvalidInputError(f"{req.where}: --planner {planner} and --method {req.method} disagree; give one")
    planner = planner or req.method
    m = load_source_map(src, opts.get("start"))
    res = explore(m, planner, seed=req.seed, max_steps=opts.get("max_steps"), sensor_range=opts.get("sensor_range"),
                  time_limit=req.remaining())
    rows = [{"field": "planner", "value": planner}, {"field": "finish_reason", "value": res.finish_reason},
            {"field": "explored", "value": float(res.explored[-1])}, {"field": "distance", "value": float(res.distance[-1])},
            {"field": "steps", "value": int(res.nit)}, {"field": "distance_to_90", "value": float(res.distance_to_90)},
            {"field": "map", "value": f"{m.name} {m.shape[0]}x{m.shape[1]}, start {tuple(m.start)}"}]
    return Solved(res, rows, title="exploration")


def _instance_cases(sources: Any, *, maps: Any = None, seeds: Any = None, size: Any = None, planners: Any = None,
                    figures: Optional[str] = None, policy: Optional[str] = None,
                    max_steps: Optional[int] = None) -> list:
    """The exploration suite's planners on each map file (``--maps``, ``--seeds`` and ``--size`` do not
    apply: the file is the map)."""
    chosen = list(planners) if planners is not None else list(_PLANNERS)
    cases = []
    for src in sources:
        occupancy = load_source_map(src)
        name = Path(src.name).name
        for planner in chosen:
            def run(ctx: Any, occupancy=occupancy, name=name, planner=planner) -> Any:
                deadline = None if ctx.time_limit is None else ctx.started + ctx.time_limit
                return run_one(name, int(max(occupancy.grid.shape)), 0, planner, seed=ctx.seed, policy=policy,
                               figures=figures, max_steps=max_steps, callback=ctx.callback, deadline=deadline,
                               occupancy=occupancy)
            cases.append(Case(f"{name} {planner}", {"map": name, "map_seed": 0, "size": int(max(occupancy.grid.shape)),
                                                    "planner": planner}, run))
    return cases


def _exploration_suite() -> Any:
    return with_instances(_generated_suite, map_kind)


map_kind = Kind(
    name="map",
    accepts="an occupancy map: a gameplan/map JSON document, a PNG image or a .npy grid",
    sniff=_sniff,
    solve=_solve,
    methods=_planners(),
    options=(KindOption("planner", _parse_planner, None, "the exploration planner (same as --method)"),
             KindOption("start", _parse_start, None, "start cell row,col (default: the map's)"),
             KindOption("max_steps", parse_positive_int, None, "step budget (default 10 x free cells + 100)"),
             KindOption("sensor_range", _parse_range, None, "sensor range in cells (default from the map size)")),
    schema="gameplan/map",
    instance_cases=_instance_cases,
)

#: The ``exploration`` suite of ``engine-bench run`` plus ``--instances GLOB`` (its entry point).
exploration_suite = _exploration_suite()
