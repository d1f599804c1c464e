"""The ``cormab`` suite of ``engine-bench``: SEQUOIA against every baseline on the coRMAB domains.

``engine-bench run cormab --domain capacity --arms 20 --budget 5 --seeds 0-4`` builds one case
per (domain, J, B, seed): it generates the domain, trains SEQUOIA, evaluates SEQUOIA and the
baselines on the same evaluation seed (50 episodes of H = 20 by default) and reports each
method's mean per-step expected reward and decision time. The summary table gives mean ± SEM over
seeds per method and SEQUOIA's gain over the best baseline (in %).

What the CLI hands a run (:class:`engine.suites.RunContext`) reaches every method
(:func:`run_cormab`): ``--time-limit`` bounds the whole run, training and evaluation, and a run
that reaches it reports what it has with status ``time_limit``; ``--seed``/``--repeat`` give
other trainings and evaluations of the instances ``--seeds`` makes (``--seed 0``: the historical
streams); ``--threads`` sets SEQUOIA's torch threads and myopic's HiGHS threads (and every BLAS
pool of the run); the callback (the progress bar) sees each training episode and evaluation step,
and ``StopIteration`` from it stops the run (status ``stopped``).
"""

from __future__ import annotations

import math
import time
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from bandits import policies
from bandits.bounds import fluid_bound
from bandits.domains import make_domain
from bandits.evaluate import evaluate, start_states
from bandits.fluid import warm_start_mismatch
from engine.errors import InvalidInputError
from engine.io import atomic_path
from engine.seeding import derive_seed
from engine.suites import (Case, RunContext, Suite, SuiteOption, int_at_least, int_list_at_least, parse_choice_list,
                           parse_positive_list, parse_str_list)

__all__ = ["cormab_suite", "run_cormab", "summarize_cormab", "BASELINES", "plot_learning_curves", "gain_over_best"]

BASELINES = ("null", "random", "sampling", "myopic", "iterative_myopic", "whittle", "iterative_dqn", "fluid")
_DOMAINS = ("path", "matching", "capacity", "multiple_interventions")


def _run_seeds(seed: int, run_seed: Optional[int]) -> tuple[int, int]:
    """(training/policy seed, evaluation seed) of instance ``seed`` under the run seed ``run_seed``.

    Both follow ``seed``: with ``run_seed`` 0 or None the training seed is ``seed`` itself and the
    evaluation seed the independent SeedSequence stream ``derive_seed(seed, "cormab/eval")`` (it
    was ``10_000 + seed`` before issue 21); another run seed draws independent streams from both
    (keys ``cormab/run<k>/train`` and ``.../eval``), so ``--seed``/``--repeat`` give other
    trainings and evaluations of the same instances.
    """

    if not run_seed:
        return seed, derive_seed(seed, "cormab/eval")
    return derive_seed(seed, f"cormab/run{run_seed}/train"), derive_seed(seed, f"cormab/run{run_seed}/eval")


class _StopWatch:
    """Forwards events to ``callback`` and remembers whether it raised StopIteration."""

    def __init__(self, callback: Any) -> None:
        self.callback = callback
        self.stopped = False

    def __call__(self, event: Any) -> None:
        if self.callback is not None:
            try:
                self.callback(event)
            except StopIteration:
                self.stopped = True
                raise


def gain_over_best(means: Mapping[str, float], method: str = "sequoia") -> Optional[tuple[str, float]]:
    """``(best other method, 100 * (means[method] - best) / |best|)``, or None without ``method`` or
    another method; NaN when the best is 0.

    Examples
    --------
    >>> gain_over_best({"myopic": 2.0, "random": 1.0, "sequoia": 2.5})
    ('myopic', 25.0)
    """
    if method not in means:
        return None
    others = [(k, float(v)) for k, v in means.items() if k != method]
    if not others:
        return None
    name, best = max(others, key=lambda kv: kv[1])
    return name, 100.0 * (float(means[method]) - best) / abs(best) if best else math.nan


#: Share of a learning method's time (see :func:`run_cormab`) that training may use; evaluation gets the rest.
TRAIN_SHARE = 0.7


def run_cormab(domain: str, n_arms: int, budget: int, *, seed: int = 0, episodes: int = 100, eval_episodes: int = 50,
               horizon: int = 20, methods: Sequence[str] = ("null", "random", "sampling", "myopic", "iterative_myopic",
                                                             "iterative_dqn", "sequoia"),
               sequoia_options: Optional[Mapping[str, Any]] = None, callback: Any = None,
               time_limit: Optional[float] = None, threads: Optional[int] = None,
               run_seed: Optional[int] = None, problem: Any = None, bound: bool = True,
               each_start: bool = False, units: Any = None) -> dict[str, Any]:
    """One benchmark run: returns a flat mapping of metrics (``<method>_mean``, ``<method>_time``, ...).

    ``problem`` (a :class:`bandits.CoRMAB`, e.g. read from a user's file) replaces the generated
    instance; ``domain``, ``n_arms`` and ``budget`` then only label the record.

    ``seed`` makes the instance; the training, the randomised baselines and the evaluation draw
    from ``seed`` and ``run_seed`` (:func:`_run_seeds`; ``run_seed`` 0 or None: the historical
    streams). ``threads`` goes to SEQUOIA (torch threads) and to myopic's MIP solves.
    ``callback`` receives the training's ``Iteration``/``Progress`` events (one per episode) and
    the evaluations' ``Progress`` events (one per step); raising ``StopIteration`` in it ends
    the run: ``status`` ``"stopped"``, the methods not finished are left out.

    ``bound``: compute the certified fluid bound (:func:`bandits.bounds.fluid_bound`) on the
    evaluation's start states first (``certified_bound``, ``bound_time``) and report every method's
    value as a fraction of it (``<method>_fraction``): what any policy could still gain. The fluid
    policy then starts its first decision from the bound's final basis (``warm_start=``, the same
    LP but for the start state: a warm re-solve instead of a cold solve; ``fluid_warm_start``),
    except where the bound's LP does not fit the policy's (multiple interventions with arms merged
    into units: ``fluid_warm_start_skipped`` gives the reason). A warm start changes the work per
    decision, not the LP's value. ``each_start=True``: the bound is the average of every start
    state's own bound (:func:`bandits.bounds.fluid_bound` ``each_start``; tighter, one LP re-solve
    per distinct start). ``units``: the bound's units (``fluid_bound(units=)``), or ``"matching"``:
    pairs of neighbouring arms on the domain's graph (:func:`bandits.bounds.matching_units`; the
    path domain); the fluid policy then starts cold (its LP has one unit per arm).

    ``time_limit`` (seconds) bounds the whole run, training and evaluation: each method in turn
    gets an equal share of the time left (what a fast baseline does not use passes on), a learning
    method trains for up to :data:`TRAIN_SHARE` of its share (status of the training:
    ``<method>_train_status``) and the evaluations stop at their share with the estimate over the
    steps done (``<method>_eval_steps``). A run cut short has ``status`` ``"time_limit"``; methods
    not started are left out (``skipped``). The metrics' ``status`` is otherwise ``"feasible"``
    (a Monte Carlo estimate).
    """
    from bandits.sequoia import Sequoia  # on first use: it loads torch

    t_start = time.perf_counter()
    deadline = math.inf if time_limit is None else t_start + time_limit
    if problem is None:
        problem = make_domain(domain, n_arms=n_arms, budget=budget, seed=seed)
    train_seed, eval_seed = _run_seeds(seed, run_seed)
    out: dict[str, Any] = {"domain": domain, "n_arms": n_arms, "budget": budget, "seed": seed,
                           "train_seed": train_seed, "eval_seed": eval_seed}
    if threads is not None:
        out["threads"] = threads
    curves: dict[str, list] = {}
    status = "feasible"
    skipped: list[str] = []
    todo = [m for m in methods if not (m == "whittle" and not problem.is_budget_only)]
    certified = math.nan
    fb: Any = None
    if bound and time.perf_counter() < deadline:
        t0 = time.perf_counter()
        left = max((deadline - t0) / (len(todo) + 1), 1e-6) if math.isfinite(deadline) else None
        fb = fluid_bound(problem, horizon=horizon, initial=start_states(problem, eval_episodes, seed=eval_seed),
                         time_limit=left, threads=threads or 1, each_start=each_start, units=units)
        certified = float(fb.certified)
        out.update({"certified_bound": certified, "bound_time": time.perf_counter() - t0,
                    "bound_status": fb.status.value})
    for i, m in enumerate(todo):
        now = time.perf_counter()
        if status == "stopped" or now >= deadline:
            if status != "stopped":
                status = "time_limit"
            skipped.append(m)
            continue
        share_end = now + (deadline - now) / (len(todo) - i) if math.isfinite(deadline) else math.inf
        t0 = now
        agent: Any = None
        if m == "sequoia" or m == "iterative_dqn":
            opts = dict(sequoia_options or {})
            opts.setdefault("horizon", horizon)
            if threads is not None:
                opts.setdefault("threads", threads)
            # decisions: exact enumeration up to 300k actions (capacity J=20 has up to ~250k), else the
            # network MIP; training: exact up to 20k actions, greedy maximisation beyond
            opts.setdefault("train_selection", "greedy")
            if m == "sequoia":
                opts.setdefault("enumerate_limit", 300_000)
            if m == "iterative_dqn":
                opts["action_selection"] = "greedy"
            agent = Sequoia(problem, seed=train_seed, **opts)
            train_end = t0 + TRAIN_SHARE * (share_end - t0) if math.isfinite(share_end) else math.inf
            watch = _StopWatch(callback)
            tr = agent.train(episodes=episodes, callback=watch if callback is not None else None,
                             time_limit=None if not math.isfinite(train_end)
                             else max(train_end - time.perf_counter(), 1e-6))
            out[f"{m}_train_time"] = time.perf_counter() - t0
            out[f"{m}_train_episodes"] = int(tr.episodes)
            train_status = tr.status.value
            if watch.stopped or train_status == "stopped":
                status = train_status = "stopped"
            elif train_status == "time_limit":
                status = "time_limit"
            out[f"{m}_train_status"] = train_status
            curves[m] = list(map(float, tr.curve("return")))
            st = tr.stats
            out[f"{m}_params"] = {**tr.params["config"], **{k: v for k, v in tr.params.items() if k != "config"}}
            out[f"{m}_solves_per_step"] = st["solves_per_step"]
            out[f"{m}_time_per_solve"] = st["time_per_solve"]
            out[f"{m}_fraction_proven"] = st["fraction_proven_optimal"]
            out[f"{m}_fallbacks"] = st["fallbacks"]
            out[f"{m}_selection"] = st["mode"] + ("+greedy-in-training" if agent._greedy_in_training()
                                                  and m != "iterative_dqn" else "")
            if status == "stopped":
                continue
            pol = agent.policy(name=m)
        elif m == "whittle":
            pol = policies.whittle(problem)
        elif m == "random":
            pol = policies.random(problem, seed=train_seed)
        elif m == "sampling":
            pol = policies.sampling(problem, seed=train_seed)
        elif m == "myopic":
            pol = policies.myopic(problem, **({} if threads is None else {"threads": threads}))
        elif m == "fluid":
            # the bound's LP is the policy's (same horizon, hull) but where it merges intervention arms
            why = warm_start_mismatch(fb, horizon=horizon, coupling="hull") if fb is not None else "no bound computed"
            pol = policies.fluid(problem, horizon=horizon, threads=threads or 1, warm_start=None if why else fb)
            out["fluid_warm_start"] = not why
            if why:
                out["fluid_warm_start_skipped"] = why
        else:
            pol = getattr(policies, m)(problem)
        before = dict(agent.stats) if agent is not None else None
        left = share_end - time.perf_counter()
        if left <= 0 and math.isfinite(share_end):
            status = "time_limit"
            skipped.append(m)
            continue
        res = evaluate(problem, pol, episodes=eval_episodes, horizon=horizon, seed=eval_seed, callback=callback,
                       time_limit=None if not math.isfinite(share_end) else max(left, 1e-6),
                       bound=certified if math.isfinite(certified) else None)
        if res.status.value == "stopped":
            status = "stopped"
        elif res.status.value == "time_limit" and status != "stopped":
            status = "time_limit"
        out[f"{m}_eval_steps"] = int(res.params["steps_done"])
        if before is not None:  # the argmax solves of the evaluation alone (training's are recorded above)
            d = {k: agent.stats[k] - before[k] for k in ("solves", "solve_time", "proven_optimal", "fallbacks",
                                                         "decisions")}
            out[f"{m}_eval_solves"] = int(d["solves"])
            out[f"{m}_eval_time_per_solve"] = d["solve_time"] / d["solves"] if d["solves"] else math.nan
            out[f"{m}_eval_fraction_proven"] = d["proven_optimal"] / d["solves"] if d["solves"] else math.nan
            out[f"{m}_eval_fallbacks"] = int(d["fallbacks"])
            out[f"{m}_eval_decisions"] = int(d["decisions"])
        if res.params["steps_done"] > 0:
            out[f"{m}_mean"] = res.mean
            out[f"{m}_sem"] = res.sem
            out[f"{m}_decision_time"] = res.decision_time_median
            if math.isfinite(res.fraction_of_bound):
                out[f"{m}_fraction"] = res.fraction_of_bound
    out["curves"] = curves
    out["status"] = status
    if skipped:
        out["skipped"] = ",".join(skipped)
    # the gain compares estimates over the same steps only (a time limit may cut evaluations short)
    same = {m: out[f"{m}_mean"] for m in methods if f"{m}_mean" in out
            and out.get(f"{m}_eval_steps") == out.get("sequoia_eval_steps")}
    gain = gain_over_best(same)
    if gain is not None:
        out["gain_pct"] = gain[1]
    return out


def summarize_cormab(records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Mean ± SEM over seeds per (domain, J, B) and method, and SEQUOIA's gain over the best baseline.

    With the certified bound in the records (``run_cormab(bound=True)``) every method's row has
    ``fraction_of_bound`` (mean over seeds of value / bound, and its SEM ``fraction_sem``) and a
    ``"certified bound"`` row gives the bound's mean and its time.

    ``sem`` is NaN (shown as ``—``) for one seed; the gain row's method says its unit (%).
    Failed runs and methods a time limit left out are not in the means (``seeds`` counts the
    runs that evaluated the method; ``cut`` how many of them a time limit or a stop cut short);
    no gain row when a run was cut short (its estimates cover fewer steps).
    """
    groups: dict[tuple, list] = {}
    for r in records:
        m = r.get("metrics", r)
        if r.get("status") == "error" or not all(k in m for k in ("domain", "n_arms", "budget")):
            continue
        groups.setdefault((m["domain"], m["n_arms"], m["budget"]), []).append((str(r.get("status", "")), m))
    rows = []
    for (dom, J, B), items in groups.items():
        methods: list[str] = []
        for _, m in items:
            methods += [k[:-5] for k in m if k.endswith("_mean") and k[:-5] not in methods]
        means = {}
        for meth in methods:
            have = [(st, m) for st, m in items if f"{meth}_mean" in m]
            vals = np.array([m[f"{meth}_mean"] for _, m in have], dtype=float)
            t = np.array([m.get(f"{meth}_decision_time", math.nan) for _, m in have], dtype=float)
            sem = float(vals.std(ddof=1) / math.sqrt(len(vals))) if len(vals) > 1 else math.nan
            means[meth] = float(vals.mean())
            row = {"case": f"{dom} J={J} B={B}", "method": meth, "mean": float(vals.mean()), "sem": sem,
                   "seeds": len(vals), "decision_time_s": float(np.median(t))}
            train = [m[f"{meth}_train_time"] for _, m in have if f"{meth}_train_time" in m]
            if train:
                row["train_time_s"] = float(np.mean(train))
            cut = sum(st in ("time_limit", "stopped") for st, _ in have)
            if cut:
                row["cut"] = cut
            fr = np.array([m[f"{meth}_fraction"] for _, m in have if f"{meth}_fraction" in m], dtype=float)
            if fr.size:
                row["fraction_of_bound"] = float(fr.mean())
                row["fraction_sem"] = float(fr.std(ddof=1) / math.sqrt(fr.size)) if fr.size > 1 else math.nan
            rows.append(row)
        bounds = [m for _, m in items if "certified_bound" in m]
        if bounds:
            vals = np.array([m["certified_bound"] for m in bounds], dtype=float)
            rows.append({"case": f"{dom} J={J} B={B}", "method": "certified bound", "mean": float(vals.mean()),
                         "sem": float(vals.std(ddof=1) / math.sqrt(len(vals))) if len(vals) > 1 else math.nan,
                         "seeds": len(vals), "decision_time_s": math.nan,
                         "bound_time_s": float(np.mean([m.get("bound_time", math.nan) for m in bounds]))})
        whole = not any(st in ("time_limit", "stopped") for st, _ in items)  # cut runs: estimates over fewer steps
        gain = gain_over_best(means)
        if gain is not None and whole:
            rows.append({"case": f"{dom} J={J} B={B}", "method": f"gain vs {gain[0]} (%)", "mean": gain[1],
                         "sem": math.nan, "seeds": len(items)})
    return rows


def plot_learning_curves(records: Sequence[Mapping[str, Any]], path: Any) -> None:
    """A PNG of SEQUOIA's training curves (per-episode mean expected reward), one panel per case."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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
            raise ValueError(f"unknown domain {n!r}; choose from {', '.join(_DOMAINS + ('budget',))} or all")
    return names


def _parse_on_off(text: str) -> bool:
    t = str(text).strip().lower()
    if t not in ("on", "off"):
        raise ValueError(f"must be on or off, got {text!r}")
    return t == "on"


class _CurvePlot:
    """``--plot FILE.png``: one figure of every case's curves, rewritten after each run of this build."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.records: list = []

    def add(self, out: Mapping[str, Any]) -> None:
        self.records.append(out)
        plot_learning_curves(self.records, self.path)


def _build(domain: list, arms: list, budget: list, seeds: list, episodes: int, eval_episodes: int, horizon: int,
           methods: list, plot: str, bound: bool = True) -> list[Case]:

    if len(arms) != len(budget):
        raise InvalidInputError(f"engine-bench run cormab: --arms and --budget must have the same number of entries "
                                f"(paired sizes), got {len(arms)} and {len(budget)}")
    bad = [(J, B) for J, B in zip(arms, budget) if B > J]
    if bad:
        raise InvalidInputError(f"engine-bench run cormab: --budget {bad[0][1]} exceeds --arms {bad[0][0]}")
    single = _CurvePlot(plot) if plot and plot.lower().endswith(".png") else None
    cases = []
    for dom in domain:
        for J, B in zip(arms, budget):
            for s in seeds:
                def run(ctx: RunContext, dom=dom, J=J, B=B, s=s) -> dict:
                    t0 = time.perf_counter()
                    out = run_cormab(dom, J, B, seed=s, episodes=episodes, eval_episodes=eval_episodes, horizon=horizon,
                                     methods=methods, callback=ctx.callback, time_limit=ctx.remaining(),
                                     threads=ctx.threads, run_seed=ctx.seed, bound=bound)
                    out["runtime"] = time.perf_counter() - t0
                    if single is not None:
                        single.add(out)
                    elif plot:
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
        SuiteOption("domain", _parse_domains, ["capacity"], "domain(s): path, matching, capacity, "
                    "multiple_interventions, budget, or 'all'"),
        SuiteOption("arms", parse_positive_list, [20], "J values, number of arms (paired with --budget)"),
        SuiteOption("budget", parse_positive_list, [5], "B values, the budget of each J (B <= J)"),
        SuiteOption("seeds", int_list_at_least(0), [0], "instance seeds, e.g. 0-4 (--seed/--repeat vary training "
                    "and evaluation)"),
        SuiteOption("episodes", int_at_least(0), 100, "SEQUOIA training episodes"),
        SuiteOption("eval_episodes", int_at_least(1), 50, "evaluation episodes"),
        SuiteOption("horizon", int_at_least(1), 20, "steps per episode"),
        SuiteOption("methods", parse_choice_list("method", BASELINES + ("sequoia",)),
                    ["null", "random", "sampling", "myopic", "iterative_myopic", "iterative_dqn", "whittle", "fluid",
                     "sequoia"],
                    "methods to run, e.g. myopic,sequoia"),
        SuiteOption("bound", _parse_on_off, True, "on: the certified fluid bound on the evaluation's start states "
                    "and every method as a fraction of it; off: none"),
        SuiteOption("plot", str, "", "learning curves: FILE.png (one figure of every case) or a directory (one PNG "
                    "per case); empty: none"),
    ),
    summarize=summarize_cormab,
)
