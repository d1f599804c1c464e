"""Submodular instances given as files: what ``engine-bench solve`` / ``serve`` do with them.

The ``submodular`` input kind (registered under ``engine_bench.kinds``) takes a
``gameplan/submodular`` document (:func:`planning.submodular.instance_to_dict`) and runs the
optimiser its constraint calls for (:func:`planning.submodular.solve_instance`): lazy greedy
for a cardinality constraint (``--method greedy`` or ``stochastic`` instead), the budgeted
greedy for a knapsack, the matroid greedy for a partition matroid. ``--time-limit`` returns the
selection so far with status ``time_limit``.

``engine-bench run submodular --instances 'DIR/*.json'`` runs the suite's methods (``greedy``,
``lazy``, ``stochastic``, for cardinality instances; ``--ks`` overrides the instance's ``k``)
with the suite's metrics.
"""

from __future__ import annotations

import math
import time
from typing import Any, Mapping, Optional, Sequence

from engine.errors import InvalidInputError
from engine.solve import Kind, Solved, SolveRequest, Source, with_instances
from engine.suites import Case
from planning import submodular
from planning.suites import submodular_suite as _generated_suite

__all__ = ["submodular_kind", "submodular_suite", "METHODS"]

#: Methods of the ``submodular`` kind; ``auto`` picks the optimiser from the constraint.
METHODS = ("auto", "lazy", "greedy", "stochastic")
_MAX_ROWS = 50


def _sniff(src: Source) -> bool:
    return src.schema == "gameplan/submodular"


def _solve(src: Source, req: SolveRequest) -> Solved:
    inst = submodular.load_instance(src.document)
    c = inst.constraint
    if c is None:
        raise InvalidInputError(f"{req.where}: the instance has no constraint (add a cardinality, knapsack or "
                                f"partition_matroid constraint)")
    options: dict[str, Any] = {}
    if req.time_limit is not None:
        options["time_limit"] = req.remaining()
    # the dispatch of planning.submodular.solve_instance, on the instance read once
    if c["type"] == "cardinality":
        if req.method == "stochastic":
            options["seed"] = req.seed
        res = submodular.solve(inst.objective, c["k"], method=req.method, **options)
    elif req.method != "auto":
        raise InvalidInputError(f"{req.where}: --method {req.method} applies to cardinality constraints only; a "
                                f"{c['type']} instance runs its own greedy")
    elif c["type"] == "knapsack":
        res = submodular.knapsack_greedy(inst.objective, c["costs"], c["budget"], **options)
    else:
        res = submodular.matroid_greedy(inst.objective, c["partition"], c["capacities"], **options)
    sel = [int(i) for i in res.selected]
    rows: list[dict[str, Any]] = [
        {"field": "constraint", "value": c["type"]},
        {"field": "selected", "value": " ".join(map(str, sel[:_MAX_ROWS])) + (" ..." if len(sel) > _MAX_ROWS else "")},
        {"field": "n_selected", "value": len(sel)},
        {"field": "value", "value": float(res.value)},
        {"field": "bound", "value": float(res.bound)}]
    return Solved(res, rows, title=f"{inst.name or 'instance'}: n = {inst.objective.n}")


# ---------------------------------------------------------------------------- run submodular --instances
def _instance_cases(sources: Sequence[Source], *, sizes: Any = None, ks: Optional[Sequence[int]] = None,
                    methods: Sequence[str] = ("greedy", "lazy", "stochastic"), objectives: Any = None) -> list:
    """One case per file and method; ``--ks`` (default: each instance's own ``k``) and ``--methods``
    apply, ``--sizes`` and ``--objectives`` do not (the files fix them)."""
    defaults = {opt.name: opt.default for opt in _suite_options()}
    if ks == defaults.get("ks"):
        ks = None  # the suite's default k is for generated instances; a file brings its own
    cases = []
    for src in sources:
        inst = submodular.load_instance(src.document)
        c = inst.constraint
        if c is None or c["type"] != "cardinality":
            raise InvalidInputError(f"engine-bench run submodular: {src.name} has a "
                                    f"{'missing' if c is None else c['type']} constraint; the suite's methods "
                                    f"take cardinality instances")
        for k in (ks if ks is not None else [c["k"]]):
            if k > inst.objective.n:
                raise InvalidInputError(f"engine-bench run submodular: k={k} exceeds n={inst.objective.n} of "
                                        f"{src.name}")
            for m in methods:
                cases.append(Case(f"{src.name}/k={k}/{m}", {"instance": src.name, "n": inst.objective.n, "k": k,
                                                           "method": m}, _run(inst.objective, k, m)))
    return cases


def _suite_options() -> Sequence[Any]:
    return _generated_suite.options


def _run(f: Any, k: int, method: str) -> Any:
    def run(ctx: Any) -> Mapping[str, Any]:
        fn = {"greedy": submodular.greedy, "lazy": submodular.lazy_greedy,
              "stochastic": submodular.stochastic_greedy}[method]
        opts = ctx.options_for(fn)
        t0 = time.perf_counter()
        res = fn(f, k, **opts)
        runtime = time.perf_counter() - t0
        value = float(res.value)
        return {"status": res.status.value, "runtime": runtime, "value": value, "bound": float(res.bound),
                "gap_rel": float(res.gap) / value if value > 0 and math.isfinite(res.gap) else math.nan,
                "n_evaluations": int(res.n_evaluations), "value_check": float(f.evaluate(res.selected))}

    return run


submodular_kind = Kind(
    name="submodular",
    accepts="a gameplan/submodular JSON document",
    sniff=_sniff,
    solve=_solve,
    methods=METHODS,
    schema="gameplan/submodular",
    instance_cases=_instance_cases,
)


def _submodular_suite() -> Any:
    return with_instances(_generated_suite, submodular_kind)


#: The ``submodular`` suite of ``engine-bench run`` plus ``--instances GLOB`` (its entry point).
submodular_suite = _submodular_suite()
