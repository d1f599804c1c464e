"""Strong Stackelberg equilibrium: games.stackelberg.solve vs the textbook multiple-LPs way.

Both sides solve the same SSE on the same random n x n games (uniform payoffs) in one process:

- ours: ``games.stackelberg.solve`` -- one HiGHS model built once, re-solved per follower
  action after changing two row bounds and the objective (warm start from the basis), with the
  exact LP-free prunes (strictly dominated follower actions; follower actions whose best
  conceivable leader payoff cannot beat the incumbent);
- ours, all LPs: the same with ``prune=False`` (warm-started re-solves only);
- textbook: one ``scipy.optimize.linprog(method="highs")`` per follower action, each LP
  rebuilt from scratch (Conitzer & Sandholm 2006).

Prints one row per size: times, speed-up ratios, LPs solved, and the max |value difference|
(must be <= 1e-7).

    python bench/stackelberg.py --sizes 10 50 100 200 500
"""

from __future__ import annotations

import argparse
import math
import sys

import numpy as np
from scipy.optimize import linprog

from games.normal_form import random_game
from games.stackelberg import solve
from harness import list_option, timed


def textbook_sse(A: np.ndarray, B: np.ndarray) -> tuple[float, int]:
    n, m = A.shape
    best = -math.inf
    best_j = -1
    for j in range(m):
        res = linprog(-A[:, j], A_ub=(B - B[:, [j]]).T, b_ub=np.zeros(m), A_eq=np.ones((1, n)), b_eq=[1.0],
                      bounds=[(0, None)] * n, method="highs")
        if res.status == 0 and -res.fun > best:
            best, best_j = -res.fun, j
    return best, best_j


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    list_option(ap, "--sizes", default=[10, 50, 100, 200, 500])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--games", type=int, default=1, help="random games per size (times are summed)")
    ap.add_argument("--target-n", type=int, default=200)
    ap.add_argument("--target-ratio", type=float, default=5.0)
    args = ap.parse_args(argv)

    solve(random_game(3, 3, seed=0))  # load HiGHS once, outside the timings
    header = (f"{'n':>5} {'ours [s]':>10} {'ours all LPs [s]':>17} {'textbook [s]':>13} {'ratio':>8} "
              f"{'ratio all':>10} {'LPs ours':>9} {'max|dv|':>9}")
    print(header)
    print("-" * len(header))
    ok = True
    for n in args.sizes:
        t_ours = t_all = t_ref = 0.0
        lps = 0
        dv = 0.0
        for k in range(args.games):
            g = random_game(n, n, seed=args.seed + 1000 * n + k)
            A, B = g.payoffs
            ours, t = timed(lambda: solve(g))
            t_ours += t
            every, t = timed(lambda: solve(g, prune=False))
            t_all += t
            (ref, _), t = timed(lambda: textbook_sse(A, B))
            t_ref += t
            lps += ours.lps_solved
            dv = max(dv, abs(ours.leader_value - ref), abs(every.leader_value - ref))
        ratio = t_ref / t_ours
        print(f"{n:>5} {t_ours:>10.4f} {t_all:>17.4f} {t_ref:>13.4f} {ratio:>7.1f}x {t_ref / t_all:>9.1f}x "
              f"{lps:>9} {dv:>9.1e}", flush=True)
        ok &= dv <= 1e-7
        if n == args.target_n and ratio < args.target_ratio:
            print(f"target missed: {ratio:.1f}x < {args.target_ratio}x at n = {n}", file=sys.stderr)
            ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
