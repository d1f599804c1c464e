"""Suites used by the sweep tests (loaded as ``tests.engine.sweep_fixtures:NAME``)."""

import os
import time

import numpy as np

from engine.suites import Case, Suite, SuiteOption, parse_int_list


def _work(size: int, sleep: float, fail: bool):
    def run(ctx):
        if fail and ctx.seed % 2 == 1:
            raise RuntimeError(f"planned failure for seed {ctx.seed}")
        if sleep:
            time.sleep(sleep)
        rng = np.random.default_rng(ctx.seed)
        x = rng.random((size, size))
        return {"value": float(np.linalg.eigvalsh(x + x.T).max()), "size": size, "runtime": 0.0,
                "pid": os.getpid() * 0}

    return run


def _build(sizes, sleep=0.0, fail=False):
    return [Case(name=f"n={n}", params={"n": n, "method": "eig"}, run=_work(n, sleep, fail)) for n in sizes]


toy_suite = Suite(name="toy", description="eigenvalues of random symmetric matrices",
                  build=_build,
                  options=(SuiteOption("sizes", parse_int_list, [3], "matrix sizes"),
                           SuiteOption("sleep", float, 0.0, "seconds per run"),
                           SuiteOption("fail", lambda t: t == "true", False, "odd seeds fail")))
