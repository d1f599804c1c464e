"""Feasible sets of binary actions, defined by linear rows over actions and auxiliary variables.

A :class:`FeasibleSet` is the set of 0/1 action vectors ``a`` (length ``n_actions``) for which
auxiliary variables ``aux`` (length ``n_aux``, continuous or integer, within bounds) exist with::

    row_lower <= A @ concat(a, aux) <= row_upper

It is the constraint part of every "choose a combinatorial action" problem of the engine
(:class:`solvers.NetworkMIP` maximises a network over it; the bandit domains build their
constraints as feasible sets). Everything is stored as arrays (``A`` as ``scipy.sparse``) and
turns into a :class:`solvers.LinearModel` or a Pyomo model in one call.

Membership, enumeration and sampling are exact:

* ``contains(a)`` checks the rows directly when there are no auxiliary variables, and solves a
  small feasibility MIP over the auxiliary variables (HiGHS, model built once and cached)
  otherwise;
* ``enumerate(limit)`` lists every distinct feasible action vector: a depth-first search
  compiled with Numba, pruned by row activity intervals, for pure-row sets; a MIP with no-good
  cuts for sets with auxiliary variables;
* ``sample(rng)`` fixes the variables one by one in a random order, each to a fair coin flip
  unless only the other value keeps the set feasible (an exact feasibility oracle is used at
  every step), so every feasible action has positive probability (``uniform=True`` samples
  exactly uniformly from the enumerated set instead).
"""

from __future__ import annotations

import math
from typing import Any, Optional

import numpy as np
import scipy.sparse as sp

from engine.errors import InvalidInputError
from engine.seeding import resolve_seed
from engine.status import Status
from engine.validation import as_float_array, check_int, check_real
from solvers.highs import LinearModel

__all__ = ["FeasibleSet"]

INF = math.inf
_TOL = 1e-9
#: default ``limit`` of :meth:`FeasibleSet.enumerate`
DEFAULT_ENUMERATE_LIMIT = 1_000_000


#: most action + auxiliary columns a FeasibleSet may have (checked before anything is allocated;
#: raise ``solvers.feasible_set.MAX_COLUMNS`` for larger sets)
MAX_COLUMNS = 10_000_000


def _check_columns(n: int, where: str) -> None:
    if n > MAX_COLUMNS:
        raise InvalidInputError(f"{where}: {n} columns exceed the limit solvers.feasible_set.MAX_COLUMNS = "
                                f"{MAX_COLUMNS}")


def _row_tol(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    scale = np.maximum(np.where(np.isfinite(lo), np.abs(lo), 0.0), np.where(np.isfinite(hi), np.abs(hi), 0.0))
    return _TOL * (1.0 + scale)


# ---------------------------------------------------------------------------- Numba kernels
_KERNELS: dict[str, Any] = {}


def _dfs_kernel():
    """The compiled depth-first enumerator (compiled on first use, cached on disk)."""
    if "dfs" in _KERNELS:
        return _KERNELS["dfs"]
    from numba import njit

    @njit(cache=True)
    def dfs(At, lo, hi, tol, sufmin, sufmax, fixed, limit):  # pragma: no cover - compiled
        # At: (n, m) column j = activity of action j; fixed[j] in {-1 free, 0, 1}.
        n = At.shape[0]
        m = At.shape[1]
        cap = 64 if limit + 1 > 64 else limit + 1
        out = np.empty((cap, n), dtype=np.int8)
        count = 0
        x = np.full(n, -1, dtype=np.int8)
        act = np.zeros(m)
        # root feasibility
        for i in range(m):
            if sufmin[0, i] > hi[i] + tol[i] or sufmax[0, i] < lo[i] - tol[i]:
                return out[:0], 0
        j = 0
        while j >= 0:
            if j == n:
                if count == out.shape[0]:
                    new_cap = out.shape[0] * 2
                    if new_cap > limit + 1:
                        new_cap = limit + 1
                    bigger = np.empty((new_cap, n), dtype=np.int8)
                    bigger[:count] = out[:count]
                    out = bigger
                out[count] = x
                count += 1
                if count > limit:
                    return out[:count], count
                j -= 1
                continue
            prev = x[j]
            if prev == 1:
                for i in range(m):
                    act[i] -= At[j, i]
            v = prev + 1
            if fixed[j] >= 0:
                if prev >= 0:
                    v = 2
                else:
                    v = fixed[j]
            if v > 1:
                x[j] = -1
                j -= 1
                continue
            x[j] = v
            if v == 1:
                for i in range(m):
                    act[i] += At[j, i]
            ok = True
            for i in range(m):
                if act[i] + sufmin[j + 1, i] > hi[i] + tol[i] or act[i] + sufmax[j + 1, i] < lo[i] - tol[i]:
                    ok = False
                    break
            if ok:
                j += 1
        return out[:count], count

    _KERNELS["dfs"] = dfs
    return dfs


class FeasibleSet:
    """Binary action vectors satisfying linear rows, possibly through auxiliary variables.

    Parameters
    ----------
    n_actions : int
        Number of binary action variables ``a`` (the first columns of ``A``).
    A : array_like or scipy.sparse matrix, shape (m, n_actions + n_aux), optional
        Row coefficients over ``concat(a, aux)``; None for no rows (every 0/1 vector).
    row_lower, row_upper : array_like, shape (m,), optional
        Row bounds (``-inf`` / ``inf`` for one-sided rows; default free).
    n_aux : int
        Number of auxiliary variables (default 0).
    aux_lower, aux_upper : array_like or float, optional
        Bounds of the auxiliary variables (default ``0`` and ``inf``, as in
        :class:`solvers.LinearModel` and ``scipy.optimize.milp``).
    aux_integer : array_like of bool, optional
        True where an auxiliary variable is integer (default: all continuous).

    Examples
    --------
    >>> fs = FeasibleSet.budget(4, 2)
    >>> fs.contains([1, 0, 1, 0]), fs.contains([1, 1, 1, 0])
    (True, False)
    >>> len(fs.enumerate())
    11
    >>> # "a0 + a1 <= 2 y, y integer in [0, 1]" -- y is an auxiliary variable
    >>> fs = FeasibleSet(2, [[1, 1, -2]], [-np.inf], [0], n_aux=1, aux_upper=1, aux_integer=[True])
    >>> fs.enumerate().tolist()
    [[0, 0], [0, 1], [1, 0], [1, 1]]
    """

    def __init__(self, n_actions: int, A: Any = None, row_lower: Any = None, row_upper: Any = None,
                 n_aux: int = 0, aux_lower: Any = None, aux_upper: Any = None, aux_integer: Any = None) -> None:
        where = "FeasibleSet()"
        n = check_int(n_actions, "n_actions", where, lower=1)
        k = check_int(n_aux, "n_aux", where, lower=0)
        ncol = n + k
        _check_columns(ncol, where)
        if A is None:
            M = sp.csr_matrix((0, ncol))
        elif sp.issparse(A):
            M = sp.csr_matrix(A, dtype=np.float64)
            if M.nnz and not np.all(np.isfinite(M.data)):
                raise InvalidInputError(f"{where}: A must be finite, got {M.data[~np.isfinite(M.data)][0]}")
        else:
            dense = as_float_array(A, "A", where, ndim=(1, 2))
            if dense.ndim == 1:
                dense = dense[None, :] if dense.size else dense.reshape(0, ncol)
            M = sp.csr_matrix(dense)
        if M.shape[1] != ncol:
            raise InvalidInputError(f"{where}: A must have n_actions + n_aux = {ncol} columns, got {M.shape[1]}")
        M.sum_duplicates()
        M.eliminate_zeros()
        M.sort_indices()
        m = M.shape[0]
        rl = self._vector(row_lower, m, "row_lower", where, -INF)
        ru = self._vector(row_upper, m, "row_upper", where, INF)
        al = self._vector(aux_lower, k, "aux_lower", where, 0.0)
        au = self._vector(aux_upper, k, "aux_upper", where, INF)
        for lo, hi, what in ((rl, ru, "row"), (al, au, "aux")):
            bad = np.flatnonzero(lo > hi)
            if bad.size:
                i = int(bad[0])
                raise InvalidInputError(f"{where}: {what}_lower[{i}] = {lo[i]} exceeds {what}_upper[{i}] = {hi[i]}")
        if np.any(rl == INF) or np.any(ru == -INF):
            raise InvalidInputError(f"{where}: row_lower must be < inf and row_upper > -inf")
        if np.any(al == INF) or np.any(au == -INF):
            raise InvalidInputError(f"{where}: aux_lower must be < inf and aux_upper > -inf")
        if aux_integer is None:
            ai = np.zeros(k, dtype=bool)
        else:
            raw = np.asarray(aux_integer)
            if raw.ndim == 0:
                raw = np.full(k, bool(raw))
            if raw.shape != (k,) or raw.dtype.kind not in "biu":
                raise InvalidInputError(f"{where}: aux_integer must be {k} booleans, got {aux_integer!r}")
            ai = raw.astype(bool)
        self._n = n
        self._k = k
        self._A = M
        self._rl = rl
        self._ru = ru
        # rows scaled to unit size for the numeric checks (contains, enumeration, sampling): sums of
        # coefficients near the float limit (knapsack costs of 1e308) must not overflow to inf
        big = np.zeros(m)
        if M.nnz:
            big = np.maximum(big, abs(M).max(axis=1).toarray().ravel())
        big = np.maximum(big, np.where(np.isfinite(rl), np.abs(rl), 0.0))
        big = np.maximum(big, np.where(np.isfinite(ru), np.abs(ru), 0.0))
        scale = np.where(big > 0, big, 1.0)
        self._As = sp.csr_matrix(sp.diags(1.0 / scale) @ M) if m else M
        self._rls = rl / scale
        self._rus = ru / scale
        self._al = al
        self._au = au
        self._ai = ai
        self._cache: dict[str, Any] = {}

    @staticmethod
    def _vector(value: Any, size: int, name: str, where: str, default: float) -> np.ndarray:
        if value is None:
            return np.full(size, default)
        arr = as_float_array(value, name, where, ndim=(0, 1), finite=False)
        if np.isnan(arr).any():
            raise InvalidInputError(f"{where}: {name} must not contain NaN")
        if arr.ndim == 0:
            return np.full(size, float(arr))
        if arr.shape != (size,):
            raise InvalidInputError(f"{where}: {name} must have length {size}, got {arr.shape[0]}")
        return arr.astype(np.float64).copy()

    # ------------------------------------------------------------------ constructors
    @classmethod
    def budget(cls, n: int, budget: float) -> "FeasibleSet":
        """``sum(a) <= budget`` over ``n`` binary actions.

        Examples
        --------
        >>> FeasibleSet.budget(5, 2).cardinality_range
        (0, 2)
        """
        where = "FeasibleSet.budget()"
        n = check_int(n, "n", where, lower=1)
        _check_columns(n, where)
        b = check_real(budget, "budget", where, lower=0.0)
        return cls(n, np.ones((1, n)), [-INF], [b])

    @classmethod
    def exact_budget(cls, n: int, k: int) -> "FeasibleSet":
        """``sum(a) == k`` over ``n`` binary actions.

        Examples
        --------
        >>> len(FeasibleSet.exact_budget(5, 2).enumerate())
        10
        """
        where = "FeasibleSet.exact_budget()"
        n = check_int(n, "n", where, lower=1)
        _check_columns(n, where)
        k = check_int(k, "k", where, lower=0)
        return cls(n, np.ones((1, n)), [k], [k])

    @classmethod
    def cardinality(cls, n: int, lower: int = 0, upper: Optional[int] = None) -> "FeasibleSet":
        """``lower <= sum(a) <= upper`` over ``n`` binary actions (``upper`` default ``n``).

        Examples
        --------
        >>> len(FeasibleSet.cardinality(4, 1, 2).enumerate())
        10
        """
        where = "FeasibleSet.cardinality()"
        n = check_int(n, "n", where, lower=1)
        _check_columns(n, where)
        lo = check_int(lower, "lower", where, lower=0)
        hi = n if upper is None else check_int(upper, "upper", where, lower=0)
        return cls(n, np.ones((1, n)), [lo], [hi])

    @classmethod
    def knapsack(cls, costs: Any, capacity: float) -> "FeasibleSet":
        """``costs @ a <= capacity`` (costs and capacity non-negative).

        Examples
        --------
        >>> FeasibleSet.knapsack([2, 3, 4], 5).enumerate().tolist()
        [[0, 0, 0], [0, 0, 1], [0, 1, 0], [1, 0, 0], [1, 1, 0]]
        """
        where = "FeasibleSet.knapsack()"
        c = as_float_array(costs, "costs", where, ndim=1, lower=0.0)
        if c.size == 0:
            raise InvalidInputError(f"{where}: costs must not be empty")
        cap = check_real(capacity, "capacity", where, lower=0.0)
        return cls(c.size, c[None, :], [-INF], [cap])

    @classmethod
    def unconstrained(cls, n: int) -> "FeasibleSet":
        """Every 0/1 vector of length ``n``.

        Examples
        --------
        >>> FeasibleSet.unconstrained(3).count()
        8
        """
        n = check_int(n, "n", "FeasibleSet.unconstrained()", lower=1)
        _check_columns(n, "FeasibleSet.unconstrained()")
        return cls(n)

    # ------------------------------------------------------------------ properties
    @property
    def n_actions(self) -> int:
        """Number of binary action variables."""
        return self._n

    @property
    def n_aux(self) -> int:
        """Number of auxiliary variables."""
        return self._k

    @property
    def n_rows(self) -> int:
        """Number of linear rows."""
        return self._A.shape[0]

    @property
    def A(self) -> sp.csr_matrix:
        """The row matrix over ``concat(a, aux)`` (a copy, CSR)."""
        return self._A.copy()

    @property
    def row_lower(self) -> np.ndarray:
        return self._rl.copy()

    @property
    def row_upper(self) -> np.ndarray:
        return self._ru.copy()

    @property
    def aux_lower(self) -> np.ndarray:
        return self._al.copy()

    @property
    def aux_upper(self) -> np.ndarray:
        return self._au.copy()

    @property
    def aux_integer(self) -> np.ndarray:
        return self._ai.copy()

    @property
    def cardinality_range(self) -> Optional[tuple[int, int]]:
        """``(lo, hi)`` when the set is exactly ``{a : lo <= sum(a) <= hi}``, else None.

        Detected for sets without auxiliary variables whose rows all have equal positive
        coefficients on every action (a budget, an exact budget, a cardinality range).
        """
        if "card" in self._cache:
            return self._cache["card"]
        out = None
        if self._k == 0:
            lo, hi = 0.0, float(self._n)
            ok = True
            D = self._A.toarray() if self.n_rows else np.zeros((0, self._n))
            for i in range(self.n_rows):
                row = D[i]
                if np.all(row == 0):
                    if self._rl[i] > _TOL or self._ru[i] < -_TOL:
                        lo, hi = 1.0, 0.0
                    continue
                s = row[0]
                if not np.all(row == s):
                    ok = False
                    break
                rlo, rhi = self._rl[i] / s, self._ru[i] / s
                if s < 0:
                    rlo, rhi = rhi, rlo
                lo, hi = max(lo, rlo), min(hi, rhi)
            if ok:
                ilo = int(math.ceil(lo - 1e-9))
                ihi = int(math.floor(hi + 1e-9))
                out = (max(ilo, 0), min(ihi, self._n))
        self._cache["card"] = out
        return out

    def __repr__(self) -> str:
        return f"FeasibleSet(n_actions={self._n}, n_aux={self._k}, n_rows={self.n_rows})"

    # ------------------------------------------------------------------ combining
    def with_rows(self, A: Any, row_lower: Any = None, row_upper: Any = None) -> "FeasibleSet":
        """A new set with extra rows over ``concat(a, aux)`` (same auxiliary variables).

        Examples
        --------
        >>> fs = FeasibleSet.budget(3, 2).with_rows([[1, -1, 0]], [0], [0])   # a0 == a1
        >>> fs.enumerate().tolist()
        [[0, 0, 0], [0, 0, 1], [1, 1, 0]]
        """
        where = "FeasibleSet.with_rows()"
        extra = FeasibleSet(self._n, A, row_lower, row_upper, self._k, self._al, self._au, self._ai)
        del where
        return FeasibleSet(self._n, sp.vstack([self._A, extra._A]).tocsr(), np.concatenate([self._rl, extra._rl]),
                           np.concatenate([self._ru, extra._ru]), self._k, self._al, self._au, self._ai)

    def intersect(self, other: "FeasibleSet") -> "FeasibleSet":
        """Actions feasible for both sets (their auxiliary variables are kept apart).

        Examples
        --------
        >>> both = FeasibleSet.budget(3, 1).intersect(FeasibleSet.cardinality(3, 1))
        >>> both.enumerate().tolist()
        [[0, 0, 1], [0, 1, 0], [1, 0, 0]]
        """
        where = "FeasibleSet.intersect()"
        if not isinstance(other, FeasibleSet):
            raise InvalidInputError(f"{where}: other must be a FeasibleSet, got {type(other).__name__}")
        if other._n != self._n:
            raise InvalidInputError(f"{where}: n_actions differ ({self._n} vs {other._n})")
        n, k1, k2 = self._n, self._k, other._k
        A1 = sp.hstack([self._A, sp.csr_matrix((self.n_rows, k2))]).tocsr()
        A2 = other._A.tocsc()
        A2 = sp.hstack([A2[:, :n], sp.csr_matrix((other.n_rows, k1)), A2[:, n:]]).tocsr()
        return FeasibleSet(n, sp.vstack([A1, A2]).tocsr(), np.concatenate([self._rl, other._rl]),
                           np.concatenate([self._ru, other._ru]), k1 + k2, np.concatenate([self._al, other._al]),
                           np.concatenate([self._au, other._au]), np.concatenate([self._ai, other._ai]))

    # ------------------------------------------------------------------ models
    def to_linear_model(self, objective: Any = None, *, aux_objective: Any = None, sense: str = "max",
                        offset: float = 0.0, relax: bool = False):
        """The set as a :class:`solvers.LinearModel` over ``concat(a, aux)``.

        Parameters
        ----------
        objective : array_like, shape (n_actions,), optional
            Objective coefficients of the actions (default zero: a feasibility model).
        aux_objective : array_like, shape (n_aux,), optional
            Objective coefficients of the auxiliary variables (default zero).
        sense : {"max", "min"}
        offset : float
        relax : bool
            If True, the LP relaxation (actions in ``[0, 1]``, every variable continuous).

        Examples
        --------
        >>> res = FeasibleSet.budget(4, 2).to_linear_model([3, 1, 2, 5]).solve()
        >>> res.objective, res.x[:4].astype(int).tolist()
        (8.0, [1, 0, 0, 1])
        """

        where = "FeasibleSet.to_linear_model()"
        c = np.zeros(self._n + self._k)
        if objective is not None:
            c[: self._n] = as_float_array(objective, "objective", where, shape=(self._n,))
        if aux_objective is not None:
            c[self._n:] = as_float_array(aux_objective, "aux_objective", where, shape=(self._k,))
        integ = np.concatenate([np.ones(self._n, dtype=bool), self._ai]) if not relax else None
        return LinearModel(c, self._A, self._rl, self._ru, col_lower=np.concatenate([np.zeros(self._n), self._al]),
                           col_upper=np.concatenate([np.ones(self._n), self._au]), integrality=integ, sense=sense,
                           offset=offset)

    def to_pyomo(self):
        """The set as a Pyomo ``ConcreteModel``: binaries ``a[i]``, auxiliaries ``aux[k]``, rows ``rows[r]``.

        The model has no objective; add one (``model.obj = pyo.Objective(...)``) to solve it.

        Examples
        --------
        >>> m = FeasibleSet.budget(3, 1).to_pyomo()
        >>> len(m.a), len(m.rows)
        (3, 1)
        """
        import pyomo.environ as pyo
        from pyomo.core.expr.numeric_expr import LinearExpression

        n, k = self._n, self._k
        model = pyo.ConcreteModel(name="feasible_set")
        model.a = pyo.Var(range(n), domain=pyo.Binary)

        def _bounds(_m: Any, j: int) -> tuple:
            lo, hi = self._al[j], self._au[j]
            return (None if math.isinf(lo) else float(lo), None if math.isinf(hi) else float(hi))

        model.aux = pyo.Var(range(k), domain=lambda _m, j: pyo.Integers if self._ai[j] else pyo.Reals,
                            bounds=_bounds)
        cols = [model.a[j] for j in range(n)] + [model.aux[j] for j in range(k)]
        M = self._A

        def _row(_m: Any, i: int) -> Any:
            s, e = M.indptr[i], M.indptr[i + 1]
            expr = LinearExpression(constant=0.0, linear_coefs=M.data[s:e].tolist(),
                                    linear_vars=[cols[j] for j in M.indices[s:e]])
            lo = None if math.isinf(self._rl[i]) else float(self._rl[i])
            hi = None if math.isinf(self._ru[i]) else float(self._ru[i])
            if lo is None and hi is None:
                return pyo.Constraint.Skip
            return (lo, expr, hi)

        model.rows = pyo.Constraint(range(self.n_rows), rule=_row)
        return model

    # ------------------------------------------------------------------ membership
    def _check_action(self, a: Any, where: str) -> np.ndarray:
        arr = as_float_array(a, "a", where, shape=(self._n,))
        if not np.all((arr == 0) | (arr == 1)):
            bad = arr[(arr != 0) & (arr != 1)][0]
            raise InvalidInputError(f"{where}: a must be a 0/1 vector, got entry {bad}")
        return arr

    def _aux_model(self):
        """Feasibility model over the auxiliary variables; rows shifted by the action part per call."""
        if "aux_model" not in self._cache:

            csc = self._A.tocsc()
            self._cache["A_act"] = csc[:, : self._n].tocsr()
            self._cache["aux_model"] = LinearModel(np.zeros(self._k), csc[:, self._n:], self._rl, self._ru,
                                                   col_lower=self._al, col_upper=self._au, integrality=self._ai)
        return self._cache["aux_model"], self._cache["A_act"]

    def _aux_feasible(self, a: np.ndarray) -> bool:
        model, A_act = self._aux_model()
        shift = A_act @ a
        model.set_row_bounds(np.arange(self.n_rows), self._rl - shift, self._ru - shift)
        res = model.solve()
        return res.status in (Status.OPTIMAL, Status.FEASIBLE)

    def contains(self, a: Any) -> bool:
        """Whether the 0/1 vector ``a`` is feasible (for some auxiliary values when ``n_aux > 0``).

        Raises :class:`~engine.errors.InvalidInputError` when ``a`` has the wrong length or an
        entry other than 0 and 1.

        Examples
        --------
        >>> FeasibleSet.knapsack([2, 3, 4], 5).contains([1, 1, 0])
        True
        """
        arr = self._check_action(a, "FeasibleSet.contains()")
        if self._k == 0:
            if self.n_rows == 0:
                return True
            act = self._As @ arr
            tol = _row_tol(self._rls, self._rus)
            return bool(np.all(act >= self._rls - tol) and np.all(act <= self._rus + tol))
        if self.n_rows == 0:
            return True
        return self._aux_feasible(arr)

    def contains_many(self, actions: Any) -> np.ndarray:
        """``contains`` for each row of ``actions`` (shape ``(k, n_actions)``), vectorised when ``n_aux == 0``."""
        where = "FeasibleSet.contains_many()"
        X = as_float_array(actions, "actions", where, ndim=2)
        if X.shape[1] != self._n:
            raise InvalidInputError(f"{where}: actions must have {self._n} columns, got {X.shape[1]}")
        if not np.all((X == 0) | (X == 1)):
            raise InvalidInputError(f"{where}: actions must hold 0/1 entries only")
        if self._k == 0:
            if self.n_rows == 0:
                return np.ones(X.shape[0], dtype=bool)
            act = (self._As @ X.T).T
            tol = _row_tol(self._rls, self._rus)
            return np.all((act >= self._rls - tol) & (act <= self._rus + tol), axis=1)
        return np.array([self.contains(x) for x in X], dtype=bool)

    # ------------------------------------------------------------------ enumeration
    def _dfs_arrays(self):
        if "dfs" not in self._cache:
            At = np.ascontiguousarray(self._As.toarray().T) if self.n_rows else np.zeros((self._n, 0))
            neg = np.minimum(At, 0.0)
            pos = np.maximum(At, 0.0)
            m = At.shape[1]
            sufmin = np.zeros((self._n + 1, m))
            sufmax = np.zeros((self._n + 1, m))
            sufmin[:-1] = np.cumsum(neg[::-1], axis=0)[::-1]
            sufmax[:-1] = np.cumsum(pos[::-1], axis=0)[::-1]
            self._cache["dfs"] = (At, self._rls.copy(), self._rus.copy(), _row_tol(self._rls, self._rus), sufmin, sufmax)
        return self._cache["dfs"]

    def _dfs(self, limit: int, fixed: Optional[np.ndarray] = None) -> tuple[np.ndarray, int]:
        At, lo, hi, tol, sufmin, sufmax = self._dfs_arrays()
        if fixed is None:
            fixed = np.full(self._n, -1, dtype=np.int8)
        return _dfs_kernel()(At, lo, hi, tol, sufmin, sufmax, fixed, int(limit))

    def _nogood_enumerate(self, limit: int) -> tuple[np.ndarray, int]:
        """Enumerate with a MIP and one no-good cut per found action (sets with auxiliaries)."""
        model = self.to_linear_model()
        n, k = self._n, self._k
        found: list[np.ndarray] = []
        while len(found) <= limit:
            res = model.solve()
            if res.status not in (Status.OPTIMAL, Status.FEASIBLE) or res.x is None:
                break
            x = np.round(res.x[:n]).astype(np.int8)
            found.append(x)
            # sum_{x_i=1} (1 - a_i) + sum_{x_i=0} a_i >= 1
            row = np.where(x == 1, -1.0, 1.0)
            model.add_rows(np.concatenate([row, np.zeros(k)])[None, :], [1.0 - x.sum()], [INF])
        out = np.array(found, dtype=np.int8).reshape(len(found), n)
        order = np.lexsort(out.T[::-1]) if len(found) else np.arange(0)
        return out[order], len(found)

    def _enumerate_raw(self, limit: int) -> tuple[np.ndarray, int]:
        key = "enum"
        cached = self._cache.get(key)
        if cached is not None:
            X, count, lim = cached
            if count <= lim or lim >= limit:      # complete list, or already known to exceed
                return X, count
        if self._k == 0:
            X, count = self._dfs(limit)
        else:
            X, count = self._nogood_enumerate(limit)
        self._cache[key] = (X, count, limit)
        return X, count

    def enumerate(self, limit: int = DEFAULT_ENUMERATE_LIMIT) -> np.ndarray:
        """Every distinct feasible action vector, as an int array of shape ``(k, n_actions)``.

        Auxiliary variables are projected out. Rows come in lexicographic order (0 before 1,
        first action most significant). An empty set gives shape ``(0, n_actions)``.

        Parameters
        ----------
        limit : int
            Maximum number of actions; a set with more raises
            :class:`~engine.errors.InvalidInputError` (see :meth:`count` to test first).

        Examples
        --------
        >>> FeasibleSet.exact_budget(3, 2).enumerate().tolist()
        [[0, 1, 1], [1, 0, 1], [1, 1, 0]]
        """
        where = "FeasibleSet.enumerate()"
        limit = check_int(limit, "limit", where, lower=0)
        X, count = self._enumerate_raw(limit)
        if count > limit:
            raise InvalidInputError(f"{where}: the set has more than limit = {limit} feasible actions")
        return X[:count].astype(np.int64)

    def count(self, limit: int = DEFAULT_ENUMERATE_LIMIT) -> Optional[int]:
        """Number of feasible actions, or None when it exceeds ``limit``.

        Examples
        --------
        >>> FeasibleSet.budget(10, 2).count(), FeasibleSet.budget(30, 15).count(limit=1000)
        (56, None)
        """
        limit = check_int(limit, "limit", "FeasibleSet.count()", lower=0)
        _, count = self._enumerate_raw(limit)
        return None if count > limit else int(count)

    def is_empty(self) -> bool:
        """True when no action is feasible.

        Examples
        --------
        >>> FeasibleSet(3, [[1, 1, 1]], [4], [np.inf]).is_empty()     # sum(a) >= 4
        True
        """
        if "empty" not in self._cache:
            if self._k == 0:
                _, count = self._dfs(0)
                self._cache["empty"] = count == 0
            else:
                res = self.to_linear_model().solve()
                self._cache["empty"] = res.status not in (Status.OPTIMAL, Status.FEASIBLE)
        return self._cache["empty"]

    # ------------------------------------------------------------------ sampling
    def _interval_exact(self) -> bool:
        """Whether the row-interval test decides feasibility of every partial assignment exactly."""
        if self._k != 0:
            return False
        if self.n_rows == 0:
            return True
        if self.n_rows > 1:
            return self.cardinality_range is not None
        row = self._A.data
        one_sided = math.isinf(self._rl[0]) or math.isinf(self._ru[0])
        if one_sided:
            return True
        if row.size == 0 or not np.all(np.abs(row) == np.abs(row[0])):
            return False
        s = abs(float(row[0]))
        return float(self._rl[0] / s).is_integer() and float(self._ru[0] / s).is_integer()

    def _partial_feasible_model(self):
        if "fix_model" not in self._cache:
            self._cache["fix_model"] = self.to_linear_model()
        return self._cache["fix_model"]

    def sample(self, rng: Any = None, *, uniform: bool = False) -> np.ndarray:
        """A random feasible action (int array of length ``n_actions``).

        Default distribution: the actions are visited in a uniformly random order and each is
        set to 0 or 1 by a fair coin, unless only one value keeps the set feasible given the
        choices so far (checked exactly: by row intervals where that is exact -- budgets,
        knapsacks, cardinality ranges -- and by a HiGHS feasibility MIP otherwise). Every
        feasible action has positive probability; the law is not uniform in general.
        ``uniform=True`` draws exactly uniformly from :meth:`enumerate` (small sets only).

        Parameters
        ----------
        rng : numpy Generator, int or None
            A Generator is used as is; an int or None seeds one (``engine.seeding``).
        uniform : bool

        Raises :class:`~engine.errors.InvalidInputError` when the set is empty.

        Examples
        --------
        >>> fs = FeasibleSet.budget(6, 2)
        >>> a = fs.sample(0)
        >>> bool(fs.contains(a)), int(a.sum()) <= 2
        (True, True)
        """
        where = "FeasibleSet.sample()"
        if not isinstance(uniform, (bool, np.bool_)):
            raise InvalidInputError(f"{where}: uniform must be a bool, got {uniform!r}")
        gen = rng if isinstance(rng, np.random.Generator) else resolve_seed(rng, where=where).generator("sample")
        if self.is_empty():
            raise InvalidInputError(f"{where}: the set is empty")
        n = self._n
        if uniform:
            X = self.enumerate()
            return X[int(gen.integers(len(X)))].copy()
        order = gen.permutation(n)
        coins = gen.integers(0, 2, size=n)
        if self._interval_exact():
            At, lo, hi, tol, _, _ = self._dfs_arrays()
            pos = np.maximum(At, 0.0).sum(axis=0)
            neg = np.minimum(At, 0.0).sum(axis=0)
            act = np.zeros(At.shape[1])
            x = np.zeros(n, dtype=np.int64)
            for j, v in zip(order.tolist(), coins.tolist()):
                col = At[j]
                pos = pos - np.maximum(col, 0.0)
                neg = neg - np.minimum(col, 0.0)
                trial = act + col if v == 1 else act
                if np.any(trial + neg > hi + tol) or np.any(trial + pos < lo - tol):
                    v = 1 - v
                    trial = act + col if v == 1 else act
                x[j] = v
                act = trial
            return x
        model = self._partial_feasible_model()
        x = np.zeros(n, dtype=np.int64)
        known = None          # a feasible completion of the choices so far
        try:
            for j, v in zip(order.tolist(), coins.tolist()):
                model.set_col_bounds([j], [v], [v])
                if known is None or known[j] != v:
                    res = model.solve()
                    if res.status in (Status.OPTIMAL, Status.FEASIBLE) and res.x is not None:
                        known = np.round(res.x[:n])
                    else:
                        v = 1 - v
                        model.set_col_bounds([j], [v], [v])
                x[j] = v
        finally:
            model.set_col_bounds(np.arange(n), np.zeros(n), np.ones(n))
        return x
