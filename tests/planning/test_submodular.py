"""Tests for planning.objectives / planning.submodular: brute force on small instances, greedy
guarantees, lazy == naive, stochastic greedy in expectation, knapsack, matroid, paths, validation."""

from __future__ import annotations

import itertools
import math

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.errors import InvalidInputError
from engine.result import SolveResult
from engine.status import Status
from planning.submodular import (FacilityLocation, FeatureBased, GraphCoverage, LogDet, Mixture, Modular, SetFunction,
                                 SubmodularResult, WeightedCoverage, greedy, knapsack_greedy, lazy_greedy,
                                 matroid_greedy, multi_path_greedy, path_greedy, solve, stochastic_greedy)


# ----------------------------------------------------------------------------- instances
def _instances(seed: int, n: int = 12):
    rng = np.random.default_rng(seed)
    sets = [list(rng.choice(20, size=rng.integers(1, 6), replace=False)) for _ in range(n)]
    K = rng.normal(size=(n, 4))
    K = K @ K.T + 0.1 * np.eye(n)
    X = rng.random((n, 5)) * (rng.random((n, 5)) < 0.6)
    sim = rng.random((n, n))
    knn = sp.csr_matrix(sim * (sim > 0.6))
    return {
        "coverage": WeightedCoverage(sets, rng.random(20)),
        "facility_dense": FacilityLocation(sim),
        "facility_float32": FacilityLocation(sim.astype(np.float32)),
        "facility_sparse": FacilityLocation(knn),
        "feature_sqrt": FeatureBased(X, "sqrt", rng.random(5)),
        "feature_log_sparse": FeatureBased(sp.csr_matrix(X), "log"),
        "feature_inverse": FeatureBased(X, "inverse"),
        "feature_min1": FeatureBased(X, "min1"),
        "logdet": LogDet(K, noise=0.5),
        "graph": GraphCoverage(nx.path_graph(n), radius=1, weights=rng.random(n)),
        "mixture": 0.5 * FacilityLocation(sim) + WeightedCoverage(sets) + LogDet(K, 1.0),
    }


def _brute_opt(f, k):
    return max(f.evaluate(list(S)) for S in itertools.combinations(range(f.n), k))


# ----------------------------------------------------------------------------- objectives
@pytest.mark.parametrize("name", list(_instances(0)))
def test_state_gains_match_evaluate(name):
    """Incremental gains equal differences of from-scratch evaluations, and f is submodular."""
    f = _instances(1)[name]
    rng = np.random.default_rng(2)
    order = rng.permutation(f.n)[:5]
    state = f.new_state()
    prev_gains = state.gains(np.arange(f.n))
    for j in order:
        S = state.selected
        g = state.gains(np.arange(f.n))
        base = f.evaluate(S)
        brute = np.array([f.evaluate(S + [c]) - base for c in range(f.n)])
        out = np.setdiff1d(np.arange(f.n), S)  # gains of members are not asked for
        np.testing.assert_allclose(g[out], brute[out], atol=1e-9)
        assert state.gain(int(j)) == pytest.approx(g[j], abs=1e-12)
        assert np.all(g >= -1e-12)                      # monotone
        assert np.all(g[out] <= prev_gains[out] + 1e-9)  # diminishing returns
        prev_gains = g
        state.add(int(j))
        assert state.value == pytest.approx(f.evaluate(state.selected), abs=1e-9)
    copy = state.copy()
    copy.add(int(rng.integers(f.n)))
    assert state.value == pytest.approx(f.evaluate(state.selected), abs=1e-9)


def test_closed_forms():
    assert WeightedCoverage([[0, 1], [1, 2], [3]], weights=[1, 2, 3, 4]).evaluate([0, 2]) == 7.0
    assert GraphCoverage((3, 3), radius=1).evaluate([4]) == 5.0
    assert GraphCoverage((3, 3), radius=2).evaluate([0]) == 6.0
    f = FacilityLocation(np.array([[1.0, 0.2], [0.5, 0.9]]))
    assert f.evaluate([1]) == pytest.approx(1.4) and f.evaluate([0, 1]) == pytest.approx(1.9)
    K = np.array([[2.0, 0.5], [0.5, 1.0]])
    assert LogDet(K, noise=0.3).evaluate([0, 1]) == pytest.approx(0.5 * np.linalg.slogdet(np.eye(2) + K / 0.3)[1])
    assert FeatureBased([[4.0], [5.0]], "sqrt").evaluate([0, 1]) == pytest.approx(3.0)
    # weighted graph: radius is an edge-length distance
    G = nx.Graph()
    G.add_weighted_edges_from([("a", "b", 1.0), ("b", "c", 2.5)])
    gc = GraphCoverage(G, radius=2.0)
    assert gc.nodes == ["a", "b", "c"] and gc.evaluate([0]) == 2.0 and gc.evaluate([1]) == 2.0


def test_from_features_dense_and_knn_agree_on_kept_entries():
    X = np.random.default_rng(0).normal(size=(60, 3))
    dense = FacilityLocation.from_features(X, metric="rbf")
    knn = FacilityLocation.from_features(X, metric="rbf", n_neighbors=60)
    np.testing.assert_allclose(knn.similarity.toarray(), dense.similarity, atol=1e-12)
    for metric in ("euclidean", "cosine"):
        f = FacilityLocation.from_features(X, metric=metric)
        assert f.similarity.min() >= 0 and np.allclose(f.similarity, f.similarity.T)
        g = FacilityLocation.from_features(X, metric=metric, n_neighbors=5)
        assert g.similarity.nnz == 60 * 5


def test_path_gains_batch_matches_states():
    f = GraphCoverage((4, 4), radius=1)
    paths = np.random.default_rng(0).integers(0, 16, size=(7, 6))
    g = f.path_gains(paths)
    for b in range(7):
        for t in range(6):
            assert g[b, :t + 1].sum() == pytest.approx(f.evaluate(paths[b, :t + 1]))
    mod = f.path_gains(paths, modular=True)
    single = f.marginal_gains([], None)
    np.testing.assert_allclose(mod, single[paths])
    mix = 2.0 * f + FacilityLocation(np.eye(16))
    np.testing.assert_allclose(mix.path_gains(paths), 2.0 * g + FacilityLocation(np.eye(16)).path_gains(paths))


# ----------------------------------------------------------------------------- optimisers
@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("name", ["coverage", "facility_dense", "facility_sparse", "feature_sqrt", "logdet", "mixture"])
def test_greedy_guarantee_and_lazy_equals_greedy(name, seed):
    f = _instances(seed)[name]
    for k in (1, 3, 5):
        opt = _brute_opt(f, k)
        g = greedy(f, k)
        lz = lazy_greedy(f, k)
        assert g.value >= (1 - (1 - 1 / k) ** k) * opt - 1e-9
        assert lz.selected.tolist() == g.selected.tolist() and lz.value == g.value
        assert lz.n_evaluations <= g.n_evaluations
        for res in (g, lz):
            assert res.bound >= opt - 1e-9               # the certified bound really bounds OPT
            assert res.gap == pytest.approx(res.bound - res.value)
            assert res.value == pytest.approx(f.evaluate(res.selected), abs=1e-9)
            assert res.gains.sum() == pytest.approx(res.value)
            assert res.status in (Status.FEASIBLE, Status.OPTIMAL)


def test_lazy_equals_greedy_with_ties():
    f = WeightedCoverage([[0], [1], [0, 1], [2], [2], [3]], weights=[1, 1, 1, 1])
    assert lazy_greedy(f, 4).selected.tolist() == greedy(f, 4).selected.tolist() == [2, 3, 5, 0]


def test_greedy_picking_everything_is_optimal():
    f = _instances(0)["coverage"]
    res = lazy_greedy(f, f.n)
    assert res.status is Status.OPTIMAL and res.gap == pytest.approx(0.0, abs=1e-9)


def test_stochastic_greedy_mean_over_seeds():
    eps = 0.2
    for name in ("facility_dense", "coverage", "logdet"):
        f = _instances(3, n=16)[name]
        k = 4
        opt = _brute_opt(f, k)
        vals = [stochastic_greedy(f, k, epsilon=eps, seed=s).value for s in range(30)]
        assert np.mean(vals) >= (1 - 1 / math.e - eps) * opt
    f = _instances(3)["facility_dense"]
    a, b = stochastic_greedy(f, 4, seed=11), stochastic_greedy(f, 4, seed=11)
    assert a.selected.tolist() == b.selected.tolist() and a.params["seed"] == 11
    assert a.params["sample_size"] == math.ceil(f.n / 4 * math.log(10))


def _brute_knn(X, k):
    D = ((X[:, None, :] - X[None, :, :]) ** 2).sum(-1)
    order = np.lexsort((np.broadcast_to(np.arange(len(X)), D.shape), D), axis=1)[:, :k]  # distance, then index
    return np.take_along_axis(D, order, 1), order


@pytest.mark.parametrize("d", [1, 2, 3, 8, 20])
def test_knn_graph_equals_brute_force(d):
    from planning.knn import knn_graph

    rng = np.random.default_rng(d)
    for n, k in ((1, 1), (5, 5), (70, 7), (700, 20)):
        X = rng.normal(size=(n, d))
        for workers in ((1, -1) if d == 8 else (1,)):  # -1: the parallel kernel (one compile, cached)
            d2, idx = knn_graph(X, k, workers)
            bd, bi = _brute_knn(X, k)
            assert idx.tolist() == bi.tolist()
            np.testing.assert_allclose(d2, bd, rtol=1e-12, atol=1e-12)


def test_knn_graph_ties_and_duplicates_go_to_the_smaller_index():
    from planning.knn import knn_graph

    grid = np.array([[i, j] for i in range(15) for j in range(15)], dtype=float)  # many equal distances
    dups = np.repeat(np.random.default_rng(0).normal(size=(40, 3)), 4, axis=0)    # zero distances
    for X, k in ((grid, 9), (dups, 10)):
        d2, idx = knn_graph(X, k, 1)
        bd, bi = _brute_knn(X, k)
        assert idx.tolist() == bi.tolist() and d2.tolist() == bd.tolist()


@pytest.mark.parametrize("metric", ["rbf", "euclidean", "cosine"])
def test_from_features_knn_equals_brute_force_similarity(metric):
    rng = np.random.default_rng(4)
    X = np.vstack([rng.normal(size=(150, 4)), rng.normal(loc=5.0, size=(150, 4))])
    f = FacilityLocation.from_features(X, metric=metric, n_neighbors=6)
    Y = X / np.linalg.norm(X, axis=1, keepdims=True) if metric == "cosine" else X
    d2, idx = _brute_knn(Y, 6)
    if metric == "rbf":
        vals = np.exp(-d2 / (4 * X.var()))
    elif metric == "euclidean":
        vals = np.sqrt(d2).max() - np.sqrt(d2)
    else:
        vals = 1.0 - 0.25 * d2
    want = np.zeros((300, 300))
    np.put_along_axis(want, idx, vals, 1)
    assert f.sparse and f.similarity.nnz == 300 * 6
    np.testing.assert_allclose(f.similarity.toarray(), want, atol=1e-12)
    with pytest.raises(InvalidInputError, match="workers"):
        FacilityLocation.from_features(X, n_neighbors=6, workers=0)


def test_stochastic_greedy_is_greedy_when_the_sample_is_everything():
    """With s >= n every step sees the whole pool: the picks are greedy's, zero-gain tail included."""
    inst = _instances(5)
    for name in ("coverage", "facility_dense", "facility_sparse", "feature_sqrt", "logdet", "graph"):
        f = inst[name]
        for k in (1, 3, 6, f.n):
            res = stochastic_greedy(f, k, epsilon=1e-9, seed=1)
            assert res.params["sample_size"] >= f.n
            g = greedy(f, k)
            assert res.selected.tolist() == g.selected.tolist(), name
            assert res.value == g.value


def test_stochastic_greedy_lazy_sample_picks_the_best_of_the_sample():
    """Lazy evaluation inside the sample changes the evaluation count, never the pick."""

    class Eager(FacilityLocation):
        def new_state(self):
            state = super().new_state()
            state.cheap_gains = True  # makes stochastic greedy evaluate the whole sample
            return state

    sim = np.random.default_rng(7).random((300, 300)) ** 4
    lazy_f, eager_f = FacilityLocation(sim), Eager(sim)
    for f in (lazy_f, eager_f):
        f.monotone = False  # no pruning either: both runs must draw the very same samples
    for seed in range(3):
        a = stochastic_greedy(lazy_f, 20, epsilon=0.05, seed=seed)
        b = stochastic_greedy(eager_f, 20, epsilon=0.05, seed=seed)
        assert a.selected.tolist() == b.selected.tolist() and a.value == b.value
        assert a.n_evaluations < b.n_evaluations == 20 * a.params["sample_size"]


def test_stochastic_greedy_samples_uniformly_without_replacement():
    """k = 1, s = 3 of n = 20 distinct modular weights: P(pick = r-th largest) = C(20 - r, 2) / C(20, 3)."""
    n = 20
    f = Modular(np.arange(1.0, n + 1.0))
    runs = 3000
    picks = [int(stochastic_greedy(f, 1, epsilon=0.9, seed=s).selected[0]) for s in range(runs)]
    assert stochastic_greedy(f, 1, epsilon=0.9, seed=0).params["sample_size"] == 3
    rank = n - np.asarray(picks)  # 1 = the largest weight
    observed = np.bincount(rank, minlength=n + 1)[1:]
    expected = runs * np.array([math.comb(n - r, 2) for r in range(1, n + 1)]) / math.comb(n, 3)
    assert observed[n - 2:].sum() == 0  # the two smallest can never be the best of 3 distinct elements
    live = expected > 0
    chi2 = float((((observed - expected) ** 2)[live] / expected[live]).sum())
    assert chi2 < 45.0  # 18 degrees of freedom: the 99.9% quantile is 42.3


def test_stochastic_greedy_guarantee_with_zero_gain_elements_and_a_dry_pool():
    """Elements that gain nothing are dropped from the pool; the selection still has k elements."""
    rng = np.random.default_rng(8)
    sets = [[0], [0, 1], [1], [2], [2, 3]] + [[4]] * 11  # item 4 weighs 0: sets 5.. never gain
    f = WeightedCoverage(sets, weights=[1.0, 2.0, 1.5, 0.5, 0.0])
    for k in (2, 4, 8):
        opt = _brute_opt(f, k)
        vals = []
        for s in range(40):
            res = stochastic_greedy(f, k, epsilon=0.2, seed=s)
            assert len(set(res.selected.tolist())) == k == len(res.selected)
            assert res.value == pytest.approx(f.evaluate(res.selected)) == pytest.approx(res.gains.sum())
            vals.append(res.value)
        assert np.mean(vals) >= (1 - 1 / math.e - 0.2) * opt
    full = stochastic_greedy(f, f.n, epsilon=0.5, seed=0)
    assert sorted(full.selected.tolist()) == list(range(f.n)) and full.value == pytest.approx(5.0)
    knn = FacilityLocation.from_features(rng.normal(size=(40, 2)), n_neighbors=4)
    for k in (3, 5):
        opt = _brute_opt(knn, k) if k == 3 else lazy_greedy(knn, k).bound
        vals = [stochastic_greedy(knn, k, epsilon=0.2, seed=s).value for s in range(30)]
        assert np.mean(vals) >= (1 - 1 / math.e - 0.2) * opt


def test_knapsack_beats_pure_cost_benefit():
    # cost-benefit greedy takes the cheap item (ratio 1.0) and then nothing else fits
    f = Modular([1.0, 9.0])
    costs, budget = [1.0, 9.5], 10.0
    cb = knapsack_greedy(f, costs, budget, rule="cost_benefit")
    ours = knapsack_greedy(f, costs, budget)
    assert cb.value == 1.0 and cb.selected.tolist() == [0]
    assert ours.value == 9.0 and ours.rule == "unit_cost" and ours.cost <= budget


@pytest.mark.parametrize("seed", range(5))
def test_knapsack_guarantee_and_budget(seed):
    rng = np.random.default_rng(seed)
    f = _instances(seed)["coverage"]
    costs = rng.uniform(0.5, 3.0, size=f.n)
    budget = 4.0
    opt = max(f.evaluate(list(S)) for r in range(f.n + 1) for S in itertools.combinations(range(f.n), r)
              if costs[list(S)].sum() <= budget) if f.n <= 12 else None
    for lazy in (True, False):
        res = knapsack_greedy(f, costs, budget, lazy=lazy)
        assert costs[res.selected].sum() <= budget + 1e-12 and res.cost == pytest.approx(costs[res.selected].sum())
        assert res.value >= 0.5 * (1 - 1 / math.e) * opt - 1e-9
        assert res.bound >= opt - 1e-9
    a = knapsack_greedy(f, costs, budget, lazy=True)
    b = knapsack_greedy(f, costs, budget, lazy=False)
    assert a.selected.tolist() == b.selected.tolist()


def test_knapsack_budget_below_every_cost():
    res = knapsack_greedy(Modular([1.0, 2.0]), [3.0, 4.0], 2.0)
    assert res.selected.size == 0 and res.value == 0.0 and res.status is Status.OPTIMAL
    assert "budget" in res.message


@pytest.mark.parametrize("seed", range(4))
def test_matroid_feasible_and_half_approx(seed):
    rng = np.random.default_rng(seed)
    f = _instances(seed)["facility_dense"]
    part = rng.integers(0, 3, size=f.n)
    cap = np.array([1, 2, 1])
    feasible = [S for r in range(5) for S in itertools.combinations(range(f.n), r)
                if np.all(np.bincount(part[list(S)], minlength=3) <= cap)]
    opt = max(f.evaluate(list(S)) for S in feasible)
    for lazy in (True, False):
        res = matroid_greedy(f, part, cap, lazy=lazy)
        counts = np.bincount(part[res.selected], minlength=3)
        assert np.all(counts <= cap) and res.counts.tolist() == counts.tolist()
        assert len(res.selected) == int(np.minimum(np.bincount(part, minlength=3), cap).sum())
        assert res.value >= 0.5 * opt - 1e-9
    assert matroid_greedy(f, part, {0: 1}).counts.tolist() == [1, 0, 0]


def _walk_length(G, nodes, walk):
    return sum(G[nodes[u]][nodes[v]].get("weight", 1.0) for u, v in zip(walk[:-1], walk[1:]))


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("closed", [True, False])
def test_path_budget_respected_exactly(seed, closed):
    rng = np.random.default_rng(seed)
    G = nx.random_geometric_graph(25, 0.35, seed=seed)
    while not nx.is_connected(G):
        G = nx.random_geometric_graph(25, 0.35, seed=int(rng.integers(1000)))
    for u, v in G.edges:
        G[u][v]["weight"] = float(rng.uniform(0.5, 2.0))
    nodes = list(G.nodes)
    f = GraphCoverage(G, radius=1, weights=rng.random(25))
    budget = 6.0
    res = path_greedy(f, G, nodes[0], budget, closed=closed)
    walk = res.walk.tolist()
    assert walk[0] == 0 and (walk[-1] == 0 if closed else True)
    assert all(G.has_edge(nodes[u], nodes[v]) for u, v in zip(walk[:-1], walk[1:]))
    length = _walk_length(G, nodes, walk)
    assert length <= budget and res.walk_length == pytest.approx(length)
    assert set(res.selected.tolist()) <= set(walk)
    assert res.value == pytest.approx(f.evaluate(np.unique(walk)))
    assert res.value >= f.evaluate([0])
    # a bigger budget never hurts on this instance family
    assert path_greedy(f, G, nodes[0], 2 * budget, closed=closed).value >= res.value - 1e-9


def test_path_on_grid_and_multi_robot():
    f = GraphCoverage((6, 6), radius=1)
    res = path_greedy(f, (6, 6), (0, 0), 10)
    assert res.walk_length <= 10 and res.walk[0] == res.walk[-1] == 0
    assert res.value > f.evaluate([0])
    multi = multi_path_greedy(f, (6, 6), [(0, 0), (5, 5)], [6, 8])
    assert len(multi.walks) == 2 and multi.walk_lengths[0] <= 6 and multi.walk_lengths[1] <= 8
    assert multi.walks[1][0] == 35
    assert multi.value == pytest.approx(f.evaluate(np.unique(np.concatenate(multi.walks))))
    single = path_greedy(f, (6, 6), (0, 0), 6)
    assert multi.value >= single.value
    # zero budget: only the start
    zero = path_greedy(f, (6, 6), (2, 2), 0)
    assert zero.walk.tolist() == [14] and zero.value == f.evaluate([14])


def test_result_round_trip_and_callbacks():
    f = _instances(0)["facility_dense"]
    res = lazy_greedy(f, 4)
    back = SolveResult.from_dict(res.to_dict())
    assert isinstance(back, SubmodularResult) and back.selected.tolist() == res.selected.tolist()
    seen = []

    def stop_after_two(event):
        seen.append(event.objective)
        if len(seen) == 2:
            raise StopIteration

    for fn in (greedy, lazy_greedy):
        seen.clear()
        r = fn(f, 5, callback=stop_after_two)
        assert r.status is Status.STOPPED and len(r.selected) == 2
        assert r.selected.tolist() == res.selected[:2].tolist()
    r = lazy_greedy(f, 5, time_limit=1e-12)
    assert r.status is Status.TIME_LIMIT and len(r.selected) <= 1
    seen.clear()
    r = stochastic_greedy(f, 5, seed=0, callback=stop_after_two)
    assert r.status is Status.STOPPED and r.selected.tolist() == stochastic_greedy(f, 5, seed=0).selected[:2].tolist()
    assert stochastic_greedy(f, 5, seed=0, time_limit=1e-12).status is Status.TIME_LIMIT
    assert solve(f, 4).selected.tolist() == res.selected.tolist()
    assert solve(f, 4, method="stochastic", seed=0).params["seed"] == 0


# ----------------------------------------------------------------------------- validation
def test_bad_input():
    f = _instances(0)["coverage"]
    with pytest.raises(InvalidInputError, match=r"greedy\(\): k must be <= 12"):
        greedy(f, 13)
    with pytest.raises(InvalidInputError, match="k must be >= 0"):
        lazy_greedy(f, -1)
    with pytest.raises(InvalidInputError, match="non-negative weights"):
        WeightedCoverage([[0]], weights=[-1.0])
    with pytest.raises(InvalidInputError, match="NaN"):
        FacilityLocation(np.array([[1.0, np.nan], [0.0, 1.0]]))
    with pytest.raises(InvalidInputError, match="similarity must be >= 0"):
        FacilityLocation(np.array([[1.0, -0.1], [0.0, 1.0]]))
    with pytest.raises(InvalidInputError, match="costs must be > 0"):
        knapsack_greedy(f, np.r_[0.0, np.ones(f.n - 1)], 1.0)
    with pytest.raises(InvalidInputError, match="start node"):
        path_greedy(GraphCoverage((3, 3)), (3, 3), (5, 5), 4)
    with pytest.raises(InvalidInputError, match="ground set"):
        path_greedy(GraphCoverage((3, 3)), (4, 4), (0, 0), 4)
    with pytest.raises(InvalidInputError, match="epsilon"):
        stochastic_greedy(f, 2, epsilon=1.5)
    with pytest.raises(InvalidInputError, match="symmetric"):
        LogDet(np.array([[1.0, 0.2], [0.0, 1.0]]))
    with pytest.raises(InvalidInputError, match="concave"):
        FeatureBased(np.ones((2, 2)), concave="cube")
    with pytest.raises(InvalidInputError, match="objective"):
        greedy(lambda S: 0.0, 1)
    with pytest.raises(InvalidInputError, match="capacities"):
        matroid_greedy(f, np.zeros(f.n, dtype=int) + 2, [1, 1])
    with pytest.raises(InvalidInputError, match="outside the ground set"):
        f.evaluate([99])
    with pytest.raises(InvalidInputError, match="one ground set"):
        Mixture([Modular([1.0]), Modular([1.0, 2.0])])
    with pytest.raises(InvalidInputError, match="must be 0"):
        SetFunction(lambda S: 1.0, 3)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(allow_nan=True, allow_infinity=True, width=64), min_size=4, max_size=4))
def test_facility_location_validation_property(values):
    arr = np.array(values).reshape(2, 2)
    ok = np.all(np.isfinite(arr)) and np.all(arr >= 0)
    if ok:
        f = FacilityLocation(arr)
        assert f.evaluate([0, 1]) == pytest.approx(arr.max(axis=0).sum())
    else:
        with pytest.raises(InvalidInputError, match=r"FacilityLocation\(\)"):
            FacilityLocation(arr)


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=-5, max_value=15), st.floats(min_value=-2, max_value=20, allow_nan=False))
def test_cardinality_and_budget_validation_property(k, budget):
    f = Modular(np.arange(1.0, 11.0))
    if 0 <= k <= 10:
        res = lazy_greedy(f, k)
        assert sorted(res.selected.tolist()) == list(range(10 - k, 10))
    else:
        with pytest.raises(InvalidInputError, match=r"lazy_greedy\(\): k must be"):
            lazy_greedy(f, k)
    if budget < 0:
        with pytest.raises(InvalidInputError, match=r"knapsack_greedy\(\): budget must be >= 0"):
            knapsack_greedy(f, np.ones(10), budget)
    else:
        res = knapsack_greedy(f, np.ones(10), budget)
        assert len(res.selected) == min(10, int(math.floor(budget)))


def test_engine_bench_suite():
    from engine.suites import RunContext
    from planning.suites import submodular_suite

    opts = submodular_suite.parse_options(["--sizes", "40", "--ks", "4", "--methods", "lazy,stochastic"])
    cases = submodular_suite.cases(**opts)
    assert [c.name for c in cases] == ["facility/n=40/k=4/lazy", "facility/n=40/k=4/stochastic",
                                       "coverage/n=40/k=4/lazy", "coverage/n=40/k=4/stochastic"]
    for case in cases:
        out = case.run(RunContext(seed=1, repeat=0))
        assert out["value"] == pytest.approx(out["value_check"]) and out["status"] in ("feasible", "optimal")
    with pytest.raises(InvalidInputError, match="unknown option"):
        submodular_suite.parse_options(["--size", "3"])


def test_marginal_gains_of_selected_elements_are_zero():
    import numpy as np

    from planning.submodular import FacilityLocation, Modular, WeightedCoverage

    rng = np.random.default_rng(3)
    for f in (Modular(rng.random(6)), WeightedCoverage([[0, 1], [1, 2], [3]], [1.0, 2.0, 3.0, 4.0]),
              FacilityLocation(rng.random((6, 6)))):
        S = [0, 2]
        gains = f.marginal_gains(S)
        assert gains[0] == 0.0 and gains[2] == 0.0
        for c in range(f.n):
            assert gains[c] == pytest.approx(f.evaluate(sorted(set(S) | {c})) - f.evaluate(S))


# ----------------------------------------------------------------------------- non-finite values (issue 16 item 6)
def _nan_beyond_one(S):
    return float("nan") if len(S) >= 2 else float(len(S))


_PLANNERS = {
    "greedy": lambda f: greedy(f, 3),
    "lazy_greedy": lambda f: lazy_greedy(f, 3),
    "stochastic_greedy": lambda f: stochastic_greedy(f, 3, seed=0),
    "knapsack_greedy": lambda f: knapsack_greedy(f, np.ones(f.n), 3.0),
    "matroid_greedy": lambda f: matroid_greedy(f, [0, 0, 1, 1], [2, 2]),
    "path_greedy": lambda f: path_greedy(f, (2, 2), (0, 0), 4),
    "solve": lambda f: solve(f, 3),
}


@pytest.mark.parametrize("planner", sorted(_PLANNERS))
@pytest.mark.parametrize("value", [float("nan"), float("inf"), "0.5", None])
def test_set_function_non_finite_values_never_come_with_a_status(planner, value):
    """Once: a NaN objective with status FEASIBLE (or OPTIMAL). Now InvalidInputError naming the set."""
    f = SetFunction(lambda S: value if len(S) >= 2 else float(len(S)), n=4)
    with pytest.raises(InvalidInputError, match=r"SetFunction: func\(\{\d, \d\}\) returned .*; a set function must "
                                                r"return a finite real number"):
        _PLANNERS[planner](f)


def test_set_function_evaluate_and_empty_value_are_checked():
    f = SetFunction(_nan_beyond_one, n=4)
    assert f.evaluate([2]) == 1.0
    with pytest.raises(InvalidInputError, match=r"func\(\{0, 1\}\) returned nan"):
        f.evaluate([0, 1])
    with pytest.raises(InvalidInputError, match=r"func\(frozenset\(\)\) must be 0, got nan"):
        SetFunction(lambda S: float("nan"), n=3)
    with pytest.raises(InvalidInputError, match=r"func\(frozenset\(\)\) must be 0, got False"):
        SetFunction(lambda S: bool(S), n=3)
    with pytest.raises(InvalidInputError, match=r"returned nan"):
        greedy(Modular(np.ones(4)) + SetFunction(_nan_beyond_one, n=4), 3)


class _NaNModular(Modular):
    """A subclass whose gains are NaN for one element (the planners' own guard, not SetFunction's)."""

    def __init__(self):
        super().__init__([1.0, 2.0, 3.0, 4.0])
        self.weights = np.array([1.0, np.nan, 3.0, 4.0])


@pytest.mark.parametrize("planner", ["greedy", "lazy_greedy", "stochastic_greedy", "knapsack_greedy",
                                     "matroid_greedy"])
def test_planners_refuse_non_finite_gains_of_any_objective(planner):
    with pytest.raises(InvalidInputError, match=planner + r"\(\): the objective _NaNModular gave element 1 the "
                                                          r"marginal gain nan"):
        _PLANNERS[planner](_NaNModular())


def test_logdet_refuses_indefinite_kernels():
    """Once: greedy reported a finite value (status OPTIMAL) whose evaluation was -inf."""
    K = np.array([[1.0, 2.0], [2.0, 1.0]])   # eigenvalues 3 and -1
    with pytest.raises(InvalidInputError, match=r"LogDet\(\): kernel must be positive semi-definite, got the "
                                                r"eigenvalue -1 \(tolerance"):
        LogDet(K)
    rng = np.random.default_rng(0)
    A = rng.normal(size=(30, 30))
    with pytest.raises(InvalidInputError, match="positive semi-definite"):
        LogDet(A + A.T + 5 * np.eye(30))   # positive diagonal, still indefinite


def test_logdet_accepts_semidefinite_and_rounded_kernels():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(40, 3))
    rank3 = X @ X.T           # PSD, rank 3: 37 eigenvalues are rounding noise around 0 (some negative)
    LogDet(rank3, noise=0.1)
    d2 = ((X[:, None, :] - X[None, :, :]) ** 2).sum(-1)
    LogDet(np.exp(-d2), noise=0.1)                   # an RBF kernel as computed
    LogDet(np.zeros((3, 3)))
    f = LogDet(np.array([[1.0, 1.0], [1.0, 1.0]]))   # singular PSD
    res = greedy(f, 2)
    assert np.isfinite(res.objective) and res.objective == pytest.approx(f.evaluate(res.selected))


def test_weighted_coverage_universe_comes_from_the_weights():
    """Once: the universe was the largest index + 1, so weights for items no set holds were refused."""
    f = WeightedCoverage([[0], [1]], weights=[1.0, 2.0, 3.0])
    assert f.n_items == 3 and f.evaluate([0, 1]) == 3.0
    assert f.marginal_gains().tolist() == [1.0, 2.0]
    assert WeightedCoverage([[], []], weights=[5.0]).n_items == 1
    with pytest.raises(InvalidInputError, match=r"set 1 holds item 5, outside the universe of 3 items"):
        WeightedCoverage([[0], [5]], weights=[1.0, 2.0, 3.0])
    with pytest.raises(InvalidInputError, match=r"weights must have shape \(4,\), got \(3,\)"):
        WeightedCoverage([[0], [1]], weights=[1.0, 2.0, 3.0], n_items=4)
    # without weights the universe is still the largest index + 1 (or n_items)
    assert WeightedCoverage([[0], [3]]).n_items == 4
    assert WeightedCoverage([[0], [3]], n_items=6).n_items == 6
    with pytest.raises(InvalidInputError, match=r"set 1 holds item 3, outside the universe of 2 items"):
        WeightedCoverage([[0], [3]], n_items=2)
