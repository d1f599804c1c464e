"""The greedy loops behind :mod:`planning.submodular`.

:class:`GreedyRun` is the bookkeeping every optimiser shares (picks, gains, evaluation count,
deadline, callback, status); :func:`run_cardinality` is the naive or lazy (Minoux) greedy under
``|S| <= k``, :func:`run_stochastic` the stochastic greedy, :func:`run_budget` the cost-benefit or
unit-cost greedy under a knapsack budget, and :func:`topk_sum` the sum of the ``k`` largest gains
(the data-dependent bound). The public functions of :mod:`planning.submodular` validate their
input, run one of these loops and build the result.
"""

from __future__ import annotations

import heapq
import math
import time
from typing import Any, Optional

import numpy as np

from engine.errors import InvalidInputError
from engine.events import Incumbent, emit
from engine.status import Status
from planning.setfunction import GainState, SubmodularFunction

__all__ = ["GreedyRun", "run_cardinality", "run_stochastic", "run_budget", "topk_sum"]


class GreedyRun:
    """Shared bookkeeping: picks, gains, evaluation count, limits, callback and status."""

    def __init__(self, f: SubmodularFunction, source: str, *, time_limit: Optional[float], callback: Any,
                 state: Optional[GainState] = None) -> None:
        self.f = f
        self.source = source
        self.state = state if state is not None else f.new_state()
        self.t0 = time.perf_counter()
        self.deadline = None if time_limit is None else self.t0 + time_limit
        self.callback = callback
        self.n_evals = 0
        self.status: Optional[Status] = None
        self.message = ""
        self.selected: list[int] = []
        self.gains: list[float] = []

    def interrupted(self) -> bool:
        if self.deadline is not None and time.perf_counter() > self.deadline:
            self.status, self.message = Status.TIME_LIMIT, "time limit reached; the selection so far is returned"
            return True
        return False

    def pick(self, c: int) -> bool:
        """Add ``c``; return True if the callback asked to stop.

        A non-finite gain (an objective that returned NaN or an infinity) raises
        InvalidInputError: such a run has no value to report, as OPTIMAL, FEASIBLE or otherwise.
        """
        g = self.state.add(c)
        if not math.isfinite(g) or not math.isfinite(self.state.value):
            raise InvalidInputError(f"{self.source}(): the objective {type(self.f).__name__} gave element {c} the "
                                    f"marginal gain {g} (value {self.state.value}); objectives must return finite "
                                    f"values")
        self.selected.append(int(c))
        self.gains.append(float(g))
        if self.callback is None:
            return False
        event = Incumbent(self.source, objective=float(self.state.value), x=np.asarray(self.selected, dtype=np.int64))
        if emit(self.callback, event):
            self.status, self.message = Status.STOPPED, "stopped by the callback; the selection so far is returned"
            return True
        return False

    def fields(self) -> dict:
        return dict(selected=np.asarray(self.selected, dtype=np.int64), value=float(self.state.value),
                    gains=np.asarray(self.gains, dtype=np.float64), n_evaluations=int(self.n_evals),
                    runtime=time.perf_counter() - self.t0, nit=len(self.selected))


def topk_sum(values: np.ndarray, k: int) -> float:
    if k <= 0 or values.size == 0:
        return 0.0
    if k >= values.size:
        return float(np.maximum(values, 0.0).sum())
    part = np.partition(values, values.size - k)[values.size - k:]
    return float(np.maximum(part, 0.0).sum())


def run_cardinality(run: GreedyRun, k: int, *, lazy: bool) -> float:
    """Greedy for ``|S| <= k``; returns the best upper bound on OPT it could certify."""
    n = run.f.n
    state = run.state
    bound = math.inf
    monotone = run.f.monotone
    if k == 0:
        return topk_sum(state.gains(np.arange(n, dtype=np.int64)), 0) if monotone else math.nan
    if not lazy or getattr(state, "cheap_gains", False):  # exact gains are lookups: a scan beats a heap
        alive = np.ones(n, dtype=bool)
        for step in range(k):
            if run.interrupted():
                break
            cands = np.flatnonzero(alive)
            g = state.gains(cands)
            run.n_evals += cands.size
            if monotone:
                bound = min(bound, state.value + topk_sum(g, k))
            c = int(cands[int(np.argmax(g))])
            alive[c] = False
            if run.pick(c):
                break
        if monotone and run.status is None and len(run.selected) < n:
            cands = np.flatnonzero(alive)
            g = state.gains(cands)
            run.n_evals += cands.size
            bound = min(bound, state.value + topk_sum(g, k))
        elif monotone and len(run.selected) == n:
            bound = min(bound, state.value)
        return bound if monotone else math.nan
    # lazy greedy: heap of (-stale gain, index); a popped entry evaluated at this step wins.
    all_idx = np.arange(n, dtype=np.int64)
    g0 = state.gains(all_idx)
    run.n_evals += n
    ub = g0.copy()
    alive = np.ones(n, dtype=bool)
    if monotone:
        bound = min(bound, topk_sum(g0, k))
    heap = list(zip((-g0).tolist(), range(n)))
    heapq.heapify(heap)
    stamp = np.zeros(n, dtype=np.int64)  # step at which ub[c] was computed
    check_every = max(1, k // 8)
    gain_one = state.gain
    for step in range(k):
        if run.interrupted():
            break
        if monotone and step and step % check_every == 0:
            bound = min(bound, state.value + topk_sum(ub[alive], k))
        while True:
            neg, c = heap[0]
            if stamp[c] == step:
                heapq.heappop(heap)
                break
            gc = gain_one(c)
            run.n_evals += 1
            ub[c] = gc
            stamp[c] = step
            heapq.heapreplace(heap, (-gc, c))
        alive[c] = False
        if run.pick(c):  # entries evaluated at this step are stale from the next one on
            break
    if monotone:
        if alive.any():
            bound = min(bound, state.value + topk_sum(ub[alive], k))
        else:
            bound = min(bound, state.value)
    return bound if monotone else math.nan


def run_stochastic(run: GreedyRun, k: int, sample_size: int, rng: np.random.Generator) -> None:
    """Stochastic greedy for ``|S| <= k`` (see :func:`stochastic_greedy` for the argument).

    ``pool[:size]`` holds the elements still sampled from: the unselected ones, less (for a
    monotone objective) those whose gain was found to be 0, which stays 0. ``ub[c]`` is the
    last evaluated gain of ``c`` (``inf`` if never evaluated), an upper bound on its gain now.
    """
    f, state = run.f, run.state
    n = f.n
    prune = f.monotone
    lazy = not getattr(state, "cheap_gains", False)  # a lookup is cheaper than the bookkeeping
    pool = np.arange(n, dtype=np.int64)
    size = n
    ub = np.full(n, np.inf)
    chunk = 8
    for _ in range(k):
        if run.interrupted():
            return
        if size == 0:
            break
        m = min(sample_size, size)
        pos = rng.choice(size, size=m, replace=False, shuffle=False) if m < size else np.arange(size)
        cands = pool[pos]
        if lazy:
            # Evaluate in decreasing order of the stale bounds (never evaluated first) until the
            # next bound is below the best fresh gain: the maximisers of the sample are all found.
            order = np.argsort(-ub[cands], kind="stable")
            cands, pos = cands[order], pos[order]
            u = ub[cands]
            g = np.full(m, -np.inf)
            i = int(np.count_nonzero(np.isinf(u)))
            if i:
                g[:i] = state.gains(cands[:i])
            best = float(g[:i].max()) if i else -math.inf
            while i < m and u[i] >= best:
                j = i + int(np.count_nonzero(u[i:i + chunk] >= best))  # u is sorted: a prefix
                g[i:j] = state.gains(cands[i:j])
                best = max(best, float(g[i:j].max()))
                i = j
            cands, pos, g = cands[:i], pos[:i], g[:i]
        else:
            g = state.gains(cands)
            best = float(g.max())
        run.n_evals += cands.size
        if np.isnan(g).any():
            c = int(cands[np.flatnonzero(np.isnan(g))[0]])
            raise InvalidInputError(f"{run.source}(): the objective {type(f).__name__} gave element {c} the marginal "
                                    f"gain nan; objectives must return finite values")
        ub[cands] = g
        if prune and m == size and best <= 0.0:
            break  # the whole pool was looked at and gains 0: so does every element left
        winners = np.flatnonzero(g == best)
        w = winners[int(np.argmin(cands[winners]))]  # ties: the smallest index, as greedy
        c = int(cands[w])
        out = [int(pos[w])]
        if prune:
            out += pos[g <= 0.0].tolist()
        for p in sorted(set(out), reverse=True):  # swap with the last live slot, highest first
            size -= 1
            pool[p], pool[size] = pool[size], pool[p]
        if run.pick(c):
            return
    if len(run.selected) < k and run.status is None:
        # every element left has gain 0: complete the selection in index order, as greedy would
        chosen = np.zeros(n, dtype=bool)
        chosen[run.selected] = True
        for c in np.flatnonzero(~chosen)[:k - len(run.selected)]:
            if run.interrupted() or run.pick(int(c)):
                return


# ============================================================================ budget (knapsack)
def run_budget(run: GreedyRun, costs: np.ndarray, budget: float, *, cost_benefit: bool, lazy: bool) -> float:
    """Greedy under ``sum costs <= budget``; returns the spent cost."""
    n = run.f.n
    state = run.state
    spent = 0.0
    alive = costs <= budget
    if not lazy:
        step = 0
        while True:
            if run.interrupted():
                break
            alive &= costs <= budget - spent
            cands = np.flatnonzero(alive)
            if cands.size == 0:
                break
            g = state.gains(cands)
            run.n_evals += cands.size
            score = g / costs[cands] if cost_benefit else g
            c = int(cands[int(np.argmax(score))])
            alive[c] = False
            spent += float(costs[c])
            step += 1
            if run.pick(c):
                break
        return spent
    cands = np.flatnonzero(alive)
    g0 = state.gains(cands)
    run.n_evals += cands.size
    score0 = g0 / costs[cands] if cost_benefit else g0
    heap = list(zip((-score0).tolist(), cands.tolist()))
    heapq.heapify(heap)
    stamp = np.zeros(n, dtype=np.int64)
    step = 0
    gain_one = state.gain
    while heap:
        if run.interrupted():
            break
        left = budget - spent
        chosen = -1
        while heap:
            neg, c = heap[0]
            if costs[c] > left:
                heapq.heappop(heap)  # never fits again: the budget only shrinks
                continue
            if stamp[c] == step:
                heapq.heappop(heap)
                chosen = c
                break
            gc = gain_one(c)
            run.n_evals += 1
            stamp[c] = step
            heapq.heapreplace(heap, (-(gc / costs[c] if cost_benefit else gc), c))
        if chosen < 0:
            break
        spent += float(costs[chosen])
        step += 1
        if run.pick(chosen):
            break
    return spent
