"""General-sum two-player trees: one Nash equilibrium by Lemke's algorithm on the sequence form.

The linear complementarity problem of Koller, Megiddo and von Stengel (1996) over realization
plans, with the covering vector of von Stengel, van den Elzen and Talman (2002): from a starting
profile (the *prior*), the algorithm follows the linear tracing procedure from the players' best
responses to the prior down to an equilibrium (generically a normal-form perfect one for a
completely mixed prior). Several priors give several (possibly different) equilibria.

With payoffs shifted to be negative (an equivalent game), the system is, for realization plans
``x`` (``E x = e``) and ``y`` (``F y = f``), free dual values ``u``, ``v`` and the extra
variable ``z0 >= 0``::

    r = E'u - A y - (A q) z0 >= 0,   x >= 0,   x'r = 0
    s = F'v - B'x - (B'p) z0 >= 0,   y >= 0,   y's = 0

where ``p``, ``q`` are the prior's realization plans. For large ``z0`` the players' lexicographic
best responses to the prior (then to each other) solve it; complementary pivoting drives ``z0``
to 0. The tableau is kept condensed (one row per constrained basic variable, one column per
nonbasic one; the free ``u``, ``v`` never leave the basis, so their rows are dropped), the
minimum-ratio test is lexicographic, and pivoting is either in floating point (a Numba kernel;
the profile's regret is checked, and the final basis refactorised from the sparse system when
it is off) or exact (integer tableau, fraction-free Bareiss-style pivots); the kernels are in
:mod:`games.efg.lemke`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Callable, Optional

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from numba import njit

from engine.errors import InvalidInputError, UnsupportedProblemError
from engine.events import Iteration, emit
from engine.seeding import resolve_seed
from engine.status import Status
from engine.threads import check_threads, limit
from engine.validation import check_choice, check_int, check_real, check_time_limit
from games.efg.lemke import _choose_row_exact, _elimination, _lemke_float, _pivot_exact, _start_float, _tableau_float
from games.efg.results import EFGResult, _check_game
from games.efg.tree import ExtensiveFormGame, _behavior_kernel, _regret_kernel
from games.efg.sequence_form import _constraint_triplets

__all__ = ["sequence_form_lcp", "LCPResult", "MAX_LCP_SEQUENCES", "EXACT_FALLBACK_SEQUENCES"]

#: largest total number of sequences (both players) the dense tableau is built for (about 1.2 GB
#: of float64 at the limit)
MAX_LCP_SEQUENCES = 12_000
#: floating-point pivoting falls back to exact pivoting, when the final profile's regret exceeds
#: ``tol`` after refactorisation, only up to this many sequences (exact pivoting is quadratic in
#: Python integers per pivot)
EXACT_FALLBACK_SEQUENCES = 400

_PIVOTINGS = ("float", "exact")
_CHUNK = 64          # pivots between two deadline / callback checks in floating point
_PERTURB_TRIES = 6   # perturbed priors tried when the lexicographic start is not feasible
#: the one-call path of the centroid start: trees of at most this many sequences, runs of at most
#: this many pivots (a longer run is repeated by the general path: the waste is bounded by the
#: work the run needs anyway)
_FAST_SEQUENCES = 200
_FAST_PIVOTS = 64
#: up to this many sequences the float payoff matrices are dense numpy arrays (scipy.sparse costs
#: more per call than the whole small product)
_DENSE_SEQUENCES = 600


@dataclass(frozen=True, kw_only=True)
class LCPResult(EFGResult):
    """An equilibrium of a two-player tree from :func:`sequence_form_lcp`: an :class:`EFGResult`
    plus, with exact pivoting, ``exact_realization``: the first equilibrium's realization plans
    (one tuple per player, a ``"p/q"`` string per sequence, sequence 0 the empty one)."""

    exact_realization: tuple = ()


# ====================================================================== problem data
@njit(cache=True)
def _dense_costs(L: np.ndarray, w: np.ndarray, pay: np.ndarray, n1: int, n2: int) -> tuple:
    """Dense cost matrices ``A``, ``B`` (n1 x n2): per leaf, chance times the payoff shifted to
    at most -1 and scaled to [-1, 0) (tolerances are then absolute), added up per sequence pair."""
    out = []
    for k in range(2):
        mx = 0.0
        for i in range(L.shape[0]):
            mx = max(mx, pay[i, k])
        cm = 1.0
        for i in range(L.shape[0]):
            cm = max(cm, abs(pay[i, k] - (mx + 1.0)))
        M = np.zeros((n1, n2))
        for i in range(L.shape[0]):
            M[L[i, 0], L[i, 1]] += w[i] * (pay[i, k] - (mx + 1.0)) / cm
        out.append(M)
    return out[0], out[1]


@njit(cache=True)
def _basic_plans(T: np.ndarray, basis: np.ndarray, n: int) -> np.ndarray:
    """The plan values (x then y, clipped at 0) of the basic variables of a float tableau."""
    arr = np.zeros(n)
    for i in range(basis.shape[0]):
        if basis[i] < n:
            arr[basis[i]] = max(T[i, T.shape[1] - 1], 0.0)
    return arr


@njit(cache=True)
def _plan_payoffs(leaf_seq: np.ndarray, chance: np.ndarray, pay: np.ndarray, x: np.ndarray,
                  y: np.ndarray) -> np.ndarray:
    """Both players' expected payoffs under realization plans ``x``, ``y``."""
    out = np.zeros(pay.shape[1])
    for i in range(leaf_seq.shape[0]):
        w = chance[i] * x[leaf_seq[i, 0]] * y[leaf_seq[i, 1]]
        for k in range(pay.shape[1]):
            out[k] += w * pay[i, k]
    return out


@njit(cache=True)
def _finish_float(T: np.ndarray, basis: np.ndarray, n1: int, seq_off: np.ndarray, isets: np.ndarray,
                  iset_off: np.ndarray, leaf_seq: np.ndarray, chance: np.ndarray, pay: np.ndarray) -> tuple:
    """A floating-point run's end in one compiled call (a small tree's solve is mostly per-call
    costs): both realization plans, the behaviour strategies, their max regret (the certificate)
    and the expected payoffs under the plans."""
    n = basis.shape[0]
    arr = _basic_plans(T, basis, n)
    x = arr[:n1].copy()
    y = arr[n1:].copy()
    b0 = _behavior_kernel(x, isets[iset_off[0]:iset_off[1]], seq_off[1] - seq_off[0] - 1)
    b1 = _behavior_kernel(y, isets[iset_off[1]:iset_off[2]], seq_off[2] - seq_off[1] - 1)
    _, regrets = _regret_kernel(np.concatenate((b0, b1)), seq_off, isets, iset_off, leaf_seq, chance, pay)
    return x, y, b0, b1, max(0.0, regrets.max()), _plan_payoffs(leaf_seq, chance, pay, x, y)


@njit(cache=True)
def _solve_dense_float(seq_off: np.ndarray, isets: np.ndarray, iset_off: np.ndarray, leaf_seq: np.ndarray,
                       chance: np.ndarray, pay: np.ndarray, maxiter: int) -> tuple:
    """One floating-point run from the centroid prior in one compiled call (the dense path of
    :func:`sequence_form_lcp` does exactly this in several calls; on a small tree the calls are
    most of the time): returns (state, pivots, x, y, behaviour 1, behaviour 2, max regret,
    payoffs), state 1 at an equilibrium, 0 at the pivot limit, 2 on a ray, 3 when a best response
    to the prior ties or the start is infeasible (the caller then takes the general path)."""
    n1 = seq_off[1] - seq_off[0]
    n2 = seq_off[2] - seq_off[1]
    A, B = _dense_costs(leaf_seq, chance, pay, n1, n2)
    isets1 = isets[iset_off[0]:iset_off[1]]
    isets2 = isets[iset_off[1]:iset_off[2]]
    priors = []
    for rows, size in ((isets1, n1), (isets2, n2)):
        b = np.empty(size - 1)
        for i in range(rows.shape[0]):
            m = rows[i, 1]
            for a in range(m):
                b[rows[i, 0] - 1 + a] = 1.0 / m
        priors.append(b)
    st, T, basis, nonbasic, pos = _start_float(A, B.T, isets1, isets2, priors[0], priors[1], 1e-9)
    empty = np.zeros(0)
    if st != 0:
        return 3, 0, empty, empty, empty, empty, np.inf, empty
    n = n1 + n2
    nit = 0
    state = 1
    rhs_ok = True
    for i in range(T.shape[0]):
        if T[i, T.shape[1] - 1] < -1e-12:
            rhs_ok = False
    if not rhs_ok:  # else the best responses to the prior are an equilibrium already
        state, _, nit = _lemke_float(T, basis, nonbasic, pos, basis.copy(), 2 * n, True, maxiter, 1e-9, 1e-9)
    if state != 1:
        return state, nit, empty, empty, empty, empty, np.inf, empty
    x, y, b0, b1, reg, pays = _finish_float(T, basis, n1, seq_off, isets, iset_off, leaf_seq, chance, pay)
    return 1, nit, x, y, b0, b1, reg, pays


class _Problem:
    """The sequence-form data of one game in one arithmetic (float64 or Python integers)."""

    def __init__(self, g: ExtensiveFormGame, exact: bool) -> None:
        s = g._sequences()
        self.g = g
        self.s = s
        self.exact = exact
        self.dense = exact or int(sum(s["n_seq"])) <= _DENSE_SEQUENCES
        self.n1, self.n2 = (int(k) for k in s["n_seq"])
        self._isets: Optional[list] = None
        L = s["leaf_seq"]
        if exact:
            # payoffs times D (ints), chance probabilities times their common denominator: an
            # integer game with the same equilibria; every payoff shifted to <= -D < 0
            D, ints = g._leaf_int_payoffs()
            chance = g._leaf_chance_fractions()
            den = 1
            for c in chance:
                den = den * c.denominator // math.gcd(den, c.denominator)
            w = [int(c * den) for c in chance]
            A = np.zeros((self.n1, self.n2), dtype=object)
            B = np.zeros((self.n1, self.n2), dtype=object)
            if ints:
                shift = [max(p[k] for p in ints) + D for k in (0, 1)]
                for (i, j), wk, pay in zip(L.tolist(), w, ints):
                    if wk:
                        A[i, j] += wk * (pay[0] - shift[0])
                        B[i, j] += wk * (pay[1] - shift[1])
            self.A: Any = A
            self.B: Any = B
        else:
            pay = s["leaf_pay"]
            w = s["leaf_chance"]
            if self.dense:
                self.A, self.B = _dense_costs(L, w, pay, self.n1, self.n2)
            else:
                costs = []
                for k in (0, 1):
                    c = pay[:, k] - (pay[:, k].max(initial=0.0) + 1.0)
                    # scaled to [-1, 0): tolerances below are then absolute
                    costs.append(w * c / max(1.0, float(np.abs(c).max(initial=1.0))))
                self.A = sp.csr_matrix((costs[0], (L[:, 0], L[:, 1])), shape=(self.n1, self.n2))
                self.B = sp.csr_matrix((costs[1], (L[:, 0], L[:, 1])), shape=(self.n1, self.n2))
        self.Bt = self.B.T if self.dense else self.B.T.tocsr()

    @property
    def isets(self) -> list:
        """Per player, deepest first: (first sequence, number of actions, parent sequence); built
        when a Python path needs it (the floating-point start is one compiled call)."""
        if self._isets is None:
            _, rows, off = self.g._regret_data()[:3]
            self._isets = [[tuple(r) for r in rows[off[p]:off[p + 1]].tolist()] for p in (0, 1)]
        return self._isets

    # ------------------------------------------------------------------ plans and best responses
    def plan(self, p: int, behavior: Any) -> np.ndarray:
        """Realization plan of player p from behaviour probabilities (floats or Fractions)."""
        n = self.n1 if p == 0 else self.n2
        x: list = [0] * n
        x[0] = 1
        b = list(behavior)
        for k0, m, par in reversed(self.isets[p]):
            xp = x[par]
            for a in range(m):
                x[k0 + a] = xp * b[k0 - 1 + a]
        return np.array(x, dtype=object if self.exact else np.float64)

    def times(self, p: int, v: np.ndarray) -> np.ndarray:
        """``A v`` (p = 0: values of player 1's sequences) or ``B' v`` (p = 1)."""
        return (self.A if p == 0 else self.Bt).dot(v)

    def best_response(self, p: int, keys: list, tol: float) -> tuple:
        """Player p's pure strategy that is a best response at every information set to ``keys[0]``
        (values of its sequences), ties broken by ``keys[1]``, then by the first action: a mask
        of its chosen sequences, and whether two actions tied on every key."""
        V = [k.tolist() for k in keys]
        n = self.n1 if p == 0 else self.n2
        chosen = np.zeros(n, dtype=bool)
        chosen[0] = True
        tied = False
        for k0, m, par in self.isets[p]:
            best = k0
            for a in range(k0 + 1, k0 + m):
                for Vk in V:
                    diff = Vk[a] - Vk[best]
                    if diff > tol:
                        best = a
                        break
                    if diff < -tol:
                        break
                else:
                    tied = True
            chosen[best] = True
            for Vk in V:
                Vk[par] += Vk[best]
        return chosen, tied

    def chosen_plan(self, p: int, chosen: np.ndarray) -> np.ndarray:
        """The pure plan (0/1) whose played sequences are those of ``chosen`` below the root."""
        n = len(chosen)
        x: list = [0] * n
        x[0] = 1
        ch = chosen.tolist()
        for k0, m, par in reversed(self.isets[p]):
            for a in range(k0, k0 + m):
                if ch[a]:
                    x[a] = x[par]
        return np.array(x, dtype=object if self.exact else np.float64)

    # ------------------------------------------------------------------ the initial tableau
    def elimination(self, p: int, chosen: np.ndarray) -> tuple:
        """``(a, P)`` with ``x_C = a - P x_N``: the chosen sequences' plan values in terms of the
        others' (entries 0, +1, -1; the constraint matrix restricted to C is unimodular)."""
        _, rows, off = self.g._regret_data()[:3]
        C, N, af, Pf = _elimination(np.asarray(chosen, dtype=np.bool_), rows[off[p]:off[p + 1]])
        # (entries are small integers, exact in float64)
        return C, N, af.astype(np.int64), Pf.astype(np.int64)

    def tableau(self, chosen1: np.ndarray, chosen2: np.ndarray, pq: tuple) -> tuple:
        """Condensed tableau of the start basis and the variable bookkeeping.

        Variables: x_j = j, y_j = n1 + j, r_j = n + j, s_j = n + n1 + j, z0 = 2n (n = n1 + n2).
        Rows (basic): x_C1, y_C2, r_N1, s_N2; columns (nonbasic): x_N1, y_N2, r_C1, s_C2, z0, then
        the right-hand side; ``basic = rhs - T_N nonbasic``."""
        n1, n2 = self.n1, self.n2
        n = n1 + n2
        if self.dense and not self.exact:
            _, isets, off = self.g._regret_data()[:3]
            return _tableau_float(self.A, self.Bt, chosen1, chosen2, isets[off[0]:off[1]], isets[off[1]:off[2]],
                                  np.asarray(pq[0], dtype=np.float64), np.asarray(pq[1], dtype=np.float64))
        C1, N1, a1, P1 = self.elimination(0, chosen1)
        C2, N2, a2, P2 = self.elimination(1, chosen2)
        p, q = pq
        dt: Any = object if self.exact else np.float64
        if self.dense:
            A, Bt = self.A, self.Bt
            H1 = P1.T.astype(dt).dot(A[C1]) - A[N1]
            H2 = P2.T.astype(dt).dot(Bt[C2]) - Bt[N2]
            H1P2 = H1[:, C2].dot(P2.astype(dt))
            H2P1 = H2[:, C1].dot(P1.astype(dt))
        else:
            # P (entries 0, +-1 along paths) and A, B are very sparse: everything stays in
            # scipy.sparse until it is written into the dense tableau
            P1s, P2s = sp.csr_matrix(P1.astype(np.float64)), sp.csr_matrix(P2.astype(np.float64))
            H1 = (P1s.T @ self.A[C1] - self.A[N1]).tocsc()
            H2 = (P2s.T @ self.Bt[C2] - self.Bt[N2]).tocsc()
            H1P2 = (H1[:, C2] @ P2s).toarray()
            H2P1 = (H2[:, C1] @ P1s).toarray()
        m1, m2, k1, k2 = len(C1), len(C2), len(N1), len(N2)
        T = np.zeros((n, n + 2), dtype=dt)
        rx, ry, rr, rs = 0, m1, m1 + m2, m1 + m2 + k1
        cx, cy, cr, cs, cz = 0, k1, k1 + k2, k1 + k2 + m1, n
        T[rx:ry, cx:cx + k1] = P1
        T[rx:ry, -1] = a1
        T[ry:rr, cy:cy + k2] = P2
        T[ry:rr, -1] = a2
        T[rr:rs, cr:cr + m1] = -P1.T
        T[rr:rs, cy:cy + k2] = H1P2
        T[rr:rs, cy:cy + k2] -= H1[:, N2] if self.dense else H1[:, N2].toarray()
        T[rr:rs, cz] = -H1.dot(q)
        T[rr:rs, -1] = H1[:, C2].dot(a2.astype(dt))
        T[rs:, cs:cs + m2] = -P2.T
        T[rs:, cx:cx + k1] = H2P1
        T[rs:, cx:cx + k1] -= H2[:, N1] if self.dense else H2[:, N1].toarray()
        T[rs:, cz] = -H2.dot(p)
        T[rs:, -1] = H2[:, C1].dot(a1.astype(dt))
        basis = np.concatenate([C1, n1 + C2, n + N1, n + n1 + N2]).astype(np.int64)
        nonbasic = np.concatenate([N1, n1 + N2, n + C1, n + n1 + C2, [2 * n]]).astype(np.int64)
        pos = np.empty(2 * n + 1, dtype=np.int64)
        pos[basis] = np.arange(n)
        pos[nonbasic] = -(np.arange(n + 1) + 1)
        return T, basis, nonbasic, pos

    # ------------------------------------------------------------------ refactorisation
    def solve_basis(self, basis: np.ndarray) -> Optional[tuple]:
        """Plans ``(x, y)`` of a complementary basis, from the sparse system (z0 nonbasic)."""
        n1, n2 = self.n1, self.n2
        n = n1 + n2
        E = _constraint_matrix(self.g, 0)
        F = _constraint_matrix(self.g, 1)
        m1, m2 = E.shape[0], F.shape[0]
        A, B = sp.csr_matrix(self.A), sp.csr_matrix(self.B)
        # rows: E x = e, F y = f, -A y - r + E'u = 0, -B'x - s + F'v = 0; columns x, y, r, s, u, v
        K = sp.bmat([[E, None, None, None, None, None],
                     [None, F, None, None, None, None],
                     [None, -A, -sp.eye(n1), None, E.T, None],
                     [-B.T, None, None, -sp.eye(n2), None, F.T]], format="csc")
        cols = np.concatenate([basis, 2 * n + np.arange(m1 + m2)])
        rhs = np.zeros(K.shape[0])
        rhs[0] = 1.0
        rhs[m1] = 1.0
        try:
            z = spla.splu(K[:, cols].tocsc()).solve(rhs)
        except RuntimeError:  # singular: numerically lost basis
            return None
        full = np.zeros(2 * n + m1 + m2)
        full[cols] = z
        return np.maximum(full[:n1], 0.0), np.maximum(full[n1:n], 0.0)


def _constraint_matrix(g: ExtensiveFormGame, p: int) -> sp.csr_matrix:

    r, c, v, m = _constraint_triplets(g, p)
    return sp.csr_matrix((v, (r, c)), shape=(m, g._sequences()["n_seq"][p]))


# ====================================================================== one run
class _Run:
    """State of one Lemke path (kept so that a limit returns the point reached so far)."""

    def __init__(self, prob: _Problem, T: np.ndarray, basis: np.ndarray, nonbasic: np.ndarray,
                 pos: np.ndarray) -> None:
        self.prob = prob
        self.T, self.basis, self.nonbasic, self.pos = T, basis, nonbasic, pos
        self.init_basic = basis.copy()
        self.d: Any = 1
        self.nit = 0
        self.state = 0  # 0 running, 1 equilibrium, 2 ray

    def plans(self) -> tuple:
        """The current basic solution's plans (z0 may be positive), as floats and (exact) Fractions."""
        n1, n2 = self.prob.n1, self.prob.n2
        n = n1 + n2
        if self.prob.exact:
            vals: list = [Fraction(0)] * n
            for i, v in enumerate(self.basis.tolist()):
                if v < n:
                    vals[v] = Fraction(self.T[i, -1], self.d)
            xf = np.array([float(v) for v in vals])
            return np.maximum(xf[:n1], 0.0), np.maximum(xf[n1:], 0.0), (vals[:n1], vals[n1:])
        arr = _basic_plans(self.T, self.basis, n)
        return arr[:n1], arr[n1:], None

    def z0(self) -> float:
        pz = self.pos[2 * (self.prob.n1 + self.prob.n2)]
        if pz < 0:
            return 0.0
        return float(Fraction(self.T[pz, -1], self.d)) if self.prob.exact else float(self.T[pz, -1])


def _start(prob: _Problem, prior: tuple, tol: float) -> Optional[_Run]:
    """The start basis from a prior (behaviour profile), or None when the lexicographic best
    responses do not give a feasible one (a tie the prior leaves open)."""
    if prob.dense and not prob.exact:  # one compiled call unless a best response ties
        _, isets, off = prob.g._regret_data()[:3]
        st, T, basis, nonbasic, pos = _start_float(
            prob.A, prob.Bt, isets[off[0]:off[1]], isets[off[1]:off[2]], np.asarray(prior[0], dtype=np.float64),
            np.asarray(prior[1], dtype=np.float64), tol)
        if st == 0:
            return _Run(prob, T, basis, nonbasic, pos)
        if st == 1:
            return None
    p = prob.plan(0, prior[0])
    q = prob.plan(1, prior[1])
    if prob.exact:
        # one common integer scale for the covering column (it rescales z0 only)
        den = 1
        for v in list(p) + list(q):
            den = den * Fraction(v).denominator // math.gcd(den, Fraction(v).denominator)
        p = np.array([int(Fraction(v) * den) for v in p], dtype=object)
        q = np.array([int(Fraction(v) * den) for v in q], dtype=object)
    btol = 0 if prob.exact else 1e-12
    wq = prob.times(0, q)
    wp = prob.times(1, p)
    ch2, tie2 = prob.best_response(1, [wp], btol)
    ch1, tie1 = prob.best_response(0, [wq], btol)
    if tie1 or tie2:
        # ties against the prior are broken by the best response to the other's start, and
        # those depend on each other: look for a fixed point
        ch1, _ = prob.best_response(0, [wq, prob.times(0, prob.chosen_plan(1, ch2))], btol)
        for _ in range(20):
            new2, _ = prob.best_response(1, [wp, prob.times(1, prob.chosen_plan(0, ch1))], btol)
            new1, _ = prob.best_response(0, [wq, prob.times(0, prob.chosen_plan(1, new2))], btol)
            if np.array_equal(new1, ch1) and np.array_equal(new2, ch2):
                break
            ch1, ch2 = new1, new2
    T, basis, nonbasic, pos = prob.tableau(ch1, ch2, (p, q))
    n = prob.n1 + prob.n2
    zc, rhs = T[:, n], T[:, -1]
    if prob.exact:
        bad = [(a >= 0 and b < 0) for a, b in zip(zc.tolist(), rhs.tolist())]
        if any(bad):
            return None
    elif np.any((zc >= -tol) & (rhs < -tol)):
        return None
    return _Run(prob, T, basis, nonbasic, pos)


def _advance(run: _Run, budget: int, deadline: float, callback: Optional[Callable], where: str) -> Status:
    """Pivot until z0 leaves, a ray, the pivot budget, the deadline or a callback stop."""
    prob = run.prob
    n = prob.n1 + prob.n2
    T = run.T
    rhs = T[:, -1]
    if (min(rhs.tolist(), default=0) >= 0) if prob.exact else bool(np.all(rhs >= -1e-12)):
        run.state = 1  # the best responses to the prior are an equilibrium already
        return Status.OPTIMAL
    entering = 2 * n
    first = True
    while True:
        if run.nit >= budget:
            return Status.ITERATION_LIMIT
        if time.perf_counter() > deadline:
            return Status.TIME_LIMIT
        if prob.exact:
            zrow = int(run.pos[2 * n])
            r = _choose_row_exact(T, run.d, int(run.pos[entering]) * -1 - 1, run.pos, run.init_basic, first, zrow)
            if r < 0:
                run.state = 2
                return Status.ERROR
            c = -int(run.pos[entering]) - 1
            run.d = _pivot_exact(T, run.d, r, c)
            leaving = int(run.basis[r])
            run.basis[r] = entering
            run.pos[entering] = r
            run.nonbasic[c] = leaving
            run.pos[leaving] = -(c + 1)
            run.nit += 1
            first = False
            if leaving == 2 * n:
                run.state = 1
                return Status.OPTIMAL
            entering = leaving + n if leaving < n else leaving - n
            if emit(callback, Iteration(source=where, nit=run.nit, info={"z0": run.z0()})):
                return Status.STOPPED
        else:
            steps = min(_CHUNK, budget - run.nit)
            state, entering, done = _lemke_float(T, run.basis, run.nonbasic, run.pos, run.init_basic, entering,
                                                 first, steps, 1e-9, 1e-9)
            run.nit += int(done)
            first = False
            if state == 1:
                run.state = 1
                return Status.OPTIMAL
            if state == 2:
                run.state = 2
                return Status.ERROR
            if emit(callback, Iteration(source=where, nit=run.nit, info={"z0": run.z0()})):
                return Status.STOPPED


# ====================================================================== public entry point
def _validate(game: Any, starts: Any, pivoting: Any, maxiter: Any, tol: Any, time_limit: Any, seed: Any,
              callback: Any) -> tuple:
    where = "sequence_form_lcp()"
    g = _check_game(game, where)
    if g.n_players != 2:
        raise UnsupportedProblemError(f"{where}: needs a two-player game, got {g.n_players} players")
    s = g._require_perfect_recall(where)
    n = int(sum(s["n_seq"]))
    pivoting = check_choice(pivoting, "pivoting", where, _PIVOTINGS)
    if n > MAX_LCP_SEQUENCES:
        raise UnsupportedProblemError(f"{where}: the game has {n} sequences, more than MAX_LCP_SEQUENCES="
                                      f"{MAX_LCP_SEQUENCES} (the tableau is dense)")
    maxiter = check_int(maxiter, "maxiter", where, lower=1)
    tol = check_real(tol, "tol", where, lower=0.0)
    tl = check_time_limit(time_limit, where)
    if callback is not None and not callable(callback):
        raise InvalidInputError(f"{where}: callback must be callable, got {callback!r}")
    sd = resolve_seed(seed, where=where)
    if isinstance(starts, str):
        starts = check_choice(starts, "starts", where, ("centroid",))
        priors: list = [None]
    elif isinstance(starts, (int, np.integer)) and not isinstance(starts, (bool, np.bool_)):
        priors = [None] * check_int(starts, "starts", where, lower=1, upper=100_000)
    elif isinstance(starts, (list, tuple)):
        if not starts:
            raise InvalidInputError(f"{where}: starts must list at least one behaviour profile")
        priors = []
        for k, prof in enumerate(starts):
            arrs = g._as_behavior(prof, f"{where}: starts[{k}]")
            for p, b in enumerate(arrs):
                for h in g.player_infosets[p]:
                    k0 = int(s["first_seq"][h])
                    blk = b[k0 - 1:k0 - 1 + len(g.infoset_actions[h])]
                    if np.any(blk < 0) or abs(blk.sum() - 1.0) > 1e-9:
                        raise InvalidInputError(f"{where}: starts[{k}][{p}] is not a behaviour strategy (the "
                                                f"probabilities of information set {h} are {blk.tolist()})")
            priors.append(arrs)
    else:
        raise InvalidInputError(f"{where}: starts must be a positive int, 'centroid' or a list of behaviour "
                                f"profiles, got {type(starts).__name__}")
    return g, n, priors, pivoting, maxiter, tol, tl, sd, callback


def _prior(g: ExtensiveFormGame, given: Optional[list], k: int, rng: Callable[[], np.random.Generator],
           exact: bool, perturb: int) -> tuple:
    """Behaviour probabilities per player (Fractions when exact): the given profile, the centroid
    (k = 0) or a random completely mixed one; ``perturb`` > 0 mixes in a little random noise."""
    if not exact and given is None and k == 0 and not perturb:
        return g.uniform_behavior()
    first = g._sequences()["first_seq"]
    out = []
    for p in range(2):
        probs: list = []
        for h in g.player_infosets[p]:
            m = len(g.infoset_actions[h])
            k0 = int(first[h])
            blk: Any
            if given is not None:
                blk = given[p][k0 - 1:k0 - 1 + m]
                if exact:
                    blk = [Fraction(float(v)).limit_denominator(10 ** 6) for v in blk]
            elif k == 0:
                blk = [Fraction(1)] * m if exact else np.ones(m)
            else:
                blk = rng().integers(1, 1001, size=m)
                blk = [Fraction(int(v)) for v in blk] if exact else blk.astype(np.float64)
            if sum(blk) <= 0:
                blk = [Fraction(1)] * m if exact else np.ones(m)
            if perturb:
                noise = rng().integers(1, 1001, size=m)
                if exact:
                    eps = Fraction(1, 1000 * perturb)
                    blk = [(1 - eps) * b / sum(blk) + eps * Fraction(int(e)) / int(noise.sum())
                           for b, e in zip(blk, noise)]
                else:
                    feps = 1.0 / (1000 * perturb)
                    blk = (1 - feps) * np.asarray(blk) / np.sum(blk) + feps * noise / noise.sum()
            tot = sum(blk)
            probs.extend(b / tot for b in blk)
        out.append(probs)
    return tuple(out)


def _regret_exact(prob: _Problem, plans: tuple) -> Fraction:
    """Largest regret of the exact plans in the integer game (0 exactly at an equilibrium); in
    integers: the plans times their common denominator."""
    g, s = prob.g, prob.s
    den = 1
    for v in plans[0] + plans[1]:
        den = den * v.denominator // math.gcd(den, v.denominator)
    x, y = (np.array([int(v * den) for v in pl], dtype=object) for pl in plans)
    worst = Fraction(0)
    for p, (own, other) in enumerate(((x, y), (y, x))):
        w = prob.times(p, other).tolist()
        cur = sum(a * b for a, b in zip(w, own.tolist()))
        for h in g._seq_depth_order(p):  # deepest infosets first
            k0 = int(s["first_seq"][h])
            w[s["iset_parent"][h]] += max(w[k0:k0 + len(g.infoset_actions[h])])
        worst = max(worst, Fraction(w[0] * den - cur, den * den))
    return worst


def sequence_form_lcp(game: ExtensiveFormGame, /, *, starts: Any = 1, pivoting: str = "float",
                      maxiter: int = 100_000, tol: float = 1e-9, time_limit: Optional[float] = None,
                      seed: Any = 0, callback: Optional[Callable] = None,
                      threads: Optional[int] = None) -> LCPResult:
    """One Nash equilibrium of a two-player (general-sum) tree with perfect recall, by Lemke's
    algorithm on the sequence form; several from different starting points on request.

    Koller, Megiddo and von Stengel (1996) write the equilibria of a two-player tree as a linear
    complementarity problem over realization plans, of the size of the tree; von Stengel, van den
    Elzen and Talman (2002) start Lemke's algorithm from a *prior* profile: the path follows the
    linear tracing procedure from the players' best responses to the prior to an equilibrium,
    normal-form perfect when the prior is completely mixed.

    Parameters
    ----------
    game : ExtensiveFormGame
        Two players, perfect recall. Chance nodes (zero-probability branches included), a player
        without information sets, and any payoffs (shifted internally) are fine.
    starts : int, "centroid" or list of behaviour profiles
        The priors: ``k`` runs from the centroid (every action equally likely) then ``k - 1``
        random completely mixed profiles drawn from ``seed``; ``"centroid"`` is ``1``; or a list of
        behaviour profiles (each one array per player, as :attr:`EFGResult.behavior`).
    pivoting : {"float", "exact"}
        ``"float"``: a dense tableau (updated only where the pivot row is nonzero) pivoted by a
        Numba kernel with a lexicographic minimum-ratio test. When the final profile's max regret
        exceeds ``tol``, the final basis is solved afresh from the sparse system (one sparse LU),
        and if the regret still exceeds ``tol`` the start is repeated with exact pivoting (up to
        :data:`EXACT_FALLBACK_SEQUENCES` sequences); the message says which happened.
        ``"exact"``: an integer tableau with fraction-free (Bareiss) pivots: the equilibrium is
        exact, its regret is checked to be exactly 0 in rationals, and its realization plans are
        in ``exact_realization`` as ``"p/q"`` strings (``realization`` holds them as floats).
    maxiter : int
        Pivots allowed over all starts together.
    tol : float
        Largest max-regret accepted from floating-point pivoting (payoffs as given).
    time_limit : float, optional
        Wall-clock seconds over all starts.
    seed : int, numpy Generator or None
        Draws the random priors (and the perturbation of a prior whose best responses tie).
    threads : int, optional
        Threads of the BLAS products that build the tableau (:mod:`engine.threads`; default
        the engine's, 1); the pivoting kernel is sequential.
    callback : callable, optional
        Receives :class:`engine.events.Iteration` events (``nit``, ``info={"z0": ..., "start":
        k}``) after every 64 pivots in floating point, after every exact pivot; raising
        ``StopIteration`` stops with status STOPPED.

    Returns
    -------
    LCPResult
        ``behavior``, ``payoffs``, ``max_regret`` (the certificate) and ``realization`` of the
        first equilibrium found; ``equilibria``: the distinct equilibria found, one behaviour
        profile each, in the order of the starts; ``nit``: pivots over all starts. Status
        OPTIMAL when every start reached an equilibrium with max regret at most ``tol`` (exactly
        0 with exact pivoting); FEASIBLE when a large tree's floating-point regret stayed above
        ``tol``; ITERATION_LIMIT / TIME_LIMIT / STOPPED return the equilibria found so far, or
        else the point the path had reached (``max_regret`` says how far it is from one); ERROR
        when a path ended on a ray (which the negative-payoff shift rules out in theory).

    Examples
    --------
    >>> from games.efg import kuhn_poker, random_tree
    >>> r = sequence_form_lcp(kuhn_poker())
    >>> round(float(r.payoffs[0]), 6), r.max_regret < 1e-9
    (-0.055556, True)
    >>> r = sequence_form_lcp(random_tree(4, seed=3), starts=3, pivoting="exact")
    >>> r.status.name, len(r.equilibria) >= 1
    ('OPTIMAL', True)
    """
    t0 = time.perf_counter()
    where = "sequence_form_lcp()"
    g, n, priors, pivoting, maxiter, tol, tl, sd, callback = _validate(
        game, starts, pivoting, maxiter, tol, time_limit, seed, callback)
    params = {"starts": starts if isinstance(starts, (int, str)) else f"{len(priors)} profiles",
              "pivoting": pivoting, "maxiter": maxiter, "tol": tol, "time_limit": tl, "seed": sd.root,
              "threads": check_threads(threads, where)}
    if pivoting == "float" and priors == [None] and callback is None and tl is None and n <= _FAST_SEQUENCES:
        # the centroid start on a small dense tableau is compiled code only (no thread pool to
        # limit); a run longer than _FAST_PIVOTS, a tie or a ray goes to the general path below
        seq_off, isets, iset_off, leaf_seq, chance, pay = g._regret_data()
        st, nit, x, y, b0, b1, reg, pays = _solve_dense_float(seq_off, isets, iset_off, leaf_seq, chance, pay,
                                                              min(maxiter, _FAST_PIVOTS))
        if st == 1 and reg <= tol:
            beh_t = (b0, b1)
            return LCPResult(status=Status.OPTIMAL, message="1 distinct equilibrium from 1 start",
                             x=np.concatenate(beh_t), nit=nit, runtime=time.perf_counter() - t0,
                             method="sequence_form_lcp", backend="numba", params=params, behavior=beh_t,
                             payoffs=pays, max_regret=float(reg), realization=(x, y), equilibria=(beh_t,))
    with limit(threads, where=where):
        return _lcp_general(t0, g, n, priors, pivoting, maxiter, tol, tl, sd, callback, params)


def _lcp_general(t0: float, g: ExtensiveFormGame, n: int, priors: list, pivoting: str, maxiter: int, tol: float,
                 tl: Optional[float], sd: Any, callback: Optional[Callable], params: dict) -> LCPResult:
    """:func:`sequence_form_lcp` for every start, pivoting and size (validated arguments)."""
    where = "sequence_form_lcp()"
    deadline = math.inf if tl is None else t0 + tl
    gen: list = []

    def rng() -> np.random.Generator:  # drawn only for random priors and perturbations
        if not gen:
            gen.append(sd.generator("sequence_form_lcp"))
        return gen[0]

    problems: dict = {}

    def problem(exact: bool) -> _Problem:
        if exact not in problems:
            problems[exact] = _Problem(g, exact)
        return problems[exact]

    found: list = []        # (behaviour profile, plans, exact plans or None, max regret)
    notes: list = []
    nit = 0
    status = Status.OPTIMAL
    last_run: Optional[_Run] = None
    for k, given in enumerate(priors):
        exact = pivoting == "exact"
        outcome = None
        for attempt in ("first", "fallback"):
            prob = problem(exact)
            run = None
            for perturb in range(_PERTURB_TRIES + 1):
                prior = _prior(g, given, k, rng, exact, perturb)
                run = _start(prob, prior, 1e-9)
                if run is not None:
                    if perturb:
                        notes.append(f"start {k}: the best responses to the prior tie; the prior was perturbed "
                                     f"by 1/{1000 * perturb}")
                    break
            if run is None:
                notes.append(f"start {k}: no feasible start basis after {_PERTURB_TRIES} perturbations")
                status = Status.ERROR
                break

            def cb(ev: Any, k: int = k) -> None:
                if callback is not None:
                    callback(Iteration(source=where, nit=nit + ev.nit, info={**ev.info, "start": k}))

            st = _advance(run, maxiter - nit, deadline, cb if callback is not None else None, where)
            nit += run.nit
            last_run = run
            if st is not Status.OPTIMAL:
                if st is Status.ERROR:
                    notes.append(f"start {k}: the path ended on a ray ({'exact' if exact else 'float'} pivoting)")
                    if not exact and n <= EXACT_FALLBACK_SEQUENCES:
                        exact = True
                        continue
                status = st
                break
            pays = None
            if exact:
                x, y, xq = run.plans()
                assert xq is not None
                beh = [g.behavior_from_realization(x, 0), g.behavior_from_realization(y, 1)]
                reg = float(max(0.0, g._solver_payoffs_and_regrets(beh)[1].max()))
                reg_q = _regret_exact(prob, xq)
                if reg_q != 0:  # cannot happen at a complementary basis; kept as a guard
                    notes.append(f"start {k}: exact regret {reg_q} (not an equilibrium)")
                    status = Status.ERROR
            else:
                xq = None
                x, y, b0, b1, reg, pays = _finish_float(run.T, run.basis, prob.n1, *g._regret_data())
                beh = [b0, b1]
                reg = float(reg)
            if not exact and reg > tol:
                # the basis is combinatorial: solving its sparse system afresh removes the
                # rounding the pivots accumulated
                plans = prob.solve_basis(run.basis)
                if plans is not None:
                    x, y = plans
                    pays = None
                    beh = [g.behavior_from_realization(x, 0), g.behavior_from_realization(y, 1)]
                    reg = float(max(0.0, g._solver_payoffs_and_regrets(beh)[1].max()))
                if reg > tol:
                    if n <= EXACT_FALLBACK_SEQUENCES:
                        notes.append(f"start {k}: floating-point regret {reg:.2e} > tol after "
                                     "refactorisation; repeated with exact pivoting")
                        exact = True
                        continue
                    notes.append(f"start {k}: max regret {reg:.2e} > tol={tol:g} after refactorisation")
                    status = Status.FEASIBLE
                else:
                    notes.append(f"start {k}: refactorised the final basis")
            outcome = (beh, (x, y), xq, reg, pays)
            break
        if outcome is not None:
            beh = outcome[0]
            if not any(all(np.allclose(a, b, atol=1e-9) for a, b in zip(beh, f[0])) for f in found):
                found.append(outcome)
        if status not in (Status.OPTIMAL, Status.FEASIBLE):
            break

    pays = None
    if found:
        beh, plans, xq, reg, pays = found[0]
    else:
        if last_run is not None:
            x, y, xq = last_run.plans()
            plans = (x, y)
            beh = [g.behavior_from_realization(x, 0), g.behavior_from_realization(y, 1)]
            notes.append(f"no equilibrium reached; the point of the path at z0 = {last_run.z0():.3g}")
        else:
            beh = list(g.uniform_behavior())
            plans = (g.realization_plan(beh[0], 0), g.realization_plan(beh[1], 1))
            xq = None
        reg = g.max_regret(beh)
    used_exact = any(f[2] is not None for f in found)
    msg = "; ".join([f"{len(found)} distinct equilibri{'um' if len(found) == 1 else 'a'} from "
                     f"{len(priors)} start{'s' if len(priors) != 1 else ''}"] + notes)
    beh_t = tuple(np.asarray(b, dtype=np.float64) for b in beh)
    real = tuple(np.asarray(p, dtype=np.float64) for p in plans)
    if pays is None:
        s = g._sequences()
        # expected payoffs straight from the realization plans (the behaviour profile's own plans
        # agree with them wherever the tree is reached)
        pays = _plan_payoffs(s["leaf_seq"], s["leaf_chance"], s["leaf_pay"], real[0], real[1])
    return LCPResult(status=status, message=msg, x=np.concatenate(beh_t), nit=nit, runtime=time.perf_counter() - t0,
                     method="sequence_form_lcp", backend="python-exact" if used_exact else "numba", params=params,
                     behavior=beh_t, payoffs=pays, max_regret=reg, realization=real,
                     equilibria=tuple(tuple(f[0]) for f in found),
                     exact_realization=tuple(tuple(str(v) for v in pl) for pl in xq) if xq else ())
