"""NetworkMIP: exactness against brute force, bound soundness, re-solves, exports, bad input."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.errors import InvalidInputError
from engine.status import Status
from solvers.feasible_set import FeasibleSet
from solvers.highs import LinearModel
from solvers.network_mip import NetworkMIP, NetworkMIPResult, network_layers
from solvers.network_heuristics import action_gradient, linearised
from tests.solvers.network_fixtures import forward, random_net


def brute_best(layers, fs, s, sense="max"):
    vals = [forward(layers, x, s) for x in fs.enumerate()]
    return max(vals) if sense == "max" else min(vals)


def aux_set(n):
    # actions from at most one of two groups (y integer chooses the group), at most 2 in all
    half = n // 2
    A = np.zeros((3, n + 1))
    A[0, :half] = 1.0
    A[0, n] = -half                  # sum(first half) <= half * y
    A[1, half:n] = 1.0
    A[1, n] = n - half               # sum(second half) <= (n - half) * (1 - y)
    A[2, :n] = 1.0
    return FeasibleSet(n, A, [-np.inf] * 3, [0.0, n - half, 2.0], n_aux=1, aux_upper=1, aux_integer=[True])


SETS = {
    "budget": lambda rng: FeasibleSet.budget(7, 3),
    "knapsack": lambda rng: FeasibleSet.knapsack(rng.uniform(1.0, 3.0, size=7), 5.0),
    "aux": lambda rng: aux_set(6),
}


@pytest.mark.parametrize("hidden,seed", [((), 0), ((6,), 1), ((8, 6), 2), ((5, 4, 4), 3)])
@pytest.mark.parametrize("kind", sorted(SETS))
def test_mip_matches_brute_force(hidden, seed, kind):
    rng = np.random.default_rng(seed)
    fs = SETS[kind](rng)
    n, d = fs.n_actions, 3
    layers = random_net((n + d, *hidden, 1), rng)
    mip = NetworkMIP(layers, fs, state_dim=d, method="mip")
    for sense in ("max", "min"):
        s = rng.normal(size=d)
        res = mip.solve(s, sense=sense)
        assert isinstance(res, NetworkMIPResult)
        assert res.status == Status.OPTIMAL and res.proven_optimal
        assert fs.contains(res.x) and res.x.dtype.kind == "i" and res.x.shape == (n,)
        assert res.objective == pytest.approx(brute_best(layers, fs, s, sense), abs=1e-6)
        assert res.objective == pytest.approx(forward(layers, res.x, s), abs=1e-9)
        assert abs(res.mip_objective - res.objective) <= 1e-6
        assert res.gap <= 1e-6 + 1e-9
        assert (res.bound - res.objective) * (1 if sense == "max" else -1) >= -1e-9


def test_enumerate_and_auto_agree_with_mip():
    rng = np.random.default_rng(5)
    fs = FeasibleSet.budget(8, 3)
    layers = random_net((10, 8, 8, 1), rng)
    auto = NetworkMIP(layers, fs, method="auto")
    assert auto.method == "enumerate" and auto.state_dim == 2
    mip = NetworkMIP(layers, fs, method="mip", bound_tightening="lp")
    for _ in range(3):
        s = rng.normal(size=2)
        a, m = auto.maximize(s), mip.maximize(s)
        assert a.status == Status.OPTIMAL and a.method == "enumerate"
        assert a.objective == pytest.approx(m.objective, abs=1e-6)
        assert a.objective == pytest.approx(brute_best(layers, fs, s), abs=1e-12)
    # beyond the enumeration limit: branch-and-bound for cardinality sets, the MIP otherwise
    assert NetworkMIP(layers, FeasibleSet.budget(8, 3), method="auto", enumerate_limit=10).method == "bab"
    knap = FeasibleSet.knapsack(np.linspace(1.0, 2.0, 8), 4.0)
    assert NetworkMIP(layers, knap, method="auto", enumerate_limit=10).method == "mip"


def test_torch_network_and_forward():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(9, 7), torch.nn.ReLU(), torch.nn.Linear(7, 5), torch.nn.ReLU(),
                              torch.nn.Linear(5, 1))
    fs = FeasibleSet.exact_budget(6, 2)
    mip = NetworkMIP(net, fs, state_dim=3, method="mip")
    s = np.array([0.3, -1.0, 2.0])
    res = mip.maximize(s)
    with torch.no_grad():
        X = torch.tensor(np.c_[fs.enumerate(), np.tile(s, (15, 1))], dtype=torch.float64)
        vals = net.double()(X)[:, 0].numpy()
    assert res.objective == pytest.approx(vals.max(), abs=1e-6)
    assert np.allclose(mip.forward(fs.enumerate(), s), vals, atol=1e-12)
    layers = network_layers(net)
    assert [W.shape for W, _ in layers] == [(7, 9), (5, 7), (1, 5)]


def test_warm_start_and_heuristic_off_give_same_answer():
    rng = np.random.default_rng(7)
    fs = FeasibleSet.budget(8, 2)
    layers = random_net((11, 6, 1), rng)
    mip = NetworkMIP(layers, fs, method="mip")
    s = rng.normal(size=3)
    best = mip.maximize(s)
    for kw in ({"heuristic": False}, {"warm_start": fs.sample(1), "heuristic": False}, {"warm_start": best.x}):
        res = mip.maximize(s, **kw)
        assert res.objective == pytest.approx(best.objective, abs=1e-6)
    assert mip.maximize(s, seed=3).params["seed"] == 3


def test_resolve_with_new_state_equals_fresh_model():
    rng = np.random.default_rng(11)
    fs = FeasibleSet.knapsack(rng.uniform(1, 2, size=8), 4.0)
    layers = random_net((12, 8, 6, 1), rng)
    shared = NetworkMIP(layers, fs, method="mip")
    for _ in range(4):
        s = rng.normal(size=4) * 2
        r1 = shared.maximize(s)
        r2 = NetworkMIP(layers, fs, method="mip").maximize(s)
        assert r1.objective == pytest.approx(r2.objective, abs=1e-6)
        assert r1.objective == pytest.approx(brute_best(layers, fs, s), abs=1e-6)
        r3 = shared.minimize(s)
        assert r3.objective == pytest.approx(brute_best(layers, fs, s, "min"), abs=1e-6)


# ---------------------------------------------------------------------------- constant big-M
def constant_m_model(layers, fs, state, M=1e5):
    """The formulation users write today: one big-M for every neuron (for comparison only)."""
    n = fs.n_actions
    cols, idx = n, []
    for W, _ in layers[:-1]:
        w = W.shape[0]
        idx.append((np.arange(cols, cols + w), np.arange(cols + w, cols + 2 * w)))
        cols += 2 * w
    nrow = fs.n_rows + sum(3 * W.shape[0] for W, _ in layers[:-1])
    A = sp.lil_matrix((nrow, cols))
    A[: fs.n_rows, :n] = fs.A.toarray()[:, :n]
    rl, ru = list(fs.row_lower), list(fs.row_upper)
    r, prev = fs.n_rows, np.arange(n)
    for l, (W, b) in enumerate(layers[:-1]):
        h, d = idx[l]
        bb = b + (W[:, n:] @ state if l == 0 else 0.0)
        Wp = W[:, :n] if l == 0 else W
        for j in range(W.shape[0]):
            A[r, h[j]] = 1.0
            A[r, prev] = -Wp[j]
            A[r + 1, h[j]] = 1.0
            A[r + 1, prev] = -Wp[j]
            A[r + 1, d[j]] = M
            A[r + 2, h[j]] = 1.0
            A[r + 2, d[j]] = -M
            rl += [bb[j], -np.inf, -np.inf]
            ru += [np.inf, bb[j] + M, 0.0]
            r += 3
        prev = h
    c = np.zeros(cols)
    c[prev] = layers[-1][0][0]
    integ = np.zeros(cols, dtype=bool)
    integ[:n] = True
    cu = np.full(cols, np.inf)
    cu[:n] = 1.0
    for _, d in idx:
        integ[d] = True
        cu[d] = 1.0
    model = LinearModel(c, A.tocsr(), rl, ru, col_lower=0.0, col_upper=cu, integrality=integ, sense="max",
                        offset=float(layers[-1][1][0]))
    return model, [d for _, d in idx]


def best_with_tolerant_binaries(model, dcols, action, tol=1e-5):
    """Max objective over points whose action is ``action`` and whose neuron binaries are all within
    ``tol`` of 0 or 1 -- the points an integrality tolerance of ``tol`` accepts."""
    n = len(action)
    model.set_col_bounds(np.arange(n), action, action)
    model.set_integrality(np.arange(model.n_cols), False)
    best = -np.inf
    for pattern in itertools.product([tol, 1 - tol], repeat=len(dcols)):
        model.set_col_bounds(dcols, pattern, pattern)
        res = model.solve()
        if res.status == Status.OPTIMAL:
            best = max(best, res.objective)
    return best


def test_constant_big_m_is_wrong_and_ours_is_not():
    # a1 alone is worth 0, a0 alone 100; a 1e-5 slack on a "binary" with M = 1e5 lets a neuron move
    # by 1.0, which switches on a neuron of the next layer worth 1000 per unit.
    layers = [(np.array([[0.0, 1.0], [1.0, 0.0]]), np.zeros(2)),
              (np.array([[10.0, 0.0], [0.0, 1.0]]), np.array([-10.5, 0.0])),
              (np.array([[1000.0, 100.0]]), np.zeros(1))]
    fs = FeasibleSet.exact_budget(2, 1)
    state = np.zeros(0)
    assert brute_best(layers, fs, state) == 100.0
    wrong = np.array([0.0, 1.0])
    # constant M: a tolerance-feasible point with the wrong action beats the true optimum by far
    model, dcols = constant_m_model(layers, fs, state)
    assert best_with_tolerant_binaries(model, np.concatenate(dcols), wrong) > 1000.0
    # ours: the same tolerance cannot lift the wrong action anywhere near the optimum
    mip = NetworkMIP(layers, fs, state_dim=0, method="mip")
    ours = mip.to_linear_model(state)
    assert best_with_tolerant_binaries(ours, np.concatenate(mip._col_d), wrong) < 1.0
    res = NetworkMIP(layers, fs, state_dim=0, method="mip").maximize(state,
                                                                      options={"mip_feasibility_tolerance": 1e-5})
    assert res.x.tolist() == [1, 0] and res.objective == 100.0 and res.proven_optimal


# ---------------------------------------------------------------------------- bound soundness
@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10**6), st.sampled_from([(5,), (6, 4), (4, 4, 3)]), st.integers(0, 4),
       st.sampled_from(["budget", "knapsack", "exact"]), st.floats(0.1, 3.0))
def test_bounds_are_sound(seed, hidden, budget, kind, scale):
    rng = np.random.default_rng(seed)
    n, d = 6, 2
    fs = {"budget": FeasibleSet.budget(n, budget), "exact": FeasibleSet.exact_budget(n, budget),
          "knapsack": FeasibleSet.knapsack(rng.uniform(0.5, 2.0, size=n), budget + 0.5)}[kind]
    layers = random_net((n + d, *hidden, 1), rng, bias=scale)
    s = rng.normal(size=d) * scale
    mip = NetworkMIP(layers, fs, state_dim=d, method="mip")
    bounds = mip.bounds(s)
    X = fs.enumerate()
    Z = np.c_[X, np.tile(s, (len(X), 1))]
    for (W, b), (L, U) in zip(layers[:-1], bounds):
        Z = Z @ W.T + b
        assert np.all(Z >= L[None, :]) and np.all(Z <= U[None, :])
        assert np.all(L <= U)
        Z = np.maximum(Z, 0.0)


def test_lp_bounds_are_sound_and_tighter():
    rng = np.random.default_rng(2)
    fs = FeasibleSet.knapsack(rng.uniform(0.5, 2.0, size=7), 3.0)
    layers = random_net((9, 6, 6, 5, 1), rng)
    s = rng.normal(size=2)
    loose = NetworkMIP(layers, fs, method="mip").bounds(s)
    tight = NetworkMIP(layers, fs, method="mip", bound_tightening="lp").bounds(s)
    X = fs.enumerate()
    Z = np.c_[X, np.tile(s, (len(X), 1))]
    for (W, b), (L, U), (L0, U0) in zip(layers[:-1], tight, loose):
        Z = Z @ W.T + b
        assert np.all(Z >= L - 1e-12) and np.all(Z <= U + 1e-12)
        assert np.all(L >= L0 - 1e-12) and np.all(U <= U0 + 1e-12)
        Z = np.maximum(Z, 0.0)


# ---------------------------------------------------------------------------- exports, backends
def test_exports_and_pyomo_backend(tmp_path):
    rng = np.random.default_rng(4)
    fs = FeasibleSet.budget(5, 2)
    layers = random_net((7, 4, 1), rng)
    mip = NetworkMIP(layers, fs, method="mip")
    s = rng.normal(size=2)
    path = tmp_path / "net.mps"
    mip.write_mps(path, s)
    assert path.stat().st_size > 0 and "ROWS" in path.read_text()
    pm = mip.to_pyomo(s)
    assert len(pm.x) == mip.model.n_cols
    ref = mip.maximize(s)
    pyo = pytest.importorskip("pyomo.environ")
    if not pyo.SolverFactory("appsi_highs").available(exception_flag=False):
        pytest.skip("appsi_highs not available")
    res = mip.maximize(s, backend="pyomo")
    assert res.backend.startswith("pyomo") and res.objective == pytest.approx(ref.objective, abs=1e-6)
    # the engine's own heuristic and callback do not run through Pyomo: the result says so
    res = mip.maximize(s, backend="pyomo", callback=lambda event: None)
    assert res.params["ignored"] == ["heuristic", "callback"] and "ignored by the appsi_highs backend" in res.message
    assert res.objective == pytest.approx(ref.objective, abs=1e-6)


def test_result_round_trip():
    rng = np.random.default_rng(9)
    fs = FeasibleSet.budget(4, 1)
    res = NetworkMIP(random_net((6, 3, 1), rng), fs, method="mip").maximize([0.1, 0.2])
    back = NetworkMIPResult.from_dict(res.to_dict())
    assert isinstance(back, NetworkMIPResult) and np.array_equal(back.x, res.x) and back.objective == res.objective


# ---------------------------------------------------------------------------- bad input
def test_bad_input():
    rng = np.random.default_rng(0)
    fs = FeasibleSet.budget(4, 2)
    layers = random_net((6, 3, 1), rng)
    with pytest.raises(InvalidInputError, match="NetworkMIP"):
        NetworkMIP(layers, fs, state_dim=3)                         # 4 + 3 != 6
    with pytest.raises(InvalidInputError, match="one output"):
        NetworkMIP(random_net((6, 3, 2), rng), fs)
    with pytest.raises(InvalidInputError, match="layer 1 expects"):
        NetworkMIP([(np.ones((3, 6)), np.zeros(3)), (np.ones((1, 4)), np.zeros(1))], fs)
    with pytest.raises(InvalidInputError):
        NetworkMIP([(np.full((3, 6), np.nan), np.zeros(3)), (np.ones((1, 3)), np.zeros(1))], fs)
    with pytest.raises(InvalidInputError):
        NetworkMIP(layers, fs, method="magic")
    with pytest.raises(InvalidInputError):
        NetworkMIP(layers, "budget")
    with pytest.raises(InvalidInputError):
        NetworkMIP("not a network", fs)
    torch = pytest.importorskip("torch")
    with pytest.raises(InvalidInputError, match="Tanh"):
        NetworkMIP(torch.nn.Sequential(torch.nn.Linear(6, 3), torch.nn.Tanh(), torch.nn.Linear(3, 1)), fs)
    mip = NetworkMIP(layers, fs, method="mip")
    with pytest.raises(InvalidInputError, match="state"):
        mip.maximize([0.0, 1.0, 2.0])
    with pytest.raises(InvalidInputError, match="state"):
        mip.maximize([np.nan, 1.0])
    with pytest.raises(InvalidInputError, match="warm_start"):
        mip.maximize([0.0, 1.0], warm_start=[1, 1, 1, 0])
    with pytest.raises(InvalidInputError):
        mip.maximize([0.0, 1.0], time_limit=-1)


def test_infeasible_set_is_a_status():
    rng = np.random.default_rng(0)
    empty = FeasibleSet(4, [[1, 1, 1, 1]], [5], [np.inf])
    layers = random_net((6, 3, 1), rng)
    for method in ("auto", "mip", "enumerate"):
        res = NetworkMIP(layers, empty, method=method).maximize([0.0, 1.0])
        assert res.status == Status.INFEASIBLE and res.x is None and not res.success


@pytest.mark.parametrize("hidden", [[], [6], [8, 5]])
def test_action_gradient_matches_finite_differences(hidden):
    """The linearisation heuristic's gradient is the network's own (checked by central differences
    along every action coordinate, away from ReLU kinks)."""
    rng = np.random.default_rng(3)
    n, d = 6, 3
    layers = random_net([n + d] + hidden + [1], rng)
    mip = NetworkMIP(layers, FeasibleSet.budget(n, 2), state_dim=d, method="mip")
    s = rng.normal(size=d)
    x = rng.uniform(0.2, 0.8, size=n)
    c0 = mip._Ws @ s + mip._b0
    g = action_gradient(mip._net, x, c0)
    h = 1e-6
    fd = [(forward(layers, x + h * e, s) - forward(layers, x - h * e, s)) / (2 * h) for e in np.eye(n)]
    assert np.allclose(g, fd, atol=1e-6)


@pytest.mark.parametrize("name", ["aux", "knapsack"])
def test_mip_answer_is_never_worse_than_its_heuristic(name):
    """The iterated-linearisation incumbent is feasible, and the MIP's answer (even when HiGHS stops
    at the root) is at least as good; a later full solve of the same model (root options do not
    linger) is the brute-force optimum."""
    rng = np.random.default_rng(7)
    fs = aux_set(8) if name == "aux" else FeasibleSet.knapsack(rng.uniform(1.0, 3.0, size=8), 5.0)
    layers = random_net([8 + 3, 12, 8, 1], rng)
    mip = NetworkMIP(layers, fs, state_dim=3, method="mip")
    for s in rng.normal(size=(3, 3)):
        c0 = mip._Ws @ s + mip._b0
        h = linearised(mip._net, mip._set_lp(), c0, 1.0)
        assert h is not None and fs.contains(h)
        root = mip.maximize(s, options={"mip_max_nodes": 0})
        full = mip.maximize(s)
        assert root.objective >= forward(layers, h, s) - 1e-9
        assert full.objective >= root.objective - 1e-9
        assert abs(full.objective - brute_best(layers, fs, s)) <= 1e-6
        assert full.bound >= full.objective - 1e-6
        assert root.bound >= full.objective - 1e-6     # stopped before HiGHS had a bound: the neurons' bounds
        assert not root.proven_optimal or abs(root.objective - full.objective) <= 1e-6


@pytest.mark.parametrize("kind", sorted(SETS))
def test_affine_network_over_the_set_is_one_mip_of_the_set(kind):
    # first-layer biases far from zero make every neuron stable over [0, 1]^n: the network is affine
    rng = np.random.default_rng(7)
    fs = SETS[kind](rng)
    n, d = fs.n_actions, 2
    layers = random_net((n + d, 6, 5, 1), rng)
    W1, b1 = layers[0]
    layers[0] = (W1, b1 + np.where(rng.random(6) < 0.5, 20.0, -20.0))
    W2, b2 = layers[1]
    layers[1] = (W2, b2 + 30.0)
    mip = NetworkMIP(layers, fs, state_dim=d, method="mip")
    for sense in ("max", "min"):
        s = rng.normal(size=d)
        res = mip.solve(s, sense=sense)
        assert res.params["affine"] and res.n_binaries == 0
        assert res.status == Status.OPTIMAL and res.proven_optimal and fs.contains(res.x)
        assert res.objective == pytest.approx(brute_best(layers, fs, s, sense), abs=1e-6)
        assert abs(res.mip_objective - res.objective) <= 1e-6
        assert (res.bound - res.objective) * (1 if sense == "max" else -1) >= 0
    # a network with unstable neurons takes the full formulation
    res = NetworkMIP(random_net((n + d, 6, 1), rng), fs, state_dim=d, method="mip").maximize(np.zeros(d))
    assert res.n_binaries > 0 and "affine" not in res.params


def test_values_that_overflow_float64_are_refused_not_reported():
    from engine.errors import InvalidInputError

    net = [(np.full((4, 5), 1e200), np.zeros(4)), (np.full((1, 4), 1e200), np.zeros(1))]
    fs = FeasibleSet.budget(4, 2)
    with pytest.raises(InvalidInputError, match="coefficient limit"):
        NetworkMIP(net, fs, state_dim=1, method="mip")
    for method in ("enumerate", "bab"):
        with pytest.raises(InvalidInputError, match="overflow"):
            NetworkMIP(net, fs, state_dim=1, method=method).maximize([1.0])
    small = [(np.ones((4, 5)), np.zeros(4)), (np.ones((1, 4)), np.zeros(1))]
    with pytest.raises(InvalidInputError, match="overflow"):
        NetworkMIP(small, fs, state_dim=1, method="enumerate").maximize([1e300])
