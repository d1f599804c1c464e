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


# ====================================================================== the start tableau: floating point
@njit(cache=True)
def _elimination(chosen: np.ndarray, isets: np.ndarray) -> tuple:
    """``(C, N, a, P)`` with ``x_C = a - P x_N`` (see ``_Problem.elimination``); ``isets`` rows
    ``(first sequence, actions, parent sequence)``, deepest first."""
    n = chosen.shape[0]
    nc = 0
    for j in range(n):
        if chosen[j]:
            nc += 1
    C = np.empty(nc, dtype=np.int64)
    N = np.empty(n - nc, dtype=np.int64)
    col = np.full(n, -1, dtype=np.int64)
    row = np.full(n, -1, dtype=np.int64)
    ic = 0
    inn = 0
    for j in range(n):
        if chosen[j]:
            C[ic] = j
            row[j] = ic
            ic += 1
        else:
            N[inn] = j
            col[j] = inn
            inn += 1
    P = np.zeros((nc, n - nc))
    a = np.zeros(nc)
    a[0] = 1.0
    for r in range(isets.shape[0] - 1, -1, -1):  # parents first
        k0, m, par = isets[r, 0], isets[r, 1], isets[r, 2]
        c = k0
        while not chosen[c]:
            c += 1
        rc = row[c]
        if chosen[par]:
            P[rc, :] = P[row[par], :]
            a[rc] = a[row[par]]
        else:
            P[rc, col[par]] = -1.0
        for b in range(k0, k0 + m):
            if b != c:
                P[rc, col[b]] += 1.0
    return C, N, a, P


@njit(cache=True)
def _reduced_costs(A: np.ndarray, C: np.ndarray, N: np.ndarray, P: np.ndarray) -> np.ndarray:
    """``P' A[C] - A[N]``: one player's costs with its chosen sequences eliminated."""
    H = np.zeros((N.shape[0], A.shape[1]))
    for i in range(N.shape[0]):
        for c in range(C.shape[0]):
            f = P[c, i]
            if f != 0.0:
                for j in range(A.shape[1]):
                    H[i, j] += f * A[C[c], j]
        for j in range(A.shape[1]):
            H[i, j] -= A[N[i], j]
    return H


@njit(cache=True)
def _plan_rows(T: np.ndarray, r0: int, c0: int, P: np.ndarray, a: np.ndarray) -> None:
    """The rows ``x_C = a - P x_N`` of one player's chosen sequences, from row ``r0``."""
    for i in range(P.shape[0]):
        for j in range(P.shape[1]):
            T[r0 + i, c0 + j] = P[i, j]
        T[r0 + i, T.shape[1] - 1] = a[i]


@njit(cache=True)
def _cost_rows(T: np.ndarray, r0: int, c_dual: int, c_other: int, P: np.ndarray, H: np.ndarray, C_o: np.ndarray,
               N_o: np.ndarray, P_o: np.ndarray, a_o: np.ndarray, prior_o: np.ndarray) -> None:
    """The slack rows of one player's unchosen sequences, from row ``r0``: its own eliminated
    duals (``-P'`` at ``c_dual``), the other's free plan values (``H P_o - H[:, N_o]`` at
    ``c_other``), the covering column (``-H prior_o``) and the right-hand side (``H[:, C_o] a_o``)."""
    n = T.shape[0]
    for i in range(H.shape[0]):
        for j in range(P.shape[0]):
            T[r0 + i, c_dual + j] = -P[j, i]
        for j in range(N_o.shape[0]):
            acc = 0.0
            for c in range(C_o.shape[0]):
                acc += H[i, C_o[c]] * P_o[c, j]
            T[r0 + i, c_other + j] = acc - H[i, N_o[j]]
        acc = 0.0
        for j in range(H.shape[1]):
            acc += H[i, j] * prior_o[j]
        T[r0 + i, n] = -acc
        acc = 0.0
        for c in range(C_o.shape[0]):
            acc += H[i, C_o[c]] * a_o[c]
        T[r0 + i, n + 1] = acc


@njit(cache=True)
def _tableau_float(A: np.ndarray, Bt: np.ndarray, ch1: np.ndarray, ch2: np.ndarray, isets1: np.ndarray,
                   isets2: np.ndarray, p: np.ndarray, q: np.ndarray) -> tuple:
    """The condensed start tableau of ``_Problem.tableau`` for dense float64 payoff matrices, in
    one compiled call: ``(T, basis, nonbasic, pos)``."""
    n1, n2 = A.shape
    n = n1 + n2
    C1, N1, a1, P1 = _elimination(ch1, isets1)
    C2, N2, a2, P2 = _elimination(ch2, isets2)
    m1, m2, k1, k2 = C1.shape[0], C2.shape[0], N1.shape[0], N2.shape[0]
    # H1 = P1' A[C1] - A[N1] (k1 x n2), H2 = P2' B'[C2] - B'[N2] (k2 x n1)
    H1 = _reduced_costs(A, C1, N1, P1)
    H2 = _reduced_costs(Bt, C2, N2, P2)
    T = np.zeros((n, n + 2))
    rx, ry, rr, rs = 0, m1, m1 + m2, m1 + m2 + k1
    cx, cy, cr, cs = 0, k1, k1 + k2, k1 + k2 + m1  # the covering column is n, the right-hand side n + 1
    _plan_rows(T, rx, cx, P1, a1)
    _plan_rows(T, ry, cy, P2, a2)
    _cost_rows(T, rr, cr, cy, P1, H1, C2, N2, P2, a2, q)
    _cost_rows(T, rs, cs, cx, P2, H2, C1, N1, P1, a1, p)
    basis = np.empty(n, dtype=np.int64)
    nonbasic = np.empty(n + 1, dtype=np.int64)
    basis[:m1] = C1
    basis[m1:m1 + m2] = n1 + C2
    basis[m1 + m2:m1 + m2 + k1] = n + N1
    basis[m1 + m2 + k1:] = n + n1 + N2
    nonbasic[:k1] = N1
    nonbasic[k1:k1 + k2] = n1 + N2
    nonbasic[k1 + k2:k1 + k2 + m1] = n + C1
    nonbasic[k1 + k2 + m1:n] = n + n1 + C2
    nonbasic[n] = 2 * n
    pos = np.empty(2 * n + 1, dtype=np.int64)
    for i in range(n):
        pos[basis[i]] = i
    for i in range(n + 1):
        pos[nonbasic[i]] = -(i + 1)
    return T, basis, nonbasic, pos


@njit(cache=True)
def _plan_float(isets: np.ndarray, b: np.ndarray, n: int) -> np.ndarray:
    """Realization plan of behaviour probabilities ``b`` (``isets`` deepest first)."""
    x = np.zeros(n)
    x[0] = 1.0
    for r in range(isets.shape[0] - 1, -1, -1):
        k0, m, par = isets[r, 0], isets[r, 1], isets[r, 2]
        for a in range(m):
            x[k0 + a] = x[par] * b[k0 - 1 + a]
    return x


@njit(cache=True)
def _best_response_float(isets: np.ndarray, key: np.ndarray, tol: float) -> tuple:
    """``_Problem.best_response`` with one key: (chosen sequences, whether two actions tied)."""
    V = key.copy()
    chosen = np.zeros(V.shape[0], dtype=np.bool_)
    chosen[0] = True
    tied = False
    for r in range(isets.shape[0]):
        k0, m, par = isets[r, 0], isets[r, 1], isets[r, 2]
        best = k0
        for a in range(k0 + 1, k0 + m):
            diff = V[a] - V[best]
            if diff > tol:
                best = a
            elif diff >= -tol:
                tied = True
        chosen[best] = True
        V[par] += V[best]
    return chosen, tied


@njit(cache=True)
def _matvec(M: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``M v``, each entry summed in column order."""
    out = np.zeros(M.shape[0])
    for i in range(M.shape[0]):
        acc = 0.0
        for j in range(M.shape[1]):
            acc += M[i, j] * v[j]
        out[i] = acc
    return out


@njit(cache=True)
def _start_float(A: np.ndarray, Bt: np.ndarray, isets1: np.ndarray, isets2: np.ndarray, b1: np.ndarray,
                 b2: np.ndarray, tol: float) -> tuple:
    """The start of ``lcp._start`` in floating point without ties: the prior's plans, both best
    responses to it and the start tableau. Returns (0 feasible | 1 infeasible | 2 a best response
    ties, T, basis, nonbasic, pos)."""
    n1, n2 = A.shape
    p = _plan_float(isets1, b1, n1)
    q = _plan_float(isets2, b2, n2)
    wq = _matvec(A, q)
    wp = _matvec(Bt, p)
    ch2, tie2 = _best_response_float(isets2, wp, 1e-12)
    ch1, tie1 = _best_response_float(isets1, wq, 1e-12)
    n = n1 + n2
    if tie1 or tie2:
        return 2, np.zeros((0, 0)), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    T, basis, nonbasic, pos = _tableau_float(A, Bt, ch1, ch2, isets1, isets2, p, q)
    for i in range(n):
        if T[i, n] >= -tol and T[i, n + 1] < -tol:
            return 1, T, basis, nonbasic, pos
    return 0, T, basis, nonbasic, pos
