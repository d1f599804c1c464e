"""A range-limited line-of-sight sensor on occupancy grids (Numba kernels), and frontiers.

Lines are Bresenham lines between cell centres. Definitions used everywhere in the package:

* **Sensing** from cell ``p`` with range ``R``: for every cell ``q`` with ``|q - p| <= R``
  (Euclidean, in cells), walk the Bresenham line from ``p`` to ``q`` on the ground truth and mark
  each cell passed as known, stopping after the first cell that is not free (it is marked
  occupied). Every known free cell is therefore joined to a visited robot position by known free
  cells.
* **Visibility on the belief**: ``q`` is visible from ``p`` when ``|q - p| <= R`` and every cell
  of the Bresenham line strictly between ``p`` and ``q`` is known free.
* **Frontier**: a known free cell with an unknown 8-neighbour.

The belief grid uses the map codes: -1 unknown, 0 free, 1 occupied.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["sense", "visible", "frontier_mask", "update_frontier", "utilities", "utilities_and_gains", "segment_free", "segment_status", "line_cells",
           "grid_path_to_frontier", "grid_distances", "grid_backtrack"]


@njit(inline="always")
def _walk_start(r0, c0, r1, c1):
    """Bresenham walk from ``(r0, c0)`` to ``(r1, c1)``: ``(n cells, dr, dc, sr, sc, err)``.

    The one walk every ray and segment kernel here shares (inlined into each at compile time,
    so sharing it costs nothing): start with :func:`_walk_start`, visit the cell, step with
    :func:`_walk_step`, ``n`` times.
    """
    dr = abs(r1 - r0)
    dc = abs(c1 - c0)
    return max(dr, dc) + 1, dr, dc, 1 if r1 > r0 else -1, 1 if c1 > c0 else -1, dc - dr


@njit(inline="always")
def _walk_step(y, x, err, dr, dc, sr, sc):
    """The next cell ``(y, x)`` and error term of the Bresenham walk (see :func:`_walk_start`)."""
    e2 = 2 * err
    if e2 > -dr:
        err -= dr
        x += sc
    if e2 < dc:
        err += dc
        y += sr
    return y, x, err


@njit(cache=True)
def line_cells(r0, c0, r1, c1):
    """The Bresenham line from ``(r0, c0)`` to ``(r1, c1)`` as an ``(n, 2)`` int64 array, ends included."""
    n, dr, dc, sr, sc, err = _walk_start(r0, c0, r1, c1)
    out = np.empty((n, 2), dtype=np.int64)
    r, c = r0, c0
    for k in range(n):
        out[k, 0] = r
        out[k, 1] = c
        r, c, err = _walk_step(r, c, err, dr, dc, sr, sc)
    return out


@njit(cache=True)
def sense(truth, belief, r, c, radius):
    """Ray-cast from ``(r, c)`` on ``truth`` into ``belief`` in place; return ``(new_free, new_known)``."""
    h, w = truth.shape
    rad = int(np.floor(radius))
    r2 = radius * radius
    new_free = 0
    new_known = 0
    if belief[r, c] == -1:
        belief[r, c] = 0
        new_free += 1
        new_known += 1
    for i in range(max(0, r - rad), min(h, r + rad + 1)):
        for j in range(max(0, c - rad), min(w, c + rad + 1)):
            if (i - r) * (i - r) + (j - c) * (j - c) > r2:
                continue
            n, dr, dc, sr, sc, err = _walk_start(r, c, i, j)
            y, x = r, c
            for _ in range(n):
                if truth[y, x] != 0:
                    if belief[y, x] == -1:
                        belief[y, x] = 1
                        new_known += 1
                    break
                if belief[y, x] == -1:
                    belief[y, x] = 0
                    new_free += 1
                    new_known += 1
                y, x, err = _walk_step(y, x, err, dr, dc, sr, sc)
    return new_free, new_known


@njit(cache=True)
def visible(belief, r0, c0, r1, c1, radius):
    """True when ``(r1, c1)`` is within ``radius`` of ``(r0, c0)`` and every cell strictly between is known free."""
    if (r1 - r0) * (r1 - r0) + (c1 - c0) * (c1 - c0) > radius * radius:
        return False
    n, dr, dc, sr, sc, err = _walk_start(r0, c0, r1, c1)
    y, x = r0, c0
    for k in range(n):
        if k > 0 and k < n - 1 and belief[y, x] != 0:
            return False
        y, x, err = _walk_step(y, x, err, dr, dc, sr, sc)
    return True


@njit(cache=True)
def segment_free(belief, r0, c0, r1, c1):
    """True when every cell of the Bresenham segment, ends included, is known free."""
    # belief cells are -1 / 0 / 1, so "all free" is exactly status 0 of the one-direction trace
    return _segment_status_dir(belief, r0, c0, r1, c1) == 0


@njit(cache=True)
def segment_status(belief, r0, c0, r1, c1):
    """0 when the segment is known free, 1 when it crosses a known obstacle, 2 when it crosses only unknown cells.

    Bresenham lines are not symmetric, so both directions are traced: an edge is free only when
    the robot can travel it either way.
    """
    a = _segment_status_dir(belief, r0, c0, r1, c1)
    if a == 1:
        return 1
    b = _segment_status_dir(belief, r1, c1, r0, c0)
    return max(a, b)


@njit(cache=True)
def _segment_status_dir(belief, r0, c0, r1, c1):
    n, dr, dc, sr, sc, err = _walk_start(r0, c0, r1, c1)
    y, x = r0, c0
    status = 0
    for _ in range(n):
        v = belief[y, x]
        if v == 1:
            return 1
        if v == -1:
            status = 2
        y, x, err = _walk_step(y, x, err, dr, dc, sr, sc)
    return status


@njit(cache=True)
def update_frontier(belief, frontier, r0, r1, c0, c1):
    """Recompute ``frontier`` (bool grid) in place on rows ``r0:r1`` and columns ``c0:c1``; return its count there."""
    h, w = belief.shape
    count = 0
    for i in range(max(0, r0), min(h, r1)):
        for j in range(max(0, c0), min(w, c1)):
            f = False
            if belief[i, j] == 0:
                for di in range(-1, 2):
                    for dj in range(-1, 2):
                        y = i + di
                        x = j + dj
                        if 0 <= y < h and 0 <= x < w and belief[y, x] == -1:
                            f = True
            frontier[i, j] = f
            if f:
                count += 1
    return count


def frontier_mask(belief: np.ndarray) -> np.ndarray:
    """Boolean mask of frontier cells (known free cells with an unknown 8-neighbour)."""
    b = np.ascontiguousarray(belief, dtype=np.int8)
    out = np.zeros(b.shape, dtype=np.bool_)
    update_frontier(b, out, 0, b.shape[0], 0, b.shape[1])
    return out


@njit(cache=True)
def utilities(belief, frontier, rows, cols, radius, out, which):
    """``out[k] =`` number of frontier cells visible from ``(rows[k], cols[k])`` for each ``k`` in ``which``."""
    utilities_and_gains(belief, frontier, rows, cols, radius, out, out, which, -1)


@njit(cache=True)
def utilities_and_gains(belief, frontier, rows, cols, radius, out, gain_out, which, depth):
    """Frontier utility and information gain of the viewpoints ``which``.

    ``out[k]`` is the number of frontier cells visible from ``(rows[k], cols[k])``.
    ``gain_out[k]`` counts the unknown cells that sensing from there is *sure* to reveal (within
    range, every cell strictly between known free, so the ray reaches them), each weighted by the
    unknown cells in the ``(2 depth + 1)``-square centred on it: an estimate of what seeing it
    opens up (a cell facing a large unknown area weighs up to ``(2 depth + 1)^2``, one in a small
    shadow a few units). A frontier cell whose unknown neighbours no ray from the viewpoint can
    reach adds to the utility but not to the gain. ``depth < 0`` computes the utility only
    (``gain_out`` is not written).
    """
    h, w = belief.shape
    rad = int(np.floor(radius))
    r2 = radius * radius
    for t in range(which.shape[0]):
        k = which[t]
        r = rows[k]
        c = cols[k]
        cnt = 0
        gain = 0
        for i in range(max(0, r - rad), min(h, r + rad + 1)):
            for j in range(max(0, c - rad), min(w, c + rad + 1)):
                b = belief[i, j]
                if not frontier[i, j] and (depth < 0 or b != -1):
                    continue
                if (i - r) * (i - r) + (j - c) * (j - c) > r2:
                    continue
                if not visible(belief, r, c, i, j, radius):
                    continue
                if frontier[i, j]:
                    cnt += 1
                elif b == -1:
                    for y in range(max(0, i - depth), min(h, i + depth + 1)):
                        for x in range(max(0, j - depth), min(w, j + depth + 1)):
                            if belief[y, x] == -1:
                                gain += 1
        out[k] = cnt
        if depth >= 0:
            gain_out[k] = gain


@njit(cache=True)
def heap_push(heap_d, heap_i, n, d, item):
    """Push ``(d, item)`` on the binary min-heap ``heap_d/heap_i[:n]``; returns the new size."""
    pos = n
    while pos > 0:
        par = (pos - 1) // 2
        if heap_d[par] > d:
            heap_d[pos] = heap_d[par]
            heap_i[pos] = heap_i[par]
            pos = par
        else:
            break
    heap_d[pos] = d
    heap_i[pos] = item
    return n + 1


@njit(cache=True)
def heap_pop(heap_d, heap_i, n):
    """Pop the minimum of the binary min-heap ``heap_d/heap_i[:n]``; returns ``(d, item, new size)``."""
    d = heap_d[0]
    item = heap_i[0]
    n -= 1
    if n > 0:  # sift the last element down from the root
        ld = heap_d[n]
        li = heap_i[n]
        pos = 0
        while True:
            ch = 2 * pos + 1
            if ch >= n:
                break
            if ch + 1 < n and heap_d[ch + 1] < heap_d[ch]:
                ch += 1
            if heap_d[ch] < ld:
                heap_d[pos] = heap_d[ch]
                heap_i[pos] = heap_i[ch]
                pos = ch
            else:
                break
        heap_d[pos] = ld
        heap_i[pos] = li
    return d, item, n


@njit(cache=True)
def _grid_dijkstra(belief, frontier, r, c, max_pops, stop_at_frontier):
    """8-connected Dijkstra (costs 1 and sqrt 2) over known free cells from ``(r, c)``.

    Returns ``(dist, prev, goal)`` over flat cell indices; with ``stop_at_frontier`` the search
    stops at the first frontier cell popped (``goal``, -1 when none within ``max_pops`` pops).
    """
    h, w = belief.shape
    dist = np.full(h * w, np.inf)
    prev = np.full(h * w, -1, dtype=np.int64)
    start = r * w + c
    dist[start] = 0.0
    heap_d = np.empty(8 * h * w + 8)
    heap_i = np.empty(8 * h * w + 8, dtype=np.int64)
    heap_d[0] = 0.0
    heap_i[0] = start
    n = 1
    goal = -1
    pops = 0
    sq2 = np.sqrt(2.0)
    while n > 0 and pops < max_pops:
        pops += 1
        d, u, n = heap_pop(heap_d, heap_i, n)
        if d > dist[u]:
            continue
        ur = u // w
        uc = u % w
        if stop_at_frontier and frontier[ur, uc]:
            goal = u
            break
        for di in range(-1, 2):
            for dj in range(-1, 2):
                if di == 0 and dj == 0:
                    continue
                y = ur + di
                x = uc + dj
                if y < 0 or y >= h or x < 0 or x >= w or belief[y, x] != 0:
                    continue
                nd = d + (sq2 if di != 0 and dj != 0 else 1.0)
                v = y * w + x
                if nd < dist[v]:
                    dist[v] = nd
                    prev[v] = u
                    n = heap_push(heap_d, heap_i, n, nd, v)
    return dist, prev, goal


@njit(cache=True)
def grid_backtrack(prev, w, start, goal):
    """The cells ``(n, 2)`` from ``start`` to ``goal`` (flat indices) along ``prev``; empty if ``goal`` < 0."""
    if goal < 0:
        return np.empty((0, 2), dtype=np.int64)
    length = 1
    v = goal
    while v != start and length <= prev.shape[0]:
        v = prev[v]
        length += 1
    out = np.empty((length, 2), dtype=np.int64)
    v = goal
    for k in range(length - 1, -1, -1):
        out[k, 0] = v // w
        out[k, 1] = v % w
        if k > 0:
            v = prev[v]
    return out


@njit(cache=True)
def grid_distances(belief, r, c, max_pops):
    """``(dist, prev)``: 8-connected shortest paths over known free cells from ``(r, c)`` (flat indices)."""
    dist, prev, _ = _grid_dijkstra(belief, belief == 2, r, c, max_pops, False)
    return dist, prev


@njit(cache=True)
def grid_path_to_frontier(belief, frontier, r, c, max_pops):
    """Shortest 8-connected path (costs 1 and sqrt 2) over known free cells to the nearest frontier cell.

    Returns an ``(n, 2)`` array of cells from the start to the frontier (empty when none is
    reachable within ``max_pops`` heap pops).
    """
    _, prev, goal = _grid_dijkstra(belief, frontier, r, c, max_pops, True)
    return grid_backtrack(prev, belief.shape[1], r * belief.shape[1] + c, goal)
