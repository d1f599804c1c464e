"""Tests of games.stackelberg: textbook values, independent LPs, grid brute force, Nash bounds, DOBSS."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.errors import InvalidInputError, UnsupportedProblemError
from engine.result import SolveResult
from engine.status import Status
from games import nash, stackelberg
from games.normal_form import NormalFormGame, random_game


def _scipy_sse(A, B):
    """Textbook SSE: one scipy linprog per follower action (independent of our model)."""
    from scipy.optimize import linprog

    n, m = A.shape
    best = -math.inf
    for j in range(m):
        res = linprog(-A[:, j], A_ub=(B - B[:, [j]]).T, b_ub=np.zeros(m), A_eq=np.ones((1, n)), b_eq=[1.0],
                      bounds=[(0, None)] * n, method="highs")
        if res.status == 0:
            best = max(best, -res.fun)
    return best


# ---------------------------------------------------------------------------- textbook example
def test_commitment_beats_simultaneous_play_in_the_classic_example():
    # Conitzer & Sandholm (2006) / von Stengel & Zamir (2010): U strictly dominates D for the
    # leader, so the unique Nash equilibrium is (U, L) with leader payoff 1. Committing to
    # U with probability p makes the follower play R iff 1 - p >= p; the leader gets 2 + p,
    # maximal at p = 1/2: value 2.5, follower value 0.5.
    A = np.array([[1.0, 3.0], [0.0, 2.0]])
    B = np.array([[1.0, 0.0], [0.0, 1.0]])
    g = NormalFormGame.from_arrays(A, B)
    res = stackelberg.solve(g)
    assert res.status == Status.OPTIMAL
    assert res.leader_value == pytest.approx(2.5, abs=1e-9)
    assert res.follower_value == pytest.approx(0.5, abs=1e-9)
    assert res.follower_action == 1
    assert res.leader_strategy == pytest.approx([0.5, 0.5], abs=1e-9)
    eqs = nash.support_enumeration(g)
    assert [round(float(p[0]), 9) for p in eqs.payoffs] == [1.0]
    assert res.leader_value > max(p[0] for p in eqs.payoffs) + 1.0


# ---------------------------------------------------------------------------- oracles
@pytest.mark.parametrize("shape", [(2, 2), (2, 5), (3, 3), (4, 6), (8, 5), (12, 12)])
def test_sse_matches_independent_scipy_formulation(shape):
    for seed in range(4):
        g = random_game(*shape, seed=seed)
        A, B = g.payoffs
        ref = _scipy_sse(A, B)
        for prune in (True, False):
            res = stackelberg.solve(g, prune=prune)
            assert res.leader_value == pytest.approx(ref, abs=1e-8)
            x = res.leader_strategy
            assert x.min() >= 0 and x.sum() == pytest.approx(1.0, abs=1e-12)
            # the reported action is a best response to the commitment
            assert (x @ B).max() <= res.follower_value + 1e-8
            assert res.leader_value == pytest.approx(x @ A[:, res.follower_action], abs=1e-12)


@pytest.mark.parametrize("m", [2, 3, 5])
def test_sse_of_two_action_leaders_matches_a_fine_grid(m):
    # the leader has 2 actions: x = (t, 1 - t); on a grid the follower plays a best response,
    # ties in the leader's favour; the grid maximum is a lower bound within Lipschitz * step
    t = np.linspace(0.0, 1.0, 200_001)
    for seed in range(5):
        g = random_game(2, m, seed=seed)
        A, B = g.payoffs
        X = np.stack([t, 1 - t], axis=1)
        fu = X @ B
        lu = X @ A
        best = fu >= fu.max(axis=1, keepdims=True) - 1e-12
        grid = np.where(best, lu, -np.inf).max(axis=1).max()
        res = stackelberg.solve(g)
        assert res.leader_value >= grid - 1e-9
        assert res.leader_value - grid <= 2 * np.abs(A).max() * (t[1] - t[0]) * 10


def test_sse_value_is_at_least_every_nash_payoff_of_the_leader():
    for seed in range(12):
        shape = [(2, 2), (3, 3), (3, 4), (4, 4)][seed % 4]
        g = random_game(*shape, seed=seed)
        res = stackelberg.solve(g)
        eqs = nash.support_enumeration(g)
        assert eqs.n_equilibria >= 1
        for pay in eqs.payoffs:
            assert res.leader_value >= pay[0] - 1e-9
        res1 = stackelberg.solve(g, leader=1)
        for pay in eqs.payoffs:
            assert res1.leader_value >= pay[1] - 1e-9


def test_leader_one_is_the_transposed_game():
    g = random_game(4, 6, seed=7)
    A, B = g.payoffs
    res1 = stackelberg.solve(g, leader=1)
    res0 = stackelberg.solve(NormalFormGame.from_arrays(B.T, A.T), leader=0)
    assert res1.leader == 1
    assert res1.leader_strategy.shape == (6,)
    assert res1.leader_value == pytest.approx(res0.leader_value, abs=1e-12)
    assert res1.leader_value == pytest.approx(_scipy_sse(B.T, A.T), abs=1e-8)


def test_dominated_follower_actions_are_pruned_without_changing_the_answer():
    A = np.array([[5.0, 0.0, 1.0], [9.0, 1.0, 0.0]])
    B = np.array([[0.0, 1.0, 2.0], [0.0, 2.0, 1.0]])  # column 0 is strictly dominated
    assert stackelberg.never_best_responses(B).tolist() == [True, False, False]
    res = stackelberg.solve((A, B))
    assert res.params["pruned_dominated"] == 1
    assert res.leader_value == pytest.approx(_scipy_sse(A, B), abs=1e-9)
    assert res.leader_value == pytest.approx(stackelberg.solve((A, B), prune=False).leader_value, abs=1e-12)


# ---------------------------------------------------------------------------- Bayesian
def _random_bayesian(L, n, m, seed):
    rng = np.random.default_rng(seed)
    R = rng.uniform(-1, 1, size=(L, n, m))
    C = rng.uniform(-1, 1, size=(L, n, m))
    p = rng.dirichlet(np.ones(L))
    return R, C, p


@pytest.mark.parametrize("L,n,m", [(1, 3, 3), (2, 3, 3), (2, 4, 3), (3, 3, 4), (3, 5, 2)])
def test_dobss_equals_multiple_lps(L, n, m):
    for seed in range(4):
        R, C, p = _random_bayesian(L, n, m, 1000 * L + 10 * n + m + seed)
        d = stackelberg.bayesian(R, C, p, method="dobss")
        h = stackelberg.bayesian(R, C, p, method="multiple_lps")
        assert d.status == Status.OPTIMAL and h.status == Status.OPTIMAL
        assert d.leader_value == pytest.approx(h.leader_value, abs=1e-7)
        for res in (d, h):
            x = res.leader_strategy
            for l in range(L):
                # each type's reported action is a best response to the commitment
                assert (x @ C[l]).max() <= x @ C[l][:, res.follower_actions[l]] + 1e-7
            assert res.leader_value == pytest.approx(
                sum(p[l] * x @ R[l][:, res.follower_actions[l]] for l in range(L)), abs=1e-12)


def test_bayesian_with_one_type_is_the_plain_sse():
    for seed in range(5):
        g = random_game(4, 5, seed=seed)
        A, B = g.payoffs
        ref = stackelberg.solve(g).leader_value
        assert stackelberg.bayesian(A, B, [1.0]).leader_value == pytest.approx(ref, abs=1e-8)
        assert stackelberg.bayesian([A], [B], [1.0], method="multiple_lps").leader_value == pytest.approx(ref, abs=1e-9)


def test_bayesian_beats_or_matches_every_fixed_type_view():
    # committing optimally against the mixture is at least as good as the prior-weighted
    # payoff of any pure commitment with types best-responding (a simple lower bound)
    R, C, p = _random_bayesian(3, 4, 3, 5)
    res = stackelberg.bayesian(R, C, p)
    for i in range(4):
        x = np.eye(4)[i]
        val = 0.0
        for l in range(3):
            fu = x @ C[l]
            best = np.flatnonzero(fu >= fu.max() - 1e-12)
            val += p[l] * max(x @ R[l][:, j] for j in best)
        assert res.leader_value >= val - 1e-9


def test_multiple_lps_refuses_too_many_joint_responses():
    R, C, p = _random_bayesian(4, 3, 5, 0)
    with pytest.raises(InvalidInputError, match=r"bayesian\(\).*max_lps"):
        stackelberg.bayesian(R, C, p, method="multiple_lps", max_lps=10)


def test_dobss_model_exports():
    R, C, p = _random_bayesian(2, 2, 2, 0)
    model = stackelberg.dobss_model(R, C, p)
    assert model.is_mip and model.n_cols == 2 * 2 * 2 + 2 * 2 + 2
    res = model.solve(mip_rel_gap=0.0)
    assert res.objective == pytest.approx(stackelberg.bayesian(R, C, p, method="multiple_lps").leader_value, abs=1e-6)


# ---------------------------------------------------------------------------- validation
finite = st.floats(-10, 10, allow_nan=False)
bad_number = st.sampled_from([float("nan"), float("inf"), -float("inf")])


@settings(max_examples=40, deadline=None)
@given(bad=bad_number, i=st.integers(0, 1), j=st.integers(0, 2), which=st.integers(0, 1))
def test_non_finite_payoffs_raise_invalid_input(bad, i, j, which):
    A = np.zeros((2, 3))
    B = np.ones((2, 3))
    mats = [A, B]
    mats[which] = mats[which].copy()
    mats[which][i, j] = bad
    with pytest.raises(InvalidInputError, match=r"solve\(\).*finite"):
        stackelberg.solve((mats[0], mats[1]))
    R = np.zeros((2, 2, 3))
    C = np.zeros((2, 2, 3))
    [R, C][which][1, i, j] = bad
    with pytest.raises(InvalidInputError, match=r"bayesian\(\).*finite"):
        stackelberg.bayesian(R, C, [0.5, 0.5])


@settings(max_examples=40, deadline=None)
@given(leader=st.one_of(st.integers().filter(lambda v: v not in (0, 1)), st.floats(), st.text(max_size=3),
                        st.booleans()))
def test_bad_leader_index_raises_invalid_input(leader):
    with pytest.raises(InvalidInputError, match=r"solve\(\): leader"):
        stackelberg.solve(random_game(2, 2, seed=0), leader=leader)


@settings(max_examples=40, deadline=None)
@given(prior=st.lists(st.floats(-1, 2, allow_nan=False), min_size=1, max_size=4))
def test_prior_must_be_a_distribution_over_the_types(prior):
    L = 2
    R = np.zeros((L, 2, 2))
    C = np.zeros((L, 2, 2))
    arr = np.array(prior)
    ok = arr.shape == (L,) and arr.min() >= 0 and abs(arr.sum() - 1) <= 1e-9
    if ok:
        assert stackelberg.bayesian(R, C, prior).status == Status.OPTIMAL
    else:
        with pytest.raises(InvalidInputError, match=r"bayesian\(\): prior"):
            stackelberg.bayesian(R, C, prior)


@settings(max_examples=30, deadline=None)
@given(s1=st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3)),
       s2=st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3)))
def test_shape_mismatch_raises_invalid_input(s1, s2):
    if s1 == s2:
        return
    with pytest.raises(InvalidInputError, match=r"bayesian\(\)"):
        stackelberg.bayesian(np.zeros(s1), np.zeros(s2), np.full(s1[0], 1 / s1[0]))
    if s1[1:] != s2[1:]:
        with pytest.raises(InvalidInputError, match=r"solve\(\): payoff matrices differ in shape"):
            stackelberg.solve((np.zeros(s1[1:]), np.zeros(s2[1:])))
    with pytest.raises(InvalidInputError, match=r"solve\(\): game\[0\] must have 2"):
        stackelberg.solve((np.zeros(s1), np.zeros(s1)))


def test_other_bad_inputs():
    with pytest.raises(InvalidInputError, match=r"solve\(\): game must be"):
        stackelberg.solve("not a game")
    with pytest.raises(InvalidInputError, match=r"solve\(\): game\[0\]"):
        stackelberg.solve(([[1, 2], [3]], [[1, 2], [3, 4]]))
    with pytest.raises(UnsupportedProblemError):
        stackelberg.solve(random_game(2, 2, 2, seed=0))
    with pytest.raises(InvalidInputError, match=r"bayesian\(\): unknown method"):
        stackelberg.bayesian(np.zeros((2, 2)), np.zeros((2, 2)), [1.0], method="eraser")
    with pytest.raises(InvalidInputError, match=r"prune"):
        stackelberg.solve(random_game(2, 2, seed=0), prune="yes")


# ---------------------------------------------------------------------------- results
def test_determinism_and_round_trip():
    g = random_game(30, 30, seed=11)
    a = stackelberg.solve(g)
    b = stackelberg.solve(g)
    assert np.array_equal(a.leader_strategy, b.leader_strategy) and a.follower_action == b.follower_action
    back = SolveResult.from_json(a.to_json())
    assert isinstance(back, stackelberg.StackelbergResult)
    assert back.follower_action == a.follower_action and np.array_equal(back.x, a.x)
    R, C, p = _random_bayesian(2, 3, 3, 1)
    d1 = stackelberg.bayesian(R, C, p, seed=4)
    d2 = stackelberg.bayesian(R, C, p, seed=4)
    assert np.array_equal(d1.leader_strategy, d2.leader_strategy)
    assert np.array_equal(d1.follower_actions, d2.follower_actions)
    assert d1.params["seed"] == 4


# ---------------------------------------------------------------------------- DOBSS under a time limit
def _pure_commitment_value(R, C, p):
    """Brute force: the leader's best pure commitment, each type best-responding (ties to the leader)."""
    best = -math.inf
    for i in range(R.shape[1]):
        total = 0.0
        for l in range(R.shape[0]):
            replies = np.flatnonzero(C[l, i] == C[l, i].max())
            total += p[l] * R[l, i, replies].max()
        best = max(best, total)
    return best


def _check_feasible_answer(res, R, C, p):
    x = res.leader_strategy
    assert x is not None and np.all(x >= -1e-12) and abs(x.sum() - 1) <= 1e-9
    for l in range(R.shape[0]):   # each reported response is a best response to x
        assert C[l, :, res.follower_actions[l]] @ x >= (C[l].T @ x).max() - 1e-6
    value = sum(p[l] * R[l, :, res.follower_actions[l]] @ x for l in range(R.shape[0]))
    assert res.leader_value == pytest.approx(value, abs=1e-9)
    assert math.isfinite(res.leader_value) and math.isfinite(res.bound) and res.bound >= res.leader_value - 1e-7


def test_best_pure_commitment_matches_brute_force():
    for seed in range(5):
        R, C, p = _random_bayesian(3, 4, 5, seed)
        C = np.round(C, 1)  # ties in the follower's payoffs
        i, actions, value = stackelberg._best_pure_commitment(R, C, p)
        assert value == pytest.approx(_pure_commitment_value(R, C, p), abs=1e-12)
        assert value == pytest.approx(sum(p[l] * R[l, i, actions[l]] for l in range(3)), abs=1e-12)


def test_dobss_short_time_limit_returns_a_strategy():
    # 6 types x 12 x 12: HiGHS needs seconds; a tiny limit used to return no strategy at all
    R, C, p = _random_bayesian(6, 12, 12, 0)
    res = stackelberg.bayesian(R, C, p, time_limit=1e-3)
    assert res.status == Status.TIME_LIMIT and not res.success
    _check_feasible_answer(res, R, C, p)
    assert res.leader_value >= _pure_commitment_value(R, C, p) - 1e-9


def test_dobss_without_incumbent_falls_back_to_the_best_pure_commitment(monkeypatch):
    # Simulate HiGHS stopping before any incumbent (the start solution ignored): the result is the
    # best pure commitment with status TIME_LIMIT and a valid (trivial) bound.
    import dataclasses

    from solvers.highs import LinearModel

    real = LinearModel.solve

    def no_incumbent(self, **kwargs):
        res = real(self, **kwargs)
        if not self.is_mip:
            return res
        return dataclasses.replace(res, status=Status.TIME_LIMIT, x=None, objective=math.nan, bound=math.inf,
                                   message="kTimeLimit: no feasible solution found")

    monkeypatch.setattr(LinearModel, "solve", no_incumbent)
    R, C, p = _random_bayesian(3, 4, 4, 2)
    res = stackelberg.bayesian(R, C, p, time_limit=1.0)
    assert res.status == Status.TIME_LIMIT and res.params["heuristic"]
    assert "pure-strategy commitment" in res.message
    _check_feasible_answer(res, R, C, p)
    assert res.leader_value == pytest.approx(_pure_commitment_value(R, C, p), abs=1e-12)
    assert res.bound == pytest.approx(sum(p[l] * R[l].max() for l in range(3)))
    assert np.count_nonzero(res.leader_strategy) == 1


def test_dobss_optimum_unchanged_by_the_start_solution():
    R, C, p = _random_bayesian(2, 4, 3, 5)
    d = stackelberg.bayesian(R, C, p)
    lp = stackelberg.bayesian(R, C, p, method="multiple_lps")
    assert d.status == Status.OPTIMAL and d.leader_value == pytest.approx(lp.leader_value, abs=1e-7)
    assert d.gap == pytest.approx(0.0, abs=1e-9)


# ---------------------------------------------------------------------------- validation of payoffs and options
@pytest.mark.parametrize("bad", [1e308, -1e15, 1e25])
def test_payoffs_beyond_the_highs_limit_raise_invalid_input(bad):
    A = np.array([[1.0, 0.0], [0.0, 1.0]])
    B = A.copy()
    B[0, 1] = bad
    with pytest.raises(InvalidInputError, match=r"solve\(\): game\[1\] must lie within"):
        stackelberg.solve((A, B))
    with pytest.raises(InvalidInputError, match=r"solve\(\): the payoffs of player 1 must lie within"):
        stackelberg.solve(NormalFormGame.from_arrays(A, B))
    for method in ("dobss", "multiple_lps"):
        with pytest.raises(InvalidInputError, match=r"bayesian\(\): leader_payoffs must lie within"):
            stackelberg.bayesian(B, A, [1.0], method=method)


def test_complex_payoffs_raise_invalid_input():
    A = np.array([[1.0, 0.0], [0.0, 1.0 + 1e-3j]])
    with pytest.raises(InvalidInputError, match=r"solve\(\): game\[0\] must be real"):
        stackelberg.solve((A, np.eye(2)))
    with pytest.raises(InvalidInputError, match=r"bayesian\(\): follower_payoffs must be real"):
        stackelberg.bayesian(np.eye(2), A, [1.0])
    with pytest.raises(InvalidInputError, match=r"bayesian\(\): prior must be real"):
        stackelberg.bayesian(np.eye(2), np.eye(2), [1.0 + 0j])


def _highs_validates_values():
    import solvers.highs

    return hasattr(solvers.highs, "validate_highs_options")


@pytest.mark.xfail(not _highs_validates_values(), strict=True,
                   reason="needs solvers.highs.validate_highs_options (LinearModel.solve value checks)")
@pytest.mark.parametrize("options", [{"presolve": 3}, {"mip_max_nodes": -5}, {"mip_feasibility_tolerance": "x"}])
def test_invalid_option_values_raise_invalid_input(options):
    g = NormalFormGame.from_arrays([[1, 3], [0, 2]], [[1, 0], [0, 1]])
    R, C, p = _random_bayesian(2, 3, 3, 1)
    with pytest.raises(InvalidInputError, match=str(list(options)[0])):
        stackelberg.solve(g, options=options)
    for method in ("dobss", "multiple_lps"):
        with pytest.raises(InvalidInputError, match=str(list(options)[0])):
            stackelberg.bayesian(R, C, p, method=method, options=options)


def test_valid_options_pass_through_linear_model():
    g = NormalFormGame.from_arrays([[1, 3], [0, 2]], [[1, 0], [0, 1]])
    res = stackelberg.solve(g, options={"presolve": "off"})
    assert res.params["options"] == {"presolve": "off"} and res.leader_value == pytest.approx(2.5)
