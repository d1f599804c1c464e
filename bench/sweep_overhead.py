"""Per-run overhead of the sweep executors and the speed-up of a CPU-bound grid.

    python bench/sweep_overhead.py [--runs 200] [--cpu-runs 8] [--no-ray]

Targets (issue: engine-bench at scale): local executor <= 20 ms per trivial run; >= 1.7x speed-up
of a CPU-bound grid with 2 workers on a 2-core machine.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
# the sweep's worker processes import this script's suite by module name
os.environ["PYTHONPATH"] = os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])

from engine.suites import Case, Suite, SuiteOption, parse_int_list  # noqa: E402
from engine.sweep import parse_sweep, run_sweep  # noqa: E402


def _trivial(ctx):
    return {"value": ctx.seed}


def _cpu_bound(ctx):
    # ~1 s of single-threaded pure-Python work (no BLAS threads to blur the picture)
    acc = 0
    for i in range(6_000_000 + ctx.seed):
        acc = (acc * 31 + i) % 1_000_003
    return {"value": acc}


def _build(kind="trivial"):
    return [Case(name=kind, params={"kind": kind}, run=_trivial if kind == "trivial" else _cpu_bound)]


bench_suite = Suite(name="overhead", description="sweep overhead", build=_build,
                    options=(SuiteOption("kind", str, "trivial"),))


def _spec(tmp: Path, kind: str, n: int) -> Path:
    p = tmp / f"{kind}.toml"
    p.write_text(f'[[experiment]]\nsuite = "sweep_overhead:bench_suite"\nseeds = "0-{n - 1}"\n'
                 f'[experiment.options]\nkind = "{kind}"\n')
    return p


def _time(spec, out, **kw) -> float:
    t0 = time.perf_counter()
    summary = run_sweep(spec, out, **kw)
    assert summary.ran == len(spec.runs) and summary.failed == 0, summary
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--cpu-runs", type=int, default=12)
    ap.add_argument("--no-ray", action="store_true")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        trivial = parse_sweep(_spec(tmp, "trivial", args.runs), allow_import=True)
        for name, kw in (("local, 1 process (in-process)", {"workers": 1}),
                         ("local, 2 processes", {"workers": 2})):
            wall = _time(trivial, tmp / name.replace(" ", "_"), **kw)
            rows.append((f"trivial x{args.runs}", name, wall, 1000 * wall / args.runs))
        if not args.no_ray:
            try:
                import ray  # noqa: F401

                t0 = time.perf_counter()
                import ray as _ray

                _ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
                start = time.perf_counter() - t0
                wall = _time(trivial, tmp / "ray", executor="ray", workers=2)
                rows.append((f"trivial x{args.runs}", f"ray, 2 CPUs (+{start:.1f} s start-up)", wall,
                             1000 * wall / args.runs))
            except ImportError:
                pass
        cpu = parse_sweep(_spec(tmp, "cpu", args.cpu_runs), allow_import=True)
        t1 = _time(cpu, tmp / "cpu1", workers=1)
        t2 = _time(cpu, tmp / "cpu2", workers=2)
        rows.append((f"cpu-bound x{args.cpu_runs}", "local, 1 process", t1, 1000 * t1 / args.cpu_runs))
        rows.append((f"cpu-bound x{args.cpu_runs}", "local, 2 processes", t2, 1000 * t2 / args.cpu_runs))
        if not args.no_ray:
            try:
                t3 = _time(cpu, tmp / "cpu_ray", executor="ray", workers=2)
                rows.append((f"cpu-bound x{args.cpu_runs}", "ray, 2 CPUs", t3, 1000 * t3 / args.cpu_runs))
            except ImportError:
                t3 = None
    print("| grid | executor | wall (s) | per run (ms) |")
    print("|---|---|---|---|")
    for grid, name, wall, per in rows:
        print(f"| {grid} | {name} | {wall:.3f} | {per:.1f} |")
    print()
    print(f"CPU-bound speed-up, 2 local processes vs 1: {t1 / t2:.2f}x (target >= 1.7x)")
    local2 = [r for r in rows if r[1] == "local, 2 processes" and r[0].startswith("trivial")][0]
    print(f"local per-run overhead (2 processes, trivial runs): {local2[3]:.1f} ms (target <= 20 ms)")


if __name__ == "__main__":
    main()
