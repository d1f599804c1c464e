"""Information gain, grid distance fields and the cell-level local planner (CellGreedy, FARE on cells)."""

import heapq
import math

import numpy as np
import pytest

from engine.errors import InvalidInputError
from planning.exploration import FARE, ExplorationEnv, LearnedPolicy, explore, make_map, maps
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
    env = ExplorationEnv(m, "utility_greedy", seed=0)
    st = env.reset()
    for _ in range(25):
        env.step()
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
    for plan in (CellGreedyPlanner(), FARE(), FARE(min_region=0),
                 FARE(local=CellGreedy(beta=0.5, horizon=None, replan_moves=3))):
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
    with pytest.raises(InvalidInputError, match="worthwhile must be >= 0"):
        CellGreedy(worthwhile=-1)
    with pytest.raises(InvalidInputError, match="min_region must be >= 0"):
        FARE(min_region=-1)


def test_fare_keeps_the_graph_local_planners():
    m = maps.forest(50, seed=6)
    res = explore(m, FARE(local=LearnedPolicy(seed=0)), seed=0)
    assert res.finish_reason == "explored" and not FARE(local=LearnedPolicy(seed=0)).moves_on_grid
    assert res.params["local"] == "learned"


def _brute_open_cells(belief, frontier, min_region):
    """Frontier cells with an 8-neighbour in an 8-connected unknown region of >= min_region cells (BFS)."""
    h, w = belief.shape
    comp = np.full((h, w), -1)
    sizes = []
    for i, j in np.argwhere(belief == -1):
        if comp[i, j] >= 0:
            continue
        stack, comp[i, j], n = [(i, j)], len(sizes), 0
        while stack:
            a, b = stack.pop()
            n += 1
            for x in range(a - 1, a + 2):
                for y in range(b - 1, b + 2):
                    if 0 <= x < h and 0 <= y < w and belief[x, y] == -1 and comp[x, y] < 0:
                        comp[x, y] = len(sizes)
                        stack.append((x, y))
        sizes.append(n)
    out = np.zeros((h, w), dtype=bool)
    for i, j in np.argwhere(frontier):
        win = comp[max(0, i - 1):i + 2, max(0, j - 1):j + 2]
        out[i, j] = any(sizes[k] >= min_region for k in win[win >= 0])
    return out


@pytest.mark.parametrize("kind", maps.MAP_KINDS)
def test_open_frontier_matches_brute_force(kind):
    m = maps.generate(kind, 50, seed=3)
    state = ExplorationState(m, sensor_range=6.0, spacing=2, k=16)
    rng = np.random.default_rng(0)
    for _ in range(6):
        free = np.argwhere(state.belief == 0)
        state.sense_cells(free[rng.integers(len(free))][None, :])
    g = state.graph
    for min_region in (0, 5, 30, 200):
        plan = FARE(min_region=min_region)
        plan.reset(state, 0)
        cells, near = plan.open_frontier(state)
        brute = _brute_open_cells(state.belief, state.frontier, min_region)
        assert np.array_equal(cells, brute)
        # a viewpoint is open when an open frontier cell lies within sensor range
        oc = np.argwhere(brute)
        for v in range(g.n):
            d = np.hypot(oc[:, 0] - g.rows[v], oc[:, 1] - g.cols[v]).min() if len(oc) else np.inf
            assert near[v] == (d <= state.sensor_range)
    assert np.array_equal(_brute_open_cells(state.belief, state.frontier, 0), state.frontier)


def test_open_frontier_hand_computed_pocket_and_open_region():
    # all free; known except a 2x2 pocket (4 cells) and the bottom 6 rows (120 cells)
    state = ExplorationState(make_map(np.zeros((20, 20), dtype=np.int8), start=(2, 2)), sensor_range=3.0,
                             spacing=2, k=8)
    state.belief[:] = 0
    state.belief[5:7, 5:7] = -1
    state.belief[14:, :] = -1
    state.frontier[:] = frontier_mask(state.belief)
    plan = FARE(min_region=10)
    plan.reset(state, 0)
    cells, _ = plan.open_frontier(state)
    assert np.array_equal(np.argwhere(cells)[:, 0], np.full(20, 13))  # row 13 borders the open region
    assert not cells[4:8, 4:8].any() and state.frontier[4:8, 4:8].sum() == 12  # the pocket's ring is not open
    plan = FARE(min_region=0)
    plan.reset(state, 0)
    assert np.array_equal(plan.open_frontier(state)[0], state.frontier)


def test_fare_local_follows_the_guide_when_nothing_is_worthwhile():
    m = maps.indoor(60, seed=2)
    seen = {"greedy": 0, "route": 0, "walk": 0}

    class Spy(CellGreedy):
        def _retarget(self, state, waypoint):
            got = []

            def ask():
                got.append(waypoint())
                return got[-1]

            super()._retarget(state, ask)
            if not got:
                return
            guide, g = got[0], state.graph
            dist = _brute_grid_dist(state.belief, state.position)
            nodes = np.nonzero(g.gain[: g.n] > 0)[0]
            d = dist[g.rows[nodes], g.cols[nodes]]
            ok = np.isfinite(d) & (d > 0)
            nodes, score = nodes[ok], g.gain[nodes][ok] / (d[ok] + state.spacing)
            pool = guide.open[nodes] if guide.open is not None else np.ones(len(nodes), dtype=bool)
            mine = np.isin(nodes, guide.targets)
            if pool.any() and score[pool].max() >= self.worthwhile:
                seen["greedy"] += 1
                assert g.gain[self.target] / (dist[g.rows[self.target], g.cols[self.target]] + state.spacing) \
                    == pytest.approx(score[pool].max())
            elif mine.any():
                seen["route"] += 1
                assert self.target in guide.targets
                assert g.gain[self.target] / (dist[g.rows[self.target], g.cols[self.target]] + state.spacing) \
                    == pytest.approx(score[mine].max())
            elif self.target is None:
                seen["walk"] += 1
                assert guide.cells[tuple(self.path[-1])]

    res = explore(m, FARE(local=Spy(worthwhile=1.0)), seed=0)
    assert res.finish_reason == "explored" and res.explored[-1] == 1.0
    assert seen["greedy"] > 5 and seen["route"] > 0  # both layers decide at some point
