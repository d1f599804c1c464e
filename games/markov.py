"""Two-player zero-sum Markov (stochastic) games: Shapley and soft (entropy-regularised) values.

A :class:`ZeroSumMarkovGame` has finitely many states; in state ``s`` the maximiser (player 0,
the *protagonist*) has ``n_s`` actions and the minimiser (player 1, the *adversary*) ``m_s``;
the reward ``R[s][i, j]`` goes to the maximiser and ``P[s][i, j, :]`` is the next-state
distribution. Values are discounted by ``gamma < 1``.

Solvers
-------
* :func:`shapley` -- Shapley's value iteration ``V <- val(R[s] + gamma P[s] V)``, where ``val`` is
  the value of a matrix game, computed by **one LP per state** on :class:`solvers.LinearModel`.
  One model is built per distinct action-set shape and re-solved after changing only the
  payoff coefficients (HiGHS warm-starts from the previous basis).
* :func:`soft` -- soft minimax value iteration with separate temperatures: the protagonist
  maximises ``reward + alpha * entropy``, the adversary maximises ``-reward + beta * entropy``.
  The per-state regularised matrix game ``max_x min_y x'Qy + alpha H(x) - beta H(y)`` is strictly
  concave-convex, so its saddle point is unique: it is the logit QRE of the bimatrix game
  ``(Q, -Q)`` at precisions ``(1/alpha, 1/beta)``. It is found by Newton's method on the
  log-space fixed point (:func:`soft_matrix_game`). As both temperatures go to 0 the soft
  value converges to the Shapley value: ``|V_soft - V*| <= (alpha log n + beta log m) / (1 - gamma)``.

Policy tools used by :mod:`games.qarl`: :func:`evaluate` (exact policy evaluation),
:func:`best_response` (the adversary's (soft) best response to a protagonist policy) and
:func:`exploitability`.

Every public function runs under the engine's thread policy (:mod:`engine.threads`: one BLAS /
OpenMP thread inside the call by default, ``threads=k`` to change it; the caller's settings are
restored on return).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence

import numpy as np

from engine.errors import BackendError, InvalidInputError
from engine.events import Iteration, emit
from engine.result import SolveResult
from engine.seeding import resolve_seed
from engine.status import Status
from engine.threads import current_threads, default_threads, hot_path
from engine.validation import as_float_array, check_choice, check_int, check_real
from games.nash import MatrixGameLP
from games.normal_form import NormalFormGame

__all__ = ["ZeroSumMarkovGame", "MarkovSolution", "SoftMatrixSolution", "shapley", "soft", "solve",
           "soft_matrix_game", "matrix_game_value", "evaluate", "best_response", "exploitability",
           "random_markov_game"]

_NEG = -1e300


# ============================================================================ the game
class ZeroSumMarkovGame:
    """A finite two-player zero-sum discounted Markov game.

    Parameters
    ----------
    transitions : array_like or sequence of array_like
        Either one array of shape ``(S, N, M, S)`` (every state has ``N`` x ``M`` actions) or a
        list of ``S`` arrays, ``transitions[s]`` of shape ``(n_s, m_s, S)``; each
        ``transitions[s][i, j]`` is a probability distribution over next states.
    rewards : array_like or sequence of array_like
        ``(S, N, M)`` or a list of ``S`` matrices ``(n_s, m_s)``: the maximiser's reward.
    gamma : float
        Discount factor in ``[0, 1)``.

    Attributes
    ----------
    n_states : int
    n_actions, m_actions : numpy.ndarray of int
        Action counts of the maximiser and the minimiser per state.
    R : numpy.ndarray, shape (S, N, M)
        Rewards padded with zeros to the largest action counts ``N``, ``M``.
    P : numpy.ndarray, shape (S, N, M, S)
        Transitions padded with zeros.
    row_mask, col_mask : numpy.ndarray of bool, shapes (S, N), (S, M)
        Which padded actions exist.

    Examples
    --------
    >>> g = ZeroSumMarkovGame.from_matrix([[1, -1], [-1, 1]])
    >>> float(round(shapley(g).values[0], 9))
    0.0
    """

    def __init__(self, transitions: Any, rewards: Any, gamma: float) -> None:
        where = "ZeroSumMarkovGame()"
        self.gamma = check_real(gamma, "gamma", where, lower=0.0)
        if self.gamma >= 1.0:
            raise InvalidInputError(f"{where}: gamma must be < 1, got {gamma!r}")
        R_list = self._as_list(rewards, "rewards", where, 2)
        S = len(R_list)
        P_list = self._as_list(transitions, "transitions", where, 3)
        if len(P_list) != S:
            raise InvalidInputError(f"{where}: {len(P_list)} transition arrays for {S} reward matrices")
        n = np.array([r.shape[0] for r in R_list], dtype=np.int64)
        m = np.array([r.shape[1] for r in R_list], dtype=np.int64)
        if (n < 1).any() or (m < 1).any():
            s = int(np.flatnonzero((n < 1) | (m < 1))[0])
            raise InvalidInputError(f"{where}: every state needs >= 1 action per player, state {s} has "
                                    f"shape {R_list[s].shape}")
        N, M = int(n.max()), int(m.max())
        R = np.zeros((S, N, M))
        P = np.zeros((S, N, M, S))
        for s in range(S):
            if P_list[s].shape != (n[s], m[s], S):
                raise InvalidInputError(f"{where}: transitions[{s}] must have shape {(int(n[s]), int(m[s]), S)}, "
                                        f"got {P_list[s].shape}")
            p = P_list[s]
            if (p < 0).any():
                raise InvalidInputError(f"{where}: transitions[{s}] has a negative probability {p.min()}")
            sums = p.sum(axis=-1)
            if np.abs(sums - 1).max() > 1e-8:
                bad = np.unravel_index(np.argmax(np.abs(sums - 1)), sums.shape)
                raise InvalidInputError(f"{where}: transitions[{s}][{bad[0]}, {bad[1]}] sums to "
                                        f"{sums[bad]}, not 1")
            R[s, :n[s], :m[s]] = R_list[s]
            P[s, :n[s], :m[s]] = p / sums[..., None]
        self.n_states = S
        self.n_actions = n
        self.m_actions = m
        self.R = R
        self.P = P
        self.row_mask = np.arange(N)[None, :] < n[:, None]
        self.col_mask = np.arange(M)[None, :] < m[:, None]
        for arr in (self.R, self.P, self.n_actions, self.m_actions, self.row_mask, self.col_mask):
            arr.setflags(write=False)

    @staticmethod
    def _as_list(value: Any, name: str, where: str, inner_ndim: int) -> list:
        if isinstance(value, np.ndarray) or (isinstance(value, (list, tuple)) and value and
                                             not isinstance(value[0], np.ndarray)):
            try:
                arr = np.asarray(value, dtype=np.float64)
            except (ValueError, TypeError):
                arr = None
            if arr is not None:
                arr = as_float_array(arr, name, where, ndim=inner_ndim + 1)
                if arr.shape[0] == 0:
                    raise InvalidInputError(f"{where}: {name} must describe at least one state")
                return list(arr)
        if not isinstance(value, (list, tuple)) or len(value) == 0:
            raise InvalidInputError(f"{where}: {name} must be an array or a non-empty list of per-state arrays, "
                                    f"got {type(value).__name__}")
        return [as_float_array(v, f"{name}[{s}]", where, ndim=inner_ndim) for s, v in enumerate(value)]

    @classmethod
    def from_matrix(cls, A: Any) -> "ZeroSumMarkovGame":
        """The one-shot matrix game ``A`` (row player maximises) as a one-state game, ``gamma = 0``."""
        A = as_float_array(A, "A", "ZeroSumMarkovGame.from_matrix()", ndim=2)
        if A.size == 0:
            raise InvalidInputError(f"ZeroSumMarkovGame.from_matrix(): A must be non-empty, got shape {A.shape}")
        return cls(np.ones(A.shape + (1,))[None], A[None], 0.0)

    @property
    def shape(self) -> tuple:
        """``(S, N, M)``: states and the padded action counts."""
        return self.R.shape

    def q_values(self, V: np.ndarray) -> np.ndarray:
        """``R + gamma * P V`` for every state, shape ``(S, N, M)`` (padded entries are 0)."""
        return self.R + self.gamma * (self.P @ V)

    def __repr__(self) -> str:
        return (f"ZeroSumMarkovGame(n_states={self.n_states}, max_actions={self.R.shape[1:]}, "
                f"gamma={self.gamma})")


def _check_game(game: Any, where: str) -> ZeroSumMarkovGame:
    """``game`` as a :class:`ZeroSumMarkovGame`: one as is, a payoff matrix (row player maximises) or a
    two-player zero-sum :class:`~games.normal_form.NormalFormGame` as a one-state game."""
    if isinstance(game, ZeroSumMarkovGame):
        return game
    if isinstance(game, NormalFormGame):
        if game.n_players != 2 or not game.is_zero_sum(1e-9):
            raise InvalidInputError(f"{where}: a NormalFormGame must be a two-player zero-sum game")
        return ZeroSumMarkovGame.from_matrix(game.payoffs[0])
    if isinstance(game, (np.ndarray, list, tuple)):
        try:
            return ZeroSumMarkovGame.from_matrix(game)
        except InvalidInputError as err:
            raise InvalidInputError(f"{where}: game must be a payoff matrix or a ZeroSumMarkovGame: {err}") from err
    raise InvalidInputError(f"{where}: game must be a payoff matrix, a zero-sum NormalFormGame or a "
                            f"ZeroSumMarkovGame, got {type(game).__name__}")


def random_markov_game(n_states: int, n_actions: int, m_actions: Optional[int] = None, *, gamma: float = 0.9,
                       seed: Any = 0, branching: Optional[int] = None) -> ZeroSumMarkovGame:
    """A random game: rewards uniform in [-1, 1], transitions Dirichlet(1) on ``branching`` successors.

    Examples
    --------
    >>> random_markov_game(3, 2, seed=1).shape
    (3, 2, 2)
    """
    where = "random_markov_game()"
    S = check_int(n_states, "n_states", where, lower=1)
    n = check_int(n_actions, "n_actions", where, lower=1)
    m = n if m_actions is None else check_int(m_actions, "m_actions", where, lower=1)
    k = S if branching is None else check_int(branching, "branching", where, lower=1, upper=S)
    rng = resolve_seed(seed, where=where).generator("markov")
    R = rng.uniform(-1, 1, size=(S, n, m))
    P = np.zeros((S, n, m, S))
    for idx in np.ndindex(S, n, m):
        succ = rng.choice(S, size=k, replace=False)
        P[idx + (slice(None),)][succ] = rng.dirichlet(np.ones(k))
    return ZeroSumMarkovGame(P, R, gamma)


# ============================================================================ results
@dataclass(frozen=True, kw_only=True)
class MarkovSolution(SolveResult):
    """Values and stationary policies of a zero-sum Markov game.

    Attributes
    ----------
    values : numpy.ndarray, shape (S,)
        State values for the maximiser (also ``x``); ``objective`` is their mean.
    row_policy, col_policy : numpy.ndarray, shapes (S, N), (S, M)
        Per-state mixed strategies of the maximiser and the minimiser (zero on padded actions).
    bellman_residual : float
        ``max_s |V(s) - (T V)(s)|`` of the operator that was iterated (certificate).
    error_bound : float
        Bound on ``max_s |V(s) - V_fixed(s)|`` from the contraction: ``gamma / (1 - gamma)``
        times the last step (``bound`` and ``gap`` hold the same).
    alpha, beta : float
        Temperatures (0 for Shapley).
    """

    values: Any = None
    row_policy: Any = None
    col_policy: Any = None
    bellman_residual: float = math.nan
    error_bound: float = math.nan
    alpha: float = 0.0
    beta: float = 0.0


@dataclass(frozen=True, kw_only=True)
class SoftMatrixSolution(SolveResult):
    """Saddle point of ``max_x min_y x'Qy + alpha H(x) - beta H(y)`` (the logit QRE of ``(Q, -Q)``).

    Attributes
    ----------
    row_strategy, col_strategy : numpy.ndarray
    value : float
        The regularised value (also ``objective``).
    residual : float
        ``max |x - softmax(Q y / alpha)|`` (and the same for ``y``): the QRE residual.
    """

    row_strategy: Any = None
    col_strategy: Any = None
    value: float = math.nan
    residual: float = math.nan


# ============================================================================ matrix games
def _softmax(u: np.ndarray, axis: int = -1) -> np.ndarray:
    z = u - u.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def _log_softmax(u: np.ndarray, axis: int = -1) -> np.ndarray:
    z = u - u.max(axis=axis, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=axis, keepdims=True))


def _entropy_from_log(logp: np.ndarray) -> float:
    p = np.exp(logp)
    return float(-(p * logp).sum())


def _newton_soft(Q: np.ndarray, alpha: float, beta: float, u: np.ndarray, tol: float, maxit: int):
    """Newton on ``G(u) = u - C Q y(u) / alpha = 0`` with ``y(u) = softmax(-Q' softmax(u) / beta)``.

    ``C = I - 11'/n`` centres the logits (so they keep their precision at small temperatures).
    The Jacobian is ``I + C Q S_y Q' S_x / (alpha beta)`` (``S_p = diag(p) - p p'``); a backtracking
    line search on ``|G|`` globalises the iteration.
    """
    n = Q.shape[0]

    def G_of(u):
        x = _softmax(u)
        y = _softmax(-(Q.T @ x) / beta)
        t = (Q @ y) / alpha
        return u - (t - t.mean()), x, y   # centred: u stays O(payoff spread / alpha), not O(payoff / alpha)

    g, x, y = G_of(u)
    norm = float(np.abs(g).max())
    it = 0
    eye = np.eye(n)
    centre = eye - 1.0 / n
    while norm > tol and it < maxit:
        it += 1
        Sx = np.diag(x) - np.outer(x, x)
        Sy = np.diag(y) - np.outer(y, y)
        J = eye + centre @ (Q @ Sy @ Q.T @ Sx) / (alpha * beta)
        try:
            d = np.linalg.solve(J, -g)
        except np.linalg.LinAlgError:
            return u, norm, it, False
        step = 1.0
        while True:
            u_new = u + step * d
            g_new, x_new, y_new = G_of(u_new)
            n_new = float(np.abs(g_new).max())
            if n_new < (1 - 1e-4 * step) * norm or step < 1e-10:
                break
            step *= 0.5
        if step < 1e-10 and n_new >= norm:
            # stalled at round-off: accept when the residual is at the precision of u itself
            return u, norm, it, norm <= 1e-10 * max(1.0, float(np.abs(u).max()))
        u, g, x, y, norm = u_new, g_new, x_new, y_new, n_new
    return u, norm, it, norm <= tol


def _soft_core(Q: np.ndarray, alpha: float, beta: float, u0: Optional[np.ndarray] = None, tol: float = 1e-11,
               maxit: int = 60):
    """Returns ``(u, x, y, value, residual, newton_steps)``; ``u`` warm-starts the next call."""
    n, m = Q.shape
    if u0 is None or u0.shape != (n,):
        u0 = (Q @ np.full(m, 1.0 / m)) / alpha
        u0 = u0 - u0.mean()
    scale = max(1.0, float(np.abs(Q).max()))
    u, res, nit, ok = _newton_soft(Q, alpha, beta, u0, tol * scale / min(alpha, 1.0), maxit)
    if not ok:
        # temperature continuation: solve at (c alpha, c beta) for c = 4^k ... 1, warm-starting
        c = 4.0 ** math.ceil(math.log(max(scale / min(alpha, beta), 1.0), 4) + 1)
        u = (Q @ np.full(m, 1.0 / m)) / (alpha * c)
        u = u - u.mean()
        total = nit
        while True:
            u, res, k, ok = _newton_soft(Q, alpha * c, beta * c, u, tol * scale / min(alpha * c, 1.0), 4 * maxit)
            total += k
            if c <= 1.0:
                break
            c_next = max(c / 4.0, 1.0)
            u = u * (c / c_next)
            c = c_next
        nit = total
    x = _softmax(u)
    logx = _log_softmax(u)
    w = -(Q.T @ x) / beta
    logy = _log_softmax(w)
    y = np.exp(logy)
    resid = max(float(np.abs(x - _softmax((Q @ y) / alpha)).max()), float(np.abs(y - _softmax(w)).max()))
    value = float(x @ Q @ y) + alpha * _entropy_from_log(logx) - beta * _entropy_from_log(logy)
    return u, x, y, value, resid, nit


def _validate_soft_matrix(Q, alpha, beta, tol, maxiter):
    where = "soft_matrix_game()"
    Q = as_float_array(Q, "Q", where, ndim=2)
    if Q.size == 0:
        raise InvalidInputError(f"{where}: Q must be non-empty, got shape {Q.shape}")
    alpha = check_real(alpha, "alpha", where, lower=0.0, lower_strict=True)
    beta = check_real(beta, "beta", where, lower=0.0, lower_strict=True)
    tol = check_real(tol, "tol", where, lower=0.0, lower_strict=True)
    maxiter = check_int(maxiter, "maxiter", where, lower=1)
    return Q, alpha, beta, tol, maxiter


@hot_path
def soft_matrix_game(Q: Any, /, alpha: float = 1.0, beta: float = 1.0, *, tol: float = 1e-11,
                     maxiter: int = 60, threads: Optional[int] = None) -> SoftMatrixSolution:
    """Unique saddle point of the entropy-regularised matrix game with temperatures ``alpha``, ``beta``.

    ``max_x min_y x'Qy + alpha H(x) - beta H(y)``; equivalently the logit QRE of the bimatrix game
    ``(Q, -Q)`` with precisions ``(1/alpha, 1/beta)``: ``x = softmax(Qy/alpha)``,
    ``y = softmax(-Q'x/beta)``. Solved by Newton's method on ``u = Q y(softmax(u)) / alpha``
    (falling back to a temperature continuation when Newton stalls).

    Parameters
    ----------
    Q : array_like, shape (n, m)
        Payoffs to the row (maximising) player.
    alpha, beta : float
        Temperatures (> 0) of the row and the column player.
    tol : float
        Newton tolerance on the fixed-point residual (payoff-scaled).
    maxiter : int
        Newton steps before the continuation fallback.

    Returns
    -------
    SoftMatrixSolution

    Examples
    --------
    >>> r = soft_matrix_game([[1, -1], [-1, 1]], 0.5, 0.5)
    >>> r.row_strategy.round(6).tolist(), round(r.value - 2 * 0.5 * 0, 6)
    ([0.5, 0.5], 0.0)
    """
    Q, alpha, beta, tol, maxiter = _validate_soft_matrix(Q, alpha, beta, tol, maxiter)
    t0 = time.perf_counter()
    _, x, y, value, resid, nit = _soft_core(Q, alpha, beta, None, tol, maxiter)
    ok = resid <= 1e-8
    return SoftMatrixSolution(status=Status.OPTIMAL if ok else Status.ITERATION_LIMIT,
                              message="converged" if ok else f"residual {resid:.3g}", x=np.concatenate([x, y]),
                              objective=value, nit=nit, runtime=time.perf_counter() - t0, method="newton",
                              backend="numpy", params={"alpha": alpha, "beta": beta, "tol": tol, "maxiter": maxiter,
                                                        "threads": _threads_in_force()},
                              row_strategy=x, col_strategy=y, value=value, residual=resid)


@hot_path
def matrix_game_value(Q: Any, /, *, threads: Optional[int] = None) -> SolveResult:
    """Value and optimal strategies of a zero-sum matrix game by one HiGHS LP.

    Returns a :class:`MarkovSolution` of the one-state game (``values[0]`` is the value).

    Examples
    --------
    >>> r = matrix_game_value([[2, -1], [-1, 1]])
    >>> float(round(r.values[0], 9)), r.row_policy[0].round(9).tolist()
    (0.2, [0.4, 0.6])
    """
    A = as_float_array(Q, "Q", "matrix_game_value()", ndim=2)
    if A.size == 0:
        raise InvalidInputError(f"matrix_game_value(): Q must be non-empty, got shape {A.shape}")
    return shapley(ZeroSumMarkovGame.from_matrix(A))


def _threads_in_force() -> int:
    n = current_threads()
    return int(n) if n is not None else default_threads()


# ============================================================================ value iteration
def _validate_vi(game, tol, maxiter, V0, callback, where):
    game = _check_game(game, where)
    tol = check_real(tol, "tol", where, lower=0.0, lower_strict=True)
    maxiter = check_int(maxiter, "maxiter", where, lower=1)
    if V0 is not None:
        V0 = as_float_array(V0, "V0", where, shape=(game.n_states,))
    if callback is not None and not callable(callback):
        raise InvalidInputError(f"{where}: callback must be callable, got {callback!r}")
    return game, tol, maxiter, V0


def _stop_threshold(gamma: float, tol: float) -> float:
    return math.inf if gamma == 0 else tol * (1 - gamma) / gamma


def _iterate(sweep: Callable[[np.ndarray], np.ndarray], V: np.ndarray, gamma: float, thr: float, maxiter: int,
             callback: Any, source: str) -> tuple[np.ndarray, int, float, Status, str]:
    """Value iteration shared by :func:`shapley` and :func:`soft`: sweep until the sup-norm step is
    at most ``thr``; returns ``(V, nit, error_bound, status, message)``."""
    status, message = Status.ITERATION_LIMIT, f"maxiter={maxiter} sweeps reached"
    step = math.inf
    nit = 0
    for nit in range(1, maxiter + 1):
        Vn = sweep(V)
        step = float(np.abs(Vn - V).max())
        V = Vn
        if emit(callback, Iteration(source, nit=nit, objective=step)):
            status, message = Status.STOPPED, "stopped by callback"
            break
        if step <= thr:
            status, message = Status.OPTIMAL, f"converged after {nit} sweeps"
            break
    bound = 0.0 if gamma == 0 else gamma / (1 - gamma) * step
    return V, nit, bound, status, message


@hot_path
def shapley(game: Any, /, *, tol: float = 1e-9, maxiter: int = 10_000, V0: Any = None,
            callback: Optional[Callable] = None, threads: Optional[int] = None) -> MarkovSolution:
    """Shapley value iteration with one HiGHS LP per state and iteration.

    ``V_{k+1}(s) = val(R[s] + gamma P[s] V_k)``; stops when the contraction bound
    ``gamma / (1 - gamma) * |V_{k+1} - V_k|`` is at most ``tol``. One :class:`solvers.LinearModel`
    is built per distinct ``(n_s, m_s)`` and re-solved after changing the payoff coefficients.

    Parameters
    ----------
    game : ZeroSumMarkovGame or array_like
        A Markov game (a matrix is taken as a one-shot game).
    tol : float
        Target bound on ``max |V - V*|``.
    maxiter : int
        Value-iteration sweeps.
    V0 : array_like, optional
        Starting values (default 0).
    callback : callable, optional
        Receives an :class:`engine.events.Iteration` per sweep (``objective`` = the step size);
        raising ``StopIteration`` stops with status STOPPED.
    threads : int, optional
        Threads for the BLAS/OpenMP work of the call (``engine.threads``; default: the engine's
        policy, one thread). HiGHS solves these small LPs on one thread either way.

    Returns
    -------
    MarkovSolution

    Examples
    --------
    >>> g = random_markov_game(3, 2, seed=0, gamma=0.5)
    >>> r = shapley(g)
    >>> r.status.value, r.bellman_residual < 1e-8
    ('optimal', True)
    """
    game, tol, maxiter, V0 = _validate_vi(game, tol, maxiter, V0, callback, "shapley()")
    t0 = time.perf_counter()
    S = game.n_states
    lps: dict = {}
    V = np.zeros(S) if V0 is None else V0.copy()
    xs = np.zeros(game.row_mask.shape)
    ys = np.zeros(game.col_mask.shape)
    thr = _stop_threshold(game.gamma, tol)
    simplex = 0

    def sweep(Vc):
        nonlocal simplex
        Qall = game.q_values(Vc)
        Vn = np.empty(S)
        for s in range(S):
            n, m = int(game.n_actions[s]), int(game.m_actions[s])
            key = (n, m)
            lp = lps.get(key)
            if lp is None:
                lp = lps[key] = MatrixGameLP(n, m, where="shapley()")
            v, x, y, it = lp.solve(Qall[s, :n, :m])
            simplex += it
            Vn[s] = v
            xs[s, :n], ys[s, :m] = x, y
        return Vn

    V, nit, bound, status, message = _iterate(sweep, V, game.gamma, thr, maxiter, callback, "shapley()")
    xs_final, ys_final = xs.copy(), ys.copy()
    resid = float(np.abs(sweep(V) - V).max())
    xs, ys = xs_final, ys_final
    params = {"tol": tol, "maxiter": maxiter, "gamma": game.gamma, "V0": V0 is not None,
              "lp_models": len(lps), "simplex_iterations": simplex, "threads": _threads_in_force()}
    return MarkovSolution(status=status, message=message, x=V, objective=float(V.mean()), bound=bound, gap=bound,
                          nit=nit, runtime=time.perf_counter() - t0, method="shapley", backend="highs", params=params,
                          values=V, row_policy=xs, col_policy=ys, bellman_residual=resid, error_bound=bound)


def _validate_soft(game, alpha, beta, tol, maxiter, V0, callback):
    where = "soft()"
    game, tol, maxiter, V0 = _validate_vi(game, tol, maxiter, V0, callback, where)
    alpha = check_real(alpha, "alpha", where, lower=0.0, lower_strict=True)
    beta = check_real(beta, "beta", where, lower=0.0, lower_strict=True)
    return game, alpha, beta, tol, maxiter, V0


@hot_path
def soft(game: Any, /, alpha: float = 0.1, beta: float = 0.1, *, tol: float = 1e-9, maxiter: int = 10_000,
         V0: Any = None, callback: Optional[Callable] = None, threads: Optional[int] = None) -> MarkovSolution:
    """Soft minimax value iteration with temperatures ``alpha`` (protagonist) and ``beta`` (adversary).

    ``V_{k+1}(s) = max_x min_y x'Q_k(s)y + alpha H(x) - beta H(y)`` with ``Q_k(s) = R[s] + gamma
    P[s] V_k``; each state's regularised matrix game is solved exactly (its unique logit QRE,
    :func:`soft_matrix_game`, warm-started from the previous sweep). The operator is a
    ``gamma``-contraction, and ``|V_soft - V_shapley| <= (alpha log n + beta log m) / (1 - gamma)``.

    Parameters
    ----------
    game : ZeroSumMarkovGame or array_like
    alpha, beta : float
        Temperatures (> 0); ``alpha = 1/lambda_0``, ``beta = 1/lambda_1`` in QRE terms.
    tol, maxiter, V0, callback, threads
        As in :func:`shapley`.

    Returns
    -------
    MarkovSolution
        ``row_policy``/``col_policy`` are the per-state QRE strategies.

    Examples
    --------
    >>> g = random_markov_game(2, 2, seed=0, gamma=0.5)
    >>> bool(abs(soft(g, 1e-3, 1e-3).values - shapley(g).values).max() < 0.01)
    True
    """
    game, alpha, beta, tol, maxiter, V0 = _validate_soft(game, alpha, beta, tol, maxiter, V0, callback)
    t0 = time.perf_counter()
    S = game.n_states
    V = np.zeros(S) if V0 is None else V0.copy()
    us: list = [None] * S
    xs = np.zeros(game.row_mask.shape)
    ys = np.zeros(game.col_mask.shape)
    thr = _stop_threshold(game.gamma, tol)
    newton = 0
    worst_resid = 0.0

    def sweep(Vc):
        nonlocal newton, worst_resid
        Qall = game.q_values(Vc)
        Vn = np.empty(S)
        worst_resid = 0.0
        for s in range(S):
            n, m = int(game.n_actions[s]), int(game.m_actions[s])
            u, x, y, val, res, k = _soft_core(Qall[s, :n, :m], alpha, beta, us[s])
            us[s] = u
            newton += k
            worst_resid = max(worst_resid, res)
            Vn[s] = val
            xs[s, :n], ys[s, :m] = x, y
        return Vn

    V, nit, bound, status, message = _iterate(sweep, V, game.gamma, thr, maxiter, callback, "soft()")
    xs_final, ys_final = xs.copy(), ys.copy()
    resid = float(np.abs(sweep(V) - V).max())
    params = {"alpha": alpha, "beta": beta, "tol": tol, "maxiter": maxiter, "gamma": game.gamma,
              "V0": V0 is not None, "newton_steps": newton, "qre_residual": worst_resid,
              "threads": _threads_in_force()}
    return MarkovSolution(status=status, message=message, x=V, objective=float(V.mean()), bound=bound, gap=bound,
                          nit=nit, runtime=time.perf_counter() - t0, method="soft", backend="numpy", params=params,
                          values=V, row_policy=xs_final, col_policy=ys_final, bellman_residual=resid,
                          error_bound=bound, alpha=alpha, beta=beta)


@hot_path
def solve(game: Any, /, method: str = "auto", **options: Any) -> MarkovSolution:
    """Dispatcher: ``"shapley"`` (``"auto"``) or ``"soft"`` (needs ``alpha``, ``beta``).

    Examples
    --------
    >>> float(round(solve([[0, 1], [1, 0]]).values[0], 9))
    0.5
    """
    method = check_choice(method, "method", "solve()", ("auto", "shapley", "soft"))
    if method == "soft":
        return soft(game, **options)
    return shapley(game, **options)


# ============================================================================ policy tools
def _check_policy(pi: Any, mask: np.ndarray, name: str, where: str) -> np.ndarray:
    arr = as_float_array(pi, name, where, shape=mask.shape, lower=0.0)
    if (arr[~mask] != 0).any():
        raise InvalidInputError(f"{where}: {name} puts probability on actions that do not exist")
    sums = arr.sum(axis=1)
    if np.abs(sums - 1).max() > 1e-6:
        raise InvalidInputError(f"{where}: every row of {name} must sum to 1, got {sums[np.argmax(np.abs(sums - 1))]}")
    return arr / sums[:, None]


def _evaluate(game: ZeroSumMarkovGame, pi: np.ndarray, mu: np.ndarray) -> np.ndarray:
    r = np.einsum("si,sij,sj->s", pi, game.R, mu)
    Pm = np.einsum("si,sijt,sj->st", pi, game.P, mu)
    return np.linalg.solve(np.eye(game.n_states) - game.gamma * Pm, r)


@hot_path
def evaluate(game: ZeroSumMarkovGame, /, row_policy: Any, col_policy: Any, *,
             threads: Optional[int] = None) -> np.ndarray:
    """Exact values ``V^{pi, mu}`` of a pair of stationary policies (one linear solve).

    Examples
    --------
    >>> g = ZeroSumMarkovGame.from_matrix([[1, 0], [0, 1]])
    >>> evaluate(g, [[1, 0]], [[0.5, 0.5]]).tolist()
    [0.5]
    """
    where = "evaluate()"
    game = _check_game(game, where)
    pi = _check_policy(row_policy, game.row_mask, "row_policy", where)
    mu = _check_policy(col_policy, game.col_mask, "col_policy", where)
    return _evaluate(game, pi, mu)


def _best_response(game: ZeroSumMarkovGame, pi: np.ndarray, beta: float, tol: float = 1e-10,
                   maxiter: int = 100_000) -> tuple[np.ndarray, np.ndarray]:
    """The minimiser's (soft, temperature ``beta``) best response to ``pi``: values and policy."""
    r = np.einsum("si,sij->sj", pi, game.R)          # (S, M)
    Pm = np.einsum("si,sijt->sjt", pi, game.P)       # (S, M, S)
    mask = game.col_mask
    V = np.zeros(game.n_states)
    for _ in range(maxiter):
        q = r + game.gamma * (Pm @ V)
        if beta > 0:
            z = np.where(mask, -q / beta, -np.inf)
            zmax = z.max(axis=1, keepdims=True)
            Vn = -beta * (zmax[:, 0] + np.log(np.exp(z - zmax).sum(axis=1)))
        else:
            Vn = np.where(mask, q, np.inf).min(axis=1)
        if np.abs(Vn - V).max() <= tol * (1 - game.gamma) or game.gamma == 0:
            V = Vn
            break
        V = Vn
    q = r + game.gamma * (Pm @ V)
    if beta > 0:
        mu = _softmax(np.where(mask, -q / beta, -np.inf), axis=1)
    else:
        qm = np.where(mask, q, np.inf)
        mu = (qm <= qm.min(axis=1, keepdims=True) + 1e-12).astype(float)
        mu = mu / mu.sum(axis=1, keepdims=True)
    return V, mu


@hot_path
def best_response(game: ZeroSumMarkovGame, /, row_policy: Any, *, beta: float = 0.0,
                  threads: Optional[int] = None) -> MarkovSolution:
    """The adversary's best response to a protagonist policy (soft at temperature ``beta > 0``).

    ``values`` are the protagonist's values against it (for ``beta > 0`` they include the
    adversary's entropy bonus, i.e. the soft value of the adversary's MDP).

    Examples
    --------
    >>> g = ZeroSumMarkovGame.from_matrix([[1, -1], [-1, 1]])
    >>> best_response(g, [[1.0, 0.0]]).values.tolist()
    [-1.0]
    """
    where = "best_response()"
    game = _check_game(game, where)
    pi = _check_policy(row_policy, game.row_mask, "row_policy", where)
    beta = check_real(beta, "beta", where, lower=0.0)
    t0 = time.perf_counter()
    V, mu = _best_response(game, pi, beta)
    return MarkovSolution(status=Status.OPTIMAL, message="", x=V, objective=float(V.mean()), nit=0,
                          runtime=time.perf_counter() - t0, method="best_response", backend="numpy",
                          params={"beta": beta, "threads": _threads_in_force()}, values=V, row_policy=pi,
                          col_policy=mu, beta=beta)


@hot_path
def exploitability(game: ZeroSumMarkovGame, /, row_policy: Any, *, values: Any = None,
                   threads: Optional[int] = None) -> float:
    """``max_s V*(s) - V^{pi, BR(pi)}(s)``: how much a protagonist policy loses to a rational adversary.

    ``values`` (the Shapley values) are computed when not given.

    Examples
    --------
    >>> g = ZeroSumMarkovGame.from_matrix([[1, -1], [-1, 1]])
    >>> exploitability(g, [[1.0, 0.0]])
    1.0
    """
    where = "exploitability()"
    game = _check_game(game, where)
    pi = _check_policy(row_policy, game.row_mask, "row_policy", where)
    Vstar = shapley(game).values if values is None else as_float_array(values, "values", where,
                                                                        shape=(game.n_states,))
    V, _ = _best_response(game, pi, 0.0)
    return float(max((Vstar - V).max(), 0.0))
