"""One equilibrium of a bimatrix game by Lemke-Howson pivoting: :func:`lemke_howson`."""

from __future__ import annotations

import time
from typing import Any, Optional

import numpy as np

from engine.errors import BackendError
from engine.status import Status
from engine.threads import hot_path
from engine.validation import check_int
from games.nash.result import NashResult, _require_two_players, _result
from games.normal_form import NormalFormGame, check_game

__all__ = ["lemke_howson"]


def _validate_lemke_howson(game: Any, initial_dropped_label: Any, maxiter: Any) -> tuple:
    where = "lemke_howson()"
    game = check_game(game, where)
    _require_two_players(game, where)
    m, n = game.shape
    label = check_int(initial_dropped_label, "initial_dropped_label", where, lower=0, upper=m + n - 1)
    maxiter = check_int(maxiter, "maxiter", where, lower=1)
    return game, label, maxiter


def _lex_min_ratio(T: np.ndarray, col: int, slack_cols: np.ndarray, tol: float) -> int:
    """Row of tableau ``T`` leaving the basis when column ``col`` enters (lexicographic rule).

    Ratios of ``[rhs, B^-1]`` rows (``B^-1`` sits in the initial slack columns) over the
    entering column are compared lexicographically, which keeps the path well defined in
    degenerate games.
    """
    column = T[:, col]
    rows = np.flatnonzero(column > tol)
    if rows.size == 0:
        raise BackendError("lemke_howson(): unbounded pivot column (payoffs not positive after shifting?)")
    keys = [T[:, -1]] + [T[:, s] for s in slack_cols]
    for key in keys:
        if rows.size == 1:
            break
        ratios = key[rows] / column[rows]
        best = ratios.min()
        scale = max(1.0, abs(best))
        rows = rows[ratios <= best + tol * scale]
    return int(rows[0])


def _pivot(T: np.ndarray, row: int, col: int) -> None:
    T[row] /= T[row, col]
    factor = T[:, col].copy()
    factor[row] = 0.0
    T -= np.outer(factor, T[row])


@hot_path
def lemke_howson(game: NormalFormGame, /, *, initial_dropped_label: int = 0, maxiter: int = 100_000,
                 threads: Optional[int] = None) -> NashResult:
    """One Nash equilibrium of a bimatrix game by the Lemke-Howson algorithm.

    Payoffs are shifted to be positive (this changes no equilibrium), then the algorithm pivots
    alternately in the tableaux of the polytopes ``{x >= 0: B.T x <= 1}`` and
    ``{y >= 0: A y <= 1}``, starting by dropping ``initial_dropped_label`` (labels ``0..m-1``
    are the row player's strategies, ``m..m+n-1`` the column player's). The minimum-ratio test
    is lexicographic, so degenerate games terminate too.

    Parameters
    ----------
    game : NormalFormGame
        A two-player game.
    initial_dropped_label : int
        The label dropped first, in ``[0, m + n)``; different labels may reach different
        equilibria.
    maxiter : int
        Pivot limit; when reached the status is ITERATION_LIMIT and no equilibrium is returned
        (the intermediate almost-complementary point is not a profile).
    threads : int, optional
        Threads for the BLAS/OpenMP work of the call (``engine.threads``; default: the engine's
        policy, one thread).

    Returns
    -------
    NashResult
        One equilibrium with its max regret; ``nit`` counts pivots.

    Examples
    --------
    >>> from games import NormalFormGame
    >>> g = NormalFormGame.from_arrays([[3, 0], [0, 2]], [[2, 0], [0, 3]])
    >>> res = lemke_howson(g)
    >>> [p.tolist() for p in res.equilibria[0]], res.max_regrets[0]
    ([[1.0, 0.0], [1.0, 0.0]], 0.0)
    """
    game, label, maxiter = _validate_lemke_howson(game, initial_dropped_label, maxiter)
    t0 = time.perf_counter()
    A, B = game.payoffs
    m, n = A.shape
    A = A - A.min() + 1.0
    B = B - B.min() + 1.0
    tol = 1e-12
    # Tableau P (n rows, for x): columns 0..m-1 = x (B.T), m..m+n-1 = slacks s, last = rhs.
    TP = np.zeros((n, m + n + 1))
    TP[:, :m] = B.T
    TP[:, m:m + n] = np.eye(n)
    TP[:, -1] = 1.0
    basisP = list(range(m, m + n))
    slackP = np.arange(m, m + n)
    # Tableau Q (m rows, for y): columns 0..m-1 = slacks r, m..m+n-1 = y (A), last = rhs.
    TQ = np.zeros((m, m + n + 1))
    TQ[:, :m] = np.eye(m)
    TQ[:, m:m + n] = A
    TQ[:, -1] = 1.0
    basisQ = list(range(m))
    slackQ = np.arange(m)

    entering = label
    # The first pivot happens in the tableau where the label is a (nonbasic) decision variable.
    use_P = label < m
    nit = 0
    status = Status.OPTIMAL
    while True:
        if nit >= maxiter:
            status = Status.ITERATION_LIMIT
            break
        T, basis, slack = (TP, basisP, slackP) if use_P else (TQ, basisQ, slackQ)
        row = _lex_min_ratio(T, entering, slack, tol)
        leaving = basis[row]
        _pivot(T, row, entering)
        basis[row] = entering
        nit += 1
        if leaving == label:
            break
        entering = leaving
        use_P = not use_P
    params = {"initial_dropped_label": label, "maxiter": maxiter}
    if status != Status.OPTIMAL:
        # an intermediate almost-complementary point is not a profile: report no equilibrium
        return _result(game, [], method="lemke_howson", params=params, runtime=time.perf_counter() - t0, nit=nit,
                       status=status, message=f"pivot limit {maxiter} reached before an equilibrium")
    x = np.zeros(m)
    y = np.zeros(n)
    for r, lab in enumerate(basisP):
        if lab < m:
            x[lab] = TP[r, -1]
    for r, lab in enumerate(basisQ):
        if lab >= m:
            y[lab - m] = TQ[r, -1]
    if x.sum() <= 0 or y.sum() <= 0:
        raise BackendError("lemke_howson(): pivoting ended without a valid profile")
    return _result(game, [(x, y)], method="lemke_howson", params=params, runtime=time.perf_counter() - t0,
                   nit=nit, message="equilibrium found")
