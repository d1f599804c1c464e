"""QARL benchmark: curricula vs a rational adversary (matrix/Markov games) and the learning comparison.

    python bench/qarl.py                 # tabular tables only (about a minute)
    python bench/qarl.py --learning      # + SAC: QARL vs RARL-like vs no adversary (minutes)

Table 1: exploitability of the protagonist after each curriculum (final and mean over the last
quarter of the steps) on matching pennies, a 3x3 game and a random Markov game, with the ratio
rational / curriculum. Table 2 (``--learning``): protagonist return without adversary, against a
freshly trained worst-case adversary, and the mean / worst return over a mass x friction grid.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from games.markov import random_markov_game
from games.qarl import compare

GAMES = {
    "matching_pennies": [[1, -1], [-1, 1]],
    "3x3": [[3, -1, 0], [-2, 2, 1], [0, -1, 1.5]],
    "markov_4x3": random_markov_game(4, 3, gamma=0.8, seed=0),
}


def tabular(steps: int, inner: int, seed: int, lr: float = 0.1) -> None:
    print(f"{'game':<18}{'schedule':<12}{'final expl':>12}{'tail expl':>12}{'T_final':>10}{'seconds':>9}")
    for name, game in GAMES.items():
        t0 = time.perf_counter()
        out = compare(game, ("self_paced", "geometric", "linear", "rational"), steps=steps, inner=inner, lr=lr,
                      seed=seed)
        for sched, r in out.items():
            print(f"{name:<18}{sched:<12}{r.final_exploitability:>12.4g}{r.tail_exploitability:>12.4g}"
                  f"{r.temperatures[-1]:>10.3g}{r.runtime:>9.2f}")
        best = min(out[s].tail_exploitability for s in ("self_paced", "geometric", "linear"))
        ratio = out["rational"].tail_exploitability / max(best, 1e-12)
        print(f"{name:<18}{'ratio rational/best curriculum (tail exploitability)':<52}{ratio:>10.3g}")
    path = compare(GAMES["matching_pennies"], ("geometric", "rational"), steps=steps, inner=inner, lr=lr, seed=seed)
    print("\nmatching pennies exploitability path (every 5th step):")
    for sched, r in path.items():
        print(f"  {sched:<10}", " ".join(f"{v:.3f}" for v in r.exploitability[::5]))


def learning(steps: int, seed: int) -> None:
    from games.envs import AdversarialPointMass
    from games.qarl import evaluate_robustness, train

    env = AdversarialPointMass()
    print(f"\n{'mode':<8}{'nominal':>10}{'worst-case':>12}{'grid mean':>11}{'grid min':>10}{'train s':>9}")
    for mode in ("qarl", "rarl", "none"):
        t0 = time.perf_counter()
        res = train(env, mode=mode, total_steps=steps, seed=seed)
        rep = evaluate_robustness(res.model, adversary_steps=max(steps // 2, 500), seed=seed + 1)
        print(f"{mode:<8}{rep.nominal_return:>10.3f}{rep.worst_case_return:>12.3f}{rep.grid_returns.mean():>11.3f}"
              f"{rep.grid_returns.min():>10.3f}{res.runtime:>9.1f}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--inner", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--lr", type=float, default=0.1)
    ap.add_argument("--learning", action="store_true")
    ap.add_argument("--train-steps", type=int, default=6000)
    a = ap.parse_args()
    tabular(a.steps, a.inner, a.seed, a.lr)
    if a.learning:
        learning(a.train_steps, a.seed)
