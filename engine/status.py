"""Solve statuses shared by every result in the engine."""

from __future__ import annotations

import enum

__all__ = ["Status"]


class Status(enum.Enum):
    """Outcome of a solve.

    ``OPTIMAL`` means optimality was proven (to the requested gap); ``FEASIBLE`` means a
    solution is available but not proven optimal. ``TIME_LIMIT`` and ``ITERATION_LIMIT``
    carry the best answer found so far, if any.
    """

    OPTIMAL = "optimal"
    FEASIBLE = "feasible"
    TIME_LIMIT = "time_limit"
    ITERATION_LIMIT = "iteration_limit"
    INFEASIBLE = "infeasible"
    UNBOUNDED = "unbounded"
    STOPPED = "stopped"
    ERROR = "error"

    @property
    def success(self) -> bool:
        """True for statuses whose answer can be used as is (OPTIMAL, FEASIBLE)."""
        return self in (Status.OPTIMAL, Status.FEASIBLE)

    def __str__(self) -> str:
        return self.value
