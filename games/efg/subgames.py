"""Proper subgames of a game tree: where they start, the subtree of one as a game of its own (with
solved subgames below it replaced by their values), and the regret of a profile in every subgame.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from engine.errors import InvalidInputError
from games.efg.tree import ExtensiveFormGame, _GameParts


def _structure(game: ExtensiveFormGame) -> dict:
    """One bottom-up pass: per node the end of its subtree (nodes are in prefix order, so a
    subtree is the range ``[v, end[v])``), whether no information set crosses its boundary, and
    whether every player information set inside it is a single node."""
    c = game._cache.get("subgames")
    if c is not None:
        return c
    n = game.n_nodes
    parents = game.node_parent.tolist()
    isets = game.node_infoset.tolist()
    iplayer = game.infoset_player
    members = game.infoset_members
    end = [v + 1 for v in range(n)]
    lo = list(range(n))
    hi = list(range(n))
    pi = [True] * n
    for v in range(n):
        h = isets[v]
        # chance information sets tell no player anything: only players' sets can cross a boundary
        if h >= 0 and iplayer[h] >= 0:
            mem = members[h]
            lo[v], hi[v] = mem[0], mem[-1]
            pi[v] = len(mem) == 1
    for v in range(n - 1, 0, -1):
        u = parents[v]
        if end[v] > end[u]:
            end[u] = end[v]
        if lo[v] < lo[u]:
            lo[u] = lo[v]
        if hi[v] > hi[u]:
            hi[u] = hi[v]
        if not pi[v]:
            pi[u] = False
    kinds = game.node_kind
    roots = tuple(v for v in range(n) if kinds[v] != "t" and lo[v] >= v and hi[v] < end[v])
    c = {"end": end, "pi": pi, "roots": roots, "games": {}}
    game._cache["subgames"] = c
    return c


def subgame_roots(game: ExtensiveFormGame) -> tuple:
    """The nodes where a proper subgame starts (no information set crosses the subtree's
    boundary), in prefix order; the root is the first unless the tree is a single terminal node."""
    return _structure(game)["roots"]


def _pair(value: Fraction) -> tuple:
    return value, (str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}")


def subtree_game(game: ExtensiveFormGame, root: int, values: Optional[Mapping[int, Sequence[Fraction]]] = None
                 ) -> tuple:
    """(the subtree at ``root`` as an :class:`ExtensiveFormGame`, its nodes' numbers in ``game``,
    its information sets' numbers in ``game``). A node of ``values`` below ``root`` becomes a
    terminal node whose outcome is that payoff vector (the value of a solved subgame: its own
    outcome and everything below it); outcomes above ``root`` are left out."""
    st = _structure(game)
    end = st["end"]
    values = values or {}
    parts = _GameParts(players=list(game.players), title=game.title, comment=game.comment)
    kinds = game.node_kind
    isets = game.node_infoset.tolist()
    outs = game.node_outcome.tolist()
    local_iset: dict = {}
    local_out: dict = {}
    nodes: list = []
    v, stop = root, end[root]
    while v < stop:
        nodes.append(v)
        parts.label.append(game.node_label[v])
        if v != root and v in values:
            parts.kind.append("t")
            parts.node_infoset.append(-1)
            parts.node_outcome.append(parts.add_outcome(len(parts.outcome_label) + 1, "",
                                                        [_pair(Fraction(x)) for x in values[v]]))
            v = end[v]
            continue
        parts.kind.append(kinds[v])
        h = isets[v]
        if h >= 0 and h not in local_iset:
            probs = game.infoset_probs[h]
            local_iset[h] = parts.add_infoset(
                game.infoset_player[h], game._infoset_number[h], game.infoset_label[h], game.infoset_actions[h],
                None if probs is None else list(zip(probs, game.infoset_prob_texts[h])), InvalidInputError)
        parts.node_infoset.append(local_iset[h] if h >= 0 else -1)
        o = outs[v]
        if o >= 0 and o not in local_out:
            local_out[o] = parts.add_outcome(o + 1, game.outcome_label[o],
                                             list(zip(game.outcome_payoffs[o], game.outcome_texts[o])))
        parts.node_outcome.append(local_out[o] if o >= 0 else -1)
        v += 1
    sub = ExtensiveFormGame._from_parts(parts)
    iset_map = np.array([isets[nodes[sub.infoset_members[h][0]]] for h in range(sub.n_infosets)], dtype=np.int64)
    return sub, np.asarray(nodes, dtype=np.int64), iset_map


def _slices(game: ExtensiveFormGame, h: int) -> slice:
    k = int(game._sequences()["first_seq"][h]) - 1
    return slice(k, k + len(game.infoset_actions[h]))


def restrict_profile(game: ExtensiveFormGame, sub: ExtensiveFormGame, iset_map: np.ndarray, profile: list) -> list:
    """The part of ``game``'s behaviour profile that plays in ``sub`` (``iset_map`` from
    :func:`subtree_game`)."""
    out = [np.zeros(sub._sequences()["n_seq"][p] - 1) for p in range(sub.n_players)]
    for h2, h in enumerate(iset_map.tolist()):
        p = sub.infoset_player[h2]
        if p >= 0:
            out[p][_slices(sub, h2)] = profile[p][_slices(game, h)]
    return out


def extend_profile(game: ExtensiveFormGame, sub: ExtensiveFormGame, iset_map: np.ndarray, sub_profile: Sequence,
                   profile: list) -> None:
    """Write ``sub``'s behaviour profile into ``game``'s (in place)."""
    for h2, h in enumerate(iset_map.tolist()):
        p = sub.infoset_player[h2]
        if p >= 0:
            profile[p][_slices(game, h)] = np.asarray(sub_profile[p], dtype=np.float64)[_slices(sub, h2)]


def subgame_regrets(game: ExtensiveFormGame, profile: Any) -> np.ndarray:
    """Per subgame root (:func:`subgame_roots`, same order), the largest gain any player gets by
    deviating inside that subgame, the subgame's behaviour profile fixed elsewhere. A
    subgame-perfect equilibrium has all of them 0 (up to round-off).

    Subgames whose subtree has perfect information are done in one bottom-up pass over the tree
    (best and current value per node and player); the others are solved as games of their own."""
    where = "ExtensiveFormGame.subgame_regrets()"
    prof = game._as_behavior(profile, where)
    game._require_perfect_recall(where)
    st = _structure(game)
    roots = st["roots"]
    pi = st["pi"]
    N = game.n_players
    out = np.zeros(len(roots))
    # perfect-information subtrees: best-response value BV[v, p] and current value CV[v, p]
    pay = [np.array([float(x) for x in o], dtype=np.float64) for o in game.outcome_payoffs]
    zero = np.zeros(N)
    n = game.n_nodes
    CV: list = [None] * n
    BV: list = [None] * n
    outs = game.node_outcome.tolist()
    isets = game.node_infoset.tolist()
    s = game._sequences()
    fs = s["first_seq"].tolist()
    for v in range(n - 1, -1, -1):
        if not pi[v]:
            continue
        own = pay[outs[v]] if outs[v] >= 0 else zero
        kids = game.node_children[v]
        if not kids:
            CV[v] = own
            BV[v] = own
            continue
        h = isets[v]
        pl = game.infoset_player[h]
        ck = np.array([CV[k] for k in kids])
        bk = np.array([BV[k] for k in kids])
        if pl < 0:
            w = np.array([float(x) for x in game.infoset_probs[h]])
        else:
            w = prof[pl][fs[h] - 1:fs[h] - 1 + len(kids)]
        CV[v] = own + w @ ck
        bv = own + w @ bk
        if pl >= 0:
            bv[pl] = own[pl] + bk[:, pl].max()
        BV[v] = bv
    for i, r in enumerate(roots):
        if pi[r]:
            out[i] = max(0.0, float((BV[r] - CV[r]).max()))
            continue
        cache = st["games"]
        if r not in cache:
            sub, _nodes, iset_map = subtree_game(game, r)
            cache[r] = (sub, iset_map)
        sub, iset_map = cache[r]
        out[i] = sub.max_regret(restrict_profile(game, sub, iset_map, prof))
    return out
