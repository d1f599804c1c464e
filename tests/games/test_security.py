"""Tests of games.security: ORIGAMI = ERASER = the SSE of the expanded normal form; validation."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.errors import InvalidInputError
from engine.result import SolveResult
from engine.status import Status
from games import stackelberg
from games.security import SecurityGame, eraser, eraser_model, origami, solve


def _random_security_game(T, m, seed, integer=False):
    rng = np.random.default_rng(seed)
    if integer:
        dc = rng.integers(0, 5, T).astype(float)
        du = dc - rng.integers(0, 5, T)
        ac = rng.integers(-4, 1, T).astype(float)
        au = ac + rng.integers(1, 6, T)
    else:
        dc = rng.uniform(0, 10, T)
        du = rng.uniform(-10, 0, T)
        ac = rng.uniform(-10, 0, T)
        au = rng.uniform(0, 10, T)
    return SecurityGame(dc, du, ac, au, resources=m)


def _check_sse_certificate(game, res):
    c = res.coverage
    assert c.min() >= -1e-12 and c.max() <= 1 + 1e-12
    assert c.sum() <= game.resources + 1e-9
    ua = game.attacker_utility(c)
    assert ua[res.attacked_target] >= ua.max() - 1e-7
    assert res.defender_utility == pytest.approx(game.defender_utility(c)[res.attacked_target], abs=1e-12)


def test_hand_computed_two_target_game():
    # 1 resource, targets (dc, du, ac, au) = (1, -1, -1, 1) and (2, -2, -1, 2): the attacker is
    # made indifferent at level x with c0 = (1 - x) / 2, c1 = (2 - x) / 3, c0 + c1 = 1 -> x = 0.2,
    # c = (0.4, 0.6); the defender prefers the attack on target 1: 0.6 * 2 - 0.4 * 2 = 0.4.
    g = SecurityGame([1, 2], [-1, -2], [-1, -1], [1, 2], resources=1)
    for res in (origami(g), eraser(g)):
        assert res.coverage == pytest.approx([0.4, 0.6], abs=1e-9)
        assert res.attacked_target == 1
        assert res.defender_utility == pytest.approx(0.4, abs=1e-9)
        assert res.attacker_utility == pytest.approx(0.2, abs=1e-9)


@pytest.mark.parametrize("T,m", [(1, 1), (2, 1), (3, 1), (5, 2), (8, 3), (12, 4), (20, 5), (30, 29), (6, 8)])
def test_origami_equals_eraser(T, m):
    for seed in range(5):
        for integer in (False, True):
            g = _random_security_game(T, m, 97 * T + 13 * m + seed, integer=integer)
            o = origami(g)
            e = eraser(g)
            assert o.status == Status.OPTIMAL and e.status == Status.OPTIMAL
            assert o.defender_utility == pytest.approx(e.defender_utility, abs=1e-7)
            _check_sse_certificate(g, o)
            _check_sse_certificate(g, e)


@pytest.mark.parametrize("T,m", [(2, 1), (3, 1), (4, 2), (5, 2), (6, 3)])
def test_origami_equals_the_sse_of_the_pure_schedule_game(T, m):
    for seed in range(4):
        g = _random_security_game(T, m, 7 * T + m + seed)
        nf = g.to_normal_form()
        ref = stackelberg.solve(nf)
        o = origami(g)
        assert o.defender_utility == pytest.approx(ref.leader_value, abs=1e-7)
        # the mixed schedule's marginals form a coverage vector with the same defender value
        cov = np.array([[t in s for t in range(T)] for s in itertools.combinations(range(T), min(m, T))], float)
        marg = ref.leader_strategy @ cov
        assert marg.sum() == pytest.approx(min(m, T), abs=1e-9)
        assert g.defender_utility(marg)[ref.follower_action] == pytest.approx(ref.leader_value, abs=1e-9)
        ua = g.attacker_utility(marg)
        assert ua[ref.follower_action] >= ua.max() - 1e-9


def test_zero_resources_and_full_coverage():
    g = _random_security_game(5, 0, 1)
    o = origami(g)
    assert np.all(o.coverage == 0)
    assert o.attacker_utility == pytest.approx(g.attacker_uncovered.max())
    assert o.defender_utility == pytest.approx(eraser(g).defender_utility, abs=1e-9)
    g = _random_security_game(4, 4, 2)
    o = origami(g)
    # enough resources: the attacker's level cannot go below the best covered payoff
    assert o.attacker_utility == pytest.approx(g.attacker_covered.max(), abs=1e-12)
    assert o.defender_utility == pytest.approx(eraser(g).defender_utility, abs=1e-9)


def test_solve_dispatch_and_model_export():
    g = _random_security_game(6, 2, 3)
    assert solve(g).method == "origami"
    assert solve(g, method="eraser").method == "eraser"
    model = eraser_model(g)
    assert model.is_mip and model.n_cols == 14
    assert model.solve(mip_rel_gap=0.0).objective == pytest.approx(origami(g).defender_utility, abs=1e-6)
    with pytest.raises(InvalidInputError, match=r"solve\(\): unknown method"):
        solve(g, method="dobss")


def test_determinism_and_round_trip():
    g = _random_security_game(15, 4, 9)
    a, b = eraser(g, seed=3), eraser(g, seed=3)
    assert np.array_equal(a.coverage, b.coverage) and a.attacked_target == b.attacked_target
    assert a.params["seed"] == 3
    o = origami(g)
    back = SolveResult.from_json(o.to_json())
    assert np.array_equal(back.coverage, o.coverage) and back.attacked_target == o.attacked_target


# ---------------------------------------------------------------------------- validation
bad_number = st.sampled_from([float("nan"), float("inf"), -float("inf")])


@settings(max_examples=40, deadline=None)
@given(bad=bad_number, which=st.integers(0, 3), t=st.integers(0, 2))
def test_non_finite_payoffs_raise(bad, which, t):
    arrays = [np.array([1.0, 2, 3]), np.array([0.0, 0, 0]), np.array([-1.0, -1, -1]), np.array([1.0, 1, 1])]
    arrays[which][t] = bad
    with pytest.raises(InvalidInputError, match=r"SecurityGame\(\).*finite"):
        SecurityGame(*arrays, resources=1)


@settings(max_examples=60, deadline=None)
@given(dc=st.floats(-5, 5), du=st.floats(-5, 5), ac=st.floats(-5, 5), au=st.floats(-5, 5),
       r=st.one_of(st.integers(-3, 3), st.floats(-1, 2), st.text(max_size=2)))
def test_assumption_violations_raise(dc, du, ac, au, r):
    valid = dc >= du and au > ac and isinstance(r, int) and r >= 0
    if valid:
        g = SecurityGame([dc], [du], [ac], [au], resources=r)
        assert origami(g).defender_utility == pytest.approx(eraser(g).defender_utility, abs=1e-7)
    else:
        with pytest.raises(InvalidInputError, match=r"SecurityGame\(\)"):
            SecurityGame([dc], [du], [ac], [au], resources=r)


def test_shape_mismatch_and_non_games():
    with pytest.raises(InvalidInputError, match=r"attacker_covered has 2 targets"):
        SecurityGame([1, 2, 3], [0, 0, 0], [0, 0], [1, 1, 1], resources=1)
    with pytest.raises(InvalidInputError, match=r"must have 1 dimension"):
        SecurityGame([[1]], [[0]], [[0]], [[1]], resources=1)
    with pytest.raises(InvalidInputError, match=r"origami\(\): game must be"):
        origami({"targets": 3})
    with pytest.raises(InvalidInputError, match=r"eraser\(\): game must be"):
        eraser(None)
