import itertools
import math

import numpy as np
import pytest

from bandits import exact, policies
from bandits.evaluate import evaluate
from bandits.arms import MultiStateArms
from bandits.domains import make_domain
from bandits.problem import CoRMAB
from engine.errors import InvalidInputError, UnsupportedProblemError
from solvers.feasible_set import FeasibleSet


def brute_force_optimum(problem, H, s0):
    """Naive expectimax over joint states (independent of the tensor DP)."""
    P, R = problem.arms.transitions, problem.arms.rewards
    J, S = R.shape
    acts = [np.array(a) for a in itertools.product((0, 1), repeat=J) if problem.contains(np.array(a))]
    memo = {}

    def V(t, s):
        if t == H:
            return 0.0
        if (t, s) in memo:
            return memo[(t, s)]
        best = -math.inf
        for a in acts:
            tot = 0.0
            for s2 in itertools.product(range(S), repeat=J):
                pr = np.prod([P[j, a[j], s[j], s2[j]] for j in range(J)])
                if pr > 0:
                    tot += pr * (sum(R[j, s2[j]] for j in range(J)) + V(t + 1, s2))
            best = max(best, tot)
        memo[(t, s)] = best
        return best

    return V(0, tuple(s0)) / H


def monte_carlo(problem, policy, H, s0, episodes, seed):
    """Plain per-episode simulation (independent of bandits.evaluate)."""
    rng = np.random.default_rng(seed)
    P, R = problem.arms.transitions, problem.arms.rewards
    J = R.shape[0]
    out = []
    for _ in range(episodes):
        s = np.array(s0)
        tot = 0.0
        for _ in range(H):
            a = policy.act(s)
            rows = P[np.arange(J), a, s]
            tot += float((rows * R).sum())
            s = np.array([rng.choice(R.shape[1], p=rows[j]) for j in range(J)])
        out.append(tot / H)
    out = np.array(out)
    return out.mean(), out.std(ddof=1) / math.sqrt(episodes)


def test_optimal_value_matches_brute_force(trap3):
    for H in (1, 2, 3):
        assert exact.optimal_value(trap3, H, [0, 1, 0]) == pytest.approx(brute_force_optimum(trap3, H, (0, 1, 0)),
                                                                          abs=1e-9)


def test_myopic_far_from_optimal_and_values_agree(trap3):
    H, s0 = 20, [0, 0, 0]
    opt = exact.optimal_value(trap3, H, s0)
    my = policies.myopic(trap3)
    v_my = exact.policy_value(trap3, my, H, s0)
    v_null = exact.policy_value(trap3, policies.null(trap3), H, s0)
    assert v_my < 0.5 * opt and v_null <= v_my + 1e-12
    # exact forward evaluation (independent of the backward recursion) agrees to 1e-6
    assert evaluate(trap3, my, horizon=H, initial_state=s0, method="exact").mean == pytest.approx(v_my, abs=1e-6)
    assert evaluate(trap3, policies.null(trap3), horizon=H, initial_state=s0,
                    method="exact").mean == pytest.approx(v_null, abs=1e-6)
    # Monte Carlo evaluate within 4 standard errors
    mc = evaluate(trap3, my, episodes=1000, horizon=H, initial_state=s0, seed=1)
    assert abs(mc.mean - v_my) < 4 * mc.sem
    # optimal policy value is an upper bound for every policy, with the Whittle policy near it here
    v_wh = exact.policy_value(trap3, policies.whittle(trap3), H, s0)
    assert v_wh <= opt + 1e-9 and v_wh > 0.95 * opt


def test_policy_value_against_independent_monte_carlo(budget4):
    H, s0 = 6, [0, 1, 2, 3]
    for pol in (policies.myopic(budget4), policies.null(budget4)):
        v = exact.policy_value(budget4, pol, H, s0)
        m, se = monte_carlo(budget4, pol, H, s0, episodes=400, seed=3)
        assert abs(m - v) < 4 * se + 1e-9
        assert evaluate(budget4, pol, horizon=H, initial_state=s0, method="exact").mean == pytest.approx(v, abs=1e-6)
    assert exact.optimal_value(budget4, H, s0) >= exact.policy_value(budget4, policies.myopic(budget4), H, s0) - 1e-12


def test_same_arms_under_capacity(budget4):
    arms = budget4.arms
    cap = make_domain("capacity", n_arms=4, budget=2, seed=0, p_passive=arms.p_passive, p_active=arms.p_active,
                      rewards=arms.rewards, costs=[2, 3, 2, 4], capacities=[4, 3])
    H, s0 = 8, [0, 0, 3, 1]
    opt_cap = exact.optimal_value(cap, H, s0)
    my = policies.myopic(cap)
    v = exact.policy_value(cap, my, H, s0)
    assert v <= opt_cap + 1e-12
    assert evaluate(cap, my, horizon=H, initial_state=s0, method="exact").mean == pytest.approx(v, abs=1e-6)
    mc = evaluate(cap, my, episodes=400, horizon=H, initial_state=s0, seed=2)
    assert abs(mc.mean - v) < 4 * mc.sem
    assert brute_force_optimum(cap, 2, tuple(s0)) == pytest.approx(exact.optimal_value(cap, 2, s0), abs=1e-9)


def test_exact_bad_inputs(trap3):
    with pytest.raises(InvalidInputError, match="horizon"):
        exact.optimal_value(trap3, 0, [0, 0, 0])
    with pytest.raises(InvalidInputError, match="initial_state"):
        exact.optimal_value(trap3, 3, [0, 0, 9])
    with pytest.raises(InvalidInputError, match="max_states"):
        exact.optimal_value(trap3, 3, [0, 0, 0], max_states=10)
    with pytest.raises(UnsupportedProblemError, match="randomised"):
        exact.policy_value(trap3, policies.random(trap3), 3, [0, 0, 0])
