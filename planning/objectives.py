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

Modules: the interface, :class:`Modular`, :class:`Mixture` and :class:`SetFunction` are in
:mod:`planning.setfunction`, the coverage objectives in :mod:`planning.coverage`, the kNN graph
builder of :meth:`FacilityLocation.from_features` in :mod:`planning.knn`; this module defines the
similarity objectives (facility location, feature based, log-determinant) and re-exports the rest.
"""

from __future__ import annotations

import math
from typing import Any, Optional

import numpy as np
import scipy.sparse as sp
from numba import njit

from engine.errors import InvalidInputError
from engine.validation import as_float_array, check_choice, check_int, check_real
from planning.coverage import GraphCoverage, WeightedCoverage, graph_adjacency
from planning.knn import knn_graph
from planning.setfunction import (GainState, Mixture, Modular, SetFunction, SubmodularFunction, as_index_array,
                                  check_objective, check_weights)

__all__ = [
    "SubmodularFunction", "GainState", "WeightedCoverage", "GraphCoverage", "FacilityLocation",
    "FeatureBased", "LogDet", "Modular", "Mixture", "SetFunction", "CONCAVE_FUNCTIONS", "PSD_RTOL",
    "graph_adjacency", "check_objective",
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
        d2, ind = knn_graph(np.ascontiguousarray(Xn if metric == "cosine" else X), k, workers)
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
        idx = np.unique(as_index_array(S, self.n, f"{type(self).__name__}.evaluate()"))
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
        self.weights = check_weights(weights, self.n_features, where)

    def new_state(self) -> GainState:
        return _FBState(self)

    def evaluate(self, S: Any) -> float:
        idx = np.unique(as_index_array(S, self.n, f"{type(self).__name__}.evaluate()"))
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
        idx = np.unique(as_index_array(S, self.n, f"{type(self).__name__}.evaluate()"))
        if idx.size == 0:
            return 0.0
        M = np.eye(idx.size) + self.kernel[np.ix_(idx, idx)] / self.noise
        sign, logdet = np.linalg.slogdet(M)
        return 0.5 * float(logdet)
