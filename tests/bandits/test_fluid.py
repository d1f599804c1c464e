"""The fluid re-planning policy (bandits/fluid.py): exact values against myopic and the optimum."""

import numpy as np
import pytest

import bandits
from bandits import bounds, exact
from engine.errors import InvalidInputError

DOMAINS = ("budget", "capacity", "matching", "path", "multiple_interventions")


def test_trap_instance_beats_myopic(trap3):
    H = 10
    opt = exact.optimal_value(trap3, H)
    fv = exact.policy_value(trap3, bandits.policies.fluid(trap3, horizon=H), H)
    mv = exact.policy_value(trap3, bandits.policies.myopic(trap3), H)
    assert mv < 0.9 * opt  # myopic is poor here
    assert fv >= mv and fv >= 0.95 * opt
    assert fv <= bounds.fluid_bound(trap3, horizon=H).certified + 1e-9


@pytest.mark.parametrize("dom", DOMAINS)
@pytest.mark.parametrize("seed", [0, 1])
def test_every_domain_at_least_myopic_and_95_percent_of_optimal(dom, seed):
    p = bandits.make_domain(dom, n_arms=4, budget=2, seed=seed)
    H = 5
    opt = exact.optimal_value(p, H)
    fv = exact.policy_value(p, bandits.policies.fluid(p, horizon=H), H)
    mv = exact.policy_value(p, bandits.policies.myopic(p), H)
    assert fv >= mv - 1e-9
    assert fv >= 0.95 * opt
    assert fv <= opt + 1e-9


def test_mip_argmax_matches_enumeration():
    # the MIP over the FeasibleSet and the enumeration maximise the same index: same policy value
    # (up to ties between actions of equal index)
    for dom in ("capacity", "multiple_interventions"):
        p = bandits.make_domain(dom, n_arms=4, budget=2, seed=3)  # 256 joint states, a MIP re-solve at each
        a = bandits.policies.fluid(p, horizon=4)
        b = bandits.policies.fluid(p, horizon=4, enumerate_limit=0)
        assert a.lp.pricer.method == "enumeration" and b.lp.pricer.method == "mip"
        va, vb = exact.policy_value(p, a, 4), exact.policy_value(p, b, 4)
        assert vb == pytest.approx(va, rel=1e-3)


def test_marginals_rounding_is_feasible():
    p = bandits.make_domain("matching", n_arms=5, budget=2, seed=0)
    pol = bandits.policies.fluid(p, horizon=4, rounding="marginals")
    v = exact.policy_value(p, pol, 4)
    assert v > 0


def test_monte_carlo_evaluate_runs():
    p = bandits.make_domain("path", n_arms=8, budget=2, seed=0)
    res = bandits.evaluate(p, bandits.policies.fluid(p, horizon=5), episodes=3, horizon=5, seed=0)
    assert res.success and res.mean > 0


@pytest.mark.parametrize("kwargs,match", [({"horizon": 0}, "horizon"), ({"rounding": "x"}, "rounding"),
                                          ({"time_limit": -1.0}, "time_limit")])
def test_validation(kwargs, match):
    p = bandits.make_domain("budget", n_arms=3, budget=1, seed=0)
    with pytest.raises(InvalidInputError, match=match):
        bandits.policies.fluid(p, **kwargs)
    with pytest.raises(InvalidInputError, match="state"):
        bandits.policies.fluid(p).act([0, 9, 0])


def test_max_rounds_caps_column_generation_and_stays_near_optimal():
    p = bandits.make_domain("capacity", n_arms=4, budget=2, seed=1)
    H = 5
    pol = bandits.policies.fluid(p, horizon=H, max_rounds=1)
    v = exact.policy_value(p, pol, H)
    assert v >= 0.9 * exact.optimal_value(p, H)
    with pytest.raises(InvalidInputError, match="max_rounds"):
        bandits.policies.fluid(p, max_rounds=0)


@pytest.mark.parametrize("dom", ["capacity", "multiple_interventions"])
def test_relaxation_coupling_policy(dom):
    p = bandits.make_domain(dom, n_arms=4, budget=2, seed=0)
    H = 5
    v = exact.policy_value(p, bandits.policies.fluid(p, horizon=H, coupling="relaxation"), H)
    assert v >= exact.policy_value(p, bandits.policies.myopic(p), H) - 1e-9


def test_episode_aware_last_step_is_the_one_step_optimum():
    # with one step left the LP's value-to-go is 0: the index is the expected reward, so the action is
    # myopic's exact one-step optimum (same expected reward)
    p = bandits.make_domain("capacity", n_arms=5, budget=2, seed=2)
    pol, my = bandits.policies.fluid(p, horizon=6), bandits.policies.myopic(p)
    rng = np.random.default_rng(0)
    for _ in range(5):
        s = rng.integers(0, p.n_states, size=5)
        a, m = pol.act_at(s, 1), my.act(s)
        assert p.expected_reward(s[None], a[None])[0] == pytest.approx(p.expected_reward(s[None], m[None])[0], abs=1e-9)
    assert np.array_equal(pol.act_at(s, 50), pol.act(s))  # more steps left than the horizon: the horizon
    with pytest.raises(InvalidInputError, match="steps_left"):
        pol.act_at(s, 0)


def test_evaluate_tells_the_steps_left_and_reports_the_bound():
    p = bandits.make_domain("path", n_arms=5, budget=2, seed=1)
    H = 6
    aware = bandits.policies.fluid(p, horizon=H)
    res = bandits.evaluate(p, aware, episodes=4, horizon=H, seed=3, bound=True)
    # one kept LP, re-solved at every decision not memoised; the last one with 1 step to go
    assert 0 < aware.stats["lp_solves"] <= 4 * H and aware.lp.H == H and aware.lp._steps == 1
    from bandits.evaluate import start_states

    fb = bounds.fluid_bound(p, horizon=H, initial=start_states(p, 4, seed=3))
    assert res.certified_bound == pytest.approx(fb.certified, abs=1e-9)
    assert res.fraction_of_bound == pytest.approx(res.mean / fb.certified)
    # exact evaluation (stationary policy: act) against the bound from the uniform start
    ex = bandits.evaluate(p, bandits.policies.fluid(p, horizon=H), horizon=H, method="exact", bound=True)
    assert ex.certified_bound >= exact.optimal_value(p, H) - 1e-7 >= ex.mean - 1e-7
    assert 0 < ex.fraction_of_bound <= 1 + 1e-9
    given = bandits.evaluate(p, bandits.policies.null(p), episodes=2, horizon=H, seed=0, bound=fb)
    assert given.certified_bound == fb.certified and given.params["bound"] == {"method": "given"}
    with pytest.raises(InvalidInputError, match="bound"):
        bandits.evaluate(p, aware, episodes=2, horizon=H, bound="fluid")


def test_episode_aware_not_worse_than_stationary_on_budget():
    # exact values by forward evaluation are for stationary policies; compare by Monte Carlo with
    # common random numbers (same seed: same starts and transitions)
    from bandits.evaluate import evaluate

    p = bandits.make_domain("budget", n_arms=4, budget=1, seed=0)
    H = 8
    a = evaluate(p, bandits.policies.fluid(p, horizon=H), episodes=30, horizon=H, seed=0).mean
    s = evaluate(p, bandits.policies.fluid(p, horizon=H, episode_aware=False), episodes=30, horizon=H, seed=0).mean
    assert a >= s - 0.02 * abs(s)


@pytest.mark.parametrize("dom,coupling", [("path", "hull"), ("capacity", "hull"), ("matching", "relaxation")])
def test_one_kept_lp_decides_as_fresh_h_step_lps(dom, coupling):
    # the kept LP re-solved with steps=h is the h-step LP: the same index, so the same decisions as a
    # policy whose horizon is h (a fresh h-step LP) -- up to ties, hence compared by expected reward
    p = bandits.make_domain(dom, n_arms=5, budget=2, seed=1)
    H = 6
    kept = bandits.policies.fluid(p, horizon=H, coupling=coupling)
    rng = np.random.default_rng(4)
    for h in (H, 4, 2, 1, 3):
        fresh = bandits.policies.fluid(p, horizon=h, coupling=coupling)
        for _ in range(3):
            s = rng.integers(0, p.n_states, size=5)
            a, b = kept.act_at(s, h), fresh.act(s)
            assert np.array_equal(a, b) or p.expected_reward(s[None], a[None])[0] == pytest.approx(
                p.expected_reward(s[None], b[None])[0], abs=1e-9)
    assert kept.lp.H == H


def test_resolve_every_one_is_the_default_policy():
    p = bandits.make_domain("capacity", n_arms=5, budget=2, seed=0)
    H = 6
    a = bandits.evaluate(p, bandits.policies.fluid(p, horizon=H), episodes=6, horizon=H, seed=1)
    b = bandits.evaluate(p, bandits.policies.fluid(p, horizon=H, resolve_every=1), episodes=6, horizon=H, seed=1)
    assert np.array_equal(a.returns, b.returns)


@pytest.mark.parametrize("dom", ["budget", "capacity", "matching"])
def test_resolve_every_k_is_feasible_cheaper_and_near_k1(dom):
    p = bandits.make_domain(dom, n_arms=4, budget=2, seed=0)
    H = 5
    k1 = bandits.policies.fluid(p, horizon=H)
    k3 = bandits.policies.fluid(p, horizon=H, resolve_every=3)
    v1 = exact.policy_value(p, k1, H)  # exact.policy_value checks every action's feasibility
    v3 = exact.policy_value(p, k3, H)
    assert k3.stats["lp_solves"] <= -(-p.n_states ** 4 // 3)  # at most one solve every 3 decisions
    assert k3.stats["kept_dual_decisions"] > 0
    assert v3 >= 0.97 * v1  # measured: >= 0.994 * v1 on these instances
    # Monte Carlo with the steps left (the kept duals shifted): feasible actions, near k = 1
    m1 = bandits.evaluate(p, bandits.policies.fluid(p, horizon=H), episodes=20, horizon=H, seed=0,
                          check_actions=True).mean
    m3 = bandits.evaluate(p, bandits.policies.fluid(p, horizon=H, resolve_every=3), episodes=20, horizon=H,
                          seed=0, check_actions=True).mean
    assert m3 >= 0.97 * m1  # measured: >= 0.998 * m1
    with pytest.raises(InvalidInputError, match="resolve_every"):
        bandits.policies.fluid(p, resolve_every=0)
