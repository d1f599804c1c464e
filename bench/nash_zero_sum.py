"""Two-player zero-sum games: games.nash.zero_sum_lp vs scipy linprog (HiGHS) and nashpy.

All sides solve the same random n x n zero-sum games (uniform payoffs in [-1, 1]) in one
process:

- ours: ``games.nash.zero_sum_lp`` -- one LP on HiGHS built from arrays in one call; the column
  player's strategy comes from the duals of the same LP;
- scipy: ``scipy.optimize.linprog(method="highs")``, two LPs (one per player), as one would
  write it by hand;
- nashpy: ``nashpy.Game(A, -A).linear_program()`` (two scipy LPs through nashpy's layer), and
  nashpy's Lemke-Howson up to ``--nashpy-lh-max`` (pure-Python pivoting; too slow beyond).

Prints times, the ratio of each peer to ours, and the max |value difference| to scipy.

    python bench/nash_zero_sum.py --sizes 10 50 100 200 500 1000
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
from scipy.optimize import linprog

from games.nash import zero_sum_lp
from games.normal_form import NormalFormGame
from harness import list_option, timed


def scipy_value(A: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    m, n = A.shape
    row = linprog(np.r_[np.zeros(m), -1.0], A_ub=np.c_[-A.T, np.ones(n)], b_ub=np.zeros(n),
                  A_eq=np.r_[np.ones(m), 0.0][None], b_eq=[1.0], bounds=[(0, None)] * m + [(None, None)],
                  method="highs")
    col = linprog(np.r_[np.zeros(n), 1.0], A_ub=np.c_[A, -np.ones(m)], b_ub=np.zeros(m),
                  A_eq=np.r_[np.ones(n), 0.0][None], b_eq=[1.0], bounds=[(0, None)] * n + [(None, None)],
                  method="highs")
    return -row.fun, row.x[:m], col.x[:n]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    list_option(ap, "--sizes", default=[10, 50, 100, 200, 500, 1000])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--nashpy-lh-max", type=int, default=20)
    args = ap.parse_args(argv)
    try:
        import nashpy
    except ImportError:  # pragma: no cover - nashpy is in the bench extra
        nashpy = None

    zero_sum_lp(NormalFormGame.zero_sum(np.eye(2)))  # load HiGHS once, outside the timings
    header = (f"{'n':>5} {'ours [s]':>10} {'scipy [s]':>10} {'ratio':>7} {'nashpy LP [s]':>14} {'ratio':>7} "
              f"{'nashpy LH [s]':>14} {'ratio':>8} {'max|dv|':>9} {'our regret':>11}")
    print(header)
    print("-" * len(header))
    ok = True
    for n in args.sizes:
        rng = np.random.default_rng(args.seed + n)
        A = rng.uniform(-1, 1, (n, n))
        g = NormalFormGame.zero_sum(A)
        ours, t_ours = timed(lambda: zero_sum_lp(g))
        (v_ref, _, _), t_sp = timed(lambda: scipy_value(A))
        dv = abs(ours.value - v_ref)
        np_lp = np_lh = "-"
        r_lp = r_lh = "-"
        if nashpy is not None:
            G = nashpy.Game(A, -A)
            (xs, ys), t = timed(G.linear_program)
            dv = max(dv, abs(float(xs @ A @ ys) - v_ref))
            np_lp, r_lp = f"{t:.4f}", f"{t / t_ours:.1f}x"
            if n <= args.nashpy_lh_max:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    _, t = timed(lambda: G.lemke_howson(initial_dropped_label=0))
                np_lh, r_lh = f"{t:.4f}", f"{t / t_ours:.1f}x"
        print(f"{n:>5} {t_ours:>10.4f} {t_sp:>10.4f} {t_sp / t_ours:>6.1f}x {np_lp:>14} {r_lp:>7} {np_lh:>14} "
              f"{r_lh:>8} {dv:>9.1e} {ours.max_regret:>11.1e}", flush=True)
        ok &= dv <= 1e-7 and ours.max_regret <= 1e-7
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
