"""The walk planner behind :func:`planning.submodular.path_greedy` and
:func:`~planning.submodular.multi_path_greedy`.

:class:`Metric` gives shortest-path distances on the graph (Dijkstra rows, cached) and the walks
between nodes; :class:`PathPlanner` is the generalised cost-benefit greedy for one walk: each step
ranks the candidates by gain over cheapest-insertion cost, re-solves the tour of the best few with
OR-Tools routing (small TSPs, cached by node set) and keeps the best ratio whose walk fits the
budget. The planner records its picks in a :class:`planning.greedy_loops.GreedyRun`.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from engine.errors import InvalidInputError
from engine.events import Incumbent, emit
from engine.status import Status
from planning.greedy_loops import GreedyRun
from planning.setfunction import GainState

__all__ = ["Metric", "PathPlanner"]


class Metric:
    """Shortest-path distances from/to nodes on demand (Dijkstra rows, cached), and walks."""

    def __init__(self, A: sp.csr_matrix) -> None:
        self.A = A
        self.AT = A.T.tocsr()
        self.directed = (A != A.T).nnz > 0
        self._from: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._to: dict[int, np.ndarray] = {}

    def dist_from(self, a: int) -> np.ndarray:
        if a not in self._from:
            d, pred = dijkstra(self.A, directed=True, indices=a, return_predecessors=True)
            self._from[a] = (d, pred)
        return self._from[a][0]

    def dist_to(self, b: int) -> np.ndarray:
        if not self.directed:
            return self.dist_from(b)
        if b not in self._to:
            self._to[b] = dijkstra(self.AT, directed=True, indices=b)
        return self._to[b]

    def path(self, a: int, b: int) -> list[int]:
        self.dist_from(a)
        pred = self._from[a][1]
        out = [b]
        while out[-1] != a:
            p = int(pred[out[-1]])
            if p < 0:
                raise InvalidInputError(f"path_greedy(): node {b} is unreachable from {a}")
            out.append(p)
        return out[::-1]

    def edge(self, u: int, v: int) -> float:
        row = self.A.getrow(u)
        hit = row.indices == v
        return float(row.data[hit].min())


def _tour_cost(M: np.ndarray, order: Sequence[int], closed: bool) -> float:
    idx = list(order) + ([order[0]] if closed else [])
    return float(sum(M[idx[i], idx[i + 1]] for i in range(len(idx) - 1)))


def _ortools_order(M: np.ndarray, closed: bool, time_limit: Optional[float]) -> list[int]:
    """Visiting order (starting at 0) of a small TSP (closed) or Hamiltonian path from 0 (open)."""
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2  # heavy: only when a tour is solved

    m = M.shape[0]
    finite = M[np.isfinite(M)]
    scale = 1e6 / max(float(finite.max()) if finite.size else 1.0, 1e-12)
    big = 10 ** 12
    Mi = np.where(np.isfinite(M), np.rint(M * scale), big).astype(np.int64)
    if not closed:  # dummy end node reachable from everywhere at cost 0
        Mi = np.pad(Mi, ((0, 1), (0, 1)))
        Mi[m, :] = big
        Mi[m, m] = 0
    nn = Mi.shape[0]
    manager = pywrapcp.RoutingIndexManager(nn, 1, [0], [0 if closed else m])
    routing = pywrapcp.RoutingModel(manager)
    transit = routing.RegisterTransitMatrix(Mi.tolist())
    routing.SetArcCostEvaluatorOfAllVehicles(transit)
    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC
    if time_limit is not None:
        params.local_search_metaheuristic = routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
        params.time_limit.FromMilliseconds(max(1, int(1000 * time_limit)))
    sol = routing.SolveWithParameters(params)
    if sol is None:
        return list(range(m))
    order = []
    idx = routing.Start(0)
    while not routing.IsEnd(idx):
        order.append(manager.IndexToNode(idx))
        idx = sol.Value(routing.NextVar(idx))
    return [v for v in order if v < m]


class PathPlanner:
    """Generalised cost-benefit greedy for one walk (see :func:`path_greedy`)."""

    def __init__(self, f, metric: Metric, closed: bool, count_passing: bool, n_refine: int,
                 tsp_time_limit: Optional[float], run: GreedyRun, base_visited: Sequence[int]) -> None:
        self.f, self.metric, self.closed = f, metric, closed
        self.count_passing, self.n_refine, self.tsp_time_limit = count_passing, n_refine, tsp_time_limit
        self.run = run
        self.base_visited = list(base_visited)
        self.cache: dict[frozenset, tuple[float, list[int]]] = {}
        self.n_tsp = 0

    def matrix(self, nodes: Sequence[int]) -> np.ndarray:
        return np.stack([self.metric.dist_from(a)[list(nodes)] for a in nodes])

    def best_tour(self, nodes: list[int], guess: list[int]) -> tuple[float, list[int]]:
        """Shortest known tour over ``nodes`` (``nodes[0]`` is the start); ``guess`` is one order."""
        key = frozenset(nodes)
        M = self.matrix(nodes)
        pos = {v: i for i, v in enumerate(nodes)}
        g_cost = _tour_cost(M, [pos[v] for v in guess], self.closed)
        if key in self.cache and self.cache[key][0] <= g_cost:
            return self.cache[key]
        best = (g_cost, list(guess))
        if len(nodes) > (3 if self.closed else 2):
            order = _ortools_order(M, self.closed, self.tsp_time_limit)
            self.n_tsp += 1
            if len(order) == len(nodes) and order[0] == 0:
                c = _tour_cost(M, order, self.closed)
                if c < best[0]:
                    best = (c, [nodes[i] for i in order])
        self.cache[key] = best
        return best

    def expand(self, tour: list[int]) -> tuple[list[int], float]:
        seq = tour + ([tour[0]] if self.closed else [])
        walk = [seq[0]]
        length = 0.0
        for a, b in zip(seq[:-1], seq[1:]):
            p = self.metric.path(a, b)
            for u, v in zip(p[:-1], p[1:]):
                length += self.metric.edge(u, v)
            walk.extend(p[1:])
        return walk, length

    def state_for(self, walk: list[int], picks: list[int]) -> GainState:
        state = self.f.new_state()
        seen: set[int] = set()
        nodes = self.base_visited + (walk if self.count_passing else picks)
        for v in nodes:
            if v not in seen:
                seen.add(v)
                state.add(v)
        if not math.isfinite(state.value):
            raise InvalidInputError(f"{self.run.source}(): the objective {type(self.f).__name__} has the non-finite "
                                    f"value {state.value} on the walk's nodes; objectives must return finite values")
        return state

    def plan(self, start: int, budget: float) -> dict:
        run, metric = self.run, self.metric
        tour = [start]
        cost = 0.0
        walk = [start] + ([start] if self.closed else [])
        picks = [start]
        base_value = self.state_for([], []).value
        state = self.state_for(walk, picks)
        run.state = state
        run.selected.append(start)
        run.gains.append(float(state.value - base_value))
        if emit(run.callback, Incumbent(run.source, objective=float(state.value), x=np.asarray([start]))):
            run.status, run.message = Status.STOPPED, "stopped by the callback"
        d_start = metric.dist_from(start)
        d_back = metric.dist_to(start)
        reach = (d_start + (d_back if self.closed else 0.0)) <= budget
        dead = ~reach
        dead[start] = True
        while run.status is None and not run.interrupted():
            visited = np.zeros(self.f.n, dtype=bool)
            visited[walk] = True
            visited[self.base_visited] = True
            cands = np.flatnonzero(~dead & ~visited)
            if cands.size == 0:
                break
            g = state.gains(cands)
            run.n_evals += cands.size
            keep = g > 0
            dead[cands[~keep]] = True
            cands, g = cands[keep], g[keep]
            if cands.size == 0:
                break
            # cheapest insertion of each candidate into the current tour (an actual tour: an upper bound)
            seq = tour + ([tour[0]] if self.closed else [])
            ins = np.full(cands.size, np.inf)
            for a, b in zip(seq[:-1], seq[1:]):
                da = metric.dist_from(a)[cands]
                db = metric.dist_to(b)[cands]
                ins = np.minimum(ins, da + db - metric.dist_from(a)[b])
            if not self.closed:
                ins = np.minimum(ins, metric.dist_from(tour[-1])[cands])
            ins = np.maximum(ins, 0.0)
            scale = max(budget, 1e-12)
            ratio = g / np.maximum(ins, 1e-12 * scale)
            order = np.lexsort((cands, -g, -ratio))
            accepted = None
            tried = 0
            for pos in order:
                if tried >= self.n_refine and accepted is not None:
                    break
                v = int(cands[pos])
                if not np.isfinite(ins[pos]):
                    dead[v] = True
                    continue
                tried += 1
                # insertion tour as the guess
                best_i, best_d = 0, np.inf
                for i, (a, b) in enumerate(zip(seq[:-1], seq[1:])):
                    d = metric.dist_from(a)[v] + metric.dist_to(b)[v] - metric.dist_from(a)[b]
                    if d < best_d:
                        best_i, best_d = i, d
                guess = tour[:best_i + 1] + [v] + tour[best_i + 1:]
                if not self.closed and metric.dist_from(tour[-1])[v] < best_d:
                    guess = tour + [v]
                c_new, t_new = self.best_tour(tour + [v], guess)
                if c_new > budget:
                    dead[v] = True  # tours only grow with the node set
                    continue
                w_new, length = self.expand(t_new)
                if length > budget:
                    dead[v] = True
                    continue
                marg = max(c_new - cost, 0.0)
                r = g[pos] / max(marg, 1e-12 * scale)
                if accepted is None or r > accepted[0] or (r == accepted[0] and g[pos] > accepted[1]):
                    accepted = (r, g[pos], v, c_new, t_new, w_new, length)
            if accepted is None:
                break
            _, _, v, cost, tour, walk, length = accepted
            picks.append(v)
            before = state.value
            state = self.state_for(walk, picks)
            run.state = state
            run.selected.append(v)
            run.gains.append(float(state.value - before))
            if emit(run.callback, Incumbent(run.source, objective=float(state.value), x=np.asarray(run.selected))):
                run.status, run.message = Status.STOPPED, "stopped by the callback; the walk so far is returned"
        walk_out, length = self.expand(tour)
        return {"tour": tour, "walk": walk_out, "walk_length": length, "state": state}
