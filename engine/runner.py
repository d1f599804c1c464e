"""Running one case of a suite and turning it into a record (shared by ``run`` and ``sweep``)."""

from __future__ import annotations

import time
from typing import Any, Mapping

from engine import __version__
from engine.result import to_jsonable
from engine.suites import Case, RunContext
from engine.threads import blas_threads

__all__ = ["run_case", "error_text"]


def error_text(err: BaseException) -> str:
    """``"TypeName: message"``, what a failed run records (never empty, even for ``KeyError()``)."""
    message = str(err).strip()
    return f"{type(err).__name__}: {message}" if message else type(err).__name__


def run_case(suite_name: str, case: Case, ctx: RunContext, *, extra: Mapping[str, Any] | None = None) -> dict:
    """Run ``case`` with ``ctx`` and return its JSON-ready record.

    The case runs under ``ctx.threads`` (:func:`engine.threads.blas_threads`: every BLAS, OpenMP,
    torch and Numba pool of the engine's hot paths); the record keeps the seed, the time limit and
    the thread count. A run that raises is recorded with status ``"error"`` and its message, never
    propagated: one failing run must not end a suite or a sweep. ``StopIteration`` escaping the
    run (a callback's stop that the suite did not catch) is recorded as status ``"stopped"``.
    """
    record: dict[str, Any] = {"schema": "gameplan/run_record", "version": 1, "suite": suite_name, "case": case.name,
                              "params": dict(case.params), "seed": ctx.seed, "repeat": ctx.repeat,
                              "time_limit": ctx.time_limit, "threads": ctx.threads, "engine_version": __version__}
    if extra:
        record.update(extra)
    t0 = time.perf_counter()
    try:

        with blas_threads(ctx.threads):
            metrics = dict(case.run(ctx))
        record["status"] = str(metrics.pop("status", "ok"))
        record["metrics"] = metrics
    except StopIteration:
        record["status"] = "stopped"
        record["metrics"] = {}
    except Exception as err:  # a failing run is a record
        record["status"] = "error"
        record["error"] = error_text(err)
        record["metrics"] = {}
    record["wall_time"] = time.perf_counter() - t0
    return to_jsonable(record)
