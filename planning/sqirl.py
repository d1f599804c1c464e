"""SQIRL: shallow Q-iteration via reinforcement learning, a cheap planner for small MDPs.

Laidlaw, Russell and Dragan ("The Effective Horizon Explains Deep RL Performance", NeurIPS 2023;
first circulated as "Bridging RL Theory and Practice with the Effective Horizon") observe
that in many MDPs acting greedily on the Q-function of the *uniformly random* policy, after
only a few Bellman optimality backups, is already optimal. The smallest such number of
backups plus one is the *effective horizon* ``k``. SQIRL exploits it: for every time step
``i`` of a finite-horizon MDP it

1. rolls out the policy learned so far up to step ``i`` and acts uniformly at random after;
2. regresses the random policy's return at step ``i + k - 1`` on ``(state, action)``
   (a Monte Carlo estimate of ``Q^{pi_rand}``);
3. applies ``k - 1`` fitted-Q backups (regressing ``r + max_a' Q(s', a')``) down to step ``i``;
4. acts greedily on the result at step ``i``.

Here the regression is tabular (a sample mean per ``(state, action)``, i.e. least squares on
one-hot features). :func:`value_iteration`, :func:`policy_value` and :func:`effective_horizon`
are the exact tabular companions used to check it.

MDPs are given as arrays: ``P[s, a, s']`` transition probabilities (stationary), ``R[s, a]``
rewards, a ``horizon`` and an initial distribution (default uniform). Time steps run
``0 .. horizon - 1``; a policy is an int array ``(horizon, n_states)``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from engine.errors import InvalidInputError
from engine.events import Iteration, emit
from engine.result import SolveResult
from engine.seeding import resolve_seed
from engine.status import Status
from engine.validation import as_float_array, as_int_array, check_int, check_time_limit

__all__ = ["SQIRLResult", "ValueIterationResult", "solve", "value_iteration", "policy_value", "random_policy_q",
           "k_qvi", "effective_horizon"]


# ============================================================================ results
@dataclass(frozen=True, kw_only=True)
class ValueIterationResult(SolveResult):
    """Exact finite-horizon solution: ``q[t, s, a]``, ``v[t, s]`` (``v[horizon] = 0``), greedy
    ``policy[t, s]`` and ``value`` (expected return from the initial distribution)."""

    policy: Any = None
    q: Any = None
    v: Any = None
    value: float = math.nan


@dataclass(frozen=True, kw_only=True)
class SQIRLResult(SolveResult):
    """A SQIRL policy.

    Attributes
    ----------
    policy : numpy.ndarray of int, shape (horizon, n_states)
        Greedy action per time and state (action 0 where a state was never reached).
    q : numpy.ndarray, shape (horizon, n_states, n_actions)
        The estimated ``Q^k`` used at each step (``nan`` where no sample landed).
    value : float
        Exact expected return of ``policy`` (the MDP arrays are known here).
    k : int
        Backups + 1 used (the assumed effective horizon).
    n_episodes : int
        Episodes simulated.
    """

    policy: Any = None
    q: Any = None
    value: float = math.nan
    k: int = 1
    n_episodes: int = 0


# ============================================================================ validation
def _check_mdp(P: Any, R: Any, horizon: Any, initial: Any, where: str):
    P = as_float_array(P, "P", where, ndim=3, lower=0.0)
    S, A, S2 = P.shape
    if S == 0 or A == 0 or S2 != S:
        raise InvalidInputError(f"{where}: P must have shape (n_states, n_actions, n_states), got {P.shape}")
    sums = P.sum(axis=2)
    if not np.allclose(sums, 1.0, atol=1e-9):
        bad = np.argwhere(~np.isclose(sums, 1.0, atol=1e-9))[0]
        raise InvalidInputError(f"{where}: P[{bad[0]}, {bad[1]}, :] must sum to 1, got {sums[tuple(bad)]}")
    R = as_float_array(R, "R", where, shape=(S, A))
    horizon = check_int(horizon, "horizon", where, lower=1)
    if initial is None:
        mu = np.full(S, 1.0 / S)
    else:
        mu = as_float_array(initial, "initial", where, shape=(S,), lower=0.0)
        if not math.isclose(float(mu.sum()), 1.0, abs_tol=1e-9):
            raise InvalidInputError(f"{where}: initial must sum to 1, got {mu.sum()}")
    return P, R, horizon, mu


# ============================================================================ exact companions
def value_iteration(P: Any, R: Any, *, horizon: int, initial: Any = None) -> ValueIterationResult:
    """Exact finite-horizon value iteration (backward induction).

    Examples
    --------
    >>> import numpy as np
    >>> P = np.zeros((2, 2, 2)); P[:, 0, 0] = 1; P[:, 1, 1] = 1
    >>> R = np.array([[0.0, 1.0], [0.0, 1.0]])
    >>> value_iteration(P, R, horizon=3, initial=[1, 0]).value
    3.0
    """
    t0 = time.perf_counter()
    P, R, T, mu = _check_mdp(P, R, horizon, initial, "value_iteration()")
    S, A = R.shape
    q = np.zeros((T, S, A))
    v = np.zeros((T + 1, S))
    for t in range(T - 1, -1, -1):
        q[t] = R + P @ v[t + 1]
        v[t] = q[t].max(axis=1)
    policy = q.argmax(axis=2)
    value = float(mu @ v[0])
    return ValueIterationResult(status=Status.OPTIMAL, message="exact backward induction", x=policy, objective=value,
                                bound=value, gap=0.0, nit=T, runtime=time.perf_counter() - t0,
                                method="value_iteration", backend="numpy", params={"horizon": T}, policy=policy, q=q,
                                v=v, value=value)


def policy_value(P: Any, R: Any, policy: Any, *, initial: Any = None) -> float:
    """Exact expected return of a deterministic time-indexed ``policy`` (horizon = its length).

    Examples
    --------
    >>> import numpy as np
    >>> P = np.ones((2, 2, 2)) / 2; R = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> policy_value(P, R, [[0, 1], [0, 1]])
    2.0
    """
    where = "policy_value()"
    pol = as_int_array(policy, "policy", where, ndim=2, lower=0)
    P, R, T, mu = _check_mdp(P, R, pol.shape[0], initial, where)
    S, A = R.shape
    if pol.shape != (T, S) or pol.max() >= A:
        raise InvalidInputError(f"{where}: policy must have shape (horizon, {S}) with actions < {A}, got {pol.shape}")
    v = np.zeros(S)
    idx = np.arange(S)
    for t in range(T - 1, -1, -1):
        a = pol[t]
        v = R[idx, a] + P[idx, a] @ v
    return float(mu @ v)


def random_policy_q(P: Any, R: Any, *, horizon: int) -> np.ndarray:
    """``Q^{pi_rand}[t, s, a]`` of the uniformly random policy (exact)."""
    P, R, T, _ = _check_mdp(P, R, horizon, None, "random_policy_q()")
    S, A = R.shape
    q = np.zeros((T, S, A))
    v = np.zeros(S)
    for t in range(T - 1, -1, -1):
        q[t] = R + P @ v
        v = q[t].mean(axis=1)
    return q


def k_qvi(P: Any, R: Any, *, horizon: int, k: int) -> np.ndarray:
    """``Q^k[t]``: ``k - 1`` Bellman optimality backups applied to ``Q^{pi_rand}[t + k - 1]`` (exact).

    ``Q^1 = Q^{pi_rand}`` and ``Q^{j+1}[t] = R + P max_a Q^j[t + 1]``; where ``t + k - 1`` runs
    past the horizon the backups start from the end (the result is then the optimal Q).
    """
    P, R, T, _ = _check_mdp(P, R, horizon, None, "k_qvi()")
    k = check_int(k, "k", "k_qvi()", lower=1)
    qr = random_policy_q(P, R, horizon=T)
    S, A = R.shape
    out = np.zeros((T, S, A))
    for t in range(T):
        end = min(t + k - 1, T - 1)
        q = qr[end]
        for j in range(end - 1, t - 1, -1):
            q = R + P @ q.max(axis=1)
        out[t] = q
    return out


def effective_horizon(P: Any, R: Any, *, horizon: int, initial: Any = None, tol: float = 1e-9) -> int:
    """The smallest ``k`` such that acting greedily on :func:`k_qvi` is optimal (exact).

    "Optimal" means the greedy policy's expected return from ``initial`` is within ``tol`` of
    the optimum, with ties broken towards the smallest action index.

    Examples
    --------
    >>> import numpy as np
    >>> P = np.ones((2, 2, 2)) / 2; R = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> effective_horizon(P, R, horizon=4)   # rewards are myopic: the random Q already suffices
    1
    """
    P, R, T, mu = _check_mdp(P, R, horizon, initial, "effective_horizon()")
    best = value_iteration(P, R, horizon=T, initial=mu).value
    for k in range(1, T + 1):
        pol = k_qvi(P, R, horizon=T, k=k).argmax(axis=2)
        if policy_value(P, R, pol, initial=mu) >= best - tol:
            return k
    return T


# ============================================================================ SQIRL
def _sample_next(P: np.ndarray, s: np.ndarray, a: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    cdf = np.cumsum(P[s, a], axis=1)
    u = rng.random(int(s.shape[0]))[:, None]  # int(): an Any-typed size picks the scalar stub overload
    return np.minimum((u >= cdf).sum(axis=1), P.shape[2] - 1)


def _validate_solve(P, R, horizon, k, n_rollouts, initial, seed, time_limit, callback):
    where = "sqirl.solve()"
    P, R, T, mu = _check_mdp(P, R, horizon, initial, where)
    k = check_int(k, "k", where, lower=1)
    n_rollouts = check_int(n_rollouts, "n_rollouts", where, lower=1)
    if callback is not None and not callable(callback):
        raise InvalidInputError(f"{where}: callback must be callable, got {callback!r}")
    return P, R, T, k, n_rollouts, mu, resolve_seed(seed, where=where), check_time_limit(time_limit, where), callback


def solve(P: Any, R: Any, *, horizon: int, k: int = 2, n_rollouts: int = 1000, initial: Any = None, seed: Any = 0,
          time_limit: Optional[float] = None, callback: Any = None) -> SQIRLResult:
    """SQIRL on a tabular MDP: random-policy rollouts, a regression of the random policy's Q,
    ``k - 1`` fitted-Q backups, greedy action; one stage per time step.

    Parameters
    ----------
    P : array_like, shape (n_states, n_actions, n_states)
        Transition probabilities (used only to *simulate*, except for the reported exact
        ``value``).
    R : array_like, shape (n_states, n_actions)
        Rewards.
    horizon : int
        Steps per episode.
    k : int
        Assumed effective horizon (``k - 1`` backups). With ``k >= effective_horizon`` and
        enough rollouts the policy is optimal.
    n_rollouts : int
        Episodes per stage (``horizon * n_rollouts`` in all).
    initial : array_like, optional
        Initial state distribution (default uniform).
    seed : int, numpy Generator or None
        Drives every rollout (one generator). Default 0 (reproducible); None draws a fresh
        root. ``params["seed"]`` records the one used.
    time_limit : float, optional
        On expiry the stages not reached keep action 0 (status TIME_LIMIT).
    callback : callable, optional
        Receives an :class:`engine.events.Iteration` per stage; ``StopIteration`` stops.

    Returns
    -------
    SQIRLResult

    Examples
    --------
    >>> import numpy as np
    >>> from planning import sqirl
    >>> P = np.ones((2, 2, 2)) / 2; R = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> res = sqirl.solve(P, R, horizon=3, k=1, n_rollouts=200, seed=0)
    >>> res.policy.tolist(), res.value
    ([[0, 1], [0, 1], [0, 1]], 3.0)
    """
    P, R, T, k, m, mu, seed, time_limit, callback = _validate_solve(P, R, horizon, k, n_rollouts, initial, seed,
                                                                   time_limit, callback)
    t0 = time.perf_counter()
    rng = seed.generator("sqirl")
    S, A = R.shape
    policy = np.zeros((T, S), dtype=np.int64)
    q_used = np.full((T, S, A), np.nan)
    status, message = Status.FEASIBLE, f"{T} stages of {m} rollouts"
    episodes = 0
    for i in range(T):
        if time_limit is not None and time.perf_counter() - t0 > time_limit:
            status, message = Status.TIME_LIMIT, f"time limit reached after {i} of {T} stages"
            break
        end = min(i + k - 1, T - 1)
        s = rng.choice(S, size=m, p=mu)
        states = np.zeros((T + 1, m), dtype=np.int64)
        acts = np.zeros((T, m), dtype=np.int64)
        rews = np.zeros((T, m))
        states[0] = s
        for t in range(T):
            a = policy[t, s] if t < i else rng.integers(0, A, size=m)
            acts[t], rews[t] = a, R[s, a]
            s = _sample_next(P, s, a, rng)
            states[t + 1] = s
        episodes += m
        # regression of the random policy's return at step `end`
        ret = rews[end:].sum(axis=0)
        q_hat = _tabular_mean(states[end], acts[end], ret, S, A)
        # k - 1 fitted-Q backups down to step i
        for j in range(end - 1, i - 1, -1):
            nxt = states[j + 1]
            vmax = np.nanmax(np.where(np.isnan(q_hat[nxt]), -np.inf, q_hat[nxt]), axis=1)
            vmax = np.where(np.isfinite(vmax), vmax, rews[j + 1:].sum(axis=0))  # unseen: MC fallback
            q_hat = _tabular_mean(states[j], acts[j], rews[j] + vmax, S, A)
        q_used[i] = q_hat
        filled = np.where(np.isnan(q_hat), -np.inf, q_hat)
        policy[i] = np.where(np.isfinite(filled).any(axis=1), filled.argmax(axis=1), 0)
        if emit(callback, Iteration("sqirl.solve()", nit=i + 1, objective=float(np.nanmax(q_hat, initial=-np.inf)))):
            status, message = Status.STOPPED, f"stopped by the callback after {i + 1} of {T} stages"
            break
    value = policy_value(P, R, policy, initial=mu)
    params = {"horizon": T, "k": k, "n_rollouts": m, "seed": seed.root, "time_limit": time_limit}
    return SQIRLResult(status=status, message=message, x=policy, objective=value, nit=T, runtime=time.perf_counter() - t0,
                       method="sqirl", backend="numpy", params=params, policy=policy, q=q_used, value=value, k=k,
                       n_episodes=episodes)


def _tabular_mean(s: np.ndarray, a: np.ndarray, y: np.ndarray, S: int, A: int) -> np.ndarray:
    """Least squares on one-hot (state, action) features: the mean target per pair (nan if none)."""
    idx = s * A + a
    tot = np.bincount(idx, weights=y, minlength=S * A)
    cnt = np.bincount(idx, minlength=S * A)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(cnt > 0, tot / np.maximum(cnt, 1), np.nan)
    return out.reshape(S, A)
