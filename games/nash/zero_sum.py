"""Two-player zero-sum (or constant-sum) games by one LP on HiGHS: :func:`zero_sum_lp` and the
reusable :class:`MatrixGameLP` (also behind Shapley iteration and minimax winners)."""

from __future__ import annotations

import time
from typing import Any, Optional

import numpy as np

from engine.errors import BackendError, UnsupportedProblemError
from engine.status import Status
from engine.threads import hot_path
from games.nash.result import NashResult, _require_two_players, _result
from games.normal_form import NormalFormGame, check_game
from solvers.highs import LinearModel

__all__ = ["MatrixGameLP", "zero_sum_lp"]


def _validate_zero_sum_lp(game: Any) -> NormalFormGame:
    where = "zero_sum_lp()"
    game = check_game(game, where)
    _require_two_players(game, where)
    if not game.is_constant_sum(tol=1e-12):
        raise UnsupportedProblemError(f"{where}: the game is not zero-sum or constant-sum "
                                      f"(payoff sums range over [{np.min(sum(game.payoffs))}, "
                                      f"{np.max(sum(game.payoffs))}])")
    return game


class MatrixGameLP:
    """The LP of a zero-sum matrix game for one shape, built once and re-solved for new payoffs.

    ``max v  s.t.  Q^T x >= v 1,  sum x = 1,  x >= 0`` for the row player (maximiser) of ``Q``
    (shape ``(n, m)``); the column player's optimal strategy comes from the row duals. Re-solving
    with another ``Q`` of the same shape changes only the coefficients that differ. ``Q`` is shifted
    so every entry is >= 1 (the value shifts by the same constant, and no coefficient becomes 0,
    which HiGHS would drop from the matrix).
    """

    def __init__(self, n: int, m: int, *, where: str = "MatrixGameLP") -> None:
        self.n, self.m, self.where = n, m, where
        A = np.zeros((m + 1, n + 1))
        A[:m, :n] = 1.0  # placeholder pattern, overwritten by every solve
        A[:m, n] = -1.0
        A[m, :n] = 1.0
        lower = np.concatenate([np.zeros(m), [1.0]])
        upper = np.concatenate([np.full(m, np.inf), [1.0]])
        c = np.zeros(n + 1)
        c[n] = 1.0
        col_lower = np.concatenate([np.zeros(n), [-np.inf]])
        self.model = LinearModel(c, A, lower, upper, col_lower=col_lower, col_upper=np.inf, sense="max")
        self.rows = np.repeat(np.arange(m), n)
        self.cols = np.tile(np.arange(n), m)
        self.current: Optional[np.ndarray] = None
        self.solves = 0

    def solve(self, Q: np.ndarray) -> tuple[float, np.ndarray, np.ndarray, int]:
        """``(value, row strategy, column strategy, simplex iterations)`` of the game ``Q``."""
        shift = 1.0 - float(Q.min())
        Qs = Q + shift
        if self.current is None or not np.array_equal(self.current, Qs):
            vals = Qs.T.ravel()  # row j of the LP holds column j of Q
            if self.current is None:
                self.model.set_coefficients(self.rows, self.cols, vals)
            else:
                changed = np.flatnonzero(self.current.T.ravel() != vals)
                self.model.set_coefficients(self.rows[changed], self.cols[changed], vals[changed])
            self.current = Qs.copy()
        res = self.model.solve()
        self.solves += 1
        if res.status != Status.OPTIMAL or res.row_dual is None:
            raise BackendError(f"{self.where}: HiGHS failed on a matrix game LP: {res.status.value}: {res.message}")
        x = np.clip(res.x[:self.n], 0, None)
        x /= x.sum()
        y = np.abs(np.asarray(res.row_dual[:self.m], dtype=float))
        y = y / y.sum() if y.sum() > 0 else np.full(self.m, 1.0 / self.m)
        return float(res.x[self.n]) - shift + 0.0, x, y, int(res.nit)


@hot_path
def zero_sum_lp(game: NormalFormGame, /, *, threads: Optional[int] = None) -> NashResult:
    """The value and optimal strategies of a two-player zero-sum (or constant-sum) game by LP.

    One LP on HiGHS: maximise ``v`` subject to ``A.T @ x >= v``, ``sum(x) = 1``, ``x >= 0``
    (``A`` = the row player's payoffs). Its row duals are the column player's optimal strategy,
    so a single solve certifies both sides.

    Parameters
    ----------
    game : NormalFormGame
        A two-player game whose payoffs sum to a constant in every cell.
    threads : int, optional
        Threads for the BLAS/OpenMP work of the call (``engine.threads``; default: the engine's
        policy, one thread).

    Returns
    -------
    NashResult
        One equilibrium (both optimal strategies); ``value`` is the row player's value.

    Raises
    ------
    UnsupportedProblemError
        For more than two players or a game that is not constant-sum.

    Examples
    --------
    >>> from games import NormalFormGame
    >>> rps = NormalFormGame.zero_sum([[0, -1, 1], [1, 0, -1], [-1, 1, 0]])
    >>> res = zero_sum_lp(rps)
    >>> round(res.value, 9), res.equilibria[0][0].round(6).tolist()
    (0.0, [0.333333, 0.333333, 0.333333])
    """
    game = _validate_zero_sum_lp(game)
    t0 = time.perf_counter()
    A = game.payoffs[0]
    m, n = A.shape
    value, x, y, nit = MatrixGameLP(m, n, where="zero_sum_lp()").solve(A)
    params = {"constant": float(np.mean(sum(game.payoffs)))}
    res = _result(game, [(x, y)], method="zero_sum_lp", params=params, runtime=time.perf_counter() - t0,
                  nit=nit, value=value, backend="highs")
    return res
