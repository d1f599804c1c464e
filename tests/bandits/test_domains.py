import ast
import itertools
import math
from pathlib import Path

import networkx as nx
import numpy as np
import pytest

import bandits.constraints
from bandits.constraints import DOMAIN_TYPES, Domain, generate
from bandits.domains import (DOMAINS, TUBE_SIZES, CapacityConstraint, MatchingConstraint, enumerate_down_closed,
                             make_domain, tube_graph)
from bandits.problem import CoRMAB
from engine.errors import InvalidInputError
from solvers.feasible_set import FeasibleSet


def all_actions(n):
    return np.array(list(itertools.product((0, 1), repeat=n)), dtype=np.int64)


def _agree(problem):
    """The FeasibleSet (MIP encoding, enumerated with no-good cuts) and the exact checker agree on all 2^n."""
    X = all_actions(problem.n_actions)
    by_checker = {tuple(a) for a in X if problem.contains(a)}
    by_fs = {tuple(a) for a in problem.feasible_set.enumerate()}
    assert by_fs == by_checker
    assert 1 < len(by_checker) < len(X)
    rng = np.random.default_rng(0)
    for _ in range(20):
        a = problem.sample_action(rng)
        assert tuple(a) in by_checker
    return by_checker


def test_path_small_graph_agrees():
    g = nx.Graph([(0, 1), (1, 2), (2, 3), (3, 0), (1, 4), (4, 5), (5, 6), (6, 7)])
    p = make_domain("path", n_arms=8, budget=3, seed=0, graph=g, source=0)
    feas = _agree(p)
    # node 6 is 4 edges from the source: no closed walk of 6 edges reaches it
    assert all(a[6] == 0 and a[7] == 0 for a in feas)
    assert any(a[5] == 1 for a in feas)
    # an odd cycle: a triangle makes odd walks possible; only even totals are allowed
    g2 = nx.Graph([(0, 1), (1, 2), (2, 0), (2, 3), (3, 4)])
    p2 = make_domain("path", n_arms=5, budget=2, seed=0, graph=g2, source=0)
    _agree(p2)


def test_path_no_self_loop_visits():
    # a star: the source's neighbours are visited only by entering them through a real arc
    g = nx.star_graph(4)  # centre 0
    g.add_edge(0, 0)  # a self-loop in the graph must not count as a move
    p = make_domain("path", n_arms=5, budget=1, seed=0, graph=g, source=0)
    feas = _agree(p)
    assert len(feas) == 1 + 4 + 1  # {}, one leaf, or the source itself


def test_matching_agrees():
    p = make_domain("matching", n_arms=8, budget=3, seed=1)
    _agree(p)


@pytest.mark.parametrize("seed", range(4))
def test_matching_hall_rows_are_exact(seed):
    """Hall's rows over slot sets, the assignment formulation and the augmenting-path checker agree
    on every action (random slots, scarce workers, a pull cap that binds and one that does not)."""

    rng = np.random.default_rng(seed)
    J, W, T = 9, 3, 4
    arm_slots = np.zeros((J, T), int)
    for j in range(J):
        arm_slots[j, rng.choice(T, size=1 + (j % 2), replace=False)] = 1
    worker_slots = (rng.random((W, T)) < 0.5).astype(int)
    mc = MatchingConstraint(arm_slots, worker_slots, max_pulls=J if seed % 2 else 3)
    hall, assignment = mc.feasible_set(), mc._assignment_feasible_set()
    assert hall.n_aux == 0 and hall.n_rows <= 2 ** T + 1
    X = all_actions(J)
    by_checker = np.array([mc.check(a) for a in X])
    assert np.array_equal(by_checker, hall.contains_many(X))
    assert np.array_equal(by_checker, np.array([assignment.contains(a) for a in X]))
    assert 1 < by_checker.sum() < len(X)


def test_capacity_agrees():
    p = make_domain("capacity", n_arms=8, budget=3, seed=2)
    _agree(p)


@pytest.mark.parametrize("costs, caps", [
    ([2, 3, 3, 4, 2, 5, 6, 2, 3], [5, 4, 3]),            # integer costs, few levels
    ([1.5, 2.5, 0, 4, 9, 1.5, 2.5, 3.5], [4, 4, 2.5]),    # fractional, a free arm, one that never fits
    ([0, 2, 0, 1], []),                                   # no worker: nothing can be pulled
    ([3, 3, 3, 3, 3, 3, 3], [6, 6, 3, 1]),                # identical workers: no symmetry left
])
def test_capacity_pattern_formulation_is_exact(costs, caps):
    """The pattern formulation, the assignment formulation and the exact bin-packing checker agree
    on every action."""

    cc = CapacityConstraint(np.array(costs, float), np.array(caps, float))
    patterns, assignment = cc.feasible_set(), cc._assignment_feasible_set()
    assert patterns.n_aux == sum(Q.shape[0] for _, _, Q in cc.packing_patterns())
    assert patterns.n_aux < max(assignment.n_aux, 1) or not caps
    X = all_actions(len(costs))
    by_checker = np.array([cc.check(a) for a in X])
    assert np.array_equal(by_checker, np.array([patterns.contains(a) for a in X]))
    assert np.array_equal(by_checker, np.array([assignment.contains(a) for a in X]))
    assert by_checker.sum() == 1 if not caps else by_checker.sum() > len(costs)   # only the empty action without workers


def test_interventions_agree_and_triples_matter():
    p = make_domain("multiple_interventions", n_arms=12, budget=3, seed=0)
    feas = _agree(p)
    assert len(feas) == math.comb(6, 3)
    arms = p.arms
    # some arm reacts only to its triple: alone, each intervention barely moves it
    W = arms.weights
    hit3 = [j for j in range(arms.n_arms) if (W[j] > 0).sum() == 3 and arms.x0[j] >= 9]
    assert hit3
    j = hit3[0]
    triple = np.flatnonzero(W[j] > 0)
    full = np.zeros(p.n_actions, int)
    full[triple] = 1
    one = np.zeros(p.n_actions, int)
    one[triple[0]] = 1
    p_full = arms.up_probability(full)[0, j]
    p_one = arms.up_probability(one)[0, j]
    assert p_full > 5 * p_one


def walk_pull_sets(graph, source, B):
    """Independent: enumerate every closed walk of 2B edges, then every subset of <= B visited nodes."""
    adj = {v: sorted(graph.neighbors(v)) for v in graph.nodes}
    visited_sets = set()

    def rec(v, t, seen):
        if t == 2 * B:
            if v == source:
                visited_sets.add(seen)
            return
        for w in adj[v]:
            rec(w, t + 1, seen | (1 << w))

    rec(source, 0, 0)
    out = set()
    for m in visited_sets:
        nodes = [i for i in range(graph.number_of_nodes()) if m >> i & 1]
        for k in range(min(B, len(nodes)) + 1):
            for c in itertools.combinations(nodes, k):
                out.add(sum(1 << i for i in c))
    return out


@pytest.mark.parametrize("B", [2, 3, 4, 5])
def test_tube20_pull_set_counts(B):
    p = make_domain("path", n_arms=20, budget=B, seed=0)
    g, source = tube_graph(20)
    want = walk_pull_sets(g, source, B)
    got = set()
    for k in range(B + 1):
        for c in itertools.combinations(range(20), k):
            a = np.zeros(20, int)
            a[list(c)] = 1
            if p.contains(a):
                got.add(sum(1 << i for i in c))
    assert got == want
    # the MIP encoding agrees on a sample of feasible and infeasible sets
    rng = np.random.default_rng(B)
    feas = sorted(want)
    for m in rng.choice(feas, size=min(15, len(feas)), replace=False):
        a = np.array([(int(m) >> i) & 1 for i in range(20)])
        assert p.feasible_set.contains(a)
    tried = 0
    while tried < 15:
        a = (rng.random(20) < B / 20).astype(int)
        if a.sum() == 0 or sum(1 << i for i in np.flatnonzero(a)) in want:
            continue
        tried += 1
        assert not p.feasible_set.contains(a)
    if B <= 2:
        assert {sum(1 << int(i) for i in np.flatnonzero(a)) for a in p.feasible_set.enumerate()} == want


def test_tube_graph_data():
    for n in TUBE_SIZES:
        g, s = tube_graph(n)
        assert g.number_of_nodes() == n and nx.is_connected(g) and s in g
    assert [tube_graph(n)[0].number_of_edges() for n in TUBE_SIZES] == [29, 56, 82, 108, 133]


@pytest.mark.parametrize("kwargs, match", [
    (dict(name="path", n_arms=5, budget=6), "budget"),
    (dict(name="path", n_arms=5, budget=-1), "budget"),
    (dict(name="nope", n_arms=5, budget=1), "domain"),
    (dict(name="capacity", n_arms=5, budget=1, colour=3), "unknown parameter"),
    (dict(name="path", n_arms=3, budget=1, graph=nx.path_graph(3), source=7), "source"),
    (dict(name="path", n_arms=4, budget=1, graph=nx.path_graph(3), source=0), "nodes"),
    (dict(name="budget", n_arms=3, budget=1, p_active=[0.5, 2.0, 0.5]), "p_active"),
    (dict(name="budget", n_arms=3, budget=1, rewards=[[0, 1]]), "rewards"),
    # raw numpy / Python errors once (issue 16 item 11): each names make_domain() and the value
    (dict(name="budget", n_arms=4, budget=2, p_passive_range=(0.9, 0.1)),
     r"make_domain\(\): p_passive_range must have low <= high, got \(0.9, 0.1\)"),
    (dict(name="budget", n_arms=4, budget=2, p_active_range=(0.5, 1.5)), r"p_active_range\[1\] must be <= 1.0"),
    (dict(name="budget", n_arms=4, budget=2, p_active_range=(0.5, float("nan"))),
     r"p_active_range\[1\] must be finite"),
    (dict(name="budget", n_arms=4, budget=2, p_passive_range=None), r"p_passive_range must be a \(low, high\) pair"),
    (dict(name="budget", n_arms=4, budget=2, p_passive_range=(0.1, 0.2, 0.3)), r"p_passive_range must be a"),
    (dict(name="budget", n_arms=4, budget=2, good_top=[]), r"good_top must hold at least one reward"),
    (dict(name="budget", n_arms=4, budget=2, bad_top="x"), r"bad_top must be a numeric array"),
    (dict(name="capacity", n_arms=4, budget=2, costs=[0, 0, 0, 0]),
     r"make_domain\(\): the capacity domain needs at least one arm with a positive cost, got costs \[0.0, 0.0"),
])
def test_make_domain_bad_inputs(kwargs, match):
    kw = dict(kwargs)
    name = kw.pop("name")
    with pytest.raises(InvalidInputError, match=match):
        make_domain(name, seed=0, **kw)


def test_path_isolated_source_is_infeasible():
    g = nx.Graph()
    g.add_nodes_from(range(3))
    g.add_edge(1, 2)
    with pytest.raises(InvalidInputError, match="infeasible"):
        make_domain("path", n_arms=3, budget=1, seed=0, graph=g, source=0)


def test_domains_seeded():
    for name in ("path", "matching", "capacity", "multiple_interventions"):
        a = make_domain(name, n_arms=20, budget=5, seed=3)
        b = make_domain(name, n_arms=20, budget=5, seed=3)
        np.testing.assert_array_equal(a.arms.transitions if name != "multiple_interventions" else a.arms.weights,
                                      b.arms.transitions if name != "multiple_interventions" else b.arms.weights)
        np.testing.assert_array_equal(a.arms.rewards, b.arms.rewards)
        assert isinstance(a, CoRMAB)


def test_enumerate_down_closed_stops_early_on_large_families():
    calls = []

    def at_most(k):
        def check(a):
            calls.append(1)
            return a.sum() <= k
        return check

    # sum_{i <= 3} C(12, i) = 299 sets: enumerated exactly, each once
    rows = enumerate_down_closed(12, at_most(3), limit=299)
    assert rows is not None and len(rows) == sum(math.comb(12, i) for i in range(4))
    assert len({r.tobytes() for r in rows}) == len(rows)
    assert enumerate_down_closed(12, at_most(3), limit=298) is None
    # a feasible set of 19 pulls proves >= 2**19 > 300,000 members: stop after a few dozen checks
    calls.clear()
    assert enumerate_down_closed(100, at_most(20), limit=300_000) is None
    assert len(calls) < 50


def test_capacity_patterns_with_only_free_arms_have_one_empty_pattern_per_capacity():
    """Costs all 0 once raised a numpy reshape error inside packing_patterns."""

    cc = CapacityConstraint(np.zeros(3), np.array([2.0, 2.0, 5.0]))
    assert [(cap, k, Q.shape) for cap, k, Q in cc.packing_patterns()] == [(2.0, 2, (1, 0)), (5.0, 1, (1, 0))]
    assert cc.check(np.ones(3)) and cc.check(np.zeros(3))


def test_zero_costs_next_to_positive_ones_are_still_accepted():
    p = make_domain("capacity", n_arms=4, budget=2, costs=[0, 0, 3, 3], capacities=[3, 3], seed=0)
    assert p.contains([1, 1, 1, 1])


# ---------------------------------------------------------------------------------------------
# the one constraint interface (bandits.constraints.Domain)
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", DOMAINS)
def test_every_domain_answers_the_interface_consistently(name):
    """check, partial_check, sample, enumerate and feasible_set describe one set (brute force over 2^n)."""
    inst = generate(name, n_arms=7, budget=2, seed=4)
    dom = inst.domain
    assert isinstance(dom, DOMAIN_TYPES[name]) and dom.name == name and dom.n == inst.arms.n_actions
    X = all_actions(dom.n)
    feasible = {tuple(a) for a in X if dom.check(a)}
    assert feasible == {tuple(a) for a in dom.feasible_set().enumerate()}
    assert dom.feasible_set() is dom.feasible_set()  # built once
    assert {tuple(a) for a in dom.enumerate(10_000)} == feasible
    assert dom.enumerate(len(feasible) - 1) is None
    # a partial action that can be completed passes partial_check
    for a in X:
        if any(np.all(np.asarray(f) >= a) for f in feasible):
            assert dom.partial_check(a), a
    rng = np.random.default_rng(0)
    assert all(tuple(dom.sample(rng)) in feasible for _ in range(20))


@pytest.mark.parametrize("name", ["budget", "path", "matching", "capacity"])
def test_domains_serialise_themselves(name):
    dom = generate(name, n_arms=9, budget=3, seed=2).domain
    info = dom.to_dict()
    assert info["name"] == name
    back = type(dom).from_dict(info, 9, max_cells=10**7, where="test")
    assert type(back) is type(dom)
    fa, fb = dom.feasible_set(), back.feasible_set()
    assert (fa.A != fb.A).nnz == 0 and np.array_equal(fa.row_upper, fb.row_upper)
    assert back.attributes().keys() == dom.attributes().keys()
    # sizes that disagree with the arms give None, not a domain (a budget entry holds no size)
    if name != "budget":
        assert type(dom).from_dict(info, 8, max_cells=10**7, where="test") is None


def test_make_domain_is_a_registry_lookup_and_the_problem_shows_the_domain():
    assert DOMAINS == tuple(DOMAIN_TYPES) == ("budget", "path", "matching", "capacity", "multiple_interventions")
    for name in DOMAINS:
        p = make_domain(name, n_arms=6, budget=2, seed=1)
        assert type(p.domain) is DOMAIN_TYPES[name] and p.feasible_set is p.domain.feasible_set()
        for attr, value in p.domain.attributes().items():
            assert getattr(p, attr) is value
    assert make_domain("path", n_arms=6, budget=2, seed=1).constraint.name == "path"
    assert not hasattr(make_domain("budget", n_arms=6, budget=2, seed=1), "constraint")
    with pytest.raises(AttributeError, match="no attribute 'graph'"):
        make_domain("capacity", n_arms=6, budget=2, seed=1).graph


def test_a_new_domain_plugs_into_cormab():
    """A Domain subclass is all a problem needs: its checker, sampler and enumerator are the problem's."""

    class AtMostOneOfFirstTwo(Domain):
        name = "one_of_two"

        def __init__(self, n):
            self.n = n

        def check(self, action):
            return int(action[0]) + int(action[1]) <= 1

        def build_feasible_set(self):
            return FeasibleSet(self.n, np.eye(1, self.n) + np.eye(1, self.n, 1), [-np.inf], [1.0])

    arms = make_domain("budget", n_arms=3, budget=3, seed=0).arms
    dom = AtMostOneOfFirstTwo(3)
    p = CoRMAB(arms, dom.feasible_set(), domain=dom, name=dom.name)
    assert len(p.feasible_actions()) == 6 and not p.contains([1, 1, 0]) and p.partial_ok([0, 1, 1])
    assert p.contains(p.sample_action(np.random.default_rng(0)))
    assert "domain" not in p.to_dict()["metadata"]  # to_dict() is None: the feasible set alone is stored
    with pytest.raises(InvalidInputError, match="either domain= or checker"):
        CoRMAB(arms, dom.feasible_set(), domain=dom, checker=dom.check)
    with pytest.raises(InvalidInputError, match="domain must be a bandits.constraints.Domain"):
        CoRMAB(arms, dom.feasible_set(), domain=object())


def test_the_domain_classes_do_not_import_the_problem():
    """bandits.constraints sits below bandits.problem and bandits.io: no import cycle through them."""
    for path in Path(bandits.constraints.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            for name in names:
                assert name not in ("bandits.problem", "bandits.io", "bandits.domains"), (path.name, name)
