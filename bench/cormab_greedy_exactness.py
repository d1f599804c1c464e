"""When does greedy construction already find SEQUOIA's argmax?  A structural check of the domains.

Trained with its ReLU-stability penalty, SEQUOIA's Q-network is *affine* in the action over the
feasible set at each state (no neuron changes sign there), so each decision maximises a linear
objective ``w . a`` over the set.  Greedy construction (iterative DQN) maximises a linear objective
exactly on a matroid; the MIP can only do better on sets that are not one.  For each domain this script
enumerates the feasible pull sets of small generated instances and reports

* ``greedy exact``: for how many random linear objectives (``w ~ N(0.5, 1)`` per pull variable)
  greedy construction reaches the enumerated optimum;
* ``exchange violations``: sampled pairs of feasible sets ``I, K`` with ``|I| < |K|`` where no
  ``e`` in ``K \\ I`` keeps ``I + e`` feasible (0 on a matroid); ``down-closed``: every subset of a
  feasible set is feasible.

    python bench/cormab_greedy_exactness.py                  # J = 12, B = 4 and J = 20, B = 5; 4 seeds
    python bench/cormab_greedy_exactness.py --sizes 12:4 --objectives 500
"""

from __future__ import annotations

import argparse

import numpy as np

from bandits.problem import action_key


def exchange_violations(feasible: np.ndarray, members: set, pairs: int, rng: np.random.Generator) -> tuple[int, int]:
    """Sampled matroid-exchange violations among the rows of ``feasible`` (0/1 pull sets; ``members``
    holds their :func:`bandits.problem.action_key`)."""
    sizes = feasible.sum(axis=1)
    tried = violations = 0
    for i, k in rng.integers(len(feasible), size=(pairs, 2)):
        if sizes[i] >= sizes[k]:
            continue
        tried += 1
        small = feasible[i]
        candidates = np.flatnonzero((feasible[k] == 1) & (small == 0))
        grown = np.repeat(small[None], len(candidates), axis=0)
        grown[np.arange(len(candidates)), candidates] = 1
        if not any(action_key(row) in members for row in grown):
            violations += 1
    return violations, tried


def down_closed(feasible: np.ndarray, members: set) -> bool:
    for row in feasible:
        for e in np.flatnonzero(row):
            sub = row.copy()
            sub[e] = 0
            if action_key(sub) not in members:
                return False
    return True


def main(argv=None) -> int:
    import bandits
    from bandits.policies import greedy_construct

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--domains", default="matching,capacity,path,multiple_interventions")
    ap.add_argument("--sizes", default="12:4,20:5", help="J:B pairs")
    ap.add_argument("--seeds", type=int, default=4)
    ap.add_argument("--objectives", type=int, default=200, help="random linear objectives per instance")
    ap.add_argument("--pairs", type=int, default=20_000, help="sampled pairs for the exchange test")
    args = ap.parse_args(argv)

    print(f"{'domain':<24}{'J:B':>6}{'feasible sets':>15}{'down-closed':>13}{'greedy exact':>16}"
          f"{'exchange violations':>22}")
    for domain in args.domains.split(","):
        for size in args.sizes.split(","):
            J, B = (int(x) for x in size.split(":"))
            n_sets, closed, exact, total, viol, tried = [], True, 0, 0, 0, 0
            for seed in range(args.seeds):
                problem = bandits.make_domain(domain, n_arms=J, budget=B, seed=seed)
                feasible = problem.feasible_actions(limit=500_000)
                if feasible is None:
                    raise SystemExit(f"{domain} J={J}: more than 500,000 feasible actions; choose smaller sizes")
                n_sets.append(len(feasible))
                members = {action_key(row) for row in feasible}
                closed &= down_closed(feasible, members)
                rng = np.random.default_rng(seed)
                state = np.zeros(problem.n_arms, dtype=np.int64)
                for _ in range(args.objectives):
                    w = rng.normal(0.5, 1.0, size=problem.n_actions)
                    action, ok = greedy_construct(problem, state, lambda A: A @ w)
                    exact += bool(ok and action @ w >= (feasible @ w).max() - 1e-9)
                    total += 1
                v, t = exchange_violations(feasible, members, args.pairs, rng)
                viol, tried = viol + v, tried + t
            # sets of one size only (exactly B interventions) are the bases of a uniform matroid
            exchange = f"{viol}/{tried}" if tried else "one size only"
            print(f"{domain:<24}{size:>6}{int(np.median(n_sets)):>15,}{str(closed):>13}{f'{exact}/{total}':>16}"
                  f"{exchange:>22}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
