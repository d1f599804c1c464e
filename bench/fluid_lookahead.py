"""The fluid policy against its one-step look-ahead (issue 19): where is the gap to the bound?

Two tables:

* ``--small``: small instances solved exactly (``bandits.exact``): the optimum as % of the certified
  fluid bound, and the fluid policy's and the look-ahead's exact values as % of the optimum. A policy
  within 0.1-0.8% of the optimum next to a bound several % above it says the gap is the bound's.
* ``--domain D --sizes J:B``: the fluid policy and ``policies.fluid_lookahead`` evaluated on the
  benchmark's own start states (those of ``bandits.suites.run_cormab`` / ``bench/cormab.py``: 50
  episodes, its evaluation seed), as % of the same certified bound, with decision times.

    python bench/fluid_lookahead.py --small --sizes 5:2 --seeds 0-2 --horizon 10      # exact, 5 domains
    python bench/fluid_lookahead.py --domain path --sizes 20:5 --seeds 0,3 --candidates 8
    python bench/fluid_lookahead.py --domain path --sizes 20:5 --seeds 0 --candidates 8 --score rollout --rollouts 64
"""

from __future__ import annotations

import argparse
import time

from harness import int_list, list_option, str_list

import bandits
from bandits import exact
from bandits.bounds import fluid_bound
from bandits.evaluate import evaluate, start_states
from bandits.suites import _run_seeds

DOMAINS = ("capacity", "matching", "path", "budget", "multiple_interventions")


def _sizes(text: str) -> list[tuple[int, int]]:
    return [(int(j), int(b)) for j, b in (item.split(":") for item in str_list(text))]


def _parse(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", action="store_true", help="the exact table on small instances")
    ap.add_argument("--domain", default=None,
                    help=f"one of {', '.join(DOMAINS)} or 'all' (default: all with --small, else path)")
    ap.add_argument("--sizes", default="20:5", help="J:B pairs")
    list_option(ap, "--seeds", parse=int_list, default=[0])
    ap.add_argument("--horizon", type=int, default=20)
    ap.add_argument("--episodes", type=int, default=50)
    ap.add_argument("--candidates", type=int, default=8)
    ap.add_argument("--score", choices=("lp", "rollout"), default="lp")
    ap.add_argument("--rollouts", type=int, default=16)
    return ap.parse_args(argv)


def _instances(args: argparse.Namespace, domains: list[str]):
    """(label, seed, problem) for every domain, J:B size and seed asked for."""
    for dom in domains:
        for J, B in _sizes(args.sizes):
            for seed in args.seeds:
                yield f"{dom} J={J} B={B}", seed, bandits.make_domain(dom, n_arms=J, budget=B, seed=seed)


def small_table(args: argparse.Namespace, domains: list[str]) -> None:
    print(f"{'case':<40} {'opt/bound':>10} {'myopic/opt':>11} {'fluid/opt':>10} {'look/opt':>9} {'look s':>7}")
    for label, seed, p in _instances(args, domains):
        H = args.horizon
        opt = exact.optimal_value(p, H)
        bound = fluid_bound(p, horizon=H).certified
        myo = exact.policy_value(p, bandits.policies.myopic(p), H)
        flu = exact.policy_value(p, bandits.policies.fluid(p, horizon=H), H)
        t0 = time.perf_counter()
        look = exact.policy_value(p, bandits.policies.fluid_lookahead(
            p, horizon=H, candidates=args.candidates, score=args.score, rollouts=args.rollouts), H)
        dt = time.perf_counter() - t0
        print(f"{f'{label} H={H} seed={seed}':<40} {100 * opt / bound:9.2f}% {100 * myo / opt:10.2f}% "
              f"{100 * flu / opt:9.2f}% {100 * look / opt:8.2f}% {dt:7.1f}", flush=True)


def evaluation_table(args: argparse.Namespace, domains: list[str]) -> None:
    print(f"{'case':<32} {'policy':<20} {'mean ± SEM':>16} {'% of bound':>11} {'decision mean/median':>22}")
    for label, seed, p in _instances(args, domains):
        _, eval_seed = _run_seeds(seed, None)  # bench/cormab.py's evaluation stream
        starts = start_states(p, args.episodes, seed=eval_seed)
        fb = fluid_bound(p, horizon=args.horizon, initial=starts)
        case = f"{label} seed={seed}"
        print(f"{case:<32} {'certified bound':<20} {fb.certified:16.4f}", flush=True)
        policies = [("fluid", bandits.policies.fluid(p, horizon=args.horizon)),
                    (f"look-ahead k={args.candidates} {args.score}", bandits.policies.fluid_lookahead(
                        p, horizon=args.horizon, candidates=args.candidates, score=args.score,
                        rollouts=args.rollouts))]
        for name, pol in policies:
            r = evaluate(p, pol, episodes=args.episodes, horizon=args.horizon, seed=eval_seed,
                         bound=fb.certified)
            print(f"{case:<32} {name:<20} {r.mean:8.4f} ± {r.sem:.4f} {100 * r.fraction_of_bound:10.2f}% "
                  f"{1e3 * r.decision_time_mean:10.1f} / {1e3 * r.decision_time_median:.1f} ms", flush=True)


def main(argv=None) -> int:
    args = _parse(argv)
    domain = args.domain or ("all" if args.small else "path")
    domains = list(DOMAINS) if domain == "all" else [domain]
    (small_table if args.small else evaluation_table)(args, domains)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
