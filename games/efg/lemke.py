"""Complementary pivoting kernels of :mod:`games.efg.lcp` on a condensed Lemke tableau (one row
per constrained basic variable, one column per nonbasic one, the right-hand side last;
``basic = rhs - T_N nonbasic``): a lexicographic minimum-ratio test and Gauss-Jordan pivots in
floating point (Numba), and their fraction-free integer counterparts for exact pivoting.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from numba import njit


# ====================================================================== pivoting: floating point
@njit(cache=True)
def _keep_least(T: np.ndarray, src: int, c: int, sign: float, cand: np.ndarray, k: int, ratio: np.ndarray,
                is_cand: np.ndarray, tie_tol: float) -> int:
    """Keep the candidate rows whose ratio ``sign * T[i, src] / T[i, c]`` is least (up to
    ``tie_tol``, relative); returns how many remain at the front of ``cand``."""
    best = np.inf
    for j in range(k):
        i = cand[j]
        ratio[j] = sign * T[i, src] / T[i, c]
        best = min(best, ratio[j])
    kk = 0
    for j in range(k):
        if ratio[j] <= best + tie_tol * max(1.0, abs(best)):
            cand[kk] = cand[j]
            kk += 1
        else:
            is_cand[cand[j]] = False
    return kk


@njit(cache=True)
def _choose_row(T: np.ndarray, c: int, pos: np.ndarray, init_basic: np.ndarray, first: bool, zrow: int,
                piv_tol: float, tie_tol: float) -> int:
    """Leaving row for entering column ``c`` by the lexicographic ratio test (first step: the
    lexicographic maximum over rows that ``z0`` makes grow; later: the minimum over rows that
    shrink, ``z0``'s row preferred on a tie of the ratios)."""
    n = T.shape[0]
    rhs = T.shape[1] - 1
    colmax = 0.0
    for i in range(n):
        colmax = max(colmax, abs(T[i, c]))
    thr = piv_tol * max(colmax, 1e-300)
    cand = np.empty(n, dtype=np.int64)
    k = 0
    for i in range(n):
        a = T[i, c]
        if (first and a < -thr) or ((not first) and a > thr):
            cand[k] = i
            k += 1
    if k == 0:
        return -1
    sign = -1.0 if first else 1.0  # minimise sign * ratio
    ratio = np.empty(k)
    is_cand = np.zeros(n, dtype=np.bool_)
    for j in range(k):
        is_cand[cand[j]] = True
    k = _keep_least(T, rhs, c, sign, cand, k, ratio, is_cand, tie_tol)
    if not first and zrow >= 0 and is_cand[zrow]:
        return zrow
    t = 0
    while k > 1 and t < init_basic.shape[0]:
        v = init_basic[t]
        t += 1
        pv = pos[v]
        if pv >= 0:
            # a unit column: its row has the one positive ratio and drops out, the others tie at 0
            if is_cand[pv]:
                is_cand[pv] = False
                kk = 0
                for j in range(k):
                    if cand[j] != pv:
                        cand[kk] = cand[j]
                        kk += 1
                k = kk
            continue
        k = _keep_least(T, -pv - 1, c, sign, cand, k, ratio, is_cand, tie_tol)
    return cand[0]


@njit(cache=True)
def _pivot(T: np.ndarray, r: int, c: int) -> None:
    """Gauss-Jordan pivot of the condensed tableau; column c becomes the leaving variable's."""
    n, w = T.shape
    p = T[r, c]
    col = T[:, c].copy()
    # the tableau of a tree stays sparse (about 1% nonzero): update only the pivot row's nonzeros
    nz = np.empty(w, dtype=np.int64)
    k = 0
    for j in range(w):
        T[r, j] /= p
        if T[r, j] != 0.0:
            nz[k] = j
            k += 1
    for i in range(n):
        f = col[i]
        if i != r and f != 0.0:
            for t in range(k):
                j = nz[t]
                old = T[i, j]
                new = old - f * T[r, j]
                # a cancellation leaves rounding noise that would fill the sparse tableau in
                T[i, j] = 0.0 if abs(new) <= 1e-13 * abs(old) else new
    for i in range(n):
        T[i, c] = -col[i] / p
    T[r, c] = 1.0 / p


@njit(cache=True)
def _lemke_float(T: np.ndarray, basis: np.ndarray, nonbasic: np.ndarray, pos: np.ndarray, init_basic: np.ndarray,
                 entering: int, first: bool, steps: int, piv_tol: float, tie_tol: float) -> tuple:
    """Up to ``steps`` complementary pivots; returns (state, next entering variable, pivots done):
    state 0 = not finished, 1 = z0 left the basis (an equilibrium), 2 = unbounded ray."""
    n = T.shape[0]
    z0 = 2 * n
    for step in range(steps):
        c = -pos[entering] - 1
        zrow = pos[z0]
        r = _choose_row(T, c, pos, init_basic, first, zrow, piv_tol, tie_tol)
        if r < 0:
            return 2, entering, step
        _pivot(T, r, c)
        leaving = basis[r]
        basis[r] = entering
        pos[entering] = r
        nonbasic[c] = leaving
        pos[leaving] = -(c + 1)
        first = False
        if leaving == z0:
            return 1, leaving, step + 1
        entering = leaving + n if leaving < n else leaving - n
    return 0, entering, steps


# ====================================================================== pivoting: exact
def _choose_row_exact(T: np.ndarray, d: int, c: int, pos: np.ndarray, init_basic: np.ndarray, first: bool,
                      zrow: int) -> int:
    n = T.shape[0]
    col = T[:, c]
    sd = 1 if d > 0 else -1
    cand = [i for i in range(n) if (col[i] * sd < 0 if first else col[i] * sd > 0)]
    if not cand:
        return -1
    sign = -1 if first else 1

    def keep(vals: list) -> list:
        best = min(vals)
        return [i for i, v in zip(cand, vals) if v == best]

    cand = keep([sign * Fraction(T[i, -1], col[i]) for i in cand])
    if not first and zrow in cand:
        return zrow
    for v in init_basic.tolist():
        if len(cand) == 1:
            break
        pv = pos[v]
        if pv >= 0:  # a unit column: its row has the one positive ratio (see _choose_row)
            if pv in cand:
                cand.remove(pv)
        else:
            cand = keep([sign * Fraction(T[i, -pv - 1], col[i]) for i in cand])
    return cand[0]


def _pivot_exact(T: np.ndarray, d: int, r: int, c: int) -> int:
    """Fraction-free pivot: every entry stays an integer (the determinant of the basis relative
    to the start times the rational tableau); returns the new determinant."""
    p = T[r, c]
    col = T[:, c].copy()
    row = T[r].copy()
    T[:] = (T * p - np.outer(col, row)) // d
    T[r] = row
    T[:, c] = -col
    T[r, c] = d
    return p
