"""The hull bound's time limit (bandits/bounds.py): every pricing call gets the time left, a hull solve
cut short quotes the smaller of its Lagrangian and the relaxation LP's certified bound (both valid,
so still above the exact optimum), and without a time limit nothing changes."""

import math
import types

import numpy as np
import pytest

import bandits
from bandits import bounds, exact
from engine.status import Status

H = 5
# (domain, arms, budget, seed, options): enumeration pricing, the MIP over the feasible set (pull
# bits; intervention units), and the path domain's own maximiser in front of its MIP
CASES = [("budget", 4, 1, 0, {}), ("capacity", 5, 2, 1, {"enumerate_limit": 0}),
         ("path", 6, 2, 2, {"enumerate_limit": 0}), ("multiple_interventions", 5, 2, 3, {"enumerate_limit": 0})]
IDS = [c[0] for c in CASES]


def _instance(dom, J, B, seed):
    return bandits.make_domain(dom, n_arms=J, budget=B, seed=seed)


@pytest.mark.parametrize("dom,J,B,seed,kw", CASES, ids=IDS)
def test_tiny_time_limit_quotes_a_valid_bound_no_worse_than_the_relaxation(dom, J, B, seed, kw):
    p = _instance(dom, J, B, seed)
    opt = exact.optimal_value(p, H)
    relax = bounds.fluid_bound(p, horizon=H, coupling="relaxation", **kw)
    cut = bounds.fluid_bound(p, horizon=H, time_limit=1e-9, **kw)
    assert cut.status == Status.TIME_LIMIT
    assert "time limit" in cut.message
    assert opt - 1e-9 <= cut.certified <= relax.certified + 1e-9
    # value: the restricted master's LP value (one master solve), below the full hull LP's
    full = bounds.fluid_bound(p, horizon=H, **kw)
    assert full.status == Status.OPTIMAL
    assert math.isfinite(cut.value) and cut.value <= full.value + 1e-7
    if kw:  # MIP pricing: no step was priced, so the quoted bound is the relaxation's
        assert "relaxation LP's bound" in cut.message and "no bound" in cut.message
        assert cut.certified == pytest.approx(relax.certified, abs=1e-9)


# certified values of the commit before the time limit reached the pricing (6dd114c), H = 5
BEFORE = {"budget": 3.7130019754917725, "capacity": 10.314586694741445, "path": 4.920796307216393}


@pytest.mark.parametrize("dom,J,B,seed,kw", CASES[:3], ids=IDS[:3])
def test_without_a_time_limit_the_bound_is_unchanged(dom, J, B, seed, kw):
    p = _instance(dom, J, B, seed)
    b = bounds.fluid_bound(p, horizon=H, **kw)
    assert b.status == Status.OPTIMAL
    assert b.certified == pytest.approx(BEFORE[dom], abs=1e-9)
    generous = bounds.fluid_bound(p, horizon=H, time_limit=1e6, **kw)
    assert generous.status == Status.OPTIMAL and generous.certified == b.certified


class _Clock:
    """A fake ``time.perf_counter`` for bandits.bounds: it moves one second per pricing call."""

    def __init__(self):
        self.now = 0.0

    def perf_counter(self):
        return self.now


@pytest.mark.parametrize("warm", [True, False])
@pytest.mark.parametrize("limit", [2.5, 5.5, 13.5])
def test_deadline_inside_a_pricing_round(monkeypatch, warm, limit):
    p = _instance("capacity", 5, 2, 1)
    opt = exact.optimal_value(p, H)
    relax = bounds.fluid_bound(p, horizon=H, coupling="relaxation")
    lp = bounds.FluidLP(p, horizon=H, enumerate_limit=0)
    clock = _Clock()
    monkeypatch.setattr(bounds, "time", types.SimpleNamespace(perf_counter=clock.perf_counter))
    seen = []
    solve = lp.pricer.solve

    def priced(Q, **kw):
        seen.append(kw.get("time_limit"))
        out = solve(Q, **kw)
        clock.now += 1.0
        return out

    monkeypatch.setattr(lp.pricer, "solve", priced)
    mu = np.full((5, p.n_states), 1.0 / p.n_states)
    b = lp.solve(mu, time_limit=limit, warm_duals=warm)
    assert b.status == Status.TIME_LIMIT
    assert opt - 1e-9 <= b.certified <= relax.certified + 1e-9
    # every pricing call had the time left: positive and shrinking by the fake second it took
    # (a call made with none left returns at once, no bound)
    assert seen and all(t is not None for t in seen)
    live = [t for t in seen if t > 0]
    assert live == [limit - k for k in range(len(live))]
    assert len(live) == math.ceil(limit)
    if warm and limit == 5.5:
        # the warm round at the relaxation's duals finished: its Lagrangian, never above the relaxation's
        assert "relaxation LP's bound" not in b.message


def test_mip_cut_before_an_incumbent_does_not_crash(monkeypatch):
    p = _instance("capacity", 5, 2, 1)
    opt = exact.optimal_value(p, H)
    relax = bounds.fluid_bound(p, horizon=H, coupling="relaxation")
    lp = bounds.FluidLP(p, horizon=H, enumerate_limit=0)
    pricer = lp.pricer
    assert pricer.method == "mip" and pricer.oracle is None
    model_solve = pricer.model.solve
    # HiGHS stopped at once: no incumbent (x None), no dual bound (nan)
    monkeypatch.setattr(pricer.model, "solve", lambda **kw: model_solve(**{**kw, "time_limit": 1e-9}))
    monkeypatch.setattr(pricer, "_integral_relaxation", lambda *a, **k: None)
    Q = np.zeros((5, 2))
    Q[:, 1] = [3.0, -1.0, 2.0, 0.5, 1.0]
    acts, ub, vals = pricer.solve(Q, time_limit=10.0)
    assert acts.shape == (0, p.n_actions) and ub == math.inf and vals.size == 0 and pricer.stopped
    # the column generation stops there and quotes the relaxation's bound
    b = lp.solve(np.full((5, p.n_states), 1.0 / p.n_states))
    assert b.status == Status.TIME_LIMIT
    assert b.certified == pytest.approx(relax.certified, abs=1e-9) and b.certified >= opt - 1e-9


def test_each_start_with_a_tiny_time_limit_stays_a_bound():
    p = _instance("capacity", 4, 2, 5)
    starts = np.array([[0, 1, 2, 3], [3, 3, 0, 0], [1, 1, 1, 1]])
    avg = np.mean([exact.optimal_value(p, H, initial_state=s) for s in starts])
    b = bounds.fluid_bound(p, horizon=H, initial=starts, each_start=True, enumerate_limit=0, time_limit=1e-9)
    assert b.status == Status.TIME_LIMIT
    assert math.isfinite(b.certified) and b.certified >= avg - 1e-9
    relax = bounds.fluid_bound(p, horizon=H, initial=starts, coupling="relaxation")
    assert b.certified <= relax.certified + 1e-9


def test_a_cut_re_solve_without_relaxation_floor_skips_the_relaxation_lp(monkeypatch):
    # the policy's re-solves read the master's duals, never the bound: no extra LP when one is cut
    p = _instance("capacity", 5, 2, 1)
    lp = bounds.FluidLP(p, horizon=H, enumerate_limit=0)
    lp.solve(None, states=np.zeros((1, 5), dtype=np.int64))  # the first solve (warm duals) done
    calls = []
    real = bounds.FluidLP._relaxation
    monkeypatch.setattr(bounds.FluidLP, "_relaxation", lambda self, mu: calls.append(1) or real(self, mu))
    start = np.ones((1, 5), dtype=np.int64)
    no_floor = lp.solve(None, states=start, time_limit=1e-9, relaxation_floor=False)
    assert no_floor.status == Status.TIME_LIMIT and calls == []
    floor = lp.solve(None, states=start, time_limit=1e-9)
    assert floor.status == Status.TIME_LIMIT and calls == [1]
    opt = exact.optimal_value(p, H, initial_state=start[0])
    assert opt - 1e-9 <= floor.certified <= no_floor.certified
