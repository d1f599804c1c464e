"""The exploration planners, by name (:data:`PLANNERS`, :func:`make_planner`) or as objects.

A *graph planner* has ``reset(state, seed)`` and ``select(state) -> node or None`` (the robot
moves one viewpoint-graph edge towards the node); a *grid planner* has ``moves_on_grid = True``
and ``next_cell(state) -> (row, col) or None`` (one 8-neighbouring known free cell). Both read an
:class:`~planning.exploration.state.ExplorationState`; :mod:`planning.exploration.explore` drives
them.

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

from typing import Any, Optional

import numpy as np
from scipy import ndimage

from engine.errors import InvalidInputError
from engine.seeding import resolve_seed
from engine.validation import check_choice, check_int, check_real
from planning.exploration.local import CellGreedy, LearnedPolicy, UtilityGreedy
from planning.exploration.sensing import grid_path_to_frontier
from planning.exploration.state import ExplorationState, Guide, describe_environment
from planning.exploration.strategists import RouteStrategist, make_strategist, plan_waypoints
from planning.exploration.topology import TopologicalGraph, build_topology

__all__ = ["PLANNERS", "make_planner", "NearestFrontier", "NearestViewpoint", "UtilityGreedyPlanner",
           "CellGreedyPlanner", "FARE", "DEFAULT_HORIZON", "DEFAULT_WORTHWHILE"]

#: Local horizon (sensor ranges of path cost) of a FARE cell-level local planner without ``worthwhile``.
DEFAULT_HORIZON = 3.0

#: Gain per cell of travel below which FARE's default local planner follows the waypoint.
DEFAULT_WORTHWHILE = 1.0


PLANNERS = ("nearest_frontier", "nearest_viewpoint", "utility_greedy", "gain_greedy", "fare", "fare_learned")


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
        return FARE(local=LearnedPolicy.pretrained(), name="fare_learned")
    if hasattr(spec, "reset") and (hasattr(spec, "select") or (getattr(spec, "moves_on_grid", False)
                                                                and hasattr(spec, "next_cell"))):
        return spec
    raise InvalidInputError(f"{where}: planner must be one of {list(PLANNERS)} or an object with reset() and "
                            f"select() (or moves_on_grid = True and next_cell()), got {spec!r}")
