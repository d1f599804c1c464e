"""Two-player zero-sum trees by the sequence-form LP (Koller, Megiddo and von Stengel) on one
HiGHS model.
"""

from __future__ import annotations

import time
from typing import Any, Optional

import numpy as np
import scipy.sparse as sp

from engine.errors import InvalidInputError, UnsupportedProblemError
from engine.status import Status
from games.efg.results import EFGResult, _check_game, _finish
from games.efg.tree import ExtensiveFormGame


# ====================================================================== sequence-form LP
def _validate_sequence_form_lp(game: Any, time_limit: Any, options: Any) -> tuple:
    from engine.validation import check_time_limit
    where = "sequence_form_lp()"
    g = _check_game(game, where)
    if g.n_players != 2:
        raise UnsupportedProblemError(f"{where}: needs a two-player game, got {g.n_players} players")
    s = g._require_perfect_recall(where)
    if not g.is_constant_sum():
        raise UnsupportedProblemError(f"{where}: the game is not zero-sum (or constant-sum); use sequence_form_lcp")
    tl = check_time_limit(time_limit, where)
    if options is not None and not isinstance(options, dict):
        raise InvalidInputError(f"{where}: options must be a dict, got {type(options).__name__}")
    return g, s, tl


def _constraint_triplets(game: ExtensiveFormGame, p: int) -> tuple:
    """(rows, cols, vals, n_rows) of the realization-plan constraints ``E x = e`` of player p: row 0
    is ``x[empty] = 1``, row i is ``-x[parent(h_i)] + sum_a x[(h_i, a)] = 0``."""
    s = game._sequences()
    hs = np.asarray(game.player_infosets[p], dtype=np.int64)
    n_seq = s["n_seq"][p]
    m = len(hs)
    # every non-empty sequence k sits in row (its infoset's position + 1)
    seq_row = np.zeros(n_seq, dtype=np.int64)
    if m:
        pos = np.empty(game.n_infosets, dtype=np.int64)
        pos[hs] = np.arange(1, m + 1)
        seq_row[1:] = pos[s["seq_infoset"][p][1:]]
    rows = np.concatenate([[0], np.arange(1, m + 1), seq_row[1:]])
    cols = np.concatenate([[0], s["iset_parent"][hs] if m else np.zeros(0, dtype=np.int64), np.arange(1, n_seq)])
    vals = np.concatenate([[1.0], -np.ones(m), np.ones(n_seq - 1)])
    return rows, cols, vals, m + 1


def sequence_form_matrices(game: ExtensiveFormGame) -> dict:
    """Sequence-form data of a two-player tree: payoff matrices ``A``, ``B`` (sequences of player
    1 x sequences of player 2, chance included) and the constraint matrices ``E``, ``F`` with right
    sides ``e``, ``f`` (``E x = e`` for realization plans), all scipy.sparse."""
    s = game._sequences()
    n1, n2 = s["n_seq"]
    L = s["leaf_seq"]
    w = s["leaf_chance"]
    A = sp.csr_matrix((w * s["leaf_pay"][:, 0], (L[:, 0], L[:, 1])), shape=(n1, n2))
    B = sp.csr_matrix((w * s["leaf_pay"][:, 1], (L[:, 0], L[:, 1])), shape=(n1, n2))
    out = {"A": A, "B": B}
    for p, (name, rhs) in enumerate((("E", "e"), ("F", "f"))):
        r, c, v, m = _constraint_triplets(game, p)
        out[name] = sp.csr_matrix((v, (r, c)), shape=(m, s["n_seq"][p]))
        out[rhs] = np.zeros(m)
        out[rhs][0] = 1.0
    return out


def sequence_form_lp(game: ExtensiveFormGame, /, *, time_limit: Optional[float] = None,
                     options: Optional[dict] = None) -> EFGResult:
    """A Nash equilibrium of a two-player zero-sum (or constant-sum) tree with perfect recall, by
    the sequence-form LP (Koller, Megiddo and von Stengel 1996) solved once by HiGHS.

    ``max x,q  f'q  s.t.  E x = e,  F' q - A' x <= 0,  x >= 0`` gives player 1's realization plan
    ``x`` and the value; player 2's plan is the dual of the second block. ``value`` is player 1's
    value (``objective`` too); ``max_regret`` certifies both strategies."""
    from solvers import LinearModel

    t0 = time.perf_counter()
    g, s, tl = _validate_sequence_form_lp(game, time_limit, options)
    # one COO matrix: rows [E x = e] then [-A' x + F' q <= 0]; columns x (n1 >= 0), q (m2 free)
    n1, n2 = s["n_seq"]
    r1, c1, v1, m1 = _constraint_triplets(g, 0)
    r2, c2, v2, m2 = _constraint_triplets(g, 1)
    L = s["leaf_seq"]
    w = s["leaf_chance"] * s["leaf_pay"][:, 0]
    rows = np.concatenate([r1, m1 + L[:, 1], m1 + c2])
    cols = np.concatenate([c1, L[:, 0], n1 + r2])
    vals = np.concatenate([v1, -w, v2])
    Acon = sp.csc_matrix((vals, (rows, cols)), shape=(m1 + n2, n1 + m2))
    f = np.zeros(m2)
    f[0] = 1.0
    e = np.zeros(m1)
    e[0] = 1.0
    c = np.concatenate([np.zeros(n1), f])
    lo = np.concatenate([e, np.full(n2, -np.inf)])
    hi = np.concatenate([e, np.zeros(n2)])
    model = LinearModel(c, Acon, lo, hi, col_lower=np.concatenate([np.zeros(n1), np.full(m2, -np.inf)]),
                        col_upper=np.inf, sense="max")
    res = model.solve(time_limit=tl, options=options)
    params = {"time_limit": tl, "options": dict(options or {})}
    if res.x is None:
        return EFGResult(status=res.status, message=f"sequence_form_lp(): {res.message}",
                         runtime=time.perf_counter() - t0,
                         method="sequence_form_lp", backend="highs", params=params, nit=res.nit)
    x = np.maximum(np.asarray(res.x[:n1]), 0.0)
    y = np.maximum(np.abs(np.asarray(res.row_dual[m1:])) if res.row_dual is not None else np.zeros(n2), 0.0)
    b1 = g.behavior_from_realization(x, 0)
    b2 = g.behavior_from_realization(y, 1)
    value = float(res.objective)
    # constant-sum: report player 1's value
    return _finish(g, [b1, b2], status=res.status if res.status != Status.OPTIMAL else Status.OPTIMAL,
                   method="sequence_form_lp", backend="highs", t0=t0, params=params, message=res.message,
                   nit=res.nit, realization=(x, y), objective=value, bound=float(res.bound), value=value)
