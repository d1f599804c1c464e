import itertools
import math

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings, strategies as st

from engine import Status
from engine.errors import InvalidInputError
from engine.events import Incumbent
from solvers import LinearModel, solve_milp


def _brute_force_binary(c, A, ub):
    best, arg = math.inf, None
    for bits in itertools.product([0, 1], repeat=len(c)):
        x = np.array(bits, dtype=float)
        if np.all(A @ x <= ub + 1e-9) and c @ x < best:
            best, arg = c @ x, x
    return best, arg


@pytest.mark.parametrize("seed", range(5))
def test_binary_milp_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    n, m = 10, 3
    c = -rng.uniform(1, 10, n)
    A = rng.uniform(0, 5, (m, n))
    ub = A.sum(axis=1) * 0.4
    res = solve_milp(c, A, row_upper=ub, col_upper=1, integrality=np.ones(n, bool), mip_rel_gap=0, mip_abs_gap=1e-9)
    best, _ = _brute_force_binary(c, A, ub)
    assert res.status is Status.OPTIMAL and res.proven_optimal
    assert res.objective == pytest.approx(best, abs=1e-7)
    assert res.gap <= 1e-6
    assert np.all(A @ res.x <= ub + 1e-7)


def test_lp_strong_duality_certificate():
    rng = np.random.default_rng(1)
    n, m = 30, 20
    A = rng.uniform(0, 1, (m, n))
    b = rng.uniform(1, 2, m)
    c = -rng.uniform(0, 1, n)
    model = LinearModel(c, sp.csr_matrix(A), row_upper=b)
    res = model.solve()
    assert res.status is Status.OPTIMAL
    # dual objective equals primal objective; duals of <= rows in a min problem are <= 0
    assert res.row_dual @ b == pytest.approx(res.objective, rel=1e-9)
    assert np.all(res.row_dual <= 1e-9)
    assert np.all(A @ res.x <= b + 1e-9)


def test_resolve_after_changes_equals_fresh_model():
    rng = np.random.default_rng(2)
    n, m = 12, 4
    c = -rng.uniform(1, 5, n)
    A = rng.uniform(0, 3, (m, n))
    ub = A.sum(axis=1) * 0.3
    model = LinearModel(c, A, row_upper=ub, col_upper=1, integrality=np.ones(n, bool))
    model.solve()
    c2 = -rng.uniform(1, 5, n)
    ub2 = ub * 1.5
    model.set_objective(c2)
    model.set_row_bounds(np.arange(m), -np.inf, ub2)
    model.set_coefficients([0, 1], [0, 1], [0.5, 0.25])
    A2 = A.copy()
    A2[0, 0], A2[1, 1] = 0.5, 0.25
    fresh = solve_milp(c2, A2, row_upper=ub2, col_upper=1, integrality=np.ones(n, bool), mip_rel_gap=0)
    again = model.solve(mip_rel_gap=0)
    assert again.objective == pytest.approx(fresh.objective, abs=1e-9)
    arrays = model.arrays()
    assert np.allclose(arrays["A"].toarray(), A2) and np.allclose(arrays["c"], c2)


def test_lp_relaxation_by_integrality_toggle():
    model = LinearModel([-1.0, -1.0], [[2, 2]], row_upper=[3], col_upper=1, integrality=[True, True])
    assert model.solve().objective == pytest.approx(-1.0)
    model.set_integrality([0, 1], False)
    assert model.solve().objective == pytest.approx(-1.5)


def test_infeasible_and_unbounded_are_statuses():
    inf = solve_milp([1.0], [[1.0]], row_lower=[2.0], col_upper=1.0)
    assert inf.status is Status.INFEASIBLE and inf.x is None and not inf.success
    unb = solve_milp([-1.0, 0.0], [[1.0, -1.0]], row_upper=[0.0])
    assert unb.status is Status.UNBOUNDED


def test_maximize_and_offset():
    res = solve_milp([1.0, 2.0], [[1, 1]], row_upper=[3], col_upper=2, sense="max", offset=10.0)
    assert res.objective == pytest.approx(10 + 1 * 1 + 2 * 2)


def _hard_knapsack(n=60, seed=0):
    # subset-sum with large weights: LP bounds are useless, so branch and bound cannot prune
    rng = np.random.default_rng(seed)
    w = rng.integers(10**6, 2 * 10**6, n)
    return -w.astype(float), w[None, :].astype(float), float(w.sum() // 2) + 0.5


def test_time_limit_returns_incumbent():
    c, A, cap = _hard_knapsack(n=80)
    res = solve_milp(c, A, row_upper=[cap], col_upper=1, integrality=np.ones(len(c), bool), time_limit=0.2,
                     mip_rel_gap=0, mip_abs_gap=0, options={"mip_heuristic_effort": 0.0})
    assert res.status is Status.TIME_LIMIT and not res.success
    assert res.x is not None and A @ res.x <= cap + 1e-6
    assert res.bound <= res.objective and res.gap == pytest.approx(res.objective - res.bound)
    assert res.raise_for_status() is res  # a limit with an incumbent is not an exception
    assert res.params["time_limit"] == 0.2


def test_callback_sees_incumbents_and_can_stop():
    c, A, cap = _hard_knapsack(n=80, seed=1)
    seen = []

    def cb(event):
        assert isinstance(event, Incumbent)
        seen.append(event.objective)
        raise StopIteration

    res = solve_milp(c, A, row_upper=[cap], col_upper=1, integrality=np.ones(len(c), bool), callback=cb,
                     mip_rel_gap=0, mip_abs_gap=0)
    assert len(seen) == 1, "the callback must not be called again after it asked to stop"
    assert res.status is Status.STOPPED
    assert res.x is not None and A @ res.x <= cap + 1e-6 and res.objective <= seen[0] + 1e-9


def test_same_seed_same_answer():
    c, A, cap = _hard_knapsack(n=40, seed=2)
    kw = dict(row_upper=[cap], col_upper=1, integrality=np.ones(len(c), bool), seed=11, threads=1,
              options={"mip_max_nodes": 200})
    r1, r2 = solve_milp(c, A, **kw), solve_milp(c, A, **kw)
    assert np.array_equal(r1.x, r2.x) and r1.params["highs_random_seed"] == r2.params["highs_random_seed"]
    assert r1.params["seed"] == 11


def test_warm_start_is_accepted_and_optimal():
    c = -np.arange(1, 9, dtype=float)
    res = solve_milp(c, np.ones((1, 8)), row_upper=[3], col_upper=1, integrality=np.ones(8, bool),
                     warm_start=np.r_[np.ones(3), np.zeros(5)])
    assert res.objective == pytest.approx(-(8 + 7 + 6))
    assert res.params["warm_start"] is True


def test_round_trip_result_json():
    res = solve_milp([1.0, 1.0], [[1, 1]], row_lower=[1.5], integrality=[True, True])
    from engine import SolveResult

    back = SolveResult.from_json(res.to_json())
    assert type(back) is type(res) and back.objective == res.objective and np.array_equal(back.x, res.x)


@pytest.mark.parametrize("kwargs,match", [
    ({"c": [1, float("nan")]}, "finite"),
    ({"c": [1, 2], "A": [[1, 2, 3]]}, "columns"),
    ({"c": [1, 2], "A": [[1, 2]], "row_lower": [3], "row_upper": [1]}, "exceeds"),
    ({"c": [1, 2], "integrality": [True]}, "integrality"),
    ({"c": [1, 2], "sense": "maximise"}, "sense"),
    ({"c": [[1, 2]]}, "dimension"),
])
def test_bad_models_raise(kwargs, match):
    with pytest.raises(InvalidInputError, match=match):
        LinearModel(**kwargs)


def test_bad_solve_options_raise():
    model = LinearModel([1.0])
    for kw in ({"time_limit": -1}, {"mip_rel_gap": float("nan")}, {"threads": 0}, {"seed": -3}):
        with pytest.raises(InvalidInputError, match=r"LinearModel.solve\(\)"):
            model.solve(**kw)
    with pytest.raises(InvalidInputError, match="rows"):
        model.set_row_bounds([5], [0], [1])


@settings(max_examples=25, deadline=None)
@given(st.lists(st.floats(-10, 10).filter(lambda v: abs(v) > 1e-3), min_size=1, max_size=6), st.integers(1, 4))
def test_box_lp_optimum_is_closed_form(costs, ub):
    # costs below HiGHS's dual feasibility tolerance (1e-7) may legitimately pick either bound
    c = np.array(costs)
    res = solve_milp(c, col_lower=-ub, col_upper=ub)
    assert res.objective == pytest.approx(-ub * np.abs(c).sum(), abs=1e-9)


def test_per_solve_options_do_not_linger():
    """Options and gaps given to one solve hold for that solve only: the next solve of the same model
    runs with the defaults again."""
    model = LinearModel([5, 4, 3], [[2, 3, 1], [4, 1, 2]], row_upper=[5, 11], col_upper=2,
                        integrality=[True, True, True], sense="max")
    first = model.solve(mip_rel_gap=0.5, options={"mip_max_nodes": 0, "mip_heuristic_effort": 0.0})
    assert first.params["mip_rel_gap"] == 0.5
    again = model.solve()
    assert again.status is Status.OPTIMAL and again.objective == 13.0
    assert again.params["mip_rel_gap"] != 0.5 and again.params["options"] == {}


@pytest.mark.parametrize("options, match", [
    ({"presolve": 3}, "presolve"),
    ({"mip_max_nodes": -5}, "mip_max_nodes"),
    ({"mip_feasibility_tolerance": "x"}, "mip_feasibility_tolerance"),
    ({"presolve": "sometimes"}, "presolve"),
    ({"mip_rel_gap": float("nan")}, None),
])
def test_invalid_option_values_are_refused(options, match):
    from engine.errors import InvalidInputError

    m = LinearModel([1.0, 1.0], [[1.0, 1.0]], row_lower=[1.0], integrality=[True, True])
    if match is None:        # mip_rel_gap is an argument, not a pass-through option: unknown key warns
        with pytest.warns(UserWarning):
            m.solve(options=options)
        return
    with pytest.raises(InvalidInputError, match=match):
        m.solve(options=options)
    assert m.solve(options={"presolve": "off", "mip_max_nodes": 10}).objective == 1.0


def test_bad_model_arguments_are_refused(tmp_path):
    from engine.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match="integrality"):
        LinearModel([1.0, 1.0], integrality=["no", "no"])
    m = LinearModel([1.0, 1.0], [[1.0, 1.0]], row_lower=[1.0])
    with pytest.raises(InvalidInputError, match="exceeds"):
        m.set_row_bounds([0], [2.0], [1.0])
    with pytest.raises(InvalidInputError, match="exceeds"):
        m.set_col_bounds([1], [2.0], [1.0])
    with pytest.raises(InvalidInputError, match="integer"):
        m.set_integrality([0], "yes")
    with pytest.raises(InvalidInputError, match="directory"):
        m.write_mps(tmp_path)
    with pytest.raises(InvalidInputError, match="cannot write"):
        m.write_mps(tmp_path / "missing" / "m.mps")
    assert m.solve().objective == 1.0          # nothing above changed the model


# ---------------------------------------------------------------- add_cols (column generation)
def test_add_cols_resolve_equals_fresh_build():
    # an LP and a MIP: re-solving after add_cols must equal building the wider model from scratch
    rng = np.random.default_rng(7)
    m, n, k = 5, 6, 4
    A = rng.uniform(0, 2, (m, n))
    ub = A.sum(axis=1) * 0.4
    c = rng.uniform(1, 3, n)
    Anew = sp.random(m, k, density=0.6, random_state=3, format="csc") * 2
    cnew = rng.uniform(1, 4, k)
    for integer in (False, True):
        model = LinearModel(c, A, row_upper=ub, col_upper=1, integrality=np.full(n, integer), sense="max")
        first = model.solve(mip_rel_gap=0)
        idx = model.add_cols(cnew, Anew, 0, 1, integrality=np.full(k, integer))
        assert idx.tolist() == list(range(n, n + k)) and model.n_cols == n + k and model.is_mip == integer
        again = model.solve(mip_rel_gap=0)
        fresh = solve_milp(np.concatenate([c, cnew]), sp.hstack([sp.csc_matrix(A), Anew]), row_upper=ub, col_upper=1,
                           integrality=np.full(n + k, integer), sense="max", mip_rel_gap=0)
        assert again.status == fresh.status == Status.OPTIMAL
        assert again.objective == pytest.approx(fresh.objective, abs=1e-9)
        assert again.objective >= first.objective - 1e-9  # more columns can only help a max
        arr = model.arrays()
        assert np.allclose(arr["A"].toarray(), np.hstack([A, Anew.toarray()]))
        assert np.array_equal(arr["c"], np.concatenate([c, cnew])) and np.array_equal(arr["col_upper"], np.ones(n + k))
        if not integer:  # an LP re-solve keeps duals of the right length
            assert again.col_dual.shape == (n + k,)


def test_add_cols_keeps_the_basis():
    # column generation's point: after adding one column the LP re-solve starts from the old basis
    rng = np.random.default_rng(1)
    m, n = 30, 60
    A = rng.uniform(0, 1, (m, n))
    model = LinearModel(rng.uniform(0, 1, n), A, row_upper=np.ones(m), col_upper=1, sense="max")
    model.solve()
    model.add_cols([0.0], np.zeros((m, 1)), 0, 1)  # a zero column cannot enter: no pivot at all
    assert model.solve().nit == 0


@pytest.mark.parametrize("kwargs,match", [
    ({"c": [1.0, np.nan]}, "c"),
    ({"c": [1.0], "A": [[1.0], [2.0], [3.0]]}, "rows"),
    ({"c": [1.0], "A": [[1.0, 2.0], [1.0, 2.0]]}, "columns"),
    ({"c": [1.0], "lower": [2.0], "upper": [1.0]}, "exceeds"),
    ({"c": [1.0], "integrality": ["yes"]}, "integrality"),
    ({"c": [1.0, 2.0], "upper": [1.0]}, "upper"),
])
def test_add_cols_validates(kwargs, match):
    model = LinearModel([1.0, 1.0], [[1.0, 1.0], [1.0, -1.0]], row_upper=[4.0, 1.0])
    with pytest.raises(InvalidInputError, match=match):
        model.add_cols(**kwargs)
    assert model.n_cols == 2 and model.arrays()["A"].shape == (2, 2)  # nothing half-added


def test_basis_round_trip_restarts_at_the_optimum() -> None:
    rng = np.random.default_rng(0)
    A = rng.uniform(0.1, 1.0, size=(6, 8))

    def model() -> LinearModel:
        return LinearModel(-np.ones(8), A, row_upper=np.ones(6), sense="min")

    first = model()
    r1 = first.solve()
    codes = first.basis_codes()
    assert codes is not None and codes.shape == (8 + 6,) and r1.nit > 0
    second = model()
    assert second.set_basis_codes(codes[:8], codes[8:])
    r2 = second.solve()
    assert r2.objective == pytest.approx(r1.objective, abs=1e-12) and r2.nit == 0  # started at the optimum
    saved = first.save_basis()
    first.add_cols([-0.5], np.full((6, 1), 0.3), upper=1.0)  # a column added since: enters nonbasic
    assert first.load_basis(saved)
    assert first.solve().objective <= r1.objective + 1e-12
    assert not second.set_basis_codes(codes[:7], codes[8:])  # wrong size: refused
    with pytest.raises(InvalidInputError, match=r"LinearModel.set_basis_codes\(\): cols must be <= 4, got 9"):
        second.set_basis_codes(np.full(8, 9), codes[8:])
