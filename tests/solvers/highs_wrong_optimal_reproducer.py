"""Minimal reproducer of a HiGHS defect: a wrong "optimal" MIP answer (invalid dual bound).

Not a test (timing- and thread-dependent); run it to see whether the installed HiGHS still has it::

    python tests/solvers/highs_wrong_optimal_reproducer.py

The model (``data/highs_wrong_optimal_model.npz``: 390 rows, 273 columns, 86 binaries, every column
bounded) is the big-M MIP of a 30 -> 128 -> 1 ReLU network over a small capacity set; the action
``[1, 1, 0, 1, 0, 1]`` completed by the forward pass is feasible with objective 0.137327
(``test_certificate.py::test_highs_defect_model_holds_the_optimum``). HiGHS 1.16.0 built fresh from
these arrays with ``mip_feasibility_tolerance = primal_feasibility_tolerance = 1e-9`` proves 0.114411
"optimal" for some ``random_seed`` values (and 0.131494 with 1e-8 or 1e-7 for others), with
presolve on or off; default tolerances got it right on the seeds tried. The engine works around it
by never taking HiGHS's bound on trust (``solvers/certificate.py``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.sparse as sp

OPTIMUM = 0.1373274617941599


def main() -> int:
    import highspy

    z = np.load(Path(__file__).parent / "data" / "highs_wrong_optimal_model.npz")
    A = sp.csc_matrix((z["Adata"], z["Aind"], z["Aptr"]), shape=tuple(z["shape"]))
    wrong = 0
    for tol in (1e-9, 1e-8, 1e-7, None):
        for seed in range(12):
            h = highspy.Highs()
            h.setOptionValue("output_flag", False)
            lp = highspy.HighsLp()
            lp.num_col_, lp.num_row_ = A.shape[1], A.shape[0]
            lp.col_cost_, lp.col_lower_, lp.col_upper_ = z["c"], z["cl"], z["cu"]
            lp.row_lower_, lp.row_upper_, lp.offset_ = z["rl"], z["ru"], float(z["offset"])
            lp.sense_ = highspy.ObjSense.kMaximize
            lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
            lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = A.shape[1], A.shape[0]
            lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = A.indptr, A.indices, A.data
            lp.integrality_ = [highspy.HighsVarType.kInteger if f else highspy.HighsVarType.kContinuous
                               for f in z["integ"]]
            h.passModel(lp)
            h.setOptionValue("random_seed", seed)
            h.setOptionValue("mip_rel_gap", 0.0)
            if tol is not None:
                h.setOptionValue("mip_feasibility_tolerance", tol)
                h.setOptionValue("primal_feasibility_tolerance", tol)
            h.run()
            info = h.getInfo()
            value, bound = info.objective_function_value, info.mip_dual_bound
            bad = str(h.getModelStatus()).endswith("kOptimal") and value < OPTIMUM - 1e-6
            wrong += bad
            print(f"tol {tol!s:>6}  seed {seed:2d}  status {h.modelStatusToString(h.getModelStatus()):8s} "
                  f"value {value:.6f}  bound {bound:.6f}{'  WRONG' if bad else ''}")
    print(f"{wrong} wrong 'optimal' answers out of 48 (highspy {highspy.__version__ if hasattr(highspy, '__version__') else '?'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
