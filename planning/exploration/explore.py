"""Simulated exploration: ``explore(map, planner, *, seed, max_steps)`` and the planners.

The robot starts at the map's start cell with an empty belief, senses (ray casting, range
``sensor_range``), and at every step a *graph planner* picks a target viewpoint; the robot moves one
edge of the viewpoint graph along the shortest path to it and senses again (sensing happens at the
viewpoints, not along the edge). When the graph offers no
target (no reachable viewpoint sees a frontier) or the last ``stale_limit`` moves revealed nothing,
the robot instead walks the shortest grid path over known free cells to the nearest frontier
cell (a *grid fallback*; standing on a frontier cell always reveals its unknown neighbours).
Exploration ends when no frontier is left: every free cell reachable from the start is then
known. Every loop is bounded (``max_steps``, ``time_limit``).

A *grid planner* (``moves_on_grid = True``, such as the classic nearest frontier) instead returns
cells: the robot moves one cell at a time (8-connected, lengths 1 and sqrt 2) and senses after
every cell move; one step is at most ``cells_per_step`` cell moves (default: the lattice
``spacing``, the shortest viewpoint edge, so step counts compare in magnitude with the graph
planners'). Travel distance is the Euclidean length travelled, in cells, for every planner. The
classic grid planner needs no viewpoint graph, so it is not maintained for it; a grid planner
that reads viewpoint values (``uses_graph = True``: ``gain_greedy`` and FARE with its default
cell-level local planner) keeps it updated from what is sensed along its cell path.

Planners (by name or as objects) are in :mod:`planning.exploration.planners` (re-exported here);
:class:`ExplorationEnv` is the same simulation as a reset/step environment.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional

import numpy as np

from engine.errors import InvalidInputError
from engine.events import Finished, Iteration, Progress, emit
from engine.result import SolveResult
from engine.seeding import resolve_seed
from engine.status import Status
from engine.validation import check_int, check_real, check_time_limit
from planning.exploration.maps import OccupancyMap, make_map
# the planners and state types live in their own modules; re-exported here, where they were defined before
from planning.exploration.planners import (FARE, PLANNERS, CellGreedyPlanner, NearestFrontier, NearestViewpoint,
                                           UtilityGreedyPlanner, make_planner)
from planning.exploration.sensing import grid_path_to_frontier, line_cells
from planning.exploration.state import ExplorationState, Guide, describe_environment

__all__ = ["explore", "ExplorationEnv", "StepInfo", "ExplorationResult", "ExplorationState", "NearestFrontier",
           "NearestViewpoint", "UtilityGreedyPlanner", "CellGreedyPlanner", "FARE", "Guide", "PLANNERS",
           "make_planner", "describe_environment"]


@dataclass(frozen=True, kw_only=True)
class ExplorationResult(SolveResult):
    """The outcome of :func:`explore`.

    ``x`` is the trajectory, ``objective`` the travel distance, ``nit`` the steps. ``status`` is
    FEASIBLE when every reachable cell was explored, ITERATION_LIMIT / TIME_LIMIT / STOPPED
    otherwise; ``finish_reason`` says the same in words.

    Attributes
    ----------
    trajectory : (n + 1, 2) int array
        Robot cells, the start first.
    distance : (n + 1,) array
        Travel distance (cells) after each step.
    explored : (n + 1,) array
        Fraction of the reachable free cells known after each step.
    planning_time : (n,) array
        Seconds the planner spent deciding each step (global replans included).
    waypoints : (n, 2) int array
        The waypoint cell each step followed (-1, -1 when none).
    grid_fallback : (n,) bool array
        Steps taken by the grid fallback instead of the graph (always False for grid planners).
    finish_reason : str
        ``"explored"``, ``"max_steps"``, ``"time_limit"`` or ``"stopped"``.
    n_reachable : int
        Free cells reachable from the start (the denominator of ``explored``).
    distance_to_90, distance_to_99 : float
        Travel distance when 90% / 99% were first explored (nan if never).
    steps_to_90, steps_to_99 : int
        Steps at that moment (-1 if never).
    strategist_fallbacks : tuple of str
        Each time a strategist's answer was replaced, and why.
    belief : int8 array
        The final belief map.
    graph_nodes : (m, 2) int array
        Viewpoint cells at the end; ``community_labels`` (m,) their community in the last global
        plan (-1 none), ``waypoint_sequence`` (k, 2) the last plan's waypoint cells.
    topology : dict
        Sizes and modularity of the last topological graph, the number of global replans.
    """

    trajectory: np.ndarray
    distance: np.ndarray
    explored: np.ndarray
    planning_time: np.ndarray
    waypoints: np.ndarray
    grid_fallback: np.ndarray
    finish_reason: str
    n_reachable: int
    distance_to_90: float
    distance_to_99: float
    steps_to_90: int
    steps_to_99: int
    strategist_fallbacks: tuple = ()
    belief: Any = None
    graph_nodes: Any = None
    community_labels: Any = None
    waypoint_sequence: Any = None
    topology: Mapping[str, Any] = field(default_factory=dict)

    def distance_to(self, fraction: float) -> float:
        """Travel distance when ``fraction`` of the reachable cells was first known (nan if never)."""
        hit = np.nonzero(self.explored >= fraction - 1e-12)[0]
        return float(self.distance[hit[0]]) if len(hit) else math.nan

    def steps_to(self, fraction: float) -> int:
        hit = np.nonzero(self.explored >= fraction - 1e-12)[0]
        return int(hit[0]) if len(hit) else -1


def _auto_range(m: OccupancyMap) -> float:
    return float(max(3, round(min(m.shape) / 10)))


def _validate_env(m: Any, planner: Any, seed: Any, sensor_range: Any, spacing: Any, k: Any, link_radius: Any,
                  stale_limit: Any, sense_en_route: Any, where: str) -> tuple:
    if not isinstance(sense_en_route, (bool, np.bool_)):
        raise InvalidInputError(f"{where}: sense_en_route must be a bool, got {sense_en_route!r}")
    if not isinstance(m, OccupancyMap):
        m = make_map(m, where=where)
    else:
        m = make_map(m.grid, start=m.start, name=m.name, params=m.params, where=where)
    plan = make_planner(planner, where)
    s = resolve_seed(seed, where=where)
    R = _auto_range(m) if sensor_range is None else check_real(sensor_range, "sensor_range", where, lower=1.5)
    sp = max(1, int(round(R / 3))) if spacing is None else check_int(spacing, "spacing", where, lower=1)
    kk = check_int(k, "k", where, lower=1, upper=64)
    st = check_int(stale_limit, "stale_limit", where, lower=1)
    lr = max(1.5, 2.3 * sp) if link_radius is None else check_real(link_radius, "link_radius", where, lower=1.0)
    return m, plan, s, R, sp, kk, lr, st, bool(sense_en_route)


def _grid_step(state: ExplorationState, plan: Any) -> tuple[float, int, int, int, float]:
    """One step of a grid planner: up to ``moves_per_step`` cell moves, sensing after each.

    Returns ``(distance, new_known, new_free, cells_moved, planning_seconds)``.
    """
    n_moves = int(plan.moves_per_step(state)) if hasattr(plan, "moves_per_step") else 1
    d = 0.0
    new_known = 0
    free0 = state.known_free
    moved = 0
    tplan = 0.0
    h, w = state.belief.shape
    for _ in range(max(1, n_moves)):
        t0 = time.perf_counter()
        cell = plan.next_cell(state)
        tplan += time.perf_counter() - t0
        if cell is None:
            break
        r, c = int(cell[0]), int(cell[1])
        pr, pc = state.position
        if not (0 <= r < h and 0 <= c < w and max(abs(r - pr), abs(c - pc)) == 1 and state.belief[r, c] == 0):
            raise InvalidInputError(f"explore(): planner {getattr(plan, 'name', plan)!r} moved to {cell!r}, not a "
                                    f"known free 8-neighbour of {state.position}")
        d += state.move_to_cell(r, c)
        new_known += state.sense_here()
        moved += 1
        if state.frontier_count <= 0:
            break
    return d, new_known, state.known_free - free0, moved, tplan


@dataclass(frozen=True)
class StepInfo:
    """What one :meth:`ExplorationEnv.step` did.

    ``step``: steps taken so far (this one included); ``new_free`` / ``new_known``: cells that
    became known free / known this step; ``distance``: the length travelled this step;
    ``fallback``: the grid fallback moved the robot instead of the planner's graph target;
    ``planning_time``: seconds the planner spent deciding; ``done``: no frontier is left (every
    reachable cell is known); ``stuck``: the robot could not move (no reachable frontier; never
    happens while one is left, see the module docs).
    """

    step: int
    new_free: int
    new_known: int
    distance: float
    fallback: bool
    planning_time: float
    done: bool
    stuck: bool = False


class ExplorationEnv:
    """:func:`explore` as a reset/step environment (what training drives; same options, same runs).

    ``reset()`` builds the :class:`ExplorationState` (robot at the start cell, one scan) and resets
    the planner; every ``step()`` lets the planner move the robot once (one graph edge, a grid
    fallback path, or up to ``moves_per_step`` cells for a grid planner), senses, and returns a
    :class:`StepInfo`; ``state`` is there to read between steps. The histories :func:`explore`
    reports (``trajectory``, ``distance``, ``explored``, ``planning_time``, ``waypoints``,
    ``grid_fallback``) grow with each step. Step budgets and time limits are the caller's.

    Parameters
    ----------
    map, planner, seed, sensor_range, spacing, k, link_radius, stale_limit, sense_en_route
        As for :func:`explore` (``seed`` resolved once, here).

    Examples
    --------
    >>> from planning.exploration import maps
    >>> env = ExplorationEnv(maps.indoor(50, seed=0), "nearest_frontier", seed=0)
    >>> state = env.reset()
    >>> info = env.step()
    >>> info.step, info.new_free > 0, state.explored > 0
    (1, True, True)
    """

    def __init__(self, map: Any, planner: Any = "fare", *, seed: Any = 0, sensor_range: Optional[float] = None,
                 spacing: Optional[int] = None, k: int = 16, link_radius: Optional[float] = None,
                 stale_limit: int = 8, sense_en_route: bool = True, where: str = "ExplorationEnv()") -> None:
        (self.map, self.planner, self.seed, self.sensor_range, self.spacing, self.k, self.link_radius,
         self.stale_limit, self.sense_en_route) = _validate_env(map, planner, seed, sensor_range, spacing, k,
                                                                link_radius, stale_limit, sense_en_route, where)
        self.on_grid = bool(getattr(self.planner, "moves_on_grid", False))
        self._state: Optional[ExplorationState] = None

    @property
    def state(self) -> ExplorationState:
        """The simulation (after :meth:`reset`)."""
        if self._state is None:
            raise InvalidInputError("ExplorationEnv: call reset() first")
        return self._state

    @property
    def done(self) -> bool:
        """No frontier left: every free cell reachable from the start is known."""
        return self.state.frontier_count <= 0

    def reset(self) -> ExplorationState:
        """Start a run: a fresh belief, one scan from the start cell, the planner reset with ``seed``."""
        plan = self.planner
        state = ExplorationState(self.map, sensor_range=self.sensor_range, spacing=self.spacing, k=self.k,
                                 link_radius=self.link_radius,
                                 use_graph=bool(getattr(plan, "uses_graph", not self.on_grid)))
        self._state = state
        plan.reset(state, self.seed)
        self.steps = 0
        self.total_distance = 0.0
        self._stale = 0
        self.trajectory: list[tuple[int, int]] = [state.position]
        self.distance: list[float] = [0.0]
        self.explored: list[float] = [state.explored]
        self.planning_time: list[float] = []
        self.waypoints: list[tuple[int, int]] = []
        self.grid_fallback: list[bool] = []
        return state

    def step(self) -> StepInfo:
        """Move the robot once (see the class docs) and sense; the histories grow by one entry."""
        state, plan = self.state, self.planner
        state.step = self.steps
        if self.on_grid:
            d, new_known, new_free, moved, tplan = _grid_step(state, plan)
            if moved == 0:  # pragma: no cover - a frontier is always reachable
                return StepInfo(self.steps, 0, 0, 0.0, False, tplan, self.done, stuck=True)
            self.planning_time.append(tplan)
            self.waypoints.append((-1, -1))
            self.grid_fallback.append(False)
            return self._record(d, new_free, new_known, False, tplan)
        t0 = time.perf_counter()
        target = None if self._stale >= self.stale_limit else plan.select(state)
        tplan = time.perf_counter() - t0
        self.planning_time.append(tplan)
        wnode = None
        if hasattr(plan, "topology") and hasattr(plan, "sequence") and plan.topology is not None:
            wnode = getattr(plan.local, "last_waypoint", None)
        self.waypoints.append((int(state.graph.rows[wnode]), int(state.graph.cols[wnode])) if wnode is not None
                              else (-1, -1))
        use_graph = (target is not None and 0 <= int(target) < state.graph.n and int(target) != state.robot
                     and np.isfinite(state.dist[int(target)]))
        if use_graph and target is not None:  # (use_graph implies target is not None: narrows the type)
            hop = state.next_hop(int(target))
            r0, c0 = state.position
            d = state.move_to_node(hop)
            self.grid_fallback.append(False)
            travelled = line_cells(r0, c0, state.position[0], state.position[1])[1:]
        else:
            path = grid_path_to_frontier(state.belief, state.frontier, state.position[0], state.position[1],
                                         10 * state.belief.size + 10)
            if len(path) == 0:  # pragma: no cover - a frontier is always reachable (see module doc)
                return StepInfo(self.steps, 0, 0, 0.0, True, tplan, self.done, stuck=True)
            d = state.move_along(path)
            self.grid_fallback.append(True)
            travelled = path[1:]
        if not self.sense_en_route:
            travelled = np.asarray([state.position], dtype=np.int64)
        new_known = state.sense_cells(travelled)
        if not use_graph:
            state.robot = state.graph.add_robot_node(state.belief, state.frontier, *state.position)
            state.graph.mark_visited(state.robot)
        self._stale = 0 if (new_known > 0 or not use_graph) else self._stale + 1
        state.refresh_paths()
        return self._record(d, state.last_new_free, new_known, not use_graph, tplan)

    def _record(self, d: float, new_free: int, new_known: int, fallback: bool, tplan: float) -> StepInfo:
        state = self.state
        self.steps += 1
        self.total_distance += d
        self.trajectory.append(state.position)
        self.distance.append(self.total_distance)
        self.explored.append(state.explored)
        return StepInfo(self.steps, int(new_free), int(new_known), float(d), fallback, tplan, self.done)


def explore(map: Any, planner: Any = "fare", *, seed: Any = 0, max_steps: Optional[int] = None,
            sensor_range: Optional[float] = None, spacing: Optional[int] = None, k: int = 16,
            link_radius: Optional[float] = None, time_limit: Optional[float] = None, stale_limit: int = 8,
            sense_en_route: bool = True, callback: Optional[Callable] = None) -> ExplorationResult:
    """Explore an occupancy map from its start cell with a planner; return the run.

    Parameters
    ----------
    map : OccupancyMap or array_like
        The ground truth (see :func:`planning.exploration.maps.make_map` for arrays).
    planner : str or planner object
        ``"nearest_frontier"``, ``"nearest_viewpoint"``, ``"utility_greedy"``, ``"gain_greedy"``, ``"fare"``,
        ``"fare_learned"`` or an object with ``reset(state, seed)`` and ``select(state) -> node or
        None`` (e.g. :class:`FARE`), or a grid planner with ``reset``, ``moves_on_grid = True``,
        ``next_cell(state) -> (row, col) or None`` (an 8-neighbouring known free cell) and
        optionally ``moves_per_step(state)`` (e.g. :class:`NearestFrontier`).
    seed : int, numpy Generator or None
        Drives every random choice (community detection); same seed, same run. Default 0
        (reproducible); None draws a fresh root. ``params["seed"]`` records the one used.
    max_steps : int, optional
        Step budget (default ``10 * free cells + 100``); reaching it gives ITERATION_LIMIT.
    sensor_range : float, optional
        In cells, at least 1.5 so the robot always sees its 8 neighbours (default
        ``max(3, round(min(rows, cols) / 10))``).
    spacing : int, optional
        Viewpoint lattice pitch (default ``max(1, round(sensor_range / 3))``).
    k : int
        Edges per viewpoint.
    link_radius : float, optional
        Longest viewpoint edge in cells (default ``max(1.5, 2.3 * spacing)``).
    time_limit : float, optional
        Wall-clock seconds (TIME_LIMIT status when hit).
    stale_limit : int
        Consecutive moves revealing nothing before the grid fallback is forced.
    sense_en_route : bool
        Graph planners sense from every cell they pass (the Bresenham cells of each edge, every
        cell of a grid-fallback path), like a robot whose sensor runs while it drives, and like
        grid planners, which always sense after every cell move. False: they sense only where a
        step ends (the model of the exact optimum's one-cell moves is the same either way).
    callback : callable, optional
        Receives, per step, an ``Iteration`` event (``objective``: the travel distance so far;
        ``info``: ``explored``, ``distance``, and the step's ``new_free`` and ``new_known`` cells,
        ``step_distance`` and ``fallback``, see :class:`StepInfo`) and a ``Progress`` event
        (``completed``: percent of the reachable cells explored, of 100: a progress bar's ETA),
        then ``Finished``; raising StopIteration stops the run (STOPPED). To drive the
        simulation step by step and read the state in between, use :class:`ExplorationEnv`.

    Returns
    -------
    ExplorationResult

    Raises
    ------
    engine.errors.InvalidInputError
        A map with no free cell, a start in an obstacle, unknown planner, bad options.

    Examples
    --------
    >>> from planning.exploration import maps
    >>> res = explore(maps.indoor(50, seed=0), "nearest_frontier", seed=0)
    >>> res.finish_reason, bool(res.explored[-1] == 1.0)
    ('explored', True)
    """
    where = "explore()"
    env = ExplorationEnv(map, planner, seed=seed, sensor_range=sensor_range, spacing=spacing, k=k,
                         link_radius=link_radius, stale_limit=stale_limit, sense_en_route=sense_en_route, where=where)
    max_steps = 10 * env.map.n_free + 100 if max_steps is None else check_int(max_steps, "max_steps", where, lower=0)
    time_limit = check_time_limit(time_limit, where)
    t_start = time.perf_counter()
    state = env.reset()
    plan = env.planner
    reason = "max_steps"
    status = Status.ITERATION_LIMIT
    label = f"explore {getattr(plan, 'name', type(plan).__name__)} (% explored)"

    def report(info: StepInfo) -> bool:
        """Iteration (the step) and Progress (the explored share, for an ETA); True: stop."""
        if callback is None:
            return False
        stop = emit(callback, Iteration("explore", nit=info.step, objective=env.total_distance,
                                        info={"explored": state.explored, "distance": env.total_distance,
                                              "new_free": info.new_free, "new_known": info.new_known,
                                              "step_distance": info.distance, "fallback": info.fallback}))
        return emit(callback, Progress("explore", completed=round(100.0 * state.explored, 1), total=100.0,
                                       description=label)) or stop

    for step in range(max_steps + 1):
        if env.done:
            reason, status = "explored", Status.FEASIBLE
            break
        if step == max_steps:
            break
        if time_limit is not None and time.perf_counter() - t_start > time_limit:
            reason, status = "time_limit", Status.TIME_LIMIT
            break
        info = env.step()
        if info.stuck:  # pragma: no cover - a frontier is always reachable (see module doc)
            reason, status = "stuck", Status.ERROR
            break
        if report(info):
            reason, status = "stopped", Status.STOPPED
            break
    explored = np.asarray(env.explored)
    distance = np.asarray(env.distance)

    def first(frac: float) -> tuple[float, int]:
        hit = np.nonzero(explored >= frac - 1e-12)[0]
        return (float(distance[hit[0]]), int(hit[0])) if len(hit) else (math.nan, -1)

    d90, s90 = first(0.9)
    d99, s99 = first(0.99)
    g = state.graph
    labels = np.full(g.n, -1, dtype=np.int64)
    seq_cells = np.zeros((0, 2), dtype=np.int64)
    topo_info: dict[str, Any] = {}
    topo = getattr(plan, "topology", None)
    if topo is not None:
        for node, lab in topo.labels.items():
            labels[node] = lab
        seq_cells = np.asarray([topo.communities[c].representative_cell for c in plan.sequence],
                               dtype=np.int64).reshape(-1, 2)
        topo_info = {"last": {**topo.sizes, "modularity": topo.modularity, "modularity_merged": topo.modularity_merged},
                     "replans": int(plan.replans)}
    fallbacks = tuple(getattr(plan, "fallbacks", ()))
    m = env.map
    params = {"seed": env.seed.root, "planner": getattr(plan, "name", type(plan).__name__), "max_steps": max_steps,
              "sensor_range": env.sensor_range, "spacing": env.spacing, "k": env.k, "link_radius": env.link_radius,
              "time_limit": time_limit, "stale_limit": env.stale_limit, "sense_en_route": env.sense_en_route,
              "map": m.name, "map_params": dict(m.params), "start": tuple(m.start)}
    if hasattr(plan, "params"):
        params.update(plan.params())
    msg = {"explored": "every reachable cell explored", "max_steps": f"step budget {max_steps} used up",
           "time_limit": "time limit reached", "stopped": "stopped by the callback"}.get(reason, reason)
    traj = np.asarray(env.trajectory, dtype=np.int64)
    result = ExplorationResult(
        status=status, message=msg, x=traj, objective=env.total_distance, nit=len(traj) - 1,
        runtime=time.perf_counter() - t_start, method=params["planner"], backend="numba+networkx+ortools",
        params=params, trajectory=traj.copy(), distance=distance, explored=explored,
        planning_time=np.asarray(env.planning_time), waypoints=np.asarray(env.waypoints, dtype=np.int64).reshape(-1, 2),
        grid_fallback=np.asarray(env.grid_fallback, dtype=bool), finish_reason=reason, n_reachable=state.n_reachable,
        distance_to_90=d90, distance_to_99=d99, steps_to_90=s90, steps_to_99=s99, strategist_fallbacks=fallbacks,
        belief=state.belief.copy(), graph_nodes=g.positions.copy(), community_labels=labels,
        waypoint_sequence=seq_cells, topology=topo_info)
    emit(callback, Finished("explore", result=result))
    return result
