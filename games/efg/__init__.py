"""Extensive-form games (game trees): the model, a small builder, and solvers.

* :class:`ExtensiveFormGame` - personal and chance nodes, players, information sets (perfect recall
  checked, :attr:`ExtensiveFormGame.perfect_recall_violations`), actions, chance probabilities kept
  as exact :class:`fractions.Fraction`, outcomes with payoffs (outcomes on inner nodes add up along
  the path, as in Gambit). Built with :class:`TreeBuilder` or read from a Gambit ``.efg`` file
  (:func:`games.efg_io.read_efg`).
* :meth:`ExtensiveFormGame.to_normal_form` - the (reduced) strategic form as a
  :class:`games.NormalFormGame`, strategy labels as Gambit writes them (``"12"``, ``"2*"``).
* :func:`sequence_form_lp` - two-player zero-sum (constant-sum) trees by the sequence-form LP of
  Koller, Megiddo and von Stengel on one HiGHS model: value and behaviour strategies of both.
* :func:`subgame_perfect` - backward induction in perfect-information trees (one or all pure SPE),
  subgame decomposition in general (:meth:`ExtensiveFormGame.subgame_roots`, per-subgame regrets).
* :func:`sequence_form_lcp` - one Nash equilibrium of a two-player general-sum tree by Lemke's
  algorithm on the sequence form (floating-point or exact pivoting), several from several priors.
* :func:`sequence_form_milp` - a Nash equilibrium of a two-player general-sum tree (one MILP).
* :func:`stackelberg` - the leader's optimal commitment in a two-player tree (one MILP).
* :func:`logit_solve`, :func:`logit_branch` - the agent logit QRE (behaviour strategies, N players)
  at a precision and its principal branch, traced like the normal-form QRE of :mod:`games.qre`.
* :func:`solve` - dispatcher.

Every result is an :class:`EFGResult` (an :class:`engine.SolveResult`) carrying ``max_regret``,
the largest gain any player gets by deviating from the behaviour profile (computed exactly on the
tree by a best response over sequences).
"""

from __future__ import annotations

from typing import Any

from engine.validation import check_choice
from games.efg.backward import subgame_perfect
from games.efg.builder import TreeBuilder
from games.efg.examples import kuhn_poker, leduc_poker, random_tree
from games.efg.lcp import LCPResult, sequence_form_lcp
from games.efg.qre import TreeQREBranch, TreeQREResult, logit_branch, logit_solve
from games.efg.results import EFGResult, _check_game
from games.efg.sequence_form import sequence_form_lp, sequence_form_matrices
from games.efg.stackelberg import TreeStackelbergResult, sequence_form_milp, stackelberg
from games.efg.tree import MAX_REDUCED_STRATEGIES, ExtensiveFormGame
from games.efg_io import MAX_NODES, MAX_PLAYERS

__all__ = ["ExtensiveFormGame", "TreeBuilder", "EFGResult", "sequence_form_lp", "subgame_perfect", "solve",
           "random_tree", "kuhn_poker", "leduc_poker", "sequence_form_matrices", "stackelberg", "TreeStackelbergResult",
           "sequence_form_milp", "sequence_form_lcp", "LCPResult", "MAX_NODES", "MAX_PLAYERS", "MAX_REDUCED_STRATEGIES",
           "logit_solve", "logit_branch", "TreeQREResult", "TreeQREBranch"]


def solve(game: ExtensiveFormGame, /, method: str = "auto", **options: Any) -> EFGResult:
    """Dispatcher: ``"auto"`` picks ``subgame_perfect`` for perfect-information trees, else
    ``sequence_form_lp`` for two-player constant-sum trees and ``sequence_form_lcp`` for other
    two-player trees."""
    g = _check_game(game, "efg.solve()")
    method = check_choice(method, "method", "efg.solve()", ("auto", "subgame_perfect", "sequence_form_lp",
                                                            "sequence_form_lcp"))
    if method == "auto":
        method = ("subgame_perfect" if g.is_perfect_information else
                  "sequence_form_lcp" if g.n_players == 2 and not g.is_constant_sum() else "sequence_form_lp")
    if method == "subgame_perfect":
        return subgame_perfect(g, **options)
    if method == "sequence_form_lcp":
        return sequence_form_lcp(g, **options)
    return sequence_form_lp(g, **options)
