"""Exact k-nearest-neighbour graphs for :meth:`planning.objectives.FacilityLocation.from_features`.

:func:`knn_graph`: a blocked k-d partition (blocks of at most ``_KNN_LEAF`` points) with box
pruning in Numba kernels, serial or parallel over the query blocks (``workers``); neighbours
sorted by squared Euclidean distance, ties by index (what a brute-force sort gives).
"""

from __future__ import annotations

import numpy as np
import numba
from numba import njit, prange

__all__ = ["knn_graph"]


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


def knn_graph(X: np.ndarray, k: int, workers: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact k nearest neighbours of every row of ``X`` among the rows of ``X`` (itself included).

    A blocked k-d partition with box pruning in a Numba kernel (compiled once, cached on
    disk). Neighbours come sorted by squared Euclidean distance, ties by index, so the answer
    equals a brute-force sort of the ``(distance, index)`` pairs. The pruning pays in low
    dimensions; in high ones it fades towards a (vectorised) brute force.
    ``X``: finite float64, C-contiguous, ``n >= 1`` rows; ``1 <= k <= n``; ``workers``: threads
    (-1: all Numba threads). Returns ``(squared distances, indices)``, both of shape (n, k).

    Examples
    --------
    >>> d2, idx = knn_graph(np.array([[0.0], [1.0], [3.0]]), 2, 1)
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
