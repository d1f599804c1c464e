"""Benchmark: FARE hierarchical exploration against nearest-frontier and utility-greedy.

Runs every planner on the same procedural maps (``indoor``, ``forest``, ``warehouse``; map seeds
``--seeds``; ``--size`` cells per side) and prints, per map kind and overall, the mean travel
distance and steps to 90% and 99% explored, the planning milliseconds per step, and the mean
per-map ratios of each planner's distance to 90% / 99% to nearest frontier's. The target of the
issue: FARE hierarchical needs <= 85% of nearest frontier's distance to 99% on average.

``nearest_frontier`` is the classic baseline (Yamauchi 1997) at cell level: shortest 8-connected
path over known free cells to the nearest frontier cell, sensing after every cell move, replanned
when the target stops being a frontier. ``nearest_viewpoint`` is the weaker graph variant (the
nearest viewpoint that sees a frontier, one viewpoint edge per step). ``gain_greedy`` is the
cell-level gain-greedy local planner alone (no global plan) and ``fare`` the hierarchy with it as
the fast planner: the ablation of the global layer. FARE's slow layer labels the unknown regions
of the belief, routes over the communities facing open ones (at least ``sensor_range ** 2 / 4``
cells, not shadows or obstacle insides) and its waypoint decides the target whenever no target
facing open space is worth its travel (gain per cell >= 1, ``CellGreedy(worthwhile=1)``). Distances are Euclidean lengths in cells for
every planner and every planner senses from every cell it passes (``explore(sense_en_route=True)``);
a step is one viewpoint edge for the graph planners (``nearest_viewpoint``, ``utility_greedy``,
``fare_learned``) and up to ``spacing`` cell moves for the cell-level ones (``nearest_frontier``,
``gain_greedy``, ``fare``), so step counts compare only roughly.

The learned policy is first trained here (``--train-episodes`` REINFORCE episodes on 50x50 maps,
seeded) unless ``--policy`` names a checkpoint; the table then says whether it beats
utility-greedy and FARE with the greedy local planner.

    python bench/exploration.py                   # 10 seeds x 3 kinds at 200x200 (about 15 min, 2 cores)
    python bench/exploration.py --quick           # 2 seeds at 100x100
    python bench/exploration.py --seeds 0-4 --size 150 --figures out/figs
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from engine.suites import parse_int_list

PLANNERS = ("nearest_frontier", "nearest_viewpoint", "utility_greedy", "gain_greedy", "fare", "fare_learned")
KINDS = ("indoor", "forest", "warehouse")


def _job(args):
    kind, size, map_seed, planner, policy, figures = args
    from planning.exploration.suites import run_one

    t0 = time.perf_counter()
    out = run_one(kind, size, map_seed, planner, seed=0, policy=policy, figures=figures)
    out["wall"] = time.perf_counter() - t0
    return (kind, map_seed, planner), out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", default="0-9", help="map seeds, e.g. 0-9 or 0,3,5 (default 0-9)")
    ap.add_argument("--size", type=int, default=200, help="map side in cells (default 200)")
    ap.add_argument("--maps", default=",".join(KINDS))
    ap.add_argument("--planners", default=",".join(PLANNERS))
    ap.add_argument("--quick", action="store_true", help="seeds 0-1 at 100x100, 20 training episodes")
    ap.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--train-episodes", type=int, default=60)
    ap.add_argument("--policy", default=None, help="LearnedPolicy checkpoint to use instead of training")
    ap.add_argument("--out", default="bench_out/exploration", help="directory for the policy and results JSON")
    ap.add_argument("--figures", default=None, help="write PNG figures of every run here")
    a = ap.parse_args(argv)
    seeds = parse_int_list(a.seeds)
    size = a.size
    episodes = a.train_episodes
    if a.quick:
        seeds, size, episodes = [0, 1], 100, min(episodes, 20)
    kinds = [k for k in a.maps.split(",") if k]
    planners = [p for p in a.planners.split(",") if p]
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)

    policy = a.policy
    if "fare_learned" in planners and policy is None:
        from planning.exploration.training import train_policy

        t0 = time.perf_counter()
        res = train_policy(episodes=episodes, size=50, max_steps=150, seed=0)
        policy = str(res.model.save(out / "learned_policy.pt"))
        r = res.curve("return")
        k = max(1, len(r) // 4)
        print(f"trained {res.nit} episodes in {time.perf_counter() - t0:.0f} s: mean return first quarter "
              f"{r[:k].mean():.3f}, last quarter {r[-k:].mean():.3f}", file=sys.stderr)

    jobs = [(k, size, s, p, policy, a.figures) for k in kinds for s in seeds for p in planners]
    t0 = time.perf_counter()
    results = {}
    if a.workers > 1:
        with ProcessPoolExecutor(max_workers=a.workers) as ex:
            for key, val in ex.map(_job, jobs):
                results[key] = val
    else:
        for job in jobs:
            key, val = _job(job)
            results[key] = val
    wall = time.perf_counter() - t0
    (out / "results.json").write_text(json.dumps({"/".join(map(str, k)): v for k, v in results.items()}, indent=1))

    def rows_for(kind_list):
        rows = []
        for p in planners:
            recs = [(k, s, results[(k, s, p)]) for k in kind_list for s in seeds]
            ratios = [v["distance_to_99"] / results[(k, s, "nearest_frontier")]["distance_to_99"]
                      for k, s, v in recs if "nearest_frontier" in planners]
            ratios90 = [v["distance_to_90"] / results[(k, s, "nearest_frontier")]["distance_to_90"]
                        for k, s, v in recs if "nearest_frontier" in planners]
            rows.append((p, np.mean([v["distance_to_90"] for _, _, v in recs]),
                         np.mean([v["distance_to_99"] for _, _, v in recs]),
                         np.mean([v["steps_to_90"] for _, _, v in recs]),
                         np.mean([v["steps_to_99"] for _, _, v in recs]),
                         np.mean([v["planning_ms_per_step"] for _, _, v in recs]),
                         np.mean([v["explored"] for _, _, v in recs]),
                         np.mean(ratios) if ratios else math.nan,
                         np.mean(ratios90) if ratios90 else math.nan))
        return rows

    print(f"exploration bench: {len(seeds)} seeds x {len(kinds)} map kinds at {size}x{size}, "
          f"{len(jobs)} runs, {wall:.0f} s wall with {a.workers} workers")
    head = f"{'map':10s} {'planner':17s} {'dist90':>8s} {'dist99':>8s} {'steps90':>8s} {'steps99':>8s} " \
           f"{'ms/step':>8s} {'explored':>8s} {'d90/NF':>7s} {'d99/NF':>7s}"
    print(head)
    print("-" * len(head))
    summary = {}
    for kind in kinds + ["all"]:
        for row in rows_for(kinds if kind == "all" else [kind]):
            print(f"{kind:10s} {row[0]:17s} {row[1]:8.0f} {row[2]:8.0f} {row[3]:8.0f} {row[4]:8.0f} {row[5]:8.2f} "
                  f"{row[6]:8.3f} {row[8]:7.3f} {row[7]:7.3f}")
            if kind == "all":
                summary[row[0]] = row
    if "utility_greedy" in summary and "nearest_frontier" in summary:
        print(f"utility_greedy distance to 99% / nearest frontier = {summary['utility_greedy'][7]:.3f}")
    if "fare" in summary and "nearest_frontier" in summary:
        r = summary["fare"][7]
        print(f"target: FARE hierarchical distance to 99% / nearest frontier = {r:.3f} (<= 0.85: "
              f"{'met' if r <= 0.85 else 'NOT met'})")
    if "fare_learned" in summary:
        for other in ("utility_greedy", "fare"):
            if other in summary:
                a99, b99 = summary["fare_learned"][2], summary[other][2]
                verdict = "beats" if a99 < b99 else "does NOT beat"
                print(f"learned: fare_learned {verdict} {other} on distance to 99% ({a99:.0f} vs {b99:.0f}, "
                      f"ratio {a99 / b99:.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
