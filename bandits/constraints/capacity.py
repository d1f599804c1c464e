"""The capacity domain: every pulled arm is assigned to one worker within the workers' capacities.

``B`` workers with capacities (default uniform in {2..7}); arms have costs (default {2..6}); a
pulled arm is assigned to one worker within the workers' capacities. Checker: exact bin packing
search (an exact MIP decides when the search is too long).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Optional

import numpy as np
from numba import njit

from bandits.constraints.base import (INF, Domain, RowBuilder, check_action_vector, check_cells, number_array,
                                      random_maximal)
from engine.errors import InvalidInputError
from engine.validation import as_float_array, check_int
from solvers.feasible_set import FeasibleSet

__all__ = ["CapacityConstraint", "PATTERN_LIMIT"]

#: the capacity domain uses the pattern formulation up to this many maximal packing patterns
PATTERN_LIMIT = 2_000


@njit(cache=True)
def _best_fit_decreasing(costs_desc: np.ndarray, capacities: np.ndarray) -> bool:  # pragma: no cover - compiled
    """Whether best-fit decreasing packs the items: a sufficient condition for feasibility, O(k B)."""
    room = capacities.copy()
    for c in costs_desc:
        best = -1
        best_room = np.inf
        for w in range(room.size):
            r = room[w] - c
            if r >= -1e-9 and r < best_room:
                best_room = r
                best = w
        if best < 0:
            return False
        room[best] -= c
    return True


class CapacityConstraint(Domain):
    """Each pulled arm is assigned to one worker within capacities; exact bin-packing checker.

    Parameters
    ----------
    costs : array of float, shape (n,)
        The cost of each arm (>= 0).
    capacities : array of float, shape (n_workers,)
        The capacity of each worker.
    node_limit : int
        Search states one :meth:`check` may explore before the MIP encoding decides.
    """

    name = "capacity"
    parameters = ("costs", "capacities", "n_workers")

    def __init__(self, costs: np.ndarray, capacities: np.ndarray, node_limit: int = 20_000) -> None:
        self.costs = costs.astype(float)
        self.capacities = capacities.astype(float)
        self.n = costs.shape[0]
        self.node_limit = int(node_limit)
        self.mip_fallbacks = 0
        levels = self.cost_levels
        # level of each arm (-1: cost 0, packs anywhere); workers by decreasing capacity
        self._level = np.full(self.n, -1, dtype=np.int64)
        for i, v in enumerate(levels):
            self._level[np.abs(self.costs - v) <= 1e-12] = i
        self._values = levels.tolist()
        self._caps = sorted(self.capacities.tolist(), reverse=True)
        self._caps_array = np.asarray(self._caps, dtype=np.float64)
        self._cap_suffix = np.concatenate([np.cumsum(self._caps[::-1])[::-1], [0.0]]).tolist()
        self._packable: dict[tuple[int, tuple[int, ...]], bool] = {}   # (worker, counts) -> packable

    def check(self, a: Any) -> bool:
        """Exact bin packing.

        Arms of equal cost are interchangeable, so the question is whether the *counts* per cost
        level fit: a depth-first search over the workers (largest first) that gives each worker a
        maximal load of the remaining arms, memoised on ``(worker, remaining counts)`` for the
        life of the constraint (greedy constructions ask about many overlapping actions). If one
        check explores more than ``node_limit`` new states, the MIP encoding decides.
        """
        arr = check_action_vector(a, self.n, "CapacityConstraint.check()")
        pulled = arr == 1
        if not pulled.any():
            return True
        if not self._caps:
            return False
        c = self.costs[pulled]
        if c.max() > self._caps[0] + 1e-9 or c.sum() > self._cap_suffix[0] + 1e-9:
            return False
        # a packing found by best fit decreasing settles it at once (large instances: the exact search
        # below explores many symmetric worker orders before it finds one)
        if _best_fit_decreasing(np.sort(c)[::-1].copy(), self._caps_array):
            return True
        counts = tuple(np.bincount(self._level[pulled & (self._level >= 0)], minlength=len(self._values)).tolist())
        budget = [self.node_limit]
        got = self._pack(0, counts, budget)
        if got is None:
            self.mip_fallbacks += 1
            return bool(self.feasible_set().contains(arr))
        return got

    def sample(self, rng: np.random.Generator) -> np.ndarray:
        """A random feasible action: :func:`~bandits.constraints.base.random_maximal` with the arms'
        costs, so an arm costlier than one already refused is skipped without the exact search (the
        same draws and action; the search then runs at most once per cost level to prove a refusal:
        at ``J = 1000`` minutes in all without the skip, seconds with it)."""
        return random_maximal(self.n, rng, self.check, costs=self.costs)

    def _pack(self, i: int, counts: tuple[int, ...], budget: list[int]) -> Optional[bool]:
        """Can workers ``i, i+1, ...`` take ``counts`` arms of each cost level? None: out of budget."""
        if not any(counts):
            return True
        if i == len(self._caps):
            return False
        key = (i, counts)
        known = self._packable.get(key)
        if known is not None:
            return known
        values = self._values
        if sum(k * v for k, v in zip(counts, values)) > self._cap_suffix[i] + 1e-9:
            self._packable[key] = False
            return False
        budget[0] -= 1
        if budget[0] < 0:
            return None
        rest = list(counts)
        L = len(values)

        def loads(level: int, room: float):
            """Remaining counts after a maximal load of worker ``i`` (levels from the most costly down)."""
            if level < 0:
                # maximal: no remaining arm fits in the room left
                if all(rest[l] == 0 or values[l] > room + 1e-9 for l in range(L)):
                    yield tuple(rest)
                return
            most = min(rest[level], int(math.floor((room + 1e-9) / values[level])))
            for take in range(most, -1, -1):
                rest[level] -= take
                yield from loads(level - 1, room - take * values[level])
                rest[level] += take

        result: Optional[bool] = False
        for after in loads(L - 1, self._caps[i]):
            got = self._pack(i + 1, after, budget)
            if got is None:
                return None
            if got:
                result = True
                break
        if len(self._packable) > 1_000_000:
            self._packable.clear()
        self._packable[key] = bool(result)
        return result

    def packing_patterns(self, limit: int = PATTERN_LIMIT) -> Optional[list[tuple[float, int, np.ndarray]]]:
        """Maximal packing patterns per distinct capacity, or None when there are more than ``limit``.

        A list of ``(capacity, number of workers with it, Q)``; each row of ``Q`` (shape
        ``(patterns, levels)``) is how many arms of each positive cost level (:attr:`cost_levels`)
        one such worker takes at once, and only maximal rows are kept (no further arm fits).

        Examples
        --------
        >>> cc = CapacityConstraint(np.array([2.0, 3.0, 3.0]), np.array([5.0, 5.0, 3.0]))
        >>> [(cap, k, Q.tolist()) for cap, k, Q in cc.packing_patterns()]
        [(3.0, 1, [[1.0, 0.0], [0.0, 1.0]]), (5.0, 2, [[2.0, 0.0], [1.0, 1.0]])]
        """
        limit = check_int(limit, "limit", "CapacityConstraint.packing_patterns()", lower=0)
        levels = self.cost_levels
        out = []
        total = 0
        for cap in np.unique(self.capacities):
            pats: list[list[int]] = []
            q = [0] * levels.size

            def rec(i: int, rem: float) -> bool:
                if len(pats) + total > limit:
                    return False
                if i == levels.size:
                    if not np.any(levels <= rem + 1e-9):       # maximal: nothing else fits
                        pats.append(list(q))
                    return True
                k = int(math.floor((rem + 1e-9) / levels[i]))
                for c in range(k, -1, -1):
                    q[i] = c
                    if not rec(i + 1, rem - c * levels[i]):
                        return False
                q[i] = 0
                return True

            if not rec(0, float(cap)):
                return None
            total += len(pats)
            out.append((float(cap), int(np.sum(self.capacities == cap)),
                        np.array(pats, dtype=float).reshape(len(pats), levels.size)))
        return out

    @property
    def cost_levels(self) -> np.ndarray:
        """The distinct positive arm costs, ascending."""
        return np.unique(self.costs[self.costs > 0])

    def build_feasible_set(self) -> FeasibleSet:
        """The constraints as a :class:`solvers.FeasibleSet`.

        Arms of equal cost are interchangeable for packing, so when the number of maximal
        packing patterns is small (integer-like costs, small capacities: the default domain has
        a few dozen) the set is the pattern formulation: an integer ``y[c, p]`` counts the
        workers of capacity ``c`` packed by pattern ``p`` (at most the number of such workers),
        and for every cost level the pulled arms of that cost are at most the slots the chosen
        patterns offer. A pulled arm of cost 0 only needs one worker. This is exact, has a few
        dozen integer columns instead of ``J * B`` assignment binaries, no worker symmetry, and a
        much tighter LP relaxation. Beyond :data:`PATTERN_LIMIT` patterns the assignment
        formulation ``x[j, w]`` is used instead.
        """
        patterns = self.packing_patterns()
        if patterns is None:
            return self._assignment_feasible_set()
        n, W = self.n, self.capacities.size
        levels = self.cost_levels
        K = sum(Q.shape[0] for _, _, Q in patterns)
        rows = RowBuilder()
        for i in range(levels.size):          # arms of cost level i pulled <= slots of level i
            terms = [(int(j), 1.0) for j in np.flatnonzero(self._level == i)]
            col = n
            for _, _, Q in patterns:
                for q in Q[:, i]:
                    if q:
                        terms.append((col, -float(q)))
                    col += 1
            rows.add(terms, -INF, 0.0)
        col = n
        aux_upper = []
        for _, count, Q in patterns:          # at most `count` workers of this capacity
            rows.add([(col + p, 1.0) for p in range(Q.shape[0])], -INF, float(count))
            aux_upper += [float(count)] * Q.shape[0]
            col += Q.shape[0]
        if W == 0:                            # no worker: nothing can be pulled, not even a free arm
            for j in np.flatnonzero(self.costs <= 0):
                rows.add([(int(j), 1.0)], -INF, 0.0)
        return rows.feasible_set(n, K, aux_lower=0.0, aux_upper=np.array(aux_upper),
                                 aux_integer=np.ones(K, dtype=bool))

    def _assignment_feasible_set(self) -> FeasibleSet:
        """The assignment formulation: ``x[j, w]`` binary, one worker per pulled arm, capacities."""
        n, W = self.n, self.capacities.size
        K = n * W  # x[j, w] at column n + j * W + w
        rows = RowBuilder()
        for j in range(n):  # sum_w x[j,w] == a_j
            rows.add([(j, -1.0)] + [(n + j * W + w, 1.0) for w in range(W)], 0.0, 0.0)
        for w in range(W):  # sum_j cost_j x[j,w] <= capacity_w
            rows.add([(n + j * W + w, float(self.costs[j])) for j in range(n)], -INF, float(self.capacities[w]))
        return rows.feasible_set(n, K, aux_lower=0.0, aux_upper=1.0, aux_integer=np.ones(K, dtype=bool))

    # ------------------------------------------------------------------ problem attributes, documents
    def attributes(self) -> dict[str, Any]:
        return {"costs": self.costs, "capacities": self.capacities, "constraint": self}

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "costs": self.costs.tolist(), "capacities": self.capacities.tolist()}

    @classmethod
    def from_dict(cls, info: Mapping, n_arms: int, *, max_cells: int, where: str) -> Optional["CapacityConstraint"]:
        path = "$['metadata']['domain']"
        costs = number_array(info["costs"], f"{path}['costs']", where)
        caps = number_array(info["capacities"], f"{path}['capacities']", where)
        if costs.shape != (n_arms,):
            return None
        check_cells(n_arms * max(caps.size, 1), max_cells, path, f"{n_arms} arms, {caps.size} workers", where)
        return cls(costs, caps)

    @classmethod
    def spec_cells(cls, n_arms: int, budget: int, spec: Mapping) -> Optional[tuple[int, str]]:
        caps = spec.get("capacities")
        n_workers = len(caps) if isinstance(caps, list) else spec.get("n_workers", budget)
        if isinstance(n_workers, bool) or not isinstance(n_workers, int) or n_workers < 0:
            return None
        return n_arms * max(n_workers, 1), f"{n_arms} arms, {n_workers} workers"

    @classmethod
    def generate(cls, n_arms: int, budget: int, rng: np.random.Generator, params: dict,
                 where: str) -> "CapacityConstraint":
        J = n_arms
        W = check_int(params.pop("n_workers", budget), "n_workers", where, lower=0)
        costs = params.pop("costs", None)
        caps = params.pop("capacities", None)
        costs = rng.integers(2, 7, size=J).astype(float) if costs is None else \
            as_float_array(costs, "costs", where, shape=(J,), lower=0.0)
        caps = rng.integers(2, 8, size=W).astype(float) if caps is None else \
            as_float_array(caps, "capacities", where, ndim=1, lower=0.0)
        if not np.any(costs > 0):
            raise InvalidInputError(f"{where}: the capacity domain needs at least one arm with a positive cost, "
                                    f"got costs {costs.tolist()[:20]} (all 0: nothing to pack; use the budget domain)")
        return cls(costs, caps)

