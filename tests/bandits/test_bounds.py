"""The fluid bound (bandits/bounds.py): an upper bound on the exact optimum of small instances of every
domain, certified by weak duality, hull <= relaxation, re-solves from new initial states, validation."""

import math

import numpy as np
import pytest

import bandits
from bandits import bounds, exact
from engine.errors import InvalidInputError, UnsupportedProblemError
from engine.result import SolveResult
from engine.status import Status

DOMAINS = ("budget", "capacity", "matching", "path", "multiple_interventions")
CASES = [(dom, J, B, seed) for dom in DOMAINS for (J, B, seed) in ((2, 1, 0), (3, 1, 1), (4, 2, 2), (5, 2, 3))]


@pytest.mark.parametrize("dom,J,B,seed", CASES)
def test_bound_above_exact_optimum_and_certified(dom, J, B, seed):
    p = bandits.make_domain(dom, n_arms=J, budget=B, seed=seed)
    H = 4
    opt = exact.optimal_value(p, H)
    hull = bounds.fluid_bound(p, horizon=H)
    relax = bounds.fluid_bound(p, horizon=H, coupling="relaxation")
    assert hull.status == Status.OPTIMAL and relax.status == Status.OPTIMAL
    assert hull.value >= opt - 1e-7
    assert hull.certified >= hull.value - 1e-7
    assert hull.certified <= hull.value + 1e-6  # column generation converged: the certificate closes
    assert relax.certified >= relax.value - 1e-7
    assert hull.value <= relax.value + 1e-7
    # a joint start state too
    s0 = np.arange(J) % p.n_states
    opt0 = exact.optimal_value(p, H, initial_state=s0)
    b0 = bounds.fluid_bound(p, horizon=H, initial=s0)
    assert b0.certified >= opt0 - 1e-7


def test_small_instances_gap_to_exact_optimum_at_h20():
    # measured (README): worst (bound - optimum) / optimum at H = 20 over 2-6 arms, 6 instances per
    # domain: budget 0.91%, capacity 0.62%, matching 1.42%, path 1.06%, interventions 2.04% (6.17%
    # before arms sharing interventions were merged into units)
    limit: dict[str, float] = {}
    for dom in DOMAINS:
        for J, B, seed in ((3, 1, 1), (4, 2, 2)):
            p = bandits.make_domain(dom, n_arms=J, budget=B, seed=seed)
            opt = exact.optimal_value(p, 20)
            cert = bounds.fluid_bound(p, horizon=20).certified
            assert opt - 1e-7 <= cert <= opt * (1 + limit.get(dom, 0.03))


def test_list_of_start_states_bounds_their_average():
    p = bandits.make_domain("capacity", n_arms=4, budget=2, seed=5)
    H = 5
    starts = np.array([[0, 1, 2, 3], [3, 3, 0, 0], [1, 1, 1, 1]])
    avg = np.mean([exact.optimal_value(p, H, initial_state=s) for s in starts])
    b = bounds.fluid_bound(p, horizon=H, initial=starts)
    assert b.certified >= avg - 1e-7
    # a per-arm distribution equal to the starts' average gives the same LP
    mu = np.zeros((4, p.n_states))
    for s in starts:
        mu[np.arange(4), s] += 1 / 3
    assert bounds.fluid_bound(p, horizon=H, initial=mu).value == pytest.approx(b.value, abs=1e-8)


def test_resolve_changes_initial_rows_only_and_matches_fresh_build():
    p = bandits.make_domain("matching", n_arms=5, budget=2, seed=1)
    lp = bounds.FluidLP(p, horizon=4)
    rng = np.random.default_rng(0)
    for _ in range(3):
        s = rng.integers(0, p.n_states, size=5)
        mu = np.zeros((5, p.n_states))
        mu[np.arange(5), s] = 1
        again = lp.solve(mu)
        fresh = bounds.fluid_bound(p, horizon=4, initial=s)
        assert again.value == pytest.approx(fresh.value, abs=1e-8)
        assert again.certified >= again.value - 1e-7


def test_mip_pricing_matches_enumeration():
    p = bandits.make_domain("path", n_arms=6, budget=2, seed=0)
    a = bounds.fluid_bound(p, horizon=4)
    b = bounds.fluid_bound(p, horizon=4, enumerate_limit=0)
    assert a.pricing == "enumeration" and b.pricing == "mip+search"  # the walk search, the MIP where it gives up
    assert b.value == pytest.approx(a.value, abs=1e-7)
    assert b.certified >= b.value - 1e-7
    q = bandits.make_domain("multiple_interventions", n_arms=5, budget=2, seed=0)
    c = bounds.fluid_bound(q, horizon=3)
    d = bounds.fluid_bound(q, horizon=3, enumerate_limit=0)
    assert d.value == pytest.approx(c.value, abs=1e-7)


def test_result_fields_and_round_trip():
    p = bandits.make_domain("budget", n_arms=4, budget=2, seed=0)
    b = bounds.fluid_bound(p, horizon=5)
    assert b.objective == b.value and b.bound == b.certified
    assert b.marginals.shape == (5, 4) and np.all(b.marginals.sum(axis=1) <= 2 + 1e-7)
    assert b.state_values.shape == (5, 4, p.n_states)
    assert b.n_rows > 0 and b.n_cols > 0 and b.n_generated > 0
    back = SolveResult.from_dict(b.to_dict())
    assert isinstance(back, bounds.FluidBound) and back.certified == b.certified


def test_budget_only_equals_whittle_relaxation_by_lagrangian_bisection():
    # Whittle's relaxation: the budget holds in expectation each step. Its value is
    # min_{lambda_t >= 0} sum_j V_j(lambda) + B sum_t lambda_t; for one-step horizon it is a
    # fractional knapsack: sort the pull gains, fill B.
    p = bandits.make_domain("budget", n_arms=5, budget=2, seed=4)
    s = np.array([0, 1, 2, 3, 0])
    base, delta = p.arms.linear_reward(s)
    knap = base.sum() + np.sort(np.maximum(delta, 0))[::-1][:2].sum()
    assert bounds.fluid_bound(p, horizon=1, initial=s).value == pytest.approx(knap, abs=1e-8)
    assert bounds.fluid_bound(p, horizon=1, initial=s, coupling="relaxation").value == pytest.approx(knap, abs=1e-8)


def test_time_limit_keeps_a_valid_certificate():
    p = bandits.make_domain("capacity", n_arms=5, budget=2, seed=0)
    H = 4
    opt = exact.optimal_value(p, H)
    b = bounds.fluid_bound(p, horizon=H, time_limit=1e-6)
    assert b.status in (Status.OPTIMAL, Status.TIME_LIMIT)
    assert b.certified >= opt - 1e-7 or math.isinf(b.certified)


@pytest.mark.parametrize("kwargs,match", [
    ({"horizon": 0}, "horizon"),
    ({"coupling": "lp"}, "coupling"),
    ({"initial": [0, 1]}, "initial"),
    ({"initial": [0, 1, 2, 9]}, "initial"),
    ({"initial": [0.0, np.nan, 1.0, 1.0]}, "initial"),
    ({"time_limit": -1}, "time_limit"),
])
def test_validation(kwargs, match):
    p = bandits.make_domain("budget", n_arms=4, budget=2, seed=0)
    with pytest.raises(InvalidInputError, match=match):
        bounds.fluid_bound(p, **kwargs)


def test_not_a_problem():
    with pytest.raises(InvalidInputError, match="fluid_bound"):
        bounds.fluid_bound("nope")


# ----------------------------------------------------------------------------- merged units (interventions)
@pytest.mark.parametrize("J,B,seed", [(4, 2, 2), (5, 2, 3), pytest.param(6, 3, 5, marks=pytest.mark.slow)])
def test_interventions_units_tighten_and_stay_above_the_optimum(J, B, seed):
    # arms touched by the same interventions form one unit (their joint state): still a bound on the
    # exact optimum, never looser than the per-arm LP, within 3% here (per-arm: up to 6.2%)
    p = bandits.make_domain("multiple_interventions", n_arms=J, budget=B, seed=seed)
    H = 20
    opt = exact.optimal_value(p, H)
    grouped = bounds.fluid_bound(p, horizon=H)
    per_arm = bounds.FluidLP(p, horizon=H, group_arms=False).solve(np.full((J, p.n_states), 1 / p.n_states))
    assert grouped.status == Status.OPTIMAL
    assert opt - 1e-7 <= grouped.certified <= per_arm.certified + 1e-7
    assert grouped.certified <= opt * 1.03
    s0 = np.arange(J) % p.n_states
    assert bounds.fluid_bound(p, horizon=H, initial=s0).certified >= exact.optimal_value(p, H, initial_state=s0) - 1e-7


def test_interventions_units_start_states_and_joint_index():
    p = bandits.make_domain("multiple_interventions", n_arms=5, budget=2, seed=3)
    loc = bounds.FluidLP(p, horizon=2).local
    assert sorted(np.concatenate(loc.units).tolist()) == list(range(5)) and loc.J < 5
    assert all(len(u) <= 3 for u in loc.units)  # S**g <= GROUP_STATES = 64 with S = 4
    s = np.array([[3, 0, 1, 2, 0], [0, 1, 2, 3, 3]])
    us = loc.unit_states(s)
    for i, u in enumerate(loc.units):  # the unit state decodes back to its arms' states
        assert np.array_equal(np.stack(np.unravel_index(us[:, i], (p.n_states,) * len(u)), axis=1), s[:, u])
    # a list of start states: the bound on their average value (the units' joint start, not the product)
    H = 6
    avg = np.mean([exact.optimal_value(p, H, initial_state=x) for x in s])
    assert bounds.fluid_bound(p, horizon=H, initial=s).certified >= avg - 1e-7


def test_budget_only_equals_whittle_relaxation_dual_lp():
    # Whittle's relaxation written independently as its dual LP (scipy): per-arm values V[j, t, s] and
    # per-step budget prices lam[t] >= 0, V[j,t,s] >= rbar(s,a) - a lam[t] + sum_s' P_a[s,s'] V[j,t+1,s'];
    # minimise sum_j mu0[j] . V[j, 0] + B sum_t lam[t]. On a budget set the hull is {x in [0,1]^J, sum x <= B}.
    from scipy.optimize import linprog

    p = bandits.make_domain("budget", n_arms=4, budget=2, seed=6)
    J, S, H, B = 4, p.n_states, 5, 2
    mu0 = np.full((J, S), 1 / S)
    nV = J * H * S
    rows, rhs = [], []
    for j in range(J):
        P = np.asarray(p.arms.transitions[j])
        R = p.arms.rewards[j]
        for t in range(H):
            for s in range(S):
                for a in (0, 1):
                    row = np.zeros(nV + H)
                    row[(j * H + t) * S + s] = -1.0
                    row[nV + t] = -a
                    if t + 1 < H:
                        row[(j * H + t + 1) * S: (j * H + t + 2) * S] += P[a][s]
                    rows.append(row)
                    rhs.append(-float(P[a][s] @ R))
    c = np.zeros(nV + H)
    for j in range(J):
        c[(j * H) * S: (j * H) * S + S] = mu0[j]
    c[nV:] = B
    res = linprog(c, A_ub=np.array(rows), b_ub=np.array(rhs), bounds=[(None, None)] * nV + [(0, None)] * H,
                  method="highs")
    assert res.status == 0
    whittle = res.fun / H
    assert bounds.fluid_bound(p, horizon=H).value == pytest.approx(whittle, abs=1e-7)
    assert bounds.fluid_bound(p, horizon=H, coupling="relaxation").value == pytest.approx(whittle, abs=1e-7)


# ---------------------------------------------------------------- column generation (scale work)
@pytest.mark.parametrize("dom,seed", [("matching", 0), ("path", 1), ("capacity", 2)])
def test_mip_pricing_first_round_is_below_the_relaxation_and_certified_pricing_closes(dom, seed):
    # MIP pricing starts at the relaxation LP's duals: after one round the certificate is already a
    # bound no larger than the relaxation's and no smaller than the hull's exact value (enumeration)
    p = bandits.make_domain(dom, n_arms=6, budget=2, seed=seed)
    H = 5
    exact_hull = bounds.fluid_bound(p, horizon=H)  # enumeration pricing
    relax = bounds.fluid_bound(p, horizon=H, coupling="relaxation")
    assert exact_hull.pricing == "enumeration"
    mu = np.full((6, p.n_states), 1 / p.n_states)
    one = bounds.FluidLP(p, horizon=H, enumerate_limit=0).solve(mu, max_rounds=1)
    assert one.pricing in ("mip", "mip+search")  # (path: its walk search, the MIP where it gives up)
    assert exact_hull.value - 1e-7 <= one.certified <= relax.certified + 1e-9
    # run to convergence with the engine-certified pricing MIPs: the certificate closes on the LP value
    full = bounds.FluidLP(p, horizon=H, enumerate_limit=0).solve(mu, certify_pricing=True)
    assert full.status == Status.OPTIMAL and "certified by the engine" in full.message
    assert full.value == pytest.approx(exact_hull.value, abs=1e-6)
    assert full.value - 1e-7 <= full.certified <= full.value + 1e-6


def test_stabilized_and_plain_column_generation_agree():
    p = bandits.make_domain("matching", n_arms=7, budget=3, seed=4)
    mu = np.full((7, p.n_states), 1 / p.n_states)
    plain = bounds.FluidLP(p, horizon=6).solve(mu, stabilize=0.0, top=1)
    smooth = bounds.FluidLP(p, horizon=6).solve(mu, stabilize=0.8)
    for r in (plain, smooth):
        assert r.status == Status.OPTIMAL and r.value - 1e-7 <= r.certified <= r.value + 1e-6
    assert plain.value == pytest.approx(smooth.value, abs=1e-6)


@pytest.mark.parametrize("coupling", ["hull", "relaxation"])
def test_fewer_steps_on_the_kept_lp_equals_the_shorter_lp(coupling):
    # FluidLP.solve(steps=h) zeroes the later steps' rewards on the kept model (a warm re-solve):
    # same value and certificate as the LP built with horizon h, and back to H afterwards
    p = bandits.make_domain("matching", n_arms=5, budget=2, seed=3)
    s = np.array([[0, 1, 2, 3, 0]])
    lp = bounds.FluidLP(p, horizon=6, coupling=coupling)
    full = lp.solve(None, states=s)
    for h in (4, 1, 6):
        got = lp.solve(None, states=s, steps=h)
        fresh = bounds.FluidLP(p, horizon=h, coupling=coupling).solve(None, states=s)
        assert got.status == fresh.status == Status.OPTIMAL
        assert got.value == pytest.approx(fresh.value, abs=1e-7)
        assert got.value - 1e-7 <= got.certified <= fresh.certified + 1e-6
    assert lp.solve(None, states=s).value == pytest.approx(full.value, abs=1e-9)


# ----------------------------------------------------------------------------- units= (any domain)
@pytest.mark.parametrize("dom", ["budget", "capacity", "matching", "path"])
def test_units_all_arms_in_one_unit_is_the_exact_optimum_and_coarser_is_tighter(dom):
    # one unit holding every arm is the joint MDP's LP: its value is the DP optimum; any partition
    # between that and one unit per arm bounds the optimum and is at most the finer partition's bound
    p = bandits.make_domain(dom, n_arms=3, budget=1, seed=0)
    H = 6
    opt = exact.optimal_value(p, H)
    single = bounds.fluid_bound(p, horizon=H)
    pair = bounds.fluid_bound(p, horizon=H, units=[[2], [0, 1]])
    joint = bounds.fluid_bound(p, horizon=H, units=[[0, 1, 2]])
    assert joint.status == pair.status == Status.OPTIMAL
    assert joint.certified == pytest.approx(opt, abs=1e-7)
    assert opt - 1e-7 <= pair.certified <= single.certified + 1e-7
    assert pair.certified >= pair.value - 1e-7 and pair.params["units"] == [[0, 1], [2]]
    relax = bounds.fluid_bound(p, horizon=H, units=[[0, 1], [2]], coupling="relaxation")
    assert pair.value <= relax.value + 1e-7 and relax.certified >= opt - 1e-7
    s0 = np.array([3, 0, 2])  # a joint start state: the unit's start is the arms' joint state
    assert bounds.fluid_bound(p, horizon=H, initial=s0, units=[[0, 1, 2]]).certified == pytest.approx(
        exact.optimal_value(p, H, initial_state=s0), abs=1e-7)


def test_units_on_path_pairs_of_neighbours_tighten_at_j6():
    p = bandits.make_domain("path", n_arms=6, budget=2, seed=0)
    H = 10
    units = bounds.matching_units(p.domain.graph, 6)
    assert sorted(j for u in units for j in u) == list(range(6))
    assert all(len(u) == 1 or p.domain.graph.has_edge(*u) for u in units) and any(len(u) == 2 for u in units)
    opt = exact.optimal_value(p, H)
    single = bounds.fluid_bound(p, horizon=H).certified
    paired = bounds.fluid_bound(p, horizon=H, units=units).certified
    assert opt - 1e-7 <= paired <= single + 1e-7
    assert bounds.fluid_bound(p, horizon=H, units="matching").certified == paired  # the same partition


@pytest.mark.parametrize("units,match", [
    ([[0, 1], [1, 2, 3]], "exactly one"),
    ([[0, 1], [2]], "exactly one"),
    ([[0, 1, 2, 3]], "GROUP_STATES"),
    ([[0, 9], [1, 2, 3]], "units"),
    ("pairs", "list of lists"),
    ("matching", "needs a domain with a graph"),
    ([[0, 1], [], [2, 3]], "non-empty"),
    ([[0, 1], 2, 3], "list of lists"),
])
def test_units_validation(units, match):
    p = bandits.make_domain("budget", n_arms=4, budget=2, seed=0)
    with pytest.raises(InvalidInputError, match=match):
        bounds.fluid_bound(p, units=units)


def test_matching_units_validation():
    with pytest.raises(InvalidInputError, match="networkx"):
        bounds.matching_units([(0, 1)], 2)
    with pytest.raises(InvalidInputError, match="n_arms"):
        bounds.matching_units(__import__("networkx").path_graph(2), 0)


# ----------------------------------------------------------------------------- each_start=True
@pytest.mark.parametrize("dom,seed", [("path", 1), ("capacity", 0), ("multiple_interventions", 3)])
def test_each_start_bounds_every_start_and_is_tighter_than_the_average_start(dom, seed):
    p = bandits.make_domain(dom, n_arms=4, budget=2, seed=seed)
    H = 6
    rng = np.random.default_rng(seed)
    starts = rng.integers(0, p.n_states, size=(5, 4))
    starts[3] = starts[0]  # a repeated start counts twice
    pooled = bounds.fluid_bound(p, horizon=H, initial=starts)
    each = bounds.fluid_bound(p, horizon=H, initial=starts, each_start=True)
    opts = [exact.optimal_value(p, H, initial_state=s) for s in starts]
    assert each.status == Status.OPTIMAL and each.params["distinct_starts"] == 4
    assert np.mean(opts) - 1e-7 <= each.certified <= pooled.certified + 1e-7
    # every start's own bound holds its optimum; the average weighs the repeated start twice
    distinct, counts = np.unique(starts, axis=0, return_counts=True)
    for s, b in zip(distinct, each.start_bounds):
        assert b >= exact.optimal_value(p, H, initial_state=s) - 1e-7
        assert b == pytest.approx(bounds.fluid_bound(p, horizon=H, initial=s).certified, abs=1e-7)
    assert each.certified >= float(np.dot(counts, each.start_bounds) / counts.sum()) - 1e-12
    assert each.marginals.shape == (H, p.n_actions) and each.state_values is None


def test_each_start_on_a_single_start_and_validation():
    p = bandits.make_domain("budget", n_arms=4, budget=2, seed=0)
    s0 = np.array([0, 1, 2, 3])
    one = bounds.fluid_bound(p, horizon=5, initial=s0, each_start=True)
    assert one.certified == pytest.approx(bounds.fluid_bound(p, horizon=5, initial=s0).certified, abs=1e-12)
    with pytest.raises(InvalidInputError, match="each_start must be a bool"):
        bounds.fluid_bound(p, horizon=5, initial=s0, each_start=1)


def test_each_start_time_limit_bounds_the_rest_by_their_average(monkeypatch):
    p = bandits.make_domain("path", n_arms=4, budget=2, seed=1)
    starts = np.random.default_rng(0).integers(0, p.n_states, size=(6, 4))
    clock = iter(np.arange(0.0, 1e6, 1.0))  # every clock read: one second later
    monkeypatch.setattr(bounds.time, "perf_counter", lambda: float(next(clock)))
    cut = bounds.fluid_bound(p, horizon=6, initial=starts, each_start=True, time_limit=4.0)
    monkeypatch.undo()
    assert 0 < cut.params["starts_cut"] < 6 and "time limit" in cut.message
    opt = np.mean([exact.optimal_value(p, 6, initial_state=s) for s in starts])
    assert cut.certified >= opt - 1e-7


def test_units_refuse_a_unit_touched_by_too_many_interventions():
    # two arms touched by 7 interventions each, 14 together: above MAX_LOCAL_BITS = 12 as one unit
    from solvers import FeasibleSet

    W = np.zeros((2, 14))
    W[0, :7] = 1.0
    W[1, 7:] = 1.0
    arms = bandits.InterventionArms(W, [[0.0, 1.0], [0.0, 1.0]], amp=[0.5, 0.5], slope=[1.0, 1.0], x0=[1.0, 1.0])
    p = bandits.CoRMAB(arms, FeasibleSet.budget(14, 2))
    with pytest.raises(UnsupportedProblemError, match="MAX_LOCAL_BITS"):
        bounds.fluid_bound(p, horizon=2, units=[[0, 1]])
