"""Sensing: Bresenham lines, ray casting and utilities against brute force."""

import math

import numpy as np
import pytest

from planning.exploration import maps
from planning.exploration.sensing import frontier_mask, line_cells, sense, update_frontier, utilities, visible
from planning.exploration.viewpoints import ViewpointGraph


def _bresenham(r0, c0, r1, c1):
    """Textbook all-octant Bresenham, written independently of the Numba kernel."""
    cells = []
    dr, dc = abs(r1 - r0), abs(c1 - c0)
    sr, sc = (1 if r1 > r0 else -1), (1 if c1 > c0 else -1)
    err = dc - dr
    r, c = r0, c0
    while True:
        cells.append((r, c))
        if (r, c) == (r1, c1):
            return cells
        e2 = 2 * err
        if e2 > -dr:
            err -= dr
            c += sc
        if e2 < dc:
            err += dc
            r += sr


def test_line_cells_hand_computed():
    assert line_cells(0, 0, 2, 4).tolist() == [[0, 0], [0, 1], [1, 2], [1, 3], [2, 4]]
    assert line_cells(3, 3, 3, 3).tolist() == [[3, 3]]
    assert line_cells(4, 0, 0, 0).tolist() == [[4, 0], [3, 0], [2, 0], [1, 0], [0, 0]]
    rng = np.random.default_rng(0)
    for _ in range(200):
        a = rng.integers(0, 30, 4)
        assert line_cells(*map(int, a)).tolist() == [list(p) for p in _bresenham(*map(int, a))]


def _brute_sense(truth, r, c, R):
    known = np.full(truth.shape, -1, dtype=np.int8)
    h, w = truth.shape
    for i in range(h):
        for j in range(w):
            if (i - r) ** 2 + (j - c) ** 2 > R * R:
                continue
            for (y, x) in _bresenham(r, c, i, j):
                if truth[y, x] != 0:
                    known[y, x] = 1
                    break
                known[y, x] = 0
    known[r, c] = 0
    return known


def test_sense_matches_brute_force_ray_casting():
    m = maps.forest(50, seed=5)
    truth = np.ascontiguousarray(m.grid)
    for (r, c), R in [(m.start, 7.0), (m.start, 3.5)]:
        belief = np.full(truth.shape, -1, dtype=np.int8)
        new_free, new_known = sense(truth, belief, r, c, R)
        expect = _brute_sense(truth, r, c, R)
        assert np.array_equal(belief, expect)
        assert new_free == int((expect == 0).sum()) and new_known == int((expect != -1).sum())
        # sensing again from the same cell reveals nothing
        assert sense(truth, belief, r, c, R) == (0, 0)


def test_frontier_definition():
    belief = np.array([[0, 0, -1], [0, 1, -1], [0, 0, 0]], dtype=np.int8)
    f = frontier_mask(belief)
    assert f.tolist() == [[False, True, False], [False, False, False], [False, True, True]]


def _brute_utility(belief, frontier, r, c, R):
    count = 0
    for i, j in zip(*np.nonzero(frontier)):
        if (i - r) ** 2 + (j - c) ** 2 > R * R:
            continue
        line = _bresenham(r, c, int(i), int(j))
        if all(belief[y, x] == 0 for (y, x) in line[1:-1]):
            count += 1
    return count


@pytest.mark.parametrize("kind", ["indoor", "forest", "warehouse"])
def test_utility_equals_brute_force_line_of_sight_count(kind):
    m = maps.generate(kind, 50, seed=2)
    truth = np.ascontiguousarray(m.grid)
    belief = np.full(truth.shape, -1, dtype=np.int8)
    R = 8.0
    r, c = m.start
    sense(truth, belief, r, c, R)
    rng = np.random.default_rng(1)
    free = np.argwhere(belief == 0)
    for p in free[rng.choice(len(free), 3, replace=False)]:
        sense(truth, belief, int(p[0]), int(p[1]), R)
    frontier = frontier_mask(belief)
    assert frontier.any()
    pts = np.argwhere(belief == 0)
    pts = pts[rng.choice(len(pts), min(40, len(pts)), replace=False)]
    rows, cols = pts[:, 0].astype(np.int64), pts[:, 1].astype(np.int64)
    out = np.zeros(len(pts), dtype=np.int64)
    utilities(belief, frontier, rows, cols, R, out, np.arange(len(pts), dtype=np.int64))
    brute = [_brute_utility(belief, frontier, int(a), int(b), R) for a, b in zip(rows, cols)]
    assert out.tolist() == brute
    assert max(brute) > 0


def test_visible_hand_computed():
    b = np.zeros((5, 5), dtype=np.int8)
    b[2, 2] = 1
    assert not visible(b, 2, 0, 2, 4, 10.0)  # through the obstacle
    assert visible(b, 0, 0, 0, 4, 10.0)
    assert not visible(b, 0, 0, 0, 4, 3.9)  # out of range
    assert visible(b, 2, 1, 2, 2, 1.0)  # adjacent: nothing strictly between
    b[0, 2] = -1
    assert not visible(b, 0, 0, 0, 4, 10.0)  # unknown cell in between blocks the view
