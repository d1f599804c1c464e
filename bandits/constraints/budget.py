"""The budget domain: at most ``B`` pulls, ``sum(a) <= B``."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from typing import Any, Optional

import numpy as np

from bandits.constraints.base import Domain
from engine.validation import check_int
from solvers.feasible_set import FeasibleSet

__all__ = ["BudgetConstraint"]


class BudgetConstraint(Domain):
    """``sum(a) <= budget`` over ``n`` arms.

    Examples
    --------
    >>> c = BudgetConstraint(4, 2)
    >>> c.check([1, 1, 0, 0]), c.check([1, 1, 1, 0]), len(c.enumerate(100))
    (True, False, 11)
    """

    name = "budget"
    parameters = ()

    def __init__(self, n: int, budget: int) -> None:
        where = "BudgetConstraint()"
        self.n = check_int(n, "n", where, lower=0)
        self.budget = check_int(budget, "budget", where, lower=0)

    def check(self, action: Any) -> bool:
        return int(np.sum(action)) <= self.budget

    def sample(self, rng: np.random.Generator) -> np.ndarray:
        a = np.zeros(self.n, dtype=np.int64)
        k = int(rng.integers(0, self.budget + 1))
        a[rng.choice(self.n, size=k, replace=False)] = 1
        return a

    def enumerate(self, limit: int) -> Optional[np.ndarray]:
        n, B = self.n, self.budget
        if sum(math.comb(n, k) for k in range(B + 1)) > limit:
            return None
        rows = []
        for k in range(B + 1):
            for c in itertools.combinations(range(n), k):
                a = np.zeros(n, dtype=np.int64)
                a[list(c)] = 1
                rows.append(a)
        return np.array(rows)

    def build_feasible_set(self) -> FeasibleSet:
        return FeasibleSet.budget(self.n, self.budget)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "budget": int(self.budget)}

    @classmethod
    def from_dict(cls, info: Mapping, n_arms: int, *, max_cells: int, where: str) -> Optional["BudgetConstraint"]:
        budget = info.get("budget")
        if isinstance(budget, bool) or not isinstance(budget, int) or not 0 <= budget <= n_arms:
            return None
        return cls(n_arms, budget)

    @classmethod
    def spec_cells(cls, n_arms: int, budget: int, spec: Mapping) -> Optional[tuple[int, str]]:
        return 0, "a budget domain"

    @classmethod
    def generate(cls, n_arms: int, budget: int, rng: np.random.Generator, params: dict,
                 where: str) -> "BudgetConstraint":
        return cls(n_arms, budget)
