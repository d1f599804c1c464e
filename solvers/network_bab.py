"""Exact branch-and-bound over action bits for ReLU networks on cardinality sets.

:class:`CardinalityBaB` maximises ``sign * f(a)`` for a ReLU network ``f`` whose first layer sees
the 0/1 action ``a`` through ``W_a @ a + c0`` (``c0`` holds the state's contribution), over a
cardinality set ``{a in {0, 1}^n : lo <= sum(a) <= hi}`` (budgets, exact budgets, ranges). It is
the ``method="bab"`` engine of :class:`solvers.NetworkMIP`; use it through that class.

The search
----------
A node fixes some action bits to 0 or 1; the rest are free, with ``klo <= sum(free) <= khi``
left. Nodes are explored best-first, a whole batch of them per numpy pass:

* bounds (CROWN / DeepPoly style, fully vectorised over the batch): the first hidden layer's
  pre-activation range is exact over the node (top-k selection of the free weights); each deeper
  layer is bounded by back-substituting linear relaxations of the ReLUs (upper: the chord;
  lower: slope 0 or 1, whichever is tighter) down to a linear function ``G @ a + h`` of the free
  bits, maximised / minimised *exactly* over the node's cardinality polytope by top-k selection,
  and intersected with interval arithmetic; the network output is bounded the same way;
* incumbents: the maximiser of each node's linear relaxation is a feasible action and is
  evaluated by the float64 forward pass; new incumbents are improved by the caller's 1-flip /
  swap local search;
* leaves: a node with at most ``leaf_limit`` completions is closed by evaluating every one;
* branching: on the free bit with the largest estimated effect on the relaxation's slack
  (BaBSR-style: the slack of each unstable neuron in the output bound, divided by its interval
  width, times the bit's coefficient in that neuron's linear bounds);
* pruning: a node is dropped when its bound is within ``abs_gap`` of the incumbent.

All bounds are widened by ``1e-9 * (1 + |value| + scale)`` against rounding, so the search never
prunes an optimum; the answer is proven optimal when no open node's bound exceeds the incumbent
by more than ``abs_gap``, and the bound returned is then the largest bound ever pruned.
"""

from __future__ import annotations

import heapq
import itertools
import math
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence

import numpy as np

from engine.events import Incumbent, emit

__all__ = ["CardinalityBaB", "BaBOutcome", "DEFAULT_BATCH_SIZE", "DEFAULT_LEAF_LIMIT"]

#: nodes popped from the frontier and branched per vectorised pass
DEFAULT_BATCH_SIZE = 64
#: a node with at most this many completions is closed by evaluating them all
DEFAULT_LEAF_LIMIT = 256
_EPS = 1e-9


@dataclass(frozen=True)
class BaBOutcome:
    """Raw outcome of :meth:`CardinalityBaB.run` (maximisation of ``sign * f``)."""

    x: Optional[np.ndarray]
    value: float              # sign * f(x)
    bound: float              # proven upper bound on max sign * f over the set
    nodes: int
    finished: bool            # the frontier was exhausted (optimality proven within abs_gap)
    stopped: bool             # a callback asked to stop
    root_unstable: int


def _topk_max(G: np.ndarray, free: np.ndarray, klo: np.ndarray, khi: np.ndarray, K: int) -> np.ndarray:
    """``max G[n, i] @ a`` over ``a`` in {0,1}^J, zero outside ``free[n]``, ``klo[n] <= sum(a) <= khi[n]``.

    ``G`` has shape (N, m, J); ``K >= max(khi)``; requires ``khi[n] <= free[n].sum()``. The maximum
    is the sum of the ``k*`` largest free coefficients with ``k* = clip(#positive, klo, khi)``
    (the prefix sums of a descending sequence are concave).
    """
    N, m, J = G.shape
    if K <= 0:
        return np.zeros((N, m))
    neg = np.where(free[:, None, :], -G, np.inf)
    if K < J:
        neg = np.partition(neg, K - 1, axis=-1)[..., :K]
    S = -np.sort(neg, axis=-1)[..., :K]                       # descending, -inf past the free ones
    npos = (S > 0).sum(axis=-1)
    kstar = np.clip(npos, klo[:, None], khi[:, None])
    valid = np.arange(S.shape[-1]) < kstar[..., None]
    return np.where(valid, S, 0.0).sum(axis=-1)


def _relax(L: np.ndarray, U: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """ReLU relaxation on [L, U]: upper ``su*z + iu`` (chord), lower ``sl*z`` (adaptive 0/1 slope);
    also the mask of unstable neurons."""
    on = L >= 0
    unst = (L < 0) & (U > 0)
    width = np.where(unst, U - L, 1.0)
    lam = np.where(unst, U / width, 0.0)
    su = np.where(on, 1.0, lam)
    iu = np.where(unst, -lam * L, 0.0)
    sl = np.where(on, 1.0, np.where(unst & (U > -L), 1.0, 0.0))
    return su, iu, sl, unst


def _widen(L: np.ndarray, U: np.ndarray, scale: Any = 0.0) -> tuple[np.ndarray, np.ndarray]:
    return L - _EPS * (1.0 + np.abs(L) + scale), U + _EPS * (1.0 + np.abs(U) + scale)


class CardinalityBaB:
    """Best-first branch-and-bound maximising ``sign * f`` over a cardinality set (see the module doc).

    Parameters
    ----------
    Wa : ndarray, shape (w1, n)
        First-layer weights of the action inputs.
    layers : list of (W, b)
        The network's affine layers after the first (hidden ones, then the output layer with one row).
    lo, hi : int
        Cardinality range of the feasible set (``0 <= lo <= hi <= n``).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> Wa = rng.normal(size=(4, 6)); out = [(rng.normal(size=(1, 4)), np.zeros(1))]
    >>> bab = CardinalityBaB(Wa, out, 0, 2)
    >>> res = bab.run(np.zeros(4), 1.0)
    >>> X = np.array([x for x in itertools.product([0, 1], repeat=6) if sum(x) <= 2], float)
    >>> bool(abs(res.value - bab.forward(X @ Wa.T, np.zeros(4)).max()) < 1e-12), res.finished
    (True, True)
    """

    def __init__(self, Wa: np.ndarray, layers: Sequence[tuple[np.ndarray, np.ndarray]], lo: int, hi: int) -> None:
        self.Wa = np.ascontiguousarray(Wa, dtype=np.float64)
        self.layers = [(np.asarray(W, dtype=np.float64), np.asarray(b, dtype=np.float64)) for W, b in layers]
        self.n = self.Wa.shape[1]
        self.lo = int(lo)
        self.hi = int(hi)
        self.H = len(self.layers)                 # hidden layers (the first one included)
        self._absWa = np.abs(self.Wa)
        self._absWa_sum = self._absWa.sum(axis=1)
        self.branching = "babsr"

    # ------------------------------------------------------------------ forward
    def forward(self, Y: np.ndarray, c0: np.ndarray) -> np.ndarray:
        """Network output for first-layer action products ``Y`` (rows ``W_a @ a``), float64."""
        z = Y + c0
        for W, b in self.layers:
            z = np.maximum(z, 0.0) @ W.T + b
        return z[:, 0]

    # ------------------------------------------------------------------ bounds
    def _backsub(self, W: np.ndarray, b: np.ndarray, relax: list, base: np.ndarray, upper: bool,
                 losses: Optional[list] = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Linear bound ``G @ a + const`` (upper or lower) of ``W @ relu(z_{m}) + b`` per node, by
        back-substitution through ``relax[m], ..., relax[0]``; also the sum of absolute terms."""
        N = base.shape[0]
        G = np.broadcast_to(W, (N,) + W.shape)
        const = np.broadcast_to(b, (N, W.shape[0])).copy()
        scale = np.abs(const)
        for m in range(len(relax) - 1, -1, -1):
            su, iu, sl, unst, L, U = relax[m]
            pos = G >= 0
            if upper:
                slope = np.where(pos, su[:, None, :], sl[:, None, :])
                term = (np.maximum(G, 0.0) * iu[:, None, :]).sum(axis=-1)
            else:
                slope = np.where(pos, sl[:, None, :], su[:, None, :])
                term = (np.minimum(G, 0.0) * iu[:, None, :]).sum(axis=-1)
            if losses is not None:
                # slack of each unstable neuron in this bound (for branching), divided by its width
                low_gap = np.where(sl > 0.5, -L, U)
                gap = np.abs(G[:, 0, :]) * np.where(G[:, 0, :] >= 0, iu, low_gap)
                losses[m] = np.where(unst, gap / np.where(unst, U - L, 1.0), 0.0)
            const = const + term
            scale = scale + np.abs(term)
            Gz = G * slope
            if m == 0:
                t = np.einsum("nij,nj->ni", Gz, base)
                const = const + t
                scale = scale + np.einsum("nij,nj->ni", np.abs(Gz), np.abs(base))
                G = Gz @ self.Wa
            else:
                Wm, bm = self.layers[m - 1]
                const = const + Gz @ bm
                scale = scale + np.abs(Gz) @ np.abs(bm)
                G = Gz @ Wm
        return G, const, scale

    def bound_nodes(self, free: np.ndarray, base: np.ndarray, klo: np.ndarray, khi: np.ndarray,
                    sign: float, want_branch: bool = True) -> dict[str, Any]:
        """Bounds for a batch of nodes.

        ``free`` (N, n) bool: free bits; ``base`` (N, w1): ``c0 + W_a @ (fixed ones)``; ``klo``,
        ``khi`` (N,): cardinality range of the free bits (``khi <= #free``). Returns ``ub`` (N,),
        upper bounds of ``sign * f`` over each node; ``x`` (N, n) the free part of each node's
        relaxation maximiser; ``branch`` (N,) the bit to branch on (-1 when none is free); the
        per-layer bounds ``L``, ``U``.
        """
        N = free.shape[0]
        K = int(khi.max()) if N else 0
        # first hidden layer: exact range over the node
        up = _topk_max(self.Wa[None, :, :], free, klo, khi, K)
        dn = _topk_max(-self.Wa[None, :, :], free, klo, khi, K)
        L, U = _widen(base - dn, base + up, self._absWa_sum)
        Ls, Us = [L], [U]
        relax = [(*_relax(L, U), L, U)]
        lin: list[Any] = [None]                                     # per-layer |coefficients| on a (branching)
        for l in range(1, self.H):
            W, b = self.layers[l - 1]
            Lp, Up = Ls[-1], Us[-1]
            hlo, hhi = np.maximum(Lp, 0.0), np.maximum(Up, 0.0)
            Wp, Wn = np.maximum(W, 0.0), np.minimum(W, 0.0)
            Ui = hhi @ Wp.T + hlo @ Wn.T + b
            Li = hlo @ Wp.T + hhi @ Wn.T + b
            Gu, cu, su_ = self._backsub(W, b, relax, base, True)
            Gl, cl, sl_ = self._backsub(W, b, relax, base, False)
            Ub = cu + _topk_max(Gu, free, klo, khi, K)
            Lb = cl - _topk_max(-Gl, free, klo, khi, K)
            scale = np.maximum(su_ + np.abs(Gu).sum(axis=-1), sl_ + np.abs(Gl).sum(axis=-1))
            L, U = _widen(np.maximum(Li, Lb), np.minimum(Ui, Ub), scale)
            L = np.minimum(L, U)
            Ls.append(L)
            Us.append(U)
            relax.append((*_relax(L, U), L, U))
            if want_branch:
                lin.append(0.5 * (np.abs(Gu) + np.abs(Gl)))
        # output (one row), times sign
        Wo, bo = self.layers[-1]
        Wo, bo = sign * Wo, sign * bo
        losses: list = [None] * self.H
        g, h, sc = self._backsub(Wo, bo, relax, base, True, losses if want_branch else None)
        g, h, sc = g[:, 0, :], h[:, 0], sc[:, 0]
        gm = np.where(free, g, -np.inf)
        order = np.argsort(-gm, axis=1, kind="stable")
        Sg = np.take_along_axis(gm, order, axis=1)
        npos = (Sg > 0).sum(axis=1)
        kstar = np.clip(npos, klo, khi)
        take = np.arange(self.n)[None, :] < kstar[:, None]
        ub = h + np.where(take, Sg, 0.0).sum(axis=1)
        x = np.zeros((N, self.n), dtype=bool)
        np.put_along_axis(x, order, take, axis=1)
        # interval bound of the output
        hlo, hhi = np.maximum(Ls[-1], 0.0), np.maximum(Us[-1], 0.0)
        ui = hhi @ np.maximum(Wo, 0.0)[0] + hlo @ np.minimum(Wo, 0.0)[0] + bo[0]
        ub = np.minimum(ub, ui)
        ub = ub + _EPS * (1.0 + np.abs(ub) + sc + np.where(free, np.abs(g), 0.0).sum(axis=1))
        out: dict[str, Any] = {"ub": ub, "x": x, "L": Ls, "U": Us}
        if want_branch:
            score = losses[0] @ self._absWa
            for m in range(1, self.H):
                score = score + np.einsum("ni,nij->nj", losses[m], lin[m])
            if self.branching == "influence":
                score = np.zeros_like(score)
            score = np.where(free, score, -np.inf)
            # ties / all-stable nodes: the output's linear coefficients decide
            score = score + 1e-12 * np.where(free, np.abs(g), 0.0)
            br = np.argmax(score, axis=1)
            br[~free.any(axis=1)] = -1
            out["branch"] = br
        return out

    # ------------------------------------------------------------------ search
    def _completions(self, fixed: np.ndarray, klo: int, khi: int) -> np.ndarray:
        """All completions of a node (rows of 0/1 over the n bits)."""
        free_idx = np.flatnonzero(fixed < 0)
        basex = (fixed == 1).astype(np.int8)
        rows = []
        for k in range(klo, khi + 1):
            if k == 0:
                rows.append(basex[None, :].copy())
            elif k == 1:
                X = np.repeat(basex[None, :], free_idx.size, axis=0)
                X[np.arange(free_idx.size), free_idx] = 1
                rows.append(X)
            else:
                combos = np.array(list(itertools.combinations(free_idx.tolist(), k)), dtype=np.int64)
                X = np.repeat(basex[None, :], len(combos), axis=0)
                X[np.arange(len(combos))[:, None], combos] = 1
                rows.append(X)
        return np.concatenate(rows) if rows else np.zeros((0, self.n), dtype=np.int8)

    def run(self, c0: np.ndarray, sign: float, *, start: Optional[np.ndarray] = None, abs_gap: float = 1e-6,
            deadline: Optional[float] = None, batch_size: int = DEFAULT_BATCH_SIZE,
            leaf_limit: int = DEFAULT_LEAF_LIMIT, node_limit: Optional[int] = None,
            improve: Optional[Callable[[np.ndarray], np.ndarray]] = None,
            callback: Optional[Callable] = None, source: str = "NetworkMIP.bab") -> BaBOutcome:
        """Maximise ``sign * f`` over the set; ``start`` is an optional feasible incumbent,
        ``improve(x)`` an optional local search returning a feasible action at least as good."""
        n, lo, hi = self.n, self.lo, self.hi
        c0 = np.asarray(c0, dtype=np.float64)
        best_x: Optional[np.ndarray] = None
        best_v = -math.inf
        stopped = False

        def value(X: np.ndarray) -> np.ndarray:
            return sign * self.forward(X.astype(np.float64) @ self.Wa.T, c0)

        def offer(X: np.ndarray, allow_improve: bool) -> None:
            nonlocal best_x, best_v, stopped
            if len(X) == 0:
                return
            v = value(X)
            i = int(np.argmax(v))
            if v[i] > best_v:
                x = X[i].astype(np.int64)
                vx = float(v[i])
                if allow_improve and improve is not None:
                    y = np.asarray(improve(x), dtype=np.int64)
                    vy = float(value(y[None, :])[0])
                    if vy > vx:
                        x, vx = y, vy
                best_x, best_v = x, vx
                if emit(callback, Incumbent(source=source, objective=sign * vx, x=x.copy())):
                    stopped = True

        if start is not None:
            offer(np.asarray(start)[None, :], True)

        counter = itertools.count()
        heap: list = []
        max_pruned = -math.inf
        nodes = 0
        root_unstable = 0

        def process(fixed_list: list) -> None:
            """Bound (or enumerate) new nodes and push the open ones."""
            nonlocal nodes, max_pruned, root_unstable
            if not fixed_list:
                return
            F = np.array(fixed_list, dtype=np.int8)
            n1 = (F == 1).sum(axis=1)
            nf = (F < 0).sum(axis=1)
            klo = np.maximum(lo - n1, 0)
            khi = np.minimum(hi - n1, nf)
            ok = klo <= khi
            F, n1, nf, klo, khi = F[ok], n1[ok], nf[ok], klo[ok], khi[ok]
            leaf = np.zeros(len(F), dtype=bool)
            for i in range(len(F)):
                c = 0
                for k in range(int(klo[i]), int(khi[i]) + 1):
                    c += math.comb(int(nf[i]), k)
                    if c > leaf_limit:
                        break
                leaf[i] = c <= leaf_limit
            nodes += len(F)
            if leaf.any():
                X = np.concatenate([self._completions(F[i], int(klo[i]), int(khi[i])) for i in np.flatnonzero(leaf)])
                offer(X, False)
            inner = ~leaf
            if not inner.any():
                return
            F, klo, khi = F[inner], klo[inner], khi[inner]
            free = F < 0
            base = c0 + (F == 1).astype(np.float64) @ self.Wa.T
            res = self.bound_nodes(free, base, klo, khi, sign)
            if nodes == len(F):                       # the root
                root_unstable = sum(int(((L < 0) & (U > 0)).sum()) for L, U in zip(res["L"], res["U"]))
            X = np.where(free, res["x"], F == 1)
            offer(X, True)
            ub, br = res["ub"], res["branch"]
            for i in range(len(F)):
                if ub[i] <= best_v + abs_gap:
                    max_pruned = max(max_pruned, float(ub[i]))
                else:
                    heapq.heappush(heap, (-float(ub[i]), next(counter), F[i], int(br[i])))

        # root
        root = np.full(n, -1, dtype=np.int8)
        if lo > hi or lo > n:
            return BaBOutcome(x=None, value=-math.inf, bound=-math.inf, nodes=0, finished=True, stopped=False,
                              root_unstable=0)
        process([root])
        while heap and not stopped:
            if deadline is not None and time.perf_counter() >= deadline:
                break
            if node_limit is not None and nodes >= node_limit:
                break
            children: list = []
            while heap and len(children) < 2 * batch_size:
                key, _, F, j = heapq.heappop(heap)
                if -key <= best_v + abs_gap:
                    max_pruned = max(max_pruned, -key)
                    for item in heap:                 # best-first: every other node is lower
                        max_pruned = max(max_pruned, -item[0])
                    heap.clear()
                    break
                for v in (0, 1):
                    child = F.copy()
                    child[j] = v
                    children.append(child)
            process(children)
        finished = not heap
        open_bound = -heap[0][0] if heap else -math.inf
        bound = max(best_v, max_pruned, open_bound)
        return BaBOutcome(x=best_x, value=best_v, bound=bound, nodes=nodes, finished=finished and not stopped,
                          stopped=stopped, root_unstable=root_unstable)
