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

import math
import numbers
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional

import numpy as np
import scipy.optimize

from engine.errors import InvalidInputError
from engine.result import SolveResult
from engine.seeding import resolve_seed
from engine.status import Status
from engine.threads import hot_path
from engine.validation import as_float_array, check_int, check_real, check_time_limit
from games.normal_form import NormalFormGame, check_game, regrets_flat
# The equations, kernels and tracer live in games.qre_nf and games.qre_path; their names are
# imported here too, so games.qre keeps every name it had.
from games.qre_nf import (_FastPath, _Prepared, _System, _candidate_supports, _k_correct, _k_jacobian,  # noqa: F401
                          _k_newton, _k_residual, _k_step, _k_support_nash, _new_path, _newton_fixed_t, _prepared,
                          _support_nash)
from games.qre_path import (_FLOAT_MAX, _Controls, _branch_options, _check_callback, _check_lam,  # noqa: F401
                            _check_warm_start, _controls, _deadline, _e_last, _emit_point, _k_absmax, _k_all_finite,
                            _k_lu, _k_lu_solve, _lu, _lu_solve, _Path, _polish_status, _quiet_fp, _regret_tol,
                            _residual_tol, _solve_at, _solve_options, _solve_params, _target_and_start,
                            _threads_in_force, _trace_end, _weights)

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


#: Two-player games with at most this many strategies in all take the compiled path (below it a
#: whole trace costs less than LAPACK's call overhead); games of three or more players always do.
_FAST_MAX_2P = 64


def _now() -> float:
    """The clock of every deadline here (passed to the tracer, so that it and the deadline agree)."""
    return time.perf_counter()


# ====================================================================== validation
def _validate_solve(game, lam, tol, maxiter, time_limit, callback, first_step, max_accel, warm_start):
    where = "logit_solve()"
    game = check_game(game, where)
    lam_arr, tol, maxiter, time_limit, callback, ctl = _solve_options(
        where, game.n_players, lam, tol, maxiter, time_limit, callback, first_step, max_accel)
    if warm_start is not None:
        _check_warm_start(warm_start, QREResult, "log_profile", sum(game.shape), lam_arr, where, "logit_solve()")
    return game, lam_arr, tol, maxiter, time_limit, callback, ctl


def _validate_branch(game, maxregret, lam_max, maxiter, time_limit, callback, first_step, max_accel, polish):
    where = "logit_branch()"
    game = check_game(game, where)
    maxregret, lam_max, maxiter, time_limit, callback, ctl = _branch_options(
        where, maxregret, lam_max, maxiter, time_limit, callback, first_step, max_accel)
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
    params = _solve_params(lam_arr, tol, maxiter, time_limit, ctl, warm_start, seed, threads, where)
    lmax, w = _weights(lam_arr)
    sys = _System(game, w, where, _FAST_MAX_2P)
    z, y, sig, status, message, nit, res = _solve_at(
        sys, lmax, warm_start, params, log_attr="log_profile", unit="strategies", tol=tol, maxiter=maxiter,
        time_limit=time_limit, t0=t0, ctl=ctl, callback=callback, where=where, new_path=_new_path,
        newton=_newton_fixed_t, clock=_now)
    return QREResult(status=status, message=message, x=sig, nit=nit, runtime=time.perf_counter() - t0,
                     method="logit_solve", backend="numpy", params=params, lam=sys.lam_of(float(z[-1])),
                     profile=_profile_tuple(sys, sig), log_profile=y, residual=res)


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
    sys = _System(game, np.ones(game.n_players), where, _FAST_MAX_2P)
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
    path = _new_path(sys, z, _e_last(sys.n), ctl, _now)
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
    game = check_game(game, where)
    c = _check_counts(counts, game, where)
    maxregret, lam_max, maxiter, time_limit, callback, ctl = _branch_options(
        where, maxregret, lam_max, maxiter, time_limit, callback, first_step, max_accel)
    tol = check_real(tol, "tol", where, lower=0.0, lower_strict=True)
    if not isinstance(local_max, (bool, np.bool_)):
        raise InvalidInputError(f"{where}: local_max must be True or False, got {local_max!r}")
    params = {"maxregret": maxregret, "lam_max": lam_max, "maxiter": maxiter, "tol": tol,
              "time_limit": time_limit, "first_step": ctl.first_step, "max_accel": ctl.max_accel,
              "local_max": bool(local_max), "counts": c.copy(), "seed": resolve_seed(seed, where=where).root,
              "threads": _threads_in_force(threads)}
    sys = _System(game, np.ones(game.n_players), where, _FAST_MAX_2P)
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
        path = _new_path(sys, z, _e_last(n), ctl, _now)
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
    zf, res, it = _newton_fixed_t(sys, zb, tol, deadline=deadline, clock=_now)
    if float(cz @ zf) < float(cz @ zb) - 1e-9 * (1 + abs(float(cz @ zb))):  # pragma: no cover - defensive
        zf = zb
        res = float(np.abs(sys.residual(zb)).max())
    y = zf[:n]
    sig = np.exp(y)
    ll = float(c @ y)
    tol_eff = _residual_tol(sys, tol, float(zf[-1]))
    params["residual_tol"] = tol_eff
    if status == Status.OPTIMAL:
        status, message = _polish_status(res, tol, tol_eff, deadline, _now)
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
