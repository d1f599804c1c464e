"""Agent logit quantal response equilibria of game trees (behaviour strategies), N players.

At precision ``lam`` every information set ``h`` of player ``p`` plays the logit response to the
conditional action values at ``h``:

    b[h][a] = exp(lam[p] * U[h][a]) / sum_c exp(lam[p] * U[h][c]),
    U[h][a] = sum_{x in h} mu(x) * C_p(child(x, a)),

where ``C_p(v)`` is player ``p``'s expected payoff from node ``v`` on (outcomes at ``v`` and
below) under the profile ``b`` and ``mu`` are the beliefs at ``h`` by Bayes' rule from the reach
probabilities; where every node of ``h`` is reached with probability zero (only a chance move of
probability zero can do that, logit play being interior) the beliefs are uniform, as in Gambit.
This is the agent QRE of McKelvey and Palfrey (1998) that Gambit's ``logit_solve_lambda`` and
``logit_solve(use_strategic=False)`` compute.

The equations are written in log-probabilities ``y = log(b)`` exactly as the normal-form ones of
:mod:`games.qre` (one sum equation and ``k - 1`` log-ratio equations per information set) and the
principal branch from the uniform profile at ``lam = 0`` is traced by the same arc-length
predictor-corrector (:class:`games.qre_path._Path`). The residual and the Jacobian are computed
in one compiled pass over the tree: reach probabilities top-down (in log space, so beliefs stay
accurate when probabilities underflow), continuation values bottom-up, then for every personal
node the derivatives through its ancestors; the cost is about ``nodes * depth * actions`` per
Jacobian, with the tree's arrays built once per game.

Public functions: :func:`logit_solve` (the agent QRE at a precision) and :func:`logit_branch` (the
principal branch up to an approximate Nash equilibrium in behaviour strategies).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional

import numpy as np
from numba import njit

from engine.errors import InvalidInputError
from engine.seeding import resolve_seed
from engine.status import Status
from engine.threads import hot_path
from games.efg.results import EFGResult, _check_game
from games.efg.tree import ExtensiveFormGame
from games.qre_path import (_branch_options, _check_warm_start, _deadline, _e_last, _emit_point, _newton,
                            _Path, _quiet_fp, _regret_tol, _solve_at, _solve_options, _solve_params,
                            _threads_in_force, _trace_end, _weights)

__all__ = ["TreeQREResult", "TreeQREBranch", "logit_solve", "logit_branch"]


# ====================================================================== results
@dataclass(frozen=True, kw_only=True)
class TreeQREResult(EFGResult):
    """An agent logit QRE of a game tree on the principal branch (the tree's
    :class:`games.qre.QREResult`).

    Attributes
    ----------
    lam : numpy.ndarray
        Precision of each player (all equal unless a per-player ``lam`` was given).
    behavior : tuple of numpy.ndarray
        One array per player: the action probabilities of its information sets in order (``x``
        is their concatenation).
    log_behavior : numpy.ndarray
        ``log(x)``, accurate even where a probability underflows.
    beliefs : numpy.ndarray
        Per node, the belief at its information set (the probability of being at the node given
        that the set is reached); NaN at chance and terminal nodes.
    residual : float
        Max absolute value of the fixed-point equations (log space) at ``behavior``.
    payoffs, max_regret : as in :class:`EFGResult` (the regret is the Nash regret of the profile).
    """

    lam: Any = None
    log_behavior: Any = None
    beliefs: Any = None
    residual: float = math.nan


@dataclass(frozen=True, kw_only=True)
class TreeQREBranch(EFGResult):
    """The traced principal branch of the agent logit QRE of a tree (the tree's
    :class:`games.qre.QREBranch`).

    Attributes
    ----------
    lams : numpy.ndarray
        The precision at every accepted point (not monotone where the branch folds).
    profiles : numpy.ndarray
        ``profiles[k]`` is the behaviour profile (concatenated over players) at ``lams[k]``.
    lam : float
        Precision of the end point.
    behavior : tuple of numpy.ndarray
        The end point, an approximate Nash equilibrium in behaviour strategies (a limit of agent
        QRE is a sequential equilibrium); ``max_regret`` is its Nash regret.
    polished : bool
        Always False (the end point is a QRE point itself); kept for symmetry with
        :class:`games.qre.QREBranch`.
    """

    lams: Any = None
    profiles: Any = None
    lam: float = math.nan
    polished: bool = False


# ====================================================================== the tree as arrays
class _TreeArrays:
    """What the agent QRE equations need from a tree, computed once per game (cached on it).

    Variables are the actions of the players' information sets in the order of
    :meth:`ExtensiveFormGame.uniform_behavior` (player by player); payoffs are divided by
    ``scale``, the largest range of a player's realised payoffs."""

    def __init__(self, game: ExtensiveFormGame, where: str):
        s = game._require_perfect_recall(where)
        N = game.n_players
        nn = game.n_nodes
        H = sum(1 for pl in game.infoset_player if pl >= 0)   # player infosets come first
        k = np.array([len(game.infoset_actions[h]) for h in range(H)], dtype=np.int64)
        self.h_off = np.concatenate([[0], np.cumsum(k)]).astype(np.int64)
        self.h_player = np.array(game.infoset_player[:H], dtype=np.int64)
        self.n = int(self.h_off[-1])
        self.N = N
        self.var_player = np.repeat(self.h_player, k)
        self.player_slices = [slice(int(self.h_off[hs[0]]), int(self.h_off[hs[-1] + 1])) if hs else slice(0, 0)
                              for hs in game.player_infosets]
        self.parent = np.asarray(game.node_parent, dtype=np.int64)
        self.node_h = np.asarray(game.node_infoset, dtype=np.int64).copy()
        self.node_h[self.node_h >= H] = -1                    # chance nodes
        self.node_chance = np.array([kd == "c" for kd in game.node_kind], dtype=np.bool_)
        act = np.asarray(game.node_action, dtype=np.int64)
        evar = np.full(nn, -1, dtype=np.int64)
        ep = np.zeros(nn)
        elogp = np.zeros(nn)
        ezero = np.zeros(nn, dtype=np.int64)
        cnt = np.array([len(c) for c in game.node_children], dtype=np.int64)
        self.ch_ptr = np.concatenate([[0], np.cumsum(cnt)]).astype(np.int64)
        self.ch_idx = np.array([c for cs in game.node_children for c in cs], dtype=np.int64)
        if nn > 1:
            v = np.arange(1, nn)
            par = self.parent[1:]
            hp = self.node_h[par]
            pers = hp >= 0
            evar[1:][pers] = self.h_off[hp[pers]] + act[1:][pers]
            for i in np.flatnonzero(~pers).tolist():
                u = int(v[i])
                f = game.infoset_probs[int(game.node_infoset[par[i]])][int(act[u])]
                ep[u] = float(f)
                if f == 0:
                    ezero[u] = 1
                else:
                    elogp[u] = math.log(f.numerator) - math.log(f.denominator)
        self.act, self.evar, self.ep, self.elogp, self.ezero = act, evar, ep, elogp, ezero
        mem = [game.infoset_members[h] for h in range(H)]
        self.mem_ptr = np.concatenate([[0], np.cumsum([len(m) for m in mem])]).astype(np.int64)
        self.mem_idx = np.array([x for m in mem for x in m], dtype=np.int64)
        pay = s["leaf_pay"]
        with np.errstate(over="ignore", invalid="ignore"):
            ranges = [float(np.ptp(pay[:, p])) if len(pay) else 0.0 for p in range(N)]
            pmax = float(np.abs(pay).max()) if pay.size else 0.0
        scale = max(ranges, default=0.0)
        if not math.isfinite(scale) or not math.isfinite(pmax * max(nn, 1)):
            raise InvalidInputError(f"{where}: the payoffs' scale overflows double precision (max|payoff| = "
                                    f"{pmax:g}, payoff range {scale:g})")
        self.scale = scale if scale > 0 else 1.0
        self.payoff_max = pmax
        out = np.zeros((nn, N))
        o = np.asarray(game.node_outcome)
        if game.outcome_payoffs:
            opay = np.array([[float(f) for f in pays] for pays in game.outcome_payoffs], dtype=np.float64)
            has = o >= 0
            out[has] = opay[o[has]]
        self.out = np.ascontiguousarray(out / self.scale)
        if not np.all(np.isfinite(self.out)):
            raise InvalidInputError(f"{where}: an outcome's payoff overflows double precision after scaling")


def _tree_arrays(game: ExtensiveFormGame, where: str) -> _TreeArrays:
    arr = game._cache.get("agent_qre")
    if arr is None:
        arr = game._cache["agent_qre"] = _TreeArrays(game, where)
    return arr


# ---------------------------------------------------------------------- compiled kernel
@njit(cache=True, error_model="numpy")
def _k_agent(parent, node_h, evar, ep, elogp, ezero, act, out, ch_ptr, ch_idx, h_player, h_off, mem_ptr, mem_idx,
             w, z, F, J, want_jac, lr, nzc, C, mu, lmr, ud):  # pragma: no cover - compiled
    """Residual ``F`` of the agent QRE equations at ``z = (y, t)`` and, with ``want_jac``, their
    Jacobian ``J`` (``n x (n + 1)``); ``lr, nzc, C, mu, lmr, ud`` are work arrays (log reach
    without zero-probability chance moves, their count, continuation values, beliefs,
    ``log(mu) - lr`` and the conditional value differences)."""
    nn = parent.shape[0]
    N = out.shape[1]
    H = h_player.shape[0]
    n = h_off[H]
    t = z[n]
    # reach (log space) top-down; prefix order puts parents first
    lr[0] = 0.0
    nzc[0] = 0
    for v in range(1, nn):
        u = parent[v]
        e = evar[v]
        if e >= 0:
            lr[v] = lr[u] + z[e]
            nzc[v] = nzc[u]
        else:
            lr[v] = lr[u] + elogp[v]
            nzc[v] = nzc[u] + ezero[v]
    # continuation values bottom-up: a node's descendants all come after it
    for v in range(nn):
        for p in range(N):
            C[v, p] = out[v, p]
    for v in range(nn - 1, 0, -1):
        u = parent[v]
        e = evar[v]
        pr = math.exp(z[e]) if e >= 0 else ep[v]
        if pr != 0.0:
            for p in range(N):
                C[u, p] += pr * C[v, p]
    # beliefs and conditional value differences, residual
    for h in range(H):
        p = h_player[h]
        o = h_off[h]
        k = h_off[h + 1] - o
        m0 = mem_ptr[h]
        m1 = mem_ptr[h + 1]
        least = nzc[mem_idx[m0]]
        for i in range(m0, m1):
            least = min(least, nzc[mem_idx[i]])
        if least == 0:
            top = -np.inf
            for i in range(m0, m1):
                x = mem_idx[i]
                if nzc[x] == 0 and lr[x] > top:
                    top = lr[x]
            tot = 0.0
            for i in range(m0, m1):
                x = mem_idx[i]
                if nzc[x] == 0:
                    tot += math.exp(lr[x] - top)
            lse = top + math.log(tot)
            for i in range(m0, m1):
                x = mem_idx[i]
                if nzc[x] == 0:
                    mu[x] = math.exp(lr[x] - lse)
                    lmr[x] = -lse
                else:
                    mu[x] = 0.0
                    lmr[x] = -np.inf
        else:  # reached only through probability-zero chance moves: uniform beliefs (Gambit's rule)
            size = m1 - m0
            for i in range(m0, m1):
                x = mem_idx[i]
                mu[x] = 1.0 / size
                lmr[x] = -math.log(size) - lr[x]
        s = 0.0
        for a in range(k):
            s += math.exp(z[o + a])
            ud[o + a] = 0.0
        for i in range(m0, m1):
            x = mem_idx[i]
            if mu[x] == 0.0:
                continue
            c0 = C[ch_idx[ch_ptr[x]], p]
            for a in range(1, k):
                ud[o + a] += mu[x] * (C[ch_idx[ch_ptr[x] + a], p] - c0)
        F[o] = s - 1.0
        c = t * w[p]
        for a in range(1, k):
            F[o + a] = z[o + a] - z[o] - c * ud[o + a]
    if not want_jac:
        return
    for i in range(n):
        for j in range(n + 1):
            J[i, j] = 0.0
    for h in range(H):
        p = h_player[h]
        o = h_off[h]
        k = h_off[h + 1] - o
        for a in range(k):
            J[o, o + a] = math.exp(z[o + a])
        for a in range(1, k):
            J[o + a, o + a] = 1.0
            J[o + a, o] = -1.0
            J[o + a, n] = -w[p] * ud[o + a]
        c = -t * w[p]
        if c == 0.0:
            continue
        # beliefs: d mu(x) / d y_e = mu(x) (1[e leads to x] - sum_x' mu(x') 1[e leads to x']); the
        # player's own earlier actions lead to every member (perfect recall) and cancel
        for i in range(mem_ptr[h], mem_ptr[h + 1]):
            x = mem_idx[i]
            if mu[x] == 0.0 or nzc[x] > 0:
                continue
            c0 = C[ch_idx[ch_ptr[x]], p]
            v = x
            while v != 0:
                e = evar[v]
                if e >= 0 and h_player[node_h[parent[v]]] != p:
                    for a in range(1, k):
                        J[o + a, e] += c * mu[x] * (C[ch_idx[ch_ptr[x] + a], p] - c0 - ud[o + a])
                v = parent[v]
    # continuation values: d C_p(child(x, a)) / d y_e = P(child(x, a) -> z) * b_e * C_p(child(z, e))
    # for every node z of e's information set below child(x, a)
    for zn in range(nn):
        g = node_h[zn]
        if g < 0:
            continue
        og = h_off[g]
        kg = h_off[g + 1] - og
        v = zn
        while v != 0:
            e_in = evar[v]
            x = parent[v]
            if e_in >= 0 and mu[x] > 0.0 and nzc[x] == nzc[zn]:
                h = node_h[x]
                p = h_player[h]
                c = -t * w[p]
                if c != 0.0:
                    o = h_off[h]
                    k = h_off[h + 1] - o
                    kappa = c * math.exp(lmr[x] + lr[zn] - z[e_in])
                    ax = act[v]
                    for e in range(kg):
                        val = kappa * math.exp(z[og + e]) * C[ch_idx[ch_ptr[zn] + e], p]
                        if ax > 0:
                            J[o + ax, og + e] += val
                        else:
                            for a in range(1, k):
                                J[o + a, og + e] -= val
            v = x


class _AgentSystem:
    """The agent QRE equations of a tree in ``z = (y, t)`` (player ``p``'s precision is
    ``t * w[p] / scale``), in the shape :mod:`games.qre_path` traces."""

    def __init__(self, game: ExtensiveFormGame, w: np.ndarray, where: str):
        self.game = game
        self.tree = tr = _tree_arrays(game, where)
        self.n, self.N, self.scale, self.payoff_max = tr.n, tr.N, tr.scale, tr.payoff_max
        self.w = np.ascontiguousarray(w, dtype=float)
        nn = tr.parent.shape[0]
        self._work = (np.empty(nn), np.empty(nn, dtype=np.int64), np.empty((nn, tr.N)), np.empty(nn), np.empty(nn),
                      np.empty(self.n))
        self._nojac = np.empty((0, 0))

    def _run(self, z: np.ndarray, F: np.ndarray, J: np.ndarray, want: bool) -> None:
        tr = self.tree
        _k_agent(tr.parent, tr.node_h, tr.evar, tr.ep, tr.elogp, tr.ezero, tr.act, tr.out, tr.ch_ptr, tr.ch_idx,
                 tr.h_player, tr.h_off, tr.mem_ptr, tr.mem_idx, self.w, np.ascontiguousarray(z, dtype=float), F, J,
                 want, *self._work)

    def residual(self, z: np.ndarray) -> np.ndarray:
        F = np.empty(self.n)
        self._run(z, F, self._nojac, False)
        return F

    def jacobian(self, z: np.ndarray) -> np.ndarray:
        F = np.empty(self.n)
        J = np.empty((self.n, self.n + 1))
        self._run(z, F, J, True)
        return J

    def beliefs(self, z: np.ndarray) -> np.ndarray:
        self.residual(z)
        out = self._work[3].copy()
        out[self.tree.node_h < 0] = np.nan
        return out

    def regret_lower_bound(self, z: np.ndarray) -> float:
        """The largest gain of changing the play at one information set (its reach probability
        times the best conditional action value minus the current one; game units): a lower bound
        on the Nash max regret, cheap to compute from the equations' own quantities."""
        self.residual(z)
        tr = self.tree
        lr, nzc, _, _, _, ud = self._work
        if not tr.h_player.size:
            return 0.0
        reach = np.where(nzc[tr.mem_idx] == 0, np.exp(lr[tr.mem_idx]), 0.0)
        R = np.add.reduceat(reach, tr.mem_ptr[:-1])
        b = np.exp(z[:self.n])
        gain = np.maximum.reduceat(ud, tr.h_off[:-1]) - np.add.reduceat(b * ud, tr.h_off[:-1])
        return float(self.scale * np.max(R * gain))

    def start(self) -> np.ndarray:
        z = np.zeros(self.n + 1)
        off = self.tree.h_off
        for h in range(off.shape[0] - 1):
            z[off[h]:off[h + 1]] = -math.log(off[h + 1] - off[h])
        return z

    def lam_of(self, t: float) -> np.ndarray:
        return t * self.w / self.scale

    def behavior(self, sig: np.ndarray) -> tuple:
        return tuple(np.array(sig[sl]) for sl in self.tree.player_slices)


def _now() -> float:
    return time.perf_counter()


# ====================================================================== logit_solve
def _validate_solve(game, lam, tol, maxiter, time_limit, callback, first_step, max_accel, warm_start):
    where = "efg.logit_solve()"
    game = _check_game(game, where)
    lam_arr, tol, maxiter, time_limit, callback, ctl = _solve_options(
        where, game.n_players, lam, tol, maxiter, time_limit, callback, first_step, max_accel)
    if warm_start is not None:
        n = sum(len(b) for b in game.uniform_behavior())
        _check_warm_start(warm_start, TreeQREResult, "log_behavior", n, lam_arr, where, "efg.logit_solve()")
    return game, lam_arr, tol, maxiter, time_limit, callback, ctl


@hot_path
@_quiet_fp
def logit_solve(game: ExtensiveFormGame, lam: Any = 1.0, /, *, tol: float = 1e-12, maxiter: int = 10_000,
                time_limit: Optional[float] = None, callback: Optional[Callable] = None, first_step: float = 0.3,
                max_accel: float = 2.0, warm_start: Optional[TreeQREResult] = None, seed: Any = 0,
                threads: Optional[int] = None) -> TreeQREResult:
    """The agent logit QRE of a tree at precision ``lam``, on the principal branch.

    The branch is traced from the uniform behaviour profile at ``lam = 0`` (or from
    ``warm_start``) to the first point where it reaches ``lam``, then polished by Newton's method
    at ``lam``; the options and statuses are those of :func:`games.qre.logit_solve`.

    Parameters
    ----------
    game : ExtensiveFormGame
        Any number of players; perfect recall required.
    lam : float or sequence of float
        The precision, or one per player (the branch is then ``t * lam``, ``t`` from 0 to 1).
    tol : float
        Target max-abs residual of the equations (log space), relative: OPTIMAL when the residual
        is ``<= tol * max(1, lam * max|payoff|)`` (``params["residual_tol"]``).
    maxiter : int
        Maximum number of predictor-corrector step attempts.
    time_limit : float, optional
        Wall-clock seconds (status TIME_LIMIT with the last traced point), checked before every
        step attempt and Newton iteration.
    callback : callable, optional
        An :class:`engine.events.Iteration` per accepted point; ``StopIteration`` stops (STOPPED).
    first_step, max_accel : float
        First arc-length step (payoffs scaled to unit range) and largest growth factor of a step.
    warm_start : TreeQREResult, optional
        A result of this function at a precision ``c * lam`` with ``0 <= c <= 1`` (same game).
    seed : int, Generator or None
        Recorded in ``params`` only (the method is deterministic).
    threads : int, optional
        Threads for the BLAS work of the call (``engine.threads``).

    Returns
    -------
    TreeQREResult
        ``lam``, ``behavior``, ``log_behavior``, ``beliefs``, ``residual``, ``payoffs`` and the
        Nash ``max_regret`` of the profile.

    Raises
    ------
    InvalidInputError
        Bad options or payoffs whose scale overflows double precision.
    UnsupportedProblemError
        A game without perfect recall.

    Examples
    --------
    >>> from games.efg import kuhn_poker
    >>> r = logit_solve(kuhn_poker(), 2.0)
    >>> r.status.value, bool(r.residual <= 1e-10)
    ('optimal', True)
    """
    t0 = time.perf_counter()
    game, lam_arr, tol, maxiter, time_limit, callback, ctl = _validate_solve(
        game, lam, tol, maxiter, time_limit, callback, first_step, max_accel, warm_start)
    where = "efg.logit_solve()"
    params = _solve_params(lam_arr, tol, maxiter, time_limit, ctl, warm_start, seed, threads, where)
    lmax, w = _weights(lam_arr)
    sys = _AgentSystem(game, w, where)
    z, y, sig, status, message, nit, res = _solve_at(
        sys, lmax, warm_start, params, log_attr="log_behavior", unit="actions", tol=tol, maxiter=maxiter,
        time_limit=time_limit, t0=t0, ctl=ctl, callback=callback, where=where, new_path=_Path, newton=_newton,
        clock=_now)
    beh = sys.behavior(sig)
    return TreeQREResult(status=status, message=message, x=sig, nit=nit, runtime=time.perf_counter() - t0,
                         method="efg.logit_solve", backend="numba", params=params, behavior=beh,
                         payoffs=game.behavior_payoffs(list(beh)), max_regret=game.max_regret(list(beh)),
                         lam=sys.lam_of(float(z[-1])), log_behavior=y, beliefs=sys.beliefs(z), residual=res)


# ====================================================================== logit_branch
@hot_path
@_quiet_fp
def logit_branch(game: ExtensiveFormGame, /, *, maxregret: float = 1e-8, lam_max: float = 1e9, maxiter: int = 10_000,
                 time_limit: Optional[float] = None, callback: Optional[Callable] = None, first_step: float = 0.3,
                 max_accel: float = 2.0, seed: Any = 0, threads: Optional[int] = None) -> TreeQREBranch:
    """Trace the principal branch of the agent logit QRE from ``lam = 0`` to an approximate Nash
    equilibrium in behaviour strategies (as Gambit's ``logit_solve(use_strategic=False)``).

    The trace ends at the first QRE whose Nash max regret is ``<= maxregret * R`` (``R`` the
    largest range of a player's payoffs; never below 64 ulps of ``max|payoff|``; the absolute
    threshold is ``params["maxregret_abs"]``), which is Gambit's criterion.

    Parameters
    ----------
    game : ExtensiveFormGame
        Any number of players; perfect recall required.
    maxregret : float
        Acceptance criterion relative to the payoff range (see above).
    lam_max : float
        Give up (ITERATION_LIMIT) once ``lam * R`` exceeds ``lam_max``.
    maxiter : int
        Maximum number of predictor-corrector step attempts.
    time_limit : float, optional
        Wall-clock seconds (TIME_LIMIT with the branch so far), checked before every step attempt.
    callback : callable, optional
        An :class:`engine.events.Iteration` per accepted point (``info`` has ``lam``, ``t`` and
        ``max_regret``: the point's Nash max regret, or while that is surely above the threshold
        the lower bound that shows it, the largest gain of changing the play at one information
        set); ``StopIteration`` stops with status STOPPED.
    first_step, max_accel : float
        First arc-length step and largest growth factor of a step.
    seed : int, Generator or None
        Recorded in ``params`` only (the method is deterministic).
    threads : int, optional
        Threads for the BLAS work of the call (``engine.threads``).

    Returns
    -------
    TreeQREBranch
        ``lams``, ``profiles``, the end point (``behavior``, ``lam``), its ``payoffs`` and
        ``max_regret``.

    Examples
    --------
    >>> from games.efg import kuhn_poker
    >>> b = logit_branch(kuhn_poker())
    >>> b.status.value, round(float(b.payoffs[0]), 6)
    ('optimal', -0.055556)
    """
    t0 = time.perf_counter()
    where = "efg.logit_branch()"
    game = _check_game(game, where)
    maxregret, lam_max, maxiter, time_limit, callback, ctl = _branch_options(
        where, maxregret, lam_max, maxiter, time_limit, callback, first_step, max_accel)
    params = {"maxregret": maxregret, "lam_max": lam_max, "maxiter": maxiter, "time_limit": time_limit,
              "first_step": ctl.first_step, "max_accel": ctl.max_accel,
              "seed": resolve_seed(seed, where=where).root, "threads": _threads_in_force(threads)}
    sys = _AgentSystem(game, np.ones(game.n_players), where)
    mr = _regret_tol(sys, maxregret)
    params["maxregret_abs"] = mr
    deadline = _deadline(time_limit, t0)
    z = sys.start()
    lams = [0.0]
    profs = [np.exp(z[:sys.n])]

    def regret(sig: np.ndarray) -> float:
        return game.max_regret(list(sys.behavior(sig)))

    def finish(status: Status, message: str, end: np.ndarray, path: Optional[_Path]) -> TreeQREBranch:
        beh = sys.behavior(np.asarray(end, dtype=float))
        nit = (path.nit + path.n_newton) if path is not None else 0
        return TreeQREBranch(status=status, message=message, x=np.array(end, dtype=float), nit=nit,
                             runtime=time.perf_counter() - t0, method="efg.logit_branch", backend="numba",
                             params=params, behavior=beh, payoffs=game.behavior_payoffs(list(beh)),
                             max_regret=game.max_regret(list(beh)), lams=np.array(lams), profiles=np.array(profs),
                             lam=float(lams[-1]))

    if sys.n == 0 or regret(profs[0]) <= mr:
        return finish(Status.OPTIMAL, "the uniform profile is an equilibrium", profs[0], None)
    path = _Path(sys, z, _e_last(sys.n), ctl, _now)
    accepted = 0
    while True:
        outcome = path.step(max_nit=maxiter, deadline=deadline)
        if outcome != "point":
            status, message = _trace_end(outcome, maxiter)
            return finish(status, message, profs[-1], path)
        accepted += 1
        sig = np.exp(path.z[:sys.n])
        lam = float(path.z[-1] / sys.scale)
        lams.append(lam)
        profs.append(sig)
        # the exact regret only once its cheap lower bound allows success (it is the costly part
        # of a point on small trees); the callback then sees the bound
        bound = sys.regret_lower_bound(path.z)
        r = regret(sig) if bound <= mr else bound
        if _emit_point(callback, where, accepted, sys, path.z, {"max_regret": r}):
            return finish(Status.STOPPED, "stopped by callback", sig, path)
        if r <= mr:
            return finish(Status.OPTIMAL, "", sig, path)
        if lam * sys.scale > lam_max:
            return finish(Status.ITERATION_LIMIT, f"lam_max={lam_max:g} (lam = {lam_max / sys.scale:g} for this "
                          f"payoff range) passed before maxregret was reached", sig, path)

