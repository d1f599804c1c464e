"""SEQUOIA warm-started on the one-step reward against on the fluid LP's value-to-go (issue 19).

Both variants (:attr:`bandits.SequoiaConfig.warm_start_target` ``"reward"`` and ``"fluid"``) train in
one process with the same seed, training budget and options (:func:`bandits.suites.run_cormab`'s
SEQUOIA: enumerated decisions, greedy maximisation in training beyond 20k actions) and are evaluated
on the same start states; values are % of the certified fluid bound on those start states
(:func:`bandits.bounds.fluid_bound`, computed once per case). The table gives per case the bound,
both values as % of it (± SEM of the evaluation), the warm start's fit (R² of the network on its
targets and, in the JSON, its RMSE in units of the largest step reward) and the training time (the
fluid LP's solve included). ``--episodes 0`` evaluates the warm-started networks alone::

    python bench/sequoia_fluid_warm.py --domain all --seeds 0-1 --episodes 40

Issue 19's sizes: J = 20, B = 5, H = 20, on path, multiple interventions, capacity and matching.
Writes ``--out/sequoia_fluid_warm.json``.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

from bandits.suites import run_cormab
from engine.io import atomic_write_json
from engine.suites import parse_int_list

DOMAINS = ("path", "multiple_interventions", "capacity", "matching")
TARGETS = ("reward", "fluid")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--domain", default="all", help=f"{', '.join(DOMAINS)} (comma-separated) or all")
    ap.add_argument("--sizes", default="20:5", help="J:B")
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--episodes", type=int, default=40, help="training episodes (the same for both variants)")
    ap.add_argument("--eval-episodes", type=int, default=50)
    ap.add_argument("--horizon", type=int, default=20)
    ap.add_argument("--warm-start-steps", type=int, default=None,
                    help="Adam steps of both warm starts (default: SEQUOIA's, 1000)")
    ap.add_argument("--out", default="bench_out/sequoia_fluid_warm")
    args = ap.parse_args(argv)
    domains = list(DOMAINS) if args.domain == "all" else args.domain.split(",")
    J, B = (int(v) for v in args.sizes.split(":"))
    seeds = parse_int_list(args.seeds)
    extra = {} if args.warm_start_steps is None else {"warm_start_steps": args.warm_start_steps}
    rows = []
    t_all = time.perf_counter()
    for dom in domains:
        for s in seeds:
            row: dict = {"domain": dom, "n_arms": J, "budget": B, "seed": s}
            for target in TARGETS:
                rec = run_cormab(dom, J, B, seed=s, episodes=args.episodes, eval_episodes=args.eval_episodes,
                                 horizon=args.horizon, methods=["sequoia"],
                                 sequoia_options={"warm_start_target": target, **extra}, bound=target == TARGETS[0])
                if target == TARGETS[0]:
                    row.update(bound=rec["certified_bound"], bound_time=rec["bound_time"])
                ws = rec["sequoia_params"]["warm_start"]
                row[target] = {"mean": rec["sequoia_mean"], "sem": rec["sequoia_sem"],
                               "fraction": rec["sequoia_mean"] / row["bound"],
                               "sem_fraction": rec["sequoia_sem"] / row["bound"], "r2": ws.get("r2", math.nan),
                               "rmse": math.sqrt(ws.get("loss", math.nan)),
                               "train_time": rec["sequoia_train_time"], "fluid_time": ws.get("fluid_time", 0.0),
                               "fluid_steps": ws.get("fluid_steps"), "episodes": rec["sequoia_train_episodes"]}
                print(f"[{time.perf_counter() - t_all:7.1f}s] {dom} seed={s} {target}: "
                      f"{100 * row[target]['fraction']:.1f}% of {row['bound']:.3f}, R2={row[target]['r2']:.3f}, "
                      f"train {row[target]['train_time']:.0f}s", file=sys.stderr, flush=True)
            rows.append(row)
    print(f"\nSEQUOIA warm start: reward vs fluid value-to-go; J={J}, B={B}, H={args.horizon}, "
          f"{args.episodes} training episodes, {args.eval_episodes} evaluation episodes, seeds {seeds}"
          + (f", {args.warm_start_steps} warm-start steps" if extra else ""))
    print(f"{'domain':<24} {'seed':>4} {'bound':>7} {'reward-warm %':>14} {'fluid-warm %':>13} {'diff pp':>8} "
          f"{'R2 reward':>9} {'R2 fluid':>9} {'train s reward':>14} {'train s fluid':>13} {'LP s':>6}")
    for r in rows:
        rw, fl = r["reward"], r["fluid"]
        print(f"{r['domain']:<24} {r['seed']:>4} {r['bound']:>7.3f} "
              f"{100 * rw['fraction']:>7.1f} ± {100 * rw['sem_fraction']:.1f} "
              f"{100 * fl['fraction']:>6.1f} ± {100 * fl['sem_fraction']:.1f} "
              f"{100 * (fl['fraction'] - rw['fraction']):>+8.1f} {rw['r2']:>9.3f} {fl['r2']:>9.3f} "
              f"{rw['train_time']:>14.0f} {fl['train_time']:>13.0f} {fl['fluid_time']:>6.1f}")
    print("\nmean over seeds (% of the bound):")
    wins = []
    for dom in domains:
        rs = [r for r in rows if r["domain"] == dom]
        a = float(np.mean([r["reward"]["fraction"] for r in rs]))
        b = float(np.mean([r["fluid"]["fraction"] for r in rs]))
        wins.append(b > a)
        print(f"{dom:<24} reward {100 * a:.1f}%  fluid {100 * b:.1f}%  ({100 * (b - a):+.1f} pp)")
    print(f"fluid warm start ahead on {sum(wins)} of {len(wins)} domains")
    atomic_write_json(Path(args.out) / "sequoia_fluid_warm.json",
                      {"rows": rows, "config": {**vars(args), "seeds": seeds}})
    print(f"({time.perf_counter() - t_all:.0f} s; wrote {Path(args.out) / 'sequoia_fluid_warm.json'})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
