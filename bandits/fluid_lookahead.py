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

``score="rollout"`` scores each candidate instead by the mean return of ``rollouts`` simulated
continuations to the end of the ``h`` steps: the candidate, then at each later step the index's
argmax with this decision's time-indexed LP duals ``V_j(1 + e, .)`` (``e`` steps elapsed; the base
policy of the fluid policy's ``resolve_every`` between re-solves, no LP re-solve), every candidate on
the same random numbers (a fixed stream from ``seed``, so the policy stays deterministic).

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
from engine.seeding import resolve_seed
from engine.status import Status
from engine.validation import check_choice, check_int, check_time_limit

__all__ = ["fluid_lookahead", "SCORES"]

SCORES = ("lp", "rollout")

#: Index penalty that forces a local action out of the argmax (the index's scale is a few rewards
#: per step times the horizon, far below it)
FORCE = 1e6


class _FluidLookahead(_Fluid):
    name = "fluid_lookahead"

    def __init__(self, problem: CoRMAB, horizon: int, candidates: int, enumerate_limit: int,
                 time_limit: Optional[float], threads: int, seed: Any, max_rounds: Optional[int],
                 coupling: str, episode_aware: bool, warm_start: Optional[FluidBound], score: str = "lp",
                 rollouts: int = 16) -> None:
        super().__init__(problem, horizon, "index", enumerate_limit, time_limit, threads, seed, max_rounds=max_rounds,
                         coupling=coupling, episode_aware=episode_aware, warm_start=warm_start)
        self.candidates = candidates
        self.score = score
        self.rollouts = rollouts
        self._rollout_seed = resolve_seed(seed, where="policies.fluid_lookahead()").int_seed("rollouts")
        # a second LP for the candidates' next-state values (score="lp"): the policy's own LP keeps the
        # basis and duals of the solve from the current state (its basis bookkeeping assumes one solve a
        # decision)
        self.value_lp = FluidLP(problem, horizon=horizon, coupling=coupling, seed=seed,
                                enumerate_limit=enumerate_limit, threads=threads, group_arms=False) \
            if candidates > 1 and score == "lp" else None
        self._acts_f: Optional[np.ndarray] = None  # the enumerated actions as floats (rollouts' argmax)
        self._where: tuple[np.ndarray, int] = (np.zeros(0, dtype=np.int64), 0)
        self.stats.update({"value_solves": 0, "value_time": 0.0, "value_failures": 0, "changed": 0})

    def _act(self, s: np.ndarray, h: int) -> np.ndarray:
        self._where = (s, h)
        return super()._act(s, h)

    def _argmax(self, Q: np.ndarray, key: tuple[int, bytes], memo: bool, t0: float) -> np.ndarray:
        s, h = self._where
        if self.candidates == 1 or h <= 1:
            # one step left: the index is the step's expected reward, the look-ahead adds nothing
            return super()._argmax(Q, key, memo, t0)
        Q = np.where(np.isfinite(Q), Q, 0.0)
        cands = [a for a in self._candidates(Q) if self.problem.contains(a)]
        if not cands:
            return super()._argmax(Q, key, memo, t0)
        best = self._by_rollouts(cands, s, h) if self.score == "rollout" else self._by_lp(cands, s, h)
        if best is not cands[0]:
            self.stats["changed"] += 1
        a = np.array(best, dtype=np.int64)
        self.stats["decision_time"] += time.perf_counter() - t0
        if memo:
            self._cache[key] = a
        return a.copy()

    def _by_lp(self, cands: list[np.ndarray], s: np.ndarray, h: int) -> np.ndarray:
        """The candidate with the best step reward plus the fluid LP's value from its next marginals."""
        loc, lp = self.lp.local, self.value_lp
        assert lp is not None  # built whenever candidates > 1 and score="lp"
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
        return best

    def _by_rollouts(self, cands: list[np.ndarray], s: np.ndarray, h: int) -> np.ndarray:
        """The candidate with the best mean return over ``rollouts`` simulated episodes of the ``h - 1``
        steps left, each step taken by the index with the LP's time-indexed duals of this decision's
        solve (no re-solve: an argmax per step); every candidate sees the same random numbers."""
        kept = self._kept
        if kept is None:  # the LP failed: the index's argmax
            return cands[0]
        _, V, _ = kept
        p, R = self.problem, self.rollouts
        S0 = np.repeat(s[None, :], R, axis=0)
        means = np.empty(len(cands))
        for i, c in enumerate(cands):
            # common random numbers: the same stream for every candidate
            rng = np.random.default_rng(self._rollout_seed)
            A = np.repeat(c[None, :], R, axis=0)
            total = p.expected_reward(S0, A)
            st = p.step(S0, A, rng, check=False)
            for e in range(1, h):
                A = self._index_actions(st, V[e + 1] if e + 1 < h else np.zeros_like(V[0]))
                total = total + p.expected_reward(st, A)
                st = p.step(st, A, rng, check=False)
            means[i] = total.mean()
        self.stats["value_solves"] += len(cands)
        i = int(np.argmax(means))
        return cands[i] if means[i] > means[0] + 1e-12 else cands[0]

    def _index_actions(self, states: np.ndarray, V1: np.ndarray) -> np.ndarray:
        """The index's argmax with next-step duals ``V1`` (J, S) in each of the joint ``states``."""
        loc, pricer = self.lp.local, self.lp.pricer
        us = loc.unit_states(states)  # (N, J)
        jj = np.arange(loc.J)
        if loc.standard and pricer.method == "enumeration":
            Pst = np.stack(loc.P)  # (J, 2, S, S)
            PV = np.einsum("jusk,jk->jsu", Pst, V1)  # (J, S, 2)
            Rb = np.stack(loc.rbar)  # (J, S, 2)
            Qs = Rb[jj[None, :], us] + PV[jj[None, :], us]  # (N, J, 2)
            W = Qs[:, :, 1] - Qs[:, :, 0]
            acts = pricer._enumerated()
            if self._acts_f is None:
                self._acts_f = np.ascontiguousarray(acts, dtype=np.float64)
            best = np.argmax(self._acts_f @ W.T, axis=0)
            return np.asarray(acts[best], dtype=np.int64)
        out = np.empty((states.shape[0], loc.n), dtype=np.int64)
        for r in range(states.shape[0]):
            out[r] = pricer.solve(self._index(us[r], V1))[0][0]
        return out

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
                    episode_aware: bool = True, warm_start: Optional[FluidBound] = None, score: str = "lp",
                    rollouts: int = 16) -> Policy:
    """The fluid policy with a one-step look-ahead over its index's best actions (see
    :mod:`bandits.fluid_lookahead`).

    Parameters
    ----------
    problem : CoRMAB
    horizon : int
        Look-ahead ``H`` of the fluid LP.
    candidates : int
        Actions scored (``1``: the fluid policy's argmax).
    enumerate_limit, time_limit, threads, seed, max_rounds, coupling, episode_aware, warm_start
        As :func:`bandits.fluid.fluid` (``time_limit`` and ``max_rounds`` also bound each
        candidate's LP solve); ``seed`` also fixes the rollouts' random numbers.
    score : {"lp", "rollout"}
        ``"lp"``: the step's reward plus the fluid LP's value from the candidate's next-state
        marginals; ``"rollout"``: the mean return of ``rollouts`` simulated continuations under the
        index with this decision's duals (see :mod:`bandits.fluid_lookahead`).
    rollouts : int
        Simulated continuations per candidate (``score="rollout"``).

    Returns
    -------
    Policy
        Deterministic; ``stats`` counts the candidates scored (``value_solves``; ``value_time``: the
        LP solves' seconds) and the decisions where the look-ahead overrode the index (``changed``).

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
    check_choice(score, "score", where, SCORES)
    return _FluidLookahead(problem, H, k, lim, check_time_limit(time_limit, where),
                           check_int(threads, "threads", where, lower=1), seed,
                           None if max_rounds is None else check_int(max_rounds, "max_rounds", where, lower=1),
                           coupling, bool(episode_aware), warm_start, score,
                           check_int(rollouts, "rollouts", where, lower=1))
