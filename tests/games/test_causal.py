"""Tests for games.causal: zero welfare gain with best-responding followers, hand-derived S-CNEs."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.errors import InvalidInputError
from engine.result import SolveResult
from games.causal import LEVELS, SequentialCausalGame, follower_response, random_causal_game, solve

A = [[1, 4], [0, 2]]   # leader
B = [[1, 0], [0, 1]]   # follower matches the leader's row; SSE: x = (1/2, 1/2), follower plays 1


@pytest.mark.parametrize("n, m", [(2, 2), (3, 3), (5, 5), (4, 2)])
def test_best_responding_followers_give_exactly_zero_gain(n, m):
    for seed in range(12):
        g = random_causal_game(n, m, epsilon=0.0, seed=seed)
        r = solve(g)
        assert abs(r.welfare_gain) <= 1e-9
        assert abs(r.leader_value - r.stackelberg_leader_value) <= 1e-9
        assert r.follower_action == r.stackelberg_follower_action
        assert r.attained


def test_classical_stackelberg_values_of_the_hand_game():
    r = solve(SequentialCausalGame(A, B, leader_instinct=0, follower_instinct=0, epsilon=0.0))
    np.testing.assert_allclose(r.stackelberg_strategy, [0.5, 0.5], atol=1e-9)
    assert r.stackelberg_leader_value == pytest.approx(3.0)
    assert r.stackelberg_follower_value == pytest.approx(0.5)
    assert r.welfare_gain == pytest.approx(0.0, abs=1e-12)
    # association: the leader's instinct (row 0) -> follower best-responds with column 0 -> (1, 1)
    assert r.level_leader_values[0] == pytest.approx(1.0)


def test_instinct_equal_to_best_response_lets_the_leader_push_further():
    # instinct = column 1 (the SSE response), eps = 0.2: the follower keeps column 1 while
    # x0 - x1 <= 0.2, i.e. x0 <= 0.6; leader maximises 4 x0 + 2 x1 -> x = (0.6, 0.4):
    # leader 3.2, follower 0.4, welfare 3.6 vs Stackelberg 3.5 -> gain +0.1 (attained).
    r = solve(SequentialCausalGame(A, B, leader_instinct=0, follower_instinct=1, epsilon=0.2))
    assert r.level == "counterfactual"
    np.testing.assert_allclose(r.leader_strategy, [0.6, 0.4], atol=1e-9)
    assert r.follower_action == 1
    assert r.leader_value == pytest.approx(3.2)
    assert r.follower_value == pytest.approx(0.4)
    assert r.welfare_gain == pytest.approx(0.1)
    assert r.attained
    # intervention commits to (1/2, 1/2); the follower's instinct (1) is a best response: leader 3
    assert r.level_leader_values[1] == pytest.approx(3.0)


def test_instinct_different_from_best_response_costs_the_leader():
    # instinct = column 0, eps = 0.2: column 1 is played only when x1 - x0 >= 0.2 -> x = (0.4, 0.6):
    # leader 2.8 (a supremum: on the boundary the follower takes its instinct), follower 0.6,
    # welfare 3.4 -> gain -0.1. Intervention ((1/2, 1/2), instinct within eps) gives the leader 0.5.
    r = solve(SequentialCausalGame(A, B, leader_instinct=0, follower_instinct=0, epsilon=0.2))
    assert r.level == "counterfactual"
    np.testing.assert_allclose(r.leader_strategy, [0.4, 0.6], atol=1e-9)
    assert r.leader_value == pytest.approx(2.8)
    assert r.welfare_gain == pytest.approx(-0.1)
    assert not r.attained
    np.testing.assert_allclose(r.level_leader_values, [1.0, 0.5, 2.8], atol=1e-9)


def test_signal_dependent_instincts_make_the_leader_pick_its_level():
    # the follower's instinct is column 1 only when it observes "intervention": then the SSE
    # commitment (1/2, 1/2) keeps column 1 (leader 3); counterfactual (instinct 0) gives 2.8
    g = SequentialCausalGame(A, B, leader_instinct=0, follower_instinct=[0, 1, 0], epsilon=0.2)
    r = solve(g)
    assert r.level == "intervention"
    assert r.leader_value == pytest.approx(3.0)
    assert r.welfare_gain == pytest.approx(0.0, abs=1e-12)


def test_dominant_instinct_changes_nothing():
    # column 1 is dominant for the follower and is its instinct: S-CNE = SSE for every epsilon
    for eps in (0.0, 0.1, 1.0):
        r = solve(SequentialCausalGame([[2, 1], [0, 3]], [[0, 1], [0, 1]], follower_instinct=1, epsilon=eps))
        assert r.leader_value == pytest.approx(3.0)
        assert abs(r.welfare_gain) < 1e-9


def test_follower_response_rule():
    g = SequentialCausalGame(A, B, follower_instinct=0, epsilon=0.2)
    assert follower_response(g, "counterfactual", [0.5, 0.5]) == 0
    assert follower_response(g, "counterfactual", [0.3, 0.7]) == 1
    g0 = SequentialCausalGame(A, B, follower_instinct=0, epsilon=0.0)
    assert follower_response(g0, "association", [0.5, 0.5]) == 1  # tie broken in the leader's favour


def test_result_round_trip():
    r = solve(random_causal_game(3, epsilon=0.1, seed=4))
    back = SolveResult.from_dict(r.to_dict())
    assert back.level == r.level and back.welfare_gain == r.welfare_gain
    np.testing.assert_array_equal(back.level_strategies, r.level_strategies)


@pytest.mark.parametrize("kwargs, match", [
    ({"leader_payoffs": [[1, 2]], "follower_payoffs": [[1, 2], [3, 4]]}, "differ in shape"),
    ({"leader_payoffs": [[np.nan, 2]], "follower_payoffs": [[1, 2]]}, "finite"),
    ({"leader_payoffs": [[1, 2]], "follower_payoffs": [[1, 2]], "epsilon": -0.1}, "epsilon"),
    ({"leader_payoffs": [[1, 2]], "follower_payoffs": [[1, 2]], "follower_instinct": 2}, "follower_instinct"),
    ({"leader_payoffs": [[1, 2]], "follower_payoffs": [[1, 2]], "follower_instinct": [0, 1]}, "one action per level"),
    ({"leader_payoffs": [[1], [2]], "follower_payoffs": [[1], [2]], "leader_instinct": [0.5, 0.6]}, "sum"),
    ({"leader_payoffs": [[1], [2]], "follower_payoffs": [[1], [2]], "leader_instinct": 3}, "leader_instinct"),
])
def test_game_validation(kwargs, match):
    with pytest.raises(InvalidInputError, match=match) as err:
        SequentialCausalGame(**kwargs)
    assert str(err.value).startswith("SequentialCausalGame()")


@settings(max_examples=25, deadline=None)
@given(st.one_of(st.text(max_size=5), st.integers(), st.none()))
def test_unknown_levels_rejected(level):
    g = SequentialCausalGame(A, B)
    if level in LEVELS:
        return
    with pytest.raises(InvalidInputError, match="follower_response\\(\\)"):
        follower_response(g, level, [0.5, 0.5])


def test_solve_rejects_non_games():
    with pytest.raises(InvalidInputError, match="solve\\(\\): game must be a SequentialCausalGame"):
        solve([[1, 2]])
