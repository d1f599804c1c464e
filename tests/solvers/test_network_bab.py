"""NetworkMIP(method="bab"): exactness against brute force and the MIP, node-bound soundness, limits."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.errors import InvalidInputError, UnknownOptionWarning, UnsupportedProblemError
from engine.events import Incumbent
from engine.status import Status
from solvers.feasible_set import FeasibleSet
from solvers.network_bab import CardinalityBaB
from solvers.network_mip import NetworkMIP
from tests.solvers.network_fixtures import forward, random_net


SETS = {
    "budget": lambda n: FeasibleSet.budget(n, n // 3),
    "exact_budget": lambda n: FeasibleSet.exact_budget(n, n // 3),
    "cardinality": lambda n: FeasibleSet.cardinality(n, 2, n // 2),
}


@pytest.mark.parametrize("hidden,seed", [((8,), 0), ((16, 8), 1), ((32, 32), 2), ((8, 12, 8), 3), ((32,), 4),
                                         ((), 5)])
@pytest.mark.parametrize("kind", sorted(SETS))
def test_bab_matches_brute_force(hidden, seed, kind):
    rng = np.random.default_rng(seed)
    n, d = (16 if seed == 2 else 12), 3
    fs = SETS[kind](n)
    layers = random_net((n + d, *hidden, 1), rng)
    bab = NetworkMIP(layers, fs, state_dim=d, method="bab")
    enum = NetworkMIP(layers, fs, state_dim=d, method="enumerate")
    assert bab.method == "bab"
    for sense in ("max", "min"):
        for _ in range(2):
            s = rng.normal(size=d)
            res = bab.solve(s, sense=sense)
            ref = enum.solve(s, sense=sense)
            assert res.status == Status.OPTIMAL and res.proven_optimal and res.method == "bab"
            assert fs.contains(res.x) and res.x.dtype.kind == "i" and res.x.shape == (n,)
            assert res.objective == pytest.approx(ref.objective, abs=1e-9)
            assert res.objective == forward(layers, res.x, s) or abs(res.objective - forward(layers, res.x, s)) < 1e-12
            sign = 1.0 if sense == "max" else -1.0
            assert sign * (res.bound - res.objective) >= -1e-12 and res.gap <= 1e-6
            assert res.node_count == res.nit >= 1


def test_bab_without_heuristic_and_small_leaves_is_still_exact():
    rng = np.random.default_rng(21)
    n, d = 12, 2
    fs = FeasibleSet.budget(n, 4)
    layers = random_net((n + d, 16, 16, 1), rng)
    bab = NetworkMIP(layers, fs, method="bab")
    enum = NetworkMIP(layers, fs, method="enumerate")
    for _ in range(3):
        s = rng.normal(size=d)
        res = bab.maximize(s, heuristic=False, options={"leaf_limit": 1, "batch_size": 3})
        assert res.proven_optimal and res.params["leaf_limit"] == 1 and res.params["batch_size"] == 3
        assert res.objective == pytest.approx(enum.maximize(s).objective, abs=1e-12)


def test_bab_equals_mip_on_medium_instances():
    rng = np.random.default_rng(8)
    n, d = 26, 4
    fs = FeasibleSet.budget(n, 3)
    layers = random_net((n + d, 8, 6, 1), rng)
    bab = NetworkMIP(layers, fs, method="auto", enumerate_limit=100)
    mip = NetworkMIP(layers, fs, method="mip")
    assert bab.method == "bab"
    for sense in ("max", "min"):
        s = rng.normal(size=d)
        r_mip = mip.solve(s, sense=sense)
        r_bab = bab.solve(s, sense=sense)
        assert r_mip.proven_optimal and r_bab.proven_optimal
        assert r_bab.objective == pytest.approx(r_mip.objective, abs=1e-6)


def test_torch_network_call_shape_uses_bab():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    J = 24
    net = torch.nn.Sequential(torch.nn.Linear(2 * J, 8), torch.nn.ReLU(), torch.nn.Linear(8, 8), torch.nn.ReLU(),
                              torch.nn.Linear(8, 1))
    fs = FeasibleSet.budget(J, 3)
    mip = NetworkMIP(net, fs, state_dim=J, enumerate_limit=500)
    assert mip.method == "bab"
    s = np.random.default_rng(0).integers(0, 2, size=J).astype(float)
    res = mip.maximize(s)
    X = fs.enumerate()
    assert res.proven_optimal and res.objective == pytest.approx(mip.forward(X, s).max(), abs=1e-9)


# ---------------------------------------------------------------------------- soundness of node bounds
def _node_case(seed, hidden, lo, hi):
    rng = np.random.default_rng(seed)
    n, d = 9, 2
    layers = random_net((n + d, *hidden, 1), rng, bias=1.0)
    s = rng.normal(size=d)
    W0, b0 = layers[0]
    c0 = W0[:, n:] @ s + b0
    return rng, n, layers, W0[:, :n], c0, CardinalityBaB(W0[:, :n], layers[1:], lo, hi)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10**6), st.sampled_from([(6,), (8, 5), (5, 6, 4)]),
       st.sampled_from([(0, 3), (2, 2), (1, 5), (0, 9)]), st.sampled_from([1.0, -1.0]))
def test_node_bounds_are_sound(seed, hidden, card, sign):
    lo, hi = card
    rng, n, layers, Wa, c0, bab = _node_case(seed, hidden, lo, hi)
    X_all = np.array(list(itertools.product([0, 1], repeat=n)), dtype=float)
    X_all = X_all[(X_all.sum(axis=1) >= lo) & (X_all.sum(axis=1) <= hi)]
    fixed = rng.integers(-1, 2, size=(8, n))
    fixed[rng.random(size=(8, n)) < 0.6] = -1                      # mostly free
    free = fixed < 0
    n1 = (fixed == 1).sum(axis=1)
    klo, khi = np.maximum(lo - n1, 0), np.minimum(hi - n1, free.sum(axis=1))
    ok = klo <= khi
    if not ok.any():
        return
    fixed, free, klo, khi = fixed[ok], free[ok], klo[ok], khi[ok]
    base = c0 + (fixed == 1).astype(float) @ Wa.T
    out = bab.bound_nodes(free, base, klo, khi, sign)
    for i in range(len(fixed)):
        match = np.all((fixed[i] < 0) | (X_all == fixed[i]), axis=1)
        X = X_all[match]
        assert len(X) > 0
        vals = sign * bab.forward(X @ Wa.T, c0)
        assert out["ub"][i] >= vals.max()
        # the relaxation's maximiser completes the node feasibly
        cand = np.where(free[i], out["x"][i], fixed[i] == 1)
        assert klo[i] <= cand[free[i]].sum() <= khi[i]
        assert free[i, out["branch"][i]] or not free[i].any()
        # every completion keeps every hidden pre-activation within the node's bounds
        Z = X @ Wa.T + c0
        for l, (L, U) in enumerate(zip(out["L"], out["U"])):
            assert np.all(Z >= L[i]) and np.all(Z <= U[i])
            if l + 1 < len(out["L"]):
                W, b = layers[l + 1]
                Z = np.maximum(Z, 0.0) @ W.T + b


# ---------------------------------------------------------------------------- limits, determinism, options
def bench_like(J=60, seed=0):
    rng = np.random.default_rng(seed)
    layers = [(rng.uniform(-1, 1, size=(32, 2 * J)) / np.sqrt(2 * J), rng.uniform(-1, 1, size=32) / np.sqrt(2 * J)),
              (rng.uniform(-1, 1, size=(32, 32)) / np.sqrt(32), rng.uniform(-1, 1, size=32) / np.sqrt(32)),
              (rng.uniform(-1, 1, size=(1, 32)) / np.sqrt(32), rng.uniform(-1, 1, size=1) / np.sqrt(32))]
    return layers, FeasibleSet.budget(J, J // 5), rng.integers(0, 2, size=J).astype(float)


def test_time_and_node_limits_return_a_feasible_incumbent():
    layers, fs, s = bench_like()
    mip = NetworkMIP(layers, fs, state_dim=60)
    assert mip.method == "bab"
    for kw, status in (({"time_limit": 0.3}, Status.TIME_LIMIT), ({"options": {"node_limit": 50}},
                                                                    Status.ITERATION_LIMIT)):
        res = mip.maximize(s, **kw)
        assert res.status == status and not res.proven_optimal
        assert fs.contains(res.x) and res.objective == pytest.approx(forward(layers, res.x, s), abs=1e-12)
        assert res.bound >= res.objective and res.gap == pytest.approx(res.bound - res.objective)
        assert res.node_count >= 1


def test_bab_is_deterministic():
    layers, fs, s = bench_like(J=30, seed=3)
    mip = NetworkMIP(layers, fs, state_dim=30, method="bab")
    a = mip.maximize(s, options={"node_limit": 400}, seed=1)
    b = NetworkMIP(layers, fs, state_dim=30, method="bab").maximize(s, options={"node_limit": 400}, seed=1)
    assert np.array_equal(a.x, b.x) and a.objective == b.objective and a.bound == b.bound
    assert a.node_count == b.node_count


def test_callback_sees_incumbents_and_can_stop():
    layers, fs, s = bench_like(J=40, seed=4)
    mip = NetworkMIP(layers, fs, state_dim=40, method="bab")
    seen = []

    def cb(event):
        seen.append(event)
        raise StopIteration

    res = mip.maximize(s, callback=cb)
    assert res.status == Status.STOPPED and fs.contains(res.x)
    assert seen and isinstance(seen[0], Incumbent) and seen[0].objective <= res.objective + 1e-12


def test_bab_bad_input():
    rng = np.random.default_rng(0)
    layers = random_net((8, 4, 1), rng)
    with pytest.raises(UnsupportedProblemError, match="bab"):
        NetworkMIP(layers, FeasibleSet.knapsack([1, 2, 3, 1, 2, 1], 3.0), method="bab")
    mip = NetworkMIP(layers, FeasibleSet.budget(6, 2), method="bab")
    with pytest.raises(InvalidInputError, match="batch_size"):
        mip.maximize([0.0, 1.0], options={"batch_size": 0})
    with pytest.raises(InvalidInputError, match="leaf_limit"):
        mip.maximize([0.0, 1.0], options={"leaf_limit": -3})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(UnknownOptionWarning):
            mip.maximize([0.0, 1.0], options={"presolve": "off"})
    empty = NetworkMIP(layers, FeasibleSet(6, np.ones((1, 6)), [7], [np.inf]), method="bab").maximize([0.0, 1.0])
    assert empty.status == Status.INFEASIBLE and empty.x is None
