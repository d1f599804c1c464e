"""Subgame-perfect equilibria by backward induction.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import time
from fractions import Fraction

import numpy as np

from engine.errors import InvalidInputError, UnsupportedProblemError
from engine.status import Status
from games.efg.results import EFGResult, _check_game, _finish
from games.efg.tree import ExtensiveFormGame


# ====================================================================== backward induction
def subgame_perfect(game: ExtensiveFormGame, /, *, all_equilibria: bool = False,
                    max_equilibria: int = 10_000) -> EFGResult:
    """A pure subgame-perfect equilibrium of a perfect-information tree by backward induction
    (exact rational arithmetic; ties go to the first action). Chance nodes are averaged.

    With ``all_equilibria=True`` every pure subgame-perfect equilibrium is listed in
    ``equilibria`` (behaviour profiles; ``behavior`` is the first, the one found without the
    option), up to ``max_equilibria`` (status FEASIBLE with a message when the list is cut)."""
    t0 = time.perf_counter()
    where = "subgame_perfect()"
    g = _check_game(game, where)
    if not g.is_perfect_information:
        raise UnsupportedProblemError(f"{where}: backward induction needs perfect information (every "
                                      "information set of a player a single node)")
    if not isinstance(all_equilibria, bool):
        raise InvalidInputError(f"{where}: all_equilibria must be a bool, got {all_equilibria!r}")
    if isinstance(max_equilibria, bool) or not isinstance(max_equilibria, int) or max_equilibria < 1:
        raise InvalidInputError(f"{where}: max_equilibria must be a positive integer, got {max_equilibria!r}")
    N = g.n_players
    s = g._sequences()
    zero = (Fraction(0),) * N
    # per node: list of (payoff vector, choices) where choices is a tuple of (infoset, action);
    # the first entry is the ties-to-first-action equilibrium
    sol: list = [None] * g.n_nodes
    cut = False
    limit = max_equilibria if all_equilibria else 1
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

    def profile(choices: tuple) -> tuple:
        out = [np.zeros(s["n_seq"][p] - 1) for p in range(N)]
        for h, a in choices:
            out[g.infoset_player[h]][s["first_seq"][h] - 1 + a] = 1.0
        return tuple(out)

    eqs = tuple(profile(ch) for _, ch in sol[0])
    res = _finish(g, list(eqs[0]), status=Status.FEASIBLE if cut else Status.OPTIMAL, method="subgame_perfect",
                  backend="python", t0=t0, params={"all_equilibria": all_equilibria, "max_equilibria": max_equilibria},
                  message=(f"more than max_equilibria={max_equilibria} equilibria; the list is cut" if cut
                           else "backward induction"), objective=float(sol[0][0][0][0]))
    return dataclasses.replace(res, equilibria=eqs if all_equilibria else ())
