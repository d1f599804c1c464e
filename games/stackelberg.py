"""Stackelberg equilibria: strong SSE of bimatrix games and Bayesian Stackelberg games.

- :func:`solve` -- the strong Stackelberg equilibrium (SSE) of a two-player normal-form game
  by one LP per follower action, all on **one** HiGHS model that is built once and re-solved
  after changing two row bounds and the objective (HiGHS warm-starts from its basis).
- :func:`bayesian` -- Bayesian Stackelberg games with follower types: the DOBSS MILP
  (Paruchuri et al., AAMAS 2008) or, as a cross-check, multiple LPs on the Harsanyi transform
  (Conitzer & Sandholm, EC 2006).

In a *strong* SSE the follower breaks ties in the leader's favour; both functions compute it.
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass
from typing import Any, Mapping, Optional

import numpy as np
import scipy.sparse as sp

from engine.errors import BackendError, InvalidInputError, UnsupportedProblemError
from engine.result import SolveResult
from engine.seeding import resolve_seed
from engine.status import Status
from engine.validation import check_choice, check_int, check_real, check_time_limit
from games.normal_form import NormalFormGame, _real_array
from solvers.highs import LinearModel, validate_highs_options

__all__ = ["StackelbergResult", "BayesianStackelbergResult", "solve", "bayesian", "never_best_responses"]

@dataclass(frozen=True, kw_only=True)
class StackelbergResult(SolveResult):
    """Strong Stackelberg equilibrium of a two-player game.

    Attributes
    ----------
    leader_strategy : numpy.ndarray
        The leader's optimal commitment (a probability vector); also ``x``.
    follower_action : int
        The follower's best response (ties broken in the leader's favour).
    leader_value, follower_value : float
        Expected payoffs at the equilibrium; ``objective`` is ``leader_value``.
    leader : int
        Which player of the game leads (0 = row player).
    lps_solved : int
        LPs actually solved (follower actions pruned without an LP are not counted).
    """

    leader_strategy: Any = None
    follower_action: int = -1
    leader_value: float = math.nan
    follower_value: float = math.nan
    leader: int = 0
    lps_solved: int = 0


@dataclass(frozen=True, kw_only=True)
class BayesianStackelbergResult(SolveResult):
    """Strong Stackelberg equilibrium of a Bayesian Stackelberg game.

    Attributes
    ----------
    leader_strategy : numpy.ndarray
        The leader's commitment (also ``x``).
    follower_actions : numpy.ndarray of int
        Each follower type's best response (ties in the leader's favour).
    leader_value : float
        The leader's expected payoff over the prior (``objective``).
    follower_values : numpy.ndarray
        Each type's expected payoff.
    """

    leader_strategy: Any = None
    follower_actions: Any = None
    leader_value: float = math.nan
    follower_values: Any = None


# ---------------------------------------------------------------------------- shared pieces
def never_best_responses(B: Any, *, candidates: int = 8) -> np.ndarray:
    """Follower actions that are strictly dominated by another pure action (never a best response).

    A cheap, LP-free and *exact* prune: ``j`` is reported only when some ``j'`` has
    ``B[i, j'] > B[i, j]`` for every leader action ``i``, so ``j`` is a best response to no
    leader mix. Only the ``candidates`` columns of largest sum are tried as dominators (a
    dominator has a larger sum), so some dominated actions may go unreported -- never the
    reverse.

    Parameters
    ----------
    B : array_like, shape (n_leader, n_follower)
        The follower's payoffs.
    candidates : int
        How many potential dominators to try.

    Returns
    -------
    numpy.ndarray of bool, shape (n_follower,)
        True for the actions found to be strictly dominated.

    Examples
    --------
    >>> never_best_responses([[1, 0, 2], [1, 0, 2]]).tolist()
    [True, True, False]
    """
    B = _real_array(B, "B", "never_best_responses()", ndim=2)
    m = B.shape[1]
    order = np.argsort(-B.sum(axis=0), kind="stable")[: max(1, min(candidates, m))]
    dominated = np.zeros(m, dtype=bool)
    for jp in order:
        dominated |= np.all(B[:, [jp]] > B, axis=0)
    return dominated


class _CommitmentLP:
    """The LP ``max sum_l w_l A_l[:, j_l] x`` s.t. ``j_l`` is a best response of type ``l`` to ``x``.

    Columns: ``x`` (n, in [0, 1]) and one free follower value ``v_l`` per type. Rows:
    ``B_l[:, j'] x - v_l <= 0`` for every type ``l`` and action ``j'`` (a constant matrix) and
    ``sum(x) = 1``. Targeting joint response ``(j_l)`` sets rows ``(l, j_l)`` to ``[0, 0]`` and
    the objective; nothing else changes between solves, so HiGHS re-solves from its basis.
    """

    def __init__(self, leader: np.ndarray, follower: np.ndarray, weights: np.ndarray) -> None:
        L, n, m = follower.shape
        self.L, self.n, self.m = L, n, m
        self.leader = leader
        self.weights = weights
        rows = []
        for l in range(L):
            block = np.zeros((m, n + L))
            block[:, :n] = follower[l].T
            block[:, n + l] = -1.0
            rows.append(block)
        ones = np.zeros((1, n + L))
        ones[0, :n] = 1.0
        rows.append(ones)
        M = sp.csc_matrix(np.vstack(rows))
        row_lower = np.concatenate([np.full(L * m, -np.inf), [1.0]])
        row_upper = np.concatenate([np.zeros(L * m), [1.0]])
        col_lower = np.concatenate([np.zeros(n), np.full(L, -np.inf)])
        col_upper = np.concatenate([np.ones(n), np.full(L, np.inf)])
        self.model = LinearModel(np.zeros(n + L), M, row_lower, row_upper, col_lower=col_lower,
                                 col_upper=col_upper, sense="max")
        self._targets: Optional[np.ndarray] = None
        self.nit = 0
        self.solves = 0

    def solve(self, targets: np.ndarray, options: Mapping[str, Any]):
        """Solve with type ``l`` responding ``targets[l]``; returns the LinearResult."""
        L, m, n = self.L, self.m, self.n
        rows_new = np.arange(L) * m + targets
        if self._targets is None:
            self.model.set_row_bounds(rows_new, np.zeros(L), np.zeros(L))
        else:
            rows_old = np.arange(L) * m + self._targets
            changed = rows_old != rows_new
            if changed.any():
                idx = np.concatenate([rows_old[changed], rows_new[changed]])
                lo = np.concatenate([np.full(changed.sum(), -np.inf), np.zeros(changed.sum())])
                hi = np.zeros(idx.size)
                self.model.set_row_bounds(idx, lo, hi)
        self._targets = targets.copy()
        c = np.zeros(n + L)
        for l in range(L):
            c[:n] += self.weights[l] * self.leader[l][:, targets[l]]
        self.model.set_objective(c)
        res = self.model.solve(options=options)
        self.nit += res.nit
        self.solves += 1
        return res


def _clean_mix(x: np.ndarray) -> np.ndarray:
    x = np.clip(np.asarray(x, dtype=np.float64), 0.0, None)
    return x / x.sum()


def _merge_options(options: Optional[Mapping[str, Any]], where: str) -> dict:
    """HiGHS ``options``, checked up front so errors name this module's function. They are then
    passed to ``LinearModel.solve`` (never to highspy directly), which validates them again."""
    return dict(validate_highs_options(options, where))


#: Largest accepted ``|payoff|``: follower payoffs (and their big-M ranges, up to twice as large)
#: become constraint coefficients, which HiGHS refuses from 1e15 on; leader payoffs become
#: objective coefficients. Rescale larger games.
PAYOFF_LIMIT = 1e14


def _payoffs(value: Any, name: str, where: str, ndim: Any) -> np.ndarray:
    """A real, finite payoff array within :data:`PAYOFF_LIMIT` (complex values are refused, not
    truncated)."""
    arr = _real_array(value, name, where, ndim=ndim)
    _check_limit(arr, name, where)
    return arr


def _check_limit(arr: np.ndarray, name: str, where: str) -> None:
    if arr.size and float(np.abs(arr).max()) > PAYOFF_LIMIT:
        raise InvalidInputError(f"{where}: {name} must lie within +-{PAYOFF_LIMIT:g} (HiGHS refuses larger "
                                f"coefficients; rescale the game), got {float(np.abs(arr).max()):g}")


# ---------------------------------------------------------------------------- solve
def _validate_solve(game: Any, leader: Any, prune: Any, options: Any) -> tuple:
    where = "solve()"
    if isinstance(game, NormalFormGame):
        if game.n_players != 2:
            raise UnsupportedProblemError(f"{where}: Stackelberg games here have two players, got {game.n_players}")
        A, B = game.payoffs
        _check_limit(A, "the payoffs of player 0", where)
        _check_limit(B, "the payoffs of player 1", where)
    elif isinstance(game, (tuple, list)) and len(game) == 2:
        A = _payoffs(game[0], "game[0]", where, 2)
        B = _payoffs(game[1], "game[1]", where, 2)
        if A.shape != B.shape:
            raise InvalidInputError(f"{where}: payoff matrices differ in shape: {A.shape} vs {B.shape}")
        if A.size == 0:
            raise InvalidInputError(f"{where}: every player needs at least one action, got shape {A.shape}")
    else:
        raise InvalidInputError(f"{where}: game must be a NormalFormGame or a pair (A, B) of payoff matrices, "
                                f"got {type(game).__name__}")
    leader = check_int(leader, "leader", where, lower=0, upper=1)
    if not isinstance(prune, (bool, np.bool_)):
        raise InvalidInputError(f"{where}: prune must be a bool, got {prune!r}")
    opts = _merge_options(options, where)
    if leader == 1:
        A, B = np.asarray(B).T, np.asarray(A).T
    return np.asarray(A, dtype=np.float64), np.asarray(B, dtype=np.float64), leader, bool(prune), opts


def solve(game: Any, /, leader: int = 0, *, prune: bool = True,
          options: Optional[Mapping[str, Any]] = None) -> StackelbergResult:
    """Strong Stackelberg equilibrium of a two-player game (Conitzer & Sandholm's multiple LPs).

    For every follower action ``j`` the LP "maximise the leader's payoff over leader mixes
    ``x`` for which ``j`` is a best response" is solved; the best of them is the SSE. All LPs
    share one HiGHS model: the constraint matrix (``B[:, j'] x - v <= 0`` for every ``j'``, and
    ``sum(x) = 1``) never changes -- only the bounds of row ``j`` (set to ``[0, 0]``) and the
    objective ``A[:, j]`` do, so each LP warm-starts from the previous basis.

    Parameters
    ----------
    game : NormalFormGame or (A, B)
        A two-player game (or its two payoff matrices).
    leader : {0, 1}
        Which player commits; ``leader=1`` solves the transposed game.
    prune : bool
        Skip, exactly, follower actions that cannot matter: those strictly dominated by
        another pure action (never a best response) and those whose best conceivable leader
        payoff ``max_i A[i, j]`` does not beat the best value found so far (actions are
        visited by that bound, largest first). Without pruning every action gets its LP, in
        index order. Among follower actions that give the leader the same optimal value, the
        first one visited is reported.
    options : mapping, optional
        HiGHS options passed verbatim to every LP (e.g. ``{"presolve": "off"}``).

    Returns
    -------
    StackelbergResult

    Raises
    ------
    InvalidInputError
        Bad payoffs (non-finite, complex or beyond ``+-PAYOFF_LIMIT`` = 1e14), a leader index
        other than 0 or 1, bad options (unknown keys warn; bad values raise once
        ``solvers.highs`` validates them).
    UnsupportedProblemError
        A game without exactly two players.

    Examples
    --------
    >>> from games import NormalFormGame
    >>> g = NormalFormGame.from_arrays([[1, 3], [0, 2]], [[1, 0], [0, 1]])
    >>> res = solve(g)
    >>> res.leader_strategy.round(9).tolist(), res.follower_action, round(res.leader_value, 9)
    ([0.5, 0.5], 1, 2.5)
    """
    A, B, leader, prune, opts = _validate_solve(game, leader, prune, options)
    t0 = time.perf_counter()
    n, m = A.shape
    if prune:
        alive = ~never_best_responses(B)
        ub = A.max(axis=0)
        order = [int(j) for j in np.argsort(-ub, kind="stable") if alive[j]]
    else:
        ub = None
        order = list(range(m))
    lp = _CommitmentLP(A[None], B[None], np.ones(1))
    best_val = -math.inf
    best_j = -1
    best_x = None
    n_infeasible = 0
    skipped_bound = 0
    for j in order:
        if prune and ub[j] <= best_val:
            skipped_bound = len(order) - order.index(j)
            break
        res = lp.solve(np.array([j]), opts)
        if res.status == Status.INFEASIBLE:
            n_infeasible += 1
            continue
        if res.status != Status.OPTIMAL:
            raise BackendError(f"solve(): HiGHS failed on the LP of follower action {j}: "
                               f"{res.status.value}: {res.message}")
        if res.objective > best_val:
            best_val = float(res.objective)
            best_j = j
            best_x = res.x[:n].copy()
    if best_x is None:
        raise BackendError("solve(): no follower action is a best response to any leader mix (numerical failure)")
    x = _clean_mix(best_x)
    leader_value = float(A[:, best_j] @ x)
    follower_value = float(B[:, best_j] @ x)
    params = {"leader": leader, "prune": prune, "options": dict(opts),
              "pruned_dominated": int(m - len(order)) if prune else 0,
              "pruned_bound": int(skipped_bound), "infeasible_lps": n_infeasible}
    return StackelbergResult(status=Status.OPTIMAL, message=f"SSE found with {lp.solves} LPs", x=x,
                             objective=leader_value, bound=leader_value, gap=0.0, nit=lp.nit,
                             runtime=time.perf_counter() - t0, method="multiple_lps", backend="highs",
                             params=params, leader_strategy=x, follower_action=int(best_j),
                             leader_value=leader_value, follower_value=follower_value, leader=leader,
                             lps_solved=lp.solves)


# ---------------------------------------------------------------------------- Bayesian
def _validate_bayesian(leader_payoffs: Any, follower_payoffs: Any, prior: Any, method: Any, max_lps: Any,
                       time_limit: Any, mip_rel_gap: Any, options: Any) -> tuple:
    where = "bayesian()"
    R = _payoffs(leader_payoffs, "leader_payoffs", where, (2, 3))
    C = _payoffs(follower_payoffs, "follower_payoffs", where, (2, 3))
    if R.ndim == 2:
        R = R[None]
    if C.ndim == 2:
        C = C[None]
    if R.shape != C.shape:
        raise InvalidInputError(f"{where}: leader_payoffs has shape {R.shape} (types, leader actions, follower "
                                f"actions) but follower_payoffs has {C.shape}")
    if min(R.shape) < 1:
        raise InvalidInputError(f"{where}: need at least one type and one action each, got shape {R.shape}")
    p = _real_array(prior, "prior", where, ndim=1, lower=0.0)
    if p.shape[0] != R.shape[0]:
        raise InvalidInputError(f"{where}: prior has {p.shape[0]} entries for {R.shape[0]} follower types")
    if abs(p.sum() - 1.0) > 1e-9:
        raise InvalidInputError(f"{where}: prior must sum to 1, sums to {p.sum()!r}")
    method = check_choice(method, "method", where, ("dobss", "multiple_lps"))
    max_lps = check_int(max_lps, "max_lps", where, lower=1)
    tl = check_time_limit(time_limit, where)
    gap = check_real(mip_rel_gap, "mip_rel_gap", where, lower=0.0)
    opts = _merge_options(options, where)
    return R, C, p, method, max_lps, tl, gap, opts


def bayesian(leader_payoffs: Any, follower_payoffs: Any, prior: Any, /, method: str = "dobss", *,
             max_lps: int = 100_000, time_limit: Optional[float] = None, mip_rel_gap: float = 1e-9,
             seed: Any = 0, options: Optional[Mapping[str, Any]] = None) -> BayesianStackelbergResult:
    """Strong Stackelberg equilibrium of a Bayesian Stackelberg game (one leader, follower types).

    Type ``l`` occurs with probability ``prior[l]`` and has leader payoffs
    ``leader_payoffs[l]`` and follower payoffs ``follower_payoffs[l]`` (each
    ``n_leader x n_follower``). The leader commits to one mix ``x``; each type best-responds.

    ``method="dobss"`` solves the DOBSS MILP of Paruchuri et al. (2008) on HiGHS: variables
    ``z[l, i, j]`` (the joint probability of leader action ``i`` and type-``l`` response
    ``j``), binaries ``q[l, j]`` (type ``l`` responds ``j``) and follower values ``a[l]``;
    the best-response big-M of row ``(l, j)`` is ``max(C_l) - min_i C_l[i, j]``, the exact range
    of ``a[l] - C_l[:, j] x``. The MILP's answer is then polished by the one LP that fixes its
    responses, so its value is exact to LP accuracy.

    ``method="multiple_lps"`` enumerates the joint pure responses of the types (the Harsanyi
    transform's follower actions, skipping exactly the strictly dominated ones) and solves one
    LP for each on one reused HiGHS model; it refuses instances that would need more than
    ``max_lps`` LPs.

    Parameters
    ----------
    leader_payoffs, follower_payoffs : array_like, shape (L, n, m) or (n, m)
        One matrix per type (a single matrix means one type); real, finite, within
        ``+-PAYOFF_LIMIT`` (1e14).
    prior : array_like, shape (L,)
        The type distribution (nonnegative, sums to 1 within 1e-9).
    method : {"dobss", "multiple_lps"}
    max_lps : int
        Upper limit on the LPs ``multiple_lps`` may solve (InvalidInputError beyond it).
    time_limit : float, optional
        Seconds for the DOBSS MILP. When reached: status TIME_LIMIT with the incumbent (polished
        by its LP) or, if better or if HiGHS had none, the best pure-strategy commitment (which
        also seeds the MILP as its first incumbent), so a leader strategy always comes back;
        ``bound`` is the MILP's dual bound (or ``sum_l prior[l] * max R_l``).
    mip_rel_gap : float
        Relative gap at which the MILP stops.
    seed : int, Generator or None
        Drives HiGHS's random seed.
    options : mapping, optional
        HiGHS options, passed through ``solvers.LinearModel.solve`` (which validates them).

    Returns
    -------
    BayesianStackelbergResult

    Examples
    --------
    >>> R = [[[1, 3], [0, 2]], [[1, 3], [0, 2]]]
    >>> C = [[[1, 0], [0, 1]], [[0, 1], [1, 0]]]
    >>> res = bayesian(R, C, [0.5, 0.5])
    >>> round(res.leader_value, 9), res.follower_actions.tolist()
    (2.5, [1, 1])
    """
    R, C, p, method, max_lps, tl, gap, opts = _validate_bayesian(leader_payoffs, follower_payoffs, prior, method,
                                                                 max_lps, time_limit, mip_rel_gap, options)
    seed_obj = resolve_seed(seed, where="bayesian()")
    t0 = time.perf_counter()
    if method == "multiple_lps":
        return _bayesian_multiple_lps(R, C, p, max_lps, opts, t0, seed_obj.root)
    return _bayesian_dobss(R, C, p, tl, gap, opts, seed_obj, t0)


def _bayes_result(R, C, p, x, actions, *, status, message, nit, t0, method, params, bound=math.nan):
    x = _clean_mix(x)
    actions = np.asarray(actions, dtype=np.int64)
    L = R.shape[0]
    value = float(sum(p[l] * (R[l][:, actions[l]] @ x) for l in range(L)))
    fvals = np.array([float(C[l][:, actions[l]] @ x) for l in range(L)])
    if not math.isfinite(bound) and status == Status.OPTIMAL:
        bound = value
    return BayesianStackelbergResult(status=status, message=message, x=x, objective=value, bound=bound,
                                     gap=abs(bound - value), nit=nit, runtime=time.perf_counter() - t0,
                                     method=method, backend="highs", params=params, leader_strategy=x,
                                     follower_actions=actions, leader_value=value, follower_values=fvals)


def _bayesian_multiple_lps(R, C, p, max_lps, opts, t0, seed_root):
    where = "bayesian()"
    L, n, m = R.shape
    cand = [np.flatnonzero(~never_best_responses(C[l])) for l in range(L)]
    count = math.prod(len(c) for c in cand)
    if count > max_lps:
        raise InvalidInputError(f"{where}: method 'multiple_lps' needs {count} LPs (joint follower responses), "
                                f"more than max_lps={max_lps}; use method='dobss' or raise max_lps")
    lp = _CommitmentLP(R, C, p)
    ubs = [R[l].max(axis=0) for l in range(L)]
    best_val = -math.inf
    best = None
    for combo in itertools.product(*cand):
        targets = np.array(combo, dtype=np.int64)
        ub = sum(p[l] * ubs[l][targets[l]] for l in range(L))
        if ub <= best_val:
            continue
        res = lp.solve(targets, opts)
        if res.status == Status.INFEASIBLE:
            continue
        if res.status != Status.OPTIMAL:
            raise BackendError(f"{where}: HiGHS failed on the LP of joint response {combo}: {res.status.value}")
        if res.objective > best_val:
            best_val = float(res.objective)
            best = (res.x[:n].copy(), targets)
    if best is None:
        raise BackendError(f"{where}: every joint-response LP was infeasible (numerical failure)")
    params = {"method": "multiple_lps", "max_lps": max_lps, "joint_responses": count, "lps_solved": lp.solves,
              "options": dict(opts), "seed": seed_root}
    return _bayes_result(R, C, p, best[0], best[1], status=Status.OPTIMAL, message=f"{lp.solves} LPs solved",
                         nit=lp.nit, t0=t0, method="multiple_lps", params=params)


def dobss_model(leader_payoffs: Any, follower_payoffs: Any, prior: Any):
    """The DOBSS MILP as a :class:`solvers.LinearModel` (for export with ``to_pyomo``/``write_mps``).

    Column order: ``z[l, i, j]`` (``l*n*m + i*m + j``), then ``q[l, j]``, then ``a[l]``.

    Examples
    --------
    >>> model = dobss_model([[[1, 0], [0, 1]]], [[[0, 1], [1, 0]]], [1.0])
    >>> model.n_cols, model.is_mip
    (7, True)
    """
    R, C, p, *_ = _validate_bayesian(leader_payoffs, follower_payoffs, prior, "dobss", 1, None, 0.0, None)
    return _build_dobss(R, C, p)


def _build_dobss(R: np.ndarray, C: np.ndarray, p: np.ndarray):
    L, n, m = R.shape
    Z = L * n * m
    nq = L * m
    ncol = Z + nq + L

    def zi(l, i, j):
        return l * n * m + i * m + j

    rows_i, cols_i, vals = [], [], []
    lower, upper = [], []
    r = 0
    ii, jj = np.meshgrid(np.arange(n), np.arange(m), indexing="ij")
    for l in range(L):
        # sum_ij z = 1
        rows_i.append(np.full(n * m, r)); cols_i.append(zi(l, ii, jj).ravel()); vals.append(np.ones(n * m))
        lower.append(1.0); upper.append(1.0); r += 1
        # sum_i z[l, i, j] - q[l, j] >= 0   (and <= 1, implied)
        for j in range(m):
            rows_i.append(np.full(n + 1, r))
            cols_i.append(np.concatenate([zi(l, np.arange(n), j), [Z + l * m + j]]))
            vals.append(np.concatenate([np.ones(n), [-1.0]]))
            lower.append(0.0); upper.append(1.0); r += 1
        # sum_j q = 1
        rows_i.append(np.full(m, r)); cols_i.append(Z + l * m + np.arange(m)); vals.append(np.ones(m))
        lower.append(1.0); upper.append(1.0); r += 1
        # 0 <= a_l - sum_i C[l,i,j] sum_h z[l,i,h] <= (1 - q[l,j]) M_lj
        cmax = C[l].max()
        for j in range(m):
            M = float(cmax - C[l][:, j].min())
            coef = -np.repeat(C[l][:, j], m)  # over (i, h) in z order
            zc = zi(l, ii, jj).ravel()
            rows_i.append(np.full(n * m + 1, r)); cols_i.append(np.concatenate([zc, [Z + nq + l]]))
            vals.append(np.concatenate([coef, [1.0]])); lower.append(0.0); upper.append(np.inf); r += 1
            rows_i.append(np.full(n * m + 2, r))
            cols_i.append(np.concatenate([zc, [Z + nq + l, Z + l * m + j]]))
            vals.append(np.concatenate([coef, [1.0, M]])); lower.append(-np.inf); upper.append(M); r += 1
    # consistency: sum_j z[l, i, j] = sum_j z[0, i, j]
    for l in range(1, L):
        for i in range(n):
            rows_i.append(np.full(2 * m, r))
            cols_i.append(np.concatenate([zi(l, i, np.arange(m)), zi(0, i, np.arange(m))]))
            vals.append(np.concatenate([np.ones(m), -np.ones(m)]))
            lower.append(0.0); upper.append(0.0); r += 1
    A = sp.csc_matrix((np.concatenate(vals), (np.concatenate(rows_i), np.concatenate(cols_i))), shape=(r, ncol))
    c = np.zeros(ncol)
    for l in range(L):
        c[l * n * m:(l + 1) * n * m] = p[l] * R[l].ravel()
    col_lower = np.concatenate([np.zeros(Z + nq), C.reshape(L, -1).min(axis=1)])
    col_upper = np.concatenate([np.ones(Z + nq), C.reshape(L, -1).max(axis=1)])
    integ = np.zeros(ncol, dtype=bool)
    integ[Z:Z + nq] = True
    return LinearModel(c, A, np.array(lower), np.array(upper), col_lower=col_lower, col_upper=col_upper,
                       integrality=integ, sense="max")


def _best_pure_commitment(R: np.ndarray, C: np.ndarray, p: np.ndarray) -> tuple[int, np.ndarray, float]:
    """The best pure leader commitment: ``(i, responses, value)``.

    Each type best-responds to leader action ``i`` (ties, exact, in the leader's favour); ``i``
    maximises the leader's expected payoff. A cheap (``O(L n m)``) feasible answer and a
    feasible DOBSS start: ``z[l, i, j_l] = q[l, j_l] = 1`` and ``a[l] = C[l, i, j_l]``.
    """
    best_reply = C == C.max(axis=2, keepdims=True)                 # (L, n, m)
    masked = np.where(best_reply, R, -np.inf)
    actions = masked.argmax(axis=2)                                # (L, n)
    totals = p @ masked.max(axis=2)                                # (n,)
    i = int(np.argmax(totals))
    return i, actions[:, i].astype(np.int64), float(totals[i])


def _dobss_start(C: np.ndarray, i: int, actions: np.ndarray) -> np.ndarray:
    """The DOBSS column vector of the pure commitment ``i`` with responses ``actions``."""
    L, n, m = C.shape
    Z = L * n * m
    start = np.zeros(Z + L * m + L)
    types = np.arange(L)
    start[types * n * m + i * m + actions] = 1.0
    start[Z + types * m + actions] = 1.0
    start[Z + L * m:] = C[types, i, actions]
    return start


def _bayesian_dobss(R, C, p, tl, gap, opts, seed_obj, t0):
    where = "bayesian()"
    L, n, m = R.shape
    model = _build_dobss(R, C, p)
    # the best pure commitment is a feasible MILP solution: HiGHS starts with it as incumbent,
    # so even a very short time limit returns a leader strategy
    i0, actions0, value0 = _best_pure_commitment(R, C, p)
    res = model.solve(time_limit=tl, mip_rel_gap=gap, mip_abs_gap=1e-9, seed=seed_obj, options=opts, threads=None,
                      warm_start=_dobss_start(C, i0, actions0))
    params = {"method": "dobss", "time_limit": tl, "mip_rel_gap": gap, "mip_abs_gap": 1e-9, "options": dict(opts),
              "seed": seed_obj.root, "highs_random_seed": res.params.get("highs_random_seed"), "polished": False,
              "heuristic": False}
    trivial_bound = float(sum(p[l] * R[l].max() for l in range(L)))
    bound = float(res.bound) if math.isfinite(res.bound) else trivial_bound
    bound = min(bound, trivial_bound)
    if res.x is None:
        if res.status in (Status.TIME_LIMIT, Status.STOPPED, Status.ITERATION_LIMIT):
            params["heuristic"] = True
            x0 = np.zeros(n)
            x0[i0] = 1.0
            return _bayes_result(R, C, p, x0, actions0, status=res.status,
                                 message=f"{res.message}; best pure-strategy commitment returned", nit=res.nit,
                                 t0=t0, method="dobss", params=params, bound=bound)
        raise BackendError(f"{where}: HiGHS failed on the DOBSS MILP: {res.status.value}: {res.message}")
    Z = L * n * m
    q = res.x[Z:Z + L * m].reshape(L, m)
    actions = np.argmax(q, axis=1)
    z0 = res.x[:n * m].reshape(n, m)
    x = z0.sum(axis=1)
    # polish: the LP with these responses fixed gives the exact leader mix for them
    lp = _CommitmentLP(R, C, p)
    pol = lp.solve(actions.astype(np.int64), opts)
    if pol.status == Status.OPTIMAL:
        x = pol.x[:n]
        params["polished"] = True
    status = Status.OPTIMAL if res.status == Status.OPTIMAL else res.status
    message = res.message
    if status != Status.OPTIMAL:
        value = float(sum(p[l] * (R[l][:, actions[l]] @ _clean_mix(x)) for l in range(L)))
        if value < value0:   # never worse than the cheap heuristic
            x = np.zeros(n)
            x[i0] = 1.0
            actions = actions0
            params["heuristic"] = True
            message = f"{message}; best pure-strategy commitment beats the incumbent"
    return _bayes_result(R, C, p, x, actions, status=status, message=message, nit=res.nit + lp.nit, t0=t0,
                         method="dobss", params=params, bound=bound if status != Status.OPTIMAL else math.nan)
