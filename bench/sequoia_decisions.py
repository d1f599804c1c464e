"""SEQUOIA's decision time at J = 100: one exact-as-possible argmax of the Q-network per step.

For each domain (default capacity and matching, J = 100 arms, B = 20), a SEQUOIA agent with its
default network is trained briefly (``--episodes``, greedy argmax during training to keep this
short; ``--stability-weight`` sets SEQUOIA's ReLU-stability penalty, default SEQUOIA's 0.1, 0 trains
without it: what the decision time depends on is the number of *unstable* neurons), then
decides at ``--states`` random states with ``NetworkMIP`` under ``--time-limit`` seconds for the
whole decision. Each decision is repeated with ``--long-limit`` seconds to see whether the short one
already found the best action the long search finds.

Prints, per domain: median / 90th-percentile decision time, how many decisions were proven
optimal, how many matched the long search's value (to 1e-9), the median absolute gap to the proven
bound, and the number of unstable neurons. Target of issue 4: median decision time <= 1 s at J = 100.

    python bench/sequoia_decisions.py                       # capacity, matching; 20 states; 0.7 s
    python bench/sequoia_decisions.py --domains capacity --states 5 --long-limit 30
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--domains", default="capacity,matching")
    ap.add_argument("--arms", type=int, default=100)
    ap.add_argument("--budget", type=int, default=20)
    ap.add_argument("--episodes", type=int, default=2)
    ap.add_argument("--states", type=int, default=20)
    ap.add_argument("--time-limit", type=float, default=0.7)
    ap.add_argument("--long-limit", type=float, default=15.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--stability-weight", type=float, default=0.1, help="SEQUOIA's ReLU-stability penalty (0: none)")
    args = ap.parse_args(argv)

    import bandits
    from bandits.argmax import network_weights
    from solvers.network_mip import NetworkMIP

    rows = []
    for dom in args.domains.split(","):
        problem = bandits.make_domain(dom, n_arms=args.arms, budget=args.budget, seed=args.seed)
        t0 = time.perf_counter()
        agent = bandits.Sequoia(problem, seed=args.seed, train_selection="greedy", action_selection="greedy",
                                stability_weight=args.stability_weight)
        agent.train(episodes=args.episodes)
        train = time.perf_counter() - t0
        # exactly the model SEQUOIA builds for its decisions (bandits.argmax.FeasibleArgmax)
        mip = NetworkMIP(network_weights(agent.q), problem.feasible_set, state_dim=agent.n_features, method="auto",
                         enumerate_limit=0)
        rng = np.random.default_rng(args.seed + 1)
        times, proven, same, gaps, unstable = [], 0, 0, [], []
        for _ in range(args.states):
            s = rng.integers(0, problem.n_states, args.arms)
            x = agent.encoding.features(s[None])[0]
            t = time.perf_counter()
            short = mip.maximize(x, time_limit=args.time_limit)
            times.append(time.perf_counter() - t)
            if not problem.contains(short.x):
                raise SystemExit(f"{dom}: an infeasible decision {short.x}")
            long = mip.maximize(x, time_limit=args.long_limit)
            proven += short.proven_optimal
            same += abs(short.objective - long.objective) <= 1e-9 or short.objective > long.objective
            gaps.append(short.gap)
            unstable.append(short.n_binaries)
        g = np.array(gaps, dtype=float)            # nan where the solver stopped before it had a bound
        rows.append((dom, mip.method, float(np.median(times)), float(np.percentile(times, 90)), proven, same,
                     args.states, float(np.median(g[np.isfinite(g)])) if np.isfinite(g).any() else float("nan"),
                     float(np.median(unstable)), train))
        print(f"{dom} done", file=sys.stderr, flush=True)

    print(f"J = {args.arms}, B = {args.budget}, time limit {args.time_limit} s per decision, "
          f"long search {args.long_limit} s")
    print(f"{'domain':<12} {'method':<6} {'median s':>9} {'p90 s':>7} {'proven':>7} {'= long':>7} "
          f"{'median gap':>11} {'unstable':>9} {'train s':>8}")
    for dom, meth, med, p90, pr, sm, n, gap, un, tr in rows:
        print(f"{dom:<12} {meth:<6} {med:>9.3f} {p90:>7.3f} {pr:>3}/{n:<3} {sm:>3}/{n:<3} {gap:>11.4f} {un:>9.0f} "
              f"{tr:>8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
