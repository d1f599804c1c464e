"""The submodular suite passes on what the CLI hands each run: seed, time limit, threads, callback."""

from __future__ import annotations

from engine.cli import run_suite
from engine.suites import RunContext
from planning.suites import build_cases, submodular_suite


def _case(method, objective="facility", n=300, k=30):
    (case,) = build_cases(sizes=[n], ks=[k], methods=[method], objectives=[objective])
    return case


def test_time_limit_gives_time_limit_with_the_picks_so_far():
    for method in ("greedy", "lazy", "stochastic"):
        out = dict(_case(method).run(RunContext(seed=0, repeat=0, time_limit=1e-9)))
        assert out["status"] == "time_limit", method
        assert abs(out["value"] - out["value_check"]) <= 1e-9 * max(1.0, abs(out["value"]))


def test_seeds_differ_and_repeat():
    case = _case("stochastic", objective="coverage", n=200, k=10)
    a, b, again = (dict(case.run(RunContext(seed=s, repeat=0))) for s in (0, 1, 0))
    strip = lambda d: {k: v for k, v in d.items() if k != "runtime"}  # noqa: E731
    assert strip(a) == strip(again) and strip(a) != strip(b)


def test_callback_sees_the_picks_and_can_stop():
    case = _case("lazy", n=100, k=10)
    events = []
    out = dict(case.run(RunContext(seed=0, repeat=0, callback=events.append)))
    assert out["status"] in ("optimal", "feasible") and len(events) >= 10

    def stop(event):
        raise StopIteration

    assert dict(case.run(RunContext(seed=0, repeat=0, callback=stop)))["status"] == "stopped"


def test_threads_recorded():
    (record,) = run_suite(submodular_suite, submodular_suite.parse_options(
        ["--sizes", "50", "--ks", "5", "--methods", "lazy", "--objectives", "coverage"]), threads=2, seed=3)
    assert record["threads"] == 2 and record["seed"] == 3 and record["status"] in ("optimal", "feasible")
