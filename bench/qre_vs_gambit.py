"""Logit QRE: games.qre against pygambit, both in this process, on the same random games.

Two comparisons on random n x n bimatrix games (uniform payoffs in [0, 1]):

* QRE at lam in {1, 5, 10}: ``pygambit.qre.logit_solve_lambda(game, [1, 5, 10])`` (one trace)
  against ``games.qre.logit_solve`` at 1, then 5 and 10 each warm-started from the previous
  result (also one trace). Reported: time of each side, ratio, max |d sigma| over the three.
* Branch to a Nash equilibrium: ``pygambit.nash.logit_solve`` (maxregret 1e-8) against
  ``games.qre.logit_branch`` (maxregret 1e-8): time, ratio, max regret of each end point and
  max |d sigma| between the two end points.

BLAS is pinned to one thread (set before numpy loads; ``--threads`` changes it): pygambit is
single-threaded, and multi-threaded BLAS only slows the small factorisations used here.

    python bench/qre_vs_gambit.py                 # n = 10, 20, 50, 100; seeds 0, 1
    python bench/qre_vs_gambit.py --quick         # n = 10, 20, 50; seed 0; one repeat
    python bench/qre_vs_gambit.py --sizes 50 100 --seeds 0 1 2 --repeat 3
"""

from __future__ import annotations

import argparse
import os
import sys


def _parse(argv=None):
    from harness import float_list, list_option  # after the BLAS variables are set (it imports numpy)

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    list_option(ap, "--sizes", default=[10, 20, 50, 100])
    list_option(ap, "--seeds", default=[0, 1])
    list_option(ap, "--lams", parse=float_list, default=[1.0, 5.0, 10.0])
    ap.add_argument("--repeat", type=int, default=3, help="best of this many runs of our side (pygambit: "
                                                             "min(repeat, 2) below n=50, once from n=50)")
    ap.add_argument("--no-branch", action="store_true", help="skip the branch / Nash comparison")
    ap.add_argument("--threads", type=int, default=1, help="BLAS threads for our side (default 1)")
    ap.add_argument("--quick", action="store_true", help="sizes 10 20 50, seed 0, one repeat")
    return ap.parse_args(argv)


ARGS = _parse() if __name__ == "__main__" else None
if ARGS is not None:
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(ARGS.threads)

from fractions import Fraction  # noqa: E402

import numpy as np  # noqa: E402

from games.normal_form import random_game  # noqa: E402
from games.qre import logit_branch, logit_solve  # noqa: E402
from harness import best_of  # noqa: E402


def _to_gambit(gbt, game):
    arrays = [np.array([Fraction(float(v)) for v in a.ravel()], dtype=object).reshape(a.shape) for a in game.payoffs]
    return gbt.Game.from_arrays(*arrays)


def _gprofile(gg, prof):
    return np.concatenate([[float(prof[s]) for s in pl.strategies] for pl in gg.players])


def ours_lambda(game, lams):
    out, prev = [], None
    for lam in sorted(lams):
        prev = logit_solve(game, lam, warm_start=prev)
        out.append(prev)
    return out


def main(args) -> int:
    import pygambit as gbt

    sizes = [10, 20, 50] if args.quick else args.sizes
    seeds = [0] if args.quick else args.seeds
    repeat = 1 if args.quick else args.repeat
    lams = sorted(args.lams)
    qre_rows, br_rows = [], []
    warm = random_game(3, 3, seed=0)  # first calls pay for imports and LAPACK set-up: not timed
    ours_lambda(warm, lams), logit_branch(warm), gbt.qre.logit_solve_lambda(_to_gambit(gbt, warm), lams)
    for n in sizes:
        for seed in seeds:
            game = random_game(n, n, seed=seed)
            gg = _to_gambit(gbt, game)
            g_rep = 1 if n >= 50 else min(repeat, 2)
            t_g, ref = best_of(lambda: gbt.qre.logit_solve_lambda(gg, lams), g_rep)
            t_o, ours = best_of(lambda: ours_lambda(game, lams), repeat)
            diff = max(float(np.abs(r.x - _gprofile(gg, p.profile)).max()) for r, p in zip(ours, ref))
            res = max(r.residual for r in ours)
            qre_rows.append((n, seed, t_g, t_o, t_g / t_o, diff, res))
            print(f"qre    n={n:4d} seed={seed}  gambit {t_g:8.4f}s  ours {t_o:8.4f}s  x{t_g / t_o:7.1f}  "
                  f"max|dsigma| {diff:.1e}", file=sys.stderr, flush=True)
            if args.no_branch:
                continue
            t_g, eq = best_of(lambda: gbt.nash.logit_solve(gg, maxregret=1e-8).equilibria[0], 1)
            gprof = _gprofile(gg, eq)
            t_o, br = best_of(lambda: logit_branch(game, maxregret=1e-8), repeat)
            br_rows.append((n, seed, t_g, t_o, t_g / t_o, game.max_regret(gprof), br.max_regret,
                            float(np.abs(br.x - gprof).max()), br.polished, br.lam))
            print(f"branch n={n:4d} seed={seed}  gambit {t_g:8.4f}s  ours {t_o:8.4f}s  x{t_g / t_o:7.1f}",
                  file=sys.stderr, flush=True)

    lam_txt = ", ".join(f"{v:g}" for v in lams)
    print(f"### Logit QRE at lam in {{{lam_txt}}} (one trace each side), random n x n games\n")
    print("| n | seed | pygambit (s) | games.qre (s) | speed-up | max abs d sigma | max residual |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for n, seed, tg, to, ratio, diff, res in qre_rows:
        print(f"| {n} | {seed} | {tg:.4f} | {to:.4f} | {ratio:.1f}x | {diff:.1e} | {res:.1e} |")
    if br_rows:
        print("\n### Principal branch to a Nash equilibrium (maxregret 1e-8)\n")
        print("| n | seed | pygambit nash.logit_solve (s) | games.qre.logit_branch (s) | speed-up | "
              "regret pygambit | regret ours | max abs d sigma (ends) | polished | end lam |")
        print("|---:|---:|---:|---:|---:|---:|---:|---:|:---:|---:|")
        for n, seed, tg, to, ratio, rg, ro, d, pol, lam in br_rows:
            print(f"| {n} | {seed} | {tg:.3f} | {to:.3f} | {ratio:.1f}x | {rg:.1e} | {ro:.1e} | {d:.1e} | "
                  f"{'yes' if pol else 'no'} | {lam:.1f} |")
    print(f"\nBLAS threads: {args.threads}; timings: best of {repeat} for games.qre, "
          f"pygambit once from n = 50 (else best of {min(repeat, 2)}).")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(ARGS))
