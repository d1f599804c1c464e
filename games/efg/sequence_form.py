"""Two-player zero-sum trees by the sequence-form LP (Koller, Megiddo and von Stengel) on one
HiGHS model.
"""

from __future__ import annotations

import time
from typing import Any, Optional

import numpy as np
import scipy.sparse as sp
from numba import njit

from engine.errors import InvalidInputError, UnsupportedProblemError
from engine.status import Status
from engine.validation import check_choice, check_time_limit
from games.efg.results import EFGResult, _check_game, _finish
from games.efg.tree import ExtensiveFormGame, _behavior_kernel, _regret_kernel


#: largest dense tableau (rows x columns) the small-tree simplex takes; larger LPs go to HiGHS
SIMPLEX_MAX_ENTRIES = 20_000


# ====================================================================== small LPs: dense simplex
@njit(cache=True)
def _simplex_pivot(T: np.ndarray, r: int, c: int) -> None:
    m1, w = T.shape
    T[r, :] /= T[r, c]
    for i in range(m1):
        f = T[i, c]
        if i != r and f != 0.0:
            for j in range(w):
                if T[r, j] != 0.0:
                    T[i, j] -= f * T[r, j]
            T[i, c] = 0.0


@njit(cache=True)
def _simplex_phase(T: np.ndarray, basis: np.ndarray, n_enter: int, maxiter: int, tol: float) -> tuple:
    """Minimise the tableau's last row over columns ``< n_enter``: Dantzig's rule, and Bland's
    (which cannot cycle) from the first run of 20 degenerate pivots on.
    Returns (0 optimal | 1 unbounded | 2 iteration limit, pivots)."""
    m = T.shape[0] - 1
    rhs = T.shape[1] - 1
    degenerate = 0
    for it in range(maxiter):
        e = -1
        if degenerate < 20:
            low = -tol
            for j in range(n_enter):
                if T[m, j] < low:
                    low = T[m, j]
                    e = j
        else:
            for j in range(n_enter):
                if T[m, j] < -tol:
                    e = j
                    break
        if e < 0:
            return 0, it
        r = -1
        best = np.inf
        for i in range(m):
            a = T[i, e]
            if a > 1e-9:  # no tiny pivots: they would blow the tableau's round-off up
                ratio = T[i, rhs] / a
                if ratio < best - tol or (ratio <= best + tol and r >= 0 and basis[i] < basis[r]):
                    best = ratio
                    r = i
        if r < 0:
            return 1, it
        if degenerate < 20:
            degenerate = degenerate + 1 if best <= tol else 0
        _simplex_pivot(T, r, e)
        basis[r] = e
    return 2, maxiter


@njit(cache=True)
def _simplex_solve(M: np.ndarray, b: np.ndarray, c: np.ndarray, n_eq: int, maxiter: int, tol: float) -> tuple:
    """``min c'z  s.t.  M z (=, <=) b,  z >= 0`` with ``b >= 0``: the first ``n_eq`` rows are
    equalities (an artificial each, phase I), the others ``<=`` (a slack each, starting basis).
    Returns (status, z, reduced costs of the slacks, pivots); status 0 optimal, 1 unbounded,
    2 iteration limit, 3 infeasible."""
    m, n = M.shape
    n_slack = m - n_eq
    w = n + n_slack + n_eq
    T = np.zeros((m + 1, w + 1))
    T[:m, :n] = M
    T[:m, w] = b
    basis = np.empty(m, dtype=np.int64)
    for i in range(n_eq):
        T[i, n + n_slack + i] = 1.0
        basis[i] = n + n_slack + i
    for k in range(n_slack):
        T[n_eq + k, n + k] = 1.0
        basis[n_eq + k] = n + k
    # phase I: minimise the sum of the artificials
    for i in range(n_eq):
        for j in range(n + n_slack):
            T[m, j] -= T[i, j]
        T[m, w] -= T[i, w]
    st, it1 = _simplex_phase(T, basis, n + n_slack, maxiter, tol)
    z = np.zeros(n)
    d = np.zeros(n_slack)
    if st != 0:
        return st, z, d, it1
    if T[m, w] < -tol * 100:
        return 3, z, d, it1
    for i in range(m):  # an artificial left in the basis (at 0): pivot it out where the row allows
        if basis[i] >= n + n_slack:
            for j in range(n + n_slack):
                if abs(T[i, j]) > tol:
                    _simplex_pivot(T, i, j)
                    basis[i] = j
                    break
    # phase II: the objective row from scratch, c - c_B B^-1 M
    T[m, :] = 0.0
    T[m, :n] = c
    for i in range(m):
        if basis[i] < n:
            cb = c[basis[i]]
            if cb != 0.0:
                for j in range(w + 1):
                    T[m, j] -= cb * T[i, j]
    st, it2 = _simplex_phase(T, basis, n + n_slack, maxiter, tol)
    for i in range(m):
        if basis[i] < n:
            z[basis[i]] = T[i, w]
    for k in range(n_slack):
        d[k] = T[m, n + k]
    return st, z, d, it1 + it2


@njit(cache=True)
def _lp_simplex_kernel(rows1: np.ndarray, rows2: np.ndarray, n1: int, n2: int, leaf_seq: np.ndarray,
                       chance: np.ndarray, pay: np.ndarray, tol: float) -> tuple:
    """The dense LP of :func:`_lp_by_simplex` built from the players' information-set rows
    (``(first sequence, actions, parent sequence)`` in infoset order), player 1's leaf payoffs
    times chance scaled to at most 1 in magnitude, and solved: (status, z, slack reduced costs,
    pivots, the scale)."""
    w = np.empty(leaf_seq.shape[0])
    scale = 0.0
    for i in range(leaf_seq.shape[0]):
        w[i] = chance[i] * pay[i, 0]
        scale = max(scale, abs(w[i]))
    if scale == 0.0:
        scale = 1.0
    m1, m2 = rows1.shape[0] + 1, rows2.shape[0] + 1
    M = np.zeros((m1 + n2, n1 + 2 * m2))
    M[0, 0] = 1.0
    for i in range(m1 - 1):
        k, m, par = rows1[i, 0], rows1[i, 1], rows1[i, 2]
        M[i + 1, par] = -1.0
        for a in range(m):
            M[i + 1, k + a] = 1.0
    for i in range(leaf_seq.shape[0]):
        M[m1 + leaf_seq[i, 1], leaf_seq[i, 0]] += -w[i] / scale
    M[m1, n1] = 1.0
    M[m1, n1 + m2] = -1.0
    for i in range(m2 - 1):
        k, m, par = rows2[i, 0], rows2[i, 1], rows2[i, 2]
        M[m1 + par, n1 + i + 1] = -1.0
        M[m1 + par, n1 + m2 + i + 1] = 1.0
        for a in range(m):
            M[m1 + k + a, n1 + i + 1] = 1.0
            M[m1 + k + a, n1 + m2 + i + 1] = -1.0
    b = np.zeros(m1 + n2)
    b[0] = 1.0
    c = np.zeros(n1 + 2 * m2)
    c[n1] = -1.0
    c[n1 + m2] = 1.0
    st, z, d, nit = _simplex_solve(M, b, c, m1, 50 * (M.shape[0] + M.shape[1]), tol)
    return st, z, d, nit, scale


@njit(cache=True)
def _lp_by_simplex(seq_off: np.ndarray, isets: np.ndarray, iset_off: np.ndarray, leaf_seq: np.ndarray,
                   chance: np.ndarray, pay: np.ndarray) -> tuple:
    """A small zero-sum tree by the dense simplex in one compiled call (on a small tree the calls
    are most of the time): (status, pivots, player 1's and player 2's realization plans, the
    value, both behaviour strategies, the payoffs and the regrets under them (the certificate)).
    The arguments are :meth:`ExtensiveFormGame._regret_data` (the LP's rows follow its
    information-set order, deepest first)."""
    n1 = seq_off[1] - seq_off[0]
    n2 = seq_off[2] - seq_off[1]
    rows1 = isets[iset_off[0]:iset_off[1]]
    rows2 = isets[iset_off[1]:iset_off[2]]
    # columns x (n1), q+ (m2), q- (m2); rows E x = e (m1), -A' x + F' q+ - F' q- <= 0 (n2)
    m2 = rows2.shape[0] + 1
    st, z, d, nit, scale = _lp_simplex_kernel(rows1, rows2, n1, n2, leaf_seq, chance, pay, 1e-11)
    empty = np.zeros(0)
    if st != 0:
        return st, nit, empty, empty, 0.0, empty, empty, empty, empty
    x = np.maximum(z[:n1], 0.0)
    y = np.maximum(d, 0.0)
    b0 = _behavior_kernel(x, isets[iset_off[0]:iset_off[1]], n1 - 1)
    b1 = _behavior_kernel(y, isets[iset_off[1]:iset_off[2]], n2 - 1)
    pays, regrets = _regret_kernel(np.concatenate((b0, b1)), seq_off, isets, iset_off, leaf_seq, chance, pay)
    return st, nit, x, y, (z[n1] - z[n1 + m2]) * scale, b0, b1, pays, regrets


# ====================================================================== sequence-form LP
def _validate_sequence_form_lp(game: Any, time_limit: Any, options: Any, backend: Any = "auto") -> tuple:
    where = "sequence_form_lp()"
    check_choice(backend, "backend", where, ("auto", "highs", "simplex"))
    g = _check_game(game, where)
    if g.n_players != 2:
        raise UnsupportedProblemError(f"{where}: needs a two-player game, got {g.n_players} players")
    s = g._require_perfect_recall(where)
    if not g.is_constant_sum():
        raise UnsupportedProblemError(f"{where}: the game is not zero-sum (or constant-sum); use sequence_form_lcp")
    tl = check_time_limit(time_limit, where)
    if options is not None and not isinstance(options, dict):
        raise InvalidInputError(f"{where}: options must be a dict, got {type(options).__name__}")
    return g, s, tl


def _constraint_triplets(game: ExtensiveFormGame, p: int) -> tuple:
    """(rows, cols, vals, n_rows) of the realization-plan constraints ``E x = e`` of player p: row 0
    is ``x[empty] = 1``, row i is ``-x[parent(h_i)] + sum_a x[(h_i, a)] = 0``."""
    s = game._sequences()
    hs = np.asarray(game.player_infosets[p], dtype=np.int64)
    n_seq = s["n_seq"][p]
    m = len(hs)
    # every non-empty sequence k sits in row (its infoset's position + 1)
    seq_row = np.zeros(n_seq, dtype=np.int64)
    if m:
        pos = np.empty(game.n_infosets, dtype=np.int64)
        pos[hs] = np.arange(1, m + 1)
        seq_row[1:] = pos[s["seq_infoset"][p][1:]]
    rows = np.concatenate([[0], np.arange(1, m + 1), seq_row[1:]])
    cols = np.concatenate([[0], s["iset_parent"][hs] if m else np.zeros(0, dtype=np.int64), np.arange(1, n_seq)])
    vals = np.concatenate([[1.0], -np.ones(m), np.ones(n_seq - 1)])
    return rows, cols, vals, m + 1


def sequence_form_matrices(game: ExtensiveFormGame) -> dict:
    """Sequence-form data of a two-player tree: payoff matrices ``A``, ``B`` (sequences of player
    1 x sequences of player 2, chance included) and the constraint matrices ``E``, ``F`` with right
    sides ``e``, ``f`` (``E x = e`` for realization plans), all scipy.sparse."""
    s = game._sequences()
    n1, n2 = s["n_seq"]
    L = s["leaf_seq"]
    w = s["leaf_chance"]
    A = sp.csr_matrix((w * s["leaf_pay"][:, 0], (L[:, 0], L[:, 1])), shape=(n1, n2))
    B = sp.csr_matrix((w * s["leaf_pay"][:, 1], (L[:, 0], L[:, 1])), shape=(n1, n2))
    out = {"A": A, "B": B}
    for p, (name, rhs) in enumerate((("E", "e"), ("F", "f"))):
        r, c, v, m = _constraint_triplets(game, p)
        out[name] = sp.csr_matrix((v, (r, c)), shape=(m, s["n_seq"][p]))
        out[rhs] = np.zeros(m)
        out[rhs][0] = 1.0
    return out


def sequence_form_lp(game: ExtensiveFormGame, /, *, time_limit: Optional[float] = None,
                     options: Optional[dict] = None, backend: str = "auto") -> EFGResult:
    """A Nash equilibrium of a two-player zero-sum (or constant-sum) tree with perfect recall, by
    the sequence-form LP (Koller, Megiddo and von Stengel 1996).

    ``max x,q  f'q  s.t.  E x = e,  F' q - A' x <= 0,  x >= 0`` gives player 1's realization plan
    ``x`` and the value; player 2's plan is the dual of the second block. ``value`` is player 1's
    value (``objective`` too); ``max_regret`` certifies both strategies.

    ``backend``: ``"highs"`` solves the LP once with HiGHS; ``"simplex"`` with a dense simplex
    (Numba; Dantzig's rule, Bland's after degenerate pivots) for LPs of at most
    :data:`SIMPLEX_MAX_ENTRIES` tableau entries, its answer accepted only when the exact
    ``max_regret`` certificate is at most 1e-9 times the largest payoff (else HiGHS runs);
    ``"auto"`` (default) is ``"simplex"`` for small trees without ``options``: HiGHS's fixed cost
    per model dominates there."""
    t0 = time.perf_counter()
    g, s, tl = _validate_sequence_form_lp(game, time_limit, options, backend)
    n1, n2 = s["n_seq"]
    m1, m2 = len(g.player_infosets[0]) + 1, len(g.player_infosets[1]) + 1
    small = (m1 + n2) * (n1 + 2 * m2 + n2 + m1) <= SIMPLEX_MAX_ENTRIES
    if backend == "simplex" or (backend == "auto" and options is None and small):
        got = _lp_by_simplex(*g._regret_data()) if small else None
        if got is not None and got[0] == 0:
            _, nit, x, y, value, b0, b1, pays, regrets = got
            reg = float(max(0.0, regrets.max(initial=0.0)))
            if reg <= 1e-9 * max(1.0, s["pay_absmax"]):
                value = float(value)
                return EFGResult(status=Status.OPTIMAL, message="dense simplex; max_regret certifies it",
                                 x=np.concatenate((b0, b1)), objective=value, bound=value, gap=0.0, nit=int(nit),
                                 runtime=time.perf_counter() - t0, method="sequence_form_lp", backend="simplex",
                                 params={"time_limit": tl, "options": dict(options or {}), "backend": backend},
                                 behavior=(b0, b1), payoffs=pays, max_regret=reg, realization=(x, y),
                                 value=value)
    from solvers import LinearModel  # here: the small trees above never load the HiGHS wrapper

    # one COO matrix: rows [E x = e] then [-A' x + F' q <= 0]; columns x (n1 >= 0), q (m2 free)
    r1, c1, v1, m1 = _constraint_triplets(g, 0)
    r2, c2, v2, m2 = _constraint_triplets(g, 1)
    L = s["leaf_seq"]
    w = s["leaf_chance"] * s["leaf_pay"][:, 0]
    rows = np.concatenate([r1, m1 + L[:, 1], m1 + c2])
    cols = np.concatenate([c1, L[:, 0], n1 + r2])
    vals = np.concatenate([v1, -w, v2])
    Acon = sp.csc_matrix((vals, (rows, cols)), shape=(m1 + n2, n1 + m2))
    f = np.zeros(m2)
    f[0] = 1.0
    e = np.zeros(m1)
    e[0] = 1.0
    c = np.concatenate([np.zeros(n1), f])
    lo = np.concatenate([e, np.full(n2, -np.inf)])
    hi = np.concatenate([e, np.zeros(n2)])
    model = LinearModel(c, Acon, lo, hi, col_lower=np.concatenate([np.zeros(n1), np.full(m2, -np.inf)]),
                        col_upper=np.inf, sense="max")
    res = model.solve(time_limit=tl, options=options)
    params = {"time_limit": tl, "options": dict(options or {}), "backend": backend}
    if res.x is None:
        return EFGResult(status=res.status, message=f"sequence_form_lp(): {res.message}",
                         runtime=time.perf_counter() - t0,
                         method="sequence_form_lp", backend="highs", params=params, nit=res.nit)
    x = np.maximum(np.asarray(res.x[:n1]), 0.0)
    y = np.maximum(np.abs(np.asarray(res.row_dual[m1:])) if res.row_dual is not None else np.zeros(n2), 0.0)
    b1 = g.behavior_from_realization(x, 0)
    b2 = g.behavior_from_realization(y, 1)
    value = float(res.objective)
    # constant-sum: report player 1's value
    return _finish(g, [b1, b2], status=res.status if res.status != Status.OPTIMAL else Status.OPTIMAL,
                   method="sequence_form_lp", backend="highs", t0=t0, params=params, message=res.message,
                   nit=res.nit, realization=(x, y), objective=value, bound=float(res.bound), value=value)
