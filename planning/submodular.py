"""Greedy maximisation of monotone submodular functions: cardinality, knapsack, matroid and path budgets.

The objectives live in :mod:`planning.objectives` and are re-exported here
(:class:`FacilityLocation`, :class:`WeightedCoverage`, :class:`GraphCoverage`,
:class:`FeatureBased`, :class:`LogDet`, :class:`Modular`, :class:`Mixture`, :class:`SetFunction`).
This module holds the public optimisers and their result kinds; the greedy loops are in
:mod:`planning.greedy_loops`, the walk planner behind :func:`path_greedy` in
:mod:`planning.paths`, and instance files (:func:`instance_to_dict`, :func:`load_instance`,
re-exported here) in :mod:`planning.instances`.

Optimisers (all return a :class:`SubmodularResult` or a subclass):

* :func:`greedy` - the naive greedy: every step evaluates every remaining candidate (vectorised);
  ``f(S) >= (1 - (1 - 1/k)^k) OPT >= (1 - 1/e) OPT`` (Nemhauser, Wolsey, Fisher 1978).
* :func:`lazy_greedy` - Minoux's accelerated greedy with a priority queue of stale gains. It
  picks exactly what :func:`greedy` picks (ties go to the smaller index in both), so the value
  is identical.
* :func:`stochastic_greedy` - Mirzasoleiman et al. (2015): each step picks the best of
  ``ceil((n/k) ln(1/epsilon))`` random remaining candidates (lazily evaluated; elements known
  to gain 0 are not drawn); ``E f(S) >= (1 - 1/e - epsilon) OPT``.
* :func:`knapsack_greedy` - the better of the cost-benefit greedy and the unit-cost greedy
  under a budget: ``>= 1/2 (1 - 1/e) OPT`` (Leskovec et al. 2007).
* :func:`matroid_greedy` - greedy under a partition matroid: ``>= 1/2 OPT``.
* :func:`path_greedy` / :func:`multi_path_greedy` - walks on a graph whose length is bounded:
  generalised cost-benefit greedy where the cost of a node is the marginal tour length
  (cheapest insertion screens, OR-Tools routing refines), and sequential allocation over
  several robots.

Every result records the selection in pick order, its value, the gain of each pick, the
number of marginal-gain evaluations and, for monotone objectives, an upper ``bound`` on the
optimum (the data-dependent bound ``f(S_i) + sum of the k largest gains at S_i`` for
cardinality constraints, else the approximation guarantee), so ``gap`` certifies the answer.
"""

from __future__ import annotations

import heapq
import math
import numbers
import time
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from engine.errors import InvalidInputError
from engine.result import SolveResult
from engine.seeding import resolve_seed
from engine.status import Status
from engine.validation import as_float_array, as_int_array, check_choice, check_int, check_real, check_time_limit
from planning.greedy_loops import GreedyRun, run_budget, run_cardinality, run_stochastic
from planning.instances import SubmodularInstance, instance_to_dict, load_instance
from planning.objectives import (CONCAVE_FUNCTIONS, FacilityLocation, FeatureBased, GainState, GraphCoverage,
                                 LogDet, Mixture, Modular, SetFunction, SubmodularFunction, WeightedCoverage,
                                 check_objective, graph_adjacency)
from planning.paths import Metric, PathPlanner

__all__ = [
    "SubmodularResult", "KnapsackResult", "MatroidResult", "PathResult", "MultiPathResult",
    "greedy", "lazy_greedy", "stochastic_greedy", "knapsack_greedy", "matroid_greedy", "path_greedy",
    "multi_path_greedy", "solve", "SubmodularInstance", "instance_to_dict", "load_instance", "solve_instance",
    "SubmodularFunction", "GainState", "FacilityLocation", "WeightedCoverage", "GraphCoverage", "FeatureBased",
    "LogDet", "Modular", "Mixture", "SetFunction", "CONCAVE_FUNCTIONS",
]

_E = 1.0 - 1.0 / math.e


# ============================================================================ results
@dataclass(frozen=True, kw_only=True)
class SubmodularResult(SolveResult):
    """A greedy selection.

    Attributes
    ----------
    selected : numpy.ndarray of int
        The picks, in order (``x`` holds the same array).
    value : float
        ``f(selected)`` (also ``objective``).
    gains : numpy.ndarray
        Marginal gain of each pick when it was made (``gains.sum() == value`` up to round-off).
    n_evaluations : int
        Marginal-gain evaluations (one per candidate per look).
    bound : float
        An upper bound on the optimum for monotone objectives (``nan`` when none is known);
        ``gap = bound - value``.
    """

    selected: Any = None
    value: float = math.nan
    gains: Any = None
    n_evaluations: int = 0


@dataclass(frozen=True, kw_only=True)
class KnapsackResult(SubmodularResult):
    """A budgeted selection: ``cost`` of ``selected`` never exceeds ``budget``.

    ``rule`` says which greedy produced it (``"cost_benefit"`` or ``"unit_cost"``).
    """

    cost: float = 0.0
    budget: float = math.nan
    rule: str = ""


@dataclass(frozen=True, kw_only=True)
class MatroidResult(SubmodularResult):
    """A selection independent in a partition matroid (``counts[b] <= capacities[b]``)."""

    counts: Any = None


@dataclass(frozen=True, kw_only=True)
class PathResult(SubmodularResult):
    """A walk of bounded length from ``start``.

    Attributes
    ----------
    walk : numpy.ndarray of int
        Node indices along the walk, from the start (and back to it when ``closed``).
    walk_length : float
        Sum of the edge lengths along ``walk`` (``<= budget``).
    tour : numpy.ndarray of int
        The order in which the selected nodes are visited (start first).
    visited : numpy.ndarray of int
        Every distinct node on the walk (what ``value`` scores when ``count_passing``).
    n_tsp_solves : int
        OR-Tools routing solves (cached repeats not counted).
    """

    walk: Any = None
    walk_length: float = 0.0
    tour: Any = None
    visited: Any = None
    budget: float = math.nan
    n_tsp_solves: int = 0


@dataclass(frozen=True, kw_only=True)
class MultiPathResult(SubmodularResult):
    """Walks of several robots planned by sequential allocation (robot ``r`` plans on top of
    what robots ``0..r-1`` visit). ``robot[i]`` is the robot that picked ``selected[i]``."""

    walks: tuple = ()
    walk_lengths: Any = None
    robot: Any = None
    visited: Any = None
    budgets: Any = None
    n_tsp_solves: int = 0


# ============================================================================ validation
def _check_callback(callback: Any, where: str) -> Any:
    if callback is not None and not callable(callback):
        raise InvalidInputError(f"{where}: callback must be callable, got {callback!r}")
    return callback


def _check_k(k: Any, f: SubmodularFunction, where: str) -> int:
    return check_int(k, "k", where, lower=0, upper=f.n)


def _validate_cardinality(f, k, time_limit, callback, where):
    f = check_objective(f, where)
    return f, _check_k(k, f, where), check_time_limit(time_limit, where), _check_callback(callback, where)


def _validate_stochastic(f, k, epsilon, seed, time_limit, callback):
    where = "stochastic_greedy()"
    f, k, time_limit, callback = _validate_cardinality(f, k, time_limit, callback, where)
    epsilon = check_real(epsilon, "epsilon", where, lower=0.0, lower_strict=True, upper=1.0)
    if epsilon >= 1.0:
        raise InvalidInputError(f"{where}: epsilon must be < 1, got {epsilon!r}")
    return f, k, epsilon, resolve_seed(seed, where=where), time_limit, callback


def _validate_knapsack(f, costs, budget, rule, lazy, time_limit, callback):
    where = "knapsack_greedy()"
    f = check_objective(f, where)
    c = as_float_array(costs, "costs", where, shape=(f.n,))
    if c.size and c.min() <= 0:
        raise InvalidInputError(f"{where}: costs must be > 0, got {c.min()}")
    budget = check_real(budget, "budget", where, lower=0.0)
    rule = check_choice(rule, "rule", where, ("best", "cost_benefit", "unit_cost"))
    if not isinstance(lazy, (bool, np.bool_)):
        raise InvalidInputError(f"{where}: lazy must be True or False, got {lazy!r}")
    return f, c, budget, rule, bool(lazy), check_time_limit(time_limit, where), _check_callback(callback, where)


def _validate_matroid(f, partition, capacities, lazy, time_limit, callback):
    where = "matroid_greedy()"
    f = check_objective(f, where)
    part = as_int_array(partition, "partition", where, ndim=1, lower=0)
    if part.shape != (f.n,):
        raise InvalidInputError(f"{where}: partition must give a block for each of the {f.n} elements, "
                                f"got shape {part.shape}")
    if isinstance(capacities, Mapping):
        n_blocks = int(part.max()) + 1 if part.size else 0
        cap = np.zeros(max(n_blocks, (max(capacities) + 1) if capacities else 0), dtype=np.int64)
        for b, v in capacities.items():
            b = check_int(b, "capacities key", where, lower=0)
            cap[b] = check_int(v, f"capacities[{b}]", where, lower=0)
    else:
        cap = as_int_array(capacities, "capacities", where, ndim=1, lower=0)
    if part.size and part.max() >= cap.size:
        raise InvalidInputError(f"{where}: element in block {int(part.max())} but capacities has only {cap.size} "
                                f"blocks")
    if not isinstance(lazy, (bool, np.bool_)):
        raise InvalidInputError(f"{where}: lazy must be True or False, got {lazy!r}")
    return f, part, cap, bool(lazy), check_time_limit(time_limit, where), _check_callback(callback, where)


def _finish_cardinality(run: GreedyRun, k: int, bound: float, method: str, params: dict, *, guarantee: bool) -> SubmodularResult:
    fields = run.fields()
    value = fields["value"]
    if run.f.monotone and guarantee and run.status is None and k > 0:
        ratio = 1.0 - (1.0 - 1.0 / k) ** k
        bound = min(bound, value / ratio) if value > 0 else min(bound, 0.0 if bound == math.inf else bound)
    if not math.isfinite(bound):
        bound = math.nan if not (run.f.monotone and k == 0) else 0.0
    bound = max(bound, value) if math.isfinite(bound) else bound
    gap = bound - value if math.isfinite(bound) else math.nan
    status, message = run.status, run.message
    if status is None:
        tol = 1e-9 * max(1.0, abs(value))
        if math.isfinite(gap) and gap <= tol:
            status, message = Status.OPTIMAL, "the selection attains the certified upper bound"
        else:
            status, message = Status.FEASIBLE, f"greedy selection of {len(run.selected)} elements"
    return SubmodularResult(status=status, message=message, x=fields["selected"], objective=value, bound=bound,
                            gap=gap, method=method, backend="numba", params=params, **fields)


# ============================================================================ public: cardinality
def greedy(f: SubmodularFunction, k: int, *, time_limit: Optional[float] = None,
           callback: Any = None) -> SubmodularResult:
    """Naive greedy maximisation of ``f`` subject to ``|S| <= k``.

    Each step evaluates the marginal gain of every remaining candidate in one vectorised call
    and picks the best (the smallest index among ties).

    Parameters
    ----------
    f : SubmodularFunction
        The objective.
    k : int
        Number of elements to pick, ``0 <= k <= f.n``.
    time_limit : float, optional
        Wall-clock seconds; on expiry the selection so far is returned with status TIME_LIMIT.
    callback : callable, optional
        Receives an :class:`engine.events.Incumbent` per pick; raising ``StopIteration`` stops
        the run (status STOPPED, selection so far).

    Returns
    -------
    SubmodularResult
        ``bound`` is ``min_i f(S_i) + (sum of the k largest gains at S_i)`` and
        ``value / (1 - (1 - 1/k)^k)``, both valid for monotone submodular ``f``.

    Examples
    --------
    >>> from planning.submodular import WeightedCoverage, greedy
    >>> f = WeightedCoverage([[0, 1, 2], [2, 3], [3, 4], [0]])
    >>> res = greedy(f, 2)
    >>> res.selected.tolist(), res.value
    ([0, 2], 5.0)
    """
    f, k, time_limit, callback = _validate_cardinality(f, k, time_limit, callback, "greedy()")
    run = GreedyRun(f, "greedy", time_limit=time_limit, callback=callback)
    bound = run_cardinality(run, k, lazy=False)
    return _finish_cardinality(run, k, bound, "greedy", {"k": k, "time_limit": time_limit}, guarantee=True)


def lazy_greedy(f: SubmodularFunction, k: int, *, time_limit: Optional[float] = None,
                callback: Any = None) -> SubmodularResult:
    """Lazy (accelerated) greedy: the same picks as :func:`greedy`, far fewer evaluations.

    Stale gains are upper bounds on current gains (submodularity), so the top of a priority
    queue of stale gains is re-evaluated until a freshly evaluated element stays on top.
    Ties go to the smaller index exactly as in :func:`greedy`, so the selection and its value
    are identical. Objectives whose state keeps every gain exact (coverage, log-det, modular)
    make a gain a lookup; there the scan of :func:`greedy` is faster than a heap and is used.

    Parameters
    ----------
    f : SubmodularFunction
    k : int
        ``0 <= k <= f.n``.
    time_limit, callback
        As in :func:`greedy`.

    Returns
    -------
    SubmodularResult

    Examples
    --------
    >>> import numpy as np
    >>> from planning.submodular import FacilityLocation, greedy, lazy_greedy
    >>> S = np.random.default_rng(0).random((30, 30))
    >>> f = FacilityLocation(S)
    >>> lazy_greedy(f, 5).selected.tolist() == greedy(f, 5).selected.tolist()
    True
    """
    f, k, time_limit, callback = _validate_cardinality(f, k, time_limit, callback, "lazy_greedy()")
    run = GreedyRun(f, "lazy_greedy", time_limit=time_limit, callback=callback)
    bound = run_cardinality(run, k, lazy=True)
    return _finish_cardinality(run, k, bound, "lazy_greedy", {"k": k, "time_limit": time_limit}, guarantee=True)


def stochastic_greedy(f: SubmodularFunction, k: int, *, epsilon: float = 0.1, seed: Any = 0,
                      time_limit: Optional[float] = None, callback: Any = None) -> SubmodularResult:
    """Stochastic greedy (Mirzasoleiman et al., 2015).

    Each step draws ``s = ceil((n / k) ln(1 / epsilon))`` candidates uniformly without
    replacement from the pool (below) and picks the one with the largest marginal gain (ties:
    the smallest index): at most ``k s`` (about ``n ln(1/epsilon)``) evaluations in all, and
    ``E f(S) >= (1 - 1/e - epsilon) OPT`` for monotone submodular ``f``.

    Two refinements keep that guarantee and cost no evaluations:

    * *Lazy evaluation inside the sample.* The last evaluated gain of an element bounds its
      gain now (submodularity). The sample is evaluated in decreasing order of these stale
      bounds (never-evaluated elements first) and the scan stops once the next bound is below
      the best fresh gain, so the pick is exactly the best of the sample, with fewer
      evaluations (objectives whose gains are lookups, such as coverage, evaluate the whole
      sample at once).
    * *The pool leaves out elements known to gain 0.* For monotone ``f`` the pool is the set of
      unselected elements less those whose evaluated gain was 0 (by submodularity it stays 0).
      The proof still holds: at step ``i`` with selection ``A`` and optimum ``A*``, let ``P``
      be the pool (``|P| <= n``) and ``B = (A* - A) ∩ P``; every element of ``A* - A`` outside
      ``B`` gains 0, so ``sum_{a in B} Δ(a|A) = sum_{a in A* - A} Δ(a|A) >= OPT - f(A)``. A
      uniform ``s``-sample ``R`` of ``P`` meets ``B`` with probability
      ``>= 1 - (1 - |B|/|P|)^s >= 1 - exp(-s |B| / n) >= (1 - epsilon) |B| / k`` (concavity in
      ``|B| <= k``), and given that it does, an element of ``R ∩ B`` drawn at random is uniform
      on ``B`` (elements of ``P`` are exchangeable). So ``E[max_R Δ | A] >= (1 - epsilon)/k
      (OPT - f(A))``, the inequality the original proof iterates; when ``s >= |P|`` the step is
      an exact greedy step. If the pool runs dry, every element left gains 0 and the selection
      is completed in index order. For a non-monotone ``f`` the pool is every unselected
      element and no guarantee is claimed.

    The guarantee is in expectation and is relative to OPT, not to greedy: how close one run
    comes to :func:`greedy` depends on how far the best of ``s`` random gains falls below the
    best gain, which a smaller ``epsilon`` (``s`` grows like ``ln(1/epsilon)``) narrows.

    Parameters
    ----------
    f : SubmodularFunction
    k : int
        ``0 <= k <= f.n``.
    epsilon : float
        In ``(0, 1)``.
    seed : int, numpy Generator or None
        The same seed gives the same selection. Default 0 (reproducible); None draws a fresh
        root. ``params["seed"]`` records the one used.
    time_limit, callback
        As in :func:`greedy`.

    Returns
    -------
    SubmodularResult
        ``params`` records ``seed`` (the resolved root) and ``sample_size``; ``bound`` is
        ``nan`` (the guarantee holds in expectation only).

    Examples
    --------
    >>> import numpy as np
    >>> from planning.submodular import FacilityLocation, stochastic_greedy
    >>> f = FacilityLocation(np.random.default_rng(1).random((200, 200)))
    >>> res = stochastic_greedy(f, 10, epsilon=0.1, seed=3)
    >>> len(res.selected), res.params["sample_size"]
    (10, 47)
    """
    f, k, epsilon, seed, time_limit, callback = _validate_stochastic(f, k, epsilon, seed, time_limit, callback)
    sample_size = int(math.ceil(f.n / max(k, 1) * math.log(1.0 / epsilon))) if k else 0
    sample_size = max(1, min(f.n, sample_size))
    run = GreedyRun(f, "stochastic_greedy", time_limit=time_limit, callback=callback)
    run_stochastic(run, k, sample_size, seed.generator("stochastic_greedy"))
    params = {"k": k, "epsilon": epsilon, "seed": seed.root, "sample_size": sample_size, "time_limit": time_limit}
    return _finish_cardinality(run, k, math.nan, "stochastic_greedy", params, guarantee=False)


# ============================================================================ public: knapsack
def knapsack_greedy(f: SubmodularFunction, costs: Any, budget: float, *, rule: str = "best", lazy: bool = True,
                    time_limit: Optional[float] = None, callback: Any = None) -> KnapsackResult:
    """Greedy maximisation under a knapsack budget ``sum(costs[S]) <= budget``.

    ``rule="best"`` (default) runs the cost-benefit greedy (largest gain per unit cost) and the
    unit-cost greedy (largest gain) and returns the better one, which guarantees
    ``f(S) >= 1/2 (1 - 1/e) OPT`` for monotone submodular ``f``; either rule alone can be
    arbitrarily bad. Items that no longer fit are dropped; the run stops when nothing fits.

    Parameters
    ----------
    f : SubmodularFunction
    costs : array_like, shape (n,)
        Strictly positive costs.
    budget : float
        ``>= 0``. A budget below every cost returns the empty selection (status OPTIMAL, with
        a message saying that nothing fits).
    rule : {"best", "cost_benefit", "unit_cost"}
    lazy : bool
        Lazy evaluations (same picks as the naive loop).
    time_limit, callback
        As in :func:`greedy` (the callback sees the picks of both runs).

    Returns
    -------
    KnapsackResult
        ``bound`` is ``value / (1/2 (1 - 1/e))`` for ``rule="best"``.

    Examples
    --------
    >>> from planning.submodular import Modular, knapsack_greedy
    >>> f = Modular([1.0, 10.0])
    >>> res = knapsack_greedy(f, [1.0, 10.0], 10.0)   # cost-benefit alone would take item 0 only
    >>> res.selected.tolist(), res.rule
    ([1], 'unit_cost')
    """
    f, costs, budget, rule, lazy, time_limit, callback = _validate_knapsack(f, costs, budget, rule, lazy, time_limit,
                                                                           callback)
    params = {"budget": budget, "rule": rule, "lazy": lazy, "time_limit": time_limit}
    t0 = time.perf_counter()
    if f.n == 0 or costs.min() > budget:
        return KnapsackResult(status=Status.OPTIMAL, message=f"no element fits: the budget {budget} is below every "
                              f"cost (min {costs.min() if costs.size else math.nan}); the empty selection is optimal",
                              x=np.zeros(0, dtype=np.int64), objective=0.0, bound=0.0, gap=0.0, method="knapsack_greedy",
                              backend="numba", params=params, selected=np.zeros(0, dtype=np.int64), value=0.0,
                              gains=np.zeros(0), n_evaluations=0, cost=0.0, budget=budget, rule=rule,
                              runtime=time.perf_counter() - t0)
    rules = ["cost_benefit", "unit_cost"] if rule == "best" else [rule]
    runs = []
    deadline = None if time_limit is None else t0 + time_limit
    for r in rules:
        left = None if deadline is None else max(1e-9, deadline - time.perf_counter())
        run = GreedyRun(f, "knapsack_greedy", time_limit=left, callback=callback)
        spent = run_budget(run, costs, budget, cost_benefit=(r == "cost_benefit"), lazy=lazy)
        runs.append((r, run, spent))
        if run.status is not None:
            break
    n_evals = sum(run.n_evals for _, run, _ in runs)
    r, run, spent = max(runs, key=lambda t: (t[1].state.value, -rules.index(t[0])))
    fields = run.fields()
    fields["n_evaluations"] = n_evals
    fields["runtime"] = time.perf_counter() - t0
    value = fields["value"]
    stopped = next((rr for _, rr, _ in runs if rr.status is not None), None)
    bound, gap = math.nan, math.nan
    if stopped is not None and stopped.status is not None:  # (the second test always holds: narrows the type)
        status, message = stopped.status, stopped.message
    else:
        status, message = Status.FEASIBLE, f"{r.replace('_', '-')} greedy won ({len(runs)} rule(s) run)"
        if f.monotone and rule == "best":
            bound = value / (0.5 * _E)
            gap = bound - value
    return KnapsackResult(status=status, message=message, x=fields["selected"], objective=value, bound=bound, gap=gap,
                          method="knapsack_greedy", backend="numba", params=params, cost=float(spent), budget=budget,
                          rule=r, **fields)


# ============================================================================ public: matroid
def matroid_greedy(f: SubmodularFunction, partition: Any, capacities: Any, *, lazy: bool = True,
                   time_limit: Optional[float] = None, callback: Any = None) -> MatroidResult:
    """Greedy maximisation over a partition matroid: at most ``capacities[b]`` picks from block ``b``.

    Picks the best element whose block still has room until no element is eligible;
    ``f(S) >= OPT / 2`` for monotone submodular ``f`` (Fisher, Nemhauser, Wolsey 1978).

    Parameters
    ----------
    f : SubmodularFunction
    partition : array_like of int, shape (n,)
        Block of each element (``>= 0``).
    capacities : array_like of int or mapping
        Capacity of each block (``>= 0``); a mapping ``{block: capacity}`` leaves the other
        blocks at 0.
    lazy : bool
        Lazy evaluations (same picks as the naive loop).
    time_limit, callback
        As in :func:`greedy`.

    Returns
    -------
    MatroidResult
        ``counts[b]`` picks per block; ``bound = 2 * value``.

    Examples
    --------
    >>> from planning.submodular import Modular, matroid_greedy
    >>> res = matroid_greedy(Modular([5.0, 4.0, 3.0, 1.0]), [0, 0, 1, 1], [1, 1])
    >>> sorted(res.selected.tolist())
    [0, 2]
    """
    f, part, cap, lazy, time_limit, callback = _validate_matroid(f, partition, capacities, lazy, time_limit, callback)
    run = GreedyRun(f, "matroid_greedy", time_limit=time_limit, callback=callback)
    counts = np.zeros(cap.size, dtype=np.int64)
    state = run.state
    n = f.n
    rank = int(np.minimum(np.bincount(part, minlength=cap.size), cap).sum()) if n else 0
    if not lazy:
        alive = cap[part] > 0
        while len(run.selected) < rank:
            if run.interrupted():
                break
            alive &= counts[part] < cap[part]
            cands = np.flatnonzero(alive)
            if cands.size == 0:
                break
            g = state.gains(cands)
            run.n_evals += cands.size
            c = int(cands[int(np.argmax(g))])
            alive[c] = False
            counts[part[c]] += 1
            if run.pick(c):
                break
    else:
        cands = np.flatnonzero(cap[part] > 0)
        g0 = state.gains(cands)
        run.n_evals += cands.size
        heap = list(zip((-g0).tolist(), cands.tolist()))
        heapq.heapify(heap)
        stamp = np.zeros(n, dtype=np.int64)
        step = 0
        while heap and len(run.selected) < rank:
            if run.interrupted():
                break
            chosen = -1
            while heap:
                neg, c = heap[0]
                if counts[part[c]] >= cap[part[c]]:
                    heapq.heappop(heap)
                    continue
                if stamp[c] == step:
                    heapq.heappop(heap)
                    chosen = c
                    break
                gc = state.gain(c)
                run.n_evals += 1
                stamp[c] = step
                heapq.heapreplace(heap, (-gc, c))
            if chosen < 0:
                break
            counts[part[chosen]] += 1
            step += 1
            if run.pick(chosen):
                break
    fields = run.fields()
    value = fields["value"]
    status, message = run.status, run.message
    bound = gap = math.nan
    if status is None:
        status, message = Status.FEASIBLE, f"greedy basis of the partition matroid ({len(run.selected)} of rank {rank})"
        if f.monotone:
            bound, gap = 2.0 * value, value
    params = {"capacities": cap, "lazy": lazy, "time_limit": time_limit}
    return MatroidResult(status=status, message=message, x=fields["selected"], objective=value, bound=bound, gap=gap,
                         method="matroid_greedy", backend="numba", params=params, counts=counts, **fields)


# ============================================================================ public: paths
def _validate_path(f, graph, start, budget, closed, count_passing, n_refine, tsp_time_limit, time_limit, callback,
                   where, multi: bool):
    f = check_objective(f, where)
    A, nodes = graph_adjacency(graph, where)
    if A.shape[0] != f.n:
        raise InvalidInputError(f"{where}: the graph has {A.shape[0]} nodes but f's ground set has {f.n} elements")
    index = {v: i for i, v in enumerate(nodes)}

    def node_index(s):
        try:
            if s in index:
                return index[s]
        except TypeError:
            pass
        raise InvalidInputError(f"{where}: start node {s!r} is not in the graph")

    if multi:
        if isinstance(start, (str, bytes)) or not isinstance(start, Sequence) or len(start) == 0:
            raise InvalidInputError(f"{where}: starts must be a non-empty sequence of nodes, got {start!r}")
        starts = [node_index(s) for s in start]
        if isinstance(budget, numbers.Real) and not isinstance(budget, (bool, np.bool_)):
            budgets = np.full(len(starts), check_real(budget, "budget", where, lower=0.0))
        else:
            budgets = as_float_array(budget, "budget", where, shape=(len(starts),), lower=0.0)
    else:
        starts = [node_index(start)]
        budgets = np.array([check_real(budget, "budget", where, lower=0.0)])
    for name, val in (("closed", closed), ("count_passing", count_passing)):
        if not isinstance(val, (bool, np.bool_)):
            raise InvalidInputError(f"{where}: {name} must be True or False, got {val!r}")
    n_refine = check_int(n_refine, "n_refine", where, lower=1)
    if tsp_time_limit is not None:
        tsp_time_limit = check_real(tsp_time_limit, "tsp_time_limit", where, lower=0.0, lower_strict=True)
    return (f, A, nodes, starts, budgets, bool(closed), bool(count_passing), n_refine, tsp_time_limit,
            check_time_limit(time_limit, where), _check_callback(callback, where))


def path_greedy(f: SubmodularFunction, graph: Any, start: Any, budget: float, *, closed: bool = True,
                count_passing: bool = True, n_refine: int = 5, tsp_time_limit: Optional[float] = None,
                time_limit: Optional[float] = None, callback: Any = None) -> PathResult:
    """Plan a walk of length ``<= budget`` from ``start`` that maximises ``f`` of the visited nodes.

    Generalised cost-benefit greedy (Zhang & Vorobeychik, 2016): the cost of adding a node is
    the increase of the shortest tour through the chosen nodes. Each step ranks the candidates
    by ``gain / cheapest-insertion cost`` (vectorised over the Dijkstra rows of the tour's
    nodes), re-solves the tour for the ``n_refine`` best with OR-Tools routing (small TSPs,
    cached by node set), and takes the best ratio among those whose tour, expanded into a walk
    on the graph, fits the budget. The returned walk's length never exceeds ``budget``.

    Parameters
    ----------
    f : SubmodularFunction
        Objective over the graph's nodes (``f.n`` must equal the number of nodes; node ``i`` is
        ``list(graph.nodes)[i]`` for networkx graphs, ``r * cols + c`` for a grid).
    graph : networkx graph, scipy.sparse adjacency (edge lengths) or (rows, cols) grid
        Edge lengths come from the ``"weight"`` attribute (default 1) and must be ``>= 0``.
    start : node
        Start of the walk (a networkx node, a ``(r, c)`` cell of a grid, an index of a matrix).
    budget : float
        Maximum walk length, ``>= 0``.
    closed : bool
        Return to ``start`` (a tour) or end anywhere (a path).
    count_passing : bool
        Score every node the walk passes through (default), not only the chosen ones.
    n_refine : int
        Candidates re-solved with OR-Tools per step.
    tsp_time_limit : float, optional
        Seconds per routing solve with guided local search; default: OR-Tools' first solution
        plus local search to a local optimum (fast, no metaheuristic).
    time_limit, callback
        As in :func:`greedy`.

    Returns
    -------
    PathResult

    Examples
    --------
    >>> from planning.submodular import GraphCoverage, path_greedy
    >>> f = GraphCoverage((5, 5), radius=1)
    >>> res = path_greedy(f, (5, 5), (0, 0), budget=8)
    >>> bool(res.walk_length <= 8), bool(res.walk[0] == res.walk[-1] == 0)
    (True, True)
    """
    where = "path_greedy()"
    (f, A, nodes, starts, budgets, closed, count_passing, n_refine, tsp_time_limit, time_limit,
     callback) = _validate_path(f, graph, start, budget, closed, count_passing, n_refine, tsp_time_limit, time_limit,
                                callback, where, multi=False)
    run = GreedyRun(f, "path_greedy", time_limit=time_limit, callback=callback)
    planner = PathPlanner(f, Metric(A), closed, count_passing, n_refine, tsp_time_limit, run, [])
    out = planner.plan(starts[0], float(budgets[0]))
    fields = run.fields()
    visited = np.unique(np.asarray(out["walk"], dtype=np.int64))
    status = run.status or Status.FEASIBLE
    message = run.message or f"walk of length {out['walk_length']:.6g} <= budget {budgets[0]:.6g}"
    params = {"budget": float(budgets[0]), "closed": closed, "count_passing": count_passing, "n_refine": n_refine,
              "tsp_time_limit": tsp_time_limit, "time_limit": time_limit}
    return PathResult(status=status, message=message, x=fields["selected"], objective=fields["value"],
                      method="path_greedy", backend="ortools", params=params,
                      walk=np.asarray(out["walk"], dtype=np.int64), walk_length=float(out["walk_length"]),
                      tour=np.asarray(out["tour"], dtype=np.int64), visited=visited, budget=float(budgets[0]),
                      n_tsp_solves=planner.n_tsp, **fields)


def multi_path_greedy(f: SubmodularFunction, graph: Any, starts: Sequence[Any], budget: Any, *,
                      closed: bool = True, count_passing: bool = True, n_refine: int = 5,
                      tsp_time_limit: Optional[float] = None, time_limit: Optional[float] = None,
                      callback: Any = None) -> MultiPathResult:
    """Walks for several robots by sequential allocation (Singh et al., 2009).

    Robot ``r`` runs :func:`path_greedy` on the marginal objective ``f(. | V_0 u ... u V_{r-1})``
    where ``V_i`` is what robot ``i`` visits; this keeps the single-robot approximation
    guarantee up to a constant factor.

    Parameters
    ----------
    f, graph
        As in :func:`path_greedy`.
    starts : sequence of nodes
        One start per robot (robots may share a start).
    budget : float or array_like
        One budget for all robots, or one per robot.
    closed, count_passing, n_refine, tsp_time_limit, time_limit, callback
        As in :func:`path_greedy`.

    Returns
    -------
    MultiPathResult

    Examples
    --------
    >>> from planning.submodular import GraphCoverage, multi_path_greedy
    >>> f = GraphCoverage((6, 6), radius=1)
    >>> res = multi_path_greedy(f, (6, 6), [(0, 0), (5, 5)], budget=6)
    >>> len(res.walks), bool(all(res.walk_lengths <= 6))
    (2, True)
    """
    where = "multi_path_greedy()"
    (f, A, nodes, starts_i, budgets, closed, count_passing, n_refine, tsp_time_limit, time_limit,
     callback) = _validate_path(f, graph, starts, budget, closed, count_passing, n_refine, tsp_time_limit, time_limit,
                                callback, where, multi=True)
    t0 = time.perf_counter()
    metric = Metric(A)
    visited: list[int] = []
    walks, lengths, robot, selected, gains = [], [], [], [], []
    n_evals = n_tsp = 0
    status, message = None, ""
    for r, (s, b) in enumerate(zip(starts_i, budgets)):
        left = None if time_limit is None else max(1e-9, time_limit - (time.perf_counter() - t0))
        run = GreedyRun(f, "multi_path_greedy", time_limit=left, callback=callback)
        planner = PathPlanner(f, metric, closed, count_passing, n_refine, tsp_time_limit, run, visited)
        out = planner.plan(s, float(b))
        walks.append(np.asarray(out["walk"], dtype=np.int64))
        lengths.append(out["walk_length"])
        robot.extend([r] * len(run.selected))
        selected.extend(run.selected)
        gains.extend(run.gains)
        n_evals += run.n_evals
        n_tsp += planner.n_tsp
        visited = list(dict.fromkeys(visited + list(out["walk"])))
        if run.status is not None:
            status, message = run.status, run.message
            break
    value = float(f.evaluate(visited)) if visited else 0.0
    params = {"budgets": budgets, "closed": closed, "count_passing": count_passing, "n_refine": n_refine,
              "tsp_time_limit": tsp_time_limit, "time_limit": time_limit}
    sel = np.asarray(selected, dtype=np.int64)
    return MultiPathResult(status=status or Status.FEASIBLE, message=message or f"{len(walks)} walks planned",
                           x=sel, objective=value, method="multi_path_greedy", backend="ortools", params=params,
                           runtime=time.perf_counter() - t0, nit=len(sel), selected=sel, value=value,
                           gains=np.asarray(gains), n_evaluations=n_evals, walks=tuple(walks),
                           walk_lengths=np.asarray(lengths), robot=np.asarray(robot, dtype=np.int64),
                           visited=np.unique(np.asarray(visited, dtype=np.int64)), budgets=budgets,
                           n_tsp_solves=n_tsp)


# ============================================================================ dispatcher
_METHODS = {"auto": lazy_greedy, "lazy": lazy_greedy, "greedy": greedy, "naive": greedy,
            "stochastic": stochastic_greedy}


def solve(f: SubmodularFunction, k: int, *, method: str = "auto", **options: Any) -> SubmodularResult:
    """Maximise ``f`` subject to ``|S| <= k`` with ``method`` in {"auto", "lazy", "greedy", "stochastic"}.

    ``"auto"`` is :func:`lazy_greedy`. Options go to the chosen function.

    Examples
    --------
    >>> from planning.submodular import Modular, solve
    >>> solve(Modular([3.0, 1.0, 2.0]), 2).selected.tolist()
    [0, 2]
    """
    method = check_choice(method, "method", "solve()", tuple(_METHODS))
    return _METHODS[method](f, k, **options)


# ============================================================================ instance files
def solve_instance(source: Any, *, method: str = "auto", **options: Any) -> SubmodularResult:
    """Read an instance (see :func:`load_instance`) and run the optimiser its constraint calls for.

    ``cardinality`` runs :func:`solve` (``method`` in {"auto", "lazy", "greedy", "stochastic"}),
    ``knapsack`` :func:`knapsack_greedy` and ``partition_matroid`` :func:`matroid_greedy`;
    ``options`` go to that function (``time_limit``, ``callback``, ``lazy``, ``rule``, ``seed``...).
    ``method`` other than ``"auto"`` applies to cardinality constraints only.

    Raises
    ------
    engine.errors.InvalidInputError
        A malformed document, or one without a constraint.

    Examples
    --------
    >>> doc = instance_to_dict(WeightedCoverage([[0, 1, 2], [2, 3], [3, 4], [0]]), {"type": "cardinality", "k": 2})
    >>> solve_instance(doc).selected.tolist()
    [0, 2]
    """
    where = "solve_instance()"
    f, c, _ = load_instance(source)
    if c is None:
        raise InvalidInputError(f"{where}: the instance has no constraint (add a cardinality, knapsack or "
                                f"partition_matroid constraint)")
    if c["type"] == "cardinality":
        return solve(f, c["k"], method=method, **options)
    if method != "auto":
        raise InvalidInputError(f"{where}: method={method!r} applies to cardinality constraints only; a "
                                f"{c['type']} instance runs its own greedy")
    if c["type"] == "knapsack":
        return knapsack_greedy(f, c["costs"], c["budget"], **options)
    return matroid_greedy(f, c["partition"], c["capacities"], **options)
