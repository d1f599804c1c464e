"""Tests of games.minimax.minimax_winner: Condorcet winners, cycles, certificates, scipy, validation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.errors import InvalidInputError
from engine.result import SolveResult
from games.minimax import minimax_winner


def _random_preferences(n, seed, condorcet=None):
    rng = np.random.default_rng(seed)
    U = rng.uniform(0, 1, (n, n))
    P = np.triu(U, 1)
    P = P + np.tril(1 - P.T, -1)
    np.fill_diagonal(P, 0.5)
    if condorcet is not None:
        c = condorcet
        row = rng.uniform(0.51, 1.0, n)
        P[c, :] = row
        P[:, c] = 1 - row
        P[c, c] = 0.5
    return P


@pytest.mark.parametrize("n", [2, 3, 6, 15])
def test_condorcet_winner_gets_probability_one(n):
    for seed in range(4):
        c = seed % n
        P = _random_preferences(n, seed, condorcet=c)
        res = minimax_winner(P)
        assert res.distribution[c] == pytest.approx(1.0, abs=1e-9)
        assert res.margin >= -1e-9


def test_rock_paper_scissors_is_uniform():
    P = np.array([[0.5, 0.0, 1.0], [1.0, 0.5, 0.0], [0.0, 1.0, 0.5]])
    res = minimax_winner(P)
    assert res.distribution == pytest.approx([1 / 3] * 3, abs=1e-9)
    # a weighted cycle: i beats i+1 with probability q; still uniform by symmetry
    for q, n in [(0.8, 3), (0.6, 5), (0.9, 7)]:
        P = np.full((n, n), 0.5)
        for i in range(n):
            for k in range(1, n):
                j = (i + k) % n
                # i beats the next (n-1)/2 alternatives around the circle
                P[i, j] = q if k <= (n - 1) // 2 else 1 - q
        res = minimax_winner(P)
        assert res.distribution == pytest.approx(np.full(n, 1 / n), abs=1e-9)


@pytest.mark.parametrize("n", [3, 5, 10, 40])
def test_certificate_and_scipy_agree(n):
    from scipy.optimize import linprog

    for seed in range(3):
        P = _random_preferences(n, 100 + seed)
        res = minimax_winner(P)
        M = P - P.T
        p = res.distribution
        assert p.min() >= 0 and p.sum() == pytest.approx(1.0, abs=1e-12)
        assert (p @ M).min() >= -1e-9
        assert res.margin == pytest.approx((p @ M).min(), abs=1e-15)
        assert res.value == pytest.approx(0.0, abs=1e-9)
        # independent LP: max v s.t. M.T p >= v
        ref = linprog(np.r_[np.zeros(n), -1.0], A_ub=np.c_[-M.T, np.ones(n)], b_ub=np.zeros(n),
                      A_eq=np.r_[np.ones(n), 0.0][None], b_eq=[1.0], bounds=[(0, None)] * n + [(None, None)],
                      method="highs")
        assert -ref.fun == pytest.approx(res.value, abs=1e-9)
        if n % 2 == 1:  # generic odd n: the maximal lottery is unique
            assert np.allclose(ref.x[:n], p, atol=1e-7)


def test_diagonal_is_ignored_and_result_round_trips():
    P = _random_preferences(5, 3)
    Q = P.copy()
    np.fill_diagonal(Q, [0.0, 1.0, 0.3, 0.5, 0.9])
    a, b = minimax_winner(P), minimax_winner(Q)
    assert np.array_equal(a.distribution, b.distribution)
    back = SolveResult.from_json(a.to_json())
    assert np.array_equal(back.distribution, a.distribution) and back.margin == a.margin


# ---------------------------------------------------------------------------- validation
@settings(max_examples=60, deadline=None)
@given(i=st.integers(0, 3), j=st.integers(0, 3), delta=st.floats(-2, 2, allow_nan=False))
def test_entries_must_be_probabilities_summing_to_one(i, j, delta):
    P = _random_preferences(4, 0)
    Q = P.copy()
    Q[i, j] += delta
    if i == j:
        if 0 <= Q[i, j] <= 1:
            minimax_winner(Q)
        else:
            with pytest.raises(InvalidInputError, match=rf"minimax_winner\(\): P\[{i}, {i}\]"):
                minimax_winner(Q)
    elif not 0 <= Q[i, j] <= 1:
        with pytest.raises(InvalidInputError, match=rf"minimax_winner\(\): P\[{i}, {j}\] must lie in \[0, 1\]"):
            minimax_winner(Q)
    elif abs(delta) > 2e-9:
        with pytest.raises(InvalidInputError, match=r"minimax_winner\(\): P\[\d, \d\] \+ P\[\d, \d\] must equal 1"):
            minimax_winner(Q)
    elif abs(delta) < 5e-10:  # within the documented 1e-9 (the band between is rounding-dependent)
        minimax_winner(Q)


@settings(max_examples=30, deadline=None)
@given(bad=st.sampled_from([float("nan"), float("inf"), -float("inf")]), i=st.integers(0, 2), j=st.integers(0, 2))
def test_non_finite_entries_raise(bad, i, j):
    P = _random_preferences(3, 1)
    P[i, j] = bad
    with pytest.raises(InvalidInputError, match=r"minimax_winner\(\): P must be finite"):
        minimax_winner(P)


@settings(max_examples=30, deadline=None)
@given(shape=st.tuples(st.integers(0, 4), st.integers(0, 4)))
def test_non_square_or_empty_raise(shape):
    P = np.full(shape, 0.5)
    if shape[0] == shape[1] and shape[0] > 0:
        assert minimax_winner(P).distribution.shape == (shape[0],)
    else:
        with pytest.raises(InvalidInputError, match=r"minimax_winner\(\)"):
            minimax_winner(P)


def test_ragged_and_wrong_dimensions_raise():
    with pytest.raises(InvalidInputError, match=r"minimax_winner\(\)"):
        minimax_winner([[0.5, 0.5], [0.5]])
    with pytest.raises(InvalidInputError, match=r"minimax_winner\(\): P must have 2"):
        minimax_winner([0.5, 0.5])
