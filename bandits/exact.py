"""Exact finite-horizon values of small coRMABs by dynamic programming over the joint state.

The joint state space has ``S**J`` states (kept as a ``J``-dimensional tensor); the feasible
actions are enumerated. Values follow the reward convention of :mod:`bandits.problem`: the reward
of a step is the expected next-step reward ``R(s, a) = sum_j E[r_j(s'_j) | s, a]``, and both
functions return the **average expected reward per step** over ``horizon`` steps,

``(1 / H) * E[ sum_{t=0}^{H-1} R(s_t, a_t) | s_0 ]``.

Backward recursion: ``V_H = 0``, ``V_t(s) = max_a E[ r(s') + V_{t+1}(s') | s, a ]`` (the
maximum taken over the feasible actions; for :func:`policy_value` the policy's action).
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from bandits.problem import CoRMAB
from engine.errors import InvalidInputError, UnsupportedProblemError
from engine.validation import check_int
from engine.validation import short_repr as _short

__all__ = ["optimal_value", "policy_value", "policy_actions", "joint_states", "expect_next", "MAX_STATES"]

#: Default cap on the joint state space ``S**J``.
MAX_STATES = 50_000


def joint_states(n_arms: int, n_states: int) -> np.ndarray:
    """All joint states in C order: row ``i`` is the state whose flat tensor index is ``i``."""
    grids = np.unravel_index(np.arange(n_states ** n_arms), (n_states,) * n_arms)
    return np.stack(grids, axis=1).astype(np.int64)


def expect_next(values: np.ndarray, mats: np.ndarray) -> np.ndarray:
    """``out[s] = sum_{s'} prod_j mats[j, s_j, s'_j] * values[s']`` for a ``J``-dim tensor ``values``."""
    out = values
    for j in range(mats.shape[0]):
        out = np.moveaxis(np.tensordot(mats[j], out, axes=([1], [j])), 0, j)
    return out


def _reward_tensor(problem: CoRMAB) -> np.ndarray:
    R = problem.arms.rewards
    J, S = R.shape
    out = np.zeros((S,) * J)
    for j in range(J):
        shape = [1] * J
        shape[j] = S
        out = out + R[j].reshape(shape)
    return out


def _validate(problem: Any, horizon: Any, initial_state: Any, max_states: Any, where: str):
    if not isinstance(problem, CoRMAB):
        raise InvalidInputError(f"{where}: problem must be a bandits.CoRMAB, got {type(problem).__name__}")
    H = check_int(horizon, "horizon", where, lower=1)
    cap = check_int(max_states, "max_states", where, lower=1)
    n = problem.n_states ** problem.n_arms
    if n > cap:
        raise InvalidInputError(f"{where}: the joint state space has {n} states (S={problem.n_states}, "
                                f"J={problem.n_arms}), above max_states={cap}")
    if initial_state is None:
        s0 = None
    else:
        s0 = np.asarray(initial_state)
        f = np.asarray(s0, dtype=float) if s0.dtype != object else None
        if (f is None or s0.shape != (problem.n_arms,) or not np.all(np.isfinite(f)) or not np.all(f == np.round(f))
                or f.min() < 0 or f.max() >= problem.n_states):
            raise InvalidInputError(f"{where}: initial_state must be {problem.n_arms} integers in "
                                    f"[0, {problem.n_states}), got {initial_state!r}")
        s0 = f.astype(np.int64)
    return H, s0


def _read(V: np.ndarray, s0: Optional[np.ndarray]) -> float:
    if s0 is None:
        return float(V.mean())
    return float(V[tuple(s0)])


def optimal_value(problem: CoRMAB, horizon: int, initial_state: Any = None, *,
                  max_states: int = MAX_STATES, max_actions: int = 100_000) -> float:
    """Optimal average expected reward per step over ``horizon`` steps, by dynamic programming.

    Parameters
    ----------
    problem : CoRMAB
        A small problem (``S**J <= max_states``, at most ``max_actions`` feasible actions).
    horizon : int
        Number of decisions ``H``.
    initial_state : array_like of int, shape (J,), optional
        The start state; ``None`` averages over a uniformly random start state.

    Returns
    -------
    float

    Examples
    --------
    >>> import bandits, solvers
    >>> arms = bandits.MultiStateArms([0.1, 0.1], [0.9, 0.9], [[0, 1], [0, 1]])
    >>> p = bandits.CoRMAB(arms, solvers.FeasibleSet.budget(n=2, budget=2))
    >>> round(bandits.exact.optimal_value(p, horizon=1, initial_state=[0, 0]), 6)
    1.8
    """
    where = "exact.optimal_value()"
    H, s0 = _validate(problem, horizon, initial_state, max_states, where)
    actions = problem.feasible_actions(max_actions)
    if actions is None:
        raise UnsupportedProblemError(f"{where}: more than max_actions={max_actions} feasible actions")
    mats = [problem.arms.arm_matrices(a) for a in actions]
    rsum = _reward_tensor(problem)
    V = np.zeros_like(rsum)
    for _ in range(H):
        target = rsum + V
        best: Optional[np.ndarray] = None
        for M in mats:
            Q = expect_next(target, M)
            best = Q if best is None else np.maximum(best, Q)
        if best is None:  # a CoRMAB has at least one feasible action; an enumerator may still return none
            raise UnsupportedProblemError(f"{where}: the problem's enumerator returned no feasible action")
        V = best
    return _read(V, s0) / H


def as_policy_action(problem: CoRMAB, raw: Any, state: np.ndarray, where: str) -> np.ndarray:
    """``raw = policy.act(state)`` as a 0/1 int64 vector of length ``problem.n_actions``, or InvalidInputError.

    Anything else (``None``, a wrong length, fractions such as 0.5, strings) is refused with a
    message naming the state and the answer, instead of being truncated or broadcast.
    """
    n = problem.n_actions
    arr: Optional[np.ndarray]
    try:
        arr = np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        arr = None
    if arr is None or arr.shape != (n,) or not np.all((arr == 0.0) | (arr == 1.0)):
        raise InvalidInputError(f"{where}: policy.act() returned {_short(raw)} in state {np.asarray(state).tolist()}; "
                                f"expected a 0/1 vector of length {n}")
    return arr.astype(np.int64)


def check_feasible(problem: CoRMAB, state: np.ndarray, action: np.ndarray, where: str) -> None:
    """InvalidInputError naming the state and the action when ``action`` violates the constraints."""
    if not problem.contains(action):
        raise InvalidInputError(f"{where}: policy.act() returned action {action.tolist()} in state "
                                f"{np.asarray(state).tolist()}, which violates the {problem.name} constraints")


def policy_actions(problem: CoRMAB, policy: Any, *, max_states: int = MAX_STATES, check_actions: bool = True,
                   where: str = "exact.policy_actions()") -> np.ndarray:
    """The policy's action in every joint state (rows in :func:`joint_states` order).

    Every answer must be a 0/1 vector of length ``n_actions``; with ``check_actions`` each
    distinct action is also checked against the constraints (as Monte Carlo evaluation checks
    every action it simulates): an infeasible one raises InvalidInputError naming a state where
    the policy chose it.
    """
    states = joint_states(problem.n_arms, problem.n_states)
    if states.shape[0] > max_states:
        raise InvalidInputError(f"{where}: {states.shape[0]} joint states above max_states={max_states}")
    acts = np.stack([as_policy_action(problem, policy.act(s), s, where) for s in states])
    if check_actions:
        _, first = np.unique(acts, axis=0, return_index=True)
        for i in np.sort(first):
            check_feasible(problem, states[i], acts[i], where)
    return acts


def policy_value(problem: CoRMAB, policy: Any, horizon: int, initial_state: Any = None, *,
                 max_states: int = MAX_STATES) -> float:
    """Average expected reward per step of a deterministic stationary policy, by backward recursion.

    The policy's action is queried once in every joint state (``policy.act(state)``), so the
    policy must be deterministic (``policy.deterministic`` not False). Every action must be a
    0/1 vector of length ``n_actions`` within the constraints; otherwise
    :class:`~engine.errors.InvalidInputError` names the state and the action.

    Parameters
    ----------
    problem : CoRMAB
    policy : object with ``act(state) -> action``
    horizon : int
    initial_state : array_like of int, shape (J,), optional
        ``None`` averages over a uniformly random start state.

    Returns
    -------
    float

    Examples
    --------
    >>> import bandits, solvers
    >>> arms = bandits.MultiStateArms([0.1, 0.1], [0.9, 0.9], [[0, 1], [0, 1]])
    >>> p = bandits.CoRMAB(arms, solvers.FeasibleSet.budget(n=2, budget=1))
    >>> round(bandits.exact.policy_value(p, bandits.policies.null(p), horizon=1, initial_state=[0, 0]), 6)
    0.2
    """
    where = "exact.policy_value()"
    H, s0 = _validate(problem, horizon, initial_state, max_states, where)
    if getattr(policy, "deterministic", True) is False:
        raise UnsupportedProblemError(f"{where}: policy {getattr(policy, 'name', policy)!r} is randomised; "
                                      "use bandits.evaluate (Monte Carlo) for it")
    acts = policy_actions(problem, policy, max_states=max_states, where=where)
    uniq, inverse = np.unique(acts, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    mats = [problem.arms.arm_matrices(a) for a in uniq]
    rsum = _reward_tensor(problem)
    shape = rsum.shape
    V = np.zeros_like(rsum)
    for _ in range(H):
        target = rsum + V
        newV = np.empty(V.size)
        for k, M in enumerate(mats):
            Q = expect_next(target, M).reshape(-1)
            sel = inverse == k
            newV[sel] = Q[sel]
        V = newV.reshape(shape)
    return _read(V, s0) / H
