"""Nash equilibria of normal-form games.

One function per method and a dispatcher:

- :func:`zero_sum_lp` -- two-player zero-sum (or constant-sum) games by one LP on HiGHS; the
  column player's optimal strategy comes from the duals of the same LP.
- :func:`lemke_howson` -- one equilibrium of a bimatrix game by complementary pivoting with a
  lexicographic minimum-ratio test (so degenerate games do not cycle).
- :func:`support_enumeration` -- all equilibria of a nondegenerate bimatrix game.
- :func:`vertex_enumeration` -- all extreme equilibria of any bimatrix game, degenerate ones
  included, in exact arithmetic, with the maximal Nash subsets ("cliques") and the connected
  components of the equilibrium set.
- :func:`pure` -- all pure-strategy equilibria of an N-player game, vectorised over the payoff
  tensor.
- :func:`solve` -- ``method="auto"`` picks one of the above.

Every equilibrium in a :class:`NashResult` carries its ``max_regret`` computed by
:meth:`games.NormalFormGame.max_regret`.

One module per method (``games.nash.zero_sum``, ``lemke``, ``supports``, ``vertices``,
``pure_strategies``), the shared result and helpers in ``games.nash.result``; every public name
is importable from ``games.nash``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from engine.errors import InvalidInputError
from engine.threads import hot_path
from engine.validation import check_choice
from games.nash.lemke import lemke_howson
from games.nash.pure_strategies import pure
from games.nash.result import NashResult
from games.nash.supports import support_enumeration
from games.nash.vertices import VertexEnumerationResult, vertex_enumeration
from games.nash.zero_sum import MatrixGameLP, zero_sum_lp
from games.normal_form import NormalFormGame, check_game

__all__ = ["NashResult", "VertexEnumerationResult", "solve", "zero_sum_lp", "lemke_howson", "support_enumeration",
           "vertex_enumeration", "pure", "METHODS", "MatrixGameLP"]

#: Method names accepted by :func:`solve`.
METHODS = ("auto", "zero_sum_lp", "lemke_howson", "support_enumeration", "vertex_enumeration", "pure")


_METHOD_OPTIONS = {
    "zero_sum_lp": {"threads"},
    "lemke_howson": {"initial_dropped_label", "maxiter", "threads"},
    "support_enumeration": {"tol", "threads"},
    "vertex_enumeration": {"time_limit", "maxiter", "max_cliques", "threads"},
    "pure": {"tol", "threads"},
}


@hot_path
def solve(game: NormalFormGame, /, method: str = "auto", *, all_equilibria: bool = False, **options: Any) -> NashResult:
    """Nash equilibria of a normal-form game; ``method="auto"`` picks the algorithm.

    ``"auto"`` chooses, for two players: :func:`vertex_enumeration` when
    ``all_equilibria=True`` (every extreme equilibrium, degenerate games included), else the
    LP (:func:`zero_sum_lp`) for zero-sum / constant-sum games and :func:`lemke_howson` for the
    others; for three or more players :func:`pure` (pure-strategy equilibria only -- the
    result's message says so, and its status is INFEASIBLE when the game has none).

    Parameters
    ----------
    game : NormalFormGame
    method : {"auto", "zero_sum_lp", "lemke_howson", "support_enumeration", "vertex_enumeration", "pure"}
    all_equilibria : bool
        With ``"auto"`` on a two-player game, enumerate all extreme equilibria by exact vertex
        enumeration (with the maximal Nash subsets and components) instead of finding one.
    **options
        Passed to the chosen method (``initial_dropped_label``, ``maxiter``, ``tol``,
        ``time_limit``, ``max_cliques``, ``threads``); an option the method does not take raises
        :class:`InvalidInputError`.

    Examples
    --------
    >>> from games import NormalFormGame
    >>> mp = NormalFormGame.zero_sum([[1, -1], [-1, 1]])
    >>> res = solve(mp)
    >>> res.method, res.value
    ('zero_sum_lp', 0.0)
    >>> res = solve(NormalFormGame.from_arrays([[1, 1], [1, 1]], [[1, 1], [1, 1]]), all_equilibria=True)
    >>> res.method, res.n_equilibria, res.components
    ('vertex_enumeration', 4, ((0, 1, 2, 3),))
    """
    where = "solve()"
    game = check_game(game, where)
    check_choice(method, "method", where, METHODS)
    if not isinstance(all_equilibria, (bool, np.bool_)):
        raise InvalidInputError(f"{where}: all_equilibria must be a bool, got {all_equilibria!r}")
    note = ""
    if method == "auto":
        if game.n_players == 2 and all_equilibria:
            method = "vertex_enumeration"
        elif game.n_players == 2 and game.is_constant_sum():
            method = "zero_sum_lp"
        elif game.n_players == 2:
            method = "lemke_howson"
        else:
            method = "pure"
            note = (f"{game.n_players}-player game: method 'auto' enumerates pure-strategy equilibria only; ")
    unknown = set(options) - _METHOD_OPTIONS[method]
    if unknown:
        raise InvalidInputError(f"{where}: method {method!r} takes no option(s) {sorted(unknown)}; "
                                f"it takes {sorted(_METHOD_OPTIONS[method]) or 'none'}")
    func = {"zero_sum_lp": zero_sum_lp, "lemke_howson": lemke_howson,
            "support_enumeration": support_enumeration, "vertex_enumeration": vertex_enumeration,
            "pure": pure}[method]
    res = func(game, **options)
    if note:
        res = dataclasses.replace(res, message=note + res.message,
                                  params={**res.params, "auto": True})
    return res
