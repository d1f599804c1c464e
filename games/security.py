"""Stackelberg security games: ORIGAMI (polynomial) and the ERASER MILP (Kiekintveld et al., AAMAS 2009).

A defender with ``resources`` identical resources covers targets; a coverage vector ``c``
(``0 <= c[t] <= 1``, ``sum(c) <= resources``) is implementable by mixing over assignments of
one resource per target. The attacker observes ``c`` and attacks one target. With coverage
``c[t]`` the defender gets ``c[t] * defender_covered[t] + (1 - c[t]) * defender_uncovered[t]``
and the attacker ``c[t] * attacker_covered[t] + (1 - c[t]) * attacker_uncovered[t]``.
Both algorithms compute the strong Stackelberg equilibrium (attacker ties broken in the
defender's favour) and agree on the defender's utility.
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass
from typing import Any, Mapping, Optional

import numpy as np

from engine.errors import BackendError, InvalidInputError
from engine.result import SolveResult
from engine.seeding import resolve_seed
from engine.status import Status
from engine.validation import as_float_array, check_choice, check_int, check_options, check_real, check_time_limit
from games.normal_form import NormalFormGame
from solvers.highs import HIGHS_OPTIONS, LinearModel

__all__ = ["SecurityGame", "SecurityResult", "origami", "eraser", "solve"]


@dataclass(frozen=True, eq=False)
class SecurityGame:
    """A security game given by per-target payoffs.

    Parameters
    ----------
    defender_covered, defender_uncovered : array_like, shape (T,)
        The defender's payoff when the attacked target is covered / uncovered
        (``defender_covered >= defender_uncovered``).
    attacker_covered, attacker_uncovered : array_like, shape (T,)
        The attacker's payoff when the attacked target is covered / uncovered
        (``attacker_uncovered > attacker_covered``).
    resources : int
        Number of defender resources (each covers one target), ``>= 0``.

    Examples
    --------
    >>> g = SecurityGame([1, 2], [-1, -2], [-1, -1], [1, 2], resources=1)
    >>> g.n_targets, g.resources
    (2, 1)
    """

    defender_covered: Any
    defender_uncovered: Any
    attacker_covered: Any
    attacker_uncovered: Any
    resources: int = 1

    def __post_init__(self) -> None:
        where = "SecurityGame()"
        names = ("defender_covered", "defender_uncovered", "attacker_covered", "attacker_uncovered")
        arrays = [as_float_array(getattr(self, k), k, where, ndim=1) for k in names]
        T = arrays[0].shape[0]
        if T < 1:
            raise InvalidInputError(f"{where}: need at least one target")
        for k, a in zip(names, arrays):
            if a.shape != (T,):
                raise InvalidInputError(f"{where}: {k} has {a.shape[0]} targets, defender_covered has {T}")
        dc, du, ac, au = arrays
        bad = np.flatnonzero(dc < du)
        if bad.size:
            t = int(bad[0])
            raise InvalidInputError(f"{where}: defender_covered[{t}] = {dc[t]} must be >= defender_uncovered[{t}] "
                                    f"= {du[t]}")
        bad = np.flatnonzero(au <= ac)
        if bad.size:
            t = int(bad[0])
            raise InvalidInputError(f"{where}: attacker_uncovered[{t}] = {au[t]} must be > attacker_covered[{t}] "
                                    f"= {ac[t]}")
        res = check_int(self.resources, "resources", where, lower=0)
        for k, a in zip(names, arrays):
            a.setflags(write=False)
            object.__setattr__(self, k, a)
        object.__setattr__(self, "resources", res)

    @property
    def n_targets(self) -> int:
        return int(self.defender_covered.shape[0])

    def defender_utility(self, coverage: Any) -> np.ndarray:
        """The defender's utility of an attack on each target under ``coverage``."""
        c = np.asarray(coverage, dtype=np.float64)
        return c * self.defender_covered + (1.0 - c) * self.defender_uncovered

    def attacker_utility(self, coverage: Any) -> np.ndarray:
        """The attacker's utility of attacking each target under ``coverage``."""
        c = np.asarray(coverage, dtype=np.float64)
        return c * self.attacker_covered + (1.0 - c) * self.attacker_uncovered

    def to_normal_form(self):
        """The game with the defender's pure schedules spelled out (defender = player 0).

        Each defender strategy assigns ``min(resources, T)`` resources to distinct targets
        (``C(T, resources)`` strategies, listed in :func:`itertools.combinations` order), so use
        it for small games only (e.g. to cross-check with :func:`games.stackelberg.solve`).

        Examples
        --------
        >>> g = SecurityGame([1, 2, 0], [-1, -2, -3], [-1, -1, -1], [1, 2, 3], resources=2)
        >>> g.to_normal_form().shape
        (3, 3)
        """
        T = self.n_targets
        k = min(self.resources, T)
        schedules = list(itertools.combinations(range(T), k))
        cov = np.zeros((len(schedules), T))
        for s, sched in enumerate(schedules):
            cov[s, list(sched)] = 1.0
        A = cov * self.defender_covered + (1 - cov) * self.defender_uncovered
        B = cov * self.attacker_covered + (1 - cov) * self.attacker_uncovered
        labels = ["{" + ",".join(str(t) for t in sched) + "}" for sched in schedules]
        return NormalFormGame.from_arrays(A, B, players=["Defender", "Attacker"],
                                          strategies=[labels, [str(t) for t in range(T)]])


@dataclass(frozen=True, kw_only=True)
class SecurityResult(SolveResult):
    """The SSE of a security game.

    Attributes
    ----------
    coverage : numpy.ndarray
        Coverage probability per target (also ``x``).
    attacked_target : int
        The attacker's best response (ties broken in the defender's favour).
    defender_utility, attacker_utility : float
        Equilibrium utilities; ``objective`` is ``defender_utility``.
    attack_set : numpy.ndarray of int
        The targets that give the attacker his maximal utility under ``coverage``.
    """

    coverage: Any = None
    attacked_target: int = -1
    defender_utility: float = math.nan
    attacker_utility: float = math.nan
    attack_set: Any = None


def _check_game(game: Any, where: str) -> SecurityGame:
    if not isinstance(game, SecurityGame):
        raise InvalidInputError(f"{where}: game must be a games.security.SecurityGame, got {type(game).__name__}")
    return game


def _finish(game: SecurityGame, coverage: np.ndarray, *, method: str, backend: str, params: dict, t0: float,
            nit: int = 0, tol: float = 1e-9, status: Status = Status.OPTIMAL, message: str = "",
            bound: float = math.nan) -> SecurityResult:
    c = np.clip(coverage, 0.0, 1.0)
    ua = game.attacker_utility(c)
    ud = game.defender_utility(c)
    scale = max(1.0, float(np.abs(ua).max()))
    attack_set = np.flatnonzero(ua >= ua.max() - tol * scale)
    t = int(attack_set[np.argmax(ud[attack_set])])
    value = float(ud[t])
    if not math.isfinite(bound):
        bound = value
    return SecurityResult(status=status, message=message or "SSE coverage found", x=c, objective=value, bound=bound,
                          gap=abs(bound - value), nit=nit, runtime=time.perf_counter() - t0, method=method,
                          backend=backend, params=params, coverage=c, attacked_target=t, defender_utility=value,
                          attacker_utility=float(ua[t]), attack_set=attack_set)


def origami(game: SecurityGame, /, *, tol: float = 1e-9) -> SecurityResult:
    """The SSE coverage of a security game by ORIGAMI (Kiekintveld et al. 2009), in O(T^2).

    Targets are visited in decreasing order of the attacker's uncovered payoff. The attack set
    grows one target at a time: coverage on the current set is raised so that the attacker's
    utility on every target of the set falls to the next target's uncovered payoff, until the
    resources run out or some target would need coverage above 1. The remaining resources are
    then spread over the set keeping the attacker indifferent, giving his minimal achievable
    utility ``x*`` (never below the covered payoff of a fully covered target). The defender
    then gets her best utility among the targets the attacker is indifferent between -- the
    strong SSE, since lowering the attacker's level only raises every defender utility.

    Parameters
    ----------
    game : SecurityGame
    tol : float
        Relative tolerance of the attacker's indifference when forming the attack set.

    Returns
    -------
    SecurityResult

    Examples
    --------
    >>> g = SecurityGame([1, 2], [-1, -2], [-1, -1], [1, 2], resources=1)
    >>> res = origami(g)
    >>> res.coverage.round(6).tolist(), res.attacked_target, round(res.defender_utility, 6)
    ([0.4, 0.6], 1, 0.4)
    """
    game = _check_game(game, "origami()")
    tol = check_real(tol, "tol", "origami()", lower=0.0)
    t0 = time.perf_counter()
    T = game.n_targets
    m = float(game.resources)
    order = np.argsort(-game.attacker_uncovered, kind="stable")
    Ru = game.attacker_uncovered[order]
    Pc = game.attacker_covered[order]
    D = Ru - Pc  # > 0
    k = 1
    steps = 0
    while k < T:
        steps += 1
        level = Ru[k]
        if Pc[:k].max() > level:  # a target of the set would need coverage above 1
            break
        need = float(np.sum((Ru[:k] - level) / D[:k]))
        if need > m:
            break
        k += 1
    ratio = 1.0 / D[:k]
    spread = (float(np.sum(Ru[:k] * ratio)) - m) / float(np.sum(ratio))
    x_star = max(spread, float(Pc[:k].max()))
    cov_sorted = np.zeros(T)
    cov_sorted[:k] = np.clip((Ru[:k] - x_star) / D[:k], 0.0, 1.0)
    coverage = np.zeros(T)
    coverage[order] = cov_sorted
    return _finish(game, coverage, method="origami", backend="numpy", t0=t0, nit=steps, tol=tol,
                   params={"tol": tol, "attack_set_size": k, "attacker_level": x_star})


def eraser_model(game: SecurityGame):
    """The ERASER MILP of ``game`` as a :class:`solvers.LinearModel` (for export).

    Columns: coverage ``c[t]`` (``0..T-1``), attack indicators ``a[t]`` (binary, ``T..2T-1``),
    the defender's utility ``d`` and the attacker's utility ``k``. Rows, for every target
    ``t``: ``d - U_d(t, c_t) <= (1 - a_t) Z_d[t]`` and
    ``0 <= k - U_a(t, c_t) <= (1 - a_t) Z_a[t]``, plus ``sum(a) = 1`` and
    ``sum(c) <= resources``. The big-Ms are the exact payoff ranges
    ``Z_d[t] = max(defender_covered) - defender_uncovered[t]`` and
    ``Z_a[t] = max(attacker_uncovered) - attacker_covered[t]``.

    Examples
    --------
    >>> g = SecurityGame([1, 2], [-1, -2], [-1, -1], [1, 2], resources=1)
    >>> eraser_model(g).n_cols
    6
    """
    game = _check_game(game, "eraser_model()")
    T = game.n_targets
    dc, du = game.defender_covered, game.defender_uncovered
    ac, au = game.attacker_covered, game.attacker_uncovered
    Zd = dc.max() - du
    Za = au.max() - ac
    ncol = 2 * T + 2
    d, k = 2 * T, 2 * T + 1
    A = np.zeros((3 * T + 2, ncol))
    lo = np.zeros(3 * T + 2)
    hi = np.zeros(3 * T + 2)
    t = np.arange(T)
    # d - du - c (dc - du) + Zd a <= Zd
    A[t, t] = -(dc - du)
    A[t, T + t] = Zd
    A[t, d] = 1.0
    lo[:T] = -np.inf
    hi[:T] = Zd + du
    # k - au + c (au - ac) >= 0
    A[T + t, t] = au - ac
    A[T + t, k] = 1.0
    lo[T:2 * T] = au
    hi[T:2 * T] = np.inf
    # k - au + c (au - ac) + Za a <= Za
    A[2 * T + t, t] = au - ac
    A[2 * T + t, T + t] = Za
    A[2 * T + t, k] = 1.0
    lo[2 * T:3 * T] = -np.inf
    hi[2 * T:3 * T] = Za + au
    A[3 * T, T:2 * T] = 1.0
    lo[3 * T] = hi[3 * T] = 1.0
    A[3 * T + 1, :T] = 1.0
    lo[3 * T + 1] = -np.inf
    hi[3 * T + 1] = float(game.resources)
    c = np.zeros(ncol)
    c[d] = 1.0
    col_lower = np.concatenate([np.zeros(2 * T), [du.min(), ac.min()]])
    col_upper = np.concatenate([np.ones(2 * T), [dc.max(), au.max()]])
    integ = np.zeros(ncol, dtype=bool)
    integ[T:2 * T] = True
    return LinearModel(c, A, lo, hi, col_lower=col_lower, col_upper=col_upper, integrality=integ, sense="max")


def eraser(game: SecurityGame, /, *, time_limit: Optional[float] = None, mip_rel_gap: float = 1e-9,
           seed: Any = 0, options: Optional[Mapping[str, Any]] = None) -> SecurityResult:
    """The SSE coverage of a security game by the ERASER MILP on HiGHS (see :func:`eraser_model`).

    After the MILP picks the attacked target, the binaries are fixed and the model is re-solved
    as an LP, so the coverage is a vertex solution exact to LP accuracy.

    Parameters
    ----------
    game : SecurityGame
    time_limit : float, optional
        Seconds; on expiry the incumbent comes back with status TIME_LIMIT.
    mip_rel_gap : float
        Relative gap at which HiGHS stops (absolute gap 1e-9 as well).
    seed : int, Generator or None
        Drives HiGHS's random seed.
    options : mapping, optional
        HiGHS options passed verbatim.

    Returns
    -------
    SecurityResult

    Examples
    --------
    >>> g = SecurityGame([1, 2], [-1, -2], [-1, -1], [1, 2], resources=1)
    >>> res = eraser(g)
    >>> res.coverage.round(6).tolist(), res.attacked_target, round(res.defender_utility, 6)
    ([0.4, 0.6], 1, 0.4)
    """
    where = "eraser()"
    game = _check_game(game, where)
    tl = check_time_limit(time_limit, where)
    gap = check_real(mip_rel_gap, "mip_rel_gap", where, lower=0.0)
    opts = check_options(options, HIGHS_OPTIONS, where)
    seed_obj = resolve_seed(seed, where=where)
    t0 = time.perf_counter()
    T = game.n_targets
    model = eraser_model(game)
    res = model.solve(time_limit=tl, mip_rel_gap=gap, mip_abs_gap=1e-9, seed=seed_obj, options=opts)
    params = {"time_limit": tl, "mip_rel_gap": gap, "mip_abs_gap": 1e-9, "options": dict(opts),
              "seed": seed_obj.root, "highs_random_seed": res.params.get("highs_random_seed"), "polished": False}
    if res.x is None:
        if res.status in (Status.TIME_LIMIT, Status.STOPPED, Status.ITERATION_LIMIT):
            return SecurityResult(status=res.status, message=res.message, nit=res.nit,
                                  runtime=time.perf_counter() - t0, method="eraser", backend="highs", params=params)
        raise BackendError(f"{where}: HiGHS failed on the ERASER MILP: {res.status.value}: {res.message}")
    a = res.x[T:2 * T]
    target = int(np.argmax(a))
    coverage = res.x[:T].copy()
    nit = res.nit
    # polish: fix the attacked target and solve the LP
    onehot = np.zeros(T)
    onehot[target] = 1.0
    cols = np.arange(T, 2 * T)
    model.set_integrality(cols, False)
    model.set_col_bounds(cols, onehot, onehot)
    pol = model.solve(seed=seed_obj, options=opts)
    if pol.status == Status.OPTIMAL:
        coverage = pol.x[:T]
        params["polished"] = True
        nit += pol.nit
    status = Status.OPTIMAL if res.status == Status.OPTIMAL else res.status
    return _finish(game, coverage, method="eraser", backend="highs", params=params, t0=t0, nit=nit,
                   status=status, message=res.message,
                   bound=float(res.bound) if status != Status.OPTIMAL else math.nan)


def solve(game: SecurityGame, /, method: str = "origami", **options: Any) -> SecurityResult:
    """SSE of a security game: ``method="origami"`` (default) or ``"eraser"``.

    Examples
    --------
    >>> g = SecurityGame([1, 2], [-1, -2], [-1, -1], [1, 2], resources=1)
    >>> round(solve(g, method="eraser").defender_utility, 6)
    0.4
    """
    check_choice(method, "method", "solve()", ("origami", "eraser"))
    return (origami if method == "origami" else eraser)(game, **options)
