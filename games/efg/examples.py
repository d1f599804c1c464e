"""Example trees: random trees with perfect recall (tests, benchmarks), Kuhn poker and Leduc hold'em.
"""

from __future__ import annotations

import itertools
from fractions import Fraction
from typing import Any, Sequence

import numpy as np


from engine.errors import InvalidInputError
from games.efg.builder import TreeBuilder
from games.efg.tree import ExtensiveFormGame
from games.efg_io import MAX_PLAYERS
from engine.seeding import resolve_seed
from engine.validation import check_int, check_real


# ====================================================================== random trees
def random_tree(depth: int, /, *, n_players: int = 2, seed: Any = 0, zero_sum: bool = False,
                branching: Sequence[int] = (2, 3), p_chance: float = 0.15, p_terminal: float = 0.1,
                group: int = 3, payoff_range: int = 10) -> ExtensiveFormGame:
    """A random tree with perfect recall, for tests and benchmarks.

    Built level by level to ``depth`` moves; a node (below the root) ends early with probability
    ``p_terminal``, is a chance node (uniform, exact) with probability ``p_chance``, and otherwise
    belongs to a random player. Nodes of a player at one level with the same own history share
    information sets in groups of up to ``group`` (1 gives perfect information). Integer payoffs in
    ``[-payoff_range, payoff_range]``; ``zero_sum`` makes player 2's the negative of player 1's."""

    where = "random_tree()"
    depth = check_int(depth, "depth", where, lower=1, upper=64)
    n_players = check_int(n_players, "n_players", where, lower=1, upper=MAX_PLAYERS)
    group = check_int(group, "group", where, lower=1)
    check_real(p_chance, "p_chance", where, lower=0, upper=1)
    check_real(p_terminal, "p_terminal", where, lower=0, upper=1)
    if zero_sum and n_players != 2:
        raise InvalidInputError(f"{where}: zero_sum needs n_players=2, got {n_players}")
    branches = [check_int(k, "branching", where, lower=1, upper=1000) for k in branching]
    if not branches:
        raise InvalidInputError(f"{where}: branching must list at least one number of actions")
    rng = resolve_seed(seed, where=where).generator("random_tree")
    b = TreeBuilder([f"Player {i + 1}" for i in range(n_players)], title=f"random tree depth {depth}")
    frontier: list = [(b.root, tuple(() for _ in range(n_players)))]
    n_iset = 0
    n_out = 0

    def leaf(node: int) -> None:
        nonlocal n_out
        n_out += 1
        pay = rng.integers(-payoff_range, payoff_range + 1, size=n_players).tolist()
        if zero_sum:
            pay[1] = -pay[0]
        b.outcome(node, pay, label=f"o{n_out}")

    for level in range(depth):
        groups: dict = {}
        nxt: list = []
        u = rng.random((len(frontier), 2))
        for (node, hist), (r1, r2) in zip(frontier, u):
            if level > 0 and r1 < p_terminal:
                leaf(node)
            elif r2 < p_chance:
                k = int(rng.choice(branches))
                kids = b.chance(node, [f"c{j + 1}" for j in range(k)], [Fraction(1, k)] * k)
                nxt.extend((c, hist) for c in kids)
            else:
                p = int(rng.integers(n_players))
                groups.setdefault((p, hist[p]), []).append((node, hist))
        for (p, _own), members in groups.items():
            k = int(rng.choice(branches))
            for start in range(0, len(members), group):
                n_iset += 1
                name = f"I{n_iset}"
                for node, hist in members[start:start + group]:
                    kids = b.move(node, p, [f"a{j + 1}" for j in range(k)], infoset=name)
                    for a, c in enumerate(kids):
                        h2 = list(hist)
                        h2[p] = hist[p] + (n_iset * 1000 + a,)
                        nxt.append((c, tuple(h2)))
        frontier = nxt
    for node, _ in frontier:
        leaf(node)
    return b.build()


def kuhn_poker() -> ExtensiveFormGame:
    """Kuhn poker (three cards, ante 1, one bet of 1): value -1/18 to player 1."""
    b = TreeBuilder(["P1", "P2"], title="Kuhn poker")
    cards = "JQK"
    deals = list(itertools.permutations(range(3), 2))
    nodes = b.chance(b.root, [f"{cards[i]}{cards[j]}" for i, j in deals], [Fraction(1, 6)] * 6)
    for (i, j), node in zip(deals, nodes):
        win = 1 if i > j else -1
        check, bet = b.move(node, "P1", ["check", "bet"], infoset=f"1{cards[i]}")
        c2, b2 = b.move(check, "P2", ["check", "bet"], infoset=f"2{cards[j]}c")
        b.outcome(c2, [win, -win], label=f"show1_{win}")
        fold, call = b.move(b2, "P1", ["fold", "call"], infoset=f"1{cards[i]}cb")
        b.outcome(fold, [-1, 1], label="p1folds")
        b.outcome(call, [2 * win, -2 * win], label=f"show2_{win}")
        fold2, call2 = b.move(bet, "P2", ["fold", "call"], infoset=f"2{cards[j]}b")
        b.outcome(fold2, [1, -1], label="p2folds")
        b.outcome(call2, [2 * win, -2 * win], label=f"show2_{win}")
    return b.build()


def leduc_poker(*, suits: bool = True) -> ExtensiveFormGame:
    """Leduc hold'em (Southey et al., 2005) with OpenSpiel's rules: value -0.0856064... to player 1.

    Six cards (J, Q, K in two suits), ante 1 each, one private card per player, two betting rounds
    (raises of 2, then 4; at most two raises a round; player 1 opens both), one public card dealt
    between them. Folding is offered only when facing a raise (elsewhere it is dominated). At the
    showdown a private card that pairs the public one wins, else the higher rank; equal ranks split.
    9,457 nodes and 157 chance nodes. ``suits=True``: information sets distinguish the suits, as
    OpenSpiel's do (936 of the players, 468 each); ``suits=False``: a player sees ranks only (288,
    144 each), the same game up to the suits' symmetry (same value), whose logit branch avoids the
    symmetry-breaking bifurcation of the suited tree."""
    if not isinstance(suits, (bool, np.bool_)):
        raise InvalidInputError(f"leduc_poker(): suits must be True or False, got {suits!r}")
    b = TreeBuilder(["P1", "P2"], title="Leduc hold'em" if suits else "Leduc hold'em (ranks)")
    cards = ["J1", "J2", "Q1", "Q2", "K1", "K2"]  # rank = index // 2
    shown = [c if suits else c[0] for c in cards]  # what a player sees of a card

    def showdown(node: int, mine: tuple, public: int, stake: int) -> None:
        key = [(c // 2 == public // 2, c // 2) for c in mine]
        win = 0 if key[0] == key[1] else (1 if key[0] > key[1] else -1)
        b.outcome(node, [win * stake, -win * stake], label=f"showdown {win * stake:+d}")

    def betting(node: int, mine: tuple, public: Any, contrib: tuple, raises: int, acted: int, hist: str) -> None:
        p = acted % 2
        stakes = max(contrib)
        actions = (["fold"] if stakes > contrib[p] else []) + ["call"] + (["raise"] if raises < 2 else [])
        where = f"{shown[mine[p]]}{'' if public is None else ' ' + shown[public]} {hist}"
        kids = b.move(node, p, actions, infoset=f"P{p + 1} {where}".rstrip())
        for act, kid in zip(actions, kids):
            if act == "fold":
                b.outcome(kid, [-contrib[0], contrib[0]] if p == 0 else [contrib[1], -contrib[1]],
                          label=f"P{p + 1} folds at {contrib[p]}")
                continue
            c = list(contrib)
            if act == "raise":
                c[p] = stakes + (2 if public is None else 4)
                betting(kid, mine, public, tuple(c), raises + 1, acted + 1, hist + "r")
                continue
            c[p] = stakes
            if raises == 0 and acted == 0:  # a check: the other player acts
                betting(kid, mine, public, tuple(c), raises, acted + 1, hist + "c")
            elif public is None:  # the first round ends: the public card
                rest = [k for k in range(6) if k not in mine]
                for pub, kid2 in zip(rest, b.chance(kid, [cards[k] for k in rest], [Fraction(1, 4)] * 4)):
                    betting(kid2, mine, pub, tuple(c), 0, 0, hist + "c/")
            else:
                showdown(kid, mine, public, stakes)

    for i, n0 in enumerate(b.chance(b.root, cards, [Fraction(1, 6)] * 6)):
        rest = [j for j in range(6) if j != i]
        for j, n1 in zip(rest, b.chance(n0, [cards[j] for j in rest], [Fraction(1, 5)] * 5)):
            betting(n1, (i, j), None, (1, 1), 0, 0, "")
    return b.build()


# ====================================================================== Stackelberg commitment
