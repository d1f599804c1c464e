"""The ``cormab`` suite of ``engine-bench``: SEQUOIA against every baseline on the coRMAB domains.

``engine-bench run cormab --domain capacity --arms 20 --budget 5 --seeds 0-4`` builds one case
per (domain, J, B, seed): it generates the domain, trains SEQUOIA, evaluates SEQUOIA and the
baselines on the same evaluation seed (50 episodes of H = 20 by default) and reports each
method's mean per-step expected reward and decision time. The summary table gives mean ± SEM over
seeds per method and SEQUOIA's gain over the best baseline.
"""

from __future__ import annotations

import math
import time
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from engine.suites import Case, RunContext, Suite, SuiteOption, parse_int_list, parse_str_list

__all__ = ["cormab_suite", "run_cormab", "summarize_cormab", "BASELINES", "plot_learning_curves"]

BASELINES = ("null", "random", "sampling", "myopic", "iterative_myopic", "whittle", "iterative_dqn")
_DOMAINS = ("path", "matching", "capacity", "multiple_interventions")


def run_cormab(domain: str, n_arms: int, budget: int, seed: int, *, episodes: int = 100, eval_episodes: int = 50,
               horizon: int = 20, methods: Sequence[str] = ("null", "random", "sampling", "myopic", "iterative_myopic",
                                                             "iterative_dqn", "sequoia"),
               sequoia_options: Optional[Mapping[str, Any]] = None, callback: Any = None) -> dict[str, Any]:
    """One benchmark run: returns a flat mapping of metrics (``<method>_mean``, ``<method>_time``, ...)."""
    from bandits import policies
    from bandits.domains import make_domain
    from bandits.evaluate import evaluate
    from bandits.sequoia import Sequoia

    problem = make_domain(domain, n_arms=n_arms, budget=budget, seed=seed)
    out: dict[str, Any] = {"domain": domain, "n_arms": n_arms, "budget": budget, "seed": seed}
    eval_seed = 10_000 + seed
    curves: dict[str, list] = {}
    for m in methods:
        t0 = time.perf_counter()
        if m == "sequoia" or m == "iterative_dqn":
            opts = dict(sequoia_options or {})
            opts.setdefault("horizon", horizon)
            # decisions: exact enumeration up to 300k actions (capacity J=20 has up to ~250k), else the
            # network MIP; training: exact up to 20k actions, greedy maximisation beyond
            opts.setdefault("train_selection", "greedy")
            if m == "sequoia":
                opts.setdefault("enumerate_limit", 300_000)
            if m == "iterative_dqn":
                opts["action_selection"] = "greedy"
            agent = Sequoia(problem, seed=seed, **opts)
            tr = agent.train(episodes=episodes, progress=callback)
            out[f"{m}_train_time"] = time.perf_counter() - t0
            curves[m] = list(map(float, tr.history))
            st = tr.solver_stats
            out[f"{m}_params"] = {k: v for k, v in tr.params.items()}
            out[f"{m}_solves_per_step"] = st["solves_per_step"]
            out[f"{m}_time_per_solve"] = st["time_per_solve"]
            out[f"{m}_fraction_proven"] = st["fraction_proven_optimal"]
            out[f"{m}_fallbacks"] = st["fallbacks"]
            out[f"{m}_selection"] = st["mode"] + ("+greedy-in-training" if agent._greedy_in_training()
                                                  and m != "iterative_dqn" else "")
            pol = agent.policy(name=m)
        elif m == "whittle":
            if not problem.is_budget_only:
                continue
            pol = policies.whittle(problem)
        elif m == "random":
            pol = policies.random(problem, seed=seed)
        elif m == "sampling":
            pol = policies.sampling(problem, seed=seed)
        else:
            pol = getattr(policies, m)(problem)
        before = dict(agent.stats) if m in ("sequoia", "iterative_dqn") else None
        res = evaluate(problem, pol, episodes=eval_episodes, horizon=horizon, seed=eval_seed)
        if before is not None:  # the argmax solves of the evaluation alone (training's are recorded above)
            d = {k: agent.stats[k] - before[k] for k in ("solves", "solve_time", "proven_optimal", "fallbacks",
                                                         "decisions")}
            out[f"{m}_eval_solves"] = int(d["solves"])
            out[f"{m}_eval_time_per_solve"] = d["solve_time"] / d["solves"] if d["solves"] else math.nan
            out[f"{m}_eval_fraction_proven"] = d["proven_optimal"] / d["solves"] if d["solves"] else math.nan
            out[f"{m}_eval_fallbacks"] = int(d["fallbacks"])
            out[f"{m}_eval_decisions"] = int(d["decisions"])
        out[f"{m}_mean"] = res.mean
        out[f"{m}_sem"] = res.sem
        out[f"{m}_decision_time"] = res.decision_time_median
    out["curves"] = curves
    base = [out[f"{m}_mean"] for m in methods if m not in ("sequoia",) and f"{m}_mean" in out]
    if "sequoia_mean" in out and base:
        best = max(base)
        out["gain_pct"] = 100.0 * (out["sequoia_mean"] - best) / abs(best) if best else math.nan
    return out


def summarize_cormab(records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Mean ± SEM over seeds per (domain, J, B) and method, and SEQUOIA's gain over the best baseline."""
    groups: dict[tuple, list] = {}
    for r in records:
        if r.get("status") == "error":
            continue
        m = r.get("metrics", r)
        groups.setdefault((m["domain"], m["n_arms"], m["budget"]), []).append(m)
    rows = []
    for (dom, J, B), ms in groups.items():
        methods = [k[:-5] for k in ms[0] if k.endswith("_mean")]
        means = {}
        for meth in methods:
            vals = np.array([m[f"{meth}_mean"] for m in ms if f"{meth}_mean" in m])
            t = np.array([m[f"{meth}_decision_time"] for m in ms if f"{meth}_decision_time" in m])
            sem = float(vals.std(ddof=1) / math.sqrt(len(vals))) if len(vals) > 1 else math.nan
            means[meth] = float(vals.mean())
            row = {"case": f"{dom} J={J} B={B}", "method": meth, "mean": float(vals.mean()), "sem": sem,
                   "seeds": len(vals), "decision_time_s": float(np.median(t))}
            if f"{meth}_train_time" in ms[0]:
                row["train_time_s"] = float(np.mean([m[f"{meth}_train_time"] for m in ms]))
            rows.append(row)
        if "sequoia" in means:
            best_name, best = max(((k, v) for k, v in means.items() if k != "sequoia"), key=lambda kv: kv[1])
            rows.append({"case": f"{dom} J={J} B={B}", "method": f"gain vs {best_name}",
                         "mean": 100.0 * (means["sequoia"] - best) / abs(best), "sem": math.nan, "seeds": len(ms)})
    return rows


def plot_learning_curves(records: Sequence[Mapping[str, Any]], path: Any) -> None:
    """A PNG of SEQUOIA's training curves (per-episode mean expected reward), one panel per case."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from engine.io import atomic_path

    groups: dict[str, list] = {}
    for r in records:
        m = r.get("metrics", r)
        if "curves" in m and m["curves"]:
            groups.setdefault(f"{m['domain']} J={m['n_arms']} B={m['budget']}", []).append(m["curves"])
    if not groups:
        return
    fig, axes = plt.subplots(1, len(groups), figsize=(4.5 * len(groups), 3.5), squeeze=False)
    for ax, (name, runs) in zip(axes[0], groups.items()):
        for curves in runs:
            for meth, c in curves.items():
                ax.plot(np.arange(1, len(c) + 1), c, alpha=0.6, label=meth)
        ax.set_title(name)
        ax.set_xlabel("episode")
        ax.set_ylabel("mean expected reward / step")
    handles, labels = axes[0][0].get_legend_handles_labels()
    uniq = dict(zip(labels, handles))
    axes[0][0].legend(uniq.values(), uniq.keys(), fontsize=7)
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)


def _parse_domains(text: str) -> list[str]:
    names = parse_str_list(text)
    if names == ["all"]:
        return list(_DOMAINS)
    for n in names:
        if n not in _DOMAINS + ("budget",):
            raise ValueError(f"unknown domain {n!r}")
    return names


def _build(domain: list, arms: list, budget: list, seeds: list, episodes: int, eval_episodes: int, horizon: int,
           methods: list, plot: str) -> list[Case]:
    if len(arms) != len(budget):
        raise ValueError("--arms and --budget must have the same number of entries (paired sizes)")
    cases = []
    for dom in domain:
        for J, B in zip(arms, budget):
            for s in seeds:
                def run(ctx: RunContext, dom=dom, J=J, B=B, s=s) -> dict:
                    t0 = time.perf_counter()
                    out = run_cormab(dom, J, B, s, episodes=episodes, eval_episodes=eval_episodes, horizon=horizon,
                                     methods=methods)
                    out["runtime"] = time.perf_counter() - t0
                    if plot:
                        plot_learning_curves([out], f"{plot.rstrip('/')}/curve_{dom}_J{J}_B{B}_s{s}.png")
                    return out
                cases.append(Case(name=f"{dom} J={J} B={B} seed={s}",
                                  params={"domain": dom, "n_arms": J, "budget": B, "seed": s}, run=run))
    return cases


cormab_suite = Suite(
    name="cormab",
    description="SEQUOIA vs baselines on combinatorial restless bandits (path, matching, capacity, interventions)",
    build=_build,
    options=(
        SuiteOption("domain", _parse_domains, ["capacity"], "domain(s) or 'all'"),
        SuiteOption("arms", parse_int_list, [20], "J values (paired with --budget)"),
        SuiteOption("budget", parse_int_list, [5], "B values"),
        SuiteOption("seeds", parse_int_list, [0], "instance/training seeds, e.g. 0-4"),
        SuiteOption("episodes", int, 100, "SEQUOIA training episodes"),
        SuiteOption("eval_episodes", int, 50, "evaluation episodes"),
        SuiteOption("horizon", int, 20, "steps per episode"),
        SuiteOption("methods", parse_str_list,
                    ["null", "random", "sampling", "myopic", "iterative_myopic", "iterative_dqn", "whittle", "sequoia"],
                    "methods to run"),
        SuiteOption("plot", str, "", "directory for learning-curve PNGs (empty: none)"),
    ),
    summarize=summarize_cormab,
)
