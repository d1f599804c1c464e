"""Nash equilibria of normal-form games.

One function per method and a dispatcher:

- :func:`zero_sum_lp` -- two-player zero-sum (or constant-sum) games by one LP on HiGHS; the
  column player's optimal strategy comes from the duals of the same LP.
- :func:`lemke_howson` -- one equilibrium of a bimatrix game by complementary pivoting with a
  lexicographic minimum-ratio test (so degenerate games do not cycle).
- :func:`support_enumeration` -- all equilibria of a nondegenerate bimatrix game.
- :func:`vertex_enumeration` -- all extreme equilibria of any bimatrix game, degenerate ones
  included, in exact arithmetic, with the maximal Nash subsets ("cliques") and the connected
  components of the equilibrium set.
- :func:`pure` -- all pure-strategy equilibria of an N-player game, vectorised over the payoff
  tensor.
- :func:`solve` -- ``method="auto"`` picks one of the above.

Every equilibrium in a :class:`NashResult` carries its ``max_regret`` computed by
:meth:`games.NormalFormGame.max_regret`.
"""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Optional, cast

import numpy as np
from numba import njit

from engine.errors import BackendError, InvalidInputError, UnsupportedProblemError
from engine.result import SolveResult
from engine.status import Status
from engine.threads import current_threads, default_threads, hot_path
from engine.validation import check_choice, check_int, check_real, check_time_limit
from games.normal_form import NormalFormGame, batch_payoffs_and_regrets, flat_payoffs
from games.qre_path import _k_lu, _k_lu_solve

__all__ = ["NashResult", "VertexEnumerationResult", "solve", "zero_sum_lp", "lemke_howson", "support_enumeration",
           "vertex_enumeration", "pure", "METHODS"]

#: Method names accepted by :func:`solve`.
METHODS = ("auto", "zero_sum_lp", "lemke_howson", "support_enumeration", "vertex_enumeration", "pure")

_MAX_DENOMINATOR = 10**6  # vertex enumeration reads a float payoff as a fraction up to this denominator


@dataclass(frozen=True, kw_only=True)
class NashResult(SolveResult):
    """Nash equilibria of a normal-form game.

    Attributes
    ----------
    equilibria : tuple of tuple of numpy.ndarray
        Each equilibrium is a profile: one probability vector per player.
    max_regrets : tuple of float
        ``max_regrets[k]`` is ``game.max_regret(equilibria[k])`` (0 at an exact equilibrium).
    payoffs : tuple of numpy.ndarray
        ``payoffs[k][p]``: player ``p``'s expected payoff in equilibrium ``k``.
    value : float
        The row player's value of a zero-sum / constant-sum game (``nan`` otherwise).

    Notes
    -----
    Core fields: ``x`` is the first equilibrium concatenated (``None`` when there is none);
    ``objective`` is its max regret (equilibrium finding as regret minimisation, so ``bound``
    is 0 and ``gap`` equals ``objective``).
    """

    equilibria: tuple = ()
    max_regrets: tuple = ()
    payoffs: tuple = ()
    value: float = math.nan

    @property
    def max_regret(self) -> float:
        """The largest max regret over all returned equilibria (``nan`` when there is none)."""
        return float(max(self.max_regrets)) if self.max_regrets else math.nan

    @property
    def n_equilibria(self) -> int:
        return len(self.equilibria)


# ---------------------------------------------------------------------------- helpers
def _check_game(game: Any, where: str) -> NormalFormGame:
    if not isinstance(game, NormalFormGame):
        raise InvalidInputError(f"{where}: game must be a games.NormalFormGame, got {type(game).__name__}")
    return game


def _require_two_players(game: NormalFormGame, where: str) -> None:
    if game.n_players != 2:
        raise UnsupportedProblemError(f"{where}: needs a two-player (bimatrix) game, got {game.n_players} players")


def _profile(vectors: Any) -> tuple:
    out = []
    for v in vectors:
        a = np.array(v, dtype=np.float64)
        a[a < 0] = 0.0
        s = a.sum()
        if s > 0:
            a /= s
        out.append(a)
    return tuple(out)


def _threads_in_force() -> int:
    n = current_threads()
    return int(n) if n is not None else default_threads()


def _result(game: NormalFormGame, equilibria: list, *, method: str, params: dict, runtime: float, nit: int = 0,
            value: float = math.nan, status: Optional[Status] = None, message: str = "",
            backend: str = "numpy", result_cls: type = NashResult, extra: Optional[dict] = None,
            stats: Optional[tuple] = None, x: Optional[np.ndarray] = None) -> NashResult:
    """The result of ``equilibria`` (normalised here); ``stats`` = (regrets, payoffs) and ``x``
    (the first equilibrium concatenated) when the caller has them already (pure equilibria read
    them off the payoff tensor)."""
    if stats is None:
        eqs = tuple(_profile(e) for e in equilibria)
        if eqs:
            P, R = batch_payoffs_and_regrets(game, np.array([np.concatenate(e) for e in eqs]))
            regrets, pays = tuple(R.tolist()), tuple(P)
        else:
            regrets, pays = (), ()
    else:
        eqs = tuple(equilibria)
        regrets, pays = stats
    if status is None:
        status = Status.OPTIMAL if eqs else Status.INFEASIBLE
    if x is None and eqs:
        x = np.concatenate(eqs[0])
    obj = regrets[0] if eqs else math.nan
    if not message:
        message = f"{len(eqs)} equilibri{'um' if len(eqs) == 1 else 'a'} found"
    params["threads"] = _threads_in_force()
    return result_cls(status=status, message=message, x=x, objective=obj, bound=0.0 if eqs else math.nan,
                      gap=obj, nit=nit, runtime=runtime, method=method, backend=backend, params=params,
                      equilibria=eqs, max_regrets=regrets, payoffs=pays, value=value, **(extra or {}))


def _dedupe(equilibria: list, decimals: int = 9) -> list:
    if len(equilibria) < 2:
        return list(equilibria)
    keys = np.round(np.array([np.concatenate(e) for e in equilibria]), decimals) + 0.0  # -0.0 -> 0.0
    seen = set()
    out = []
    for e, key in zip(equilibria, map(tuple, keys.tolist())):
        if key not in seen:
            seen.add(key)
            out.append(e)
    return out


# ---------------------------------------------------------------------------- zero-sum LP
def _validate_zero_sum_lp(game: Any) -> NormalFormGame:
    where = "zero_sum_lp()"
    game = _check_game(game, where)
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
        from solvers.highs import LinearModel

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


# ---------------------------------------------------------------------------- Lemke-Howson
def _validate_lemke_howson(game: Any, initial_dropped_label: Any, maxiter: Any) -> tuple:
    where = "lemke_howson()"
    game = _check_game(game, where)
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


# ---------------------------------------------------------------------------- support enumeration
def _validate_support_enumeration(game: Any, tol: Any) -> tuple:
    where = "support_enumeration()"
    game = _check_game(game, where)
    _require_two_players(game, where)
    tol = check_real(tol, "tol", where, lower=0.0)
    return game, tol


@njit(cache=True, error_model="numpy")
def _k_indifference(U, I, J, k, transpose, S, Sc, piv, sol):  # pragma: no cover - compiled
    """Solve ``[M, -1; 1, 0] [z; w] = [0; 1]`` with ``M = U[I, J]`` (``U[I, J].T`` with
    ``transpose``) into ``sol``; False when the system is singular or the solution is not
    finite or leaves a residual above ``1e-9 * (1 + max|S| * max|sol|)``."""
    for a in range(k):
        for b in range(k):
            v = U[I[b], J[a]] if transpose else U[I[a], J[b]]
            S[a, b] = v
        S[a, k] = -1.0
        S[k, a] = 1.0
    S[k, k] = 0.0
    big = 1.0
    for a in range(k + 1):
        for b in range(k + 1):
            Sc[a, b] = S[a, b]
            if abs(S[a, b]) > big:
                big = abs(S[a, b])
    m = k + 1
    if _k_lu(S, piv, m) != 0:
        return False
    for i in range(m):
        sol[i] = 0.0
    sol[k] = 1.0
    _k_lu_solve(S, piv, sol, sol, m)  # in place: it copies b into x before anything else
    smax = 0.0
    for i in range(m):
        if not np.isfinite(sol[i]):
            return False
        if abs(sol[i]) > smax:
            smax = abs(sol[i])
    resid = 0.0
    for a in range(m):
        acc = -1.0 if a == k else 0.0
        for b in range(m):
            acc += Sc[a, b] * sol[b]
        if abs(acc) > resid:
            resid = abs(acc)
    return resid <= 1e-9 * (1.0 + big * smax)


@njit(cache=True, error_model="numpy")
def _next_combination(c, k, n):  # pragma: no cover - compiled
    """Advance ``c[:k]`` to the next k-subset of ``range(n)`` in lexicographic order (False at the end)."""
    i = k - 1
    while i >= 0 and c[i] == n - k + i:
        i -= 1
    if i < 0:
        return False
    c[i] += 1
    for j in range(i + 1, k):
        c[j] = c[j - 1] + 1
    return True


@njit(cache=True, error_model="numpy")
def _k_support_enumeration(A, B, tol, xs, ys):  # pragma: no cover - compiled
    """Every equal-size support pair in the order (size, row support, column support), both
    indifference systems solved, the pair kept when both mixes are >= -tol and best responses
    within ``tol``. Stores up to ``len(xs)`` equilibria; returns ``(found, pairs)``."""
    m, n = A.shape
    kmax = min(m, n)
    cap = xs.shape[0]
    S = np.empty((kmax + 1, kmax + 1))
    Sc = np.empty((kmax + 1, kmax + 1))
    piv = np.empty(kmax + 1, dtype=np.int64)
    ysol = np.empty(kmax + 1)
    xsol = np.empty(kmax + 1)
    I = np.empty(kmax, dtype=np.int64)
    J = np.empty(kmax, dtype=np.int64)
    x = np.empty(m)
    y = np.empty(n)
    found = 0
    pairs = 0
    for k in range(1, kmax + 1):
        for i in range(k):
            I[i] = i
        more_rows = True
        while more_rows:
            for j in range(k):
                J[j] = j
            more_cols = True
            while more_cols:
                pairs += 1
                ok = _k_indifference(A, I, J, k, False, S, Sc, piv, ysol)
                if ok:
                    for j in range(k):
                        if ysol[j] < -tol:
                            ok = False
                if ok:
                    ok = _k_indifference(B, I, J, k, True, S, Sc, piv, xsol)
                    if ok:
                        for i in range(k):
                            if xsol[i] < -tol:
                                ok = False
                if ok:
                    x[:] = 0.0
                    y[:] = 0.0
                    sx = 0.0
                    sy = 0.0
                    for i in range(k):
                        x[I[i]] = max(xsol[i], 0.0)
                        sx += x[I[i]]
                    for j in range(k):
                        y[J[j]] = max(ysol[j], 0.0)
                        sy += y[J[j]]
                    for i in range(m):
                        x[i] /= sx
                    for j in range(n):
                        y[j] /= sy
                    # best responses: max(A y) <= x A y + tol and max(x B) <= x B y + tol
                    best = -np.inf
                    val = 0.0
                    for i in range(m):
                        acc = 0.0
                        for j in range(n):
                            acc += A[i, j] * y[j]
                        if acc > best:
                            best = acc
                        val += x[i] * acc
                    good = best <= val + tol
                    if good:
                        best = -np.inf
                        val = 0.0
                        for j in range(n):
                            acc = 0.0
                            for i in range(m):
                                acc += x[i] * B[i, j]
                            if acc > best:
                                best = acc
                            val += acc * y[j]
                        good = best <= val + tol
                    if good:
                        if found < cap:
                            xs[found, :] = x
                            ys[found, :] = y
                        found += 1
                more_cols = _next_combination(J, k, n)
            more_rows = _next_combination(I, k, m)
    return found, pairs


@hot_path
def support_enumeration(game: NormalFormGame, /, *, tol: float = 1e-10, threads: Optional[int] = None) -> NashResult:
    """All Nash equilibria of a nondegenerate bimatrix game by support enumeration.

    For every pair of supports ``I`` (rows) and ``J`` (columns) of equal size ``k`` the
    indifference systems are solved -- the column mix ``y`` on ``J`` makes every row in ``I``
    earn the same, the row mix ``x`` on ``I`` makes every column in ``J`` earn the same -- and
    the pair is kept when both mixes are nonnegative and no strategy outside the supports earns
    more (within ``tol``). The loop over support pairs and the systems' LU factorisations run in
    one compiled kernel (a few hundred nanoseconds per pair for small supports).
    The number of support pairs grows like ``C(m, k) * C(n, k)``: use it for small games
    (10 x 10 has 184,755 pairs).

    Parameters
    ----------
    game : NormalFormGame
        A two-player game.
    tol : float
        Tolerance for nonnegativity and for the best-response checks.
    threads : int, optional
        Threads for the BLAS/OpenMP work of the call (``engine.threads``; default: the engine's
        policy, one thread).

    Returns
    -------
    NashResult
        Every equilibrium found (duplicates removed), each with its max regret.

    Notes
    -----
    In a nondegenerate game every equilibrium has supports of equal size and a nonsingular
    indifference system, so the list is complete. In a degenerate game the method returns the
    equilibria that do have equal-size supports and nonsingular systems (extreme points of a
    component included when they qualify) and may miss others, e.g. equilibria with supports
    of different sizes or the interior of a continuum; every returned profile is still checked
    to be an equilibrium within ``tol``. :func:`vertex_enumeration` finds every extreme
    equilibrium of any bimatrix game.

    Examples
    --------
    >>> from games import NormalFormGame
    >>> g = NormalFormGame.from_arrays([[3, 0], [0, 2]], [[2, 0], [0, 3]])
    >>> res = support_enumeration(g)
    >>> res.n_equilibria
    3
    """
    game, tol = _validate_support_enumeration(game, tol)
    t0 = time.perf_counter()
    A, B = (np.ascontiguousarray(U) for U in game.payoffs)
    m, n = A.shape
    cap = 64
    while True:
        xs, ys = np.empty((cap, m)), np.empty((cap, n))
        count, n_systems = _k_support_enumeration(A, B, float(tol), xs, ys)
        if count <= cap:
            break
        cap = count
    found = _dedupe([(xs[i], ys[i]) for i in range(count)])
    params = {"tol": tol, "systems": n_systems}
    return _result(game, found, method="support_enumeration", params=params, runtime=time.perf_counter() - t0,
                   nit=n_systems)


# ---------------------------------------------------------------------------- vertex enumeration
@dataclass(frozen=True, kw_only=True)
class VertexEnumerationResult(NashResult):
    """All extreme Nash equilibria of a bimatrix game, with its maximal Nash subsets and components.

    Attributes
    ----------
    rational : tuple
        ``rational[k][p][s]``: the exact probability of strategy ``s`` of player ``p`` in
        equilibrium ``k`` as a string ``"num/den"`` (``fractions.Fraction`` reads it back).
    row_strategies, column_strategies : tuple of numpy.ndarray
        The distinct mixed strategies of each player that occur in some extreme equilibrium
        (normalised vertices of the best-response polytopes), in decreasing lexicographic order.
    pairs : tuple of tuple of int
        ``pairs[k] = (i, j)``: equilibrium ``k`` is ``(row_strategies[i], column_strategies[j])``;
        the equilibria are sorted by ``(i, j)``.
    cliques : tuple of tuple of tuple of int
        The maximal Nash subsets ("cliques"): ``(rows, cols)`` with every ``i`` in ``rows``
        forming an equilibrium with every ``j`` in ``cols``; every profile in
        ``conv(row_strategies[rows]) x conv(column_strategies[cols])`` is then an equilibrium,
        and no row or column index can be added.
    components : tuple of tuple of int
        The connected components of the set of equilibria, each as the indices of the extreme
        equilibria it contains; cliques that share a row or column strategy lie in one
        component. A nondegenerate game has one single-equilibrium component per equilibrium.
    clique_components : tuple of int
        ``clique_components[c]``: the index in ``components`` of clique ``c``.
    vertex_counts : tuple of int
        The numbers of vertices of the two best-response polytopes (the origin excluded).
    """

    rational: tuple = ()
    row_strategies: tuple = ()
    column_strategies: tuple = ()
    pairs: tuple = ()
    cliques: tuple = ()
    components: tuple = ()
    clique_components: tuple = ()
    vertex_counts: tuple = ()

    @property
    def n_components(self) -> int:
        return len(self.components)


def _validate_vertex_enumeration(game: Any, time_limit: Any, maxiter: Any, max_cliques: Any) -> tuple:
    where = "vertex_enumeration()"
    game = _check_game(game, where)
    _require_two_players(game, where)
    time_limit = check_time_limit(time_limit, where)
    maxiter = check_int(maxiter, "maxiter", where, lower=1)
    max_cliques = check_int(max_cliques, "max_cliques", where, lower=1)
    return game, time_limit, maxiter, max_cliques


def _rational(value: float, cache: dict) -> Fraction:
    """The simplest fraction (denominator <= 10**6) that rounds to ``value``, else its exact binary value."""
    out = cache.get(value)
    if out is None:
        exact = Fraction(value)
        simple = exact.limit_denominator(_MAX_DENOMINATOR)
        out = cache[value] = simple if float(simple) == value else exact
    return out


_POW10 = [10**d for d in range(7)]


def _decimal(value: float) -> Optional[tuple]:
    """``(k, d)`` with ``k / 10**d == value`` for the smallest ``d <= 6``, for ``|value| < 1024``.

    Then ``k / 10**d`` is exactly what :func:`_rational` returns: it rounds to ``value`` (within
    half an ulp, below 1.2e-13 here) and every other fraction with a denominator up to ``10**6``
    lies at least ``1e-12`` from it, so it is the closest such fraction."""
    if not abs(value) < 1024.0:
        return None
    for d, p in enumerate(_POW10):
        k = round(value * p)
        if k / p == value:
            return k, d
    return None


def _integer_payoffs(U: np.ndarray, cache: dict) -> list:
    """``U`` read as rationals, shifted to be >= 1 and scaled to integers (same equilibria)."""
    vals = U.tolist()
    dec = cast(list, [[_decimal(v) for v in row] for row in vals])
    if all(x is not None for row in dec for x in row):
        # Decimals (integers included): the same integers as the rational path below, in
        # integer arithmetic: value = num / 10**D, shifted = (num - min + 10**D) / 10**D,
        # and the lcm of the reduced denominators is 10**D / gcd(all shifted numerators, 10**D).
        D = max(d for row in dec for _, d in row)
        nums = [[k * _POW10[D - d] for k, d in row] for row in dec]
        low = min(min(row) for row in nums)
        shifted = [[v - low + _POW10[D] for v in row] for row in nums]
        g = math.gcd(math.gcd(*(v for row in shifted for v in row)), _POW10[D])
        return [[v // g for v in row] for row in shifted]
    R = [[_rational(float(v), cache) for v in row] for row in vals]
    low = min(min(row) for row in R)
    shifted = [[v - low + 1 for v in row] for row in R]
    scale = math.lcm(*(v.denominator for row in shifted for v in row))
    return [[int(v * scale) for v in row] for row in shifted]


def _lex_min_row(T: list, rows: list, col: int, keys: list) -> int:
    """The leaving row for entering column ``col``: lexicographic minimum ratio over ``keys``.

    Integer cross-multiplication, no division; the key columns hold ``det * B^-1`` after the
    right-hand side, so exactly one row survives (the perturbed polytope is simple).
    """
    for key in keys:
        if len(rows) == 1:
            break
        best = [rows[0]]
        a, b = T[rows[0]][key], T[rows[0]][col]
        for r in rows[1:]:
            diff = T[r][key] * b - a * T[r][col]
            if diff < 0:
                best = [r]
                a, b = T[r][key], T[r][col]
            elif diff == 0:
                best.append(r)
        rows = best
    return rows[0]


def _polytope_vertices(M: list, *, deadline: float, budget: int) -> tuple:
    """Every vertex of ``{z >= 0: M z <= 1}`` (``M`` positive integers, shape ``(k, d)``).

    Breadth-first search over the lexicographically feasible bases -- the vertices of the
    lexicographically perturbed, hence simple, polytope -- by integer pivoting (every tableau
    entry is an integer; the common denominator is the current pivot determinant). Every vertex
    of the (possibly degenerate) polytope is the image of at least one such basis.

    Returns ``(vertices, pivots, status)``: ``vertices`` maps the reduced integer vector
    ``(z_1, ..., z_d, den)`` to the bit mask of the variables (``z`` first, then the ``k``
    slacks) that are zero at the vertex, in discovery order; ``status`` is None when complete.
    """
    k, d = len(M), len(M[0])
    width = d + k
    T0 = [list(M[r]) + [int(r == c) for c in range(k)] + [1] for r in range(k)]
    basis0 = list(range(d, d + k))
    keys = [width] + list(range(d, d + k))  # rhs first, then det * B^-1
    all_vars = (1 << width) - 1
    seen = {sum(1 << v for v in basis0)}
    queue = deque([(T0, basis0, 1)])
    vertices: dict = {}
    pivots = 0
    status = None
    while queue:
        if time.perf_counter() > deadline:
            status = Status.TIME_LIMIT
            break
        T, basis, det = queue.popleft()
        nonzero = 0
        z = [0] * d
        for r, v in enumerate(basis):
            rhs = T[r][-1]
            if rhs:
                nonzero |= 1 << v
                if v < d:
                    z[v] = rhs
        g = math.gcd(*z, det)
        vertices.setdefault(tuple(c // g for c in z) + (det // g,), all_vars & ~nonzero)
        in_basis = sum(1 << v for v in basis)
        for col in range(width):
            if in_basis >> col & 1:
                continue
            rows = [r for r in range(k) if T[r][col] > 0]
            if not rows:  # cannot happen for a bounded polytope; skip defensively
                continue
            row = _lex_min_row(T, rows, col, keys)
            key = in_basis & ~(1 << basis[row]) | (1 << col)
            if key in seen:
                continue
            if pivots >= budget:
                status = Status.ITERATION_LIMIT
                break
            pivots += 1
            seen.add(key)
            p = T[row][col]
            pivot_row = T[row]
            new = []
            for r in range(k):
                if r == row:
                    new.append(pivot_row)
                    continue
                t = T[r]
                f = t[col]
                new.append([(p * a - f * b) // det for a, b in zip(t, pivot_row)])
            nb = list(basis)
            nb[row] = col
            queue.append((new, nb, p))
        if status is not None:
            break
    return vertices, pivots, status


def _normalised(vec: tuple) -> tuple:
    """A vertex ``(z_1, ..., z_d, den)`` as the exact mixed strategy ``z / sum(z)``."""
    total = sum(vec[:-1])
    return tuple(Fraction(c, total) for c in vec[:-1])


def _maximal_bicliques(nbr_of_col: list, nbr_of_row: list, limit: int, deadline: float) -> tuple:
    """Maximal bicliques of a bipartite graph (Galois-closed sets of rows), at most ``limit``.

    Every intersection of column neighbourhoods is the row set of one maximal biclique and vice
    versa; they are built by intersecting column by column. Returns ``(cliques, status)``.
    """
    closed: set = set()
    status = None
    for nb in nbr_of_col:
        if not nb:
            continue
        if time.perf_counter() > deadline:
            status = Status.TIME_LIMIT
            break
        fresh = {nb} | {s & nb for s in closed}
        fresh.discard(0)
        closed |= fresh
        if len(closed) > limit:
            status = Status.ITERATION_LIMIT
            break
    cliques = []
    for rows in closed:
        cols = -1
        idx = [i for i in range(len(nbr_of_row)) if rows >> i & 1]
        for i in idx:
            cols &= nbr_of_row[i]
        cliques.append((tuple(idx), tuple(j for j in range(len(nbr_of_col)) if cols >> j & 1)))
    cliques.sort()
    return tuple(cliques[:limit]), status


@hot_path
def vertex_enumeration(game: NormalFormGame, /, *, time_limit: Optional[float] = None, maxiter: int = 1_000_000,
                       max_cliques: int = 10_000, threads: Optional[int] = None) -> VertexEnumerationResult:
    """All extreme Nash equilibria of a bimatrix game by exact vertex enumeration, degenerate games included.

    The payoffs are read as exact rationals, shifted to be positive and scaled to integers (this
    changes no equilibrium). Every vertex of both best-response polytopes
    ``P = {x >= 0: B.T x <= 1}`` and ``Q = {y >= 0: A y <= 1}`` is enumerated by integer
    pivoting over lexicographically feasible bases (the lexicographic rule of Avis' lrs, so
    degenerate polytopes are handled exactly); a pair of vertices ``(x, y) != (0, 0)`` whose tight
    constraints cover every pure strategy of both players ("completely labelled") is an extreme
    equilibrium once normalised, and every extreme equilibrium arises this way. This is what
    Gambit's ``enummixed`` computes.

    The extreme equilibria form a bipartite graph (row strategy -- column strategy); its maximal
    bicliques are the maximal Nash subsets (all convex combinations are equilibria, as in
    Audet, Hansen, Jaumard and Savard's EEE / Gambit's clique enumeration) and its connected
    components are the connected components of the set of all equilibria.

    Parameters
    ----------
    game : NormalFormGame
        A two-player game.
    time_limit : float, optional
        Wall-clock seconds; when reached the status is TIME_LIMIT and the result holds the
        equilibria among the vertices enumerated so far (each one exact).
    maxiter : int
        Limit on the pivots of each polytope's enumeration (ITERATION_LIMIT when reached, with
        the equilibria found so far). Each lexicographic basis after the first costs one pivot,
        and a polytope of an ``m x n`` game has at most ``C(m + n, m)`` of them.
    max_cliques : int
        Limit on the maximal Nash subsets listed; when exceeded the status is ITERATION_LIMIT
        (the equilibria are still complete, the cliques are not, and components still are).
    threads : int, optional
        Threads for the BLAS/OpenMP work of the call (``engine.threads``; default: the engine's
        policy, one thread).

    Returns
    -------
    VertexEnumerationResult
        Every extreme equilibrium (exact rationals in ``rational``) with its max regret; the
        maximal Nash subsets (``cliques``) and the connected components (``components``);
        ``nit`` counts pivots. ``value`` is the row player's value for a constant-sum game.

    Raises
    ------
    UnsupportedProblemError
        For more than two players.

    Notes
    -----
    Each float payoff is read as the simplest fraction with denominator at most ``10**6`` that
    rounds to it (so ``1/3`` or ``0.1`` from a file are exact), otherwise as its exact binary
    value. Every returned equilibrium is certified in exact arithmetic: no pure strategy earns
    more than the equilibrium payoff (a failed check raises :class:`BackendError`). The work
    grows with the number of vertices, exponential in the worst case; ``8 x 8`` games take
    well under a second.

    Examples
    --------
    A game with a continuum of equilibria: the column player is indifferent when the row
    player plays row 0, so every mix of the columns with at least half on column 0 supports it.

    >>> from games import NormalFormGame
    >>> g = NormalFormGame.from_arrays([[1, 0], [0, 1]], [[1, 1], [0, 1]])
    >>> res = vertex_enumeration(g)
    >>> res.rational
    ((('1', '0'), ('1', '0')), (('1', '0'), ('1/2', '1/2')), (('0', '1'), ('0', '1')))
    >>> res.cliques, res.components
    ((((0,), (0, 1)), ((1,), (2,))), ((0, 1), (2,)))
    >>> max(res.max_regrets)
    0.0
    """
    game, time_limit, maxiter, max_cliques = _validate_vertex_enumeration(game, time_limit, maxiter, max_cliques)
    where = "vertex_enumeration()"
    t0 = time.perf_counter()
    deadline = t0 + time_limit if time_limit is not None else math.inf
    A, B = game.payoffs
    m, n = A.shape
    cache: dict = {}
    Ai = _integer_payoffs(A, cache)
    Bi = _integer_payoffs(B, cache)
    # P: rows = column strategies j, variables x_0..x_{m-1} (label i), slacks (label m + j)
    vp, piv_p, status = _polytope_vertices([[Bi[i][j] for i in range(m)] for j in range(n)], deadline=deadline,
                                           budget=maxiter)
    vq, piv_q = {}, 0
    if status is None:
        # Q: rows = row strategies i, variables y_0..y_{n-1} (label m + j), slacks (label i)
        vq, piv_q, status = _polytope_vertices(Ai, deadline=deadline, budget=maxiter)
    full = (1 << (m + n)) - 1
    xs = [(v, lab) for v, lab in vp.items() if any(v[:-1])]
    ys = [(v, ((lab & ((1 << n) - 1)) << m) | (lab >> n)) for v, lab in vq.items() if any(v[:-1])]
    by_mask: dict = {}
    for j, (_, lab) in enumerate(ys):
        by_mask.setdefault(lab, []).append(j)
    edges: list = []
    for i, (_, lab) in enumerate(xs):
        if time.perf_counter() > deadline:
            status = status or Status.TIME_LIMIT
            break
        need = full & ~lab
        for mask, js in by_mask.items():
            if mask & need == need:
                edges.extend((i, j) for j in js)
    # exact certificate on the integer game: every strategy in a support earns the best payoff
    for i, j in edges:
        x, y = xs[i][0][:-1], ys[j][0][:-1]
        Ay = [sum(a * c for a, c in zip(row, y)) for row in Ai]
        xB = [sum(Bi[r][c] * x[r] for r in range(m)) for c in range(n)]
        if (sum(a * c for a, c in zip(x, Ay)) != max(Ay) * sum(x)
                or sum(b * c for b, c in zip(xB, y)) != max(xB) * sum(y)):
            raise BackendError(f"{where}: internal error: a completely labelled pair is not an equilibrium")
    # strategies used by some equilibrium, in decreasing lexicographic order
    rows_used = sorted({i for i, _ in edges}, key=lambda i: _normalised(xs[i][0]), reverse=True)
    cols_used = sorted({j for _, j in edges}, key=lambda j: _normalised(ys[j][0]), reverse=True)
    rpos = {i: a for a, i in enumerate(rows_used)}
    cpos = {j: b for b, j in enumerate(cols_used)}
    pairs = sorted((rpos[i], cpos[j]) for i, j in edges)
    row_exact = [_normalised(xs[i][0]) for i in rows_used]
    col_exact = [_normalised(ys[j][0]) for j in cols_used]
    # cliques (maximal Nash subsets) and connected components
    nbr_of_row = [0] * len(rows_used)
    nbr_of_col = [0] * len(cols_used)
    for a, b in pairs:
        nbr_of_row[a] |= 1 << b
        nbr_of_col[b] |= 1 << a
    cliques, clique_status = _maximal_bicliques(nbr_of_col, nbr_of_row, max_cliques, deadline)
    parent = list(range(len(rows_used) + len(cols_used)))

    def find(u: int) -> int:
        while parent[u] != u:
            parent[u] = parent[parent[u]]
            u = parent[u]
        return u

    for a, b in pairs:
        parent[find(a)] = find(len(rows_used) + b)
    comp_of_root: dict = {}
    members: list = []
    for k, (a, _) in enumerate(pairs):
        c = comp_of_root.setdefault(find(a), len(comp_of_root))
        if c == len(members):
            members.append([])
        members[c].append(k)
    clique_components = tuple(comp_of_root[find(rows[0])] for rows, _ in cliques)
    equilibria = [(np.array([float(v) for v in row_exact[a]]), np.array([float(v) for v in col_exact[b]]))
                  for a, b in pairs]
    rational = tuple((tuple(str(v) for v in row_exact[a]), tuple(str(v) for v in col_exact[b])) for a, b in pairs)
    value = math.nan
    if equilibria and game.is_constant_sum():
        value = float(game.expected_payoffs(list(_profile(equilibria[0])))[0])
    params = {"time_limit": time_limit, "maxiter": maxiter, "max_cliques": max_cliques}
    n_eq, n_comp = len(pairs), len(members)
    message = (f"{n_eq} extreme equilibri{'um' if n_eq == 1 else 'a'} in {n_comp} "
               f"component{'' if n_comp == 1 else 's'}, {len(cliques)} maximal Nash subset"
               f"{'' if len(cliques) == 1 else 's'} ({len(xs)} + {len(ys)} polytope vertices)")
    if status == Status.TIME_LIMIT:
        message = f"time limit {time_limit} s reached; partial list: " + message
    elif status == Status.ITERATION_LIMIT:
        message = f"pivot limit {maxiter} reached; partial list: " + message
    elif clique_status is not None:
        status = clique_status
        message = (f"{'time limit' if clique_status == Status.TIME_LIMIT else f'clique limit {max_cliques}'} "
                   f"reached while listing maximal Nash subsets (equilibria and components complete): " + message)
    extra = {"rational": rational, "row_strategies": tuple(np.array([float(v) for v in r]) for r in row_exact),
             "column_strategies": tuple(np.array([float(v) for v in c]) for c in col_exact), "pairs": tuple(pairs),
             "cliques": cliques, "components": tuple(tuple(c) for c in members),
             "clique_components": clique_components, "vertex_counts": (len(xs), len(ys))}
    res = _result(game, equilibria, method="vertex_enumeration", params=params, runtime=time.perf_counter() - t0,
                  nit=piv_p + piv_q, value=value, status=status, message=message, result_cls=VertexEnumerationResult,
                  extra=extra)
    return cast(VertexEnumerationResult, res)


# ---------------------------------------------------------------------------- pure equilibria
def _validate_pure(game: Any, tol: Any) -> tuple:
    where = "pure()"
    game = _check_game(game, where)
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


# ---------------------------------------------------------------------------- dispatcher
_METHOD_OPTIONS = {
    "zero_sum_lp": {"threads"},
    "lemke_howson": {"initial_dropped_label", "maxiter", "threads"},
    "support_enumeration": {"tol", "threads"},
    "vertex_enumeration": {"time_limit", "maxiter", "max_cliques", "threads"},
    "pure": {"tol", "threads"},
}


@hot_path
def solve(game: NormalFormGame, /, method: str = "auto", *, all_equilibria: bool = False, **options: Any) -> NashResult:
    """Nash equilibria of a normal-form game; ``method="auto"`` picks the algorithm.

    ``"auto"`` chooses, for two players: :func:`vertex_enumeration` when
    ``all_equilibria=True`` (every extreme equilibrium, degenerate games included), else the
    LP (:func:`zero_sum_lp`) for zero-sum / constant-sum games and :func:`lemke_howson` for the
    others; for three or more players :func:`pure` (pure-strategy equilibria only -- the
    result's message says so, and its status is INFEASIBLE when the game has none).

    Parameters
    ----------
    game : NormalFormGame
    method : {"auto", "zero_sum_lp", "lemke_howson", "support_enumeration", "vertex_enumeration", "pure"}
    all_equilibria : bool
        With ``"auto"`` on a two-player game, enumerate all extreme equilibria by exact vertex
        enumeration (with the maximal Nash subsets and components) instead of finding one.
    **options
        Passed to the chosen method (``initial_dropped_label``, ``maxiter``, ``tol``,
        ``time_limit``, ``max_cliques``, ``threads``); an option the method does not take raises
        :class:`InvalidInputError`.

    Examples
    --------
    >>> from games import NormalFormGame
    >>> mp = NormalFormGame.zero_sum([[1, -1], [-1, 1]])
    >>> res = solve(mp)
    >>> res.method, res.value
    ('zero_sum_lp', 0.0)
    >>> res = solve(NormalFormGame.from_arrays([[1, 1], [1, 1]], [[1, 1], [1, 1]]), all_equilibria=True)
    >>> res.method, res.n_equilibria, res.components
    ('vertex_enumeration', 4, ((0, 1, 2, 3),))
    """
    where = "solve()"
    game = _check_game(game, where)
    check_choice(method, "method", where, METHODS)
    if not isinstance(all_equilibria, (bool, np.bool_)):
        raise InvalidInputError(f"{where}: all_equilibria must be a bool, got {all_equilibria!r}")
    note = ""
    if method == "auto":
        if game.n_players == 2 and all_equilibria:
            method = "vertex_enumeration"
        elif game.n_players == 2 and game.is_constant_sum():
            method = "zero_sum_lp"
        elif game.n_players == 2:
            method = "lemke_howson"
        else:
            method = "pure"
            note = (f"{game.n_players}-player game: method 'auto' enumerates pure-strategy equilibria only; ")
    unknown = set(options) - _METHOD_OPTIONS[method]
    if unknown:
        raise InvalidInputError(f"{where}: method {method!r} takes no option(s) {sorted(unknown)}; "
                                f"it takes {sorted(_METHOD_OPTIONS[method]) or 'none'}")
    func = {"zero_sum_lp": zero_sum_lp, "lemke_howson": lemke_howson,
            "support_enumeration": support_enumeration, "vertex_enumeration": vertex_enumeration,
            "pure": pure}[method]
    res = func(game, **options)
    if note:
        import dataclasses

        res = dataclasses.replace(res, message=note + res.message,
                                  params={**res.params, "auto": True})
    return res
