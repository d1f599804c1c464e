"""Running one case of a suite and turning it into a record (shared by ``run`` and ``sweep``)."""

from __future__ import annotations

import time
from typing import Any, Mapping

from engine import __version__
from engine.result import to_jsonable
from engine.suites import Case, RunContext

__all__ = ["run_case"]


def run_case(suite_name: str, case: Case, ctx: RunContext, *, extra: Mapping[str, Any] | None = None) -> dict:
    """Run ``case`` with ``ctx`` and return its JSON-ready record.

    A run that raises is recorded with status ``"error"`` and its message, never propagated:
    one failing run must not end a suite or a sweep.
    """
    record: dict[str, Any] = {"schema": "gameplan/run_record", "version": 1, "suite": suite_name, "case": case.name, "params": dict(case.params),
                              "seed": ctx.seed, "repeat": ctx.repeat, "engine_version": __version__}
    if extra:
        record.update(extra)
    t0 = time.perf_counter()
    try:
        metrics = dict(case.run(ctx))
        record["status"] = str(metrics.pop("status", "ok"))
        record["metrics"] = metrics
    except Exception as err:  # a failing run is a record
        record["status"] = "error"
        record["error"] = f"{type(err).__name__}: {err}"
        record["metrics"] = {}
    record["wall_time"] = time.perf_counter() - t0
    return to_jsonable(record)
