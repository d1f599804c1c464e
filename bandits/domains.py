"""The four coRMAB domains of the SEQUOIA paper (and a plain budget domain).

``make_domain(name, n_arms=J, budget=B, seed=...)`` builds a :class:`~bandits.CoRMAB` whose
feasible set is a :class:`solvers.FeasibleSet` and which also carries the domain's **exact
feasibility checker** (an algorithm independent of the MIP encoding), a random feasible-action
**sampler** and an **enumerator** for small sets:

``"budget"``
    ``sum(a) <= B``.
``"path"``
    The pulled arms (graph nodes) must be visited by a closed walk of exactly ``2B`` edges from a
    source node, and at most ``B`` arms are pulled. Encoding: time-unrolled arc variables
    ``x[t, u->v]`` (``t = 0..2B-1``, both directions of every edge, no self-loops) with unit flow
    out of the source at ``t = 0``, flow conservation between consecutive times and every arc of the
    last time entering the source; ``a_v <= sum_t sum_{u} x[t, u->v]``: an arm counts as visited
    only when a real arc enters it. Checker: shortest closed walk through the pulled nodes with
    the right parity (Held–Karp over the pulled set on parity-aware shortest paths; a walk can be
    padded by going back and forth along an edge, so an even closed walk of length <= 2B exists
    iff one of length exactly 2B does).
``"matching"``
    ``B`` workers, ``n_slots`` (5) time slots; each arm is available in 2 slots, each worker in 3.
    A pulled arm needs two (worker, slot) assignments where both are available; a worker fills at
    most one arm per slot; at most ``max_pulls`` (default ``B``) arms. Checker: bipartite
    b-matching by augmenting paths.
``"capacity"``
    ``B`` workers with capacities (default uniform in {2..7}); arms have costs (default {2..6});
    a pulled arm is assigned to one worker within the workers' capacities. Checker: exact bin
    packing search.
``"multiple_interventions"``
    ``N`` interventions (default ``2B``), exactly ``B`` chosen; arm ``j`` moves up with a sigmoid
    probability of the weighted interventions hitting it (:class:`~bandits.InterventionArms`).
    As in the paper some arms respond only to a particular *triple* of interventions (each of
    the three alone does nearly nothing), so greedy construction is beatable.

Default arms (all overridable): ``S = 4`` states; ``p_passive ~ U(0, 0.2)``,
``p_active ~ U(0.7, 0.9)``; the first ``B`` arms pay ``[0.2, 0.15, 0.1, R]`` with ``R`` in
{4, 5, 6} (acting looks bad short-term), the others ``[0.1, 0.15, 0.2, R]`` with ``R`` in {1, 2, 3}.
"""

from __future__ import annotations

import itertools
import json
import math
from collections import deque
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any, Callable, Optional

import numpy as np
import scipy.sparse as sp

from bandits.arms import Arms, InterventionArms, MultiStateArms
from bandits.problem import CoRMAB
from engine.errors import InvalidInputError
from engine.seeding import resolve_seed
from engine.validation import as_float_array, as_int_array, check_choice, check_int, check_real

if TYPE_CHECKING:
    from solvers.feasible_set import FeasibleSet

__all__ = ["make_domain", "DOMAINS", "TUBE_SIZES", "tube_graph", "default_arms", "PathConstraint",
           "MatchingConstraint", "CapacityConstraint", "enumerate_down_closed"]

DOMAINS = ("budget", "path", "matching", "capacity", "multiple_interventions")
TUBE_SIZES = (20, 40, 60, 80, 100)
INF = math.inf


# ---------------------------------------------------------------------------------------------
# arms
# ---------------------------------------------------------------------------------------------
def default_arms(n_arms: int, budget: int, rng: np.random.Generator, *, n_states: int = 4, p_passive: Any = None,
                 p_active: Any = None, rewards: Any = None, p_passive_range: tuple[float, float] = (0.0, 0.2),
                 p_active_range: tuple[float, float] = (0.7, 0.9), good_top: Any = (4, 5, 6), bad_top: Any = (1, 2, 3),
                 where: str = "make_domain()") -> MultiStateArms:
    """The paper's default birth–death arms (see the module docstring); any array can be given."""
    J = n_arms
    S = check_int(n_states, "n_states", where, lower=2)
    lo_p, hi_p = _probability_range(p_passive_range, "p_passive_range", where)
    lo_a, hi_a = _probability_range(p_active_range, "p_active_range", where)
    good = as_float_array(good_top, "good_top", where, ndim=1)
    bad = as_float_array(bad_top, "bad_top", where, ndim=1)
    for label, arr in (("good_top", good), ("bad_top", bad)):
        if arr.size == 0:
            raise InvalidInputError(f"{where}: {label} must hold at least one reward, got {arr.tolist()}")
    pp = rng.uniform(lo_p, hi_p, size=J)
    pa = rng.uniform(lo_a, hi_a, size=J)
    tops = np.where(np.arange(J) < budget, rng.choice(good, size=J), rng.choice(bad, size=J))
    if p_passive is not None:
        pp = as_float_array(p_passive, "p_passive", where, shape=(J,))
    if p_active is not None:
        pa = as_float_array(p_active, "p_active", where, shape=(J,))
    if rewards is None:
        good = np.linspace(0.2, 0.1, S - 1)
        bad = np.linspace(0.1, 0.2, S - 1)
        R = np.empty((J, S))
        R[:, : S - 1] = np.where((np.arange(J) < budget)[:, None], good[None, :], bad[None, :])
        R[:, S - 1] = tops
    else:
        R = rewards
    return MultiStateArms(pp, pa, R)


def _probability_range(value: Any, name: str, where: str) -> tuple[float, float]:
    """A ``(low, high)`` pair with ``0 <= low <= high <= 1``."""
    try:
        pair = tuple(value)
    except TypeError:
        pair = ()
    if len(pair) != 2:
        raise InvalidInputError(f"{where}: {name} must be a (low, high) pair of probabilities, got {value!r}")
    lo = check_real(pair[0], f"{name}[0]", where, lower=0.0, upper=1.0)
    hi = check_real(pair[1], f"{name}[1]", where, lower=0.0, upper=1.0)
    if lo > hi:
        raise InvalidInputError(f"{where}: {name} must have low <= high, got {value!r}")
    return lo, hi


# ---------------------------------------------------------------------------------------------
# generic helpers
# ---------------------------------------------------------------------------------------------
def enumerate_down_closed(n: int, check: Callable[[np.ndarray], bool], limit: int) -> Optional[np.ndarray]:
    """Every feasible 0/1 vector of a family closed under removing ones, by depth-first extension.

    Returns ``None`` when there are more than ``limit``. Each set is generated once (items are
    added in increasing index order) and only feasible sets are extended. A feasible set of size
    ``k`` proves at least ``2**k`` members (all its subsets), which stops the search on large
    families after a few checks instead of ``limit`` of them.
    """
    out: list[np.ndarray] = []
    a = np.zeros(n, dtype=np.int64)
    if not check(a):
        return np.zeros((0, n), dtype=np.int64)
    out.append(a.copy())

    def rec(start: int, size: int) -> bool:
        for j in range(start, n):
            a[j] = 1
            if check(a):
                out.append(a.copy())
                if len(out) > limit or 2 ** (size + 1) > limit or not rec(j + 1, size + 1):
                    a[j] = 0
                    return False
            a[j] = 0
        return True

    if not rec(0, 0) or len(out) > limit:
        return None
    return np.array(out, dtype=np.int64)


def _check_action_vector(a: Any, n: int, where: str) -> np.ndarray:
    arr = np.asarray(a, dtype=float).reshape(-1)
    if arr.shape != (n,) or not np.all((arr == 0) | (arr == 1)):
        raise InvalidInputError(f"{where}: action must be a 0/1 vector of length {n}, got {a!r}")
    return arr.astype(np.int64)


def _random_maximal(n: int, rng: np.random.Generator, partial_ok: Callable[[np.ndarray], bool]) -> np.ndarray:
    """Random greedy maximal set, then a random-sized prefix of it (a "uniform-ish" sampler)."""
    a = np.zeros(n, dtype=np.int64)
    picked: list[int] = []
    for j in rng.permutation(n):
        a[j] = 1
        if partial_ok(a):
            picked.append(int(j))
        else:
            a[j] = 0
    if picked:
        k = int(rng.integers(math.ceil(len(picked) / 2), len(picked) + 1))
        a[:] = 0
        a[picked[:k]] = 1
    return a


# ---------------------------------------------------------------------------------------------
# path
# ---------------------------------------------------------------------------------------------
def _tube_data() -> dict:
    return json.loads(resources.files("bandits").joinpath("data/tube_network.json").read_text(encoding="utf-8"))


@lru_cache(maxsize=None)
def _tube_cached(n: int):
    data = _tube_data()["graphs"][str(n)]
    return tuple(map(tuple, data["edges"])), int(data["source_node"]), tuple(data["nodes"])


def tube_graph(n_stations: int):
    """The London Underground subgraph with ``n_stations`` in {20, 40, 60, 80, 100} and its source node.

    Returns ``(graph, source)`` with ``graph`` an undirected ``networkx.Graph`` on nodes
    ``0..n-1`` (data: ``bandits/data/tube_network.json``, MIT, see ``bandits/data/README.md``).

    Examples
    --------
    >>> g, source = tube_graph(20)
    >>> g.number_of_nodes(), g.number_of_edges(), source
    (20, 29, 0)
    """
    import networkx as nx

    n = check_int(n_stations, "n_stations", "tube_graph()")
    if n not in TUBE_SIZES:
        raise InvalidInputError(f"tube_graph(): n_stations must be one of {TUBE_SIZES}, got {n}")
    edges, source, nodes = _tube_cached(n)
    g = nx.Graph()
    g.add_nodes_from(nodes)
    g.add_edges_from(edges)
    return g, source


def _random_graph(n: int, rng: np.random.Generator):
    import networkx as nx

    g = nx.Graph()
    g.add_nodes_from(range(n))
    for v in range(1, n):
        g.add_edge(v, int(rng.integers(0, v)))
    for _ in range(n // 2):
        u, v = rng.choice(n, size=2, replace=False)
        g.add_edge(int(u), int(v))
    return g


def _held_karp_kernel():
    from numba import njit

    @njit(cache=True)
    def min_even_closed_walk(D):  # pragma: no cover - compiled
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

    return min_even_closed_walk


_HK = None


class PathConstraint:
    """Closed walks of exactly ``2B`` edges from ``source``: exact checker, sampler, FeasibleSet.

    Parameters
    ----------
    graph : networkx.Graph
        Undirected; its nodes are the arms, in ``list(graph.nodes)`` order (``nodes``).
    source : node of ``graph``
    budget : int
        ``B``: walks have ``2B`` edges and at most ``B`` arms are pulled.
    """

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
        self.dist = self._parity_distances()  # [n, n, 2]

    def _parity_distances(self) -> np.ndarray:
        n = self.n
        big = 1 << 28
        D = np.full((n, n, 2), big, dtype=np.int64)
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
    def min_walk(self, targets: list[int]) -> int:
        """Length of the shortest even closed walk from the source visiting ``targets`` (large = none)."""
        global _HK
        big = 1 << 28
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
        best = {0: 0}
        prev = 0
        for k in order:
            nb: dict[int, int] = {}
            for p, c in best.items():
                for q in range(2):
                    if D[prev, k, q] < big:
                        key = (p + q) % 2
                        nb[key] = min(nb.get(key, big), c + int(D[prev, k, q]))
            best, prev = nb, k
        cert = min((c + int(D[prev, 0, p]) for p, c in best.items() if D[prev, 0, p] < big), default=big)
        cert = max(cert, 2)
        if cert <= self.L:
            return cert
        # exact lower bound: farthest target
        lb = max(int(min(D[0, k, 0] + D[k, 0, 0], D[0, k, 1] + D[k, 0, 1])) for k in range(1, len(idx)))
        if lb > self.L:
            return lb
        if _HK is None:
            _HK = _held_karp_kernel()
        return max(int(_HK(D)), 2)

    def check(self, a: Any) -> bool:
        """Exact: is there a closed walk of exactly ``2B`` edges from the source visiting every pulled arm?"""
        arr = _check_action_vector(a, self.n, "PathConstraint.check()")
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

    def feasible_set(self):
        from solvers.feasible_set import FeasibleSet

        n, s, L = self.n, self.source, self.L
        arcs = self.arcs()
        K = len(arcs)
        rows, cols, vals, lo, hi = [], [], [], [], []
        r = 0
        # flow out of the source at t = 0
        for k, (t, u, v) in enumerate(arcs):
            if t == 0:
                rows.append(r); cols.append(n + k); vals.append(1.0)
        lo.append(1.0 if L > 0 else 0.0); hi.append(1.0 if L > 0 else 0.0); r += 1
        # conservation: inflow at (t-1) == outflow at t for every node and 1 <= t < L
        into: dict[tuple[int, int], list[int]] = {}
        outof: dict[tuple[int, int], list[int]] = {}
        for k, (t, u, v) in enumerate(arcs):
            into.setdefault((t, v), []).append(k)
            outof.setdefault((t, u), []).append(k)
        for t in range(1, L):
            for w in range(n):
                ins, outs = into.get((t - 1, w), []), outof.get((t, w), [])
                if not ins and not outs:
                    continue
                for k in ins:
                    rows.append(r); cols.append(n + k); vals.append(1.0)
                for k in outs:
                    rows.append(r); cols.append(n + k); vals.append(-1.0)
                lo.append(0.0); hi.append(0.0); r += 1
        # visited only through a real arc: a_v - sum_t sum_u x[t, u->v] <= 0
        for w in range(n):
            rows.append(r); cols.append(w); vals.append(1.0)
            for t in range(L):
                for k in into.get((t, w), []):
                    rows.append(r); cols.append(n + k); vals.append(-1.0)
            lo.append(-INF); hi.append(0.0); r += 1
        # at most B pulls
        for w in range(n):
            rows.append(r); cols.append(w); vals.append(1.0)
        lo.append(-INF); hi.append(float(self.budget)); r += 1
        A = sp.csr_matrix((vals, (rows, cols)), shape=(r, n + K))
        return FeasibleSet(n, A, lo, hi, n_aux=K, aux_lower=0.0, aux_upper=1.0, aux_integer=np.ones(K, dtype=bool))


# ---------------------------------------------------------------------------------------------
# matching (scheduling)
# ---------------------------------------------------------------------------------------------
#: the matching domain uses Hall's condition (no auxiliary variables) up to this many slots
HALL_MAX_SLOTS = 12


class MatchingConstraint:
    """Arms need two compatible (worker, slot) assignments; exact checker by augmenting paths."""

    def __init__(self, arm_slots: np.ndarray, worker_slots: np.ndarray, max_pulls: int) -> None:
        self.arm_slots = arm_slots.astype(np.int64)
        self.worker_slots = worker_slots.astype(np.int64)
        self.n = arm_slots.shape[0]
        self.n_workers, self.n_slots = worker_slots.shape
        self.max_pulls = int(max_pulls)
        # compatible (worker, slot) pairs of every arm, as indices w * n_slots + k
        self.pairs = [[w * self.n_slots + k for w in range(self.n_workers) for k in range(self.n_slots)
                       if arm_slots[j, k] and worker_slots[w, k]] for j in range(self.n)]

    def check(self, a: Any) -> bool:
        arr = _check_action_vector(a, self.n, "MatchingConstraint.check()")
        pulled = np.flatnonzero(arr).tolist()
        if len(pulled) > self.max_pulls:
            return False
        # two copies of each pulled arm; Kuhn's augmenting paths on (copy -> worker-slot pair)
        owner: dict[int, int] = {}
        copies = [j for j in pulled for _ in range(2)]
        if any(len(self.pairs[j]) < 2 for j in pulled):
            return False

        def augment(c: int, seen: set) -> bool:
            for p in self.pairs[copies[c]]:
                if p in seen:
                    continue
                seen.add(p)
                if p not in owner or augment(owner[p], seen):
                    owner[p] = c
                    return True
            return False

        return all(augment(c, set()) for c in range(len(copies)))

    def feasible_set(self):
        """The constraints as a :class:`solvers.FeasibleSet` over the pulls alone (no auxiliaries).

        Worker-slot pairs of one slot are interchangeable, so the assignment is a transportation
        problem from the pulled arms (demand 2 each) to the slots (supply: the workers available
        there), and by Hall's theorem (integral flows) it exists exactly when for every set ``T``
        of slots, twice the number of pulled arms whose slots all lie in ``T`` is at most the
        supply of ``T``. One row per distinct such arm set (at most ``2^n_slots``; 32 with the
        default 5 slots) plus ``sum(a) <= max_pulls``. With more than :data:`HALL_MAX_SLOTS`
        slots the assignment formulation (one binary per compatible arm-worker-slot triple) is
        used instead.
        """
        from solvers.feasible_set import FeasibleSet

        if self.n_slots > HALL_MAX_SLOTS:
            return self._assignment_feasible_set()
        n = self.n
        supply = self.worker_slots.sum(axis=0).astype(float)
        arm_masks = (self.arm_slots * (1 << np.arange(self.n_slots))).sum(axis=1)
        tightest: dict[tuple[int, ...], float] = {}
        for T in range(1 << self.n_slots):
            members = tuple(np.flatnonzero((arm_masks & ~T) == 0).tolist())
            if members:
                rhs = float(supply[[k for k in range(self.n_slots) if T >> k & 1]].sum())
                tightest[members] = min(rhs, tightest.get(members, INF))
        rows, cols, vals, hi = [], [], [], []
        for r, (members, rhs) in enumerate(tightest.items()):
            rows += [r] * len(members)
            cols += list(members)
            vals += [2.0] * len(members)
            hi.append(rhs)
        r = len(tightest)
        rows += [r] * n
        cols += list(range(n))
        vals += [1.0] * n
        hi.append(float(self.max_pulls))
        A = sp.csr_matrix((vals, (rows, cols)), shape=(r + 1, n))
        return FeasibleSet(n, A, np.full(r + 1, -INF), hi)

    def _assignment_feasible_set(self):
        """One binary per compatible (arm, worker, slot) triple: two per pulled arm, one arm per pair."""
        from solvers.feasible_set import FeasibleSet

        n = self.n
        triples = [(j, p) for j in range(n) for p in self.pairs[j]]
        K = len(triples)
        rows, cols, vals, lo, hi = [], [], [], [], []
        r = 0
        by_arm: dict[int, list[int]] = {}
        by_pair: dict[int, list[int]] = {}
        for k, (j, p) in enumerate(triples):
            by_arm.setdefault(j, []).append(k)
            by_pair.setdefault(p, []).append(k)
        for j in range(n):  # sum_{w,k} z[j,w,k] == 2 a_j
            rows.append(r); cols.append(j); vals.append(-2.0)
            for k in by_arm.get(j, []):
                rows.append(r); cols.append(n + k); vals.append(1.0)
            lo.append(0.0); hi.append(0.0); r += 1
        for p, ks in by_pair.items():  # a worker fills at most one arm per slot
            for k in ks:
                rows.append(r); cols.append(n + k); vals.append(1.0)
            lo.append(-INF); hi.append(1.0); r += 1
        for j in range(n):
            rows.append(r); cols.append(j); vals.append(1.0)
        lo.append(-INF); hi.append(float(self.max_pulls)); r += 1
        A = sp.csr_matrix((vals, (rows, cols)), shape=(r, n + K))
        return FeasibleSet(n, A, lo, hi, n_aux=K, aux_lower=0.0, aux_upper=1.0, aux_integer=np.ones(K, dtype=bool))


# ---------------------------------------------------------------------------------------------
# capacity
# ---------------------------------------------------------------------------------------------
#: the capacity domain uses the pattern formulation up to this many maximal packing patterns
PATTERN_LIMIT = 2_000


class CapacityConstraint:
    """Each pulled arm is assigned to one worker within capacities; exact bin-packing checker."""

    def __init__(self, costs: np.ndarray, capacities: np.ndarray, node_limit: int = 20_000) -> None:
        self.costs = costs.astype(float)
        self.capacities = capacities.astype(float)
        self.n = costs.shape[0]
        self.node_limit = int(node_limit)
        self.mip_fallbacks = 0
        self.fs: Optional[FeasibleSet] = None  # set by make_domain once the MIP encoding is built
        levels = self.cost_levels
        # level of each arm (-1: cost 0, packs anywhere); workers by decreasing capacity
        self._level = np.full(self.n, -1, dtype=np.int64)
        for i, v in enumerate(levels):
            self._level[np.abs(self.costs - v) <= 1e-12] = i
        self._values = levels.tolist()
        self._caps = sorted(self.capacities.tolist(), reverse=True)
        self._cap_suffix = np.concatenate([np.cumsum(self._caps[::-1])[::-1], [0.0]]).tolist()
        self._packable: dict[tuple[int, tuple[int, ...]], bool] = {}   # (worker, counts) -> packable

    def check(self, a: Any) -> bool:
        """Exact bin packing.

        Arms of equal cost are interchangeable, so the question is whether the *counts* per cost
        level fit: a depth-first search over the workers (largest first) that gives each worker a
        maximal load of the remaining arms, memoised on ``(worker, remaining counts)`` for the
        life of the constraint (greedy constructions ask about many overlapping actions). If one
        check explores more than ``node_limit`` new states, the MIP encoding decides.
        """
        arr = _check_action_vector(a, self.n, "CapacityConstraint.check()")
        pulled = arr == 1
        if not pulled.any():
            return True
        if not self._caps:
            return False
        c = self.costs[pulled]
        if c.max() > self._caps[0] + 1e-9 or c.sum() > self._cap_suffix[0] + 1e-9:
            return False
        counts = tuple(np.bincount(self._level[pulled & (self._level >= 0)], minlength=len(self._values)).tolist())
        budget = [self.node_limit]
        got = self._pack(0, counts, budget)
        if got is None:
            self.mip_fallbacks += 1
            if self.fs is None:
                raise RuntimeError("CapacityConstraint.fs must be set before an inexact check")
            return bool(self.fs.contains(arr))
        return got

    def _pack(self, i: int, counts: tuple[int, ...], budget: list[int]) -> Optional[bool]:
        """Can workers ``i, i+1, ...`` take ``counts`` arms of each cost level? None: out of budget."""
        if not any(counts):
            return True
        if i == len(self._caps):
            return False
        key = (i, counts)
        known = self._packable.get(key)
        if known is not None:
            return known
        values = self._values
        if sum(k * v for k, v in zip(counts, values)) > self._cap_suffix[i] + 1e-9:
            self._packable[key] = False
            return False
        budget[0] -= 1
        if budget[0] < 0:
            return None
        rest = list(counts)
        L = len(values)

        def loads(level: int, room: float):
            """Remaining counts after a maximal load of worker ``i`` (levels from the most costly down)."""
            if level < 0:
                # maximal: no remaining arm fits in the room left
                if all(rest[l] == 0 or values[l] > room + 1e-9 for l in range(L)):
                    yield tuple(rest)
                return
            most = min(rest[level], int(math.floor((room + 1e-9) / values[level])))
            for take in range(most, -1, -1):
                rest[level] -= take
                yield from loads(level - 1, room - take * values[level])
                rest[level] += take

        result: Optional[bool] = False
        for after in loads(L - 1, self._caps[i]):
            got = self._pack(i + 1, after, budget)
            if got is None:
                return None
            if got:
                result = True
                break
        if len(self._packable) > 1_000_000:
            self._packable.clear()
        self._packable[key] = bool(result)
        return result

    def packing_patterns(self, limit: int = PATTERN_LIMIT) -> Optional[list[tuple[float, int, np.ndarray]]]:
        """Maximal packing patterns per distinct capacity, or None when there are more than ``limit``.

        A list of ``(capacity, number of workers with it, Q)``; each row of ``Q`` (shape
        ``(patterns, levels)``) is how many arms of each positive cost level (:attr:`cost_levels`)
        one such worker takes at once, and only maximal rows are kept (no further arm fits).

        Examples
        --------
        >>> cc = CapacityConstraint(np.array([2.0, 3.0, 3.0]), np.array([5.0, 5.0, 3.0]))
        >>> [(cap, k, Q.tolist()) for cap, k, Q in cc.packing_patterns()]
        [(3.0, 1, [[1.0, 0.0], [0.0, 1.0]]), (5.0, 2, [[2.0, 0.0], [1.0, 1.0]])]
        """
        limit = check_int(limit, "limit", "CapacityConstraint.packing_patterns()", lower=0)
        levels = self.cost_levels
        out = []
        total = 0
        for cap in np.unique(self.capacities):
            pats: list[list[int]] = []
            q = [0] * levels.size

            def rec(i: int, rem: float) -> bool:
                if len(pats) + total > limit:
                    return False
                if i == levels.size:
                    if not np.any(levels <= rem + 1e-9):       # maximal: nothing else fits
                        pats.append(list(q))
                    return True
                k = int(math.floor((rem + 1e-9) / levels[i]))
                for c in range(k, -1, -1):
                    q[i] = c
                    if not rec(i + 1, rem - c * levels[i]):
                        return False
                q[i] = 0
                return True

            if not rec(0, float(cap)):
                return None
            total += len(pats)
            out.append((float(cap), int(np.sum(self.capacities == cap)),
                        np.array(pats, dtype=float).reshape(len(pats), levels.size)))
        return out

    @property
    def cost_levels(self) -> np.ndarray:
        """The distinct positive arm costs, ascending."""
        return np.unique(self.costs[self.costs > 0])

    def feasible_set(self):
        """The constraints as a :class:`solvers.FeasibleSet`.

        Arms of equal cost are interchangeable for packing, so when the number of maximal
        packing patterns is small (integer-like costs, small capacities: the default domain has
        a few dozen) the set is the pattern formulation: an integer ``y[c, p]`` counts the
        workers of capacity ``c`` packed by pattern ``p`` (at most the number of such workers),
        and for every cost level the pulled arms of that cost are at most the slots the chosen
        patterns offer. A pulled arm of cost 0 only needs one worker. This is exact, has a few
        dozen integer columns instead of ``J * B`` assignment binaries, no worker symmetry, and a
        much tighter LP relaxation. Beyond :data:`PATTERN_LIMIT` patterns the assignment
        formulation ``x[j, w]`` is used instead.
        """
        from solvers.feasible_set import FeasibleSet

        patterns = self.packing_patterns()
        if patterns is None:
            return self._assignment_feasible_set()
        n, W = self.n, self.capacities.size
        levels = self.cost_levels
        K = sum(Q.shape[0] for _, _, Q in patterns)
        rows, cols, vals, lo, hi = [], [], [], [], []
        aux_upper = []
        r = 0
        for i in range(levels.size):          # arms of cost level i pulled <= slots of level i
            for j in np.flatnonzero(self._level == i):
                rows.append(r); cols.append(int(j)); vals.append(1.0)
            col = n
            for _, _, Q in patterns:
                for q in Q[:, i]:
                    if q:
                        rows.append(r); cols.append(col); vals.append(-float(q))
                    col += 1
            lo.append(-INF); hi.append(0.0); r += 1
        col = n
        for _, count, Q in patterns:          # at most `count` workers of this capacity
            for _ in range(Q.shape[0]):
                rows.append(r); cols.append(col); vals.append(1.0)
                aux_upper.append(float(count))
                col += 1
            lo.append(-INF); hi.append(float(count)); r += 1
        free = np.flatnonzero(self.costs <= 0)
        if free.size and W == 0:              # no worker: nothing can be pulled
            for j in free:
                rows.append(r); cols.append(int(j)); vals.append(1.0)
                lo.append(-INF); hi.append(0.0); r += 1
        A = sp.csr_matrix((vals, (rows, cols)), shape=(r, n + K))
        return FeasibleSet(n, A, lo, hi, n_aux=K, aux_lower=0.0, aux_upper=np.array(aux_upper),
                           aux_integer=np.ones(K, dtype=bool))

    def _assignment_feasible_set(self):
        """The assignment formulation: ``x[j, w]`` binary, one worker per pulled arm, capacities."""
        from solvers.feasible_set import FeasibleSet

        n, W = self.n, self.capacities.size
        K = n * W  # x[j, w] at column n + j * W + w
        rows, cols, vals, lo, hi = [], [], [], [], []
        r = 0
        for j in range(n):  # sum_w x[j,w] == a_j
            rows.append(r); cols.append(j); vals.append(-1.0)
            for w in range(W):
                rows.append(r); cols.append(n + j * W + w); vals.append(1.0)
            lo.append(0.0); hi.append(0.0); r += 1
        for w in range(W):  # sum_j cost_j x[j,w] <= capacity_w
            for j in range(n):
                rows.append(r); cols.append(n + j * W + w); vals.append(float(self.costs[j]))
            lo.append(-INF); hi.append(float(self.capacities[w])); r += 1
        A = sp.csr_matrix((vals, (rows, cols)), shape=(r, n + K))
        return FeasibleSet(n, A, lo, hi, n_aux=K, aux_lower=0.0, aux_upper=1.0, aux_integer=np.ones(K, dtype=bool))


# ---------------------------------------------------------------------------------------------
# multiple interventions
# ---------------------------------------------------------------------------------------------
def _intervention_weights(J: int, N: int, B: int, rng: np.random.Generator, weight: float = 3.0):
    """Sparse weights: triples of interventions act jointly on a few arms (see the module docstring)."""
    W = np.zeros((J, N))
    n_bad = min(J, int(math.ceil(J * B / N)))
    good_arms = np.arange(n_bad, J)
    bad_arms = np.arange(0, n_bad)
    good_actions = np.sort(rng.choice(N, size=B, replace=False))
    bad_actions = np.array([i for i in range(N) if i not in set(good_actions.tolist())])
    for arms, actions in ((good_arms, good_actions), (bad_arms, bad_actions)):
        n_full = len(actions) // 3
        groups = [actions[3 * g: 3 * g + 3] for g in range(n_full)] + [[i] for i in actions[3 * n_full:]]
        for group in groups:
            free = [j for j in arms if W[j].sum() == 0]
            if not free:
                free = list(arms)
            if not free:
                continue
            hit = rng.choice(free, size=min(3, len(free)), replace=False)
            for i in group:
                W[hit, i] = weight
    return W, good_arms, bad_arms, good_actions


def _intervention_arms(J: int, B: int, N: int, rng: np.random.Generator, base: MultiStateArms, params: dict,
                       where: str) -> InterventionArms:
    W, good_arms, bad_arms, good_actions = _intervention_weights(J, N, B, rng)
    amp = np.zeros(J)
    slope = np.ones(J)
    x0 = np.zeros(J)
    amp[good_arms] = np.round(rng.uniform(0.7, 1.0, size=good_arms.size), 1)
    slope[good_arms] = np.round(rng.uniform(1.4, 1.9, size=good_arms.size), 1)
    x0[good_arms] = rng.integers(9, 11, size=good_arms.size)
    amp[bad_arms] = np.round(rng.uniform(0.2, 0.5, size=bad_arms.size), 1)
    x0[bad_arms] = rng.integers(1, 3, size=bad_arms.size)
    if params.get("weights") is not None:
        W = as_float_array(params.pop("weights"), "weights", where, ndim=2)
        if W.shape[0] != J:
            raise InvalidInputError(f"{where}: weights must have {J} rows, got {W.shape}")
    for key, arr in (("amp", "amp"), ("slope", "slope"), ("x0", "x0")):
        if params.get(key) is not None:
            val = as_float_array(params.pop(key), key, where, shape=(J,))
            if key == "amp":
                amp = val
            elif key == "slope":
                slope = val
            else:
                x0 = val
    return InterventionArms(W, base.rewards, amp=amp, slope=slope, x0=x0)


# ---------------------------------------------------------------------------------------------
# make_domain
# ---------------------------------------------------------------------------------------------
_ARM_KEYS = ("n_states", "p_passive", "p_active", "rewards", "p_passive_range", "p_active_range", "good_top",
             "bad_top")
_DOMAIN_KEYS = {
    "budget": (),
    "path": ("graph", "source"),
    "matching": ("n_slots", "arm_slots", "worker_slots", "max_pulls", "arm_slots_per", "worker_slots_per"),
    "capacity": ("costs", "capacities", "n_workers"),
    "multiple_interventions": ("n_interventions", "weights", "amp", "slope", "x0"),
}


def _validate_make_domain(name: Any, n_arms: Any, budget: Any, params: dict, where: str):
    check_choice(name, "domain", where, DOMAINS)
    J = check_int(n_arms, "n_arms", where, lower=1)
    B = check_int(budget, "budget", where, lower=0)
    if B > J:
        raise InvalidInputError(f"{where}: budget must be <= n_arms = {J}, got {B}")
    allowed = set(_ARM_KEYS) | set(_DOMAIN_KEYS[name])
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise InvalidInputError(f"{where}: unknown parameter(s) {unknown} for domain {name!r}; "
                                f"allowed: {sorted(allowed)}")
    return J, B


def make_domain(name: str, *, n_arms: int, budget: int, seed: Any = 0, **params: Any) -> CoRMAB:
    """Generate one of the SEQUOIA paper's coRMAB domains.

    Parameters
    ----------
    name : {"budget", "path", "matching", "capacity", "multiple_interventions"}
    n_arms : int
        ``J``.
    budget : int
        ``B`` (the pull budget / walk half-length / number of workers / interventions chosen).
    seed : int, Generator or None
        Drives every random parameter.
    **params
        Arm overrides (``n_states``, ``p_passive``, ``p_active``, ``rewards``, ``p_passive_range``,
        ``p_active_range``, ``good_top``, ``bad_top``) and domain parameters: path ``graph``
        (networkx; default the tube subgraph for J in {20, 40, 60, 80, 100}, else a random
        connected graph) and ``source``; matching ``n_slots`` (5), ``arm_slots``,
        ``worker_slots``, ``max_pulls`` (B); capacity ``costs``, ``capacities``, ``n_workers`` (B);
        multiple_interventions ``n_interventions`` (2B), ``weights``, ``amp``, ``slope``, ``x0``.

    Returns
    -------
    CoRMAB
        With ``.arms``, ``.feasible_set``, ``.name``, ``.budget``, ``.spec`` and domain attributes
        (path: ``.graph``, ``.source``; matching: ``.arm_slots``, ``.worker_slots``; capacity:
        ``.costs``, ``.capacities``; interventions: ``.n_interventions``).

    Examples
    --------
    >>> import bandits
    >>> import numpy as np
    >>> p = bandits.make_domain("path", n_arms=20, budget=3, seed=0)
    >>> p.source, p.graph.number_of_nodes(), p.n_actions
    (0, 20, 20)
    >>> a = p.sample_action(np.random.default_rng(0))
    >>> p.contains(a), p.feasible_set.contains(a)
    (True, True)
    """
    where = "make_domain()"
    params = dict(params)
    J, B = _validate_make_domain(name, n_arms, budget, params, where)
    seed_obj = resolve_seed(seed, where=where)
    rng = seed_obj.generator(f"domain:{name}")
    spec = {"name": name, "n_arms": J, "budget": B, "seed": seed_obj.root}
    serialisable = all(k not in params for k in ("graph",))
    if serialisable:
        spec.update({k: (np.asarray(v).tolist() if isinstance(v, np.ndarray) else v) for k, v in params.items()})
    arm_kw = {k: params.pop(k) for k in _ARM_KEYS if k in params}
    base = default_arms(J, B, rng, where=where, **arm_kw)

    if name == "budget":
        from solvers.feasible_set import FeasibleSet

        fs = FeasibleSet.budget(J, B)

        def check(a):
            return int(np.sum(a)) <= B

        def enum(limit):
            total = sum(math.comb(J, k) for k in range(B + 1))
            if total > limit:
                return None
            rows = []
            for k in range(B + 1):
                for c in itertools.combinations(range(J), k):
                    a = np.zeros(J, dtype=np.int64)
                    a[list(c)] = 1
                    rows.append(a)
            return np.array(rows)

        def sample(rng_):
            a = np.zeros(J, dtype=np.int64)
            k = int(rng_.integers(0, B + 1))
            a[rng_.choice(J, size=k, replace=False)] = 1
            return a

        return CoRMAB(base, fs, checker=check, sampler=sample, enumerator=enum, name=name, budget=B, spec=spec)

    if name == "path":
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
        pc = PathConstraint(graph, source, B, where=where)
        fs = pc.feasible_set()
        problem = CoRMAB(base, fs, checker=pc.check, sampler=pc.sample,
                         enumerator=lambda limit: enumerate_down_closed(J, pc.check, limit), name=name, budget=B,
                         spec=spec)
        problem.graph = graph
        problem.source = source
        problem.constraint = pc
        return problem

    if name == "matching":
        n_slots = check_int(params.pop("n_slots", 5), "n_slots", where, lower=1)
        per_arm = check_int(params.pop("arm_slots_per", 2), "arm_slots_per", where, lower=1, upper=n_slots)
        per_worker = check_int(params.pop("worker_slots_per", 3), "worker_slots_per", where, lower=1, upper=n_slots)
        max_pulls = check_int(params.pop("max_pulls", B), "max_pulls", where, lower=0)
        arm_slots = params.pop("arm_slots", None)
        worker_slots = params.pop("worker_slots", None)
        # scarce overlap as in the paper: arms favour late slots, workers early ones
        p_arm = np.sort(rng.random(n_slots))
        p_worker = np.sort(rng.random(n_slots))[::-1]
        if arm_slots is None:
            arm_slots = np.zeros((J, n_slots), dtype=np.int64)
            for j in range(J):
                arm_slots[j, rng.choice(n_slots, size=per_arm, replace=False, p=p_arm / p_arm.sum())] = 1
        else:
            arm_slots = as_int_array(arm_slots, "arm_slots", where, ndim=2, lower=0, upper=1)
        if worker_slots is None:
            worker_slots = np.zeros((B, n_slots), dtype=np.int64)
            for w in range(B):
                worker_slots[w, rng.choice(n_slots, size=per_worker, replace=False, p=p_worker / p_worker.sum())] = 1
        else:
            worker_slots = as_int_array(worker_slots, "worker_slots", where, ndim=2, lower=0, upper=1)
        if arm_slots.shape != (J, n_slots) or worker_slots.shape[1] != n_slots:
            raise InvalidInputError(f"{where}: arm_slots must be ({J}, {n_slots}) and worker_slots (W, {n_slots}), "
                                    f"got {arm_slots.shape} and {worker_slots.shape}")
        mc = MatchingConstraint(arm_slots, worker_slots, max_pulls)
        fs = mc.feasible_set()
        problem = CoRMAB(base, fs, checker=mc.check, sampler=lambda r: _random_maximal(J, r, mc.check),
                         enumerator=lambda limit: enumerate_down_closed(J, mc.check, limit), name=name, budget=B,
                         spec=spec)
        problem.arm_slots = arm_slots
        problem.worker_slots = worker_slots
        problem.constraint = mc
        return problem

    if name == "capacity":
        W = check_int(params.pop("n_workers", B), "n_workers", where, lower=0)
        costs = params.pop("costs", None)
        caps = params.pop("capacities", None)
        costs = rng.integers(2, 7, size=J).astype(float) if costs is None else \
            as_float_array(costs, "costs", where, shape=(J,), lower=0.0)
        caps = rng.integers(2, 8, size=W).astype(float) if caps is None else \
            as_float_array(caps, "capacities", where, ndim=1, lower=0.0)
        if not np.any(costs > 0):
            raise InvalidInputError(f"{where}: the capacity domain needs at least one arm with a positive cost, "
                                    f"got costs {costs.tolist()[:20]} (all 0: nothing to pack; use the budget domain)")
        cc = CapacityConstraint(costs, caps)
        fs = cc.feasible_set()
        cc.fs = fs
        problem = CoRMAB(base, fs, checker=cc.check, sampler=lambda r: _random_maximal(J, r, cc.check),
                         enumerator=lambda limit: enumerate_down_closed(J, cc.check, limit), name=name, budget=B,
                         spec=spec)
        problem.costs = costs
        problem.capacities = caps
        problem.constraint = cc
        return problem

    # multiple interventions
    from solvers.feasible_set import FeasibleSet

    N = check_int(params.pop("n_interventions", max(2 * B, B + 1)), "n_interventions", where, lower=1)
    if B > N:
        raise InvalidInputError(f"{where}: budget must be <= n_interventions = {N}, got {B}")
    arms = _intervention_arms(J, B, N, rng, base, params, where)
    if arms.n_actions != N:
        raise InvalidInputError(f"{where}: weights must have n_interventions = {N} columns, got {arms.n_actions}")
    fs = FeasibleSet(N, np.ones((1, N)), [B], [B])

    def check_exact(a):
        return int(np.sum(a)) == B

    def enum_exact(limit):
        if math.comb(N, B) > limit:
            return None
        rows = []
        for c in itertools.combinations(range(N), B):
            a = np.zeros(N, dtype=np.int64)
            a[list(c)] = 1
            rows.append(a)
        return np.array(rows, dtype=np.int64).reshape(-1, N)

    def sample_exact(rng_):
        a = np.zeros(N, dtype=np.int64)
        a[rng_.choice(N, size=B, replace=False)] = 1
        return a

    problem = CoRMAB(arms, fs, checker=check_exact, sampler=sample_exact, enumerator=enum_exact,
                     partial_checker=lambda a: int(np.sum(a)) <= B, name=name, budget=B, spec=spec)
    problem.n_interventions = N
    return problem


def domain_from_spec(spec: dict) -> CoRMAB:
    """Rebuild a problem from its ``spec`` (as saved in SEQUOIA checkpoints)."""
    spec = dict(spec)
    name = spec.pop("name")
    return make_domain(name, **spec)
