"""All pure-strategy equilibria of an N-player game, one compiled pass over the payoff tensor:
:func:`pure`."""

from __future__ import annotations

import time
from typing import Any, Optional

import numpy as np
from numba import njit

from engine.threads import hot_path
from engine.validation import check_real
from games.nash.result import NashResult, _result
from games.normal_form import NormalFormGame, check_game, flat_payoffs

__all__ = ["pure"]


def _validate_pure(game: Any, tol: Any) -> tuple:
    where = "pure()"
    game = check_game(game, where)
    if not (tol.__class__ is float and tol == 0.0):  # the default needs no checking
        tol = check_real(tol, "tol", where, lower=0.0)
    return game, tol


@hot_path
def pure(game: NormalFormGame, /, *, tol: float = 0.0, threads: Optional[int] = None) -> NashResult:
    """All pure-strategy Nash equilibria of an N-player game.

    A cell is an equilibrium when, for every player ``p``, its payoff is within ``tol`` of the
    maximum along axis ``p`` of ``payoffs[p]``; the test runs on the whole payoff tensor at once.

    Parameters
    ----------
    game : NormalFormGame
        Any number of players.
    tol : float
        Slack allowed in the best-response test (default 0: exact comparison).
    threads : int, optional
        Threads for the BLAS/OpenMP work of the call (``engine.threads``; default: the engine's
        policy, one thread).

    Returns
    -------
    NashResult
        Every pure equilibrium as a profile of one-hot vectors (lexicographic order of the
        cells); status INFEASIBLE when the game has none.

    Examples
    --------
    >>> from games import NormalFormGame
    >>> pd = NormalFormGame.from_arrays([[3, 0], [5, 1]], [[3, 5], [0, 1]], title="Prisoner's dilemma")
    >>> res = pure(pd)
    >>> [[int(np.argmax(v)) for v in e] for e in res.equilibria]
    [[1, 1]]
    """
    game, tol = _validate_pure(game, tol)
    t0 = time.perf_counter()
    T, shape_arr, off = flat_payoffs(game)
    K = T.shape[1]
    N, n = len(shape_arr), int(off[-1])
    cap = min(K, 64)
    while True:
        out = np.empty((cap, 1 + N + n))
        count = _k_pure(T, shape_arr, off, tol, out)
        if count <= cap:
            break
        cap = count
    bounds = [1 + N + o for o in off.tolist()]
    equilibria, pays, regrets = [], [], []
    for e in range(count):
        row = out[e]
        regrets.append(float(row[0]))
        pays.append(row[1:1 + N])
        equilibria.append(tuple([row[bounds[p]:bounds[p + 1]] for p in range(N)]))
    msg = (f"{count} pure equilibri{'um' if count == 1 else 'a'} found" if count
           else "the game has no pure-strategy Nash equilibrium")
    return _result(game, equilibria, method="pure", params={"tol": tol}, runtime=time.perf_counter() - t0,
                   nit=K, message=msg, stats=(tuple(regrets), tuple(pays)),
                   x=out[0, 1 + N:].copy() if count else None)


@njit(cache=True)
def _k_pure(T, shape, off, tol, out):  # pragma: no cover - compiled
    """The cells (in C order) where every player's payoff is within ``tol`` of the best along
    their own axis. Row ``e`` of ``out`` (while there is room) gets equilibrium ``e``: its max
    regret (the largest such shortfall, >= 0), every player's payoff, then the profile
    concatenated over players (one-hot). Returns the number of equilibria."""
    N = shape.shape[0]
    K = T.shape[1]
    cap = out.shape[0]
    stride = np.ones(N, dtype=np.int64)
    for p in range(N - 2, -1, -1):
        stride[p] = stride[p + 1] * shape[p + 1]
    count = 0
    for k in range(K):
        worst = 0.0
        ok = True
        for p in range(N):
            c = (k // stride[p]) % shape[p]
            base = k - c * stride[p]
            best = T[p, base]
            for s in range(1, shape[p]):
                v = T[p, base + s * stride[p]]
                if v > best:
                    best = v
            if not T[p, k] >= best - tol:
                ok = False
                break
            gain = best - T[p, k]
            if gain > worst:
                worst = gain
        if ok:
            if count < cap:
                row = out[count]
                row[:] = 0.0
                row[0] = worst
                for p in range(N):
                    row[1 + p] = T[p, k]
                    row[1 + N + off[p] + (k // stride[p]) % shape[p]] = 1.0
            count += 1
    return count
