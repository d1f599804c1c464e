"""The matching (scheduling) domain: every pulled arm needs two compatible (worker, slot) assignments.

``B`` workers, ``n_slots`` (5) time slots; each arm is available in 2 slots, each worker in 3. A
pulled arm needs two (worker, slot) assignments where both are available; a worker fills at most
one arm per slot; at most ``max_pulls`` (default ``B``) arms. Checker: bipartite b-matching by
augmenting paths.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Optional

import numpy as np

from bandits.constraints.base import INF, Domain, RowBuilder, check_action_vector, check_cells
from engine.errors import InvalidInputError
from engine.validation import as_int_array, check_int
from solvers.feasible_set import FeasibleSet

__all__ = ["MatchingConstraint", "HALL_MAX_SLOTS"]

#: the matching domain uses Hall's condition (no auxiliary variables) up to this many slots
HALL_MAX_SLOTS = 12


def matching_cells(n: int, workers: int, slots: int) -> int:
    """Cells a matching constraint allocates: compatible pairs and slot tables, plus Hall's rows."""
    hall = (1 << slots) * n if slots <= HALL_MAX_SLOTS else 0
    return n * max(workers, 1) * slots + (n + workers) * slots + hall


class MatchingConstraint(Domain):
    """Arms need two compatible (worker, slot) assignments; exact checker by augmenting paths.

    Parameters
    ----------
    arm_slots : array of 0/1, shape (n, n_slots)
        The slots each arm is available in.
    worker_slots : array of 0/1, shape (n_workers, n_slots)
        The slots each worker is available in.
    max_pulls : int
        At most this many arms are pulled.
    """

    name = "matching"
    parameters = ("n_slots", "arm_slots", "worker_slots", "max_pulls", "arm_slots_per", "worker_slots_per")

    def __init__(self, arm_slots: np.ndarray, worker_slots: np.ndarray, max_pulls: int) -> None:
        self.arm_slots = arm_slots.astype(np.int64)
        self.worker_slots = worker_slots.astype(np.int64)
        self.n = arm_slots.shape[0]
        self.n_workers, self.n_slots = worker_slots.shape
        self.max_pulls = int(max_pulls)
        # compatible (worker, slot) pairs of every arm, as indices w * n_slots + k
        self.pairs = [[w * self.n_slots + k for w in range(self.n_workers) for k in range(self.n_slots)
                       if arm_slots[j, k] and worker_slots[w, k]] for j in range(self.n)]

    def check(self, a: Any) -> bool:
        arr = check_action_vector(a, self.n, "MatchingConstraint.check()")
        pulled = np.flatnonzero(arr).tolist()
        if len(pulled) > self.max_pulls:
            return False
        # two copies of each pulled arm; Kuhn's augmenting paths on (copy -> worker-slot pair)
        owner: dict[int, int] = {}
        copies = [j for j in pulled for _ in range(2)]
        if any(len(self.pairs[j]) < 2 for j in pulled):
            return False

        def augment(c: int, seen: set) -> bool:
            for p in self.pairs[copies[c]]:
                if p in seen:
                    continue
                seen.add(p)
                if p not in owner or augment(owner[p], seen):
                    owner[p] = c
                    return True
            return False

        return all(augment(c, set()) for c in range(len(copies)))

    def build_feasible_set(self) -> FeasibleSet:
        """The constraints as a :class:`solvers.FeasibleSet` over the pulls alone (no auxiliaries).

        Worker-slot pairs of one slot are interchangeable, so the assignment is a transportation
        problem from the pulled arms (demand 2 each) to the slots (supply: the workers available
        there), and by Hall's theorem (integral flows) it exists exactly when for every set ``T``
        of slots, twice the number of pulled arms whose slots all lie in ``T`` is at most the
        supply of ``T``. One row per distinct such arm set (at most ``2^n_slots``; 32 with the
        default 5 slots) plus ``sum(a) <= max_pulls``. With more than :data:`HALL_MAX_SLOTS`
        slots the assignment formulation (one binary per compatible arm-worker-slot triple) is
        used instead.
        """
        if self.n_slots > HALL_MAX_SLOTS:
            return self._assignment_feasible_set()
        n = self.n
        supply = self.worker_slots.sum(axis=0).astype(float)
        arm_masks = (self.arm_slots * (1 << np.arange(self.n_slots))).sum(axis=1)
        tightest: dict[tuple[int, ...], float] = {}
        for T in range(1 << self.n_slots):
            members = tuple(np.flatnonzero((arm_masks & ~T) == 0).tolist())
            if members:
                rhs = float(supply[[k for k in range(self.n_slots) if T >> k & 1]].sum())
                tightest[members] = min(rhs, tightest.get(members, INF))
        rows = RowBuilder()
        for members, rhs in tightest.items():
            rows.add([(j, 2.0) for j in members], -INF, rhs)
        rows.add([(j, 1.0) for j in range(n)], -INF, float(self.max_pulls))
        return rows.feasible_set(n)

    def _assignment_feasible_set(self) -> FeasibleSet:
        """One binary per compatible (arm, worker, slot) triple: two per pulled arm, one arm per pair."""
        n = self.n
        triples = [(j, p) for j in range(n) for p in self.pairs[j]]
        K = len(triples)
        by_arm: dict[int, list[int]] = {}
        by_pair: dict[int, list[int]] = {}
        for k, (j, p) in enumerate(triples):
            by_arm.setdefault(j, []).append(k)
            by_pair.setdefault(p, []).append(k)
        rows = RowBuilder()
        for j in range(n):  # sum_{w,k} z[j,w,k] == 2 a_j
            rows.add([(j, -2.0)] + [(n + k, 1.0) for k in by_arm.get(j, [])], 0.0, 0.0)
        for ks in by_pair.values():  # a worker fills at most one arm per slot
            rows.add([(n + k, 1.0) for k in ks], -INF, 1.0)
        rows.add([(j, 1.0) for j in range(n)], -INF, float(self.max_pulls))
        return rows.feasible_set(n, K, aux_lower=0.0, aux_upper=1.0, aux_integer=np.ones(K, dtype=bool))

    # ------------------------------------------------------------------ problem attributes, documents
    def attributes(self) -> dict[str, Any]:
        return {"arm_slots": self.arm_slots, "worker_slots": self.worker_slots, "constraint": self}

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "arm_slots": self.arm_slots.tolist(), "worker_slots": self.worker_slots.tolist(),
                "max_pulls": int(self.max_pulls)}

    @classmethod
    def from_dict(cls, info: Mapping, n_arms: int, *, max_cells: int, where: str) -> Optional["MatchingConstraint"]:
        arm_slots = np.asarray(info["arm_slots"], dtype=np.int64)
        worker_slots = np.asarray(info["worker_slots"], dtype=np.int64)
        if arm_slots.ndim != 2 or worker_slots.ndim != 2 or arm_slots.shape[0] != n_arms \
                or arm_slots.shape[1] != worker_slots.shape[1] or arm_slots.shape[1] < 1:
            return None
        slots, workers = arm_slots.shape[1], worker_slots.shape[0]
        check_cells(matching_cells(n_arms, workers, slots), max_cells, "$['metadata']['domain']",
                    f"{n_arms} arms, {workers} workers, {slots} slots", where)
        return cls(arm_slots, worker_slots, int(info["max_pulls"]))

    @classmethod
    def spec_cells(cls, n_arms: int, budget: int, spec: Mapping) -> Optional[tuple[int, str]]:
        slots = spec.get("n_slots", 5)
        if isinstance(slots, bool) or not isinstance(slots, int) or slots < 1:
            return None
        ws = spec.get("worker_slots")
        workers = len(ws) if isinstance(ws, list) else budget
        return matching_cells(n_arms, workers, slots), f"{n_arms} arms, {workers} workers, {slots} slots"

    @classmethod
    def generate(cls, n_arms: int, budget: int, rng: np.random.Generator, params: dict,
                 where: str) -> "MatchingConstraint":
        J, B = n_arms, budget
        n_slots = check_int(params.pop("n_slots", 5), "n_slots", where, lower=1)
        per_arm = check_int(params.pop("arm_slots_per", 2), "arm_slots_per", where, lower=1, upper=n_slots)
        per_worker = check_int(params.pop("worker_slots_per", 3), "worker_slots_per", where, lower=1, upper=n_slots)
        max_pulls = check_int(params.pop("max_pulls", B), "max_pulls", where, lower=0)
        arm_slots = params.pop("arm_slots", None)
        worker_slots = params.pop("worker_slots", None)
        # scarce overlap as in the paper: arms favour late slots, workers early ones
        p_arm = np.sort(rng.random(n_slots))
        p_worker = np.sort(rng.random(n_slots))[::-1]
        arm_slots = _slot_table(arm_slots, J, per_arm, p_arm, rng, "arm_slots", where)
        worker_slots = _slot_table(worker_slots, B, per_worker, p_worker, rng, "worker_slots", where)
        if arm_slots.shape != (J, n_slots) or worker_slots.shape[1] != n_slots:
            raise InvalidInputError(f"{where}: arm_slots must be ({J}, {n_slots}) and worker_slots (W, {n_slots}), "
                                    f"got {arm_slots.shape} and {worker_slots.shape}")
        return cls(arm_slots, worker_slots, max_pulls)


def _slot_table(given: Any, rows: int, per_row: int, weights: np.ndarray, rng: np.random.Generator, name: str,
                where: str) -> np.ndarray:
    """The 0/1 table ``given`` (validated), or ``rows`` random rows of ``per_row`` slots drawn by ``weights``."""
    if given is not None:
        return as_int_array(given, name, where, ndim=2, lower=0, upper=1)
    table = np.zeros((rows, weights.size), dtype=np.int64)
    for i in range(rows):
        table[i, rng.choice(weights.size, size=per_row, replace=False, p=weights / weights.sum())] = 1
    return table
