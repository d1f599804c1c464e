"""The arc-length predictor-corrector shared by the logit QRE solvers (normal form in
:mod:`games.qre`, agent QRE of game trees in :mod:`games.efg.qre`).

A system of ``n`` equations ``F(y, t) = 0`` in ``z = (y, t)`` (log-probabilities ``y``, a scaled
precision ``t``) is anything with the attributes of :class:`_Equations`: ``n``, ``w`` (relative
precision per player), ``scale`` (payoff range the precision is divided by), ``payoff_max``,
``residual(z)``, ``jacobian(z)`` (``n x (n + 1)``), ``lam_of(t)`` and ``start()`` (the uniform
profile at ``t = 0``). :class:`_Path` traces its solution curve from a point: the tangent comes
from the null space of the Jacobian, its orientation is kept by the sign of its product with the
previous tangent (folds in ``t`` are passed), steps are accepted or rejected from the corrector's
first displacement, its contraction rate and the turn of the tangent, and the corrector is a
chord Newton iteration on the factorised augmented Jacobian. :func:`_newton` polishes a point at fixed ``t``.

Also here: the compiled LU factorisation with partial pivoting (:func:`_k_lu`, :func:`_k_lu_solve`)
that the compiled QRE kernels and :mod:`games.nash` share, and the helpers the QRE entry points
share (controls, deadlines, statuses, progress events).

Every loop is bounded and checks the deadline through ``clock`` (a ``time.perf_counter``-like
function; the caller passes its own so that the deadline and the checks read one clock).
"""

from __future__ import annotations

import functools
import math
import numbers
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional, Protocol

import numpy as np
import scipy.linalg as sla
from numba import njit

from engine.events import Iteration, emit
from engine.seeding import resolve_seed
from engine.status import Status
from engine.threads import current_threads, default_threads
from engine.errors import InvalidInputError
from engine.validation import as_float_array, check_int, check_real, check_time_limit


class _Equations(Protocol):
    """What the tracer needs from a QRE system (see the module docstring)."""

    n: int
    w: np.ndarray
    scale: float
    payoff_max: float

    def residual(self, z: np.ndarray) -> np.ndarray: ...

    def jacobian(self, z: np.ndarray) -> np.ndarray: ...

    def lam_of(self, t: float) -> np.ndarray: ...

    def start(self) -> np.ndarray: ...


_FLOAT_MAX = float(np.finfo(float).max)


def _quiet_fp(func: Callable) -> Callable:
    """Run ``func`` with numpy's overflow/invalid warnings off: the tracer detects non-finite
    values itself (a rejected step, status ERROR) and the library does not warn about them."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return func(*args, **kwargs)

    return wrapper


# ---------------------------------------------------------------------- compiled linear algebra
@njit(cache=True, error_model="numpy")
def _k_lu(M, piv, m):  # pragma: no cover - compiled
    """In-place LU with partial pivoting of the leading ``m x m`` block of ``M`` (LAPACK getrf's
    convention: unit lower factor below the diagonal, ``piv[k]`` the row swapped with ``k``);
    returns getrf's ``info`` (0, or ``k + 1`` for the first zero pivot ``k``)."""
    info = 0
    for k in range(m):
        p = k
        big = abs(M[k, k])
        for i in range(k + 1, m):
            v = abs(M[i, k])
            if v > big:
                big = v
                p = i
        piv[k] = p
        if p != k:
            for j in range(m):
                tmp = M[k, j]
                M[k, j] = M[p, j]
                M[p, j] = tmp
        d = M[k, k]
        if d == 0.0:
            if info == 0:
                info = k + 1
            continue
        for i in range(k + 1, m):
            f = M[i, k] / d
            M[i, k] = f
            if f != 0.0:
                for j in range(k + 1, m):
                    M[i, j] -= f * M[k, j]
    return info


@njit(cache=True, error_model="numpy")
def _k_lu_solve(M, piv, b, x, m):  # pragma: no cover - compiled
    """Solve with the factors of :func:`_k_lu` (leading ``m x m`` block): ``x = M^-1 b``."""
    for i in range(m):
        x[i] = b[i]
    for k in range(m):
        p = piv[k]
        if p != k:
            tmp = x[k]
            x[k] = x[p]
            x[p] = tmp
    for i in range(m):
        s = x[i]
        for j in range(i):
            s -= M[i, j] * x[j]
        x[i] = s
    for i in range(m - 1, -1, -1):
        s = x[i]
        for j in range(i + 1, m):
            s -= M[i, j] * x[j]
        x[i] = s / M[i, i]


@njit(cache=True)
def _k_absmax(v):  # pragma: no cover - compiled
    """max |v| (nan when some entry is nan, like numpy's max)."""
    out = 0.0
    for i in range(v.shape[0]):
        a = abs(v[i])
        if a != a:
            return a
        if a > out:
            out = a
    return out


@njit(cache=True)
def _k_all_finite(v):  # pragma: no cover - compiled
    for i in range(v.shape[0]):
        if not np.isfinite(v[i]):
            return False
    return True


# ---------------------------------------------------------------------- tolerances
def _residual_tol(sys: _Equations, tol: float, t: float) -> float:
    """The residual a solution at ``t`` must reach: ``tol * max(1, lam * max|payoff|)``.

    The equations subtract terms ``lam[p] * u[p][s]`` of size up to ``lam * max|payoff|`` (game
    units), so their rounding floor grows with it: a game whose payoffs are multiplied by ``c``
    at precision ``lam / c`` gets the same tolerance (the same equations), and a game near 1e6 at
    ``lam = 1`` is judged against ``1e6 * tol``, not against a floor it cannot reach.
    """
    lam = float(t) * float(sys.w.max() if sys.w.size else 0.0) / sys.scale
    return tol * max(1.0, lam * sys.payoff_max)


def _regret_tol(sys: _Equations, maxregret: float) -> float:
    """Max regret accepted as an equilibrium: ``maxregret`` times the payoff range (the largest
    ``max - min`` over players; 1 for a constant game), never below 64 ulps of ``max|payoff|``
    (the rounding floor of expected payoffs). Scaling the payoffs scales it alike; adding a
    constant to a player's payoffs changes neither the regrets nor (above the floor) it."""
    return max(maxregret * sys.scale, 64.0 * np.finfo(float).eps * sys.payoff_max)


def _newton(sys: _Equations, z: np.ndarray, tol: float, maxit: int = 30, deadline: float = math.inf,
            clock: Callable[[], float] = time.perf_counter) -> tuple[np.ndarray, float, int]:
    """Full Newton in ``y`` at fixed ``t`` with backtracking; returns ``(z, residual, iterations)``.

    Stops at ``tol``, on stalling, after ``maxit`` iterations or once ``deadline`` (on
    ``clock``) has passed (checked before every iteration)."""
    n = sys.n
    z = np.array(z, dtype=float)
    F = sys.residual(z)
    res = float(np.abs(F).max()) if n else 0.0
    it = 0
    stall = 0
    while res > tol and it < maxit:
        if clock() > deadline:
            break
        it += 1
        Jy = sys.jacobian(z)[:, :n]
        try:
            step = np.linalg.solve(Jy, -F)
        except np.linalg.LinAlgError:
            break
        if not np.all(np.isfinite(step)):
            break
        alpha = 1.0
        improved = False
        for _ in range(30):
            cand = z.copy()
            cand[:n] += alpha * step
            Fc = sys.residual(cand)
            rc = float(np.abs(Fc).max())
            if np.isfinite(rc) and rc < res:
                improved = True
                break
            alpha *= 0.5
        if not improved:
            break
        stall = stall + 1 if rc > 0.5 * res else 0
        z, F, res = cand, Fc, rc
        if stall >= 3:
            break
    return z, res, it


# ====================================================================== the path tracer
_getrf, _getrs = sla.lapack.get_lapack_funcs(("getrf", "getrs"), (np.zeros(1),))


def _lu(M: np.ndarray):
    """LU factors of ``M`` straight from LAPACK (the scipy wrappers cost more than a small solve)."""
    lu, piv, info = _getrf(M)
    if info < 0:  # pragma: no cover - argument error
        raise np.linalg.LinAlgError("getrf failed")
    return lu, piv


def _lu_solve(f, b: np.ndarray) -> np.ndarray:
    x, info = _getrs(f[0], f[1], b)
    return x


@dataclass
class _Controls:
    first_step: float = 0.3
    max_accel: float = 2.0
    min_step: float = 1e-10
    max_step: float = math.inf
    d_nominal: float = 0.1        # first corrector displacement (max-norm, log space)
    d_max: float = 0.5
    kappa_nominal: float = 0.25   # chord contraction rate
    kappa_max: float = 0.6
    angle_nominal: float = 0.25   # radians between consecutive tangents
    angle_max: float = 0.8
    corrector_tol: float = 1e-7
    max_corrector: int = 25


class _Path:
    """Arc-length predictor-corrector on ``F(y, t) = 0``."""

    def __init__(self, sys: _Equations, z: np.ndarray, orient: np.ndarray, ctl: _Controls,
                 clock: Callable[[], float] = time.perf_counter):
        self.sys = sys
        self.clock = clock
        self.ctl = ctl
        self.n = sys.n
        self.e_last = np.zeros(self.n + 1)
        self.e_last[-1] = 1.0
        self.z = z.copy()
        self.J = sys.jacobian(self.z)
        self.a = orient / np.linalg.norm(orient)
        self.lu = _lu(np.vstack([self.J, self.a]))
        tau = _lu_solve(self.lu, self.e_last)
        self.tau = tau / np.linalg.norm(tau)
        self.h = ctl.first_step
        self.nit = 0          # step attempts
        self.n_newton = 0     # corrector iterations

    def step(self, target: Optional[float] = None, *, max_nit: float = math.inf,
             deadline: float = math.inf) -> str:
        """Advance to the next accepted point.

        Returns ``"target"`` when the point lies exactly at ``t = target``, ``"point"`` for an
        ordinary point, ``"underflow"`` when the step size fell below ``min_step``,
        ``"nonfinite"`` when the step or the predicted point is not finite (payoffs or precision
        beyond double precision), ``"maxiter"`` once ``nit`` reaches ``max_nit`` and ``"time"``
        once ``deadline`` (on ``clock``) has passed; both limits are checked before
        every attempt, so one call overruns the deadline by at most one attempt (a Jacobian, an
        LU factorisation and at most ``max_corrector`` residuals)."""
        ctl, n = self.ctl, self.n
        while True:
            if self.nit >= max_nit:
                return "maxiter"
            if self.clock() > deadline:
                return "time"
            self.nit += 1
            h = min(self.h, ctl.max_step)
            if not math.isfinite(h):
                return "nonfinite"
            final = False
            tau_t = self.tau[n]
            if target is not None and tau_t > 0 and self.z[n] + h * tau_t >= target:
                h = (target - self.z[n]) / tau_t
                final = True
            z_pred = self.z + h * self.tau
            if not _k_all_finite(z_pred):
                return "nonfinite"
            if final:
                z_pred[n] = target
                lu = _lu(np.vstack([self.J, self.e_last]))
                a = self.e_last
            else:
                lu, a = self.lu, self.a
            ok, w, d0, kappa = self._correct(lu, a, z_pred)
            if ok and final:
                w[n] = target
            if ok:
                J = self.sys.jacobian(w)
                lu_new = _lu(np.vstack([J, self.tau]))
                tau = _lu_solve(lu_new, self.e_last)
                norm = np.linalg.norm(tau)
                if not np.isfinite(norm) or norm == 0:
                    ok = False
                else:
                    tau /= norm
                    angle = math.acos(min(1.0, max(-1.0, float(self.tau @ tau))))
                    if angle > ctl.angle_max:
                        ok = False
            if not ok:
                self.h = h * 0.35
                if self.h < ctl.min_step:
                    return "underflow"
                continue
            factor = max(math.sqrt(d0 / ctl.d_nominal), math.sqrt(kappa / ctl.kappa_nominal),
                         angle / ctl.angle_nominal, 1.0 / ctl.max_accel)
            factor = min(factor, 3.0)
            self.h = max(h / factor, ctl.min_step) if not final else max(self.h / factor, ctl.min_step)
            self.a = self.tau
            self.tau = tau
            self.z = w
            self.J = J
            self.lu = lu_new
            return "target" if final else "point"

    def _correct(self, lu, a: np.ndarray, z_pred: np.ndarray):
        ctl, n = self.ctl, self.n
        w = z_pred.copy()
        d0 = 0.0
        kappa = 0.0
        prev = 0.0      # only read from k == 1 on, after the first step has set it
        rhs = np.empty(n + 1)
        for k in range(ctl.max_corrector):
            self.n_newton += 1
            rhs[:n] = self.sys.residual(w)
            rhs[n] = a @ (w - z_pred)
            if not _k_all_finite(rhs):  # compiled checks: a trace's many small vectors
                return False, w, d0, kappa
            delta = _lu_solve(lu, -rhs)
            nd = _k_absmax(delta)
            if not math.isfinite(nd):
                return False, w, d0, kappa
            if k == 0:
                d0 = nd
                if d0 > ctl.d_max:
                    return False, w, d0, kappa
            elif prev > 0:
                ratio = nd / prev
                if k == 1:
                    kappa = ratio
                if ratio > ctl.kappa_max:
                    return False, w, d0, kappa
            w += delta
            if nd <= ctl.corrector_tol * max(1.0, _k_absmax(w) * 1e-3):
                return True, w, d0, kappa
            prev = nd
        return False, w, d0, kappa


# ---------------------------------------------------------------------- entry-point helpers
def _check_callback(callback: Any, where: str) -> Optional[Callable]:
    if callback is not None and not callable(callback):
        raise InvalidInputError(f"{where}: callback must be callable, got {callback!r}")
    return callback


def _check_lam(lam: Any, N: int, where: str) -> np.ndarray:
    """``lam`` as one non-negative precision per player (``N`` players)."""
    if isinstance(lam, (bool, np.bool_)):
        raise InvalidInputError(f"{where}: lam must be a number or one number per player, got {lam!r}")
    if isinstance(lam, numbers.Real):
        v = check_real(lam, "lam", where, lower=0.0)
        return np.full(N, v)
    if isinstance(lam, (str, bytes)) or lam is None:
        raise InvalidInputError(f"{where}: lam must be a number or one number per player, got {lam!r}")
    arr = as_float_array(lam, "lam", where, ndim=(0, 1))
    if arr.ndim == 0:
        arr = np.full(N, float(arr))
        if not np.isfinite(arr).all():
            raise InvalidInputError(f"{where}: lam must be finite, got {lam!r}")
    if arr.shape != (N,):
        raise InvalidInputError(f"{where}: lam must be one number or {N} numbers (one per player), got {arr.size}")
    if np.any(arr < 0):
        raise InvalidInputError(f"{where}: lam must be >= 0, got {arr[arr < 0][0]}")
    return arr


def _controls(where: str, first_step: Any, max_accel: Any) -> _Controls:
    fs = check_real(first_step, "first_step", where, lower=0.0, lower_strict=True)
    ma = check_real(max_accel, "max_accel", where, lower=1.0)
    return _Controls(first_step=fs, max_accel=ma)


def _solve_options(where: str, n_players: int, lam: Any, tol: Any, maxiter: Any, time_limit: Any, callback: Any,
                   first_step: Any, max_accel: Any) -> tuple:
    """The checked options of a ``logit_solve``: ``(lam per player, tol, maxiter, time_limit,
    callback, controls)``."""
    lam_arr = _check_lam(lam, n_players, where)
    tol = check_real(tol, "tol", where, lower=0.0, lower_strict=True)
    maxiter = check_int(maxiter, "maxiter", where, lower=1)
    time_limit = check_time_limit(time_limit, where)
    callback = _check_callback(callback, where)
    return lam_arr, tol, maxiter, time_limit, callback, _controls(where, first_step, max_accel)


def _branch_options(where: str, maxregret: Any, lam_max: Any, maxiter: Any, time_limit: Any, callback: Any,
                    first_step: Any, max_accel: Any) -> tuple:
    """The checked options of a ``logit_branch``: ``(maxregret, lam_max, maxiter, time_limit,
    callback, controls)``."""
    maxregret = check_real(maxregret, "maxregret", where, lower=0.0, lower_strict=True)
    lam_max = check_real(lam_max, "lam_max", where, lower=0.0, lower_strict=True)
    maxiter = check_int(maxiter, "maxiter", where, lower=1)
    time_limit = check_time_limit(time_limit, where)
    callback = _check_callback(callback, where)
    return maxregret, lam_max, maxiter, time_limit, callback, _controls(where, first_step, max_accel)


def _check_warm_start(warm_start: Any, kind: type, log_attr: str, n: int, lam_arr: np.ndarray, where: str,
                      source: str) -> None:
    """``warm_start`` must be a successful ``kind`` of this game (``n`` log-probabilities in
    ``log_attr``) at a precision ``c * lam`` with ``0 <= c <= 1``."""
    if not isinstance(warm_start, kind) or getattr(warm_start, log_attr) is None:
        raise InvalidInputError(f"{where}: warm_start must be a {kind.__name__} from {source}, got "
                                f"{type(warm_start).__name__}")
    lp = np.asarray(getattr(warm_start, log_attr), dtype=float)
    prev = np.asarray(getattr(warm_start, "lam"), dtype=float)
    if lp.shape != (n,) or prev.shape != lam_arr.shape or not getattr(warm_start, "success"):
        raise InvalidInputError(f"{where}: warm_start does not belong to this game (or did not succeed)")
    mx, mxp = lam_arr.max(), prev.max()
    proportional = (mxp == 0) or (mx > 0 and np.allclose(prev / mxp, lam_arr / mx, rtol=1e-12, atol=1e-14))
    if not proportional or mxp > mx * (1 + 1e-14):
        raise InvalidInputError(f"{where}: warm_start must be a QRE at a precision c * lam with 0 <= c <= 1, "
                                f"got lam={prev.tolist()} for lam={lam_arr.tolist()}")


def _solve_params(lam_arr: np.ndarray, tol: float, maxiter: int, time_limit: Optional[float], ctl: _Controls,
                  warm_start: Any, seed: Any, threads: Optional[int], where: str) -> dict:
    """The ``params`` of a ``logit_solve`` result (the seed resolved, the threads in force)."""
    return {"lam": lam_arr.copy(), "tol": tol, "maxiter": maxiter, "time_limit": time_limit,
            "first_step": ctl.first_step, "max_accel": ctl.max_accel, "warm_start": warm_start is not None,
            "seed": resolve_seed(seed, where=where).root, "threads": _threads_in_force(threads)}


def _weights(lam_arr: np.ndarray) -> tuple[float, np.ndarray]:
    """``(lam_max, w)``: the largest precision and each player's relative to it (the branch is ``t * w``)."""
    lmax = float(lam_arr.max()) if lam_arr.size else 0.0
    return lmax, (lam_arr / lmax if lmax > 0 else np.ones_like(lam_arr))


def _target_and_start(sys: _Equations, lmax: float, warm_start: Any, log_attr: str, unit: str,
                      where: str) -> tuple[float, np.ndarray]:
    """``(target t, starting point z)``: the uniform profile at ``t = 0`` (``sys.start()``) or the
    warm start's point; refuses a precision whose terms overflow."""
    if not math.isfinite(lmax * sys.payoff_max * max(sys.n, 1)):
        raise InvalidInputError(f"{where}: lam * max|payoff| overflows double precision (lam = {lmax:g}, "
                                f"max|payoff| = {sys.payoff_max:g}, {sys.n} {unit} in all)")
    if warm_start is not None:
        z = np.concatenate([np.asarray(getattr(warm_start, log_attr), dtype=float),
                            [float(np.max(getattr(warm_start, "lam"))) * sys.scale]])
    else:
        z = sys.start()
    return lmax * sys.scale, z


def _solve_at(sys: _Equations, lmax: float, warm_start: Any, params: dict, *, log_attr: str, unit: str,
              tol: float, maxiter: int, time_limit: Optional[float], t0: float, ctl: _Controls,
              callback: Optional[Callable], where: str, new_path: Callable, newton: Callable,
              clock: Callable[[], float]) -> tuple:
    """The body of a ``logit_solve``: trace the branch of ``sys`` from the uniform profile (or
    ``warm_start``) to the precision ``lmax`` (``new_path(sys, z, orient, ctl, clock)`` builds the
    tracer) and polish there (``newton(sys, z, tol, deadline=, clock=)``); records
    ``params["residual_tol"]``.

    Returns ``(z, y, sigma, status, message, nit, residual)`` of the last point."""
    target, z = _target_and_start(sys, lmax, warm_start, log_attr, unit, where)
    deadline = _deadline(time_limit, t0)
    tol_eff = _residual_tol(sys, tol, target)
    params["residual_tol"] = tol_eff
    res: Optional[float] = None
    if sys.n == 0 or target == 0 or z[-1] >= target:
        z[-1] = target
        z, res, nit = newton(sys, z, tol, deadline=deadline, clock=clock)
        status, message = _polish_status(res, tol, tol_eff, deadline, clock)
    else:
        path = new_path(sys, z, _e_last(sys.n), ctl, clock)
        accepted = 0
        while True:
            outcome = path.step(target, max_nit=maxiter, deadline=deadline)
            if outcome not in ("point", "target"):
                status, message = _trace_end(outcome, maxiter)
                z, nit, message = path.z, path.nit + path.n_newton, message + " before lam"
                break
            accepted += 1
            if _emit_point(callback, where, accepted, sys, path.z):
                z, status, message, nit = path.z, Status.STOPPED, "stopped by callback", path.nit + path.n_newton
                break
            if outcome == "target":
                z, res, it = newton(sys, path.z, tol, deadline=deadline, clock=clock)
                status, message = _polish_status(res, tol, tol_eff, deadline, clock)
                nit = path.nit + path.n_newton + it
                break
    if res is None:
        res = float(np.abs(sys.residual(z)).max()) if sys.n else 0.0
    y = z[:sys.n].copy()
    return z, y, np.exp(y), status, message, nit, res


def _threads_in_force(threads: Optional[int]) -> int:
    """The thread count the call runs under (``hot_path`` has validated and applied it)."""
    n = current_threads()
    return int(n) if n is not None else int(threads or default_threads())


def _deadline(time_limit: Optional[float], start: float) -> float:
    return math.inf if time_limit is None else start + time_limit


def _emit_point(callback, source: str, nit: int, sys: _Equations, z: np.ndarray, extra: dict | None = None) -> bool:
    if callback is None:
        return False
    lam = sys.lam_of(float(z[-1]))
    homogeneous = lam.size == 0 or bool(np.all(lam == lam[0]))
    info = {"lam": float(lam[0]) if homogeneous and lam.size else lam.copy(), "t": float(z[-1])}
    if extra:
        info.update(extra)
    return emit(callback, Iteration(source=source, nit=nit, objective=float(lam.max()) if lam.size else 0.0,
                                    info=info))


def _trace_end(outcome: str, maxiter: int) -> tuple[Status, str]:
    """Status and message of a trace that :meth:`_Path.step` ended with ``outcome``."""
    if outcome == "maxiter":
        return Status.ITERATION_LIMIT, f"maxiter={maxiter} step attempts reached"
    if outcome == "time":
        return Status.TIME_LIMIT, "time limit reached"
    if outcome == "nonfinite":
        return Status.ERROR, ("non-finite step while tracing the branch (the precision times the payoffs "
                              "exceeds double precision)")
    return Status.ERROR, "step size underflow while tracing the branch"


def _polish_status(res: float, tol: float, tol_eff: float, deadline: float,
                   clock: Callable[[], float] = time.perf_counter) -> tuple[Status, str]:
    """Status of a Newton-polished point with residual ``res`` (see :func:`_residual_tol`)."""
    if not math.isfinite(res):
        return Status.ERROR, f"non-finite residual {res} after the Newton polish"
    if res <= tol_eff:
        return Status.OPTIMAL, ""
    if clock() > deadline:
        return Status.TIME_LIMIT, f"time limit reached during the Newton polish (residual {res:.3g})"
    return Status.FEASIBLE, (f"Newton polish stalled at residual {res:.3g} (target {tol_eff:.3g} = "
                             f"tol {tol:g} * max(1, lam * max|payoff|))")


def _e_last(n: int) -> np.ndarray:
    e = np.zeros(n + 1)
    e[-1] = 1.0
    return e
