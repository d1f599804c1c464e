"""The logit QRE equations of a normal-form game (:class:`_System`) and the compiled kernels that
evaluate them and take whole predictor-corrector steps for small games (:class:`_FastPath`), plus
the support-based Nash polish of :func:`games.qre.logit_branch`.

Private to :mod:`games.qre` (which re-exports these names); the path tracer itself is
:mod:`games.qre_path`, shared with the agent QRE of game trees.
"""

from __future__ import annotations

import math
import time
from typing import Callable, Optional, Sequence

import numpy as np
from numba import njit

from engine.errors import InvalidInputError
from games.normal_form import _NO_D, NormalFormGame, _regrets_kernel, contract
from games.qre_path import (_FLOAT_MAX, _Controls, _e_last, _k_absmax, _k_all_finite, _k_lu, _k_lu_solve, _newton,
                            _Path)


class _Prepared:
    """What the QRE equations need from a game, computed once per game (cached on it)."""

    def __init__(self, game: NormalFormGame, where: str, fast_max: int):
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
        self.fast = self.N != 2 or self.n <= fast_max
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


def _prepared(game: NormalFormGame, where: str, fast_max: int) -> _Prepared:
    cache = game._derived  # type: ignore[attr-defined]
    prep = cache.get("qre")
    if prep is None:
        prep = cache["qre"] = _Prepared(game, where, fast_max)  # raises (and caches nothing) on overflow
    return prep


class _System:
    """The QRE equations of a game in ``z = (y, t)``; player ``p``'s precision is ``t * w[p] / scale``.

    Payoffs are divided by ``scale`` (the largest payoff range) so that ``t`` and the step
    controls are in units independent of the payoff scale. ``payoff_max`` is ``max|payoff|``
    (game units): the equations' terms ``lam * u`` are at most ``lam * payoff_max``, which sets
    the rounding floor of their residual (see :func:`_residual_tol`).

    Small games (``fast``: three or more players, or two players with at most ``fast_max``
    strategies in all, :data:`games.qre._FAST_MAX_2P`) evaluate the equations, the Jacobian and
    whole predictor-corrector steps in compiled kernels (one pass over the contingencies gives every
    player's payoffs and every pairwise derivative); larger two-player games use numpy/LAPACK.

    Raises :class:`InvalidInputError` when the payoffs' scale overflows double precision: a
    payoff range, ``max|payoff| * n`` or a rescaled payoff ``* n`` (``n`` strategies in all)
    that is not finite.
    """

    def __init__(self, game: NormalFormGame, w: np.ndarray, where: str, fast_max: int):
        prep = _prepared(game, where, fast_max)
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
        _k_lu_solve(LU, piv, rhs, delta, LU.shape[0])
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
            _k_lu(LUf, pivf, LUf.shape[0])
            lu_c, piv_c, a_c = LUf, pivf, e_last
        ok, d0, kappa = _k_correct(T, shape, off, w, ctl, st, lu_c, piv_c, a_c, z_pred, wv, F, u, rhs, delta)
        if ok and final:
            wv[n] = target
        angle = 0.0
        if ok:
            _k_jacobian(T, shape, off, w, wv, Jn, u, D)
            LUn[:n, :] = Jn
            LUn[n, :] = tau
            _k_lu(LUn, pivn, LUn.shape[0])
            _k_lu_solve(LUn, pivn, e_last, tau_new, LUn.shape[0])
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
        if _k_lu(M, piv, M.shape[0]) != 0:
            st[3] = 1.0
            return
        for i in range(n):
            F[i] = -F[i]
        _k_lu_solve(M, piv, F, step, M.shape[0])
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


def _newton_fixed_t(sys: _System, z: np.ndarray, tol: float, maxit: int = 30, deadline: float = math.inf,
                    clock: Callable[[], float] = time.perf_counter) -> tuple[np.ndarray, float, int]:
    """Full Newton in ``y`` at fixed ``t`` with backtracking; returns ``(z, residual, iterations)``.

    Stops at ``tol``, on stalling, after ``maxit`` iterations or once ``deadline``
    (on ``clock``) has passed (checked before every iteration); small games in :func:`_k_newton`."""
    z = np.array(z, dtype=float)
    if sys.fast:
        prep = sys.prep
        st = np.zeros(5)
        args = (prep.Tk, prep.shape_arr, sys.offsets, sys.w, z, float(tol), float(maxit))
        if deadline == math.inf:
            _k_newton(*args, maxit, st)
        else:
            _k_newton(*args, 0, st)
            while st[3] == 0.0 and clock() <= deadline:
                _k_newton(*args, 1, st)
        return z, float(st[0]), int(st[1])
    return _newton(sys, z, tol, maxit, deadline, clock)


class _FastPath:
    """:class:`_Path` for small games: the same steps, taken by the compiled :func:`_k_step`."""

    _OUTCOMES = ("point", "target", "underflow", "nonfinite")

    def __init__(self, sys: _System, z: np.ndarray, orient: np.ndarray, ctl: _Controls,
                 clock: Callable[[], float] = time.perf_counter):
        self.sys = sys
        self.clock = clock
        n = self.n = sys.n
        self._z = np.array(z, dtype=float)
        self._J = sys.jacobian(self._z)
        self._a = orient / np.linalg.norm(orient)
        self._LU = np.vstack([self._J, self._a])
        self._piv = np.empty(n + 1, dtype=np.int64)
        _k_lu(self._LU, self._piv, n + 1)
        tau = np.empty(n + 1)
        _k_lu_solve(self._LU, self._piv, _e_last(n), tau, n + 1)
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
            if self.clock() > deadline:
                return "time"
            budget = 1 if deadline != math.inf else (1 << 62 if max_nit == math.inf else int(max_nit - nit))
            code = _k_step(*args, budget)
            if code != 4:
                self.z = self._z.copy()
                self.tau = self._tau.copy()
                return self._OUTCOMES[code]


def _new_path(sys: _System, z: np.ndarray, orient: np.ndarray, ctl: _Controls,
              clock: Callable[[], float] = time.perf_counter):
    return _FastPath(sys, z, orient, ctl, clock) if sys.fast else _Path(sys, z, orient, ctl, clock)


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
        if _k_lu(J, piv, J.shape[0]) != 0:
            return False
        _k_lu_solve(J, piv, F, delta, J.shape[0])
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
