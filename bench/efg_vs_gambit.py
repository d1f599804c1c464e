"""Game trees: games.efg against pygambit, both in this process, on the same trees.

Instances: ``games.efg.random_tree(depth, zero_sum=True, seed=s)`` (two players, chance nodes,
information sets of up to 3 nodes, perfect recall) for growing depth, and Kuhn poker.

Timing (read, LP, LCP): each side's solver is timed on games it has not seen before -- a freshly
read game per call, read before the clock starts, on both sides (Gambit keeps computed values on
its game object, and so does ours: timing repeated calls on one game measures those caches) -- best
of ``--repeat`` rounds, calls shorter than ~2 ms in batches (``harness.best_fresh``).

* read: ``games.read_efg(text)`` against ``pygambit.read_efg(StringIO(text))`` on the same
  ``.efg`` text, once this process has read enough small files (``games.efg_io.SCAN_AFTER_READS``)
  to use the compiled scanner for files up to ``SCAN_MAX_CHARS`` characters (the steady state of a
  program that reads many files; its first reads take the regular-expression path).
* LP: ``games.efg.sequence_form_lp(game)`` (small trees: a dense Numba simplex accepted on its
  max-regret certificate; larger ones: HiGHS, one sequence-form LP; column ``by``) against
  ``pygambit.nash.lp_solve(game, rational=False)`` (Gambit's sequence-form LP in floating point)
  and, up to ``--rational-max-nodes``, ``lp_solve(game)`` (its default, exact rationals). Our side
  is timed from a freshly read game (sequence-form matrices not cached), after one warm-up call
  that loads the simplex kernel. Reported: the value of both and our max regret (the certificate).
* LCP: ``games.efg.sequence_form_lcp(game)`` (Lemke on the sequence form from the centroid,
  floating-point pivoting; ``pivoting="exact"`` up to ``--lcp-exact-max-nodes``) against
  ``pygambit.nash.lcp_solve(game, rational=False)`` (Gambit's sequence-form LCP, which returns the
  equilibria its path search finds) on general-sum ``random_tree(depth, seed=s)``. pygambit runs in
  a child process killed after ``--gambit-timeout`` seconds (then not run on larger depths of that
  seed); our side is timed from a freshly read game, after one warm-up call that loads the Numba
  kernels. Reported: pivots, both max regrets and the ratio.
* agent QRE: ``games.efg.logit_solve(game, lam)`` at ``lam`` = 1, 5, 10 (each warm-started from the
  previous: one trace) against ``pygambit.qre.logit_solve_lambda(game, [1, 5, 10])`` (one trace),
  and ``games.efg.logit_branch(game)`` against ``pygambit.nash.logit_solve(game,
  use_strategic=False)`` (both to max regret 1e-8 times the payoff range), on general-sum
  ``random_tree(depth, seed=s)``. pygambit runs in a child process killed after
  ``--gambit-timeout`` seconds; our side is timed from a freshly read game after a warm-up call.
  Reported: the largest difference of the behaviour profiles at the three precisions and both
  end points' max regrets.

    python bench/efg_vs_gambit.py                       # depths 4 6 8 10 12, seeds 0 1
    python bench/efg_vs_gambit.py --depths 4 6 8 --seeds 0 --repeat 1
    python bench/efg_vs_gambit.py --lcp-only --lcp-depths 3 4 5 6 7 --lcp-seeds 0 1 2   # LCP table only
    python bench/efg_vs_gambit.py --qre-only --qre-depths 2 3 4 5 6 7 --qre-seeds 0 1  # agent QRE table only
"""

from __future__ import annotations

import argparse
import gc
import io
import math
import time

from harness import best_fresh, best_of


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
    ap.add_argument("--lcp-depths", type=int, nargs="*", default=[3, 4, 5, 6, 7, 8, 10],
                    help="depths of the general-sum trees of the LCP table (none: no LCP table)")
    ap.add_argument("--lcp-only", action="store_true", help="only the LCP table")
    ap.add_argument("--qre-depths", type=int, nargs="*", default=[2, 3, 4, 5, 6, 7],
                    help="depths of the general-sum trees of the agent QRE table (none: no QRE table)")
    ap.add_argument("--qre-only", action="store_true", help="only the agent QRE table")
    ap.add_argument("--qre-seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--lcp-seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--gambit-timeout", type=float, default=60.0,
                    help="seconds pygambit may take per tree and method (lcp_solve, QRE; run in a child process)")
    ap.add_argument("--leduc", action="store_true",
                    help="add Leduc hold'em (9,457 nodes) to every table; pygambit's LP on it runs in a child "
                         "process stopped after --gambit-timeout seconds")
    ap.add_argument("--lcp-exact-max-nodes", type=int, default=500,
                    help="time our exact pivoting only up to this many nodes")
    return ap.parse_args(argv)


def general_sum_cases(depths, seeds, leduc: bool = False) -> list:
    """(name, seed, game) rows: Kuhn poker, then general-sum ``random_tree(depth, seed=s)``, then
    Leduc hold'em (``leduc``)."""
    from games.efg import kuhn_poker, leduc_poker, random_tree

    cases = [("kuhn", 0, kuhn_poker())]
    for d in depths:
        for s in seeds:
            cases.append((f"d{d}/s{s}", s, random_tree(d, seed=s)))
    if leduc:
        cases.append(("leduc", 0, leduc_poker()))
    return cases


def _gambit_lp(conn, text: str) -> None:
    """Child process: pygambit's floating-point sequence-form LP on ``text`` once; sends (seconds, value)."""
    import pygambit as gbt

    gg = gbt.read_efg(io.StringIO(text))
    dt, res = best_of(lambda: gbt.nash.lp_solve(gg, rational=False), 1)
    conn.send((dt, float(res.equilibria[0].payoff(gg.players[0]))))
    conn.close()


def print_head(head: str) -> None:
    print(head)
    print("-" * len(head))


def _gambit_lcp(conn, text: str, repeat: int) -> None:
    """Child process: time pygambit's floating-point sequence-form LCP on the tree ``text`` (best
    of ``repeat`` runs while a run takes under a second); sends (seconds, max regrets of its
    equilibria)."""
    import pygambit as gbt

    def fresh():
        return gbt.read_efg(io.StringIO(text))

    first = fresh()
    dt, res = best_of(lambda: gbt.nash.lcp_solve(first, rational=False), 1)
    if dt < 1.0 and repeat > 1:
        dt, res = best_fresh(lambda gg: gbt.nash.lcp_solve(gg, rational=False), fresh, repeat - 1)
    conn.send((dt, [float(eq.max_regret()) for eq in res.equilibria]))
    conn.close()


def lcp_table(args) -> int:
    """Our sequence-form LCP against pygambit's on general-sum random trees of growing depth."""
    from games.efg import kuhn_poker, sequence_form_lcp
    from games.efg_io import read_efg, write_efg

    for _ in range(2):  # loads the Numba kernels (cached on disk) and the thread-policy controller
        sequence_form_lcp(kuhn_poker())
    gc.collect()  # a full collection of what the imports left would otherwise land in a timed call
    cases = general_sum_cases(args.lcp_depths, args.lcp_seeds, args.leduc)
    print_head(f"{'tree':>10} {'nodes':>7} {'seqs':>6} | {'LCP ours':>9} {'pivots':>6} {'gambit fl':>10} "
               f"{'ratio':>7} | {'exact':>9} | {'regret':>8} {'gambit regret':>13} {'#eq':>4}")
    gave_up: set = set()
    for name, seed, g in cases:
        text = write_efg(g)
        t_ours, r = best_fresh(sequence_form_lcp, lambda: read_efg(text), args.repeat)
        n_seq = int(sum(g._sequences()["n_seq"]))
        if g.n_nodes <= args.lcp_exact_max_nodes:
            t_ex, rx = best_of(lambda: sequence_form_lcp(read_efg(text), pivoting="exact"), 1)
            ex = f"{t_ex * 1e3:8.1f}m"
        else:
            ex = f"{'-':>9}"
        if name.startswith("d") and seed in gave_up:
            gb = f"{'-':>10} {'-':>7}"
            greg = f"{'-':>13} {'-':>4}"
        else:
            out = in_child(_gambit_lcp, (text, args.repeat), args.gambit_timeout)
            if out is None:
                gave_up.add(seed)
                gb = f"{'>' + format(args.gambit_timeout, 'g') + 's':>10} {'>' + format(args.gambit_timeout / t_ours, '.0f') + 'x':>7}"
                greg = f"{'-':>13} {'-':>4}"
            else:
                t_g, regs = out
                gb = f"{t_g * 1e3:9.1f}m {t_g / t_ours:6.1f}x"
                greg = f"{max(regs, default=float('nan')):13.1e} {len(regs):>4}"
        print(f"{name:>10} {g.n_nodes:>7} {n_seq:>6} | {t_ours * 1e3:8.2f}m {r.nit:>6} {gb} | {ex} | "
              f"{r.max_regret:8.1e} {greg}", flush=True)
    print("\ntimes in milliseconds (m); ratio = pygambit / ours (> 1: ours faster); gambit fl = "
          "lcp_solve(rational=False) in a child process; exact = our pivoting='exact'")
    return 0


QRE_LAMS = (1.0, 5.0, 10.0)


def in_child(target, args: tuple, timeout: float):
    """``target(conn, *args)`` in a forked child process: what it sends, or None past ``timeout``."""
    import multiprocessing as mp

    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=target, args=(child, *args))
    proc.start()
    out = parent.recv() if parent.poll(timeout) else None
    if proc.is_alive():
        proc.kill()
    proc.join()
    return out


def _gambit_qre(conn, text: str, branch: bool) -> None:
    """Child process: pygambit's agent QRE at QRE_LAMS (one trace), or its branch to a Nash equilibrium."""
    import pygambit as gbt

    gg = gbt.read_efg(io.StringIO(text))
    t = time.perf_counter()
    if branch:
        eq = gbt.nash.logit_solve(gg, use_strategic=False).equilibria[0]
        conn.send((time.perf_counter() - t, float(eq.max_regret())))
    else:
        qs = gbt.qre.logit_solve_lambda(gg, list(QRE_LAMS))
        dt = time.perf_counter() - t
        conn.send((dt, [[q[i] for i in range(len(q))] for q in qs], [q.lam for q in qs]))
    conn.close()


def qre_table(args) -> int:
    """Our agent QRE (at three precisions, and the branch) against pygambit's on general-sum trees."""
    import numpy as np

    from games.efg import kuhn_poker, logit_branch, logit_solve
    from games.efg_io import read_efg, write_efg

    def at_lams(g):
        r = None
        xs = []
        for lam in QRE_LAMS:
            r = logit_solve(g, lam, warm_start=r)
            xs.append(r.x)
        return r, xs

    at_lams(kuhn_poker())  # loads the Numba kernel (cached on disk) before timing
    cases = general_sum_cases(args.qre_depths, args.qre_seeds, args.leduc)
    print_head(f"{'tree':>10} {'nodes':>7} {'acts':>5} | {'QRE ours':>9} {'gambit':>10} {'ratio':>7} {'max|dx|':>8} | "
               f"{'branch ours':>11} {'gambit':>10} {'ratio':>7} | {'regret':>8} {'gambit':>8} {'lam':>7}")
    gave_up: dict = {False: set(), True: set()}
    for name, seed, g in cases:
        text = write_efg(g)
        n_act = sum(len(g.infoset_actions[h]) for h in range(g.n_infosets) if g.infoset_player[h] >= 0)
        fresh = iter([read_efg(text) for _ in range(max(1, args.repeat))])
        t_q, (r, xs) = best_of(lambda: at_lams(next(fresh)), args.repeat)
        fresh = iter([read_efg(text) for _ in range(max(1, args.repeat))])
        t_b, br = best_of(lambda: logit_branch(next(fresh)), args.repeat)
        cols = []
        for branch, t_ours in ((False, t_q), (True, t_b)):
            out = None if (name != "kuhn" and seed in gave_up[branch]) else in_child(
                _gambit_qre, (text, branch), args.gambit_timeout)
            if out is None:
                if name == "kuhn" or seed not in gave_up[branch]:
                    gave_up[branch].add(seed)
                    cols.append((f"{'>' + format(args.gambit_timeout, 'g') + 's':>10} "
                                 f"{'>' + format(args.gambit_timeout / t_ours, '.0f') + 'x':>7}", None))
                else:
                    cols.append((f"{'-':>10} {'-':>7}", None))
            else:
                cols.append((f"{out[0] * 1e3:9.1f}m {out[0] / t_ours:6.1f}x", out))
        (qcol, qout), (bcol, bout) = cols
        if qout is not None:
            reached = all(abs(lg - lam) <= 1e-6 * lam for lg, lam in zip(qout[2], QRE_LAMS))
            dx = max(float(np.abs(np.asarray(gx) - x).max()) for gx, x in zip(qout[1], xs)) if reached else math.nan
            dxs = f"{dx:8.1e}" if reached else f"{'stalled':>8}"
        else:
            dxs = f"{'-':>8}"
        greg = f"{bout[1]:8.1e}" if bout is not None else f"{'-':>8}"
        print(f"{name:>10} {g.n_nodes:>7} {n_act:>5} | {t_q * 1e3:8.2f}m {qcol} {dxs} | {t_b * 1e3:10.2f}m {bcol} | "
              f"{br.max_regret:8.1e} {greg} {br.lam:7.3g}", flush=True)
    print("\ntimes in milliseconds (m); ratio = pygambit / ours (> 1: ours faster); QRE = the three precisions "
          f"{list(QRE_LAMS)} in one trace; max|dx| = largest difference of the behaviour profiles; lam = where our "
          "branch stopped")
    return 0


def main(argv=None) -> int:
    args = _parse(argv)
    if args.lcp_only:
        return lcp_table(args)
    if args.qre_only:
        return qre_table(args)
    import pygambit as gbt

    from games.efg import kuhn_poker, leduc_poker, random_tree, sequence_form_lp
    from games.efg_io import SCAN_AFTER_READS, read_efg, write_efg

    cases = [("kuhn", kuhn_poker())]
    for d in args.depths:
        for s in args.seeds:
            cases.append((f"d{d}/s{s}", random_tree(d, zero_sum=True, seed=s)))
    if args.leduc:
        cases.append(("leduc", leduc_poker()))
    head = (f"{'tree':>10} {'nodes':>7} {'isets':>6} | {'read ours':>9} {'gambit':>9} {'ratio':>6} | "
            f"{'LP ours':>9} {'gambit fl':>9} {'ratio':>6} {'gambit Q':>9} {'ratio':>7} | {'value':>10} "
            f"{'|dv|':>8} {'regret':>8} {'by':>7}")
    sequence_form_lp(kuhn_poker())  # loads the simplex kernel (cached on disk by Numba)
    kuhn_text = write_efg(kuhn_poker())
    for _ in range(SCAN_AFTER_READS + 1):  # the process's reads of small files reach the compiled scanner
        read_efg(kuhn_text)
    print(head)
    print("-" * len(head))
    for name, g in cases:
        text = write_efg(g)
        t_read, _ = best_fresh(read_efg, lambda: text, args.repeat)
        t_gread, gg = best_fresh(gbt.read_efg, lambda: io.StringIO(text), args.repeat)
        t_lp, r = best_fresh(sequence_form_lp, lambda: read_efg(text), args.repeat)
        if g.n_nodes <= args.gambit_lp_max_nodes:
            g_rep = args.repeat if g.n_nodes <= 1000 else 1  # pygambit's LP grows fast; once on big trees
            t_glp, gres = best_fresh(lambda gg: gbt.nash.lp_solve(gg, rational=False),
                                     lambda: gbt.read_efg(io.StringIO(text)), g_rep)
            gval = float(gres.equilibria[0].payoff(g.players[0]))
            fl = f"{t_glp * 1e3:8.3f}m {t_glp / t_lp:5.2f}x"
            dv = f"{abs(r.value - gval):8.1e}"
        elif name == "leduc":  # in a child process, stopped after --gambit-timeout seconds
            out = in_child(_gambit_lp, (text,), args.gambit_timeout)
            if out is None:
                fl = f"{'>' + format(args.gambit_timeout, 'g') + 's':>9} {'>' + format(args.gambit_timeout / t_lp, '.0f') + 'x':>6}"
                dv = f"{'-':>8}"
            else:
                fl = f"{out[0] * 1e3:8.2f}m {out[0] / t_lp:5.2f}x"
                dv = f"{abs(r.value - out[1]):8.1e}"
        else:
            fl, dv = f"{'-':>9} {'-':>6}", f"{'-':>8}"
        if g.n_nodes <= args.rational_max_nodes:
            gq = gbt.read_efg(io.StringIO(text))
            t_q, _ = best_of(lambda: gbt.nash.lp_solve(gq), 1)
            q = f"{t_q * 1e3:8.1f}m {t_q / t_lp:6.1f}x"
        else:
            q = f"{'-':>9} {'-':>7}"
        print(f"{name:>10} {g.n_nodes:>7} {g.n_infosets:>6} | {t_read * 1e3:8.3f}m {t_gread * 1e3:8.3f}m "
              f"{t_gread / t_read:5.2f}x | {t_lp * 1e3:8.3f}m {fl} {q} | {r.value:10.6f} {dv} {r.max_regret:8.1e} {r.backend:>7}",
              flush=True)
    print("\ntimes in milliseconds (m); ratio = pygambit / ours (> 1: ours faster); gambit fl = "
          "lp_solve(rational=False), gambit Q = lp_solve() in rationals")
    if args.lcp_depths:
        print()
        lcp_table(args)
    if args.qre_depths:
        print()
        qre_table(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
