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
        p = bandits.make_domain(dom, n_arms=5, budget=2, seed=3)
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
