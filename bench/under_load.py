"""Logit QRE on a busy machine: games.qre against pygambit while other processes burn CPU.

The headline comparison of ``bench/qre_vs_gambit.py`` -- QRE at lam in {1, 5, 10} on random
n x n games (payoffs uniform in [0, 1]); ``pygambit.qre.logit_solve_lambda(g, [1, 5, 10])``
against ``games.qre.logit_solve`` at 1, then 5 and 10 warm-started -- run in this one process
while ``--busy`` other processes (default 2, one per core of a 2-core machine) spin in
``while True: pass``. Nothing is pinned: no environment variable is set and the BLAS keeps its
default thread count; our side runs under the engine's thread policy (``engine.threads``:
one thread inside the call unless ``threads=`` says otherwise). ``--show-threads K`` adds our
side with ``threads=K`` (e.g. the machine's core count), the setting that collapses under load.

    python bench/under_load.py                         # n = 50, 80 with two busy processes
    python bench/under_load.py --busy 0 --sizes 50 100 # the quiet-machine headline
    python bench/under_load.py --show-threads 2        # also ours with 2 BLAS threads
"""

from __future__ import annotations

import argparse
import os
import sys
from fractions import Fraction

import numpy as np

from games.normal_form import random_game
from games.qre import logit_solve
from harness import best_of, busy, list_option

LAMS = [1.0, 5.0, 10.0]


def _parse(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    list_option(ap, "--sizes", default=[50, 80])
    list_option(ap, "--seeds", default=[0, 1])
    ap.add_argument("--busy", type=int, default=2, help="busy processes beside the benchmark (0: quiet)")
    ap.add_argument("--repeat", type=int, default=3, help="best of this many runs of our side (pygambit: once)")
    ap.add_argument("--show-threads", type=int, default=None, metavar="K",
                    help="also time our side with threads=K")
    return ap.parse_args(argv)


def _to_gambit(gbt, game):
    arrays = [np.array([Fraction(float(v)) for v in a.ravel()], dtype=object).reshape(a.shape) for a in game.payoffs]
    return gbt.Game.from_arrays(*arrays)


def _gprofile(gg, prof):
    return np.concatenate([[float(prof[s]) for s in pl.strategies] for pl in gg.players])


def ours(game, threads=None):
    out, prev = [], None
    for lam in LAMS:
        kw = {} if threads is None else {"threads": threads}
        prev = logit_solve(game, lam, warm_start=prev, **kw)
        out.append(prev)
    return out


def _blas_threads():
    from threadpoolctl import threadpool_info

    return sorted({(d["internal_api"], d["num_threads"]) for d in threadpool_info()})


def main(args) -> int:
    import pygambit as gbt

    warm = random_game(3, 3, seed=0)
    ours(warm), gbt.qre.logit_solve_lambda(_to_gambit(gbt, warm), LAMS)  # imports, compilation: not timed
    rows = []
    with busy(args.busy):
        load0 = os.getloadavg()
        for n in args.sizes:
            for seed in args.seeds:
                game = random_game(n, n, seed=seed)
                gg = _to_gambit(gbt, game)
                t_o, res = best_of(lambda: ours(game), args.repeat)
                t_g, ref = best_of(lambda: gbt.qre.logit_solve_lambda(gg, LAMS), 1)
                diff = max(float(np.abs(r.x - _gprofile(gg, p.profile)).max()) for r, p in zip(res, ref))
                t_k = None
                if args.show_threads:
                    t_k, _ = best_of(lambda: ours(game, threads=args.show_threads), 1)
                rows.append((n, seed, t_g, t_o, t_k, diff))
                extra = f"  threads={args.show_threads}: {t_k:8.4f}s x{t_g / t_k:7.2f}" if t_k is not None else ""
                print(f"n={n:4d} seed={seed}  gambit {t_g:8.4f}s  ours {t_o:8.4f}s  x{t_g / t_o:7.1f}{extra}",
                      file=sys.stderr, flush=True)
        load1 = os.getloadavg()
    lam_txt = ", ".join(f"{v:g}" for v in LAMS)
    state = f"{args.busy} busy processes beside it" if args.busy else "no extra load"
    print(f"### Logit QRE at lam in {{{lam_txt}}}, random n x n games, {state}\n")
    head = "| n | seed | pygambit (s) | games.qre (s) | speed-up |"
    rule = "|---:|---:|---:|---:|---:|"
    if args.show_threads:
        head += f" games.qre threads={args.show_threads} (s) | speed-up |"
        rule += "---:|---:|"
    print(head + " max abs d sigma |")
    print(rule + "---:|")
    for n, seed, tg, to, tk, diff in rows:
        extra = f" {tk:.4f} | {tg / tk:.2f}x |" if tk is not None else ""
        print(f"| {n} | {seed} | {tg:.4f} | {to:.4f} | {tg / to:.1f}x |{extra} {diff:.1e} |")
    print(f"\nDefault settings (BLAS pools {_blas_threads()} outside our calls; the engine's policy inside: "
          f"see engine.threads); ours best of {args.repeat}, pygambit once; {os.cpu_count()} CPUs, load average "
          f"{load0[0]:.2f} after the spinners started, {load1[0]:.2f} at the end.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(_parse()))
