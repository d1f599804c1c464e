"""The fluid policy with a one-step look-ahead (bandits/fluid_lookahead.py): exact values on small instances."""

import numpy as np
import pytest

import bandits
from bandits import exact
from bandits.bounds import FluidLP
from engine.errors import InvalidInputError

DOMAINS = ("budget", "capacity", "matching", "path", "multiple_interventions")


@pytest.mark.parametrize("dom", DOMAINS)
def test_one_candidate_is_the_fluid_policy(dom):
    p = bandits.make_domain(dom, n_arms=4, budget=2, seed=0)
    a = exact.policy_actions(p, bandits.policies.fluid(p, horizon=4))
    b = exact.policy_actions(p, bandits.policies.fluid_lookahead(p, horizon=4, candidates=1))
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dom", DOMAINS)
@pytest.mark.parametrize("seed", [0, pytest.param(1, marks=pytest.mark.slow)])
def test_every_domain_feasible_at_least_myopic_and_95_percent_of_optimal(dom, seed):
    p = bandits.make_domain(dom, n_arms=4, budget=2, seed=seed)
    H = 5
    opt = exact.optimal_value(p, H)
    pol = bandits.policies.fluid_lookahead(p, horizon=H, candidates=4)
    v = exact.policy_value(p, pol, H)  # checks every action's feasibility
    assert v >= exact.policy_value(p, bandits.policies.myopic(p), H) - 1e-9
    assert 0.95 * opt <= v <= opt + 1e-9
    assert pol.stats["value_solves"] > 0


def test_trap_instance(trap3):
    H = 10
    opt = exact.optimal_value(trap3, H)
    v = exact.policy_value(trap3, bandits.policies.fluid_lookahead(trap3, horizon=H, candidates=3), H)
    assert 0.95 * opt <= v <= opt + 1e-9


@pytest.mark.parametrize("dom", ("capacity", "path"))
def test_chosen_action_scores_at_least_the_index_argmax(dom):
    # the look-ahead's action is worth at least the fluid action by the score it maximises,
    # recomputed on a fresh LP: R(s, a) + (h - 1) * V_LP(h - 1, next marginals)
    p = bandits.make_domain(dom, n_arms=5, budget=2, seed=1)
    H = 4
    fl = bandits.policies.fluid(p, horizon=H)
    la = bandits.policies.fluid_lookahead(p, horizon=H, candidates=5)
    lp = FluidLP(p, horizon=H, group_arms=False)

    def score(s, a):
        mu = np.stack([p.arms.arm_matrices(a)[j][s[j]] for j in range(p.n_arms)])
        return float(p.expected_reward(s[None], a[None])[0]) + (H - 1) * lp.solve(mu, steps=H - 1).value

    rng = np.random.default_rng(0)
    changed = 0
    for s in rng.integers(0, p.n_states, size=(12, p.n_arms)):
        a, b = la.act(s), fl.act(s)
        assert p.contains(a)
        assert score(s, a) >= score(s, b) - 1e-7
        changed += int(not np.array_equal(a, b))
    assert la.stats["changed"] == changed


def test_forced_candidates_without_enumeration():
    # a MIP argmax: the argmax first, then distinct feasible actions, each differing from the argmax
    p = bandits.make_domain("capacity", n_arms=4, budget=2, seed=0)
    pol = bandits.policies.fluid_lookahead(p, horizon=3, candidates=4, enumerate_limit=0)
    assert pol.lp.pricer.method == "mip"
    Q = np.random.default_rng(3).normal(size=(4, 2))
    cands = pol._candidates(Q)
    first = pol.lp.pricer.solve(Q)[0][0]
    np.testing.assert_array_equal(cands[0], first)
    assert 1 < len(cands) <= 4
    assert len({c.tobytes() for c in cands}) == len(cands)
    assert all(p.contains(c) for c in cands)
    assert all(p.contains(pol.act(s)) for s in np.random.default_rng(0).integers(0, p.n_states, size=(3, 4)))


def test_deterministic_and_episode_aware():
    p = bandits.make_domain("matching", n_arms=4, budget=2, seed=2)
    a = bandits.policies.fluid_lookahead(p, horizon=4, candidates=4)
    b = bandits.policies.fluid_lookahead(p, horizon=4, candidates=4)
    np.testing.assert_array_equal(exact.policy_actions(p, a), exact.policy_actions(p, b))
    # one step left: the step's best expected reward, as the fluid policy
    f = bandits.policies.fluid(p, horizon=4)
    for s in exact.joint_states(4, p.n_states)[::37]:
        x, y = a.act_at(s, 1), f.act_at(s, 1)
        r = p.expected_reward(np.stack([s, s]), np.stack([x, y]))
        assert r[0] == pytest.approx(r[1], abs=1e-12)


@pytest.mark.parametrize("kwargs,match", [({"candidates": 0}, "candidates"), ({"horizon": 0}, "horizon"),
                                          ({"coupling": "x"}, "coupling"), ({"score": "x"}, "score"),
                                          ({"rollouts": 0}, "rollouts")])
def test_validation(kwargs, match):
    p = bandits.make_domain("budget", n_arms=3, budget=1, seed=0)
    with pytest.raises(InvalidInputError, match=match):
        bandits.policies.fluid_lookahead(p, **kwargs)


@pytest.mark.parametrize("dom", ("capacity", "path"))
def test_rollout_scoring_is_feasible_deterministic_and_at_least_myopic(dom):
    p = bandits.make_domain(dom, n_arms=4, budget=2, seed=0)
    H = 5
    a = bandits.policies.fluid_lookahead(p, horizon=H, candidates=4, score="rollout", rollouts=8)
    b = bandits.policies.fluid_lookahead(p, horizon=H, candidates=4, score="rollout", rollouts=8)
    np.testing.assert_array_equal(exact.policy_actions(p, a), exact.policy_actions(p, b))
    v = exact.policy_value(p, a, H)
    assert exact.policy_value(p, bandits.policies.myopic(p), H) - 1e-9 <= v <= exact.optimal_value(p, H) + 1e-9
    assert a.stats["value_solves"] > 0 and a.value_lp is None


def test_rollouts_without_enumeration_take_the_mip_argmax():
    # the rollouts' per-step argmax by the MIP gives the enumeration's actions (same index, exact argmax)
    p = bandits.make_domain("capacity", n_arms=4, budget=2, seed=1)
    a = bandits.policies.fluid_lookahead(p, horizon=3, candidates=3, score="rollout", rollouts=4)
    b = bandits.policies.fluid_lookahead(p, horizon=3, candidates=3, score="rollout", rollouts=4, enumerate_limit=0)
    V = np.random.default_rng(0).normal(size=(4, p.n_states))
    st = np.random.default_rng(1).integers(0, p.n_states, size=(6, 4))
    x, y = a._index_actions(st, V), b._index_actions(st, V)
    loc = a.lp.local
    for s, u, w in zip(st, x, y):
        assert p.contains(w)
        q = [sum(loc.rbar[j][s[j], z[j]] + loc.P[j][z[j], s[j]] @ V[j] for j in range(4)) for z in (u, w)]
        assert q[1] == pytest.approx(q[0], abs=1e-9)
