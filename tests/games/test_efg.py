"""Extensive-form games: model, Gambit .efg files, reduced normal form, sequence-form LP and
backward induction, against pygambit and brute force."""

from __future__ import annotations

import io
import itertools
from fractions import Fraction

import numpy as np
import pytest

import games
from engine import SolveResult, Status
from engine.errors import InvalidInputError, UnsupportedProblemError
from games.efg import (EFGResult, ExtensiveFormGame, TreeBuilder, kuhn_poker, leduc_poker, sequence_form_lp, solve,
                       subgame_perfect)
from games.efg_io import read_efg, write_efg

gbt = pytest.importorskip("pygambit")


# ---------------------------------------------------------------------------- game generators
def random_tree(seed: int, *, n_players: int = 2, depth: int = 4, zero_sum: bool = False, chance: bool = True,
                imperfect: bool = True, perfect_info: bool = False, texts: bool = True) -> ExtensiveFormGame:
    """A random tree with perfect recall: built level by level; nodes of one player with the same
    own history and the same number of actions may share an information set."""
    rng = np.random.default_rng(seed)
    b = TreeBuilder([f"P{i + 1}" for i in range(n_players)], title=f"random {seed}")
    frontier = [(b.root, tuple(() for _ in range(n_players)))]
    counter = itertools.count(1)
    outcomes: list = []

    def pay() -> list:
        if outcomes and not perfect_info and rng.random() < 0.15:
            return outcomes[int(rng.integers(len(outcomes)))]
        if zero_sum:
            v = Fraction(int(rng.integers(-9, 10)), int(rng.choice([1, 1, 2, 3]))) if texts else \
                Fraction(int(rng.integers(-9, 10)))
            vals = [v, -v] + [Fraction(0)] * (n_players - 2)
        else:
            vals = []
            for _ in range(n_players):
                r = rng.random()
                if texts and r < 0.2:
                    vals.append(f"{int(rng.integers(-20, 20)) / 4}")
                elif texts and r < 0.35:
                    vals.append(f"{int(rng.integers(-9, 10))}/{int(rng.integers(1, 5))}")
                else:
                    vals.append(int(rng.integers(-1000, 1000)) if perfect_info else int(rng.integers(-9, 10)))
        label = f"out{len(outcomes) + 1}"
        outcomes.append((vals, label))
        return outcomes[-1]

    for level in range(depth):
        groups: dict = {}
        nxt = []
        for node, hist in frontier:
            if level > 0 and (level == depth - 1 or rng.random() < 0.2):
                vals, lab = pay()
                b.outcome(node, vals, label=lab)
                continue
            if chance and rng.random() < 0.2:
                k = int(rng.integers(2, 4))
                probs = {2: [Fraction(1, 3), Fraction(2, 3)], 3: ["1/2", "0.25", "1/4"]}[k]
                kids = b.chance(node, [f"c{j}" for j in range(k)], probs)
                nxt.extend((c, hist) for c in kids)
                continue
            p = int(rng.integers(n_players))
            groups.setdefault((p, hist[p]), []).append((node, hist))
        for (p, own), members in groups.items():
            k = int(rng.integers(2, 4))
            # split the group into information sets
            if perfect_info or not imperfect:
                parts = [[m] for m in members]
            else:
                rng.shuffle(members)
                parts, cur = [], []
                for m in members:
                    cur.append(m)
                    if rng.random() < 0.4:
                        parts.append(cur)
                        cur = []
                if cur:
                    parts.append(cur)
            for part in parts:
                name = f"I{next(counter)}"
                for node, hist in part:
                    kids = b.move(node, p, [f"a{j}" for j in range(k)], infoset=name)
                    for a, c in enumerate(kids):
                        h2 = list(hist)
                        h2[p] = hist[p] + ((name, a),)
                        nxt.append((c, tuple(h2)))
        frontier = nxt
    for node, _ in frontier:
        vals, lab = pay()
        b.outcome(node, vals, label=lab)
    return b.build()


def centipede(n: int = 6) -> ExtensiveFormGame:
    b = TreeBuilder(["P1", "P2"], title="centipede")
    node = b.root
    for i in range(n):
        take, node = b.move(node, i % 2, ["take", "pass"])
        big, small = 2 ** (i + 2), 2 ** i
        b.outcome(take, [big, small] if i % 2 == 0 else [small, big])
    b.outcome(node, [2 ** (n + 2), 2 ** n] if n % 2 == 0 else [2 ** n, 2 ** (n + 2)])
    return b.build()


def pyg(game: ExtensiveFormGame):
    return gbt.read_efg(io.StringIO(write_efg(game)))


SEEDS = list(range(12))


# ---------------------------------------------------------------------------- files
@pytest.mark.parametrize("seed", SEEDS)
def test_round_trip_through_pygambit(seed: int) -> None:
    n_players = 2 + seed % 2
    g = random_tree(seed, n_players=n_players, depth=2 + seed % 5)
    text = write_efg(g)
    gg = pyg(g)
    assert gg.is_perfect_recall
    assert gg.to_efg() == text                    # pygambit writes back what we wrote
    g2 = read_efg(gg.to_efg())                    # and we read what pygambit writes
    assert write_efg(g2) == text and g2 == g
    assert ExtensiveFormGame.from_pygambit(gg) == g
    assert g.to_pygambit().to_efg() == text


def test_exact_numbers_are_kept() -> None:
    text = ('EFG 2 R "nums" { "A" "B" }\n"a \\"quoted\\" comment"\n\n'
            'c "root" 1 "ch" { "x" 0.25 "y" 3/4 } 0\n'
            't "" 1 "o1" { 1e-20, 6/4 }\n'
            't "" 2 "o2" { 2.50, -0.0 }\n')
    g = read_efg(text)
    assert write_efg(g) == text == gbt.read_efg(io.StringIO(text)).to_efg()
    assert g.infoset_probs[0] == (Fraction(1, 4), Fraction(3, 4))
    assert g.outcome_payoffs[0] == (Fraction(1, 10 ** 20), Fraction(3, 2))
    assert g.comment == 'a "quoted" comment'


def test_legacy_form_without_repeats() -> None:
    # actions and payoffs given only at their first use (older Gambit files)
    legacy = ('EFG 2 R "legacy" { "A" "B" } "c"\n'
              'p "" 1 1 "I" { "L" "R" } 0\n'
              'p "" 2 1 "J" { "l" "r" } 0\n'
              't "" 1 "o1" { 1 -1 }\n t "" 2 "o2" { 2 -2 }\n'
              'p "" 2 1 "J" 0\n'
              't "" 1\n t "" 2 "o2"\n')
    g = read_efg(legacy)
    assert g.infoset_members[g.player_infosets[1][0]] == (1, 4)
    assert write_efg(g) == pyg(g).to_efg()
    assert g.node_outcome.tolist() == [-1, -1, 0, 1, -1, 0, 1]


def test_repeated_labels_are_read_with_notes() -> None:
    text = ('EFG 2 R "dup" { "A" "B" }\n""\n\n'
            'p "x" 1 1 "I" { "L" "R" } 0\n'
            'p "y" 1 2 "I" { "l" "r" } 0\nt "x" 0\nt "" 0\nt "" 0\n')
    with pytest.raises(ValueError):
        gbt.read_efg(io.StringIO(text))  # pygambit refuses repeated node labels
    g = read_efg(text)
    assert g.n_nodes == 5
    assert any("node label 'x'" in n for n in g.notes)
    assert any("information set label 'I'" in n for n in g.notes)
    assert write_efg(g) == text


BAD = [
    ("NFG 1 R", "line 1, column 1", "'EFG'"),
    ('EFG 3 R "t" { "A" }', "line 1, column 5", "version 2"),
    ('EFG 2 R "t" { "A" }\n""\np "" 2 1 "" { "a" } 0 t "" 0', "line 3, column 6", "player number"),
    ('EFG 2 R "t" { "A" }\n""\np "" 1 1 "" { "a" "b" } 0 t "" 0', "line 3", "missing"),
    ('EFG 2 R "t" { "A" }\n""\nc "" 1 "" { "a" 1/2 "b" 1/3 } 0 t "" 0 t "" 0', "line 3, column", "exactly 1"),
    ('EFG 2 R "t" { "A" }\n""\nt "" 1 "o" { 1/0 }', "line 3, column 14", "number"),
    ('EFG 2 R "t" { "A" }\n""\nt "" 1 "o" { 1e999999 }', "line 3", "number"),
    ('EFG 2 R "t" { "A" }\n""\nt "" 1 "o" { 1 2 }', "line 3, column 16", "'}'"),
    ('EFG 2 R "t" { "A" }\n""\nt "" 1', "line 3", "payoffs"),
    ('EFG 2 R "t" { "A" }\n""\nt "" 0 t "" 0', "line 3, column 8", "end of the file"),
    ('EFG 2 R "t" { "A" }\n""\nt "unterminated 0', "line 3, column 3", "unterminated"),
    ('EFG 2 R "t" { "A" }\n""\np "" 1 1 "" { "a" } 0\np "" 1 1 "" { "b" } 0 t "" 0', "line 4", "actions"),
    ('EFG 2 R "t" { "A" }\n""\nx', "line 3, column 1", "node"),
    ('EFG 2 R "t" { "A" }\n""\nt "" 99999999999999999999999 "o" { 1 }', "line 3", "outcome number"),
    ('EFG 2 R "t" { }', "line 1", "at least one player"),
]


@pytest.mark.parametrize("text,where,what", BAD)
def test_malformed_files(text: str, where: str, what: str) -> None:
    with pytest.raises(InvalidInputError) as err:
        read_efg(text)
    assert where in str(err.value) and what in str(err.value) and "read_efg()" in str(err.value)


def test_bad_bytes_and_paths(tmp_path) -> None:
    with pytest.raises(InvalidInputError, match="UTF-8"):
        read_efg(b'EFG 2 R "\xff" { "A" }')
    with pytest.raises(InvalidInputError, match="cannot read"):
        read_efg(tmp_path / "missing.efg")
    g = kuhn_poker()
    path = tmp_path / "kuhn.efg"
    write_efg(g, path)
    assert read_efg(path) == g
    with pytest.raises(InvalidInputError, match="max_bytes"):
        read_efg(path, max_bytes=100)


def test_limits_checked_before_allocation() -> None:
    text = write_efg(kuhn_poker())
    assert read_efg(text).n_nodes == 55
    with pytest.raises(InvalidInputError, match="max_nodes=20"):
        read_efg(text, max_nodes=20)
    # a move declaring many actions is refused when it is read, before its children exist
    wide = 'EFG 2 R "" { "A" }\n""\np "" 1 1 "" { ' + '"a" ' * 50 + '} 0 t "" 0'
    with pytest.raises(InvalidInputError, match="line 3.*max_nodes=10"):
        read_efg(wide, max_nodes=10)
    players = 'EFG 2 R "" { ' + '"p" ' * 10 + '} "" t "" 0'
    with pytest.raises(InvalidInputError, match="max_players=4"):
        read_efg(players, max_players=4)
    with pytest.raises(InvalidInputError, match="max_nodes"):
        read_efg(text, max_nodes=0)


def test_deep_tree_reads_without_recursion() -> None:
    n = 5000
    text = 'EFG 2 R "deep" { "A" }\n""\n' + 'p "" 1 1 "" { "a" "b" } 0\nt "" 0\n' * n + 't "" 0\n'
    chain = read_efg(text)  # infoset 1 repeated down its own subtree: read, but no perfect recall
    assert chain.n_nodes == 2 * n + 1 and not chain.is_perfect_recall
    text = 'EFG 2 R "deep" { "A" }\n""\n' + "".join(f'p "" 1 {i + 1} "" {{ "a" "b" }} 0\nt "" 0\n'
                                                      for i in range(n)) + 't "" 0\n'
    g = read_efg(text)
    assert g.n_nodes == 2 * n + 1 and g.is_perfect_recall
    assert write_efg(g) == text.replace('"deep" { "A" }\n""', '"deep" { "A" }\n""\n')


# ---------------------------------------------------------------------------- model
def test_perfect_recall_check_matches_pygambit() -> None:
    forgetful = ('EFG 2 R "" { "A" "B" }\n""\n\n'
                 'p "" 1 1 "" { "a" "b" } 0\n'
                 'p "" 1 2 "" { "a" "b" } 0\nt "" 0\nt "" 0\n'
                 'p "" 1 2 "" { "a" "b" } 0\nt "" 0\nt "" 0\n')
    g = read_efg(forgetful)
    assert not g.is_perfect_recall and not gbt.read_efg(io.StringIO(forgetful)).is_perfect_recall
    assert "information set 2 of 'A'" in g.perfect_recall_violations[0]
    with pytest.raises(UnsupportedProblemError, match="perfect recall"):
        g.to_normal_form()
    for seed in SEEDS:
        t = random_tree(seed, n_players=3)
        assert t.is_perfect_recall and pyg(t).is_perfect_recall


def test_builder_validation() -> None:
    b = TreeBuilder(["A", "B"])
    with pytest.raises(InvalidInputError, match="unknown player"):
        b.move(b.root, "C", ["x"])
    with pytest.raises(InvalidInputError, match="sum to exactly 1"):
        b.chance(b.root, ["x", "y"], ["1/2", "1/3"])
    with pytest.raises(InvalidInputError, match="one number per player"):
        b.outcome(b.root, [1])
    with pytest.raises(InvalidInputError, match="finite"):
        b.outcome(b.root, [float("nan"), 1])
    x, y = b.move(b.root, "A", ["l", "r"], infoset="I")
    with pytest.raises(InvalidInputError, match="already has a move"):
        b.move(b.root, "A", ["l", "r"])
    with pytest.raises(InvalidInputError, match="has actions"):
        b.move(x, "A", ["l", "r", "m"], infoset="I")
    with pytest.raises(InvalidInputError, match="players"):
        TreeBuilder([])
    with pytest.raises(TypeError):
        ExtensiveFormGame()


def test_exported_from_games() -> None:
    assert games.ExtensiveFormGame is ExtensiveFormGame
    assert games.read_efg is read_efg and games.write_efg is write_efg
    assert games.efg.sequence_form_lp is sequence_form_lp


# ---------------------------------------------------------------------------- normal form
@pytest.mark.parametrize("seed", SEEDS)
def test_reduced_normal_form_matches_pygambit(seed: int) -> None:
    n_players = 2 + seed % 2
    g = random_tree(100 + seed, n_players=n_players, depth=2 + seed % 4)
    nf = g.to_normal_form()
    gg = pyg(g)
    labels = tuple(tuple(s.label for s in p.strategies) for p in gg.players)
    assert nf.strategies == labels
    arrays = gg.to_arrays()
    for p in range(n_players):
        np.testing.assert_allclose(nf.payoffs[p], np.asarray(arrays[p], dtype=float), atol=1e-12)
    assert nf.players == g.players


def test_unreduced_normal_form() -> None:
    g = kuhn_poker()
    full = g.to_normal_form(reduced=False)
    red = g.to_normal_form()
    assert full.shape == (64, 64) and red.shape == (27, 64)
    # every full strategy's payoffs equal those of its reduced class
    assert np.isclose(full.payoffs[0].mean(), g.behavior_payoffs(list(g.uniform_behavior()))[0])


# ---------------------------------------------------------------------------- sequence-form LP
def test_kuhn_poker_value() -> None:
    g = kuhn_poker()
    r = sequence_form_lp(g)
    assert isinstance(r, EFGResult) and isinstance(r, SolveResult) and r.status is Status.OPTIMAL
    assert r.value == pytest.approx(-1 / 18, abs=1e-9)
    assert r.max_regret <= 1e-9
    assert r.payoffs[0] == pytest.approx(-1 / 18, abs=1e-9)
    eq = gbt.nash.lp_solve(pyg(g), rational=True).equilibria[0]
    assert Fraction(str(eq.payoff("P1"))) == Fraction(-1, 18)
    back = SolveResult.from_dict(r.to_dict())
    assert isinstance(back, EFGResult) and back.value == r.value
    np.testing.assert_array_equal(back.behavior[1], r.behavior[1])


def test_leduc_poker_size_and_published_value() -> None:
    # OpenSpiel's leduc_poker: 9,457 histories, 936 information states, value -0.08560642418 to
    # player 1 (the figure other equilibrium solvers test against)
    g = leduc_poker()
    assert (g.n_nodes, [len(h) for h in g.player_infosets]) == (9457, [468, 468])
    assert g.is_perfect_recall and g.is_constant_sum()
    r = sequence_form_lp(g)
    assert r.status is Status.OPTIMAL and r.max_regret <= 1e-9
    assert r.value == pytest.approx(-0.08560642418, abs=1e-9)
    assert read_efg(write_efg(g)) == g
    ranks = leduc_poker(suits=False)  # the suits' symmetry factored out: same tree, same value
    assert (ranks.n_nodes, [len(h) for h in ranks.player_infosets]) == (9457, [144, 144])
    assert sequence_form_lp(ranks).value == pytest.approx(r.value, abs=1e-9)
    with pytest.raises(InvalidInputError, match=r"leduc_poker\(\): suits must be True or False"):
        leduc_poker(suits="no")


@pytest.mark.parametrize("seed", SEEDS)
def test_sequence_form_lp_matches_pygambit(seed: int) -> None:
    g = random_tree(200 + seed, depth=2 + seed % 5, zero_sum=True)
    r = sequence_form_lp(g)
    assert r.success and r.max_regret <= 1e-9
    eq = gbt.nash.lp_solve(pyg(g), rational=False).equilibria[0]
    assert r.value == pytest.approx(float(eq.payoff("P1")), abs=1e-9)
    # the realization plans satisfy the sequence-form constraints
    for p, x in enumerate(r.realization):
        beh_plan = g.realization_plan(r.behavior[p], p)
        assert np.all(x >= -1e-12) and beh_plan[0] == 1.0


@pytest.mark.parametrize("seed", SEEDS)
def test_sequence_form_lp_simplex_and_highs_agree(seed: int) -> None:
    """The dense simplex of small trees and HiGHS give the same value (the game's), both
    certified; pygambit's LP too."""
    g = random_tree(400 + seed, depth=2 + seed % 5, zero_sum=True)
    fast, highs = sequence_form_lp(g, backend="simplex"), sequence_form_lp(g, backend="highs")
    assert fast.backend == "simplex" and highs.backend == "highs" and sequence_form_lp(g).backend == "simplex"
    assert fast.status is Status.OPTIMAL and fast.max_regret <= 1e-9 and highs.max_regret <= 1e-9
    assert fast.value == pytest.approx(highs.value, abs=1e-9)
    assert fast.value == pytest.approx(float(fast.payoffs[0]), abs=1e-9)
    eq = gbt.nash.lp_solve(pyg(g), rational=False).equilibria[0]
    assert fast.value == pytest.approx(float(eq.payoff("P1")), abs=1e-9)
    for p in range(2):  # realization plans: E x = e
        x = fast.realization[p]
        s = g._sequences()
        assert x[0] == pytest.approx(1.0, abs=1e-12) and np.all(x >= 0)
        for h in g.player_infosets[p]:
            k = s["first_seq"][h]
            assert x[k:k + len(g.infoset_actions[h])].sum() == pytest.approx(x[s["iset_parent"][h]], abs=1e-9)


def test_sequence_form_lp_backends_and_fallback() -> None:
    from games.efg import sequence_form as sf

    g = kuhn_poker()
    assert sequence_form_lp(g, options={"presolve": "off"}).backend == "highs"  # HiGHS options: HiGHS
    with pytest.raises(InvalidInputError, match="backend"):
        sequence_form_lp(g, backend="cplex")
    old = sf.SIMPLEX_MAX_ENTRIES
    try:
        sf.SIMPLEX_MAX_ENTRIES = 10  # too big for the simplex: HiGHS answers
        r = sequence_form_lp(g, backend="simplex")
        assert r.backend == "highs" and r.value == pytest.approx(-1 / 18, abs=1e-9)
    finally:
        sf.SIMPLEX_MAX_ENTRIES = old


def test_sequence_form_lp_refuses() -> None:
    with pytest.raises(UnsupportedProblemError, match="zero-sum"):
        sequence_form_lp(random_tree(3, depth=3))
    with pytest.raises(UnsupportedProblemError, match="two-player"):
        sequence_form_lp(random_tree(3, n_players=3, depth=3))
    with pytest.raises(InvalidInputError, match="ExtensiveFormGame"):
        sequence_form_lp("not a game")  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- backward induction
def test_centipede_spe_takes_at_once() -> None:
    g = centipede(6)
    r = subgame_perfect(g)
    assert r.status is Status.OPTIMAL and r.max_regret == 0.0
    for p in range(2):
        assert np.all(r.behavior[p].reshape(-1, 2)[:, 0] == 1.0)  # always take
    assert r.payoffs.tolist() == [4.0, 1.0]
    assert solve(g).method == "subgame_perfect"


def _brute_force_spe(g: ExtensiveFormGame) -> list:
    """All pure profiles that are optimal at every node given the profile (by enumeration)."""
    hs = [h for h in range(g.n_infosets) if g.infoset_player[h] >= 0]
    found = []
    for combo in itertools.product(*[range(len(g.infoset_actions[h])) for h in hs]):
        pick = dict(zip(hs, combo))
        val: dict = {}
        ok = True
        for v in range(g.n_nodes - 1, -1, -1):
            o = g.node_outcome[v]
            own = np.array([float(x) for x in g.outcome_payoffs[o]]) if o >= 0 else np.zeros(g.n_players)
            kids = g.node_children[v]
            if not kids:
                val[v] = own
                continue
            h = g.node_infoset[v]
            pl = g.infoset_player[h]
            if pl < 0:
                val[v] = own + sum(float(pr) * val[k] for pr, k in zip(g.infoset_probs[h], kids))
            else:
                if max(val[k][pl] for k in kids) > val[kids[pick[h]]][pl]:
                    ok = False
                    break
                val[v] = own + val[kids[pick[h]]]
        if ok:
            found.append(pick)
    return found


@pytest.mark.parametrize("seed", SEEDS[:8])
def test_subgame_perfect_matches_brute_force(seed: int) -> None:
    g = random_tree(300 + seed, n_players=2 + seed % 2, depth=3 + seed % 2, perfect_info=True, texts=False)
    assert g.is_perfect_information
    r = subgame_perfect(g)
    spes = _brute_force_spe(g)
    assert len(spes) == 1  # generic payoffs
    s = g._sequences()
    for h, a in spes[0].items():
        p = g.infoset_player[h]
        assert r.behavior[p][s["first_seq"][h] - 1 + a] == 1.0
    assert r.max_regret <= 1e-9


def test_subgame_perfect_decomposes_imperfect_information() -> None:
    r = subgame_perfect(kuhn_poker())  # no proper subgame below the root: the LP on the whole tree
    assert r.payoffs[0] == pytest.approx(-1 / 18, abs=1e-9) and r.subgame_max_regret <= 1e-9
    with pytest.raises(UnsupportedProblemError, match="perfect information"):
        subgame_perfect(kuhn_poker(), all_equilibria=True)
    assert solve(kuhn_poker()).method == "sequence_form_lp"


def test_regret_of_uniform_profile_matches_pygambit() -> None:
    g = random_tree(7, n_players=3, depth=4)
    gg = pyg(g)
    prof = gg.mixed_behavior_profile(rational=False)
    ours = g.max_regret(list(g.uniform_behavior()))
    assert ours == pytest.approx(float(prof.max_regret()), abs=1e-9)


@pytest.mark.parametrize("seed", [5, 6, 7])
def test_regrets_and_payoffs_match_pygambit_on_random_profiles(seed: int) -> None:
    from games.efg import random_tree as rt
    g = rt(4, n_players=3, seed=seed)
    gg = pyg(g)
    prof = gg.mixed_behavior_profile(rational=False)
    rng = np.random.default_rng(seed)
    ours = []
    for p, pl in enumerate(gg.players):
        arr = []
        for h in g.player_infosets[p]:
            v = rng.random(len(g.infoset_actions[h]))
            arr.extend(v / v.sum())
        ours.append(np.array(arr))
        k = 0
        for inf in pl.infosets:
            for a in inf.actions:
                prof[a] = float(ours[p][k])
                k += 1
    assert g.max_regret(ours) == pytest.approx(float(prof.max_regret()), abs=1e-9)
    np.testing.assert_allclose(g.behavior_payoffs(ours), [float(prof.payoff(p)) for p in g.players], atol=1e-12)


def test_random_tree_and_dispatcher_validation() -> None:
    from games.efg import random_tree as rt
    g = rt(5, seed=3, zero_sum=True)
    assert g.is_perfect_recall and g.is_constant_sum()
    assert rt(5, seed=3, zero_sum=True) == g  # deterministic under a seed
    with pytest.raises(InvalidInputError, match="depth"):
        rt(0)
    with pytest.raises(InvalidInputError, match="zero_sum"):
        rt(3, n_players=3, zero_sum=True)
    with pytest.raises(InvalidInputError, match="method"):
        solve(g, method="nope")
    with pytest.raises(InvalidInputError, match="profile"):
        g.max_regret([np.zeros(1)])
    with pytest.raises(InvalidInputError, match="entries"):
        g.max_regret([np.zeros(1), np.zeros(1)])


def test_outcomes_and_infosets_renumbered_like_gambit() -> None:
    text = ('EFG 2 R "x" { "A" "B" } ""\n'
            'p "" 1 2 "I" { "L" "R" } 0\n'
            'p "" 1 1 "J" { "l" "r" } 0\n'
            't "" 2 "o2" { 1, -1 }\nt "" 1 "o1" { 2, -2 }\nt "" 0\n')
    assert write_efg(read_efg(text)) == gbt.read_efg(io.StringIO(text)).to_efg()


def test_long_centipede_normal_form_without_recursion() -> None:
    b = TreeBuilder(["P1", "P2"], title="linear centipede")
    node = b.root
    n = 2400  # 1200 information sets per player
    for i in range(n):
        take, node = b.move(node, i % 2, ["take", "pass"])
        b.outcome(take, [i + 4, i] if i % 2 == 0 else [i, i + 4])
    b.outcome(node, [n, n])
    g = b.build()
    s1 = g.reduced_strategies(0)
    assert len(s1) == 1201 and s1[0][0] == 0 and s1[0][1] == -1
    r = subgame_perfect(g)
    assert r.payoffs.tolist() == [4.0, 0.0] and r.max_regret == 0.0


def test_huge_payoffs_read_exactly_but_refused_by_solvers() -> None:
    text = 'EFG 2 R "" { "A" "B" }\n""\n\np "" 1 1 "" { "a" "b" } 0\nt "" 1 "o1" { 1e400, -1e400 }\nt "" 0\n'
    g = read_efg(text)
    assert write_efg(g) == text and g.outcome_payoffs[0][0] == Fraction(10) ** 400
    with pytest.raises(UnsupportedProblemError, match="floating-point range"):
        sequence_form_lp(g)


@pytest.mark.parametrize("seed", range(6))
def test_all_pure_spe_match_brute_force_with_ties(seed: int) -> None:
    # small payoff range: many ties, several subgame-perfect equilibria
    g = random_tree(400 + seed, n_players=2, depth=3, perfect_info=True, texts=False, chance=seed % 2 == 0)
    rng = np.random.default_rng(seed)
    # the same tree shape, every terminal with its own payoffs in {0, 1}
    b2 = TreeBuilder(["A", "B"])
    stack = [(0, b2.root)]
    k = 0
    while stack:
        v, node = stack.pop()
        if g.node_kind[v] == "t":
            b2.outcome(node, [int(x) for x in rng.integers(0, 2, size=2)], label=f"z{k}")
            k += 1
            continue
        h = g.node_infoset[v]
        if g.infoset_player[h] < 0:
            kids = b2.chance(node, list(g.infoset_actions[h]), list(g.infoset_probs[h]))
        else:
            kids = b2.move(node, g.infoset_player[h], list(g.infoset_actions[h]))
        stack.extend(zip(g.node_children[v], kids))
    t = b2.build()
    r = subgame_perfect(t, all_equilibria=True)
    brute = _brute_force_spe(t)
    s = t._sequences()
    ours = set()
    for prof in r.equilibria:
        pick = {}
        for h in range(t.n_infosets):
            p = t.infoset_player[h]
            if p >= 0:
                k0 = s["first_seq"][h] - 1
                pick[h] = int(np.argmax(prof[p][k0:k0 + len(t.infoset_actions[h])]))
        ours.add(tuple(sorted(pick.items())))
    assert ours == {tuple(sorted(p.items())) for p in brute}
    assert len(r.equilibria) == len(ours) >= 1
    if seed == 1:
        assert len(ours) == 10  # a tie-rich instance
    assert r.status is Status.OPTIMAL and r.max_regret <= 1e-12
    few = subgame_perfect(t, all_equilibria=True, max_equilibria=1)
    assert len(few.equilibria) == 1
    assert few.status is (Status.FEASIBLE if len(ours) > 1 else Status.OPTIMAL)


# ---------------------------------------------------------------------------- Stackelberg
def _leader_follower_tree(seed: int, observed: bool) -> ExtensiveFormGame:
    rng = np.random.default_rng(seed)
    b = TreeBuilder(["L", "F"])
    k, m = int(rng.integers(2, 4)), int(rng.integers(2, 4))
    for i, node in enumerate(b.move(b.root, "L", [f"a{j}" for j in range(k)])):
        kids = b.move(node, "F", [f"b{j}" for j in range(m)], infoset=f"F{i}" if observed else "F")
        for c in kids:
            b.outcome(c, [int(v) for v in rng.integers(-9, 10, size=2)])
    return b.build()


@pytest.mark.parametrize("seed", range(8))
def test_stackelberg_matches_normal_form_sse(seed: int) -> None:
    from games import stackelberg as nf_stackelberg
    from games.efg import stackelberg
    g = _leader_follower_tree(seed, observed=seed % 2 == 0)
    r = stackelberg(g)
    assert r.success and r.follower_regret <= 1e-9
    sse = nf_stackelberg.solve(g.to_normal_form(), leader=0)
    assert r.value == pytest.approx(sse.leader_value, abs=1e-7)
    assert r.payoffs[0] == pytest.approx(r.value, abs=1e-7)


@pytest.mark.parametrize("seed", range(6))
def test_stackelberg_zero_sum_is_the_value_and_beats_nash(seed: int) -> None:
    from games.efg import random_tree as rt, stackelberg
    g = rt(3 + seed % 3, zero_sum=True, seed=seed)
    r = stackelberg(g)
    assert r.value == pytest.approx(sequence_form_lp(g).value, abs=1e-7)
    k = kuhn_poker()
    assert stackelberg(k).value == pytest.approx(-1 / 18, abs=1e-7)
    # general sum: committing is worth at least every Nash equilibrium pygambit finds
    h = random_tree(500 + seed, depth=3, chance=True)
    sh = stackelberg(h)
    assert sh.follower_regret <= 1e-7
    for eq in gbt.nash.lcp_solve(pyg(h), rational=False).equilibria:
        assert sh.value >= float(eq.payoff("P1")) - 1e-7


# ---------------------------------------------------------------------------- general-sum Nash (MILP)
@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4, 6, 7])  # seed 5 takes ~40 s (a hard MILP)
def test_sequence_form_milp_is_an_equilibrium_and_best_welfare(seed: int) -> None:
    from games.efg import random_tree as rt, sequence_form_milp
    g = rt(3 + seed % 3, seed=seed)
    r = sequence_form_milp(g)
    assert r.status is Status.OPTIMAL and r.max_regret <= 1e-7
    assert r.objective == pytest.approx(float(r.payoffs.sum()), abs=1e-6)
    for eq in gbt.nash.lcp_solve(pyg(g), rational=False).equilibria:
        assert float(eq.max_regret()) <= 1e-9
        assert r.objective >= float(eq.payoff(g.players[0])) + float(eq.payoff(g.players[1])) - 1e-6
    one = sequence_form_milp(g, objective="player1")
    assert one.max_regret <= 1e-7 and one.payoffs[0] >= r.payoffs[0] - 1e-6
    assert sequence_form_milp(g, objective="none").max_regret <= 1e-7


def test_sequence_form_milp_zero_sum_and_refusals() -> None:
    from games.efg import sequence_form_milp
    r = sequence_form_milp(kuhn_poker())
    assert r.payoffs[0] == pytest.approx(-1 / 18, abs=1e-7) and r.max_regret <= 1e-7
    with pytest.raises(UnsupportedProblemError, match="two-player"):
        sequence_form_milp(random_tree(1, n_players=3, depth=3))
    with pytest.raises(InvalidInputError, match="objective"):
        sequence_form_milp(kuhn_poker(), objective="best")
