"""The fluid bound and the fluid re-planning policy against myopic, as % of the certified bound.

For each domain and seed: build ``make_domain(domain, n_arms=J, budget=B, seed=seed)``, draw the
evaluation start states exactly as :func:`bandits.evaluate` does (``seed`` -> ``"initial_states"``
generator, ``episodes`` uniform joint states), compute ``fluid_bound(problem, horizon=H,
initial=starts)`` (a certified upper bound on every policy's mean over those starts), and evaluate
the fluid policy and myopic by Monte Carlo on the same start states (same seed). Both sides run in
one process; the table gives each policy's value as % of the certified bound, bound times and
decision times.

Issue 19's configuration (J = 20, B = 5, H = 20, seeds 0-4)::

    python bench/fluid_bound.py --domain path,multiple_interventions,capacity,matching --seeds 0-4

Larger ``J``: ``--sizes 100:20 --bound-coupling both --bound-time-limit 120 --policy-coupling relaxation``
(the hull's column generation is cut at the time limit; the smaller certified value is quoted). On path the
relaxation-coupled policy is weaker (its LP sees "B stations within reach", not which share a walk): at J = 40,
B = 8 it loses 2-4 points against the default hull coupling (``bench/path_gap.py``), so keep ``hull`` there
when its re-solves (1-2 s a decision at J = 40) fit.

``--policy-horizon k`` (large ``J``): the fluid policy's LP looks ``k < H`` steps ahead (half the LP at
``k = H / 2``); it is still evaluated over ``H`` steps against the ``H``-step bound. Its warm start is
then the ``k``-step LP on the same starts (``policy_lp_time``, an offline step of its own). At ``J = 1000``
(``--sizes 1000:200 --bound-coupling relaxation --policy-coupling relaxation --policy-horizon 10``) every
decision took under 1 s of CPU on budget, matching and capacity at the 20-step look-ahead's value.

The fluid policy is warm-started from the bound of its own coupling when one was computed
(``warm_start=``: its first decision starts from the bound's final basis; the bound's solve is the
offline step, its time is ``t_bound``); ``--no-warm-start`` starts it cold. Every decision is
timed (``decisions_s``: the first, the median and the maximum; ``first_per_episode``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

import bandits
from bandits.bounds import fluid_bound
from bandits.evaluate import start_states
from bandits.fluid import warm_start_mismatch
from engine.io import atomic_write_json
from engine.suites import parse_int_list

DEFAULT_DOMAINS = "path,multiple_interventions,capacity,matching"


class _Timed:
    """A policy whose every decision is timed, wall clock and this process's CPU time (``evaluate``
    reports the wall median and maximum only; CPU time is what an idle core would take, the machine
    being shared)."""

    def __init__(self, policy) -> None:
        self.policy, self.name = policy, policy.name
        self.times: list[float] = []
        self.cpu: list[float] = []
        if callable(getattr(policy, "act_at", None)):  # evaluate tells such a policy the steps left
            self.act_at = self._act_at

    def reset(self, seed) -> None:
        self.policy.reset(seed)

    def _timed(self, decide, *args):
        t0, c0 = time.perf_counter(), time.process_time()
        a = decide(*args)
        self.times.append(time.perf_counter() - t0)
        self.cpu.append(time.process_time() - c0)
        return a

    def act(self, state):
        return self._timed(self.policy.act, state)

    def _act_at(self, state, steps_left):
        return self._timed(self.policy.act_at, state, steps_left)


def run_case(dom: str, J: int, B: int, seed: int, H: int, episodes: int, methods: list[str],
             max_rounds: int | None, bound_coupling: str = "hull", bound_time_limit: float | None = None,
             policy_coupling: str = "hull", resolve_every: int = 1, warm: bool = True,
             policy_horizon: int | None = None, argmax_nodes: int | None = None) -> dict:
    t0 = time.perf_counter()
    p = bandits.make_domain(dom, n_arms=J, budget=B, seed=seed)
    make_time = time.perf_counter() - t0
    starts = start_states(p, episodes, seed=seed)
    t0 = time.perf_counter()
    couplings = ["hull", "relaxation"] if bound_coupling == "both" else [bound_coupling]
    found = {c: fluid_bound(p, horizon=H, initial=starts, coupling=c, time_limit=bound_time_limit) for c in couplings}
    # every certified value is a valid upper bound: quote the smallest
    best = min(found, key=lambda c: found[c].certified)
    b = found[best]
    rec = {"domain": dom, "J": J, "B": B, "seed": seed, "H": H, "episodes": episodes, "make_domain_time": make_time,
           "bound": b.certified, "bound_from": best, "lp_value": b.value, "bound_status": b.status.value,
           "bound_time": time.perf_counter() - t0, "bound_pricing": b.pricing, "bound_rounds": b.params["rounds"],
           "lp_rows": b.n_rows, "lp_cols": b.n_cols,
           "bounds": {c: {"certified": r.certified, "value": r.value, "status": r.status.value, "time": r.runtime}
                      for c, r in found.items()}}
    Hp = H if policy_horizon is None else policy_horizon
    for m in methods:
        if m == "fluid":
            opts: dict = {"coupling": policy_coupling, "resolve_every": resolve_every, "argmax_nodes": argmax_nodes}
            if max_rounds is not None:
                opts["max_rounds"] = max_rounds
            source = found.get(policy_coupling) if Hp == H else None
            if warm and Hp != H:
                # a shorter look-ahead: its warm start is the LP of the policy's horizon on the same
                # starts (an offline step of its own, timed apart from the quoted bound)
                t2 = time.perf_counter()
                source = fluid_bound(p, horizon=Hp, initial=starts, coupling=policy_coupling,
                                     group_arms=False)  # the policy's LP: one unit per arm
                rec["policy_lp_time"] = time.perf_counter() - t2
            if warm and source is not None and not warm_start_mismatch(source, horizon=Hp, coupling=policy_coupling):
                opts["warm_start"] = source
            pol = bandits.policies.fluid(p, horizon=Hp, **opts)
        elif m == "myopic":
            pol = bandits.policies.myopic(p)
        else:
            pol = getattr(bandits.policies, m)(p)
        t1 = time.perf_counter()
        timed = _Timed(pol)
        res = bandits.evaluate(p, timed, episodes=episodes, horizon=H, seed=seed)
        ts, cpu = np.asarray(timed.times), np.asarray(timed.cpu)
        rec[m] = {"policy_horizon": Hp if m == "fluid" else None, "mean": res.mean, "sem": res.sem, "pct": 100 * res.mean / b.certified,
                  "decision_time_mean": res.decision_time_mean, "decision_time_max": res.decision_time_max,
                  "decision_time_median": res.decision_time_median,
                  # evaluate runs the episodes in lockstep: decision e of step 0 is episode e's first
                  "decisions_s": {"first": float(ts[0]), "median": float(np.median(ts)), "max": float(ts.max()),
                                  "first_per_episode": ts[:episodes].tolist(), "all": ts.tolist()},
                  "decisions_cpu_s": {"first": float(cpu[0]), "median": float(np.median(cpu)), "max": float(cpu.max()),
                                      "all": cpu.tolist()},
                  "wall": time.perf_counter() - t1}
        if m == "fluid":
            rec[m]["warm_start"] = "warm_start" in opts
            rec[m]["stats"] = {k: v for k, v in pol.stats.items() if isinstance(v, (int, float, bool))}
    return rec


def table(records: list[dict], methods: list[str]) -> str:
    lines = []
    head = f"{'domain':<24}{'J':>4}{'seed':>5}{'bound':>9}{'t_bound':>9}"
    for m in methods:
        head += f"{m + ' %':>11}{'t_dec ' + m[:6]:>14}"
    lines.append(head)
    for r in records:
        row = f"{r['domain']:<24}{r['J']:>4}{r['seed']:>5}{r['bound']:>9.3f}{r['bound_time']:>8.2f}s"
        for m in methods:
            row += f"{r[m]['pct']:>10.1f}%{1000 * r[m]['decision_time_mean']:>12.1f}ms"
        lines.append(row)
    lines.append("")
    lines.append("mean over seeds (value as % of the certified bound; SEM of the policy value in % of the bound)")
    head = f"{'domain':<24}{'J':>4}{'bound':>9}{'t_bound':>9}"
    for m in methods:
        head += f"{m + ' %':>16}{'t_dec ' + m[:6]:>14}"
    lines.append(head)
    groups: dict[tuple, list[dict]] = {}
    for r in records:
        groups.setdefault((r["domain"], r["J"]), []).append(r)
    for (dom, J), rs in groups.items():
        row = f"{dom:<24}{J:>4}{np.mean([r['bound'] for r in rs]):>9.2f}{np.mean([r['bound_time'] for r in rs]):>8.2f}s"
        for m in methods:
            pct = np.mean([r[m]["pct"] for r in rs])
            sem = math.sqrt(sum((100 * r[m]["sem"] / r["bound"]) ** 2 for r in rs)) / len(rs)
            row += f"{pct:>9.1f}±{sem:>4.1f}%{1000 * np.mean([r[m]['decision_time_mean'] for r in rs]):>12.1f}ms"
        lines.append(row)
    return "\n".join(lines)


def scale_table(records: list[dict], methods: list[str]) -> str:
    """One row per (domain, J, seed): both bounds, each method's % of the quoted (smaller) certified
    bound, decision time median / max, bound time."""
    head = f"{'domain':<12}{'J':>5}{'seed':>5}{'relax':>10}{'hull':>10}{'t_bound':>9}"
    for m in methods:
        head += f"{m + ' %':>10}{'first/med/max ms':>22}{'cpu first/med/max':>22}"
    lines = [head]
    for r in records:
        bs = r["bounds"]
        cell = {c: (f"{bs[c]['certified']:.3f}" if c in bs and math.isfinite(bs[c]["certified"]) else "-")
                for c in ("relaxation", "hull")}
        row = f"{r['domain']:<12}{r['J']:>5}{r['seed']:>5}{cell['relaxation']:>10}{cell['hull']:>10}{r['bound_time']:>8.1f}s"
        for m in methods:
            d = r[m]
            dd = d.get("decisions_s", {})
            row += (f"{d['pct']:>9.1f}%{1000 * dd.get('first', math.nan):>8.0f}/"
                    f"{1000 * d.get('decision_time_median', math.nan):.1f}/{1000 * d['decision_time_max']:<7.0f}")
            dc = d.get("decisions_cpu_s", {})
            row += (f"{1000 * dc.get('first', math.nan):>10.0f}/{1000 * dc.get('median', math.nan):.1f}/"
                    f"{1000 * dc.get('max', math.nan):<7.0f}")
        lines.append(row)
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--domain", default=DEFAULT_DOMAINS)
    ap.add_argument("--sizes", default="20:5", help="J:B pairs, e.g. 20:5,100:20")
    ap.add_argument("--seeds", default="0-4")
    ap.add_argument("--horizon", type=int, default=20)
    ap.add_argument("--episodes", type=int, default=20, help="Monte Carlo episodes (and start states of the bound)")
    ap.add_argument("--methods", default="fluid,myopic")
    ap.add_argument("--max-rounds", type=int, default=None,
                    help="column-generation rounds per fluid decision (default: until converged)")
    ap.add_argument("--bound-coupling", default="hull", choices=["hull", "relaxation", "both"],
                    help="the bound quoted (both: the smaller certified value of the two)")
    ap.add_argument("--bound-time-limit", type=float, default=None,
                    help="seconds for each bound (the hull's certified value stays valid when cut)")
    ap.add_argument("--policy-coupling", default="hull", choices=["hull", "relaxation"],
                    help="the LP the fluid policy re-solves at each decision")
    ap.add_argument("--resolve-every", type=int, default=1,
                    help="fluid: re-solve the LP at most every k decisions (kept duals in between)")
    ap.add_argument("--policy-horizon", type=int, default=None,
                    help="fluid: the look-ahead of the policy's LP (default --horizon; the policy is still "
                         "evaluated over --horizon steps against the --horizon-step bound)")
    ap.add_argument("--no-warm-start", action="store_true",
                    help="start the fluid policy's first LP cold instead of from the bound's basis")
    ap.add_argument("--argmax-nodes", type=int, default=None,
                    help="fluid on path: cap the argmax's branch-and-bound at this many nodes (default: proven)")
    ap.add_argument("--out", default="bench_out/fluid_bound")
    args = ap.parse_args(argv)
    domains = args.domain.split(",")
    sizes = [tuple(int(x) for x in s.split(":")) for s in args.sizes.split(",")]
    methods = args.methods.split(",")
    records = []
    out = Path(args.out)
    t_all = time.perf_counter()
    for J, B in sizes:
        for dom in domains:
            for seed in parse_int_list(args.seeds):
                rec = run_case(dom, J, B, seed, args.horizon, args.episodes, methods, args.max_rounds,
                               args.bound_coupling, args.bound_time_limit, args.policy_coupling,
                               args.resolve_every, not args.no_warm_start, args.policy_horizon,
                               args.argmax_nodes)
                rec["load_avg_1min"] = os.getloadavg()[0]  # other processes share the machine's cores
                records.append(rec)
                out.mkdir(parents=True, exist_ok=True)
                atomic_write_json(out / "fluid_bound.json", {"config": vars(args), "records": records})
                print(f"[{time.perf_counter() - t_all:7.1f}s] {dom} J={J} seed={seed}: bound {rec['bound']:.3f} "
                      + " ".join(f"{m} {rec[m]['pct']:.1f}%" for m in methods), file=sys.stderr, flush=True)
    print(table(records, methods))
    print()
    print(scale_table(records, methods))
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "fluid_bound.json", {"config": vars(args), "records": records})
    print(f"\ntotal {time.perf_counter() - t_all:.0f}s; wrote {out / 'fluid_bound.json'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
