"""The ``submodular`` suite of ``engine-bench``: greedy optimisers on random facility-location
and coverage instances, with the certified gap next to the time.

Register in ``pyproject.toml``::

    [project.entry-points."engine_bench.suites"]
    submodular = "planning.suites:submodular_suite"

Run it with ``engine-bench run submodular --sizes 1000,5000 --ks 50 --methods lazy,stochastic``.
Every run draws its instance from ``ctx.seed``: ``facility`` is a dense RBF similarity of
``n`` Gaussian points, ``coverage`` is ``n`` random sets over ``n / 2`` weighted items. Each
row reports the value, the upper bound the optimiser certifies (``nan`` for stochastic
greedy), ``gap_rel = (bound - value) / value``, the number of gain evaluations, and
``value_check``: the selection re-evaluated from scratch (it must equal ``value``).

What the CLI hands a run (:class:`engine.suites.RunContext`) reaches the optimiser: the seed draws
the instance and drives stochastic greedy; ``--time-limit`` bounds the selection (status
``time_limit`` with the picks so far; the Numba warm-up before it is not counted); ``--threads``
holds for the run's BLAS/Numba pools; the callback sees every pick (``StopIteration``: status
``stopped``).
"""

from __future__ import annotations

import math
import time
from typing import Any, Mapping, Sequence

import numpy as np

from engine.errors import InvalidInputError
from engine.suites import Case, RunContext, Suite, SuiteOption, int_list_at_least, parse_choice_list
from planning import submodular
from planning.submodular import FacilityLocation, WeightedCoverage

__all__ = ["submodular_suite", "build_cases", "METHODS", "OBJECTIVES"]

METHODS = ("greedy", "lazy", "stochastic")
OBJECTIVES = ("facility", "coverage")


def _objective(kind: str, n: int, seed: int) -> Any:
    rng = np.random.default_rng(seed)
    if kind == "facility":
        return FacilityLocation.from_features(rng.normal(size=(n, 10)), metric="rbf")
    n_items = max(1, n // 2)
    sets = [rng.choice(n_items, size=int(rng.integers(1, 11)), replace=False) for _ in range(n)]
    return WeightedCoverage(sets, rng.random(n_items), n_items=n_items)


def _run(kind: str, n: int, k: int, method: str):
    def run(ctx: RunContext) -> Mapping[str, Any]:
        f = _objective(kind, n, ctx.seed)
        fn = {"greedy": submodular.greedy, "lazy": submodular.lazy_greedy,
              "stochastic": submodular.stochastic_greedy}[method]
        fn(f, min(k, 2))  # warm the Numba kernels outside the timing (and outside the time limit)
        ctx = ctx.restarted()
        t0 = time.perf_counter()
        res = fn(f, k, **ctx.options_for(fn))
        runtime = time.perf_counter() - t0
        value = float(res.value)
        return {"status": res.status.value, "runtime": runtime, "value": value, "bound": float(res.bound),
                "gap_rel": float(res.gap) / value if value > 0 and math.isfinite(res.gap) else math.nan,
                "n_evaluations": int(res.n_evaluations), "value_check": float(f.evaluate(res.selected))}

    return run


def build_cases(*, sizes: Sequence[int] = (1000,), ks: Sequence[int] = (20,),
                methods: Sequence[str] = METHODS, objectives: Sequence[str] = OBJECTIVES) -> list[Case]:
    """One case per objective, size, k and method.

    Examples
    --------
    >>> [c.name for c in build_cases(sizes=[50], ks=[5], methods=["lazy"], objectives=["coverage"])]
    ['coverage/n=50/k=5/lazy']
    >>> from engine.suites import RunContext
    >>> out = build_cases(sizes=[50], ks=[5], methods=["lazy"], objectives=["coverage"])[0].run(RunContext(0, 0))
    >>> abs(out["value"] - out["value_check"]) < 1e-9
    True
    """
    bad = [(n, k) for n in sizes for k in ks if k > n]
    if bad:
        raise InvalidInputError(f"engine-bench run submodular: k={bad[0][1]} exceeds n={bad[0][0]}")
    cases = []
    for kind in objectives:
        for n in sizes:
            for k in ks:
                for m in methods:
                    cases.append(Case(f"{kind}/n={n}/k={k}/{m}", {"objective": kind, "n": n, "k": k, "method": m},
                                      _run(kind, n, k, m)))
    return cases


submodular_suite = Suite(
    name="submodular",
    description="Greedy / lazy / stochastic greedy on random facility-location and coverage instances; "
                "time, value and certified gap per run.",
    build=build_cases,
    options=(
        SuiteOption("sizes", int_list_at_least(1, what="values"), [1000], "ground-set sizes, e.g. 1000,5000"),
        SuiteOption("ks", int_list_at_least(1, what="values"), [20], "cardinalities, e.g. 20,100"),
        SuiteOption("methods", parse_choice_list("method", METHODS), list(METHODS), "subset of greedy,lazy,stochastic"),
        SuiteOption("objectives", parse_choice_list("objective", OBJECTIVES), list(OBJECTIVES), "subset of facility,coverage"),
    ),
)
