"""S-CNE Monte Carlo: welfare gain over strong Stackelberg per follower epsilon.

    python bench/scne.py --games 100 --size 5 --epsilon 0,0.05,0.1

The same table as ``engine-bench run scne`` (one process; prints the table and the seconds).
"""

from __future__ import annotations

import argparse
import time

from engine.cli import render, run_suite
from engine.suites import parse_float_list
from games.reasoning_suites import scne_suite

if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--games", type=int, default=100)
    ap.add_argument("--size", type=int, default=5)
    ap.add_argument("--epsilon", default="0,0.05,0.1")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    t0 = time.perf_counter()
    recs = run_suite(scne_suite, {"games": a.games, "size": a.size, "epsilon": parse_float_list(a.epsilon)},
                     seed=a.seed)
    rows = [{"epsilon": r["params"]["epsilon"], **{k: v for k, v in r["metrics"].items() if k != "games"}}
            for r in recs]
    print(render(rows, "table", title=f"S-CNE vs Stackelberg ({a.games} games, {a.size}x{a.size})"), end="")
    print(f"{time.perf_counter() - t0:.1f} s")
