"""Path domain (issue 19): is the fluid policy's gap to the certified bound the bound's or the policy's?

Three studies, each on one process (no parallelism: the machine is shared):

* ``bound``: the certified fluid bound of ``make_domain("path", n_arms=J, budget=B, seed=S)`` on the
  ``--episodes`` evaluation start states of ``bench/fluid_bound.py`` (``start_states(p, E, seed=S)``)
  with each tightening: the plain hull bound of the averaged start, ``each_start=True`` and
  ``units="matching"`` (pairs of neighbouring stations, MIP pricing), each timed::

      python bench/path_gap.py bound --sizes 40:8 --seed 0 --episodes 20 --variants hull,each,matching

* ``policy``: fluid-policy variants evaluated by Monte Carlo on those same starts and the same
  evaluation seed, as % of the hull bound (quoted with its value)::

      python bench/path_gap.py policy --sizes 40:8 --seed 0 --episodes 20 --variants relaxation,hull

* ``small``: exact instances (``bandits.exact``): the optimum, the myopic and fluid policies' exact
  values (relaxation- and hull-coupled LP), and the certified bounds (hull, hull with matching units,
  relaxation), on random graphs and on the ``J`` stations of the 40-station tube nearest its source
  (``--graph tube``), so that ``bound/opt`` and ``fluid/opt`` can be followed as ``B / J`` varies::

      python bench/path_gap.py small --sizes 6:1,6:2,8:2 --seeds 0-2 --horizon 10 --graph tube

Prints one line per case (flushed as it goes) and writes ``--out/path_gap_<study>.json``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import networkx as nx
import numpy as np

import bandits
from bandits import exact
from bandits.bounds import fluid_bound
from bandits.constraints.path import tube_graph
from bandits.evaluate import evaluate, start_states
from engine.io import atomic_write_json
from engine.suites import parse_int_list

STUDIES = ("bound", "policy", "small")


def _sizes(text: str) -> list[tuple[int, int]]:
    return [(int(j), int(b)) for j, b in (item.split(":") for item in text.split(","))]


def tube_nearest(n: int) -> tuple[nx.Graph, int]:
    """The ``n`` stations of the 40-station tube nearest its source (BFS order, ties by label),
    relabelled ``0..n-1`` with the source 0: a small graph with the tube's local structure."""
    g, source = tube_graph(40)
    order = [source] + [v for _, v in nx.bfs_edges(g, source, sort_neighbors=sorted)]
    keep = order[:n]
    sub = g.subgraph(keep)
    return nx.relabel_nodes(sub, {v: i for i, v in enumerate(keep)}), 0


def star(n: int, legs: int) -> tuple[nx.Graph, int]:
    """The source 0 with ``legs`` lines of stations (lengths as equal as possible, ``n - 1`` stations in
    all): a walk of ``2B`` edges goes deep into one line or shallow into several, the choice the tube's
    lines pose at ``J = 40`` (``legs=2``: a line with the source in its middle)."""
    g = nx.Graph()
    g.add_nodes_from(range(n))
    nxt = 1
    for k in range(legs):
        prev = 0
        for _ in range((n - 1) // legs + (1 if k < (n - 1) % legs else 0)):
            g.add_edge(prev, nxt)
            prev, nxt = nxt, nxt + 1
    return g, 0


def make_path(J: int, B: int, seed: int, graph: str, n_states: int = 4):
    """The path domain on the tube subgraph (``J`` a tube size), else on ``graph``: ``"random"``
    (make_domain's random graph), ``"tube"`` (:func:`tube_nearest`) or ``"star<k>"`` (:func:`star`)."""
    if J not in bandits.domains.TUBE_SIZES and graph != "random":
        g, s = tube_nearest(J) if graph == "tube" else star(J, int(graph[4:]))
        return bandits.make_domain("path", n_arms=J, budget=B, seed=seed, graph=g, source=s, n_states=n_states)
    return bandits.make_domain("path", n_arms=J, budget=B, seed=seed, n_states=n_states)


def study_bound(args) -> list[dict]:
    out = []
    for J, B in _sizes(args.sizes):
        p = make_path(J, B, args.seed, args.graph)
        starts = start_states(p, args.episodes, seed=args.seed)
        for v in args.variants.split(","):
            opts: dict = {"relaxation": {"coupling": "relaxation"}, "hull": {}, "each": {"each_start": True},
                          "matching": {"units": "matching"},
                          "matching_each": {"units": "matching", "each_start": True}}[v]
            t0 = time.perf_counter()
            b = fluid_bound(p, horizon=args.horizon, initial=starts, time_limit=args.time_limit, **opts)
            rec = {"J": J, "B": B, "seed": args.seed, "variant": v, "certified": b.certified, "value": b.value,
                   "status": b.status.value, "time": time.perf_counter() - t0, "rounds": b.params.get("rounds"),
                   "pricing": b.pricing, "rows": b.n_rows, "cols": b.n_cols, "load": os.getloadavg()[0],
                   "start_bounds": None if b.start_bounds is None else b.start_bounds.tolist()}
            out.append(rec)
            print(f"bound J={J} B={B} seed={args.seed} {v:<14} certified {b.certified:.4f} (LP {b.value:.4f}, "
                  f"{b.status.value}, {rec['time']:.1f} s, rounds {rec['rounds']}, pricing {b.pricing}, "
                  f"load {rec['load']:.1f})", flush=True)
            _save(args, out)
    return out


def study_policy(args) -> list[dict]:
    out = []
    for J, B in _sizes(args.sizes):
        p = make_path(J, B, args.seed, args.graph)
        starts = start_states(p, args.episodes, seed=args.seed)
        t0 = time.perf_counter()
        hull = fluid_bound(p, horizon=args.horizon, initial=starts)
        relax = fluid_bound(p, horizon=args.horizon, initial=starts, coupling="relaxation")
        bound = hull.certified
        each = fluid_bound(p, horizon=args.horizon, initial=starts, each_start=True).certified \
            if args.each_start else float("nan")
        print(f"policy J={J} B={B} seed={args.seed}: hull bound {bound:.4f}, each start {each:.4f}, relaxation "
              f"{relax.certified:.4f} ({time.perf_counter() - t0:.1f} s)", flush=True)
        for v in args.variants.split(","):
            pol = _policy(p, v, args.horizon, hull, relax)
            t1 = time.perf_counter()
            r = evaluate(p, pol, episodes=args.episodes, horizon=args.horizon, seed=args.seed,
                         time_limit=args.time_limit)
            rec = {"J": J, "B": B, "seed": args.seed, "variant": v, "mean": r.mean, "sem": r.sem, "bound": bound,
                   "pct": 100 * r.mean / bound, "pct_sem": 100 * r.sem / bound, "status": r.status.value,
                   "bound_each_start": each, "pct_each_start": 100 * r.mean / each,
                   "decision_median": r.decision_time_median, "decision_max": r.decision_time_max,
                   "returns": np.asarray(r.returns).tolist(), "wall": time.perf_counter() - t1, "load": os.getloadavg()[0],
                   "stats": {k: v for k, v in getattr(pol, "stats", {}).items() if isinstance(v, (int, float))}}
            out.append(rec)
            if len(out) > 1 and out[0]["J"] == J:  # paired on the same starts and random streams
                d = np.asarray(rec["returns"]) - np.asarray(out[0]["returns"])
                rec["vs_first"] = (float(d.mean()), float(d.std(ddof=1) / np.sqrt(d.size)))
                print(f"  {v} - {out[0]['variant']}: {d.mean():+.4f} ± {rec['vs_first'][1]:.4f} (paired)", flush=True)
            print(f"policy J={J} B={B} seed={args.seed} {v:<22} {r.mean:.4f} ± {r.sem:.4f} = "
                  f"{rec['pct']:.1f} ± {rec['pct_sem']:.1f}% of the hull bound, {rec['pct_each_start']:.1f}% of each start's "
                  f"({r.status.value}; decision median "
                  f"{r.decision_time_median:.2f} s, max {r.decision_time_max:.1f} s; {rec['wall']:.0f} s; "
                  f"load {rec['load']:.1f})", flush=True)
            _save(args, out)
    return out


def _policy(p, v: str, H: int, hull, relax):
    """A policy variant by name: relaxation / hull (fluid LP coupling, re-solved at every decision),
    hull_marginals, myopic, look<k> (the LP-scored look-ahead over k candidates, hull),
    rollout<k> (64 rollouts over k candidates, hull)."""
    if v == "myopic":
        return bandits.policies.myopic(p)
    if v == "relaxation":
        return bandits.policies.fluid(p, horizon=H, coupling="relaxation", warm_start=relax)
    if v == "hull":
        return bandits.policies.fluid(p, horizon=H, coupling="hull", warm_start=hull)
    if v == "hull_marginals":
        return bandits.policies.fluid(p, horizon=H, coupling="hull", rounding="marginals", warm_start=hull)
    if v.startswith("look"):
        return bandits.policies.fluid_lookahead(p, horizon=H, candidates=int(v[4:]), score="lp")
    if v.startswith("rollout"):
        return bandits.policies.fluid_lookahead(p, horizon=H, candidates=int(v[7:]), score="rollout", rollouts=64)
    raise SystemExit(f"unknown policy variant {v!r}")


def study_small(args) -> list[dict]:
    out = []
    H = args.horizon
    for J, B in _sizes(args.sizes):
        for seed in parse_int_list(args.seeds):
            p = make_path(J, B, seed, args.graph, args.n_states)
            t0 = time.perf_counter()
            opt = exact.optimal_value(p, H, max_states=p.n_states ** J)
            rec: dict = {"J": J, "B": B, "H": H, "seed": seed, "graph": args.graph, "opt": opt,
                         "n_actions": len(p.feasible_actions(100_000)),
                         "opt_time": time.perf_counter() - t0}
            rec["bound_hull"] = fluid_bound(p, horizon=H).certified
            rec["bound_relaxation"] = fluid_bound(p, horizon=H, coupling="relaxation").certified
            rec["bound_matching"] = fluid_bound(p, horizon=H, units="matching").certified
            names = ("myopic", "fluid_hull", "fluid_relaxation") if J <= args.max_policy_arms else ()
            for name in names:
                pol = {"myopic": lambda: bandits.policies.myopic(p),
                       "fluid_hull": lambda: bandits.policies.fluid(p, horizon=H),
                       "fluid_relaxation": lambda: bandits.policies.fluid(p, horizon=H, coupling="relaxation")}[name]()
                rec[name] = exact.policy_value(p, pol, H, max_states=p.n_states ** J)
            rec["time"] = time.perf_counter() - t0
            out.append(rec)
            pols = "; /opt: " + " ".join(f"{n} {rec[n] / opt:.4f}" for n in names) if names else ""
            print(f"small {args.graph} J={J} B={B} H={H} seed={seed} ({rec['n_actions']} actions): "
                  f"opt {opt:.4f}; bound/opt hull {rec['bound_hull'] / opt:.4f} matching "
                  f"{rec['bound_matching'] / opt:.4f} relaxation {rec['bound_relaxation'] / opt:.4f}{pols} "
                  f"({rec['time']:.1f} s)", flush=True)
            _save(args, out)
    return out


def _save(args, records: list[dict]) -> None:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / f"path_gap_{args.study}.json", {"config": vars(args), "records": records})


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("study", choices=STUDIES)
    ap.add_argument("--sizes", default="40:8", help="J:B pairs")
    ap.add_argument("--seed", type=int, default=0, help="bound/policy: the instance and evaluation seed")
    ap.add_argument("--seeds", default="0-2", help="small: instance seeds")
    ap.add_argument("--episodes", type=int, default=20)
    ap.add_argument("--horizon", type=int, default=20)
    ap.add_argument("--graph", default="random",
                    help="J not a tube size: random (make_domain's random graph), tube (the J tube stations "
                         "nearest the source) or star<k> (the source with k lines of stations)")
    ap.add_argument("--variants", default=None, help="bound: hull,each,matching,matching_each,relaxation; "
                                                     "policy: relaxation,hull,hull_marginals,myopic,look<k>,rollout<k>")
    ap.add_argument("--n-states", type=int, default=4, help="small: states per arm (2 reaches J = 16 exactly)")
    ap.add_argument("--max-policy-arms", type=int, default=7,
                    help="small: exact policy values only up to this J (one LP solve per joint state)")
    ap.add_argument("--each-start", action="store_true",
                    help="policy: also the bound of each start (fluid_bound each_start=True) and the % of it")
    ap.add_argument("--time-limit", type=float, default=None, help="seconds per bound / per evaluation")
    ap.add_argument("--out", default="bench_out/path_gap")
    args = ap.parse_args(argv)
    if args.variants is None:
        args.variants = "hull,each,matching" if args.study == "bound" else "relaxation,hull"
    {"bound": study_bound, "policy": study_policy, "small": study_small}[args.study](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
