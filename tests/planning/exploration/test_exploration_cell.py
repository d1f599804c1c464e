"""Information gain, grid distance fields and the cell-level local planner (CellGreedy, FARE on cells)."""

import heapq
import math

import numpy as np
import pytest

from engine.errors import InvalidInputError
from planning.exploration import FARE, LearnedPolicy, explore, make_map, maps
from planning.exploration.explore import CellGreedyPlanner, ExplorationState
from planning.exploration.local import CellGreedy
from planning.exploration.sensing import (frontier_mask, grid_distances, grid_path_to_frontier, sense,
                                          utilities_and_gains, visible)


def _partly_sensed(kind, seed, R=8.0, n=3, size=50):
    m = maps.generate(kind, size, seed=seed)
    truth = np.ascontiguousarray(m.grid)
    belief = np.full(truth.shape, -1, dtype=np.int8)
    sense(truth, belief, *m.start, R)
    rng = np.random.default_rng(seed)
    for _ in range(n):
        free = np.argwhere(belief == 0)
        p = free[rng.integers(len(free))]
        sense(truth, belief, int(p[0]), int(p[1]), R)
    return truth, belief


def _brute_gain(belief, r, c, R, depth):
    h, w = belief.shape
    total = 0
    for i, j in np.argwhere(belief == -1):
        if (i - r) ** 2 + (j - c) ** 2 <= R * R and visible(belief, r, c, int(i), int(j), R):
            win = belief[max(0, i - depth):i + depth + 1, max(0, j - depth):j + depth + 1]
            total += int((win == -1).sum())
    return total


@pytest.mark.parametrize("kind", maps.MAP_KINDS)
def test_gain_equals_brute_force_and_is_sure_to_be_revealed(kind):
    truth, belief = _partly_sensed(kind, 3)
    R = 8.0
    frontier = frontier_mask(belief)
    pts = np.argwhere(belief == 0)[::7][:30]
    rows, cols = pts[:, 0].astype(np.int64), pts[:, 1].astype(np.int64)
    for depth in (0, 1, 2):
        util = np.zeros(len(pts), dtype=np.int64)
        gain = np.zeros(len(pts), dtype=np.int64)
        utilities_and_gains(belief, frontier, rows, cols, R, util, gain, np.arange(len(pts), dtype=np.int64), depth)
        assert gain.tolist() == [_brute_gain(belief, int(r), int(c), R, depth) for r, c in zip(rows, cols)]
    assert gain.max() > 0
    # depth 0 counts the unknown cells a scan from there is sure to reveal: sensing reveals each of them
    zero = np.zeros(len(pts), dtype=np.int64)
    utilities_and_gains(belief, frontier, rows, cols, R, util, zero, np.arange(len(pts), dtype=np.int64), 0)
    for (r, c), g in zip(pts, zero):
        after = belief.copy()
        sense(truth, after, int(r), int(c), R)
        sure = [(int(i), int(j)) for i, j in np.argwhere(belief == -1)
                if (i - r) ** 2 + (j - c) ** 2 <= R * R and visible(belief, int(r), int(c), int(i), int(j), R)]
        assert len(sure) == g
        assert all(after[q] != -1 for q in sure)
        # and once sensed from there, nothing more is sure to be revealed
        again = np.zeros(1, dtype=np.int64)
        utilities_and_gains(after, frontier_mask(after), np.array([r]), np.array([c]), R, np.zeros(1, np.int64), again,
                            np.zeros(1, dtype=np.int64), 0)
        assert again[0] == 0


def test_incremental_gains_match_a_fresh_computation():
    m = maps.indoor(60, seed=2)
    res_state = {}

    def hook(state, info):
        res_state["s"] = state

    explore(m, "utility_greedy", seed=0, max_steps=25, on_step=hook)
    st = res_state["s"]
    g = st.graph
    util = np.zeros(g.n, dtype=np.int64)
    gain = np.zeros(g.n, dtype=np.int64)
    utilities_and_gains(st.belief, frontier_mask(st.belief), g.rows, g.cols, g.sensor_range, util, gain,
                        np.arange(g.n, dtype=np.int64), g.gain_depth)
    unvisited = g.visits[: g.n] == 0
    assert np.array_equal(g.gain[: g.n][unvisited], gain[unvisited])
    assert (g.gain[: g.n][~unvisited] == 0).all() and gain.max() > 0


def _brute_grid_dist(belief, start):
    h, w = belief.shape
    dist = np.full((h, w), np.inf)
    dist[start] = 0.0
    heap = [(0.0, start)]
    while heap:
        d, (r, c) = heapq.heappop(heap)
        if d > dist[r, c]:
            continue
        for dr in (-1, 0, 1):
            for dc in (-1, 0, 1):
                y, x = r + dr, c + dc
                if (dr or dc) and 0 <= y < h and 0 <= x < w and belief[y, x] == 0:
                    nd = d + (math.sqrt(2) if dr and dc else 1.0)
                    if nd < dist[y, x] - 1e-12:
                        dist[y, x] = nd
                        heapq.heappush(heap, (nd, (y, x)))
    return dist


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_grid_distances_and_frontier_path_against_brute_force(seed):
    _, belief = _partly_sensed("forest", seed, size=50)
    h, w = belief.shape
    start = tuple(int(v) for v in np.argwhere(belief == 0)[0])
    dist, prev = grid_distances(belief, *start, 10 * h * w)
    brute = _brute_grid_dist(belief, start)
    assert np.allclose(dist.reshape(h, w), brute)
    frontier = frontier_mask(belief)
    path = grid_path_to_frontier(belief, frontier, *start, 10 * h * w)
    assert frontier[tuple(path[-1])] and tuple(path[0]) == start
    steps = np.diff(path, axis=0)
    assert np.all(np.abs(steps).max(axis=1) == 1) and np.all(belief[path[:, 0], path[:, 1]] == 0)
    assert np.hypot(steps[:, 0], steps[:, 1]).sum() == pytest.approx(brute[frontier].min())


def test_cell_greedy_targets_by_brute_force_rule_and_moves_on_free_cells():
    m = maps.warehouse(60, seed=1)
    picks = []

    class Spy(CellGreedy):
        def _retarget(self, state, waypoint):
            g = state.graph
            super()._retarget(state, waypoint)
            if self.target is None:
                return
            dist = _brute_grid_dist(state.belief, state.position)
            nodes = np.nonzero(g.gain[: g.n] > 0)[0]
            d = dist[g.rows[nodes], g.cols[nodes]]
            ok = np.isfinite(d) & (d > 0)
            score = g.gain[nodes][ok] / (d[ok] + state.spacing)
            picks.append(score.max() == pytest.approx(g.gain[self.target] / (
                dist[g.rows[self.target], g.cols[self.target]] + state.spacing)))
            # the path ends on the target and is the shortest 8-connected one over known free cells
            assert tuple(self.path[-1]) == (g.rows[self.target], g.cols[self.target])
            assert np.all(state.belief[self.path[:, 0], self.path[:, 1]] == 0)

    res = explore(m, CellGreedyPlanner(Spy(), name="spy"), seed=0)
    assert res.finish_reason == "explored" and res.explored[-1] == 1.0
    assert len(picks) > 10 and all(picks)
    steps = np.diff(res.trajectory, axis=0)
    assert np.all(np.abs(steps).max(axis=1) <= res.params["spacing"])
    assert np.all(m.grid[res.trajectory[:, 0], res.trajectory[:, 1]] == 0)


@pytest.mark.parametrize("kind", maps.MAP_KINDS)
def test_cell_level_planners_terminate_fully_explored_within_bounds(kind):
    m = maps.generate(kind, 60, seed=4)
    for plan in (CellGreedyPlanner(), FARE(), FARE(local=CellGreedy(beta=0.5, horizon=None, replan_moves=3))):
        res = explore(m, plan, seed=2)
        assert res.finish_reason == "explored" and res.explored[-1] == 1.0
        assert (res.belief == 0).sum() == res.n_reachable
        # every step is at most `spacing` cell moves of length <= sqrt 2
        assert np.all(np.diff(res.distance) <= res.params["spacing"] * math.sqrt(2) + 1e-9)
        assert res.nit <= 10 * m.n_free + 100
    assert FARE().moves_on_grid and res.topology["replans"] >= 1


def test_cell_greedy_on_tiny_corridor_is_optimal_and_bad_options():
    g = np.ones((3, 11), dtype=np.int8)
    g[1, 1:10] = 0
    res = explore(make_map(g, start=(1, 1)), "gain_greedy", seed=0, sensor_range=1.5, spacing=1, link_radius=1.5, k=8)
    assert res.distance_to(1.0) == pytest.approx(7.0)
    with pytest.raises(InvalidInputError, match="beta must be >= 0"):
        CellGreedy(beta=-1)
    with pytest.raises(InvalidInputError, match="replan_moves must be >= 1"):
        CellGreedy(replan_moves=0)
    with pytest.raises(InvalidInputError, match="local must have choose"):
        FARE(local=object())


def test_fare_keeps_the_graph_local_planners():
    m = maps.forest(50, seed=6)
    res = explore(m, FARE(local=LearnedPolicy(seed=0)), seed=0)
    assert res.finish_reason == "explored" and not FARE(local=LearnedPolicy(seed=0)).moves_on_grid
    assert res.params["local"] == "learned"
