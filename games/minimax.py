"""Minimax winners (maximal lotteries) of a preference matrix, by LP on HiGHS.

Given ``P[i, j]`` = the probability that alternative ``i`` beats ``j`` (so
``P[i, j] + P[j, i] = 1`` for ``i != j``), the margin matrix ``M = P - P.T`` is skew-symmetric
and defines a symmetric zero-sum game of value 0. Its optimal strategies -- lotteries ``p``
with ``p @ M >= 0`` componentwise, i.e. no alternative beats ``p`` in expectation -- are the
minimax winners (Kreweras 1965; Fishburn's maximal lotteries).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.errors import InvalidInputError
from engine.result import SolveResult
from engine.status import Status
from engine.validation import as_float_array
from games.nash import MatrixGameLP

__all__ = ["MinimaxWinnerResult", "minimax_winner"]


@dataclass(frozen=True, kw_only=True)
class MinimaxWinnerResult(SolveResult):
    """A minimax winner.

    Attributes
    ----------
    distribution : numpy.ndarray
        The winning lottery over the alternatives (also ``x``).
    value : float
        The LP's game value (0 up to solver tolerance, by skew-symmetry); also ``objective``.
    margin : float
        The certificate ``min_j (p @ M)[j]``: the worst expected margin of the lottery against
        any single alternative (``>= 0`` exactly, ``>= -1e-9`` numerically).
    margins : numpy.ndarray
        ``p @ M`` for every alternative.
    """

    distribution: Any = None
    value: float = math.nan
    margin: float = math.nan
    margins: Any = None


def _validate_minimax_winner(P: Any, tol: float = 1e-9) -> np.ndarray:
    where = "minimax_winner()"
    P = as_float_array(P, "P", where, ndim=2)
    n, k = P.shape
    if n != k:
        raise InvalidInputError(f"{where}: P must be square, got shape {P.shape}")
    if n == 0:
        raise InvalidInputError(f"{where}: P must have at least one alternative")
    off = ~np.eye(n, dtype=bool)
    bad = np.argwhere(off & ((P < 0) | (P > 1)))
    if bad.size:
        i, j = (int(v) for v in bad[0])
        raise InvalidInputError(f"{where}: P[{i}, {j}] must lie in [0, 1], got {float(P[i, j])!r}")
    diag_bad = np.flatnonzero((np.diag(P) < 0) | (np.diag(P) > 1))
    if diag_bad.size:
        i = int(diag_bad[0])
        raise InvalidInputError(f"{where}: P[{i}, {i}] must lie in [0, 1], got {float(P[i, i])!r}")
    S = P + P.T
    bad = np.argwhere(off & (np.abs(S - 1.0) > tol))
    if bad.size:
        i, j = (int(v) for v in bad[0])
        raise InvalidInputError(f"{where}: P[{i}, {j}] + P[{j}, {i}] must equal 1 (within {tol}), got "
                                f"{float(P[i, j])!r} + {float(P[j, i])!r} = {float(S[i, j])!r}")
    return P


def minimax_winner(P: Any, /) -> MinimaxWinnerResult:
    """The minimax winner (maximal lottery) of a pairwise preference matrix.

    Solves ``max v`` s.t. ``M.T @ p >= v``, ``sum(p) = 1``, ``p >= 0`` with ``M = P - P.T``
    on HiGHS. The diagonal of ``P`` is ignored. When several lotteries are optimal (possible
    with ties or an even number of alternatives) a vertex of the optimal set is returned;
    with an odd number of alternatives and no ties the lottery is unique.

    Parameters
    ----------
    P : array_like, shape (n, n)
        ``P[i, j]`` = probability that ``i`` beats ``j``; entries in [0, 1] and
        ``P[i, j] + P[j, i] = 1`` off the diagonal (within 1e-9).

    Returns
    -------
    MinimaxWinnerResult

    Raises
    ------
    InvalidInputError
        Non-square, non-finite, outside [0, 1] or not summing to 1 (the message names the entry).

    Examples
    --------
    >>> rps = [[0.5, 0.0, 1.0], [1.0, 0.5, 0.0], [0.0, 1.0, 0.5]]
    >>> minimax_winner(rps).distribution.round(6).tolist()
    [0.333333, 0.333333, 0.333333]
    >>> minimax_winner([[0.5, 0.7], [0.3, 0.5]]).distribution.round(9).tolist()
    [1.0, 0.0]
    """
    P = _validate_minimax_winner(P)
    t0 = time.perf_counter()
    n = P.shape[0]
    M = P - P.T
    np.fill_diagonal(M, 0.0)
    value, p, _, nit = MatrixGameLP(n, n, where="minimax_winner()").solve(M)
    margins = p @ M
    return MinimaxWinnerResult(status=Status.OPTIMAL, message="minimax winner found", x=p, objective=value,
                               bound=0.0, gap=abs(value), nit=nit, runtime=time.perf_counter() - t0,
                               method="lp", backend="highs", params={"n": n}, distribution=p, value=value,
                               margin=float(margins.min()), margins=margins)
