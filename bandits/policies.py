"""Baseline policies for coRMABs.

Every factory takes the problem first and returns an object with ``act(state) -> 0/1 action``
(a numpy int array of length ``problem.n_actions``), a ``name``, a ``deterministic`` flag and
``reset(seed)`` (called by :func:`bandits.evaluate` so randomised policies are reproducible).

- :func:`null`: pull nothing (the all-zero action; for "exactly B" sets, a fixed feasible action).
- :func:`random`: the domain's random feasible action.
- :func:`sampling`: the best of ``n_samples`` random feasible actions by one-step expected reward.
- :func:`myopic`: the exact one-step optimum ``argmax_a R(s, a)`` -- a HiGHS MIP over the feasible
  set when ``R`` is linear in the action, exact enumeration when the set is small, and for the
  sigmoid (interventions) domain an exact MIP over the discrete values each arm's input can take.
- :func:`iterative_myopic`: greedy construction, adding the pull with the largest gain in ``R``
  while the action stays feasible.
- :func:`iterative_dqn`: greedy construction scored by a Q-network trained by deep Q-learning
  (:class:`bandits.Sequoia` with ``action_selection="greedy"``).
- :func:`whittle`: the Whittle index policy for budget-only problems with decoupled arms; indices
  computed per arm by bisection on the passive subsidy with exact policy iteration.
- :func:`sequoia`: a trained :class:`bandits.Sequoia` agent as a policy.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from bandits.arms import InterventionArms
from bandits.fluid import fluid as _fluid
from bandits.fluid_lookahead import fluid_lookahead as _fluid_lookahead
from bandits.policy_base import Policy, _check_problem, _state, greedy_construct
from bandits.problem import CoRMAB, action_key
from engine.errors import InvalidInputError, UnsupportedProblemError
from engine.seeding import resolve_seed
from engine.status import Status
from engine.validation import check_int, check_real, check_time_limit
from solvers.highs import LinearModel

__all__ = ["Policy", "null", "random", "sampling", "myopic", "iterative_myopic", "iterative_dqn", "whittle",
           "sequoia", "whittle_indices", "greedy_construct", "fluid",
           "fluid_lookahead"]


# ---------------------------------------------------------------------------------------------
class _Null(Policy):
    name = "null"

    def __init__(self, problem: CoRMAB) -> None:
        super().__init__(problem)
        zero = np.zeros(problem.n_actions, dtype=np.int64)
        if problem.contains(zero):
            self._a = zero
        else:  # e.g. "exactly B interventions": the lexicographically smallest feasible action
            acts = problem.feasible_actions(1_000_000)
            self._a = acts[np.lexsort(acts.T[::-1])][0].copy() if acts is not None and len(acts) else \
                problem.sample_action(np.random.default_rng(0))  # deterministic policy: fixed fallback

    def act(self, state: Any) -> np.ndarray:
        _state(self.problem, state, "null.act()")
        return self._a.copy()


def null(problem: CoRMAB) -> Policy:
    """Pull nothing.

    Examples
    --------
    >>> import bandits
    >>> p = bandits.make_domain("budget", n_arms=3, budget=1, seed=0)
    >>> bandits.policies.null(p).act([0, 1, 2]).tolist()
    [0, 0, 0]
    """
    return _Null(_check_problem(problem, "policies.null()"))


class _Random(Policy):
    name = "random"
    deterministic = False

    def __init__(self, problem: CoRMAB, seed: Any) -> None:
        super().__init__(problem)
        self.reset(seed)

    def reset(self, seed: Any = None) -> None:
        self._rng = resolve_seed(seed, where="policies.random()").generator("random_policy")

    def act(self, state: Any) -> np.ndarray:
        _state(self.problem, state, "random.act()")
        return self.problem.sample_action(self._rng)


def random(problem: CoRMAB, *, seed: Any = 0) -> Policy:
    """A random feasible action each step (the domain's sampler).

    Examples
    --------
    >>> import bandits
    >>> p = bandits.make_domain("budget", n_arms=5, budget=2, seed=0)
    >>> int(bandits.policies.random(p, seed=1).act([0] * 5).sum()) <= 2
    True
    """
    return _Random(_check_problem(problem, "policies.random()"), seed)


class _Sampling(_Random):
    name = "sampling"

    def __init__(self, problem: CoRMAB, n_samples: int, seed: Any) -> None:
        super().__init__(problem, seed)
        self.n_samples = n_samples

    def act(self, state: Any) -> np.ndarray:
        s = _state(self.problem, state, "sampling.act()")
        acts = np.stack([self.problem.sample_action(self._rng) for _ in range(self.n_samples)])
        vals = self.problem.expected_reward(np.repeat(s[None], len(acts), axis=0), acts)
        return acts[int(np.argmax(vals))].copy()


def sampling(problem: CoRMAB, *, n_samples: int = 100, seed: Any = 0) -> Policy:
    """Best of ``n_samples`` random feasible actions by one-step expected reward.

    Examples
    --------
    >>> import bandits
    >>> p = bandits.make_domain("budget", n_arms=5, budget=2, seed=0)
    >>> int(bandits.policies.sampling(p, n_samples=10).act([0] * 5).sum()) <= 2
    True
    """
    where = "policies.sampling()"
    return _Sampling(_check_problem(problem, where), check_int(n_samples, "n_samples", where, lower=1), seed)


# ---------------------------------------------------------------------------------------------
class _Myopic(Policy):
    name = "myopic"

    def __init__(self, problem: CoRMAB, enumerate_limit: int, time_limit: Optional[float], threads: int = 1) -> None:
        super().__init__(problem)
        self.time_limit = time_limit
        self.threads = threads
        self._cache: dict[bytes, np.ndarray] = {}
        self._actions = problem.feasible_actions(enumerate_limit) if enumerate_limit > 0 else None
        self._model: Optional[Any] = None  # a solvers.LinearModel when method == "mip"
        self._disc: Optional[_DiscreteResponseMIP] = None
        self.stats.update({"mip_solves": 0, "mip_time": 0.0, "proven_optimal": 0, "domain_maximize": 0,
                           "domain_proven": 0})
        self.method = "enumerate" if self._actions is not None else (
            "discrete_mip" if isinstance(problem.arms, InterventionArms) else "mip")
        # a domain's own maximiser (the path domain's walk search and branch-and-bound) before the MIP, as
        # the fluid LP's pricing: the anytime one when the domain has it (at the time limit its best action,
        # as the MIP's incumbent at its limit), else the exact one
        self._bounded = getattr(problem.domain, "maximize_bounded", None) if self.method == "mip" else None
        self._oracle = getattr(problem.domain, "maximize", None) if self.method == "mip" else None
        if self.method == "mip":
            self._model = problem.feasible_set.to_linear_model(np.zeros(problem.n_actions), sense="max")
        elif self.method == "discrete_mip":
            self._disc = _DiscreteResponseMIP(problem)

    def act(self, state: Any) -> np.ndarray:
        s = _state(self.problem, state, "myopic.act()")
        key = action_key(s)
        hit = self._cache.get(key)
        if hit is not None:
            return hit.copy()
        p = self.problem
        if self.method == "enumerate":
            acts = self._actions
            assert acts is not None  # method "enumerate" means the feasible set was enumerated
            vals = p.expected_reward(np.repeat(s[None], len(acts), axis=0), acts)
            a = acts[int(np.argmax(vals))].copy()
        elif self.method == "mip":
            lin = p.arms.linear_reward(s)
            assert lin is not None  # only InterventionArms are non-linear, and they use "discrete_mip"
            base, delta = lin
            if self._bounded is not None:
                found = self._bounded(delta, time_limit=self.time_limit)
                if found is not None:
                    self.stats["domain_proven"] += int(found[2] <= found[1])
            else:
                found = self._oracle(delta, time_limit=self.time_limit) if self._oracle is not None else None
            if found is not None:
                a = np.array(found[0], dtype=np.int64)
                self.stats["domain_maximize"] += 1
            else:
                m = self._model
                assert m is not None  # built in __init__ for method "mip"
                m.set_objective_coefficients(np.arange(p.n_actions), delta)
                res = m.solve(time_limit=self.time_limit, mip_abs_gap=1e-9, mip_rel_gap=0.0, threads=self.threads)
                a = self._from_result(res)
        else:
            disc = self._disc
            assert disc is not None  # built in __init__ for method "discrete_mip"
            res = disc.solve(s, self.time_limit, self.threads)
            a = self._from_result(res)
        self._cache[key] = a
        return a.copy()

    def _from_result(self, res: Any) -> np.ndarray:
        self.stats["mip_solves"] += 1
        self.stats["mip_time"] += res.runtime
        self.stats["proven_optimal"] += int(res.status == Status.OPTIMAL)
        if res.x is None or res.status not in (Status.OPTIMAL, Status.FEASIBLE, Status.TIME_LIMIT):
            self.stats["fallbacks"] += 1
            return self.problem.sample_action(np.random.default_rng(0))  # deterministic policy: fixed fallback
        a = np.round(res.x[: self.problem.n_actions]).astype(np.int64)
        if not self.problem.contains(a):
            self.stats["fallbacks"] += 1
            return self.problem.sample_action(np.random.default_rng(0))  # deterministic policy: fixed fallback
        return a


class _DiscreteResponseMIP:
    """Exact one-step MIP for :class:`InterventionArms`: one indicator per value of each arm's input.

    Arm ``j``'s input ``v_j = w_j @ a`` takes finitely many values (subset sums of its non-zero
    weights); binaries ``z[j, k]`` pick the value (``sum_k z = 1``, ``sum_k val_k z = w_j @ a``), and
    the objective ``sum_{j,k} f_j(val_k) z[j, k]`` is the exact expected reward.
    """

    def __init__(self, problem: CoRMAB, max_values: int = 4096) -> None:
        import scipy.sparse as sp

        arms = problem.arms
        assert isinstance(arms, InterventionArms)  # _Myopic only builds this for intervention arms
        fs = problem.feasible_set
        n, k = fs.n_actions, fs.n_aux
        J = arms.n_arms
        self.values: list[np.ndarray] = []
        for j in range(J):
            vals = {0.0}
            for w in arms.weights[j][arms.weights[j] != 0]:
                vals |= {round(v + float(w), 12) for v in vals}
                if len(vals) > max_values:
                    raise UnsupportedProblemError("myopic(): an arm's intervention input takes too many values")
            self.values.append(np.array(sorted(vals)))
        nz = sum(len(v) for v in self.values)
        offs = np.cumsum([0] + [len(v) for v in self.values])
        rows, cols, data = [], [], []
        r = 0
        for j in range(J):
            zc = n + k + offs[j] + np.arange(len(self.values[j]))
            rows += [r] * len(zc); cols += zc.tolist(); data += [1.0] * len(zc)
            r += 1
            rows += [r] * len(zc); cols += zc.tolist(); data += self.values[j].tolist()
            nzw = np.flatnonzero(arms.weights[j])
            rows += [r] * len(nzw); cols += nzw.tolist(); data += (-arms.weights[j][nzw]).tolist()
            r += 1
        extra = sp.csr_matrix((data, (rows, cols)), shape=(r, n + k + nz))
        base = sp.hstack([fs.A, sp.csr_matrix((fs.n_rows, nz))]).tocsr()
        A = sp.vstack([base, extra]).tocsr()
        lo = np.concatenate([fs.row_lower, np.tile([1.0, 0.0], J)])
        hi = np.concatenate([fs.row_upper, np.tile([1.0, 0.0], J)])
        col_lo = np.concatenate([np.zeros(n), fs.aux_lower, np.zeros(nz)])
        col_hi = np.concatenate([np.ones(n), fs.aux_upper, np.ones(nz)])
        integ = np.concatenate([np.ones(n, bool), fs.aux_integer, np.ones(nz, bool)])
        self.model = LinearModel(np.zeros(n + k + nz), A, lo, hi, col_lower=col_lo, col_upper=col_hi,
                                 integrality=integ, sense="max")
        self.z0 = n + k
        self.offs = offs
        self.arms = arms

    def solve(self, s: np.ndarray, time_limit: Optional[float], threads: int = 1):
        arms = self.arms
        S = arms.n_states
        parts: list[np.ndarray] = []
        for j in range(self.arms.n_arms):
            v = self.values[j]
            sig = 1.0 / (1.0 + np.exp(-(arms.slope[j] * (arms.theta[j] + v) - arms.x0[j])))
            p = np.clip(arms.scale * arms.amp[j] * (sig - 1.0 / (1.0 + np.exp(arms.x0[j]))) + arms.floor, 0, 1)
            up, down = arms.rewards[j, min(s[j] + 1, S - 1)], arms.rewards[j, max(s[j] - 1, 0)]
            parts.append(p * up + (1 - p) * down)
        c = np.concatenate(parts)
        self.model.set_objective_coefficients(self.z0 + np.arange(c.size), c)
        return self.model.solve(time_limit=time_limit, mip_abs_gap=1e-9, mip_rel_gap=0.0, threads=threads)


def myopic(problem: CoRMAB, *, enumerate_limit: int = 20_000, time_limit: Optional[float] = None,
           threads: int = 1) -> Policy:
    """The exact one-step optimum ``argmax_a R(s, a)`` over the feasible set.

    By enumeration when the set has at most ``enumerate_limit`` actions, otherwise a HiGHS MIP
    over the :class:`solvers.FeasibleSet` (the objective ``R`` is linear in the action) built once
    and re-solved per state; for :class:`~bandits.InterventionArms` an exact MIP over the values
    of each arm's input. Decisions are memoised per state. ``time_limit`` (seconds) and
    ``threads`` (HiGHS threads, default 1) hold for each MIP solve.

    Examples
    --------
    >>> import bandits
    >>> p = bandits.make_domain("capacity", n_arms=6, budget=2, seed=0)
    >>> a = bandits.policies.myopic(p).act([0, 1, 2, 3, 0, 1])
    >>> bool(p.contains(a))
    True
    """
    where = "policies.myopic()"
    _check_problem(problem, where)
    lim = check_int(enumerate_limit, "enumerate_limit", where, lower=0)
    return _Myopic(problem, lim, check_time_limit(time_limit, where), check_int(threads, "threads", where, lower=1))


# ---------------------------------------------------------------------------------------------
class _IterativeMyopic(Policy):
    name = "iterative_myopic"

    def __init__(self, problem: CoRMAB) -> None:
        super().__init__(problem)
        self._cache: dict[bytes, np.ndarray] = {}

    def act(self, state: Any) -> np.ndarray:
        s = _state(self.problem, state, "iterative_myopic.act()")
        key = action_key(s)
        if key not in self._cache:
            p = self.problem
            a, ok = greedy_construct(p, s, lambda A: p.expected_reward(np.repeat(s[None], len(A), axis=0), A))
            if not ok:
                self.stats["fallbacks"] += 1
                a = p.sample_action(np.random.default_rng(0))  # deterministic policy: fixed fallback
            self._cache[key] = a
        return self._cache[key].copy()


def iterative_myopic(problem: CoRMAB) -> Policy:
    """Greedy construction on the one-step expected reward.

    Examples
    --------
    >>> import bandits
    >>> p = bandits.make_domain("budget", n_arms=4, budget=2, seed=0)
    >>> int(bandits.policies.iterative_myopic(p).act([0, 0, 0, 0]).sum()) <= 2
    True
    """
    return _IterativeMyopic(_check_problem(problem, "policies.iterative_myopic()"))


def iterative_dqn(problem: CoRMAB, *, episodes: int = 100, seed: Any = 0, agent: Any = None, **options: Any) -> Policy:
    """Greedy construction scored by a deep-Q-learned network (trained here unless ``agent`` is given).

    ``options`` go to :class:`bandits.Sequoia` (``action_selection`` is forced to ``"greedy"``).
    """
    from bandits.sequoia import Sequoia  # on first use: it loads torch (import bandits does not)

    where = "policies.iterative_dqn()"
    _check_problem(problem, where)
    if agent is None:
        agent = Sequoia(problem, seed=seed, action_selection="greedy", **options)
        agent.train(episodes=check_int(episodes, "episodes", where, lower=0))
    return agent.policy(name="iterative_dqn")


def sequoia(problem: CoRMAB, *, agent: Any = None, episodes: int = 100, seed: Any = 0, **options: Any) -> Policy:
    """A SEQUOIA agent as a policy (trained here unless ``agent`` is given)."""
    from bandits.sequoia import Sequoia  # on first use: it loads torch (import bandits does not)

    where = "policies.sequoia()"
    _check_problem(problem, where)
    if agent is None:
        agent = Sequoia(problem, seed=seed, **options)
        agent.train(episodes=check_int(episodes, "episodes", where, lower=0))
    return agent.policy(name="sequoia")


# ---------------------------------------------------------------------------------------------
def _arm_q(P: np.ndarray, r: np.ndarray, lam: float, gamma: float) -> np.ndarray:
    """Q[s, a] of one arm with passive subsidy ``lam``: exact policy iteration (discounted)."""
    S = P.shape[1]
    rew = np.stack([P[0] @ r + lam, P[1] @ r], axis=1)  # [S, 2]
    pol = np.zeros(S, dtype=np.int64)
    for _ in range(100):
        Ppi = P[pol, np.arange(S)]
        V = np.linalg.solve(np.eye(S) - gamma * Ppi, rew[np.arange(S), pol])
        Q = rew + gamma * np.stack([P[0] @ V, P[1] @ V], axis=1)
        new = np.argmax(Q - np.array([0.0, 1e-12]), axis=1)  # ties -> passive
        if np.array_equal(new, pol):
            return Q
        pol = new
    return Q


def whittle_indices(arms: Any, *, discount: float = 0.95, tol: float = 1e-10) -> np.ndarray:
    """Whittle indices ``[J, S]`` of decoupled binary-action arms (discounted, exact up to ``tol``).

    The index of state ``s`` is the passive subsidy ``lam`` at which pulling and not pulling are
    equally good in ``s``; found by bisection, each evaluation an exact policy iteration.
    """
    P = arms.transitions
    R = arms.rewards
    J, S = R.shape
    span = float(np.abs(R).max()) * 2.0 / (1.0 - discount) + 1.0
    out = np.zeros((J, S))
    for j in range(J):
        for s in range(S):
            lo, hi = -span, span
            while hi - lo > tol:
                mid = 0.5 * (lo + hi)
                Q = _arm_q(P[j], R[j], mid, discount)
                if Q[s, 1] > Q[s, 0]:
                    lo = mid
                else:
                    hi = mid
            out[j, s] = 0.5 * (lo + hi)
    return out


class _Whittle(Policy):
    name = "whittle"

    def __init__(self, problem: CoRMAB, discount: float) -> None:
        super().__init__(problem)
        self.discount = discount
        self.indices = whittle_indices(problem.arms, discount=discount)

    def act(self, state: Any) -> np.ndarray:
        s = _state(self.problem, state, "whittle.act()")
        idx = self.indices[np.arange(self.problem.n_arms), s]
        order = np.lexsort((np.arange(idx.size), -idx))
        a = np.zeros(self.problem.n_actions, dtype=np.int64)
        chosen = [j for j in order[: self.problem.budget] if idx[j] > 0]
        a[chosen] = 1
        return a


def whittle(problem: CoRMAB, *, discount: float = 0.95) -> Policy:
    """Whittle index policy: pull the ``B`` arms with the largest positive index of their state.

    Only for budget-only problems with decoupled arms (``make_domain("budget", ...)`` or a
    ``CoRMAB`` named ``"budget"`` with a ``budget``); other problems raise
    :class:`~engine.errors.UnsupportedProblemError`.

    Examples
    --------
    >>> import bandits
    >>> p = bandits.make_domain("budget", n_arms=4, budget=2, seed=0)
    >>> int(bandits.policies.whittle(p).act([0, 1, 2, 3]).sum()) <= 2
    True
    """
    where = "policies.whittle()"
    _check_problem(problem, where)
    if not problem.is_budget_only or isinstance(problem.arms, InterventionArms):
        raise UnsupportedProblemError(f"{where}: the Whittle index needs a budget-only problem with decoupled arms, "
                                      f"got {problem.name!r}")
    g = check_real(discount, "discount", where, lower=0.0, upper=1.0)
    if g >= 1.0:
        raise InvalidInputError(f"{where}: discount must be < 1, got {discount}")
    return _Whittle(problem, g)


def fluid(problem: CoRMAB, *, horizon: int = 20, rounding: str = "index", **options: Any) -> Policy:
    """The fluid re-planning policy: re-solve the fluid LP from the current state each step and take
    the feasible action maximising its separable value-to-go index (:func:`bandits.fluid.fluid`,
    which documents every option).

    Examples
    --------
    >>> import bandits
    >>> p = bandits.make_domain("budget", n_arms=4, budget=2, seed=0)
    >>> bool(p.contains(bandits.policies.fluid(p, horizon=5).act([0, 1, 2, 3])))
    True
    """
    return _fluid(problem, horizon=horizon, rounding=rounding, **options)


def fluid_lookahead(problem: CoRMAB, *, horizon: int = 20, candidates: int = 8, **options: Any) -> Policy:
    """The fluid policy with a one-step look-ahead: score the index's ``candidates`` best actions by
    the step's reward plus the fluid LP's value from their next-state marginals
    (:func:`bandits.fluid_lookahead.fluid_lookahead`, which documents every option).

    Examples
    --------
    >>> import bandits
    >>> p = bandits.make_domain("budget", n_arms=4, budget=2, seed=0)
    >>> bool(p.contains(bandits.policies.fluid_lookahead(p, horizon=5, candidates=3).act([0, 1, 2, 3])))
    True
    """
    return _fluid_lookahead(problem, horizon=horizon, candidates=candidates, **options)
