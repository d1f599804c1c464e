"""The path domain's exact walk-search maximiser (PathConstraint.maximize) and its use by the fluid LP."""

import itertools

import networkx as nx
import numpy as np
import pytest

import bandits
from bandits.bounds import FluidLP, fluid_bound
from bandits.constraints import PathConstraint
from bandits.evaluate import start_states
from engine.errors import InvalidInputError


def _feasible(c: PathConstraint) -> np.ndarray:
    acts = np.array(list(itertools.product([0, 1], repeat=c.n)), dtype=np.int64)
    return acts[np.array([c.check(a) for a in acts])]


@pytest.mark.parametrize("J,B", [(5, 1), (6, 2), (7, 3), (8, 4), (9, 2), (10, 5)])
def test_maximize_equals_brute_force(J, B):
    for seed in range(6):
        c = bandits.make_domain("path", n_arms=J, budget=B, seed=seed).constraint
        feas = _feasible(c)
        rng = np.random.default_rng([J, B, seed])
        for shift in (-0.5, 0.0, 1.0):
            w = rng.normal(size=J) + shift
            w[rng.integers(J)] = 0.0
            a, v = c.maximize(w)
            assert c.check(a)
            assert a @ w == pytest.approx(v, abs=1e-12)
            assert v == pytest.approx(float((feas @ w).max()), abs=1e-12)


def test_maximize_equals_mip_on_the_tube_graph():
    p = bandits.make_domain("path", n_arms=20, budget=5, seed=0)
    c = p.constraint
    m = p.feasible_set.to_linear_model(np.zeros(20), sense="max")
    rng = np.random.default_rng(3)
    for k in range(4):
        w = rng.normal(size=20) + 0.5 * k
        m.set_objective_coefficients(np.arange(20), w)
        res = m.solve(mip_rel_gap=0.0, mip_abs_gap=1e-9)
        a, v = c.maximize(w)
        assert p.contains(a)
        assert v == pytest.approx(res.objective, abs=1e-7)


def test_maximize_parity_and_edge_cases():
    # a triangle: an odd closed walk never pads to an even one, so B = 1 (walks of 2 edges) reaches one
    # neighbour, B = 2 (4 edges) both neighbours but at most two pulls
    g = nx.cycle_graph(3)
    one = PathConstraint(g, 0, 1)
    a, v = one.maximize([0.0, 2.0, 3.0])
    assert a.tolist() == [0, 0, 1] and v == 3.0
    two = PathConstraint(g, 0, 2)
    assert two.maximize([1.0, 2.0, 3.0])[1] == 5.0
    assert PathConstraint(g, 0, 0).maximize([1.0, 1.0, 1.0])[0].tolist() == [0, 0, 0]
    lonely = nx.Graph()
    lonely.add_nodes_from(range(3))
    lonely.add_edge(1, 2)
    assert PathConstraint(lonely, 0, 1).maximize([1.0, 1.0, 1.0]) is None  # no walk: empty set
    tube = bandits.make_domain("path", n_arms=20, budget=5, seed=0).constraint
    assert tube.maximize(np.ones(20), max_steps=1, max_nodes=0) is None  # gave up: the caller uses the MIP
    with pytest.raises(InvalidInputError, match="maximize"):
        tube.maximize(np.ones(3))


def test_fluid_lp_prices_and_decides_with_the_walk_search():
    p = bandits.make_domain("path", n_arms=8, budget=2, seed=0)
    starts = start_states(p, 4, seed=1)
    walk = fluid_bound(p, horizon=4, initial=starts, enumerate_limit=0)  # no enumeration: the walk search
    enum = fluid_bound(p, horizon=4, initial=starts)
    assert walk.pricing == "mip+search" and enum.pricing == "enumeration"
    assert walk.certified >= walk.value - 1e-7
    assert walk.value == pytest.approx(enum.value, abs=1e-6)
    assert walk.certified == pytest.approx(enum.certified, abs=1e-6)
    lp = FluidLP(p, horizon=4, enumerate_limit=0)
    assert lp.pricer.oracle is not None
    # when the search gives up the MIP answers: the same maximum
    Q = np.random.default_rng(0).normal(size=(8, 2))
    got = lp.pricer.solve(Q)
    lp.pricer.oracle = lambda w, time_limit=None: p.constraint.maximize(w, max_steps=1, max_nodes=0)
    mip = lp.pricer.solve(Q)
    assert got[2][0] == pytest.approx(mip[2][0], abs=1e-7)


def test_maximize_validates_its_input():
    dom = bandits.make_domain("path", n_arms=8, budget=2, seed=0).domain
    with pytest.raises(InvalidInputError, match=r"PathConstraint.maximize\(\): weights must be 8 finite"):
        dom.maximize([1.0, 2.0])
    with pytest.raises(InvalidInputError, match=r"PathConstraint.maximize\(\): weights"):
        dom.maximize(["x"] * 8)
    with pytest.raises(InvalidInputError, match=r"PathConstraint.maximize\(\): max_steps must be >= 1"):
        dom.maximize(np.ones(8), max_steps=0)
    with pytest.raises(InvalidInputError, match=r"PathConstraint.maximize\(\): max_nodes must be >= 0"):
        dom.maximize(np.ones(8), max_nodes=-1)
    with pytest.raises(InvalidInputError, match=r"PathConstraint.maximize\(\): time_limit"):
        dom.maximize(np.ones(8), time_limit=-1.0)


def test_time_limit_stops_the_branch_and_bound_between_nodes():
    tube = bandits.make_domain("path", n_arms=20, budget=5, seed=0).constraint
    w = np.random.default_rng(3).uniform(1.0, 2.0, size=20)
    exact = tube.maximize(w, max_steps=1)  # the walk search gives up at once: the branch-and-bound answers
    assert exact is not None and exact[1] == pytest.approx(tube.maximize(w)[1], abs=1e-9)
    assert tube.maximize(w, max_steps=1, time_limit=1e-9) is None  # out of time before its first node
    assert tube.maximize(w, max_steps=1, time_limit=60.0)[1] == pytest.approx(exact[1], abs=1e-9)


@pytest.mark.parametrize("J,B", [(6, 2), (8, 4), (9, 3), (10, 5)])
def test_branch_and_bound_equals_brute_force(J, B):
    # max_steps=1: the walk search gives up at once, the cut branch-and-bound answers
    for seed in range(4):
        c = bandits.make_domain("path", n_arms=J, budget=B, seed=seed).constraint
        feas = _feasible(c)
        rng = np.random.default_rng([J, B, seed, 7])
        for shift in (-0.5, 0.0, 1.0):
            w = rng.normal(size=J) + shift
            a, v = c.maximize(w, max_steps=1)
            assert c.check(a)
            assert a @ w == pytest.approx(v, abs=1e-12)
            assert v == pytest.approx(float((feas @ w).max()), abs=1e-9)


def test_branch_and_bound_equals_walk_search_at_larger_budgets():
    # J = 40 tube at B = 8 and 10 (walks of 16 and 20 edges), random and tied weights: both exact
    # maximisers agree; the walk search proves these within its default move limit
    for B in (8, 10):
        c = bandits.make_domain("path", n_arms=40, budget=B, seed=0).constraint
        rng = np.random.default_rng(B)
        for k in range(3):
            w = rng.random(40) - 0.2 * k
            if k == 2:
                w = np.round(w, 1)  # ties: many optimal actions, one maximum
            walk = c.maximize(w, max_nodes=0)
            assert walk is not None
            a, v = c.maximize(w, max_steps=1)
            assert c.check(a) and int(a.sum()) <= B
            assert v == pytest.approx(walk[1], abs=1e-9)


def test_time_limit_reaches_the_root_cut_rounds(monkeypatch):
    # a clock that jumps 10 s a reading: the root LP's cut rounds stop once it has passed the deadline
    # (before, up to 500 rounds of max-flow separation ran before the first clock check)
    import types

    import bandits.constraints.path as path_mod

    tube = bandits.make_domain("path", n_arms=20, budget=5, seed=0).constraint
    w = np.random.default_rng(3).uniform(1.0, 2.0, size=20)
    assert tube.maximize(w, max_steps=1) is not None  # builds the branch-and-bound (cuts kept)
    tube._bb = None  # a fresh one: its root LP has violated connectivity cuts to separate
    ticks = iter(range(0, 10_000, 10))
    monkeypatch.setattr(path_mod, "time", types.SimpleNamespace(perf_counter=lambda: float(next(ticks))))
    separated = []
    real = path_mod._CutBranchAndBound._separate
    monkeypatch.setattr(path_mod._CutBranchAndBound, "_separate", lambda self, x: separated.append(1) or real(self, x))
    assert tube.maximize(w, max_steps=1, time_limit=15.0) is None
    assert separated == []
    monkeypatch.undo()
    tube._bb = None
    separated_free = []
    monkeypatch.setattr(path_mod._CutBranchAndBound, "_separate",
                        lambda self, x: separated_free.append(1) or real(self, x))
    assert tube.maximize(w, max_steps=1) is not None and separated_free  # without a limit it separates


@pytest.mark.parametrize("J,B", [(6, 2), (8, 4), (10, 5)])
def test_maximize_bounded_brackets_the_maximum(J, B):
    # max_steps=1: the walk search gives up at once; at every node cap the action is feasible, worth
    # its value, and the proven upper bound is at least the brute-force maximum; uncapped they meet it
    for seed in range(3):
        c = bandits.make_domain("path", n_arms=J, budget=B, seed=seed).constraint
        feas = _feasible(c)
        rng = np.random.default_rng([J, B, seed, 11])
        for shift in (0.0, 1.0):
            w = rng.normal(size=J) + shift
            best = float((feas @ w).max())
            for cap in (0, 1, 3):
                a, v, upper = c.maximize_bounded(w, max_steps=1, max_nodes=cap)
                assert c.check(a) and a @ w == pytest.approx(v, abs=1e-12)
                assert v <= best + 1e-9 and upper >= best - 1e-9
            a, v, upper = c.maximize_bounded(w, max_steps=1)
            assert v == upper and v == pytest.approx(best, abs=1e-9)


def test_maximize_bounded_root_bound_on_the_40_station_tube():
    # the root LP alone (max_nodes=0) against the walk search's proven maximum, random and tied weights
    c = bandits.make_domain("path", n_arms=40, budget=8, seed=0).constraint
    rng = np.random.default_rng(5)
    gaps = []
    for k in range(4):
        w = rng.random(40) + 0.5 * (k % 2)
        if k == 3:
            w = np.round(w, 1)
        exact = c.maximize(w)
        assert exact is not None
        a, v, upper = c.maximize_bounded(w, max_steps=1, max_nodes=0)
        assert c.check(a) and v <= exact[1] + 1e-9 <= upper + 2e-9
        gaps.append((upper - v) / exact[1])
        # the walk search finishes here: the anytime call is then exact too
        a2, v2, up2 = c.maximize_bounded(w)
        assert v2 == up2 == pytest.approx(exact[1], abs=1e-12)
    assert max(gaps) < 0.2  # the root bound and the greedy rounding are close (measured: a few percent)


def test_maximize_bounded_at_its_time_limit():
    tube = bandits.make_domain("path", n_arms=20, budget=5, seed=0).constraint
    w = np.random.default_rng(3).uniform(1.0, 2.0, size=20)
    exact = tube.maximize(w)[1]
    assert tube.maximize_bounded(w, max_steps=1, time_limit=1e-9) is None  # the root LP did not finish
    a, v, upper = tube.maximize_bounded(w, max_steps=1, time_limit=60.0)
    assert v == upper == pytest.approx(exact, abs=1e-9)
    with pytest.raises(InvalidInputError, match=r"PathConstraint.maximize_bounded\(\): max_nodes must be >= 0"):
        tube.maximize_bounded(w, max_nodes=-1)


def test_hull_bound_with_capped_pricing_is_certified(monkeypatch):
    # the pricing search capped (walk search off, root LP only): the certificate must still bound the
    # hull LP's value (from enumeration); with the escalation to the uncapped search it equals it
    p = bandits.make_domain("path", n_arms=20, budget=5, seed=1)
    starts = start_states(p, 3, seed=2)
    enum = fluid_bound(p, horizon=3, initial=starts)
    caps = []
    real = p.domain.maximize_bounded

    def capped(w, **kw):
        caps.append(kw.get("max_nodes"))
        return real(w, **{**kw, "max_steps": 1})

    monkeypatch.setattr(p.domain, "maximize_bounded", capped)
    root_only = FluidLP(p, horizon=3, enumerate_limit=0).solve(None, states=starts, pricing_effort=(0,))
    assert set(caps) == {0}
    assert root_only.certified >= enum.value - 1e-7
    assert root_only.value <= enum.value + 1e-7
    caps.clear()
    full = FluidLP(p, horizon=3, enumerate_limit=0).solve(None, states=starts)
    assert caps[0] == 0 and None in caps  # escalated to the proof
    assert full.value == pytest.approx(enum.value, abs=1e-6)
    assert enum.value - 1e-7 <= full.certified <= enum.certified + 1e-6


def test_fluid_policy_argmax_nodes(monkeypatch):
    # the walk search off (max_steps=1): the argmax is the capped branch-and-bound's best action; it is
    # feasible at every cap, the proven argmax (None) attains the index's brute-force maximum, and the
    # counter says how many decisions were left unproven
    p = bandits.make_domain("path", n_arms=10, budget=3, seed=2)
    feas = _feasible(p.constraint)
    real = p.domain.maximize_bounded
    monkeypatch.setattr(p.domain, "maximize_bounded", lambda w, **kw: real(w, **{**kw, "max_steps": 1}))
    proven = bandits.policies.fluid(p, horizon=4, enumerate_limit=0)
    capped = bandits.policies.fluid(p, horizon=4, enumerate_limit=0, argmax_nodes=0)
    rows = np.arange(p.n_arms)
    states = start_states(p, 6, seed=4)
    for s in states:
        for pol in (proven, capped):
            a = pol.act(s)
            assert p.contains(a)
            Q = pol._index(pol.lp.local.unit_states(s)[0], pol._kept[1][1])
            best = float(Q[rows[None, :], feas].sum(axis=1).max())
            value = float(Q[rows, a].sum())
            assert value <= best + 1e-7
            if pol is proven:
                assert value == pytest.approx(best, abs=1e-7)
    assert proven.stats["argmax_unproven"] == 0
    assert 0 <= capped.stats["argmax_unproven"] <= len(states)
    with pytest.raises(InvalidInputError, match=r"policies.fluid\(\): argmax_nodes must be >= 0"):
        bandits.policies.fluid(p, argmax_nodes=-1)


def test_cut_pool_restarts_and_rebuilds_without_changing_answers():
    # a tiny pool (it empties every few calls) and a tiny LP (rebuilt from the binding cuts every call)
    # give the same maxima as the default branch-and-bound
    c = bandits.make_domain("path", n_arms=20, budget=5, seed=0).constraint
    ref = bandits.make_domain("path", n_arms=20, budget=5, seed=0).constraint
    rng = np.random.default_rng(9)
    c.maximize_bounded(np.ones(20), max_steps=1)
    c._bb.max_pool = 15
    sizes = []
    for k in range(6):
        w = rng.uniform(0.5, 2.0, size=20) - 0.3 * (k % 2)
        a, v, upper = c.maximize_bounded(w, max_steps=1)
        assert c.check(a) and v == upper
        assert v == pytest.approx(ref.maximize(w)[1], abs=1e-9)
        assert len(c._bb.active) <= c._bb.n_pool
        sizes.append(c._bb.n_pool)
    assert any(b < a for a, b in zip(sizes, sizes[1:]))  # the pool started again empty at least once


def test_pricing_effort_is_validated():
    p = bandits.make_domain("path", n_arms=8, budget=2, seed=0)
    lp = FluidLP(p, horizon=2, enumerate_limit=0)
    for bad, match in (((), "pricing_effort must be a non-empty"), (5, "pricing_effort must be a non-empty"), ((0, -1), r"pricing_effort\[\.\.\.\] must be >= 0"),
                       ((0, "x"), r"pricing_effort\[\.\.\.\]")):
        with pytest.raises(InvalidInputError, match=r"FluidLP.solve\(\): " + match):
            lp.solve(None, states=start_states(p, 2, seed=0), pricing_effort=bad)
