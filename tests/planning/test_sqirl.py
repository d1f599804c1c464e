"""Tests for planning.sqirl: SQIRL recovers the optimal policy on random small MDPs whose
effective horizon is small (checked by exact value iteration written here), and the exact
companions (value iteration, policy evaluation, k-QVI, effective horizon) are right."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from engine.errors import InvalidInputError
from engine.status import Status
from planning import sqirl


def _random_mdp(rng, S=4, A=3):
    return rng.dirichlet(np.full(S, 0.5), size=(S, A)), rng.random((S, A))


def exact_optimum(P, R, T, mu):
    """Backward induction, written independently of the library."""
    v = np.zeros(P.shape[0])
    for _ in range(T):
        v = np.max(R + np.einsum("sap,p->sa", P, v), axis=1)
    return float(mu @ v)


def _small_horizon_mdps(count, T=5, min_gap=0.2):
    """Random MDPs with effective horizon <= 2 and a clear action gap in k-QVI."""
    rng = np.random.default_rng(2024)
    out = []
    while len(out) < count:
        P, R = _random_mdp(rng)
        k = sqirl.effective_horizon(P, R, horizon=T)
        if k > 2:
            continue
        Q = np.sort(sqirl.k_qvi(P, R, horizon=T, k=k), axis=2)
        if (Q[..., -1] - Q[..., -2]).min() < min_gap:
            continue
        out.append((P, R, k))
    return out


@pytest.mark.parametrize("case", range(6))
def test_sqirl_recovers_optimal_policy(case):
    T = 5
    P, R, k = _small_horizon_mdps(6, T)[case]
    mu = np.full(4, 0.25)
    opt = exact_optimum(P, R, T, mu)
    res = sqirl.solve(P, R, horizon=T, k=k, n_rollouts=4000, seed=case)
    assert res.value == pytest.approx(opt, abs=1e-12)
    assert res.status is Status.FEASIBLE and res.n_episodes == T * 4000 and res.params["k"] == k
    # every action it takes is optimal where the optimal policy is unique
    vi = sqirl.value_iteration(P, R, horizon=T)
    q = vi.q
    top = np.sort(q, axis=2)
    unique = top[..., -1] - top[..., -2] > 1e-9
    assert np.all(res.policy[unique] == vi.policy[unique])


def test_exact_companions():
    rng = np.random.default_rng(0)
    P, R = _random_mdp(rng)
    T, mu = 4, np.array([0.1, 0.2, 0.3, 0.4])
    vi = sqirl.value_iteration(P, R, horizon=T, initial=mu)
    assert vi.value == pytest.approx(exact_optimum(P, R, T, mu))
    assert sqirl.policy_value(P, R, vi.policy, initial=mu) == pytest.approx(vi.value)
    # no deterministic time-indexed policy does better (random sample + all one-step deviations)
    for pol in rng.integers(0, 3, size=(300, T, 4)):
        assert sqirl.policy_value(P, R, pol, initial=mu) <= vi.value + 1e-12
    for t, s, a in itertools.product(range(T), range(4), range(3)):
        dev = vi.policy.copy()
        dev[t, s] = a
        assert sqirl.policy_value(P, R, dev, initial=mu) <= vi.value + 1e-12
    # k = horizon backs up all the way: k-QVI is the optimal Q
    np.testing.assert_allclose(sqirl.k_qvi(P, R, horizon=T, k=T), vi.q, atol=1e-12)
    qr = sqirl.random_policy_q(P, R, horizon=T)
    np.testing.assert_allclose(sqirl.k_qvi(P, R, horizon=T, k=1), qr)
    np.testing.assert_allclose(qr[T - 1], R)
    k = sqirl.effective_horizon(P, R, horizon=T, initial=mu)
    assert 1 <= k <= T
    greedy = sqirl.k_qvi(P, R, horizon=T, k=k).argmax(axis=2)
    assert sqirl.policy_value(P, R, greedy, initial=mu) == pytest.approx(vi.value)


def test_full_depth_sqirl_on_any_mdp_and_determinism():
    rng = np.random.default_rng(7)
    P, R = _random_mdp(rng)
    T = 3
    a = sqirl.solve(P, R, horizon=T, k=T, n_rollouts=3000, seed=1)
    b = sqirl.solve(P, R, horizon=T, k=T, n_rollouts=3000, seed=1)
    np.testing.assert_array_equal(a.policy, b.policy)
    assert a.value >= 0.97 * exact_optimum(P, R, T, np.full(4, 0.25))
    seen = []

    def stop(event):
        seen.append(event)
        raise StopIteration

    r = sqirl.solve(P, R, horizon=T, k=1, n_rollouts=10, seed=0, callback=stop)
    assert r.status is Status.STOPPED and len(seen) == 1


def test_bad_input():
    P = np.ones((2, 2, 2)) / 2
    R = np.zeros((2, 2))
    with pytest.raises(InvalidInputError, match="must sum to 1"):
        sqirl.solve(np.ones((2, 2, 2)), R, horizon=2)
    with pytest.raises(InvalidInputError, match="R must have shape"):
        sqirl.solve(P, np.zeros(3), horizon=2)
    with pytest.raises(InvalidInputError, match="k must be >= 1"):
        sqirl.solve(P, R, horizon=2, k=0)
    with pytest.raises(InvalidInputError, match="horizon"):
        sqirl.value_iteration(P, R, horizon=0)
    with pytest.raises(InvalidInputError, match="NaN|finite"):
        sqirl.solve(P, np.array([[np.nan, 0.0], [0.0, 0.0]]), horizon=2)
