"""The multiple-interventions domain: exactly ``B`` of ``N`` interventions, acting on the arms jointly.

``N`` interventions (default ``2B``), exactly ``B`` chosen; arm ``j`` moves up with a sigmoid
probability of the weighted interventions hitting it (:class:`~bandits.InterventionArms`). As in
the paper some arms respond only to a particular *triple* of interventions (each of the three
alone does nearly nothing), so greedy construction is beatable.
"""

from __future__ import annotations

import itertools
import math
from typing import Any, Optional

import numpy as np

from bandits.arms import Arms, InterventionArms
from bandits.constraints.base import Domain
from engine.errors import InvalidInputError
from engine.validation import as_float_array, check_int
from solvers.feasible_set import FeasibleSet

__all__ = ["InterventionConstraint"]


class InterventionConstraint(Domain):
    """Exactly ``budget`` of ``n`` interventions (not closed under removing pulls: ``partial_check`` is ``<=``).

    Examples
    --------
    >>> c = InterventionConstraint(4, 2)
    >>> c.check([1, 1, 0, 0]), c.check([1, 0, 0, 0]), c.partial_check([1, 0, 0, 0]), len(c.enumerate(10))
    (True, False, True, 6)
    """

    name = "multiple_interventions"
    parameters = ("n_interventions", "weights", "amp", "slope", "x0")

    def __init__(self, n: int, budget: int) -> None:
        where = "InterventionConstraint()"
        self.n = check_int(n, "n", where, lower=1)
        self.budget = check_int(budget, "budget", where, lower=0, upper=self.n)

    def check(self, action: Any) -> bool:
        return int(np.sum(action)) == self.budget

    def partial_check(self, action: Any) -> bool:
        return int(np.sum(action)) <= self.budget

    def sample(self, rng: np.random.Generator) -> np.ndarray:
        a = np.zeros(self.n, dtype=np.int64)
        a[rng.choice(self.n, size=self.budget, replace=False)] = 1
        return a

    def enumerate(self, limit: int) -> Optional[np.ndarray]:
        N, B = self.n, self.budget
        if math.comb(N, B) > limit:
            return None
        rows = []
        for c in itertools.combinations(range(N), B):
            a = np.zeros(N, dtype=np.int64)
            a[list(c)] = 1
            rows.append(a)
        return np.array(rows, dtype=np.int64).reshape(-1, N)

    def build_feasible_set(self) -> FeasibleSet:
        return FeasibleSet(self.n, np.ones((1, self.n)), [self.budget], [self.budget])

    def attributes(self) -> dict[str, Any]:
        return {"n_interventions": self.n}

    @classmethod
    def generate(cls, n_arms: int, budget: int, rng: np.random.Generator, params: dict,
                 where: str) -> "InterventionConstraint":
        B = budget
        N = check_int(params.pop("n_interventions", max(2 * B, B + 1)), "n_interventions", where, lower=1)
        if B > N:
            raise InvalidInputError(f"{where}: budget must be <= n_interventions = {N}, got {B}")
        return cls(N, B)

    def make_arms(self, base: Arms, rng: np.random.Generator, params: dict, where: str) -> Arms:
        """Intervention arms on the default arms' rewards (``weights``, ``amp``, ``slope``, ``x0`` overridable)."""
        arms = _intervention_arms(base.n_arms, self.budget, self.n, rng, base, params, where)
        if arms.n_actions != self.n:
            raise InvalidInputError(f"{where}: weights must have n_interventions = {self.n} columns, "
                                    f"got {arms.n_actions}")
        return arms


def _intervention_weights(J: int, N: int, B: int, rng: np.random.Generator,
                          weight: float = 3.0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Sparse weights: triples of interventions act jointly on a few arms (see the module docstring)."""
    W = np.zeros((J, N))
    n_bad = min(J, int(math.ceil(J * B / N)))
    good_arms = np.arange(n_bad, J)
    bad_arms = np.arange(0, n_bad)
    good_actions = np.sort(rng.choice(N, size=B, replace=False))
    bad_actions = np.array([i for i in range(N) if i not in set(good_actions.tolist())])
    for arms, actions in ((good_arms, good_actions), (bad_arms, bad_actions)):
        n_full = len(actions) // 3
        groups = [actions[3 * g: 3 * g + 3] for g in range(n_full)] + [[i] for i in actions[3 * n_full:]]
        for group in groups:
            free = [j for j in arms if W[j].sum() == 0]
            if not free:
                free = list(arms)
            if not free:
                continue
            hit = rng.choice(free, size=min(3, len(free)), replace=False)
            for i in group:
                W[hit, i] = weight
    return W, good_arms, bad_arms, good_actions


def _intervention_arms(J: int, B: int, N: int, rng: np.random.Generator, base: Arms, params: dict,
                       where: str) -> InterventionArms:
    W, good_arms, bad_arms, good_actions = _intervention_weights(J, N, B, rng)
    amp = np.zeros(J)
    slope = np.ones(J)
    x0 = np.zeros(J)
    amp[good_arms] = np.round(rng.uniform(0.7, 1.0, size=good_arms.size), 1)
    slope[good_arms] = np.round(rng.uniform(1.4, 1.9, size=good_arms.size), 1)
    x0[good_arms] = rng.integers(9, 11, size=good_arms.size)
    amp[bad_arms] = np.round(rng.uniform(0.2, 0.5, size=bad_arms.size), 1)
    x0[bad_arms] = rng.integers(1, 3, size=bad_arms.size)
    if params.get("weights") is not None:
        W = as_float_array(params.pop("weights"), "weights", where, ndim=2)
        if W.shape[0] != J:
            raise InvalidInputError(f"{where}: weights must have {J} rows, got {W.shape}")
    if params.get("amp") is not None:
        amp = as_float_array(params.pop("amp"), "amp", where, shape=(J,))
    if params.get("slope") is not None:
        slope = as_float_array(params.pop("slope"), "slope", where, shape=(J,))
    if params.get("x0") is not None:
        x0 = as_float_array(params.pop("x0"), "x0", where, shape=(J,))
    return InterventionArms(W, base.rewards, amp=amp, slope=slope, x0=x0)
