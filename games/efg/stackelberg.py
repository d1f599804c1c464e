"""Stackelberg commitment and general-sum Nash equilibria of two-player trees by sequence-form
MILPs on HiGHS.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass
from typing import Optional

import numpy as np
import scipy.sparse as sp

from engine.errors import InvalidInputError, UnsupportedProblemError
from games.efg.results import EFGResult, _check_game, _finish
from games.efg.sequence_form import _constraint_triplets
from games.efg.tree import ExtensiveFormGame
from engine.validation import check_choice, check_int, check_time_limit
from solvers import LinearModel


@dataclass(frozen=True, kw_only=True)
class TreeStackelbergResult(EFGResult):
    """Strong Stackelberg equilibrium of a two-player tree: the leader commits to ``behavior[leader]``,
    the follower plays the pure best response ``behavior[1 - leader]`` (ties broken in the leader's
    favour). ``value`` is the leader's payoff; ``follower_regret`` certifies the best response
    (``max_regret`` is the usual Nash certificate and is positive when commitment pays)."""

    leader: int = 0
    follower_regret: float = math.nan


def stackelberg(game: ExtensiveFormGame, /, leader: int = 0, *, time_limit: Optional[float] = None,
                mip_rel_gap: Optional[float] = None, options: Optional[dict] = None) -> TreeStackelbergResult:
    """The leader's optimal commitment to a behaviour strategy in a two-player tree with perfect
    recall (strong Stackelberg equilibrium), by one sequence-form MILP on HiGHS in the spirit of
    Bošanský and Čermák (2015): the leader's realization plan ``x``, the follower's pure plan
    ``r`` (binary), leaf reach ``p = x * r`` linearised exactly, and the follower's best response
    by big-M constraints on its sequence values."""

    t0 = time.perf_counter()
    where = "stackelberg()"
    g = _check_game(game, where)
    if g.n_players != 2:
        raise UnsupportedProblemError(f"{where}: needs a two-player game, got {g.n_players} players")
    leader = check_int(leader, "leader", where, lower=0, upper=1)
    tl = check_time_limit(time_limit, where)
    if options is not None and not isinstance(options, dict):
        raise InvalidInputError(f"{where}: options must be a dict, got {type(options).__name__}")
    s = g._require_perfect_recall(where)
    L, F = leader, 1 - leader
    nL, nF = s["n_seq"][L], s["n_seq"][F]
    seqL, seqF = s["leaf_seq"][:, L], s["leaf_seq"][:, F]
    nZ = len(seqL)
    w = s["leaf_chance"]
    uL, uF = s["leaf_pay"][:, L], s["leaf_pay"][:, F]
    hsF = list(g.player_infosets[F])
    kF = len(hsF)
    ox, orr, op, ov = 0, nL, nL + nF, nL + nF + nZ
    n_cols = ov + kF
    M = 2.0 * float(np.abs(uF).max(initial=0.0)) + 1.0
    rows: list = []
    cols: list = []
    vals: list = []
    lo: list = []
    hi: list = []
    r0 = 0

    def block(r: np.ndarray, c: np.ndarray, v: np.ndarray, n: int, low: np.ndarray, high: np.ndarray) -> None:
        nonlocal r0
        rows.append(r + r0)
        cols.append(c)
        vals.append(v)
        lo.append(low)
        hi.append(high)
        r0 += n

    r1, c1, v1, m1 = _constraint_triplets(g, L)
    e1 = np.zeros(m1)
    e1[0] = 1.0
    block(r1, c1 + ox, v1, m1, e1, e1)
    r2, c2, v2, m2 = _constraint_triplets(g, F)
    e2 = np.zeros(m2)
    e2[0] = 1.0
    block(r2, c2 + orr, v2, m2, e2, e2)
    z = np.arange(nZ)
    one, zero_ = np.ones(nZ), np.zeros(nZ)
    block(np.concatenate([z, z]), np.concatenate([op + z, ox + seqL]), np.concatenate([one, -one]), nZ,
          np.full(nZ, -np.inf), zero_)
    block(np.concatenate([z, z]), np.concatenate([op + z, orr + seqF]), np.concatenate([one, -one]), nZ,
          np.full(nZ, -np.inf), zero_)
    block(np.concatenate([z, z, z]), np.concatenate([op + z, ox + seqL, orr + seqF]),
          np.concatenate([one, -one, -one]), nZ, -one, np.full(nZ, np.inf))
    # follower sequence values: V(sigma) = sum_z w u_F x(seqL(z)) [seqF(z) = sigma] + sum_{I' after sigma} v(I')
    # rows (one per follower sequence sigma >= 1): v(I(sigma)) - V(sigma) >= 0 and <= M (1 - r(sigma))
    br_r, br_c, br_v = _sequence_value_rows(s, F, hsF, seqF, ox + seqL, w * uF, ov)
    block(br_r, br_c, br_v, nF - 1, np.zeros(nF - 1), np.full(nF - 1, np.inf))
    block(np.concatenate([br_r, np.arange(nF - 1)]), np.concatenate([br_c, orr + np.arange(1, nF)]),
          np.concatenate([br_v, np.full(nF - 1, M)]), nF - 1, np.full(nF - 1, -np.inf), np.full(nF - 1, M))
    A = sp.csc_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(r0, n_cols))
    c = np.zeros(n_cols)
    c[op:op + nZ] = w * uL
    col_lo = np.concatenate([np.zeros(nL + nF + nZ), np.full(kF, -np.inf)])
    col_hi = np.concatenate([np.ones(nL + nF + nZ), np.full(kF, np.inf)])
    integrality = np.zeros(n_cols, dtype=bool)
    integrality[orr:orr + nF] = True
    model = LinearModel(c, A, np.concatenate(lo), np.concatenate(hi), col_lower=col_lo, col_upper=col_hi,
                        integrality=integrality, sense="max")
    res = model.solve(time_limit=tl, mip_rel_gap=mip_rel_gap, options=options)
    params = {"leader": L, "time_limit": tl, "mip_rel_gap": mip_rel_gap, "options": dict(options or {})}
    if res.x is None:
        return TreeStackelbergResult(status=res.status, message=f"{where}: {res.message}", method="stackelberg",
                                     backend="highs", params=params, runtime=time.perf_counter() - t0, leader=L)
    xs = np.asarray(res.x)
    x = np.maximum(xs[ox:ox + nL], 0.0)
    r = np.round(xs[orr:orr + nF])
    beh: list = [None, None]
    beh[L] = g.behavior_from_realization(x, L)
    beh[F] = g.behavior_from_realization(r, F)
    out = _finish(g, beh, status=res.status, method="stackelberg", backend="highs", t0=t0, params=params,
                  message=res.message, nit=res.nit, realization=tuple([x, r] if L == 0 else [r, x]),
                  objective=float(res.objective), bound=float(res.bound), value=float(res.objective))
    freg = float(max(0.0, g.regrets(list(out.behavior))[F]))
    return TreeStackelbergResult(**{f.name: getattr(out, f.name) for f in dataclasses.fields(out)}, leader=L,
                                 follower_regret=freg)


# ====================================================================== shared rows
def _sequence_value_rows(s: dict, P: int, hs: list, seq_p: np.ndarray, other_cols: np.ndarray, wu: np.ndarray,
                         o_val: int) -> tuple:
    """Triplets of ``v(I(sigma)) - V(sigma)`` for every sequence sigma >= 1 of player P (row sigma - 1):
    ``V(sigma)`` is the payoff ``wu`` of the leaves ending in sigma, weighted by the other player's plan
    (columns ``other_cols``, one per leaf), plus the values of P's information sets right after sigma;
    ``v`` are the information-set value columns from ``o_val`` in the order of ``hs``."""
    pos = {h: i for i, h in enumerate(hs)}
    n = s["n_seq"][P]
    mask = seq_p > 0
    vr = [seq_p[mask] - 1, np.arange(n - 1)]
    vc = [other_cols[mask], o_val + np.array([pos[int(h)] for h in s["seq_infoset"][P][1:]], dtype=np.int64)]
    vv = [-wu[mask], np.ones(n - 1)]
    for h in hs:
        par = int(s["iset_parent"][h])
        if par > 0:
            vr.append(np.array([par - 1]))
            vc.append(np.array([o_val + pos[h]]))
            vv.append(np.array([-1.0]))
    return np.concatenate(vr), np.concatenate(vc), np.concatenate(vv)


# ====================================================================== general-sum Nash by MILP
def _br_block(g: ExtensiveFormGame, s: dict, P: int, o_self: int, o_other: int, o_bin: int, o_val: int,
              M: float) -> tuple:
    """Rows saying that player P's plan (columns ``o_self``) is a best response to the other
    player's plan (columns ``o_other``): per sequence sigma >= 1 of P, with its infoset's value
    v (columns ``o_val``) and a binary b (columns ``o_bin``): ``v - V(sigma) >= 0``,
    ``v - V(sigma) + M b <= M`` and ``x(sigma) - b <= 0``. Returns (rows, cols, vals, lo, hi, n)."""
    O = 1 - P
    n = s["n_seq"][P]
    seqP, seqO = s["leaf_seq"][:, P], s["leaf_seq"][:, O]
    wu = s["leaf_chance"] * s["leaf_pay"][:, P]
    hs = list(g.player_infosets[P])
    r, c, v = _sequence_value_rows(s, P, hs, seqP, o_other + seqO, wu, o_val)
    k = n - 1
    seqs = np.arange(k)
    rows = np.concatenate([r, k + r, k + seqs, 2 * k + seqs, 2 * k + seqs])
    cols = np.concatenate([c, c, o_bin + 1 + seqs, o_self + 1 + seqs, o_bin + 1 + seqs])
    vals = np.concatenate([v, v, np.full(k, M), np.ones(k), -np.ones(k)])
    lo = np.concatenate([np.zeros(k), np.full(k, -np.inf), np.full(k, -np.inf)])
    hi = np.concatenate([np.full(k, np.inf), np.full(k, M), np.zeros(k)])
    return rows, cols, vals, lo, hi, 3 * k


def sequence_form_milp(game: ExtensiveFormGame, /, *, objective: str = "welfare", time_limit: Optional[float] = None,
                       options: Optional[dict] = None) -> EFGResult:
    """A Nash equilibrium of a two-player general-sum tree with perfect recall, by one MILP on the
    sequence form (HiGHS): both realization plans, each player's information-set values, and a
    binary per sequence that may carry probability only where it is a best response (big-M
    complementarity). ``objective="welfare"`` picks the equilibrium with the largest sum of
    payoffs (``"player1"``/``"player2"``: the best for that player; ``"none"``: any). Not
    Lemke's algorithm; ``max_regret`` is the certificate (HiGHS tolerances, about 1e-7)."""

    t0 = time.perf_counter()
    where = "sequence_form_milp()"
    g = _check_game(game, where)
    if g.n_players != 2:
        raise UnsupportedProblemError(f"{where}: needs a two-player game, got {g.n_players} players")
    objective = check_choice(objective, "objective", where, ("welfare", "player1", "player2", "none"))
    tl = check_time_limit(time_limit, where)
    if options is not None and not isinstance(options, dict):
        raise InvalidInputError(f"{where}: options must be a dict, got {type(options).__name__}")
    s = g._require_perfect_recall(where)
    n1, n2 = s["n_seq"]
    k1, k2 = len(g.player_infosets[0]), len(g.player_infosets[1])
    ox, oy, ob1, ob2 = 0, n1, n1 + n2, 2 * n1 + n2
    ov1 = 2 * n1 + 2 * n2
    ov2 = ov1 + k1
    n_cols = ov2 + k2
    M = 2.0 * float(np.abs(s["leaf_pay"]).max(initial=0.0)) + 1.0
    parts = []
    r0 = 0
    for P, (oself, oother, ob, ov) in enumerate(((ox, oy, ob1, ov1), (oy, ox, ob2, ov2))):
        rr, cc, vv, _n = _constraint_triplets(g, P)
        e = np.zeros(_n)
        e[0] = 1.0
        parts.append((rr + r0, cc + oself, vv, e, e))
        r0 += _n
        rows, cols, vals, lo, hi, n = _br_block(g, s, P, oself, oother, ob, ov, M)
        parts.append((rows + r0, cols, vals, lo, hi))
        r0 += n
    A = sp.csc_matrix((np.concatenate([p[2] for p in parts]),
                       (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]))),
                      shape=(r0, n_cols))
    c = np.zeros(n_cols)
    if objective != "none":
        # payoff of player P is linear in p(z) = x * y, which the MILP does not model; use the
        # values instead: player P's payoff = sum of the values of its root infosets + leaves
        # reached by the empty sequence of P (constant in x_P's choice, linear in the other plan)
        for P, (ov, oo) in enumerate(((ov1, oy), (ov2, ox))):
            if objective in ("welfare", f"player{P + 1}"):
                for i, h in enumerate(g.player_infosets[P]):
                    if s["iset_parent"][h] == 0:
                        c[ov + i] += 1.0
                mask = s["leaf_seq"][:, P] == 0
                np.add.at(c, oo + s["leaf_seq"][mask, 1 - P],
                          (s["leaf_chance"] * s["leaf_pay"][:, P])[mask])
    col_lo = np.concatenate([np.zeros(2 * n1 + 2 * n2), np.full(k1 + k2, -np.inf)])
    col_hi = np.concatenate([np.ones(2 * n1 + 2 * n2), np.full(k1 + k2, np.inf)])
    integrality = np.zeros(n_cols, dtype=bool)
    integrality[ob1:ob1 + n1] = True
    integrality[ob2:ob2 + n2] = True
    model = LinearModel(c, A, np.concatenate([p[3] for p in parts]), np.concatenate([p[4] for p in parts]),
                        col_lower=col_lo, col_upper=col_hi, integrality=integrality, sense="max")
    res = model.solve(time_limit=tl, options=options)
    params = {"objective": objective, "time_limit": tl, "options": dict(options or {})}
    if res.x is None:
        return EFGResult(status=res.status, message=f"{where}: {res.message}", method="sequence_form_milp",
                         backend="highs", params=params, runtime=time.perf_counter() - t0)
    xs = np.asarray(res.x)
    x = np.maximum(xs[ox:ox + n1], 0.0)
    y = np.maximum(xs[oy:oy + n2], 0.0)
    return _finish(g, [g.behavior_from_realization(x, 0), g.behavior_from_realization(y, 1)], status=res.status,
                   method="sequence_form_milp", backend="highs", t0=t0, params=params, message=res.message,
                   nit=res.nit, realization=(x, y), objective=float(res.objective), bound=float(res.bound))
