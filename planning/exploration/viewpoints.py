"""The viewpoint graph: lattice viewpoints over known free space, collision-free k-NN edges, utilities.

Nodes are the cells of a square lattice (pitch ``spacing``) that are known free, plus every cell
the robot has stood on. Each node links to its ``k`` nearest nodes within ``link_radius`` whose
straight (Bresenham) segment is known free on the belief; edges are undirected and weighted by
Euclidean length (an edge needs the Bresenham line known free in both directions, since the
robot may travel it either way). A node's utility is the number of frontier cells visible from
it within the sensor range (see :mod:`planning.exploration.sensing`); its *gain* counts the
unknown cells a scan from it is sure to reveal, each weighted by the unknown cells around it
(``gain_depth``), an estimate of the information the scan brings (a cell in a small shadow
counts little, one facing open unknown space much; a frontier cell no ray from the node can
resolve not at all). Once the robot has sensed from a node its utility and gain are 0 for
good (sensing there again cannot reveal anything: the world is static), which keeps planners from
returning to it.

The graph is updated incrementally: :meth:`ViewpointGraph.update` takes the box of cells that
changed, adds the lattice nodes that became free there, re-examines only the candidate edges
whose segment can touch the box (a segment once free stays free, since known cells never become
unknown again) and recomputes the utilities of the nodes within sensor range of the box.
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np
from numba import njit

from planning.exploration.sensing import heap_pop, heap_push, segment_status, utilities_and_gains

__all__ = ["ViewpointGraph", "dijkstra"]


@njit(cache=True)
def dijkstra(nbr, wgt, deg, n, source, limit):
    """Single-source shortest paths on the fixed-slot adjacency; returns ``(dist, pred)``.

    ``limit`` caps the distance explored (``inf`` for none).
    """
    dist = np.full(n, np.inf)
    pred = np.full(n, -1, dtype=np.int64)
    done = np.zeros(n, dtype=np.bool_)
    cap = 1 + int(deg[:n].sum())
    heap_d = np.empty(cap + 1)
    heap_i = np.empty(cap + 1, dtype=np.int64)
    dist[source] = 0.0
    heap_d[0] = 0.0
    heap_i[0] = source
    m = 1
    while m > 0:
        d, u, m = heap_pop(heap_d, heap_i, m)
        if done[u]:
            continue
        done[u] = True
        if d > limit:
            break
        for s in range(deg[u]):
            v = nbr[u, s]
            nd = d + wgt[u, s]
            if nd < dist[v]:
                dist[v] = nd
                pred[v] = u
                if m >= heap_d.shape[0]:
                    continue  # pragma: no cover - cap bounds pushes
                m = heap_push(heap_d, heap_i, m, nd, v)
    return dist, pred


class ViewpointGraph:
    """Viewpoints and their collision-free edges on a growing belief map.

    Parameters
    ----------
    shape : (rows, cols)
        Size of the belief grid.
    spacing : int
        Lattice pitch in cells.
    sensor_range : float
        Sensor range in cells (for the utilities).
    k : int
        Edges per node (nearest first).
    link_radius : float, optional
        Longest edge, default ``2.3 * spacing`` (at least 1.5).
    gain_depth : int
        Half-width of the square of unknown cells counted around each surely revealed cell for
        the gain (see :func:`~planning.exploration.sensing.utilities_and_gains`).

    Examples
    --------
    >>> import numpy as np
    >>> belief = np.zeros((10, 10), dtype=np.int8)
    >>> g = ViewpointGraph((10, 10), spacing=3, sensor_range=4.0)
    >>> g.update(belief, np.zeros((10, 10), bool), (0, 10, 0, 10))
    >>> g.n
    16
    """

    def __init__(self, shape: tuple[int, int], *, spacing: int, sensor_range: float, k: int = 16,
                 link_radius: Optional[float] = None, gain_depth: int = 1) -> None:
        self.shape = (int(shape[0]), int(shape[1]))
        self.spacing = int(spacing)
        self.sensor_range = float(sensor_range)
        self.k = int(k)
        self.gain_depth = int(gain_depth)
        self.link_radius = float(link_radius) if link_radius is not None else max(1.5, 2.3 * spacing)
        self.slots = max(2 * self.k + 8, 32)
        cap = 256
        self.n = 0
        self.rows = np.zeros(cap, dtype=np.int64)
        self.cols = np.zeros(cap, dtype=np.int64)
        self.nbr = np.full((cap, self.slots), -1, dtype=np.int64)
        self.wgt = np.zeros((cap, self.slots), dtype=np.float64)
        self.deg = np.zeros(cap, dtype=np.int64)
        self.utility = np.zeros(cap, dtype=np.int64)
        self.gain = np.zeros(cap, dtype=np.int64)
        self.visits = np.zeros(cap, dtype=np.int64)
        self.is_lattice = np.zeros(cap, dtype=np.bool_)
        self.pending = np.zeros(cap, dtype=np.bool_)  # some candidate edge was blocked only by unknown cells
        self.index: dict[tuple[int, int], int] = {}
        self.extra: list[int] = []  # non-lattice nodes (robot positions)
        rr = int(math.ceil(self.link_radius / self.spacing))
        offs = [(di, dj) for di in range(-rr, rr + 1) for dj in range(-rr, rr + 1)
                if (di or dj) and math.hypot(di * self.spacing, dj * self.spacing) <= self.link_radius + 1e-9]
        offs.sort(key=lambda o: (o[0] ** 2 + o[1] ** 2, o))
        self._lattice_offsets = offs

    # -- storage -------------------------------------------------------------------------
    def _grow(self) -> None:
        cap = 2 * len(self.rows)
        for name in ("rows", "cols", "deg", "utility", "gain", "visits", "is_lattice", "pending"):
            old = getattr(self, name)
            new = np.zeros(cap, dtype=old.dtype)
            new[: len(old)] = old
            setattr(self, name, new)
        nbr = np.full((cap, self.slots), -1, dtype=np.int64)
        nbr[: len(self.nbr)] = self.nbr
        wgt = np.zeros((cap, self.slots))
        wgt[: len(self.wgt)] = self.wgt
        self.nbr, self.wgt = nbr, wgt

    def _add_node(self, r: int, c: int, lattice: bool) -> int:
        key = (r, c)
        if key in self.index:
            return self.index[key]
        if self.n >= len(self.rows):
            self._grow()
        i = self.n
        self.rows[i], self.cols[i], self.is_lattice[i] = r, c, lattice
        self.index[key] = i
        if not lattice:
            self.extra.append(i)
        self.n += 1
        return i

    def has_edge(self, i: int, j: int) -> bool:
        return bool(np.any(self.nbr[i, : self.deg[i]] == j))

    def _link(self, i: int, j: int) -> None:
        if i == j or self.has_edge(i, j):
            return
        if self.deg[i] >= self.slots or self.deg[j] >= self.slots:
            return
        d = math.hypot(self.rows[i] - self.rows[j], self.cols[i] - self.cols[j])
        self.nbr[i, self.deg[i]] = j
        self.wgt[i, self.deg[i]] = d
        self.deg[i] += 1
        self.nbr[j, self.deg[j]] = i
        self.wgt[j, self.deg[j]] = d
        self.deg[j] += 1

    # -- public --------------------------------------------------------------------------
    @property
    def positions(self) -> np.ndarray:
        """``(n, 2)`` array of node cells."""
        return np.stack([self.rows[: self.n], self.cols[: self.n]], axis=1)

    def edges(self) -> np.ndarray:
        """``(m, 2)`` array of undirected edges ``i < j``."""
        out = []
        for i in range(self.n):
            for s in range(self.deg[i]):
                j = int(self.nbr[i, s])
                if i < j:
                    out.append((i, j))
        return np.asarray(out, dtype=np.int64).reshape(-1, 2)

    def edge_lengths(self, edges: np.ndarray) -> np.ndarray:
        p = self.positions
        return np.hypot(*(p[edges[:, 0]] - p[edges[:, 1]]).T) if len(edges) else np.zeros(0)

    def add_robot_node(self, belief: np.ndarray, frontier: np.ndarray, r: int, c: int) -> int:
        """Make ``(r, c)`` a node (if it is not one), link it and set its utility; return its id."""
        key = (int(r), int(c))
        if key in self.index:
            return self.index[key]
        i = self._add_node(key[0], key[1], lattice=False)
        self._link_node(belief, i)
        self._refresh_utilities(belief, frontier, np.asarray([i], dtype=np.int64))
        return i

    def _candidates(self, i: int) -> list[int]:
        r, c = int(self.rows[i]), int(self.cols[i])
        sp = self.spacing
        out: list[int] = []
        if self.is_lattice[i]:
            for di, dj in self._lattice_offsets:
                j = self.index.get((r + di * sp, c + dj * sp))
                if j is not None:
                    out.append(j)
        else:
            # lattice nodes in the bounding box of the radius
            base_r, base_c = (r // sp) * sp, (c // sp) * sp
            rr = int(math.ceil(self.link_radius / sp)) + 1
            for di in range(-rr, rr + 1):
                for dj in range(-rr, rr + 1):
                    j = self.index.get((base_r + di * sp, base_c + dj * sp))
                    if j is not None and j != i:
                        out.append(j)
        for j in self.extra:
            if j != i:
                out.append(j)
        R2 = self.link_radius ** 2
        cand = [(float((self.rows[j] - r) ** 2 + (self.cols[j] - c) ** 2), j) for j in set(out)]
        cand = [(d, j) for d, j in cand if d <= R2 + 1e-9]
        cand.sort()
        return [j for _, j in cand]

    def _link_node(self, belief: np.ndarray, i: int) -> None:
        r, c = int(self.rows[i]), int(self.cols[i])
        linked = int(self.deg[i])
        pending = False
        for j in self._candidates(i):
            if linked >= self.k:
                break
            if self.has_edge(i, j):
                continue
            st = segment_status(belief, r, c, int(self.rows[j]), int(self.cols[j]))
            if st == 0:
                self._link(i, j)
                linked += 1
            elif st == 2:
                pending = True
        self.pending[i] = pending and linked < self.k

    def _refresh_utilities(self, belief: np.ndarray, frontier: np.ndarray, which: np.ndarray) -> None:
        which = which[self.visits[which] == 0] if len(which) else which
        if len(which):
            utilities_and_gains(belief, frontier, self.rows, self.cols, self.sensor_range, self.utility, self.gain,
                                which, self.gain_depth)

    def mark_visited(self, i: int) -> None:
        """Count a visit; a visited viewpoint's utility and gain are 0 from then on (sensing there again reveals nothing)."""
        self.visits[i] += 1
        self.utility[i] = 0
        self.gain[i] = 0

    def update(self, belief: np.ndarray, frontier: np.ndarray, box: tuple[int, int, int, int]) -> None:
        """Incorporate the cells of ``box = (r0, r1, c0, c1)`` (half-open) that changed on ``belief``."""
        r0, r1, c0, c1 = (int(v) for v in box)
        h, w = self.shape
        sp = self.spacing
        # 1. lattice nodes that became known free
        new_nodes = []
        for r in range((max(0, r0) + sp - 1) // sp * sp, min(h, r1), sp):
            for c in range((max(0, c0) + sp - 1) // sp * sp, min(w, c1), sp):
                if belief[r, c] == 0 and (r, c) not in self.index:
                    new_nodes.append(self._add_node(r, c, lattice=True))
        # 2. nodes whose edges may change: within link_radius of the box
        m = int(math.ceil(self.link_radius))
        rows, cols = self.rows[: self.n], self.cols[: self.n]
        near = np.nonzero((rows >= r0 - m) & (rows < r1 + m) & (cols >= c0 - m) & (cols < c1 + m))[0]
        for i in new_nodes:
            self._link_node(belief, int(i))
        for j in near:
            if self.pending[j] and self.deg[j] < self.k:
                self._link_node(belief, int(j))
        # 3. utilities of nodes within sensor range of the box (gains: plus the depth of their squares)
        s = int(math.ceil(self.sensor_range)) + 1 + max(0, self.gain_depth)
        which = np.nonzero((rows >= r0 - s) & (rows < r1 + s) & (cols >= c0 - s) & (cols < c1 + s))[0]
        self._refresh_utilities(belief, frontier, which.astype(np.int64))

    def shortest_paths(self, source: int, limit: float = math.inf) -> tuple[np.ndarray, np.ndarray]:
        """``(dist, pred)`` from ``source`` over the graph (``inf`` / -1 where unreachable)."""
        return dijkstra(self.nbr, self.wgt, self.deg, self.n, int(source), float(limit))

    def to_networkx(self, nodes: Optional[np.ndarray] = None):
        """The graph (or the subgraph on ``nodes``) as a ``networkx.Graph`` with ``weight`` = length."""
        import networkx as nx

        G = nx.Graph()
        keep = np.arange(self.n) if nodes is None else np.asarray(nodes, dtype=np.int64)
        mask = np.zeros(self.n, dtype=bool)
        mask[keep] = True
        G.add_nodes_from(int(i) for i in keep)
        e = self.edges()
        if len(e):
            e = e[mask[e[:, 0]] & mask[e[:, 1]]]
            lengths = self.edge_lengths(e)
            G.add_weighted_edges_from((int(a), int(b), float(d)) for (a, b), d in zip(e, lengths))
        return G
