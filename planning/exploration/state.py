"""What an exploration planner sees and what FARE hands its local planner.

:class:`ExplorationState` is the simulation state (belief, frontier, viewpoint graph, robot node
and shortest paths) that :func:`~planning.exploration.explore.explore` and
:class:`~planning.exploration.explore.ExplorationEnv` advance and every planner reads;
:class:`Guide` is FARE's advice to a cell-level local planner; :func:`describe_environment` the
text a strategist is prompted with. The planners (:mod:`planning.exploration.local`,
:mod:`planning.exploration.explore`) import these types from here, so neither module needs the other's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np

from planning.exploration.maps import OccupancyMap
from planning.exploration.sensing import sense, update_frontier
from planning.exploration.viewpoints import ViewpointGraph

__all__ = ["ExplorationState", "Guide", "describe_environment"]


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
