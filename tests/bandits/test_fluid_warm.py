"""Warm starts of the fluid policy (``warm_start=`` a bound, one kept basis per steps to go): the same
LP optimum and the same decisions as a cold solve of every decision's LP."""

import numpy as np
import pytest

import bandits
from bandits.bounds import FluidLP, fluid_bound
from bandits.evaluate import start_states
from engine.errors import InvalidInputError

H = 6


def _index(lp, res, s, a, h):
    """The policy's separable index of action ``a`` at state ``s`` under the duals of ``res``."""
    loc = lp.local
    us = loc.unit_states(s[None])[0]
    V1 = res.state_values[1] if h > 1 else np.zeros((loc.J, loc.S))
    u = loc.project(a[None])[0]
    return sum(loc.rbar[j][us[j], u[j]] + loc.P[j][u[j], us[j], :] @ V1[j] for j in range(loc.J))


@pytest.mark.parametrize("dom", ["budget", "matching", "capacity", "multiple_interventions"])
@pytest.mark.parametrize("coupling", ["relaxation", "hull"])
def test_warm_policy_decides_as_cold_solves(dom, coupling):
    p = bandits.make_domain(dom, n_arms=8, budget=3, seed=1)
    starts = start_states(p, 3, seed=1)
    b = fluid_bound(p, horizon=H, initial=starts, coupling=coupling, group_arms=False)
    warm = bandits.policies.fluid(p, horizon=H, coupling=coupling, warm_start=b)
    rng = np.random.default_rng(0)
    same = 0
    # episode by episode (not in lockstep): the second episode's first decision loads the kept h = H basis
    for ep in range(2):
        s = starts[ep]
        for h in range(H, 0, -1):
            a = warm.act_at(s, h)
            cold_lp = FluidLP(p, horizon=H, coupling=coupling, group_arms=False)
            cold = cold_lp.solve(None, states=s[None], steps=h)
            again = FluidLP(p, horizon=H, coupling=coupling, group_arms=False)
            assert again.set_basis_codes(b.basis, b.column_actions)
            warm_res = again.solve(None, states=s[None], steps=h)
            assert warm_res.value == pytest.approx(cold.value, abs=1e-7)
            assert warm_res.certified >= warm_res.value - 1e-7
            a_cold = bandits.policies.fluid(p, horizon=H, coupling=coupling).act_at(s, h)
            # the warm action maximises the cold solve's index too (a different action only on a tie)
            assert _index(cold_lp, cold, s, a, h) == pytest.approx(_index(cold_lp, cold, s, a_cold, h), abs=1e-7)
            same += int(np.array_equal(a, a_cold))
            s = p.step(s[None], a[None], rng)[0]
    assert warm.stats["warm_start"] and warm.stats["basis_loads"] == 2
    assert same >= 2 * H - 1


def test_warm_start_rejects_a_bound_that_does_not_fit():
    p = bandits.make_domain("budget", n_arms=5, budget=2, seed=0)
    b = fluid_bound(p, horizon=4, coupling="relaxation")
    with pytest.raises(InvalidInputError, match="horizon and coupling"):
        bandits.policies.fluid(p, horizon=5, coupling="relaxation", warm_start=b)
    with pytest.raises(InvalidInputError, match="horizon and coupling"):
        bandits.policies.fluid(p, horizon=4, coupling="hull", warm_start=b)
    with pytest.raises(InvalidInputError, match="FluidBound"):
        bandits.policies.fluid(p, horizon=4, coupling="relaxation", warm_start=b.basis)
    other = bandits.make_domain("budget", n_arms=6, budget=2, seed=0)
    with pytest.raises(InvalidInputError, match="does not fit"):
        bandits.policies.fluid(other, horizon=4, coupling="relaxation", warm_start=b)
    mi = bandits.make_domain("multiple_interventions", n_arms=8, budget=3, seed=0)
    grouped = fluid_bound(mi, horizon=4, coupling="relaxation")
    if any(len(u) > 1 for u in grouped.params["units"]):
        with pytest.raises(InvalidInputError, match="group_arms=False"):
            bandits.policies.fluid(mi, horizon=4, coupling="relaxation", warm_start=grouped)


def test_bound_basis_round_trips_and_restarts_in_no_iterations():
    p = bandits.make_domain("matching", n_arms=10, budget=3, seed=2)
    starts = start_states(p, 4, seed=2)
    b = fluid_bound(p, horizon=H, initial=starts, coupling="relaxation")
    back = type(b).from_dict(b.to_dict())
    assert np.array_equal(back.basis, b.basis)
    # the bound's own LP from its own basis: already optimal, same value
    lp = FluidLP(p, horizon=H, coupling="relaxation")
    assert lp.set_basis_codes(back.basis)
    res = lp.solve(None, states=starts)
    assert res.nit == 0 and res.value == pytest.approx(b.value, abs=1e-9)


@pytest.mark.parametrize("dom", ["budget", "matching", "path", "multiple_interventions"])
def test_steps_from_end_is_the_h_step_lp(dom):
    """The relaxation re-solved on its last h steps (any order of h, states and both alignments)
    has the value and certificate of an LP built with horizon h."""
    p = bandits.make_domain(dom, n_arms=8, budget=3, seed=0)
    rng = np.random.default_rng(0)
    lp = FluidLP(p, horizon=H, coupling="relaxation", group_arms=False)
    for end in [True, True, False, True, False, False, True]:
        s = rng.integers(0, p.n_states, size=p.n_arms)
        h = int(rng.integers(1, H + 1))
        r = lp.solve(None, states=s[None], steps=h, steps_from_end=end)
        ref = FluidLP(p, horizon=h, coupling="relaxation", group_arms=False).solve(None, states=s[None])
        assert r.value == pytest.approx(ref.value, abs=1e-7)
        assert r.certified == pytest.approx(ref.certified, abs=1e-6) and r.certified >= r.value - 1e-9
    with pytest.raises(Exception, match="steps_from_end"):
        FluidLP(p, horizon=H, coupling="hull").solve(None, states=s[None], steps=2, steps_from_end=True)
