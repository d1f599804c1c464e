"""The fluid re-planning policy: re-solve the fluid LP from the current state at every decision.

At state ``s`` the policy solves the fluid LP of :mod:`bandits.bounds` (convex-hull coupling by default,
horizon ``H``, from the point mass at ``s``; the LP is built once and only its initial-state rows
change, the generated action columns are kept as a warm start) and picks the feasible action
maximising the LP's **separable value-to-go index**

``sum_j  q_j(a|_j),   q_j(u) = sum_{s'} P_j[u][s_j, s'] * (r_j(s') + V_j(1, s'))``

where ``V_j(1, s')`` is the dual of arm ``j``'s flow row at step 1 (the LP's value of arm ``j``
being in ``s'`` with ``H - 1`` steps to go) and ``a|_j`` the action restricted to arm ``j`` (its
pull bit, or the interventions touching it). The argmax is exact over the domain's constraints:
enumeration of the feasible actions when they are few, else a MIP over the
:class:`solvers.FeasibleSet` with the index as objective -- never a relaxation.
``rounding="marginals"`` instead maximises the LP's step-0 local-action probabilities.

The policy is deterministic; decisions are memoised per state and steps left. One LP is kept: a
decision with ``h < H`` steps of the episode to go (``episode_aware``, :meth:`act_at`) re-solves it
as the ``h``-step LP (:meth:`bandits.bounds.FluidLP.solve` ``(steps=h)``, a warm re-solve of the
kept model, equal to a fresh ``h``-step LP); with ``coupling="relaxation"`` the LP of the episode's
*last* ``h`` steps (``steps_from_end=True``: a step later is a bound change that keeps the basis dual
feasible, a short dual simplex), with the hull the first ``h`` steps.

``resolve_every=k > 1`` (for large ``J``, where one re-solve takes seconds): the LP is re-solved at
most every ``k`` decisions; in between, a decision keeps the last solve's time-indexed flow duals
``V_j(t, .)`` and maximises the same index with ``V_j(1 + e, .)``, ``e`` the steps elapsed since the
solve (its steps to go minus the decision's), so it costs the index and the argmax only. The duals
are per arm and per arm state, so they apply to any joint state (the decisions of other episodes at
the same step reuse them too); with ``k > 1`` a decision depends on which solve is kept, not on the
state alone, and is not memoised.

**Warm starts.** Each re-solve starts from a kept simplex basis (HiGHS ``getBasis``/``setBasis``),
one per steps-to-go ``h``: a decision right after one at ``h`` or ``h + 1`` (the next step, or
another episode at the same step) continues from the model's current basis; any other (the first
decision of a new episode, after the previous one ended at ``h = 1``) starts from the basis of the
last ``h``-step solve. ``warm_start=bound`` (a :func:`bandits.bounds.fluid_bound` result of the
same horizon and coupling, e.g. the bound on the evaluation's start states) gives the very first
decision the bound's final basis: the same LP but for its initial-state rows, so the first
decision costs a warm re-solve (at ``J = 1000`` 0.6-1.7 s of CPU) instead of a cold solve (16-19
s). A start changes only the work to reach the LP's optimum, never its value; where the optimal
duals are not unique (degenerate LPs) it can change which ones come back, and so an index tie-break.
"""

from __future__ import annotations

import time
from typing import Any, Optional

import numpy as np

from bandits.bounds import COUPLINGS, ENUMERATE_LIMIT, FluidBound, FluidLP
from bandits.policy_base import Policy, _check_problem, _state
from bandits.problem import CoRMAB, action_key
from engine.errors import InvalidInputError
from engine.status import Status
from engine.validation import check_choice, check_int, check_time_limit

__all__ = ["fluid", "warm_start_mismatch", "ROUNDINGS"]

ROUNDINGS = ("index", "marginals")


class _Fluid(Policy):
    name = "fluid"

    def __init__(self, problem: CoRMAB, horizon: int, rounding: str, enumerate_limit: int,
                 time_limit: Optional[float], threads: int, seed: Any, max_rounds: Optional[int] = None,
                 coupling: str = "hull", episode_aware: bool = True, resolve_every: int = 1,
                 warm_start: Optional[FluidBound] = None, argmax_nodes: Optional[int] = None) -> None:
        super().__init__(problem)
        self.argmax_nodes = argmax_nodes
        self.resolve_every = resolve_every
        self.max_rounds = max_rounds
        self.horizon = horizon
        self.rounding = rounding
        self.time_limit = time_limit
        self.coupling = coupling
        self.episode_aware = episode_aware
        # per-arm LP (no merged units): on multiple interventions the merged units tighten the bound
        # but not the policy's value (measured), and re-solve many times slower
        self.lp = FluidLP(problem, horizon=horizon, coupling=coupling, seed=seed, enumerate_limit=enumerate_limit,
                          threads=threads, group_arms=False)
        self._cache: dict[tuple[int, bytes], np.ndarray] = {}
        # the kept solve (resolve_every > 1): its steps to go, flow duals (h, J, S), decisions since
        self._kept: Optional[tuple[int, np.ndarray, int]] = None
        self.stats.update({"lp_solves": 0, "lp_time": 0.0, "decision_time": 0.0, "lp_failures": 0,
                           "kept_dual_decisions": 0, "basis_loads": 0, "warm_start": warm_start is not None,
                           "argmax_unproven": 0})
        # the basis of the last solve of each steps-to-go h, and the h of the last solve
        self._bases: dict[int, tuple[Any, int]] = {}
        self._last_h: Optional[int] = None
        if warm_start is not None:
            if warm_start.basis is None or not self.lp.set_basis_codes(warm_start.basis, warm_start.column_actions):
                raise InvalidInputError("policies.fluid(): warm_start's basis does not fit this problem's fluid LP "
                                        f"({warm_start.n_rows} rows, {warm_start.n_cols} columns; this LP has "
                                        f"{self.lp.model.n_rows} rows): a bound of another problem?")
            self._bases[horizon] = self.lp.save_basis()

    def act(self, state: Any) -> np.ndarray:
        return self._act(_state(self.problem, state, "fluid.act()"), self.horizon)

    def act_at(self, state: Any, steps_left: int) -> np.ndarray:
        """The action at ``state`` with ``steps_left`` steps of the episode to go (counting this one):
        the LP looks ``min(horizon, steps_left)`` steps ahead (when ``episode_aware``)."""
        s = _state(self.problem, state, "fluid.act_at()")
        h = min(self.horizon, check_int(steps_left, "steps_left", "fluid.act_at()", lower=1)) \
            if self.episode_aware else self.horizon
        return self._act(s, h)

    def _act(self, s: np.ndarray, h: int) -> np.ndarray:
        key = (h, action_key(s))
        memo = self.resolve_every == 1
        hit = self._cache.get(key) if memo else None
        if hit is not None:
            return hit.copy()
        t0 = time.perf_counter()
        lp = self.lp
        loc = lp.local
        J, S = loc.J, loc.S
        us = loc.unit_states(s)[0]
        kept = self._kept
        if (not memo and self.rounding == "index" and kept is not None and kept[0] >= h
                and kept[2] < self.resolve_every):
            # between re-solves: the kept duals shifted by the steps elapsed since the solve
            hs, V, n = kept
            self._kept = (hs, V, n + 1)
            self.stats["kept_dual_decisions"] += 1
            e1 = hs - h + 1
            V1 = V[e1] if e1 < hs else np.zeros((J, S))
        else:
            if self._last_h not in (h, h + 1) and h in self._bases:
                # a new episode (or a jump in steps to go): the last h-step solve's basis is closer
                # than the current one (an LP of other steps to go)
                if lp.load_basis(self._bases[h]):
                    self.stats["basis_loads"] += 1
            # relaxation: the LP of the episode's last h steps (a re-solve one step later is then a
            # bound change that keeps the basis dual feasible); hull: of the first h steps
            end = self.coupling == "relaxation"
            res = lp.solve(None, states=s[None, :], time_limit=self.time_limit, max_rounds=self.max_rounds or 1000,
                           steps=h, steps_from_end=end, with_basis=False, relaxation_floor=False)
            t_first = self.horizon - h if end else 0
            self._last_h = h
            self.stats["lp_solves"] += 1
            self.stats["lp_time"] += res.runtime
            ok = (res.status in (Status.OPTIMAL, Status.TIME_LIMIT, Status.ITERATION_LIMIT)
                  and res.state_values is not None)
            if ok:
                self._bases[h] = lp.save_basis()
            else:
                self.stats["lp_failures"] += 1
            if self.rounding == "marginals" and ok and lp.last_x is not None:
                Q = np.full((J, loc.Umax), -np.inf)
                for j in range(J):
                    U = int(loc.U[j])
                    xj = lp.last_x[int(lp.xoff[j]): int(lp.xoff[j + 1])].reshape(lp.H, S, U)
                    Q[j, :U] = xj[t_first].sum(axis=0)
                return self._argmax(Q, key, memo, t0)
            Vall = res.state_values[t_first: t_first + h] if ok and res.state_values is not None \
                else np.zeros((h, J, S))
            self._kept = (h, Vall, 1) if ok else None
            V1 = Vall[1] if h > 1 else np.zeros((J, S))
        return self._argmax(self._index(us, V1), key, memo, t0)

    def _index(self, us: np.ndarray, V1: np.ndarray) -> np.ndarray:
        """The separable index ``Q[j, u]`` at unit states ``us`` with next-step flow duals ``V1``
        (``(J, S)``); 0 past a unit's local actions."""
        loc = self.lp.local
        Q = np.zeros((loc.J, loc.Umax))
        for j in range(loc.J):
            U = int(loc.U[j])
            Q[j, :U] = loc.rbar[j][us[j]] + loc.P[j][:, us[j], :] @ V1[j]
        return Q

    def _argmax(self, Q: np.ndarray, key: tuple[int, bytes], memo: bool, t0: float) -> np.ndarray:
        """The feasible action maximising the separable index ``Q[j, u]`` (exact over the constraints)."""
        Q = np.where(np.isfinite(Q), Q, 0.0)
        acts, _, _ = self.lp.pricer.solve(Q, max_nodes=self.argmax_nodes)
        self.stats["argmax_unproven"] += int(not self.lp.pricer.proven)
        a = np.array(acts[0], dtype=np.int64)
        if not self.problem.contains(a):  # a MIP answer off by tolerance: fall back to a feasible action
            self.stats["fallbacks"] += 1
            a = self.problem.sample_action(np.random.default_rng(0))  # deterministic policy: fixed fallback
        self.stats["decision_time"] += time.perf_counter() - t0
        if memo:
            self._cache[key] = a
        return a.copy()

def fluid(problem: CoRMAB, *, horizon: int = 20, rounding: str = "index", enumerate_limit: int = ENUMERATE_LIMIT,
          time_limit: Optional[float] = None, threads: int = 1, seed: Any = 0,
          max_rounds: Optional[int] = None, coupling: str = "hull", episode_aware: bool = True,
          resolve_every: int = 1, warm_start: Optional[FluidBound] = None,
          argmax_nodes: Optional[int] = None) -> Policy:
    """The fluid re-planning policy (see :mod:`bandits.fluid`).

    Parameters
    ----------
    problem : CoRMAB
    horizon : int
        Look-ahead ``H`` of the LP solved at each decision. It need not be the episode's length: at
        large ``J`` a shorter look-ahead is a smaller LP (at ``J = 1000``, ``horizon=10`` in episodes
        of 20 steps: every decision under 1 s of CPU on budget, matching and capacity sets, within
        the Monte Carlo noise of the 20-step look-ahead's value; ``bench/fluid_bound.py
        --policy-horizon``).
    rounding : {"index", "marginals"}
        ``"index"``: maximise the separable value-to-go index; ``"marginals"``: the LP's step-0
        local-action probabilities.
    enumerate_limit : int
        Enumerate the feasible actions (pricing and argmax) when there are at most this many,
        else solve MIPs over the feasible set.
    time_limit : float, optional
        Seconds per LP re-solve (column generation stops with the best columns so far).
    threads : int
        HiGHS threads.
    seed : int, Generator or None
        Initial columns of the LP.
    max_rounds : int, optional
        Column-generation rounds per decision (default: until the LP converges). The columns
        generated at earlier decisions are kept, so a small cap loses little once the pool is warm.
    coupling : {"hull", "relaxation"}
        The LP re-solved at each decision (see :func:`bandits.bounds.fluid_bound`):
        ``"relaxation"`` needs no column generation (one warm-started LP per decision; for large
        sets), the argmax is still exact over the domain's constraints.
    episode_aware : bool
        :meth:`act_at` with ``h < horizon`` steps to go plans ``h`` steps (the kept LP re-solved as
        the ``h``-step LP); ``False``: always ``horizon`` steps.
    resolve_every : int
        Re-solve the LP at most every ``k`` decisions (``rounding="index"``); in between, decide by
        the last solve's time-indexed duals shifted by the steps elapsed (see :mod:`bandits.fluid`).
        ``1`` (default) re-solves at every decision; larger ``k`` for large ``J``.
    warm_start : FluidBound, optional
        A :func:`bandits.bounds.fluid_bound` result of this problem with the same ``horizon`` and
        ``coupling`` (and ``group_arms=False`` on multiple interventions): the first decision's LP
        starts from its final basis (see :mod:`bandits.fluid`). The bound's solve is then the
        policy's offline planning step; its time is the bound's ``runtime``.
    argmax_nodes : int, optional
        Domains with an anytime maximiser only (``maximize_bounded``: path): cap its
        branch-and-bound at this many nodes per decision and take the best feasible action found
        (``stats["argmax_unproven"]`` counts the decisions it did not prove). None (default): the
        proven argmax. On the 100-station graph a proof takes 1-100 s; ``0`` (the root LP and the
        incumbents) about 1 s.

    Examples
    --------
    >>> import bandits
    >>> p = bandits.make_domain("budget", n_arms=4, budget=2, seed=0)
    >>> pol = bandits.policies.fluid(p, horizon=5)
    >>> bool(p.contains(pol.act([0, 1, 2, 3])))
    True
    >>> b = bandits.bounds.fluid_bound(p, horizon=5, initial=[0, 1, 2, 3])
    >>> warm = bandits.policies.fluid(p, horizon=5, warm_start=b)
    >>> bool(p.contains(warm.act([0, 1, 2, 3])))
    True
    """
    where = "policies.fluid()"
    _check_problem(problem, where)
    H = check_int(horizon, "horizon", where, lower=1)
    check_choice(rounding, "rounding", where, ROUNDINGS)
    lim = check_int(enumerate_limit, "enumerate_limit", where, lower=0)
    check_choice(coupling, "coupling", where, COUPLINGS)
    _check_warm_start(warm_start, H, coupling, where)
    return _Fluid(problem, H, rounding, lim, check_time_limit(time_limit, where),
                  check_int(threads, "threads", where, lower=1), seed,
                  None if max_rounds is None else check_int(max_rounds, "max_rounds", where, lower=1),
                  coupling, bool(episode_aware), check_int(resolve_every, "resolve_every", where, lower=1),
                  warm_start, None if argmax_nodes is None else check_int(argmax_nodes, "argmax_nodes", where, lower=0))


def warm_start_mismatch(bound: Any, *, horizon: int, coupling: str) -> str:
    """Why ``bound`` cannot warm-start a fluid policy of this ``horizon`` and ``coupling`` (``""`` when it can).

    Parameters
    ----------
    bound : FluidBound
        A :func:`bandits.bounds.fluid_bound` result.
    horizon : int
        The policy's look-ahead.
    coupling : {"hull", "relaxation"}
        The policy's LP.

    Returns
    -------
    str
        ``""`` when the bound's LP is the policy's (same horizon, coupling and units, a final basis), else
        the reason, e.g. for a caller that computes the bound anyway and passes it when it fits.

    Examples
    --------
    >>> import bandits
    >>> p = bandits.make_domain("budget", n_arms=4, budget=2, seed=0)
    >>> b = bandits.bounds.fluid_bound(p, horizon=5, coupling="relaxation")
    >>> warm_start_mismatch(b, horizon=5, coupling="relaxation")
    ''
    >>> warm_start_mismatch(b, horizon=5, coupling="hull").startswith("the bound's horizon and coupling")
    True
    """
    where = "warm_start_mismatch()"
    horizon = check_int(horizon, "horizon", where, lower=1)
    check_choice(coupling, "coupling", where, COUPLINGS)
    if not isinstance(bound, FluidBound):
        return f"a bandits.bounds.FluidBound (a fluid_bound result) is needed, got {type(bound).__name__}"
    if bound.basis is None:
        return f"the bound holds no basis (its LP was not solved: {bound.status.value})"
    if bound.horizon != horizon or bound.coupling != coupling:
        return (f"the bound's horizon and coupling ({bound.horizon}, {bound.coupling!r}) are not the policy's "
                f"({horizon}, {coupling!r})")
    units = bound.params.get("units")
    if units is not None and any(len(u) > 1 for u in units):
        return ("the bound merges arms into units (fluid_bound's group_arms=True on multiple interventions, or "
                "units=); the policy's LP has one unit per arm: pass group_arms=False and no units to fluid_bound")
    return ""


def _check_warm_start(warm_start: Any, horizon: int, coupling: str, where: str) -> None:
    if warm_start is None:
        return
    why = warm_start_mismatch(warm_start, horizon=horizon, coupling=coupling)
    if why:
        raise InvalidInputError(f"{where}: warm_start does not fit the policy's LP: {why}")
