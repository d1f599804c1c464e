import numpy as np
import pytest

from engine import Status
from solvers import LinearModel, solve_pyomo


def _model():
    rng = np.random.default_rng(4)
    n, m = 8, 3
    A = rng.uniform(0, 4, (m, n))
    return LinearModel(-rng.uniform(1, 3, n), A, row_upper=A.sum(1) * 0.4, col_upper=1,
                       integrality=np.ones(n, bool))


def test_pyomo_appsi_highs_matches_highspy():
    model = _model()
    direct = model.solve(mip_rel_gap=0)
    via = solve_pyomo(model, mip_rel_gap=0)
    assert via.status is Status.OPTIMAL and via.backend == "pyomo:appsi_highs"
    assert via.objective == pytest.approx(direct.objective, abs=1e-7)


def test_to_pyomo_structure():
    import pyomo.environ as pyo

    pm = _model().to_pyomo()
    assert len(pm.x) == 8 and len(pm.rows) == 3
    assert all(pm.x[j].is_binary() for j in range(8))
    assert pm.obj.sense == pyo.minimize


def test_mps_export_reloads_with_same_optimum(tmp_path):
    import highspy

    model = _model()
    path = tmp_path / "m.mps"
    model.write_mps(path)
    assert path.exists() and "ROWS" in path.read_text()
    from solvers.highs import _new_highs

    h = _new_highs()
    assert h.readModel(str(path)) == highspy.HighsStatus.kOk
    h.setOptionValue("mip_rel_gap", 0.0)
    h.run()
    assert h.getInfo().objective_function_value == pytest.approx(model.solve(mip_rel_gap=0).objective, abs=1e-7)
