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

Planners (by name or as objects):

* ``"nearest_frontier"``: the classic baseline (Yamauchi 1997, at cell level): the shortest
  8-connected path over known free cells to the nearest frontier cell, followed cell by cell with
  sensing at every cell, replanned when its target stops being a frontier or is reached.
* ``"nearest_viewpoint"``: the graph variant: the nearest viewpoint (graph distance) that sees a
  frontier cell, one graph edge per step.
* ``"utility_greedy"``: ARiADNE-style without learning, highest utility per path cost.
* ``"gain_greedy"``: cell-level gain-greedy without a global plan
  (:class:`~planning.exploration.local.CellGreedy`): the target viewpoint maximises the sure
  information gain (unknown cells a scan there must reveal, each weighted by the unknown cells
  around it) per grid path cost; the robot follows the 8-connected shortest path cell by cell
  like the classic and re-targets every ``spacing`` moves.
* ``"fare"``: FARE hierarchical: a strategist (default: OR-Tools route) orders the communities of
  the pruned topological graph that face *open* unknown space (an unknown region of at least
  ``min_region`` cells, not a shadow or the inside of an obstacle), the current waypoint is the
  first unfinished one; the fast planner is cell-level gain-greedy while some target is
  worthwhile (gain per cell of travel >= 1) and otherwise takes the waypoint community's best
  target, so the route decides where the robot goes once its neighbourhood holds only residues.
* ``"fare_learned"``: FARE with the learned local policy (:class:`LearnedPolicy`).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping, Optional

import numpy as np

from engine.errors import InvalidInputError
from engine.events import Finished, Iteration, Progress, emit
from engine.result import SolveResult
from engine.seeding import resolve_seed
from engine.status import Status
from engine.validation import check_choice, check_int, check_real, check_time_limit
from planning.exploration.maps import FREE, OccupancyMap, make_map
from planning.exploration.sensing import grid_path_to_frontier, line_cells, sense, update_frontier
from planning.exploration.viewpoints import ViewpointGraph

if TYPE_CHECKING:
    from planning.exploration.topology import TopologicalGraph

__all__ = ["explore", "ExplorationResult", "ExplorationState", "NearestFrontier", "NearestViewpoint",
           "UtilityGreedyPlanner", "CellGreedyPlanner", "FARE", "Guide", "PLANNERS", "make_planner",
           "describe_environment"]

#: Local horizon (sensor ranges of path cost) of a FARE cell-level local planner without ``worthwhile``.
DEFAULT_HORIZON = 3.0

#: Gain per cell of travel below which FARE's default local planner follows the waypoint.
DEFAULT_WORTHWHILE = 1.0


@dataclass(frozen=True)
class Guide:
    """What FARE hands a cell-level local planner that asks for its waypoint (see :class:`FARE`).

    ``node``: the waypoint viewpoint (None when the plan has none left); ``targets``: the viewpoints
    of the waypoint's community that still count (positive gain, and open when ``open`` is set);
    ``cells``: the open frontier cells within sensor range of that community, or all of them when
    none is (bool grid; None when there is no open frontier cell); ``open``: per viewpoint,
    whether it is within sensor range of an open frontier cell (None when there is none).
    """

    node: Optional[int]
    targets: np.ndarray
    cells: Optional[np.ndarray] = None
    open: Optional[np.ndarray] = None


PLANNERS = ("nearest_frontier", "nearest_viewpoint", "utility_greedy", "gain_greedy", "fare", "fare_learned")


class ExplorationState:
    """The simulation a planner sees: belief, frontiers, viewpoint graph, robot node and paths.

    Attributes a planner may read: ``belief`` (int8 grid, -1/0/1), ``frontier`` (bool grid),
    ``graph`` (:class:`ViewpointGraph`), ``robot`` (node id), ``position`` (cell), ``dist`` and
    ``pred`` (shortest paths from the robot, fresh at every step), ``step``, ``sensor_range``,
    ``spacing``, ``explored`` (fraction), ``frontier_count``.

    With ``use_graph=False`` (grid planners) the viewpoint graph holds only the start node and is
    not updated as the belief grows.
    """

    def __init__(self, m: OccupancyMap, *, sensor_range: float, spacing: int, k: int,
                 link_radius: Optional[float] = None, use_graph: bool = True) -> None:
        self.use_graph = bool(use_graph)
        self.map = m
        self.truth: np.ndarray = np.ascontiguousarray(m.grid, dtype=np.int8)
        self.belief: np.ndarray = np.full(self.truth.shape, -1, dtype=np.int8)
        self.frontier = np.zeros(self.truth.shape, dtype=np.bool_)
        self.sensor_range = float(sensor_range)
        self.spacing = int(spacing)
        self.graph = ViewpointGraph(self.truth.shape, spacing=spacing, sensor_range=sensor_range, k=k,
                                    link_radius=link_radius)
        self.position = (int(m.start[0]), int(m.start[1]))
        self.n_reachable = int(m.reachable().sum())
        self.known_free = 0
        self.frontier_count = 0
        self.step = 0
        self.dist = np.zeros(0)
        self.pred = np.zeros(0, dtype=np.int64)
        self._wp_cache: dict[int, np.ndarray] = {}
        self.last_new_free = 0
        self.sense_here()
        self.robot = self.graph.add_robot_node(self.belief, self.frontier, *self.position)
        self.graph.mark_visited(self.robot)
        self.refresh_paths()

    @property
    def explored(self) -> float:
        return self.known_free / max(1, self.n_reachable)

    def sense_here(self) -> int:
        """Sense from the robot cell; return the number of newly known cells."""
        return self.sense_cells(np.asarray([self.position], dtype=np.int64))

    def sense_cells(self, cells: np.ndarray) -> int:
        """Sense from every cell of ``cells`` (``(n, 2)``, in travel order); return the newly known cells.

        The frontier and the viewpoint graph are updated once, over the union of the sensed boxes.
        """
        cells = np.asarray(cells, dtype=np.int64).reshape(-1, 2)
        if not len(cells):
            self.last_new_free = 0
            return 0
        R = int(math.ceil(self.sensor_range)) + 1
        h, w = self.belief.shape
        new_free = new_known = 0
        for r, c in cells:
            f, k = sense(self.truth, self.belief, int(r), int(c), self.sensor_range)
            new_free += int(f)
            new_known += int(k)
        self.known_free += new_free
        self.last_new_free = new_free
        if new_known:
            box = (max(0, int(cells[:, 0].min()) - R), min(h, int(cells[:, 0].max()) + R + 1),
                   max(0, int(cells[:, 1].min()) - R), min(w, int(cells[:, 1].max()) + R + 1))
            before = int(self.frontier[box[0]:box[1], box[2]:box[3]].sum())
            after = update_frontier(self.belief, self.frontier, *box)
            self.frontier_count += int(after) - before
            if self.use_graph:
                self.graph.update(self.belief, self.frontier, box)
        return new_known

    def refresh_paths(self) -> None:
        self.dist, self.pred = self.graph.shortest_paths(self.robot)
        self._wp_cache = {}

    def dist_from(self, node: int) -> np.ndarray:
        """Shortest-path distances from ``node`` (cached for the current step)."""
        if node not in self._wp_cache:
            self._wp_cache[node] = self.graph.shortest_paths(node)[0]
        return self._wp_cache[node]

    def next_hop(self, target: int) -> int:
        v = int(target)
        for _ in range(self.graph.n + 1):
            p = int(self.pred[v])
            if p == self.robot or p < 0:
                return v
            v = p
        return v  # pragma: no cover - pred is a tree

    def path_to(self, target: int) -> list[int]:
        out = [int(target)]
        for _ in range(self.graph.n + 1):
            p = int(self.pred[out[-1]])
            if p < 0:
                break
            out.append(p)
        return out[::-1]

    def candidates(self) -> np.ndarray:
        """Reachable nodes (other than the robot's) that see at least one frontier cell."""
        n = self.graph.n
        mask = (self.graph.utility[:n] > 0) & np.isfinite(self.dist[:n])
        mask[self.robot] = False
        return np.nonzero(mask)[0]

    def move_to_node(self, node: int) -> float:
        g = self.graph
        d = math.hypot(g.rows[node] - self.position[0], g.cols[node] - self.position[1])
        self.robot = int(node)
        self.position = (int(g.rows[node]), int(g.cols[node]))
        g.mark_visited(node)
        return d

    def move_to_cell(self, r: int, c: int) -> float:
        """Move to the 8-neighbouring known free cell ``(r, c)``; return the length (1 or sqrt 2)."""
        d = math.hypot(r - self.position[0], c - self.position[1])
        self.position = (int(r), int(c))
        return d

    def move_along(self, cells: np.ndarray) -> float:
        steps = np.diff(cells, axis=0)
        d = float(np.hypot(steps[:, 0], steps[:, 1]).sum()) if len(steps) else 0.0
        self.position = (int(cells[-1, 0]), int(cells[-1, 1]))
        return d


def describe_environment(state: ExplorationState) -> str:
    """A short text description of the partially known environment (for strategists)."""
    h, w = state.belief.shape
    known = int(np.count_nonzero(state.belief != -1))
    occ = int(np.count_nonzero(state.belief == 1))
    return (f"A robot explores an unknown {h}x{w}-cell grid map with a {state.sensor_range:g}-cell line-of-sight "
            f"sensor. Known so far: {known} cells ({100.0 * known / (h * w):.1f}% of the grid), {state.known_free} "
            f"free and {occ} occupied; {state.frontier_count} frontier cells (free cells next to unknown space). "
            f"The robot is at cell (row {state.position[0]}, col {state.position[1]}) after {state.step} steps. "
            "The known free space is summarised as communities of viewpoints; the utility of a community counts "
            "the frontier cells its viewpoints can see.")


# ----------------------------------------------------------------------------------------------
# planners


class NearestFrontier:
    """Classic nearest-frontier exploration (Yamauchi 1997) at cell level.

    From the robot cell, Dijkstra over the cells known free (8-connected, costs 1 and sqrt 2) finds
    the nearest frontier cell (a known free cell with an unknown 8-neighbour) and its shortest
    path. The robot follows the path one cell at a time, sensing after every cell move, and
    replans when the target stops being a frontier (its unknown neighbours were seen on the way)
    or has been reached. A step of :func:`explore` is at most ``cells_per_step`` cell moves.

    Termination: every path ends on a frontier cell, and sensing there (range >= 1.5) reveals
    its unknown neighbours, so each followed path, or each replan triggered by a target that
    stopped being a frontier, makes at least one unknown cell known; paths are at most
    ``rows * cols`` cells long.

    Parameters
    ----------
    cells_per_step : int, optional
        Cell moves per step (default: the viewpoint lattice ``spacing`` of the run, the shortest
        viewpoint edge, so step counts compare with the graph planners').

    Examples
    --------
    >>> NearestFrontier().name
    'nearest_frontier'
    """

    name = "nearest_frontier"
    moves_on_grid = True
    uses_graph = False

    def __init__(self, *, cells_per_step: Optional[int] = None) -> None:
        self.cells_per_step = None if cells_per_step is None else check_int(
            cells_per_step, "cells_per_step", "NearestFrontier()", lower=1)
        self._per_step = self.cells_per_step
        self.path = np.zeros((0, 2), dtype=np.int64)
        self.k = 0
        self.replans = 0

    def params(self) -> dict[str, Any]:
        return {"planner": self.name, "cells_per_step": self._per_step}

    def reset(self, state: ExplorationState, seed: Any) -> None:
        self._per_step = int(self.cells_per_step) if self.cells_per_step is not None else int(state.spacing)
        self.path = np.zeros((0, 2), dtype=np.int64)
        self.k = 0
        self.replans = 0

    def moves_per_step(self, state: ExplorationState) -> int:
        """Cell moves that make one step of :func:`explore`."""
        assert self._per_step is not None  # set by reset()
        return self._per_step

    @property
    def target(self) -> Optional[tuple[int, int]]:
        """The frontier cell currently headed for (None before the first plan)."""
        return (int(self.path[-1, 0]), int(self.path[-1, 1])) if len(self.path) else None

    def next_cell(self, state: ExplorationState) -> Optional[tuple[int, int]]:
        """The next cell to move to (replanning first if needed); None when no frontier is reachable."""
        t = self.target
        if (t is None or self.k >= len(self.path) or not state.frontier[t]
                or (int(self.path[self.k - 1, 0]), int(self.path[self.k - 1, 1])) != state.position):
            r, c = state.position
            self.path = grid_path_to_frontier(state.belief, state.frontier, r, c, 10 * state.belief.size + 10)
            self.k = 1
            self.replans += 1
            if len(self.path) < 2:
                return None
        cell = (int(self.path[self.k, 0]), int(self.path[self.k, 1]))
        self.k += 1
        return cell


class NearestViewpoint:
    """Nearest frontier on the viewpoint graph: go to the nearest viewpoint (graph distance) that sees a frontier.

    One graph edge per step; weaker than the classic :class:`NearestFrontier`, kept for comparison.

    Examples
    --------
    >>> NearestViewpoint().name
    'nearest_viewpoint'
    """

    name = "nearest_viewpoint"

    def params(self) -> dict[str, Any]:
        return {"planner": self.name}

    def reset(self, state: ExplorationState, seed: Any) -> None:
        pass

    def select(self, state: ExplorationState) -> Optional[int]:
        cand = state.candidates()
        if not len(cand):
            return None
        return int(cand[np.argmin(state.dist[cand])])


class UtilityGreedyPlanner:
    """Utility-greedy without a global plan (see :class:`planning.exploration.local.UtilityGreedy`)."""

    name = "utility_greedy"

    def __init__(self, local: Any = None, *, name: Optional[str] = None) -> None:
        self.local = local if local is not None else self._default_local()
        self.name = type(self).name if name is None else str(name)

    @staticmethod
    def _default_local() -> Any:
        from planning.exploration.local import UtilityGreedy

        return UtilityGreedy()

    def params(self) -> dict[str, Any]:
        return {"planner": self.name, **self.local.params()}

    def reset(self, state: ExplorationState, seed: Any) -> None:
        self.local.reset(state, seed)

    def select(self, state: ExplorationState) -> Optional[int]:
        return self.local.choose(state, None)


class CellGreedyPlanner(UtilityGreedyPlanner):
    """Cell-level gain-greedy without a global plan (see :class:`planning.exploration.local.CellGreedy`)."""

    name = "gain_greedy"
    moves_on_grid = True
    uses_graph = True

    @staticmethod
    def _default_local() -> Any:
        from planning.exploration.local import CellGreedy

        return CellGreedy()

    def moves_per_step(self, state: ExplorationState) -> int:
        return int(self.local.moves_per_step(state))

    def next_cell(self, state: ExplorationState) -> Optional[tuple[int, int]]:
        return self.local.next_cell(state, None)


class FARE:
    """FARE hierarchical exploration: a slow strategist over the pruned topological graph, a fast local planner.

    Parameters
    ----------
    strategist : "route", "greedy", a Strategist object, or a ``prompt -> text`` callable
        Orders the communities (default: OR-Tools route).
    local : object with ``choose(state, waypoint)``, or a cell-level one, optional
        The fast planner (default :class:`~planning.exploration.local.CellGreedy`, gain-greedy
        at cell level with the waypoint term beyond its local horizon). A graph local planner
        (``choose(state, waypoint) -> node``, e.g. :class:`~planning.exploration.local.UtilityGreedy`
        or :class:`~planning.exploration.local.LearnedPolicy`) moves the robot along viewpoint
        edges; a cell-level one (``moves_on_grid = True`` and ``next_cell(state, waypoint)``,
        where ``waypoint()`` returns the current waypoint node) moves it cell by cell.
    replan_every : int
        Steps between global replans (also replanned when the sequence is used up).
    community_method : {"louvain", "greedy"}
    resolution : float
        Modularity resolution of the community detection.
    coarsen : int
        Block size (in lattice cells) of the super-nodes community detection starts from
        (see :func:`~planning.exploration.topology.build_topology`).
    value : {"gain", "frontier"}
        The node values communities add up and the waypoint is chosen by: the information-weighted
        gain or the frontier utility.
    min_region : float, optional
        Open regions: a frontier cell is *open* when it borders a connected unknown region
        (8-connected, on the belief) of at least this many cells; viewpoints within sensor range
        of an open frontier cell are open too. The route then prizes only the open viewpoints'
        values and a community is finished when none of its viewpoints is open (while no
        frontier is open, every positive value counts, as without the option). Small unknown
        regions are shadows and the insides of obstacles: sensing resolves them on the way, and
        chasing them one by one spends travel that the explored fraction hardly notices.
        Default: ``sensor_range ** 2 / 4``; 0 turns the distinction off.
    name : str

    With a cell-level local planner the waypoint comes as a :class:`Guide` (the waypoint node,
    the community's open viewpoints and open frontier cells), asked for only when the local
    planner re-targets; :class:`~planning.exploration.local.CellGreedy` with ``worthwhile``
    (the default local planner) follows it when no target is worth its travel.

    Examples
    --------
    >>> FARE().name
    'fare'
    """

    def __init__(self, *, strategist: Any = "route", local: Any = None, replan_every: int = 25,
                 community_method: str = "louvain", resolution: float = 1.0, coarsen: int = 2,
                 value: str = "gain", min_region: Optional[float] = None, name: str = "fare") -> None:
        from planning.exploration.local import CellGreedy
        from planning.exploration.strategists import RouteStrategist, make_strategist

        where = "FARE()"
        self.strategist = make_strategist(strategist, where)
        self.fallback = RouteStrategist()
        self.local: Any = local if local is not None else CellGreedy(beta=0.3, worthwhile=DEFAULT_WORTHWHILE)
        self.moves_on_grid = bool(getattr(self.local, "moves_on_grid", False))
        if not (hasattr(self.local, "next_cell") if self.moves_on_grid else hasattr(self.local, "choose")):
            raise InvalidInputError(f"{where}: local must have choose(state, waypoint) (or moves_on_grid = True and "
                                    f"next_cell(state, waypoint)), got {local!r}")
        self.replan_every = check_int(replan_every, "replan_every", where, lower=1)
        self.community_method = check_choice(community_method, "community_method", where, ("louvain", "greedy"))
        self.resolution = check_real(resolution, "resolution", where, lower=0.0, lower_strict=True)
        self.coarsen = check_int(coarsen, "coarsen", where, lower=1)
        self.value = check_choice(value, "value", where, ("gain", "frontier"))
        self.min_region = None if min_region is None else check_real(min_region, "min_region", where, lower=0.0)
        self.name = str(name)

    def params(self) -> dict[str, Any]:
        sp = self.strategist.params() if hasattr(self.strategist, "params") else {
            "strategist": getattr(self.strategist, "name", type(self.strategist).__name__)}
        return {"planner": self.name, **sp, **self.local.params(), "replan_every": self.replan_every,
                "community_method": self.community_method, "resolution": self.resolution, "coarsen": self.coarsen,
                "global_value": self.value, "min_region": self._min_region}

    def reset(self, state: ExplorationState, seed: Any) -> None:
        self._seed = resolve_seed(seed, where="FARE")
        self.sequence: list[int] = []
        self.index = 0
        self.topology: Optional[TopologicalGraph] = None
        self.last_replan = -10 ** 9
        self.fallbacks: list[str] = []
        self.replans = 0
        self.topology_sizes: list[dict] = []
        self._min_region = (float(self.min_region) if self.min_region is not None
                            else state.sensor_range ** 2 / 4.0)
        self._open: Optional[np.ndarray] = None  # open viewpoints at the last replan (None: all count)
        self.local.reset(state, seed)

    uses_graph = True

    def moves_per_step(self, state: ExplorationState) -> int:
        """Cell moves per step of a cell-level local planner (see :func:`explore`)."""
        return int(self.local.moves_per_step(state)) if hasattr(self.local, "moves_per_step") else int(state.spacing)

    def next_cell(self, state: ExplorationState) -> Optional[tuple[int, int]]:
        """The next cell of a cell-level local planner; it asks for the waypoint only when it re-targets."""
        return self.local.next_cell(state, lambda: self.guide(state))

    def _replan(self, state: ExplorationState) -> None:
        from planning.exploration.strategists import plan_waypoints
        from planning.exploration.topology import build_topology

        if self.moves_on_grid:  # the robot moved cell by cell: make its cell a node and refresh its paths
            state.robot = state.graph.add_robot_node(state.belief, state.frontier, *state.position)
            state.refresh_paths()

        g = state.graph
        values = (g.gain if self.value == "gain" else g.utility)[: g.n]
        _, near = self.open_frontier(state)
        self._open = near if np.any(near & (values > 0)) else None
        topo = build_topology(g, state.robot, method=self.community_method,
                              seed=self._seed.int_seed(f"louvain/{self.replans}"), resolution=self.resolution,
                              dist=state.dist, coarsen=self.coarsen,
                              utility=values * near if self._open is not None else values)
        seq, reason = plan_waypoints(self.strategist, describe_environment(state), topo, fallback=self.fallback)
        if reason is not None:
            self.fallbacks.append(f"step {state.step}: {reason}")
        self.topology = topo
        self.sequence = seq
        self.index = 0
        self.last_replan = state.step
        self.replans += 1
        self.topology_sizes.append({**topo.sizes, "modularity": topo.modularity})

    def open_frontier(self, state: ExplorationState) -> tuple[np.ndarray, np.ndarray]:
        """``(cells, nodes)``: the open frontier cells (bool grid) and the viewpoints within sensor range of one.

        See ``min_region``. One labelling of the unknown cells and one distance transform.
        """
        from scipy import ndimage

        g = state.graph
        unknown = state.belief == -1
        if self._min_region > 0:
            lab, _ = ndimage.label(unknown, structure=np.ones((3, 3), dtype=bool))
            size = np.bincount(lab.ravel())
            size[0] = 0
            unknown = size[lab] >= self._min_region
        cells = state.frontier & ndimage.binary_dilation(unknown, structure=np.ones((3, 3), dtype=bool))
        if not cells.any():
            return cells, np.zeros(g.n, dtype=bool)
        near = ndimage.distance_transform_edt(~cells) <= state.sensor_range
        return cells, near[g.rows[: g.n], g.cols[: g.n]]

    def _targets(self, state: ExplorationState, cid: int) -> np.ndarray:
        """The community's viewpoints that still count: a positive value, and open when the plan is on open regions."""
        assert self.topology is not None  # only called after _replan()
        mem = np.asarray(self.topology.communities[cid].members, dtype=np.int64)
        g = state.graph
        ok = (g.gain if self.value == "gain" else g.utility)[mem] > 0
        if self._open is not None:
            ok &= self._open[mem]
        return mem[ok]

    def _community_live(self, state: ExplorationState, cid: int) -> bool:
        """Unfinished: some viewpoint still sees a frontier cell, or, on open regions, faces open space."""
        if self._open is not None:
            return len(self._targets(state, cid)) > 0
        assert self.topology is not None  # only called after _replan()
        mem = np.asarray(self.topology.communities[cid].members, dtype=np.int64)
        return bool(np.any(state.graph.utility[mem] > 0))

    def guide(self, state: ExplorationState) -> Guide:
        """The slow layer's advice to a cell-level local planner, from the current belief (a :class:`Guide`).

        The open viewpoints are computed afresh; the waypoint comes from the current plan
        (refreshed when due or used up, see :meth:`waypoint`).
        """
        from scipy import ndimage

        node = self.waypoint(state)  # first: a replan may add the robot's cell to the graph
        g = state.graph
        values = (g.gain if self.value == "gain" else g.utility)[: g.n]
        cells, near = self.open_frontier(state)
        open_now = near if cells.any() else None
        if node is None or self.topology is None or self.index >= len(self.sequence):
            return Guide(node=None, targets=np.zeros(0, dtype=np.int64), cells=cells if cells.any() else None,
                         open=open_now)
        mem = np.asarray(self.topology.communities[self.sequence[self.index]].members, dtype=np.int64)
        ok = values[mem] > 0
        if open_now is not None:
            ok &= open_now[mem]
            mark = np.zeros(state.belief.shape, dtype=bool)
            mark[g.rows[mem], g.cols[mem]] = True
            mine = cells & (ndimage.distance_transform_edt(~mark) <= state.sensor_range)
            cells = mine if mine.any() else cells
        return Guide(node=int(node), targets=mem[ok], cells=cells if open_now is not None else None, open=open_now)

    def waypoint(self, state: ExplorationState) -> Optional[int]:
        """The current waypoint node (advancing or replanning as needed)."""
        for attempt in range(2):
            if attempt == 1 or self.topology is None or state.step - self.last_replan >= self.replan_every:
                if attempt == 1 and self.last_replan == state.step:
                    return None
                self._replan(state)
            topo = self.topology
            assert topo is not None  # set by _replan(), now or on an earlier step
            while self.index < len(self.sequence) and not self._community_live(state, self.sequence[self.index]):
                self.index += 1
            if self.index < len(self.sequence):
                comm = topo.communities[self.sequence[self.index]]
                mem = np.asarray(comm.members, dtype=np.int64) if self._open is None else self._targets(
                    state, comm.id)
                u = (state.graph.gain if self.value == "gain" else state.graph.utility)[mem]
                if state.graph.utility[comm.representative] > 0 and comm.representative in mem:
                    return int(comm.representative)
                return int(mem[int(np.argmax(u))])
        return None

    def select(self, state: ExplorationState) -> Optional[int]:
        return self.local.choose(state, self.waypoint(state))


def make_planner(spec: Any, where: str = "explore()") -> Any:
    """A planner object from a name in :data:`PLANNERS` or an object with ``reset`` and ``select``."""
    if isinstance(spec, str):
        check_choice(spec, "planner", where, PLANNERS)
        if spec == "nearest_frontier":
            return NearestFrontier()
        if spec == "nearest_viewpoint":
            return NearestViewpoint()
        if spec == "utility_greedy":
            return UtilityGreedyPlanner()
        if spec == "gain_greedy":
            return CellGreedyPlanner()
        if spec == "fare":
            return FARE()
        from planning.exploration.local import LearnedPolicy

        return FARE(local=LearnedPolicy.pretrained(), name="fare_learned")
    if hasattr(spec, "reset") and (hasattr(spec, "select") or (getattr(spec, "moves_on_grid", False)
                                                                and hasattr(spec, "next_cell"))):
        return spec
    raise InvalidInputError(f"{where}: planner must be one of {list(PLANNERS)} or an object with reset() and "
                            f"select() (or moves_on_grid = True and next_cell()), got {spec!r}")


# ----------------------------------------------------------------------------------------------
# result and driver


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


def _validate_explore(m: Any, planner: Any, seed: Any, max_steps: Any, sensor_range: Any, spacing: Any, k: Any,
                      link_radius: Any, time_limit: Any, stale_limit: Any, sense_en_route: Any = True) -> tuple:
    where = "explore()"
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
    ms = 10 * m.n_free + 100 if max_steps is None else check_int(max_steps, "max_steps", where, lower=0)
    tl = check_time_limit(time_limit, where)
    st = check_int(stale_limit, "stale_limit", where, lower=1)
    lr = max(1.5, 2.3 * sp) if link_radius is None else check_real(link_radius, "link_radius", where, lower=1.0)
    return m, plan, s, R, sp, kk, lr, ms, tl, st


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


def explore(map: Any, planner: Any = "fare", *, seed: Any = None, max_steps: Optional[int] = None,
            sensor_range: Optional[float] = None, spacing: Optional[int] = None, k: int = 16,
            link_radius: Optional[float] = None, time_limit: Optional[float] = None, stale_limit: int = 8,
            sense_en_route: bool = True, callback: Optional[Callable] = None,
            on_step: Optional[Callable[[ExplorationState, dict], None]] = None) -> ExplorationResult:
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
        Drives every random choice (community detection); same seed, same run.
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
        Receives, per step, an ``Iteration`` event (``info``: explored, distance) and a
        ``Progress`` event (``completed``: percent of the reachable cells explored, of 100: a
        progress bar's ETA), then ``Finished``; raising StopIteration stops the run (STOPPED).
    on_step : callable, optional
        ``on_step(state, info)`` after every step (used by training; ``info`` has ``new_free``,
        ``distance``, ``fallback``).

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
    m, plan, s, R, sp, kk, lr, max_steps, time_limit, stale_limit = _validate_explore(
        map, planner, seed, max_steps, sensor_range, spacing, k, link_radius, time_limit, stale_limit, sense_en_route)
    t_start = time.perf_counter()
    on_grid = bool(getattr(plan, "moves_on_grid", False))
    state = ExplorationState(m, sensor_range=R, spacing=sp, k=kk, link_radius=lr,
                             use_graph=bool(getattr(plan, "uses_graph", not on_grid)))
    plan.reset(state, s)
    traj = [state.position]
    dist_hist = [0.0]
    expl_hist = [state.explored]
    ptime: list[float] = []
    wps: list[tuple[int, int]] = []
    fallback_steps: list[bool] = []
    total = 0.0
    stale = 0
    reason = "max_steps"
    status = Status.ITERATION_LIMIT
    label = f"explore {getattr(plan, 'name', type(plan).__name__)} (% explored)"

    def report(nit: int, distance: float) -> bool:
        """Iteration (the step) and Progress (the explored share, for an ETA); True: stop."""
        if callback is None:
            return False
        stop = emit(callback, Iteration("explore", nit=nit, objective=distance,
                                        info={"explored": state.explored, "distance": distance}))
        return emit(callback, Progress("explore", completed=round(100.0 * state.explored, 1), total=100.0,
                                       description=label)) or stop

    for step in range(max_steps + 1):
        if state.frontier_count <= 0:
            reason, status = "explored", Status.FEASIBLE
            break
        if step == max_steps:
            break
        if time_limit is not None and time.perf_counter() - t_start > time_limit:
            reason, status = "time_limit", Status.TIME_LIMIT
            break
        state.step = step
        if on_grid:
            d, new_known, new_free, moved, tplan = _grid_step(state, plan)
            ptime.append(tplan)
            if moved == 0:
                ptime.pop()
                reason, status = "stuck", Status.ERROR  # pragma: no cover - a frontier is always reachable
                break
            wps.append((-1, -1))
            fallback_steps.append(False)
            total += d
            traj.append(state.position)
            dist_hist.append(total)
            expl_hist.append(state.explored)
            if on_step is not None:
                on_step(state, {"new_free": new_free, "new_known": new_known, "distance": d, "fallback": False})
            if report(step + 1, total):
                reason, status = "stopped", Status.STOPPED
                break
            continue
        t0 = time.perf_counter()
        target = None if stale >= stale_limit else plan.select(state)
        ptime.append(time.perf_counter() - t0)
        wp = getattr(plan, "current_waypoint", None)
        wnode = None
        if hasattr(plan, "topology") and hasattr(plan, "sequence") and plan.topology is not None:
            wnode = getattr(plan.local, "last_waypoint", None)
        wps.append((int(state.graph.rows[wnode]), int(state.graph.cols[wnode])) if wnode is not None else (-1, -1))
        use_graph = (target is not None and 0 <= int(target) < state.graph.n and int(target) != state.robot
                     and np.isfinite(state.dist[int(target)]))
        if use_graph and target is not None:  # (use_graph implies target is not None: narrows the type)
            hop = state.next_hop(int(target))
            r0, c0 = state.position
            d = state.move_to_node(hop)
            fallback_steps.append(False)
            if sense_en_route:
                travelled = line_cells(r0, c0, state.position[0], state.position[1])[1:]
        else:
            path = grid_path_to_frontier(state.belief, state.frontier, state.position[0], state.position[1],
                                         10 * state.belief.size + 10)
            if len(path) == 0:  # pragma: no cover - a frontier is always reachable (see module doc)
                reason, status = "stuck", Status.ERROR
                break
            d = state.move_along(path)
            fallback_steps.append(True)
            if sense_en_route:
                travelled = path[1:]
        if not sense_en_route:
            travelled = np.asarray([state.position], dtype=np.int64)
        new_known = state.sense_cells(travelled)
        if not use_graph:
            state.robot = state.graph.add_robot_node(state.belief, state.frontier, *state.position)
            state.graph.mark_visited(state.robot)
        stale = 0 if (new_known > 0 or not use_graph) else stale + 1
        total += d
        state.refresh_paths()
        traj.append(state.position)
        dist_hist.append(total)
        expl_hist.append(state.explored)
        if on_step is not None:
            on_step(state, {"new_free": state.last_new_free, "new_known": new_known, "distance": d,
                            "fallback": not use_graph})
        if report(step + 1, total):
            reason, status = "stopped", Status.STOPPED
            break
    explored = np.asarray(expl_hist)
    distance = np.asarray(dist_hist)

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
    params = {"seed": s.root, "planner": getattr(plan, "name", type(plan).__name__), "max_steps": max_steps,
              "sensor_range": R, "spacing": sp, "k": kk, "link_radius": lr, "time_limit": time_limit,
              "stale_limit": stale_limit, "sense_en_route": bool(sense_en_route),
              "map": m.name, "map_params": dict(m.params), "start": tuple(m.start)}
    if hasattr(plan, "params"):
        params.update(plan.params())
    msg = {"explored": "every reachable cell explored", "max_steps": f"step budget {max_steps} used up",
           "time_limit": "time limit reached", "stopped": "stopped by the callback"}.get(reason, reason)
    result = ExplorationResult(
        status=status, message=msg, x=np.asarray(traj, dtype=np.int64), objective=total, nit=len(traj) - 1,
        runtime=time.perf_counter() - t_start, method=params["planner"], backend="numba+networkx+ortools",
        params=params, trajectory=np.asarray(traj, dtype=np.int64), distance=distance, explored=explored,
        planning_time=np.asarray(ptime), waypoints=np.asarray(wps, dtype=np.int64).reshape(-1, 2),
        grid_fallback=np.asarray(fallback_steps, dtype=bool), finish_reason=reason, n_reachable=state.n_reachable,
        distance_to_90=d90, distance_to_99=d99, steps_to_90=s90, steps_to_99=s99, strategist_fallbacks=fallbacks,
        belief=state.belief.copy(), graph_nodes=g.positions.copy(), community_labels=labels,
        waypoint_sequence=seq_cells, topology=topo_info)
    emit(callback, Finished("explore", result=result))
    return result
