"""Subgame-perfect equilibria: backward induction in perfect-information trees, subgame
decomposition in general.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import time
from fractions import Fraction
from typing import Any, Callable, Optional

import numpy as np

from engine.errors import InvalidInputError, UnsupportedProblemError
from engine.status import Status
from engine.validation import check_time_limit
from games.efg.lcp import sequence_form_lcp
from games.efg.results import EFGResult, _check_game, _finish
from games.efg.sequence_form import sequence_form_lp
from games.efg.subgames import _structure, extend_profile, subgame_regrets, subtree_game
from games.efg.tree import ExtensiveFormGame


def _general_sum_equilibrium(game: ExtensiveFormGame, *, time_limit: Optional[float]) -> EFGResult:
    """The equilibrium solver of two-player general-sum subgames (one line to swap)."""
    return sequence_form_lcp(game, time_limit=time_limit)


# ====================================================================== backward induction
def _backward(g: ExtensiveFormGame, limit: int, all_equilibria: bool) -> tuple:
    """(per equilibrium (payoff vector in Fractions, ((infoset, action), ...)), cut) for a
    perfect-information tree; the first entry plays the first best action everywhere."""
    N = g.n_players
    zero = (Fraction(0),) * N
    # per node: list of (payoff vector, choices) where choices is a tuple of (infoset, action);
    # the first entry is the ties-to-first-action equilibrium
    sol: list = [None] * g.n_nodes
    cut = False
    for v in range(g.n_nodes - 1, -1, -1):
        o = g.node_outcome[v]
        own = g.outcome_payoffs[o] if o >= 0 else zero
        kids = g.node_children[v]
        if not kids:
            sol[v] = [(own, ())]
            continue
        h = g.node_infoset[v]
        pl = g.infoset_player[h]
        entries: list = []
        total = math.prod(len(sol[k]) for k in kids)
        for idx, combo in enumerate(itertools.product(*[sol[k] for k in kids])):
            choices = tuple(c for _, ch in combo for c in ch)
            if pl < 0:
                cont = tuple(sum((pr * val[i] for pr, (val, _) in zip(g.infoset_probs[h], combo)), Fraction(0))
                             for i in range(N))
                entries.append((tuple(a + b for a, b in zip(own, cont)), choices))
            else:
                top = max(val[pl] for val, _ in combo)
                for a, (val, _) in enumerate(combo):
                    if val[pl] == top:
                        entries.append((tuple(x + y for x, y in zip(own, val)), choices + ((h, a),)))
                        if not all_equilibria:
                            break
            if len(entries) >= limit:
                if all_equilibria and (len(entries) > limit or idx < total - 1):
                    cut = True
                entries = entries[:limit]
                break
        sol[v] = entries
    return sol[0], cut


def _profile(g: ExtensiveFormGame, choices: tuple) -> list:
    s = g._sequences()
    out = [np.zeros(s["n_seq"][p] - 1) for p in range(g.n_players)]
    for h, a in choices:
        out[g.infoset_player[h]][s["first_seq"][h] - 1 + a] = 1.0
    return out


def _validate_subgame_perfect(game: Any, all_equilibria: Any, max_equilibria: Any, time_limit: Any) -> tuple:
    where = "subgame_perfect()"
    g = _check_game(game, where)
    if not isinstance(all_equilibria, bool):
        raise InvalidInputError(f"{where}: all_equilibria must be a bool, got {all_equilibria!r}")
    if isinstance(max_equilibria, bool) or not isinstance(max_equilibria, int) or max_equilibria < 1:
        raise InvalidInputError(f"{where}: max_equilibria must be a positive integer, got {max_equilibria!r}")
    tl = check_time_limit(time_limit, where)
    if not g.is_perfect_information:
        if all_equilibria:
            raise UnsupportedProblemError(f"{where}: all_equilibria=True needs perfect information (every "
                                          "information set of a player a single node)")
        g._require_perfect_recall(where)
    return g, tl


def subgame_perfect(game: ExtensiveFormGame, /, *, all_equilibria: bool = False, max_equilibria: int = 10_000,
                    time_limit: Optional[float] = None) -> EFGResult:
    """A subgame-perfect equilibrium (behaviour strategies).

    Perfect-information trees: backward induction in exact rational arithmetic (ties go to the
    first action; chance nodes are averaged). With ``all_equilibria=True`` every pure
    subgame-perfect equilibrium is listed in ``equilibria`` (``behavior`` is the first, the one
    found without the option), up to ``max_equilibria`` (status FEASIBLE with a message when the
    list is cut).

    Other trees (perfect recall needed): subgame decomposition. The proper subgames
    (:meth:`ExtensiveFormGame.subgame_roots`) are solved deepest first, each with the subgames
    below it replaced by their values: by backward induction where what is left has perfect
    information, by :func:`sequence_form_lp` for two-player constant-sum ones, by
    :func:`sequence_form_lcp` (Lemke) for other two-player ones; an imperfect-information subgame with
    more than two players is refused (:class:`UnsupportedProblemError`). ``time_limit`` bounds
    the whole run (status TIME_LIMIT from the subgame that ran out).

    ``max_regret`` is the Nash certificate on the whole tree, ``subgame_regrets`` the max regret in
    every proper subgame and ``subgame_max_regret`` their largest (0 at a subgame-perfect
    equilibrium, up to the solvers' tolerances, about 1e-9 for the LP).

    Examples
    --------
    >>> from games.efg import kuhn_poker
    >>> r = subgame_perfect(kuhn_poker())      # no proper subgame below the root: the LP
    >>> round(float(r.payoffs[0]), 6), r.subgame_max_regret < 1e-9
    (-0.055556, True)
    """
    t0 = time.perf_counter()
    g, tl = _validate_subgame_perfect(game, all_equilibria, max_equilibria, time_limit)
    params = {"all_equilibria": all_equilibria, "max_equilibria": max_equilibria, "time_limit": tl}
    if g.is_perfect_information:
        first, cut = _backward(g, max_equilibria if all_equilibria else 1, all_equilibria)
        eqs = tuple(tuple(_profile(g, ch)) for _, ch in first)
        res = _finish(g, list(eqs[0]), status=Status.FEASIBLE if cut else Status.OPTIMAL, method="subgame_perfect",
                      backend="python", t0=t0, params=params,
                      message=(f"more than max_equilibria={max_equilibria} equilibria; the list is cut" if cut
                               else "backward induction"), objective=float(first[0][0][0]))
        sub = g.subgame_regrets(list(eqs[0]))
        return dataclasses.replace(res, equilibria=eqs if all_equilibria else (), subgame_regrets=sub,
                                   subgame_max_regret=float(sub.max(initial=0.0)))
    return _decompose(g, tl, t0, params)


def _decompose(g: ExtensiveFormGame, tl: Optional[float], t0: float, params: dict) -> EFGResult:
    where = "subgame_perfect()"
    st = _structure(g)
    pi = st["pi"]
    parents = g.node_parent.tolist()
    # a subgame inside a perfect-information subtree is solved with it by backward induction
    cuts = [r for r in st["roots"] if r == 0 or not pi[parents[r]]]
    s = g._sequences()
    behavior = [np.zeros(s["n_seq"][p] - 1) for p in range(g.n_players)]
    values: dict = {}
    status, nit = Status.OPTIMAL, 0
    used: list = []
    for r in reversed(cuts):
        sub, _nodes, iset_map = subtree_game(g, r, values)
        remaining = None if tl is None else max(0.0, tl - (time.perf_counter() - t0))
        if sub.is_perfect_information:
            first, _ = _backward(sub, 1, False)
            value, sub_beh = first[0][0], _profile(sub, first[0][1])
            used.append("backward induction")
        else:
            if sub.n_players != 2:
                raise UnsupportedProblemError(
                    f"{where}: the subgame at node {r} has imperfect information and {sub.n_players} players; "
                    "subgame decomposition solves imperfect-information subgames of two-player games only")
            solver: Callable[..., EFGResult] = (sequence_form_lp if sub.is_constant_sum() else
                                                _general_sum_equilibrium)
            res = solver(sub, time_limit=remaining)
            nit += res.nit
            used.append(res.method)
            if not res.behavior:
                return EFGResult(status=res.status, message=f"{where}: the subgame at node {r}: {res.message}",
                                 runtime=time.perf_counter() - t0, method="subgame_perfect", backend=res.backend,
                                 params=params, nit=nit)
            if res.status is not Status.OPTIMAL and status is Status.OPTIMAL:
                status = res.status
            sub_beh = list(res.behavior)
            value = tuple(Fraction(repr(float(x))) for x in sub.behavior_payoffs(sub_beh))
        values[r] = value
        extend_profile(g, sub, iset_map, sub_beh, behavior)
    methods = ", ".join(f"{m} x{used.count(m)}" for m in dict.fromkeys(used))
    res = _finish(g, behavior, status=status, method="subgame_perfect", backend="python+highs", t0=t0,
                  params=params, nit=nit, objective=float(values[0][0]),
                  message=f"subgame decomposition: {len(cuts)} subgames ({methods})")
    sub_reg = g.subgame_regrets(behavior)
    return dataclasses.replace(res, subgame_regrets=sub_reg, subgame_max_regret=float(sub_reg.max(initial=0.0)),
                               runtime=time.perf_counter() - t0)
