"""Optimality certificates the engine checks itself, without trusting the MIP solver's word.

HiGHS's branch-and-cut occasionally returns a wrong "optimal" MIP answer: its dual bound is invalid
(on the recorded network-MIP case in ``tests/solvers/test_certificate.py`` HiGHS 1.16 proves
0.114411 "optimal" where 0.137327 is feasible, depending on ``random_seed`` and the feasibility
tolerances, on a fresh model as well as on a re-solved one). This module re-proves optimality with
checks that hold whatever the LP solver returns:

* :func:`safe_dual_bound` -- the bound ``y^T b + max_{l <= x <= u} (c - A^T y)^T x`` of an LP is
  valid for *any* row multipliers ``y`` (weak duality over the box), so a dual vector from HiGHS
  is only a hint: the bound is evaluated in numpy with its rounding error added (Neumaier and
  Shcherbina, "Safe bounds in linear and mixed-integer linear programming", Math. Program. 2004).
  It is rigorous when every column has finite bounds (every network MIP); for a column with an
  infinite bound whose reduced cost is within rounding of zero, the rounding term is charged at
  the LP's primal value instead of at infinity.
* :func:`farkas_infeasible` -- the same argument proves a subproblem infeasible from a dual ray.
* :func:`certify_max` -- a best-first branch-and-bound over chosen integer columns whose node
  bounds are safe dual bounds of the LP relaxation and whose leaves (every branched column fixed)
  are scored by the caller (``NetworkMIP``: the network's forward pass; ``LinearModel``: the LP
  with the integers fixed, itself certified). It starts from the solver's incumbent, so when the
  solver was right it only has to close the gap.
"""

from __future__ import annotations

import heapq
import math
import time
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np
import scipy.sparse as sp

from engine.errors import InvalidInputError
from engine.status import Status
from engine.validation import check_int, check_real

__all__ = ["safe_dual_bound", "farkas_infeasible", "certify_max", "Certificate"]

_EPS = np.finfo(np.float64).eps


def _vector(value, n: int, name: str, where: str, *, allow_inf: bool = True) -> np.ndarray:
    try:
        v = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidInputError(f"{where}: {name} must be an array of numbers, got {type(value).__name__}") from None
    if v.shape != (n,):
        raise InvalidInputError(f"{where}: {name} must have shape ({n},), got {v.shape}")
    if np.isnan(v).any() or (not allow_inf and np.isinf(v).any()):
        raise InvalidInputError(f"{where}: {name} must be {'finite' if not allow_inf else 'free of NaN'}")
    return v


def _validate_lp_arrays(where: str, A, row_lower, row_upper, col_lower, col_upper, c=None) -> tuple:
    if not sp.issparse(A) and not isinstance(A, np.ndarray):
        raise InvalidInputError(f"{where}: A must be a scipy.sparse matrix or a 2-d array, got {type(A).__name__}")
    A = sp.csr_matrix(A, dtype=np.float64)
    m, n = A.shape
    if not np.all(np.isfinite(A.data)):
        raise InvalidInputError(f"{where}: A has non-finite entries")
    rl, ru = (_vector(v, m, name, where) for v, name in ((row_lower, "row_lower"), (row_upper, "row_upper")))
    cl, cu = (_vector(v, n, name, where) for v, name in ((col_lower, "col_lower"), (col_upper, "col_upper")))
    if np.any(rl > ru) or np.any(cl > cu):
        raise InvalidInputError(f"{where}: a lower bound exceeds its upper bound")
    out: tuple = (A, rl, ru, cl, cu)
    if c is not None:
        out = (_vector(c, n, "c", where, allow_inf=False),) + out
    return out


def _box_max(r: np.ndarray, r_err: np.ndarray, lo: np.ndarray, hi: np.ndarray,
             x_hint: Optional[np.ndarray] = None) -> float:
    """Upper bound of ``r @ x`` over ``lo <= x <= hi`` where each ``r_j`` is known to ``+- r_err_j``
    (``inf`` when an unbounded side has a coefficient of the wrong sign).

    A column with an infinite bound whose coefficient has the right sign but lies within its
    rounding error of zero would make every bound infinite; there the rounding term is charged at
    the LP's value ``x_hint`` instead (rigorous only for finite bounds, see the module doc)."""
    up_inf = np.isinf(hi) & (r <= r_err)
    lo_inf = np.isinf(lo) & (r >= -r_err)
    inf_side = up_inf | lo_inf
    extra = 0.0
    if inf_side.any():
        hint = np.zeros_like(r) if x_hint is None else np.abs(np.nan_to_num(x_hint, nan=0.0, posinf=0.0, neginf=0.0))
        extra = float(((np.abs(r) + r_err)[inf_side] * (1.0 + hint[inf_side])).sum())
        r = np.where(up_inf, np.minimum(r, 0.0), r)
        r = np.where(lo_inf, np.maximum(r, 0.0), r)
        r = np.where(up_inf & lo_inf, 0.0, r)
        r_err = np.where(inf_side, 0.0, r_err)
    up = r + r_err
    dn = r - r_err
    with np.errstate(over="ignore", invalid="ignore"):
        terms = np.where(up > 0, up * hi, 0.0) + np.where(dn < 0, dn * lo, 0.0)
    # 0 * inf is nan where a bound is infinite but its coefficient is zero: that term is 0
    terms = np.where((up > 0) & np.isinf(hi), np.where(up > 0, math.inf, 0.0), terms)
    terms = np.where((dn < 0) & np.isinf(lo), np.where(dn < 0, math.inf, 0.0), terms)
    terms = np.nan_to_num(terms, nan=0.0)
    with np.errstate(over="ignore", invalid="ignore"):
        total = float(terms.sum())
        if not math.isfinite(total):
            return math.inf
        return total + extra + (terms.size + 1) * _EPS * float(np.abs(terms).sum())


def _row_part(y: np.ndarray, row_lower: np.ndarray, row_upper: np.ndarray) -> tuple[np.ndarray, float]:
    """Multipliers projected so every term has a finite row bound, and ``sum y_i * (ru_i or rl_i)``."""
    y = np.where((y > 0) & ~np.isfinite(row_upper), 0.0, y)
    y = np.where((y < 0) & ~np.isfinite(row_lower), 0.0, y)
    terms = np.where(y > 0, y * np.where(np.isfinite(row_upper), row_upper, 0.0),
                     y * np.where(np.isfinite(row_lower), row_lower, 0.0))
    return y, float(terms.sum()) + (terms.size + 1) * _EPS * float(np.abs(terms).sum())


def safe_dual_bound(c: np.ndarray, A: sp.spmatrix, row_lower: np.ndarray, row_upper: np.ndarray,
                    col_lower: np.ndarray, col_upper: np.ndarray, y: Optional[np.ndarray], *,
                    offset: float = 0.0, x_hint: Optional[np.ndarray] = None) -> float:
    """A rigorous upper bound on ``max c @ x + offset`` s.t. ``row_lower <= A x <= row_upper``,
    ``col_lower <= x <= col_upper`` (the LP relaxation), from any row multipliers ``y``.

    ``y`` is HiGHS's ``row_dual`` of a maximisation (or None: the box bound). Multipliers whose
    row side is infinite are dropped; floating-point error of every product is added, so the
    result is an upper bound in exact arithmetic too.

    Examples
    --------
    >>> A = sp.csr_matrix([[1.0, 1.0], [1.0, 3.0]])
    >>> b = safe_dual_bound(np.array([3.0, 2.0]), A, np.array([-np.inf, 1.0]), np.array([4.0, 6.0]),
    ...                     np.zeros(2), np.array([3.0, 10.0]), np.array([0.0, 2 / 3]))
    >>> bool(11.0 <= b <= 11.0 + 1e-12)
    True
    """
    where = "safe_dual_bound()"
    c, A, row_lower, row_upper, col_lower, col_upper = _validate_lp_arrays(where, A, row_lower, row_upper, col_lower,
                                                                           col_upper, c)
    if y is not None:
        y = _vector(y, A.shape[0], "y", where)
    if x_hint is not None:
        x_hint = _vector(x_hint, A.shape[1], "x_hint", where)
    offset = check_real(offset, "offset", where)
    return _Transposed(A).bound(c, row_lower, row_upper, col_lower, col_upper, y, offset, x_hint)


class _Transposed:
    """``A^T``, ``|A|^T`` and column counts, computed once for many bounds over one matrix."""

    def __init__(self, A: sp.spmatrix) -> None:
        self.A = A
        self.At = sp.csr_matrix(A.T)
        self.abs_At = abs(self.At)
        self.counts = np.diff(sp.csc_matrix(A).indptr)

    def bound(self, c, row_lower, row_upper, col_lower, col_upper, y, offset, x_hint=None) -> float:
        n = c.shape[0]
        if y is None or self.A.shape[0] == 0:
            return float(offset) + _box_max(c, np.zeros(n), col_lower, col_upper)
        y = np.asarray(y, dtype=np.float64)
        if not np.all(np.isfinite(y)):
            return float(offset) + _box_max(c, np.zeros(n), col_lower, col_upper)
        y, row_term = _row_part(y, row_lower, row_upper)
        r = c - self.At @ y
        # error of each r_j = c_j - sum_i A_ij y_i: (k_j + 2) u (|c_j| + sum_i |A_ij y_i|)
        r_err = (self.counts + 2) * _EPS * (np.abs(c) + self.abs_At @ np.abs(y))
        col_term = _box_max(r, r_err, col_lower, col_upper, x_hint)
        if not math.isfinite(col_term):
            return math.inf
        return float(offset) + row_term + col_term + 4 * _EPS * (abs(row_term) + abs(col_term) + abs(offset))


def farkas_infeasible(A: sp.spmatrix, row_lower: np.ndarray, row_upper: np.ndarray, col_lower: np.ndarray,
                      col_upper: np.ndarray, ray: np.ndarray) -> bool:
    """Whether the row multipliers ``ray`` prove ``row_lower <= A x <= row_upper`` infeasible over the box.

    For any ``y``, every feasible ``x`` has ``0 = y^T A x - y^T A x <= row_term(y) + max_box(-A^T y x)``,
    so a ray that makes the right side negative is a proof (checked with rounding error added, for
    both signs of ``ray`` since solvers differ in their convention).
    """
    where = "farkas_infeasible()"
    A, row_lower, row_upper, col_lower, col_upper = _validate_lp_arrays(where, A, row_lower, row_upper, col_lower,
                                                                        col_upper)
    ray = _vector(ray, A.shape[0], "ray", where)
    return _farkas(_Transposed(A), row_lower, row_upper, col_lower, col_upper, ray)


def _farkas(T: "_Transposed", row_lower, row_upper, col_lower, col_upper, ray) -> bool:
    ray = np.asarray(ray, dtype=np.float64)
    if ray.shape != (T.A.shape[0],) or not np.all(np.isfinite(ray)) or not np.any(ray):
        return False
    zero = np.zeros(T.A.shape[1])
    return any(T.bound(zero, row_lower, row_upper, col_lower, col_upper, y, 0.0) < 0 for y in (ray, -ray))


@dataclass(frozen=True)
class Certificate:
    """Outcome of :func:`certify_max` (maximisation of ``value``).

    ``x`` / ``value``: the best point found (the incumbent given, or a better one); ``bound``: a
    proven upper bound on the optimum (the incumbent's value when ``closed``, the largest open
    node's safe bound otherwise); ``closed``: every node was pruned or scored, so ``value`` is the
    optimum within ``abs_gap``; ``nodes``: LPs solved; ``reason``: why it stopped when not closed.
    """

    x: Optional[np.ndarray]
    value: float
    bound: float
    closed: bool
    nodes: int
    reason: str = ""
    method: str = "safe LP dual bounds"


def certify_max(lp, branch_cols: np.ndarray, leaf: Callable[[np.ndarray], Optional[tuple[float, np.ndarray]]], *,
                incumbent: Optional[np.ndarray] = None, incumbent_value: float = -math.inf,
                abs_gap: float = 1e-6, deadline: Optional[float] = None, node_limit: int = 100_000,
                integral_tol: float = 1e-9) -> Certificate:
    """Prove (or improve) an incumbent of ``max`` over a MIP by best-first branch-and-bound on
    ``branch_cols`` with safe LP bounds.

    Parameters
    ----------
    lp : solvers.LinearModel
        The LP relaxation, sense ``"max"``, every column continuous; its column bounds of
        ``branch_cols`` are changed during the search and restored afterwards.
    branch_cols : array of int
        The integer columns branched on (0/1 or general integers).
    leaf : callable
        ``leaf(values)`` with ``values`` the integer values of ``branch_cols`` at a node where all
        of them are fixed: ``(value, x)`` of the best completion (its exact value), or None when no
        completion is feasible. Also called on LP solutions integral in ``branch_cols``.
    incumbent, incumbent_value
        Known solution (``x`` as returned by ``leaf``) and its value.
    abs_gap : float
        Nodes whose bound is within ``abs_gap`` of the incumbent are pruned.
    deadline : float, optional
        ``time.perf_counter()`` value at which the search stops (not closed).
    node_limit : int
        Most LPs solved.
    """
    where = "certify_max()"
    if not callable(getattr(lp, "arrays", None)) or getattr(lp, "sense", None) != "max":
        raise InvalidInputError(f"{where}: lp must be a solvers.LinearModel with sense 'max', got "
                                f"{type(lp).__name__}")
    if not callable(leaf):
        raise InvalidInputError(f"{where}: leaf must be callable, got {type(leaf).__name__}")
    arr = lp.arrays()
    try:
        cols_in = np.asarray(branch_cols)
    except (TypeError, ValueError):
        cols_in = np.asarray([None], dtype=object)
    if cols_in.ndim != 1 or (cols_in.size and cols_in.dtype.kind not in "iu"):
        raise InvalidInputError(f"{where}: branch_cols must be a 1-d array of column indices")
    n_cols = arr["c"].shape[0]
    if cols_in.size and (cols_in.min() < 0 or cols_in.max() >= n_cols or np.unique(cols_in).size != cols_in.size):
        raise InvalidInputError(f"{where}: branch_cols must be distinct indices in [0, {n_cols})")
    abs_gap = check_real(abs_gap, "abs_gap", where, lower=0.0)
    integral_tol = check_real(integral_tol, "integral_tol", where, lower=0.0, upper=0.5)
    node_limit = check_int(node_limit, "node_limit", where, lower=1)
    if deadline is not None:
        deadline = check_real(deadline, "deadline", where)
    if incumbent_value is not None and not isinstance(incumbent_value, (int, float, np.floating, np.integer)):
        raise InvalidInputError(f"{where}: incumbent_value must be a number, got {type(incumbent_value).__name__}")
    T = _Transposed(arr["A"].tocsr())
    c, rl, ru = arr["c"], arr["row_lower"], arr["row_upper"]
    base_lo, base_hi = arr["col_lower"].copy(), arr["col_upper"].copy()
    offset = arr["offset"]
    cols = np.asarray(branch_cols, dtype=np.int64)
    best_x, best_v = incumbent, float(incumbent_value)
    counter = 0
    nodes = 0
    root_lo, root_hi = base_lo[cols].copy(), base_hi[cols].copy()
    heap: list = [(-math.inf, counter, root_lo, root_hi)]
    reason = ""
    try:
        while heap:
            neg_parent, _, lo, hi = heap[0]
            if -neg_parent <= best_v + abs_gap:
                heap.clear()
                break
            if nodes >= node_limit:
                reason = f"node limit {node_limit} reached"
                break
            if deadline is not None and nodes and time.perf_counter() >= deadline:
                reason = "time limit reached"
                break
            heapq.heappop(heap)
            fixed = lo == hi
            if fixed.all():
                out = leaf(np.round(lo).astype(np.int64))
                if out is not None and out[0] > best_v:
                    best_v, best_x = float(out[0]), out[1]
                continue
            nodes += 1
            col_lo, col_hi = base_lo.copy(), base_hi.copy()
            col_lo[cols], col_hi[cols] = lo, hi
            lp.set_col_bounds(cols, lo, hi)
            res = lp.solve()
            bound = -neg_parent
            values = None
            if res.status == Status.INFEASIBLE:
                ray = _dual_ray(lp)
                if ray is not None and _farkas(T, rl, ru, col_lo, col_hi, ray):
                    continue
                node_bound = T.bound(c, rl, ru, col_lo, col_hi, None, offset)
            else:
                node_bound = T.bound(c, rl, ru, col_lo, col_hi, res.row_dual, offset, res.x)
                if res.x is not None:
                    values = res.x[cols]
            bound = min(bound, node_bound)
            if bound <= best_v + abs_gap:
                continue
            free = np.flatnonzero(~fixed)
            if values is not None:
                frac = np.abs(values[free] - np.round(values[free]))
                if frac.max() <= integral_tol:
                    point = np.round(np.where(fixed, lo, values)).astype(np.int64)
                    out = leaf(point)
                    if out is not None and out[0] > best_v:
                        best_v, best_x = float(out[0]), out[1]
                        if bound <= best_v + abs_gap:
                            continue
                j = int(free[int(np.argmax(frac))])
                guess = float(np.round(values[j]))
                if frac.max() > integral_tol:
                    split = math.floor(values[j])
                else:               # integral: isolate the LP's value in one child
                    split = guess if guess < hi[j] else guess - 1
            else:
                j = int(free[0])
                if math.isfinite(lo[j]) and math.isfinite(hi[j]):
                    split = math.floor((lo[j] + hi[j]) / 2)
                else:
                    split = lo[j] if math.isfinite(lo[j]) else (hi[j] - 1 if math.isfinite(hi[j]) else 0.0)
                guess = split
            # children [lo, split] and [split + 1, hi]; the one holding the LP's value first
            down_hi = hi.copy()
            down_hi[j] = min(hi[j], split)
            up_lo = lo.copy()
            up_lo[j] = max(lo[j], split + 1)
            children = [(lo, down_hi), (up_lo, hi)]
            if guess > split:
                children.reverse()
            for clo, chi in children:
                if np.all(clo <= chi):
                    counter += 1
                    heapq.heappush(heap, (-bound, counter, clo, chi))
    finally:
        lp.set_col_bounds(cols, root_lo, root_hi)
    closed = not heap
    open_bound = max((-item[0] for item in heap), default=-math.inf)
    bound = best_v if closed else max(best_v, open_bound)
    return Certificate(x=best_x, value=best_v, bound=bound, closed=closed, nodes=nodes, reason=reason)


def _dual_ray(lp) -> Optional[np.ndarray]:
    h = lp.highs
    try:
        out = h.getDualRay()
    except Exception:  # noqa: BLE001 - a missing ray only costs pruning power
        return None
    if isinstance(out, tuple) and len(out) >= 3 and out[1]:
        return np.asarray(out[2], dtype=np.float64)
    return None
