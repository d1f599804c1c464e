"""Pyomo export and a Pyomo backend for the array models.

``to_pyomo`` turns the arrays of a :class:`solvers.LinearModel` into a ``ConcreteModel`` with
variables ``x[j]`` and constraints ``rows[i]`` (one linear expression per row, built from the
sparse matrix, no Python-level parsing). ``solve_pyomo`` solves it with any solver Pyomo
knows (``appsi_highs`` by default), so users with Gurobi or CPLEX can run the same models.
"""

from __future__ import annotations

import math
import time
from typing import Any, Mapping, Optional

import numpy as np
import scipy.sparse as sp

from engine.errors import BackendError, InvalidInputError
from engine.status import Status
from engine.validation import check_time_limit
from solvers.linear_result import LinearResult

__all__ = ["to_pyomo", "solve_pyomo"]


def to_pyomo(c: Any, A: Any, row_lower: Any, row_upper: Any, col_lower: Any, col_upper: Any,
             integrality: Any = None, sense: str = "min", offset: float = 0.0):
    """A Pyomo ``ConcreteModel`` for ``min/max c@x + offset s.t. row_lower <= A@x <= row_upper``."""
    import pyomo.environ as pyo
    from pyomo.core.expr.numeric_expr import LinearExpression

    c = np.asarray(c, dtype=float)
    n = c.shape[0]
    M = sp.csr_matrix(A) if A is not None else sp.csr_matrix((0, n))
    m = M.shape[0]
    rl = np.asarray(row_lower, dtype=float)
    ru = np.asarray(row_upper, dtype=float)
    cl = np.broadcast_to(np.asarray(col_lower, dtype=float), (n,))
    cu = np.broadcast_to(np.asarray(col_upper, dtype=float), (n,))
    integ = np.zeros(n, dtype=bool) if integrality is None else np.asarray(integrality, dtype=bool)

    model = pyo.ConcreteModel(name="engine_linear_model")
    model.I = pyo.RangeSet(0, n - 1) if n else pyo.Set(initialize=[])

    def _bounds(_m: Any, j: int) -> tuple:
        lo, hi = cl[j], cu[j]
        return (None if math.isinf(lo) else float(lo), None if math.isinf(hi) else float(hi))

    def _domain(_m: Any, j: int) -> Any:
        if integ[j]:
            return pyo.Binary if cl[j] == 0 and cu[j] == 1 else pyo.Integers
        return pyo.Reals

    model.x = pyo.Var(model.I, domain=_domain, bounds=_bounds)
    xs = [model.x[j] for j in range(n)]
    nz = np.flatnonzero(c)
    model.obj = pyo.Objective(
        expr=LinearExpression(constant=float(offset), linear_coefs=[float(c[j]) for j in nz],
                              linear_vars=[xs[j] for j in nz]),
        sense=pyo.maximize if sense == "max" else pyo.minimize)
    model.R = pyo.RangeSet(0, m - 1) if m else pyo.Set(initialize=[])

    def _row(_m: Any, i: int) -> Any:
        lo, hi = M.indptr[i], M.indptr[i + 1]
        cols = M.indices[lo:hi]
        vals = M.data[lo:hi]
        expr = LinearExpression(constant=0.0, linear_coefs=vals.tolist(), linear_vars=[xs[j] for j in cols])
        l = None if math.isinf(rl[i]) else float(rl[i])
        u = None if math.isinf(ru[i]) else float(ru[i])
        if l is None and u is None:
            return pyo.Constraint.Skip
        return (l, expr, u)

    model.rows = pyo.Constraint(model.R, rule=_row)
    return model


_TERMINATION = {
    "optimal": Status.OPTIMAL,
    "locallyOptimal": Status.OPTIMAL,
    "globallyOptimal": Status.OPTIMAL,
    "feasible": Status.FEASIBLE,
    "infeasible": Status.INFEASIBLE,
    "unbounded": Status.UNBOUNDED,
    "infeasibleOrUnbounded": Status.INFEASIBLE,
    "maxTimeLimit": Status.TIME_LIMIT,
    "maxIterations": Status.ITERATION_LIMIT,
    "userInterrupt": Status.STOPPED,
    "interrupted": Status.STOPPED,
}


def solve_pyomo(model: Any, *, solver: str = "appsi_highs", time_limit: Optional[float] = None,
                mip_rel_gap: Optional[float] = None, options: Optional[Mapping[str, Any]] = None):
    """Solve a :class:`solvers.LinearModel` (or its arrays) through Pyomo with ``solver``.

    Returns a :class:`solvers.LinearResult` whose ``backend`` is ``"pyomo:<solver>"``. Options are
    passed verbatim to the Pyomo solver.
    """
    import pyomo.environ as pyo  # optional dependency: imported only when used

    where = "solve_pyomo()"
    if callable(getattr(model, "arrays", None)):  # a solvers.LinearModel (not imported: it imports this module)
        arrays = model.arrays()
    elif isinstance(model, Mapping):
        arrays = dict(model)
    else:
        raise InvalidInputError(f"{where}: model must be a LinearModel or its arrays(), got {type(model).__name__}")
    tl = check_time_limit(time_limit, where)
    pm = to_pyomo(**arrays)
    opt = pyo.SolverFactory(solver)
    if opt is None or not opt.available(exception_flag=False):
        raise BackendError(f"{where}: Pyomo solver {solver!r} is not available")
    opts = dict(options or {})
    if tl is not None and math.isfinite(tl):
        opts.setdefault("time_limit", tl)
    if mip_rel_gap is not None:
        opts.setdefault("mip_rel_gap", mip_rel_gap)
    t0 = time.perf_counter()
    try:
        if solver.startswith("appsi_"):
            for key, val in opts.items():
                if key == "time_limit":
                    opt.config.time_limit = val
                elif key == "mip_rel_gap":
                    opt.config.mip_gap = val
                else:
                    opt.highs_options[key] = val
        else:
            opt.options.update(opts)
        res = opt.solve(pm, load_solutions=False)
        term = str(res.solver.termination_condition).rsplit(".", 1)[-1]
        has_x = len(res.solution) > 0
        if has_x:
            pm.solutions.load_from(res)
        problem = res.problem
        bound = problem.upper_bound if arrays.get("sense") == "max" else problem.lower_bound
        try:
            bound = float(bound)
        except (TypeError, ValueError):
            bound = math.nan
    except Exception as err:  # Pyomo raises many exception types; one error type reaches users
        raise BackendError(f"{where}: solver {solver!r} failed: {err}") from err
    runtime = time.perf_counter() - t0
    status = _TERMINATION.get(term, Status.ERROR)
    n = len(arrays["c"])
    x = np.array([pyo.value(pm.x[j]) for j in range(n)], dtype=float) if has_x else None
    objective = float(pyo.value(pm.obj)) if has_x else math.nan
    bound = float(bound) if bound is not None and np.isfinite(bound) else (objective if status == Status.OPTIMAL else math.nan)
    gap = abs(objective - bound) if has_x and math.isfinite(bound) else math.nan
    return LinearResult(status=status, message=term, x=x, objective=objective, bound=bound, gap=gap,
                        runtime=runtime, method="milp" if np.any(arrays.get("integrality", False)) else "lp",
                        backend=f"pyomo:{solver}", params={"solver": solver, "time_limit": tl, "options": opts},
                        proven_optimal=status == Status.OPTIMAL)
