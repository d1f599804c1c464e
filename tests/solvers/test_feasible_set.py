"""FeasibleSet: membership, enumeration, sampling and models against brute force."""

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


def all_vectors(n):
    return np.array(list(itertools.product([0, 1], repeat=n)), dtype=np.int64)


def brute(fs, oracle):
    X = all_vectors(fs.n_actions)
    return X[[bool(oracle(x)) for x in X]]


def test_budget_enumerate_matches_brute_force():
    fs = FeasibleSet.budget(8, 3)
    got = fs.enumerate()
    want = brute(fs, lambda x: x.sum() <= 3)
    assert np.array_equal(got, want)
    assert fs.count() == len(want) == 1 + 8 + 28 + 56
    assert fs.cardinality_range == (0, 3)


def test_exact_budget_and_cardinality():
    fs = FeasibleSet.exact_budget(7, 3)
    assert np.array_equal(fs.enumerate(), brute(fs, lambda x: x.sum() == 3))
    assert fs.cardinality_range == (3, 3)
    fs = FeasibleSet.cardinality(6, 2, 4)
    assert np.array_equal(fs.enumerate(), brute(fs, lambda x: 2 <= x.sum() <= 4))


def test_knapsack_enumerate_and_contains():
    costs = np.array([3.0, 1.5, 2.0, 4.0, 0.5, 2.5, 1.0])
    fs = FeasibleSet.knapsack(costs, 6.0)
    want = brute(fs, lambda x: costs @ x <= 6.0 + 1e-12)
    assert np.array_equal(fs.enumerate(), want)
    for x in all_vectors(7):
        assert fs.contains(x) == (costs @ x <= 6.0)
    assert np.array_equal(fs.contains_many(all_vectors(7)), all_vectors(7) @ costs <= 6.0)
    assert fs.cardinality_range is None


def test_general_rows_sparse_and_negative_coefficients():
    rng = np.random.default_rng(3)
    for _ in range(5):
        n, m = 7, 3
        A = rng.integers(-3, 4, size=(m, n)).astype(float)
        lo = rng.integers(-4, 1, size=m).astype(float)
        hi = lo + rng.integers(0, 6, size=m)
        fs = FeasibleSet(n, sp.csr_matrix(A), lo, hi)
        want = brute(fs, lambda x: np.all(A @ x >= lo) and np.all(A @ x <= hi))
        assert np.array_equal(fs.enumerate(), want)
        assert fs.is_empty() == (len(want) == 0)


def test_auxiliary_variables_projected_out():
    # a0 + a1 + a2 <= 3 y0, a3 + a4 <= 2 y1, y0 + y1 <= 1 (y integer): pick from one group only
    n = 5
    A = np.array([[1, 1, 1, 0, 0, -3, 0], [0, 0, 0, 1, 1, 0, -2], [0, 0, 0, 0, 0, 1, 1]], dtype=float)
    fs = FeasibleSet(n, A, [-np.inf] * 3, [0, 0, 1], n_aux=2, aux_upper=1, aux_integer=[True, True])
    want = brute(fs, lambda x: x[:3].sum() == 0 or x[3:].sum() == 0)
    assert np.array_equal(fs.enumerate(), want)
    for x in all_vectors(n):
        assert fs.contains(x) == (x[:3].sum() == 0 or x[3:].sum() == 0)
    assert not fs.is_empty()
    # continuous auxiliary: a0 + a1 == 2 z, z in [0, 0.5] -> a0 + a1 <= 1
    fs = FeasibleSet(2, [[1, 1, -2]], [0], [0], n_aux=1, aux_upper=0.5)
    assert fs.enumerate().tolist() == [[0, 0], [0, 1], [1, 0]]


def test_unconstrained_and_limit():
    fs = FeasibleSet.unconstrained(4)
    assert np.array_equal(fs.enumerate(), all_vectors(4))
    with pytest.raises(InvalidInputError, match="limit"):
        FeasibleSet.budget(20, 10).enumerate(limit=1000)
    assert FeasibleSet.budget(20, 10).count(limit=1000) is None
    # a limit equal to the exact size is fine
    assert len(FeasibleSet.budget(6, 2).enumerate(limit=22)) == 22


def test_empty_sets():
    fs = FeasibleSet(4, [[1, 1, 1, 1], [1, 1, 1, 1]], [3, -np.inf], [np.inf, 2])
    assert fs.cardinality_range == (3, 2)
    assert fs.is_empty() and fs.enumerate().shape == (0, 4)
    fs = FeasibleSet(3, [[1, 1, 1]], [4], [np.inf])
    assert fs.is_empty()
    res = fs.to_linear_model([1, 1, 1]).solve()
    assert res.status == Status.INFEASIBLE
    with pytest.raises(InvalidInputError, match="empty"):
        fs.sample(0)
    fs = FeasibleSet(2, [[1, 1, -1]], [0], [0], n_aux=1, aux_lower=3, aux_upper=4)
    assert fs.is_empty() and len(fs.enumerate()) == 0


def test_with_rows_and_intersect():
    fs = FeasibleSet.budget(5, 3).with_rows([[1, -1, 0, 0, 0]], [0], [0])
    assert np.array_equal(fs.enumerate(), brute(fs, lambda x: x.sum() <= 3 and x[0] == x[1]))
    aux = FeasibleSet(5, [[1, 1, 1, 1, 1, -1]], [0], [0], n_aux=1, aux_upper=2.5, aux_integer=[True])
    both = FeasibleSet.cardinality(5, 1).intersect(aux)
    assert both.n_aux == 1
    assert np.array_equal(both.enumerate(), brute(both, lambda x: 1 <= x.sum() <= 2))


@pytest.mark.parametrize("make", [
    lambda: FeasibleSet.budget(9, 3),
    lambda: FeasibleSet.exact_budget(9, 4),
    lambda: FeasibleSet.knapsack([1, 2, 3, 1, 2, 3, 1, 2], 5),
    lambda: FeasibleSet(6, [[1, 1, 0, 0, 0, 0], [0, 0, 1, 1, 1, -1]], [1, 0], [1, 1]),   # two rows, MIP oracle
    lambda: FeasibleSet(6, [[1, 1, 1, 1, 1, 1, -4]], [0], [0], n_aux=1, aux_upper=1, aux_integer=[True]),
])
def test_sample_is_feasible_deterministic_and_covers(make):
    fs = make()
    rng = np.random.default_rng(0)
    draws = [fs.sample(rng) for _ in range(60 if fs.n_aux == 0 else 25)]
    assert all(fs.contains(d) for d in draws)
    assert len({tuple(d) for d in draws}) > 1 or fs.count() == 1
    assert np.array_equal(fs.sample(5), fs.sample(5))
    u = fs.sample(1, uniform=True)
    assert fs.contains(u)


def test_sample_uniform_is_uniform():
    fs = FeasibleSet.exact_budget(4, 2)
    rng = np.random.default_rng(1)
    counts = {}
    for _ in range(1200):
        key = tuple(fs.sample(rng, uniform=True))
        counts[key] = counts.get(key, 0) + 1
    assert len(counts) == 6 and min(counts.values()) > 150


def test_to_linear_model_solves_and_relaxes():
    fs = FeasibleSet.knapsack([2, 3, 4, 5], 7)
    v = np.array([3.0, 4.0, 5.0, 6.0])
    res = fs.to_linear_model(v).solve()
    best = max(v @ x for x in fs.enumerate())
    assert res.objective == pytest.approx(best)
    lp = fs.to_linear_model(v, relax=True).solve()
    assert lp.objective >= best - 1e-9


def test_to_pyomo_round_trip():
    pyo = pytest.importorskip("pyomo.environ")
    fs = FeasibleSet(4, [[1, 1, 1, 1, -1]], [-np.inf], [0], n_aux=1, aux_upper=2, aux_integer=[True])
    m = fs.to_pyomo()
    assert len(m.a) == 4 and len(m.aux) == 1 and len(m.rows) == 1
    w = [1.0, 2.0, 3.0, 4.0]
    m.obj = pyo.Objective(expr=sum(w[i] * m.a[i] for i in range(4)), sense=pyo.maximize)
    opt = pyo.SolverFactory("appsi_highs")
    if not opt.available(exception_flag=False):
        pytest.skip("appsi_highs not available")
    opt.solve(m)
    assert pyo.value(m.obj) == pytest.approx(7.0)


def test_bad_input():
    with pytest.raises(InvalidInputError, match="FeasibleSet\\(\\)"):
        FeasibleSet(3, np.ones((1, 4)), [0], [1])
    with pytest.raises(InvalidInputError):
        FeasibleSet(3, np.ones((1, 3)), [2], [1])
    with pytest.raises(InvalidInputError):
        FeasibleSet(3, [[1, np.nan, 1]], [0], [1])
    with pytest.raises(InvalidInputError):
        FeasibleSet(0)
    with pytest.raises(InvalidInputError):
        FeasibleSet.budget(3, -1)
    with pytest.raises(InvalidInputError):
        FeasibleSet.knapsack([1, -2], 3)
    fs = FeasibleSet.budget(3, 1)
    with pytest.raises(InvalidInputError, match="contains"):
        fs.contains([0.5, 0, 0])
    with pytest.raises(InvalidInputError, match="contains"):
        fs.contains([1, 0])
    with pytest.raises(InvalidInputError, match="contains"):
        fs.contains([np.nan, 0, 0])
    with pytest.raises(InvalidInputError):
        fs.intersect(FeasibleSet.budget(4, 1))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(-3, 3), min_size=5, max_size=5), st.integers(-3, 3), st.integers(0, 4),
       st.lists(st.integers(0, 1), min_size=5, max_size=5))
def test_contains_agrees_with_enumerate(coefs, lo, width, probe):
    A = np.array([coefs], dtype=float)
    fs = FeasibleSet(5, A, [lo], [lo + width])
    X = fs.enumerate()
    members = {tuple(x) for x in X}
    assert fs.contains(probe) == (tuple(probe) in members)
    assert fs.is_empty() == (len(X) == 0)
    if len(X):
        assert tuple(fs.sample(0)) in members


def test_knapsack_near_the_float_limit_enumerates_what_contains_accepts():
    fs = FeasibleSet.knapsack([1e308] * 3, 1e308)
    members = fs.enumerate().tolist()
    assert sorted(members) == [[0, 0, 0], [0, 0, 1], [0, 1, 0], [1, 0, 0]]
    assert all(fs.contains(a) for a in members) and not fs.contains([1, 1, 0])
    assert fs.contains_many(np.array(members, dtype=float)).all()


def test_sizes_and_flags_are_checked_before_allocating():
    from engine.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match="MAX_COLUMNS"):
        FeasibleSet.budget(10**10, 2)
    with pytest.raises(InvalidInputError, match="MAX_COLUMNS"):
        FeasibleSet(5, n_aux=10**9)
    with pytest.raises(InvalidInputError, match="uniform must be a bool"):
        FeasibleSet.budget(4, 2).sample(0, uniform="yes")
