"""All extreme equilibria of any bimatrix game by exact vertex enumeration, with the maximal Nash
subsets and the components: :func:`vertex_enumeration` and :class:`VertexEnumerationResult`."""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Optional, cast

import numpy as np

from engine.errors import BackendError
from engine.status import Status
from engine.threads import hot_path
from engine.validation import check_int, check_time_limit
from games.nash.result import NashResult, _profile, _require_two_players, _result
from games.normal_form import NormalFormGame, check_game

__all__ = ["VertexEnumerationResult", "vertex_enumeration"]

_MAX_DENOMINATOR = 10**6  # vertex enumeration reads a float payoff as a fraction up to this denominator


@dataclass(frozen=True, kw_only=True)
class VertexEnumerationResult(NashResult):
    """All extreme Nash equilibria of a bimatrix game, with its maximal Nash subsets and components.

    Attributes
    ----------
    rational : tuple
        ``rational[k][p][s]``: the exact probability of strategy ``s`` of player ``p`` in
        equilibrium ``k`` as a string ``"num/den"`` (``fractions.Fraction`` reads it back).
    row_strategies, column_strategies : tuple of numpy.ndarray
        The distinct mixed strategies of each player that occur in some extreme equilibrium
        (normalised vertices of the best-response polytopes), in decreasing lexicographic order.
    pairs : tuple of tuple of int
        ``pairs[k] = (i, j)``: equilibrium ``k`` is ``(row_strategies[i], column_strategies[j])``;
        the equilibria are sorted by ``(i, j)``.
    cliques : tuple of tuple of tuple of int
        The maximal Nash subsets ("cliques"): ``(rows, cols)`` with every ``i`` in ``rows``
        forming an equilibrium with every ``j`` in ``cols``; every profile in
        ``conv(row_strategies[rows]) x conv(column_strategies[cols])`` is then an equilibrium,
        and no row or column index can be added.
    components : tuple of tuple of int
        The connected components of the set of equilibria, each as the indices of the extreme
        equilibria it contains; cliques that share a row or column strategy lie in one
        component. A nondegenerate game has one single-equilibrium component per equilibrium.
    clique_components : tuple of int
        ``clique_components[c]``: the index in ``components`` of clique ``c``.
    vertex_counts : tuple of int
        The numbers of vertices of the two best-response polytopes (the origin excluded).
    """

    rational: tuple = ()
    row_strategies: tuple = ()
    column_strategies: tuple = ()
    pairs: tuple = ()
    cliques: tuple = ()
    components: tuple = ()
    clique_components: tuple = ()
    vertex_counts: tuple = ()

    @property
    def n_components(self) -> int:
        return len(self.components)


def _validate_vertex_enumeration(game: Any, time_limit: Any, maxiter: Any, max_cliques: Any) -> tuple:
    where = "vertex_enumeration()"
    game = check_game(game, where)
    _require_two_players(game, where)
    time_limit = check_time_limit(time_limit, where)
    maxiter = check_int(maxiter, "maxiter", where, lower=1)
    max_cliques = check_int(max_cliques, "max_cliques", where, lower=1)
    return game, time_limit, maxiter, max_cliques


def _rational(value: float, cache: dict) -> Fraction:
    """The simplest fraction (denominator <= 10**6) that rounds to ``value``, else its exact binary value."""
    out = cache.get(value)
    if out is None:
        exact = Fraction(value)
        simple = exact.limit_denominator(_MAX_DENOMINATOR)
        out = cache[value] = simple if float(simple) == value else exact
    return out


_POW10 = [10**d for d in range(7)]


def _decimal(value: float) -> Optional[tuple]:
    """``(k, d)`` with ``k / 10**d == value`` for the smallest ``d <= 6``, for ``|value| < 1024``.

    Then ``k / 10**d`` is exactly what :func:`_rational` returns: it rounds to ``value`` (within
    half an ulp, below 1.2e-13 here) and every other fraction with a denominator up to ``10**6``
    lies at least ``1e-12`` from it, so it is the closest such fraction."""
    if not abs(value) < 1024.0:
        return None
    for d, p in enumerate(_POW10):
        k = round(value * p)
        if k / p == value:
            return k, d
    return None


def _integer_payoffs(U: np.ndarray, cache: dict) -> list:
    """``U`` read as rationals, shifted to be >= 1 and scaled to integers (same equilibria)."""
    vals = U.tolist()
    dec = cast(list, [[_decimal(v) for v in row] for row in vals])
    if all(x is not None for row in dec for x in row):
        # Decimals (integers included): the same integers as the rational path below, in
        # integer arithmetic: value = num / 10**D, shifted = (num - min + 10**D) / 10**D,
        # and the lcm of the reduced denominators is 10**D / gcd(all shifted numerators, 10**D).
        D = max(d for row in dec for _, d in row)
        nums = [[k * _POW10[D - d] for k, d in row] for row in dec]
        low = min(min(row) for row in nums)
        shifted = [[v - low + _POW10[D] for v in row] for row in nums]
        g = math.gcd(math.gcd(*(v for row in shifted for v in row)), _POW10[D])
        return [[v // g for v in row] for row in shifted]
    R = [[_rational(float(v), cache) for v in row] for row in vals]
    low = min(min(row) for row in R)
    shifted = [[v - low + 1 for v in row] for row in R]
    scale = math.lcm(*(v.denominator for row in shifted for v in row))
    return [[int(v * scale) for v in row] for row in shifted]


def _lex_min_row(T: list, rows: list, col: int, keys: list) -> int:
    """The leaving row for entering column ``col``: lexicographic minimum ratio over ``keys``.

    Integer cross-multiplication, no division; the key columns hold ``det * B^-1`` after the
    right-hand side, so exactly one row survives (the perturbed polytope is simple).
    """
    for key in keys:
        if len(rows) == 1:
            break
        best = [rows[0]]
        a, b = T[rows[0]][key], T[rows[0]][col]
        for r in rows[1:]:
            diff = T[r][key] * b - a * T[r][col]
            if diff < 0:
                best = [r]
                a, b = T[r][key], T[r][col]
            elif diff == 0:
                best.append(r)
        rows = best
    return rows[0]


def _polytope_vertices(M: list, *, deadline: float, budget: int) -> tuple:
    """Every vertex of ``{z >= 0: M z <= 1}`` (``M`` positive integers, shape ``(k, d)``).

    Breadth-first search over the lexicographically feasible bases -- the vertices of the
    lexicographically perturbed, hence simple, polytope -- by integer pivoting (every tableau
    entry is an integer; the common denominator is the current pivot determinant). Every vertex
    of the (possibly degenerate) polytope is the image of at least one such basis.

    Returns ``(vertices, pivots, status)``: ``vertices`` maps the reduced integer vector
    ``(z_1, ..., z_d, den)`` to the bit mask of the variables (``z`` first, then the ``k``
    slacks) that are zero at the vertex, in discovery order; ``status`` is None when complete.
    """
    k, d = len(M), len(M[0])
    width = d + k
    T0 = [list(M[r]) + [int(r == c) for c in range(k)] + [1] for r in range(k)]
    basis0 = list(range(d, d + k))
    keys = [width] + list(range(d, d + k))  # rhs first, then det * B^-1
    all_vars = (1 << width) - 1
    seen = {sum(1 << v for v in basis0)}
    queue = deque([(T0, basis0, 1)])
    vertices: dict = {}
    pivots = 0
    status = None
    while queue:
        if time.perf_counter() > deadline:
            status = Status.TIME_LIMIT
            break
        T, basis, det = queue.popleft()
        nonzero = 0
        z = [0] * d
        for r, v in enumerate(basis):
            rhs = T[r][-1]
            if rhs:
                nonzero |= 1 << v
                if v < d:
                    z[v] = rhs
        g = math.gcd(*z, det)
        vertices.setdefault(tuple(c // g for c in z) + (det // g,), all_vars & ~nonzero)
        in_basis = sum(1 << v for v in basis)
        for col in range(width):
            if in_basis >> col & 1:
                continue
            rows = [r for r in range(k) if T[r][col] > 0]
            if not rows:  # cannot happen for a bounded polytope; skip defensively
                continue
            row = _lex_min_row(T, rows, col, keys)
            key = in_basis & ~(1 << basis[row]) | (1 << col)
            if key in seen:
                continue
            if pivots >= budget:
                status = Status.ITERATION_LIMIT
                break
            pivots += 1
            seen.add(key)
            p = T[row][col]
            pivot_row = T[row]
            new = []
            for r in range(k):
                if r == row:
                    new.append(pivot_row)
                    continue
                t = T[r]
                f = t[col]
                new.append([(p * a - f * b) // det for a, b in zip(t, pivot_row)])
            nb = list(basis)
            nb[row] = col
            queue.append((new, nb, p))
        if status is not None:
            break
    return vertices, pivots, status


def _normalised(vec: tuple) -> tuple:
    """A vertex ``(z_1, ..., z_d, den)`` as the exact mixed strategy ``z / sum(z)``."""
    total = sum(vec[:-1])
    return tuple(Fraction(c, total) for c in vec[:-1])


def _maximal_bicliques(nbr_of_col: list, nbr_of_row: list, limit: int, deadline: float) -> tuple:
    """Maximal bicliques of a bipartite graph (Galois-closed sets of rows), at most ``limit``.

    Every intersection of column neighbourhoods is the row set of one maximal biclique and vice
    versa; they are built by intersecting column by column. Returns ``(cliques, status)``.
    """
    closed: set = set()
    status = None
    for nb in nbr_of_col:
        if not nb:
            continue
        if time.perf_counter() > deadline:
            status = Status.TIME_LIMIT
            break
        fresh = {nb} | {s & nb for s in closed}
        fresh.discard(0)
        closed |= fresh
        if len(closed) > limit:
            status = Status.ITERATION_LIMIT
            break
    cliques = []
    for rows in closed:
        cols = -1
        idx = [i for i in range(len(nbr_of_row)) if rows >> i & 1]
        for i in idx:
            cols &= nbr_of_row[i]
        cliques.append((tuple(idx), tuple(j for j in range(len(nbr_of_col)) if cols >> j & 1)))
    cliques.sort()
    return tuple(cliques[:limit]), status


@hot_path
def vertex_enumeration(game: NormalFormGame, /, *, time_limit: Optional[float] = None, maxiter: int = 1_000_000,
                       max_cliques: int = 10_000, threads: Optional[int] = None) -> VertexEnumerationResult:
    """All extreme Nash equilibria of a bimatrix game by exact vertex enumeration, degenerate games included.

    The payoffs are read as exact rationals, shifted to be positive and scaled to integers (this
    changes no equilibrium). Every vertex of both best-response polytopes
    ``P = {x >= 0: B.T x <= 1}`` and ``Q = {y >= 0: A y <= 1}`` is enumerated by integer
    pivoting over lexicographically feasible bases (the lexicographic rule of Avis' lrs, so
    degenerate polytopes are handled exactly); a pair of vertices ``(x, y) != (0, 0)`` whose tight
    constraints cover every pure strategy of both players ("completely labelled") is an extreme
    equilibrium once normalised, and every extreme equilibrium arises this way. This is what
    Gambit's ``enummixed`` computes.

    The extreme equilibria form a bipartite graph (row strategy -- column strategy); its maximal
    bicliques are the maximal Nash subsets (all convex combinations are equilibria, as in
    Audet, Hansen, Jaumard and Savard's EEE / Gambit's clique enumeration) and its connected
    components are the connected components of the set of all equilibria.

    Parameters
    ----------
    game : NormalFormGame
        A two-player game.
    time_limit : float, optional
        Wall-clock seconds; when reached the status is TIME_LIMIT and the result holds the
        equilibria among the vertices enumerated so far (each one exact).
    maxiter : int
        Limit on the pivots of each polytope's enumeration (ITERATION_LIMIT when reached, with
        the equilibria found so far). Each lexicographic basis after the first costs one pivot,
        and a polytope of an ``m x n`` game has at most ``C(m + n, m)`` of them.
    max_cliques : int
        Limit on the maximal Nash subsets listed; when exceeded the status is ITERATION_LIMIT
        (the equilibria are still complete, the cliques are not, and components still are).
    threads : int, optional
        Threads for the BLAS/OpenMP work of the call (``engine.threads``; default: the engine's
        policy, one thread).

    Returns
    -------
    VertexEnumerationResult
        Every extreme equilibrium (exact rationals in ``rational``) with its max regret; the
        maximal Nash subsets (``cliques``) and the connected components (``components``);
        ``nit`` counts pivots. ``value`` is the row player's value for a constant-sum game.

    Raises
    ------
    UnsupportedProblemError
        For more than two players.

    Notes
    -----
    Each float payoff is read as the simplest fraction with denominator at most ``10**6`` that
    rounds to it (so ``1/3`` or ``0.1`` from a file are exact), otherwise as its exact binary
    value. Every returned equilibrium is certified in exact arithmetic: no pure strategy earns
    more than the equilibrium payoff (a failed check raises :class:`BackendError`). The work
    grows with the number of vertices, exponential in the worst case; ``8 x 8`` games take
    well under a second.

    Examples
    --------
    A game with a continuum of equilibria: the column player is indifferent when the row
    player plays row 0, so every mix of the columns with at least half on column 0 supports it.

    >>> from games import NormalFormGame
    >>> g = NormalFormGame.from_arrays([[1, 0], [0, 1]], [[1, 1], [0, 1]])
    >>> res = vertex_enumeration(g)
    >>> res.rational
    ((('1', '0'), ('1', '0')), (('1', '0'), ('1/2', '1/2')), (('0', '1'), ('0', '1')))
    >>> res.cliques, res.components
    ((((0,), (0, 1)), ((1,), (2,))), ((0, 1), (2,)))
    >>> max(res.max_regrets)
    0.0
    """
    game, time_limit, maxiter, max_cliques = _validate_vertex_enumeration(game, time_limit, maxiter, max_cliques)
    where = "vertex_enumeration()"
    t0 = time.perf_counter()
    deadline = t0 + time_limit if time_limit is not None else math.inf
    A, B = game.payoffs
    m, n = A.shape
    cache: dict = {}
    Ai = _integer_payoffs(A, cache)
    Bi = _integer_payoffs(B, cache)
    # P: rows = column strategies j, variables x_0..x_{m-1} (label i), slacks (label m + j)
    vp, piv_p, status = _polytope_vertices([[Bi[i][j] for i in range(m)] for j in range(n)], deadline=deadline,
                                           budget=maxiter)
    vq, piv_q = {}, 0
    if status is None:
        # Q: rows = row strategies i, variables y_0..y_{n-1} (label m + j), slacks (label i)
        vq, piv_q, status = _polytope_vertices(Ai, deadline=deadline, budget=maxiter)
    full = (1 << (m + n)) - 1
    xs = [(v, lab) for v, lab in vp.items() if any(v[:-1])]
    ys = [(v, ((lab & ((1 << n) - 1)) << m) | (lab >> n)) for v, lab in vq.items() if any(v[:-1])]
    by_mask: dict = {}
    for j, (_, lab) in enumerate(ys):
        by_mask.setdefault(lab, []).append(j)
    edges: list = []
    for i, (_, lab) in enumerate(xs):
        if time.perf_counter() > deadline:
            status = status or Status.TIME_LIMIT
            break
        need = full & ~lab
        for mask, js in by_mask.items():
            if mask & need == need:
                edges.extend((i, j) for j in js)
    # exact certificate on the integer game: every strategy in a support earns the best payoff
    for i, j in edges:
        x, y = xs[i][0][:-1], ys[j][0][:-1]
        Ay = [sum(a * c for a, c in zip(row, y)) for row in Ai]
        xB = [sum(Bi[r][c] * x[r] for r in range(m)) for c in range(n)]
        if (sum(a * c for a, c in zip(x, Ay)) != max(Ay) * sum(x)
                or sum(b * c for b, c in zip(xB, y)) != max(xB) * sum(y)):
            raise BackendError(f"{where}: internal error: a completely labelled pair is not an equilibrium")
    # strategies used by some equilibrium, in decreasing lexicographic order
    rows_used = sorted({i for i, _ in edges}, key=lambda i: _normalised(xs[i][0]), reverse=True)
    cols_used = sorted({j for _, j in edges}, key=lambda j: _normalised(ys[j][0]), reverse=True)
    rpos = {i: a for a, i in enumerate(rows_used)}
    cpos = {j: b for b, j in enumerate(cols_used)}
    pairs = sorted((rpos[i], cpos[j]) for i, j in edges)
    row_exact = [_normalised(xs[i][0]) for i in rows_used]
    col_exact = [_normalised(ys[j][0]) for j in cols_used]
    # cliques (maximal Nash subsets) and connected components
    nbr_of_row = [0] * len(rows_used)
    nbr_of_col = [0] * len(cols_used)
    for a, b in pairs:
        nbr_of_row[a] |= 1 << b
        nbr_of_col[b] |= 1 << a
    cliques, clique_status = _maximal_bicliques(nbr_of_col, nbr_of_row, max_cliques, deadline)
    parent = list(range(len(rows_used) + len(cols_used)))

    def find(u: int) -> int:
        while parent[u] != u:
            parent[u] = parent[parent[u]]
            u = parent[u]
        return u

    for a, b in pairs:
        parent[find(a)] = find(len(rows_used) + b)
    comp_of_root: dict = {}
    members: list = []
    for k, (a, _) in enumerate(pairs):
        c = comp_of_root.setdefault(find(a), len(comp_of_root))
        if c == len(members):
            members.append([])
        members[c].append(k)
    clique_components = tuple(comp_of_root[find(rows[0])] for rows, _ in cliques)
    equilibria = [(np.array([float(v) for v in row_exact[a]]), np.array([float(v) for v in col_exact[b]]))
                  for a, b in pairs]
    rational = tuple((tuple(str(v) for v in row_exact[a]), tuple(str(v) for v in col_exact[b])) for a, b in pairs)
    value = math.nan
    if equilibria and game.is_constant_sum():
        value = float(game.expected_payoffs(list(_profile(equilibria[0])))[0])
    params = {"time_limit": time_limit, "maxiter": maxiter, "max_cliques": max_cliques}
    n_eq, n_comp = len(pairs), len(members)
    message = (f"{n_eq} extreme equilibri{'um' if n_eq == 1 else 'a'} in {n_comp} "
               f"component{'' if n_comp == 1 else 's'}, {len(cliques)} maximal Nash subset"
               f"{'' if len(cliques) == 1 else 's'} ({len(xs)} + {len(ys)} polytope vertices)")
    if status == Status.TIME_LIMIT:
        message = f"time limit {time_limit} s reached; partial list: " + message
    elif status == Status.ITERATION_LIMIT:
        message = f"pivot limit {maxiter} reached; partial list: " + message
    elif clique_status is not None:
        status = clique_status
        message = (f"{'time limit' if clique_status == Status.TIME_LIMIT else f'clique limit {max_cliques}'} "
                   f"reached while listing maximal Nash subsets (equilibria and components complete): " + message)
    extra = {"rational": rational, "row_strategies": tuple(np.array([float(v) for v in r]) for r in row_exact),
             "column_strategies": tuple(np.array([float(v) for v in c]) for c in col_exact), "pairs": tuple(pairs),
             "cliques": cliques, "components": tuple(tuple(c) for c in members),
             "clique_components": clique_components, "vertex_counts": (len(xs), len(ys))}
    res = _result(game, equilibria, method="vertex_enumeration", params=params, runtime=time.perf_counter() - t0,
                  nit=piv_p + piv_q, value=value, status=status, message=message, result_cls=VertexEnumerationResult,
                  extra=extra)
    return cast(VertexEnumerationResult, res)
