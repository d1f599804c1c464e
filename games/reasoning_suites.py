"""``engine-bench`` suites ``scne`` (S-CNE Monte Carlo) and ``gtalign`` (batch response selection).

Registered in ``pyproject.toml``::

    [project.entry-points."engine_bench.suites"]
    scne = "games.reasoning_suites:scne_suite"
    gtalign = "games.reasoning_suites:gtalign_suite"

``engine-bench run scne --games 100 --size 5 --epsilon 0,0.05,0.1``: one row per ``epsilon``;
each run draws ``--games`` random games (:func:`games.causal.random_causal_game`, seeds derived
from the run seed) and reports the mean, max and min welfare gain of the S-CNE over the strong
Stackelberg equilibrium, the share of games with a positive (> 1e-9) and a negative gain, the
mean leader-value gain and the levels the leaders chose.

``engine-bench run gtalign --input FILE [--output OUT] [--rule product]``: scores every matrix of a
JSON Lines file (:func:`games.gtalign.score_jsonl`) and reports counts, chosen actions and
throughput.

What the CLI hands a run (:class:`engine.suites.RunContext`) is passed on: the seed drives the
games (scne) and the tie-breaking (gtalign); ``--threads`` holds for the run's BLAS pools;
``--time-limit`` ends an scne run after the game in progress (status ``time_limit``, the
metrics over the games solved, ``games`` says how many) and the callback sees one ``Progress``
per game (``StopIteration``: status ``stopped``); gtalign's batch takes no time limit, so a run
whose time is used up before it starts returns ``time_limit`` without scoring.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from engine.errors import InvalidInputError
from engine.events import Progress
from engine.seeding import resolve_seed
from engine.suites import (Case, RunContext, Suite, SuiteOption, float_list_at_least, parse_choice,
                           parse_positive_int)
from games.causal import LEVELS, random_causal_game
from games.causal import solve as solve_scne
from games import gtalign

__all__ = ["scne_suite", "gtalign_suite"]


def _scne_build(games: int, size: int, epsilon: Sequence[float]) -> list:
    def make(eps: float) -> Case:
        def run(ctx: RunContext) -> Mapping[str, Any]:
            root = resolve_seed(ctx.seed)
            gains, lead, levels = [], [], {lv: 0 for lv in LEVELS}
            status = "ok"
            for k in range(games):
                if ctx.expired():
                    status = "time_limit"
                    break
                r = solve_scne(random_causal_game(size, epsilon=eps, seed=root.int_seed(f"scne.{k}")))
                gains.append(r.welfare_gain)
                lead.append(r.leader_value - r.stackelberg_leader_value)
                levels[r.level] += 1
                if ctx.emit(Progress("scne", completed=k + 1, total=games, description=f"scne eps={eps:g}")):
                    status = "stopped"
                    break
            g = np.array(gains, dtype=float)
            nan = float("nan")
            out = {"status": status, "games": len(gains), "mean_gain": float(g.mean()) if g.size else nan,
                   "max_gain": float(g.max()) if g.size else nan, "min_gain": float(g.min()) if g.size else nan,
                   "share_positive": float((g > 1e-9).mean()) if g.size else nan,
                   "share_negative": float((g < -1e-9).mean()) if g.size else nan,
                   "mean_leader_gain": float(np.mean(lead)) if lead else nan}
            out.update({f"level_{lv}": n for lv, n in levels.items()})
            return out

        return Case(name=f"eps={eps:g}", params={"epsilon": eps, "games": games, "size": size}, run=run)

    return [make(float(e)) for e in epsilon]


scne_suite = Suite(
    name="scne",
    description="S-CNE vs strong Stackelberg: welfare gain on random leader-follower games per epsilon",
    build=_scne_build,
    options=(SuiteOption("games", parse_positive_int, 100, "random games per run"),
             SuiteOption("size", parse_positive_int, 5, "actions per player"),
             SuiteOption("epsilon", float_list_at_least(0.0, what="epsilon"), [0.0, 0.05, 0.1], "follower satisficing tolerances")),
)


def _gtalign_build(input: str, output: str, rule: str, user_type: str) -> list:
    if not input:
        raise InvalidInputError("suite 'gtalign': --input FILE (JSON Lines of payoff matrices) is required")

    def run(ctx: RunContext) -> Mapping[str, Any]:
        ut: Any = None if user_type in ("", "all") else user_type
        if ut not in (None, "DQ", "VQ"):
            ut = float(ut)
        if ctx.expired():  # score_jsonl takes no time limit: the batch runs whole or not at all
            return {"status": "time_limit", "matrices": 0, "errors": 0, "runtime": 0.0}
        summary = gtalign.score_jsonl(input, output or None, rule=rule, user_type=ut,
                                       **ctx.options_for(gtalign.score_jsonl))
        out = {"status": "ok", "matrices": summary["matrices"], "errors": summary["errors"],
               "runtime": summary["seconds"], "matrices_per_second": summary["matrices_per_second"]}
        out.update({f"n_{a}": n for a, n in summary["actions"].items()})
        return out

    return [Case(name=f"gtalign:{rule}", params={"input": input, "output": output, "rule": rule,
                                                 "user_type": user_type}, run=run)]


gtalign_suite = Suite(
    name="gtalign",
    description="GTAlign: select responses for a JSON Lines batch of payoff matrices",
    build=_gtalign_build,
    options=(SuiteOption("input", str, "", "JSON Lines file of payoff matrices"),
             SuiteOption("output", str, "", "where to write the JSON Lines selections (optional)"),
             SuiteOption("rule", parse_choice("rule", gtalign.RULES), "product", "selection rule"),
             SuiteOption("user_type", str, "all", "all, DQ, VQ or a probability P(DQ)")),
)
