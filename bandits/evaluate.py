"""Evaluate a policy on a coRMAB: Monte Carlo over episodes, or exactly on small problems.

The score of an episode is its **average expected next-step reward per step**,
``(1/H) * sum_t R(s_t, a_t)`` with ``R(s, a) = sum_j E[r_j(s'_j) | s, a]`` (the convention of the
SEQUOIA paper; see :mod:`bandits.problem`). Transitions are sampled, so episodes differ only
through the states they visit.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from bandits.arms import _as_states
from bandits.bounds import fluid_bound
from bandits.exact import MAX_STATES, as_policy_action, check_feasible, joint_states, policy_actions
from bandits.problem import CoRMAB
from engine.errors import InvalidInputError, UnsupportedProblemError
from engine.events import Progress, emit
from engine.result import SolveResult
from engine.seeding import resolve_seed
from engine.status import Status
from engine.validation import check_choice, check_int, check_time_limit, short_repr

__all__ = ["evaluate", "EvaluationResult", "start_states"]


@dataclass(frozen=True, kw_only=True)
class EvaluationResult(SolveResult):
    """Result of :func:`evaluate`.

    Attributes
    ----------
    objective, mean : float
        Mean over episodes of the per-step average expected reward.
    sem : float
        Standard error of the mean over episodes (0 for ``method="exact"``).
    returns : numpy.ndarray, shape (episodes,)
        Per-episode average expected reward per step (empty for ``method="exact"``).
    step_rewards : numpy.ndarray, shape (horizon,)
        Mean expected reward of each step (over episodes, or exact).
    decision_time_mean, decision_time_median, decision_time_max : float
        Seconds per ``policy.act`` call.
    n_decisions : int
        Number of ``policy.act`` calls.
    policy : str
        The policy's name.
    certified_bound : float
        With ``bound=``: a certified upper bound on every policy's value from the same start states
        (:func:`bandits.bounds.fluid_bound`), else NaN.
    fraction_of_bound : float
        ``mean / certified_bound`` (NaN without a bound).
    """

    mean: float = math.nan
    sem: float = math.nan
    returns: Any = None
    step_rewards: Any = None
    decision_time_mean: float = math.nan
    decision_time_median: float = math.nan
    decision_time_max: float = math.nan
    n_decisions: int = 0
    policy: str = ""
    certified_bound: float = math.nan
    fraction_of_bound: float = math.nan


def start_states(problem: CoRMAB, episodes: int, *, seed: Any = 0) -> np.ndarray:
    """The ``(episodes, n_arms)`` start states :func:`evaluate` draws for ``seed`` (each arm uniform):
    a bound or another evaluation on exactly the same starts.

    Examples
    --------
    >>> import bandits
    >>> p = bandits.make_domain("budget", n_arms=3, budget=1, seed=0)
    >>> start_states(p, 2, seed=7).shape
    (2, 3)
    """
    where = "start_states()"
    if not isinstance(problem, CoRMAB):
        raise InvalidInputError(f"{where}: problem must be a bandits.CoRMAB, got {type(problem).__name__}")
    E = check_int(episodes, "episodes", where, lower=1)
    return problem.initial_states(resolve_seed(seed, where=where).generator("initial_states"), E)


def _validate_evaluate(problem: Any, policy: Any, episodes: Any, horizon: Any, initial_state: Any, method: Any,
                       where: str):
    if not isinstance(problem, CoRMAB):
        raise InvalidInputError(f"{where}: problem must be a bandits.CoRMAB, got {type(problem).__name__}")
    if not callable(getattr(policy, "act", None)):
        raise InvalidInputError(f"{where}: policy must have an act(state) method, got {type(policy).__name__}")
    E = check_int(episodes, "episodes", where, lower=1)
    H = check_int(horizon, "horizon", where, lower=1)
    check_choice(method, "method", where, ("monte_carlo", "exact"))
    s0 = None
    if initial_state is not None:
        s0 = _as_states(initial_state, problem.n_arms, problem.n_states, where, single=True, name="initial_state")
    return E, H, s0


def evaluate(problem: CoRMAB, policy: Any, *, episodes: int = 50, horizon: int = 20, seed: Any = 0,
             initial_state: Any = None, method: str = "monte_carlo", check_actions: bool = True,
             callback: Any = None, max_states: int = MAX_STATES, time_limit: Optional[float] = None,
             bound: Any = None) -> EvaluationResult:
    """Average expected reward per step of ``policy`` on ``problem``.

    Parameters
    ----------
    problem : CoRMAB
    policy : object with ``act(state) -> 0/1 action`` (``reset(seed)`` is called when present)
    episodes : int
        Monte Carlo episodes (run side by side, one vectorised simulator step per time step).
    horizon : int
        Steps per episode ``H``.
    seed : int, Generator or None
        Drives the initial states, the transitions and the policy's own randomness.
    initial_state : array_like of int, optional
        Start every episode here; ``None`` draws each arm's state uniformly per episode
        (``method="exact"`` then averages over the uniform start).
    method : {"monte_carlo", "exact"}
        ``"exact"`` propagates the joint-state distribution forward (small problems, deterministic
        policies): the answer is the exact expectation and ``sem`` is 0.
    check_actions : bool
        Verify each action against the constraints (an infeasible action raises InvalidInputError
        naming the state and the action), with either method. Every action must be a 0/1 vector
        of length ``n_actions`` whatever this says (``None``, a wrong length or fractions raise
        InvalidInputError rather than being truncated).
    callback : callable, optional
        Receives :class:`engine.events.Progress` after each time step; raising ``StopIteration``
        stops the evaluation (status STOPPED) with the estimate over the steps done.
    time_limit : float, optional
        Wall-clock seconds for a Monte Carlo evaluation, checked before every decision: on expiry
        the result has status TIME_LIMIT and estimates the reward over the first ``params["steps_done"]``
        steps of every episode (the step in progress is dropped; ``nan`` when none was done).
    bound : None, True, float or FluidBound
        Report the value as a fraction of a certified upper bound (``certified_bound``,
        ``fraction_of_bound``): ``True`` computes :func:`bandits.bounds.fluid_bound` over the
        evaluation's own start states (``initial_state``, the uniform start for ``method="exact"``
        without one, else the drawn states: :func:`start_states`); a number or a
        :class:`~bandits.bounds.FluidBound` (its ``certified``) is a bound computed by the caller on
        the same starts. The bound's time counts against ``time_limit``.

    Returns
    -------
    EvaluationResult

    Examples
    --------
    >>> import bandits
    >>> problem = bandits.make_domain("budget", n_arms=4, budget=1, seed=0)
    >>> res = bandits.evaluate(problem, bandits.policies.null(problem), episodes=5, horizon=3, seed=0)
    >>> res.returns.shape, res.sem >= 0
    ((5,), True)
    """
    where = "evaluate()"
    E, H, s0 = _validate_evaluate(problem, policy, episodes, horizon, initial_state, method, where)
    time_limit = check_time_limit(time_limit, where)
    given_bound = _check_bound(bound, where)
    seed_obj = resolve_seed(seed, where=where)
    if hasattr(policy, "reset"):
        policy.reset(seed_obj.int_seed("policy"))
    name = str(getattr(policy, "name", type(policy).__name__))
    params = {"episodes": E, "horizon": H, "seed": seed_obj.root, "method": method,
              "initial_state": None if s0 is None else s0.tolist(), "check_actions": bool(check_actions),
              "time_limit": time_limit}
    t_start = time.perf_counter()
    deadline = math.inf if time_limit is None else t_start + time_limit
    if method == "exact":
        res = _evaluate_exact(problem, policy, H, s0, params, name, t_start, max_states, where)
        return _with_bound(res, problem, given_bound, H, s0, time_limit, t_start)

    rng_init = seed_obj.generator("initial_states")
    rng_step = seed_obj.generator("transitions")
    states = np.repeat(s0[None, :], E, axis=0) if s0 is not None else problem.initial_states(rng_init, E)
    starts = states.copy()
    rewards = np.zeros((E, H))
    times: list[float] = []
    # a policy that plans to the end of the episode (bandits.policies.fluid) is told the steps left
    act_at = getattr(policy, "act_at", None)
    # an estimate, never a proof: a complete Monte Carlo evaluation is FEASIBLE (STYLE.md)
    status, message, done = Status.FEASIBLE, "monte carlo evaluation", H
    for t in range(H):
        acts = np.empty((E, problem.n_actions), dtype=np.int64)
        for e in range(E):
            if time.perf_counter() > deadline:
                status, done = Status.TIME_LIMIT, t
                break
            t0 = time.perf_counter()
            raw = policy.act(states[e]) if act_at is None else act_at(states[e], H - t)
            times.append(time.perf_counter() - t0)
            a = as_policy_action(problem, raw, states[e], where)
            if check_actions:
                check_feasible(problem, states[e], a, where)
            acts[e] = a
        if status == Status.TIME_LIMIT:
            message = f"monte carlo evaluation: time limit reached after {t} of {H} steps"
            break
        rewards[:, t] = problem.expected_reward(states, acts)
        states = problem.step(states, acts, rng_step, check=False)
        if emit(callback, Progress(where, completed=t + 1, total=H, description=name)):
            status, done = Status.STOPPED, t + 1
            message = f"monte carlo evaluation: stopped by the callback after {t + 1} of {H} steps"
            break
    params["steps_done"] = done
    rewards = rewards[:, :done]
    returns = rewards.mean(axis=1) if done else np.full(E, math.nan)
    mean = float(returns.mean())
    sem = float(returns.std(ddof=1) / math.sqrt(E)) if E > 1 and done else math.nan
    tarr = np.asarray(times) if times else np.full(1, math.nan)
    res = EvaluationResult(status=status, message=message, x=None, objective=mean,
                           runtime=time.perf_counter() - t_start, method="monte_carlo", backend="numpy",
                           params=params, mean=mean, sem=sem, returns=returns, step_rewards=rewards.mean(axis=0),
                           decision_time_mean=float(tarr.mean()), decision_time_median=float(np.median(tarr)),
                           decision_time_max=float(tarr.max()), n_decisions=len(times), policy=name)
    return _with_bound(res, problem, given_bound, H, s0 if s0 is not None else starts, time_limit, t_start)


def _check_bound(bound: Any, where: str) -> Any:
    """``bound=`` as None, True (compute it) or a float."""
    if bound is None or bound is False:
        return None
    if bound is True:
        return True
    value = getattr(bound, "certified", bound)
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)) \
            or math.isnan(float(value)):
        raise InvalidInputError(f"{where}: bound must be None, True, a number or a FluidBound, got {short_repr(bound)}")
    return float(value)


def _with_bound(res: EvaluationResult, problem: CoRMAB, bound: Any, H: int, initial: Optional[np.ndarray],
                time_limit: Optional[float], t_start: float) -> EvaluationResult:
    """``res`` with ``certified_bound`` and ``fraction_of_bound`` (``bound``: None, True or a float)."""
    if bound is None:
        return res
    params = dict(res.params)
    if bound is True:
        left = None if time_limit is None else max(time_limit - (time.perf_counter() - t_start), 1e-3)
        fb = fluid_bound(problem, horizon=H, initial=initial, time_limit=left)
        bound = float(fb.certified)
        params["bound"] = {"method": fb.method, "status": fb.status.value, "runtime": fb.runtime}
    else:
        params["bound"] = {"method": "given"}
    frac = res.mean / bound if math.isfinite(bound) and bound > 0 and math.isfinite(res.mean) else math.nan
    return dataclasses.replace(res, params=params, certified_bound=bound, fraction_of_bound=frac,
                               runtime=time.perf_counter() - t_start)


def _evaluate_exact(problem: CoRMAB, policy: Any, H: int, s0: Optional[np.ndarray], params: dict, name: str,
                    t_start: float, max_states: int, where: str) -> EvaluationResult:
    if getattr(policy, "deterministic", True) is False:
        raise UnsupportedProblemError(f"{where}: method='exact' needs a deterministic policy, {name!r} is randomised")
    J, S = problem.n_arms, problem.n_states
    if S ** J > max_states:
        raise InvalidInputError(f"{where}: method='exact' needs S**J <= max_states={max_states}, got {S ** J}")
    t0 = time.perf_counter()
    acts = policy_actions(problem, policy, max_states=max_states, check_actions=bool(params["check_actions"]),
                          where=where)
    dt = (time.perf_counter() - t0) / acts.shape[0]
    states = joint_states(J, S)
    R = problem.expected_reward(states, acts)  # reward of acting in each joint state
    uniq, inverse = np.unique(acts, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    mats = [problem.arms.arm_matrices(a) for a in uniq]
    shape = (S,) * J
    if s0 is None:
        d = np.full(S ** J, 1.0 / S ** J)
    else:
        d = np.zeros(S ** J)
        d[np.ravel_multi_index(tuple(s0), shape)] = 1.0
    step_rewards = np.zeros(H)
    for t in range(H):
        step_rewards[t] = float(d @ R)
        nxt = np.zeros(shape)
        for k, M in enumerate(mats):
            dk = np.where(inverse == k, d, 0.0).reshape(shape)
            for j in range(J):  # push the mass of arm j forward: sum_s d[s] M[j, s_j, s'_j]
                dk = np.moveaxis(np.tensordot(dk, M[j], axes=([j], [0])), -1, j)
            nxt += dk
        d = nxt.reshape(-1)
    mean = float(step_rewards.mean())
    return EvaluationResult(status=Status.OPTIMAL, message="exact forward evaluation", objective=mean,
                            runtime=time.perf_counter() - t_start, method="exact", backend="numpy", params=params,
                            mean=mean, sem=0.0, returns=np.zeros(0), step_rewards=step_rewards,
                            decision_time_mean=dt, decision_time_median=dt, decision_time_max=dt,
                            n_decisions=int(acts.shape[0]), policy=name)
