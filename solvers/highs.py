"""Array-based LP/MILP models solved by HiGHS (highspy).

A :class:`LinearModel` is built from arrays in one ``passModel`` call and kept: between solves
only what changes is passed to HiGHS (objective, row/column bounds, single coefficients,
integrality), never a rebuild. The same model exports to Pyomo (:meth:`LinearModel.to_pyomo`)
and to MPS (:meth:`LinearModel.write_mps`) for users of other solvers.

Problem form::

    minimise / maximise   c @ x + offset
    subject to            row_lower <= A @ x <= row_upper
                          col_lower <= x <= col_upper,   x[j] integer where integrality[j]
"""

from __future__ import annotations

import math
import os
import time
from typing import Any, Callable, Mapping, Optional

import numpy as np
import scipy.sparse as sp

from engine.errors import BackendError, InvalidInputError
from engine.events import Incumbent, emit
from engine.seeding import resolve_seed
from engine.status import Status
from engine.io import atomic_path
from engine.validation import as_float_array, as_int_array, check_choice, check_int, check_real, check_time_limit
from solvers.certificate import certify_max, safe_dual_bound
from solvers.highs_options import HIGHS_OPTIONS, _new_highs, _option, validate_highs_options
from solvers.linear_result import LinearResult
from solvers.pyomo_backend import to_pyomo

__all__ = ["LinearModel", "LinearResult", "solve_milp", "HIGHS_OPTIONS", "validate_highs_options"]

INF = math.inf

def _as_matrix(A: Any, n_cols: int, where: str) -> sp.csc_matrix:
    if A is None:
        return sp.csc_matrix((0, n_cols))
    if sp.issparse(A):
        M = sp.csc_matrix(A, dtype=np.float64)
        if M.nnz and not np.all(np.isfinite(M.data)):
            raise InvalidInputError(f"{where}: A must be finite, got {M.data[~np.isfinite(M.data)][0]}")
    else:
        dense = as_float_array(A, "A", where, ndim=2)
        M = sp.csc_matrix(dense)
    if M.shape[1] != n_cols:
        raise InvalidInputError(f"{where}: A has {M.shape[1]} columns but c has {n_cols}")
    M.sum_duplicates()
    M.sort_indices()
    return M


def _flags(value: Any, size: int, name: str, where: str) -> np.ndarray:
    """A boolean vector: bools, or integers 0/1 (strings such as "no" are refused, not truthy)."""
    arr = np.asarray(value)
    if arr.ndim == 0:
        arr = np.full(size, arr.item())
    if arr.shape != (size,):
        raise InvalidInputError(f"{where}: {name} must have length {size}, got shape {arr.shape}")
    if arr.dtype == bool:
        return arr.copy()
    if np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating):
        if np.all((arr == 0) | (arr == 1)):
            return arr.astype(bool)
    raise InvalidInputError(f"{where}: {name} must hold booleans (or 0/1), got {arr.tolist()[:8]!r}")


def _bound_vector(value: Any, size: int, name: str, where: str, default: float) -> np.ndarray:
    if value is None:
        return np.full(size, default)
    arr = as_float_array(value, name, where, ndim=(0, 1), finite=False)
    if np.isnan(arr).any():
        raise InvalidInputError(f"{where}: {name} must not contain NaN")
    if arr.ndim == 0:
        return np.full(size, float(arr))
    if arr.shape != (size,):
        raise InvalidInputError(f"{where}: {name} must have length {size}, got {arr.shape[0]}")
    return arr.copy()


def _check_order(lo: np.ndarray, hi: np.ndarray, idx: np.ndarray, where: str) -> None:
    bad = np.flatnonzero(lo > hi)
    if bad.size:
        k = int(bad[0])
        raise InvalidInputError(f"{where}: lower[{k}] = {lo[k]} exceeds upper[{k}] = {hi[k]} (index {int(idx[k])})")


_STATUS = {
    "kOptimal": Status.OPTIMAL,
    "kInfeasible": Status.INFEASIBLE,
    "kUnbounded": Status.UNBOUNDED,
    "kTimeLimit": Status.TIME_LIMIT,
    "kIterationLimit": Status.ITERATION_LIMIT,
    "kInterrupt": Status.STOPPED,
    "kHighsInterrupt": Status.STOPPED,
    "kSolutionLimit": Status.FEASIBLE,
    "kObjectiveBound": Status.FEASIBLE,
    "kObjectiveTarget": Status.FEASIBLE,
    "kModelEmpty": Status.OPTIMAL,
}


class LinearModel:
    """An LP/MILP built once from arrays and re-solved after cheap changes.

    Parameters
    ----------
    c : array_like, shape (n,)
        Objective coefficients.
    A : array_like or scipy.sparse matrix, shape (m, n), optional
        Constraint matrix.
    row_lower, row_upper : array_like, shape (m,), optional
        Row bounds (``-inf`` / ``inf`` for one-sided rows; default free).
    col_lower, col_upper : array_like or float, optional
        Column bounds (default ``0`` and ``inf``).
    integrality : array_like of bool, shape (n,), optional
        True where the column is integer.
    sense : {"min", "max"}
    offset : float
        Constant added to the objective.

    Examples
    --------
    >>> import numpy as np
    >>> m = LinearModel([-1, -1], [[1, 2], [3, 1]], row_upper=[4, 6], integrality=[True, True])
    >>> res = m.solve()
    >>> res.status.value, res.objective
    ('optimal', -2.0)
    >>> m.set_row_bounds([0, 1], [-np.inf, -np.inf], [8, 12])
    >>> float(m.solve().objective)
    -5.0
    """

    def __init__(self, c: Any, A: Any = None, row_lower: Any = None, row_upper: Any = None, *,
                 col_lower: Any = 0.0, col_upper: Any = INF, integrality: Any = None, sense: str = "min",
                 offset: float = 0.0) -> None:
        where = "LinearModel()"
        cost = as_float_array(c, "c", where, ndim=1)
        n = cost.shape[0]
        M = _as_matrix(A, n, where)
        m = M.shape[0]
        rl = _bound_vector(row_lower, m, "row_lower", where, -INF)
        ru = _bound_vector(row_upper, m, "row_upper", where, INF)
        cl = _bound_vector(col_lower, n, "col_lower", where, 0.0)
        cu = _bound_vector(col_upper, n, "col_upper", where, INF)
        for lo, hi, what in ((rl, ru, "row"), (cl, cu, "col")):
            bad = np.flatnonzero(lo > hi)
            if bad.size:
                i = int(bad[0])
                raise InvalidInputError(f"{where}: {what}_lower[{i}] = {lo[i]} exceeds {what}_upper[{i}] = {hi[i]}")
        if integrality is None:
            integ = np.zeros(n, dtype=bool)
        else:
            integ = _flags(integrality, n, "integrality", where)
        check_choice(sense, "sense", where, ("min", "max"))
        self._offset = check_real(offset, "offset", where)
        self._sense = sense
        self._n = n
        self._m = m
        self._integer = integ
        self._highs = _new_highs()
        self._threads_set: Optional[int] = None
        self._pass(cost, M, rl, ru, cl, cu)

    # ------------------------------------------------------------------ building
    def _pass(self, cost: np.ndarray, M: sp.csc_matrix, rl: np.ndarray, ru: np.ndarray, cl: np.ndarray,
              cu: np.ndarray) -> None:
        import highspy

        lp = highspy.HighsLp()
        lp.num_col_ = self._n
        lp.num_row_ = self._m
        lp.col_cost_ = cost
        lp.col_lower_ = cl
        lp.col_upper_ = cu
        lp.row_lower_ = rl
        lp.row_upper_ = ru
        lp.offset_ = self._offset
        lp.sense_ = highspy.ObjSense.kMaximize if self._sense == "max" else highspy.ObjSense.kMinimize
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.num_col_ = self._n
        lp.a_matrix_.num_row_ = self._m
        lp.a_matrix_.start_ = M.indptr.astype(np.int32)
        lp.a_matrix_.index_ = M.indices.astype(np.int32)
        lp.a_matrix_.value_ = M.data
        if self._integer.any():
            lp.integrality_ = [highspy.HighsVarType.kInteger if f else highspy.HighsVarType.kContinuous
                               for f in self._integer]
        status = self._highs.passModel(lp)
        if status == highspy.HighsStatus.kError:
            raise BackendError("LinearModel(): HiGHS rejected the model (passModel returned an error)")

    @property
    def n_cols(self) -> int:
        return self._n

    @property
    def n_rows(self) -> int:
        return self._m

    @property
    def is_mip(self) -> bool:
        return bool(self._integer.any())

    @property
    def sense(self) -> str:
        return self._sense

    @property
    def highs(self):
        """The underlying ``highspy.Highs`` object (for advanced use; changes bypass validation)."""
        return self._highs

    # ------------------------------------------------------------------ simplex bases (warm starts)
    def save_basis(self) -> tuple[Any, int]:
        """A copy of the current simplex basis and the column count it is for (for
        :meth:`load_basis`; one copy inside HiGHS, no conversion)."""
        return self._highs.getBasis(), self._n

    def load_basis(self, saved: tuple[Any, int]) -> bool:
        """Start the next solve from a basis of :meth:`save_basis` (columns added since enter
        nonbasic at their lower bound). The optimum does not depend on the start, only the work to
        reach it (and, where the optimal duals are not unique, which ones come back). False when HiGHS
        refuses it (the current basis is then kept)."""
        basis, ncols = saved
        if ncols != self._n:
            basis = _highs_basis(np.concatenate([_status_codes(basis.col_status),
                                                 np.zeros(self._n - ncols, dtype=np.int8)]),
                                 _status_codes(basis.row_status))
        return _highs_ok(self._highs.setBasis(basis))

    def basis_codes(self) -> Optional[np.ndarray]:
        """The current simplex basis as HiGHS status codes (``int8``: the columns, then the rows), or
        None when HiGHS holds no valid basis."""
        b = self._highs.getBasis()
        if not b.valid:
            return None
        return np.concatenate([_status_codes(b.col_status), _status_codes(b.row_status)])

    def set_basis_codes(self, cols: np.ndarray, rows: np.ndarray) -> bool:
        """Start the next solve from the basis given as HiGHS status codes (:meth:`basis_codes`'s
        layout, columns and rows apart); False when the sizes do not match or HiGHS refuses it."""
        where = "LinearModel.set_basis_codes()"
        # (HighsBasisStatus codes: 0 lower, 1 basic, 2 upper, 3 zero, 4 nonbasic)
        cols = as_int_array(cols, "cols", where, ndim=1, lower=0, upper=4)
        rows = as_int_array(rows, "rows", where, ndim=1, lower=0, upper=4)
        if len(cols) != self._n or len(rows) != self._m:
            return False
        return _highs_ok(self._highs.setBasis(_highs_basis(cols, rows)))

    # ------------------------------------------------------------------ changes
    def _idx(self, idx: Any, size: int, name: str, where: str) -> np.ndarray:
        arr = np.atleast_1d(np.asarray(idx))
        if arr.dtype == bool:
            if arr.shape != (size,):
                raise InvalidInputError(f"{where}: boolean {name} mask must have length {size}")
            return np.flatnonzero(arr).astype(np.int32)
        if arr.size and (not np.issubdtype(arr.dtype, np.integer) or arr.min() < 0 or arr.max() >= size):
            raise InvalidInputError(f"{where}: {name} must be integers in [0, {size}), got {arr!r}")
        return arr.astype(np.int32)

    def set_objective(self, c: Any, *, offset: Optional[float] = None, sense: Optional[str] = None) -> None:
        """Replace the whole objective vector (and optionally the offset and sense)."""
        where = "LinearModel.set_objective()"
        cost = as_float_array(c, "c", where, shape=(self._n,))
        self._highs.changeColsCost(self._n, np.arange(self._n, dtype=np.int32), cost)
        if offset is not None:
            self._offset = check_real(offset, "offset", where)
            self._highs.changeObjectiveOffset(self._offset)
        if sense is not None:
            import highspy

            self._sense = check_choice(sense, "sense", where, ("min", "max"))
            self._highs.changeObjectiveSense(highspy.ObjSense.kMaximize if sense == "max"
                                             else highspy.ObjSense.kMinimize)

    def set_objective_coefficients(self, cols: Any, values: Any) -> None:
        """Change the objective coefficients of ``cols`` only."""
        where = "LinearModel.set_objective_coefficients()"
        idx = self._idx(cols, self._n, "cols", where)
        vals = as_float_array(values, "values", where, shape=(idx.size,))
        self._highs.changeColsCost(idx.size, idx, vals)

    def set_row_bounds(self, rows: Any, lower: Any, upper: Any) -> None:
        """Change the bounds of ``rows`` (``-inf``/``inf`` allowed)."""
        where = "LinearModel.set_row_bounds()"
        idx = self._idx(rows, self._m, "rows", where)
        lo = _bound_vector(lower, idx.size, "lower", where, -INF)
        hi = _bound_vector(upper, idx.size, "upper", where, INF)
        _check_order(lo, hi, idx, where)
        self._highs.changeRowsBounds(idx.size, idx, lo, hi)

    def set_col_bounds(self, cols: Any, lower: Any, upper: Any) -> None:
        """Change the bounds of ``cols``."""
        where = "LinearModel.set_col_bounds()"
        idx = self._idx(cols, self._n, "cols", where)
        lo = _bound_vector(lower, idx.size, "lower", where, -INF)
        hi = _bound_vector(upper, idx.size, "upper", where, INF)
        _check_order(lo, hi, idx, where)
        self._highs.changeColsBounds(idx.size, idx, lo, hi)

    def set_coefficients(self, rows: Any, cols: Any, values: Any) -> None:
        """Set ``A[rows[k], cols[k]] = values[k]`` (HiGHS changes single entries; a zero removes one)."""
        where = "LinearModel.set_coefficients()"
        r = self._idx(rows, self._m, "rows", where)
        c = self._idx(cols, self._n, "cols", where)
        if r.size != c.size:
            raise InvalidInputError(f"{where}: rows and cols differ in length ({r.size} vs {c.size})")
        v = as_float_array(values, "values", where, shape=(r.size,))
        change = self._highs.changeCoeff
        for i, j, x in zip(r.tolist(), c.tolist(), v.tolist()):
            change(i, j, x)

    def set_integrality(self, cols: Any, integer: Any) -> None:
        """Mark ``cols`` integer (True) or continuous (False), e.g. to solve an LP relaxation."""
        import highspy

        where = "LinearModel.set_integrality()"
        idx = self._idx(cols, self._n, "cols", where)
        flags = _flags(integer, idx.size, "integer", where)
        self._integer[idx] = flags
        types = np.array([int(highspy.HighsVarType.kInteger) if f else int(highspy.HighsVarType.kContinuous)
                          for f in flags], dtype=np.uint8)
        self._highs.changeColsIntegrality(idx.size, idx, types)

    def add_rows(self, A: Any, lower: Any = None, upper: Any = None) -> np.ndarray:
        """Append rows in one bulk call; returns their indices."""
        where = "LinearModel.add_rows()"
        M = sp.csr_matrix(_as_matrix(A, self._n, where))
        k = M.shape[0]
        lo = _bound_vector(lower, k, "lower", where, -INF)
        hi = _bound_vector(upper, k, "upper", where, INF)
        self._highs.addRows(k, lo, hi, M.nnz, M.indptr[:-1].astype(np.int32), M.indices.astype(np.int32), M.data)
        first = self._m
        self._m += k
        return np.arange(first, self._m)

    def add_cols(self, c: Any, A: Any = None, lower: Any = 0.0, upper: Any = INF, *,
                 integrality: Any = None) -> np.ndarray:
        """Append columns in one bulk ``addCols`` call; returns their indices.

        ``A`` has shape ``(n_rows, k)`` (the new columns' entries in the existing rows; None for
        empty columns). HiGHS keeps the current basis, the new columns entering nonbasic, so the next
        LP solve restarts from that basis (column generation's re-solve), not from scratch.

        Parameters
        ----------
        c : array_like, shape (k,)
            Objective coefficients of the new columns.
        A : array_like or scipy.sparse matrix, shape (n_rows, k), optional
        lower, upper : array_like or float
            Column bounds (default ``0`` and ``inf``).
        integrality : array_like of bool, shape (k,), optional
            True where a new column is integer (default continuous).

        Examples
        --------
        >>> m = LinearModel([1.0], [[1.0]], row_lower=[2.0], sense="min")
        >>> m.add_cols([0.5], [[1.0]], upper=1.0).tolist()
        [1]
        >>> float(m.solve().objective)
        1.5
        """
        where = "LinearModel.add_cols()"
        cost = as_float_array(c, "c", where, ndim=1)
        k = cost.shape[0]
        if A is None:
            M = sp.csc_matrix((self._m, k))
        else:
            M = _as_matrix(A, k, where)
            if M.shape[0] != self._m:
                raise InvalidInputError(f"{where}: A has {M.shape[0]} rows but the model has {self._m}")
        lo = _bound_vector(lower, k, "lower", where, 0.0)
        hi = _bound_vector(upper, k, "upper", where, INF)
        _check_order(lo, hi, np.arange(self._n, self._n + k), where)
        integ = np.zeros(k, dtype=bool) if integrality is None else _flags(integrality, k, "integrality", where)
        if k == 0:
            return np.arange(self._n, self._n)
        status = self._highs.addCols(k, cost, lo, hi, M.nnz, M.indptr[:-1].astype(np.int32),
                                     M.indices.astype(np.int32), M.data)
        if int(status) < 0:
            raise BackendError(f"{where}: HiGHS refused the {k} new columns")
        first = self._n
        self._n += k
        self._integer = np.concatenate([self._integer, integ])
        idx = np.arange(first, self._n)
        if integ.any():
            self.set_integrality(idx[integ], True)
        return idx

    # ------------------------------------------------------------------ reading back
    def arrays(self) -> dict[str, Any]:
        """The model as arrays (read back from HiGHS, so it reflects every change)."""
        lp = self._highs.getLp()
        M = sp.csc_matrix((np.asarray(lp.a_matrix_.value_), np.asarray(lp.a_matrix_.index_),
                           np.asarray(lp.a_matrix_.start_)), shape=(self._m, self._n))
        if str(lp.a_matrix_.format_).endswith("kRowwise"):
            M = sp.csr_matrix((np.asarray(lp.a_matrix_.value_), np.asarray(lp.a_matrix_.index_),
                               np.asarray(lp.a_matrix_.start_)), shape=(self._m, self._n)).tocsc()
        return {
            "c": np.asarray(lp.col_cost_, dtype=float), "A": M,
            "row_lower": np.asarray(lp.row_lower_, dtype=float), "row_upper": np.asarray(lp.row_upper_, dtype=float),
            "col_lower": np.asarray(lp.col_lower_, dtype=float), "col_upper": np.asarray(lp.col_upper_, dtype=float),
            "integrality": self._integer.copy(), "sense": self._sense, "offset": float(lp.offset_),
        }

    def to_pyomo(self):
        """The model as a Pyomo ``ConcreteModel`` (variables ``x[j]``, constraints ``rows[i]``)."""
        return to_pyomo(**self.arrays())

    def write_mps(self, path: "str | os.PathLike[str]") -> None:
        """Write the model as a (free) MPS file, atomically."""

        where = "LinearModel.write_mps()"
        if not isinstance(path, (str, os.PathLike)):
            raise InvalidInputError(f"{where}: path must be a str or os.PathLike, got {type(path).__name__}")
        if os.path.isdir(path):
            raise InvalidInputError(f"{where}: {os.fspath(path)!r} is a directory")
        parent = os.path.dirname(os.path.abspath(os.fspath(path)))
        if not os.path.isdir(parent) or not os.access(parent, os.W_OK):
            raise InvalidInputError(f"{where}: cannot write {os.fspath(path)!r}: its directory does not exist or "
                                    "is not writable")
        try:
            with atomic_path(path, suffix=".mps") as tmp:
                status = self._highs.writeModel(str(tmp))
                if int(status) < 0:
                    raise BackendError(f"{where}: HiGHS failed to write {os.fspath(path)!r}")
        except OSError as err:
            raise InvalidInputError(f"{where}: cannot write {os.fspath(path)!r}: {err}") from err

    # ------------------------------------------------------------------ solving
    def solve(self, *, time_limit: Optional[float] = None, mip_rel_gap: Optional[float] = None,
              mip_abs_gap: Optional[float] = None, threads: Optional[int] = None, seed: Any = 0,
              warm_start: Any = None, callback: Optional[Callable] = None,
              options: Optional[Mapping[str, Any]] = None, certify: bool = False,
              certificate_node_limit: int = 100_000) -> LinearResult:
        """Solve the current model.

        Parameters
        ----------
        time_limit : float, optional
            Wall-clock seconds; on expiry the best incumbent comes back with status TIME_LIMIT.
        mip_rel_gap, mip_abs_gap : float, optional
            Stop when the relative/absolute gap is below these (HiGHS defaults 1e-4 / 1e-6).
        threads : int, optional
            HiGHS threads (process-wide in HiGHS: a change resets its scheduler).
        seed : int, Generator or None
            Drives HiGHS ``random_seed`` (default 0, so repeated solves agree).
        warm_start : array_like, optional
            A (possibly partial, NaN = unknown) starting solution for the MIP.
        callback : callable, optional
            Receives :class:`engine.events.Incumbent` for each improving MIP solution; raising
            ``StopIteration`` stops the solve (status STOPPED, best incumbent returned).
        options : mapping, optional
            Extra HiGHS options (unknown keys warn; a value HiGHS would refuse raises
            :class:`~engine.errors.InvalidInputError`).
        certify : bool
            Re-prove HiGHS's answer instead of taking its word (default False). An LP's optimum is
            certified by a safe dual bound computed in numpy from HiGHS's duals; a MIP's by a
            best-first branch-and-bound over the integer columns with safe LP bounds, started from
            HiGHS's incumbent (HiGHS's branch-and-cut can return a wrong "optimal", see
            :mod:`solvers.certificate`). Status OPTIMAL then means certified; when the certificate
            does not close within ``certificate_node_limit`` LPs or the time limit, a claimed
            OPTIMAL becomes FEASIBLE with the certificate's proven bound.
        certificate_node_limit : int
            Most LPs of the certificate (default 100 000).
        """
        where = "LinearModel.solve()"
        tl = check_time_limit(time_limit, where)
        if mip_rel_gap is not None:
            mip_rel_gap = check_real(mip_rel_gap, "mip_rel_gap", where, lower=0.0)
        if mip_abs_gap is not None:
            mip_abs_gap = check_real(mip_abs_gap, "mip_abs_gap", where, lower=0.0)
        if threads is not None:
            threads = check_int(threads, "threads", where, lower=1)
        extra = validate_highs_options(options, where)
        seed_obj = resolve_seed(seed, where=where)
        start = None
        if warm_start is not None:
            start = as_float_array(warm_start, "warm_start", where, shape=(self._n,), finite=False)

        h = self._highs
        # per-solve settings hold for this solve only: restored afterwards so that a later solve of
        # the same model (re-solves are the point of the class) does not inherit them
        saved = {key: _option(h, key) for key in ("mip_rel_gap", "mip_abs_gap", *extra)}
        highs_seed = seed_obj.int_seed("highs")
        h.setOptionValue("random_seed", highs_seed)
        h.setOptionValue("time_limit", float(tl) if tl is not None and math.isfinite(tl) else INF)
        if mip_rel_gap is not None:
            h.setOptionValue("mip_rel_gap", mip_rel_gap)
        if mip_abs_gap is not None:
            h.setOptionValue("mip_abs_gap", mip_abs_gap)
        if threads is not None and threads != self._threads_set:
            h.resetGlobalScheduler(True)
            h.setOptionValue("threads", threads)
            self._threads_set = threads
        for key, val in extra.items():
            h.setOptionValue(key, val)
        if start is not None and self.is_mip:
            self._set_start(start)

        stop_flag = {"stop": False}
        if callback is not None and self.is_mip:
            self._attach_callback(callback, stop_flag)
        t0 = time.perf_counter()
        try:
            h.run()
        finally:
            if callback is not None and self.is_mip:
                h.clearCallbacks() if hasattr(h, "clearCallbacks") else None
        runtime = time.perf_counter() - t0
        params = {
            "time_limit": tl, "threads": threads, "seed": seed_obj.root, "highs_random_seed": highs_seed,
            "mip_rel_gap": _option(h, "mip_rel_gap"), "mip_abs_gap": _option(h, "mip_abs_gap"),
            "options": dict(extra), "warm_start": start is not None,
        }
        result = self._result(runtime, params, stopped=stop_flag["stop"])
        for key, val in saved.items():
            if val is not None:
                h.setOptionValue(key, val)
        if certify and result.status not in (Status.UNBOUNDED, Status.ERROR):
            limit = check_int(certificate_node_limit, "certificate_node_limit", where, lower=1)
            params["certify"] = True
            params["certificate_node_limit"] = limit
            deadline = None if tl is None or not math.isfinite(tl) else t0 + tl
            abs_gap = mip_abs_gap if mip_abs_gap is not None else _option(h, "mip_abs_gap")
            result = self._certified(result, deadline=deadline, abs_gap=float(abs_gap), node_limit=limit, t0=t0)
        return result

    def _relaxed_max(self) -> tuple["LinearModel", float]:
        """The LP relaxation as a maximisation (objective times ``sign``), and ``sign``."""
        arr = self.arrays()
        sign = 1.0 if self._sense == "max" else -1.0
        lp = LinearModel(sign * arr["c"], arr["A"], arr["row_lower"], arr["row_upper"], col_lower=arr["col_lower"],
                         col_upper=arr["col_upper"], sense="max", offset=sign * arr["offset"])
        return lp, sign

    def _certified(self, result: LinearResult, *, deadline: Optional[float], abs_gap: float, node_limit: int,
                   t0: float) -> LinearResult:
        """``result`` re-proved by :mod:`solvers.certificate` (bound and status from the certificate)."""
        from dataclasses import replace


        lp, sign = self._relaxed_max()
        arr = lp.arrays()
        A = arr["A"]
        tol = 1e-6

        def verified(x: Optional[np.ndarray]) -> Optional[float]:
            """The objective of ``x`` when it satisfies every row and bound (to ``tol``, scaled), else None."""
            if x is None or not np.all(np.isfinite(x)):
                return None
            act = A @ x
            scale = 1.0 + np.abs(act)
            if np.any(act < arr["row_lower"] - tol * scale) or np.any(act > arr["row_upper"] + tol * scale):
                return None
            if np.any(x < arr["col_lower"] - tol * (1 + np.abs(x))) or np.any(x > arr["col_upper"] + tol * (1 + np.abs(x))):
                return None
            ints = self._integer
            if np.any(np.abs(x[ints] - np.round(x[ints])) > tol):
                return None
            return float(arr["c"] @ x + arr["offset"])

        solver_bound = result.bound
        claimed = result.status == Status.OPTIMAL
        if not self.is_mip:
            if result.status != Status.OPTIMAL or result.row_dual is None:
                return replace(result, solver_bound=solver_bound, params={**result.params})
            value = verified(result.x)
            bound = safe_dual_bound(arr["c"], A, arr["row_lower"], arr["row_upper"], arr["col_lower"],
                                    arr["col_upper"], sign * result.row_dual, offset=arr["offset"], x_hint=result.x)
            ok = value is not None and bound - value <= abs_gap + 1e-9 * (1 + abs(value))
            status = Status.OPTIMAL if ok else Status.FEASIBLE
            message = (f"{result.message}; certified by a safe dual bound" if ok else
                       f"{result.message}; the safe dual bound {sign * bound:.9g} does not certify it")
            return replace(result, status=status, message=message, bound=sign * bound,
                           gap=abs(bound - value) if value is not None else math.nan, proven_optimal=ok,
                           certified=ok, solver_bound=solver_bound, runtime=time.perf_counter() - t0)

        ints = np.flatnonzero(self._integer)

        def leaf(values: np.ndarray):
            lp.set_col_bounds(ints, values, values)
            res = lp.solve()
            if res.x is None:
                return None
            x = res.x.copy()
            x[ints] = values
            value = verified(x)
            return None if value is None else (value, x)

        start = result.x if result.x is not None else None
        start_value = verified(start)
        cert = certify_max(lp, ints, leaf, incumbent=start if start_value is not None else None,
                           incumbent_value=-math.inf if start_value is None else start_value, abs_gap=abs_gap,
                           deadline=deadline, node_limit=node_limit)
        x = None if cert.x is None else np.asarray(cert.x, dtype=float)
        objective = sign * cert.value if x is not None else math.nan
        bound = sign * cert.bound if math.isfinite(cert.bound) else math.nan
        if cert.closed and x is not None:
            status = Status.OPTIMAL
            message = f"{result.message}; optimality certified by the engine ({cert.nodes} LPs, safe dual bounds)"
            if start_value is None or cert.value > start_value + abs_gap:
                message = (f"HiGHS said {result.message} at {result.objective:.9g}, but the engine's certificate "
                           f"found {objective:.9g} ({cert.nodes} LPs, safe dual bounds)")
        elif cert.closed:
            status, message = Status.INFEASIBLE, f"{result.message}; no feasible point (certified by the engine)"
            x, objective, bound = None, math.nan, math.nan
        else:
            status = Status.FEASIBLE if claimed else result.status
            message = (f"{result.message} (HiGHS bound {solver_bound:.9g}); the engine's certificate did not close: "
                       f"{cert.reason}, proven bound {bound:.9g}")
        gap = abs(objective - bound) if x is not None and math.isfinite(bound) else math.nan
        ok = status == Status.OPTIMAL
        row_value = None if x is None else np.asarray(A @ x, dtype=float)
        return replace(result, status=status, message=message, x=x, objective=objective, bound=bound, gap=gap,
                       proven_optimal=ok, certified=ok, solver_bound=solver_bound, certificate_nodes=cert.nodes,
                       row_value=row_value, runtime=time.perf_counter() - t0)

    def _set_start(self, start: np.ndarray) -> None:
        import highspy

        known = np.flatnonzero(np.isfinite(start))
        sol = highspy.HighsSolution()
        if known.size == self._n:
            sol.col_value = start
            self._highs.setSolution(sol)
        else:
            self._highs.setSolution(known.size, known.astype(np.int32), start[known])

    def _attach_callback(self, callback: Callable, stop_flag: dict) -> None:
        import highspy

        sense = self._sense

        def on_improving(e: Any) -> None:
            if stop_flag["stop"]:
                return
            data = e.data_out
            obj = float(data.objective_function_value)
            bound = float(data.mip_dual_bound)
            x = np.asarray(data.mip_solution, dtype=float).copy()
            if emit(callback, Incumbent("LinearModel.solve", objective=obj, bound=bound, x=x)):
                stop_flag["stop"] = True

        def on_interrupt(e: Any) -> None:
            if stop_flag["stop"]:
                e.data_in.user_interrupt = True

        self._highs.cbMipImprovingSolution.subscribe(on_improving)
        self._highs.cbMipInterrupt.subscribe(on_interrupt)
        del sense, highspy

    def _result(self, runtime: float, params: dict, *, stopped: bool) -> LinearResult:
        import highspy

        h = self._highs
        ms = h.getModelStatus()
        name = str(ms).rsplit(".", 1)[-1]
        if name == "kUnboundedOrInfeasible":
            name = self._disambiguate()
        status = _STATUS.get(name, Status.ERROR)
        if stopped and status in (Status.STOPPED, Status.OPTIMAL, Status.FEASIBLE):
            status = Status.STOPPED if name != "kOptimal" else Status.OPTIMAL
        info = h.getInfo()
        has_x = info.primal_solution_status == highspy.SolutionStatus.kSolutionStatusFeasible or name == "kModelEmpty"
        sol = h.getSolution()
        x = np.asarray(sol.col_value, dtype=float).copy() if has_x else None
        if x is not None and self.is_mip:
            ints = self._integer
            x[ints] = np.round(x[ints])
        objective = float(info.objective_function_value) if has_x else math.nan
        if name == "kModelEmpty":
            objective = self._offset
            x = np.zeros(self._n)
        if self.is_mip:
            bound = float(info.mip_dual_bound)
            nodes = int(info.mip_node_count)
            nit = nodes
            rel = float(info.mip_gap)
            row_dual = col_dual = None
        else:
            bound = objective if status == Status.OPTIMAL else math.nan
            nodes = 0
            nit = int(info.simplex_iteration_count) + int(info.ipm_iteration_count)
            rel = 0.0 if status == Status.OPTIMAL else math.nan
            dual_ok = info.dual_solution_status == highspy.SolutionStatus.kSolutionStatusFeasible
            row_dual = np.asarray(sol.row_dual, dtype=float).copy() if dual_ok else None
            col_dual = np.asarray(sol.col_dual, dtype=float).copy() if dual_ok else None
        if not math.isfinite(bound):
            bound = math.nan if not (status == Status.INFEASIBLE) else bound
        gap = abs(objective - bound) if (math.isfinite(objective) and math.isfinite(bound)) else math.nan
        if status == Status.OPTIMAL and not self.is_mip:
            gap = 0.0
        if status in (Status.TIME_LIMIT, Status.ITERATION_LIMIT, Status.STOPPED) and x is None:
            message = f"{name}: no feasible solution found"
        else:
            message = h.modelStatusToString(ms)
        row_value = np.asarray(sol.row_value, dtype=float).copy() if has_x else None
        proven = status == Status.OPTIMAL
        return LinearResult(status=status, message=message, x=x, objective=objective, bound=bound, gap=gap,
                            nit=nit, runtime=runtime, method="milp" if self.is_mip else "lp", backend="highs",
                            params=params, proven_optimal=proven, row_value=row_value, row_dual=row_dual,
                            col_dual=col_dual, node_count=nodes, mip_rel_gap=rel)

    def _disambiguate(self) -> str:
        """HiGHS's presolve may only say 'unbounded or infeasible'; re-run without it to tell which."""
        h = self._highs
        h.setOptionValue("presolve", "off")
        try:
            h.run()
        finally:
            h.setOptionValue("presolve", "choose")
        name = str(h.getModelStatus()).rsplit(".", 1)[-1]
        if name == "kUnboundedOrInfeasible":
            # An LP with zero objective decides feasibility alone.
            return "kInfeasible"
        return name


def solve_milp(c: Any, A: Any = None, row_lower: Any = None, row_upper: Any = None, *, col_lower: Any = 0.0,
               col_upper: Any = INF, integrality: Any = None, sense: str = "min", offset: float = 0.0,
               **solve_options: Any) -> LinearResult:
    """Build a :class:`LinearModel` and solve it once (see ``LinearModel.solve`` for options).

    Examples
    --------
    >>> res = solve_milp([1, 1], [[1, 1]], row_lower=[1.5], integrality=[True, True])
    >>> res.objective
    2.0
    """
    model = LinearModel(c, A, row_lower, row_upper, col_lower=col_lower, col_upper=col_upper,
                        integrality=integrality, sense=sense, offset=offset)
    return model.solve(**solve_options)


def _status_codes(statuses: Any) -> np.ndarray:
    """HiGHS basis statuses as ``int8`` codes (``HighsBasisStatus`` values)."""
    return np.fromiter(map(int, statuses), dtype=np.int8, count=len(statuses))


def _highs_basis(cols: np.ndarray, rows: np.ndarray) -> Any:
    """A valid ``highspy.HighsBasis`` from status codes."""
    import highspy  # (imported where used, as in the rest of this module: it loads the HiGHS library)

    by_code = {int(v): v for v in highspy.HighsBasisStatus.__members__.values()}
    b = highspy.HighsBasis()
    b.col_status = [by_code[c] for c in cols.tolist()]
    b.row_status = [by_code[c] for c in rows.tolist()]
    b.valid = True
    return b


def _highs_ok(status: Any) -> bool:
    return getattr(status, "name", "") == "kOk"
