"""The fluid policy with a one-step look-ahead: score the index's best candidates by the fluid LP's value.

At state ``s`` with ``h`` steps to go, the fluid re-planning policy (:mod:`bandits.fluid`) ranks the
feasible actions by its separable value-to-go index, a linearisation of the fluid LP's value at the
next step around the LP's own solution. The look-ahead takes the index's ``candidates`` best actions
and scores each one ``a`` exactly as the LP sees it:

``score(a) = R(s, a) + (h - 1) * V_LP(h - 1, mu_a)``

where ``R(s, a)`` is the expected reward of the step and ``mu_a`` the per-arm distributions of the
next state (``mu_a[j] = P_j[a|_j][s_j, .]``; arms move independently given ``s`` and ``a``, so these
marginals are the next state's law as the LP sees it) and ``V_LP(h - 1, mu)`` the fluid LP's value
per step over ``h - 1`` steps from ``mu`` (:meth:`bandits.bounds.FluidLP.solve`; one LP kept for
every candidate, warm re-solves from the kept basis and column pool). The best score wins; ties go to
the higher index. ``candidates=1`` is the fluid policy itself (the index's argmax, no LP scoring).

**Candidates.** Enumerable sets: the exact top ``candidates`` actions by the index (one pass over the
enumerated actions). Otherwise (the index's argmax is a MIP or a domain's exact maximiser): the
argmax, then for each of the ``candidates - 1`` arms whose pull decision has the smallest index
margin ``|Q_j(1) - Q_j(0)|``, the exact argmax with that arm's decision forced the other way (its
index set to ``-FORCE``): the best action that differs on the most borderline arm, each exact over
the domain's constraints.

The policy is deterministic; decisions are memoised per state and steps to go as the fluid policy's.
"""

from __future__ import annotations

import time
from typing import Any, Optional

import numpy as np

from bandits.bounds import COUPLINGS, ENUMERATE_LIMIT, FluidBound, FluidLP
from bandits.fluid import _check_warm_start, _Fluid
from bandits.policy_base import Policy, _check_problem
from bandits.problem import CoRMAB
from engine.status import Status
from engine.validation import check_choice, check_int, check_time_limit

__all__ = ["fluid_lookahead"]

#: Index penalty that forces a local action out of the argmax (the index's scale is a few rewards
#: per step times the horizon, far below it)
FORCE = 1e6


class _FluidLookahead(_Fluid):
    name = "fluid_lookahead"

    def __init__(self, problem: CoRMAB, horizon: int, candidates: int, enumerate_limit: int,
                 time_limit: Optional[float], threads: int, seed: Any, max_rounds: Optional[int],
                 coupling: str, episode_aware: bool, warm_start: Optional[FluidBound]) -> None:
        super().__init__(problem, horizon, "index", enumerate_limit, time_limit, threads, seed, max_rounds=max_rounds,
                         coupling=coupling, episode_aware=episode_aware, warm_start=warm_start)
        self.candidates = candidates
        # a second LP for the candidates' next-state values: the policy's own LP keeps the basis and
        # duals of the solve from the current state (its basis bookkeeping assumes one solve a decision)
        self.value_lp = FluidLP(problem, horizon=horizon, coupling=coupling, seed=seed,
                                enumerate_limit=enumerate_limit, threads=threads, group_arms=False) \
            if candidates > 1 else None
        self._where: tuple[np.ndarray, int] = (np.zeros(0, dtype=np.int64), 0)
        self.stats.update({"value_solves": 0, "value_time": 0.0, "value_failures": 0, "changed": 0})

    def _act(self, s: np.ndarray, h: int) -> np.ndarray:
        self._where = (s, h)
        return super()._act(s, h)

    def _argmax(self, Q: np.ndarray, key: tuple[int, bytes], memo: bool, t0: float) -> np.ndarray:
        s, h = self._where
        if self.value_lp is None or h <= 1:
            # one step left: the index is the step's expected reward, the look-ahead adds nothing
            return super()._argmax(Q, key, memo, t0)
        Q = np.where(np.isfinite(Q), Q, 0.0)
        cands = [a for a in self._candidates(Q) if self.problem.contains(a)]
        if not cands:
            return super()._argmax(Q, key, memo, t0)
        loc, lp = self.lp.local, self.value_lp
        best, best_score = cands[0], -np.inf
        for i, a in enumerate(cands):
            u = loc.project(a)[0]
            mu = np.stack([loc.P[j][u[j], s[j], :] for j in range(loc.J)])
            res = lp.solve(mu, time_limit=self.time_limit, max_rounds=self.max_rounds or 1000, steps=h - 1,
                           with_basis=False)
            self.stats["value_solves"] += 1
            self.stats["value_time"] += res.runtime
            if res.status not in (Status.OPTIMAL, Status.TIME_LIMIT, Status.ITERATION_LIMIT) \
                    or not np.isfinite(res.value):
                self.stats["value_failures"] += 1
                continue
            score = float(self.problem.expected_reward(s[None, :], a[None, :])[0]) + (h - 1) * res.value
            # a later candidate (lower index) must win by more than the LP's tolerance
            if score > best_score + 1e-9 * max(1.0, abs(score)):
                best, best_score = a, score
        if best is not cands[0]:
            self.stats["changed"] += 1
        a = np.array(best, dtype=np.int64)
        self.stats["decision_time"] += time.perf_counter() - t0
        if memo:
            self._cache[key] = a
        return a.copy()

    def _candidates(self, Q: np.ndarray) -> list[np.ndarray]:
        """The index's best actions: exact top-k when enumerated, else the argmax and the argmaxes with
        one borderline arm's decision forced the other way."""
        pricer = self.lp.pricer
        if pricer.method == "enumeration":
            acts, _, _ = pricer.solve(Q, top=self.candidates)
            return [np.asarray(a, dtype=np.int64) for a in acts]
        acts, _, _ = pricer.solve(Q)
        first = np.asarray(acts[0], dtype=np.int64)
        out = [first]
        seen = {first.tobytes()}
        loc = self.lp.local
        u = loc.project(first)[0]
        # how much the argmax's local action of each unit beats its best alternative
        margin = np.full(loc.J, np.inf)
        for j in range(loc.J):
            U = int(loc.U[j])
            if U > 1:
                margin[j] = abs(Q[j, u[j]] - np.delete(Q[j, :U], u[j]).max())
        for j in np.argsort(margin, kind="stable"):
            if len(out) >= self.candidates or not np.isfinite(margin[j]):
                break
            Qf = Q.copy()
            Qf[j, u[j]] -= FORCE
            got, _, _ = pricer.solve(Qf)
            a = np.asarray(got[0], dtype=np.int64)
            if a.tobytes() not in seen and loc.project(a)[0][j] != u[j]:
                seen.add(a.tobytes())
                out.append(a)
        return out


def fluid_lookahead(problem: CoRMAB, *, horizon: int = 20, candidates: int = 8,
                    enumerate_limit: int = ENUMERATE_LIMIT, time_limit: Optional[float] = None, threads: int = 1,
                    seed: Any = 0, max_rounds: Optional[int] = None, coupling: str = "hull",
                    episode_aware: bool = True, warm_start: Optional[FluidBound] = None) -> Policy:
    """The fluid policy with a one-step look-ahead over its index's best actions (see
    :mod:`bandits.fluid_lookahead`).

    Parameters
    ----------
    problem : CoRMAB
    horizon : int
        Look-ahead ``H`` of the fluid LP.
    candidates : int
        Actions scored by the LP's next-state value (``1``: the fluid policy's argmax).
    enumerate_limit, time_limit, threads, seed, max_rounds, coupling, episode_aware, warm_start
        As :func:`bandits.fluid.fluid` (``time_limit`` and ``max_rounds`` also bound each
        candidate's LP solve).

    Returns
    -------
    Policy
        Deterministic; ``stats`` counts the candidates' LP solves (``value_solves``, ``value_time``)
        and the decisions where the look-ahead overrode the index (``changed``).

    Examples
    --------
    >>> import bandits
    >>> p = bandits.make_domain("budget", n_arms=4, budget=2, seed=0)
    >>> pol = bandits.policies.fluid_lookahead(p, horizon=5, candidates=3)
    >>> bool(p.contains(pol.act([0, 1, 2, 3])))
    True
    """
    where = "policies.fluid_lookahead()"
    _check_problem(problem, where)
    H = check_int(horizon, "horizon", where, lower=1)
    k = check_int(candidates, "candidates", where, lower=1)
    lim = check_int(enumerate_limit, "enumerate_limit", where, lower=0)
    check_choice(coupling, "coupling", where, COUPLINGS)
    _check_warm_start(warm_start, H, coupling, where)
    return _FluidLookahead(problem, H, k, lim, check_time_limit(time_limit, where),
                           check_int(threads, "threads", where, lower=1), seed,
                           None if max_rounds is None else check_int(max_rounds, "max_rounds", where, lower=1),
                           coupling, bool(episode_aware), warm_start)
