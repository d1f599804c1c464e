"""The ``games`` suite of ``engine-bench``: random games, QRE at several λ, Nash, Stackelberg.

Registered in ``pyproject.toml``::

    [project.entry-points."engine_bench.suites"]
    games = "games.suites:games_suite"

Run it with ``engine-bench run games --sizes 5,10,20 --lams 1,5,10``. Every run draws
``random_game(n, ..., n, seed=ctx.seed)`` (payoffs uniform in [0, 1]), times one solve and
reports its certificate next to the time:

* ``qre``: ``games.qre.logit_solve(game, lam)``: the fixed-point ``residual`` the solver reports
  and ``residual_check``, the same residual recomputed here from the game
  (``max |σ - softmax(λ u(σ))|``);
* ``nash``: ``games.nash.solve(game)``: the number of equilibria and their worst
  ``max_regret`` (reported and recomputed as ``max_regret_check``);
* ``stackelberg``: ``games.stackelberg.solve(game, leader=0)`` (two players only): the
  ``leader_value``, the ``follower_action`` and ``follower_regret``, how much the follower could
  gain by deviating from its action against the leader's commitment (≤ 0 up to round-off for a
  correct answer).

Each solver runs once on a 2x2 game per process before its first timed run (JIT compilation,
solver start-up); the run's clock (``--time-limit``) starts after it. Every run passes on what
the CLI hands it (:class:`engine.suites.RunContext`): the seed draws the game (and seeds the QRE
solver); ``--time-limit`` bounds the QRE solve (status ``time_limit`` with the last traced point)
and, for the solvers that take no time limit (Lemke-Howson, pure enumeration, Stackelberg), a
run whose time is already used up returns status ``time_limit`` without solving; ``--threads``
and the callback reach every solver that takes them (the callback sees QRE's iterations;
``StopIteration`` stops it with status ``stopped``). A run that raises is recorded with status
``error`` and the others still run.
"""

from __future__ import annotations

import math
import time
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from engine.errors import InvalidInputError
from engine.suites import (Case, RunContext, Suite, SuiteOption, float_list_at_least, int_at_least, int_list_at_least,
                           parse_choice_list)
from games import efg, nash, qre, stackelberg
from games.efg.lcp import sequence_form_lcp
from games.normal_form import random_game

__all__ = ["games_suite", "METHODS", "TREE_METHODS", "tree_cases"]

#: Methods of the suite, in table order.
METHODS = ("qre", "nash", "stackelberg")
#: Methods on game trees (``--instances`` with ``.efg`` files or ``gameplan/tree`` documents).
TREE_METHODS = ("spe", "nash", "stackelberg", "qre")

_MAX_CONTINGENCIES = 10**7  # per game: 80 MB of payoffs per player


def _status(result: Any) -> str:
    status = getattr(result, "status", None)
    return str(getattr(status, "value", status if status is not None else "ok"))


def _game(n: int, players: int, seed: int) -> Any:
    return random_game(*([n] * players), seed=seed)


def _logit_residual(game: Any, profile: Any, lam: Any) -> float:
    """``max |σ_p - softmax(λ_p u_p(σ))|`` recomputed from the game."""
    prof = [np.asarray(v, dtype=float) for v in profile]
    lams = np.broadcast_to(np.asarray(lam, dtype=float), (game.n_players,))
    worst = 0.0
    for p, u in enumerate(game.strategy_payoffs(prof)):
        z = lams[p] * (u - u.max())
        br = np.exp(z)
        br /= br.sum()
        worst = max(worst, float(np.abs(prof[p] - br).max()))
    return worst


_WARMED: set = set()


def _warm_up(method: str, solve: Any, players: int) -> None:
    """Run ``solve`` once on a tiny game per process, so JIT compilation and solver start-up
    do not land in the first timed run."""
    key = (method, players)
    if key not in _WARMED:
        _WARMED.add(key)
        solve(_game(2, players, 0))


def _out_of_time(ctx: RunContext) -> Optional[dict]:
    """The metrics of a run whose time limit is used up before it started (nothing solved)."""
    if ctx.expired():
        return {"status": "time_limit", "runtime": 0.0}
    return None


def _run_qre(n: int, players: int, lam: float) -> Any:
    def run(ctx: RunContext) -> Mapping[str, Any]:
        _warm_up("qre", lambda g: qre.logit_solve(g, 1.0), players)
        ctx = ctx.restarted()
        game = _game(n, players, ctx.seed)
        t0 = time.perf_counter()
        res = qre.logit_solve(game, lam, **ctx.options_for(qre.logit_solve))
        runtime = time.perf_counter() - t0
        return {"status": _status(res), "runtime": runtime, "residual": float(res.residual),
                "residual_check": _logit_residual(game, res.profile, lam)}

    return run


def _run_nash(n: int, players: int) -> Any:
    def run(ctx: RunContext) -> Mapping[str, Any]:
        _warm_up("nash", nash.solve, players)
        ctx = ctx.restarted()
        game = _game(n, players, ctx.seed)
        if (late := _out_of_time(ctx)) is not None:
            return late
        t0 = time.perf_counter()
        res = nash.solve(game, method="auto", **ctx.options_for(nash.solve))
        runtime = time.perf_counter() - t0
        equilibria = list(res.equilibria)
        regrets = [float(r) for r in np.asarray(res.max_regrets, dtype=float).ravel()]
        checks = [game.max_regret(list(eq) if not isinstance(eq, np.ndarray) else eq) for eq in equilibria]
        return {"status": _status(res), "runtime": runtime, "method": str(getattr(res, "method", "")),
                "n_equilibria": len(equilibria), "max_regret": max(regrets) if regrets else math.nan,
                "max_regret_check": max(checks) if checks else math.nan}

    return run


def _run_stackelberg(n: int) -> Any:
    def run(ctx: RunContext) -> Mapping[str, Any]:
        _warm_up("stackelberg", stackelberg.solve, 2)
        ctx = ctx.restarted()
        game = _game(n, 2, ctx.seed)
        if (late := _out_of_time(ctx)) is not None:
            return late
        t0 = time.perf_counter()
        res = stackelberg.solve(game, leader=0, **ctx.options_for(stackelberg.solve))
        runtime = time.perf_counter() - t0
        out = {"status": _status(res), "runtime": runtime, "leader_value": float(res.leader_value),
               "follower_action": int(res.follower_action)}
        x = getattr(res, "leader_strategy", None)
        if x is not None:
            follower = np.asarray(x, dtype=float) @ game.payoffs[1]
            out["follower_regret"] = float(follower.max() - follower[int(res.follower_action)])
        return out

    return run


def build_cases(*, sizes: Sequence[int], players: int = 2, lams: Sequence[float] = (1.0, 5.0, 10.0),
                methods: Optional[Sequence[str]] = None) -> list[Case]:
    """The suite's cases: per size, QRE at each λ, then Nash, then Stackelberg.

    ``methods=None`` runs every method that applies (Stackelberg only for two players);
    naming ``stackelberg`` explicitly with ``players != 2`` is an error.

    Examples
    --------
    >>> [c.name for c in build_cases(sizes=[3], lams=[1.0], methods=["qre", "nash"])]
    ['qre/n=3/lam=1', 'nash/n=3']
    >>> from engine.suites import RunContext
    >>> run = build_cases(sizes=[3], methods=["nash"])[0].run(RunContext(seed=0, repeat=0))
    >>> run["status"], run["max_regret"] <= 1e-9
    ('optimal', True)
    """
    where = "engine-bench run games"
    if players < 1:
        raise InvalidInputError(f"{where}: --players must be >= 1, got {players}")
    too_big = [n for n in sizes if n ** players > _MAX_CONTINGENCIES]
    if too_big:
        raise InvalidInputError(f"{where}: a game with {players} players and {too_big[0]} strategies each has "
                                f"{too_big[0] ** players} contingencies (limit {_MAX_CONTINGENCIES:g})")
    explicit = methods is not None
    chosen = list(methods) if methods is not None else list(METHODS)
    if "spe" in chosen:
        raise InvalidInputError(f"{where}: spe applies to game trees (--instances with .efg files)")
    if "stackelberg" in chosen and players != 2:
        if explicit:
            raise InvalidInputError(f"{where}: stackelberg needs --players 2, got {players}")
        chosen.remove("stackelberg")
    cases: list[Case] = []
    for n in sizes:
        base = {"n": n, "players": players}
        if "qre" in chosen:
            for lam in lams:
                cases.append(Case(f"qre/n={n}/lam={lam:g}", {**base, "method": "qre", "lam": lam},
                                  _run_qre(n, players, lam)))
        if "nash" in chosen:
            cases.append(Case(f"nash/n={n}", {**base, "method": "nash"}, _run_nash(n, players)))
        if "stackelberg" in chosen:
            cases.append(Case(f"stackelberg/n={n}", {**base, "method": "stackelberg"}, _run_stackelberg(n)))
    return cases


# ---------------------------------------------------------------------------- game trees
def _tree_metrics(game: Any, res: Any, t0: float) -> dict:
    """Status, time and the certificates of a tree result, recomputed from the game as well."""
    out: dict = {"status": _status(res), "runtime": time.perf_counter() - t0, "method": str(res.method),
                 "max_regret": float(res.max_regret)}
    if res.behavior:
        out["max_regret_check"] = game.max_regret(list(res.behavior))
        out["payoff_1"] = float(np.asarray(res.payoffs)[0])
    if res.subgame_regrets is not None:
        out["subgame_max_regret"] = float(res.subgame_max_regret)
        out["subgame_max_regret_check"] = float(game.subgame_regrets(list(res.behavior)).max(initial=0.0))
        out["subgames"] = len(res.subgame_regrets)
    return out


def tree_cases(name: str, game: Any, *, methods: Sequence[str] = TREE_METHODS, explicit: bool = False,
               lams: Sequence[float] = (1.0, 5.0, 10.0)) -> list[Case]:
    """The cases of one game tree (``name`` is its file):

    * ``spe``: :func:`games.efg.subgame_perfect` (backward induction, subgame decomposition) with
      ``max_regret`` and ``subgame_max_regret`` (reported and recomputed: ``*_check``);
    * ``nash``: two players: :func:`games.efg.sequence_form_lp` on constant-sum trees (with the
      ``value``), :func:`games.efg.lcp.sequence_form_lcp` (Lemke) otherwise; ``max_regret`` and
      its check;
    * ``stackelberg``: :func:`games.efg.stackelberg` with player 0 leading: ``leader_value`` and
      ``follower_regret``;
    * ``qre``: the agent logit QRE :func:`games.efg.logit_solve` at each of ``lams``: its
      fixed-point ``residual`` and the profile's ``max_regret`` (and check).

    Methods that do not apply (``nash``/``stackelberg`` with more than two players) are skipped,
    or refused when named explicitly (``explicit``)."""
    where = "engine-bench run games"
    base = {"instance": name, "players": game.n_players, "nodes": game.n_nodes, "infosets": game.n_infosets}
    cases: list[Case] = []
    for method in methods:
        if method not in TREE_METHODS or (method in ("nash", "stackelberg") and game.n_players != 2):
            if explicit:
                raise InvalidInputError(f"{where}: {method} does not apply to the game tree {name} "
                                        f"({game.n_players} players); tree methods: {', '.join(TREE_METHODS)}")
            continue
        if method == "qre":
            cases.extend(Case(f"qre/{name}/lam={lam:g}", {**base, "method": "qre", "lam": lam},
                              _run_tree(game, "qre", lam)) for lam in lams)
        else:
            cases.append(Case(f"{method}/{name}", {**base, "method": method}, _run_tree(game, method)))
    return cases


def _run_tree(game: Any, method: str, lam: float = 1.0) -> Any:
    def run(ctx: RunContext) -> Mapping[str, Any]:
        if (late := _out_of_time(ctx)) is not None:
            return late
        tl = ctx.remaining()
        t0 = time.perf_counter()
        res: Any
        if method == "spe":
            res = efg.subgame_perfect(game, time_limit=tl)
        elif method == "nash" and game.is_constant_sum():
            res = efg.sequence_form_lp(game, time_limit=tl)
        elif method == "nash":
            res = sequence_form_lcp(game, time_limit=tl, seed=ctx.seed)
        elif method == "qre":
            res = efg.logit_solve(game, lam, time_limit=tl, seed=ctx.seed, threads=ctx.threads)
        else:
            res = efg.stackelberg(game, 0, time_limit=tl)
        out = _tree_metrics(game, res, t0)
        if method == "nash" and game.is_constant_sum():
            out["value"] = float(res.value)
        if method == "qre":
            out["residual"] = float(res.residual)
        if method == "stackelberg":
            out["leader_value"] = float(res.value)
            out["follower_regret"] = float(res.follower_regret)
        return out

    return run


games_suite = Suite(
    name="games",
    description="Random n x n games: logit QRE at several lambda, Nash, Stackelberg; time and certificate per run.",
    build=build_cases,
    options=(
        SuiteOption("sizes", int_list_at_least(1, what="sizes"), [5, 10, 20], "strategies per player, e.g. 5,10,20"),
        SuiteOption("players", int_at_least(1, what="players"), 2, "number of players (Stackelberg needs 2)"),
        SuiteOption("lams", float_list_at_least(0.0, what="lambda"), [1.0, 5.0, 10.0], "QRE precisions, e.g. 1,5,10"),
        SuiteOption("methods", parse_choice_list("method", tuple(dict.fromkeys(METHODS + TREE_METHODS))), None, "subset of qre,nash,stackelberg (default: all that apply); "
                    "spe on game trees (--instances with .efg files)"),
    ),
)
