"""Coverage objectives: :class:`WeightedCoverage` (weighted items covered by the chosen sets) and
:class:`GraphCoverage` (graph or grid cells within a radius of the chosen ones), with the graph
adjacency reader :func:`graph_adjacency` that :func:`planning.submodular.path_greedy` shares.

A coverage state keeps every candidate's gain exact in O(incidence) per pick (the Numba kernel
``_cov_add``), so lazy greedy scans instead of keeping a heap. Re-exported by
:mod:`planning.objectives`.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Iterable, Optional

import numpy as np
import scipy.sparse as sp
from numba import njit

from engine.errors import InvalidInputError
from engine.validation import as_float_array, check_int, check_real
from planning.setfunction import GainState, SubmodularFunction, as_index_array, check_weights

__all__ = ["WeightedCoverage", "GraphCoverage", "graph_adjacency"]


# ============================================================================ kernels
@njit(cache=True)
def _cov_add(indptr, indices, cindptr, cindices, weights, covered, cached, j):
    """Mark set ``j``'s items covered; subtract their weights from every set holding them."""
    g = 0.0
    for p in range(indptr[j], indptr[j + 1]):
        u = indices[p]
        if not covered[u]:
            covered[u] = True
            w = weights[u]
            g += w
            for q in range(cindptr[u], cindptr[u + 1]):
                cached[cindices[q]] -= w
    return g


@njit(cache=True)
def _cov_paths(indptr, indices, weights, paths, n_items, modular, out):
    """Marginal gains along each row of ``paths`` (ground elements), one covered array per row."""
    covered = np.zeros(n_items, dtype=np.bool_)
    for b in range(paths.shape[0]):
        covered[:] = False
        for t in range(paths.shape[1]):
            j = paths[b, t]
            g = 0.0
            for p in range(indptr[j], indptr[j + 1]):
                u = indices[p]
                if modular:
                    g += weights[u]
                elif not covered[u]:
                    covered[u] = True
                    g += weights[u]
            out[b, t] = g


class _CoverageState(GainState):
    cheap_gains = True  # every gain is kept exact: a lookup, no lazy bookkeeping needed
    f: "WeightedCoverage"  # the objective this state belongs to (narrows GainState.f)


    def __init__(self, f: "WeightedCoverage") -> None:
        super().__init__(f)
        self.covered = np.zeros(f.n_items, dtype=np.bool_)
        self.cached = f._set_weight.copy()

    def gains(self, candidates: np.ndarray) -> np.ndarray:
        g = self.cached[candidates]
        return np.maximum(g, 0.0, out=g)

    def gain(self, c: int) -> float:
        g = self.cached[c]
        return float(g) if g > 0.0 else 0.0

    def _add(self, c: int) -> float:
        f = self.f
        return float(_cov_add(f._indptr, f._indices, f._cindptr, f._cindices, f.weights, self.covered,
                              self.cached, c))

    def copy(self) -> "_CoverageState":
        new = _CoverageState.__new__(_CoverageState)
        new.f, new.value, new.selected = self.f, self.value, list(self.selected)
        new.covered, new.cached = self.covered.copy(), self.cached.copy()
        return new


class WeightedCoverage(SubmodularFunction):
    """Weighted coverage ``f(S) = sum of w[u] over items u covered by a set in S``.

    Parameters
    ----------
    sets : scipy.sparse matrix or sequence of sequences of int
        The incidence (row ``j`` = set ``j``, a nonzero in column ``u`` = item ``u`` belongs to
        it), or one list of item indices per set.
    weights : array_like, optional
        Item weights, ``>= 0`` (default 1). With ``sets`` as lists, ``len(weights)`` is the size
        of the item universe (items no set holds are allowed; an item index beyond it is an
        error).
    n_items : int, optional
        Size of the item universe when ``sets`` is given as lists (default: ``len(weights)``,
        else largest index + 1).

    Notes
    -----
    The state keeps a covered flag per item and the exact current gain of *every* set; picking
    a set visits each newly covered item once and each set holding it once (a CSC sweep), so a
    whole run costs O(nnz) for the updates and a gain query is O(1).

    Examples
    --------
    >>> f = WeightedCoverage([[0, 1], [1, 2], [3]], weights=[1, 2, 3, 4])
    >>> f.evaluate([0, 2])
    7.0
    >>> f.marginal_gains([0]).tolist()
    [0.0, 3.0, 4.0]
    """

    name = "weighted_coverage"

    def __init__(self, sets: Any, weights: Any = None, *, n_items: Optional[int] = None) -> None:
        where = f"{type(self).__name__}()"
        if weights is not None and n_items is None and not sp.issparse(sets) \
                and not (isinstance(sets, np.ndarray) and sets.ndim == 2 and sets.dtype != object):
            # lists of items: the weights say how large the universe is (an item no set holds weighs
            # nothing towards f but is still an item)
            n_items = as_float_array(weights, "weights", where, ndim=1).shape[0]
        inc = self._incidence(sets, n_items, where)
        self.n, self.n_items = inc.shape
        self.weights = check_weights(weights, self.n_items, where)
        self._set_csr(inc)

    def _set_csr(self, inc: sp.csr_matrix) -> None:
        inc = inc.tocsr()
        inc.sum_duplicates()
        inc.sort_indices()
        self.incidence = inc
        self._indptr = inc.indptr.astype(np.int64)
        self._indices = inc.indices.astype(np.int64)
        csc = inc.tocsc()
        csc.sort_indices()
        self._cindptr = csc.indptr.astype(np.int64)
        self._cindices = csc.indices.astype(np.int64)
        # initial gain of each set = sum of its item weights (reduceat in fixed order)
        self._set_weight = _row_sums(self._indptr, self.weights[self._indices])

    @staticmethod
    def _incidence(sets: Any, n_items: Optional[int], where: str) -> sp.csr_matrix:
        if sp.issparse(sets):
            m = sp.csr_matrix(sets)
            if m.ndim != 2:
                raise InvalidInputError(f"{where}: sets must be a 2-D incidence matrix")
            if m.nnz and not np.all(np.isfinite(m.data)):
                raise InvalidInputError(f"{where}: sets incidence must be finite, got {m.data[~np.isfinite(m.data)][0]}")
            m.eliminate_zeros()
            m = sp.csr_matrix((np.ones(m.nnz), m.indices, m.indptr), shape=m.shape)
            if n_items is not None and n_items != m.shape[1]:
                raise InvalidInputError(f"{where}: n_items={n_items} does not match the incidence's {m.shape[1]} columns")
            return m
        if isinstance(sets, np.ndarray) and sets.ndim == 2 and sets.dtype != object:
            arr = as_float_array(sets, "sets", where, ndim=2)
            return WeightedCoverage._incidence(sp.csr_matrix(arr != 0, dtype=np.float64), n_items, where)
        if isinstance(sets, (str, bytes)) or not isinstance(sets, Iterable):
            raise InvalidInputError(f"{where}: sets must be a sparse incidence matrix or a list of item lists, "
                                    f"got {type(sets).__name__}")
        sets = list(sets)
        rows: list[int] = []
        cols: list[int] = []
        for j, s in enumerate(sets):
            if isinstance(s, (str, bytes)) or not isinstance(s, Iterable):
                raise InvalidInputError(f"{where}: set {j} must be a collection of item indices, got {s!r}")
            items = list(s)
            for u in items:
                if isinstance(u, (bool, np.bool_)) or not isinstance(u, numbers.Integral) or u < 0:
                    raise InvalidInputError(f"{where}: set {j} holds {u!r}; items must be integers >= 0")
            rows.extend([j] * len(items))
            cols.extend(int(u) for u in items)
        n_sets = len(sets)
        if n_sets == 0:
            raise InvalidInputError(f"{where}: sets must not be empty")
        top = (max(cols) + 1) if cols else 0
        if n_items is None:
            n_items = top
        n_items = check_int(n_items, "n_items", where, lower=0)
        if top > n_items:
            j = rows[cols.index(top - 1)]
            raise InvalidInputError(f"{where}: set {j} holds item {top - 1}, outside the universe of {n_items} items "
                                    f"(n_items or len(weights))")
        data = np.ones(len(rows))
        return sp.csr_matrix((data, (np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64))),
                             shape=(n_sets, n_items))

    def new_state(self) -> GainState:
        return _CoverageState(self)

    def evaluate(self, S: Any) -> float:
        idx = as_index_array(S, self.n, f"{type(self).__name__}.evaluate()")
        covered = np.zeros(self.n_items, dtype=bool)
        for j in np.unique(idx):
            covered[self._indices[self._indptr[j]:self._indptr[j + 1]]] = True
        return float(self.weights[covered].sum())

    def path_gains(self, paths: Any, *, modular: bool = False) -> np.ndarray:
        P = self._check_paths(paths)
        out = np.zeros(P.shape, dtype=np.float64)
        _cov_paths(self._indptr, self._indices, self.weights, np.ascontiguousarray(P), self.n_items, bool(modular), out)
        return out


@njit(cache=True)
def _row_sums(indptr, values):
    out = np.zeros(indptr.shape[0] - 1, dtype=np.float64)
    for j in range(out.shape[0]):
        s = 0.0
        for p in range(indptr[j], indptr[j + 1]):
            s += values[p]
        out[j] = s
    return out


def _grid_adjacency(shape: Any, where: str) -> sp.csr_matrix:
    if len(shape) != 2:
        raise InvalidInputError(f"{where}: a grid must be given as (rows, cols), got {shape!r}")
    H = check_int(shape[0], "grid rows", where, lower=1)
    W = check_int(shape[1], "grid cols", where, lower=1)
    idx = np.arange(H * W).reshape(H, W)
    r = np.concatenate([idx[:, :-1].ravel(), idx[:-1, :].ravel()])
    c = np.concatenate([idx[:, 1:].ravel(), idx[1:, :].ravel()])
    A = sp.coo_matrix((np.ones(r.size), (r, c)), shape=(H * W, H * W))
    return (A + A.T).tocsr()


def graph_adjacency(graph: Any, where: str) -> tuple[sp.csr_matrix, list]:
    """``(adjacency CSR with edge lengths, node labels)`` of a networkx graph, sparse matrix or grid shape."""
    if isinstance(graph, tuple) and len(graph) == 2 and all(isinstance(v, numbers.Integral) for v in graph):
        A = _grid_adjacency(graph, where)
        H, W = graph
        return A, [(r, c) for r in range(H) for c in range(W)]
    if sp.issparse(graph) or (isinstance(graph, np.ndarray) and graph.ndim == 2):
        A = sp.csr_matrix(graph, dtype=np.float64)
        if A.shape[0] != A.shape[1]:
            raise InvalidInputError(f"{where}: an adjacency matrix must be square, got shape {A.shape}")
        if A.nnz and (not np.all(np.isfinite(A.data)) or A.data.min() < 0):
            raise InvalidInputError(f"{where}: edge lengths must be finite and >= 0")
        return A, list(range(A.shape[0]))
    if hasattr(graph, "nodes") and hasattr(graph, "edges"):
        nodes = list(graph.nodes)
        if not nodes:
            raise InvalidInputError(f"{where}: the graph has no nodes")
        index = {v: i for i, v in enumerate(nodes)}
        rows, cols, data = [], [], []
        for u, v, d in graph.edges(data=True):
            w = d.get("weight", 1.0)
            try:
                w = float(w)
            except (TypeError, ValueError) as err:
                raise InvalidInputError(f"{where}: edge ({u!r}, {v!r}) has a non-numeric weight {w!r}") from err
            if not math.isfinite(w) or w < 0:
                raise InvalidInputError(f"{where}: edge ({u!r}, {v!r}) must have a finite weight >= 0, got {w}")
            rows.append(index[u])
            cols.append(index[v])
            data.append(w)
        n = len(nodes)
        A = sp.coo_matrix((data, (rows, cols)), shape=(n, n)).tocsr()
        if not graph.is_directed():
            A = A.maximum(A.T).tocsr() if A.nnz else A
        return A, nodes
    raise InvalidInputError(f"{where}: graph must be a networkx graph, a sparse adjacency matrix or a (rows, cols) "
                            f"grid shape, got {type(graph).__name__}")


class GraphCoverage(WeightedCoverage):
    """Coverage of graph nodes (or grid cells) within ``radius`` of the chosen nodes.

    ``f(S) = sum of weights[u] over nodes u at distance <= radius from some node of S``
    (hop count on unweighted graphs and grids, edge-length distance on weighted ones). It is a
    :class:`WeightedCoverage` whose sets are the balls around each node, and the objective of
    "visited-cell coverage" in :mod:`planning.subrl`.

    Parameters
    ----------
    graph : networkx graph, scipy.sparse adjacency or (rows, cols)
        A ``(rows, cols)`` tuple is a 4-neighbour grid whose cell ``(r, c)`` is node
        ``r * cols + c``. Node ``i`` of a networkx graph is ``list(graph.nodes)[i]``.
    radius : float
        Sensing radius (``>= 0``; 0 covers only the chosen node).
    weights : array_like, optional
        Node weights, ``>= 0`` (default 1).

    Examples
    --------
    >>> f = GraphCoverage((3, 3), radius=1)
    >>> f.evaluate([4])  # the centre of a 3x3 grid sees itself and 4 neighbours
    5.0
    """

    name = "graph_coverage"

    def __init__(self, graph: Any, radius: float = 1, weights: Any = None) -> None:
        where = f"{type(self).__name__}()"
        radius = check_real(radius, "radius", where, lower=0.0)
        A, nodes = graph_adjacency(graph, where)
        self.nodes = nodes
        self.radius = radius
        n = A.shape[0]
        balls = _balls(A, radius)
        self.n = self.n_items = n
        self.weights = check_weights(weights, n, where)
        self._set_csr(balls)


def _balls(A: sp.csr_matrix, radius: float) -> sp.csr_matrix:
    """Incidence of ``{u : dist(v, u) <= radius}`` for every node v."""
    from scipy.sparse.csgraph import dijkstra

    n = A.shape[0]
    if radius == 0 or A.nnz == 0:
        return sp.identity(n, format="csr", dtype=np.float64)
    unit = bool(np.all(A.data == 1.0))
    if unit and radius < 8:
        B = (A != 0).astype(np.float64) + sp.identity(n, format="csr")
        R = sp.identity(n, format="csr", dtype=np.float64)
        for _ in range(int(math.floor(radius))):
            R = (R @ B).tocsr()
            R.data[:] = 1.0
        return R.tocsr()
    chunk = max(1, int(2e7 // max(n, 1)))
    blocks = []
    for lo in range(0, n, chunk):
        D = dijkstra(A, directed=True, indices=np.arange(lo, min(n, lo + chunk)), limit=radius * (1 + 1e-12))
        blocks.append(sp.csr_matrix(np.isfinite(D).astype(np.float64)))
    return sp.vstack(blocks).tocsr()
