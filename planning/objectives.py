"""Monotone submodular objectives with incremental state and vectorised marginal gains.

Every objective is a set function ``f`` over the ground set ``{0, ..., n-1}`` with ``f(∅) = 0``,
monotone and submodular (weights and similarities are required to be non-negative for that
reason). It offers

* ``evaluate(S)``: ``f(S)`` computed from scratch;
* ``new_state()``: an incremental :class:`GainState` for the empty set, with ``gains(C)`` (the
  marginal gains of many candidates at once), ``gain(c)``, ``add(c)`` and ``value``. A state keeps
  what the next gain needs, so a gain costs only what changed (see each class);
* ``+`` and scalar ``*``: non-negative mixtures (:class:`Mixture`).

Objectives
----------
:class:`WeightedCoverage` (sparse incidence, covered flags, gains of all sets kept exact in
O(incidence) per pick), :class:`GraphCoverage` (coverage of graph or grid cells within a radius),
:class:`FacilityLocation` (dense or sparse kNN similarities, or built from features),
:class:`FeatureBased` (concave of modular), :class:`LogDet` (GP information gain / Bayesian
D-optimal design with an incremental Cholesky factor), :class:`Modular` and :class:`SetFunction`
(any Python callable; slow, for prototypes and brute-force checks).

The hot loops are Numba kernels compiled with ``cache=True``: the compile cost is paid once per
machine, not once per process.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Callable, Iterable, Optional, Sequence

import numpy as np
import scipy.sparse as sp
import numba
from numba import njit, prange

from engine.errors import InvalidInputError
from engine.validation import as_float_array, check_choice, check_int, check_real

__all__ = [
    "SubmodularFunction", "GainState", "WeightedCoverage", "GraphCoverage", "FacilityLocation",
    "FeatureBased", "LogDet", "Modular", "Mixture", "SetFunction", "CONCAVE_FUNCTIONS", "PSD_RTOL",
]

#: Concave functions accepted by :class:`FeatureBased`.
CONCAVE_FUNCTIONS = ("sqrt", "log", "inverse", "min1")
_CONCAVE_CODE = {name: i for i, name in enumerate(CONCAVE_FUNCTIONS)}


# ============================================================================ kernels
@njit(cache=True)
def _scan_min_max(flat):
    """(min, max, has_nan) of a flat array in one pass."""
    lo = np.inf
    hi = -np.inf
    for v in flat:
        if v != v:
            return lo, hi, True
        if v < lo:
            lo = v
        if v > hi:
            hi = v
    return lo, hi, False


@njit(cache=True, fastmath=True)
def _fl_dense_gains(sim, cur, cands, out):
    # One kernel serves every gain query (a single gain goes through it with a 1-element
    # array), so lazy and naive greedy see bit-for-bit the same gains. float32 rows are
    # widened to float64 before the subtraction: the same values as a float64 copy.
    n = cur.shape[0]
    for t in range(cands.shape[0]):
        row = sim[cands[t]]
        g = 0.0
        for i in range(n):
            g += max(np.float64(row[i]) - cur[i], 0.0)
        out[t] = g


@njit(cache=True)
def _fl_dense_add(sim, cur, c):
    row = sim[c]
    for i in range(cur.shape[0]):
        v = np.float64(row[i])
        if v > cur[i]:
            cur[i] = v


@njit(cache=True)
def _fl_sparse_gains(data, indices, indptr, cur, cands, out):
    for t in range(cands.shape[0]):
        c = cands[t]
        g = 0.0
        for p in range(indptr[c], indptr[c + 1]):
            d = np.float64(data[p]) - cur[indices[p]]
            if d > 0.0:
                g += d
        out[t] = g


@njit(cache=True)
def _fl_sparse_add(data, indices, indptr, cur, c):
    for p in range(indptr[c], indptr[c + 1]):
        i = indices[p]
        v = np.float64(data[p])
        if v > cur[i]:
            cur[i] = v


@njit(cache=True)
def _fl_dense_cover(sim, sel, cur):
    for t in range(sel.shape[0]):
        _fl_dense_add(sim, cur, sel[t])


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


@njit(cache=True, inline="always")
def _concave(code, x):
    if code == 0:
        return math.sqrt(x)
    if code == 1:
        return math.log1p(x)
    if code == 2:
        return x / (1.0 + x)
    return x if x < 1.0 else 1.0


@njit(cache=True)
def _fb_dense_gains(X, acc, phi, w, code, cands, out):
    d = X.shape[1]
    for t in range(cands.shape[0]):
        row = X[cands[t]]
        g = 0.0
        for u in range(d):
            x = row[u]
            if x != 0.0:
                g += w[u] * (_concave(code, acc[u] + x) - phi[u])
        out[t] = g


@njit(cache=True)
def _fb_sparse_gains(data, indices, indptr, acc, phi, w, code, cands, out):
    for t in range(cands.shape[0]):
        c = cands[t]
        g = 0.0
        for p in range(indptr[c], indptr[c + 1]):
            u = indices[p]
            g += w[u] * (_concave(code, acc[u] + data[p]) - phi[u])
        out[t] = g


@njit(cache=True)
def _fb_value(acc, w, code):
    v = 0.0
    for u in range(acc.shape[0]):
        v += w[u] * _concave(code, acc[u])
    return v


# ---------------------------------------------------------------------------- exact kNN graph
_KNN_LEAF = 128  # at most this many points per block (about 100 at n = 100k); flat from 64 to 256 at d = 8


def _kd_blocks(X: np.ndarray, leaf: int) -> tuple[np.ndarray, np.ndarray]:
    """Median splits along the widest side until a block holds <= ``leaf`` points.

    Returns ``perm`` (points in block order) and ``starts`` (block ``b`` is
    ``perm[starts[b]:starts[b + 1]]``).
    """
    n = X.shape[0]
    perm = np.arange(n, dtype=np.int64)
    todo = [(0, n)]
    starts = [n]
    while todo:
        lo, hi = todo.pop()
        if hi - lo <= leaf:
            starts.append(lo)
            continue
        idx = perm[lo:hi]
        P = X[idx]
        dim = int(np.argmax(P.max(axis=0) - P.min(axis=0)))
        mid = (hi - lo) // 2
        perm[lo:hi] = idx[np.argpartition(P[:, dim], mid)]
        todo.append((lo + mid, hi))
        todo.append((lo, lo + mid))
    return perm, np.asarray(sorted(starts), dtype=np.int64)


@njit(cache=True)
def _knn_block(XT, perm, starts, lo, hi, k, qb, out_d, out_i):
    """Exact k nearest neighbours (squared distance, then index) of the points of block ``qb``.

    ``XT`` is the (d, n) transpose of the points in block order. Candidate blocks are visited
    by increasing box-to-box distance until that bound exceeds every query's current k-th
    distance; a query skips a block when its point-to-box bound does. Bounds and distances
    add the same per-coordinate squares in the same order and rounding is monotone, so a bound
    never exceeds a computed distance: pruning never drops a true neighbour.
    """
    d, n = XT.shape
    nb = starts.shape[0] - 1
    lb = np.empty(nb)
    for cb in range(nb):
        s = 0.0
        for t in range(d):
            gap = max(lo[cb, t] - hi[qb, t], lo[qb, t] - hi[cb, t], 0.0)
            s += gap * gap
        lb[cb] = s
    q0 = starts[qb]
    m = starts[qb + 1] - q0
    bd = np.full((m, k), np.inf)
    bi = np.full((m, k), n, dtype=np.int64)  # n: above every index, so ties go to the smaller one
    x = np.empty(d)
    buf = np.empty(np.max(starts[1:] - starts[:-1]))
    order = np.empty(nb, dtype=np.int64)
    order[0] = qb
    n_order = 1
    for oc in range(nb):
        if oc == 1:  # own block done: sort only the blocks that can still matter
            worst = 0.0
            for qi in range(m):
                worst = max(worst, bd[qi, k - 1])
            keep = np.flatnonzero(lb <= worst)
            keep = keep[keep != qb]
            order[1:1 + keep.shape[0]] = keep[np.argsort(lb[keep])]
            n_order = 1 + keep.shape[0]
        if oc >= n_order:
            break
        cb = order[oc]
        worst = 0.0
        for qi in range(m):
            worst = max(worst, bd[qi, k - 1])
        if lb[cb] > worst:
            break
        c0 = starts[cb]
        c1 = starts[cb + 1]
        L = c1 - c0
        for qi in range(m):
            kth = bd[qi, k - 1]
            s = 0.0
            for t in range(d):
                x[t] = XT[t, q0 + qi]
                gap = max(lo[cb, t] - x[t], x[t] - hi[cb, t], 0.0)
                s += gap * gap
            if s > kth:
                continue
            for j in range(L):
                buf[j] = 0.0
            for t in range(d):  # coordinate-major: the inner loop over the block vectorises
                row = XT[t, c0:c1]
                xt = x[t]
                for j in range(L):
                    diff = row[j] - xt
                    buf[j] += diff * diff
            for j in range(L):
                dd = buf[j]
                if dd > kth:
                    continue
                gj = perm[c0 + j]
                if dd == kth and gj >= bi[qi, k - 1]:
                    continue
                p = k - 1
                while p > 0 and (bd[qi, p - 1] > dd or (bd[qi, p - 1] == dd and bi[qi, p - 1] > gj)):
                    bd[qi, p] = bd[qi, p - 1]
                    bi[qi, p] = bi[qi, p - 1]
                    p -= 1
                bd[qi, p] = dd
                bi[qi, p] = gj
                kth = bd[qi, k - 1]
    for qi in range(m):
        g = perm[q0 + qi]
        out_d[g] = bd[qi]
        out_i[g] = bi[qi]


@njit(cache=True)
def _knn_blocks(XT, perm, starts, lo, hi, k, out_d, out_i):
    for qb in range(starts.shape[0] - 1):
        _knn_block(XT, perm, starts, lo, hi, k, qb, out_d, out_i)


@njit(cache=True, parallel=True)
def _knn_blocks_parallel(XT, perm, starts, lo, hi, k, out_d, out_i):
    for qb in prange(starts.shape[0] - 1):
        _knn_block(XT, perm, starts, lo, hi, k, qb, out_d, out_i)


def _knn_graph(X: np.ndarray, k: int, workers: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact k nearest neighbours of every row of ``X`` among the rows of ``X`` (itself included).

    A blocked k-d partition with box pruning in a Numba kernel (compiled once, cached on
    disk). Neighbours come sorted by squared Euclidean distance, ties by index, so the answer
    equals a brute-force sort of the ``(distance, index)`` pairs. The pruning pays in low
    dimensions; in high ones it fades towards a (vectorised) brute force.
    ``X``: finite float64, C-contiguous, ``n >= 1`` rows; ``1 <= k <= n``; ``workers``: threads
    (-1: all Numba threads). Returns ``(squared distances, indices)``, both of shape (n, k).

    Examples
    --------
    >>> d2, idx = _knn_graph(np.array([[0.0], [1.0], [3.0]]), 2, 1)
    >>> idx.tolist(), d2.tolist()
    ([[0, 1], [1, 0], [2, 1]], [[0.0, 1.0], [0.0, 1.0], [0.0, 4.0]])
    """
    n = X.shape[0]
    perm, starts = _kd_blocks(X, _KNN_LEAF)
    Xp = X[perm]
    lo = np.minimum.reduceat(Xp, starts[:-1], axis=0)
    hi = np.maximum.reduceat(Xp, starts[:-1], axis=0)
    out_d = np.empty((n, k), dtype=np.float64)
    out_i = np.empty((n, k), dtype=np.int64)
    XT = np.ascontiguousarray(Xp.T)
    most = int(getattr(numba.config, "NUMBA_NUM_THREADS", 1))  # set at import time, so untyped
    threads = most if workers == -1 else min(workers, most)
    if threads == 1:  # the serial kernel: a much shorter first compile than the parallel one
        _knn_blocks(XT, perm, starts, lo, hi, k, out_d, out_i)
        return out_d, out_i
    before = numba.get_num_threads()
    numba.set_num_threads(threads)
    try:
        _knn_blocks_parallel(XT, perm, starts, lo, hi, k, out_d, out_i)
    finally:
        numba.set_num_threads(before)
    return out_d, out_i


# ============================================================================ base classes
def _as_index_array(S: Any, n: int, where: str, name: str = "S") -> np.ndarray:
    if isinstance(S, (set, frozenset)):
        S = sorted(S)
    if isinstance(S, (numbers.Integral,)) and not isinstance(S, (bool, np.bool_)):
        S = [S]
    arr = np.asarray(S if not isinstance(S, np.ndarray) else S)
    if arr.size == 0:
        return np.zeros(0, dtype=np.int64)
    if arr.dtype == bool:
        if arr.shape != (n,):
            raise InvalidInputError(f"{where}: a boolean {name} must have shape ({n},), got {arr.shape}")
        return np.flatnonzero(arr).astype(np.int64)
    if arr.ndim != 1 or not (np.issubdtype(arr.dtype, np.integer)
                            or (np.issubdtype(arr.dtype, np.floating) and np.all(arr == np.round(arr)))):
        raise InvalidInputError(f"{where}: {name} must be a 1-D collection of element indices, got {arr!r}")
    out = arr.astype(np.int64)
    if out.min() < 0 or out.max() >= n:
        bad = out[(out < 0) | (out >= n)][0]
        raise InvalidInputError(f"{where}: {name} holds index {bad} outside the ground set [0, {n})")
    return out


class GainState:
    """Incremental state of an objective at a growing set (start: the empty set).

    ``cheap_gains`` is True when the state keeps every candidate's gain exact (a gain is a
    lookup); :func:`planning.submodular.lazy_greedy` then scans instead of keeping a heap.

    Attributes
    ----------
    value : float
        ``f`` of the current set, accumulated from the gains of the picks.
    selected : list of int
        The picks, in order.
    """

    cheap_gains = False

    def __init__(self, f: "SubmodularFunction") -> None:
        self.f = f
        self.value = 0.0
        self.selected: list[int] = []

    def gains(self, candidates: np.ndarray) -> np.ndarray:
        """Marginal gains ``f(S + c) - f(S)`` for an int64 array of candidates not in ``S``.

        (The value for a member of ``S`` is unspecified: the optimisers never ask for it.)
        """
        raise NotImplementedError

    def gain(self, c: int) -> float:
        """Marginal gain of one candidate (bit-for-bit equal to ``gains([c])[0]``)."""
        return float(self.gains(np.array([c], dtype=np.int64))[0])

    def add(self, c: int) -> float:
        """Add ``c`` to the set; return its marginal gain."""
        g = self._add(int(c))
        self.value += g
        self.selected.append(int(c))
        return g

    def _add(self, c: int) -> float:
        raise NotImplementedError

    def copy(self) -> "GainState":
        raise NotImplementedError


class SubmodularFunction:
    """Base class: a monotone submodular set function on ``{0, ..., n-1}`` with ``f(∅) = 0``.

    Subclasses implement :meth:`new_state` (and may override :meth:`evaluate` with a
    from-scratch formula). ``monotone`` tells the optimisers whether the data-dependent upper
    bounds they report are valid.
    """

    n: int = 0
    monotone: bool = True
    name: str = "objective"

    def new_state(self) -> GainState:
        """A fresh :class:`GainState` at the empty set."""
        raise NotImplementedError

    def evaluate(self, S: Any) -> float:
        """``f(S)`` for a collection of indices (repeats ignored) or a boolean mask."""
        idx = np.unique(_as_index_array(S, self.n, f"{type(self).__name__}.evaluate()"))
        state = self.new_state()
        for j in idx:
            state.add(int(j))
        return float(state.value)

    def marginal_gains(self, S: Any = (), candidates: Any = None) -> np.ndarray:
        """Gains ``f(S + c) - f(S)`` of ``candidates`` (default: all elements) at the set ``S``."""
        where = f"{type(self).__name__}.marginal_gains()"
        state = self.new_state()
        chosen = np.unique(_as_index_array(S, self.n, where))
        for j in chosen:
            state.add(int(j))
        cands = np.arange(self.n, dtype=np.int64) if candidates is None else \
            _as_index_array(candidates, self.n, where, "candidates")
        out = np.asarray(state.gains(cands), dtype=np.float64)
        # f(S + c) - f(S) is 0 for c already in S; the states only define gains of new elements
        out[np.isin(cands, chosen)] = 0.0
        return out

    def path_gains(self, paths: Any, *, modular: bool = False) -> np.ndarray:
        """Marginal gains along each row of a 2-D int array of elements (visits in order).

        ``out[b, t] = f(P_b[:t+1]) - f(P_b[:t])`` where repeats gain nothing; with
        ``modular=True`` each visit instead earns its singleton value ``f({p})`` again (the
        "modular RL" reward that counts revisits).
        """
        P = np.asarray(paths, dtype=np.int64)
        if P.ndim != 2:
            raise InvalidInputError(f"{type(self).__name__}.path_gains(): paths must be 2-D, got shape {P.shape}")
        if P.size and (P.min() < 0 or P.max() >= self.n):
            raise InvalidInputError(f"{type(self).__name__}.path_gains(): an element lies outside [0, {self.n})")
        out = np.zeros(P.shape, dtype=np.float64)
        if modular:
            single = self.new_state().gains(np.arange(self.n, dtype=np.int64))
            return single[P]
        for b in range(P.shape[0]):
            state = self.new_state()
            seen: set[int] = set()
            for t in range(P.shape[1]):
                j = int(P[b, t])
                if j not in seen:
                    seen.add(j)
                    out[b, t] = state.add(j)
        return out

    # mixtures -----------------------------------------------------------------------------
    def __add__(self, other: "SubmodularFunction") -> "Mixture":
        if not isinstance(other, SubmodularFunction):
            return NotImplemented
        return Mixture([self, other])

    def __radd__(self, other: Any) -> "SubmodularFunction":
        if isinstance(other, numbers.Number) and other == 0:
            return self  # sum([...]) starts from 0
        return NotImplemented

    def __mul__(self, weight: Any) -> "Mixture":
        if not isinstance(weight, numbers.Real) or isinstance(weight, (bool, np.bool_)):
            return NotImplemented
        return Mixture([self], [weight])

    __rmul__ = __mul__

    def __repr__(self) -> str:
        return f"{type(self).__name__}(n={self.n})"


# ============================================================================ coverage
def _check_weights(weights: Any, size: int, where: str, name: str = "weights") -> np.ndarray:
    if weights is None:
        return np.ones(size, dtype=np.float64)
    w = as_float_array(weights, name, where, ndim=1)
    if w.shape != (size,):
        raise InvalidInputError(f"{where}: {name} must have shape ({size},), got {w.shape}")
    if w.size and w.min() < 0:
        raise InvalidInputError(f"{where}: {name} must be >= 0 (the objective is monotone only with non-negative "
                                f"weights), got {w.min()}")
    return w


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
        self.weights = _check_weights(weights, self.n_items, where)
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
        idx = _as_index_array(S, self.n, f"{type(self).__name__}.evaluate()")
        covered = np.zeros(self.n_items, dtype=bool)
        for j in np.unique(idx):
            covered[self._indices[self._indptr[j]:self._indptr[j + 1]]] = True
        return float(self.weights[covered].sum())

    def path_gains(self, paths: Any, *, modular: bool = False) -> np.ndarray:
        P = np.asarray(paths, dtype=np.int64)
        if P.ndim != 2:
            raise InvalidInputError(f"{type(self).__name__}.path_gains(): paths must be 2-D, got shape {P.shape}")
        if P.size and (P.min() < 0 or P.max() >= self.n):
            raise InvalidInputError(f"{type(self).__name__}.path_gains(): an element lies outside [0, {self.n})")
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
        self.weights = _check_weights(weights, n, where)
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


# ============================================================================ facility location
class _FLState(GainState):
    f: "FacilityLocation"  # the objective this state belongs to (narrows GainState.f)

    def __init__(self, f: "FacilityLocation") -> None:
        super().__init__(f)
        self.cur = np.zeros(f.n_points, dtype=np.float64)
        self._one = np.zeros(1, dtype=np.int64)
        self._out = np.zeros(1, dtype=np.float64)

    def gains(self, candidates: np.ndarray) -> np.ndarray:
        f = self.f
        out = np.empty(candidates.shape[0], dtype=np.float64)
        if f.sparse:
            _fl_sparse_gains(f._data, f._indices, f._indptr, self.cur, candidates, out)
        else:
            _fl_dense_gains(f.similarity, self.cur, candidates, out)
        return out

    def gain(self, c: int) -> float:
        f = self.f
        self._one[0] = c
        if f.sparse:
            _fl_sparse_gains(f._data, f._indices, f._indptr, self.cur, self._one, self._out)
        else:
            _fl_dense_gains(f.similarity, self.cur, self._one, self._out)
        return float(self._out[0])

    def _add(self, c: int) -> float:
        g = self.gain(c)
        f = self.f
        if f.sparse:
            _fl_sparse_add(f._data, f._indices, f._indptr, self.cur, c)
        else:
            _fl_dense_add(f.similarity, self.cur, c)
        return g

    def copy(self) -> "_FLState":
        new = _FLState.__new__(_FLState)
        new.f, new.value, new.selected, new.cur = self.f, self.value, list(self.selected), self.cur.copy()
        new._one, new._out = np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.float64)
        return new


class FacilityLocation(SubmodularFunction):
    """Facility location ``f(S) = sum_i max_{j in S} similarity[j, i]`` (0 for the empty set).

    Parameters
    ----------
    similarity : array_like or scipy.sparse matrix, shape (n_candidates, n_points)
        Row ``j`` holds how well candidate ``j`` represents every point (the layout apricot
        uses; symmetric kernels need no thought). Entries must be finite and ``>= 0``. A dense
        ``float32`` or ``float64`` array is used without a copy; a sparse matrix (e.g. k nearest
        neighbours) is stored as CSR and missing entries are similarity 0.
    dtype : {None, float32, float64}
        Storage type (default: keep a float32/float64 input, else float64). float32 halves
        memory and bandwidth; gains are still accumulated in float64.

    Notes
    -----
    The state keeps the current best similarity of every point, ``cur``. The gain of a
    candidate is ``sum_i max(similarity[j, i] - cur[i], 0)`` over its row (its stored
    neighbours when sparse), an unrolled Numba loop; a pick updates ``cur`` over one row.

    Examples
    --------
    >>> import numpy as np
    >>> f = FacilityLocation(np.array([[1.0, 0.2], [0.5, 0.9]]))
    >>> f.evaluate([0]), f.evaluate([0, 1])
    (1.2, 1.9)
    """

    name = "facility_location"

    def __init__(self, similarity: Any, *, dtype: Any = None) -> None:
        where = f"{type(self).__name__}()"
        if dtype is not None:
            if dtype not in (np.float32, np.float64, "float32", "float64"):
                raise InvalidInputError(f"{where}: dtype must be float32, float64 or None, got {dtype!r}")
            dtype = np.dtype(dtype)
        if sp.issparse(similarity):
            m = sp.csr_matrix(similarity)
            if dtype is not None and m.dtype != dtype:
                m = m.astype(dtype)
            elif m.dtype not in (np.float32, np.float64):
                m = m.astype(np.float64)
            m.sum_duplicates()
            m.sort_indices()
            self._check_values(m.data, where)
            self.sparse = True
            self.similarity = m
            self._data = m.data
            self._indices = m.indices.astype(np.int64)
            self._indptr = m.indptr.astype(np.int64)
            self._dtype = m.dtype.type
        else:
            if isinstance(similarity, np.ndarray) and similarity.dtype in (np.float32, np.float64):
                arr = similarity if similarity.flags.c_contiguous else np.ascontiguousarray(similarity)
            else:
                arr = as_float_array(similarity, "similarity", where, ndim=2, finite=False)
            if dtype is not None and arr.dtype != dtype:
                arr = arr.astype(dtype)
            if arr.ndim != 2:
                raise InvalidInputError(f"{where}: similarity must be 2-D (candidates x points), got shape {arr.shape}")
            self._check_values(arr.reshape(-1), where)
            self.sparse = False
            self.similarity = arr
            self._dtype = arr.dtype.type
        if self.similarity.shape[0] == 0 or self.similarity.shape[1] == 0:
            raise InvalidInputError(f"{where}: similarity must not be empty, got shape {self.similarity.shape}")
        self.n, self.n_points = self.similarity.shape

    @staticmethod
    def _check_values(flat: np.ndarray, where: str) -> None:
        if flat.size == 0:
            return
        lo, hi, nan = _scan_min_max(flat)
        if nan:
            raise InvalidInputError(f"{where}: similarity must not contain NaN")
        if not math.isfinite(hi) or not math.isfinite(lo):
            raise InvalidInputError(f"{where}: similarity must be finite, got {hi if not math.isfinite(hi) else lo}")
        if lo < 0:
            raise InvalidInputError(f"{where}: similarity must be >= 0 (facility location is monotone submodular "
                                    f"only with non-negative similarities), got {lo}")

    @classmethod
    def from_features(cls, X: Any, *, metric: str = "rbf", n_neighbors: Optional[int] = None,
                      gamma: Optional[float] = None, dtype: Any = np.float64,
                      workers: int = 1) -> "FacilityLocation":
        """Similarities from a feature matrix ``X`` (n, d).

        Parameters
        ----------
        metric : {"rbf", "euclidean", "cosine"}
            ``rbf``: ``exp(-gamma * ||x - y||^2)`` (default ``gamma = 1 / (d * X.var())``);
            ``euclidean``: ``max distance - distance`` (as apricot); ``cosine``: ``(1 + cos) / 2``.
        n_neighbors : int, optional
            Keep only each point's ``n_neighbors`` nearest neighbours (itself included) in a
            sparse matrix: row ``i`` holds point ``i``'s neighbours. The neighbours are exact
            (ties by index), found by a blocked k-d search in a Numba kernel; no dense n x n
            matrix is ever formed. Default: dense.
        dtype : float32 or float64
            Storage type of a dense similarity.
        workers : int
            Threads for the nearest-neighbour search (-1: all Numba threads).

        Examples
        --------
        >>> import numpy as np
        >>> X = np.random.default_rng(0).normal(size=(50, 3))
        >>> f = FacilityLocation.from_features(X, n_neighbors=5)
        >>> f.n, f.sparse
        (50, True)
        """
        where = "FacilityLocation.from_features()"
        X = as_float_array(X, "X", where, ndim=2)
        if X.shape[0] == 0:
            raise InvalidInputError(f"{where}: X must have at least one row")
        metric = check_choice(metric, "metric", where, ("rbf", "euclidean", "cosine"))
        if dtype not in (np.float32, np.float64, "float32", "float64"):
            raise InvalidInputError(f"{where}: dtype must be float32 or float64, got {dtype!r}")
        dtype = np.dtype(dtype).type
        n, d = X.shape
        if gamma is None:
            var = float(X.var())
            gamma = 1.0 / (d * var) if var > 0 else 1.0
        gamma = check_real(gamma, "gamma", where, lower=0.0, lower_strict=True)
        workers = check_int(workers, "workers", where, lower=-1)
        if workers == 0:
            raise InvalidInputError(f"{where}: workers must be >= 1 or -1 (all threads), got 0")
        if metric == "cosine":
            norms = np.linalg.norm(X, axis=1, keepdims=True)
            Xn = X / np.where(norms > 0, norms, 1.0)
        if n_neighbors is None:
            if metric == "cosine":
                S = Xn @ Xn.T
                S += 1.0
                S *= 0.5
            else:
                sq = np.einsum("ij,ij->i", X, X)
                S = X @ X.T
                S *= -2.0
                S += sq[:, None]
                S += sq[None, :]
                np.maximum(S, 0.0, out=S)
                if metric == "rbf":
                    S *= -gamma
                    np.exp(S, out=S)
                else:
                    np.sqrt(S, out=S)
                    S = S.max() - S
            np.clip(S, 0.0, None, out=S)
            return cls(S.astype(dtype, copy=False))
        k = check_int(n_neighbors, "n_neighbors", where, lower=1, upper=n)
        d2, ind = _knn_graph(np.ascontiguousarray(Xn if metric == "cosine" else X), k, workers)
        if metric == "rbf":
            vals = np.exp(-gamma * d2)
        elif metric == "euclidean":
            dist = np.sqrt(d2)
            vals = dist.max() - dist
        else:
            vals = 1.0 - 0.25 * d2  # unit vectors: |x-y|^2 = 2 - 2cos; (1 + cos)/2
        vals = np.clip(vals, 0.0, None).astype(dtype)
        m = sp.csr_matrix((vals.ravel(), ind.ravel(), np.arange(0, n * k + 1, k, dtype=np.int64)), shape=(n, n))
        return cls(m)

    def new_state(self) -> GainState:
        return _FLState(self)

    def evaluate(self, S: Any) -> float:
        idx = np.unique(_as_index_array(S, self.n, f"{type(self).__name__}.evaluate()"))
        cur = np.zeros(self.n_points, dtype=np.float64)
        if self.sparse:
            for j in idx:
                _fl_sparse_add(self._data, self._indices, self._indptr, cur, int(j))
        else:
            _fl_dense_cover(self.similarity, idx, cur)
        return float(cur.sum())


# ============================================================================ feature based
class _FBState(GainState):
    f: "FeatureBased"  # the objective this state belongs to (narrows GainState.f)

    def __init__(self, f: "FeatureBased") -> None:
        super().__init__(f)
        self.acc = np.zeros(f.n_features, dtype=np.float64)
        self.phi = np.zeros(f.n_features, dtype=np.float64)

    def gains(self, candidates: np.ndarray) -> np.ndarray:
        f = self.f
        out = np.empty(candidates.shape[0], dtype=np.float64)
        if f.sparse:
            _fb_sparse_gains(f._data, f._indices, f._indptr, self.acc, self.phi, f.weights, f._code, candidates, out)
        else:
            _fb_dense_gains(f.X, self.acc, self.phi, f.weights, f._code, candidates, out)
        return out

    def _add(self, c: int) -> float:
        g = self.gain(c)
        f = self.f
        if f.sparse:
            lo, hi = f._indptr[c], f._indptr[c + 1]
            cols = f._indices[lo:hi]
            self.acc[cols] += f._data[lo:hi]
        else:
            cols = np.flatnonzero(f.X[c])
            self.acc[cols] += f.X[c, cols]
        self.phi[cols] = _concave_np(f.concave, self.acc[cols])
        return g

    def copy(self) -> "_FBState":
        new = _FBState.__new__(_FBState)
        new.f, new.value, new.selected = self.f, self.value, list(self.selected)
        new.acc, new.phi = self.acc.copy(), self.phi.copy()
        return new


def _concave_np(name: str, x: np.ndarray) -> np.ndarray:
    if name == "sqrt":
        return np.sqrt(x)
    if name == "log":
        return np.log1p(x)
    if name == "inverse":
        return x / (1.0 + x)
    return np.minimum(x, 1.0)


class FeatureBased(SubmodularFunction):
    """Feature-based function ``f(S) = sum_u w[u] * phi(sum_{j in S} X[j, u])``.

    Parameters
    ----------
    X : array_like or scipy.sparse matrix, shape (n, d)
        Non-negative feature values of each element.
    concave : {"sqrt", "log", "inverse", "min1"}
        ``phi``: ``sqrt(x)``, ``log(1 + x)``, ``x / (1 + x)`` or ``min(x, 1)``.
    weights : array_like, optional
        Feature weights ``>= 0`` (default 1).

    Notes
    -----
    The state keeps the column sums and their ``phi``; a gain visits only the candidate's
    nonzero features.

    Examples
    --------
    >>> f = FeatureBased([[1.0, 0.0], [0.0, 4.0], [1.0, 0.0]])
    >>> f.evaluate([0, 1]), f.evaluate([0, 2])
    (3.0, 1.4142135623730951)
    """

    name = "feature_based"

    def __init__(self, X: Any, concave: str = "sqrt", weights: Any = None) -> None:
        where = f"{type(self).__name__}()"
        self.concave = check_choice(concave, "concave", where, CONCAVE_FUNCTIONS)
        self._code = _CONCAVE_CODE[self.concave]
        if sp.issparse(X):
            m = sp.csr_matrix(X, dtype=np.float64)
            m.sum_duplicates()
            m.sort_indices()
            if m.nnz and (not np.all(np.isfinite(m.data))):
                raise InvalidInputError(f"{where}: X must be finite")
            if m.nnz and m.data.min() < 0:
                raise InvalidInputError(f"{where}: X must be >= 0 (monotone only with non-negative features), "
                                        f"got {m.data.min()}")
            self.sparse, self.X = True, m
            self._data, self._indices, self._indptr = m.data, m.indices.astype(np.int64), m.indptr.astype(np.int64)
        else:
            arr = as_float_array(X, "X", where, ndim=2, lower=0.0)
            self.sparse, self.X = False, np.ascontiguousarray(arr)
        if self.X.shape[0] == 0 or self.X.shape[1] == 0:
            raise InvalidInputError(f"{where}: X must not be empty, got shape {self.X.shape}")
        self.n, self.n_features = self.X.shape
        self.weights = _check_weights(weights, self.n_features, where)

    def new_state(self) -> GainState:
        return _FBState(self)

    def evaluate(self, S: Any) -> float:
        idx = np.unique(_as_index_array(S, self.n, f"{type(self).__name__}.evaluate()"))
        acc = np.asarray(self.X[idx].sum(axis=0), dtype=np.float64).ravel() if idx.size else np.zeros(self.n_features)
        return float(_fb_value(acc, self.weights, self._code))


# ============================================================================ log-determinant
#: relative tolerance of :class:`LogDet`'s positive semi-definiteness check
PSD_RTOL = 1e-9


def _check_psd(K: np.ndarray, where: str) -> None:
    """InvalidInputError unless the symmetric ``K`` has no eigenvalue below ``-PSD_RTOL * ||K||_inf``.

    ``||K||_inf`` (the largest absolute row sum) bounds the largest eigenvalue. A Cholesky
    factorisation of ``K + tol I`` settles the common PSD case at a fraction of the cost of
    ``eigvalsh``; only a kernel it rejects pays for the eigenvalues (which decide, with the
    same tolerance, and give the message).
    """
    bound = float(np.abs(K).sum(axis=1).max())
    if bound == 0.0:
        return
    tol = PSD_RTOL * bound
    try:
        np.linalg.cholesky(K + tol * np.eye(K.shape[0]))
        return
    except np.linalg.LinAlgError:
        pass
    low = float(np.linalg.eigvalsh(K)[0])
    if low < -tol:
        raise InvalidInputError(f"{where}: kernel must be positive semi-definite, got the eigenvalue {low:.6g} "
                                f"(tolerance {tol:.3g}); with a kernel that is not a covariance, log det(I + K[S, S] "
                                f"/ noise) can be -inf or decrease")


class _LogDetState(GainState):
    cheap_gains = True
    f: "LogDet"  # the objective this state belongs to (narrows GainState.f)


    def __init__(self, f: "LogDet") -> None:
        super().__init__(f)
        self.var = f._diag.copy()             # posterior variance of every element
        self.U = np.zeros((4, f.n), dtype=np.float64)  # rows: incremental Cholesky features
        self.k = 0

    def gains(self, candidates: np.ndarray) -> np.ndarray:
        return 0.5 * np.log1p(self.var[candidates] / self.f.noise)

    def gain(self, c: int) -> float:
        return 0.5 * math.log1p(self.var[c] / self.f.noise)

    def _add(self, c: int) -> float:
        f = self.f
        g = self.gain(c)
        s = self.var[c] + f.noise
        row = f.kernel[c] - self.U[:self.k, c] @ self.U[:self.k] if self.k else f.kernel[c].astype(np.float64)
        row = row / math.sqrt(s)
        if self.k == self.U.shape[0]:
            self.U = np.vstack([self.U, np.zeros_like(self.U)])
        self.U[self.k] = row
        self.k += 1
        self.var -= row * row
        np.maximum(self.var, 0.0, out=self.var)
        return g

    def copy(self) -> "_LogDetState":
        new = _LogDetState.__new__(_LogDetState)
        new.f, new.value, new.selected = self.f, self.value, list(self.selected)
        new.var, new.U, new.k = self.var.copy(), self.U.copy(), self.k
        return new


class LogDet(SubmodularFunction):
    """Information gain ``f(S) = 1/2 log det(I + K[S, S] / noise)``.

    The mutual information between a Gaussian process with covariance ``kernel`` and noisy
    observations at ``S`` (noise variance ``noise``): the Bayesian D-optimal design criterion,
    monotone submodular for any PSD kernel.

    Parameters
    ----------
    kernel : array_like, shape (n, n)
        Symmetric positive semi-definite covariance. An indefinite kernel is refused
        (``InvalidInputError``): its smallest eigenvalue must be ``>= -PSD_RTOL * ||K||_inf``
        (:data:`PSD_RTOL` times the largest absolute row sum, a bound on the largest
        eigenvalue), which admits the rounding errors of computed kernels but not a kernel
        whose "information gain" can be ``-inf`` or decrease.
    noise : float
        Observation noise variance, ``> 0``.

    Notes
    -----
    The state is an incremental Cholesky factor: one row of "Cholesky features" per pick, from
    which the posterior variance ``var`` of every element is kept, so a gain
    ``1/2 log(1 + var[c] / noise)`` is O(1) and a pick costs O(|S| n).

    Examples
    --------
    >>> import numpy as np
    >>> f = LogDet(np.eye(3), noise=1.0)
    >>> bool(abs(f.evaluate([0, 1]) - np.log(2.0)) < 1e-12)
    True
    """

    name = "logdet"

    def __init__(self, kernel: Any, noise: float = 1.0) -> None:
        where = f"{type(self).__name__}()"
        K = as_float_array(kernel, "kernel", where, ndim=2)
        if K.shape[0] != K.shape[1] or K.shape[0] == 0:
            raise InvalidInputError(f"{where}: kernel must be a non-empty square matrix, got shape {K.shape}")
        scale = max(1.0, float(np.abs(K).max()))
        if not np.allclose(K, K.T, rtol=1e-10, atol=1e-12 * scale):
            raise InvalidInputError(f"{where}: kernel must be symmetric")
        self.noise = check_real(noise, "noise", where, lower=0.0, lower_strict=True)
        self._diag = np.diag(K).copy()
        if self._diag.min() < 0:
            raise InvalidInputError(f"{where}: kernel must be positive semi-definite, got a diagonal entry "
                                    f"{self._diag.min()}")
        _check_psd(K, where)
        self.kernel = np.ascontiguousarray(K)
        self.n = K.shape[0]

    def new_state(self) -> GainState:
        return _LogDetState(self)

    def evaluate(self, S: Any) -> float:
        idx = np.unique(_as_index_array(S, self.n, f"{type(self).__name__}.evaluate()"))
        if idx.size == 0:
            return 0.0
        M = np.eye(idx.size) + self.kernel[np.ix_(idx, idx)] / self.noise
        sign, logdet = np.linalg.slogdet(M)
        return 0.5 * float(logdet)


# ============================================================================ modular, mixtures, callables
class _ModularState(GainState):
    cheap_gains = True
    f: "Modular"  # the objective this state belongs to (narrows GainState.f)


    def gains(self, candidates: np.ndarray) -> np.ndarray:
        return self.f.weights[candidates].astype(np.float64)

    def _add(self, c: int) -> float:
        return float(self.f.weights[c])

    def copy(self) -> "_ModularState":
        new = _ModularState(self.f)
        new.value, new.selected = self.value, list(self.selected)
        return new


class Modular(SubmodularFunction):
    """Modular ``f(S) = sum of weights[j] over j in S`` (weights ``>= 0``).

    Examples
    --------
    >>> Modular([1.0, 2.0, 3.0]).evaluate([0, 2])
    4.0
    """

    name = "modular"

    def __init__(self, weights: Any) -> None:
        where = f"{type(self).__name__}()"
        w = as_float_array(weights, "weights", where, ndim=1)
        if w.size == 0:
            raise InvalidInputError(f"{where}: weights must not be empty")
        self.weights = _check_weights(w, w.size, where)
        self.n = w.size

    def new_state(self) -> GainState:
        return _ModularState(self)


class _MixtureState(GainState):
    f: "Mixture"  # the objective this state belongs to (narrows GainState.f)

    def __init__(self, f: "Mixture") -> None:
        super().__init__(f)
        self.parts = [g.new_state() for g in f.components]
        self.cheap_gains = all(getattr(p, "cheap_gains", False) for p in self.parts)

    def gains(self, candidates: np.ndarray) -> np.ndarray:
        out = np.zeros(candidates.shape[0], dtype=np.float64)
        for w, st in zip(self.f.weights, self.parts):
            out += w * st.gains(candidates)
        return out

    def gain(self, c: int) -> float:
        return float(sum(w * st.gain(c) for w, st in zip(self.f.weights, self.parts)))

    def _add(self, c: int) -> float:
        return float(sum(w * st.add(c) for w, st in zip(self.f.weights, self.parts)))

    def copy(self) -> "_MixtureState":
        new = _MixtureState.__new__(_MixtureState)
        new.f, new.value, new.selected = self.f, self.value, list(self.selected)
        new.parts = [st.copy() for st in self.parts]
        return new


class Mixture(SubmodularFunction):
    """Non-negative combination ``f(S) = sum_i weights[i] * components[i](S)``.

    Built by ``f + g`` and ``2.0 * f`` as well. All components share the ground set.

    Examples
    --------
    >>> f = 2.0 * Modular([1.0, 1.0]) + WeightedCoverage([[0], [0]])
    >>> f.evaluate([0, 1])
    5.0
    """

    name = "mixture"

    def __init__(self, components: Sequence[SubmodularFunction], weights: Any = None) -> None:
        where = f"{type(self).__name__}()"
        comps = list(components)
        if not comps or not all(isinstance(c, SubmodularFunction) for c in comps):
            raise InvalidInputError(f"{where}: components must be a non-empty list of objectives")
        w = _check_weights(weights, len(comps), where)
        flat_c: list[SubmodularFunction] = []
        flat_w: list[float] = []
        for c, wi in zip(comps, w):  # flatten nested mixtures
            if isinstance(c, Mixture):
                flat_c.extend(c.components)
                flat_w.extend(wi * c.weights)
            else:
                flat_c.append(c)
                flat_w.append(wi)
        sizes = {c.n for c in flat_c}
        if len(sizes) != 1:
            raise InvalidInputError(f"{where}: components must share one ground set, got sizes {sorted(sizes)}")
        self.components: list[SubmodularFunction] = flat_c
        self.weights: np.ndarray = np.asarray(flat_w, dtype=np.float64)
        self.n = flat_c[0].n
        self.monotone = all(c.monotone for c in flat_c)

    def new_state(self) -> GainState:
        return _MixtureState(self)

    def evaluate(self, S: Any) -> float:
        return float(sum(w * c.evaluate(S) for w, c in zip(self.weights, self.components)))

    def path_gains(self, paths: Any, *, modular: bool = False) -> np.ndarray:
        return sum(w * c.path_gains(paths, modular=modular) for w, c in zip(self.weights, self.components))


class _CallableState(GainState):
    f: "SetFunction"  # the objective this state belongs to (narrows GainState.f)

    def __init__(self, f: "SetFunction") -> None:
        super().__init__(f)
        self.members: list[int] = []

    def gains(self, candidates: np.ndarray) -> np.ndarray:
        base = self.value
        call = self.f._call
        return np.array([call(frozenset(self.members + [int(c)])) - base for c in candidates], dtype=np.float64)

    def _add(self, c: int) -> float:
        g = self.f._call(frozenset(self.members + [c])) - self.value
        self.members.append(c)
        return g

    def copy(self) -> "_CallableState":
        new = _CallableState(self.f)
        new.value, new.selected, new.members = self.value, list(self.selected), list(self.members)
        return new


class SetFunction(SubmodularFunction):
    """Any Python set function ``func(frozenset) -> float`` on ``{0, ..., n-1}``.

    Every gain calls ``func`` once, so this is for prototypes and brute-force checks.
    ``func(frozenset())`` must be 0. Declare ``monotone=False`` if it is not monotone (the
    optimisers then report no data-dependent bound). Every value must be a finite real number:
    a NaN, an infinity or a non-number raises :class:`~engine.errors.InvalidInputError` naming
    the set, from :meth:`evaluate` and from every optimiser (which never report such a run as
    OPTIMAL or FEASIBLE).

    Examples
    --------
    >>> f = SetFunction(lambda S: float(len(S) ** 0.5), n=4)
    >>> f.evaluate([1, 2, 3, 0])
    2.0
    """

    name = "set_function"

    def __init__(self, func: Callable[[frozenset], float], n: int, *, monotone: bool = True) -> None:
        where = f"{type(self).__name__}()"
        if not callable(func):
            raise InvalidInputError(f"{where}: func must be callable, got {func!r}")
        self.func = func
        self.n = check_int(n, "n", where, lower=1)
        self.monotone = bool(monotone)
        empty = func(frozenset())
        if isinstance(empty, (bool, np.bool_)) or not isinstance(empty, numbers.Real) \
                or not abs(float(empty)) <= 1e-12:
            raise InvalidInputError(f"{where}: func(frozenset()) must be 0, got {empty!r}")

    def _call(self, S: frozenset) -> float:
        """``func(S)`` as a float; a NaN, an infinity or a non-number is an error, never a value."""
        value = self.func(S)
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real) \
                or not math.isfinite(float(value)):
            shown = sorted(S) if len(S) <= 20 else sorted(S)[:20] + ["..."]
            raise InvalidInputError(f"{type(self).__name__}: func({{{', '.join(map(str, shown))}}}) returned "
                                    f"{value!r}; a set function must return a finite real number")
        return float(value)

    def new_state(self) -> GainState:
        return _CallableState(self)

    def evaluate(self, S: Any) -> float:
        idx = _as_index_array(S, self.n, f"{type(self).__name__}.evaluate()")
        return self._call(frozenset(int(j) for j in idx))
