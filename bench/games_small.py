"""Small and many-player games: games.qre / games.nash against pygambit, both in this process.

For every size class (two-player 2x2 ... 8x8; three-, four- and five-player games with 2 to 5
strategies each) a few random games (payoffs k/100 in [0, 1], exact decimals for Gambit) and
these comparisons, both sides on the same games:

* ``qre``: QRE at lam in {1, 5, 10} -- ``pygambit.qre.logit_solve_lambda(g, [1, 5, 10])`` (one
  trace) against ``games.qre.logit_solve`` at 1, then 5 and 10 warm-started (one trace).
  Checked: max |d sigma| between the two.
* ``branch``: the principal branch's end point -- ``pygambit.nash.logit_solve(g, maxregret=1e-8)``
  against ``games.qre.logit_branch(g, maxregret=1e-8)``. Checked: both max regrets.
* ``pure``: every pure equilibrium -- ``pygambit.nash.enumpure_solve`` against
  ``games.nash.pure``. Checked: the same set.
* ``mixed`` (two players): every extreme equilibrium in exact arithmetic --
  ``pygambit.nash.enummixed_solve(g, rational=True)`` against
  ``games.nash.vertex_enumeration``; and ``mixed-float``: ``enummixed_solve(g, rational=False)``
  against ``games.nash.support_enumeration``. Checked: the same number of equilibria.

Time per game: the best of ``--rounds`` rounds (the two sides alternate), each round running the
call often enough to take at least ``--min-time`` seconds (every call of ours on a game object
with nothing cached on it: a first call); a class's ratio is pygambit's total
over ours (> 1: we are faster), ``worst`` the smallest per-game ratio. Settings are the
defaults of both libraries (no environment variables; the engine applies its own thread
policy, see ``engine.threads``). The load average is printed with the table: the machine may
be shared.

    python bench/games_small.py                       # every class, 5 games each
    python bench/games_small.py --quick               # 3 games, one round
    python bench/games_small.py --classes 2x2 2x2x2x2x2 --tasks qre pure --games 10
    python bench/games_small.py --busy 2              # with two busy processes beside it
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

from games.normal_form import NormalFormGame
from harness import busy, list_option, str_list, timed_pair

CLASSES = ["2x2", "3x3", "4x4", "5x5", "6x6", "8x8",
           "2x2x2", "3x3x3", "4x4x4", "5x5x5",
           "2x2x2x2", "3x3x3x3", "4x4x4x4",
           "2x2x2x2x2", "3x3x3x3x3"]
TASKS = ["qre", "branch", "pure", "mixed", "mixed-float"]
LAMS = [1.0, 5.0, 10.0]


def _parse(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    list_option(ap, "--classes", parse=str_list, default=CLASSES, help="size classes like 3x3 or 2x2x2")
    list_option(ap, "--tasks", parse=str_list, default=TASKS, help=f"some of {','.join(TASKS)}")
    ap.add_argument("--games", type=int, default=5, help="random games per class")
    ap.add_argument("--rounds", type=int, default=5, help="best of this many rounds per game and side")
    ap.add_argument("--min-time", type=float, default=0.02, help="seconds of calls per round (repeat short ones)")
    ap.add_argument("--quick", action="store_true", help="3 games per class, one round")
    ap.add_argument("--busy", type=int, default=0, help="busy processes (while True: pass) beside the benchmark")
    args = ap.parse_args(argv)
    bad = sorted(set(args.tasks) - set(TASKS))
    if bad:
        ap.error(f"--tasks: unknown {bad}; choose from {TASKS}")
    return args


def make_game(shape, seed) -> NormalFormGame:
    rng = np.random.default_rng([seed, *shape])
    return NormalFormGame.from_arrays(*(rng.integers(0, 101, size=shape) / 100.0 for _ in shape))


def _gprofile(gg, prof):
    return np.concatenate([[float(prof[s]) for s in pl.strategies] for pl in gg.players])


def _fresh(game):
    """Drop what an earlier call cached on the game, so every timed call is a first call."""
    cache = getattr(game, "_derived", None)
    if cache is not None:
        cache.clear()


def ours_qre(game):
    from games.qre import logit_solve

    _fresh(game)
    out, prev = [], None
    for lam in LAMS:
        prev = logit_solve(game, lam, warm_start=prev)
        out.append(prev)
    return out


def run_task(task, game, gg, gbt, rounds, min_time):
    from games import nash
    from games.qre import logit_branch

    if task == "qre":
        tg, to, ref, ours = timed_pair(lambda: gbt.qre.logit_solve_lambda(gg, LAMS), lambda: ours_qre(game),
                                       rounds, min_time)
        check = max(float(np.abs(r.x - _gprofile(gg, p.profile)).max()) for r, p in zip(ours, ref))
        return tg, to, f"{check:.0e}"
    if task == "branch":
        tg, to, ref, ours = timed_pair(lambda: gbt.nash.logit_solve(gg, maxregret=1e-8),
                                       lambda: (_fresh(game), logit_branch(game, maxregret=1e-8))[1], rounds, min_time)
        rg = game.max_regret(_gprofile(gg, ref.equilibria[0]))
        return tg, to, f"{rg:.0e}/{ours.max_regret:.0e}"
    if task == "pure":
        tg, to, ref, ours = timed_pair(lambda: gbt.nash.enumpure_solve(gg),
                                       lambda: (_fresh(game), nash.pure(game))[1], rounds, min_time)
        a = sorted(tuple(np.round(_gprofile(gg, e), 9)) for e in ref.equilibria)
        b = sorted(tuple(np.round(np.concatenate(e), 9)) for e in ours.equilibria)
        return tg, to, "same" if a == b else f"DIFF {len(a)}/{len(b)}"
    if task in ("mixed", "mixed-float"):
        if game.n_players != 2:
            return None
        exact = task == "mixed"
        ours = nash.vertex_enumeration if exact else nash.support_enumeration
        gfn = lambda: gbt.nash.enummixed_solve(gg, rational=exact)  # noqa: E731
        ofn = lambda: (_fresh(game), ours(game))[1]  # noqa: E731
        tg, to, ref, res = timed_pair(gfn, ofn, rounds, min_time)
        ng, no = len(ref.equilibria), res.n_equilibria
        return tg, to, f"{no} eq" if ng == no else f"DIFF {ng}/{no}"
    raise ValueError(task)


def main(args) -> int:
    import pygambit as gbt

    from games.nfg import to_pygambit

    n_games = 3 if args.quick else args.games
    rounds = 1 if args.quick else args.rounds
    load0 = os.getloadavg()
    warm = make_game((2, 2, 2), 99)  # compile / import / first-call costs are not timed
    wg = to_pygambit(warm)
    for task in args.tasks:
        run_task(task, warm, wg, gbt, 1, 0.0)
        run_task(task, make_game((3, 3), 99), to_pygambit(make_game((3, 3), 99)), gbt, 1, 0.0)
    with busy(args.busy):
        if args.busy:
            load0 = os.getloadavg()
        rows = _measure(args, gbt, to_pygambit, n_games, rounds)
    _report(args, rows, n_games, rounds, load0)
    return 0


def _measure(args, gbt, to_pygambit, n_games, rounds):
    rows = []
    for cls in args.classes:
        shape = tuple(int(v) for v in cls.split("x"))
        games = [make_game(shape, s) for s in range(n_games)]
        ggs = [to_pygambit(g) for g in games]
        for task in args.tasks:
            tot_g = tot_o = 0.0
            worst = float("inf")
            notes = []
            for game, gg in zip(games, ggs):
                res = run_task(task, game, gg, gbt, rounds, args.min_time)
                if res is None:
                    break
                tg, to, note = res
                tot_g += tg
                tot_o += to
                worst = min(worst, tg / to)
                notes.append(note)
            if not notes:
                continue
            rows.append((cls, task, tot_g / len(notes), tot_o / len(notes), tot_g / tot_o, worst, notes))
            per_g, per_o = tot_g / len(notes) * 1e3, tot_o / len(notes) * 1e3
            print(f"{cls:>10} {task:<11} gambit {per_g:9.3f} ms  ours {per_o:9.3f} ms  x{tot_g / tot_o:7.2f}  "
                  f"worst x{worst:6.2f}  {' '.join(notes)}", file=sys.stderr, flush=True)
    return rows


def _report(args, rows, n_games, rounds, load0):
    load1 = os.getloadavg()
    state = f", {args.busy} busy processes beside it" if args.busy else ""
    print(f"### Small and many-player games vs pygambit ({n_games} random games per class, payoffs k/100{state})\n")
    print("| class | task | pygambit (ms/game) | ours (ms/game) | speed-up | worst game | check |")
    print("|---|---|---:|---:|---:|---:|---|")
    for cls, task, tg, to, ratio, worst, notes in rows:
        uniq = sorted(set(notes))
        check = uniq[0] if len(uniq) == 1 else (max(notes) if task == "qre" else ", ".join(uniq[:3]))
        print(f"| {cls} | {task} | {tg * 1e3:.3f} | {to * 1e3:.3f} | {ratio:.2f}x | {worst:.2f}x | {check} |")
    import pygambit

    print(f"\nTasks: qre = QRE at lam in {{1, 5, 10}} (check: max abs d sigma); branch = principal-branch end "
          f"point, maxregret 1e-8 (check: max regret pygambit/ours); pure = all pure equilibria; mixed = all "
          f"extreme equilibria, exact (enummixed rational vs vertex_enumeration); mixed-float = enummixed "
          f"floating point vs support_enumeration.")
    print(f"Time per game: best of {rounds} alternating rounds of >= {args.min_time:g} s. pygambit "
          f"{pygambit.__version__}, numpy {np.__version__}; load average {load0[0]:.2f} at the start, "
          f"{load1[0]:.2f} at the end, {os.cpu_count()} CPUs.")


if __name__ == "__main__":
    raise SystemExit(main(_parse()))
