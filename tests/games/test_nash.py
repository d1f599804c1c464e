"""Tests of games.nash: certificates, brute force, nashpy / Gambit / scipy oracles, validation."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.errors import InvalidInputError, UnsupportedProblemError
from engine.result import SolveResult
from engine.status import Status
from games import nash
from games.nash import lemke, pure_strategies, result, supports, vertices, zero_sum
from games.normal_form import NormalFormGame, random_game

SHAPES = [(2, 2), (2, 3), (3, 2), (3, 3), (3, 4), (4, 4), (5, 3), (5, 5)]


def _same_profile(p, q, tol=1e-7):
    return all(np.allclose(a, b, atol=tol) for a, b in zip(p, q))


def _contains(profiles, profile, tol=1e-7):
    return any(_same_profile(profile, q, tol) for q in profiles)


# ---------------------------------------------------------------------------- certificates
@pytest.mark.parametrize("shape", SHAPES)
def test_every_method_returns_equilibria_with_tiny_regret(shape):
    for seed in range(3):
        g = random_game(*shape, seed=seed)
        z = random_game(*shape, seed=seed, zero_sum=True)
        runs = [(g, nash.support_enumeration(g)), (g, nash.solve(g))]
        runs += [(g, nash.lemke_howson(g, initial_dropped_label=k)) for k in range(sum(shape))]
        runs += [(z, nash.zero_sum_lp(z)), (z, nash.support_enumeration(z)), (z, nash.lemke_howson(z))]
        for game, res in runs:
            assert res.status == Status.OPTIMAL
            assert res.n_equilibria >= 1
            for eq, reg in zip(res.equilibria, res.max_regrets):
                assert reg <= 1e-9
                assert reg == pytest.approx(game.max_regret(list(eq)), abs=1e-15)
                for v in eq:
                    assert np.all(v >= 0) and v.sum() == pytest.approx(1.0, abs=1e-12)


def test_nondegenerate_games_have_an_odd_number_of_equilibria():
    for seed in range(10):
        g = random_game(4, 4, seed=100 + seed)
        assert nash.support_enumeration(g).n_equilibria % 2 == 1


# ---------------------------------------------------------------------------- zero-sum LP
@pytest.mark.parametrize("shape", [(2, 2), (3, 5), (6, 4), (10, 10), (25, 17)])
def test_zero_sum_value_matches_scipy_linprog_and_strategies_certify_it(shape):
    from scipy.optimize import linprog

    for seed in range(3):
        g = random_game(*shape, seed=seed, zero_sum=True, low=-3, high=5)
        A = g.payoffs[0]
        m, n = A.shape
        res = nash.zero_sum_lp(g)
        # independent: the column player's LP  min w  s.t.  A y <= w, sum y = 1
        ref = linprog(np.r_[np.zeros(n), 1.0], A_ub=np.c_[A, -np.ones(m)], b_ub=np.zeros(m),
                      A_eq=np.r_[np.ones(n), 0.0][None], b_eq=[1.0], bounds=[(0, None)] * n + [(None, None)],
                      method="highs")
        assert ref.status == 0
        assert res.value == pytest.approx(ref.fun, abs=1e-9)
        x, y = res.equilibria[0]
        # x guarantees at least the value, y concedes at most the value
        assert (x @ A).min() >= res.value - 1e-9
        assert (A @ y).max() <= res.value + 1e-9
        assert res.payoffs[0][0] == pytest.approx(res.value, abs=1e-9)


def test_zero_sum_known_values():
    rps = NormalFormGame.zero_sum([[0, -1, 1], [1, 0, -1], [-1, 1, 0]])
    res = nash.zero_sum_lp(rps)
    assert res.value == pytest.approx(0.0, abs=1e-12)
    for v in res.equilibria[0]:
        assert np.allclose(v, 1 / 3, atol=1e-9)
    # a 2x2 game without saddle point: value (ad - bc) / (a + d - b - c)
    a, b, c, d = 3.0, -1.0, -2.0, 4.0
    res = nash.zero_sum_lp(NormalFormGame.zero_sum([[a, b], [c, d]]))
    assert res.value == pytest.approx((a * d - b * c) / (a + d - b - c), abs=1e-12)
    assert res.equilibria[0][0] == pytest.approx([(d - c) / (a + d - b - c), (a - b) / (a + d - b - c)], abs=1e-9)


def test_constant_sum_game_goes_to_the_lp_and_keeps_the_row_value():
    A = np.array([[2.0, 5.0], [4.0, 1.0]])
    g = NormalFormGame.from_arrays(A, 7.0 - A)
    res = nash.solve(g)
    assert res.method == "zero_sum_lp"
    assert res.value == pytest.approx(nash.zero_sum_lp(NormalFormGame.zero_sum(A)).value, abs=1e-12)
    assert res.max_regret <= 1e-9


# ---------------------------------------------------------------------------- oracles: nashpy, Gambit
@pytest.mark.parametrize("shape", [(2, 2), (3, 3), (3, 4), (4, 4), (4, 5)])
def test_support_enumeration_contains_nashpys_equilibria_and_lh_is_one_of_them(shape):
    nashpy = pytest.importorskip("nashpy")
    for seed in range(4):
        g = random_game(*shape, seed=seed)
        ours = nash.support_enumeration(g).equilibria
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            theirs = list(nashpy.Game(*g.payoffs).support_enumeration(tol=1e-12))
        # nashpy's best-response test is exact float equality, so it can drop equilibria;
        # everything it finds must be ours
        assert len(theirs) >= 1
        for prof in theirs:
            assert _contains(ours, prof)
        for k in range(sum(shape)):
            lh = nash.lemke_howson(g, initial_dropped_label=k).equilibria[0]
            assert _contains(ours, lh)
            # nashpy's Lemke-Howson from the same label reaches the same equilibrium
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                ref = nashpy.Game(*g.payoffs).lemke_howson(initial_dropped_label=k)
            if all(np.isfinite(v).all() and v.sum() > 0 for v in ref):
                assert _same_profile(lh, ref, 1e-6)


@pytest.mark.parametrize("shape", [(3, 3), (4, 4), (4, 6)])
def test_support_enumeration_equals_gambits_exact_enummixed(shape):
    gbt = pytest.importorskip("pygambit")
    checked = 0
    for seed in range(6):
        g = random_game(*shape, seed=seed, integer=True, low=0, high=1000)
        G = gbt.Game.from_arrays(g.payoffs[0].astype(int), g.payoffs[1].astype(int))
        ref = gbt.nash.enummixed_solve(G, rational=True).equilibria
        if len(ref) % 2 == 0:  # a degenerate draw; completeness is only promised for nondegenerate games
            continue
        ref_profiles = [tuple(np.array([float(e[p][s]) for s in p.strategies]) for p in G.players) for e in ref]
        ours = nash.support_enumeration(g).equilibria
        assert len(ours) == len(ref_profiles)
        for prof in ref_profiles:
            assert _contains(ours, prof, 1e-9)
        checked += 1
    assert checked >= 3


# ---------------------------------------------------------------------------- degenerate games
def test_lemke_howson_on_a_degenerate_game():
    # von Stengel's degenerate example (Handbook of Game Theory vol. 3, ch. 45): row 0 of B is constant
    A = np.array([[3, 3], [2, 5], [0, 6]])
    B = np.array([[3, 3], [2, 6], [3, 1]])
    g = NormalFormGame.from_arrays(A, B)
    for k in range(5):
        res = nash.lemke_howson(g, initial_dropped_label=k)
        assert res.status == Status.OPTIMAL
        assert res.max_regret <= 1e-12
    se = nash.support_enumeration(g)
    assert all(r <= 1e-12 for r in se.max_regrets)
    assert _contains(se.equilibria, (np.array([0, 1 / 3, 2 / 3]), np.array([1 / 3, 2 / 3])))


def test_lemke_howson_on_games_with_many_ties():
    for seed in range(20):
        g = random_game(4, 4, seed=seed, integer=True, low=0, high=2)
        for k in range(8):
            res = nash.lemke_howson(g, initial_dropped_label=k)
            assert res.status == Status.OPTIMAL
            assert res.max_regret <= 1e-9


# ---------------------------------------------------------------------------- pure equilibria
def _brute_force_pure(game):
    cells = []
    for cell in itertools.product(*[range(n) for n in game.shape]):
        ok = True
        for p, U in enumerate(game.payoffs):
            for dev in range(game.shape[p]):
                alt = list(cell)
                alt[p] = dev
                if U[tuple(alt)] > U[cell]:
                    ok = False
        if ok:
            cells.append(cell)
    return cells


@pytest.mark.parametrize("shape", [(2, 2, 2), (3, 2, 4), (3, 3, 3), (2, 2, 2, 2)])
def test_pure_equals_brute_force_on_integer_games(shape):
    found_some = False
    for seed in range(8):
        g = random_game(*shape, seed=seed, integer=True, low=0, high=3)
        res = nash.pure(g)
        got = [tuple(int(np.argmax(v)) for v in e) for e in res.equilibria]
        assert got == _brute_force_pure(g)
        assert all(r == 0.0 for r in res.max_regrets)
        if got:
            found_some = True
            assert res.status == Status.OPTIMAL
        else:
            assert res.status == Status.INFEASIBLE
    assert found_some


def test_auto_on_three_players_says_pure_and_reports_none_as_infeasible():
    # a 3-player game without pure equilibrium: matching pennies for players 1-2, player 3 indifferent
    mp = np.array([[1.0, -1.0], [-1.0, 1.0]])
    U1 = np.stack([mp, mp], axis=2)
    g = NormalFormGame.from_arrays(U1, -U1, np.zeros((2, 2, 2)))
    res = nash.solve(g)
    assert res.method == "pure"
    assert res.status == Status.INFEASIBLE
    assert "pure" in res.message and res.equilibria == ()
    assert res.x is None


# ---------------------------------------------------------------------------- dispatcher and errors
def test_auto_dispatch():
    assert nash.solve(random_game(3, 3, seed=0, zero_sum=True)).method == "zero_sum_lp"
    assert nash.solve(random_game(3, 3, seed=0)).method == "lemke_howson"
    assert nash.solve(random_game(3, 3, seed=0), all_equilibria=True).method == "vertex_enumeration"
    assert nash.solve(random_game(3, 3, seed=0, zero_sum=True), all_equilibria=True).method == "vertex_enumeration"
    assert nash.solve(random_game(2, 2, 2, seed=0)).method == "pure"
    res = nash.solve(random_game(3, 3, seed=0), method="lemke_howson", initial_dropped_label=4)
    assert res.params["initial_dropped_label"] == 4


def test_methods_refuse_games_they_cannot_take():
    g3 = random_game(2, 2, 2, seed=0)
    with pytest.raises(UnsupportedProblemError, match="lemke_howson"):
        nash.lemke_howson(g3)
    with pytest.raises(UnsupportedProblemError, match="support_enumeration"):
        nash.support_enumeration(g3)
    with pytest.raises(UnsupportedProblemError, match="zero_sum_lp"):
        nash.zero_sum_lp(random_game(3, 3, seed=0))
    with pytest.raises(UnsupportedProblemError, match="zero_sum_lp"):
        nash.zero_sum_lp(g3)


@settings(max_examples=40, deadline=None)
@given(label=st.integers(-5, 20), method=st.text(max_size=12), opt=st.sampled_from(["tol", "maxiter", "foo"]))
def test_bad_options_raise_invalid_input(label, method, opt):
    g = random_game(3, 4, seed=0)
    if not 0 <= label < 7:
        with pytest.raises(InvalidInputError, match=r"lemke_howson\(\): initial_dropped_label"):
            nash.lemke_howson(g, initial_dropped_label=label)
    if method not in nash.METHODS:
        with pytest.raises(InvalidInputError, match=r"solve\(\): unknown method"):
            nash.solve(g, method=method)
    if opt != "maxiter":
        with pytest.raises(InvalidInputError, match=r"solve\(\).*takes no option"):
            nash.solve(g, method="lemke_howson", **{opt: 1})


@settings(max_examples=30, deadline=None)
@given(st.one_of(st.none(), st.integers(), st.text(), st.lists(st.floats(), max_size=4)))
def test_non_games_raise_invalid_input(obj):
    for f in (nash.solve, nash.zero_sum_lp, nash.lemke_howson, nash.support_enumeration, nash.vertex_enumeration,
              nash.pure):
        with pytest.raises(InvalidInputError, match=r"\(\): game must be"):
            f(obj)


@settings(max_examples=20, deadline=None)
@given(tol=st.one_of(st.floats(max_value=-1e-300), st.just(float("nan")), st.just(float("inf"))))
def test_bad_tolerances_raise_invalid_input(tol):
    g = random_game(2, 2, seed=0)
    with pytest.raises(InvalidInputError, match="tol"):
        nash.support_enumeration(g, tol=tol)
    with pytest.raises(InvalidInputError, match="tol"):
        nash.pure(g, tol=tol)


# ---------------------------------------------------------------------------- results
def test_determinism_and_json_round_trip():
    g = random_game(5, 5, seed=3)
    a = nash.support_enumeration(g)
    b = nash.support_enumeration(g)
    assert len(a.equilibria) == len(b.equilibria)
    for p, q in zip(a.equilibria, b.equilibria):
        assert all(np.array_equal(u, v) for u, v in zip(p, q))
    lh = nash.lemke_howson(g, initial_dropped_label=2)
    back = SolveResult.from_json(lh.to_json())
    assert isinstance(back, nash.NashResult)
    assert back.max_regrets == lh.max_regrets
    assert np.array_equal(back.x, lh.x)
    assert all(np.array_equal(u, v) for u, v in zip(back.equilibria[0], lh.equilibria[0]))
    assert np.array_equal(lh.x, np.concatenate(lh.equilibria[0]))
    assert lh.objective == lh.max_regrets[0] and lh.bound == 0.0


def test_iteration_limit_is_a_status():
    g = random_game(6, 6, seed=1)
    full = nash.lemke_howson(g)
    assert full.nit > 1
    res = nash.lemke_howson(g, maxiter=1)
    assert res.status == Status.ITERATION_LIMIT
    assert res.nit == 1 and res.equilibria == () and res.x is None


@pytest.mark.parametrize("shape", [(3, 3), (4, 5)])
def test_zero_sum_value_equals_the_logit_qre_limit(shape):
    qre = pytest.importorskip("games.qre")
    for seed in range(2):
        g = random_game(*shape, seed=seed, zero_sum=True)
        lp = nash.zero_sum_lp(g)
        end = qre.logit_branch(g, maxregret=1e-9)
        # the principal branch ends at a Nash equilibrium; in a zero-sum game every equilibrium
        # gives the row player the value
        assert end.max_regret <= 1e-8
        assert g.expected_payoffs(list(end.profile))[0] == pytest.approx(lp.value, abs=1e-7)


# ---------------------------------------------------------------------------- vertex enumeration
# Gambit's example files (gambitproject/gambit, contrib/games/), verbatim; Gambit's enummixed finds
# 9, 4 and 12 extreme equilibria in them.
GAMBIT_FILES = {
    "perfect1": ('NFG 1 R "Game with no dominated strategies, and dominated equilibrium" { "Player 1" "Player 2" }\n\n'
                 '{ { "1" "2" "3" }\n{ "1" "2" "3" }\n}\n""\n\n{\n{ "11" 3, 1 }\n{ "12" 0, 0 }\n{ "13" 0, 1 }\n'
                 '{ "21" 3/2, 1 }\n{ "22" 2, 2 }\n{ "23" 3/2, 1 }\n{ "31" 0, 1 }\n{ "32" 0, 0 }\n{ "33" 3, 1 }\n}\n'
                 '1 4 7 2 5 8 3 6 9 \n', 9),
    "wink3": ('NFG 1 R "Simple example where CBFS != AllNash" { "1" "2" }\n\n{ { "1" "2" "3"}\n{ "1" "2" "3"}\n}\n\n'
              '1 3 1 2 0 4\n3 4 3 1 2 3\n4 2 2 1 3 3\n', 4),
    "winkels": ('NFG 1 R "Winkels, 1979 degenerate game with 12 extreme equilibria" { "1" "2" }\n\n'
                '{ { "1" "2" "3" "4" "5" "6" }\n{ "1" "2" }\n}\n\n'
                '1 1 1 0 3 -2 3 4 5/2 -1 5/2 6 3 2 3 -1 1 2 1 -1 5/2 6 5/2 -1 \n', 12),
}


def _gambit_exact(gbt, G):
    """Gambit's exact extreme equilibria and payoff matrices, as Fractions."""
    from fractions import Fraction

    ref = gbt.nash.enummixed_solve(G, rational=True).equilibria
    eqs = {tuple(tuple(Fraction(str(e[p][s])) for s in p.strategies) for p in G.players) for e in ref}
    p1, p2 = G.players
    A = [[Fraction(str(G[s1, s2][p1])) for s2 in p2.strategies] for s1 in p1.strategies]
    B = [[Fraction(str(G[s1, s2][p2])) for s2 in p2.strategies] for s1 in p1.strategies]
    return eqs, A, B


def _ours_exact(res):
    from fractions import Fraction

    return {tuple(tuple(Fraction(v) for v in player) for player in eq) for eq in res.rational}


def _exact_max_regret(A, B, x, y):
    """max regret of (x, y) in exact rational arithmetic."""
    m, n = len(A), len(A[0])
    Ay = [sum(A[i][j] * y[j] for j in range(n)) for i in range(m)]
    xB = [sum(x[i] * B[i][j] for i in range(m)) for j in range(n)]
    return max(max(Ay) - sum(x[i] * Ay[i] for i in range(m)), max(xB) - sum(xB[j] * y[j] for j in range(n)))


def _check_structure(res):
    """pairs, cliques and components are consistent with their definitions."""
    pairs = set(res.pairs)
    assert len(pairs) == res.n_equilibria
    for k, (i, j) in enumerate(res.pairs):
        assert _same_profile(res.equilibria[k], (res.row_strategies[i], res.column_strategies[j]), 1e-12)
    # every pair lies in a clique; cliques are complete and maximal
    assert all(any(i in r and j in c for r, c in res.cliques) for i, j in pairs)
    for rows, cols in res.cliques:
        assert all((i, j) in pairs for i in rows for j in cols)
        for i in set(range(len(res.row_strategies))) - set(rows):
            assert not all((i, j) in pairs for j in cols)
        for j in set(range(len(res.column_strategies))) - set(cols):
            assert not all((i, j) in pairs for i in rows)
    assert len(set(res.cliques)) == len(res.cliques)
    # components: the classes of "shares a row or a column strategy", transitively
    label = list(range(res.n_equilibria))
    changed = True
    while changed:
        changed = False
        for a, (i, j) in enumerate(res.pairs):
            for b, (k, l) in enumerate(res.pairs):
                if (i == k or j == l) and label[a] != label[b]:
                    label[a] = label[b] = min(label[a], label[b])
                    changed = True
    classes = sorted(tuple(k for k in range(res.n_equilibria) if label[k] == c) for c in set(label))
    assert sorted(res.components) == classes
    assert sorted(k for comp in res.components for k in comp) == list(range(res.n_equilibria))
    for (rows, _), c in zip(res.cliques, res.clique_components):
        assert any(res.pairs[k][0] == rows[0] for k in res.components[c])


@pytest.mark.parametrize("name", sorted(GAMBIT_FILES))
def test_vertex_enumeration_equals_gambits_enummixed_on_gambits_degenerate_examples(name):
    import io

    from games import read_nfg

    gbt = pytest.importorskip("pygambit")
    text, expected = GAMBIT_FILES[name]
    g = read_nfg(text)
    res = nash.vertex_enumeration(g)
    assert res.status == Status.OPTIMAL and res.method == "vertex_enumeration"
    ref, A, B = _gambit_exact(gbt, gbt.read_nfg(io.StringIO(text)))
    assert len(ref) == expected
    ours = _ours_exact(res)
    assert len(ours) == res.n_equilibria == expected
    assert ours == ref
    for x, y in ours:
        assert _exact_max_regret(A, B, x, y) == 0
    assert all(r <= 1e-12 for r in res.max_regrets)
    _check_structure(res)
    # support enumeration misses some of them; what it finds is among ours
    se = nash.support_enumeration(g)
    assert se.n_equilibria < expected
    assert all(_contains(res.equilibria, e, 1e-9) for e in se.equilibria)


@pytest.mark.parametrize("shape", [(2, 2), (2, 3), (3, 2), (3, 3), (3, 4), (4, 4), (4, 5), (5, 5)])
def test_vertex_enumeration_equals_gambits_enummixed_on_random_degenerate_games(shape):
    gbt = pytest.importorskip("pygambit")
    incomplete_support_enumeration = 0
    for seed in range(15):
        g = random_game(*shape, seed=seed, integer=True, low=0, high=2)
        A = g.payoffs[0].astype(int)
        B = g.payoffs[1].astype(int)
        ref, _, _ = _gambit_exact(gbt, gbt.Game.from_arrays(A, B))
        res = nash.vertex_enumeration(g)
        assert res.status == Status.OPTIMAL
        ours = _ours_exact(res)
        assert len(ours) == res.n_equilibria
        assert ours == ref, f"seed {seed}"
        for x, y in ours:
            assert _exact_max_regret(A.tolist(), B.tolist(), x, y) == 0
        _check_structure(res)
        incomplete_support_enumeration += nash.support_enumeration(g).n_equilibria < res.n_equilibria
    if shape[0] * shape[1] >= 9:
        assert incomplete_support_enumeration >= 1  # the draws are degenerate enough to matter


def test_vertex_enumeration_equals_gambits_enummixed_on_8x8_degenerate_games():
    gbt = pytest.importorskip("pygambit")
    for seed in range(2):
        g = random_game(8, 8, seed=seed, integer=True, low=0, high=2)
        A = g.payoffs[0].astype(int)
        B = g.payoffs[1].astype(int)
        ref, _, _ = _gambit_exact(gbt, gbt.Game.from_arrays(A, B))
        res = nash.vertex_enumeration(g)
        assert res.status == Status.OPTIMAL and _ours_exact(res) == ref and len(ref) >= 20
        for x, y in ref:
            assert _exact_max_regret(A.tolist(), B.tolist(), x, y) == 0


def test_vertex_enumeration_reads_fractional_payoffs_exactly():
    import io

    from games import read_nfg

    gbt = pytest.importorskip("pygambit")
    nontrivial = 0
    for seed in range(6):
        rng = np.random.default_rng(seed)
        num = rng.integers(0, 4, size=(4, 4, 2))
        den = rng.choice([3, 7], size=(4, 4, 2))
        cells = [f"{num[i, j, p]}/{den[i, j, p]}" for j in range(4) for i in range(4) for p in range(2)]
        text = 'NFG 1 R "thirds and sevenths" { "1" "2" } { 4 4 }\n' + " ".join(cells) + "\n"
        res = nash.vertex_enumeration(read_nfg(text))
        ref, A, B = _gambit_exact(gbt, gbt.read_nfg(io.StringIO(text)))
        assert _ours_exact(res) == ref
        for x, y in ref:
            assert _exact_max_regret(A, B, x, y) == 0
        nontrivial += any(max(v.denominator for v in x + y) > 1 for x, y in ref)
    assert nontrivial >= 2


def test_vertex_enumeration_components_of_known_games():
    # column player weakly prefers column 1 always, ties with column 0 against row 0 and with column
    # 2 against row 1; the row player is indifferent: 4 extreme equilibria, 3 cliques, 1 component
    g = NormalFormGame.from_arrays(np.zeros((2, 3)), [[1, 1, 0], [0, 1, 1]])
    res = nash.vertex_enumeration(g)
    assert res.rational == ((("1", "0"), ("1", "0", "0")), (("1", "0"), ("0", "1", "0")),
                            (("0", "1"), ("0", "1", "0")), (("0", "1"), ("0", "0", "1")))
    assert res.pairs == ((0, 0), (0, 1), (1, 1), (1, 2))
    assert res.cliques == (((0,), (0, 1)), ((0, 1), (1,)), ((1,), (1, 2)))
    assert res.components == ((0, 1, 2, 3),) and res.clique_components == (0, 0, 0)
    # entry deterrence: (In, Accommodate) is isolated; Out with Fight at least 1/2 is a segment
    entry = NormalFormGame.from_arrays([[1, 1], [0, 2]], [[5, 5], [0, 2]],
                                       strategies=[["Out", "In"], ["Fight", "Accommodate"]])
    res = nash.vertex_enumeration(entry)
    assert res.rational == ((("1", "0"), ("1", "0")), (("1", "0"), ("1/2", "1/2")), (("0", "1"), ("0", "1")))
    assert res.cliques == (((0,), (0, 1)), ((1,), (2,)))
    assert res.components == ((0, 1), (2,)) and res.n_components == 2
    # every payoff equal: every profile is an equilibrium, one clique of all pure strategies
    res = nash.vertex_enumeration(NormalFormGame.from_arrays(np.ones((3, 4)), np.ones((3, 4))))
    assert res.n_equilibria == 12 and res.cliques == (((0, 1, 2), (0, 1, 2, 3)),) and res.n_components == 1
    # a nondegenerate game: every extreme equilibrium is its own clique and component
    g = random_game(5, 5, seed=3)
    res = nash.vertex_enumeration(g)
    assert res.n_equilibria == nash.support_enumeration(g).n_equilibria >= 3
    assert res.components == tuple((k,) for k in range(res.n_equilibria))
    assert res.cliques == tuple(((i,), (j,)) for i, j in sorted(res.pairs))


def test_convex_combinations_within_a_clique_are_equilibria():
    from fractions import Fraction

    text, _ = GAMBIT_FILES["winkels"]
    from games import read_nfg

    g = read_nfg(text)
    res = nash.vertex_enumeration(g)
    A = [[Fraction(v) for v in row] for row in g.payoffs[0]]
    B = [[Fraction(v) for v in row] for row in g.payoffs[1]]
    rows = [tuple(Fraction(v) for v in res.rational[k][0]) for k in range(res.n_equilibria)]
    cols = [tuple(Fraction(v) for v in res.rational[k][1]) for k in range(res.n_equilibria)]
    row_of = {i: rows[k] for k, (i, _) in enumerate(res.pairs)}
    col_of = {j: cols[k] for k, (_, j) in enumerate(res.pairs)}
    assert any(len(r) > 1 or len(c) > 1 for r, c in res.cliques)
    for r, c in res.cliques:
        wr = [Fraction(k + 1) for k in range(len(r))]
        wc = [Fraction(2 * k + 1) for k in range(len(c))]
        x = [sum(w * row_of[i][s] for w, i in zip(wr, r)) / sum(wr) for s in range(6)]
        y = [sum(w * col_of[j][s] for w, j in zip(wc, c)) / sum(wc) for s in range(2)]
        assert _exact_max_regret(A, B, x, y) == 0


def test_vertex_enumeration_limits_validation_and_round_trip():
    from games import read_nfg

    g = random_game(8, 8, seed=0, integer=True, low=0, high=2)
    res = nash.vertex_enumeration(g, time_limit=1e-9)
    assert res.status == Status.TIME_LIMIT and "time limit" in res.message
    res = nash.vertex_enumeration(g, maxiter=3)
    assert res.status == Status.ITERATION_LIMIT and res.nit <= 6
    perfect1 = read_nfg(GAMBIT_FILES["perfect1"][0])
    full = nash.vertex_enumeration(perfect1)
    assert len(full.cliques) > 2 and full.params == {"time_limit": None, "maxiter": 1_000_000, "max_cliques": 10_000,
                                                     "threads": 1}
    res = nash.vertex_enumeration(perfect1, max_cliques=2)
    assert res.status == Status.ITERATION_LIMIT and len(res.cliques) == 2
    assert res.rational == full.rational and res.components == full.components
    for bad in ({"time_limit": -1}, {"time_limit": float("nan")}, {"maxiter": 0}, {"max_cliques": 0},
                {"maxiter": "x"}):
        with pytest.raises(InvalidInputError, match=r"vertex_enumeration\(\): " + next(iter(bad))):
            nash.vertex_enumeration(g, **bad)
    with pytest.raises(UnsupportedProblemError, match="vertex_enumeration"):
        nash.vertex_enumeration(random_game(2, 2, 2, seed=0))
    a = nash.vertex_enumeration(g)
    b = nash.vertex_enumeration(g)
    assert a.rational == b.rational and a.cliques == b.cliques and a.pairs == b.pairs
    back = SolveResult.from_json(a.to_json())
    assert isinstance(back, nash.VertexEnumerationResult)
    assert back.rational == a.rational and back.cliques == a.cliques and back.components == a.components
    assert all(np.array_equal(u, v) for u, v in zip(back.row_strategies, a.row_strategies))
    # constant-sum games report the value; all_equilibria goes to vertex enumeration for them too
    z = NormalFormGame.zero_sum([[1, 1], [1, 1], [0, 2]])
    res = nash.solve(z, all_equilibria=True)
    assert res.method == "vertex_enumeration" and res.value == pytest.approx(1.0, abs=1e-12)
    assert res.n_equilibria >= 2 and res.n_components == 1


# ---------------------------------------------------------------------------- thread policy
from tests.thread_fixtures import blas_threads as _blas_threads  # noqa: E402
from tests.thread_fixtures import can_run_two_blas_threads as _two_blas_threads  # noqa: E402


@pytest.mark.skipif(not _two_blas_threads(), reason="the BLAS cannot run 2 threads here")
@pytest.mark.parametrize("method", ["zero_sum_lp", "lemke_howson", "support_enumeration", "vertex_enumeration",
                                    "pure", "solve"])
def test_thread_policy_inside_the_call_and_user_setting_outside(method, monkeypatch):
    from threadpoolctl import threadpool_limits

    seen = []
    real = result._result

    def spy(*args, **kwargs):     # every method builds its answer here, inside the call
        seen.append(frozenset(_blas_threads()))
        return real(*args, **kwargs)

    for module in (zero_sum, lemke, supports, vertices, pure_strategies):
        monkeypatch.setattr(module, "_result", spy)
    game = random_game(3, 3, seed=1, zero_sum=method == "zero_sum_lp")
    func = getattr(nash, method)
    with threadpool_limits(2, user_api="blas"):
        res = func(game)
        assert _blas_threads() == {2} and res.params["threads"] == 1
        res = func(game, threads=2)
        assert _blas_threads() == {2} and res.params["threads"] == 2
    with pytest.raises(InvalidInputError, match=r"threads must be >= 1"):
        func(game, threads=0)
    assert seen == [frozenset({1}), frozenset({2})]


# ---------------------------------------------------------------------------- compiled kernels
def _support_enumeration_reference(game, tol=1e-10):
    """The numpy support enumeration this module used before its compiled kernel."""
    A, B = game.payoffs
    m, n = A.shape
    found = []
    for k in range(1, min(m, n) + 1):
        for I in itertools.combinations(range(m), k):
            for J in itertools.combinations(range(n), k):
                sols = []
                for M in (A[np.ix_(I, J)], B[np.ix_(I, J)].T):
                    S = np.zeros((k + 1, k + 1))
                    S[:k, :k], S[:k, k], S[k, :k] = M, -1.0, 1.0
                    rhs = np.zeros(k + 1)
                    rhs[k] = 1.0
                    try:
                        sol = np.linalg.solve(S, rhs)
                    except np.linalg.LinAlgError:
                        break
                    if not np.all(np.isfinite(sol)) or np.abs(S @ sol - rhs).max() > 1e-9 * (
                            1 + np.abs(S).max() * np.abs(sol).max()):
                        break
                    sols.append(sol[:k])
                if len(sols) < 2 or (sols[0] < -tol).any() or (sols[1] < -tol).any():
                    continue
                x, y = np.zeros(m), np.zeros(n)
                x[list(I)], y[list(J)] = np.maximum(sols[1], 0), np.maximum(sols[0], 0)
                x, y = x / x.sum(), y / y.sum()
                if (A @ y).max() <= x @ A @ y + tol and (x @ B).max() <= x @ B @ y + tol:
                    found.append((x, y))
    return found


@pytest.mark.parametrize("shape", [(2, 2), (3, 4), (5, 5), (6, 3)])
def test_compiled_support_enumeration_equals_the_numpy_reference(shape):
    for seed in range(4):
        for game in (random_game(*shape, seed=seed), random_game(*shape, seed=seed, integer=True, low=0, high=3)):
            ref = result._dedupe(_support_enumeration_reference(game))
            res = nash.support_enumeration(game)
            assert res.n_equilibria == len(ref)
            for (x, y), eq in zip(ref, res.equilibria):
                assert np.abs(x - eq[0]).max() <= 1e-12 and np.abs(y - eq[1]).max() <= 1e-12


def test_support_enumeration_with_many_equilibria_grows_its_buffer():
    # a 9 x 9 coordination game has 2**9 - 1 = 511 equilibria (one per common support)
    g = NormalFormGame.from_arrays(np.eye(9), np.eye(9))
    res = nash.support_enumeration(g)
    assert res.n_equilibria == 511 and max(res.max_regrets) <= 1e-12


def test_pure_reports_the_regret_allowed_by_tol():
    g = NormalFormGame.from_arrays([[1.0, 0.0], [0.9, 2.0]], [[1.0, 0.5], [0.0, 2.0]])
    exact = nash.pure(g)
    loose = nash.pure(g, tol=0.2)
    assert [r for r in exact.max_regrets] == [0.0, 0.0]
    assert loose.n_equilibria == 2 and exact.n_equilibria == 2
    g2 = NormalFormGame.from_arrays([[1.0, 0.0], [1.1, 2.0]], [[1.0, 0.5], [0.0, 2.0]])
    res = nash.pure(g2, tol=0.15)
    for eq, reg, pay in zip(res.equilibria, res.max_regrets, res.payoffs):
        assert reg == pytest.approx(g2.max_regret(list(eq)), abs=1e-15)
        np.testing.assert_array_equal(pay, g2.expected_payoffs(list(eq)))
    assert max(res.max_regrets) == pytest.approx(0.1)


def test_integer_payoffs_of_decimals_equal_the_rational_reading():
    from fractions import Fraction
    import math as _math

    def by_fractions(U):
        R = [[vertices._rational(float(v), {}) for v in row] for row in U.tolist()]
        low = min(min(row) for row in R)
        shifted = [[v - low + 1 for v in row] for row in R]
        scale = _math.lcm(*(v.denominator for row in shifted for v in row))
        return [[int(v * scale) for v in row] for row in shifted]

    rng = np.random.default_rng(0)
    cases = [np.array([[0.1, 0.25], [1e-6, 3.125]]), np.array([[1023.999999, -1023.5], [0.001, 0.0]]),
             np.array([[1 / 3, 2 / 3], [0.1, 0.0]]), np.array([[5000.5, 1.0], [2.0, 3.0]]), np.zeros((2, 2)),
             rng.normal(size=(3, 3))]
    cases += [rng.integers(-10**6, 10**6, (2, 3)) / 10.0**d for d in range(7) for _ in range(20)]
    for U in cases:
        assert vertices._integer_payoffs(U, {}) == by_fractions(U)
    assert Fraction(1, 3) == vertices._rational(1 / 3, {})
