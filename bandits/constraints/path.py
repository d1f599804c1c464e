"""The path (routing) domain: pulled arms lie on a closed walk of exactly ``2B`` edges from a source.

Encoding: time-unrolled arc variables ``x[t, u->v]`` (``t = 0..2B-1``, both directions of every
edge, no self-loops) with unit flow out of the source at ``t = 0``, flow conservation between
consecutive times and every arc of the last time entering the source; ``a_v <= sum_t sum_u
x[t, u->v]``: an arm counts as visited only when a real arc enters it; at most ``B`` pulls.
Checker: shortest closed walk through the pulled nodes with the right parity (Held–Karp over the
pulled set on parity-aware shortest paths; a walk can be padded by going back and forth along an
edge, so an even closed walk of length <= 2B exists iff one of length exactly 2B does).
"""

from __future__ import annotations

import heapq
import itertools
import json
import math
import time
from collections import deque
from collections.abc import Mapping
from functools import lru_cache
from importlib import resources
from typing import Any, Optional

import networkx as nx
import numpy as np
import scipy.sparse as sp
from numba import njit
from scipy.sparse.csgraph import breadth_first_order, maximum_flow

from bandits.constraints.base import INF, Domain, RowBuilder, check_action_vector, check_cells
from engine.errors import InvalidInputError
from engine.status import Status
from engine.validation import check_int, check_time_limit, short_repr
from solvers.certificate import safe_dual_bound
from solvers.feasible_set import FeasibleSet
from solvers.highs import LinearModel

__all__ = ["PathConstraint", "tube_graph", "TUBE_SIZES"]

#: sizes of the London Underground subgraphs in ``bandits/data/tube_network.json``
TUBE_SIZES = (20, 40, 60, 80, 100)
_BIG = 1 << 28  # "no walk" in the parity distance tables


@lru_cache(maxsize=None)
def _tube_cached(n: int) -> tuple[tuple, int, tuple]:
    text = resources.files("bandits").joinpath("data/tube_network.json").read_text(encoding="utf-8")
    data = json.loads(text)["graphs"][str(n)]
    return tuple(map(tuple, data["edges"])), int(data["source_node"]), tuple(data["nodes"])


def tube_graph(n_stations: int) -> tuple[nx.Graph, int]:
    """The London Underground subgraph with ``n_stations`` in {20, 40, 60, 80, 100} and its source node.

    Returns ``(graph, source)`` with ``graph`` an undirected ``networkx.Graph`` on nodes
    ``0..n-1`` (data: ``bandits/data/tube_network.json``, MIT, see ``bandits/data/README.md``).

    Examples
    --------
    >>> g, source = tube_graph(20)
    >>> g.number_of_nodes(), g.number_of_edges(), source
    (20, 29, 0)
    """
    n = check_int(n_stations, "n_stations", "tube_graph()")
    if n not in TUBE_SIZES:
        raise InvalidInputError(f"tube_graph(): n_stations must be one of {TUBE_SIZES}, got {n}")
    edges, source, nodes = _tube_cached(n)
    g = nx.Graph()
    g.add_nodes_from(nodes)
    g.add_edges_from(edges)
    return g, source


def _random_graph(n: int, rng: np.random.Generator) -> nx.Graph:
    """A random connected graph: a random tree plus ``n // 2`` random edges."""
    g = nx.Graph()
    g.add_nodes_from(range(n))
    for v in range(1, n):
        g.add_edge(v, int(rng.integers(0, v)))
    for _ in range(n // 2):
        u, v = rng.choice(n, size=2, replace=False)
        g.add_edge(int(u), int(v))
    return g


def _stacked(blocks: list[tuple[sp.csr_matrix, np.ndarray, np.ndarray]], n_cols: int
             ) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
    """Row blocks ``(A, lower, upper)`` as one; ``blocks`` becomes that one block (the next stack of
    the same list starts from it)."""
    if not blocks:
        return sp.csr_matrix((0, n_cols)), np.zeros(0), np.zeros(0)
    one = (sp.vstack([b[0] for b in blocks]).tocsr(), np.concatenate([b[1] for b in blocks]),
           np.concatenate([b[2] for b in blocks]))
    blocks[:] = [one]
    return one


def _order_length(D: np.ndarray, s: int, order: list[int]) -> int:
    """Length of the shortest even closed walk ``s -> order[0] -> ... -> order[-1] -> s`` (each leg a
    shortest walk of the better parity; large = none): the walk through ``order`` as a certificate."""
    best = {0: 0}
    prev = s
    for k in order:
        nb: dict[int, int] = {}
        for p, c in best.items():
            for q in range(2):
                if D[prev, k, q] < _BIG:
                    key = (p + q) % 2
                    nb[key] = min(nb.get(key, _BIG), c + int(D[prev, k, q]))
        best, prev = nb, k
    return min((c + int(D[prev, s, p]) for p, c in best.items() if D[prev, s, p] < _BIG), default=_BIG)


@njit(cache=True)
def _min_even_closed_walk(D):  # pragma: no cover - compiled
    # D[u, v, p]: shortest walk u -> v with parity p (large = none); node 0 is the source.
    k = D.shape[0] - 1
    big = 1 << 28
    full = 1 << k
    C = np.full((full, k, 2), big, dtype=np.int64)
    for i in range(k):
        for p in range(2):
            C[1 << i, i, p] = D[0, i + 1, p]
    for mask in range(1, full):
        for last in range(k):
            if not (mask >> last) & 1:
                continue
            for p in range(2):
                c = C[mask, last, p]
                if c >= big:
                    continue
                for nxt in range(k):
                    if (mask >> nxt) & 1:
                        continue
                    nm = mask | (1 << nxt)
                    for q in range(2):
                        d = D[last + 1, nxt + 1, q]
                        if d >= big:
                            continue
                        if c + d < C[nm, nxt, (p + q) % 2]:
                            C[nm, nxt, (p + q) % 2] = c + d
    best = big
    for last in range(k):
        for p in range(2):
            c = C[full - 1, last, p]
            if c >= big:
                continue
            q = p  # the return leg must make the total even
            d = D[last + 1, 0, q]
            if d < big and c + d < best:
                best = c + d
    return best


@njit(cache=True)
def _top_b(mask, order_val, B, cur, r, reach_ok):  # pragma: no cover - compiled
    # Greedy in decreasing weight: the visited positive nodes freely, plus at most r - 1 new ones that
    # can be reached from cur and returned from within r steps (a walk of r steps ending at the
    # already visited source meets at most r - 1 new nodes); the best B of those (laminar matroid,
    # so greedy is optimal). r = 0: the value of the visited set itself.
    tot = 0.0
    taken = 0
    new = 0
    cap = r - 1
    for i in range(order_val.shape[0]):
        if taken == B:
            break
        if (mask[i >> 6] >> np.uint64(i & 63)) & np.uint64(1):
            tot += order_val[i]
            taken += 1
        elif new < cap and reach_ok[cur, i] <= r:
            tot += order_val[i]
            taken += 1
            new += 1
    return tot


@njit(cache=True)
def _walk_max(adj_ptr, adj_idx, D, s, L, B, order_val, rank, reach, keys, vals, used, max_steps):  # pragma: no cover
    # Exact max over closed walks of even length <= L from s of the B largest positive weights visited
    # (depth-first over walks, pruned by the _top_b bound and by dominance: a walk reaching node v
    # with the same visited positive set after no more steps of the same parity can do everything
    # this one can). Returns the best visited mask over the positive nodes (ranked), its value, and
    # False when it stopped after max_steps moves without a proof. The dominance table (keys, vals:
    # steps + 1, 0 = empty) is the caller's, all zero on entry and on return (used: the filled slots).
    P = order_val.shape[0]
    W = keys.shape[1] - 1
    cap = vals.shape[0]
    filled = 0
    masks = np.zeros((L + 1, W), dtype=np.uint64)
    node = np.zeros(L + 1, dtype=np.int64)
    ptr = np.zeros(L + 1, dtype=np.int64)
    if rank[s] >= 0:
        masks[0, rank[s] >> 6] |= np.uint64(1) << np.uint64(rank[s] & 63)
    best = _top_b(masks[0], order_val, B, s, 0, reach)
    best_mask = masks[0].copy()
    node[0] = s
    ptr[0] = adj_ptr[s]
    depth = 0
    newmask = np.zeros(W, dtype=np.uint64)
    steps = 0
    while depth >= 0:
        steps += 1
        if steps > max_steps:
            vals[used[:filled]] = 0
            return best_mask, best, False
        u = node[depth]
        if ptr[depth] >= adj_ptr[u + 1]:
            depth -= 1
            continue
        v = adj_idx[ptr[depth]]
        ptr[depth] += 1
        ell = depth + 1
        r = L - ell
        if D[v, s, ell & 1] > r:
            continue  # no return to s with an even total
        for k in range(W):
            newmask[k] = masks[depth, k]
        if rank[v] >= 0:
            newmask[rank[v] >> 6] |= np.uint64(1) << np.uint64(rank[v] & 63)
        # dominance table: key (v, parity, mask) -> fewest steps seen
        h = np.uint64(v * 2 + (ell & 1)) * np.uint64(0x9E3779B97F4A7C15)
        for k in range(W):
            h = (h ^ newmask[k]) * np.uint64(0xBF58476D1CE4E5B9)
            h ^= h >> np.uint64(31)
        slot = np.int64(h & np.uint64(cap - 1))
        dominated = False
        while vals[slot] > 0:
            same = keys[slot, W] == np.uint64(v * 2 + (ell & 1))
            if same:
                for k in range(W):
                    if keys[slot, k] != newmask[k]:
                        same = False
                        break
            if same:
                if vals[slot] <= ell + 1:
                    dominated = True
                else:
                    vals[slot] = ell + 1
                break
            slot = (slot + 1) & (cap - 1)
        if dominated:
            continue
        if vals[slot] == 0 and filled < (cap * 7) // 10:  # a full table only loses pruning
            vals[slot] = ell + 1
            keys[slot, W] = np.uint64(v * 2 + (ell & 1))
            for k in range(W):
                keys[slot, k] = newmask[k]
            used[filled] = slot
            filled += 1
        val = _top_b(newmask, order_val, B, v, 0, reach)
        if val > best:
            best = val
            best_mask[:] = newmask
        if r <= 1 or _top_b(newmask, order_val, B, v, r, reach) <= best:
            continue
        depth += 1
        node[depth] = v
        ptr[depth] = adj_ptr[v]
        masks[depth, :] = newmask
    vals[used[:filled]] = 0
    return best_mask, best, True


class _CutBranchAndBound:
    """Branch-and-bound over the pull bits with a cutting-plane LP bound (the walk search's fallback).

    LP over pulls ``a`` and edge uses ``x_e in [0, 2]`` (an optimal closed walk uses an edge at most
    twice): ``sum x <= 2B``, ``sum a <= B``, ``x(delta(v)) >= 2 a_v`` and the connectivity cuts
    ``x(delta(S)) >= 2 a_q`` for node sets ``S`` without the source (separated by max-flow on the LP's
    ``x``; they hold for every weight vector, so the pool is kept across calls). A node whose LP
    optimum is integral in ``a`` is decided by the exact checker: a feasible ``a`` is an incumbent,
    an infeasible one gets the cut ``sum_{v in T} a_v <= |T| - 1`` (every superset of an infeasible
    pulled set is infeasible, the set being closed under subsets). Nodes branch on the most
    fractional pull; the open node with the best bound goes first (so a stopped search's bound is the
    top node's safe dual bound). The LP ignores parity and walk length beyond ``sum x <= 2B``; the checker is the
    judge of feasibility, so the answer is exact up to the LP solver's tolerances (like the MIP's).
    """

    max_pool = 50_000  # cuts kept (connectivity and no-good); past it the pool starts again empty
    support_steps = 500_000  # moves of the walk search over the root LP's support (an incumbent)

    def __init__(self, c: "PathConstraint") -> None:
        self.c = c
        n = c.n
        self.edges = np.array([(u, v) for u in range(n) for v in c.adj[u] if u < v], dtype=np.int64).reshape(-1, 2)
        self.reach = 2 * c.dist.min(axis=2)[c.source] <= c.L
        self.nodes = 0  # branch-and-bound nodes of the last completed call
        self._base()
        self._clear_pool()
        self._lp_stack: Optional[tuple[sp.csr_matrix, np.ndarray, np.ndarray]] = None  # the LP's rows, stacked
        self._rebuild([])
        self._binding: list[int] = []  # pool cuts binding at the last root LP

    def _base(self) -> None:
        """The rows every LP has: ``sum x <= 2B``, ``sum a <= B``, ``x(delta(v)) - 2 a_v >= 0``."""
        c, E = self.c, self.edges
        n, m = c.n, len(E)
        rows = [np.zeros(m, dtype=np.int64)]            # sum x <= 2B
        cols = [n + np.arange(m)]
        rows.append(np.ones(n, dtype=np.int64))          # sum a <= B
        cols.append(np.arange(n))
        others = np.array([v for v in range(n) if v != c.source], dtype=np.int64)
        r = 2 + np.arange(others.size)                   # x(delta(v)) - 2 a_v >= 0
        pos = np.full(n, -1, dtype=np.int64)
        pos[others] = r
        for end in (0, 1):
            keep = pos[E[:, end]] >= 0
            rows.append(pos[E[keep, end]])
            cols.append(n + np.flatnonzero(keep))
        rows.append(r)
        cols.append(others)
        data = np.concatenate([np.ones(m), np.ones(n), np.ones(sum(len(x) for x in cols[2:4])),
                               np.full(others.size, -2.0)])
        self.A0 = sp.csr_matrix((data, (np.concatenate(rows), np.concatenate(cols))), shape=(2 + others.size, n + m))
        self.lo0 = np.concatenate([[-INF, -INF], np.zeros(others.size)])
        self.hi0 = np.concatenate([[2.0 * c.budget, float(c.budget)], np.full(others.size, INF)])
        self.col_hi = np.concatenate([np.ones(n), np.full(m, 2.0)])

    def _clear_pool(self) -> None:
        self.seen: set[tuple[bytes, int]] = set()
        self._pool_blocks: list[tuple[sp.csr_matrix, np.ndarray, np.ndarray]] = []
        self._pool: Optional[tuple[sp.csr_matrix, np.ndarray, np.ndarray]] = None  # stacked, when current
        self.n_pool = 0

    def _pool_arrays(self) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
        if self._pool is None:
            self._pool = _stacked(self._pool_blocks, self.A0.shape[1])
        return self._pool

    def _lp_arrays(self) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
        """The current LP's rows (stacked on demand: cut rounds add rows far more often than a safe
        bound reads them)."""
        if self._lp_stack is None:
            self._lp_stack = _stacked(self._lp_blocks, self.A0.shape[1])
        return self._lp_stack

    def _rebuild(self, active: list[int]) -> None:
        """A fresh LP: the base rows and the pool's cuts ``active`` (a small LP solves in milliseconds;
        one holding every cut ever found took ~50 ms a solve at J = 100)."""
        P, plo, phi = self._pool_arrays()
        act = np.asarray(sorted(set(active)), dtype=np.int64)
        A = sp.vstack([self.A0, P[act]]).tocsr() if act.size else self.A0
        lo = np.concatenate([self.lo0, plo[act]])
        hi = np.concatenate([self.hi0, phi[act]])
        n_cols = self.A0.shape[1]
        self.model = LinearModel(np.zeros(n_cols), A, lo, hi, col_lower=np.zeros(n_cols), col_upper=self.col_hi,
                                 sense="max")
        self.active = act.tolist()
        self._in_lp = np.zeros(self.n_pool, dtype=bool)
        self._in_lp[act] = True
        self._lp_blocks = [(A, lo, hi)]
        self._lp_stack = None

    def _to_pool(self, A: sp.csr_matrix, lo: np.ndarray, hi: np.ndarray) -> None:
        """New cuts: into the pool and into the current LP."""
        k = A.shape[0]
        lo, hi = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
        self._pool_blocks.append((A.tocsr(), lo, hi))
        self._pool = None
        idx = list(range(self.n_pool, self.n_pool + k))
        self.n_pool += k
        self._in_lp = np.concatenate([self._in_lp, np.ones(k, dtype=bool)])
        self._add_to_lp(idx, A, lo, hi)

    def _add_to_lp(self, idx: list[int], A: sp.csr_matrix, lo: np.ndarray, hi: np.ndarray) -> None:
        self.model.add_rows(A, lo, hi)
        self.active += idx
        self._lp_blocks.append((A, lo, hi))
        self._lp_stack = None

    def _from_pool(self, sol: np.ndarray) -> int:
        """Add the pool's cuts that ``sol`` violates (and the LP lacks); returns how many."""
        if self.n_pool == 0:
            return 0
        P, plo, phi = self._pool_arrays()
        act = P @ sol
        bad = np.flatnonzero(((act < plo - 1e-6) | (act > phi + 1e-6)) & ~self._in_lp)
        if bad.size:
            self._in_lp[bad] = True
            self._add_to_lp(bad.tolist(), P[bad], plo[bad], phi[bad])
        return int(bad.size)

    def _safe_bound(self, res: Any, w: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> float:
        """A rigorous upper bound on the node LP (pull bounds ``lo``, ``hi``) from the LP's duals:
        :func:`solvers.certificate.safe_dual_bound`, so a stopped search quotes no solver tolerance."""
        if res.row_dual is None:
            return math.inf
        A, rl, ru = self._lp_arrays()
        m = len(self.edges)
        return safe_dual_bound(np.concatenate([w, np.zeros(m)]), A, rl, ru, np.concatenate([lo, np.zeros(m)]),
                               np.concatenate([hi, self.col_hi[self.c.n:]]), res.row_dual, x_hint=res.x)

    def _add_cuts(self, cuts: list[tuple[np.ndarray, int]]) -> int:
        """Append ``x(delta(S)) >= 2 a_q`` for new ``(S, q)``; returns how many were new."""
        n, E = self.c.n, self.edges
        rows, cols, data = [], [], []
        k = 0
        for S, q in cuts:
            key = (np.sort(S).tobytes(), int(q))
            if key in self.seen:
                continue
            self.seen.add(key)
            inside = np.zeros(n, dtype=bool)
            inside[S] = True
            es = np.flatnonzero(inside[E[:, 0]] != inside[E[:, 1]])
            rows += [k] * (es.size + 1)
            cols += (n + es).tolist() + [int(q)]
            data += [1.0] * es.size + [-2.0]
            k += 1
        if k:
            self._to_pool(sp.csr_matrix((data, (rows, cols)), shape=(k, self.model.n_cols)), np.zeros(k), np.full(k, INF))
        return k

    def _separate(self, sol: np.ndarray) -> int:
        """Connectivity cuts violated by the LP point ``sol`` (max-flow from the source to each node
        with a pull, capacities ``x`` scaled to integers: a cut found is valid whatever the scaling)."""
        c, E = self.c, self.edges
        n, s = c.n, c.source
        a, x = sol[:n], sol[n:]
        scale = float(1 << 24)
        cap = np.floor(x * scale).astype(np.int64)
        keep = cap > 0
        u, v, cp = E[keep, 0], E[keep, 1], cap[keep]
        G = sp.csr_matrix((np.concatenate([cp, cp]), (np.concatenate([u, v]), np.concatenate([v, u]))),
                          shape=(n, n))
        G.sum_duplicates()
        covered = np.zeros(n, dtype=bool)
        cuts: list[tuple[np.ndarray, int]] = []
        for t in np.argsort(-a, kind="stable"):
            if a[t] < 1e-6 or t == s or covered[t]:
                continue
            if G.nnz == 0:
                flow, R = 0.0, G
            else:
                res = maximum_flow(G, s, int(t))
                flow = float(res.flow_value)
                R = (G - sp.csr_matrix(res.flow)).tocsr()
                R.data[R.data < 0] = 0
                R.eliminate_zeros()
            if flow >= (2 * a[t] - 1e-6) * scale:
                continue
            inside = np.ones(n, dtype=bool)
            inside[breadth_first_order(R, s, directed=True, return_predecessors=False)] = False
            S = np.flatnonzero(inside)
            q = int(S[np.argmax(a[S])])
            if x[np.flatnonzero(inside[E[:, 0]] != inside[E[:, 1]])].sum() < 2 * a[q] - 1e-6:
                cuts.append((S, q))
            covered[S] = True
        return self._add_cuts(cuts)

    def _lp(self, rounds: int, deadline: float = math.inf) -> Any:
        """The LP with up to ``rounds`` rounds of connectivity cuts; each solve gets the time left to
        ``deadline`` (a solve it stops is not OPTIMAL), and no round starts after it."""
        res = self._solve(deadline)
        for _ in range(rounds):
            if res.status != Status.OPTIMAL or res.x is None or time.perf_counter() > deadline:
                break
            # the pool's cuts first (a product), max-flow separation when none is violated
            if self._from_pool(res.x) == 0 and self._separate(res.x) == 0:
                break
            res = self._solve(deadline)
        return res

    def _solve(self, deadline: float) -> Any:
        if math.isinf(deadline):
            return self.model.solve()
        return self.model.solve(time_limit=max(deadline - time.perf_counter(), 1e-6))

    @staticmethod
    def _stopped(best_a: np.ndarray, best: float, upper: float) -> tuple[np.ndarray, float, float]:
        """A stopped search's answer: ``upper`` (the top open node's bound), or ``best`` itself when it
        is within the pruning tolerance of it (the finished search's standard)."""
        return best_a, best, best if upper <= best + 1e-9 * (1.0 + abs(best)) else upper

    def maximize(self, w: np.ndarray, max_nodes: int, deadline: float = math.inf,
                 incumbent: Optional[tuple[np.ndarray, float]] = None) -> Optional[tuple[np.ndarray, float, float]]:
        """``(best action found, its value, upper bound on the max)``; the bound equals the value
        when the search finished (exact up to the LP's tolerances, as the pruning is), else it is the
        largest safe dual bound of the open nodes. None when the root LP is not solved in time.
        ``incumbent`` (feasible, with its value) starts the search."""
        c = self.c
        n = c.n
        if self.n_pool > self.max_pool:
            self._clear_pool()
            self._rebuild([])
            self._binding = []
        elif len(self.active) > 2 * len(self._binding) + 200:
            self._rebuild(self._binding)  # the cuts the last root needed; the pool gives back the rest on demand
        m = self.model
        m.set_objective(np.concatenate([w, np.zeros(len(self.edges))]))
        hi0 = ((w > 0) & self.reach).astype(np.float64)
        lo0 = np.zeros(n)
        cols = np.arange(n)
        m.set_col_bounds(cols, lo0, hi0)
        try:
            # a search capped at few nodes stops the root's cut rounds early: at J = 100 the bound is within
            # 0.2% of the converged LP's after 20 rounds, which can take 150-400 rounds to converge
            res = self._lp(min(500, 30 + 10 * max_nodes), deadline)
            if res.status != Status.OPTIMAL or res.x is None:
                return None
            root = self._safe_bound(res, w, lo0, hi0)
            LA, Llo, Lhi = self._lp_arrays()
            act = LA[self.A0.shape[0]:] @ res.x
            tight = (np.abs(act - Llo[self.A0.shape[0]:]) <= 1e-7) | (np.abs(act - Lhi[self.A0.shape[0]:]) <= 1e-7)
            self._binding = [k for k, t in zip(self.active, tight) if t]
            if incumbent is not None:
                best_a, best = incumbent[0].astype(np.int64), float(incumbent[1])
            else:
                best_a, best = np.zeros(n, dtype=np.int64), 0.0
            if time.perf_counter() > deadline:
                return self._stopped(best_a, best, root)
            # greedy incumbent: pulls in decreasing LP value (then weight), each kept if the set stays
            # feasible by the checker's cheap certificate (the exact checker's Held-Karp costs ~1 s on
            # 20 stations; a set the certificate misses is only skipped here)
            greedy = np.zeros(n, dtype=np.int64)
            value = 0.0
            for v in np.lexsort((-w, -res.x[:n])):
                if hi0[v] == 0 or greedy.sum() >= c.budget or res.x[v] < 1e-6:
                    continue
                greedy[v] = 1
                if c.min_walk(np.flatnonzero(greedy).tolist(), exact=False) <= c.L:
                    value += float(w[v])
                else:
                    greedy[v] = 0
            if value > best:
                best_a, best = greedy, value
            # the walk search over the LP's support: few positive stations, so it usually proves the best
            # walk among them in milliseconds (the root LP is often integral and feasible)
            supported, value, _ = c._walk_search(np.where(res.x[:n] > 1e-6, w, 0.0), self.support_steps)
            if value > best:
                best_a, best = supported, value
            # open nodes, best bound first (the anytime bound is the heap's top; among equal bounds the
            # deepest, newest node, so a plateau is dived): (-bound, -depth, -seq, lower, upper)
            heap: list[tuple[float, int, int, np.ndarray, np.ndarray]] = [(-root, 0, 0, lo0, hi0)]
            seq = itertools.count(1)
            nodes = -1  # the root's own node is free: an integral root is decided by the checker

            def push(bound: float, depth: int, lo: np.ndarray, hi: np.ndarray) -> None:
                heapq.heappush(heap, (-bound, -depth, -next(seq), lo, hi))

            while heap:
                key, depth, _, lo, hi = heapq.heappop(heap)
                parent, depth = -key, -depth
                if parent <= best:
                    break  # best first: every open node is bounded by this one
                nodes += 1
                if nodes > max_nodes or time.perf_counter() > deadline:
                    return self._stopped(best_a, best, parent)
                m.set_col_bounds(cols, lo, hi)
                res = self._lp(5, deadline)
                if res.status == Status.INFEASIBLE:
                    continue
                if res.status != Status.OPTIMAL or res.x is None:
                    return self._stopped(best_a, best, parent)
                tol = 1e-9 * (1.0 + abs(best))
                if res.objective <= best + tol:
                    continue
                bound = min(parent, self._safe_bound(res, w, lo, hi))
                xa = res.x[:n]
                if res.col_dual is not None:
                    # reduced-cost fixing (this subtree): the LP's duals stay feasible when a pull is forced
                    # to its other bound, so objective + its reduced cost bounds every such solution
                    d = res.col_dual[:n]
                    lo, hi = lo.copy(), hi.copy()
                    hi[(lo == 0) & (xa < 1e-9) & (res.objective + d <= best + tol)] = 0.0
                    lo[(hi == 1) & (xa > 1 - 1e-9) & (res.objective - d <= best + tol)] = 1.0
                frac = np.abs(xa - np.round(xa))
                j = int(np.argmax(frac))
                if frac[j] > 1e-6:
                    down, up = hi.copy(), lo.copy()
                    down[j], up[j] = 0.0, 1.0
                    push(bound, depth + 1, lo, down)
                    push(bound, depth + 1, up, hi)  # the pull first among equals: it holds the good incumbents
                    continue
                a = np.round(xa).astype(np.int64)
                if c.check(a):
                    if float(w @ a) > best:
                        best, best_a = float(w @ a), a
                    continue
                T = np.flatnonzero(a)
                self._to_pool(sp.csr_matrix((np.ones(T.size), (np.zeros(T.size, dtype=np.int64), T)),
                                            shape=(1, m.n_cols)), np.array([-INF]), np.array([T.size - 1.0]))
                push(bound, depth, lo, hi)  # the same node again, without that set
            self.nodes = nodes
            return best_a, best, best
        finally:
            m.set_col_bounds(cols, lo0, hi0)


def path_cells(n: int, budget: int) -> int:
    """Cells a path constraint allocates: parity distances ``[n, n, 2]`` plus its time-unrolled arcs (bound)."""
    return 2 * n * n + 2 * budget * 3 * n


class PathConstraint(Domain):
    """Closed walks of exactly ``2B`` edges from ``source``: exact checker, sampler, FeasibleSet.

    Parameters
    ----------
    graph : networkx.Graph
        Undirected; its nodes are the arms, in ``list(graph.nodes)`` order (``nodes``).
    source : node of ``graph``
    budget : int
        ``B``: walks have ``2B`` edges and at most ``B`` arms are pulled.
    """

    name = "path"
    parameters = ("graph", "source")

    def __init__(self, graph: Any, source: Any, budget: int, where: str = "PathConstraint()") -> None:
        try:
            nodes = list(graph.nodes)
            edges = list(graph.edges)
        except AttributeError as err:
            raise InvalidInputError(f"{where}: graph must be a networkx graph, got {type(graph).__name__}") from err
        if source not in graph:
            raise InvalidInputError(f"{where}: the source node {source!r} is not in the graph")
        self.graph = graph
        self.nodes = nodes
        self.index = {v: i for i, v in enumerate(nodes)}
        self.n = len(nodes)
        self.source = self.index[source]
        self.source_node = source
        self.budget = int(budget)
        self.L = 2 * self.budget
        adj: list[list[int]] = [[] for _ in range(self.n)]
        for u, v in edges:
            iu, iv = self.index[u], self.index[v]
            if iu == iv:
                continue  # a self-loop is not a move
            if iv not in adj[iu]:
                adj[iu].append(iv)
                adj[iv].append(iu)
        self.adj = [sorted(x) for x in adj]
        self._csr = (np.concatenate([[0], np.cumsum([len(x) for x in self.adj])]).astype(np.int64),
                     np.array([v for x in self.adj for v in x], dtype=np.int64))
        self.dist = self._parity_distances()  # [n, n, 2]
        self._table: Optional[tuple[np.ndarray, np.ndarray, np.ndarray]] = None  # maximize()'s dominance table
        self._bb: Optional[_CutBranchAndBound] = None  # maximize()'s fallback, with its kept cuts

    def _parity_distances(self) -> np.ndarray:
        n = self.n
        D = np.full((n, n, 2), _BIG, dtype=np.int64)
        for s in range(n):
            D[s, s, 0] = 0
            q = deque([(s, 0)])
            while q:
                u, p = q.popleft()
                d = D[s, u, p]
                for v in self.adj[u]:
                    if D[s, v, 1 - p] > d + 1:
                        D[s, v, 1 - p] = d + 1
                        q.append((v, 1 - p))
        return D

    # ------------------------------------------------------------------ exact checker
    def min_walk(self, targets: list[int], *, exact: bool = True) -> int:
        """Length of the shortest even closed walk from the source visiting ``targets`` (large = none);
        ``exact=False``: the length of a nearest-neighbour walk, an upper bound (no Held-Karp)."""
        big = _BIG
        s = self.source
        if not self.adj[s]:
            return big
        tg = [t for t in targets if t != s]
        if not tg:
            return 2
        idx = [s] + tg
        D = np.ascontiguousarray(self.dist[np.ix_(idx, idx)])
        # cheap certificate first: nearest-neighbour order, best parities along it
        order, cur, left = [], 0, list(range(1, len(idx)))
        while left:
            nxt = min(left, key=lambda k: D[cur, k].min())
            order.append(nxt)
            left.remove(nxt)
            cur = nxt
        cert = max(_order_length(D, 0, order), 2)
        if cert <= self.L or not exact:
            return cert
        # exact lower bound: farthest target
        lb = max(int(min(D[0, k, 0] + D[k, 0, 0], D[0, k, 1] + D[k, 0, 1])) for k in range(1, len(idx)))
        if lb > self.L:
            return lb
        return max(int(_min_even_closed_walk(D)), 2)

    def check(self, a: Any) -> bool:
        """Exact: is there a closed walk of exactly ``2B`` edges from the source visiting every pulled arm?"""
        arr = check_action_vector(a, self.n, "PathConstraint.check()")
        pulled = np.flatnonzero(arr).tolist()
        if len(pulled) > self.budget:
            return False
        if self.L > 0 and not self.adj[self.source]:
            return False  # no walk at all
        if not pulled:
            return True
        return self.min_walk(pulled) <= self.L

    # ------------------------------------------------------------------ sampler
    def random_walk(self, rng: np.random.Generator) -> list[int]:
        """A random closed walk of ``2B`` edges from the source (uniform among moves that can still return)."""
        s, L = self.source, self.L
        walk = [s]
        cur = s
        for t in range(L):
            rest = L - t - 1
            opts = [v for v in self.adj[cur] if self.dist[v, s, rest % 2] <= rest]
            cur = int(opts[int(rng.integers(len(opts)))])
            walk.append(cur)
        return walk

    def sample(self, rng: np.random.Generator) -> np.ndarray:
        a = np.zeros(self.n, dtype=np.int64)
        if self.L == 0 or not self.adj[self.source]:
            return a
        visited = sorted(set(self.random_walk(rng)[1:]))
        m = min(self.budget, len(visited))
        k = int(rng.integers(math.ceil(m / 2), m + 1))
        a[rng.choice(visited, size=k, replace=False)] = 1
        return a

    # ------------------------------------------------------------------ exact maximisation
    def maximize(self, weights: Any, *, max_steps: int = 2_000_000, max_nodes: int = 100_000,
                 time_limit: Optional[float] = None) -> Optional[tuple[np.ndarray, float]]:
        """The feasible action maximising ``weights @ a`` exactly, and that maximum; ``None`` when the
        set is empty or both searches below stopped at their limits without a proof (then use the MIP).

        First a depth-first search over closed walks from the source (each walk is worth the ``B``
        largest positive weights it visits), pruned by dominance (same node, same visited positive
        nodes, no more steps of the same parity) and by the bound "the visited positive nodes plus the
        best nodes still reachable and returnable in the steps left, at most one new node per step";
        it stops after ``max_steps`` moves. It settles walks of a few dozen edges (J = 40) in
        milliseconds but not walks of 40 edges on the 100-station graph, where many nodes carry
        similar weights. Then a branch-and-bound over the pull bits (at most ``max_nodes`` nodes,
        ``0``: none) whose bound is an LP over edge uses with connectivity cuts and whose leaves are
        judged by the exact checker (:meth:`check`); its cuts are kept for the next call. Exact like
        the MIP over :meth:`feasible_set` (the branch-and-bound up to the LP solver's tolerances).
        ``time_limit`` (seconds) stops the branch-and-bound (``None`` then, as at its node limit): its
        LP solves get the time left, and the root's cut rounds, the greedy incumbent and every node
        check the clock; the walk search is bounded by ``max_steps``. :meth:`maximize_bounded` is the
        same search returning what it found, and a proven upper bound, when it stops.
        """
        where = "PathConstraint.maximize()"
        found = self._maximize(where, weights, max_steps, max_nodes, time_limit,
                               search=check_int(max_nodes, "max_nodes", where, lower=0) > 0)
        if found is None or found[2] > found[1]:
            return None
        return found[0], found[1]

    def maximize_bounded(self, weights: Any, *, max_steps: int = 2_000_000, max_nodes: int = 100_000,
                         time_limit: Optional[float] = None) -> Optional[tuple[np.ndarray, float, float]]:
        """:meth:`maximize`'s search, anytime: ``(action, weights @ action, upper)`` where ``action`` is
        the best feasible action found and ``upper >= max weights @ a`` is proven; ``upper ==
        weights @ action`` when the search finished (the maximum, as :meth:`maximize` returns it).

        Stopped by ``max_nodes`` or ``time_limit``, ``upper`` is the branch-and-bound's largest open
        node bound, a safe dual bound of its cutting-plane LP (:func:`solvers.certificate.safe_dual_bound`:
        no solver tolerance in it), and ``action`` the best of the walk search's best walk, a
        cheapest-insertion walk, a greedy rounding of the root LP, the walk search over the root LP's
        support and the leaves reached. ``max_nodes=0`` runs the root LP only: a
        bound within about 1% of the maximum on the 100-station graph, and a good action, in a few
        LP solves. None when the set is empty (no walk from the source) or the root LP did not finish
        in ``time_limit``.

        Examples
        --------
        >>> import numpy as np
        >>> from bandits.constraints.path import PathConstraint, tube_graph
        >>> c = PathConstraint(*tube_graph(20), budget=3)
        >>> w = np.linspace(1.0, 2.0, 20)
        >>> a, value, upper = c.maximize_bounded(w)
        >>> bool(c.check(a)) and value == upper == c.maximize(w)[1]
        True
        """
        return self._maximize("PathConstraint.maximize_bounded()", weights, max_steps, max_nodes, time_limit)

    def _maximize(self, where: str, weights: Any, max_steps: Any, max_nodes: Any, time_limit: Any,
                  search: bool = True) -> Optional[tuple[np.ndarray, float, float]]:
        # search=False: no branch-and-bound after an unfinished walk search (maximize(max_nodes=0))
        t0 = time.perf_counter()
        max_steps = check_int(max_steps, "max_steps", where, lower=1)
        max_nodes = check_int(max_nodes, "max_nodes", where, lower=0)
        tl = check_time_limit(time_limit, where)
        try:
            w = np.asarray(weights, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError):
            w = np.zeros(0)
        if w.shape != (self.n,) or not np.all(np.isfinite(w)):
            raise InvalidInputError(f"{where}: weights must be {self.n} finite numbers, got {short_repr(weights)}")
        if self.L == 0:
            return np.zeros(self.n, dtype=np.int64), 0.0, 0.0
        if not self.adj[self.source]:
            return None
        a, value, done = self._walk_search(w, max_steps)
        if done:
            return a, value, value
        if not search:
            return a, value, math.inf
        greedy, greedy_value = self._insertion(w)
        if greedy_value > value:
            a, value = greedy, greedy_value
        if self._bb is None:
            self._bb = _CutBranchAndBound(self)
        return self._bb.maximize(w, max_nodes, math.inf if tl is None else t0 + tl, incumbent=(a, value))

    def _insertion(self, w: np.ndarray) -> tuple[np.ndarray, float]:
        """A good feasible action fast (the searches' first incumbent): cheapest insertion into a closed
        walk, heaviest station first, each insertion kept when the walk through the stations in that
        order still fits (:func:`_order_length`, parities included). On four J = 100 pricing vectors it
        came within 0-4% of the maximum in 2-6 ms, where the walk search's best after 2M moves was 9-17%
        short."""
        s, L, D = self.source, self.L, self.dist
        dmin = D.min(axis=2)
        left = np.flatnonzero((w > 0) & (2 * dmin[s] <= L))
        tour: list[int] = []
        length = 0
        while len(tour) < self.budget and left.size:
            seq = np.array([s] + tour + [s])
            extra = dmin[seq[:-1]][:, left] + dmin[left][:, seq[1:]].T - dmin[seq[:-1], seq[1:]][:, None]
            pos, cost = extra.argmin(axis=0), extra.min(axis=0)
            for i in np.argsort(-w[left], kind="stable"):
                if length + cost[i] > L:
                    continue
                trial = tour[: pos[i]] + [int(left[i])] + tour[pos[i]:]
                got = _order_length(D, s, trial)
                if got <= L:
                    tour, length = trial, got
                    left = np.delete(left, i)
                    break
            else:
                break
        a = np.zeros(self.n, dtype=np.int64)
        a[tour] = 1
        return a, float(w[tour].sum())

    def _walk_search(self, w: np.ndarray, max_steps: int) -> tuple[np.ndarray, float, bool]:
        """The walk search of :meth:`maximize`: the best walk's pulls, their weight, and whether it is
        proven the maximum (else the search stopped after ``max_steps`` moves). Needs ``L > 0`` and a
        source with a neighbour."""
        a = np.zeros(self.n, dtype=np.int64)
        s, D = self.source, self.dist
        dmin = D.min(axis=2)
        pos = np.flatnonzero((w > 0) & (2 * dmin[s] <= self.L))
        if pos.size == 0:
            return a, 0.0, True
        order = pos[np.argsort(-w[pos], kind="stable")]
        rank = np.full(self.n, -1, dtype=np.int64)
        rank[order] = np.arange(order.size)
        reach = np.ascontiguousarray(dmin[:, order] + dmin[order, s][None, :])
        ptr, idx = self._csr
        row = np.repeat(np.arange(self.n), np.diff(ptr))
        idx = idx[np.lexsort((-w[idx], row))]  # heavier neighbours first: a good incumbent early
        W = max((order.size + 63) >> 6, 1)
        if self._table is None or self._table[0].shape[1] != W + 1:
            # 4M slots allocated once (np.zeros: pages are touched only where states land) and
            # cleared slot by slot after each search
            cap = 1 << 22
            self._table = (np.zeros((cap, W + 1), dtype=np.uint64), np.zeros(cap, dtype=np.int64),
                           np.zeros((cap * 7) // 10 + 1, dtype=np.int64))
        mask, _, done = _walk_max(ptr, idx, D, s, self.L, self.budget, w[order], rank, reach, *self._table,
                                  max_steps)
        bits = (mask[np.arange(order.size) >> 6] >> (np.arange(order.size) & 63).astype(np.uint64)) & np.uint64(1)
        picked = order[bits.astype(bool)][: self.budget]
        a[picked] = 1
        return a, float(w[picked].sum()), bool(done)

    # ------------------------------------------------------------------ FeasibleSet
    def arcs(self) -> list[tuple[int, int, int]]:
        """Time-unrolled arcs ``(t, u, v)`` that lie on some closed walk of length ``2B``."""
        s, L = self.source, self.L
        out = []
        for t in range(L):
            for u in range(self.n):
                if self.dist[s, u, t % 2] > t:
                    continue
                rest = L - t - 1
                for v in self.adj[u]:
                    if self.dist[v, s, rest % 2] <= rest:
                        out.append((t, u, v))
        return out

    def build_feasible_set(self) -> FeasibleSet:
        n, L = self.n, self.L
        arcs = self.arcs()
        K = len(arcs)
        rows = RowBuilder()
        # flow out of the source at t = 0
        start = 1.0 if L > 0 else 0.0
        rows.add([(n + k, 1.0) for k, (t, _, _) in enumerate(arcs) if t == 0], start, start)
        # conservation: inflow at (t-1) == outflow at t for every node and 1 <= t < L
        into: dict[tuple[int, int], list[int]] = {}
        outof: dict[tuple[int, int], list[int]] = {}
        for k, (t, u, v) in enumerate(arcs):
            into.setdefault((t, v), []).append(k)
            outof.setdefault((t, u), []).append(k)
        for t in range(1, L):
            for w in range(n):
                ins, outs = into.get((t - 1, w), []), outof.get((t, w), [])
                if ins or outs:
                    rows.add([(n + k, 1.0) for k in ins] + [(n + k, -1.0) for k in outs], 0.0, 0.0)
        # visited only through a real arc: a_v - sum_t sum_u x[t, u->v] <= 0
        for w in range(n):
            rows.add([(w, 1.0)] + [(n + k, -1.0) for t in range(L) for k in into.get((t, w), [])], -INF, 0.0)
        rows.add([(w, 1.0) for w in range(n)], -INF, float(self.budget))  # at most B pulls
        return rows.feasible_set(n, K, aux_lower=0.0, aux_upper=1.0, aux_integer=np.ones(K, dtype=bool))

    # ------------------------------------------------------------------ problem attributes, documents
    def attributes(self) -> dict[str, Any]:
        return {"graph": self.graph, "source": self.source_node, "constraint": self}

    def to_dict(self) -> dict[str, Any]:
        g = self.graph
        return {"name": self.name, "nodes": list(g.nodes), "edges": [list(e) for e in g.edges],
                "source": self.source_node, "budget": int(self.budget)}

    @classmethod
    def from_dict(cls, info: Mapping, n_arms: int, *, max_cells: int, where: str) -> Optional["PathConstraint"]:
        budget = info.get("budget")
        if isinstance(budget, bool) or not isinstance(budget, int) or not 0 <= budget <= n_arms \
                or not isinstance(info["nodes"], list) or len(info["nodes"]) != n_arms:
            return None
        g = nx.Graph()
        g.add_nodes_from(info["nodes"])
        if g.number_of_nodes() != n_arms:
            return None
        g.add_edges_from(tuple(e) for e in info["edges"])
        if g.number_of_nodes() != n_arms:
            return None  # an edge named a node that is not in the list
        check_cells(path_cells(n_arms, budget), max_cells, "$['metadata']['domain']",
                    f"a path domain on {n_arms} arms", where)
        return cls(g, info["source"], budget)

    @classmethod
    def spec_cells(cls, n_arms: int, budget: int, spec: Mapping) -> Optional[tuple[int, str]]:
        return path_cells(n_arms, budget), f"a path domain on {n_arms} arms"

    @classmethod
    def generate(cls, n_arms: int, budget: int, rng: np.random.Generator, params: dict,
                 where: str) -> "PathConstraint":
        """The tube subgraph for J in :data:`TUBE_SIZES`, else a random connected graph; or ``graph=``."""
        J = n_arms
        graph = params.pop("graph", None)
        source = params.pop("source", None)
        if graph is None:
            if J in TUBE_SIZES:
                graph, tube_source = tube_graph(J)
                source = tube_source if source is None else source
            else:
                graph = _random_graph(J, rng)
                source = 0 if source is None else source
        elif source is None:
            raise InvalidInputError(f"{where}: the path domain with a user graph needs source=")
        if getattr(graph, "number_of_nodes", lambda: -1)() != J:
            raise InvalidInputError(f"{where}: the graph has {getattr(graph, 'number_of_nodes', lambda: '?')()} "
                                    f"nodes but n_arms = {J}")
        return cls(graph, source, budget, where=where)
