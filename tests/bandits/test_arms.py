import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from bandits.arms import Arms, InterventionArms, MultiStateArms, birth_death_matrix
from bandits.problem import CoRMAB
from engine.errors import InvalidInputError
from solvers.feasible_set import FeasibleSet


def test_birth_death_rows_and_clipping():
    M = birth_death_matrix([0.3, 0.8], 4)
    assert M.shape == (2, 4, 4)
    np.testing.assert_allclose(M.sum(-1), 1.0)
    assert M[0, 0, 0] == pytest.approx(0.7) and M[0, 0, 1] == pytest.approx(0.3)
    assert M[1, 3, 3] == pytest.approx(0.8) and M[1, 3, 2] == pytest.approx(0.2)


def test_expected_reward_matches_definition():
    rng = np.random.default_rng(0)
    P = rng.random((3, 2, 4, 4))
    P /= P.sum(-1, keepdims=True)
    R = rng.random((3, 4))
    arms = Arms(P, R)
    s, a = np.array([0, 3, 2]), np.array([1, 0, 1])
    want = sum(P[j, a[j], s[j]] @ R[j] for j in range(3))
    assert arms.expected_reward(s, a)[0] == pytest.approx(want)
    base, delta = arms.linear_reward(s)
    for act in ([0, 0, 0], [1, 1, 1], [1, 0, 1]):
        assert base.sum() + delta @ np.array(act) == pytest.approx(arms.expected_reward(s, act)[0])


def test_intervention_arms_zero_action_is_floor():
    arms = InterventionArms([[3, 3, 0], [0, 0, 3]], [[0, 1, 2], [0, 1, 2]], amp=[1, 0.5], slope=[1, 1], x0=[5, 1])
    np.testing.assert_allclose(arms.up_probability([[0, 0, 0]]), [[0.01, 0.01]])
    p = arms.up_probability([[1, 1, 0]])[0]
    assert p[0] > 0.5 and p[1] == pytest.approx(0.01)
    assert arms.linear_reward([0, 0]) is None
    M = arms.arm_matrices([1, 1, 1])
    np.testing.assert_allclose(M.sum(-1), 1.0)


@pytest.mark.parametrize("bad", [
    dict(p_passive=[0.1, 1.2], p_active=[0.5, 0.5], rewards=[[0, 1], [0, 1]]),
    dict(p_passive=[0.1, -0.1], p_active=[0.5, 0.5], rewards=[[0, 1], [0, 1]]),
    dict(p_passive=[0.1, 0.1], p_active=[0.5, 0.5], rewards=[[0, 1, 2]]),
    dict(p_passive=[0.1, np.nan], p_active=[0.5, 0.5], rewards=[[0, 1], [0, 1]]),
    dict(p_passive=[0.1], p_active=[0.5, 0.5], rewards=[[0, 1], [0, 1]]),
])
def test_multistate_bad_inputs(bad):
    with pytest.raises(InvalidInputError, match="MultiStateArms"):
        MultiStateArms(**bad)


def test_arms_rows_must_sum_to_one():
    P = np.full((1, 2, 2, 2), 0.5)
    P[0, 1, 0] = [0.6, 0.6]
    with pytest.raises(InvalidInputError, match="sums to"):
        Arms(P, [[0, 1]])
    with pytest.raises(InvalidInputError, match="shape"):
        Arms(np.full((1, 2, 2, 2), 0.5), [[0, 1, 2]])


@settings(max_examples=40, deadline=None)
@given(st.lists(st.one_of(st.floats(-2, 3), st.just(float("nan"))), min_size=2, max_size=2))
def test_probabilities_validated(ps):
    ok = all(0 <= p <= 1 for p in ps)
    if ok:
        MultiStateArms(ps, [0.5, 0.5], [[0, 1], [0, 1]])
    else:
        with pytest.raises(InvalidInputError):
            MultiStateArms(ps, [0.5, 0.5], [[0, 1], [0, 1]])


def test_cormab_rejects_infeasible_and_mismatch(trap3):
    arms = trap3.arms
    with pytest.raises(InvalidInputError, match="infeasible"):
        CoRMAB(arms, FeasibleSet(3, [[1, 1, 1]], [4], [np.inf]))
    with pytest.raises(InvalidInputError, match="action variables"):
        CoRMAB(arms, FeasibleSet.budget(4, 1))


def test_simulator_rejects_infeasible_action_and_is_seeded(trap3):
    with pytest.raises(InvalidInputError, match="violates"):
        trap3.step([0, 0, 0], [1, 1, 0], 0)
    with pytest.raises(InvalidInputError, match="0/1"):
        trap3.step([0, 0, 0], [2, 0, 0], 0)
    with pytest.raises(InvalidInputError, match="states"):
        trap3.step([0, 0, 7], [1, 0, 0], 0)
    a = trap3.step(np.zeros((500, 3), int), [1, 0, 0], 3)
    b = trap3.step(np.zeros((500, 3), int), [1, 0, 0], 3)
    np.testing.assert_array_equal(a, b)
    # pulled arm 0 moves up w.p. 0.9, the passive ones w.p. 0.1
    assert abs(a[:, 0].mean() - 0.9) < 0.06 and abs(a[:, 1].mean() - 0.1) < 0.06
