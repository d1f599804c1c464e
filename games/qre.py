"""Logit quantal response equilibria (QRE) of N-player normal-form games.

The logit QRE at precision ``lam`` (one value per player allowed) is the profile ``sigma`` with

    sigma[p][s] = exp(lam[p] * u[p][s](sigma)) / sum_r exp(lam[p] * u[p][r](sigma))

where ``u[p][s](sigma)`` is player ``p``'s expected payoff of pure strategy ``s`` against the
other players' mixtures. The *principal branch* is the curve of solutions that starts at the
uniform profile at ``lam = 0``; it leads (as ``lam`` grows) to a Nash equilibrium.

Everything here works in log-probability space: with ``y = log(sigma)`` the equations are, for
player ``p`` and strategies ``s > 0``,

    y[p][s] - y[p][0] - lam[p] * (u[p][s] - u[p][0]) = 0,        sum_s exp(y[p][s]) - 1 = 0,

so probabilities down to 1e-300 and below keep full relative accuracy. The branch is traced by
an arc-length predictor-corrector in ``(y, t)`` (``t`` scales the precision, ``lam = t * w``):
the tangent comes from the null space of the Jacobian, its orientation is kept by the sign of
its product with the previous tangent, so folds in ``lam`` are passed without trouble. Steps are
large and adaptive (accepted or rejected from the corrector's first displacement, its
contraction rate and the turn of the tangent), the corrector is a chord Newton iteration on the
factorised augmented Jacobian, and the answer at a target precision is polished by full Newton.

Public functions: :func:`logit_solve` (the QRE at a precision), :func:`logit_branch` (the
principal branch up to a Nash equilibrium) and :func:`logit_estimate` (maximum-likelihood
precision from observed strategy counts).

Tolerances follow the payoffs, so multiplying every payoff by ``c`` (and the precision by
``1 / c``) gives the same statuses and answers: the residual target is ``tol * max(1, lam *
max|payoff|)``, ``maxregret`` and ``lam_max`` are relative to the payoff range. Payoffs whose
scale overflows double precision are refused (:class:`~engine.errors.InvalidInputError`);
every loop is bounded by ``maxiter`` and checks ``time_limit``, which a call overruns by at
most one step attempt or Newton iteration.
"""

from __future__ import annotations

import functools
import math
import numbers
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence

import numpy as np
import scipy.linalg as sla
import scipy.optimize
from numba import njit

from engine.errors import InvalidInputError
from engine.events import Iteration, emit
from engine.result import SolveResult
from engine.seeding import resolve_seed
from engine.status import Status
from engine.threads import current_threads, default_threads, hot_path
from engine.validation import as_float_array, check_int, check_real, check_time_limit
from games.normal_form import _NO_D, NormalFormGame, _regrets_kernel, contract, regrets_flat

__all__ = ["QREResult", "QREBranch", "QREEstimate", "logit_solve", "logit_branch", "logit_estimate"]


# ====================================================================== results
@dataclass(frozen=True, kw_only=True)
class QREResult(SolveResult):
    """A logit QRE on the principal branch.

    Attributes
    ----------
    lam : numpy.ndarray
        Precision of each player (all equal unless a per-player ``lam`` was given).
    profile : tuple of numpy.ndarray
        One probability vector per player.
    log_profile : numpy.ndarray
        ``log(profile)`` concatenated over players, accurate even where a probability underflows.
    residual : float
        Max absolute value of the fixed-point equations (log space) at ``profile``.
    x : numpy.ndarray
        The profile concatenated over players.
    """

    lam: Any = None
    profile: tuple = ()
    log_profile: Any = None
    residual: float = math.nan


@dataclass(frozen=True, kw_only=True)
class QREBranch(SolveResult):
    """The traced principal branch of the logit QRE correspondence.

    Attributes
    ----------
    lams : numpy.ndarray
        The precision at every accepted point of the trace (not monotone where the branch folds).
    profiles : numpy.ndarray
        ``profiles[k]`` is the profile (concatenated over players) at ``lams[k]``.
    lam : float
        Precision of the last traced point.
    profile : tuple of numpy.ndarray
        The end point: an approximate Nash equilibrium (see ``polished``).
    max_regret : float
        ``game.max_regret(profile)`` of the end point, computed on the returned profile.
    polished : bool
        True when the end point was obtained by solving the equilibrium conditions on the support
        read off the branch (exact up to rounding), False when it is the last QRE point itself.
    """

    lams: Any = None
    profiles: Any = None
    lam: float = math.nan
    profile: tuple = ()
    max_regret: float = math.nan
    polished: bool = False


@dataclass(frozen=True, kw_only=True)
class QREEstimate(SolveResult):
    """Maximum-likelihood logit QRE fitted to observed strategy counts.

    Attributes
    ----------
    lam : float
        The fitted precision.
    profile : tuple of numpy.ndarray
        The principal-branch QRE at ``lam``.
    log_like : float
        ``sum_p sum_s counts[p][s] * log(profile[p][s])`` (also in ``objective``).
    residual : float
        Fixed-point residual of ``profile``.
    lams, log_likes : numpy.ndarray
        The traced points and the log-likelihood at each (the profile of the likelihood).
    """

    lam: float = math.nan
    profile: tuple = ()
    log_like: float = math.nan
    residual: float = math.nan
    lams: Any = None
    log_likes: Any = None


# ====================================================================== the equations
_FLOAT_MAX = float(np.finfo(float).max)


def _quiet_fp(func: Callable) -> Callable:
    """Run ``func`` with numpy's overflow/invalid warnings off: the tracer detects non-finite
    values itself (a rejected step, status ERROR) and the library does not warn about them."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return func(*args, **kwargs)

    return wrapper


#: Two-player games with at most this many strategies in all take the compiled path (below it a
#: whole trace costs less than LAPACK's call overhead); games of three or more players always do.
_FAST_MAX_2P = 64


class _Prepared:
    """What the QRE equations need from a game, computed once per game (cached on it)."""

    def __init__(self, game: NormalFormGame, where: str):
        self.shape = tuple(int(n) for n in game.shape)
        self.N = len(self.shape)
        self.n = int(sum(self.shape))
        self.offsets = np.concatenate([[0], np.cumsum(self.shape)]).astype(np.int64)
        with np.errstate(over="ignore", invalid="ignore"):
            ranges = [float(np.ptp(a)) if a.size else 0.0 for a in game.payoffs]
            pmax = max((float(np.abs(a).max()) for a in game.payoffs if a.size), default=0.0)
            scale = max(ranges) if ranges else 0.0
            if not math.isfinite(scale) or not math.isfinite(pmax * self.n):
                raise InvalidInputError(
                    f"{where}: the payoffs' scale overflows double precision (max|payoff| = {pmax:g}, payoff range "
                    f"{scale:g}, {self.n} strategies in all); rescale the game so that max|payoff| * {self.n} "
                    f"stays below {_FLOAT_MAX:g}")
            self.scale = scale if scale > 0 else 1.0
            self.payoff_max = pmax
            self.T = [np.ascontiguousarray(a / self.scale) for a in game.payoffs]
            tmax = max((float(np.abs(a).max()) for a in self.T if a.size), default=0.0)
            if not math.isfinite(tmax * self.n):
                raise InvalidInputError(
                    f"{where}: the payoffs overflow after rescaling by their range {self.scale:g} "
                    f"(max|payoff| / range = {tmax:g}, {self.n} strategies in all); the payoffs' range is too small "
                    f"for their magnitude")
        self.slices = [slice(int(self.offsets[p]), int(self.offsets[p + 1])) for p in range(self.N)]
        self.fast = self.N != 2 or self.n <= _FAST_MAX_2P
        self.shape_arr = np.array(self.shape, dtype=np.int64)
        if self.fast:
            self.Tk = np.ascontiguousarray(np.stack([a.reshape(-1) for a in self.T]))
        else:
            A, B = self.T
            self.D2 = (A, np.ascontiguousarray(B.T))
            self.Ad = np.ascontiguousarray(A[1:] - A[0])
            self.Bd = np.ascontiguousarray(B.T[1:] - B.T[0])
            # Constant part of the Jacobian in y: the sum rows are filled per call; the log-ratio
            # rows of player p have +1 at (s, s) and -1 at (s, 0) in their own block.
            base = np.zeros((self.n, self.n + 1))
            for p in range(self.N):
                o, k = self.offsets[p], self.shape[p]
                for s in range(1, k):
                    base[o + s, o + s] = 1.0
                    base[o + s, o] = -1.0
            self.base = base


def _prepared(game: NormalFormGame, where: str) -> _Prepared:
    cache = game._derived  # type: ignore[attr-defined]
    prep = cache.get("qre")
    if prep is None:
        prep = cache["qre"] = _Prepared(game, where)  # raises (and caches nothing) on overflow
    return prep


class _System:
    """The QRE equations of a game in ``z = (y, t)``; player ``p``'s precision is ``t * w[p] / scale``.

    Payoffs are divided by ``scale`` (the largest payoff range) so that ``t`` and the step
    controls are in units independent of the payoff scale. ``payoff_max`` is ``max|payoff|``
    (game units): the equations' terms ``lam * u`` are at most ``lam * payoff_max``, which sets
    the rounding floor of their residual (see :func:`_residual_tol`).

    Small games (``fast``: three or more players, or two players with at most
    :data:`_FAST_MAX_2P` strategies in all) evaluate the equations, the Jacobian and whole
    predictor-corrector steps in compiled kernels (one pass over the contingencies gives every
    player's payoffs and every pairwise derivative); larger two-player games use numpy/LAPACK.

    Raises :class:`InvalidInputError` when the payoffs' scale overflows double precision: a
    payoff range, ``max|payoff| * n`` or a rescaled payoff ``* n`` (``n`` strategies in all)
    that is not finite.
    """

    def __init__(self, game: NormalFormGame, w: np.ndarray, where: str = "qre"):
        prep = _prepared(game, where)
        self.game = game
        self.prep = prep
        self.shape, self.N, self.n, self.offsets = prep.shape, prep.N, prep.n, prep.offsets
        self.scale, self.payoff_max, self.T, self.slices = prep.scale, prep.payoff_max, prep.T, prep.slices
        self.fast = prep.fast
        self.w = np.ascontiguousarray(w, dtype=float)

    # ---------------------------------------------------------------- payoffs
    def split(self, v: np.ndarray) -> list[np.ndarray]:
        return [v[sl] for sl in self.slices]

    def payoffs(self, sig: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Scaled strategy payoffs ``u[p]`` against ``sig``."""
        if self.fast:
            u = np.empty(self.n)
            contract(self.prep.Tk, self.prep.shape_arr, self.offsets, np.concatenate(sig), u, _NO_D, False)
            return self.split(u)
        return [self.prep.D2[0] @ sig[1], self.prep.D2[1] @ sig[0]]

    def derivs(self, sig: Sequence[np.ndarray]) -> dict:
        """``D[p, q][s, r] = d u[p][s] / d sig[q][r]`` for ``p != q`` (scaled payoffs)."""
        if not self.fast:
            return {(0, 1): self.prep.D2[0], (1, 0): self.prep.D2[1]}
        D = np.empty((self.n, self.n))
        contract(self.prep.Tk, self.prep.shape_arr, self.offsets, np.concatenate(sig), np.empty(self.n), D, True)
        return {(p, q): D[self.slices[p], self.slices[q]] for p in range(self.N) for q in range(self.N) if q != p}

    # ---------------------------------------------------------------- equations
    def residual(self, z: np.ndarray) -> np.ndarray:
        n = self.n
        F = np.empty(n)
        if self.fast:
            _k_residual(self.prep.Tk, self.prep.shape_arr, self.offsets, self.w, np.ascontiguousarray(z, dtype=float),
                        F, np.empty(n))
            return F
        y, t = z[:n], z[n]
        sig = np.exp(y)
        s1, s2 = sig[self.slices[0]], sig[self.slices[1]]
        y1, y2 = y[self.slices[0]], y[self.slices[1]]
        o2 = self.offsets[1]
        F[0] = s1.sum() - 1.0
        F[1:o2] = y1[1:] - y1[0] - (t * self.w[0]) * (self.prep.Ad @ s2)
        F[o2] = s2.sum() - 1.0
        F[o2 + 1:] = y2[1:] - y2[0] - (t * self.w[1]) * (self.prep.Bd @ s1)
        return F

    def jacobian(self, z: np.ndarray) -> np.ndarray:
        """``n x (n + 1)`` Jacobian of :meth:`residual` in ``(y, t)``."""
        n = self.n
        if self.fast:
            J = np.empty((n, n + 1))
            _k_jacobian(self.prep.Tk, self.prep.shape_arr, self.offsets, self.w, np.ascontiguousarray(z, dtype=float),
                        J, np.empty(n), np.empty((n, n)))
            return J
        y, t = z[:n], z[n]
        sig = np.exp(y)
        J = self.prep.base.copy()
        o2 = self.offsets[1]
        s1, s2 = sig[:o2], sig[o2:]
        Ad, Bd = self.prep.Ad, self.prep.Bd
        J[0, :o2] = s1
        J[o2, o2:n] = s2
        J[1:o2, o2:n] = (-t * self.w[0]) * (Ad * s2)
        J[o2 + 1:, :o2] = (-t * self.w[1]) * (Bd * s1)
        J[1:o2, n] = -self.w[0] * (Ad @ s2)
        J[o2 + 1:, n] = -self.w[1] * (Bd @ s1)
        return J

    # ---------------------------------------------------------------- certificates
    def max_regret(self, sig_flat: np.ndarray) -> float:
        """Max regret in the game's own payoff units."""
        if self.fast:
            out = np.empty(2 * self.N)
            _regrets_kernel(self.prep.Tk, self.prep.shape_arr, self.offsets,
                            np.ascontiguousarray(sig_flat, dtype=float), np.empty(self.n), out)
            return self.scale * max(0.0, float(out[1::2].max()))
        sigs = self.split(sig_flat)
        u = self.payoffs(sigs)
        return self.scale * max(max(0.0, float(u[p].max() - u[p] @ sigs[p])) for p in range(self.N))

    def start(self) -> np.ndarray:
        z = np.zeros(self.n + 1)
        for p in range(self.N):
            z[self.slices[p]] = -math.log(self.shape[p])
        return z

    def lam_of(self, t: float) -> np.ndarray:
        return t * self.w / self.scale


# ---------------------------------------------------------------------- compiled kernels
# The same equations, Jacobian, LU factorisation, predictor-corrector step and Newton polish as
# the numpy code, for small games (see _System.fast); every loop is bounded by its arguments.

@njit(cache=True, error_model="numpy")
def _k_residual(T, shape, off, w, z, F, u):  # pragma: no cover - compiled
    N = shape.shape[0]
    n = off[N]
    t = z[n]
    sig = np.exp(z[:n])
    contract(T, shape, off, sig, u, np.empty((0, 0)), False)
    for p in range(N):
        o = off[p]
        s = 0.0
        for j in range(o, off[p + 1]):
            s += sig[j]
        F[o] = s - 1.0
        c = t * w[p]
        for j in range(o + 1, off[p + 1]):
            F[j] = z[j] - z[o] - c * (u[j] - u[o])


@njit(cache=True, error_model="numpy")
def _k_jacobian(T, shape, off, w, z, J, u, D):  # pragma: no cover - compiled
    N = shape.shape[0]
    n = off[N]
    t = z[n]
    sig = np.exp(z[:n])
    contract(T, shape, off, sig, u, D, True)
    J[:, :] = 0.0
    for p in range(N):
        o = off[p]
        e = off[p + 1]
        for j in range(o, e):
            J[o, j] = sig[j]
        c = -t * w[p]
        for row in range(o + 1, e):
            J[row, row] = 1.0
            J[row, o] = -1.0
            J[row, n] = -w[p] * (u[row] - u[o])
            for q in range(N):
                if q == p:
                    continue
                for r in range(off[q], off[q + 1]):
                    J[row, r] = c * ((D[row, r] - D[o, r]) * sig[r])


@njit(cache=True, error_model="numpy")
def _k_lu(M, piv):  # pragma: no cover - compiled
    """In-place LU with partial pivoting (LAPACK getrf's convention); returns getrf's ``info``."""
    m = M.shape[0]
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
def _k_lu_solve(M, piv, b, x):  # pragma: no cover - compiled
    m = M.shape[0]
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


@njit(cache=True, error_model="numpy")
def _k_correct(T, shape, off, w, ctl, st, LU, piv, a, z_pred, wv, F, u, rhs, delta):  # pragma: no cover - compiled
    """Chord Newton corrector of :meth:`_Path._correct`: returns ``(ok, d0, kappa)``; ``wv`` holds the point."""
    n = off[shape.shape[0]]
    for i in range(n + 1):
        wv[i] = z_pred[i]
    d0 = 0.0
    kappa = 0.0
    prev = 0.0
    for k in range(int(ctl[9])):
        st[2] += 1.0
        _k_residual(T, shape, off, w, wv, F, u)
        s = 0.0
        for i in range(n + 1):
            s += a[i] * (wv[i] - z_pred[i])
        for i in range(n):
            rhs[i] = -F[i]
        rhs[n] = -s
        if not _k_all_finite(rhs):
            return False, d0, kappa
        _k_lu_solve(LU, piv, rhs, delta)
        nd = _k_absmax(delta)
        if not np.isfinite(nd):
            return False, d0, kappa
        if k == 0:
            d0 = nd
            if d0 > ctl[3]:
                return False, d0, kappa
        elif prev > 0:
            ratio = nd / prev
            if k == 1:
                kappa = ratio
            if ratio > ctl[5]:
                return False, d0, kappa
        for i in range(n + 1):
            wv[i] += delta[i]
        if nd <= ctl[8] * max(1.0, _k_absmax(wv) * 1e-3):
            return True, d0, kappa
        prev = nd
    return False, d0, kappa


@njit(cache=True, error_model="numpy")
def _k_step(T, shape, off, w, ctl, st, z, tau, a, J, LU, piv, target, has_target, budget):  # pragma: no cover
    """At most ``budget`` step attempts of :meth:`_Path.step`; the state (``z``, ``tau``, ``a``,
    ``J``, ``LU``/``piv`` of ``[J; a]``, ``st = [h, nit, n_newton]``) is updated in place.
    Returns 0 (a point), 1 (the target), 2 (step underflow), 3 (non-finite) or 4 (budget spent)."""
    n = off[shape.shape[0]]
    z_pred = np.empty(n + 1)
    wv = np.empty(n + 1)
    F = np.empty(n)
    u = np.empty(n)
    D = np.empty((n, n))
    rhs = np.empty(n + 1)
    delta = np.empty(n + 1)
    Jn = np.empty((n, n + 1))
    LUn = np.empty((n + 1, n + 1))
    pivn = np.empty(n + 1, dtype=np.int64)
    LUf = np.empty((n + 1, n + 1))
    pivf = np.empty(n + 1, dtype=np.int64)
    e_last = np.zeros(n + 1)
    e_last[n] = 1.0
    tau_new = np.empty(n + 1)
    min_step = ctl[0]
    attempts = 0
    while True:
        if attempts >= budget:
            return 4
        attempts += 1
        st[1] += 1.0
        h = min(st[0], ctl[1])
        if not np.isfinite(h):
            return 3
        final = False
        tau_t = tau[n]
        if has_target and tau_t > 0 and z[n] + h * tau_t >= target:
            h = (target - z[n]) / tau_t
            final = True
        for i in range(n + 1):
            z_pred[i] = z[i] + h * tau[i]
        if not _k_all_finite(z_pred):
            return 3
        lu_c, piv_c, a_c = LU, piv, a
        if final:
            z_pred[n] = target
            LUf[:n, :] = J
            LUf[n, :] = e_last
            _k_lu(LUf, pivf)
            lu_c, piv_c, a_c = LUf, pivf, e_last
        ok, d0, kappa = _k_correct(T, shape, off, w, ctl, st, lu_c, piv_c, a_c, z_pred, wv, F, u, rhs, delta)
        if ok and final:
            wv[n] = target
        angle = 0.0
        if ok:
            _k_jacobian(T, shape, off, w, wv, Jn, u, D)
            LUn[:n, :] = Jn
            LUn[n, :] = tau
            _k_lu(LUn, pivn)
            _k_lu_solve(LUn, pivn, e_last, tau_new)
            norm = 0.0
            for i in range(n + 1):
                norm += tau_new[i] * tau_new[i]
            norm = math.sqrt(norm)
            if not np.isfinite(norm) or norm == 0:
                ok = False
            else:
                dot = 0.0
                for i in range(n + 1):
                    tau_new[i] /= norm
                    dot += tau[i] * tau_new[i]
                angle = math.acos(min(1.0, max(-1.0, dot)))
                if angle > ctl[7]:
                    ok = False
        if not ok:
            st[0] = h * 0.35
            if st[0] < min_step:
                return 2
            continue
        factor = max(math.sqrt(d0 / ctl[2]), math.sqrt(kappa / ctl[4]), angle / ctl[6], 1.0 / ctl[10])
        factor = min(factor, 3.0)
        if final:
            st[0] = max(st[0] / factor, min_step)
        else:
            st[0] = max(h / factor, min_step)
        for i in range(n + 1):
            a[i] = tau[i]
            tau[i] = tau_new[i]
            z[i] = wv[i]
        J[:, :] = Jn
        LU[:, :] = LUn
        piv[:] = pivn
        return 1 if final else 0


@njit(cache=True, error_model="numpy")
def _k_newton(T, shape, off, w, z, tol, maxit, budget, st):  # pragma: no cover - compiled
    """Up to ``budget`` iterations of :func:`_newton_fixed_t` on ``z`` (in place). ``st`` =
    ``[res, it, stall, done, started]`` carries the state between calls; ``budget = 0`` only
    evaluates the starting residual."""
    n = off[shape.shape[0]]
    F = np.empty(n)
    Fc = np.empty(n)
    u = np.empty(n)
    D = np.empty((n, n))
    J = np.empty((n, n + 1))
    M = np.empty((n, n))
    piv = np.empty(n, dtype=np.int64)
    step = np.empty(n)
    cand = np.empty(n + 1)
    _k_residual(T, shape, off, w, z, F, u)
    if st[4] == 0.0:
        st[0] = _k_absmax(F)
        st[4] = 1.0
    res = st[0]
    done = 0
    while done < budget:
        if not (res > tol and st[1] < maxit):
            st[3] = 1.0
            return
        done += 1
        st[1] += 1.0
        _k_jacobian(T, shape, off, w, z, J, u, D)
        M[:, :] = J[:, :n]
        if _k_lu(M, piv) != 0:
            st[3] = 1.0
            return
        for i in range(n):
            F[i] = -F[i]
        _k_lu_solve(M, piv, F, step)
        if not _k_all_finite(step):
            st[3] = 1.0
            return
        alpha = 1.0
        improved = False
        rc = 0.0
        for _ in range(30):
            for i in range(n + 1):
                cand[i] = z[i]
            for i in range(n):
                cand[i] += alpha * step[i]
            _k_residual(T, shape, off, w, cand, Fc, u)
            rc = _k_absmax(Fc)
            if np.isfinite(rc) and rc < res:
                improved = True
                break
            alpha *= 0.5
        if not improved:
            st[3] = 1.0
            return
        st[2] = st[2] + 1.0 if rc > 0.5 * res else 0.0
        for i in range(n + 1):
            z[i] = cand[i]
        for i in range(n):
            F[i] = Fc[i]
        res = rc
        st[0] = res
        if st[2] >= 3:
            st[3] = 1.0
            return
    if not (res > tol and st[1] < maxit):
        st[3] = 1.0



def _residual_tol(sys: _System, tol: float, t: float) -> float:
    """The residual a solution at ``t`` must reach: ``tol * max(1, lam * max|payoff|)``.

    The equations subtract terms ``lam[p] * u[p][s]`` of size up to ``lam * max|payoff|`` (game
    units), so their rounding floor grows with it: a game whose payoffs are multiplied by ``c``
    at precision ``lam / c`` gets the same tolerance (the same equations), and a game near 1e6 at
    ``lam = 1`` is judged against ``1e6 * tol``, not against a floor it cannot reach.
    """
    lam = float(t) * float(sys.w.max() if sys.w.size else 0.0) / sys.scale
    return tol * max(1.0, lam * sys.payoff_max)


def _regret_tol(sys: _System, maxregret: float) -> float:
    """Max regret accepted as an equilibrium: ``maxregret`` times the payoff range (the largest
    ``max - min`` over players; 1 for a constant game), never below 64 ulps of ``max|payoff|``
    (the rounding floor of expected payoffs). Scaling the payoffs scales it alike; adding a
    constant to a player's payoffs changes neither the regrets nor (above the floor) it."""
    return max(maxregret * sys.scale, 64.0 * np.finfo(float).eps * sys.payoff_max)


def _newton_fixed_t(sys: _System, z: np.ndarray, tol: float, maxit: int = 30,
                    deadline: float = math.inf) -> tuple[np.ndarray, float, int]:
    """Full Newton in ``y`` at fixed ``t`` with backtracking; returns ``(z, residual, iterations)``.

    Stops at ``tol``, on stalling, after ``maxit`` iterations or once ``deadline``
    (``time.perf_counter()``) has passed (checked before every iteration)."""
    n = sys.n
    z = np.array(z, dtype=float)
    if sys.fast:
        prep = sys.prep
        st = np.zeros(5)
        args = (prep.Tk, prep.shape_arr, sys.offsets, sys.w, z, float(tol), float(maxit))
        if deadline == math.inf:
            _k_newton(*args, maxit, st)
        else:
            _k_newton(*args, 0, st)
            while st[3] == 0.0 and time.perf_counter() <= deadline:
                _k_newton(*args, 1, st)
        return z, float(st[0]), int(st[1])
    F = sys.residual(z)
    res = float(np.abs(F).max()) if n else 0.0
    it = 0
    stall = 0
    while res > tol and it < maxit:
        if time.perf_counter() > deadline:
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

    def __init__(self, sys: _System, z: np.ndarray, orient: np.ndarray, ctl: _Controls):
        self.sys = sys
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
        once ``deadline`` (``time.perf_counter()``) has passed; both limits are checked before
        every attempt, so one call overruns the deadline by at most one attempt (a Jacobian, an
        LU factorisation and at most ``max_corrector`` residuals)."""
        ctl, n = self.ctl, self.n
        while True:
            if self.nit >= max_nit:
                return "maxiter"
            if time.perf_counter() > deadline:
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
            if not np.all(np.isfinite(z_pred)):
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
            if not np.all(np.isfinite(rhs)):
                return False, w, d0, kappa
            delta = _lu_solve(lu, -rhs)
            nd = float(np.abs(delta).max())
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
            if nd <= ctl.corrector_tol * max(1.0, float(np.abs(w).max()) * 1e-3):
                return True, w, d0, kappa
            prev = nd
        return False, w, d0, kappa


class _FastPath:
    """:class:`_Path` for small games: the same steps, taken by the compiled :func:`_k_step`."""

    _OUTCOMES = ("point", "target", "underflow", "nonfinite")

    def __init__(self, sys: _System, z: np.ndarray, orient: np.ndarray, ctl: _Controls):
        self.sys = sys
        n = self.n = sys.n
        self._z = np.array(z, dtype=float)
        self._J = sys.jacobian(self._z)
        self._a = orient / np.linalg.norm(orient)
        self._LU = np.vstack([self._J, self._a])
        self._piv = np.empty(n + 1, dtype=np.int64)
        _k_lu(self._LU, self._piv)
        tau = np.empty(n + 1)
        _k_lu_solve(self._LU, self._piv, _e_last(n), tau)
        self._tau = tau / np.linalg.norm(tau)
        self._ctl = np.array([ctl.min_step, ctl.max_step, ctl.d_nominal, ctl.d_max, ctl.kappa_nominal, ctl.kappa_max,
                              ctl.angle_nominal, ctl.angle_max, ctl.corrector_tol, ctl.max_corrector, ctl.max_accel],
                             dtype=float)
        self._st = np.array([ctl.first_step, 0.0, 0.0])
        self.z = self._z.copy()
        self.tau = self._tau.copy()

    @property
    def nit(self) -> int:
        return int(self._st[1])

    @property
    def n_newton(self) -> int:
        return int(self._st[2])

    def step(self, target: Optional[float] = None, *, max_nit: float = math.inf,
             deadline: float = math.inf) -> str:
        """As :meth:`_Path.step` (limits checked before every step attempt)."""
        prep = self.sys.prep
        args = (prep.Tk, prep.shape_arr, self.sys.offsets, self.sys.w, self._ctl, self._st, self._z, self._tau,
                self._a, self._J, self._LU, self._piv, 0.0 if target is None else float(target), target is not None)
        while True:
            nit = self._st[1]
            if nit >= max_nit:
                return "maxiter"
            if time.perf_counter() > deadline:
                return "time"
            budget = 1 if deadline != math.inf else (1 << 62 if max_nit == math.inf else int(max_nit - nit))
            code = _k_step(*args, budget)
            if code != 4:
                self.z = self._z.copy()
                self.tau = self._tau.copy()
                return self._OUTCOMES[code]


def _new_path(sys: _System, z: np.ndarray, orient: np.ndarray, ctl: _Controls):
    return _FastPath(sys, z, orient, ctl) if sys.fast else _Path(sys, z, orient, ctl)


# ====================================================================== validation
def _check_game(game: Any, where: str) -> NormalFormGame:
    if not isinstance(game, NormalFormGame):
        raise InvalidInputError(f"{where}: game must be a games.NormalFormGame, got {type(game).__name__}")
    return game


def _check_lam(lam: Any, game: NormalFormGame, where: str) -> np.ndarray:
    N = game.n_players
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


def _check_callback(callback: Any, where: str) -> Optional[Callable]:
    if callback is not None and not callable(callback):
        raise InvalidInputError(f"{where}: callback must be callable, got {callback!r}")
    return callback


def _controls(where: str, first_step: Any, max_accel: Any) -> _Controls:
    fs = check_real(first_step, "first_step", where, lower=0.0, lower_strict=True)
    ma = check_real(max_accel, "max_accel", where, lower=1.0)
    return _Controls(first_step=fs, max_accel=ma)


def _validate_solve(game, lam, tol, maxiter, time_limit, callback, first_step, max_accel, warm_start):
    where = "logit_solve()"
    game = _check_game(game, where)
    lam_arr = _check_lam(lam, game, where)
    tol = check_real(tol, "tol", where, lower=0.0, lower_strict=True)
    maxiter = check_int(maxiter, "maxiter", where, lower=1)
    time_limit = check_time_limit(time_limit, where)
    callback = _check_callback(callback, where)
    ctl = _controls(where, first_step, max_accel)
    if warm_start is not None:
        if not isinstance(warm_start, QREResult) or warm_start.log_profile is None:
            raise InvalidInputError(f"{where}: warm_start must be a QREResult from logit_solve(), got "
                                    f"{type(warm_start).__name__}")
        lp = np.asarray(warm_start.log_profile, dtype=float)
        prev = np.asarray(warm_start.lam, dtype=float)
        if lp.shape != (sum(game.shape),) or prev.shape != lam_arr.shape or not warm_start.success:
            raise InvalidInputError(f"{where}: warm_start does not belong to this game (or did not succeed)")
        mx, mxp = lam_arr.max(), prev.max()
        proportional = (mxp == 0) or (mx > 0 and np.allclose(prev / mxp, lam_arr / mx, rtol=1e-12, atol=1e-14))
        if not proportional or mxp > mx * (1 + 1e-14):
            raise InvalidInputError(f"{where}: warm_start must be a QRE at a precision c * lam with 0 <= c <= 1, "
                                    f"got lam={prev.tolist()} for lam={lam_arr.tolist()}")
    return game, lam_arr, tol, maxiter, time_limit, callback, ctl


def _validate_branch(game, maxregret, lam_max, maxiter, time_limit, callback, first_step, max_accel, polish):
    where = "logit_branch()"
    game = _check_game(game, where)
    maxregret = check_real(maxregret, "maxregret", where, lower=0.0, lower_strict=True)
    lam_max = check_real(lam_max, "lam_max", where, lower=0.0, lower_strict=True)
    maxiter = check_int(maxiter, "maxiter", where, lower=1)
    time_limit = check_time_limit(time_limit, where)
    callback = _check_callback(callback, where)
    ctl = _controls(where, first_step, max_accel)
    if not isinstance(polish, (bool, np.bool_)):
        raise InvalidInputError(f"{where}: polish must be True or False, got {polish!r}")
    return game, maxregret, lam_max, maxiter, time_limit, callback, ctl, bool(polish)


def _check_counts(counts: Any, game: NormalFormGame, where: str) -> np.ndarray:
    shape = game.shape
    n = int(sum(shape))
    if isinstance(counts, (str, bytes)) or counts is None or isinstance(counts, numbers.Number):
        raise InvalidInputError(f"{where}: counts must be one count vector per player, got {counts!r}")
    if isinstance(counts, np.ndarray) and counts.ndim == 1 and counts.dtype != object:
        flat = as_float_array(counts, "counts", where, ndim=1)
        if flat.shape != (n,):
            raise InvalidInputError(f"{where}: flat counts must have {n} entries (strategies of all players), "
                                    f"got {flat.shape[0]}")
    else:
        try:
            parts = list(counts)
        except TypeError as err:
            raise InvalidInputError(f"{where}: counts must be one count vector per player, got {counts!r}") from err
        if len(parts) != game.n_players:
            raise InvalidInputError(f"{where}: counts must hold {game.n_players} vectors (one per player), "
                                    f"got {len(parts)}")
        vecs = []
        for p, (part, k) in enumerate(zip(parts, shape)):
            if isinstance(part, (str, bytes)):
                raise InvalidInputError(f"{where}: counts[{p}] must be numeric, got {part!r}")
            vecs.append(as_float_array(part, f"counts[{p}]", where, shape=(k,)))
        flat = np.concatenate(vecs) if vecs else np.zeros(0)
    if not np.all(np.isfinite(flat)):
        raise InvalidInputError(f"{where}: counts must be finite, got {flat[~np.isfinite(flat)][0]}")
    if np.any(flat < 0):
        raise InvalidInputError(f"{where}: counts must be >= 0, got {flat[flat < 0][0]}")
    with np.errstate(over="ignore"):
        total = float(flat.sum())
    if not math.isfinite(total):
        raise InvalidInputError(f"{where}: the counts' total overflows double precision; rescale them "
                                f"(the estimate depends on their proportions only)")
    if total <= 0:
        raise InvalidInputError(f"{where}: counts are all zero; nothing to estimate from")
    return flat


# ====================================================================== helpers
def _profile_tuple(sys: _System, sig: np.ndarray) -> tuple:
    return tuple(np.array(v) for v in sys.split(sig))


def _threads_in_force(threads: Optional[int]) -> int:
    """The thread count the call runs under (``hot_path`` has validated and applied it)."""
    n = current_threads()
    return int(n) if n is not None else int(threads or default_threads())


def _deadline(time_limit: Optional[float], start: float) -> float:
    return math.inf if time_limit is None else start + time_limit


def _emit_point(callback, source: str, nit: int, sys: _System, z: np.ndarray, extra: dict | None = None) -> bool:
    if callback is None:
        return False
    lam = sys.lam_of(float(z[-1]))
    homogeneous = lam.size == 0 or bool(np.all(lam == lam[0]))
    info = {"lam": float(lam[0]) if homogeneous and lam.size else lam.copy(), "t": float(z[-1])}
    if extra:
        info.update(extra)
    return emit(callback, Iteration(source=source, nit=nit, objective=float(lam.max()) if lam.size else 0.0,
                                    info=info))


# ====================================================================== logit_solve
@hot_path
@_quiet_fp
def logit_solve(game: NormalFormGame, lam: Any = 1.0, *, tol: float = 1e-12, maxiter: int = 10_000,
                time_limit: Optional[float] = None, callback: Optional[Callable] = None, first_step: float = 0.3,
                max_accel: float = 2.0, warm_start: Optional[QREResult] = None, seed: Any = 0,
                threads: Optional[int] = None) -> QREResult:
    """The logit QRE on the principal branch at precision ``lam``.

    The branch is traced from the uniform profile at ``lam = 0`` (or from ``warm_start``) to the
    first point where it reaches ``lam``, then polished by Newton's method at ``lam``.

    Parameters
    ----------
    game : NormalFormGame
        Any number of players.
    lam : float or sequence of float
        The precision, or one precision per player (heterogeneous QRE: the branch is then
        ``t * lam`` for ``t`` from 0 to 1). Must be finite and ``>= 0``.
    tol : float
        Target max-abs residual of the fixed-point equations (log space) for the final Newton
        polish, relative to the size of their terms: the answer is OPTIMAL when the residual is
        ``<= tol * max(1, lam * max|payoff|)`` (recorded in ``params["residual_tol"]``), so a
        game with payoffs multiplied by ``c`` gives the same status at precision ``lam / c``,
        and a game with payoffs near 1e6 is not held to a residual below its rounding floor.
        Newton still iterates towards ``tol`` itself until it stalls.
    maxiter : int
        Maximum number of predictor-corrector step attempts.
    time_limit : float, optional
        Wall-clock seconds; on expiry the last traced point is returned with status TIME_LIMIT.
        The deadline is checked before every step attempt and Newton iteration, so the call
        overruns it by at most one of them (a Jacobian, an LU factorisation and up to 25
        residual evaluations; milliseconds for games of a few hundred strategies).
    callback : callable, optional
        Receives an :class:`engine.events.Iteration` per accepted point (``objective`` = the
        largest precision); raising ``StopIteration`` stops with status STOPPED and the last point.
    first_step, max_accel : float
        First arc-length step (payoffs scaled to unit range) and largest growth factor of a step.
    warm_start : QREResult, optional
        A result of this function at a precision ``c * lam`` with ``0 <= c <= 1`` (same game):
        tracing continues from it, so a sequence of increasing precisions costs one trace.
    seed : int, Generator or None
        Accepted for the shared calling convention and recorded in ``params``; the method is
        deterministic and draws nothing (a Generator still gives up one draw).
    threads : int, optional
        Threads for the BLAS/OpenMP work of the call (``engine.threads``; default: the engine's
        policy, one thread). Small games run in compiled single-threaded kernels either way.

    Returns
    -------
    QREResult
        ``lam``, ``profile``, ``log_profile``, ``residual`` plus the core fields (``x`` is the
        concatenated profile, ``nit`` counts step attempts and Newton iterations). A trace that
        cannot continue (step-size underflow, a non-finite step) ends with status ERROR.

    Raises
    ------
    InvalidInputError
        Bad options, or payoffs (or ``lam * max|payoff|``) whose scale overflows double
        precision, e.g. ``[[1e308, -1e308], [0, 0]]``.

    Examples
    --------
    >>> from games.normal_form import NormalFormGame
    >>> g = NormalFormGame.from_arrays([[3, 0], [0, 1]], [[2, 0], [0, 3]])
    >>> r = logit_solve(g, 2.0)
    >>> bool(r.residual <= 1e-10), [round(float(v), 6) for v in r.profile[0]]
    (True, [0.997134, 0.002866])
    """
    t0 = time.perf_counter()
    game, lam_arr, tol, maxiter, time_limit, callback, ctl = _validate_solve(
        game, lam, tol, maxiter, time_limit, callback, first_step, max_accel, warm_start)
    where = "logit_solve()"
    seed_obj = resolve_seed(seed, where=where)
    params = {"lam": lam_arr.copy(), "tol": tol, "maxiter": maxiter, "time_limit": time_limit,
              "first_step": ctl.first_step, "max_accel": ctl.max_accel, "warm_start": warm_start is not None,
              "seed": seed_obj.root, "threads": _threads_in_force(threads)}
    lmax = float(lam_arr.max()) if lam_arr.size else 0.0
    w = lam_arr / lmax if lmax > 0 else np.ones_like(lam_arr)
    sys = _System(game, w, where)
    if not math.isfinite(lmax * sys.payoff_max * sys.n):
        raise InvalidInputError(f"{where}: lam * max|payoff| overflows double precision (lam = {lmax:g}, "
                                f"max|payoff| = {sys.payoff_max:g}, {sys.n} strategies in all)")
    target = lmax * sys.scale
    deadline = _deadline(time_limit, t0)

    if warm_start is not None:
        z = np.concatenate([np.asarray(warm_start.log_profile, dtype=float),
                            [float(np.max(warm_start.lam)) * sys.scale]])
    else:
        z = sys.start()

    def finish(z: np.ndarray, status: Status, message: str, nit: int, res: Optional[float] = None) -> QREResult:
        if res is None:
            res = float(np.abs(sys.residual(z)).max()) if sys.n else 0.0
        y = z[:sys.n].copy()
        sig = np.exp(y)
        return QREResult(status=status, message=message, x=sig, nit=nit, runtime=time.perf_counter() - t0,
                         method="logit_solve", backend="numpy", params=params, lam=sys.lam_of(float(z[-1])),
                         profile=_profile_tuple(sys, sig), log_profile=y, residual=res)

    tol_eff = _residual_tol(sys, tol, target)
    params["residual_tol"] = tol_eff

    if target == 0 or z[-1] >= target:
        z[-1] = target
        z, res, it = _newton_fixed_t(sys, z, tol, deadline=deadline)
        status, message = _polish_status(res, tol, tol_eff, deadline)
        return finish(z, status, message, it, res)

    path = _new_path(sys, z, _e_last(sys.n), ctl)
    accepted = 0
    while True:
        outcome = path.step(target, max_nit=maxiter, deadline=deadline)
        if outcome not in ("point", "target"):
            status, message = _trace_end(outcome, maxiter)
            return finish(path.z, status, message + " before lam", path.nit + path.n_newton)
        accepted += 1
        if _emit_point(callback, where, accepted, sys, path.z):
            return finish(path.z, Status.STOPPED, "stopped by callback", path.nit + path.n_newton)
        if outcome == "target":
            break
    z, res, it = _newton_fixed_t(sys, path.z, tol, deadline=deadline)
    status, message = _polish_status(res, tol, tol_eff, deadline)
    return finish(z, status, message, path.nit + path.n_newton + it, res)


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


def _polish_status(res: float, tol: float, tol_eff: float, deadline: float) -> tuple[Status, str]:
    """Status of a Newton-polished point with residual ``res`` (see :func:`_residual_tol`)."""
    if not math.isfinite(res):
        return Status.ERROR, f"non-finite residual {res} after the Newton polish"
    if res <= tol_eff:
        return Status.OPTIMAL, ""
    if time.perf_counter() > deadline:
        return Status.TIME_LIMIT, f"time limit reached during the Newton polish (residual {res:.3g})"
    return Status.FEASIBLE, (f"Newton polish stalled at residual {res:.3g} (target {tol_eff:.3g} = "
                             f"tol {tol:g} * max(1, lam * max|payoff|))")


def _e_last(n: int) -> np.ndarray:
    e = np.zeros(n + 1)
    e[-1] = 1.0
    return e


# ====================================================================== Nash polish
def _support_nash(sys: _System, sig_flat: np.ndarray, mask: np.ndarray, maxit: int = 40) -> Optional[np.ndarray]:
    """Solve the equilibrium conditions on the support ``mask`` (indifference + sums) by Newton
    from ``sig_flat``; returns the full profile or None. Linear (one step) for two players."""
    if sys.fast:
        out = np.empty(sys.n)
        ok = _k_support_nash(sys.prep.Tk, sys.prep.shape_arr, sys.offsets, np.ascontiguousarray(sig_flat, dtype=float),
                             mask, maxit, out)
        return out if ok else None
    supports = [np.flatnonzero(mask[sl]) for sl in sys.slices]
    N = sys.N
    sizes = [len(S) for S in supports]
    m = sum(sizes)
    offs = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
    x = np.empty(m + N)
    sigs = sys.split(sig_flat)
    for p, S in enumerate(supports):
        v = sigs[p][S]
        tot = v.sum()
        x[offs[p]:offs[p + 1]] = v / tot if tot > 0 else 1.0 / len(S)
    full = [np.zeros(k) for k in sys.shape]

    def unpack(x):
        for p, S in enumerate(supports):
            full[p][:] = 0.0
            full[p][S] = x[offs[p]:offs[p + 1]]
        return full

    u = sys.payoffs(unpack(x))
    for p, S in enumerate(supports):
        x[m + p] = float(np.mean(u[p][S]))
    res_prev = math.inf
    for _ in range(maxit):
        prof = unpack(x)
        u = sys.payoffs(prof)
        F = np.empty(m + N)
        for p, S in enumerate(supports):
            F[offs[p]:offs[p + 1]] = u[p][S] - x[m + p]
            F[m + p] = x[offs[p]:offs[p + 1]].sum() - 1.0
        res = float(np.abs(F).max())
        if res <= 1e-14 or (res >= 0.5 * res_prev and res <= 1e-11):
            break
        if not np.isfinite(res) or res > 1e6:
            return None
        res_prev = res
        D = sys.derivs(prof) if N > 1 else {}
        J = np.zeros((m + N, m + N))
        for p, S in enumerate(supports):
            rows = slice(offs[p], offs[p + 1])
            for q, R in enumerate(supports):
                if q != p:
                    J[rows, offs[q]:offs[q + 1]] = D[p, q][np.ix_(S, R)]
            J[rows, m + p] = -1.0
            J[m + p, offs[p]:offs[p + 1]] = 1.0
        try:
            x = x - np.linalg.solve(J, F)
        except np.linalg.LinAlgError:
            return None
        if not np.all(np.isfinite(x)):
            return None
    else:
        return None
    if np.any(x[:m] < -1e-12):
        return None
    prof = unpack(np.maximum(x, 0.0))
    out = np.concatenate([v / v.sum() for v in prof])
    return out


def _candidate_supports(sys: _System, sig_flat: np.ndarray, rhos: Sequence[float] = (1e-1, 1e-2, 1e-3, 1e-4, 1e-6)
                        ) -> list[tuple[bytes, np.ndarray]]:
    """The distinct supports ``{s: sigma[p][s] >= rho * max sigma[p]}`` over ``rhos`` as masks
    over all strategies, each with a hashable key (the mask's bytes)."""
    top = np.repeat(np.maximum.reduceat(sig_flat, sys.offsets[:-1]), sys.shape)
    seen: list[tuple[bytes, np.ndarray]] = []
    keys: set = set()
    for rho in rhos:
        mask = sig_flat >= rho * top
        key = mask.tobytes()
        if key not in keys:
            keys.add(key)
            seen.append((key, mask))
    return seen


@njit(cache=True, error_model="numpy")
def _k_support_nash(T, shape, off, sig, mask, maxit, out):  # pragma: no cover - compiled
    """:func:`_support_nash` for small games: Newton on the indifference and sum equations of the
    support ``mask`` from ``sig``; writes the profile to ``out`` and returns True on success."""
    N = shape.shape[0]
    n = off[N]
    m = 0
    for i in range(n):
        if mask[i]:
            m += 1
    idx = np.empty(m, dtype=np.int64)       # global strategy of each support variable
    owner = np.empty(m, dtype=np.int64)
    offs = np.zeros(N + 1, dtype=np.int64)
    j = 0
    for p in range(N):
        offs[p] = j
        for i in range(off[p], off[p + 1]):
            if mask[i]:
                idx[j] = i
                owner[j] = p
                j += 1
    offs[N] = j
    x = np.empty(m + N)
    for p in range(N):
        tot = 0.0
        for a in range(offs[p], offs[p + 1]):
            tot += sig[idx[a]]
        size = offs[p + 1] - offs[p]
        for a in range(offs[p], offs[p + 1]):
            x[a] = sig[idx[a]] / tot if tot > 0 else 1.0 / size
    full = np.zeros(n)
    u = np.empty(n)
    D = np.empty((n, n))
    F = np.empty(m + N)
    J = np.empty((m + N, m + N))
    piv = np.empty(m + N, dtype=np.int64)
    delta = np.empty(m + N)
    for a in range(m):
        full[idx[a]] = x[a]
    contract(T, shape, off, full, u, D, False)
    for p in range(N):
        acc = 0.0
        for a in range(offs[p], offs[p + 1]):
            acc += u[idx[a]]
        x[m + p] = acc / (offs[p + 1] - offs[p])
    res_prev = np.inf
    converged = False
    for _ in range(maxit):
        for i in range(n):
            full[i] = 0.0
        for a in range(m):
            full[idx[a]] = x[a]
        contract(T, shape, off, full, u, D, True)
        for p in range(N):
            acc = 0.0
            for a in range(offs[p], offs[p + 1]):
                F[a] = u[idx[a]] - x[m + p]
                acc += x[a]
            F[m + p] = acc - 1.0
        res = 0.0
        for a in range(m + N):
            v = abs(F[a])
            if v != v:
                res = v
                break
            if v > res:
                res = v
        if res <= 1e-14 or (res >= 0.5 * res_prev and res <= 1e-11):
            converged = True
            break
        if not np.isfinite(res) or res > 1e6:
            return False
        res_prev = res
        J[:, :] = 0.0
        for a in range(m):
            p = owner[a]
            for b in range(m):
                if owner[b] != p:
                    J[a, b] = D[idx[a], idx[b]]
            J[a, m + p] = -1.0
            J[m + p, a] = 1.0
        if _k_lu(J, piv) != 0:
            return False
        _k_lu_solve(J, piv, F, delta)
        for a in range(m + N):
            x[a] -= delta[a]
            if not np.isfinite(x[a]):
                return False
    if not converged:
        return False
    for a in range(m):
        if x[a] < -1e-12:
            return False
    for i in range(n):
        out[i] = 0.0
    for p in range(N):
        tot = 0.0
        for a in range(offs[p], offs[p + 1]):
            tot += max(x[a], 0.0)
        for a in range(offs[p], offs[p + 1]):
            out[idx[a]] = max(x[a], 0.0) / tot
    return True


# ====================================================================== logit_branch
#: An equilibrium read off the branch is accepted only within this max-norm distance of two
#: consecutive branch points (closer at the second) while ``lam`` increases.
_POLISH_DIST = 0.05

@hot_path
@_quiet_fp
def logit_branch(game: NormalFormGame, *, maxregret: float = 1e-8, lam_max: float = 1e9, maxiter: int = 10_000,
                 time_limit: Optional[float] = None, callback: Optional[Callable] = None, first_step: float = 0.3,
                 max_accel: float = 2.0, polish: bool = True, seed: Any = 0,
                 threads: Optional[int] = None) -> QREBranch:
    """Trace the principal branch of the logit QRE correspondence from ``lam = 0`` to a Nash equilibrium.

    The trace is an arc-length predictor-corrector in log-probability space (folds in ``lam``
    are followed). With ``polish=True`` (default), after every accepted point the supports read
    off the current QRE are tried: the equilibrium conditions on a support are solved (Newton,
    linear for two players) and the solution is accepted when it is a probability profile within
    ``maxregret``; this ends the trace at moderate ``lam`` with an (up to rounding) exact
    equilibrium. Otherwise the trace ends at the first QRE whose own max regret is ``<= maxregret``.

    Parameters
    ----------
    game : NormalFormGame
        Any number of players.
    maxregret : float
        Acceptance criterion, relative to the payoff range: ``game.max_regret(profile) <=
        maxregret * R`` with ``R`` the largest ``max - min`` of a player's payoffs (1 for a
        constant game), and never below ``64 * eps * max|payoff|``, the rounding floor of expected
        payoffs. Multiplying all payoffs by ``c`` (or adding a constant to one player's) gives the
        same equilibrium; the absolute threshold is recorded in ``params["maxregret_abs"]``.
    lam_max : float
        Give up (status ITERATION_LIMIT) once ``lam * R`` exceeds ``lam_max`` (``R`` the payoff
        range as above; ``lam_max`` is the precision for payoffs scaled to unit range, so
        rescaling the game does not change where the trace gives up).
    maxiter : int
        Maximum number of predictor-corrector step attempts.
    time_limit : float, optional
        Wall-clock seconds (status TIME_LIMIT with the branch traced so far). Checked before
        every step attempt and support polish; the overshoot is at most one step attempt (a
        Jacobian, an LU factorisation and up to 25 corrector residuals) or one support solve.
    callback : callable, optional
        Receives an :class:`engine.events.Iteration` per accepted point (``objective`` = ``lam``,
        ``info`` has ``lam``, ``t`` and ``max_regret``); ``StopIteration`` stops with status STOPPED.
    first_step, max_accel : float
        First arc-length step and largest growth factor of a step.
    polish : bool
        Try support-based equilibrium polishing (see above).
    seed : int, Generator or None
        Recorded in ``params`` only (the method is deterministic).
    threads : int, optional
        Threads for the BLAS/OpenMP work of the call (``engine.threads``; default: the engine's
        policy, one thread). Small games run in compiled single-threaded kernels either way.

    Returns
    -------
    QREBranch
        ``lams``, ``profiles``, the end point ``profile`` and ``lam``, its ``max_regret`` and
        whether it was ``polished``.

    Examples
    --------
    >>> from games.normal_form import NormalFormGame
    >>> g = NormalFormGame.from_arrays([[1, -1], [-1, 1]], [[-1, 1], [1, -1]])
    >>> b = logit_branch(g)
    >>> b.status.value, [round(float(v), 9) for v in b.profile[0]], b.max_regret <= 1e-8
    ('optimal', [0.5, 0.5], True)
    """
    t0 = time.perf_counter()
    game, maxregret, lam_max, maxiter, time_limit, callback, ctl, polish = _validate_branch(
        game, maxregret, lam_max, maxiter, time_limit, callback, first_step, max_accel, polish)
    where = "logit_branch()"
    params = {"maxregret": maxregret, "lam_max": lam_max, "maxiter": maxiter, "time_limit": time_limit,
              "first_step": ctl.first_step, "max_accel": ctl.max_accel, "polish": polish,
              "seed": resolve_seed(seed, where=where).root, "threads": _threads_in_force(threads)}
    sys = _System(game, np.ones(game.n_players), where)
    mr = _regret_tol(sys, maxregret)
    params["maxregret_abs"] = mr
    deadline = _deadline(time_limit, t0)
    z = sys.start()
    lams = [0.0]
    profs = [np.exp(z[:sys.n])]
    tried: set = set()

    def finish(status: Status, message: str, end: np.ndarray, polished: bool, path: Optional[_Path]) -> QREBranch:
        end = np.asarray(end, dtype=float)
        prof = _profile_tuple(sys, end)
        regret = float(regrets_flat(game, end).max())
        nit = (path.nit + path.n_newton) if path is not None else 0
        return QREBranch(status=status, message=message, x=end, nit=nit, runtime=time.perf_counter() - t0,
                         method="logit_branch", backend="numpy", params=params, lams=np.array(lams),
                         profiles=np.array(profs), lam=float(lams[-1]), profile=prof, max_regret=regret,
                         polished=polished)

    solved: dict = {}     # support -> equilibrium on it (or None)
    near: dict = {}       # support -> distance of its equilibrium to the previous branch point

    def try_polish(sig: np.ndarray) -> Optional[np.ndarray]:
        """An equilibrium the branch is heading to: a support read off the QRE whose equilibrium
        lies within ``_POLISH_DIST`` of two consecutive points, closer at the second."""
        current = {}
        for key, mask in _candidate_supports(sys, sig):
            if time.perf_counter() > deadline:
                return None
            if sys.N == 2 and np.count_nonzero(mask[sys.slices[0]]) != np.count_nonzero(mask[sys.slices[1]]):
                continue  # singular unless the game is degenerate; the trace handles those
            if key not in solved:
                cand = _support_nash(sys, sig, mask)
                if cand is not None and not (sys.max_regret(cand) <= mr
                                             and float(regrets_flat(game, cand).max()) <= mr):
                    cand = None
                solved[key] = cand
            cand = solved[key]
            if cand is None:
                continue
            dist = float(np.abs(cand - sig).max())
            if dist > _POLISH_DIST:
                continue
            if key in near and dist < near[key]:
                return cand
            current[key] = dist
        near.clear()
        near.update(current)
        return None

    sig = profs[0]
    if sys.max_regret(sig) <= mr:
        return finish(Status.OPTIMAL, "the uniform profile is an equilibrium", sig, False, None)
    path = _new_path(sys, z, _e_last(sys.n), ctl)
    accepted = 0
    while True:
        outcome = path.step(max_nit=maxiter, deadline=deadline)
        if outcome != "point":
            status, message = _trace_end(outcome, maxiter)
            return finish(status, message, profs[-1], False, path)
        accepted += 1
        sig = np.exp(path.z[:sys.n])
        lam = float(path.z[-1] / sys.scale)
        lams.append(lam)
        profs.append(sig)
        regret = sys.max_regret(sig)
        if _emit_point(callback, where, accepted, sys, path.z, {"max_regret": regret}):
            return finish(Status.STOPPED, "stopped by callback", sig, False, path)
        if regret <= mr and float(regrets_flat(game, sig).max()) <= mr:
            return finish(Status.OPTIMAL, "", sig, False, path)
        if polish and lam * sys.scale > 1.0 and path.tau[-1] > 0:
            cand = try_polish(sig)
            if cand is not None:
                return finish(Status.OPTIMAL, "equilibrium polished on the support read off the branch",
                              cand, True, path)
        else:
            near.clear()
        if lam * sys.scale > lam_max:
            return finish(Status.ITERATION_LIMIT, f"lam_max={lam_max:g} (lam = {lam_max / sys.scale:g} for this "
                          f"payoff range) passed before maxregret was reached",
                          sig, False, path)


# ====================================================================== logit_estimate
@hot_path
@_quiet_fp
def logit_estimate(game: NormalFormGame, counts: Any, *, maxregret: float = 1e-8, lam_max: float = 1e6,
                   maxiter: int = 10_000, tol: float = 1e-12, time_limit: Optional[float] = None,
                   callback: Optional[Callable] = None, first_step: float = 0.3, max_accel: float = 2.0,
                   local_max: bool = False, seed: Any = 0, threads: Optional[int] = None) -> QREEstimate:
    """Maximum-likelihood logit QRE: the point of the principal branch that best explains ``counts``.

    The log-likelihood ``sum_p sum_s counts[p][s] * log(sigma[p][s])`` is linear in the
    log-probabilities, so it is evaluated at every traced point; the best point is refined by a
    bounded 1-D search along the branch (each evaluation a Newton solve on the branch) and
    polished by Newton at the fitted ``lam``.

    Parameters
    ----------
    game : NormalFormGame
        Any number of players.
    counts : sequence of array_like
        One vector of observed counts (or frequencies) per player, or one flat vector over all
        players' strategies. Non-negative, finite, not all zero.
    maxregret, lam_max : float
        The trace ends when the QRE's max regret is ``<= maxregret`` times the payoff range or
        ``lam`` times the payoff range exceeds ``lam_max`` (both as in :func:`logit_branch`).
    maxiter : int
        Maximum number of predictor-corrector step attempts.
    tol : float
        Residual target of the final Newton polish, relative: the fit is OPTIMAL when the
        residual is ``<= tol * max(1, lam * max|payoff|)`` (see :func:`logit_solve`).
    time_limit : float, optional
        Wall-clock seconds (status TIME_LIMIT with the best point so far). The trace, the 1-D
        refinement and the final polish all check the deadline (before every step attempt or
        Newton iteration), so the call overruns it by at most one such unit of work.
    callback : callable, optional
        :class:`engine.events.Iteration` per traced point (``info`` has ``lam`` and ``log_like``).
    first_step, max_accel : float
        Step controls of the trace.
    local_max : bool
        Stop at the first interior local maximum instead of the global maximum along the branch.
    seed : int, Generator or None
        Recorded in ``params`` only (the method is deterministic).
    threads : int, optional
        Threads for the BLAS/OpenMP work of the call (``engine.threads``; default: the engine's
        policy, one thread). Small games run in compiled single-threaded kernels either way.

    Returns
    -------
    QREEstimate
        ``lam``, ``profile``, ``log_like`` (also ``objective``), ``residual``, and the traced
        ``lams`` / ``log_likes``.

    Examples
    --------
    >>> from games.normal_form import NormalFormGame
    >>> g = NormalFormGame.from_arrays([[3, 0], [0, 1]], [[2, 0], [0, 3]])
    >>> fit = logit_estimate(g, [[997, 3], [982, 18]])
    >>> bool(abs(fit.lam - 2.0) < 0.05)
    True
    """
    t0 = time.perf_counter()
    where = "logit_estimate()"
    game = _check_game(game, where)
    c = _check_counts(counts, game, where)
    maxregret = check_real(maxregret, "maxregret", where, lower=0.0, lower_strict=True)
    lam_max = check_real(lam_max, "lam_max", where, lower=0.0, lower_strict=True)
    maxiter = check_int(maxiter, "maxiter", where, lower=1)
    tol = check_real(tol, "tol", where, lower=0.0, lower_strict=True)
    time_limit = check_time_limit(time_limit, where)
    callback = _check_callback(callback, where)
    ctl = _controls(where, first_step, max_accel)
    if not isinstance(local_max, (bool, np.bool_)):
        raise InvalidInputError(f"{where}: local_max must be True or False, got {local_max!r}")
    params = {"maxregret": maxregret, "lam_max": lam_max, "maxiter": maxiter, "tol": tol,
              "time_limit": time_limit, "first_step": ctl.first_step, "max_accel": ctl.max_accel,
              "local_max": bool(local_max), "counts": c.copy(), "seed": resolve_seed(seed, where=where).root,
              "threads": _threads_in_force(threads)}
    sys = _System(game, np.ones(game.n_players), where)
    n = sys.n
    mr = _regret_tol(sys, maxregret)
    params["maxregret_abs"] = mr
    deadline = _deadline(time_limit, t0)
    cz = np.concatenate([c, [0.0]])

    z = sys.start()
    zs = [z.copy()]
    taus: list = []
    lls = [float(cz @ z)]
    status, message = Status.OPTIMAL, ""
    path = None
    if sys.max_regret(np.exp(z[:n])) > mr:
        path = _new_path(sys, z, _e_last(n), ctl)
        taus.append(path.tau.copy())
        accepted = 0
        while True:
            outcome = path.step(max_nit=maxiter, deadline=deadline)
            if outcome != "point":
                status, message = _trace_end(outcome, maxiter)
                if status in (Status.ITERATION_LIMIT, Status.TIME_LIMIT):
                    message += "; best point so far"
                break
            accepted += 1
            zs.append(path.z.copy())
            taus.append(path.tau.copy())
            ll = float(cz @ path.z)
            lls.append(ll)
            if _emit_point(callback, where, accepted, sys, path.z, {"log_like": ll}):
                status, message = Status.STOPPED, "stopped by callback"
                break
            if local_max and len(lls) >= 3 and lls[-2] >= lls[-1] and lls[-2] >= lls[-3]:
                break
            if path.z[-1] > lam_max or sys.max_regret(np.exp(path.z[:n])) <= mr:
                break
    k = int(np.argmax(lls))
    if local_max:
        for i in range(1, len(lls) - 1):
            if lls[i] >= lls[i - 1] and lls[i] >= lls[i + 1]:
                k = i
                break
    zb = zs[k]
    if (path is not None and 0 < len(zs) - 1 and status in (Status.OPTIMAL, Status.ITERATION_LIMIT)
            and time.perf_counter() <= deadline):
        zb, cut = _refine_along_branch(sys, zs, taus, k, cz, deadline)
        if cut:
            status, message = Status.TIME_LIMIT, "time limit reached while refining the maximum; best point so far"
    zb = zb.copy()
    zb[-1] = max(zb[-1], 0.0)
    zf, res, it = _newton_fixed_t(sys, zb, tol, deadline=deadline)
    if float(cz @ zf) < float(cz @ zb) - 1e-9 * (1 + abs(float(cz @ zb))):  # pragma: no cover - defensive
        zf = zb
        res = float(np.abs(sys.residual(zb)).max())
    y = zf[:n]
    sig = np.exp(y)
    ll = float(c @ y)
    tol_eff = _residual_tol(sys, tol, float(zf[-1]))
    params["residual_tol"] = tol_eff
    if status == Status.OPTIMAL:
        status, message = _polish_status(res, tol, tol_eff, deadline)
    if not math.isfinite(ll) and status != Status.ERROR:
        status, message = Status.ERROR, f"the log-likelihood is not finite ({ll}); the counts are too large"
    return QREEstimate(status=status, message=message, x=sig, objective=ll, nit=(path.nit + path.n_newton
                                                                                  if path else 0) + it,
                       runtime=time.perf_counter() - t0, method="logit_estimate", backend="numpy", params=params,
                       lam=float(zf[-1] / sys.scale), profile=_profile_tuple(sys, sig), log_like=ll, residual=res,
                       lams=np.array([zz[-1] / sys.scale for zz in zs]), log_likes=np.array(lls))


class _DeadlinePassed(Exception):
    """Raised inside the refinement's objective to abandon the 1-D search at the deadline."""


def _solve_on_hyperplane(sys: _System, z0: np.ndarray, a: np.ndarray, anchor: np.ndarray, u: float,
                         maxit: int = 30, deadline: float = math.inf) -> Optional[np.ndarray]:
    """The branch point with ``a @ (z - anchor) = u`` by full Newton from ``z0``
    (:class:`_DeadlinePassed` once ``deadline`` has passed, checked every iteration)."""
    n = sys.n
    z = z0.copy()
    for _ in range(maxit):
        if time.perf_counter() > deadline:
            raise _DeadlinePassed
        F = np.empty(n + 1)
        F[:n] = sys.residual(z)
        F[n] = a @ (z - anchor) - u
        if float(np.abs(F).max()) <= 1e-13:
            return z
        M = np.vstack([sys.jacobian(z), a])
        try:
            d = np.linalg.solve(M, -F)
        except np.linalg.LinAlgError:
            return None
        z = z + d
        if not np.all(np.isfinite(z)):
            return None
        if float(np.abs(d).max()) <= 1e-14 * max(1.0, float(np.abs(z).max())):
            return z
    F = np.concatenate([sys.residual(z), [a @ (z - anchor) - u]])
    return z if float(np.abs(F).max()) <= 1e-8 else None


def _refine_along_branch(sys: _System, zs: list, taus: list, k: int, cz: np.ndarray,
                         deadline: float = math.inf) -> tuple[np.ndarray, bool]:
    """Maximise ``cz @ z`` along the branch between the neighbours of traced point ``k``.

    Returns the best point found and whether ``deadline`` cut the search short (it is checked
    before every Newton iteration, so the overshoot is one iteration)."""
    zk, a = zs[k], taus[k]
    lo = float(a @ (zs[k - 1] - zk)) if k > 0 else 0.0
    hi = float(a @ (zs[k + 1] - zk)) if k + 1 < len(zs) else 0.0
    if hi - lo <= 0:
        return zk, False
    cache = {"z": zk.copy()}

    def point(u: float) -> Optional[np.ndarray]:
        start = cache["z"]
        # Predict along the tangent from the last solved point.
        z0 = start + (u - float(a @ (start - zk))) * a
        z = _solve_on_hyperplane(sys, z0, a, zk, u, deadline=deadline)
        if z is None:
            z = _solve_on_hyperplane(sys, zk + u * a, a, zk, u, deadline=deadline)
        if z is not None:
            cache["z"] = z
        return z

    best = {"z": zk, "f": float(cz @ zk)}

    def negll(u: float) -> float:
        z = point(u)
        if z is None:
            return math.inf
        f = float(cz @ z)
        if f > best["f"]:
            best["z"], best["f"] = z, f
        return -f

    try:
        scipy.optimize.minimize_scalar(negll, bounds=(lo, hi), method="bounded",
                                       options={"xatol": 1e-11 * max(1.0, hi - lo), "maxiter": 200})
    except _DeadlinePassed:
        return best["z"], True
    return best["z"], False
