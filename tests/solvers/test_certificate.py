"""Certificates the engine checks itself (solvers/certificate.py) and the recorded wrong re-solve.

The recorded case (``data/network_mip_resolve_case.npz``, issue 15 §1): a 30 -> 128 -> 1 ReLU network on
the capacity set of ``make_domain("capacity", n_arms=6, budget=2, seed=4)``. A re-used ``NetworkMIP``
returned 0.114411 "optimal" at ``X[1]`` after a solve at ``X[0]``; the optimum is 0.137327. The root
cause is HiGHS's branch-and-cut, not the re-solve: ``data/highs_wrong_optimal_model.npz`` holds the
model at ``X[1]`` as arrays, and HiGHS 1.16 returns the wrong "optimal" on it built *fresh*, for some
``random_seed`` values and feasibility tolerances (``highs_wrong_optimal_reproducer.py`` beside this
file prints which), although the optimal action is feasible in it (checked below in numpy).
"""

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from bandits import make_domain
from engine.status import Status
from solvers import FeasibleSet, LinearModel, NetworkMIP
from solvers.certificate import certify_max, farkas_infeasible, safe_dual_bound

DATA = Path(__file__).parent / "data"
OPTIMUM = 0.1373274617941599          # enumeration of the 22 feasible actions at X[1]
OPTIMAL_ACTION = [1, 1, 0, 1, 0, 1]


def recorded_case():
    d = np.load(DATA / "network_mip_resolve_case.npz")
    layers = [(d["W0"], d["b0"]), (d["W1"], d["b1"])]
    fs = make_domain("capacity", n_arms=6, budget=2, seed=4).feasible_set
    return layers, fs, d["X"]


def highs_model():
    z = np.load(DATA / "highs_wrong_optimal_model.npz")
    A = sp.csc_matrix((z["Adata"], z["Aind"], z["Aptr"]), shape=tuple(z["shape"]))
    return z, A


def test_recorded_case_enumeration_optimum():
    layers, fs, X = recorded_case()
    res = NetworkMIP(layers, fs, state_dim=24, method="enumerate").maximize(X[1])
    assert res.objective == pytest.approx(OPTIMUM, abs=1e-12) and res.x.tolist() == OPTIMAL_ACTION


@pytest.mark.parametrize("seed", range(6))
def test_recorded_case_resolve_is_never_wrong(seed):
    """The sequence of the issue (X[0] then X[1] on one object) for several solver seeds: every answer
    labelled OPTIMAL is the enumeration optimum, and every bound is a valid bound."""
    layers, fs, X = recorded_case()
    enum = NetworkMIP(layers, fs, state_dim=24, method="enumerate")
    mip = NetworkMIP(layers, fs, state_dim=24, method="mip")
    for state in (X[0], X[1], X[0], X[1]):
        best = enum.maximize(state).objective
        res = mip.maximize(state, seed=seed)
        assert res.bound >= best - 1e-9
        assert res.status == Status.OPTIMAL and res.proven_optimal
        assert res.objective == pytest.approx(best, abs=1e-9) and fs.contains(res.x)
        assert res.certificate_nodes > 0 and "safe LP dual bounds" in res.message


def test_highs_defect_model_holds_the_optimum():
    """The model HiGHS gets wrong is a correct model: the optimal action, completed by the forward
    pass, satisfies every row and bound and has the optimal objective (so a smaller 'optimal' from
    HiGHS is HiGHS's error, not the model's)."""
    layers, fs, X = recorded_case()
    z, A = highs_model()
    mip = NetworkMIP(layers, fs, state_dim=24, method="mip")
    c0 = mip._Ws @ X[1] + mip._b0
    mip.maximize(X[0])
    x = mip._full_start(np.array(OPTIMAL_ACTION), c0)
    act = A @ x
    assert np.all(act >= z["rl"] - 1e-12) and np.all(act <= z["ru"] + 1e-12)
    assert np.all(x >= z["cl"]) and np.all(x <= z["cu"])
    assert float(z["c"] @ x + z["offset"]) == pytest.approx(OPTIMUM, abs=1e-12)


def test_certificate_bound_is_valid_on_the_highs_defect_model():
    """Whatever HiGHS claims on the arrays, the certified root bound (safe dual bound of the LP
    relaxation) is above the optimum, and a certified search from HiGHS's (possibly wrong) incumbent
    over the six action columns ends at the optimum."""
    layers, fs, X = recorded_case()
    z, A = highs_model()
    lp = LinearModel(z["c"], A, z["rl"], z["ru"], col_lower=z["cl"], col_upper=z["cu"], sense="max",
                     offset=float(z["offset"]))
    root = lp.solve()
    bound = safe_dual_bound(z["c"], A, z["rl"], z["ru"], z["cl"], z["cu"], root.row_dual, offset=float(z["offset"]))
    assert bound >= OPTIMUM and bound == pytest.approx(root.objective, rel=1e-7)
    net = NetworkMIP(layers, fs, state_dim=24, method="enumerate")

    def leaf(values):
        a = values.astype(np.int64)
        return (net.forward(a, X[1]), a) if fs.contains(a) else None

    wrong = np.array([0, 1, 1, 1, 0, 0])
    cert = certify_max(lp, np.arange(6), leaf, incumbent=wrong, incumbent_value=net.forward(wrong, X[1]))
    assert cert.closed and cert.value == pytest.approx(OPTIMUM, abs=1e-12) and cert.x.tolist() == OPTIMAL_ACTION
    assert np.array_equal(lp.arrays()["col_lower"], z["cl"])          # column bounds restored


def test_safe_dual_bound_is_valid_for_any_multipliers():
    rng = np.random.default_rng(0)
    for _ in range(50):
        m, n = rng.integers(1, 6, size=2)
        A = sp.csr_matrix(rng.normal(size=(m, n)))
        lo, hi = -rng.random(n), rng.random(n)
        x = lo + (hi - lo) * rng.random(n)                   # a point of the box ...
        act = A @ x
        rl, ru = act - rng.random(m), act + rng.random(m)     # ... feasible for the rows
        c = rng.normal(size=n)
        for y in (None, rng.normal(size=m), np.zeros(m)):
            assert safe_dual_bound(c, A, rl, ru, lo, hi, y) >= c @ x


def test_farkas_ray_proves_infeasibility_and_nothing_else():
    A = sp.csr_matrix([[1.0, 1.0], [1.0, 1.0]])
    # x1 + x2 >= 3 and x1 + x2 <= 1 over [0, 1]^2
    assert farkas_infeasible(A, np.array([3.0, -np.inf]), np.array([np.inf, 1.0]), np.zeros(2), np.ones(2),
                             np.array([1.0, -1.0]))
    assert not farkas_infeasible(A, np.array([0.5, -np.inf]), np.array([np.inf, 1.0]), np.zeros(2), np.ones(2),
                                 np.array([1.0, -1.0]))


def test_linear_model_certify_mip_lp_and_infeasible():
    m = LinearModel([-1, -1], [[1, 2], [3, 1]], row_upper=[4, 6], integrality=[True, True])
    res = m.solve(certify=True)
    assert res.status == Status.OPTIMAL and res.certified and res.objective == -2.0 and res.bound == -2.0
    lp = LinearModel([-1, -1], [[1, 2], [3, 1]], row_upper=[4, 6])
    res = lp.solve(certify=True)
    assert res.status == Status.OPTIMAL and res.certified and res.bound <= -2.8 + 1e-9
    assert res.objective == pytest.approx(-2.8)
    inf = LinearModel([1, 1], [[1, 1]], row_lower=[1.5], row_upper=[1.7], integrality=[True, True])
    res = inf.solve(certify=True)
    assert res.status == Status.INFEASIBLE and res.certified is False and res.x is None


def test_certificate_node_limit_downgrades_a_claim():
    """A certificate that cannot close within its LPs turns a solver's OPTIMAL into FEASIBLE with a
    proven bound, never leaves it OPTIMAL."""
    rng = np.random.default_rng(3)
    n = 12
    c = rng.integers(1, 20, size=n).astype(float)
    w = rng.integers(1, 20, size=n).astype(float)
    m = LinearModel(c, [w], row_upper=[w.sum() / 2], col_upper=1.0, integrality=np.ones(n, bool), sense="max")
    plain = m.solve()
    res = m.solve(certify=True, certificate_node_limit=1)
    assert plain.status == Status.OPTIMAL
    assert res.status == Status.FEASIBLE and not res.proven_optimal and res.bound >= plain.objective - 1e-9
    full = m.solve(certify=True)
    assert full.status == Status.OPTIMAL and full.objective == pytest.approx(plain.objective)


def test_network_mip_records_the_solvers_bound_apart():
    rng = np.random.default_rng(0)
    net = [(rng.normal(size=(8, 6)), rng.normal(size=8)), (rng.normal(size=(1, 8)), np.zeros(1))]
    fs = FeasibleSet.knapsack([1, 2, 3, 1], 4)
    res = NetworkMIP(net, fs, state_dim=2, method="mip").maximize([0.5, -1.0])
    best = NetworkMIP(net, fs, state_dim=2, method="enumerate").maximize([0.5, -1.0])
    assert res.status == Status.OPTIMAL and res.objective == pytest.approx(best.objective, abs=1e-9)
    assert np.isfinite(res.solver_bound) and res.bound == pytest.approx(res.objective, abs=1e-6)


# ---------------------------------------------------------------------------- argument validation
def test_certificate_functions_validate_their_arguments():
    """The array-level building blocks refuse malformed input by name instead of computing a
    meaningless bound (a wrong-length multiplier vector would broadcast or crash deep inside)."""
    from engine.errors import InvalidInputError
    from solvers import LinearModel
    from solvers.certificate import certify_max, farkas_infeasible, safe_dual_bound

    A = sp.csr_matrix([[1.0, 1.0]])
    args = (np.array([1.0, 1.0]), A, np.array([-np.inf]), np.array([1.0]), np.zeros(2), np.ones(2))
    assert safe_dual_bound(*args, np.array([1.0])) >= 1.0
    with pytest.raises(InvalidInputError, match=r"safe_dual_bound\(\): y must have shape \(1,\)"):
        safe_dual_bound(*args, np.array([1.0, 2.0]))
    with pytest.raises(InvalidInputError, match=r"safe_dual_bound\(\): c must be finite"):
        safe_dual_bound(np.array([np.inf, 1.0]), *args[1:], None)
    with pytest.raises(InvalidInputError, match=r"safe_dual_bound\(\): a lower bound exceeds"):
        safe_dual_bound(args[0], A, np.array([2.0]), np.array([1.0]), np.zeros(2), np.ones(2), None)
    with pytest.raises(InvalidInputError, match=r"farkas_infeasible\(\): ray must have shape"):
        farkas_infeasible(A, np.array([3.0]), np.array([3.0]), np.zeros(2), np.ones(2), np.ones(3))
    assert farkas_infeasible(A, np.array([3.0]), np.array([3.0]), np.zeros(2), np.ones(2), np.array([1.0]))

    lp = LinearModel([1.0, 1.0], [[1.0, 1.0]], row_upper=[1.5], col_upper=[1.0, 1.0], sense="max")
    leaf = lambda v: (float(v.sum()), v.astype(float)) if v.sum() <= 1.5 else None  # noqa: E731
    assert certify_max(lp, np.array([0, 1]), leaf).value == 1.0
    with pytest.raises(InvalidInputError, match=r"certify_max\(\): branch_cols must be distinct indices"):
        certify_max(lp, np.array([0, 2]), leaf)
    with pytest.raises(InvalidInputError, match=r"certify_max\(\): leaf must be callable"):
        certify_max(lp, np.array([0, 1]), None)
    with pytest.raises(InvalidInputError, match=r"certify_max\(\): lp must be a solvers.LinearModel with sense 'max'"):
        certify_max(LinearModel([1.0], [[1.0]], row_upper=[1.0], col_upper=[1.0]), np.array([0]), leaf)
    with pytest.raises(InvalidInputError, match=r"certify_max\(\).*node_limit"):
        certify_max(lp, np.array([0, 1]), leaf, node_limit=0)
