"""Tests for games.markov: Shapley LPs (certificates), soft value iteration (QRE equations), limits."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.errors import InvalidInputError
from engine.result import SolveResult
from games.markov import (ZeroSumMarkovGame, best_response, evaluate, exploitability, matrix_game_value,
                          random_markov_game, shapley, soft, soft_matrix_game, solve)


def _softmax(z):
    z = z - z.max()
    e = np.exp(z)
    return e / e.sum()


def test_matrix_game_value_certificate():
    rng = np.random.default_rng(3)
    for _ in range(5):
        A = rng.normal(size=(4, 3))
        r = matrix_game_value(A)
        v, x, y = r.values[0], r.row_policy[0], r.col_policy[0]
        # x guarantees >= v against every column, y holds the row player to <= v
        assert (x @ A).min() >= v - 1e-7
        assert (A @ y).max() <= v + 1e-7
        assert abs(x.sum() - 1) < 1e-9 and abs(y.sum() - 1) < 1e-9


def test_matching_pennies_and_rps():
    assert abs(solve([[1, -1], [-1, 1]]).values[0]) < 1e-9
    rps = [[0, -1, 1], [1, 0, -1], [-1, 1, 0]]
    r = shapley(rps)
    assert abs(r.values[0]) < 1e-9
    np.testing.assert_allclose(r.row_policy[0], [1 / 3] * 3, atol=1e-7)


def test_shapley_certificates_on_random_game():
    g = random_markov_game(4, 3, 2, gamma=0.8, seed=5)
    r = shapley(g, tol=1e-10)
    assert r.status.value == "optimal"
    assert r.bellman_residual < 1e-9
    Q = g.q_values(r.values)
    for s in range(g.n_states):
        q = Q[s, :3, :2]
        assert (r.row_policy[s, :3] @ q).min() >= r.values[s] - 1e-7
        assert (q @ r.col_policy[s, :2]).max() <= r.values[s] + 1e-7
    # the equilibrium policies evaluate to the values; the protagonist's policy is unexploitable
    np.testing.assert_allclose(evaluate(g, r.row_policy, r.col_policy), r.values, atol=1e-6)
    assert exploitability(g, r.row_policy, values=r.values) < 1e-6


def test_ragged_action_sets_share_one_lp_per_shape():
    rng = np.random.default_rng(0)
    shapes = [(2, 3), (3, 2), (2, 3), (1, 2)]
    R = [rng.uniform(-1, 1, size=s) for s in shapes]
    P = [rng.dirichlet(np.ones(4), size=s) for s in shapes]
    g = ZeroSumMarkovGame(P, R, 0.7)
    r = shapley(g)
    assert r.params["lp_models"] == 3
    # brute-force value iteration with a different solver: the soft value at tiny temperature
    s = soft(g, 1e-3, 1e-3)
    assert np.abs(s.values - r.values).max() <= 1e-3 * 2 * math.log(3) / (1 - 0.7)
    assert (r.row_policy[3, 1:] == 0).all() and (r.col_policy[0, 3:] == 0).all() if r.col_policy.shape[1] > 3 else True


def test_soft_matrix_game_fixed_point_and_qre_agreement():
    rng = np.random.default_rng(1)
    Q = rng.normal(size=(3, 4))
    r = soft_matrix_game(Q, 0.3, 0.7)
    x, y = r.row_strategy, r.col_strategy
    np.testing.assert_allclose(x, _softmax(Q @ y / 0.3), atol=1e-10)
    np.testing.assert_allclose(y, _softmax(-Q.T @ x / 0.7), atol=1e-10)
    H = lambda p: -(p * np.log(p)).sum()
    assert abs(r.value - (x @ Q @ y + 0.3 * H(x) - 0.7 * H(y))) < 1e-12
    from games.normal_form import NormalFormGame
    from games.qre import logit_solve

    q = logit_solve(NormalFormGame.from_arrays(Q, -Q), lam=[1 / 0.3, 1 / 0.7])
    np.testing.assert_allclose(q.profile[0], x, atol=1e-7)
    np.testing.assert_allclose(q.profile[1], y, atol=1e-7)


def test_soft_matrix_game_small_temperature_uses_continuation():
    Q = np.array([[3.0, -1.0, 0.5], [-2.0, 2.0, 0.0]])
    r = soft_matrix_game(Q, 1e-4, 2e-4)
    assert r.residual < 1e-8 and r.status.value == "optimal"
    v = matrix_game_value(Q).values[0]
    assert abs(r.value - v) <= 1e-4 * math.log(2) + 2e-4 * math.log(3) + 1e-9


def test_soft_values_satisfy_per_state_qre_with_separate_temperatures():
    g = random_markov_game(3, 2, 3, gamma=0.6, seed=2)
    a, b = 0.2, 0.05
    r = soft(g, a, b, tol=1e-11)
    Q = g.q_values(r.values)
    for s in range(3):
        q = Q[s, :2, :3]
        x, y = r.row_policy[s, :2], r.col_policy[s, :3]
        np.testing.assert_allclose(x, _softmax(q @ y / a), atol=1e-8)
        np.testing.assert_allclose(y, _softmax(-q.T @ x / b), atol=1e-8)


def test_soft_value_converges_to_shapley_as_temperatures_vanish():
    g = random_markov_game(4, 3, gamma=0.9, seed=1)
    vstar = shapley(g, tol=1e-10).values
    temps = [1.0, 0.3, 0.1, 0.03, 0.01, 0.003, 0.001]
    errors = [np.abs(soft(g, t, t).values - vstar).max() for t in temps]
    assert all(e2 < e1 for e1, e2 in zip(errors, errors[1:])), errors
    bound = 0.001 * (2 * math.log(3)) / (1 - 0.9)
    assert errors[-1] <= bound and errors[-1] < 1e-3


def test_best_response_and_exploitability():
    g = ZeroSumMarkovGame.from_matrix([[1, -1], [-1, 1]])
    assert exploitability(g, [[0.5, 0.5]]) < 1e-12
    assert exploitability(g, [[1.0, 0.0]]) == pytest.approx(1.0)
    br = best_response(g, [[0.8, 0.2]])
    np.testing.assert_allclose(br.col_policy[0], [0, 1])
    assert br.values[0] == pytest.approx(-0.6)
    soft_br = best_response(g, [[0.8, 0.2]], beta=0.5)
    np.testing.assert_allclose(soft_br.col_policy[0], _softmax(-np.array([0.6, -0.6]) / 0.5))


def test_callback_stops_and_result_round_trip():
    g = random_markov_game(2, 2, gamma=0.9, seed=0)

    def cb(event):
        if event.nit >= 3:
            raise StopIteration

    r = shapley(g, callback=cb)
    assert r.status.value == "stopped" and r.nit == 3
    back = SolveResult.from_dict(r.to_dict())
    np.testing.assert_array_equal(back.values, r.values)
    assert type(back).__name__ == "MarkovSolution"


@pytest.mark.parametrize("kwargs, match", [
    ({"transitions": np.ones((1, 2, 2, 1)), "rewards": np.zeros((1, 2, 2)), "gamma": 1.0}, "gamma"),
    ({"transitions": np.full((1, 2, 2, 1), 0.5), "rewards": np.zeros((1, 2, 2)), "gamma": 0.5}, "sums to"),
    ({"transitions": -np.ones((1, 2, 2, 1)), "rewards": np.zeros((1, 2, 2)), "gamma": 0.5}, "negative"),
    ({"transitions": np.ones((1, 2, 3, 1)), "rewards": np.zeros((1, 2, 2)), "gamma": 0.5}, "shape"),
    ({"transitions": np.ones((1, 2, 2, 1)), "rewards": np.full((1, 2, 2), np.nan), "gamma": 0.5}, "finite"),
    ({"transitions": [[1.0]], "rewards": [[1.0]], "gamma": 0.5}, "dimension"),
])
def test_game_validation(kwargs, match):
    with pytest.raises(InvalidInputError, match=match) as err:
        ZeroSumMarkovGame(**kwargs)
    assert str(err.value).startswith("ZeroSumMarkovGame()")


@settings(max_examples=30, deadline=None)
@given(st.one_of(st.floats(allow_nan=True), st.text(max_size=3), st.none()))
def test_soft_rejects_bad_temperatures(alpha):
    if isinstance(alpha, float) and math.isfinite(alpha) and alpha > 0:
        return
    with pytest.raises(InvalidInputError, match="soft\\(\\): alpha"):
        soft([[1, 0], [0, 1]], alpha, 0.1)


def test_solver_input_errors():
    with pytest.raises(InvalidInputError, match="shapley\\(\\)"):
        shapley("not a game")
    with pytest.raises(InvalidInputError, match="unknown method"):
        solve([[1]], method="lp")
    with pytest.raises(InvalidInputError, match="row_policy"):
        evaluate(ZeroSumMarkovGame.from_matrix([[1, 0]]), [[0.5]], [[0.5, 0.5]])
    with pytest.raises(InvalidInputError, match="sum to 1"):
        exploitability(ZeroSumMarkovGame.from_matrix([[1], [0]]), [[0.2, 0.2]])


# ---------------------------------------------------------------------------- thread policy
from tests.thread_fixtures import blas_threads as _blas_threads  # noqa: E402
from tests.thread_fixtures import can_run_two_blas_threads as _two_blas_threads  # noqa: E402


@pytest.mark.skipif(not _two_blas_threads(), reason="the BLAS cannot run 2 threads here")
def test_thread_policy_inside_the_calls_and_user_setting_outside():
    from threadpoolctl import threadpool_limits

    g = random_markov_game(3, 2, seed=0, gamma=0.5)
    seen = []

    def callback(event):
        seen.append(frozenset(_blas_threads()))

    with threadpool_limits(2, user_api="blas"):
        r = shapley(g, callback=callback)
        assert r.params["threads"] == 1 and _blas_threads() == {2}
        r = soft(g, 0.1, 0.1, callback=callback, threads=2)
        assert r.params["threads"] == 2 and _blas_threads() == {2}
        pi = r.row_policy
        evaluate(g, pi, r.col_policy, threads=1)
        best_response(g, pi, threads=2)
        exploitability(g, pi)
        assert soft_matrix_game([[1, -1], [-1, 1]]).params["threads"] == 1
        assert _blas_threads() == {2}
    assert set(seen[:1]) == {frozenset({1})} and seen[-1] == frozenset({2})
    with pytest.raises(InvalidInputError, match=r"shapley\(\): threads"):
        shapley(g, threads=0)
