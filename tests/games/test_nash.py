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
    assert nash.solve(random_game(3, 3, seed=0), all_equilibria=True).method == "support_enumeration"
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
    for f in (nash.solve, nash.zero_sum_lp, nash.lemke_howson, nash.support_enumeration, nash.pure):
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
