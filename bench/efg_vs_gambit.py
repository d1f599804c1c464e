"""Game trees: games.efg against pygambit, both in this process, on the same trees.

Instances: ``games.efg.random_tree(depth, zero_sum=True, seed=s)`` (two players, chance nodes,
information sets of up to 3 nodes, perfect recall) for growing depth, and Kuhn poker.

* read: ``games.read_efg(text)`` against ``pygambit.read_efg(StringIO(text))`` on the same
  ``.efg`` text (best of ``--repeat``).
* LP: ``games.efg.sequence_form_lp(game)`` (HiGHS, one sequence-form LP) against
  ``pygambit.nash.lp_solve(game, rational=False)`` (Gambit's sequence-form LP in floating point)
  and, up to ``--rational-max-nodes``, ``lp_solve(game)`` (its default, exact rationals). Our side
  is timed from a freshly read game (sequence-form matrices not cached). Reported: the value of
  both and our max regret (the certificate).

    python bench/efg_vs_gambit.py                       # depths 4 6 8 10 12, seeds 0 1
    python bench/efg_vs_gambit.py --depths 4 6 8 --seeds 0 --repeat 1
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _parse(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--depths", type=int, nargs="+", default=[4, 6, 8, 10, 12])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--repeat", type=int, default=3, help="best of this many runs per side (pygambit's LP: "
                                                             "once above 2000 nodes)")
    ap.add_argument("--gambit-lp-max-nodes", type=int, default=2500,
                    help="run pygambit's floating-point lp_solve only up to this many nodes (it takes 13 s "
                         "at ~1900 nodes and grows fast); above it only our LP is timed")
    ap.add_argument("--rational-max-nodes", type=int, default=400,
                    help="run pygambit's exact (rational) lp_solve only up to this many nodes")
    return ap.parse_args(argv)


def best(fn, repeat):
    times = []
    out = None
    for _ in range(max(1, repeat)):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def main(argv=None) -> int:
    args = _parse(argv)
    import pygambit as gbt

    from games.efg import kuhn_poker, random_tree, sequence_form_lp
    from games.efg_io import read_efg, write_efg

    cases = [("kuhn", kuhn_poker())]
    for d in args.depths:
        for s in args.seeds:
            cases.append((f"d{d}/s{s}", random_tree(d, zero_sum=True, seed=s)))
    head = (f"{'tree':>10} {'nodes':>7} {'isets':>6} | {'read ours':>9} {'gambit':>9} {'ratio':>6} | "
            f"{'LP ours':>9} {'gambit fl':>9} {'ratio':>6} {'gambit Q':>9} {'ratio':>7} | {'value':>10} "
            f"{'|dv|':>8} {'regret':>8}")
    print(head)
    print("-" * len(head))
    for name, g in cases:
        text = write_efg(g)
        t_read, _ = best(lambda: read_efg(text), args.repeat)
        t_gread, gg = best(lambda: gbt.read_efg(io.StringIO(text)), args.repeat)
        fresh = iter([read_efg(text) for _ in range(max(1, args.repeat))])
        t_lp, r = best(lambda: sequence_form_lp(next(fresh)), args.repeat)
        if g.n_nodes <= args.gambit_lp_max_nodes:
            g_rep = args.repeat if g.n_nodes <= 1000 else 1  # pygambit's LP grows fast; once on big trees
            t_glp, gres = best(lambda: gbt.nash.lp_solve(gg, rational=False), g_rep)
            gval = float(gres.equilibria[0].payoff(g.players[0]))
            fl = f"{t_glp * 1e3:8.2f}m {t_glp / t_lp:5.2f}x"
            dv = f"{abs(r.value - gval):8.1e}"
        else:
            fl, dv = f"{'-':>9} {'-':>6}", f"{'-':>8}"
        if g.n_nodes <= args.rational_max_nodes:
            t_q, _ = best(lambda: gbt.nash.lp_solve(gg), 1)
            q = f"{t_q * 1e3:8.1f}m {t_q / t_lp:6.1f}x"
        else:
            q = f"{'-':>9} {'-':>7}"
        print(f"{name:>10} {g.n_nodes:>7} {g.n_infosets:>6} | {t_read * 1e3:8.2f}m {t_gread * 1e3:8.2f}m "
              f"{t_gread / t_read:5.2f}x | {t_lp * 1e3:8.2f}m {fl} {q} | {r.value:10.6f} {dv} {r.max_regret:8.1e}",
              flush=True)
    print("\ntimes in milliseconds (m); ratio = pygambit / ours (> 1: ours faster); gambit fl = "
          "lp_solve(rational=False), gambit Q = lp_solve() in rationals")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
