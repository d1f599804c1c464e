"""Proper subgames and subgame-perfect equilibria by subgame decomposition: subgame roots
against their definition, per-subgame regrets against games built from the subtrees, SPE
against brute force, and textbook games (Selten's horse, centipede, an entry game)."""

from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np
import pytest

from engine import Status
from engine.errors import InvalidInputError, UnsupportedProblemError
from games.efg import ExtensiveFormGame, TreeBuilder, kuhn_poker, random_tree, subgame_perfect


def _roots_by_definition(g: ExtensiveFormGame) -> tuple:
    """Nodes whose descendant set contains every member of every player information set it meets."""
    out = []
    for v in range(g.n_nodes):
        if not g.node_children[v]:
            continue
        below, stack = set(), [v]
        while stack:
            u = stack.pop()
            below.add(u)
            stack.extend(g.node_children[u])
        ok = all(set(g.infoset_members[g.node_infoset[u]]) <= below for u in below
                 if g.node_infoset[u] >= 0 and g.infoset_player[g.node_infoset[u]] >= 0)
        if ok:
            out.append(v)
    return tuple(out)


def _tree(seed: int, **kw) -> ExtensiveFormGame:
    return random_tree(kw.pop("depth", 4), seed=seed, **kw)


def _random_profile(g: ExtensiveFormGame, rng: np.random.Generator) -> list:
    out = []
    for p in range(g.n_players):
        parts = [rng.dirichlet(np.ones(len(g.infoset_actions[h]))) for h in g.player_infosets[p]]
        out.append(np.concatenate(parts) if parts else np.zeros(0))
    return out


def _restrict(g: ExtensiveFormGame, r: int, profile: list) -> list:
    """The profile on the subgame at r, by matching information-set labels (unique in these trees)."""
    sub = g.subgame(r)
    s, s2 = g._sequences(), sub._sequences()
    out = [np.zeros(s2["n_seq"][p] - 1) for p in range(g.n_players)]
    by_label = {(g.infoset_player[h], g.infoset_label[h]): h for h in range(g.n_infosets)}
    for h2 in range(sub.n_infosets):
        p = sub.infoset_player[h2]
        if p < 0:
            continue
        h = by_label[(p, sub.infoset_label[h2])]
        m = len(g.infoset_actions[h])
        out[p][s2["first_seq"][h2] - 1:s2["first_seq"][h2] - 1 + m] = profile[p][s["first_seq"][h] - 1:
                                                                                s["first_seq"][h] - 1 + m]
    return out


# ---------------------------------------------------------------------------- structure
@pytest.mark.parametrize("seed", range(8))
def test_subgame_roots_match_the_definition(seed: int) -> None:
    g = _tree(seed, n_players=2 + seed % 2, depth=4 + seed % 2, group=1 + seed % 3)
    assert g.subgame_roots() == _roots_by_definition(g)
    assert g.subgame_roots()[0] == 0


@pytest.mark.parametrize("seed", range(6))
def test_subgame_regrets_match_the_subgames_as_games(seed: int) -> None:
    g = _tree(40 + seed, n_players=2 + seed % 2, depth=4, group=1 + seed % 3)
    mine = [h for h in range(g.n_infosets) if g.infoset_player[h] >= 0]
    assert len({(g.infoset_player[h], g.infoset_label[h]) for h in mine}) == len(mine)
    rng = np.random.default_rng(seed)
    prof = _random_profile(g, rng)
    got = g.subgame_regrets(prof)
    want = [g.subgame(r).max_regret(_restrict(g, r, prof)) for r in g.subgame_roots()]
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)
    assert got[0] == pytest.approx(g.max_regret(prof), abs=1e-9)  # the whole game is the first subgame


def test_subgame_validation() -> None:
    g = kuhn_poker()
    assert g.subgame_roots() == (0,)
    for bad in (-1, 1, 1.0, True, "0"):
        with pytest.raises(InvalidInputError, match="subgame_roots"):
            g.subgame(bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="subgame_regrets"):
        g.subgame_regrets([np.zeros(3)])


# ---------------------------------------------------------------------------- decomposition
@pytest.mark.parametrize("seed", range(10))
def test_decomposition_is_subgame_perfect_on_random_trees(seed: int) -> None:
    g = _tree(100 + seed, depth=5, group=2 + seed % 2, zero_sum=seed % 3 == 0)
    assert not g.is_perfect_information and len(g.subgame_roots()) > 1
    r = subgame_perfect(g)
    assert r.status is Status.OPTIMAL and r.method == "subgame_perfect"
    assert r.subgame_regrets.shape == (len(g.subgame_roots()),)
    assert r.subgame_max_regret <= 1e-9 and r.max_regret <= 1e-9
    np.testing.assert_allclose(r.subgame_regrets, g.subgame_regrets(list(r.behavior)), atol=0)
    for p in range(2):  # behaviour strategies: a distribution at every information set
        for h in g.player_infosets[p]:
            k = g._sequences()["first_seq"][h] - 1
            b = r.behavior[p][k:k + len(g.infoset_actions[h])]
            assert np.all(b >= -1e-12) and abs(b.sum() - 1) <= 1e-9


def _n_pure(g: ExtensiveFormGame) -> int:
    return int(np.prod([len(g.infoset_actions[h]) for h in range(g.n_infosets) if g.infoset_player[h] >= 0]))


def _pure_profiles(g: ExtensiveFormGame):
    hs = [h for h in range(g.n_infosets) if g.infoset_player[h] >= 0]
    s = g._sequences()
    for combo in itertools.product(*[range(len(g.infoset_actions[h])) for h in hs]):
        prof = [np.zeros(s["n_seq"][p] - 1) for p in range(g.n_players)]
        for h, a in zip(hs, combo):
            prof[g.infoset_player[h]][s["first_seq"][h] - 1 + a] = 1.0
        yield dict(zip(hs, combo)), prof


def _is_spe_by_enumeration(g: ExtensiveFormGame, pick: dict, roots: tuple) -> bool:
    """No player gains, in any subgame, by any pure deviation at its information sets there."""

    def value(v: int, choice: dict) -> np.ndarray:
        o = g.node_outcome[v]
        own = np.array([float(x) for x in g.outcome_payoffs[o]]) if o >= 0 else np.zeros(g.n_players)
        kids = g.node_children[v]
        if not kids:
            return own
        h = g.node_infoset[v]
        if g.infoset_player[h] < 0:
            return own + sum(float(pr) * value(k, choice) for pr, k in zip(g.infoset_probs[h], kids))
        return own + value(kids[choice[h]], choice)

    for r in roots:
        below, stack = [], [r]
        while stack:
            u = stack.pop()
            below.append(u)
            stack.extend(g.node_children[u])
        base = value(r, pick)
        for p in range(g.n_players):
            mine = sorted({g.node_infoset[u] for u in below if g.node_infoset[u] >= 0
                           and g.infoset_player[g.node_infoset[u]] == p})
            for alt in itertools.product(*[range(len(g.infoset_actions[h])) for h in mine]):
                dev = dict(pick)
                dev.update(zip(mine, alt))
                if value(r, dev)[p] > base[p] + 1e-12:
                    return False
    return True


@pytest.mark.parametrize("seed", range(8))
def test_decomposition_against_brute_force(seed: int) -> None:
    """Zero-sum trees: every subgame has one value, so every SPE (pure ones found by enumeration
    included) pays what the decomposition finds; the per-subgame certificate tells pure SPE from
    other pure profiles exactly as the enumeration does."""
    for k in itertools.count():
        g = _tree(1000 * seed + k, depth=3, group=2, zero_sum=True, p_chance=0.2)
        if not g.is_perfect_information and 1 < len(g.subgame_roots()) and _n_pure(g) <= 256:
            break
    roots = g.subgame_roots()
    r = subgame_perfect(g)
    assert r.subgame_max_regret <= 1e-9
    n_spe = 0
    for pick, prof in _pure_profiles(g):
        spe = _is_spe_by_enumeration(g, pick, roots)
        assert spe == (g.subgame_regrets(prof).max() <= 1e-9)
        if spe:
            n_spe += 1
            np.testing.assert_allclose(g.behavior_payoffs(prof), r.payoffs, atol=1e-9)
    assert n_spe >= 0  # a zero-sum subgame may have no pure equilibrium


def test_pure_spe_by_brute_force_is_found_in_general_sum_trees() -> None:
    """General-sum trees where enumeration finds pure SPE: the per-subgame certificate accepts
    exactly those pure profiles, and the decomposition's answer passes it."""
    checked = 0
    for seed in range(40):
        g = _tree(5000 + seed, depth=3, group=2, payoff_range=50)
        if g.is_perfect_information or len(g.subgame_roots()) < 2 or _n_pure(g) > 256:
            continue
        roots = g.subgame_roots()
        if not any(_is_spe_by_enumeration(g, pick, roots) for pick, _ in _pure_profiles(g)):
            continue
        r = subgame_perfect(g)
        assert r.subgame_max_regret <= 1e-9
        for pick, prof in _pure_profiles(g):
            assert _is_spe_by_enumeration(g, pick, roots) == (g.subgame_regrets(prof).max() <= 1e-9)
        checked += 1
    assert checked >= 5


def test_subgame_perfect_on_perfect_information_is_backward_induction() -> None:
    g = _tree(7, depth=5, group=1)
    assert g.is_perfect_information
    r = subgame_perfect(g)
    assert r.message == "backward induction" and r.subgame_max_regret == 0.0
    assert len(r.subgame_regrets) == len(g.subgame_roots()) == sum(1 for v in range(g.n_nodes)
                                                                   if g.node_children[v])


# ---------------------------------------------------------------------------- textbook games
def selten_horse() -> ExtensiveFormGame:
    b = TreeBuilder(["1", "2", "3"], title="Selten's horse")
    C, D = b.move(b.root, "1", ["C", "D"])
    c, d = b.move(C, "2", ["c", "d"])
    b.outcome(c, [1, 1, 1])
    L1, R1 = b.move(d, "3", ["L", "R"], infoset="3")
    L2, R2 = b.move(D, "3", ["L", "R"], infoset="3")
    b.outcome(L1, [4, 4, 0])
    b.outcome(R1, [1, 1, 1])
    b.outcome(L2, [3, 3, 2])
    b.outcome(R2, [0, 0, 0])
    return b.build()


def test_selten_horse_has_no_proper_subgame() -> None:
    g = selten_horse()
    assert g.subgame_roots() == (0,)
    # (C, c, R) and (D, c, L) are both Nash, hence subgame perfect (only the first is sequential)
    for prof in ([[1, 0], [1, 0], [0, 1]], [[0, 1], [1, 0], [1, 0]]):
        assert g.subgame_regrets(prof).tolist() == [0.0] == [g.max_regret(prof)]
    # R with probability 1/2: player 2 gains 4 - 3/2 - 1 by d
    assert g.subgame_regrets([[1, 0], [1, 0], [0.5, 0.5]])[0] == pytest.approx(1.5)
    with pytest.raises(UnsupportedProblemError, match="subgame at node 0 has imperfect information and 3 players"):
        subgame_perfect(g)


def test_centipede_spe() -> None:
    b = TreeBuilder(["P1", "P2"], title="centipede")
    node = b.root
    for i in range(8):
        take, node = b.move(node, i % 2, ["take", "pass"])
        b.outcome(take, [2 ** (i + 2), 2 ** i] if i % 2 == 0 else [2 ** i, 2 ** (i + 2)])
    b.outcome(node, [2 ** 10, 2 ** 8])
    g = b.build()
    r = subgame_perfect(g)
    assert len(g.subgame_roots()) == 8 and r.subgame_regrets.tolist() == [0.0] * 8
    assert all(np.all(r.behavior[p].reshape(-1, 2)[:, 0] == 1.0) for p in range(2))  # always take
    assert r.payoffs.tolist() == [4.0, 1.0]


def entry_game() -> tuple:
    """Mas-Colell, Whinston and Green, Example 9.B.3: the entrant stays out (0, 2) or enters,
    then both fight or accommodate simultaneously; accommodating is dominant for the entrant."""
    b = TreeBuilder(["E", "I"], title="entry with a simultaneous subgame")
    out, enter = b.move(b.root, "E", ["out", "in"])
    b.outcome(out, [0, 2])
    ef, ea = b.move(enter, "E", ["F", "A"])
    pays = {("F", "F"): (-3, -1), ("F", "A"): (1, -2), ("A", "F"): (-2, -1), ("A", "A"): (3, 1)}
    for e_act, node in zip("FA", (ef, ea)):
        kids = b.move(node, "I", ["F", "A"], infoset="I")
        for i_act, kid in zip("FA", kids):
            b.outcome(kid, list(pays[(e_act, i_act)]))
    return b.build(), enter


def test_entry_game_spe() -> None:
    g, enter = entry_game()
    assert g.subgame_roots() == (0, enter)
    r = subgame_perfect(g)
    assert r.status is Status.OPTIMAL
    assert r.behavior[0].tolist() == [0.0, 1.0, 0.0, 1.0]  # in, then accommodate
    assert r.behavior[1].tolist() == [0.0, 1.0]
    assert r.payoffs.tolist() == [3.0, 1.0] and r.subgame_max_regret <= 1e-9
    # (out; accommodate, fight) is a Nash equilibrium that is not subgame perfect
    threat = [[1, 0, 0, 1], [1, 0]]
    assert g.max_regret(threat) == 0.0
    assert g.subgame_regrets(threat).tolist() == [0.0, 2.0]


def test_mixed_subgame_value_moves_up() -> None:
    """Matching pennies (value 0) after a chance move, against a sure payoff of 1/2: the first
    mover takes the sure payoff; a zero-sum subgame solved by the LP, the rest by induction."""
    b = TreeBuilder(["A", "B"])
    sure, play = b.move(b.root, "A", ["sure", "play"])
    b.outcome(sure, [Fraction(1, 2), Fraction(-1, 2)])
    h, t = b.move(play, "A", ["H", "T"])
    for node, sign in ((h, 1), (t, -1)):
        x, y = b.move(node, "B", ["H", "T"], infoset="B")
        b.outcome(x, [sign, -sign])
        b.outcome(y, [-sign, sign])
    g = b.build()
    r = subgame_perfect(g)
    assert "sequence_form_lp x1" in r.message and "backward induction x1" in r.message
    np.testing.assert_allclose(r.behavior[0], [1, 0, 0.5, 0.5], atol=1e-9)
    np.testing.assert_allclose(r.behavior[1], [0.5, 0.5], atol=1e-9)
    assert r.objective == pytest.approx(0.5) and r.subgame_max_regret <= 1e-9


def test_kuhn_poker_is_one_subgame() -> None:
    r = subgame_perfect(kuhn_poker())
    assert r.payoffs[0] == pytest.approx(-1 / 18, abs=1e-9)
    assert r.subgame_regrets.shape == (1,) and r.subgame_max_regret <= 1e-9


def test_refusals() -> None:
    g = _tree(3, depth=4, group=3, n_players=3)
    assert not g.is_perfect_information
    with pytest.raises(UnsupportedProblemError, match="imperfect information and 3 players"):
        subgame_perfect(g)
    with pytest.raises(UnsupportedProblemError, match="all_equilibria=True needs perfect information"):
        subgame_perfect(kuhn_poker(), all_equilibria=True)
    with pytest.raises(InvalidInputError, match="time_limit"):
        subgame_perfect(kuhn_poker(), time_limit=-1)
