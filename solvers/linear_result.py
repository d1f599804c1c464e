"""The result of an LP/MILP solve (:class:`LinearResult`), shared by the HiGHS model
(:mod:`solvers.highs`) and the Pyomo backend (:mod:`solvers.pyomo_backend`).

Its result kind stays ``"solvers.highs.LinearResult"``, the name documents written before it had a
module of its own carry.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np

from engine.result import SolveResult

__all__ = ["LinearResult"]


@dataclass(frozen=True, kw_only=True)
class LinearResult(SolveResult, kind="solvers.highs.LinearResult"):
    """Result of a LP/MILP solve.

    Besides the :class:`engine.SolveResult` core (``x``, ``objective``, ``bound``, absolute
    ``gap``): ``proven_optimal``, row activities ``row_value``, LP duals ``row_dual`` /
    ``col_dual`` (None for MIPs), branch-and-bound ``node_count``, and ``mip_rel_gap``.

    With ``solve(certify=True)``: ``certified`` (the engine re-proved the status with safe dual
    bounds, :mod:`solvers.certificate`), ``solver_bound`` (HiGHS's own bound, not trusted) and
    ``certificate_nodes`` (LPs the certificate solved); ``bound`` is then the certificate's.
    """

    proven_optimal: bool = False
    row_value: Optional[np.ndarray] = None
    row_dual: Optional[np.ndarray] = None
    col_dual: Optional[np.ndarray] = None
    node_count: int = 0
    mip_rel_gap: float = math.nan
    certified: bool = False
    solver_bound: float = math.nan
    certificate_nodes: int = 0
